// The organiser's moderation, against the real local stack, in a room made
// with bb-room. Olga opens the organiser link; Ann (440 Hz) and Ben
// (660 Hz) the singers' link; all three sing.
// - Olga's console has "Appoint leader" and "Remove" on each singer's row;
//   a singer's page has no console.
// - Olga appoints Ann (after the question): Ann's page shows the leader's
//   controls at once ("You lead", the settings card) and Olga's row for Ann
//   has no Appoint button any more.
// - Olga removes Ben (after the question): Ben's page becomes "The organiser
//   removed you from this room" with no setup, no app and a Try again
//   button; Ben leaves Olga's console and is listed under "Removed from the
//   room" with "Let back in". Olga lets him back in; Ben's Try again opens
//   the room again.
// Screenshots: moderate-console-{390,1280}.png, moderate-console-card-390.png,
// moderate-removed-{390,1280}.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  LAPTOP, PHONE, createRoom, enterApp, launchChromium, makeTone, openPage, outDir, shootWidths, sleep, stackBuilt,
  startStack, stopStack, withTimeout,
} from './lib.js';

const HZ = { Olga: 330, Ann: 440, Ben: 660 };
const REMOVED = /the organiser removed you from this room/i;

const init = () => {
  localStorage.setItem('bb.noLatency', '1');
  localStorage.setItem('bb.noTutorial', '1');
};

// A link with the test hooks on (?test=1 before the fragment).
function withHooks(link) {
  const u = new URL(link);
  u.search = '?test=1';
  return u.href;
}

async function roomOpen(stack, room) {
  const key = new URL(room.singers).hash.slice(1);
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const r = await fetch(`${stack.url}api/room?room=${room.id}&key=${key}`, { cache: 'no-store' });
    if (r.ok) return;
    await sleep(200);
  }
  throw new Error(`room ${room.id} did not open`);
}

const isShown = (page, sel) => page.evaluate((s) => { const e = document.querySelector(s); return !!e && !e.closest('[hidden]'); }, sel);
const rowSel = (id, part) => `#console-rows tr[data-id="${id}"] ${part}`;

