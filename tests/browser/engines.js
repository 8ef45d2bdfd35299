// engines.js: the three browser engines behind one small page interface,
// and the sound server the non-Chromium ones need.
//
// - requireTools(): every program a test needs, or an error naming the
//   Debian package to install (a missing browser fails a test, it never
//   skips it);
// - startPulse(): a private PulseAudio (a null sink as the speakers,
//   optionally a sine as the microphone) under its own XDG_RUNTIME_DIR,
//   stopped by stop() or when this process exits;
// - chromium(): Debian's Chromium through playwright-core (lib.js);
// - launchFirefox(): Debian's Firefox ESR over WebDriver BiDi
//   (puppeteer-core), with Firefox's fake microphone playing a sine;
// - launchWebKit(): WebKitGTK's MiniBrowser through WebKitWebDriver (classic
//   WebDriver over HTTP, spoken here with fetch) under xvfb-run.
//
// Each launcher resolves {engine, newPage(), close()}, Firefox's also
// stall(ms) (every process of the browser stopped for ms); a page has goto,
// click, fill, select, eval, waitFor, text, screenshot, logs, pageErrors and
// close, so a scenario is written once for every engine. Clicks and typing
// go through the engine's own input path (they count as user gestures).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, freePort, launchChromium, sleep, within } from './lib.js';

export const FIREFOX = process.env.BB_FIREFOX || '/usr/bin/firefox-esr';

// Where each program comes from on Debian.
const PACKAGES = {
  [CHROMIUM]: 'chromium',
  [FIREFOX]: 'firefox-esr',
  WebKitWebDriver: 'webkit2gtk-driver',
  MiniBrowser: 'libwebkit2gtk-4.1-0 (pulled in by webkit2gtk-driver)',
  'xvfb-run': 'xvfb',
  xauth: 'xauth',
  pulseaudio: 'pulseaudio',
  pacat: 'pulseaudio-utils',
  sox: 'sox',
};

