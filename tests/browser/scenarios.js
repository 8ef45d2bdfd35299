// scenarios.js: what the engine tests do in every browser, written once
// against the page interface of engines.js.
//
// - codecRoundTrips(): Opus through WebCodecs and WebAssembly, and across;
// - calibrate(): the latency calibration against a known loopback delay;
// - enter(): the setup steps, from the headphones questions to the app;
// - singTogether(): two singers in two engines against the real stack: the
//   leader starts a song with the metronome, the later singer hears the
//   leader's tone, chat crosses both ways, then the leader moves behind the
//   other singer and hears their tone. Along the way the peak of what the
//   leader's page outputs is measured, and the leader's browser may be
//   stalled for 0.7 s and must be heard again;
// - withChromium(): all of the above for one engine, with a Chromium
//   singer, against the real stack and a private PulseAudio.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeTone, outDir, sleep, stackBuilt, startStack, stopStack, within } from './lib.js';
import { chromium, startPulse } from './engines.js';

/** A chat message full of markup; it must arrive as text. */
export const NASTY = '<img src=x onerror="window.__xss=1"><b>bold</b> & "quotes"';

// In the page: a tone through each codec pairing, three batches of ten
// 60 ms packets, and the tones found in what comes back.
async function roundTripsInPage() {
  const { createCodec } = await import('./js/codec.js');
  const tone = (hz, n, phase = 0) => Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin(2 * Math.PI * hz * (i + phase) / 48000));
  // Goertzel amplitude of hz in x.
  const level = (x, hz) => {
    const c = 2 * Math.cos(2 * Math.PI * hz / 48000);
    let s1 = 0;
    let s2 = 0;
    for (const v of x) { const s0 = v + c * s1 - s2; s2 = s1; s1 = s0; }
    return 2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - c * s1 * s2)) / x.length;
  };
  const wc = await createCodec('webcodecs');
  const wa = await createCodec('wasm');
  const out = {};
  for (const [name, enc, dec] of [['webcodecs', wc, wc], ['wasm', wa, wa], ['wc->wasm', wc, wa], ['wasm->wc', wa, wc]]) {
    enc.reset();
    dec.reset();
    const packets = [];
    let pcm = null;
    for (let k = 0; k < 3; k++) {
      const p = await enc.encode(tone(440, 28800, k * 28800));
      packets.push(p.length);
      pcm = await dec.decode(p);
    }
    out[name] = { kinds: [enc.kind, dec.kind], packets, samples: pcm.length, at440: level(pcm, 440), at660: level(pcm, 660) };
  }
  wc.close();
  wa.close();
  return out;
}

/**
 * Runs the codec round trips in page (opened on the client with ?test=1)
 * and checks them: each pairing gives ten packets per 600 ms batch and the
 * tone back at its level. Returns the figures.
 */
export async function codecRoundTrips(page) {
  const r = await page.eval(roundTripsInPage);
  console.log(`${page.engine} codecs: ${JSON.stringify(r)}`);
  assert.deepEqual(r.webcodecs.kinds, ['webcodecs', 'webcodecs'], `${page.engine} has WebCodecs Opus`);
  assert.deepEqual(r.wasm.kinds, ['wasm', 'wasm']);
  for (const [name, v] of Object.entries(r)) {
    assert.deepEqual(v.packets, [10, 10, 10], `${page.engine} ${name}`);
    assert.equal(v.samples, 28800, `${page.engine} ${name}`);
    assert.ok(v.at440 > 0.4 && v.at440 < 0.6, `${page.engine} ${name}: 440 Hz at ${v.at440}`);
    assert.ok(v.at660 < 0.01, `${page.engine} ${name}: 660 Hz at ${v.at660}`);
  }
  return r;
}

const shown = (sel) => !!document.querySelector(sel);

/**
 * Loads url in page with the given stored settings (tutorial and latency
 * steps on or off), as a returning visitor would have them.
 */
export async function open(page, url, { tutorial = false, latency = false } = {}) {
  await page.goto(url);
  await page.eval(([t, l]) => {
    localStorage.clear();
    if (!t) localStorage.setItem('bb.noTutorial', '1');
    if (!l) localStorage.setItem('bb.noLatency', '1');
  }, [tutorial, latency]);
  await page.goto(url);
}

/**
 * The latency calibration with the page's output fed back to its input
 * through a delay of `delay` seconds (?loopback=): resolves the measured
 * latency in ms, after checking that it succeeded.
 */
