// Firefox (Debian's firefox-esr over WebDriver BiDi, puppeteer-core), its
// fake microphone playing a sine (Firefox's media prefs):
//
// - with no sound output (no sound server at all): pressing Start says
//   so and how to go on, and Start can be pressed again; after a browser
//   restart with a sound output (a private PulseAudio with a null sink)
//   the same page starts;
// - with PulseAudio: both Opus paths (WebCodecs, WebAssembly) round trip,
//   the latency calibration tracks a known loopback delay, and against the
//   real local stack Firefox leads a song with the metronome (its output
//   must stay within full scale) and a Chromium singer in a later bucket
//   hears it; Firefox's processes are stopped for 0.7 s mid-song (a busy
//   machine) and it must be heard again, not stay muted for lag; chat
//   crosses both ways; Firefox then moves behind the Chromium singer and
//   hears them.
//
// A missing Firefox, PulseAudio or stack fails the test. Screenshots
// firefox-*.png in the test output folder (build/browser-out/ under ctest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { outDir, serveStatic } from './lib.js';
import { launchFirefox, NO_PULSE, startPulse } from './engines.js';
import { open, withChromium } from './scenarios.js';

const FOX_HZ = 440;
const BOB_HZ = 660;

// Name, Start; resolves once the volume step or an error shows.
async function pressStart(page) {
  await page.fill('#name', 'Fox');
  await page.click('#step-name button[type=submit]');
  await page.waitFor(() => !!document.querySelector('#step-device:not([hidden])'), null, 10000, 'the microphone step');
  const t0 = Date.now();
  await page.click('#start-audio');
  await page.waitFor(() => !!document.querySelector('#step-volume:not([hidden]), #device-error:not([hidden])'), null, 30000, 'the outcome of Start');
  return Date.now() - t0;
}

test('Firefox without a sound output: a clear message, then a restart with one works', { timeout: 120000 }, async () => {
  const server = await serveStatic();
  let fox = await launchFirefox({ toneHz: FOX_HZ, soundEnv: NO_PULSE });
  let pulse = null;
  try {
    let page = await fox.newPage();
    await open(page, server.url + '?test=1');
    const ms = await pressStart(page);
    const msg = await page.eval(() => document.querySelector('#device-error:not([hidden])')?.textContent || '');
    await page.screenshot(join(outDir(), 'firefox-no-sound.png'));
    console.log(`without a sound output, after ${ms} ms: "${msg}"`);
    assert.match(msg, /sound output/i, 'the message names the problem');
    assert.match(msg, /restart the browser/i, 'the message says how to go on');
    assert.equal(await page.eval(() => document.getElementById('start-audio').disabled), false, 'Start can be pressed again');
    assert.equal(await page.eval(() => !document.getElementById('step-volume').hidden), false);
    assert.deepEqual(await page.pageErrors(), []);
    await fox.close();

    // The way forward: a sound output, a browser restart, Start again.
    pulse = await startPulse();
    fox = await launchFirefox({ toneHz: FOX_HZ, soundEnv: pulse.env });
    page = await fox.newPage();
    await open(page, server.url + '?test=1');
    const ms2 = await pressStart(page);
    console.log(`with PulseAudio, Start took ${ms2} ms`);
    assert.equal(await page.eval(() => document.getElementById('device-error').hidden), true);
    assert.equal(await page.eval(() => window.bbTest.engine.ctx.state), 'running');
  } finally {
    await fox.close().catch(() => {});
    if (pulse) await pulse.stop();
    server.close();
  }
});

test('Firefox: codecs, calibration, and a song with a Chromium singer', { timeout: 300000 }, async () => {
  const r = await withChromium({
    launch: (pulse) => launchFirefox({ toneHz: FOX_HZ, soundEnv: pulse.env }),
    singer: { name: 'Fox', hz: FOX_HZ },
    partner: { name: 'Bob', hz: BOB_HZ },
  });
  assert.equal(r.codecs[0], 'webcodecs', 'Firefox ESR encodes with WebCodecs');
});
