// Where the song is, as the page says it, against the real local stack.
// Ann leads from a laptop (1280 px), Ben sings on a phone (390 px):
// - before anyone leads both read "Waiting for someone to lead a song";
//   once Ann leads, Ben reads that she leads;
// - Ann chooses the metronome and has not set its tempo: Start is not sent
//   and she is told to set the BPM beside it (the server refuses such a
//   start too: tests/worker/test_songstate.c);
// - Ann starts with an uploaded 16 s track: she is counted in, then both
//   read "Singing now" with the track's name and the time into the song,
//   which moves, and the "Recording" sign; on Ben's phone all of it is
//   visible and unclipped;
// - the track runs out: both read "The song has ended.", and Ann's button
//   is "Lead a new song", never "Stop singing"; it leads again;
// - Cy, who comes in after the end, is not told a song ended.
// Screenshots: song-state-1280.png, song-state-390.png, song-state-ended-390.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  launchChromium, makeTone, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const TRACK = 'Evening Hymn of the Long Summer Night';
const phase = (p) => p.evaluate(() => document.getElementById('song-state').dataset.phase);
const text = (p, id) => p.evaluate((i) => document.getElementById(i).textContent, id);

async function enter(page, name, { listen = false } = {}) {
  await page.fill('#name', name);
  if (listen) await page.check('#listen-only');
  await page.click('#step-name button[type=submit]');
  if (!listen) {
    await page.click('#start-audio');
    await page.click('#volume-skip');
  }
  await page.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 20000 });
}

// Everything of the element lies within the screen's width, and its text
// is not cut off inside it.
async function unclipped(page, id, width) {
  const r = await page.evaluate((i) => {
    const e = document.getElementById(i);
    const b = e.getBoundingClientRect();
    return { left: b.left, right: b.right, height: b.height, sw: e.scrollWidth, cw: e.clientWidth, hidden: e.hidden || b.height === 0 };
  }, id);
  assert.equal(r.hidden, false, `#${id} is shown`);
  assert.ok(r.left >= 0 && r.right <= width, `#${id} within the screen: ${r.left}..${r.right}`);
  assert.ok(r.sw <= r.cw + 1, `#${id} not cut off: ${r.sw} > ${r.cw}`);
}