export async function calibrate(page, baseUrl, delay) {
  await open(page, `${baseUrl}?test=1&loopback=${delay}`, { latency: true });
  await page.fill('#name', 'Calibrator');
  await page.click('#step-name button[type=submit]');
  await page.waitFor(shown, '#step-device:not([hidden])', 10000, 'the microphone step');
  await page.click('#start-audio');
  await page.waitFor(shown, '#step-latency:not([hidden])', 20000, 'the latency step');
  await page.click('#latency-start');
  const r = await page.waitFor(() => window.bbTest && window.bbTest.latency(), null, 30000, 'the latency result');
  await page.screenshot(join(outDir(), `${page.engine}-calibration-${delay}.png`));
  assert.ok(r.ok, `${page.engine}: calibration failed at ${delay} s: ${r.reason}`);
  assert.match(await page.text('#latency-result'), /Your latency is \d+\.\d ms/);
  return r.latencyMs;
}

/** Walks page from the setup steps into the running app as name. */
export async function enter(page, name, { tutorial = false } = {}) {
  if (tutorial) {
    await page.click('#hp-q1 [data-hp=yes]');
    await page.click('#hp-q-wired [data-hp=wired]');
  }
  await page.fill('#name', name);
  await page.click('#step-name button[type=submit]');
  await page.waitFor(shown, '#step-device:not([hidden])', 10000, 'the microphone step');
  await page.click('#start-audio');
  await page.waitFor(shown, '#step-volume:not([hidden]), #device-error:not([hidden])', 20000, 'the volume step');
  const err = await page.eval(() => document.getElementById('device-error').hidden ? '' : document.getElementById('device-error').textContent);
  assert.equal(err, '', `${page.engine}: starting audio failed`);
  await page.click('#volume-skip');
  await page.waitFor(shown, '#app:not([hidden])', 10000, 'the app');
  await page.waitFor(() => document.getElementById('status').textContent === 'Connected', null, 20000, 'Connected');
}

// In the page: the amplitude of hz and the peak in the last 32768 samples
// of the page's output (the test tap on what goes to the speakers).
function outputInPage(hz) {
  const e = window.bbTest.engine;
  const x = new Float32Array(e.analyser.fftSize);
  e.analyser.getFloatTimeDomainData(x);
  let peak = 0;
  for (const v of x) if (Math.abs(v) > peak) peak = Math.abs(v);
  return { level: window.bbTest.toneLevel(hz), peak };
}

/**
 * Polls page's output every 250 ms until heard({level, peak}) holds for the
 * tone at hz (or timeoutMs passes), then moreMs longer; resolves the
 * strongest level of the tone from the moment it was heard (the last one
 * when it never was) and the largest sample seen in all that time. The
 * strongest, not the last: on a busy machine a page may start its
 * connection over (its audio clock slipped) in the last moments, which says
 * nothing about whether the tone came through.
 */
async function listen(page, hz, heard, { timeoutMs = 60000, moreMs = 3000 } = {}) {
  let peak = 0;
  let r = { level: 0, peak: 0 };
  let level = 0;
  let heardAt = 0;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !(heardAt && Date.now() > heardAt + moreMs)) {
    r = await within(page.eval(outputInPage, hz), 10000, `${page.engine}: its output`);
    peak = Math.max(peak, r.peak);
    if (!heardAt && heard({ level: r.level, peak })) heardAt = Date.now();
    level = heardAt ? Math.max(level, r.level) : r.level;
    await sleep(250);
  }
  return { level, peak };
}

async function chat(from, to, fromName, text) {
  const before = await to.eval(() => document.querySelectorAll('#chat-log li').length);
  await from.fill('#chat-input', text);
  await from.click('#chat-form button[type=submit]');
  await to.waitFor((n) => document.querySelectorAll('#chat-log li').length > n, before, 15000, 'the chat message');
  const got = await to.eval(() => {
    const li = [...document.querySelectorAll('#chat-log li')].pop();
    return { text: li.textContent, elements: li.querySelectorAll('img, b').length, xss: window.__xss === 1 };
  });
  assert.equal(got.text, `${fromName}: ${text}`, `${from.engine} -> ${to.engine} chat`);
  assert.equal(got.elements, 0);
  assert.equal(got.xss, false);
}

const METRONOME = 'metronome -- set BPM below';

/**
 * Two singers against the real stack at url. lead and follow are
 * {page, name, hz}: a fresh page in each browser, whose microphone plays a
 * sine at hz; with tutorial the leader answers the headphones questions
 * first; with stall (ms => stops the leader's browser for ms) the leader's
 * browser stalls once, mid-song, and must be heard again. Returns the
 * figures:
 * {offsets, heardLead, heardFollow, leadPeak, codecs}.
 */
