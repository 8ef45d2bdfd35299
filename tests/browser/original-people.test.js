// The original client's People list, against the real local stack.
//
// The seed-era browser client reads `metadata["user_summary"] || []` from
// every audio response and redraws its People table from it. The pages here
// behave exactly so: each runs, in Chromium on the stack's own origin, the
// original client's connection loop (a GET probe, then a POST every 600 ms
// with its unaligned clocks, its query parameters and an empty body, as it
// sends before its playback has started) and redraws a People table from
// each response. Three such singers join; one leads and starts a song, as
// the original's buttons do (request_lead, then mark_start_singing). The
// observer's table must list all three singers after every response of the
// song, never an empty table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launchChromium, outDir, stackBuilt, startStack, stopStack, withTimeout } from './lib.js';

// The original client's loop, reduced to what it does with the summary.
// Runs in the page; `name` is the display name, `actions` the one-shot
// controls for its requests by index ({3: {request_lead: 1}}).
function originalClient({ name, actions, rounds }) {
  const userid = String(Math.round(Math.random() * 1e11));
  const api = new URL('api', document.location).href;
  const table = document.createElement('table');
  table.id = 'people';
  document.body.replaceChildren(table);
  const seen = [];
  const redraw = (metadata) => {
    const summary = metadata['user_summary'] || [];
    table.replaceChildren();
    for (const [offset, uname] of summary) {
      const row = table.insertRow();
      row.insertCell().textContent = String(offset);
      row.insertCell().textContent = uname;
    }
    seen.push(summary.map((r) => r[1]));
  };
  return (async () => {
    const probe = await fetch(api, { cache: 'no-store' });
    const clock = JSON.parse(probe.headers.get('X-Audio-Metadata')).server_clock;
    // Unaligned, like the original: the server clock minus 15 s, as is.
    let read = clock - 15 * 48000 + 123;
    for (let i = 0; i < rounds; i++) {
      read += 28800;
      const q = new URLSearchParams({ read_clock: read, n_samples: 28800, userid, username: name });
      if (i === 0) q.set('reset_user_state', 'true');
      for (const [k, v] of Object.entries(actions[i] || {})) q.set(k, v);
      const r = await fetch(api + '?' + q, {
        method: 'POST', body: new Uint8Array(0),
        headers: { 'Content-Type': 'application/octet-stream', 'X-Event-Data': 'undefined' },
      });
      if (r.status !== 200) throw new Error(`${name}: POST answered ${r.status}`);
      redraw(JSON.parse(r.headers.get('X-Audio-Metadata')));
      await new Promise((res) => setTimeout(res, 600));
    }
    return seen;
  })();
}

test('the original client shows every singer in its People table throughout a song', { timeout: 180000 }, async () => {
  const built = stackBuilt();
  assert.ok(built.ok, `the local stack is not built (missing ${built.missing.join(', ')})`);
  const stack = await startStack();
  const browser = await launchChromium();
  try {
    const pages = [];
    for (const name of ['Lena', 'Omar', 'Pia']) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(stack.url + '/');
      pages.push(page);
    }
    const rounds = 24;
    const runs = [
      pages[0].evaluate(originalClient, { name: 'Lena', rounds, actions: { 4: { request_lead: 1 }, 6: { mark_start_singing: 1 } } }),
      pages[1].evaluate(originalClient, { name: 'Omar', rounds, actions: {} }),
      pages[2].evaluate(originalClient, { name: 'Pia', rounds, actions: {} }),
    ];
    const [, , observed] = await withTimeout(Promise.all(runs), 120000, 'the three original clients');
    await pages[2].screenshot({ path: join(outDir(), 'original-people.png') });
    // From the moment all three are in (a few responses), every response
    // lists all three: during the lead, the start and the song.
    const from = observed.findIndex((names) => names.length === 3);
    assert.ok(from >= 0 && from < 6, `all three listed only from response ${from}`);
    const after = observed.slice(from);
    const short = after.filter((names) => !['Lena', 'Omar', 'Pia'].every((n) => names.includes(n)));
    console.log(`original-people: ${after.length} responses from #${from}, ${short.length} without all three singers`);
    assert.equal(short.length, 0, `responses whose People table lacked a singer: ${JSON.stringify(short.slice(0, 3))}`);
  } finally {
    await browser.close();
    await stopStack(stack);
  }
});
