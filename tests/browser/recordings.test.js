// The recordings page, against the real local stack: a room made with
// bb-room, two Chromium singers with fake microphones (Alice 440 Hz, Bob
// 660 Hz) who sing a short song that Alice leads.
//
// - While the song is recorded, the organiser's page lists it as being
//   recorded, and Delete is not offered for it.
// - Once it ended, the organiser's page (1280 px) lists it, newest first,
//   as complete and ended normally, with its length; its view has a player
//   for the mix and one per singer, labelled Alice and Bob, download links
//   and the Audacity project. A stem plays (its <audio> reaches currentTime
//   > 0) and seeks (nginx answers a Range request through the worker's
//   X-Accel-Redirect with 206, and the player lands where it was sent).
// - A singer's page (390 px, no sideways scrolling) shows the same song
//   and no Delete; a wrong key gets a clear refusal; the singing page's
//   recordings link opens the room's page with the key in the fragment.
// - The organiser deletes the song: Cancel keeps it, OK removes every file
//   of it, and the list says so and is empty.
// Screenshots at 390 px and 1280 px go to build/browser-out/ (recordings-*).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  LAPTOP, PHONE, createRoom, enterApp as enter, launchChromium, makeTone, openPage, shootWidths, sleep, stackBuilt,
  startStack, stopStack,
} from './lib.js';


const init = () => {
  localStorage.setItem('bb.noLatency', '1');
  localStorage.setItem('bb.noTutorial', '1');
};

const shoot = (page, name) => shootWidths(page, `recordings-${name}`);

// A room made with bb-room, with the keys of its two links.
function keyedRoom(stack, name) {
  const room = createRoom(stack, name);
  const key = (l) => new URL(l).hash.slice(1);
  return { ...room, skey: key(room.singers), okey: key(room.organiser) };
}

// The room's recordings page for key.
const pageUrl = (stack, room, key) => `${stack.url}recordings.html?room=${room.id}#${key}`;

// GET /api/recordings as the room's singers: the list.
async function listing(stack, room) {
  const r = await fetch(`${stack.url}api/recordings?room=${room.id}&key=${room.skey}`, { cache: 'no-store' });
  assert.equal(r.status, 200);
  return (await r.json()).recordings;
}

async function until(what, fn, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(300);
  }
}

const isShown = (page, sel) => page.evaluate((s) => { const e = document.querySelector(s); return !!e && !e.closest('[hidden]') && !e.hidden; }, sel);

