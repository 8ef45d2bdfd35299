// bb-io.js: the AudioWorklet processor "bb-io", the client's audio thread.
//
// One processor does capture and playback, because the write clock of what
// we capture is defined by what we are playing at that instant.
//
// Clocks. Everything the processor shares with the main thread counts
// server samples (48 kHz). The context normally runs at 48 kHz too (the
// browser resamples at the device); where it cannot (Firefox refuses to
// connect a microphone whose rate differs from the context's), the context
// runs at the device rate and this processor converts, with 4-point cubic
// (Catmull-Rom) interpolation, between device samples and server samples.
// Device sample number i of playback sits at server time
// playBase + i * step (step = 48000 / sampleRate), computed from the
// integer i each time so that no rounding error accumulates; at 48 kHz
// step is 1 and the interpolation returns the samples unchanged.
//
// Playback. Decoded mix audio arrives as ("play", clock, samples), clock
// being the server clock of the first sample, and is copied into a
// preallocated ring indexed by server clock. Playback starts about a second
// after the first batch arrives (the lead-in, the playback buffer), at that
// batch's clock, and then advances whether or not data is there (a gap
// plays silence and counts as an underrun), so the play position is a
// continuous clock in step with the audio device.
//
// Pacing. Every request reads the next 600 ms, so requests must go out
// exactly every 600 ms of device time, or the playback buffer grows or
// shrinks for the rest of the connection. A beat every BATCH server
// samples of device time sends one message: the captured batch completed
// since the last beat if there is one, else (before capture has produced
// its first batch, and always for a listener) an empty "tick". Batches and
// beats run at the same rate, so a batch always waits the same time for
// its beat; the lead-in is chosen between 0.7 and 1.3 s so that this wait
// is a few milliseconds.
//
// Capture. The input sample captured in the same render quantum as play
// position P was sung along with the audio of P - compensation (the
// measured round trip of the local audio hardware plus the codec delay, set
// by the main thread). Captured audio is therefore stamped with a
// contiguous timeline clock. To keep the write clock on whole Opus frames
// we keep the exact compensation and drop the first captured samples (less
// than one 60 ms frame) so that the first batch starts on a frame boundary;
// batches of BATCH samples then follow contiguously and stay aligned.
// Quantising the compensation to whole frames instead would misplace the
// singer by up to 30 ms, audible in a choir; dropping at most 60 ms once
// per connection is not.
//
// Buffers and messages. SharedArrayBuffer would need cross-origin isolation
// headers on every deployment, so this uses the MessagePort: capture
// batches are written into a pool of preallocated Float32Arrays that are
// transferred to the main thread and transferred back after encoding. The
// render path allocates nothing per block: messages reuse preallocated
// objects and go out once per 600 ms batch and once per STATS_EVERY server
// samples (100 ms); the calibration modes post a small object per detected
// echo or per 100 blocks, rare and only while nobody sings. Message
// handlers (not the render path) may allocate.
//
// Modes: "idle" (silence), "run" (the above), "latency" (beeps and echo
// detection for calibration), "volume" (input level reports).

const SERVER_RATE = 48000;
// Lead-in bounds, server samples: 1 s +- half a batch.
const LEAD_MIN = 48000 - 14400;
// How long before a beat captured batches are made to complete (server
// samples), to absorb the rounding of the lead-in to render quanta.
const PACE_GUARD = 200;
const FRAME = 2880;
const BATCH = 28800;
const RING = SERVER_RATE * 20;
const STATS_EVERY = 4800;
const DETECT_WIN = 20;
const BEEP_HZ = 1024;
// An echo must fade this soon after it rose (seconds): the beep lasts
// 1/64 s, and what rings on after it in a room is much quieter.
const CONFIRM_S = 0.1;
const ENV_S = 0.01;
const VOLUME_BLOCK = 100 * 128;

// Catmull-Rom interpolation between y1 (t = 0) and y2 (t = 1).
function cubic(y0, y1, y2, y3, t) {
  const c1 = 0.5 * (y2 - y0);
  const c2 = y0 - 2.5 * y1 + 2 * y2 - 0.5 * y3;
  const c3 = 0.5 * (y3 - y0) + 1.5 * (y1 - y2);
  return ((c3 * t + c2) * t + c1) * t + y1;
}

