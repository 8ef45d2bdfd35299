// WebKit: WebKitGTK's MiniBrowser (Debian's webkit2gtk-driver package)
// through WebKitWebDriver under xvfb-run. Its microphone is real capture
// (GStreamer from PulseAudio) of a sine played into a private PulseAudio,
// and it plays into that PulseAudio's null sink. WebKitGTK is Safari's
// engine, not Safari: what passes here says nothing more about Safari.
//
// Both Opus paths (WebCodecs, which WebKitGTK 2.50 has, and the
// WebAssembly fallback) round trip; the latency calibration tracks a known
// loopback delay; against the real local stack WebKit leads a song with
// the metronome (its output must stay within full scale) and a Chromium
// singer in a later bucket hears it; chat crosses both ways; WebKit then
// moves behind the Chromium singer and hears them.
//
// A missing WebKitWebDriver, MiniBrowser, xvfb-run, PulseAudio or stack
// fails the test. Screenshots webkit-*.png in the test output folder
// (build/browser-out/ under ctest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchWebKit } from './engines.js';
import { withChromium } from './scenarios.js';

const WENDY_HZ = 523;
const CARL_HZ = 660;

test('WebKit: codecs, calibration, and a song with a Chromium singer', { timeout: 300000 }, async () => {
  const r = await withChromium({
    launch: (pulse) => launchWebKit({ soundEnv: pulse.env }),
    pulseMic: true,
    singer: { name: 'Wendy', hz: WENDY_HZ },
    partner: { name: 'Carl', hz: CARL_HZ },
  });
  assert.equal(r.codecs[0], 'webcodecs', 'WebKitGTK encodes with WebCodecs');
});
