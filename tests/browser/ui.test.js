// Page behaviour that needs no real server: the lost-connectivity notice
// and automatic reconnect (against the mock server, switched off and on
// again), listen-only mode, the crash screen, and a phone-sized layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launchChromium, makeTone, outDir, withTimeout } from './lib.js';
import { startMock } from './mock-server.js';

test('outage notice, reconnect, listen-only, crash screen, phone layout', { timeout: 120000 }, async () => {
  const mock = await startMock();
  const browser = await launchChromium(makeTone('ui-440.wav', 440));
  try {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await context.addInitScript(() => localStorage.setItem('bb.noTutorial', '1'));
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(mock.url + '?test=1');
    // Listen only: no microphone step, no calibration.
    await page.fill('#name', 'Listener');
    await page.check('#listen-only');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#app:not([hidden])', { timeout: 15000 });
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 15000 });
    assert.equal(await page.isVisible('#listen-note'), true);
    assert.equal(await page.isDisabled('#lead'), true);
    assert.equal(await page.evaluate(() => window.bbTest.engine.stream), null, 'no microphone opened');
    await page.screenshot({ path: join(outDir(), 'ui-phone.png'), fullPage: true });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no sideways scrolling of the page on a phone (${width} px)`);

    // Outage: the notice appears; when the server is back it goes away.
    mock.setDown(true);
    await withTimeout(page.waitForSelector('#offline:not([hidden])', { timeout: 20000 }), 25000, 'offline notice');
    assert.match(await page.textContent('#offline'), /Lost connection to the server/);
    mock.setDown(false);
    await withTimeout(page.waitForSelector('#offline', { state: 'hidden', timeout: 30000 }), 35000, 'reconnect');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 15000 });

    // An uncaught error shows the crash screen with the details.
    await page.evaluate(() => setTimeout(() => { throw new Error('boom for the test'); }, 0));
    await page.waitForSelector('#crash:not([hidden])', { timeout: 5000 });
    const details = await page.textContent('#crash-details');
    assert.match(details, /boom for the test/);
    assert.match(details, /Browser: /);
    assert.match(details, /"userid"/);
    await page.screenshot({ path: join(outDir(), 'ui-crash.png') });
    assert.deepEqual(errors, ['boom for the test']);
  } finally {
    await browser.close();
    mock.close();
  }
});

test('mute for lag: a slow uplink mutes the microphone with a message, and recovery unmutes it', { timeout: 120000 }, async () => {
  const mock = await startMock();
  const browser = await launchChromium(makeTone('lag-440.wav', 440));
  try {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      localStorage.setItem('bb.noTutorial', '1');
      localStorage.setItem('bb.noLatency', '1');
    });
    const page = await context.newPage();
    await page.goto(mock.url + '?test=1');
    await page.fill('#name', 'Laggy');
    await page.keyboard.press('Enter');
    await page.click('#start-audio');
    await page.click('#volume-skip');
    await page.waitForFunction(() => window.bbTest.state.lateness != null, null, { timeout: 20000 });
    const normal = await page.evaluate(() => window.bbTest.state.lateness);
    console.log(`lateness on a fast network: ${normal.toFixed(2)} s`);
    assert.ok(normal < 2.9, `normal lateness ${normal}`);
    assert.equal(await page.isVisible('#lag'), false);
    // The uplink slows down by 0.9 s: the voice would arrive too late.
    mock.setDelay(900);
    await page.waitForSelector('#lag:not([hidden])', { timeout: 20000 });
    assert.match(await page.textContent('#lag'), /microphone is muted/);
    assert.equal(await page.evaluate(() => window.bbTest.state.lagMuted), true);
    await page.screenshot({ path: join(outDir(), 'ui-lag.png') });
    mock.setDelay(0);
    await page.waitForSelector('#lag', { state: 'hidden', timeout: 40000 });
    assert.equal(await page.evaluate(() => window.bbTest.state.lagMuted), false);
  } finally {
    await browser.close();
    mock.close();
  }
});