function onPath(cmd) {
  if (cmd.startsWith('/')) return existsSync(cmd);
  return (process.env.PATH || '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

/** WebKitGTK's MiniBrowser (/usr/lib/<triplet>/webkit2gtk-4.x/MiniBrowser), or null. */
export function miniBrowser() {
  if (process.env.BB_MINIBROWSER) return process.env.BB_MINIBROWSER;
  for (const lib of ['/usr/lib', '/usr/libexec']) {
    let dirs = [];
    try { dirs = readdirSync(lib); } catch { continue; }
    for (const d of [...dirs, '.']) {
      for (const v of ['webkit2gtk-4.1', 'webkit2gtk-4.0']) {
        const p = join(lib, d, v, 'MiniBrowser');
        if (existsSync(p)) return p;
      }
    }
  }
  return null;
}

/**
 * Throws an error naming the missing programs and their Debian packages,
 * unless all of cmds are there. 'MiniBrowser' stands for miniBrowser().
 */
export function requireTools(...cmds) {
  const missing = cmds.filter((c) => (c === 'MiniBrowser' ? !miniBrowser() : !onPath(c)));
  if (missing.length) {
    throw new Error(`missing ${missing.map((c) => `${c} (Debian package ${PACKAGES[c] || '?'})`).join(', ')}; ` +
      "`./bb test` installs them when run as root");
  }
}

const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

// Starts cmd in its own process group, remembered for the exit handler.
function spawnGroup(cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, detached: true });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

// SIGTERM to child's group, SIGKILL after ms; resolves once it has exited.
async function stopGroup(child, ms = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((res) => child.once('exit', res));
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
  await gone;
  clearTimeout(t);
}

// pid and all its descendants, from /proc.
function processTree(pid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try { stat = readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    // The field after the command name (in parentheses) is the state, then the parent.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(d));
  }
  const all = [];
  for (const todo = [pid]; todo.length;) {
    const p = todo.pop();
    all.push(p);
    todo.push(...(children.get(p) || []));
  }
  return all;
}

// Stops pid and its descendants (a browser we started) for ms, as a busy
// machine can: none of them runs meanwhile.
async function stallTree(pid, ms) {
  const pids = processTree(pid);
  for (const p of pids) { try { process.kill(p, 'SIGSTOP'); } catch { /* gone */ } }
  try {
    await sleep(ms);
  } finally {
    for (const p of pids) { try { process.kill(p, 'SIGCONT'); } catch { /* gone */ } }
  }
}

function canConnect(path) {
  return new Promise((res) => {
    const s = net.connect(path);
    s.once('connect', () => { s.destroy(); res(true); });
    s.once('error', () => res(false));
  });
}

/**
 * Starts a private PulseAudio: a null sink at 48 kHz as the default output
 * and, with toneHz, a microphone playing a sine at that frequency. Resolves
 * {env, dir, logs, stop()} once its socket answers; env is what a browser
 * needs to use it (PULSE_SERVER).
 *
 * The microphone is a second null sink that sox (through pacat) plays the
 * sine into, in real time, and a source remapped from that sink's monitor
 * (browsers do not offer monitors as microphones). PulseAudio's own sine
 * source would be simpler, but WebKitGTK's capture of it got sound only in
 * short bursts about every 2 s (parec got it whole).
 */
export async function startPulse({ toneHz = 0, timeoutMs = 15000 } = {}) {
  requireTools('pulseaudio', 'pacat', 'sox');
  // A short path: a unix socket's path is limited to 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'bb-pulse-'));
  const socket = join(dir, 'native');
  const env = { PULSE_SERVER: `unix:${socket}` };
  const args = ['--daemonize=no', '--system=no', '-n', '--use-pid-file=no', '--disable-shm=yes',
    '--exit-idle-time=-1', '--log-target=stderr', '--log-level=error',
    // The first sink loaded is the default output.
    '--load=module-null-sink sink_name=bb_out rate=48000'];
  if (toneHz) {
    args.push('--load=module-null-sink sink_name=bb_feed rate=48000 channels=1 format=s16le',
      '--load=module-remap-source source_name=bb_mic master=bb_feed.monitor');
  }
  args.push(`--load=module-native-protocol-unix auth-anonymous=1 socket=${socket}`);
  const logs = [];
  const procs = [];
  const run = (cmd, cargs, cenv) => {
    const c = spawnGroup(cmd, cargs, { env: { ...process.env, ...cenv }, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.on('data', (d) => logs.push(String(d)));
    c.stderr.on('data', (d) => logs.push(String(d)));
    procs.push(c);
    return c;
  };
  // HOME and XDG_*: its state and cookie stay in dir, away from the user's.
  const daemon = run('pulseaudio', args, { HOME: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: dir, XDG_STATE_HOME: dir });
  const pulse = {
    dir, logs, env,
    async stop() {
      for (const c of procs.reverse()) await stopGroup(c);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && daemon.exitCode === null) {
    if (existsSync(socket) && (await canConnect(socket))) {
      if (toneHz) {
        run('sh', ['-c', 'sox -q -n -r 48000 -c 1 -b 16 -e signed -t raw - synth 3600 sine "$1" vol 0.4 | '
          + 'pacat --playback -d bb_feed --raw --format=s16le --rate=48000 --channels=1', 'bb-mic', String(toneHz)], env);
      }
      return pulse;
    }
    await sleep(100);
  }
  await pulse.stop();
  throw new Error(`PulseAudio did not start within ${timeoutMs} ms:\n${logs.join('')}`);
}

/** A sound server address where none listens: the browser has no sound output. */
export const NO_PULSE = { PULSE_SERVER: 'unix:/nonexistent/bb-no-sound-server' };

// ------------------------------------------------------------ Chromium

// What the playwright (Chromium) and puppeteer (Firefox) pages share: both
// report console messages and uncaught errors as events.
class EventPage {
  constructor(engine, page) {
    this.engine = engine;
    this.page = page;
    this.log = [];
    page.on('console', (m) => this.log.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.log.push(`[pageerror] ${e.message}`));
  }

  goto(url) { return this.page.goto(url); }
  eval(fn, arg) { return this.page.evaluate(fn, arg); }
  screenshot(path) { return this.page.screenshot({ path, fullPage: true }); }
  async logs() { return this.log; }
  async pageErrors() { return this.log.filter((l) => l.startsWith('[pageerror]')); }
  waitFor(fn, arg, timeout, what) { return pollFor(this, fn, arg, timeout, what); }
}

// playwright's page behind the common interface.
class ChromiumPage extends EventPage {
  constructor(context, page) {
    super('chromium', page);
    this.context = context;
  }

  click(sel) { return this.page.click(sel); }
  fill(sel, text) { return this.page.fill(sel, text); }
  select(sel, value) { return this.page.selectOption(sel, value); }
  text(sel) { return this.page.textContent(sel); }
  close() { return this.context.close(); }
}

/** Chromium (lib.js's launchChromium) with its fake microphone playing wav. */
export async function chromium(wav) {
  requireTools(CHROMIUM);
  const browser = await launchChromium(wav);
  return {
    engine: 'chromium',
    async newPage() {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      return new ChromiumPage(context, await context.newPage());
    },
    close: () => browser.close(),
  };
}

// Polls fn(arg) in the page every 200 ms until it returns something
// truthy; rejects after timeout ms naming what it waited for (also when the
// page stops answering at all).
async function pollFor(page, fn, arg, timeout = 20000, what = String(fn)) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await within(page.eval(fn, arg), Math.max(deadline - Date.now(), 0) + 10000, `${page.engine}: ${what}`);
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`${page.engine}: timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(200);
  }
}

// ------------------------------------------------------------- Firefox

// puppeteer's page behind the common interface.
class FirefoxPage extends EventPage {
  constructor(page) {
    super('firefox', page);
  }

  click(sel) { return this.page.locator(sel).click(); }
  fill(sel, text) { return this.page.locator(sel).fill(text); }
  select(sel, value) { return this.page.select(sel, value); }
  text(sel) { return this.page.$eval(sel, (e) => e.textContent); }
  close() { return this.page.close(); }
}

/**
 * Launches Firefox ESR headless over WebDriver BiDi. Its fake microphone
 * plays a sine at toneHz; sound goes to the PulseAudio of soundEnv
 * (startPulse().env, or NO_PULSE for a browser without any sound output).
 */
export async function launchFirefox({ toneHz = 1000, soundEnv = NO_PULSE } = {}) {
  requireTools(FIREFOX);
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    env: { ...process.env, ...soundEnv },
    extraPrefsFirefox: {
      // The fake microphone: a sine, no permission prompt.
      'media.navigator.streams.fake': true,
      'media.navigator.audio.fake_frequency': toneHz,
      'media.navigator.permission.disabled': true,
      // Sound may start without a click, as in Chromium's tests.
      'media.autoplay.default': 0,
      'media.autoplay.block-webaudio': false,
      // Only PulseAudio: whether there is a sound output is up to the test,
      // not to whatever ALSA device the machine has.
      'media.cubeb.backend': 'pulse',
    },
  });
  return {
    engine: 'firefox',
    async newPage() {
      const page = await browser.newPage();
      await page.setViewport({ width: 1200, height: 900 });
      return new FirefoxPage(page);
    },
    stall: (ms) => stallTree(browser.process().pid, ms),
    close: () => browser.close(),
  };
}

// -------------------------------------------------------------- WebKit

// The window of a WebKit page (the size of Chromium's and Firefox's
// viewports).
const WINDOW = { width: 1200, height: 900 };

// The W3C WebDriver element reference key.
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

class WebKitPage {
  constructor(session) {
    this.engine = 'webkit';
    this.s = session;
  }

  async goto(url) {
    await this.s.cmd('POST', '/url', { url });
    // Classic WebDriver has no page-error events: collect them in the page.
    await this.eval(() => {
      window.__bbErrors = [];
      window.addEventListener('error', (e) => window.__bbErrors.push(String(e.message)));
      window.addEventListener('unhandledrejection', (e) => window.__bbErrors.push(String(e.reason)));
    });
  }

  async find(sel) {
    const v = await this.s.cmd('POST', '/element', { using: 'css selector', value: sel });
    return v[ELEMENT];
  }

  async click(sel) {
    await this.s.cmd('POST', `/element/${await this.find(sel)}/click`, {});
  }

  async fill(sel, text) {
    const id = await this.find(sel);
    await this.s.cmd('POST', `/element/${id}/clear`, {});
    await this.s.cmd('POST', `/element/${id}/value`, { text });
  }

  async select(sel, value) {
    // WebDriver selects an <option> by clicking it.
    const opt = `${sel} option[value="${value.replace(/["\\]/g, '\\$&')}"]`;
    await this.click(opt);
  }

  // Runs fn(arg) in the page; async functions are awaited.
  eval(fn, arg) {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${fn})(arguments[0])).then(
        (v) => done({ ok: v === undefined ? null : v }), (e) => done({ error: String(e && e.stack || e) }));`;
    return this.s.cmd('POST', '/execute/async', { script, args: [arg === undefined ? null : arg] }).then((r) => {
      if (r && r.error) throw new Error(`webkit: page error: ${r.error}`);
      return r.ok;
    });
  }

  text(sel) { return this.eval((s) => document.querySelector(s).textContent, sel); }

  // WebDriver screenshots only the viewport: for the whole page the window
  // grows to the page's height (the X screen is 3200 px tall) and back.
  async screenshot(path) {
    const [page, view] = await this.eval(() => [document.documentElement.scrollHeight, window.innerHeight]);
    const { height } = await this.s.cmd('GET', '/window/rect');
    await this.s.cmd('POST', '/window/rect', { width: WINDOW.width, height: Math.min(height - view + page, 3100) });
    const b64 = await this.s.cmd('GET', '/screenshot');
    await this.s.cmd('POST', '/window/rect', { width: WINDOW.width, height });
    writeFileSync(path, Buffer.from(b64, 'base64'));
  }

  // Classic WebDriver has no console events: the page's own log (main.js
  // keeps one) and the errors collected since goto().
  async logs() {
    return this.eval(() => [
      ...(window.bbTest ? window.bbTest.state.log.map((l) => `[bb] ${l}`) : []),
      ...(window.__bbErrors || []).map((e) => `[pageerror] ${e}`),
    ]);
  }

  async pageErrors() {
    return (await this.logs()).filter((l) => l.startsWith('[pageerror]'));
  }

  async close() {
    await this.s.end();
  }

  waitFor(fn, arg, timeout, what) { return pollFor(this, fn, arg, timeout, what); }
}

/**
 * Starts WebKitWebDriver under xvfb-run on a free port. One browser
 * (MiniBrowser) per session, one page per browser: newPage() may be called
 * once. Media capture is on (the microphone is PulseAudio's default source
 * of soundEnv) and sound may start without a click.
 */
export async function launchWebKit({ soundEnv = NO_PULSE, timeoutMs = 30000 } = {}) {
  requireTools('WebKitWebDriver', 'MiniBrowser', 'xvfb-run', 'xauth');
  const port = await freePort(14445);
  const logs = [];
  const driver = spawnGroup('xvfb-run', ['-a', '-s', '-screen 0 1280x3200x24', 'WebKitWebDriver', `--port=${port}`], {
    env: { ...process.env, ...soundEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  driver.stdout.on('data', (d) => logs.push(String(d)));
  driver.stderr.on('data', (d) => logs.push(String(d)));
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const r = await fetch(base + path, {
      method, headers: { 'content-type': 'application/json; charset=utf-8' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const j = await r.json();
    if (!r.ok) throw new Error(`WebKitWebDriver ${method} ${path}: ${r.status} ${JSON.stringify(j.value)}`);
    return j.value;
  };
  const stop = () => stopGroup(driver);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if ((await call('GET', '/status')).ready) break;
      } catch { /* not listening yet */ }
      if (driver.exitCode !== null || Date.now() > deadline) throw new Error(`WebKitWebDriver did not start:\n${logs.join('')}`);
      await sleep(200);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  let session = null;
  return {
    engine: 'webkit',
    logs,
    async newPage() {
      if (session) throw new Error('webkit: one page per browser');
      const s = await call('POST', '/session', {
        capabilities: {
          alwaysMatch: {
            'webkitgtk:browserOptions': {
              binary: miniBrowser(),
              args: ['--automation', '--enable-media-stream=true', '--enable-webaudio=true', '--autoplay-policy=allow'],
            },
          },
        },
      });
      session = {
        id: s.sessionId,
        cmd: (method, path, body) => call(method, `/session/${s.sessionId}${path}`, body),
        end: () => call('DELETE', `/session/${s.sessionId}`).catch(() => {}),
      };
      await session.cmd('POST', '/timeouts', { script: 60000 });
      await session.cmd('POST', '/window/rect', { width: WINDOW.width, height: WINDOW.height });
      return new WebKitPage(session);
    },
    async close() {
      if (session) await session.end();
      await stop();
    },
  };
}
