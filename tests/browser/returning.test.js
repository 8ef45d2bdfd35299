// The singer who comes back, against the real local stack. Ann leads a
// song; Ben joins, sets his microphone level with the volume step, sets
// his own volume in the mix to 0.5, and reads Ann's chat. Then, mid-song:
// - Ben reloads the page: no set-up questions ("Welcome back, Ben" and one
//   button), and he is the same singer: the same userid and public id, the
//   same place (seconds behind), input gain and volume in the mix, and the
//   song's chat is shown again; Ann still sees two singers, not three;
// - Ben opens a second tab: it tells him he is already here, and going on
//   there stops the first tab, which says so.
// Screenshots: returning-back.png, returning-other-tab.png, returning-tab-moved.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  launchChromium, makeTone, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const connected = (p) => p.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 20000 });
const who = (p) => p.evaluate(() => {
  const s = window.bbTest.state;
  const me = s.users.find((u) => u.id === s.publicId);
  return { userid: s.userid, publicId: s.publicId, offset: s.offset, inputGain: s.inputGain, mic: me ? me.micVolume : null };
});

test('a returning singer: reload mid-song keeps identity, place, gain, volume and chat; a second tab takes over', { timeout: 300000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  const b1 = await launchChromium(makeTone('back-ann-440.wav', 440, 200));
  const b2 = await launchChromium(makeTone('back-ben-660.wav', 660, 200));
  const logs = [];
  const watch = (p, n) => {
    p.on('console', (m) => logs.push(`${n} [${m.type()}] ${m.text()}`));
    p.on('pageerror', (e) => logs.push(`${n} [pageerror] ${e.message}`));
  };
  let A;
  let B;
  try {
    const ca = await b1.newContext();
    await ca.addInitScript(() => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); });
    A = await ca.newPage();
    watch(A, 'ann');
    await A.goto(stack.url + '?test=1');
    await A.fill('#name', 'Ann');
    await A.click('#step-name button[type=submit]');
    await A.click('#start-audio');
    await A.click('#volume-skip');
    await connected(A);
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await A.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });

    // Ben: the set-up once, with the volume step.
    const cb = await b2.newContext();
    await cb.addInitScript(() => { if (!localStorage.getItem('bb.noLatency')) { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); } });
    B = await cb.newPage();
    watch(B, 'ben');
    await B.goto(stack.url + '?test=1');
    await B.fill('#name', 'Ben');
    await B.click('#step-name button[type=submit]');
    await B.click('#start-audio');
    await B.click('#volume-start');
    await B.waitForSelector('#app:not([hidden])', { timeout: 30000 });
    await connected(B);
    await B.fill('#my-mic-volume', '0.5');
    await B.click('#my-mic-form button[type=submit]');
    await B.waitForFunction(() => {
      const s = window.bbTest.state;
      const me = s.users.find((u) => u.id === s.publicId);
      return me && Math.abs(me.micVolume - 0.5) < 1e-6 && s.songStart;
    }, null, { timeout: 15000 });
    await A.fill('#chat-input', 'hello before the reload');
    await A.press('#chat-input', 'Enter');
    await B.waitForFunction(() => document.getElementById('chat-log').textContent.includes('hello before the reload'), null, { timeout: 15000 });
    await sleep(5500); // the page writes its record every 5 s
    const before = await who(B);
    console.log(`Ben before the reload: ${JSON.stringify(before)}`);
    assert.ok(Math.abs(before.inputGain - 1) > 0.05, `the volume step set a gain: ${before.inputGain}`);

    // Reload mid-song: one button, and the same singer.
    await B.reload();
    await B.waitForSelector('#step-back:not([hidden])', { timeout: 10000 });
    assert.equal(await B.textContent('#back-title'), 'Welcome back, Ben');
    for (const step of ['#step-headphones', '#step-name', '#step-device', '#step-latency', '#step-volume']) {
      assert.equal(await B.isVisible(step), false, `${step} is not asked again`);
    }
    await B.screenshot({ path: join(outDir(), 'returning-back.png'), fullPage: true });
    await B.click('#back-continue');
    await B.waitForSelector('#app:not([hidden])', { timeout: 20000 });
    await connected(B);
    await B.waitForFunction(() => window.bbTest.state.publicId && window.bbTest.state.users.length > 0, null, { timeout: 15000 });
    const after = await who(B);
    console.log(`Ben after the reload: ${JSON.stringify(after)}`);
    assert.equal(after.userid, before.userid);
    assert.equal(after.publicId, before.publicId);
    assert.equal(after.offset, before.offset);
    assert.ok(Math.abs(after.inputGain - before.inputGain) < 1e-9, `gain ${after.inputGain} against ${before.inputGain}`);
    assert.equal(after.mic, 0.5);
    assert.match(await B.textContent('#chat-log'), /Ann: hello before the reload/);
    await A.waitForFunction(() => window.bbTest.state.users.length === 2, null, { timeout: 15000 });

    // A second tab: told, and going on there stops the first.
    const B2 = await cb.newPage();
    watch(B2, 'ben2');
    await B2.goto(stack.url + '?test=1');
    await B2.waitForSelector('#other-tab:not([hidden])', { timeout: 10000 });
    assert.match(await B2.textContent('#other-tab'), /already in this room in another tab of this browser \(as Ben\)/);
    await B2.screenshot({ path: join(outDir(), 'returning-other-tab.png'), fullPage: true });
    await B2.click('#back-continue');
    await B.waitForSelector('#tab-moved:not([hidden])', { timeout: 10000 });
    assert.equal(await B.isVisible('#app'), false);
    await B.screenshot({ path: join(outDir(), 'returning-tab-moved.png'), fullPage: true });
    await connected(B2);
    assert.equal(await B2.evaluate(() => window.bbTest.state.userid), before.userid);
    await sleep(2000);
    assert.equal(await A.evaluate(() => window.bbTest.state.users.length), 2, 'still two singers');
    assert.deepEqual(logs.filter((l) => l.includes('[pageerror]')), []);
  } catch (e) {
    console.log(`--- console:\n${logs.slice(-60).join('\n')}`);
    for (const [p, n] of [[A, 'ann'], [B, 'ben']]) {
      if (p) await p.screenshot({ path: join(outDir(), `returning-${n}-failed.png`), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${stack.logs.join('').slice(-3000)}`);
    throw e;
  } finally {
    await withTimeout(b1.close(), 10000, 'closing a browser').catch(() => {});
    await withTimeout(b2.close(), 10000, 'closing a browser').catch(() => {});
    await stopStack(stack);
  }
});
