// Page behaviour against the real local stack (deploy/local-run.sh on a
// free port with its own run directory, stopped at the end of each test):
//
// - a listener on a phone: listen-only mode (no microphone, no lead button),
//   the layout at 390 px without sideways scrolling, then two outages, each
//   showing the lost-connection notice and followed by an automatic
//   reconnect after which audio exchanges resume, as the page counts them
//   and as the worker counts them:
//     the network fails: every API request of the page is refused in the
//     browser (Playwright routing) for a few seconds while the stack runs;
//     the server stalls: the worker is stopped (SIGSTOP), so nginx answers
//     504 once its FastCGI read timeout runs out, then continued (SIGCONT);
//   and last an uncaught error shows the crash screen with its details;
// - mute for lag: a singer's uplink slows down (every audio POST is held in
//   the browser before it goes out to the server, so it arrives late) and
//   the microphone is muted with a message; when the uplink is fast again
//   it is unmuted.
//
// Screenshots go to tests/browser/out/ (ui-phone, ui-offline, ui-crash,
// ui-lag).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  launchChromium, makeTone, outDir, sleep, stackBuilt, stackMetrics, stackPids, startStack, stopStack,
} from './lib.js';

// The API URL the page talks to: the clock probe (GET) and the audio
// POSTs. Not /api/metrics, /api/upload or the page's own files.
const isApi = (url) => url.pathname === '/api';

const OK = 'bb_worker_requests_total{outcome="ok"}';

const exchanges = (page) => page.evaluate(() => window.bbTest.net().requests);
const connected = (page, timeout = 20000) => page.waitForFunction(
  () => document.getElementById('status').textContent === 'Connected', null, { timeout });

// Waits until the page is back after an outage: no notice, connected, and at
// least three more audio exchanges answered, both as the page saw them and
// as the worker counted them.
async function resumed(page, stack, what) {
  const t0 = Date.now();
  await page.waitForSelector('#offline', { state: 'hidden', timeout: 30000 });
  await connected(page);
  const pageBefore = await exchanges(page);
  const serverBefore = (await stackMetrics(stack))[OK];
  await page.waitForFunction((n) => window.bbTest.net().requests >= n + 3, pageBefore, { timeout: 10000 });
  const serverAfter = (await stackMetrics(stack))[OK];
  assert.ok(serverAfter >= serverBefore + 3, `${what}: the worker answered ${serverAfter - serverBefore} exchanges after the reconnect`);
  assert.equal(await page.evaluate(() => window.bbTest.state.connection), 'connected');
  console.log(`${what}: back and exchanging audio ${((Date.now() - t0) / 1000).toFixed(1)} s after the end of the outage`);
}

function accessLog(stack) {
  try { return readFileSync(join(stack.runDir, 'logs/access.log'), 'utf8'); } catch (e) { return String(e); }
}

async function startOrSkip(t) {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return null;
  }
  return startStack();
}

