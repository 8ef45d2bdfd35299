// Rooms in the web client, against the real local stack: two rooms made
// with the operator's bb-room command on the run's rooms database, and
// Chromium pages with fake microphones (Alice 440 Hz, Bob 660 Hz, Carol
// 880 Hz; the organiser's browser is Alice's, her microphone muted).
//
// - A wrong key, and no key at all, get the full refusal page (what is
//   wrong and what to do), no setup.
// - The organiser opens the organiser link: the room's name, the role, the
//   organiser's card. Alice and Bob open the singers' link: singers see no
//   controls for everyone and no organiser's card.
// - Carol sings in the other room.
// - Alice leads (nobody did) and starts; Bob cannot lead meanwhile. Bob
//   hears Alice, then Alice moves behind Bob and hears him; a chat reaches
//   Bob. Carol hears neither tone and gets no chat, and nobody in the first
//   room hears Carol. Carol's room lists Carol only.
// - A control Bob's role lacks is refused, and the page shows the
//   server's sentence.
// - The organiser takes the lead (a confirmation first; Cancel changes
//   nothing); Alice is told who took it, and the song goes on.
// - The organiser caps the room at its three singers: a fourth is told the
//   room is full and listens instead.
// - The organiser replaces the singers' link: the old one stops at once
//   (Alice's and Bob's pages, and a fresh load of it, are refused; the new
//   one opens the room). Then the organiser link: the page moves to the new
//   link and stays connected; the old link is refused.
// Screenshots at 390 px and 1280 px go to build/browser-out/ (rooms-*).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  LAPTOP, PHONE, createRoom, enterApp as enter, launchChromium, makeTone, openPage, outDir, pageStatus as status,
  shootWidths, sleep, stackBuilt, startStack, stopStack,
} from './lib.js';

const HZ = { alice: 440, bob: 660, carol: 880 };
const REFUSAL = /this link is not valid or the room was closed/i;

const init = () => {
  localStorage.setItem('bb.noLatency', '1');
  localStorage.setItem('bb.noTutorial', '1');
};

// Waits until the daemon has opened the room (it reads the database twice
// a second): GET /api/room with the singers' key answers 200.
async function roomOpen(stack, room) {
  const key = new URL(room.singers).hash.slice(1);
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const r = await fetch(`${stack.url}api/room?room=${room.id}&key=${key}`, { cache: 'no-store' });
    if (r.ok) return r.json();
    await sleep(200);
  }
  throw new Error(`room ${room.id} did not open`);
}

// A link with the test hooks on (?test=1 before the fragment).
function withHooks(link) {
  const u = new URL(link);
  u.search = '?test=1';
  return u.href;
}

const isShown = (page, sel) => page.evaluate((s) => { const e = document.querySelector(s); return !!e && !e.closest('[hidden]'); }, sel);

// Polls the page's playback until the tone at hz is above 0.05 (or 60 s
// pass), then 1.5 s more; resolves its level then.
async function hears(page, hz) {
  const level = () => page.evaluate((h) => window.bbTest.toneLevel(h), hz);
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline && (await level()) <= 0.05) await sleep(500);
  await sleep(1500);
  return level();
}

const levels = (page) => page.evaluate((hz) => Object.fromEntries(
  Object.entries(hz).map(([k, v]) => [k, window.bbTest.toneLevel(v)])), HZ);

const shoot = (page, name) => shootWidths(page, `rooms-${name}`);