export async function singTogether(url, lead, follow, { tutorial = false, stall = null } = {}) {
  const L = lead.page;
  const F = follow.page;
  const tag = `${L.engine} leads, ${F.engine} follows`;
  await open(L, url + '?test=1', { tutorial });
  await open(F, url + '?test=1');
  await enter(L, lead.name, { tutorial });
  await enter(F, follow.name);
  for (const p of [L, F]) await p.waitFor(() => document.querySelectorAll('#people tr').length === 2, null, 20000, 'both singers listed');

  // The leader takes the lead, picks the metronome at 120 BPM, starts.
  await L.click('#lead');
  await L.waitFor(() => document.getElementById('lead').textContent === 'Start singing', null, 20000, 'Start singing');
  await L.waitFor((m) => [...document.querySelectorAll('#track option')].some((o) => o.value === m), METRONOME, 10000, 'the metronome track');
  await L.select('#track', METRONOME);
  await L.fill('#bpm', '120');
  await L.click('[data-send=bpm]');
  await F.waitFor(() => document.getElementById('bpm').value === '120', null, 10000, 'BPM 120 on the other page');
  await L.waitFor(() => !document.getElementById('lead').disabled, null, 5000, 'the lead button');
  await L.click('#lead');
  await L.waitFor(() => document.getElementById('lead').textContent === 'Stop singing', null, 20000, 'Stop singing');
  const offsets = await Promise.all([L, F].map((p) => p.eval(() => window.bbTest.state.offset)));
  console.log(`${tag}: offsets ${offsets[0]} s and ${offsets[1]} s`);
  assert.ok(offsets[1] > offsets[0], `${tag}: the follower (${offsets[1]} s) must be behind the leader (${offsets[0]} s)`);
  assert.equal(await F.text('#leader-name'), lead.name);

  // The leader hears the metronome (clicks of one sample at 1.5 in the
  // mix, as the server writes them): the peak of the page's output over a
  // dozen clicks.
  const clicks = (await listen(L, 0, (r) => r.peak > 0.3, { timeoutMs: 45000, moreMs: 6000 })).peak;
  console.log(`${tag}: peak of the leader's output with the metronome ${clicks.toFixed(3)}`);
  assert.ok(clicks > 0.3, `${tag}: the leader hears the metronome (peak ${clicks})`);
  assert.ok(clicks <= 1, `${tag}: the leader's output stays within full scale (peak ${clicks})`);

  // The follower hears the leader's tone, not their own.
  const heard = await listen(F, lead.hz, (r) => r.level > 0.05);
  const self = (await F.eval(outputInPage, follow.hz)).level;
  console.log(`${tag}: ${F.engine} hears ${lead.hz} Hz at ${heard.level.toFixed(4)}, its own ${follow.hz} Hz at ${self.toFixed(4)}; peak ${heard.peak.toFixed(3)}`);
  assert.ok(heard.level > 0.05, `${tag}: the leader's tone in the follower's output: ${heard.level}`);
  assert.ok(self < heard.level / 10, `${tag}: the follower must not hear themselves: ${self}`);
  assert.ok(heard.peak <= 1, `${tag}: the follower's output stays within full scale (peak ${heard.peak})`);

  // A stall of the leader's browser (every process stopped for 0.7 s, as
  // on a busy machine): its audio clock loses that time for good, so its
  // voice would arrive too late and stay muted for lag; the page must start
  // its connection over and be heard again.
  if (stall) {
    await stall(700);
    await L.waitFor(() => window.bbTest.state.log.some((l) => l.includes('the audio clock slipped')), null, 10000, 'the resync after the stall');
    await L.waitFor(() => window.bbTest.state.connection === 'connected' && !window.bbTest.state.lagMuted, null, 20000, 'the leader back in time');
    // What the follower hears now was sung after the stall.
    await sleep((offsets[1] - offsets[0]) * 1000 + 3000);
    const again = await listen(F, lead.hz, (r) => r.level > 0.05, { timeoutMs: 20000, moreMs: 0 });
    const leaderLog = await L.eval(() => window.bbTest.state.log.filter((l) => /slipped|lag/.test(l)));
    console.log(`${tag}: after a 0.7 s stall of ${L.engine}, ${F.engine} hears ${lead.hz} Hz at ${again.level.toFixed(4)}; ${leaderLog.join('; ')}`);
    assert.ok(again.level > 0.05, `${tag}: the leader heard again after the stall: ${again.level}`);
    assert.equal(await L.eval(() => window.bbTest.state.lagMuted), false, `${tag}: the leader is not muted for lag`);
  }

  // Chat both ways, as text.
  await chat(L, F, lead.name, NASTY);
  await chat(F, L, follow.name, `${follow.name} hears ${lead.name} & sings <along>`);

  // The leader moves one bucket behind the follower and hears them.
  const behind = offsets[1] + 3;
  await L.fill('#offset', String(behind));
  await L.click('#offset-form button[type=submit]');
  await L.waitFor((o) => window.bbTest.state.offset === o && document.getElementById('status').textContent === 'Connected', behind, 20000, 'the move');
  const back = await listen(L, follow.hz, (r) => r.level > 0.05);
  console.log(`${tag}: at ${behind} s ${L.engine} hears ${follow.hz} Hz at ${back.level.toFixed(4)}; peak ${back.peak.toFixed(3)}`);
  assert.ok(back.level > 0.05, `${tag}: the follower's tone in the leader's output after the move: ${back.level}`);

  const codecs = await Promise.all([L, F].map((p) => p.eval(() => window.bbTest.codecKind())));
  for (const [p, name] of [[L, 'lead'], [F, 'follow']]) {
    await p.eval(() => { document.getElementById('debug').open = true; });
    await sleep(300);
    await p.screenshot(join(outDir(), `${L.engine}-${F.engine}-${name}-${p.engine}.png`));
  }
  // The leader stops; the button goes back to leading.
  await L.click('#lead');
  await L.waitFor(() => document.getElementById('lead').textContent === 'Lead a song', null, 20000, 'Lead a song');
  return { offsets, heardLead: heard.level, heardFollow: back.level, leadPeak: clicks, codecs };
}

