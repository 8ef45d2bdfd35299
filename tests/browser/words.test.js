// The song's words in time with each page's own audio: three singers in
// three buckets (3, 6 and 9 s), each in its own context of one browser of
// Debian's Chromium, against the real local stack.
//
// The leader uploads a backing track of marker tones (1 kHz, 100 ms, one
// every 2 s, silence between), loads words through the words card and
// starts the song. In every page a monitor reads the page's audio OUTPUT
// (the ?test=1 tap after the limiter) and notes when each marker tone
// begins there: the frame of its first loud sample, turned into the
// performance.now() at which that frame leaves the device (the context's
// getOutputTimestamp()). The leader presses the words' key (→) at the
// moment its output reaches a marker tone, twice; each page records when
// it switched the line (performance.now() of the change). Asserted for
// each page and both lines: the line appeared within 25 ms of the marker
// tone at that clock leaving that page's output, and the pages switched
// in bucket order, about 3 s apart. The figures are printed; screenshots
// of the singer view and the presentation view at 390 and 1280 px go to
// build/browser-out/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  launchChromium, makeTone, openPage, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const MARK_HZ = 1000;
const PERIOD_S = 2;
const TOLERANCE_MS = 25;
const WORDS = 'Amazing grace, how sweet the sound\nThat saved a wretch like me\n\nI once was lost, but now am found\nWas blind, but now I see\n';

// A FLAC of marker tones: 100 ms of MARK_HZ every PERIOD_S, for 60 s
// (FLAC: the silence between them costs next to nothing to upload).
function markerTrack() {
  const file = join(outDir(), 'words-marker.flac');
  const r = spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', file, 'synth', '0.1', 'sine', String(MARK_HZ),
    'vol', '0.5', 'pad', '0', String(PERIOD_S - 0.1), 'repeat', '29']);
  if (r.status !== 0) throw new Error('sox failed: ' + r.stderr);
  return file;
}

async function enter(page, name) {
  await page.fill('#name', name);
  await page.click('#step-name button[type=submit]');
  await page.waitForSelector('#step-device:not([hidden])');
  await page.click('#start-audio');
  await page.waitForSelector('#step-volume:not([hidden])');
  await page.click('#volume-skip');
  await page.waitForSelector('#app:not([hidden])');
}

// In the page: watches the output tap and records each marker onset as
// {frame, leaves} (leaves: the performance.now() at which it leaves the
// device). An onset is the first sample above 0.05 after 200 ms below it.
function installMonitor() {
  const e = window.bbTest.engine;
  const ctx = e.ctx;
  const an = e.analyser;
  const L = an.fftSize;
  const buf = new Float32Array(L);
  const m = { onsets: [], quiet: 0, lastEnd: -1, armed: null, presses: [] };
  window.bbMarks = m;
  const leavesAt = (frame) => {
    const ts = ctx.getOutputTimestamp();
    if (ts.performanceTime > 0) return ts.performanceTime + (frame / ctx.sampleRate - ts.contextTime) * 1000;
    const lat = (ctx.outputLatency || 0) + (ctx.baseLatency || 0);
    return performance.now() + (frame / ctx.sampleRate + lat - ctx.currentTime) * 1000;
  };
  const poll = () => {
    an.getFloatTimeDomainData(buf);
    const end = Math.round(ctx.currentTime * ctx.sampleRate);
    const fresh = m.lastEnd < 0 ? L : Math.min(L, end - m.lastEnd);
    m.lastEnd = end;
    for (let i = L - fresh; i < L; i++) {
      if (Math.abs(buf[i]) < 0.05) { m.quiet++; continue; }
      if (m.quiet >= 0.2 * ctx.sampleRate) {
        const frame = end - (L - i);
        m.onsets.push({ frame, leaves: leavesAt(frame) });
        if (m.onsets.length > 100) m.onsets.shift();
        if (m.armed) m.armed(frame);
      }
      m.quiet = 0;
    }
  };
  setInterval(poll, 20);
  // The leader's hand: at the next marker onset after this one (a period
  // later, at its exact clock), press → as a person on the beat would.
  m.arm = () => new Promise((done) => {
    m.armed = (frame) => {
      m.armed = null;
      const words = window.bbTest.words;
      const anchor = words.state.anchor;
      const sr = ctx.sampleRate;
      const target = anchor.clock + (frame - anchor.frame) * (48000 / sr) + 2 * 48000;
      const press = () => {
        const now = words.outputClock();
        if (now < target - 96) { setTimeout(press, Math.max(0, (target - now) / 48 - 4)); return; }
        while (words.outputClock() < target) { /* the last few ms: wait on the clock itself */ }
        const clock = words.outputClock();
        document.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
        m.presses.push({ target, clock, at: performance.now() });
        done({ target, clock });
      };
      press();
    };
  });
  return L;
}

