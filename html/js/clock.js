// clock.js: clock arithmetic for the Bucket Brigade client.
//
// Every clock here counts samples at the server rate, 48 000 Hz, and names
// the END (exclusive) of an interval, as the wire protocol does: a clock C
// with length n means the samples [C - n, C). Clocks are about 7.7e13, so
// they live in JavaScript numbers, which hold integers exactly up to 2^53;
// every function here keeps them integral (no division without rounding).
//
// Invariant kept by the client: read_clock and write_clock are multiples of
// FRAME_SAMPLES (one 60 ms Opus frame), so the server can share one encoder
// stream between singers whose clocks are aligned. Nothing in this module
// touches the DOM or Web Audio: it is unit-tested under node.

/** Server sample rate in Hz. Every clock on the wire counts these samples. */
export const SERVER_RATE = 48000;
/** Samples in one Opus frame: 60 ms at 48 kHz. */
export const FRAME_SAMPLES = 2880;
/** Opus frames in one upload batch. */
export const BATCH_FRAMES = 10;
/** Samples in one upload batch: 600 ms, the original client's pace. */
export const BATCH_SAMPLES = FRAME_SAMPLES * BATCH_FRAMES;
/**
 * Offset (seconds behind real time) of a singer who has not been placed
 * yet: the back of the original server's first layout (5 buckets of 3 s).
 * The original client sat at 115 s, near the end of the server's 120 s
 * ring; our voice lands about 3 s further back than we listen, and the
 * server refuses writes older than the ring minus a safety margin, so the
 * far end is no place to wait.
 */
export const DEFAULT_OFFSET_S = 15;
/**
 * Smallest and largest offset a singer may choose, in seconds. The largest
 * keeps what we write (offset + about 3 s) inside a 120 s ring with the
 * server's 3 s margin to spare.
 */
export const MIN_OFFSET_S = 1;
export const MAX_OFFSET_S = 110;
/** Latency assumed when the singer skips calibration, in milliseconds. */
export const ASSUMED_LATENCY_MS = 150;
/**
 * Opus algorithmic delay (lookahead) at 48 kHz: 312 samples, 6.5 ms. The
 * audio we hear was delayed once by the server's encoder, and our voice is
 * delayed once more by ours before the server decodes it, so the write clock
 * is moved back by both.
 */
export const CODEC_DELAY_SAMPLES = 2 * 312;

/**
 * Non-negative remainder of a by m (m > 0). JavaScript's % keeps the sign of
 * the dividend, which is wrong for clock arithmetic around zero.
 */
export function mod(a, m) {
  const r = a % m;
  return r < 0 ? r + m : r || 0; // "|| 0" turns -0 into 0
}

/** The largest frame boundary <= clock. */
export function alignDown(clock, frame = FRAME_SAMPLES) {
  return clock - mod(clock, frame);
}

/** The smallest frame boundary >= clock. */
export function alignUp(clock, frame = FRAME_SAMPLES) {
  const r = mod(clock, frame);
  return r === 0 ? clock : clock + (frame - r);
}

/** The frame boundary nearest to clock (halves go up). */
export function alignNearest(clock, frame = FRAME_SAMPLES) {
  const r = mod(clock, frame);
  return r * 2 < frame ? clock - r : clock + (frame - r);
}

/** True when clock is an integer on a frame boundary. */
export function isAligned(clock, frame = FRAME_SAMPLES) {
  return Number.isSafeInteger(clock) && mod(clock, frame) === 0;
}

/**
 * Estimates the server clock at the moment the probe answer arrived:
 * the clock the server reported plus half the round trip (t0 and t1 are the
 * send and receive times in milliseconds). Returns an integer clock.
 */
export function estimateServerClock(serverClock, t0Ms, t1Ms, rate = SERVER_RATE) {
  const halfTripMs = Math.max(0, t1Ms - t0Ms) / 2;
  return Math.round(serverClock + (halfTripMs * rate) / 1000);
}

/**
 * The first read clock of a connection: offsetSeconds behind the estimated
 * server clock, rounded to the nearest frame boundary. The read clock then
 * only ever advances by whole batches, so it stays aligned.
 */
export function initialReadClock(estimatedServerClock, offsetSeconds, rate = SERVER_RATE) {
  return alignNearest(estimatedServerClock - Math.round(offsetSeconds) * rate);
}

/**
 * How many captured samples to drop so that the first batch begins on a
 * frame boundary, when the first captured sample has timeline clock
 * firstClock. The result is in [0, frame).
 */
export function captureSkip(firstClock, frame = FRAME_SAMPLES) {
  return mod(-firstClock, frame);
}

/**
 * Accepts what a singer typed as an offset in seconds. Returns an integer in
 * [MIN_OFFSET_S, MAX_OFFSET_S], or null when the text is not such a number.
 */
export function parseOffset(text) {
  const s = String(text).trim();
  if (!/^\d+$/.test(s)) return null;
  const v = Number(s);
  return v >= MIN_OFFSET_S && v <= MAX_OFFSET_S ? v : null;
}

/**
 * "Client total time consumed" in seconds: how far behind the audio it
 * hears a singer's voice lands, plus one batch. Null before writing starts.
 */
export function totalTimeConsumed(readClock, writeClock, nSamples, rate = SERVER_RATE) {
  if (writeClock == null || readClock == null) return null;
  return (readClock - writeClock + nSamples) / rate;
}

/**
 * "Client read slippage" in seconds: how far the read clock has drifted from
 * where the offset says it should be, judged by the last server clock seen.
 * Positive means we read later (further behind) than the offset asks.
 */
export function readSlippage(serverClock, readClock, offsetSeconds, rate = SERVER_RATE) {
  if (serverClock == null || readClock == null) return null;
  return (serverClock - readClock - offsetSeconds * rate) / rate;
}

/**
 * Whole seconds until the song start reaches this listener, or 0 when it has
 * (or when there is no song).
 */
export function countdownSeconds(songStartClock, clientReadClock, rate = SERVER_RATE) {
  if (!songStartClock || clientReadClock == null) return 0;
  const s = Math.round((songStartClock - clientReadClock) / rate);
  return s > 0 ? s : 0;
}

/**
 * The q-quantile (0..1) of the numbers in values, by linear interpolation
 * between the closest ranks. Returns NaN for an empty list. Does not change
 * values.
 */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/**
 * Summary of latency measurements (any unit): p25, p50, p75 and the spread
 * p75 - p25 that decides whether the calibration is trustworthy.
 */
export function latencyStats(values) {
  const p25 = quantile(values, 0.25);
  const p50 = quantile(values, 0.5);
  const p75 = quantile(values, 0.75);
  return { n: values.length, p25, p50, p75, spread: p75 - p25 };
}

/** Milliseconds to whole samples at rate. */
export function msToSamples(ms, rate = SERVER_RATE) {
  return Math.round((ms * rate) / 1000);
}

/** Samples to milliseconds at rate. */
export function samplesToMs(samples, rate = SERVER_RATE) {
  return (samples * 1000) / rate;
}

/**
 * The write-clock compensation in samples for a measured round-trip latency
 * of the local audio hardware: the hardware latency plus the codec delay.
 * Captured audio heard while playing clock P is stamped P - compensation.
 */
export function writeCompensation(latencyMs, rate = SERVER_RATE) {
  return msToSamples(latencyMs, rate) + CODEC_DELAY_SAMPLES;
}
