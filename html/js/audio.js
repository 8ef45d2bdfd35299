// audio.js: the page's Web Audio graph around the "bb-io" worklet.
//
//   microphone ──► MediaStreamSource ──► bb-io ──► limiter ──► destination
//
// The limiter (limiter.js) keeps what we play within full scale.
//
// The AudioContext runs at 48 kHz, the server's rate, whatever the device
// does: the browser resamples at its edges. Where the browser cannot
// (Firefox will not connect a microphone running at another rate), the
// context runs at the device's rate and the worklet converts. Either way
// every clock outside the worklet counts server samples.
//
// The microphone is opened with echo cancellation, noise suppression and
// automatic gain control off: all three are built for speech calls and
// damage sustained sung notes (here a sung tone lost 20 dB to them).
//
// A context that does not start running within START_TIMEOUT_MS means the
// browser has no sound output: Firefox with no audio device or sound server
// neither runs the context nor fails resume(), so the page would wait
// forever. create() then fails with an AudioOutputError the page shows.
//
// Stalls. When the browser's audio thread does not get to run in time (a
// busy machine), the device plays a gap and the context's clock loses that
// time for good. Everything counted in it falls behind the server's clock
// by as much: our voice then reaches the server that much later, past the
// limit after a stall of a few tenths of a second, and the page mutes it for
// lag; it never catches up by itself. So at every worklet statistics
// message (each 100 ms of audio) the audio clock's progress is compared
// with the wall clock's, and once they have differed by STALL_S for a
// second the engine reports a "stall" (the page starts its connection
// over, which sets the clocks afresh). A slow drift between the sound card's crystal and the
// computer's clock adds up the same way and is reported the same way.
//
// Test hooks (only when the page is opened with ?test=1, see main.js):
// - loopbackDelay: instead of the microphone, the worklet's own output is
//   fed back to its input through a DelayNode of that many seconds, so the
//   latency calibration can be checked against a known delay;
// - tap: an AnalyserNode on what goes to the speakers, read by toneLevel().

import { SERVER_RATE } from './clock.js';
import { createLimiter } from './limiter.js';

export const START_TIMEOUT_MS = 5000;
export const STALL_S = 0.25;
export const STALL_HOLD_S = 1;
// Gecko: getOutputTimestamp() and outputLatency query the audio graph
// synchronously (see outputTimestamp()).
const SYNC_GRAPH_QUERY = typeof navigator !== 'undefined' && /\bFirefox\//.test(navigator.userAgent || '');

/** The browser's sound output did not start; message says what to do. */
export class AudioOutputError extends Error {
  constructor() {
    super('Your browser could not start its sound output, so nothing can be played or recorded. '
      + 'Connect your headphones (and check that the computer\'s sound works), '
      + 'then restart the browser, open this page again and press Start.');
    this.name = 'AudioOutputError';
  }
}

/**
 * An error for a browser that lacks what we need, named
 * "BrowserUnsupportedError"; listenable: listening would still work.
 */
function unsupported(message, listenable = false) {
  const e = new Error(message);
  e.name = 'BrowserUnsupportedError';
  e.listenable = listenable;
  return e;
}

/** Constraints for getUserMedia; deviceId may be empty for the default. */
export function micConstraints(deviceId) {
  const audio = {
    echoCancellation: false,
    noiseSuppression: false,
    autoGainControl: false,
    channelCount: { ideal: 1 },
  };
  if (deviceId) audio.deviceId = { exact: deviceId };
  return { audio, video: false };
}

/**
 * Lists the audio input devices as [{deviceId, label}]. Labels are empty
 * until the page has been granted microphone access once.
 */
export async function listInputs() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return [];
  const all = await navigator.mediaDevices.enumerateDevices();
  return all.filter((d) => d.kind === 'audioinput').map((d, i) => ({
    deviceId: d.deviceId,
    label: d.label || (d.deviceId === 'default' ? 'Default microphone' : `Microphone ${i + 1}`),
  }));
}