test('the organiser appoints the leader and removes a singer, who is told so', { timeout: 300000 }, async (t) => {
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
    const room = createRoom(stack, 'Moderated choir');
    await roomOpen(stack, room);
    for (const n of ['Olga', 'Ann', 'Ben']) {
      browsers[n] = await launchChromium(makeTone(`moderate-${n}.wav`, HZ[n], 200));
      const { page } = await openPage(browsers[n], withHooks(n === 'Olga' ? room.organiser : room.singers), { init, viewport: LAPTOP });
      pages[n] = page;
      page.on('pageerror', (e) => logs.push(`${n} [pageerror] ${e.message}`));
      page.on('console', (m) => logs.push(`${n} [${m.type()}] ${m.text()}`));
      await enterApp(page, n);
    }
    const { Olga: O, Ann: A, Ben: B } = pages;
    const id = {};
    for (const n of ['Ann', 'Ben']) id[n] = await pages[n].evaluate(() => window.bbTest.state.publicId);

    // The organiser's console: both singers, each with Appoint and Remove.
    await O.waitForSelector('#console-card:not([hidden])', { timeout: 20000 });
    for (const n of ['Ann', 'Ben']) {
      await O.waitForSelector(rowSel(id[n], '.console-remove'), { state: 'visible', timeout: 20000 });
      assert.ok(await isShown(O, rowSel(id[n], '.console-appoint')), `Appoint leader for ${n}`);
    }
    assert.ok(await isShown(O, '#removed-wrap'), 'the removed list on the organiser\'s console');
    assert.equal(await isShown(A, '#console-card'), false, 'a singer has no console');
    assert.equal(await isShown(A, '#settings-card'), false, 'a singer has no leader\'s controls');

    // Appoint Ann: a question first, then her page leads at once.
    await O.click(rowSel(id.Ann, '.console-appoint'));
    await O.waitForSelector('#confirm[open]');
    assert.match(await O.textContent('#confirm-text'), /Make Ann the leader\?/);
    await O.click('#confirm-ok');
    await A.waitForFunction(() => window.bbTest.state.amLeader && !document.getElementById('settings-card').hidden, null, { timeout: 15000 });
    assert.match(await A.textContent('#role-name'), /You lead/);
    await O.waitForFunction((sel) => { const b = document.querySelector(sel); return b && b.hidden; }, rowSel(id.Ann, '.console-appoint'), { timeout: 15000 });
    assert.equal(await isShown(B, '#settings-card'), false, 'Ben does not lead');

    // Remove Ben: a question first; Cancel changes nothing.
    await O.click(rowSel(id.Ben, '.console-remove'));
    await O.waitForSelector('#confirm[open]');
    assert.match(await O.textContent('#confirm-text'), /Remove Ben from the room\?/);
    await O.click('#confirm-cancel');
    await sleep(2000);
    assert.equal(await isShown(B, '#refused'), false, 'Cancel removes nobody');
    await O.click(rowSel(id.Ben, '.console-remove'));
    await O.waitForSelector('#confirm[open]');
    await O.click('#confirm-ok');
    await B.waitForSelector('#refused:not([hidden])', { timeout: 15000 });
    assert.match(await B.textContent('#refused-title'), REMOVED);
    assert.match(await B.textContent('#refused'), /until the organiser lets you in again/);
    for (const sel of ['#setup', '#app', '#organiser-card']) assert.equal(await isShown(B, sel), false, `${sel} on a removed singer's page`);
    assert.equal(await B.textContent('#refused-retry'), 'Try again');
    // Off Olga's console, onto her removed list.
    await O.waitForFunction((i) => !document.querySelector(`#console-rows tr[data-id="${i}"]`), id.Ben, { timeout: 15000 });
    await O.waitForFunction(() => [...document.querySelectorAll('#removed-list li')].some((li) => li.textContent.includes('Ben')), null, { timeout: 15000 });
    assert.equal(await isShown(O, '#removed-none'), false);
    await shootWidths(O, 'moderate-console');
    // The console card alone at a phone's width, to look at its rows.
    await O.setViewportSize(PHONE);
    await sleep(300);
    await O.locator('#console-card').screenshot({ path: join(outDir(), 'moderate-console-card-390.png') });
    await O.setViewportSize(LAPTOP);
    await shootWidths(B, 'moderate-removed');
    // A reload does not get him back in: the same browser is the same singer.
    await B.reload();
    await B.waitForSelector('#refused:not([hidden])', { timeout: 15000 });
    assert.match(await B.textContent('#refused-title'), REMOVED);

    // Let back in: the list empties, and Ben's Try again opens the room.
    await O.click('#removed-list li button');
    await O.waitForFunction(() => document.querySelectorAll('#removed-list li').length === 0, null, { timeout: 15000 });
    assert.ok(await isShown(O, '#removed-none'));
    await B.click('#refused-retry');
    await B.waitForFunction(() => {
      const shown = (i) => { const e = document.getElementById(i); return e && !e.hidden; };
      return !shown('refused') && (shown('setup') || shown('app'));
    }, null, { timeout: 20000 });
    assert.deepEqual(logs.filter((l) => l.includes('[pageerror]')), []);
  } catch (e) {
    console.log(`--- console:\n${logs.slice(-60).join('\n')}`);
    for (const [n, p] of Object.entries(pages)) await p.screenshot({ path: join(outDir(), `moderate-failed-${n}.png`), fullPage: true }).catch(() => {});
    console.log(`--- server output:\n${stack.logs.join('').slice(-3000)}`);
    throw e;
  } finally {
    for (const b of Object.values(browsers)) await withTimeout(b.close(), 10000, 'closing a browser').catch(() => {});
    await stopStack(stack);
  }
});
