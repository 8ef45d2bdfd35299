// codec.js: raw Opus for the client, through WebCodecs or WebAssembly.
//
// Both directions are mono 48 kHz with 60 ms (2880-sample) frames, the
// packets the server expects inside pack_multi bodies: no container, no
// in-band FEC. WebCodecs encodes with DTX where the browser takes it and
// still gives a packet for every frame: a singer's silence then goes out as
// 2-byte DTX packets (three empty CELT frames), which the server neither
// decodes nor adds (fcgi/rest.h). Chromium and WebKit emit a chunk for every
// frame, DTX or not (tests/browser/codec.test.js checks Chromium); Firefox
// takes usedtx but emits no chunk for a DTX frame, which would break the
// one packet per frame both sides count on, so a short silence is encoded
// once to see (dtxKeepsFrames()). The WebAssembly fallback keeps DTX off.
//
// The first choice is WebCodecs (AudioEncoder / AudioDecoder): native code,
// off the main thread. Where it is missing or cannot do Opus (older Firefox
// and Safari), the fallback is libopus compiled to WebAssembly (the
// @evan/opus build, vendored under vendor/opus/), run in a module Worker so
// that codec work never blocks the page.
//
// Contract of a codec object:
//   kind                 "webcodecs" or "wasm";
//   dtx                  true when silence goes out as DTX packets;
//   reset()              forget all state (a new connection); pending work
//                        is rejected;
//   encode(pcm)          pcm: Float32Array, a multiple of 2880 samples;
//                        resolves to one Uint8Array packet per frame;
//   decode(packets)      resolves to a Float32Array of the decoded samples
//                        (2880 per packet when all is well);
//   close()              release everything.
// Calls resolve in the order they were made.

import { FRAME_SAMPLES, SERVER_RATE } from './clock.js';

const BITRATE = 64000;

/** The AudioEncoder configuration we ask WebCodecs for. */
export const ENCODER_CONFIG = {
  codec: 'opus',
  sampleRate: SERVER_RATE,
  numberOfChannels: 1,
  bitrate: BITRATE,
  opus: {
    format: 'opus',
    application: 'audio',
    frameDuration: (FRAME_SAMPLES * 1e6) / SERVER_RATE,
    useinbandfec: false,
    usedtx: true,
  },
};

/** The same without DTX, for a browser that refuses usedtx. */
export const ENCODER_CONFIG_NO_DTX = { ...ENCODER_CONFIG, opus: { ...ENCODER_CONFIG.opus, usedtx: false } };

/** The AudioDecoder configuration: raw packets, no description. */
export const DECODER_CONFIG = { codec: 'opus', sampleRate: SERVER_RATE, numberOfChannels: 1 };

/**
 * Creates the best available codec. prefer may be "wasm" or "webcodecs" to
 * force one (the debug panel and tests use it). Resolves to a codec object
 * or rejects when neither works.
 */
export async function createCodec(prefer) {
  if (prefer !== 'wasm' && (await webCodecsWorks())) {
    const c = new WebCodecsOpus();
    c.reset();
    return c;
  }
  const w = new WasmOpus();
  await w.ready;
  return w;
}

// The encoder configuration this browser takes (with DTX if it can), or
// null when WebCodecs cannot do Opus here.
let chosenConfig = null;

// Whether an encoder configured with cfg gives a packet for every frame of
// a silence long enough for DTX (1.2 s). Resolves false on any failure, or
// when the encoder has not answered within 3 s.
async function dtxKeepsFrames(cfg) {
  const frames = 20;
  let chunks = 0;
  let enc = null;
  try {
    enc = new AudioEncoder({ output: () => { chunks++; }, error: () => {} });
    enc.configure(cfg);
    const data = new AudioData({
      format: 'f32-planar',
      sampleRate: SERVER_RATE,
      numberOfFrames: frames * FRAME_SAMPLES,
      numberOfChannels: 1,
      timestamp: 0,
      data: new Float32Array(frames * FRAME_SAMPLES),
    });
    enc.encode(data);
    data.close();
    const done = await Promise.race([
      enc.flush().then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 3000)),
    ]);
    return done && chunks >= frames;
  } catch {
    return false;
  } finally {
    if (enc && enc.state !== 'closed') {
      try { enc.close(); } catch { /* closed by an error */ }
    }
  }
}

async function webCodecsWorks() {
  if (typeof AudioEncoder === 'undefined' || typeof AudioDecoder === 'undefined') return false;
  try {
    const d = await AudioDecoder.isConfigSupported(DECODER_CONFIG);
    if (!d.supported) return false;
    for (const cfg of [ENCODER_CONFIG, ENCODER_CONFIG_NO_DTX]) {
      const e = await AudioEncoder.isConfigSupported(cfg).catch(() => ({ supported: false }));
      if (e.supported && (cfg !== ENCODER_CONFIG || (await dtxKeepsFrames(cfg)))) {
        chosenConfig = cfg;
        return true;
      }
    }
    return false;
  } catch {
    return false;
  }
}

