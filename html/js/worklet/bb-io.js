// bb-io.js: the AudioWorklet processor "bb-io", the client's audio thread.
//
// One processor does capture and playback, because the write clock of what
// we capture is defined by what we are playing at that instant.
//
// Playback. Decoded mix audio arrives from the main thread as ("play",
// clock, samples) messages, clock being the server clock of the first
// sample. It is copied into a preallocated ring indexed by server clock.
// Playback starts LEAD_IN samples after the first batch arrives and then
// advances playClock by one per output sample, whether or not data is there
// (a gap plays silence and counts as an underrun), so playClock is a
// continuous clock in step with the audio device.
//
// Capture. Once playing, the input sample captured in the same render
// quantum as output clock P was sung along with the audio of clock
// P - compensation (the measured round trip of the local audio hardware
// plus the codec delay, set by the main thread). Captured samples are
// therefore stamped with a contiguous timeline clock. To keep the write
// clock on whole Opus frames we keep the exact compensation and instead drop
// the first few captured samples (fewer than one frame, 60 ms) so that the
// first batch starts on a frame boundary; from then on batches of
// BATCH samples are contiguous and stay aligned. Quantising the compensation
// to whole frames instead would misplace the singer by up to 30 ms, which
// is audible in a choir; dropping at most 60 ms once per connection is not.
//
// Buffers and messages. The shared-memory alternative (SharedArrayBuffer)
// needs cross-origin isolation headers on every deployment, so this uses a
// MessagePort: capture batches are written into a pool of preallocated
// Float32Arrays that are transferred to the main thread and transferred back
// after encoding. The render path allocates nothing per block: messages
// reuse preallocated objects and go out once per 600 ms batch and once per
// STATS_EVERY samples (100 ms); the calibration modes post a small object
// per detected echo or per 100 blocks, which is rare and happens only
// while nobody is singing. Message handlers (not the render path) may
// allocate.
//
// Modes: "idle" (silence), "run" (the above), "latency" (beeps and echo
// detection for calibration), "volume" (input level reports).
//
// Everything is at 48 kHz: the page creates its AudioContext at 48 kHz and
// the browser resamples to the device.

const FRAME = 2880;
const BATCH = 28800;
const RING = 48000 * 20;
const LEAD_IN = 48000;
const STATS_EVERY = 4800;
// Latency calibration: a 1024 Hz beep rate/64 samples long at 105 BPM,
// rounded to whole render quanta as the original did.
const BEEP_PERIOD = Math.round((48000 / 128) * (60 / 105)) * 128;
const BEEP_LEN = 48000 / 64;
const BEEP_HZ = 1024;
const DETECT_WIN = 20;
const DETECT_HOLDOFF = 48000 * 0.2;
const BG_TAU = 48000 * 3;
const VOLUME_BLOCK = 100 * 128;

