// main.js: the page. Wires the setup steps (headphones, name, microphone,
// latency and volume calibration) and the running app (song, buckets, chat,
// people, settings, debug) to the audio engine (audio.js) and the
// connection (net.js).
//
// In a room (/r/ROOMID#KEY, room.js) the page first asks the server for the
// room (GET /api/room): its name, and the person's role; a link that opens
// nothing gets a full page that says so and what to do. Every request then
// carries the room and its key, and each person sees only the controls
// their role has (the server refuses the rest, and says why in the answer's
// "refused", which the page shows). The default room (any other path) is
// the original client's, and the page there is as it always was.
//
// State flows one way: server metadata and worklet statistics update
// `state`, and render functions read it. User actions queue protocol items
// on the connection; the server's answer is what changes the page (for
// example the lead button follows the server's `leader`, not the click).
//
// Test hooks exist only with ?test=1 in the URL: window.bbTest exposes the
// state and a tone meter on the playback output, and ?loopback=SECONDS
// replaces the microphone with the page's own output through a DelayNode,
// ?rate=HZ runs the audio at that rate (the worklet's conversion path) and
// ?codec=wasm forces the WebAssembly Opus fallback.

import {
  ASSUMED_LATENCY_MS, BATCH_SAMPLES, DEFAULT_OFFSET_S, MAX_OFFSET_S, MIN_OFFSET_S, parseOffset,
  readSlippage, samplesToMs, totalTimeConsumed, writeCompensation, SERVER_RATE,
} from './clock.js';
import {
  TRACK_PLACEHOLDER, apiUrl, clampFriendly, endpointUrl, isLeader, makeUserId, parseUserSummary,
} from './protocol.js';
import { AudioEngine, listInputs, requestMicAccess } from './audio.js';
import { createCodec } from './codec.js';
import { Connection } from './net.js';
import {
  estimateLatency, estimateSource, latencySeconds, measureLatency, measureVolume,
} from './calibrate.js';
import { controlsFor, leadTakenNotice, parseRoomLocation, refusalKind, withRoom } from './room.js';
import { $, el, numberIn, setText, show } from './ui/dom.js';
import { renderBuckets, renderMonitorSelect, renderPeople } from './ui/buckets.js';
import { appendChat } from './ui/chat.js';
import { crash, installCrashScreen } from './ui/crash.js';
import { askConfirm } from './ui/confirm.js';
import { renderOrganiserCard, setupOrganiserCard } from './ui/organiser.js';
import { setupWords } from './ui/words.js';
import { toast } from './ui/toast.js';
import { calibParam, renderTiming, setupTiming } from './ui/timing.js';
import { addAdjustment, appliedLatency, flagMap, ownLine } from './timingwatch.js';
import {
  forgetSinger, keepChat, keptChat, loadSinger, saveSinger,
} from './ui/returning.js';
import { watchPresence } from './ui/presence.js';
import { consoleRows, setupConsole } from './ui/console.js';
import { removedList, setupModeration } from './ui/moderate.js';
import { METRONOME_TRACK, renderSongState, songStateOf } from './ui/songstate.js';

const params = new URLSearchParams(location.search);
const TEST = params.get('test') === '1';
const store = {
  get(k, d = '') { try { return localStorage.getItem('bb.' + k) ?? d; } catch { return d; } },
  set(k, v) { try { localStorage.setItem('bb.' + k, String(v)); } catch { /* private mode */ } },
};

// The browser's storage for the returning singer (ui/returning.js); null
// where the browser refuses it.
const LS = (() => { try { return window.localStorage; } catch { return null; } })();
const ROOM_AT_LOAD = parseRoomLocation(location.pathname, location.hash);
const ROOM_KEY = ROOM_AT_LOAD ? ROOM_AT_LOAD.id : '';
// The singer's record, when they were here in the last 12 hours.
let back = loadSinger(LS, ROOM_KEY, Date.now());

// Everything the page knows. Metadata fields keep their last value, because
// our server sends some of them (user_summary, tracks) only on change.
const state = {
  userid: back ? back.userid : makeUserId(),
  publicId: null,
  name: back ? back.name : store.get('name'),
  // Came back with a record: the set-up is skipped, and after the first
  // answer the kept chat and the old mic volume come back.
  returning: false,
  restored: false,
  tabMoved: false,
  listenOnly: false,
  deviceId: store.get('inputDevice'),
  latencyMs: null,
  // How latencyMs came about: "measured", "estimated" (the measurement
  // failed and the singer chose to sing anyway) or "assumed" (measuring is
  // switched off); latencySeconds how long the measurement took,
  // latencySource where an estimate came from.
  calibration: null,
  latencySeconds: null,
  latencySource: '',
  latencyEstimate: null,
  // The server's timing watch (timingwatch.js): our own flag as a line to
  // show, or null; the flagged singers for the console; when our own
  // Apply went out (its answer is awaited until then + APPLY_WAIT_MS);
  // the sum of the offsets applied to latencyMs since it was found.
  timingOwn: null,
  timingFlags: new Map(),
  solo: [], // the singers we hear alone (the console, PROTOCOL.md §9.12)
  timingAskedAt: 0,
  timingAdjustedMs: 0,
  // The app has run once; the latency step is then a measurement again,
  // and leads back to singing.
  appStarted: false,
  recalibrating: false,
  inputGain: 1,
  offset: DEFAULT_OFFSET_S,
  micMuted: false,
  speakerMuted: false,
  lagMuted: false,
  lastLagResync: 0,
  monitoring: false,
  users: [],
  buckets: [],
  leader: null,
  leaderName: '',
  amLeader: false,
  songStart: null,
  songEnd: null,
  // The song as the server announces it: its track, its metronome tempo,
  // whether it is recorded; songSeen the start of the last song this
  // singer heard being sung (only they are told it ended); bpm the tempo.
  songTrack: '',
  songMetronome: 0,
  recording: false,
  songSeen: null,
  endSeen: null,
  bpm: 0,
  tracks: [],
  nUsers: null,
  lastMeta: null,
  lastReq: null,
  worklet: null,
  events: [],
  firedEvents: new Set(),
  connection: 'stopped',
  connectionMessage: '',
  log: [],
  // The room (null: the default room), what GET /api/room said of it, and
  // the role the server gave in its last answer.
  room: ROOM_AT_LOAD,
  roomInfo: null,
  role: null,
  roomFull: false,
  // Until then a 403 is not taken as final: our own key was just replaced
  // and the server may still be switching over.
  keyGraceUntil: 0,
  refused: false,
  // The singers the organiser removed ([{id, name}], the organiser's
  // answers only).
  removed: [],
};

// How long after replacing our own key a refusal is taken for the switch.
const KEY_GRACE_MS = 5000;

let engine = null;
// The leader's and organiser's console (ui/console.js).
let consoleView = null;
// The organiser's Remove, Appoint leader and Let back in (ui/moderate.js).
let moderation = null;
// The other tabs of this browser in this room (ui/presence.js).
let presence = { singing() {} };
let codec = null;
let conn = null;
let words = null;

// ---------------------------------------------------------------- helpers

function log(text) {
  const line = `${new Date().toISOString().slice(11, 23)} ${text}`;
  state.log.push(line);
  console.info('[bb] ' + text);
  if (state.log.length > 200) state.log.shift();
  const pre = document.getElementById('debug-log');
  if (pre) pre.textContent = state.log.slice(-60).join('\n');
}

