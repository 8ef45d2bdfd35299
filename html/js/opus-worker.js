// opus-worker.js: libopus in WebAssembly, in a module Worker.
//
// The codec fallback of codec.js for browsers without WebCodecs Opus. It
// instantiates vendor/opus/opus.wasm (libopus built by the @evan/opus
// package; its exports are the libopus C API plus malloc/free) and keeps
// one mono 48 kHz encoder (OPUS_APPLICATION_AUDIO, 64 kbit/s, DTX and FEC
// off, the libopus defaults for the last two) and one decoder.
//
// Messages: {id, op, ...} with op "init" {wasmUrl}, "reset", "encode"
// {pcm: Float32Array, a multiple of 2880 samples} -> Uint8Array[] packets,
// "decode" {packets: Uint8Array[]} -> Float32Array. Every message is
// answered {id, result} or {id, error}, in order.
//
// The buffers inside the wasm heap are allocated once at init. libopus
// works on int16 here (opus_encode / opus_decode), so samples are
// converted with saturation.

const FRAME = 2880;
const MAX_PACKET = 4000;
const APPLICATION_AUDIO = 2049;
const SET_BITRATE = 4002;
const SET_DTX = 4016;
const SET_INBAND_FEC = 4012;

let x = null; // wasm exports
let heap = null; // Uint8Array over the wasm memory, refreshed on growth
let enc = 0;
let dec = 0;
let pcmPtr = 0;
let pktPtr = 0;

function views() {
  heap = new Uint8Array(x.memory.buffer);
}

async function init(wasmUrl) {
  const imports = {
    wasi_snapshot_preview1: { fd_seek() { return 0; }, fd_write() { return 0; }, fd_close() { return 0; }, proc_exit() {} },
    env: { emscripten_notify_memory_growth() { views(); } },
  };
  const bytes = await (await fetch(wasmUrl)).arrayBuffer();
  const { instance } = await WebAssembly.instantiate(bytes, imports);
  x = instance.exports;
  if (x._initialize) x._initialize();
  pcmPtr = x.malloc(FRAME * 2);
  pktPtr = x.malloc(MAX_PACKET);
  views();
  reset();
}

function check(code, what) {
  if (code < 0) {
    let s = '';
    const p = x.opus_strerror(code);
    for (let i = p; heap[i] !== 0 && i < p + 200; i++) s += String.fromCharCode(heap[i]);
    throw new Error(`${what}: ${s || code}`);
  }
  return code;
}

function reset() {
  if (enc) x.free(enc);
  if (dec) x.free(dec);
  enc = x.malloc(x.opus_encoder_get_size(1));
  dec = x.malloc(x.opus_decoder_get_size(1));
  views();
  check(x.opus_encoder_init(enc, 48000, 1, APPLICATION_AUDIO), 'opus_encoder_init');
  check(x.opus_encoder_ctl_set(enc, SET_BITRATE, 64000), 'OPUS_SET_BITRATE');
  check(x.opus_encoder_ctl_set(enc, SET_DTX, 0), 'OPUS_SET_DTX');
  check(x.opus_encoder_ctl_set(enc, SET_INBAND_FEC, 0), 'OPUS_SET_INBAND_FEC');
  check(x.opus_decoder_init(dec, 48000, 1), 'opus_decoder_init');
}

function encode(pcm) {
  if (pcm.length % FRAME !== 0) throw new Error(`encode: ${pcm.length} samples is not whole frames`);
  const packets = [];
  for (let f = 0; f < pcm.length; f += FRAME) {
    const s16 = new Int16Array(heap.buffer, pcmPtr, FRAME);
    for (let i = 0; i < FRAME; i++) {
      const v = Math.round(pcm[f + i] * 32767);
      s16[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    const len = check(x.opus_encode(enc, pcmPtr, FRAME, pktPtr, MAX_PACKET), 'opus_encode');
    packets.push(heap.slice(pktPtr, pktPtr + len));
  }
  return packets;
}

function decode(packets) {
  const out = new Float32Array(packets.length * FRAME);
  let at = 0;
  for (const p of packets) {
    if (p.length > MAX_PACKET) throw new Error(`decode: packet of ${p.length} bytes`);
    heap.set(p, pktPtr);
    const n = check(x.opus_decode(dec, pktPtr, p.length, pcmPtr, FRAME, 0), 'opus_decode');
    const s16 = new Int16Array(heap.buffer, pcmPtr, n);
    for (let i = 0; i < n; i++) out[at + i] = s16[i] / 32768;
    at += n;
  }
  return at === out.length ? out : out.subarray(0, at);
}

// Messages are handled strictly one after another: "init" is asynchronous
// and everything after it must wait for it.
let chain = Promise.resolve();
self.onmessage = (e) => {
  chain = chain.then(() => handle(e.data));
};

async function handle(m) {
  try {
    let result = null;
    if (m.op === 'init') await init(m.wasmUrl);
    else if (m.op === 'reset') reset();
    else if (m.op === 'encode') result = encode(m.pcm);
    else if (m.op === 'decode') result = decode(m.packets);
    else throw new Error('unknown op ' + m.op);
    self.postMessage({ id: m.id, result });
  } catch (err) {
    self.postMessage({ id: m.id, error: String(err && err.message ? err.message : err) });
  }
}
