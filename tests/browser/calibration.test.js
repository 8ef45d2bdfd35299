// Latency calibration in a real browser: the page's own output is fed back
// into its input through a DelayNode (the ?test=1&loopback=SECONDS hook),
// and two runs whose delays differ by 100 ms must report latencies
// 100 +- 2 ms apart; a third run at 44.1 kHz must agree. Needs no server: html/ is served by a tiny static
// server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launchChromium, openPage, outDir, serveStatic, withTimeout } from './lib.js';

async function measure(browser, url, delay, rate = 48000) {
  const { context, page, log } = await openPage(browser, `${url}?test=1&loopback=${delay}&rate=${rate}`, {
    init: () => localStorage.setItem('bb.noTutorial', '1'),
  });
  try {
    await page.fill('#name', 'Calibrator');
    await page.click('#step-name button[type=submit]');
    await page.waitForSelector('#step-device:not([hidden])');
    await page.click('#start-audio');
    await page.waitForSelector('#step-latency:not([hidden])');
    await page.click('#latency-start');
    await page.waitForFunction(() => window.bbTest && window.bbTest.latency(), null, { timeout: 20000 });
    const r = await page.evaluate(() => window.bbTest.latency());
    await page.screenshot({ path: join(outDir(), `calibration-${delay}-${rate}.png`) });
    assert.ok(r.ok, `calibration failed at ${delay} s: ${r.reason}\n${log.join('\n')}`);
    assert.match(await page.textContent('#latency-result'), /Your latency is \d+\.\d ms/);
    return r.latencyMs;
  } finally {
    await context.close();
  }
}

test('latency calibration tracks a known loopback delay', { timeout: 120000 }, async () => {
  const server = await serveStatic();
  const browser = await launchChromium();
  try {
    const a = await withTimeout(measure(browser, server.url, 0.1), 40000, 'calibration at 100 ms');
    const b = await withTimeout(measure(browser, server.url, 0.2), 40000, 'calibration at 200 ms');
    console.log(`latency with 100 ms loopback: ${a.toFixed(2)} ms; with 200 ms: ${b.toFixed(2)} ms; difference ${(b - a).toFixed(2)} ms`);
    assert.ok(a >= 100, `at least the loopback delay: ${a}`);
    assert.ok(Math.abs(b - a - 100) <= 2, `difference ${b - a} ms`);
    // The same at 44.1 kHz, where the worklet converts rates.
    const c = await withTimeout(measure(browser, server.url, 0.15, 44100), 40000, 'calibration at 150 ms, 44.1 kHz');
    console.log(`at 44.1 kHz with 150 ms loopback: ${c.toFixed(2)} ms`);
    assert.ok(Math.abs(c - a - 50) <= 2, `44.1 kHz: ${c} ms against ${a} ms at 100 ms`);
  } finally {
    await browser.close();
    server.close();
  }
});