class WebCodecsOpus {
  constructor() {
    this.kind = 'webcodecs';
    this.dtx = false;
    this.enc = null;
    this.dec = null;
    this.encQ = [];
    this.decQ = [];
    this.ts = 0;
  }

  reset() {
    this.failAll(new Error('codec reset'));
    this.closeCodecs();
    this.enc = new AudioEncoder({
      output: (chunk) => this.onEncoded(chunk),
      error: (e) => this.failAll(e),
    });
    this.enc.configure(chosenConfig || ENCODER_CONFIG_NO_DTX);
    this.dtx = chosenConfig === ENCODER_CONFIG;
    this.dec = new AudioDecoder({
      output: (data) => this.onDecoded(data),
      error: (e) => this.failAll(e),
    });
    this.dec.configure(DECODER_CONFIG);
  }

  failAll(err) {
    for (const q of [this.encQ, this.decQ]) {
      for (const job of q) job.reject(err);
      q.length = 0;
    }
  }

  closeCodecs() {
    for (const c of [this.enc, this.dec]) {
      if (c && c.state !== 'closed') {
        try { c.close(); } catch { /* already closed by an error */ }
      }
    }
    this.enc = this.dec = null;
  }

  close() {
    this.failAll(new Error('codec closed'));
    this.closeCodecs();
  }

  encode(pcm) {
    return new Promise((resolve, reject) => {
      if (!this.enc || this.enc.state !== 'configured') {
        reject(new Error('encoder is not configured'));
        return;
      }
      this.encQ.push({ need: pcm.length / FRAME_SAMPLES, packets: [], resolve, reject });
      const data = new AudioData({
        format: 'f32-planar',
        sampleRate: SERVER_RATE,
        numberOfFrames: pcm.length,
        numberOfChannels: 1,
        timestamp: this.nextTimestamp(pcm.length),
        data: pcm,
      });
      this.enc.encode(data);
      data.close();
    });
  }

  onEncoded(chunk) {
    const job = this.encQ[0];
    if (!job) return;
    const b = new Uint8Array(chunk.byteLength);
    chunk.copyTo(b);
    job.packets.push(b);
    if (job.packets.length === job.need) {
      this.encQ.shift();
      job.resolve(job.packets);
    }
  }

  decode(packets) {
    return new Promise((resolve, reject) => {
      if (packets.length === 0) {
        resolve(new Float32Array(0));
        return;
      }
      if (!this.dec || this.dec.state !== 'configured') {
        reject(new Error('decoder is not configured'));
        return;
      }
      const job = {
        need: packets.length, got: 0, filled: 0,
        out: new Float32Array(packets.length * FRAME_SAMPLES), resolve, reject,
      };
      this.decQ.push(job);
      for (const p of packets) {
        this.dec.decode(new EncodedAudioChunk({
          type: 'key', timestamp: this.nextTimestamp(FRAME_SAMPLES), data: p,
        }));
      }
    });
  }

  onDecoded(data) {
    const job = this.decQ[0];
    if (!job) {
      data.close();
      return;
    }
    const nf = Math.min(data.numberOfFrames, job.out.length - job.filled);
    if (nf > 0) {
      data.copyTo(job.out.subarray(job.filled, job.filled + nf), { planeIndex: 0, format: 'f32-planar' });
    }
    data.close();
    job.filled += nf;
    if (++job.got === job.need) {
      this.decQ.shift();
      job.resolve(job.filled === job.out.length ? job.out : job.out.subarray(0, job.filled));
    }
  }

  nextTimestamp(samples) {
    const t = this.ts;
    this.ts += Math.round((samples * 1e6) / SERVER_RATE);
    return t;
  }
}

// The WebAssembly fallback: a module Worker (opus-worker.js) owns one
// encoder and one decoder; requests carry an id and are answered in order.
class WasmOpus {
  constructor() {
    this.kind = 'wasm';
    this.dtx = false;
    this.jobs = new Map();
    this.nextId = 1;
    this.worker = new Worker(new URL('./opus-worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (e) => this.onReply(e.data);
    this.worker.onerror = (e) => this.failAll(new Error('opus worker: ' + (e.message || 'failed')));
    this.ready = this.call('init', { wasmUrl: new URL('../vendor/opus/opus.wasm', import.meta.url).href });
  }

  call(op, args = {}, transfer = []) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.jobs.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...args }, transfer);
    });
  }

  onReply(m) {
    const job = this.jobs.get(m.id);
    if (!job) return;
    this.jobs.delete(m.id);
    if (m.error) job.reject(new Error(m.error));
    else job.resolve(m.result);
  }

  failAll(err) {
    for (const job of this.jobs.values()) job.reject(err);
    this.jobs.clear();
  }

  reset() {
    this.call('reset').catch(() => {});
  }

  encode(pcm) {
    return this.call('encode', { pcm });
  }

  decode(packets) {
    return this.call('decode', { packets });
  }

  close() {
    this.failAll(new Error('codec closed'));
    this.worker.terminate();
  }
}