// The API URL. A room's page is at /r/ROOMID, but the API is at the
// site's root, as for the default room.
function api() {
  return apiUrl($('server-path').value, state.room ? location.origin + state.room.root : location.href);
}

function snapshot() {
  return {
    room: state.room && state.room.id, role: state.role,
    userid: state.userid, publicId: state.publicId, offset: state.offset,
    listenOnly: state.listenOnly, latencyMs: state.latencyMs, calibration: state.calibration, inputGain: state.inputGain,
    connection: state.connection, message: state.connectionMessage,
    codec: codec && codec.kind, sampleRate: engine && engine.sampleRate,
    net: conn && conn.stats, worklet: state.worklet, lastMeta: state.lastMeta,
    log: state.log.slice(-30),
  };
}

function stopEverything() {
  if (conn) conn.stop();
  if (engine) engine.close();
}

// ------------------------------------------------------------------ setup

function showStep(id) {
  for (const s of ['step-back', 'step-headphones', 'step-name', 'step-device', 'step-latency', 'step-volume']) {
    show($(s), s === id);
  }
  const first = $(id).querySelector('button, input, select');
  if (first) first.focus();
}

// The first step: "Welcome back" for a returning singer, else the
// headphones questions (or the name, when the tutorial is switched off).
function firstStep() {
  if (back) {
    const where = back.listenOnly ? 'You listen, as before.' : `Your place (${back.offset} s behind), your latency and your microphone level are as you left them.`;
    setText($('back-title'), `Welcome back, ${back.name}`);
    setText($('back-text'), where);
    return 'step-back';
  }
  return store.get('noTutorial') === '1' ? 'step-name' : 'step-headphones';
}

function setupReturning() {
  $('back-continue').addEventListener('click', async () => {
    state.returning = true;
    state.listenOnly = !!back.listenOnly;
    state.deviceId = typeof back.deviceId === 'string' ? back.deviceId : state.deviceId;
    if (Number.isFinite(back.latencyMs)) state.latencyMs = back.latencyMs;
    if (Number.isFinite(back.timingAdjustedMs)) state.timingAdjustedMs = back.timingAdjustedMs;
    state.calibration = back.calibration || null;
    state.latencySeconds = Number.isFinite(back.latencySeconds) ? back.latencySeconds : null;
    state.latencySource = typeof back.latencySource === 'string' ? back.latencySource : '';
    if (Number.isFinite(back.inputGain) && back.inputGain > 0) state.inputGain = back.inputGain;
    const o = parseOffset(String(back.offset));
    if (o !== null) state.offset = o;
    log(`returning as ${state.name}: ${state.offset} s, gain ${state.inputGain.toFixed(2)}`);
    $('back-continue').disabled = true;
    await startAudio();
    $('back-continue').disabled = false;
  });
  $('back-fresh').addEventListener('click', () => {
    forgetSinger(LS, ROOM_KEY);
    back = null;
    state.userid = makeUserId();
    showStep(firstStep());
  });
}

// Writes the singer's record (ui/returning.js), while they are here.
function saveMe() {
  if (!state.appStarted || state.refused || state.tabMoved) return;
  const mine = me();
  saveSinger(LS, ROOM_KEY, {
    userid: state.userid, name: state.name, listenOnly: state.listenOnly, deviceId: state.deviceId,
    latencyMs: state.latencyMs, calibration: state.calibration, latencySeconds: state.latencySeconds,
    latencySource: state.latencySource, timingAdjustedMs: state.timingAdjustedMs,
    inputGain: state.inputGain, offset: state.offset,
    micVolume: mine ? mine.micVolume : back && Number.isFinite(back.micVolume) ? back.micVolume : null,
  }, Date.now());
}

// A chat line on the page, kept for a reload (ui/returning.js).
function chatLine(name, text, kind = 'chat') {
  appendChat($('chat-log'), name, text, kind);
  keepChat(LS, ROOM_KEY, state.songStart, { name, text, kind }, Date.now());
}

// The first answer after coming back: the chat of the song that is still
// on, and our own volume in the mix if the server forgot it.
function restoreAfterReturn() {
  if (!state.returning || state.restored || !state.publicId) return;
  state.restored = true;
  const lines = keptChat(LS, ROOM_KEY, state.songStart, Date.now());
  for (const l of lines) appendChat($('chat-log'), l.name, l.text, l.kind);
  const mine = me();
  const v = back && back.micVolume;
  if (mine && Number.isFinite(v) && Math.abs(mine.micVolume - v) > 0.001 && !state.listenOnly) {
    conn.queueMicVolume(state.publicId, v);
    log(`own volume in the mix back to ${v}`);
  }
}

// Another tab of this browser took over: this one stops for good.
function tabTakenOver() {
  state.tabMoved = true;
  stopEverything();
  for (const id of ['setup', 'app', 'opening', 'organiser-card', 'offline', 'room-full', 'lag', 'other-tab', 'leader-line', 'user-count']) show($(id), false);
  show($('tab-moved'), true);
  setText($('status'), 'Singing in another tab');
  log('another tab of this browser took over');
  $('tab-moved-reload').focus();
}

function setupHeadphones() {
  const parts = ['hp-q1', 'hp-q-wired', 'hp-q-have', 'hp-end-attach', 'hp-end-remove', 'hp-end-none'];
  const only = (id) => {
    for (const p of parts) show($(p), p === id);
    const b = $(id).querySelector('button');
    if (b) b.focus();
  };
  let wireless = false;
  $('step-headphones').addEventListener('click', (e) => {
    const a = e.target.closest('button') && e.target.closest('button').dataset.hp;
    if (!a) return;
    if (a === 'yes') only('hp-q-wired');
    else if (a === 'no') { wireless = false; setText($('hp-q-have-text'), 'Do you have wired headphones you could use?'); only('hp-q-have'); }
    else if (a === 'wired') { store.set('headphones', 'wired'); showStep('step-name'); }
    else if (a === 'wireless') { wireless = true; setText($('hp-q-have-text'), 'Do you have wired headphones you could use instead?'); only('hp-q-have'); }
    else if (a === 'have-yes') only('hp-end-attach');
    else if (a === 'have-no') only(wireless ? 'hp-end-remove' : 'hp-end-none');
    else if (a === 'reload') location.reload();
    else if (a === 'listen') { $('listen-only').checked = true; showStep('step-name'); }
  });
}

async function fillDevices() {
  const sel = $('input-device');
  let devices = await listInputs();
  if (devices.length && !devices.some((d) => d.label && !/^Microphone \d+$/.test(d.label))) {
    try {
      await requestMicAccess();
      devices = await listInputs();
    } catch (e) {
      showDeviceError(e);
    }
  }
  sel.replaceChildren(...devices.map((d) => el('option', { attrs: { value: d.deviceId }, text: d.label })));
  if (!devices.length) sel.append(el('option', { attrs: { value: '' }, text: 'Default microphone' }));
  if (devices.some((d) => d.deviceId === state.deviceId)) sel.value = state.deviceId;
}

