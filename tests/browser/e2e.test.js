// End to end: two singers in two browser contexts of Debian's Chromium,
// each with a fake microphone playing its own tone (Alice 440 Hz, Bob
// 660 Hz), against the real local stack (deploy/local-run.sh, started here
// on a free port). Alice walks through the headphones questions, leads and
// starts a song; the server puts Bob in a later bucket, and Bob's playback
// output (tapped by the ?test=1 hook) must carry Alice's tone and not his
// own. A chat message full of markup must reach Bob as plain text. A
// screenshot of each page is saved in tests/browser/out/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  launchChromium, makeTone, openPage, outDir, sleep, stackBuilt, startStack, stopStack, withTimeout,
} from './lib.js';

const ALICE_HZ = 440;
const BOB_HZ = 660;
const NASTY = '<img src=x onerror="window.__xss=1"><b>bold</b> & "quotes"';

// Walks one page from the setup steps to the running app.
async function enter(page, name, { tutorial }) {
  if (tutorial) {
    await page.click('#hp-q1 [data-hp=yes]');
    await page.click('#hp-q-wired [data-hp=wired]');
  }
  await page.fill('#name', name);
  await page.click('#step-name button[type=submit]');
  await page.waitForSelector('#step-device:not([hidden])');
  await page.click('#start-audio');
  await page.waitForSelector('#step-volume:not([hidden])');
  await page.click('#volume-skip');
  await page.waitForSelector('#app:not([hidden])');
}

