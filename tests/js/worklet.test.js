// Tests of the "bb-io" worklet processor (html/js/worklet/bb-io.js), run
// under node with a stand-in for the AudioWorkletGlobalScope: playback
// timing, write-clock stamping on whole Opus frames, the buffer pool, and
// latency detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FRAME = 2880;
const BATCH = 28800;
const src = readFileSync(fileURLToPath(new URL('../../html/js/worklet/bb-io.js', import.meta.url)), 'utf8');

// Loads the processor class with a fake port that records posted messages.
function load(rate = 48000) {
  let Cls = null;
  class AudioWorkletProcessor {
    constructor() {
      this.port = { posted: [], onmessage: null, postMessage(m, transfer) { this.posted.push(structuredClone(m, { transfer })); } };
    }
  }
  const registerProcessor = (name, c) => { assert.equal(name, 'bb-io'); Cls = c; };
  new Function('AudioWorkletProcessor', 'registerProcessor', 'sampleRate', src)(AudioWorkletProcessor, registerProcessor, rate);
  const p = new Cls({ processorOptions: { poolSize: 4 } });
  p.send = (m) => p.port.onmessage({ data: m });
  return p;
}

// Runs `quanta` render quanta with input from inFn(frameIndex) and returns the output.
function run(p, quanta, inFn = () => 0) {
  const out = [];
  const inp = new Float32Array(128);
  const o = new Float32Array(128);
  for (let q = 0; q < quanta; q++) {
    for (let i = 0; i < 128; i++) inp[i] = inFn(p.frames + i);
    p.process([[inp]], [[o]]);
    out.push(...o);
  }
  return out;
}

const batches = (p) => p.port.posted.filter((m) => m.type === 'batch');

test('ticks pace the requests before playback starts', () => {
  const p = load();
  p.send({ type: 'mode', mode: 'run' });
  run(p, Math.ceil((3 * BATCH) / 128) + 1);
  const b = batches(p);
  assert.equal(b.length, 3);
  for (const m of b) assert.equal(m.end, null);
});

test('playback starts one second after the first batch, at its clock', () => {
  const p = load();
  p.send({ type: 'mode', mode: 'run' });
  p.send({ type: 'config', spectator: true });
  const clock = 77040003312000 - 6 * 48000;
  const pcm = new Float32Array(BATCH).map((_, i) => (i + 1) / BATCH);
  p.send({ type: 'play', clock, samples: pcm });
  const out = run(p, 48000 / 128 + 10);
  const first = out.findIndex((v) => v !== 0);
  assert.equal(first, 48000);
  assert.equal(out[48000], pcm[0]);
  assert.equal(out[48000 + 100], pcm[100]);
});

test('captured batches end on frame boundaries, contiguous, stamped playClock - compensation', () => {
  for (const compensation of [0, 7824, 7201, 12345]) {
    const p = load();
    p.send({ type: 'mode', mode: 'run' });
    p.send({ type: 'config', compensation });
    const clock = 77040003312000 - 6 * 48000 + 2880 * 7;
    for (let k = 0; k < 7; k++) p.send({ type: 'play', clock: clock + k * BATCH, samples: new Float32Array(BATCH) });
    // Playback starts after the lead-in, rounded up to whole quanta.
    const lead = p.startIn;
    assert.ok(lead >= 0.7 * 48000 && lead <= 1.3 * 48000, `lead-in ${lead}`);
    const startFrame = Math.ceil(lead / 128) * 128;
    // The input is a ramp that names the output frame it was captured with.
    run(p, Math.ceil((startFrame + 5 * BATCH) / 128), (f) => (f % 100000) / 100000);
    const b = batches(p).filter((m) => m.end !== null);
    assert.ok(b.length >= 3, `compensation ${compensation}: ${b.length} batches`);
    for (let i = 0; i < b.length; i++) {
      assert.equal(b[i].end % FRAME, 0, 'aligned');
      assert.equal(b[i].buf.length, BATCH);
      if (i > 0) assert.equal(b[i].end - b[i - 1].end, BATCH, 'contiguous');
    }
    // Sample j of a batch was captured while playing clock (end - BATCH + j) + compensation;
    // playback of `clock` began at startFrame.
    const j = 1000;
    const playClock = b[0].end - BATCH + j + compensation;
    const frame = startFrame + (playClock - clock);
    assert.ok(Math.abs(b[0].buf[j] - (frame % 100000) / 100000) < 1e-6, `compensation ${compensation}`);
  }
});