// What went wrong when the audio started, and what to do: every message
// names a way forward, and the buttons beside it take it (try again, or
// just listen where listening still works).
function showDeviceError(e) {
  const name = e && e.name;
  const msg = name === 'NotAllowedError'
    ? 'The browser did not allow the microphone. Allow it (the microphone sign in the address bar, or the site settings) and press Try again; or just listen.'
    : name === 'NotFoundError' || name === 'OverconstrainedError'
      ? 'No microphone was found. Plug one in (or choose another above) and press Try again; or just listen.'
      : name === 'NotReadableError'
        ? 'The microphone is busy or failed: close other programs that use it, then press Try again; or just listen.'
        : name === 'AudioOutputError' ? e.message
          : name === 'BrowserUnsupportedError' ? `${e.message} Open this page in a current Chrome, Firefox or Safari.`
            : `The audio could not start: ${e && e.message ? e.message : e}. Press Try again, or reload the page.`;
  setText($('device-error'), msg);
  show($('device-error'), true);
  setText($('start-audio'), 'Try again');
  const listenable = !state.listenOnly && name !== 'AudioOutputError' && (name !== 'BrowserUnsupportedError' || e.listenable);
  show($('device-listen'), listenable);
}

function setupSteps() {
  setupHeadphones();
  $('name').value = state.name;
  $('step-name').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('name').value.trim();
    if (!name) return;
    state.name = name;
    store.set('name', name);
    state.listenOnly = $('listen-only').checked;
    if (state.listenOnly) {
      await startAudio();
    } else {
      showStep('step-device');
      fillDevices().catch((err) => showDeviceError(err));
    }
  });
  $('device-listen').addEventListener('click', async () => {
    state.listenOnly = true;
    $('listen-only').checked = true;
    show($('device-listen'), false);
    show($('device-error'), false);
    await startAudio();
  });
  $('step-device').addEventListener('submit', async (e) => {
    e.preventDefault();
    state.deviceId = $('input-device').value;
    store.set('inputDevice', state.deviceId);
    await startAudio();
  });
  $('latency-start').addEventListener('click', runLatency);
  $('latency-retry').addEventListener('click', runLatency);
  $('latency-skip').addEventListener('click', () => {
    state.listenOnly = true;
    state.latencyMs = ASSUMED_LATENCY_MS;
    engine.stopMic();
    startApp();
  });
  // The measurement failed: sing anyway, with the estimate shown.
  $('latency-estimate').addEventListener('click', () => {
    const est = state.latencyEstimate;
    state.latencyMs = est.ms;
    state.calibration = 'estimated';
    state.timingAdjustedMs = 0;
    state.latencySource = estimateSource(est.source, est.heard);
    log(`singing with an estimated latency of ${est.ms} ms (${est.source})`);
    afterLatency();
  });
  // Measuring again from the app, and giving up on it: the old figure stays.
  $('latency-back').addEventListener('click', () => startApp());
  const t = latencySeconds();
  setText($('latency-duration'), `about ${t.usual} seconds, at most ${t.most}`);
  $('beep-volume').addEventListener('input', () => {
    if (engine) engine.config({ beepGain: Math.exp((6.908 * $('beep-volume').value) / 100) / 1000 });
  });
  $('volume-start').addEventListener('click', runVolume);
  $('volume-skip').addEventListener('click', () => startApp());
}

async function startAudio() {
  $('start-audio').disabled = true;
  show($('device-error'), false);
  try {
    const test = {};
    if (TEST && params.has('loopback')) test.loopbackDelay = Number(params.get('loopback'));
    if (TEST) test.tap = true;
    if (TEST && params.has('rate')) test.rate = Number(params.get('rate'));
    engine = await AudioEngine.create({ deviceId: state.deviceId, listenOnly: state.listenOnly, test });
    const prefer = (TEST && params.get('codec')) || store.get('codec');
    codec = await createCodec(prefer);
    log(`audio at ${engine.sampleRate} Hz, codec ${codec.kind}`);
    const mic = engine.micSettings();
    if (mic) log(`microphone: ${JSON.stringify(mic)}`);
    engine.on('stats', onWorkletStats);
    engine.on('processor-error', () => crash(new Error('the audio worklet stopped with an error'), snapshot, stopEverything));
    if (TEST) exposeTestHooks();
  } catch (e) {
    // A listener too gets the message and a way on, never the crash screen.
    $('start-audio').disabled = false;
    if (engine) engine.close().catch(() => {});
    engine = null;
    log(`audio did not start: ${e && e.name}: ${e && e.message}`);
    showStep('step-device');
    show($('device-choice'), !state.listenOnly);
    showDeviceError(e);
    return;
  }
  if (state.listenOnly || state.returning) startApp();
  else if (store.get('noLatency') === '1') {
    state.latencyMs = ASSUMED_LATENCY_MS;
    state.calibration = 'assumed';
    state.timingAdjustedMs = 0;
    showStep('step-volume');
  } else showStep('step-latency');
}

async function runLatency() {
  show($('latency-failed'), false);
  show($('latency-result'), false);
  $('latency-start').disabled = true;
  setText($('latency-progress'), 'Listening for the beeps…');
  const r = await measureLatency(engine, {
    onProgress: (p) => {
      if (p.noInput) setText($('latency-progress'), 'No sound is coming from your microphone. Is the right one chosen, and unmuted?');
      else setText($('latency-progress'), `Heard ${p.values.length} beeps: ${p.stats.p25.toFixed(1)} / ${p.stats.p50.toFixed(1)} / ${p.stats.p75.toFixed(1)} ms (25th / median / 75th percentile)`);
    },
  });
  $('latency-start').disabled = false;
  state.latencyResult = r;
  if (r.ok) {
    state.latencyMs = r.latencyMs;
    state.calibration = 'measured';
    state.timingAdjustedMs = 0;
    state.latencySeconds = r.seconds;
    log(`latency ${r.latencyMs.toFixed(1)} ms (spread ${r.stats.spread.toFixed(2)} ms, ${r.seconds.toFixed(1)} s)`);
    setText($('latency-result'), `Your latency is ${r.latencyMs.toFixed(1)} ms (measured in ${r.seconds.toFixed(1)} s).`);
    show($('latency-result'), true);
    if (!TEST || !params.has('loopback')) setTimeout(afterLatency, 800);
  } else {
    setText($('latency-progress'), '');
    log(`latency calibration failed after ${r.seconds.toFixed(1)} s: ${r.reason}`);
    const est = { ...estimateLatency(r.values, engine.browserLatencyMs()), heard: r.values.length };
    state.latencyEstimate = est;
    setText($('latency-failed-text'), `The measurement did not work (after ${r.seconds.toFixed(0)} s): ${r.reason}.`);
    setText($('latency-estimate-text'), `You can sing anyway with an estimated latency of ${est.ms} ms, from ${estimateSource(est.source, est.heard)}. `
      + 'Your voice may then land a little early or late; "Measure my latency again" stays in the Song card.');
    setText($('latency-estimate'), `Sing with ${est.ms} ms (estimated)`);
    show($('latency-failed'), true);
    $('latency-estimate').focus();
  }
}

// The timing watch: Apply (ours or, for the leader and the organiser,
// another singer's) goes out on the next request; the singer's answer
// then carries timing_apply (applyTiming). Our own button waits for it
// this long before it may be pressed again.
const APPLY_WAIT_MS = 5000;

function askTimingApply(id) {
  if (!conn || !id) return;
  conn.queueTimingApply(id);
  if (id === state.publicId) state.timingAskedAt = Date.now();
  log(`applying the measured timing of singer ${id}`);
  renderApp();
}