test('the song state: waiting, leading, no tempo, counting in, singing with track and time, recording, ended', { timeout: 300000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  const b1 = await launchChromium(makeTone('state-ann-440.wav', 440, 120));
  const b2 = await launchChromium(makeTone('state-ben-660.wav', 660, 120));
  const logs = [];
  const init = () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); };
  let A;
  let B;
  try {
    const ca = await b1.newContext({ viewport: { width: 1280, height: 900 } });
    await ca.addInitScript(init);
    A = await ca.newPage();
    const cb = await b2.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await cb.addInitScript(init);
    B = await cb.newPage();
    for (const [p, n] of [[A, 'ann'], [B, 'ben']]) {
      p.on('console', (m) => logs.push(`${n} [${m.type()}] ${m.text()}`));
      p.on('pageerror', (e) => logs.push(`${n} [pageerror] ${e.message}`));
    }
    await A.goto(stack.url + '?test=1');
    await B.goto(stack.url + '?test=1');
    await enter(A, 'Ann');
    await enter(B, 'Ben');
    await B.waitForFunction(() => document.getElementById('song-state-text').textContent === 'Waiting for someone to lead a song.', null, { timeout: 10000 });

    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await B.waitForFunction(() => /^Ann leads/.test(document.getElementById('song-state-text').textContent), null, { timeout: 10000 });
    assert.match(await text(A, 'song-state-text'), /^You lead/);

    // A 16 s backing track, uploaded from Ann's page (a leader may).
    const wav = join(outDir(), 'state-track.wav');
    spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', wav, 'synth', '16', 'sine', '300', 'vol', '0.2']);
    await A.setInputFiles('#upload-file', wav);
    await A.fill('#upload-name', TRACK);
    await A.click('#upload-form button[type=submit]');
    await A.waitForFunction(() => /Added|failed/.test(document.getElementById('upload-result').textContent), null, { timeout: 20000 });
    assert.match(await text(A, 'upload-result'), /^Added/);

    // The metronome with no tempo: not started, and the tempo field is there.
    await A.waitForFunction(() => [...document.getElementById('track').options].some((o) => o.value.startsWith('metronome')), null, { timeout: 10000 });
    await A.selectOption('#track', 'metronome -- set BPM below');
    assert.equal(await A.isVisible('#track-bpm'), true, 'the tempo sits beside the metronome');
    await A.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await A.click('#lead');
    await A.waitForFunction(() => /BPM first/.test(document.getElementById('toasts').textContent), null, { timeout: 5000 });
    await sleep(1500);
    assert.equal(await A.evaluate(() => window.bbTest.state.songStart), null, 'no song started');
    assert.equal(await text(A, 'lead'), 'Start singing');

    // The track instead; Ann is counted in, then sings.
    await A.waitForFunction((n) => [...document.getElementById('track').options].some((o) => o.value === n), `${TRACK}.wav`, { timeout: 10000 })
      .catch(async (e) => { throw new Error(e.message + ': ' + await A.evaluate(() => [...document.getElementById('track').options].map((o) => o.value).join(' / '))); });
    await A.selectOption('#track', `${TRACK}.wav`);
    assert.equal(await A.isVisible('#track-bpm'), false);
    await sleep(800);
    await A.click('#lead');
    const seen = new Set();
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      // The phase and its line read at once: read apart, the line may
      // already be the next phase's.
      const { ph, line } = await A.evaluate(() => ({
        ph: document.getElementById('song-state').dataset.phase,
        line: document.getElementById('song-state-text').textContent,
      }));
      seen.add(ph);
      if (ph === 'counting') assert.match(line, /^The song reaches you in \d+ s$/);
      if (ph === 'singing') break;
      await sleep(150);
    }
    assert.ok(seen.has('counting'), `the leader is counted in: ${[...seen]}`);
    await B.waitForFunction(() => document.getElementById('song-state').dataset.phase === 'singing', null, { timeout: 30000 });
    for (const p of [A, B]) {
      assert.equal(await text(p, 'song-state-text'), 'Singing now');
      assert.match(await text(p, 'song-state-detail'), new RegExp(`^“${TRACK}” · 0:\\d\\d$`));
      await p.waitForSelector('#recording-sign:not([hidden])', { timeout: 10000 });
    }
    const t1 = await text(B, 'song-state-detail');
    await sleep(2200);
    const t2 = await text(B, 'song-state-detail');
    assert.notEqual(t1, t2, 'the time into the song moves');
    for (const id of ['song-state-text', 'song-state-detail', 'recording-sign']) await unclipped(B, id, 390);
    await A.screenshot({ path: join(outDir(), 'song-state-1280.png'), fullPage: true });
    await B.screenshot({ path: join(outDir(), 'song-state-390.png'), fullPage: true });

    // The track runs out: ended for both; Ann's button offers a new song.
    await A.waitForFunction(() => document.getElementById('song-state').dataset.phase === 'ended', null, { timeout: 40000 });
    for (let i = 0; i < 6; i++) {
      assert.notEqual(await text(A, 'lead'), 'Stop singing', '"Stop singing" beside "The song has ended."');
      await sleep(250);
    }
    assert.equal(await text(A, 'lead'), 'Lead a new song');
    await B.waitForFunction(() => document.getElementById('song-state').dataset.phase === 'ended', null, { timeout: 30000 });
    assert.equal(await text(B, 'song-state-text'), 'The song has ended.');
    await B.screenshot({ path: join(outDir(), 'song-state-ended-390.png'), fullPage: true });

    // Cy comes in afterwards: nobody tells him a song ended.
    const cc = await b2.newContext({ viewport: { width: 390, height: 844 } });
    await cc.addInitScript(init);
    const C = await cc.newPage();
    await C.goto(stack.url + '?test=1');
    await enter(C, 'Cy', { listen: true });
    await sleep(3000);
    assert.notEqual(await phase(C), 'ended');

    // Ann leads a new song.
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    assert.match(await text(A, 'song-state-text'), /^You lead/);
    assert.deepEqual(logs.filter((l) => l.includes('[pageerror]')), []);
  } catch (e) {
    console.log(`--- console:\n${logs.slice(-60).join('\n')}`);
    for (const [p, n] of [[A, 'ann'], [B, 'ben']]) {
      if (p) await p.screenshot({ path: join(outDir(), `song-state-${n}-failed.png`), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${stack.logs.join('').slice(-3000)}`);
    throw e;
  } finally {
    await withTimeout(b1.close(), 10000, 'closing a browser').catch(() => {});
    await withTimeout(b2.close(), 10000, 'closing a browser').catch(() => {});
    await stopStack(stack);
  }
});
