// lib.js: shared helpers of the browser tests.
//
// - launchChromium(): Debian's Chromium through playwright-core, headless,
//   with a fake microphone playing a WAV file and autoplay allowed;
// - serveStatic(): a tiny HTTP server for html/, for tests that need no API;
// - startStack(): the real local stack (deploy/local-run.sh, what `./bb run`
//   execs) on a free port with its own run directory, stopped by
//   stopStack() or when this process exits; stackPids() names its
//   processes, stackMetrics() reads the worker's counters, and bbRoom()
//   runs the operator's bb-room command on its rooms database, and
//   createRoom() makes a room with it;
// - enterApp(): a page from a room's setup into the running app;
// - shootWidths(): screenshots at a phone's and a laptop's width;
// - makeTone(): a sine WAV made with sox, the fake microphone's input;
// - withTimeout(): bounds any promise.
//
// Every test that uses these stops by itself: servers and the stack are
// killed in finally blocks and on process exit.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const OUT = process.env.BB_TEST_OUT || join(ROOT, 'tests/browser/out');
export const CHROMIUM = process.env.BB_CHROMIUM || '/usr/bin/chromium';
export const PHONE = { width: 390, height: 844 };
export const LAPTOP = { width: 1280, height: 900 };

const BASE_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--autoplay-policy=no-user-gesture-required',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
];

/** Makes OUT (screenshots, WAVs, logs) and returns its path. */
export function outDir() {
  mkdirSync(OUT, { recursive: true });
  return OUT;
}

/**
 * Writes a mono 48 kHz 16-bit WAV of a sine at hz with sox and returns its
 * path. seconds long, at amplitude 0..1.
 */
export function makeTone(name, hz, seconds = 20, amplitude = 0.4) {
  const file = join(outDir(), name);
  const r = spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', file,
    'synth', String(seconds), 'sine', String(hz), 'vol', String(amplitude)]);
  if (r.status !== 0) throw new Error('sox failed: ' + r.stderr);
  return file;
}

/** Launches Chromium with a fake microphone playing wav (or none). */
export async function launchChromium(wav) {
  const { chromium } = await import('playwright-core');
  const args = [...BASE_ARGS];
  if (wav) args.push('--use-file-for-fake-audio-capture=' + wav);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * Opens a page in a new context of browser, collecting its console output
 * and page errors into the returned log array.
 */
export async function openPage(browser, url, { init, viewport = { width: 1200, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  await page.goto(url);
  return { context, page, log };
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.svg': 'image/svg+xml',
  '.json': 'application/json', '.png': 'image/png',
};

/** Serves dir over HTTP on 127.0.0.1 at a free port; resolves {url, close}. */
export function serveStatic(dir = join(ROOT, 'html')) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    let file = join(dir, path);
    if (!file.startsWith(dir)) { res.writeHead(403); res.end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404); res.end('not found'); return; }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => {
    server.listen(0, '127.0.0.1', () => {
      // localhost, not 127.0.0.1: only localhost counts as a secure context.
      ok({ url: `http://localhost:${server.address().port}/`, close: () => server.close() });
    });
  });
}