// A fresh page on link: resolves {page, context} once the refusal shows.
async function refusedPage(browser, link) {
  const s = await openPage(browser, withHooks(link), { init, viewport: PHONE });
  await s.page.waitForSelector('#refused:not([hidden])', { timeout: 15000 });
  assert.match(await s.page.textContent('#refused'), REFUSAL);
  assert.match(await s.page.textContent('#refused'), /ask your choir's organiser for a new link/i);
  for (const sel of ['#setup', '#app', '#organiser-card']) assert.equal(await isShown(s.page, sel), false, `${sel} on a refused page`);
  return s;
}

test('rooms: links, roles, refusals, and nothing heard across rooms', { timeout: 330000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  const bA = await launchChromium(makeTone('rooms-alice-440.wav', HZ.alice));
  const bB = await launchChromium(makeTone('rooms-bob-660.wav', HZ.bob));
  const bC = await launchChromium(makeTone('rooms-carol-880.wav', HZ.carol));
  const sessions = {};
  try {
    const one = createRoom(stack, 'Choir One');
    const two = createRoom(stack, 'Choir Two');
    const info = await roomOpen(stack, one);
    assert.equal(info.name, 'Choir One');
    await roomOpen(stack, two);

    // A wrong key, and none: the refusal page.
    const wrong = `${stack.url}r/${one.id}#AAAAAAAAAAAAAAAAAAAAAA`;
    sessions.wrong = await refusedPage(bB, wrong);
    await shoot(sessions.wrong.page, 'wrong-key');
    await sessions.wrong.context.close();
    const none = await refusedPage(bB, `${stack.url}r/${one.id}`);
    await none.context.close();

    // The organiser, then two singers, in the first room; Carol in the other.
    sessions.olga = await openPage(bA, withHooks(one.organiser), { init, viewport: LAPTOP });
    const O = sessions.olga.page;
    await O.waitForSelector('#organiser-card:not([hidden])', { timeout: 15000 });
    assert.equal(await O.textContent('#room-name'), 'Choir One');
    assert.match(await O.textContent('#role-name'), /organiser/);
    assert.equal(await O.title(), 'Choir One · Bucket Brigade');
    await O.waitForSelector('#setup:not([hidden])');
    await shoot(O, 'organiser-setup');
    await enter(O, 'Olga');
    await O.click('#mic-mute');
    sessions.alice = await openPage(bA, withHooks(one.singers), { init, viewport: LAPTOP });
    sessions.bob = await openPage(bB, withHooks(one.singers), { init, viewport: PHONE });
    sessions.carol = await openPage(bC, withHooks(two.singers), { init, viewport: LAPTOP });
    const A = sessions.alice.page;
    const B = sessions.bob.page;
    const C = sessions.carol.page;
    await enter(A, 'Alice');
    await enter(B, 'Bob');
    await enter(C, 'Carol');
    assert.match(await B.textContent('#role-name'), /sing/);
    assert.equal(await C.textContent('#room-name'), 'Choir Two');
    for (const p of [O, A, B]) await p.waitForFunction(() => document.querySelectorAll('#people tr').length === 3, null, { timeout: 20000 });
    await C.waitForFunction(() => document.querySelectorAll('#people tr').length === 1, null, { timeout: 20000 });
    // Singers: no organiser's card, no controls for everyone, no monitoring.
    for (const p of [A, B]) {
      for (const sel of ['#organiser-card', '#settings-card', '#leader-people']) assert.equal(await isShown(p, sel), false, sel);
      assert.equal(await isShown(p, '#my-mic-form'), true, 'a singer sets their own mic volume');
    }
    assert.equal(await isShown(O, '#settings-card'), true, 'the organiser has the controls for everyone');

    // Alice leads (nobody does) and starts; Bob cannot take the lead now.
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await A.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    assert.equal(await isShown(A, '#settings-card'), true, 'the leader has the controls for everyone');
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });
    await B.waitForFunction(() => document.getElementById('leader-name').textContent === 'Alice', null, { timeout: 10000 });
    assert.equal(await isShown(B, '#lead'), false, 'a singer cannot take a lead someone holds');
    assert.match(await B.textContent('#lead-hint'), /Alice leads the song/);
    await O.waitForFunction(() => document.getElementById('lead').textContent === 'Take the lead', null, { timeout: 10000 });

    // Bob, behind Alice, hears her; Carol, in the other room, hears neither.
    const [offA, offB] = await Promise.all([A, B].map((p) => p.evaluate(() => window.bbTest.state.offset)));
    assert.ok(offB > offA, `Bob (${offB} s) behind Alice (${offA} s)`);
    const bobHears = await hears(B, HZ.alice);
    const [bobLevels, carolLevels] = await Promise.all([levels(B), levels(C)]);
    console.log(`Bob at ${offB} s hears ${JSON.stringify(bobLevels)}; Carol in the other room hears ${JSON.stringify(carolLevels)}`);
    assert.ok(bobHears > 0.05, `Alice's tone in Bob's output: ${bobHears}`);
    assert.ok(bobLevels.bob < bobHears / 10, `Bob does not hear himself: ${bobLevels.bob}`);
    assert.ok(bobLevels.carol < bobHears / 20, `Carol's tone in Bob's output: ${bobLevels.carol}`);
    assert.ok(carolLevels.alice < bobHears / 20, `Alice's tone in Carol's output: ${carolLevels.alice}`);
    assert.ok(carolLevels.bob < bobHears / 20, `Bob's tone in Carol's output: ${carolLevels.bob}`);

    // Chat reaches Bob, not Carol.
    await A.fill('#chat-input', 'Choir One, from Alice');
    await A.press('#chat-input', 'Enter');
    await B.waitForFunction(() => [...document.querySelectorAll('#chat-log li')].some((l) => l.textContent === 'Alice: Choir One, from Alice'), null, { timeout: 15000 });

    // Alice moves one bucket behind Bob and hears him.
    const behind = offB + 3;
    await A.fill('#offset', String(behind));
    await A.click('#offset-form button[type=submit]');
    await A.waitForFunction((o) => window.bbTest.state.offset === o && document.getElementById('status').textContent === 'Connected', behind, { timeout: 20000 });
    const aliceHears = await hears(A, HZ.bob);
    const [aliceLevels, carolAgain] = await Promise.all([levels(A), levels(C)]);
    console.log(`Alice at ${behind} s hears ${JSON.stringify(aliceLevels)}; Carol hears ${JSON.stringify(carolAgain)}`);
    assert.ok(aliceHears > 0.05, `Bob's tone in Alice's output: ${aliceHears}`);
    assert.ok(aliceLevels.carol < aliceHears / 20, `Carol's tone in Alice's output: ${aliceLevels.carol}`);
    assert.ok(carolAgain.alice < aliceHears / 20 && carolAgain.bob < aliceHears / 20, `Carol hears the other room: ${JSON.stringify(carolAgain)}`);
    // Carol's room: only Carol, no chat from the other, no failed exchange.
    assert.deepEqual(await C.evaluate(() => window.bbTest.state.users.map((u) => u.name)), ['Carol']);
    assert.equal(await C.evaluate(() => document.querySelectorAll('#chat-log li').length), 0);
    const carolNet = await C.evaluate(() => window.bbTest.net());
    assert.ok(carolNet.requests > 20 && carolNet.errors === 0, `Carol exchanged audio all along: ${JSON.stringify(carolNet)}`);

    // A control Bob's role lacks (a cue event, the leader's): refused, and
    // the page says so.
    await B.evaluate(() => { document.getElementById('debug').open = true; });
    await B.fill('#event-id', 'cue');
    await B.click('#event-fire');
    await B.waitForFunction(() => [...document.querySelectorAll('#toasts .toast')].some((e) => /only the leader or the organiser can set cue events/i.test(e.textContent)), null, { timeout: 10000 });
    await shoot(B, 'singer');
    await B.evaluate(() => { document.getElementById('debug').open = false; });

    // The organiser takes the lead: asked first; Cancel changes nothing.
    await O.click('#lead');
    await O.waitForSelector('#confirm[open]');
    assert.match(await O.textContent('#confirm-text'), /Alice is leading now/);
    await shoot(O, 'take-lead');
    await O.click('#confirm-cancel');
    await sleep(1500);
    assert.equal(await A.textContent('#lead'), 'Stop singing', 'Alice still leads after Cancel');
    await O.click('#lead');
    await O.waitForSelector('#confirm[open]');
    await O.click('#confirm-ok');
    await O.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });
    await A.waitForFunction(() => [...document.querySelectorAll('#chat-log li.notice')].some((l) => l.textContent === 'Olga took the lead from you.'), null, { timeout: 10000 });
    assert.ok(await A.evaluate(() => [...document.querySelectorAll('#toasts .toast')].some((e) => e.textContent === 'Olga took the lead from you.')), 'Alice is told at once');
    await B.waitForFunction(() => document.getElementById('leader-name').textContent === 'Olga', null, { timeout: 10000 });
    assert.equal(await isShown(A, '#settings-card'), false, 'Alice no longer has the controls for everyone');
    assert.equal(await isShown(A, '#lead'), false);
    assert.ok(await A.evaluate(() => window.bbTest.state.songStart !== null), 'the song goes on');
    await shoot(A, 'old-leader');

    // A cap of three singers: a fourth is told the room is full, and listens.
    await O.fill('#max-singers', '3');
    await O.click('#cap-form button[type=submit]');
    await O.waitForFunction(() => /At most 3 singers/.test(document.getElementById('organiser-result').textContent), null, { timeout: 10000 });
    sessions.dan = await openPage(bB, withHooks(one.singers), { init, viewport: PHONE });
    const D = sessions.dan.page;
    await D.waitForSelector('#setup:not([hidden])', { timeout: 15000 });
    await D.fill('#name', 'Dan');
    await D.click('#step-name button[type=submit]');
    await D.click('#start-audio');
    await D.click('#volume-skip');
    await D.waitForSelector('#room-full:not([hidden])', { timeout: 20000 });
    assert.match(await D.textContent('#room-full'), /This room is full: it takes at most 3 singers/);
    assert.equal(await isShown(D, '#offline'), false, 'a full room is no lost connection');
    await shoot(D, 'full');
    await D.click('#room-full-listen');
    await status(D, 'Connected');
    assert.equal(await isShown(D, '#room-full'), false);
    assert.equal(await D.evaluate(() => window.bbTest.state.listenOnly), true);
    await sessions.dan.context.close();
    delete sessions.dan;
    await shoot(O, 'organiser');

    // A new singers' link: the old one stops at once, the new one opens.
    await O.click('#replace-singers');
    await O.waitForSelector('#confirm[open]');
    await O.click('#confirm-ok');
    await O.waitForFunction(() => document.getElementById('singers-link').value.includes('#'), null, { timeout: 10000 });
    const newSingers = await O.inputValue('#singers-link');
    assert.notEqual(newSingers, one.singers);
    assert.equal(new URL(newSingers).pathname, new URL(one.singers).pathname);
    for (const p of [A, B]) {
      await p.waitForSelector('#refused:not([hidden])', { timeout: 15000 });
      assert.equal(await isShown(p, '#app'), false);
    }
    const stale = await refusedPage(bB, one.singers);
    await stale.context.close();
    const fresh = await openPage(bB, withHooks(newSingers), { init, viewport: PHONE });
    await fresh.page.waitForSelector('#setup:not([hidden])', { timeout: 15000 });
    assert.equal(await fresh.page.textContent('#room-name'), 'Choir One');
    await fresh.context.close();

    // A new organiser link: the page moves to it and goes on.
    await O.click('#replace-organiser');
    await O.waitForSelector('#confirm[open]');
    await O.click('#confirm-ok');
    await O.waitForSelector('#organiser-link-wrap:not([hidden])', { timeout: 10000 });
    const newOrganiser = await O.inputValue('#organiser-link');
    assert.notEqual(newOrganiser, one.organiser);
    assert.equal(await O.evaluate(() => location.hash), new URL(newOrganiser).hash, 'the page moved to the new link');
    await sleep(3000);
    await status(O, 'Connected');
    assert.equal(await isShown(O, '#refused'), false);
    const n0 = await O.evaluate(() => window.bbTest.net().requests);
    await O.waitForFunction((n) => window.bbTest.net().requests >= n + 3, n0, { timeout: 10000 });
    const oldOrganiser = await refusedPage(bB, one.organiser);
    await oldOrganiser.context.close();
    await shoot(O, 'organiser-new-link');

    // Carol sang on, untouched.
    assert.equal(await C.evaluate(() => window.bbTest.net().errors), 0);
    await shoot(C, 'other-room');
    for (const [name, s] of Object.entries(sessions)) {
      assert.deepEqual(s.log.filter((l) => l.startsWith('[pageerror]')), [], `${name}: page errors`);
    }
  } catch (e) {
    for (const [name, s] of Object.entries(sessions)) {
      const log = await s.page.evaluate(() => (window.bbTest ? window.bbTest.state.log.join('\n') : '')).catch(() => '');
      console.log(`--- ${name} console:\n${s.log.slice(-30).join('\n')}\n--- ${name} log:\n${log}`);
      await s.page.screenshot({ path: join(outDir(), `rooms-${name}-failed.png`), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${stack.logs.join('').slice(-4000)}`);
    throw e;
  } finally {
    await bA.close();
    await bB.close();
    await bC.close();
    await stopStack(stack);
  }
});
