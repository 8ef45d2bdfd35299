// Every failure says what to do. In Chromium, with the causes brought
// about in the browser where the machine lacks them (init scripts that
// make the page's browser refuse the microphone, find none, lack the
// AudioWorklet, or never start its sound output), and against the real
// local stack:
// - a listener whose browser has no sound output gets a message that says
//   what to do and a Try again button, not the crash screen;
// - a singer whose microphone is refused, or who has none, is told how to
//   allow it or plug one in, with Try again and "Just listen instead",
//   which works;
// - a browser without the AudioWorklet is warned at once, and Start says
//   which browser to use;
// - a room closed while a singer sings turns the page into the refusal,
//   with what to do (the wrong, replaced and full cases: rooms.test.js).
// Screenshots: failure-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  bbRoom, createRoom, enterApp, launchChromium, makeTone, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const settings = () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); };
const NO_OUTPUT = () => {
  Object.defineProperty(BaseAudioContext.prototype, 'state', { get() { return 'suspended'; }, configurable: true });
  AudioContext.prototype.resume = () => new Promise(() => {});
};
const micRefused = (name) => {
  navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('refused for the test', name));
};
const NO_WORKLET = () => { delete window.AudioWorkletNode; };

async function page(browser, url, scripts) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  for (const s of scripts) await context.addInitScript(s.fn, s.arg);
  const p = await context.newPage();
  const log = [];
  p.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
  p.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  await p.goto(url);
  return { p, log, context };
}

const noCrash = async (p) => assert.equal(await p.isVisible('#crash'), false, 'no crash screen');
const connected = (p) => p.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 20000 });

test('failures say what to do: no sound output, microphone refused or missing, no AudioWorklet, room closed', { timeout: 300000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  const browser = await launchChromium(makeTone('fail-440.wav', 440, 60));
  const sessions = [];
  try {
    const url = stack.url + '?test=1';

    // A listener with no sound output.
    const a = await page(browser, url, [{ fn: settings }, { fn: NO_OUTPUT }]);
    sessions.push(a);
    await a.p.fill('#name', 'Lis');
    await a.p.check('#listen-only');
    await a.p.click('#step-name button[type=submit]');
    await a.p.waitForSelector('#device-error:not([hidden])', { timeout: 20000 });
    assert.match(await a.p.textContent('#device-error'), /could not start its sound output.*Connect your headphones/);
    assert.equal(await a.p.textContent('#start-audio'), 'Try again');
    assert.equal(await a.p.isVisible('#input-device'), false, 'a listener is not asked for a microphone');
    assert.equal(await a.p.isVisible('#device-listen'), false);
    await noCrash(a.p);
    await a.p.screenshot({ path: join(outDir(), 'failure-no-output.png'), fullPage: true });

    // The microphone refused, then missing: Try again and Just listen.
    for (const [name, expect, shot] of [['NotAllowedError', /did not allow the microphone.*Try again.*just listen/, 'mic-denied'],
      ['NotFoundError', /No microphone was found.*Plug one in.*Try again/, 'no-mic']]) {
      const s = await page(browser, url, [{ fn: settings }, { fn: micRefused, arg: name }]);
      sessions.push(s);
      await s.p.fill('#name', 'Sam');
      await s.p.click('#step-name button[type=submit]');
      await s.p.waitForSelector('#step-device:not([hidden])');
      await s.p.click('#start-audio');
      await s.p.waitForSelector('#device-error:not([hidden])', { timeout: 20000 });
      assert.match(await s.p.textContent('#device-error'), expect);
      assert.equal(await s.p.textContent('#start-audio'), 'Try again');
      assert.equal(await s.p.isVisible('#device-listen'), true);
      await noCrash(s.p);
      await s.p.screenshot({ path: join(outDir(), `failure-${shot}.png`), fullPage: true });
      await s.p.click('#device-listen');
      await s.p.waitForSelector('#app:not([hidden])', { timeout: 20000 });
      await connected(s.p);
      assert.equal(await s.p.isVisible('#listen-note'), true);
    }

    // No AudioWorklet: warned at once, and Start names the browsers.
    const w = await page(browser, url, [{ fn: settings }, { fn: NO_WORKLET }]);
    sessions.push(w);
    assert.equal(await w.p.isVisible('#browser-warning'), true);
    assert.match(await w.p.textContent('#browser-warning-text'), /lacks AudioWorklet.*current Chrome, Firefox or Safari/);
    await w.p.fill('#name', 'Old');
    await w.p.click('#step-name button[type=submit]');
    await w.p.click('#start-audio');
    await w.p.waitForSelector('#device-error:not([hidden])', { timeout: 10000 });
    assert.match(await w.p.textContent('#device-error'), /no AudioWorklet.*current Chrome, Firefox or Safari/);
    await noCrash(w.p);
    await w.p.screenshot({ path: join(outDir(), 'failure-no-worklet.png'), fullPage: true });

    // A room closed while its singer sings.
    const { id, singers: link } = createRoom(stack, 'Closing Choir');
    const u = new URL(link);
    u.search = '?test=1';
    const r = await page(browser, u.href, [{ fn: settings }]);
    sessions.push(r);
    await enterApp(r.p, 'Ros');
    bbRoom(stack, 'close', id);
    await r.p.waitForSelector('#refused:not([hidden])', { timeout: 20000 });
    assert.match(await r.p.textContent('#refused'), /not valid or the room was closed/i);
    assert.match(await r.p.textContent('#refused'), /ask your choir's organiser for a new link/i);
    assert.equal(await r.p.isVisible('#app'), false);
    await noCrash(r.p);
    await r.p.screenshot({ path: join(outDir(), 'failure-room-closed.png'), fullPage: true });

    for (const s of sessions) assert.deepEqual(s.log.filter((l) => l.startsWith('[pageerror]')), []);
  } catch (e) {
    for (const s of sessions) console.log(`--- page:\n${s.log.slice(-20).join('\n')}`);
    console.log(`--- server output:\n${stack.logs.join('').slice(-3000)}`);
    throw e;
  } finally {
    await withTimeout(browser.close(), 10000, 'closing the browser').catch(() => {});
    await stopStack(stack);
  }
});