test('recordings: the page of a room\'s songs, players, roles and delete', { timeout: 330000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  let bA = null;
  let bB = null;
  const contexts = [];
  const open = async (browser, url, viewport) => {
    const s = await openPage(browser, url, { init, viewport });
    contexts.push(s);
    return s;
  };
  try {
    bA = await launchChromium(makeTone('recordings-alice-440.wav', 440));
    bB = await launchChromium(makeTone('recordings-bob-660.wav', 660));
    const room = keyedRoom(stack, 'Recording Choir');
    await until('the room to open', async () => (await fetch(`${stack.url}api/room?room=${room.id}&key=${room.skey}`)).ok, 15000);

    // No song yet.
    const olga = await open(bA, pageUrl(stack, room, room.okey), LAPTOP);
    const O = olga.page;
    await O.waitForFunction(() => /No recordings yet/.test(document.getElementById('message').textContent), null, { timeout: 15000 });
    assert.equal(await O.textContent('#room-name'), 'Recording Choir');
    assert.match(await O.textContent('#role-name'), /organiser/);
    await shoot(O, 'empty');

    // Alice and Bob sing; Alice leads and starts.
    const alice = await open(bA, `${room.singers.replace('#', '?test=1#')}`, LAPTOP);
    const bob = await open(bB, `${room.singers.replace('#', '?test=1#')}`, LAPTOP);
    const A = alice.page;
    const B = bob.page;
    await enter(A, 'Alice');
    await enter(B, 'Bob');
    // The singing page's link to the recordings: the room's page, its key in the fragment.
    const link = new URL(await A.getAttribute('#recordings-link', 'href'));
    assert.equal(link.pathname, '/recordings.html');
    assert.equal(link.searchParams.get('room'), room.id);
    assert.equal(link.searchParams.get('key'), null, 'the key is not in the query');
    assert.equal(link.hash, `#${room.skey}`);
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await A.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });

    // Being recorded: the organiser's page says so and offers no Delete.
    const now = await until('the song to be listed as being recorded', async () => (await listing(stack, room)).find((s) => s.recording), 30000);
    await O.reload();
    await O.waitForSelector(`#songs li[data-song="${now.song}"] .badge-recording`, { timeout: 15000 });
    await shoot(O, 'being-recorded');
    await O.click(`#songs li[data-song="${now.song}"] a`);
    await O.waitForSelector('#song:not([hidden])');
    assert.equal(await O.isDisabled('#delete'), true, 'the song being recorded cannot be deleted');

    // Both voices reach the song's stems, then Alice stops.
    await until('both singers\' stems', async () => (await listing(stack, room)).find((s) => s.song === now.song && s.stems.length === 2), 45000);
    await sleep(4000);
    await A.click('#lead');
    const song = await until('the recording to close', async () => (await listing(stack, room)).find((s) => s.song === now.song && s.complete), 45000);
    console.log(`song ${song.song}: ${song.seconds} s, ${song.ended} (${song.ended_text}), stems ${song.stems.map((s) => `${s.singer} ${s.bytes} B`).join(', ')}`);
    assert.equal(song.normal, true, `ended normally: ${song.ended}`);
    assert.deepEqual(song.stems.map((s) => s.singer).sort(), ['Alice', 'Bob']);
    for (const s of [alice, bob]) await s.context.close();

    // The organiser's list and the song's view.
    await O.goto(pageUrl(stack, room, room.okey));
    const row = `#songs li[data-song="${song.song}"]`;
    await O.waitForSelector(`${row} .badge-normal`, { timeout: 15000 });
    assert.match(await O.textContent(row), /Complete: the song ended normally/);
    assert.match(await O.textContent(row), /2 singers/);
    assert.match(await O.textContent(`${row} .length`), /^\d+:\d\d$/);
    await shoot(O, 'list-organiser');
    await O.click(`${row} a`);
    await O.waitForSelector('#song:not([hidden])');
    assert.equal(new URL(O.url()).searchParams.get('song'), song.song);
    assert.equal(new URL(O.url()).hash, `#${room.okey}`);
    const labels = await O.evaluate(() => [...document.querySelectorAll('#stems .track strong')].map((e) => e.textContent).sort());
    assert.deepEqual(labels, ['Alice', 'Bob']);
    assert.equal(await O.locator('#mix audio').count(), 1);
    assert.match(await O.textContent('#project'), /\.lof/);
    assert.equal(await isShown(O, '#delete-block'), true, 'the organiser sees Delete');
    assert.equal(await O.isDisabled('#delete'), false);

    // A stem plays, and seeks.
    const played = await O.evaluate(async () => {
      const a = [...document.querySelectorAll('#stems audio')].find((e) => e.getAttribute('aria-label') === 'Bob');
      a.muted = true;
      await a.play();
      const t0 = Date.now();
      while (a.currentTime <= 0 && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 100));
      const playedTo = a.currentTime;
      a.pause();
      const target = Math.min(3, a.duration / 2);
      await new Promise((r) => { a.addEventListener('seeked', r, { once: true }); a.currentTime = target; });
      return { playedTo, target, at: a.currentTime, duration: a.duration, seekable: a.seekable.length ? a.seekable.end(0) : 0 };
    });
    console.log(`Bob's stem: played to ${played.playedTo} s, seeked to ${played.at} s of ${played.duration} s (seekable to ${played.seekable})`);
    assert.ok(played.playedTo > 0, 'the stem played');
    assert.ok(Math.abs(played.at - played.target) < 0.1, `the stem seeked to ${played.target} s: ${played.at}`);
    const ranged = await O.evaluate(async () => {
      const src = document.querySelector('#mix audio').src;
      const r = await fetch(src, { headers: { Range: 'bytes=100-199' } });
      return { status: r.status, length: (await r.arrayBuffer()).byteLength, range: r.headers.get('content-range') };
    });
    assert.equal(ranged.status, 206, `a Range request is answered in part: ${JSON.stringify(ranged)}`);
    assert.equal(ranged.length, 100);
    await O.evaluate(() => window.scrollTo(0, 0));
    await shoot(O, 'song-organiser');

    // A singer: the same song, no Delete; a wrong key: a clear refusal.
    const sam = await open(bB, pageUrl(stack, room, room.skey), PHONE);
    const S = sam.page;
    await S.waitForSelector(`${row} .badge-normal`, { timeout: 15000 });
    await shoot(S, 'list-singer');
    await S.click(`${row} a`);
    await S.waitForSelector('#song:not([hidden])');
    assert.match(await S.textContent('#role-name'), /singer/);
    assert.equal(await isShown(S, '#delete-block'), false, 'a singer sees no Delete');
    await shoot(S, 'song-singer');
    const wrong = await open(bB, pageUrl(stack, room, 'AAAAAAAAAAAAAAAAAAAAAA'), PHONE);
    await wrong.page.waitForFunction(() => /not valid or the room was closed/.test(document.getElementById('message').textContent), null, { timeout: 15000 });
    assert.equal(await isShown(wrong.page, '#list'), false);
    await shoot(wrong.page, 'wrong-key');

    // The organiser deletes it: Cancel keeps it, OK removes it.
    const dir = join(stack.runDir, 'recordings', room.id);
    const files = () => (existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(song.song)) : []);
    assert.ok(files().length >= 4, `the song's files: ${files()}`);
    await O.click('#delete');
    await O.waitForSelector('#confirm[open]');
    assert.match(await O.textContent('#confirm-text'), /all 2 singers' tracks/);
    await shoot(O, 'confirm-delete');
    await O.click('#confirm-cancel');
    await sleep(500);
    assert.ok(files().length >= 4, 'Cancel deleted nothing');
    await O.click('#delete');
    await O.waitForSelector('#confirm[open]');
    await O.click('#confirm-ok');
    await O.waitForFunction(() => /was deleted/.test(document.getElementById('message').textContent), null, { timeout: 15000 });
    assert.deepEqual(files(), [], 'every file of the song is gone');
    assert.equal(await O.locator('#songs li').count(), 0);
    assert.equal(new URL(O.url()).searchParams.get('song'), null, 'back on the list');
    await shoot(O, 'deleted');
    const errors = contexts.flatMap((s) => s.log.filter((l) => l.startsWith('[pageerror]')));
    assert.deepEqual(errors, [], 'no page errors');
  } catch (e) {
    console.log(stack.logs.join('').split('\n').slice(-60).join('\n'));
    throw e;
  } finally {
    for (const s of contexts) await s.context.close().catch(() => {});
    for (const b of [bA, bB]) if (b) await b.close();
    await stopStack(stack);
  }
});