// The page's connection as a line, twice 2 s apart (are requests still
// answered?), for a failure's report.
async function pageState(p) {
  const once = () => within(p.eval(() => {
    const s = window.bbTest.state;
    const n = window.bbTest.net() || {};
    return JSON.stringify({
      connection: s.connection, lagMuted: s.lagMuted, micMuted: s.micMuted, offset: s.offset,
      requests: n.requests, errors: n.errors, readClock: n.readClock, writeClock: n.writeClock, rttMs: n.rttMs,
      ctx: window.bbTest.engine.ctx && window.bbTest.engine.ctx.state,
    });
  }), 5000, 'the page state');
  try {
    const a = await once();
    await sleep(2000);
    return `${a}, 2 s later ${await once()}`;
  } catch (err) {
    return String(err);
  }
}

/**
 * One engine's whole run: the real stack, a private PulseAudio (whose
 * microphone plays singer.hz when pulseMic), the engine's browser from
 * launch(pulse) and a Chromium browser whose fake microphone plays
 * partner.hz. In the engine: the codec round trips, the calibration at 100
 * and 200 ms of loopback, then singTogether() with the engine leading (and
 * answering the headphones questions, and stalling once where the launcher
 * can stall the browser). Resolves singTogether()'s figures;
 * on a failure prints both pages' logs, the server's and PulseAudio's
 * output, and saves screenshots.
 */
export async function withChromium({ launch, pulseMic = false, singer, partner }) {
  const built = stackBuilt();
  assert.ok(built.ok, `the local stack is not built (missing ${built.missing.join(', ')})`);
  const stack = await startStack();
  const pulse = await startPulse({ toneHz: pulseMic ? singer.hz : 0 });
  let browser = null;
  let other = null;
  const pages = [];
  try {
    browser = await launch(pulse);
    other = await chromium(makeTone(`${partner.name.toLowerCase()}-${partner.hz}.wav`, partner.hz));
    const E = await browser.newPage();
    const C = await other.newPage();
    pages.push(E, C);

    await open(E, stack.url + '?test=1');
    await codecRoundTrips(E);

    const a = await calibrate(E, stack.url, 0.1);
    const b = await calibrate(E, stack.url, 0.2);
    console.log(`${E.engine} latency with 100 ms loopback: ${a.toFixed(2)} ms; with 200 ms: ${b.toFixed(2)} ms`);
    assert.ok(a >= 100, `at least the loopback delay: ${a}`);
    assert.ok(Math.abs(b - a - 100) <= 2, `difference ${b - a} ms`);

    const r = await singTogether(stack.url, { ...singer, page: E }, { ...partner, page: C },
      { tutorial: true, stall: browser.stall });
    console.log(`${E.engine} figures: ${JSON.stringify(r)}`);
    for (const p of pages) assert.deepEqual(await p.pageErrors(), [], `${p.engine} page errors`);
    return r;
  } catch (e) {
    // What failed first: what follows asks the pages, which may not answer.
    console.log(`--- failed: ${e && e.stack || e}`);
    for (const p of pages) console.log(`--- ${p.engine} state: ${await pageState(p)}`);
    for (const p of pages) {
      const log = await within(p.logs(), 10000, 'the page log').catch((err) => [String(err)]);
      console.log(`--- ${p.engine} console:\n${log.slice(-40).join('\n')}`);
      await within(p.screenshot(join(outDir(), `${pages[0].engine}-test-${p.engine}-failed.png`)), 20000, 'a screenshot').catch(() => {});
    }
    if (browser && browser.logs) console.log(`--- ${browser.engine} driver and browser:\n${browser.logs.join('').slice(-3000)}`);
    console.log(`--- server output:\n${stack.logs.join('').slice(-3000)}`);
    console.log(`--- PulseAudio:\n${pulse.logs.join('').slice(-2000)}`);
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (other) await other.close().catch(() => {});
    await pulse.stop();
    await stopStack(stack);
  }
}