/** Resolves a TCP port nobody listens on, at or above base. */
export async function freePort(base) {
  for (let p = base; p < base + 200; p++) {
    const ok = await new Promise((res) => {
      const s = net.createServer();
      s.once('error', () => res(false));
      s.listen(p, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (ok) return p;
  }
  throw new Error('no free port');
}

/** Whether the pieces of the real stack are built. */
export function stackBuilt() {
  const need = ['build/fcgi/bb-worker', 'build/shm/bb-shmd', 'build/rooms/bb-room', 'deploy/local-run.sh'];
  const missing = need.filter((p) => !existsSync(join(ROOT, p)));
  return { ok: missing.length === 0, missing };
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

/**
 * Starts deploy/local-run.sh in its own process group on a free port with a
 * private run directory under the build tree. Resolves {url, child, logs,
 * runDir, port, roomsDb} once GET /api answers, or rejects after timeoutMs
 * with its output.
 */
export async function startStack({ timeoutMs = 60000, workers = 1 } = {}) {
  const port = await freePort(18380);
  const runDir = join(ROOT, 'build', 'browser-run', String(port));
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const audioDir = join(runDir, 'audio');
  mkdirSync(audioDir, { recursive: true });
  // Named here, not left to local-run.sh's default, so that a BB_ROOMS_DB
  // in the caller's environment never points a test at someone's rooms.
  const roomsDb = join(runDir, 'rooms.db');
  const logs = [];
  // BB_LOCAL_RUN runs another copy of the script (for trying deployment changes).
  const child = spawn(process.env.BB_LOCAL_RUN || join(ROOT, 'deploy/local-run.sh'), [], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env, BB_PORT: String(port), BB_DEV_PORT: '0', BB_RUN_DIR: runDir,
      BB_AUDIO_DIR: audioDir, BB_WORKERS: String(workers), BB_ROOMS_DB: roomsDb,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.stdout.on('data', (d) => logs.push(String(d)));
  child.stderr.on('data', (d) => logs.push(String(d)));
  const stack = { url: `http://localhost:${port}/`, child, logs, runDir, port, roomsDb, stopping: false };
  // A stack stopped from outside (someone's SIGTERM) fails the test in
  // confusing ways: say so in the output that a failing test prints.
  child.once('exit', (code, signal) => {
    if (!stack.stopping) logs.push(`bb-test  | local-run.sh exited (${signal || 'status ' + code}) before the test stopped it\n`);
  });
  const url = stack.url;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited(child)) break;
    try {
      const r = await fetch(url + 'api', { cache: 'no-store' });
      if (r.ok && r.headers.get('x-audio-metadata')) return stack;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  await stopStack(stack);
  throw new Error(`stack did not answer GET /api within ${timeoutMs} ms; output:\n${logs.join('')}`);
}

// Whether a child process has ended, by a status or by a signal.
const exited = (child) => child.exitCode !== null || child.signalCode !== null;

/** Stops a stack from startStack: SIGTERM to its group, SIGKILL after 5 s. */
export async function stopStack(stack) {
  const child = stack && stack.child;
  if (!child || exited(child)) { running.delete(child); return; }
  stack.stopping = true;
  const gone = new Promise((res) => child.once('exit', res));
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
  await gone;
  clearTimeout(t);
  running.delete(child);
  // The daemon keeps its segment for a restart; a test run leaves nothing.
  if (stack.port) rmSync(`/dev/shm/bb-${stack.port}`, { force: true });
}

/**
 * Runs bb-room (rooms/bb-room.c, what `./bb room` runs) with args on
 * stack's rooms database, its links on the stack's address. Returns its
 * stdout; throws with its stderr when it fails.
 */
export function bbRoom(stack, ...args) {
  const r = spawnSync(join(ROOT, 'build/rooms/bb-room'),
    ['--db', stack.roomsDb, '--base-url', stack.url.replace(/\/$/, ''), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bb-room ${args.join(' ')}: status ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The processes local-run.sh runs for stack, from the pids file of its run
 * directory: {shmd: pid, 'worker-1': pid, nginx: pid, ...}, the latest pid
 * of each name (a restarted process is listed again). Only processes whose
 * command line names the run directory count, so a recycled pid is never
 * taken for ours.
 */
export function stackPids(stack) {
  const pids = {};
  const file = join(stack.runDir, 'pids');
  if (!existsSync(file)) return pids;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [name, pid] = line.trim().split(/\s+/);
    if (!name || !/^\d+$/.test(pid || '')) continue;
    let cmdline = '';
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmdline.includes(stack.runDir)) pids[name] = Number(pid);
  }
  return pids;
}

/**
 * Worker 1's Prometheus counters (GET /metrics on its operator socket,
 * sock/ops-1.sock in the run directory; the API has no way to them) as
 * {name: value}, labels kept in the name:
 * m['bb_worker_requests_total{outcome="ok"}'].
 */
export async function stackMetrics(stack) {
  const { request } = await import('node:http');
  const text = await new Promise((resolveText, reject) => {
    const rq = request({ socketPath: join(stack.runDir, 'sock', 'ops-1.sock'), path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => (res.statusCode === 200 ? resolveText(body)
        : reject(new Error(`GET /metrics answered ${res.statusCode}`))));
    });
    rq.on('error', reject);
    rq.end();
  });
  const m = {};
  for (const line of text.split('\n')) {
    const hit = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (hit) m[hit[1]] = Number(hit[2]);
  }
  return m;
}

/**
 * Creates a room with bb-room on stack's rooms database: {id, singers,
 * organiser}, the two links it printed.
 */
export function createRoom(stack, name) {
  const out = bbRoom(stack, 'create', name);
  const links = {};
  for (const line of out.split('\n')) {
    const m = /^(singers|organiser): (\S+)$/.exec(line);
    if (m) links[m[1]] = m[2];
  }
  assert.ok(links.singers && links.organiser, `bb-room create printed both links: ${out}`);
  return { id: new URL(links.singers).pathname.split('/')[2], ...links };
}

/** Waits until the page's status line reads want. */
export function pageStatus(page, want, timeout = 20000) {
  return page.waitForFunction((w) => document.getElementById('status').textContent === w, want, { timeout });
}

/**
 * From a page's setup into the running app as name (the page opened with
 * the latency test and the tutorial turned off), until it is connected.
 */
export async function enterApp(page, name) {
  await page.waitForSelector('#setup:not([hidden])', { timeout: 15000 });
  await page.fill('#name', name);
  await page.click('#step-name button[type=submit]');
  await page.click('#start-audio');
  await page.click('#volume-skip');
  await page.waitForSelector('#app:not([hidden])');
  await pageStatus(page, 'Connected');
}

/**
 * Full-page screenshots of page at PHONE and LAPTOP widths as
 * OUT/NAME-WIDTH.png, its viewport restored afterwards; at PHONE width the
 * page must not scroll sideways.
 */
export async function shootWidths(page, name) {
  const size = page.viewportSize();
  for (const v of [PHONE, LAPTOP]) {
    await page.setViewportSize(v);
    await sleep(300);
    await page.screenshot({ path: join(outDir(), `${name}-${v.width}.png`), fullPage: true });
    if (v === PHONE) {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `${name}: no sideways scrolling at ${PHONE.width} px (${width} px)`);
    }
  }
  await page.setViewportSize(size);
}

/** Resolves what promise resolves, or rejects after ms naming what. */
export function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer for ${what} in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects with a message naming what timed out if p takes over ms. */
export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}