// The server says to apply our measured offset: the latency grows by it
// (a late voice is then stamped, and lands, earlier: timingwatch.js), and
// the connection starts over, since the worklet takes the compensation
// when capture starts. The new latency is kept for a reload.
function applyTiming(apply) {
  const before = state.latencyMs ?? ASSUMED_LATENCY_MS;
  const after = appliedLatency(before, apply);
  state.timingAskedAt = 0;
  if (after === null || after === before) return;
  state.latencyMs = after;
  state.timingAdjustedMs = addAdjustment(state.timingAdjustedMs, before, after);
  state.timingOwn = null;
  saveMe();
  const moved = after - before;
  const text = `Your timing was adjusted: your voice now lands ${Math.round(Math.abs(moved))} ms ${moved > 0 ? 'earlier' : 'later'} (latency ${after.toFixed(1)} ms).`;
  log(text);
  toast(text, 8000);
  engine.config({ compensation: writeCompensation(after) });
  conn.reconnect(null, 'timing applied');
}

// After the latency step: the volume step the first time, straight back
// to singing when measuring again.
function afterLatency() {
  if (state.appStarted) startApp();
  else showStep('step-volume');
}

// Measuring again from the app: the connection stops (the worklet cannot
// beep and sing at once) and starts again afterwards at the same place.
function recalibrate() {
  if (!conn || state.listenOnly) return;
  conn.stop();
  state.recalibrating = true;
  show($('app'), false);
  show($('setup'), true);
  show($('latency-failed'), false);
  show($('latency-result'), false);
  setText($('latency-progress'), '');
  show($('latency-back'), true);
  setText($('latency-back'), `Back to singing (keep ${(state.latencyMs ?? ASSUMED_LATENCY_MS).toFixed(1)} ms)`);
  showStep('step-latency');
  log('measuring the latency again');
}

async function runVolume() {
  $('volume-start').disabled = true;
  const job = measureVolume(engine, {
    onLevel: (v, db, count) => {
      $('volume-meter').value = Math.max(-60, db);
      setText($('volume-progress'), `Level ${db.toFixed(0)} dB (${count} of 18)`);
    },
  });
  const r = await job;
  state.inputGain = r.gain;
  log(`input gain ${r.gain.toFixed(2)}`);
  startApp();
}

// -------------------------------------------------------------- the app

function startApp() {
  show($('setup'), false);
  $('main').classList.add('running');
  show($('app'), true);
  if (state.appStarted) {
    // Back from measuring again: the same connection, started over.
    state.recalibrating = false;
    show($('latency-back'), false);
    show($('listen-note'), state.listenOnly);
    $('mic-mute').disabled = state.listenOnly;
    engine.config({ spectator: state.listenOnly, compensation: writeCompensation(state.latencyMs ?? ASSUMED_LATENCY_MS) });
    engine.setMode('run');
    conn.start(state.offset);
    renderApp();
    return;
  }
  state.appStarted = true;
  if (state.returning) $('offset').value = state.offset;
  presence.singing(state.name);
  show($('other-tab'), false);
  setInterval(saveMe, 5000);
  window.addEventListener('pagehide', saveMe);
  show($('listen-note'), state.listenOnly);
  $('mic-mute').disabled = state.listenOnly;
  $('lead').disabled = state.listenOnly;
  engine.config({
    spectator: state.listenOnly,
    inputGain: state.inputGain,
    compensation: writeCompensation(state.latencyMs ?? ASSUMED_LATENCY_MS),
    micMuted: false,
    speakerMuted: false,
  });
  engine.setMode('run');
  words = setupWords($('words-card'), {
    engine,
    url: (name, extra = {}) => withRoom(endpointUrl(api(), name), state.room, { userid: state.userid, ...extra }),
    log,
    notice: (text) => { log(text); toast(text); },
  });
  if (TEST) window.bbTest.words = words;
  conn = new Connection({
    api,
    room: () => state.room,
    onRefused,
    userid: state.userid,
    username: () => state.name,
    calib: () => calibParam(state.calibration, state.latencyMs),
    listenOnly: () => state.listenOnly,
    // Whatever keeps our voice out of the mix is told to the server, which
    // then neither adds it nor counts it (a muted singer must not make the
    // others quieter).
    muted: () => state.micMuted || state.lagMuted || state.monitoring,
    codec,
    engine,
    onMetadata,
    onStatus,
    log,
  });
  $('offset').value = state.offset;
  conn.start(state.offset);
  engine.on('stall', (m) => conn.reconnect(null, `the audio clock slipped ${m.seconds.toFixed(2)} s`));
  // A phone can suspend audio (a call, the screen off). The clocks are
  // stale afterwards, so start the connection over when it runs again.
  let wasRunning = engine.ctx.state === 'running';
  engine.ctx.addEventListener('statechange', () => {
    const running = engine.ctx.state === 'running';
    if (running && !wasRunning) conn.reconnect(null, 'audio resumed');
    wasRunning = running;
  });
  setInterval(renderDebug, 250);
  setInterval(renderSong, 500);
  keepAwake();
  renderApp();
  $('lead').focus();
}

// A phone must not sleep mid-song: hold a screen wake lock while the page
// is visible (it is released whenever the page is hidden).
async function keepAwake() {
  if (!navigator.wakeLock) return;
  const take = async () => {
    try {
      await navigator.wakeLock.request('screen');
    } catch {
      // not allowed now (battery saver, hidden page): nothing to do
    }
  };
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') take();
  });
  await take();
}

function onStatus({ state: s, message, http }) {
  state.connection = s;
  state.connectionMessage = message;
  // A full room is no lost connection: say so, and offer to listen.
  if (s === 'connected') state.roomFull = false;
  else if (http) {
    state.roomFull = refusalKind(http.status, http.message) === 'full';
    if (state.roomFull) setText($('room-full-text'), capitalise(http.message) + '.');
  }
  const text = { connected: 'Connected', connecting: 'Connecting…', resyncing: 'Resynchronising…', offline: 'Offline' }[s] || s;
  setText($('status'), state.roomFull ? 'The room is full' : text);
  show($('room-full'), state.roomFull);
  show($('offline'), s === 'offline' && !state.roomFull);
  if (s === 'offline') setText($('offline-text'), `Reconnecting automatically… (${message})`);
}