test('the batch pool: buffers come back, a starved pool reports a lost batch', () => {
  const p = load();
  p.send({ type: 'mode', mode: 'run' });
  const clock = 2880 * 1000;
  for (let k = 0; k < 12; k++) p.send({ type: 'play', clock: clock + k * BATCH, samples: new Float32Array(BATCH) });
  run(p, Math.ceil((62400 + 6 * BATCH) / 128));
  const b = batches(p).filter((m) => m.end !== null);
  const lost = b.filter((m) => !m.buf);
  assert.ok(lost.length >= 1, 'with 4 buffers never returned, a later batch is lost');
  assert.equal(p.dropped, lost.length);
  // Returning buffers refills the pool.
  const q = load();
  q.send({ type: 'mode', mode: 'run' });
  for (let k = 0; k < 12; k++) q.send({ type: 'play', clock: clock + k * BATCH, samples: new Float32Array(BATCH) });
  let seen = 0;
  for (let i = 0; i < Math.ceil((62400 + 8 * BATCH) / 128); i++) {
    run(q, 1);
    for (const m of batches(q).slice(seen)) if (m.buf) q.send({ type: 'return', buf: m.buf });
    seen = batches(q).length;
  }
  assert.equal(batches(q).filter((m) => m.end !== null && !m.buf).length, 0);
});

test('an underrun plays silence and keeps the clock running', () => {
  const p = load();
  p.send({ type: 'mode', mode: 'run' });
  p.send({ type: 'config', spectator: true });
  p.send({ type: 'play', clock: 0, samples: new Float32Array(BATCH).fill(0.5) });
  const out = run(p, Math.ceil((48000 + 2 * BATCH) / 128));
  assert.equal(out[48000 + BATCH - 1], 0.5);
  assert.equal(out[48000 + BATCH + 10], 0);
  assert.ok(p.underruns > 0);
  assert.equal(p.playClock, out.length - 48000);
});

test('latency mode: an echo delayed by D samples is measured as D', () => {
  for (const delay of [4800, 9600, 7213]) {
    const p = load();
    p.send({ type: 'mode', mode: 'latency' });
    const hist = new Float32Array(1 << 20);
    // Feed the output back, delayed: the input at frame f is the output at f - delay.
    const inp = new Float32Array(128);
    const o = new Float32Array(128);
    for (let q = 0; q < 48000 * 5 / 128; q++) {
      for (let i = 0; i < 128; i++) {
        const f = p.frames + i - delay;
        inp[i] = f >= 0 ? hist[f] : 0;
      }
      const base = p.frames;
      p.process([[inp]], [[o]]);
      hist.set(o, base);
    }
    const peaks = p.port.posted.filter((m) => m.type === 'latency-peak').map((m) => m.samples);
    assert.ok(peaks.length >= 5, `delay ${delay}: ${peaks.length} peaks`);
    for (const s of peaks) assert.ok(s >= delay && s <= delay + 10, `delay ${delay}: measured ${s}`);
  }
});

// Runs latency mode for `seconds` with the input at frame f made by
// inFn(f, played) (played: everything output so far) and returns the
// delays the processor reported.
function latencyPeaks(p, seconds, inFn) {
  p.send({ type: 'mode', mode: 'latency' });
  const played = new Float32Array(Math.ceil(seconds * 48000) + 128);
  const inp = new Float32Array(128);
  const o = new Float32Array(128);
  for (let q = 0; q < (seconds * 48000) / 128; q++) {
    for (let i = 0; i < 128; i++) inp[i] = inFn(p.frames + i, played);
    const base = p.frames;
    p.process([[inp]], [[o]]);
    played.set(o, base);
  }
  return p.port.posted.filter((m) => m.type === 'latency-peak').map((m) => m.samples);
}

test('latency mode: a steady tone is no beep, from the start or starting later', () => {
  for (const hz of [1024, 440]) {
    for (const startsAt of [0, 1.5 * 48000]) {
      const peaks = latencyPeaks(load(), 5, (f) => (f >= startsAt ? 0.3 * Math.sin((2 * Math.PI * hz * f) / 48000) : 0));
      assert.deepEqual(peaks, [], `${hz} Hz from ${startsAt / 48000} s`);
    }
  }
});