test('two singers: the later bucket hears the leader, chat arrives as text', { timeout: 240000 }, async (t) => {
  const built = stackBuilt();
  if (!built.ok) {
    t.skip(`the local stack is not built (missing ${built.missing.join(', ')})`);
    return;
  }
  const server = await startStack();
  const aliceWav = makeTone('alice-440.wav', ALICE_HZ);
  const bobWav = makeTone('bob-660.wav', BOB_HZ);
  // One browser per singer: the fake microphone file is a browser flag.
  const aliceBrowser = await launchChromium(aliceWav);
  const bobBrowser = await launchChromium(bobWav);
  let alice;
  let bob;
  try {
    // Alice encodes with the WebAssembly fallback, Bob with WebCodecs: the
    // server must understand both. Bob's audio runs at 44.1 kHz, the path
    // where the worklet converts rates (Firefox with such a microphone).
    const url = server.url + '?test=1';
    alice = await openPage(aliceBrowser, url + '&codec=wasm', { init: () => localStorage.setItem('bb.noLatency', '1') });
    bob = await openPage(bobBrowser, url + '&rate=44100', {
      init: () => { localStorage.setItem('bb.noLatency', '1'); localStorage.setItem('bb.noTutorial', '1'); },
    });
    const A = alice.page;
    const B = bob.page;
    await withTimeout(enter(A, 'Alice', { tutorial: true }), 30000, 'Alice joins');
    await withTimeout(enter(B, 'Bob & co', { tutorial: false }), 30000, 'Bob joins');

    // Both connected and each sees the other.
    for (const p of [A, B]) {
      await p.waitForFunction(() => document.getElementById('status').textContent === 'Connected', null, { timeout: 20000 });
      await p.waitForFunction(() => document.querySelectorAll('#people tr').length === 2, null, { timeout: 20000 });
    }

    // Alice leads, then starts; the button follows the server's answers.
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Start singing', null, { timeout: 20000 });
    await A.waitForFunction(() => !document.getElementById('lead').disabled, null, { timeout: 5000 });
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Stop singing', null, { timeout: 20000 });

    // The server moved Alice to the first bucket and Bob behind her.
    const offsets = await Promise.all([A, B].map((p) => p.evaluate(() => window.bbTest.state.offset)));
    console.log(`offsets: Alice ${offsets[0]} s, Bob ${offsets[1]} s`);
    assert.ok(offsets[1] > offsets[0], `Bob (${offsets[1]} s) must be behind Alice (${offsets[0]} s)`);
    assert.equal(await B.textContent('#leader-name'), 'Alice');

    // Bob's playback carries Alice's tone.
    let levels = null;
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      levels = await B.evaluate(([a, b]) => ({ alice: window.bbTest.toneLevel(a), bob: window.bbTest.toneLevel(b) }), [ALICE_HZ, BOB_HZ]);
      if (levels.alice > 0.05) break;
      await sleep(500);
    }
    await sleep(1500);
    levels = await B.evaluate(([a, b]) => ({ alice: window.bbTest.toneLevel(a), bob: window.bbTest.toneLevel(b) }), [ALICE_HZ, BOB_HZ]);
    console.log(`Bob's playback: ${ALICE_HZ} Hz at ${levels.alice.toFixed(4)}, ${BOB_HZ} Hz at ${levels.bob.toFixed(4)}`);
    assert.ok(levels.alice > 0.05, `Alice's tone in Bob's output: ${levels.alice}`);
    assert.ok(levels.bob < levels.alice / 10, `Bob must not hear himself: ${levels.bob}`);
    assert.equal(await A.evaluate(() => window.bbTest.codecKind()), 'wasm');
    assert.equal(await B.evaluate(() => window.bbTest.codecKind()), 'webcodecs');
    assert.equal(await B.evaluate(() => window.bbTest.engine.sampleRate), 44100);
    const aliceFigures = await A.evaluate(() => window.bbTest.net());
    assert.equal(aliceFigures.writeClock % 2880, 0, 'write clock on a frame boundary');
    assert.equal(aliceFigures.readClock % 2880, 0, 'read clock on a frame boundary');

    // Chat: Alice's markup arrives on Bob's page as text.
    await A.fill('#chat-input', NASTY);
    await A.press('#chat-input', 'Enter');
    await B.waitForFunction(() => document.querySelectorAll('#chat-log li').length > 0, null, { timeout: 15000 });
    const chat = await B.evaluate(() => {
      const li = [...document.querySelectorAll('#chat-log li')].pop();
      return { text: li.textContent, elements: li.querySelectorAll('img, b').length, xss: window.__xss === 1 };
    });
    assert.equal(chat.text, `Alice: ${NASTY}`);
    assert.equal(chat.elements, 0);
    assert.equal(chat.xss, false);

    // Both names show in Bob's bucket columns, his own marked.
    const cols = await B.evaluate(() => [...document.querySelectorAll('.bucket')].map((c) => c.textContent));
    assert.ok(cols.some((c) => c.includes('Alice') && c.includes('leader')), cols.join(' | '));
    assert.ok(cols.some((c) => c.includes('Bob & co') && c.includes('you')), cols.join(' | '));
    const aliceCols = await A.evaluate(() => [...document.querySelectorAll('.bucket')].map((c) => c.textContent));
    assert.ok(aliceCols.some((c) => c.includes('Alice (leader, you)')), aliceCols.join(' | '));

    for (const [p, name] of [[A, 'alice'], [B, 'bob']]) {
      await p.evaluate(() => { document.getElementById('debug').open = true; });
      await sleep(300);
      await p.screenshot({ path: join(outDir(), `e2e-${name}.png`), fullPage: true });
    }
    // Alice stops; her button goes back to leading.
    await A.click('#lead');
    await A.waitForFunction(() => document.getElementById('lead').textContent === 'Lead a song', null, { timeout: 20000 });
    for (const s of [alice, bob]) {
      const errors = s.log.filter((l) => l.startsWith('[pageerror]'));
      assert.deepEqual(errors, []);
    }
  } catch (e) {
    for (const [s, name] of [[alice, 'alice'], [bob, 'bob']]) {
      if (!s) continue;
      console.log(`--- ${name} console:\n${s.log.slice(-40).join('\n')}`);
      await s.page.screenshot({ path: join(outDir(), `e2e-${name}-failed.png`), fullPage: true }).catch(() => {});
    }
    console.log(`--- server output:\n${server.logs.join('').slice(-4000)}`);
    throw e;
  } finally {
    await aliceBrowser.close();
    await bobBrowser.close();
    await stopStack(server);
  }
});
