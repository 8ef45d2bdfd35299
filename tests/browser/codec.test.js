// The Opus codecs in a real browser: WebCodecs and the WebAssembly
// fallback each turn a tone into ten 60 ms packets and back, and packets
// from one decode with the other (both are plain libopus packets, which is
// what the server speaks). Needs no server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, openPage, serveStatic, withTimeout } from './lib.js';

test('Opus round trip through WebCodecs and WebAssembly', { timeout: 60000 }, async () => {
  const server = await serveStatic();
  const browser = await launchChromium();
  try {
    const { page, log } = await openPage(browser, server.url + '?test=1');
    const r = await withTimeout(page.evaluate(async () => {
      const { createCodec } = await import('./js/codec.js');
      const tone = (hz, n, phase = 0) => Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin(2 * Math.PI * hz * (i + phase) / 48000));
      // Goertzel amplitude of hz in x.
      const level = (x, hz) => {
        const c = 2 * Math.cos(2 * Math.PI * hz / 48000);
        let s1 = 0, s2 = 0;
        for (const v of x) { const s0 = v + c * s1 - s2; s2 = s1; s1 = s0; }
        return 2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - c * s1 * s2)) / x.length;
      };
      const wc = await createCodec('webcodecs');
      const wa = await createCodec('wasm');
      const out = {};
      for (const [name, enc, dec] of [['webcodecs', wc, wc], ['wasm', wa, wa], ['wc->wasm', wc, wa], ['wasm->wc', wa, wc]]) {
        enc.reset(); dec.reset();
        const packets = [];
        let pcm = null;
        for (let k = 0; k < 3; k++) {
          const p = await enc.encode(tone(440, 28800, k * 28800));
          packets.push(p.length);
          pcm = await dec.decode(p);
        }
        out[name] = { kinds: [enc.kind, dec.kind], packets, samples: pcm.length, at440: level(pcm, 440), at660: level(pcm, 660) };
      }
      return out;
    }), 40000, 'codec round trips');
    console.log(JSON.stringify(r));
    assert.deepEqual(r.webcodecs.kinds, ['webcodecs', 'webcodecs'], 'Debian Chromium has WebCodecs Opus');
    assert.deepEqual(r.wasm.kinds, ['wasm', 'wasm']);
    for (const [name, v] of Object.entries(r)) {
      assert.deepEqual(v.packets, [10, 10, 10], name);
      assert.equal(v.samples, 28800, name);
      assert.ok(v.at440 > 0.4 && v.at440 < 0.6, `${name}: 440 Hz at ${v.at440}`);
      assert.ok(v.at660 < 0.01, `${name}: 660 Hz at ${v.at660}`);
    }
    assert.deepEqual(log.filter((l) => l.startsWith('[pageerror]')), []);
  } finally {
    await browser.close();
    server.close();
  }
});