class BbIo extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    // sampleRate is a global of the AudioWorkletGlobalScope.
    this.rate = sampleRate;
    this.step = SERVER_RATE / this.rate;
    this.ring = new Float32Array(RING);
    this.pool = [];
    for (let i = 0; i < (o.poolSize || 4); i++) this.pool.push(new Float32Array(BATCH));
    this.detectWin = new Float32Array(DETECT_WIN);
    // Latency calibration: a 1024 Hz beep rate/64 samples long at 105 BPM,
    // the period rounded to whole render quanta, as the original did.
    this.beepPeriod = Math.round((this.rate / 128) * (60 / 105)) * 128;
    this.beepLen = Math.round(this.rate / 64);
    this.holdoff = Math.round(this.rate * 0.2);
    this.confirmLen = Math.round(this.rate * CONFIRM_S);
    this.envWin = new Float32Array(Math.round(this.rate * ENV_S));
    this.latencyMsg = { type: 'latency-peak', samples: 0 };
    this.bgTau = this.rate * 3;
    this.mode = 'idle';
    this.micMuted = false;
    this.speakerMuted = false;
    this.spectator = false;
    this.inputGain = 1;
    this.compensation = 0;
    this.beepGain = 1;
    this.batchBuf = null;
    this.stats = {
      type: 'stats', playClock: -1, frame: -1, inPeak: 0, outPeak: 0, underruns: 0,
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
    if (this.pendingBuf) this.pool.push(this.pendingBuf);
    this.batchBuf = null;
    this.batchFill = 0;
    this.playBase = -1; // server clock where playback started, -1 before
    this.playN = 0; // device samples played since then
    this.playClock = -1; // server clock now playing (whole samples)
    this.filledStart = -1;
    this.filledEnd = -1;
    this.startIn = 0; // device samples of lead-in left
    this.tick = 0;
    this.capturing = false;
    this.capSent = false; // a captured batch went out: no more ticks
    this.pendingBuf = null; // a completed batch waiting for its beat
    this.pendingEnd = 0;
    this.slips = 0; // beats with nothing to send, or batches that could not wait
    this.capComp = 0; // compensation latched when capture started
    this.capAligned = false;
    this.capNext = 0; // next whole server sample (relative to playBase) to emit
    this.h0 = this.h1 = this.h2 = this.h3 = 0; // last four input samples
    this.hCount = 0;
    this.underruns = 0;
    this.dropped = 0;
  }

  resetLatency() {
    this.sinceBeat = this.beepPeriod;
    this.winSum = 0;
    this.winAt = 0;
    this.detectWin.fill(0);
    this.background = 0;
    this.sincePeak = this.holdoff;
    this.bgN = 0;
    this.envWin.fill(0);
    this.envSum = 0;
    this.envAt = 0;
    this.candidate = -1; // a rise waiting for its fall: the delay it measured
    this.candPeak = 0;
    this.candAge = 0;
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

  // Copies one decoded batch into the playback ring. A batch that does not
  // follow the previous one starts playback over (the main thread resets on
  // every reconnect, so this is only a safety net); data more than a ring
  // ahead of the play position is refused.
  onPlay(clock, samples) {
    const n = samples.length;
    if (this.filledEnd >= 0 && clock !== this.filledEnd) this.resetRun();
    if (this.playClock >= 0 && clock + n - this.playClock > RING) return;
    let at = clock % RING;
    for (let i = 0; i < n; i++) {
      this.ring[at] = samples[i];
      if (++at === RING) at = 0;
    }
    if (this.filledStart < 0) {
      this.filledStart = clock;
      this.playBase = clock;
      this.playClock = clock;
      this.playN = 0;
      this.startIn = Math.round(this.leadIn(clock) / this.step);
    }
    this.filledEnd = clock + n;
  }

  // The lead-in in server samples for playback starting at clock: the
  // first captured batch then completes PACE_GUARD samples before a beat.
  // Capture starts with playback; its first whole frame begins
  // mod(comp - clock, FRAME) samples in (plus two samples of interpolation
  // look-ahead), and the batch takes BATCH more.
  leadIn(clock) {
    if (this.spectator) return SERVER_RATE;
    const untilTick = BATCH - this.tick;
    const skip = ((this.compensation - clock) % FRAME + FRAME) % FRAME + 2 * this.step;
    const want = untilTick - PACE_GUARD - skip - LEAD_MIN;
    return LEAD_MIN + ((want % BATCH) + BATCH) % BATCH;
  }

  // The ring sample at server clock c, 0 outside the received data.
  at(c) {
    return c >= this.filledStart && c < this.filledEnd ? this.ring[c % RING] : 0;
  }

  takeBuffer() {
    return this.pool.length ? this.pool.pop() : null;
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
    this.sinceStats += n * this.step;
    if (this.sinceStats >= STATS_EVERY) {
      this.sinceStats = 0;
      const s = this.stats;
      const playing = this.playBase >= 0 && this.startIn <= 0;
      s.playClock = playing ? this.playClock : -1;
      // The context frame that plays playClock: the one after this block
      // (currentFrame is the block's first), so that the main thread can
      // tell which clock leaves the speakers when (words.js).
      s.frame = typeof currentFrame === 'number' ? currentFrame + n : -1;
      s.buffered = playing ? this.filledEnd - this.playClock : 0;
      s.underruns = this.underruns;
      s.dropped = this.dropped;
      s.frames = this.frames;
      s.capturing = this.capturing;
      this.port.postMessage(s);
      s.inPeak = 0;
      s.outPeak = 0;
    }
    return true;
  }

  processRun(inp, out, n) {
    if (this.playBase < 0 || this.startIn > 0) {
      if (this.playBase >= 0) this.startIn -= n;
      out.fill(0);
      this.pace(n);
      return;
    }
    const capture = !this.spectator;
    if (capture && !this.capturing) {
      this.capturing = true;
      this.capComp = this.compensation;
      this.capAligned = false;
      this.hCount = 0;
      if (!this.batchBuf) this.batchBuf = this.takeBuffer();
      this.batchFill = 0;
    }
    const step = this.step;
    const comp = this.capComp;
    const gain = this.micMuted ? 0 : this.inputGain;
    let under = false;
    for (let i = 0; i < n; i++) {
      // Playback at server time playBase + rel.
      const rel = this.playN * step;
      const ci = Math.floor(rel);
      const f = rel - ci;
      const c = this.playBase + ci;
      if (c >= this.filledEnd) under = true;
      out[i] = f === 0 ? this.at(c) : cubic(this.at(c - 1), this.at(c), this.at(c + 1), this.at(c + 2), f);
      this.playN++;
      if (!capture) continue;
      // Capture: this input sample belongs at server time rel - comp.
      // Keep the last four and emit every whole server sample between the
      // middle two (one sample of look-ahead for the interpolation).
      this.h0 = this.h1;
      this.h1 = this.h2;
      this.h2 = this.h3;
      this.h3 = inp ? inp[i] * gain : 0;
      if (this.hCount < 3) {
        if (++this.hCount === 3) this.capNext = Math.floor((this.playN - 2) * step - comp) + 1;
        continue;
      }
      // h1 is at t1 = (playN - 3) * step - comp, h2 one step later.
      const t1 = (this.playN - 3) * step - comp;
      const t2 = t1 + step;
      while (this.capNext <= t2) {
        const u = (this.capNext - t1) / step;
        this.emit(this.playBase + this.capNext, u >= 1 ? this.h2 : cubic(this.h0, this.h1, this.h2, this.h3, u));
        this.capNext++;
      }
    }
    if (under) this.underruns++;
    this.playClock = this.playBase + Math.floor(this.playN * step);
    this.pace(n);
  }

  // Adds one captured sample at server clock c (consecutive clocks) to the
  // current batch; a full batch waits for the next beat.
  emit(c, v) {
    if (!this.capAligned) {
      if (c % FRAME !== 0) return;
      this.capAligned = true;
    }
    if (this.batchBuf) this.batchBuf[this.batchFill] = v;
    if (++this.batchFill < BATCH) return;
    if (!this.batchBuf) {
      // No buffer came back in time: the batch is lost. The main thread
      // must reconnect, because the write clock jumps.
      this.dropped++;
      this.batchMsg.end = c + 1;
      this.port.postMessage(this.batchMsg);
    } else {
      // A batch still waiting means the beat fell behind: send it now.
      if (this.pendingBuf) {
        this.slips++;
        this.sendPending();
      }
      this.pendingBuf = this.batchBuf;
      this.pendingEnd = c + 1;
    }
    this.batchBuf = this.takeBuffer();
    this.batchFill = 0;
  }

  sendPending() {
    this.batchMsg.end = this.pendingEnd;
    this.batchMsg.buf = this.pendingBuf;
    this.transferList[0] = this.pendingBuf.buffer;
    this.port.postMessage(this.batchMsg, this.transferList);
    this.batchMsg.buf = null;
    this.pendingBuf = null;
    this.capSent = true;
  }

  // The beat: one message per BATCH server samples of device time.
  pace(n) {
    this.tick += n * this.step;
    if (this.tick < BATCH) return;
    this.tick -= BATCH;
    if (this.pendingBuf) this.sendPending();
    else if (!this.capSent) this.port.postMessage(this.tickMsg);
    else this.slips++;
  }

  processLatency(inp, out, n) {
    const gain = this.beepGain;
    const w = (2 * Math.PI * BEEP_HZ) / this.rate;
    for (let i = 0; i < n; i++) {
      // Output: a beep at the start of every period.
      if (this.sinceBeat >= this.beepPeriod) this.sinceBeat = 0;
      const t = this.sinceBeat;
      out[i] = t < this.beepLen ? gain * Math.sin(w * t) : 0;
      this.sinceBeat++;
      // Input: an echo is a DETECT_WIN-sample mean absolute value that
      // rises above ten times the background (the mean absolute input, over
      // all of it during the first bgTau samples and a running mean with
      // time constant bgTau after that) and above an absolute floor, at
      // least 200 ms after the last one; and then its envelope (the mean
      // over ENV_S, smooth even for a mains hum) falls back below a quarter
      // of its peak within CONFIRM_S. A beep is short, so a sound that
      // stays loud (a steady tone, a hum that starts) is not a beep. The
      // echo is reported when the fall confirms it, with the delay measured
      // at its rise.
      const a = inp ? Math.abs(inp[i]) : 0;
      this.winSum += a - this.detectWin[this.winAt];
      this.detectWin[this.winAt] = a;
      if (++this.winAt === DETECT_WIN) this.winAt = 0;
      const mean = this.winSum / DETECT_WIN;
      this.envSum += a - this.envWin[this.envAt];
      this.envWin[this.envAt] = a;
      if (++this.envAt === this.envWin.length) this.envAt = 0;
      const env = this.envSum / this.envWin.length;
      if (this.bgN < this.bgTau) this.bgN++;
      this.background += (a - this.background) / this.bgN;
      this.sincePeak++;
      if (this.candidate >= 0) {
        if (env > this.candPeak) this.candPeak = env;
        if (env < this.candPeak / 4) {
          this.latencyMsg.samples = this.candidate;
          this.port.postMessage(this.latencyMsg);
          this.candidate = -1;
        } else if (++this.candAge > this.confirmLen) {
          // Still loud: not a beep. Wait a holdoff before looking again.
          this.candidate = -1;
          this.sincePeak = 0;
        }
      } else if (this.sincePeak >= this.holdoff && mean > 1e-3 && mean > 10 * this.background) {
        this.sincePeak = 0;
        // This input sample echoes the beep that started sinceBeat - 1
        // samples ago (plus the few samples the window mean needs to rise,
        // the same in every run).
        this.candidate = this.sinceBeat - 1;
        this.candPeak = env;
        this.candAge = 0;
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
