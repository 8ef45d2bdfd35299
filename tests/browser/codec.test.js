// The Opus codecs in a real browser: WebCodecs and the WebAssembly
// fallback each turn a tone into ten 60 ms packets and back, and packets
// from one decode with the other (both are plain libopus packets, which is
// what the server speaks). Needs no server. The same round trips run in
// Firefox and WebKit as part of their tests (scenarios.js).
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