test('listener on a phone: listen-only, layout, network and server outages with reconnect, crash screen', { timeout: 150000 }, async (t) => {
  const stack = await startOrSkip(t);
  if (!stack) return;
  const browser = await launchChromium(makeTone('ui-440.wav', 440));
  let page;
  const log = [];
  const stopped = [];
  try {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await context.addInitScript(() => localStorage.setItem('bb.noTutorial', '1'));
    page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => { errors.push(e.message); log.push(`[pageerror] ${e.message}`); });
    page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
    await page.goto(stack.url + '?test=1');

    // Listen only: no microphone step, no calibration.
    await page.fill('#name', 'Listener');
    await page.check('#listen-only');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#app:not([hidden])', { timeout: 15000 });
    await connected(page);
    assert.equal(await page.isVisible('#listen-note'), true);
    assert.equal(await page.isDisabled('#lead'), true);
    assert.equal(await page.evaluate(() => window.bbTest.engine.stream), null, 'no microphone opened');
    // The server lists the listener.
    await page.waitForFunction(() => window.bbTest.state.users.some((u) => u.id === window.bbTest.state.publicId && u.name === 'Listener'), null, { timeout: 10000 });
    await page.screenshot({ path: join(outDir(), 'ui-phone.png'), fullPage: true });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no sideways scrolling of the page on a phone (${width} px)`);

    // Network outage: the page cannot reach the API for 4 s.
    const refuse = (route) => route.abort('connectionrefused').catch(() => {});
    await page.route(isApi, refuse);
    await page.waitForSelector('#offline:not([hidden])', { timeout: 15000 });
    assert.match(await page.textContent('#offline'), /Lost connection to the server/);
    await page.screenshot({ path: join(outDir(), 'ui-offline.png'), fullPage: true });
    await sleep(4000);
    await page.unroute(isApi, refuse);
    await resumed(page, stack, 'network outage');

    // Server outage: the worker stops answering. nginx holds the requests
    // until its FastCGI read timeout (10 s) and then answers 504.
    const pids = stackPids(stack);
    const workers = Object.keys(pids).filter((n) => n.startsWith('worker-'));
    assert.ok(workers.length > 0, `the stack's workers in ${JSON.stringify(pids)}`);
    for (const w of workers) {
      process.kill(pids[w], 'SIGSTOP');
      stopped.push(pids[w]);
    }
    const t0 = Date.now();
    await page.waitForSelector('#offline:not([hidden])', { timeout: 30000 });
    console.log(`server outage: notice after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.match(await page.textContent('#offline-text'), /Reconnecting automatically/);
    // nginx logged the outage: API requests answered 504 (Gateway Timeout).
    const timeouts = accessLog(stack).split('\n').filter((l) => /"(GET|POST) \/api[ ?][^"]*" 504 /.test(l)).length;
    assert.ok(timeouts > 0, 'nginx answered 504 while the worker was stopped');
    while (stopped.length) process.kill(stopped.pop(), 'SIGCONT');
    await resumed(page, stack, 'server outage');

    // An uncaught error shows the crash screen with the details.
    await page.evaluate(() => setTimeout(() => { throw new Error('boom for the test'); }, 0));
    await page.waitForSelector('#crash:not([hidden])', { timeout: 5000 });
    const details = await page.textContent('#crash-details');
    assert.match(details, /boom for the test/);
    assert.match(details, /Browser: /);
    assert.match(details, /"userid"/);
    await page.screenshot({ path: join(outDir(), 'ui-crash.png') });
    assert.deepEqual(errors, ['boom for the test']);
  } catch (e) {
    console.log(`--- page console:\n${log.slice(-40).join('\n')}`);
    if (page) await page.screenshot({ path: join(outDir(), 'ui-phone-failed.png'), fullPage: true }).catch(() => {});
    console.log(`--- server output:\n${stack.logs.join('').slice(-4000)}`);
    console.log(`--- access log (errors, and every static file):\n${accessLog(stack).slice(-3000)}`);
    throw e;
  } finally {
    for (const pid of stopped) {
      try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    }
    await browser.close();
    await stopStack(stack);
  }
});

test('mute for lag: a slow uplink mutes the microphone with a message, and recovery unmutes it', { timeout: 120000 }, async (t) => {
  const stack = await startOrSkip(t);
  if (!stack) return;
  const browser = await launchChromium(makeTone('lag-440.wav', 440));
  let page;
  const log = [];
  try {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      localStorage.setItem('bb.noTutorial', '1');
      localStorage.setItem('bb.noLatency', '1');
    });
    page = await context.newPage();
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
    page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
    await page.goto(stack.url + '?test=1');
    await page.fill('#name', 'Laggy');
    await page.keyboard.press('Enter');
    await page.click('#start-audio');
    await page.click('#volume-skip');
    await connected(page);
    await page.waitForFunction(() => window.bbTest.state.lateness != null, null, { timeout: 20000 });
    await sleep(2000);
    const normal = await page.evaluate(() => window.bbTest.state.lateness);
    console.log(`lateness on a fast network: ${normal.toFixed(2)} s`);
    assert.ok(normal < 2.9, `normal lateness ${normal}`);
    assert.equal(await page.isVisible('#lag'), false);
    assert.equal(await page.evaluate(() => window.bbTest.state.lagMuted), false);

    // The uplink slows down: each audio POST leaves the browser late, by
    // enough to put the voice past the 2.9 s limit (the gap to the next
    // bucket, 3 s, less a margin), and no more than the page's four
    // requests in flight allow.
    const delayMs = Math.round(Math.max(500, Math.min(1500, (3.4 - normal) * 1000)));
    const slow = async (route) => {
      if (route.request().method() === 'POST') await sleep(delayMs);
      await route.continue().catch(() => {});
    };
    await page.route(isApi, slow);
    await page.waitForSelector('#lag:not([hidden])', { timeout: 20000 });
    const late = await page.evaluate(() => window.bbTest.state.lateness);
    console.log(`uplink held ${delayMs} ms: lateness ${late.toFixed(2)} s`);
    assert.match(await page.textContent('#lag'), /microphone is muted/);
    assert.equal(await page.evaluate(() => window.bbTest.state.lagMuted), true);
    assert.equal(await page.evaluate(() => window.bbTest.state.connection), 'connected', 'slow, not disconnected');
    await page.screenshot({ path: join(outDir(), 'ui-lag.png') });

    // Fast again: the microphone comes back by itself.
    await page.unroute(isApi, slow);
    await page.waitForSelector('#lag', { state: 'hidden', timeout: 40000 });
    assert.equal(await page.evaluate(() => window.bbTest.state.lagMuted), false);
    const after = await page.evaluate(() => window.bbTest.state.lateness);
    console.log(`after recovery: lateness ${after.toFixed(2)} s`);
    assert.ok(after < 2.8, `lateness after recovery ${after}`);
    assert.deepEqual(log.filter((l) => l.startsWith('[pageerror]')), []);
  } catch (e) {
    console.log(`--- page console:\n${log.slice(-40).join('\n')}`);
    if (page) {
      const figures = await page.evaluate(() => ({ net: window.bbTest.net(), lateness: window.bbTest.state.lateness, connection: window.bbTest.state.connection })).catch((err) => err.message);
      console.log(`--- page figures: ${JSON.stringify(figures)}`);
      await page.screenshot({ path: join(outDir(), 'ui-lag-failed.png'), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${stack.logs.join('').slice(-4000)}`);
    console.log(`--- access log (errors, and every static file):\n${accessLog(stack).slice(-3000)}`);
    throw e;
  } finally {
    await browser.close();
    await stopStack(stack);
  }
});
