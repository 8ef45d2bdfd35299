// A singer on a phone, in a room, against the real local stack. Ann leads
// from a laptop (1280 px) and starts a song; Ben sings on a 390 px phone.
// With the buckets laid out and 20 chat messages in, Ben's page:
// - shows every bucket column within the screen (no sideways scrolling,
//   no column cut off);
// - shows the song state, the track (here: no backing track) and the time
//   into the song, unclipped;
// - is at most two screens tall (1,688 px).
// Screenshots: phone-singer-390.png, phone-leader-1280.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  createRoom, enterApp, launchChromium, makeTone, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const MAX_HEIGHT = 1688;
const init = () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); };


async function say(p, text) {
  await p.fill('#chat-input', text);
  await p.press('#chat-input', 'Enter');
}

test('a singer on a phone: buckets and song state fit 390 px, two screens with 20 chat messages', { timeout: 300000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  const b1 = await launchChromium(makeTone('phone-ann-440.wav', 440, 120));
  const b2 = await launchChromium(makeTone('phone-ben-660.wav', 660, 120));
  const logs = [];
  let A;
  let B;
  try {
    const link = new URL(createRoom(stack, 'Phone Choir of the Valley').singers);
    link.search = '?test=1';
    const ca = await b1.newContext({ viewport: { width: 1280, height: 900 } });
    await ca.addInitScript(init);
    A = await ca.newPage();
    const cb = await b2.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await cb.addInitScript(init);
    B = await cb.newPage();
    for (const [p, n] of [[A, 'ann'], [B, 'ben']]) {
      p.on('console', (m) => logs.push(`${n} [${m.type()}] ${m.text()}`));
      p.on('pageerror', (e) => logs.push(`${n} [pageerror] ${e.message}`));
    }
    await A.goto(link.href);
    await B.goto(link.href);
    await enterApp(A, 'Ann');
    await enterApp(B, 'Benedict Cumberbatch-Smythe');
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await A.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await A.click('#lead');
    await B.waitForFunction(() => document.getElementById('song-state').dataset.phase === 'singing', null, { timeout: 40000 });

    // 20 messages, ten from each (the server lets each send five at once,
    // then one every two seconds).
    for (let i = 0; i < 10; i++) {
      await say(A, `Ann's message number ${i + 1}, a little longer than it needs to be`);
      await say(B, `Ben ${i + 1}`);
      if (i >= 4) await sleep(2100);
    }
    await B.waitForFunction(() => document.querySelectorAll('#chat-log li').length >= 20, null, { timeout: 30000 });
    await sleep(1500);

    const m = await B.evaluate(() => {
      const cols = [...document.querySelectorAll('#buckets .bucket')].map((c) => {
        const r = c.getBoundingClientRect();
        return { left: r.left, right: r.right };
      });
      const box = document.getElementById('buckets');
      return {
        height: document.documentElement.scrollHeight,
        width: document.documentElement.scrollWidth,
        cols,
        bucketsScroll: box.scrollWidth - box.clientWidth,
        chat: document.querySelectorAll('#chat-log li').length,
        buckets: window.bbTest.state.buckets.length,
      };
    });
    console.log(`phone: ${m.height} px tall, ${m.width} px wide, ${m.cols.length} bucket columns, ${m.chat} chat lines`);
    await B.screenshot({ path: join(outDir(), 'phone-singer-390.png'), fullPage: true });
    await A.screenshot({ path: join(outDir(), 'phone-leader-1280.png'), fullPage: true });
    assert.ok(m.buckets >= 4 && m.cols.length >= m.buckets, `every bucket shown: ${m.cols.length} columns, ${m.buckets} buckets`);
    for (const c of m.cols) assert.ok(c.left >= 0 && c.right <= 390, `a bucket column within the screen: ${c.left}..${c.right}`);
    assert.ok(m.bucketsScroll <= 1, `the buckets do not scroll sideways (${m.bucketsScroll} px hidden)`);
    assert.ok(m.width <= 390, `no sideways scrolling (${m.width} px)`);
    for (const id of ['song-state-text', 'song-state-detail']) {
      const r = await B.evaluate((i) => {
        const e = document.getElementById(i);
        const b = e.getBoundingClientRect();
        return { left: b.left, right: b.right, h: b.height, sw: e.scrollWidth, cw: e.clientWidth, text: e.textContent };
      }, id);
      assert.ok(r.h > 0 && r.left >= 0 && r.right <= 390 && r.sw <= r.cw + 1, `#${id} visible and unclipped: ${JSON.stringify(r)}`);
    }
    assert.match(await B.textContent('#song-state-detail'), /^no backing track · \d+:\d\d$/);
    assert.ok(m.height <= MAX_HEIGHT, `a singer's page is at most two screens: ${m.height} px`);
    assert.deepEqual(logs.filter((l) => l.includes('[pageerror]')), []);
  } catch (e) {
    console.log(`--- console:\n${logs.slice(-40).join('\n')}`);
    if (B) await B.screenshot({ path: join(outDir(), 'phone-singer-failed.png'), fullPage: true }).catch(() => {});
    console.log(`--- server output:\n${stack.logs.join('').slice(-3000)}`);
    throw e;
  } finally {
    await withTimeout(b1.close(), 10000, 'closing a browser').catch(() => {});
    await withTimeout(b2.close(), 10000, 'closing a browser').catch(() => {});
    await stopStack(stack);
  }
});
