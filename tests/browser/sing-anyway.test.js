// Singing when the latency measurement fails, against the real local stack.
// Alice's fake microphone plays a steady 440 Hz tone and never hears the
// beeps, so her measurement fails; the tone must not count as beeps. She is
// offered an estimated latency, sings with it, leads a song (a leader with
// no measurement can lead), and measures again from the app and comes back
// to singing. Bob, who skips measuring, joins a later bucket and must hear
// Alice's tone. Screenshots: sing-anyway-failed.png, sing-anyway-app.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  launchChromium, makeTone, openPage, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const ALICE_HZ = 440;
const BOB_HZ = 660;
const connected = (p) => p.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 20000 });

test('calibration fails, the singer sings with the estimate, leads, and a later singer hears her', { timeout: 240000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const server = await startStack();
  const aliceBrowser = await launchChromium(makeTone('anyway-alice-440.wav', ALICE_HZ, 120));
  const bobBrowser = await launchChromium(makeTone('anyway-bob-660.wav', BOB_HZ, 60));
  let alice;
  let bob;
  try {
    const url = server.url + '?test=1';
    alice = await openPage(aliceBrowser, url, { init: () => localStorage.setItem('bb.noTutorial', '1') });
    const A = alice.page;
    await A.fill('#name', 'Alice');
    await A.click('#step-name button[type=submit]');
    await A.click('#start-audio');
    await A.waitForSelector('#step-latency:not([hidden])');
    assert.match(await A.textContent('#step-latency'), /about 4 seconds, at most 12/);
    const t0 = Date.now();
    await A.click('#latency-start');
    await A.waitForSelector('#latency-failed:not([hidden])', { timeout: 30000 });
    const took = (Date.now() - t0) / 1000;
    const r = await A.evaluate(() => window.bbTest.latency());
    console.log(`measurement failed after ${took.toFixed(1)} s: ${r.reason}; ${r.values.length} echoes`);
    assert.equal(r.ok, false);
    // A steady tone is not taken for beeps.
    assert.deepEqual(r.values, []);
    assert.match(r.reason, /0 of 7 beeps/);
    // The text says how long it really took.
    assert.match(await A.textContent('#latency-failed-text'), new RegExp(`after ${Math.round(r.seconds)} s`));
    assert.ok(Math.abs(r.seconds - took) < 2, `${r.seconds} s reported, ${took} s taken`);
    const offer = await A.textContent('#latency-estimate');
    assert.match(offer, /^Sing with \d+(\.\d)? ms \(estimated\)$/);
    assert.match(await A.textContent('#latency-estimate-text'), /estimated latency of \d+(\.\d)? ms, from /);
    await A.screenshot({ path: join(outDir(), 'sing-anyway-failed.png'), fullPage: true });
    await A.click('#latency-estimate');
    await A.waitForSelector('#step-volume:not([hidden])');
    await A.click('#volume-skip');
    await A.waitForSelector('#app:not([hidden])');
    await connected(A);
    const st = await A.evaluate(() => ({ c: window.bbTest.state.calibration, ms: window.bbTest.state.latencyMs, listen: window.bbTest.state.listenOnly }));
    assert.equal(st.c, 'estimated');
    assert.equal(st.listen, false);
    assert.match(await A.textContent('#timing-text'), /estimated from .*not measured/);
    assert.equal(await A.isVisible('#recalibrate'), true);

    // Measuring again is at hand, and going back keeps the estimate.
    await A.click('#recalibrate');
    await A.waitForSelector('#step-latency:not([hidden])');
    assert.equal(await A.isVisible('#app'), false);
    await A.click('#latency-back');
    await A.waitForSelector('#app:not([hidden])');
    await connected(A);
    assert.equal(await A.evaluate(() => window.bbTest.state.latencyMs), st.ms);

    // Alice leads and starts a song with her estimate.
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await A.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });

    // Bob comes later, skips measuring, and hears Alice.
    bob = await openPage(bobBrowser, url, {
      init: () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); },
    });
    const B = bob.page;
    await B.fill('#name', 'Bob');
    await B.click('#step-name button[type=submit]');
    await B.click('#start-audio');
    await B.click('#volume-skip');
    await connected(B);
    const offsets = await Promise.all([A, B].map((p) => p.evaluate(() => window.bbTest.state.offset)));
    let levels = null;
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      levels = await B.evaluate(([a, b]) => ({ alice: window.bbTest.toneLevel(a), bob: window.bbTest.toneLevel(b) }), [ALICE_HZ, BOB_HZ]);
      if (levels.alice > 0.05) break;
      await sleep(500);
    }
    console.log(`offsets Alice ${offsets[0]} s, Bob ${offsets[1]} s; Bob hears ${ALICE_HZ} Hz at ${levels.alice.toFixed(4)}, ${BOB_HZ} Hz at ${levels.bob.toFixed(4)}`);
    assert.ok(offsets[1] > offsets[0], `Bob (${offsets[1]} s) behind Alice (${offsets[0]} s)`);
    assert.ok(levels.alice > 0.05, `Alice's tone in Bob's output: ${levels.alice}`);
    assert.ok(levels.bob < levels.alice / 10, `Bob must not hear himself: ${levels.bob}`);
    await A.screenshot({ path: join(outDir(), 'sing-anyway-app.png'), fullPage: true });
    for (const s of [alice, bob]) assert.deepEqual(s.log.filter((l) => l.startsWith('[pageerror]')), []);
  } catch (e) {
    for (const [s, name] of [[alice, 'alice'], [bob, 'bob']]) {
      if (!s) continue;
      console.log(`--- ${name} console:\n${s.log.slice(-40).join('\n')}`);
      await s.page.screenshot({ path: join(outDir(), `sing-anyway-${name}-failed.png`), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${server.logs.join('').slice(-4000)}`);
    throw e;
  } finally {
    await withTimeout(aliceBrowser.close(), 10000, 'closing a browser').catch(() => {});
    await withTimeout(bobBrowser.close(), 10000, 'closing a browser').catch(() => {});
    await stopStack(server);
  }
});
