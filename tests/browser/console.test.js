// The leader's console, against the real local stack. Ann leads and
// starts a song; Ben (660 Hz) and Cy (880 Hz) sing in later buckets.
// - Ann's console lists both with live levels: each one's meter shows them
//   loud while they sing and silent while they mute themselves, and moves
//   back when they sing again; a singer's page has no console;
// - Ann mutes Ben (6 s bucket, before Cy) from the console: their level goes
//   silent, their volume reads 0.00, and the later singer stops hearing
//   their tone (out of the mix); Unmute gives it back.
// Screenshot: console-1280.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  enterApp, launchChromium, makeTone, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const HZ = { Ann: 440, Ben: 660, Cy: 880 };
const init = () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); };


// The console row of the singer with this public id: {db, vol, mute}.
const row = (p, id) => p.evaluate((i) => {
  const tr = document.querySelector(`#console-rows tr[data-id="${i}"]`);
  if (!tr) return null;
  return { db: Number(tr.querySelector('meter').value), text: tr.querySelector('.console-db').textContent, vol: tr.querySelector('.console-vol').textContent, mute: tr.querySelector('.console-mute').textContent };
}, id);

test('the console: live levels of two singers, and a muted singer leaves the mix', { timeout: 300000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  const browsers = {};
  const pages = {};
  const logs = [];
  try {
    for (const n of ['Ann', 'Ben', 'Cy']) {
      browsers[n] = await launchChromium(makeTone(`console-${n}.wav`, HZ[n], 200));
      const c = await browsers[n].newContext({ viewport: { width: 1280, height: 900 } });
      await c.addInitScript(init);
      pages[n] = await c.newPage();
      pages[n].on('pageerror', (e) => logs.push(`${n} [pageerror] ${e.message}`));
      pages[n].on('console', (m) => logs.push(`${n} [${m.type()}] ${m.text()}`));
      await pages[n].goto(stack.url + '?test=1');
    }
    const { Ann: A, Ben: B, Cy: C } = pages;
    await enterApp(A, 'Ann');
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await A.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });
    await enterApp(B, 'Ben');
    await enterApp(C, 'Cy');
    // Ben sits in the 6 s bucket, Cy behind at the back: Cy hears Ben.
    await B.fill('#offset', '6');
    await B.click('#offset-form button[type=submit]');
    await B.waitForFunction(() => window.bbTest.state.offset === 6 && document.getElementById('status').textContent === 'Connected', null, { timeout: 20000 });
    const id = {};
    for (const n of ['Ben', 'Cy']) id[n] = await pages[n].evaluate(() => window.bbTest.state.publicId);
    await A.waitForSelector('#console-card:not([hidden])', { timeout: 15000 });
    assert.equal(await B.isVisible('#console-card'), false, 'a singer has no console');

    // Both loud while singing, silent while muting themselves, loud again.
    for (const n of ['Ben', 'Cy']) {
      await A.waitForFunction((i) => {
        const tr = document.querySelector(`#console-rows tr[data-id="${i}"]`);
        return tr && Number(tr.querySelector('meter').value) > -40;
      }, id[n], { timeout: 30000 });
    }
    const seen = { Ben: [], Cy: [] };
    for (const n of ['Ben', 'Cy']) await pages[n].click('#mic-mute');
    for (let i = 0; i < 12; i++) {
      for (const n of ['Ben', 'Cy']) seen[n].push((await row(A, id[n])).db);
      await sleep(300);
    }
    for (const n of ['Ben', 'Cy']) await pages[n].click('#mic-mute');
    for (let i = 0; i < 12; i++) {
      for (const n of ['Ben', 'Cy']) seen[n].push((await row(A, id[n])).db);
      await sleep(300);
    }
    console.log(`levels on Ann's console: ${JSON.stringify(seen)}`);
    for (const n of ['Ben', 'Cy']) {
      assert.ok(seen[n].some((d) => d <= -60), `${n} silent while muted`);
      assert.ok(seen[n].slice(12).some((d) => d > -40), `${n} loud again`);
    }
    await A.screenshot({ path: join(outDir(), 'console-1280.png'), fullPage: true });

    // Ann mutes the earlier singer; the later one stops hearing them.
    const off = {};
    for (const n of ['Ben', 'Cy']) off[n] = await pages[n].evaluate(() => window.bbTest.state.offset);
    assert.notEqual(off.Ben, off.Cy, `Ben and Cy in different buckets: ${JSON.stringify(off)}`);
    const [early, late] = off.Ben < off.Cy ? ['Ben', 'Cy'] : ['Cy', 'Ben'];
    const hears = () => pages[late].evaluate((hz) => window.bbTest.toneLevel(hz), HZ[early]);
    let before = 0;
    for (let i = 0; i < 40 && before <= 0.05; i++) {
      before = await hears();
      await sleep(500);
    }
    assert.ok(before > 0.05, `${late} hears ${early} before the mute: ${before}`);
    await A.click(`#console-rows tr[data-id="${id[early]}"] .console-mute`);
    await A.waitForFunction((i) => {
      const tr = document.querySelector(`#console-rows tr[data-id="${i}"]`);
      return tr.querySelector('.console-vol').textContent === '0.00' && tr.querySelector('.console-mute').textContent === 'Unmute';
    }, id[early], { timeout: 15000 });
    await A.waitForFunction((i) => Number(document.querySelector(`#console-rows tr[data-id="${i}"] meter`).value) <= -60, id[early], { timeout: 15000 });
    let after = 1;
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline && after >= 0.01) {
      await sleep(500);
      after = await hears();
    }
    console.log(`${late} hears ${early}: ${before.toFixed(4)} before the mute, ${after.toFixed(4)} after`);
    assert.ok(after < 0.01, `${early} out of the mix: ${after}`);
    await A.screenshot({ path: join(outDir(), 'console-muted-1280.png'), fullPage: true });
    await A.click(`#console-rows tr[data-id="${id[early]}"] .console-mute`);
    await A.waitForFunction((i) => document.querySelector(`#console-rows tr[data-id="${i}"] .console-vol`).textContent === '1.00', id[early], { timeout: 15000 });
    assert.deepEqual(logs.filter((l) => l.includes('[pageerror]')), []);
  } catch (e) {
    console.log(`--- console:\n${logs.slice(-50).join('\n')}`);
    if (pages.Ann) await pages.Ann.screenshot({ path: join(outDir(), 'console-failed.png'), fullPage: true }).catch(() => {});
    console.log(`--- server output:\n${stack.logs.join('').slice(-3000)}`);
    throw e;
  } finally {
    for (const b of Object.values(browsers)) await withTimeout(b.close(), 10000, 'closing a browser').catch(() => {});
    await stopStack(stack);
  }
});
