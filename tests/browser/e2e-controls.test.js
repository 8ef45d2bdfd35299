// End to end against the real local stack: the controls that affect
// everyone. Two singers and a listener in Chromium: BPM set on one page
// reaches the other; a backing track uploaded from the page appears in the
// leader's track list; a mic volume applied to a singer shows in the people
// list; monitoring moves the monitor one bucket behind the monitored
// singer and mutes the monitor's microphone; a listener (spectator) joins
// with no microphone; no request fails along the way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { launchChromium, makeTone, openPage, outDir, stackBuilt, startStack, stopStack } from './lib.js';

const init = () => {
  localStorage.setItem('bb.noLatency', '1');
  localStorage.setItem('bb.noTutorial', '1');
};

async function enter(page, name, listenOnly = false) {
  await page.fill('#name', name);
  if (listenOnly) await page.check('#listen-only');
  await page.keyboard.press('Enter');
  if (!listenOnly) {
    await page.click('#start-audio');
    await page.click('#volume-skip');
  }
  await page.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 20000 });
}

const text = (page, sel) => page.evaluate((s) => [...document.querySelectorAll(s)].map((e) => e.textContent), sel);

test('controls for everyone: rounds, upload, mic volume, monitoring, listener', { timeout: 240000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const stack = await startStack();
  const b1 = await launchChromium(makeTone('ann-440.wav', 440));
  const b2 = await launchChromium(makeTone('ben-660.wav', 660));
  const pages = [];
  try {
    const A = (await openPage(b1, stack.url + '?test=1', { init })).page;
    const B = (await openPage(b2, stack.url + '?test=1', { init })).page;
    pages.push([A, 'ann'], [B, 'ben']);
    await enter(A, 'Ann');
    await enter(B, 'Ben');
    await A.waitForFunction(() => document.querySelectorAll('#people tr').length === 2, null, { timeout: 20000 });

    // Ann takes the lead; the leader's rounds settings reach everyone.
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await A.fill('#bpm', '90');
    await A.click('[data-send=bpm]');
    await B.waitForFunction(() => document.getElementById('bpm').value === '90', null, { timeout: 10000 });
    // Ben does not lead: his tempo is refused and changes nothing.
    await B.fill('#bpm', '60');
    await B.click('[data-send=bpm]');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await A.evaluate(() => document.getElementById('bpm').value), '90');

    // A backing track uploaded from the page shows up in the leader's list.
    const wav = join(outDir(), 'upload-300.wav');
    spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', wav, 'synth', '3', 'sine', '300']);
    await A.setInputFiles('#upload-file', wav);
    await A.fill('#upload-name', 'Test Track');
    await A.click('#upload-form button[type=submit]');
    await A.waitForFunction(() => /Added|failed/.test(document.getElementById('upload-result').textContent), null, { timeout: 20000 });
    assert.match(await A.textContent('#upload-result'), /^Added "Test Track/);
    await A.waitForFunction(() => [...document.querySelectorAll('#track option')].some((o) => o.value.startsWith('Test Track')), null, { timeout: 10000 });
    assert.equal(await A.isVisible('#track'), true);

    // Mic volume: Ann, leading, sets Ben's to 1.25; Ben's people list shows it.
    await A.selectOption('#monitor-user', { label: 'Ben' });
    await A.fill('#mic-volume', '1.25');
    await A.click('#mic-volume-apply');
    await B.waitForFunction(() => [...document.querySelectorAll('#people tr')].some((r) => r.textContent.includes('Ben (you)1.25')), null, { timeout: 10000 });

    // Monitoring: Ann moves one bucket behind Ben, her microphone off.
    await A.click('#monitor-begin');
    await A.waitForSelector('#monitoring-note:not([hidden])', { timeout: 10000 });
    assert.match(await A.textContent('#monitoring-note'), /monitoring Ben/);
    const [offA, offB] = await Promise.all([A, B].map((p) => p.evaluate(() => window.bbTest.state.offset)));
    assert.equal(offA, offB + 3, `monitor at ${offA} s, Ben at ${offB} s`);
    await A.click('#monitor-end');
    await A.waitForSelector('#monitoring-note', { state: 'hidden', timeout: 10000 });

    // A listener joins without a microphone and is listed.
    const C = (await openPage(b2, stack.url + '?test=1', { init })).page;
    pages.push([C, 'listener']);
    await enter(C, 'Listener', true);
    await C.waitForFunction(() => document.querySelectorAll('#people tr').length === 3, null, { timeout: 15000 });
    assert.equal(await C.evaluate(() => window.bbTest.engine.stream), null);
    assert.ok((await text(C, '#people tr')).some((r) => r.includes('Listener (you)')));

    for (const [p, name] of pages) {
      assert.equal(await p.evaluate(() => window.bbTest.net().errors), 0, `${name}: connection errors`);
      await p.screenshot({ path: join(outDir(), `e2e-controls-${name}.png`), fullPage: true });
    }
  } catch (e) {
    for (const [p, name] of pages) {
      console.log(`--- ${name} log:\n` + await p.evaluate(() => window.bbTest ? window.bbTest.state.log.join('\n') : '').catch(() => ''));
    }
    console.log(`--- server output:\n${stack.logs.join('').slice(-4000)}`);
    throw e;
  } finally {
    await b1.close();
    await b2.close();
    await stopStack(stack);
  }
});