function capitalise(text) {
  const t = String(text || '').replace(/[.\s]+$/, '');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

// A 403 from the server: final (the page shows the refusal) unless it
// answers a request made with a key we no longer use, or comes while our
// own new key is being switched to.
function onRefused({ message, key }) {
  if (state.room && key !== state.room.key) return false;
  if (Date.now() < state.keyGraceUntil) return false;
  showRefused(message);
  return true;
}

// The organiser's part of the console (ui/moderate.js).
function renderModeration(rows) {
  if (!moderation) return;
  moderation.render({
    organiser: state.role === 'organiser' && !!state.levels, self: state.publicId, rows, leader: state.leader,
    leaderName: state.amLeader ? state.name : state.leaderName, removed: state.removed || [],
  });
}

function setupModerationView() {
  const send = (key, what) => (id) => {
    if (!conn) return;
    conn.queue(key, id);
    log(`${what} singer ${id}`);
  };
  moderation = setupModeration({
    remove: send('remove', 'removing'), letBack: send('letBack', 'letting back in'), appoint: send('appoint', 'appointing'),
  });
}

// What the server says to a singer the organiser removed (fcgi/api.c).
const REMOVED_RE = /^the organiser removed you/i;

// The whole page becomes the refusal: no setup, no app, no sound.
function showRefused(message) {
  if (state.refused) return;
  state.refused = true;
  log(`refused: ${message}`);
  stopEverything();
  for (const id of ['setup', 'app', 'opening', 'organiser-card', 'offline', 'room-full', 'lag', 'recordings-link']) show($(id), false);
  if (message) setText($('refused-title'), capitalise(message));
  if (!state.room) setText($('refused-text'), "This is the server's own address, not a room's: singing here needs the link of a room.");
  if (REMOVED_RE.test(message || '')) {
    setText($('refused-text'), 'You are no longer in this room, and this browser cannot come back in with the singers\' link until the organiser lets you in again.');
    setText($('refused-todo'), 'What to do: if you think this is a mistake, ask the organiser to let you back in, then try again.');
    setText($('refused-retry'), 'Try again');
    show($('role-name'), false);
  }
  show($('refused'), true);
  setText($('status'), 'Not in a room');
  show($('leader-line'), false);
  show($('user-count'), false);
  $('refused-retry').focus();
}

function moveTo(offset, why) {
  state.offset = offset;
  saveMe();
  $('offset').value = offset;
  conn.reconnect(offset, why);
}

function onMetadata(m, req) {
  state.lastMeta = m;
  state.lastReq = req;
  const before = { amLeader: state.amLeader, leader: state.leader, leaderName: state.leaderName };
  if (typeof m.role === 'string') state.role = m.role;
  if (Array.isArray(m.refused)) {
    for (const why of m.refused) {
      log(`refused: ${why}`);
      toast(capitalise(why) + '.');
    }
  }
  if (m.public_id != null) state.publicId = String(m.public_id);
  if (Array.isArray(m.user_summary)) state.users = parseUserSummary(m.user_summary);
  state.levels = Array.isArray(m.levels) ? m.levels : null;
  state.solo = Array.isArray(m.solo) ? m.solo.map(String) : [];
  state.removed = removedList(m.removed);
  if (Array.isArray(m.buckets)) state.buckets = m.buckets.filter(Number.isFinite);
  if (Array.isArray(m.tracks)) state.tracks = m.tracks.map(String);
  if (m.n_users != null) state.nUsers = m.n_users;
  state.amLeader = isLeader(m, state.userid, state.publicId);
  // The server names the leader by our secret userid when it is us; the
  // lists know everyone by public id.
  state.leader = m.leader == null ? null : state.amLeader ? state.publicId : String(m.leader);
  state.leaderName = m.leader_name ? String(m.leader_name) : '';
  state.songStart = m.song_start_clock || null;
  state.songEnd = m.song_end_clock || null;
  restoreAfterReturn();
  state.songTrack = typeof m.song_track === 'string' ? m.song_track : '';
  state.songMetronome = Number.isInteger(m.song_metronome) ? m.song_metronome : 0;
  state.recording = m.recording === true;
  if ('bpm' in m) state.bpm = Number.isInteger(m.bpm) ? m.bpm : 0;
  const taken = leadTakenNotice(before, state);
  if (taken) {
    log(taken);
    toast(taken, 10000);
    chatLine('', taken, 'notice');
  }
  for (const c of m.chats) {
    if (Array.isArray(c) && c.length >= 2) chatLine(String(c[0]), String(c[1]));
  }
  if (Array.isArray(m.events)) state.events = m.events;
  state.timingOwn = ownLine(m.timing);
  state.timingFlags = flagMap(m.timing_flags);
  if (m.timing_apply) applyTiming(m.timing_apply);
  if (words) {
    if (m.words_cues) words.onCues(m.words_cues);
    words.setCanLead(state.amLeader || state.role === 'organiser');
  }
  for (const k of ['bpm', 'repeats', 'bpr']) {
    if (k in m && m[k] != null && document.activeElement !== $(k)) $(k).value = m[k] ? m[k] : '';
  }
  if ('bpm' in m && document.activeElement !== $('track-bpm')) $('track-bpm').value = state.bpm ? String(state.bpm) : '';
  checkLag(m, req);
  if (Number.isInteger(m.delay_seconds) && m.delay_seconds > 0) {
    moveTo(m.delay_seconds, `the server moved us to ${m.delay_seconds} s`);
  }
  renderApp();
}

// Mute for lag. Our voice for timeline position X must reach the server
// before the singers of the next bucket ask for X, which they do about
// their offset after X. So what counts is how old our audio is when it
// arrives, beyond our own offset: "lateness" = (server clock at arrival -
// write clock + one batch) - our offset, in seconds. It must stay below the
// gap to the next bucket (3 s by default). Past that the microphone is
// muted, with a message, because our voice would only throw the others
// off; it unmutes once lateness is back under the limit. When the cause is
// our own buffering (the "total time consumed" alone is too high) the
// connection also resynchronises, at most every LAG_RESYNC_MS, which
// rebuilds the buffers from the current network delay.
const LAG_RESYNC_MS = 15000;
function checkLag(m, req) {
  if (state.listenOnly || req.writeClock == null || !Number.isSafeInteger(m.server_clock)) return;
  const lateness = (m.server_clock - req.writeClock + req.nSamples) / SERVER_RATE - req.offset;
  const consumed = totalTimeConsumed(req.readClock, req.writeClock, req.nSamples);
  state.lateness = lateness;
  const gap = bucketGap(req.offset);
  const limit = gap - 0.1;
  if (lateness > limit) {
    if (!state.lagMuted) log(`lag: ${lateness.toFixed(2)} s late (consumed ${consumed.toFixed(2)} s), limit ${limit.toFixed(2)} s`);
    state.lagMuted = true;
    setText($('lag'), `Your connection is too slow right now: your voice reaches the server ${lateness.toFixed(1)} s after the music you hear, and the next bucket listens ${gap} s after you. Your microphone is muted so you don't throw them off; it comes back by itself when the connection catches up.`);
    if (consumed > limit - 0.2 && Date.now() - state.lastLagResync > LAG_RESYNC_MS) {
      state.lastLagResync = Date.now();
      conn.reconnect(null, 'lag');
    }
  } else if (lateness <= limit - 0.1 && state.lagMuted) {
    state.lagMuted = false;
    log('lag: back in time, microphone on again');
  }
  applyMute();
}

// The gap in seconds from the bucket at offset to the next one (3 s when
// the server sent no layout, or for the last bucket).
function bucketGap(offset) {
  const b = state.buckets;
  if (b.length > 1) {
    for (let i = 0; i < b.length - 1; i++) {
      if (Math.abs(b[i] - offset) < 1.5) return b[i + 1] - b[i];
    }
  }
  return 3;
}

function applyMute() {
  engine.config({ micMuted: state.micMuted || state.lagMuted || state.monitoring, speakerMuted: state.speakerMuted });
  show($('lag'), state.lagMuted);
}

function me() {
  return state.users.find((u) => u.id === state.publicId) || null;
}

// Which controls this person has now (room.js controlsFor).
function controls() {
  return controlsFor({
    inRoom: !!state.room,
    role: state.role,
    amLeader: state.amLeader,
    leaderPresent: state.leader != null,
    uploads: state.roomInfo ? state.roomInfo.uploads : true,
    songOn: !!state.songStart && !songOver(),
  });
}

const ROLE_TEXT = {
  organiser: 'You are the organiser', leader: 'You lead', singer: 'You sing', listener: 'You listen',
};

// The room's name, the person's role and the organiser's card: shown from
// the room's first answer on, before the setup too.
function renderRoom() {
  if (!state.room || !state.roomInfo || state.refused) return;
  show($('room-line'), true);
  setText($('room-name'), state.roomInfo.name);
  setText($('role-name'), `· ${ROLE_TEXT[state.role] || state.role}`);
  const organiser = controls().organiser;
  show($('organiser-card'), organiser);
  if (organiser) renderOrganiserCard(state.roomInfo.max_singers);
}

function renderApp() {
  // Header.
  const leaderLabel = state.amLeader ? 'you' : state.leaderName || (state.users.find((u) => u.id === state.leader) || {}).name || '';
  show($('leader-line'), !!state.leader);
  setText($('leader-name'), leaderLabel);
  if (state.nUsers != null) {
    show($('user-count'), true);
    setText($('user-count'), `${state.nUsers} ${state.nUsers === 1 ? 'singer' : 'singers'} here`);
  }
  renderRoom();
  renderTiming({
    calibration: state.calibration, latencyMs: state.latencyMs, seconds: state.latencySeconds, source: state.latencySource,
    adjustedMs: state.timingAdjustedMs,
  }, state.listenOnly, state.timingOwn, Date.now() < state.timingAskedAt + APPLY_WAIT_MS);
  // Song: the lead button follows the server's view; in a room, each role
  // sees the controls it has.
  const c = controls();
  const lead = $('lead');
  if (c.lead === 'take') setText(lead, 'Take the lead');
  else if (c.lead === 'stop') setText(lead, 'Stop the song');
  else if (c.lead !== 'leading') setText(lead, 'Lead a song');
  else if (!state.songStart) setText(lead, 'Start singing');
  else if (songOver()) setText(lead, 'Lead a new song');
  else setText(lead, 'Stop singing');
  lead.disabled = state.listenOnly || Date.now() < (state.leadBusyUntil || 0);
  // In a room, who leads is known from the first answer on.
  const leadShown = c.lead !== 'none' && (!state.room || state.lastMeta !== null);
  show(lead, leadShown);
  show($('lead-buttons'), leadShown || (state.amLeader && !state.songStart));
  show($('lead-hint'), c.lead === 'none');
  if (c.lead === 'none') setText($('lead-hint'), `${leaderLabel} leads the song. You can lead once nobody does.`);
  show($('settings-card'), c.leader);
  document.body.classList.toggle('no-leader-controls', !c.leader);
  show($('upload-form'), c.upload);
  show($('leader-people'), c.leader);
  show($('my-mic-form'), !state.listenOnly);
  show($('track-wrap'), state.amLeader && !state.songStart);
  show($('track-bpm-wrap'), state.amLeader && !state.songStart && $('track').value === METRONOME_TRACK);
  $('jump-end').disabled = state.amLeader;
  const sel = $('track');
  const names = [TRACK_PLACEHOLDER, ...state.tracks];
  if (sel.options.length !== names.length || [...sel.options].some((o, i) => o.value !== names[i])) {
    const keep = sel.value;
    sel.replaceChildren(...names.map((t) => el('option', { attrs: { value: t }, text: t })));
    if (names.includes(keep)) sel.value = keep;
  }
  renderSong();
  const rows = state.levels ? consoleRows(state.users, state.levels, state.timingFlags, state.solo) : [];
  if (consoleView) consoleView.render(rows, !!state.levels, state.solo);
  renderModeration(rows);
  const mine = me();
  if (mine && document.activeElement !== $('my-mic-volume')) $('my-mic-volume').value = String(mine.micVolume);
  state.monitoring = !!(mine && mine.isMonitoring);
  show($('monitoring-note'), state.monitoring);
  if (state.monitoring) {
    const who = state.users.find((u) => u.isMonitored);
    setText($('monitoring-note'), `You are monitoring ${who ? who.name : 'a singer'}; your microphone is off meanwhile.`);
  }
  applyMute();
  // Buckets, people, monitoring: rebuilt only when they change, so that a
  // keyboard user's focus on a Join button survives the next response.
  const key = JSON.stringify([state.users, state.buckets, state.publicId, state.offset, state.leader]);
  if (key === state.renderedKey) return;
  state.renderedKey = key;
  renderBuckets($('buckets'), state.users, state.buckets, {
    myId: state.publicId, myOffset: state.offset, leaderId: state.leader,
    onJoin: (d) => moveTo(d, `joined the ${d} s bucket`),
  });
  renderPeople($('people'), state.users, state.publicId);
  renderMonitorSelect($('monitor-user'), state.users, state.publicId);
}

// The clock this singer hears now: the playback position, or before
// playback the read clock less the playback buffer (about a second).
function hearingClock() {
  const play = state.worklet ? state.worklet.playClock : -1;
  if (play >= 0) return play;
  return state.lastReq ? state.lastReq.readClock - SERVER_RATE - BATCH_SAMPLES : null;
}

// The song has ended where this singer is.
function songOver() {
  const c = hearingClock();
  return !!(state.songStart && state.songEnd && ((c !== null && c >= state.songEnd) || state.endSeen === state.songEnd));
}

// The song state line (ui/songstate.js); also run twice a second for the
// time into the song.
function renderSong() {
  const st = songStateOf({
    songStart: state.songStart, songEnd: state.songEnd, clock: hearingClock(),
    leader: state.leader, leaderName: state.leaderName, amLeader: state.amLeader,
    track: state.songTrack, metronomeBpm: state.songMetronome, recording: state.recording,
    wasThere: state.songSeen !== null && state.songSeen === state.songStart,
    endSeen: state.endSeen !== null && state.endSeen === state.songEnd,
  });
  if (st.phase === 'singing') state.songSeen = state.songStart;
  if (st.phase === 'ended') state.endSeen = state.songEnd;
  renderSongState(st);
  if (st.phase === 'ended' && state.amLeader && $('lead').textContent === 'Stop singing') setText($('lead'), 'Lead a new song');
}

function onWorkletStats(s) {
  state.worklet = s;
  // Timed events: show each once when playback reaches its clock.
  if (s.playClock >= 0) {
    for (const ev of state.events) {
      if (!ev || typeof ev.clock !== 'number' || state.firedEvents.has(ev.clock)) continue;
      if (s.playClock >= ev.clock && s.playClock - ev.clock < 2 * SERVER_RATE) {
        state.firedEvents.add(ev.clock);
        appendChat($('chat-log'), '', String(typeof ev.evid === 'string' ? ev.evid : JSON.stringify(ev.evid)), 'event');
      }
    }
  }
}

function renderDebug() {
  if (!$('debug').open) return;
  const s = state.worklet || {};
  const n = conn ? conn.stats : {};
  setText($('d-rate'), engine ? `${engine.sampleRate} Hz` : '');
  setText($('d-codec'), codec ? codec.kind : '');
  setText($('d-in-peak'), s.inPeak != null ? s.inPeak.toFixed(3) : '');
  setText($('d-out-peak'), s.outPeak != null ? s.outPeak.toFixed(3) : '');
  setText($('d-gain'), state.inputGain.toFixed(2));
  setText($('d-batch'), `${BATCH_SAMPLES} samples (${samplesToMs(BATCH_SAMPLES)} ms)`);
  setText($('d-latency'), state.latencyMs != null ? `${state.latencyMs.toFixed(1)} ms` : 'not measured');
  const consumed = totalTimeConsumed(n.readClock, n.writeClock, BATCH_SAMPLES);
  setText($('d-consumed'), consumed != null ? `${consumed.toFixed(2)} s` : '(not sending audio)');
  setText($('d-lateness'), state.lateness != null ? `${state.lateness.toFixed(2)} s` : '');
  const slip = readSlippage(n.lastServerClock, n.readClock, state.offset);
  setText($('d-slippage'), slip != null ? `${slip.toFixed(2)} s` : '');
  setText($('d-buffer'), s.buffered != null ? `${samplesToMs(s.buffered).toFixed(0)} ms` : '');
  setText($('d-underruns'), s.underruns != null ? String(s.underruns) : '');
  setText($('d-rtt'), n.rttMs != null ? `${n.rttMs.toFixed(0)} ms` : '');
  setText($('d-clocks'), `${n.readClock ?? '-'} / ${n.writeClock ?? '-'}`);
  setText($('d-errors'), String(n.errors ?? 0));
}

function setupAppControls() {
  $('lead').addEventListener('click', async () => {
    if (controls().lead === 'stop') {
      // The song's leader has gone: the organiser stops it.
      if (conn) conn.queue('markStop', true);
    } else if (controls().lead === 'take') {
      // The organiser takes the lead from whoever has it: ask first.
      const who = state.leaderName || 'Someone';
      const then = state.songStart ? 'The song goes on, and they are told that you took it.' : 'They are told that you took it.';
      const ok = await askConfirm(`${who} is leading now. Take the lead from them? ${then}`, 'Take the lead');
      if (!ok || !conn) return;
      conn.queue('requestLead', true);
    } else if (!state.amLeader || (state.songStart && songOver())) conn.queue('requestLead', true);
    else if (!state.songStart) {
      // A metronome with no tempo would click nothing: the server refuses
      // it too, but the tempo field is right here. A tempo this page just
      // sent (in either field) counts before the server's answer says so.
      const tempo = state.bpm > 0 || Number($('track-bpm').value) > 0 || Number($('bpm').value) > 0;
      if ($('track').value === METRONOME_TRACK && !tempo) {
        toast('Set the metronome\'s BPM first, beside the track choice.');
        $('track-bpm').focus();
        return;
      }
      conn.queue('markStart', true);
    } else conn.queue('markStop', true);
    state.leadBusyUntil = Date.now() + 1500;
    $('lead').disabled = true;
    setTimeout(renderApp, 1600);
  });
  $('track').addEventListener('change', () => {
    if ($('track').value !== TRACK_PLACEHOLDER) conn.queue('track', $('track').value);
    renderApp();
  });
  $('track-bpm').addEventListener('change', () => {
    const v = numberIn($('track-bpm'), 1, 500, { integer: true, message: 'A whole number from 1 to 500' });
    if (v !== null && conn) conn.queue('bpm', v);
  });
  $('mic-mute').addEventListener('click', () => {
    state.micMuted = !state.micMuted;
    $('mic-mute').setAttribute('aria-pressed', String(state.micMuted));
    setText($('mic-mute'), state.micMuted ? 'Unmute microphone' : 'Mute microphone');
    applyMute();
  });
  $('speaker-mute').addEventListener('click', () => {
    state.speakerMuted = !state.speakerMuted;
    $('speaker-mute').setAttribute('aria-pressed', String(state.speakerMuted));
    setText($('speaker-mute'), state.speakerMuted ? 'Unmute speaker' : 'Mute speaker');
    applyMute();
  });
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('chat-input').value.trim();
    if (!text || !conn) return;
    conn.queueChat(text);
    chatLine(state.name, text);
    $('chat-input').value = '';
  });
  $('offset-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = parseOffset($('offset').value);
    if (v === null) {
      $('offset').setCustomValidity(`A whole number of seconds from ${MIN_OFFSET_S} to ${MAX_OFFSET_S}`);
      $('offset').reportValidity();
      return;
    }
    $('offset').setCustomValidity('');
    moveTo(v, `moved to ${v} s`);
  });
  $('jump-end').addEventListener('click', () => moveTo(MAX_OFFSET_S, 'jump to the end'));
  for (const b of document.querySelectorAll('#rounds [data-send]')) {
    b.addEventListener('click', () => {
      const k = b.dataset.send;
      const input = $(k);
      const v = Number(input.value);
      if (!Number.isInteger(v) || v < Number(input.min) || v > Number(input.max)) {
        input.setCustomValidity(`A whole number from ${input.min} to ${input.max}`);
        input.reportValidity();
        return;
      }
      input.setCustomValidity('');
      conn.queue(k, v);
    });
  }
  for (const [id, key] of [['global-volume', 'volume'], ['backing-volume', 'backingVolume']]) {
    const input = $(id);
    input.addEventListener('input', () => setText($(id + '-out'), Number(input.value).toFixed(2)));
    input.addEventListener('change', () => conn.queue(key, String(clampFriendly(input.value))));
  }
  $('monitor-begin').addEventListener('click', () => {
    const id = $('monitor-user').value;
    if (id) conn.queue('monitor', id);
  });
  $('monitor-end').addEventListener('click', () => conn.queue('monitor', 'end'));
  $('mic-volume-apply').addEventListener('click', () => {
    const id = $('monitor-user').value;
    const v = Number($('mic-volume').value);
    if (!id || !Number.isFinite(v) || v < 0 || v > 2) {
      $('mic-volume').setCustomValidity('A number from 0 to 2');
      $('mic-volume').reportValidity();
      return;
    }
    $('mic-volume').setCustomValidity('');
    conn.queueMicVolume(id, v);
  });
  $('my-mic-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = numberIn($('my-mic-volume'), 0, 2, { message: 'A number from 0 to 2' });
    if (v !== null && conn && state.publicId) conn.queueMicVolume(state.publicId, v);
  });
  $('room-full-listen').addEventListener('click', listenInstead);
  $('refused-retry').addEventListener('click', () => location.reload());
  $('tab-moved-reload').addEventListener('click', () => location.reload());
  $('opening-retry').addEventListener('click', () => openRoom());
  $('upload-form').addEventListener('submit', uploadTrack);
  $('upload-file').addEventListener('change', () => {
    const f = $('upload-file').files[0];
    if (f && !$('upload-name').value) $('upload-name').value = f.name.replace(/\.[^.]+$/, '');
  });
  $('server-path-apply').addEventListener('click', () => conn && conn.reconnect(null, `server path ${api()}`));
  $('codec-choice').value = store.get('codec');
  $('codec-choice').addEventListener('change', () => store.set('codec', $('codec-choice').value));
  $('event-fire').addEventListener('click', () => {
    const evid = $('event-id').value.trim();
    const play = state.worklet ? state.worklet.playClock : -1;
    if (!evid || play < 0 || !conn) return;
    const offset = Number($('event-offset').value) || 0;
    conn.queueEvent(evid, play - Math.round(offset * SERVER_RATE));
  });
  $('no-tutorial').checked = store.get('noTutorial') === '1';
  $('no-latency').checked = store.get('noLatency') === '1';
  $('no-tutorial').addEventListener('change', () => store.set('noTutorial', $('no-tutorial').checked ? '1' : ''));
  $('no-latency').addEventListener('change', () => store.set('noLatency', $('no-latency').checked ? '1' : ''));
  $('debug').addEventListener('toggle', renderDebug);
  // The room's recordings page, from the site's root; its key stays in the fragment (and follows a new one).
  const recordingsHref = () => new URL(state.room ? `${state.room.root}recordings.html?room=${encodeURIComponent(state.room.id)}#${encodeURIComponent(state.room.key)}` : 'recordings.html', location.href).href;
  $('recordings-link').href = recordingsHref();
  $('recordings-link').addEventListener('click', (e) => { e.currentTarget.href = recordingsHref(); });
}

