// The Opus codecs in a real browser: WebCodecs and the WebAssembly
// fallback each turn a tone into ten 60 ms packets and back, and packets
// from one decode with the other (both are plain libopus packets, which is
// what the server speaks). Needs no server. The same round trips run in
// Firefox and WebKit as part of their tests (scenarios.js).
//
// Then the client's encoder as it sings a rest: WebCodecs with DTX (the
// page asks for it, codec.js) fed a second of silence, a tone, and silence
// again, batch by batch as the page sends them. Every 60 ms frame must
// still give one packet (the server counts frames by packets), the tone
// full-size packets, and the silence the small DTX and CELT-silence
// packets that the server knows for rests (tests/worker/test_rests.c
// checks the same bytes with the worker's rs_is_rest()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveStatic, withTimeout } from './lib.js';
import { chromium } from './engines.js';
import { codecRoundTrips } from './scenarios.js';

test('Opus round trip through WebCodecs and WebAssembly', { timeout: 60000 }, async () => {
  const server = await serveStatic();
  const browser = await chromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url + '?test=1');
    await withTimeout(codecRoundTrips(page), 40000, 'codec round trips');
    assert.deepEqual(await page.pageErrors(), []);
  } finally {
    await browser.close();
    server.close();
  }
});

// In the page: five 600 ms batches (silence, silence, tone, silence,
// silence) through the client's WebCodecs codec; the packet sizes of each
// batch and the bytes of every small packet.
async function dtxInPage() {
  const { createCodec } = await import('./js/codec.js');
  const c = await createCodec('webcodecs');
  const batches = [];
  const small = new Set();
  for (const loud of [false, false, true, false, false]) {
    const pcm = new Float32Array(28800);
    if (loud) for (let i = 0; i < pcm.length; i++) pcm[i] = 0.4 * Math.sin(2 * Math.PI * 330 * i / 48000);
    const packets = await c.encode(pcm);
    batches.push(packets.map((p) => p.length));
    for (const p of packets) {
      if (p.length <= 8) small.add(Array.from(p, (v) => v.toString(16).padStart(2, '0')).join(' '));
    }
  }
  const out = { kind: c.kind, dtx: c.dtx, batches, small: [...small].sort() };
  c.close();
  return out;
}

test('WebCodecs Opus with DTX: a packet per frame, rests the server knows', { timeout: 60000 }, async () => {
  const server = await serveStatic();
  const browser = await chromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url + '?test=1');
    const r = await withTimeout(page.eval(dtxInPage), 40000, 'DTX probe');
    console.log(`chromium DTX: ${JSON.stringify(r)}`);
    assert.equal(r.kind, 'webcodecs');
    assert.equal(r.dtx, true, 'the client asks for DTX');
    for (const b of r.batches) assert.equal(b.length, 10, 'one packet per 60 ms frame, DTX or not');
    // The silence before the tone, after its first frames, is all rests.
    for (const n of [...r.batches[0].slice(4), ...r.batches[1]]) assert.ok(n <= 8, `a rest is ${n} bytes`);
    for (const n of r.batches[2]) assert.ok(n > 100, `the tone is ${n} bytes a frame`);
    // After the tone the encoder goes back to DTX within the batch after.
    assert.ok(r.batches[4].filter((n) => n <= 8).length >= 8, `back to rests: ${r.batches[4]}`);
    // Every small packet is one the worker counts as a rest.
    const known = ['fb 03', 'fb 03 ff fe ff fe ff fe', 'fb 83 02 00 ff fe'];
    for (const hex of r.small) assert.ok(known.includes(hex), `a small packet the server must know: ${hex}`);
    assert.deepEqual(await page.pageErrors(), []);
  } finally {
    await browser.close();
    server.close();
  }
});
