// The leader reloads mid-song and the organiser stops the song, in a room,
// against the real local stack. Lea (singers' link) leads and starts a
// song; the organiser (organiser link) sings too. Lea reloads and stays on
// "Welcome back": after 5 s of silence she no longer leads, and the song
// runs on with nobody leading. The organiser's lead button then reads
// "Stop the song" and stops it at once (no lead to take first). Lea comes
// back as the same singer, in the leader's bucket she had.
// Screenshot: leader-gone-organiser.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  createRoom, enterApp, launchChromium, makeTone, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const init = () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); };
const connected = (p) => p.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 20000 });
const hooked = (link) => { const u = new URL(link); u.search = '?test=1'; return u.href; };


test('the leader reloads mid-song, and the organiser stops the song', { timeout: 300000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  const b1 = await launchChromium(makeTone('gone-lea-440.wav', 440, 200));
  const b2 = await launchChromium(makeTone('gone-org-660.wav', 660, 200));
  const logs = [];
  let L;
  let O;
  try {
    const { singers, organiser } = createRoom(stack, 'Evening Choir');
    const cl = await b1.newContext();
    await cl.addInitScript(init);
    L = await cl.newPage();
    const co = await b2.newContext();
    await co.addInitScript(init);
    O = await co.newPage();
    for (const [p, n] of [[L, 'lea'], [O, 'org']]) {
      p.on('console', (m) => logs.push(`${n} [${m.type()}] ${m.text()}`));
      p.on('pageerror', (e) => logs.push(`${n} [pageerror] ${e.message}`));
    }
    await L.goto(hooked(singers));
    await O.goto(hooked(organiser));
    await enterApp(L, 'Lea');
    await enterApp(O, 'Olga');
    await L.click('#lead');
    await L.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await L.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await L.click('#lead');
    await L.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });
    await O.waitForFunction(() => document.getElementById('song-state').dataset.phase === 'singing', null, { timeout: 40000 });
    const lea = await L.evaluate(() => ({ userid: window.bbTest.state.userid, offset: window.bbTest.state.offset }));
    await sleep(5500); // the page writes its record every 5 s

    // Lea reloads and stays on "Welcome back": the song has no leader.
    await L.reload();
    await L.waitForSelector('#step-back:not([hidden])', { timeout: 15000 });
    await O.waitForFunction(() => window.bbTest.state.leader === null, null, { timeout: 20000 });
    assert.equal(await O.evaluate(() => document.getElementById('song-state').dataset.phase), 'singing', 'the song runs on');
    await O.waitForFunction(() => document.getElementById('lead').textContent === 'Stop the song', null, { timeout: 10000 });
    await O.screenshot({ path: join(outDir(), 'leader-gone-organiser.png'), fullPage: true });
    await O.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await O.click('#lead');
    await O.waitForFunction(() => window.bbTest.state.songEnd !== null, null, { timeout: 20000 });
    await O.waitForFunction(() => document.getElementById('song-state').dataset.phase === 'ended', null, { timeout: 40000 });
    assert.notEqual(await O.textContent('#lead'), 'Stop the song');

    // Lea comes back: the same singer, in the bucket she had.
    await L.click('#back-continue');
    await connected(L);
    const back = await L.evaluate(() => ({ userid: window.bbTest.state.userid, offset: window.bbTest.state.offset }));
    assert.deepEqual(back, lea);
    assert.deepEqual(logs.filter((l) => l.includes('[pageerror]')), []);
  } catch (e) {
    console.log(`--- console:\n${logs.slice(-50).join('\n')}`);
    for (const [p, n] of [[L, 'lea'], [O, 'org']]) {
      if (p) await p.screenshot({ path: join(outDir(), `leader-gone-${n}-failed.png`), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${stack.logs.join('').slice(-3000)}`);
    throw e;
  } finally {
    await withTimeout(b1.close(), 10000, 'closing a browser').catch(() => {});
    await withTimeout(b2.close(), 10000, 'closing a browser').catch(() => {});
    await stopStack(stack);
  }
});