async function uploadTrack(e) {
  e.preventDefault();
  const f = $('upload-file').files[0];
  const name = $('upload-name').value.trim();
  const out = $('upload-result');
  if (!f || !name) {
    setText(out, 'Choose a file and give it a name.');
    return;
  }
  setText(out, 'Uploading…');
  try {
    // The server lets the leader (named by the secret userid) upload.
    const r = await fetch(withRoom(endpointUrl(api(), 'upload'), state.room, { name, userid: state.userid }), {
      method: 'POST', body: f, headers: { 'Content-Type': f.type || 'application/octet-stream' },
    });
    let j = {};
    try { j = await r.json(); } catch { /* not JSON */ }
    if (r.ok && j.track) setText(out, `Added "${j.track}". The leader can choose it now.`);
    else setText(out, `Upload failed: ${j.error || 'HTTP ' + r.status}`);
  } catch (err) {
    setText(out, `Upload failed: ${err.message}`);
  }
}

// The room is full: listen instead (a listener takes no singer's place).
function listenInstead() {
  state.listenOnly = true;
  if (engine) {
    engine.stopMic();
    engine.config({ spectator: true });
  }
  state.roomFull = false;
  show($('room-full'), false);
  show($('listen-note'), true);
  $('mic-mute').disabled = true;
  log('listening only: the room is full');
  if (conn) conn.reconnect(null, 'listening only');
}