/** Asks for microphone access (so that device labels appear). */
export async function requestMicAccess(deviceId) {
  const s = await navigator.mediaDevices.getUserMedia(micConstraints(deviceId));
  for (const t of s.getTracks()) t.stop();
}

export class AudioEngine {
  /**
   * Builds the graph. opts: {deviceId, listenOnly, test: {loopbackDelay,
   * tap}}. With listenOnly the microphone is not opened at all. Rejects
   * with the browser's error when the microphone or the worklet fails, and
   * with an AudioOutputError when the sound output does not start.
   */
  static async create(opts = {}) {
    const e = new AudioEngine();
    await e.init(opts);
    return e;
  }

  constructor() {
    this.listeners = new Map();
    this.ctx = null;
    this.node = null;
    this.stream = null;
    this.analyser = null;
    this.tapBuf = null;
    this.clockRef = null;
    this.outputDelayS = 0;
  }

  async init({ deviceId = '', listenOnly = false, test = {} }) {
    if (typeof AudioWorkletNode === 'undefined' || typeof AudioContext === 'undefined') {
      throw unsupported('This browser cannot run the choir\'s audio (it has no AudioWorklet).');
    }
    if (test.loopbackDelay == null && !listenOnly) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw unsupported('This page cannot reach a microphone here: browsers allow it only on a secure (https) page.', true);
      }
      this.stream = await navigator.mediaDevices.getUserMedia(micConstraints(deviceId));
    }
    // 48 kHz where the browser resamples the microphone for us; otherwise
    // (Firefox refuses a microphone at another rate) the device's own rate,
    // and the worklet converts. test.rate forces a rate, to test that path.
    const opts = { latencyHint: 'playback' };
    this.ctx = new AudioContext({ ...opts, sampleRate: test.rate || SERVER_RATE });
    if (this.stream) {
      try {
        this.source = this.ctx.createMediaStreamSource(this.stream);
      } catch (e) {
        if (e.name !== 'NotSupportedError') throw e;
        await this.ctx.close();
        this.ctx = new AudioContext(opts);
        this.source = this.ctx.createMediaStreamSource(this.stream);
      }
    }
    await this.ctx.audioWorklet.addModule(new URL('./worklet/bb-io.js', import.meta.url));
    this.node = new AudioWorkletNode(this.ctx, 'bb-io', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: 'explicit',
      channelInterpretation: 'speakers',
      processorOptions: { poolSize: 6 },
    });
    this.node.port.onmessage = (ev) => {
      if (ev.data.type === 'stats') this.checkClock();
      this.dispatch(ev.data);
    };
    this.watchClock();
    this.node.onprocessorerror = () => this.dispatch({ type: 'processor-error' });
    if (test.loopbackDelay != null) {
      this.loop = this.ctx.createDelay(2);
      this.loop.delayTime.value = Number(test.loopbackDelay);
      this.node.connect(this.loop);
      this.loop.connect(this.node);
    } else if (this.source) {
      this.source.connect(this.node);
    }
    const limiter = createLimiter(this.ctx);
    this.node.connect(limiter.input);
    limiter.output.connect(this.ctx.destination);
    if (test.tap) {
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 32768;
      limiter.output.connect(this.analyser);
      this.tapBuf = new Float32Array(this.analyser.fftSize);
    }
    let timer;
    const late = new Promise((res) => { timer = setTimeout(res, START_TIMEOUT_MS); });
    await Promise.race([this.ctx.resume(), late]);
    clearTimeout(timer);
    if (this.ctx.state !== 'running') {
      // Not awaited: closing a context that never ran may never finish.
      this.close().catch(() => {});
      throw new AudioOutputError();
    }
    this.outputDelayS = (Number(this.ctx.baseLatency) || 0) + (Number(this.ctx.outputLatency) || 0);
  }

  // A suspended context's clock stops on purpose: measure afresh whenever
  // the context's state changes.
  watchClock() {
    this.ctx.addEventListener('statechange', () => { this.clockRef = null; });
  }

  // Reports a "stall" {seconds} (how far the audio clock fell behind the
  // wall clock; negative when it ran ahead) once that has stayed past
  // STALL_S for STALL_HOLD_S, and measures from there on. The hold lets a
  // browser that renders the lost time quickly afterwards (WebKitGTK does)
  // catch up without a resync.
  checkClock() {
    const now = performance.now() / 1000;
    const t = this.ctx.currentTime;
    const ref = this.clockRef;
    if (!ref || this.ctx.state !== 'running') {
      this.clockRef = { now, t, since: 0 };
      return;
    }
    const behind = now - ref.now - (t - ref.t);
    if (Math.abs(behind) < STALL_S) {
      ref.since = 0;
    } else if (!ref.since) {
      ref.since = now;
    } else if (now - ref.since >= STALL_HOLD_S) {
      this.clockRef = { now, t, since: 0 };
      this.dispatch({ type: 'stall', seconds: behind });
    }
  }

  get sampleRate() {
    return this.ctx ? this.ctx.sampleRate : SERVER_RATE;
  }

  /**
   * {contextTime, performanceTime}: which context time leaves the device
   * at which moment of performance.now(). Chromium and WebKit time
   * getOutputTimestamp() at the device. Firefox answers it, and
   * outputLatency, with a synchronous query of its audio graph from the
   * page's own thread, which on a busy machine has left the page hung for
   * good; there it is currentTime less the latencies read once, when the
   * context started.
   */
  outputTimestamp() {
    const c = this.ctx;
    if (!SYNC_GRAPH_QUERY && c.getOutputTimestamp) return c.getOutputTimestamp();
    return { contextTime: c.currentTime - (this.outputDelayS || 0), performanceTime: performance.now() };
  }

  /** The microphone's settings as the browser applied them, or null. */
  micSettings() {
    const t = this.stream && this.stream.getAudioTracks()[0];
    return t ? t.getSettings() : null;
  }

  /**
   * What the browser reports of its own audio round trip, in ms: the
   * context's baseLatency and outputLatency and the microphone's latency
   * setting, each counted where the browser has it (0 when it has none).
   */
  browserLatencyMs() {
    const c = this.ctx || {};
    const mic = this.micSettings() || {};
    const s = (Number(c.baseLatency) || 0) + (Number(c.outputLatency) || 0) + (Number(mic.latency) || 0);
    return s * 1000;
  }

  /** Registers fn for worklet messages of the given type. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  dispatch(m) {
    const set = this.listeners.get(m.type);
    if (set) for (const fn of set) fn(m);
  }

  /** Switches the worklet: "idle", "run", "latency" or "volume". */
  setMode(mode) {
    this.node.port.postMessage({ type: 'mode', mode });
  }

  /** Sets worklet options: micMuted, speakerMuted, spectator, inputGain, compensation, beepGain. */
  config(opts) {
    this.node.port.postMessage({ type: 'config', ...opts });
  }

  /** Forgets playback and capture state (a new connection). */
  reset() {
    this.node.port.postMessage({ type: 'reset' });
  }

  /** Queues decoded audio starting at server clock for playback (transfers samples). */
  play(clock, samples) {
    this.node.port.postMessage({ type: 'play', clock, samples }, [samples.buffer]);
  }

  /** Gives a capture buffer back to the worklet's pool. */
  returnBuffer(buf) {
    this.node.port.postMessage({ type: 'return', buf }, [buf.buffer]);
  }

  /**
   * Test hook: the amplitude of the hz component in the last fftSize output
   * samples (Goertzel), 0 when there is no tap.
   */
  toneLevel(hz) {
    if (!this.analyser) return 0;
    const x = this.tapBuf;
    this.analyser.getFloatTimeDomainData(x);
    const w = (2 * Math.PI * hz) / this.ctx.sampleRate;
    const c = 2 * Math.cos(w);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < x.length; i++) {
      const s0 = x[i] + c * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - c * s1 * s2;
    return (2 * Math.sqrt(Math.max(0, power))) / x.length;
  }

  /** Closes the microphone for good (listening only from now on). */
  stopMic() {
    if (this.source) this.source.disconnect();
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
  }

  async close() {
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    if (this.ctx && this.ctx.state !== 'closed') await this.ctx.close();
  }
}