class BbIo extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.ring = new Float32Array(RING);
    this.pool = [];
    for (let i = 0; i < (o.poolSize || 4); i++) this.pool.push(new Float32Array(BATCH));
    this.detectWin = new Float32Array(DETECT_WIN);
    this.mode = 'idle';
    this.micMuted = false;
    this.speakerMuted = false;
    this.spectator = false;
    this.inputGain = 1;
    this.compensation = 0;
    this.beepGain = 1;
    this.batchBuf = null;
    this.stats = {
      type: 'stats', playClock: -1, inPeak: 0, outPeak: 0, underruns: 0,
      buffered: 0, frames: 0, dropped: 0, capturing: false,
    };
    this.batchMsg = { type: 'batch', end: 0, buf: null };
    this.tickMsg = { type: 'batch', end: null, buf: null };
    this.transferList = [null];
    this.resetRun();
    this.resetLatency();
    this.frames = 0;
    this.sinceStats = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  resetRun() {
    if (this.batchBuf) this.pool.push(this.batchBuf);
    this.playClock = -1;
    this.playIdx = 0;
    this.filledStart = -1;
    this.filledEnd = -1;
    this.startIn = -1;
    this.tick = 0;
    this.captureClock = -1;
    this.captureSkip = 0;
    this.batchBuf = null;
    this.batchFill = 0;
    this.underruns = 0;
    this.dropped = 0;
  }

  resetLatency() {
    this.sinceBeat = BEEP_PERIOD;
    this.winSum = 0;
    this.winAt = 0;
    this.background = 0;
    this.sincePeak = DETECT_HOLDOFF;
    this.volSum = 0;
    this.volCount = 0;
  }

  onMessage(m) {
    switch (m.type) {
      case 'play': this.onPlay(m.clock, m.samples); break;
      case 'return': if (m.buf && m.buf.length === BATCH) this.pool.push(m.buf); break;
      case 'reset': this.resetRun(); break;
      case 'mode':
        this.mode = m.mode;
        this.resetLatency();
        if (m.mode !== 'run') this.resetRun();
        break;
      case 'config':
        if ('micMuted' in m) this.micMuted = !!m.micMuted;
        if ('speakerMuted' in m) this.speakerMuted = !!m.speakerMuted;
        if ('spectator' in m) this.spectator = !!m.spectator;
        if ('inputGain' in m) this.inputGain = +m.inputGain;
        if ('compensation' in m) this.compensation = Math.round(+m.compensation);
        if ('beepGain' in m) this.beepGain = +m.beepGain;
        break;
    }
  }

  // Copies one decoded batch into the playback ring. Data for clocks that
  // have already played is skipped; data that would overwrite unplayed
  // samples more than a ring ahead is refused (it cannot happen while the
  // main thread keeps requests continuous).
  onPlay(clock, samples) {
    const n = samples.length;
    if (this.filledEnd >= 0 && clock !== this.filledEnd) {
      // A new stream: the main thread resets on reconnect, so this is a
      // discontinuity within one connection. Start over from this batch.
      this.resetRun();
    }
    if (this.playClock >= 0 && clock + n - this.playClock > RING) return;
    let at = clock % RING;
    for (let i = 0; i < n; i++) {
      this.ring[at] = samples[i];
      if (++at === RING) at = 0;
    }
    if (this.filledStart < 0) {
      this.filledStart = clock;
      this.playClock = clock;
      this.playIdx = clock % RING;
      this.startIn = LEAD_IN;
    }
    this.filledEnd = clock + n;
  }

  // Takes a free batch buffer from the pool, or null when the main thread
  // still holds them all.
  takeBuffer() {
    return this.pool.length ? this.pool.pop() : null;
  }

  // Sends the current capture batch, ending at clock end, to the main thread.
  flushBatch(end) {
    this.batchMsg.end = end;
    this.batchMsg.buf = this.batchBuf;
    this.transferList[0] = this.batchBuf.buffer;
    this.port.postMessage(this.batchMsg, this.transferList);
    this.batchMsg.buf = null;
    this.batchBuf = this.takeBuffer();
    this.batchFill = 0;
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    const input = inputs[0];
    const inp = input && input.length ? input[0] : null;
    const n = out.length;
    let inPeak = this.stats.inPeak;
    let outPeak = this.stats.outPeak;
    if (this.mode === 'run') this.processRun(inp, out, n);
    else if (this.mode === 'latency') this.processLatency(inp, out, n);
    else if (this.mode === 'volume') this.processVolume(inp, out, n);
    else out.fill(0);
    for (let i = 0; i < n; i++) {
      const a = inp ? Math.abs(inp[i]) : 0;
      const b = Math.abs(out[i]);
      if (a > inPeak) inPeak = a;
      if (b > outPeak) outPeak = b;
    }
    if (this.speakerMuted && this.mode === 'run') out.fill(0);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.stats.inPeak = inPeak;
    this.stats.outPeak = outPeak;
    this.frames += n;
    this.sinceStats += n;
    if (this.sinceStats >= STATS_EVERY) {
      this.sinceStats = 0;
      const s = this.stats;
      s.playClock = this.startIn > 0 ? -1 : this.playClock;
      s.buffered = this.filledEnd >= 0 && this.playClock >= 0 ? this.filledEnd - this.playClock : 0;
      s.underruns = this.underruns;
      s.dropped = this.dropped;
      s.frames = this.frames;
      s.capturing = this.captureClock >= 0;
      this.port.postMessage(s);
      s.inPeak = 0;
      s.outPeak = 0;
    }
    return true;
  }

  processRun(inp, out, n) {
    const playing = this.playClock >= 0 && this.startIn <= 0;
    if (this.playClock >= 0 && this.startIn > 0) this.startIn -= n;
    if (!playing) {
      out.fill(0);
      this.paceTicks(n);
      return;
    }
    // Playback.
    let clock = this.playClock;
    let idx = this.playIdx;
    let under = false;
    for (let i = 0; i < n; i++) {
      if (clock >= this.filledStart && clock < this.filledEnd) {
        out[i] = this.ring[idx];
      } else {
        out[i] = 0;
        under = true;
      }
      clock++;
      if (++idx === RING) idx = 0;
    }
    if (under) this.underruns++;
    const firstClock = this.playClock;
    this.playClock = clock;
    this.playIdx = idx;
    // Capture, or pacing ticks for a listener.
    if (this.spectator) {
      this.paceTicks(n);
      return;
    }
    if (this.captureClock < 0) {
      this.captureClock = firstClock - this.compensation;
      this.captureSkip = ((-this.captureClock % FRAME) + FRAME) % FRAME;
      if (!this.batchBuf) this.batchBuf = this.takeBuffer();
      this.batchFill = 0;
    }
    const gain = this.micMuted ? 0 : this.inputGain;
    for (let i = 0; i < n; i++) {
      const c = this.captureClock++;
      if (this.captureSkip > 0) {
        this.captureSkip--;
        continue;
      }
      if (this.batchBuf) this.batchBuf[this.batchFill] = inp ? inp[i] * gain : 0;
      if (++this.batchFill === BATCH) {
        if (this.batchBuf) {
          this.flushBatch(c + 1);
        } else {
          // No buffer came back in time: the batch is lost. Tell the main
          // thread, which must reconnect because the write clock jumps.
          this.dropped++;
          this.batchMsg.end = c + 1;
          this.port.postMessage(this.batchMsg);
          this.batchBuf = this.takeBuffer();
          this.batchFill = 0;
        }
      }
    }
  }

  // While nothing is captured (before playback starts, or listening only),
  // one empty "batch" every BATCH samples paces the requests.
  paceTicks(n) {
    this.tick += n;
    if (this.tick >= BATCH) {
      this.tick -= BATCH;
      this.port.postMessage(this.tickMsg);
    }
  }

  processLatency(inp, out, n) {
    const gain = this.beepGain;
    for (let i = 0; i < n; i++) {
      // Output: a beep at the start of every period.
      if (this.sinceBeat >= BEEP_PERIOD) this.sinceBeat = 0;
      const t = this.sinceBeat;
      out[i] = t < BEEP_LEN ? gain * Math.sin((2 * Math.PI * BEEP_HZ * t) / 48000) : 0;
      this.sinceBeat++;
      // Input: a peak is a DETECT_WIN-sample mean absolute value above ten
      // times the background (a slow running mean of the absolute input).
      const a = inp ? Math.abs(inp[i]) : 0;
      this.winSum += a - this.detectWin[this.winAt];
      this.detectWin[this.winAt] = a;
      if (++this.winAt === DETECT_WIN) this.winAt = 0;
      const mean = this.winSum / DETECT_WIN;
      this.background += (a - this.background) / BG_TAU;
      this.sincePeak++;
      if (this.sincePeak >= DETECT_HOLDOFF && mean > 1e-3 && mean > 10 * this.background) {
        this.sincePeak = 0;
        // The peak's sample is this one; the beep it echoes started
        // sinceBeat samples ago (minus the ramp-up of the window mean,
        // which is the same for every run and cancels out).
        this.port.postMessage({ type: 'latency-peak', samples: this.sinceBeat - 1 });
      }
    }
  }

  processVolume(inp, out, n) {
    out.fill(0);
    let s = 0;
    if (inp) for (let i = 0; i < n; i++) s += Math.abs(inp[i]);
    this.volSum += s;
    this.volCount += n;
    if (this.volCount >= VOLUME_BLOCK) {
      this.port.postMessage({ type: 'volume-level', meanAbs: this.volSum / this.volCount });
      this.volSum = 0;
      this.volCount = 0;
    }
  }
}

registerProcessor('bb-io', BbIo);