// A room's page asks for its room first (GET /api/room): the name to show
// and the role. Until the answer the setup stays hidden, so that nobody sets
// up their microphone for a link that opens nothing. A 403 is the refusal
// page; a 503 (the room's timeline is still starting) is asked again a few
// times; anything else that fails can be retried with a button.
const ROOM_TRIES = 5;
async function openRoom() {
  show($('opening'), true);
  show($('opening-retry'), false);
  setText($('opening-text'), 'Opening the room…');
  let why;
  try {
    let r;
    for (let i = 0; i < ROOM_TRIES; i++) {
      if (i) await new Promise((ok) => { setTimeout(ok, 1000); });
      // With our userid: a singer the organiser removed is told so here,
      // before any setup (a returning singer keeps their userid).
      r = await fetch(withRoom(endpointUrl(api(), 'room'), state.room, { userid: state.userid }), { cache: 'no-store' });
      if (r.status !== 503) break;
    }
    let j = {};
    try { j = await r.json(); } catch { /* not JSON */ }
    if (r.status === 403) {
      showRefused(j.error || '');
      return;
    }
    if (r.ok && typeof j.name === 'string') {
      state.roomInfo = j;
      state.role = j.role;
      document.title = `${j.name} · Bucket Brigade`;
      show($('opening'), false);
      show($('setup'), true);
      showStep(firstStep());
      renderRoom();
      log(`room ${j.room}, role ${j.role}`);
      return;
    }
    why = j.error || `the server answered ${r.status}`;
  } catch (e) {
    why = `the server could not be reached (${e.message})`;
  }
  setText($('opening-text'), `The room could not be opened: ${why}. Check your connection and try again.`);
  show($('opening-retry'), true);
  $('opening-retry').focus();
}