test('latency mode: echoes over a steady hum and noise are still measured', () => {
  const delay = 7213;
  let seed = 12345;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  const peaks = latencyPeaks(load(), 5, (f, played) => {
    const echo = f >= delay ? 0.5 * played[f - delay] : 0;
    return echo + 0.01 * Math.sin((2 * Math.PI * 50 * f) / 48000) + 0.004 * noise();
  });
  assert.ok(peaks.length >= 6, `${peaks.length} echoes`);
  for (const s of peaks) assert.ok(s >= delay && s <= delay + 10, `measured ${s}`);
});

test('at 44.1 kHz: playback and capture convert, and stamping still holds', () => {
  const p = load(44100);
  p.send({ type: 'mode', mode: 'run' });
  p.send({ type: 'config', compensation: 0 });
  const clock = 2880 * 5000 + 1234;
  const tone = (c) => 0.5 * Math.sin((2 * Math.PI * 440 * c) / 48000);
  for (let k = 0; k < 8; k++) {
    p.send({ type: 'play', clock: clock + k * BATCH, samples: Float32Array.from({ length: BATCH }, (_, i) => tone(clock + k * BATCH + i)) });
  }
  // The input is the output of the same quantum: with no compensation the
  // captured audio must be the played audio at the same server clocks.
  const inp = new Float32Array(128);
  const o = new Float32Array(128);
  const played = [];
  for (let q = 0; q < Math.ceil((1.3 * 44100 + (4.5 * BATCH * 44100) / 48000) / 128); q++) {
    p.process([[inp]], [[o]]);
    played.push(...o);
    inp.set(o);
  }
  // The played tone is still 440 Hz at the device rate: count zero crossings over one second.
  const sec = played.slice(1.3 * 44100 + 1000, 2.3 * 44100 + 1000);
  let crossings = 0;
  for (let i = 1; i < sec.length; i++) if ((sec[i - 1] < 0) !== (sec[i] < 0)) crossings++;
  assert.ok(Math.abs(crossings - 880) <= 2, `${crossings} zero crossings`);
  const b = batches(p).filter((m) => m.end !== null);
  assert.ok(b.length >= 2, `${b.length} batches`);
  for (let i = 0; i < b.length; i++) {
    assert.equal(b[i].end % FRAME, 0);
    if (i) assert.equal(b[i].end - b[i - 1].end, BATCH);
  }
  // Input arrives one quantum after the output it copies (inp.set(o) after
  // process), so the captured clock k holds the tone at k - 128 * step.
  const lag = (128 * 48000) / 44100;
  let worst = 0;
  for (let j = 100; j < BATCH; j += 97) {
    const c = b[1].end - BATCH + j;
    worst = Math.max(worst, Math.abs(b[1].buf[j] - tone(c - lag)));
  }
  assert.ok(worst < 0.01, `worst error ${worst}`);
});

test('requests stay evenly paced when capture takes over from the ticks', () => {
  for (const [rate, compensation] of [[48000, 7824], [48000, 0], [48000, 2879], [44100, 8000]]) {
    const p = load(rate);
    p.send({ type: 'mode', mode: 'run' });
    p.send({ type: 'config', compensation });
    const sent = [];
    const orig = p.port.postMessage.bind(p.port);
    p.port.postMessage = (m, t) => {
      if (m.type === 'batch') sent.push({ at: p.frames, real: m.end !== null });
      if (m.buf) p.send({ type: 'return', buf: new Float32Array(BATCH) });
      orig(m, t);
    };
    const inp = new Float32Array(128);
    const o = new Float32Array(128);
    const clock = 2880 * 9000;
    let delivered = 0;
    for (let q = 0; q < Math.ceil((12 * BATCH) / 128); q++) {
      // The server answers each request 50 ms later with the next 600 ms.
      while (delivered < sent.length && p.frames >= sent[delivered].at + rate * 0.05) {
        p.send({ type: 'play', clock: clock + delivered * BATCH, samples: new Float32Array(BATCH) });
        delivered++;
      }
      p.process([[inp]], [[o]]);
    }
    const real = sent.findIndex((m) => m.real);
    assert.ok(real > 0, 'capture took over');
    const period = (BATCH * rate) / 48000;
    for (let i = 1; i < sent.length; i++) {
      const gap = sent[i].at - sent[i - 1].at;
      assert.ok(Math.abs(gap - period) <= 128, `rate ${rate}, comp ${compensation}: gap ${gap} before request ${i} (first real ${real})`);
    }
    assert.ok(sent.slice(real).every((m) => m.real), 'no ticks after capture starts');
  }
});