test('each page shows the line when its own audio reaches the leader\'s marker', { timeout: 300000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const SHOTS = outDir();
  const server = await startStack();
  const silence = makeTone('words-silence.wav', 440, 60, 0);
  const track = markerTrack();
  const browsers = [];
  const pages = [];
  const t0 = Date.now();
  const step = (what) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  try {
    const names = ['Lea', 'Sam', 'Kim'];
    // One browser, a context per singer: every microphone plays silence.
    const b = await launchChromium(silence);
    browsers.push(b);
    for (const name of names) {
      const s = await openPage(b, server.url + '?test=1', {
        init: () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); },
      });
      s.name = name;
      pages.push(s);
    }
    step('pages open');
    for (const s of pages) await withTimeout(enter(s.page, s.name), 30000, `${s.name} joins`);
    step('everyone in');
    for (const s of pages) {
      await s.page.waitForFunction(() => document.querySelectorAll('#people tr').length === 3, null, { timeout: 30000 });
    }
    const [A, B, C] = pages.map((s) => s.page);
    step('everyone sees everyone');

    // Lea leads, uploads the marker track and chooses it, loads the words.
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    step('Lea leads');
    const name = await A.evaluate(async (b64) => {
      const st = window.bbTest.state;
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      let last = '';
      // The page leads once the server said so; the upload worker may read
      // the room a moment later.
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`/api/upload?name=marker&userid=${st.userid}`, { method: 'POST', body: bytes });
        const j = await r.json();
        if (r.ok) return j.track;
        last = `upload: ${r.status} ${JSON.stringify(j)} (the page ${st.amLeader ? 'leads' : 'does not lead'})`;
        await new Promise((ok) => setTimeout(ok, 1000));
      }
      throw new Error(last);
    }, readFileSync(track).toString('base64'));
    step('track uploaded');
    await A.waitForFunction((n) => [...document.querySelectorAll('#track option')].some((o) => o.value === n), name, { timeout: 30000 });
    await A.selectOption('#track', name);
    await A.waitForSelector('#words-card:not([hidden])');
    await A.evaluate(() => { document.querySelector('.words-load-box').open = true; });
    await A.fill('#words-text', WORDS);
    await A.click('.words-load button[type=submit]');
    await A.waitForFunction(() => /Loaded 4 lines/.test(document.getElementById('words-result').textContent), null, { timeout: 15000 });
    await sleep(1000);
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });

    const offsets = await Promise.all(pages.map((s) => s.page.evaluate(() => window.bbTest.state.offset)));
    console.log(`offsets: ${names.map((n, i) => `${n} ${offsets[i]} s`).join(', ')}`);
    assert.equal(offsets[0], 3);
    assert.deepEqual([...offsets.slice(1)].sort(), [6, 9]);
    // Every page has the words, and its audio plays the markers.
    for (const p of pages.map((s) => s.page)) {
      await p.waitForFunction(() => window.bbTest.words.state.words.id > 0 && window.bbTest.words.state.anchor, null, { timeout: 30000 });
      await p.evaluate(installMonitor);
    }
    await A.waitForFunction(() => window.bbMarks.onsets.length >= 1, null, { timeout: 30000 });
    await C.waitForFunction(() => window.bbMarks.onsets.length >= 1, null, { timeout: 30000 });
    const env = await A.evaluate(() => {
      const c = window.bbTest.engine.ctx;
      return { outputLatency: c.outputLatency, baseLatency: c.baseLatency, ts: c.getOutputTimestamp() };
    });
    console.log(`Lea's context: ${JSON.stringify(env)}`);

    // Two lines, each pressed on a marker.
    const presses = [];
    for (let k = 0; k < 2; k++) {
      presses.push(await withTimeout(A.evaluate(() => window.bbMarks.arm()), 15000, `press ${k}`));
      await sleep(500);
    }
    console.log(`presses (clock - marker clock, samples): ${presses.map((p) => Math.round(p.clock - p.target)).join(', ')}`);
    // The last page hears them 6 s after the leader; then a little more.
    await sleep(8000);

    const results = [];
    for (const s of pages) {
      const r = await s.page.evaluate(() => ({ shown: window.bbTest.words.state.shown, onsets: window.bbMarks.onsets }));
      for (const line of [0, 1]) {
        const sh = r.shown.find((x) => x.line === line);
        assert.ok(sh, `${s.name} never showed line ${line}: ${JSON.stringify(r.shown)}`);
        let best = null;
        for (const o of r.onsets) if (!best || Math.abs(o.leaves - sh.at) < Math.abs(best.leaves - sh.at)) best = o;
        assert.ok(best, `${s.name}: no marker heard`);
        results.push({ name: s.name, line, at: sh.at, leaves: best.leaves, diff: sh.at - best.leaves });
      }
    }
    for (const r of results) {
      console.log(`${r.name} line ${r.line}: shown ${r.diff >= 0 ? '+' : ''}${r.diff.toFixed(1)} ms from the marker leaving its output`);
    }
    for (const r of results) {
      assert.ok(Math.abs(r.diff) <= TOLERANCE_MS, `${r.name} line ${r.line}: ${r.diff.toFixed(1)} ms`);
    }
    // Bucket order, seconds apart: each page's switch in wall-clock time
    // (the pages' performance clocks differ; compare with each page's own
    // offset instead: a later bucket switches its offset later).
    const abs = await Promise.all(pages.map((s) => s.page.evaluate(() => performance.timeOrigin)));
    for (const line of [0, 1]) {
      const times = pages.map((s, i) => abs[i] + results.find((r) => r.name === s.name && r.line === line).at);
      const order = pages.map((s, i) => ({ o: offsets[i], t: times[i] })).sort((x, y) => x.o - y.o);
      console.log(`line ${line}: switched at ${order.map((x) => `${x.o} s: +${((x.t - order[0].t) / 1000).toFixed(3)} s`).join(', ')}`);
      for (let i = 1; i < order.length; i++) {
        const gap = (order[i].t - order[i - 1].t) / 1000;
        assert.ok(Math.abs(gap - (order[i].o - order[i - 1].o)) < 0.2, `line ${line}: ${gap} s between buckets`);
      }
    }
    // What a singer sees: text on every page.
    for (const p of [A, B, C]) {
      assert.equal(await p.textContent('#words-current'), 'That saved a wretch like me');
      assert.equal(await p.textContent('#words-next'), 'I once was lost, but now am found');
    }
    // Screenshots: the singer view and the presentation view, phone and laptop.
    for (const [w, h] of [[390, 844], [1280, 900]]) {
      await B.setViewportSize({ width: w, height: h });
      await sleep(300);
      await B.screenshot({ path: join(SHOTS, `words-singer-${w}.png`), fullPage: false });
      await B.click('#words-present');
      await sleep(300);
      await B.screenshot({ path: join(SHOTS, `words-present-${w}.png`) });
      await B.keyboard.press('Escape');
      await sleep(200);
    }
    await A.setViewportSize({ width: 390, height: 844 });
    await A.evaluate(() => document.getElementById('words-card').scrollIntoView());
    await A.screenshot({ path: join(SHOTS, 'words-leader-390.png') });
    await A.setViewportSize({ width: 1280, height: 900 });
    await A.screenshot({ path: join(SHOTS, 'words-leader-1280.png') });
    for (const s of pages) {
      assert.deepEqual(s.log.filter((l) => l.startsWith('[pageerror]')), []);
    }
  } catch (e) {
    for (const s of pages) {
      console.log(`--- ${s.name} console:\n${s.log.slice(-30).join('\n')}`);
      await s.page.screenshot({ path: join(SHOTS, `words-${s.name}-failed.png`), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${server.logs.join('').slice(-4000)}`);
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    await stopStack(server);
  }
});