// The default room's page goes on at once, as it always did; only a server
// that serves no default room (it answers 403) turns it into the refusal.
async function checkDefaultRoom() {
  try {
    const r = await fetch(endpointUrl(api(), 'room'), { cache: 'no-store' });
    if (r.status !== 403) return;
    let j = {};
    try { j = await r.json(); } catch { /* not JSON */ }
    showRefused(j.error || '');
  } catch {
    // unreachable now: the connection says so when it starts
  }
}

// A room's page: the setup waits for the room's answer, and the organiser's
// card is wired (shown once the role is known).
function setupRoom() {
  show($('setup'), false);
  // A new link for this room differs only in its fragment, which the
  // browser opens without loading the page again: load it.
  window.addEventListener('hashchange', () => location.reload());
  // The skip link must not put "#main" where the key is.
  $('skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    $('main').focus();
  });
  setupOrganiserCard({
    api,
    room: () => state.room,
    store,
    onNewKey: (which, key) => {
      if (which !== 'organiser') return;
      state.room.key = key;
      state.keyGraceUntil = Date.now() + KEY_GRACE_MS;
      history.replaceState(null, '', location.pathname + location.search + '#' + key);
    },
    onCap: (n) => { state.roomInfo.max_singers = n; },
  });
  openRoom();
}

function checkBrowser() {
  const missing = [];
  if (typeof AudioWorkletNode === 'undefined') missing.push('AudioWorklet');
  if (!window.isSecureContext) missing.push('a secure (https) page');
  if (!navigator.mediaDevices) missing.push('microphone access');
  if (missing.length) {
    setText($('browser-warning-text'), `This browser lacks ${missing.join(', ')}. Please use a current Chrome, Firefox or Safari over https.`);
    show($('browser-warning'), true);
  }
  $('browser-warning-close').addEventListener('click', () => show($('browser-warning'), false));
}

function exposeTestHooks() {
  window.bbTest = {
    state,
    engine,
    codecKind: () => codec && codec.kind,
    toneLevel: (hz) => engine.toneLevel(hz),
    net: () => conn && conn.stats,
    latency: () => state.latencyResult || null,
  };
}

function main() {
  installCrashScreen(snapshot, stopEverything);
  // Some browsers (Safari) start an AudioContext suspended unless it is
  // resumed straight from a click; any later click or key resumes it.
  for (const ev of ['pointerdown', 'keydown']) {
    document.addEventListener(ev, () => {
      if (engine && engine.ctx && engine.ctx.state === 'suspended') engine.ctx.resume();
    });
  }
  checkBrowser();
  presence = watchPresence(ROOM_KEY, {
    otherTab: (name) => {
      if (state.appStarted) return;
      setText($('other-tab-text'), `You are already in this room in another tab of this browser${name ? ` (as ${name})` : ''}. If you go on here, that tab stops: one person sings from one tab.`);
      show($('other-tab'), true);
    },
    takenOver: tabTakenOver,
  });
  setupSteps();
  setupAppControls();
  setupTiming(recalibrate, () => askTimingApply(state.publicId));
  consoleView = setupConsole({
    mute: (id, muted, volumeBefore) => {
      if (!conn) return;
      conn.queueMicVolume(id, muted ? 0 : volumeBefore);
      log(`${muted ? 'muting' : 'unmuting'} singer ${id}`);
    },
    applyTiming: askTimingApply,
    solo: (ids) => {
      if (!conn) return;
      conn.queueSolo(ids);
      log(ids.length ? `hearing singers ${ids.join(', ')} alone` : 'hearing everyone again');
    },
    notice: (text) => { log(text); toast(text); },
  });
  setupModerationView();
  setupReturning();
  showStep(firstStep());
  if (state.room) setupRoom();
  else checkDefaultRoom();
  if (TEST) window.bbTestReady = true;
}

main();
