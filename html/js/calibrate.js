// calibrate.js: latency and volume calibration.
//
// Latency: the worklet plays a 1024 Hz beep at 105 BPM and reports, for
// each echo it hears in the input, how many samples after the beep's start
// the echo arrived (the round trip through speakers or headphones, air and
// microphone, as seen from the worklet's own clock). After 3 echoes the
// quartiles are shown; after 7 the run ends. It succeeds when the spread
// p75 - p25 is at most 2 ms; the result is the median.
//
// Volume: while the singer sings, the worklet reports the mean absolute
// input level every 100 render quanta; after 18 reports the input gain is
// set so that the 90th percentile level becomes 0.04, at most 10x.
//
// When the measurement fails the singer may still sing, with an estimate
// (estimateLatency): the median of the echoes that were heard when there
// are a few, else what the browser reports of its own audio path, else a
// typical figure. The page says which, and offers to measure again.
//
// The echo detector itself is in the worklet (worklet/bb-io.js): only a
// short sound that rises and falls again counts, never a steady tone.
//
// The pure parts (latencyVerdict, volumeGain, levelDb, estimateLatency,
// latencySeconds) are unit-tested.

import { ASSUMED_LATENCY_MS, latencyStats, quantile, samplesToMs } from './clock.js';

export const LATENCY_SHOW_AFTER = 3;
export const LATENCY_DETECTIONS = 7;
export const LATENCY_MAX_SPREAD_MS = 2;
export const LATENCY_TIMEOUT_MS = 12000;
// The beeps' tempo in the worklet (bb-io.js): 105 per minute.
export const BEEP_BPM = 105;
export const VOLUME_BLOCKS = 18;
export const VOLUME_TARGET = 0.04;
export const VOLUME_MAX_GAIN = 10;

/**
 * The verdict on a list of latency measurements in ms: {done, ok, stats}.
 * done once LATENCY_DETECTIONS are in; ok when done and the spread is small.
 */
export function latencyVerdict(valuesMs) {
  const stats = latencyStats(valuesMs);
  const done = valuesMs.length >= LATENCY_DETECTIONS;
  return { done, ok: done && stats.spread <= LATENCY_MAX_SPREAD_MS, stats };
}

/**
 * How long a measurement takes, in whole seconds: {usual, most}. usual is
 * the time for LATENCY_DETECTIONS beeps (each heard back), most the
 * timeout after which it gives up. What the page tells the singer.
 */
export function latencySeconds() {
  return {
    usual: Math.ceil((LATENCY_DETECTIONS * 60) / BEEP_BPM),
    most: Math.ceil(LATENCY_TIMEOUT_MS / 1000),
  };
}

/**
 * A latency to sing with when the measurement failed: {ms, source}.
 * valuesMs: the echoes heard (ms); browserMs: what the browser reports of
 * its audio path (AudioContext baseLatency + outputLatency + the
 * microphone's latency, in ms; 0 or missing when it reports nothing).
 * source is "beeps" (the median of at least LATENCY_SHOW_AFTER echoes),
 * "browser" (its figure, when at least 10 ms: less is no round trip) or
 * "typical" (ASSUMED_LATENCY_MS). ms is rounded to 0.1.
 */
export function estimateLatency(valuesMs = [], browserMs = 0) {
  const round = (v) => Math.round(v * 10) / 10;
  if (valuesMs.length >= LATENCY_SHOW_AFTER) return { ms: round(latencyStats(valuesMs).p50), source: 'beeps' };
  if (Number.isFinite(browserMs) && browserMs >= 10 && browserMs <= 1000) return { ms: round(browserMs), source: 'browser' };
  return { ms: ASSUMED_LATENCY_MS, source: 'typical' };
}

/** The sentence that says where an estimate comes from. */
export function estimateSource(source, heard = 0) {
  if (source === 'beeps') return `the middle of the ${heard} beeps that were heard`;
  if (source === 'browser') return 'what your browser reports about your sound devices';
  return 'a typical figure for wired headphones';
}

/**
 * The input gain for a list of mean absolute levels: VOLUME_TARGET divided
 * by their 90th percentile, clamped to [0.1, VOLUME_MAX_GAIN]. With no
 * signal at all the gain is 1 (nothing to go by).
 */
export function volumeGain(levels) {
  const p90 = quantile(levels, 0.9);
  if (!(p90 > 0)) return 1;
  return Math.min(VOLUME_MAX_GAIN, Math.max(0.1, VOLUME_TARGET / p90));
}

/** A level (mean absolute value) in dB relative to full scale, -100 for silence. */
export function levelDb(meanAbs) {
  return meanAbs > 1e-5 ? 20 * Math.log10(meanAbs) : -100;
}

/**
 * Runs the latency calibration on engine (an AudioEngine). onProgress gets
 * {values, stats} after each echo once LATENCY_SHOW_AFTER are in, and
 * {noInput: true} when the input stays exactly silent. Resolves
 * {ok, latencyMs, stats, values, seconds, reason}: values the echoes heard
 * (ms), seconds how long the measurement really took, reason why it failed.
 */
export function measureLatency(engine, { onProgress = () => {}, timeoutMs = LATENCY_TIMEOUT_MS } = {}) {
  return new Promise((resolve) => {
    const values = [];
    let heardAnything = false;
    const started = performance.now();
    const finish = (result) => {
      offPeak();
      offStats();
      clearTimeout(timer);
      engine.setMode('idle');
      resolve({ ...result, values: [...values], seconds: (performance.now() - started) / 1000 });
    };
    const offPeak = engine.on('latency-peak', (m) => {
      values.push(samplesToMs(m.samples, engine.sampleRate));
      const v = latencyVerdict(values);
      if (values.length >= LATENCY_SHOW_AFTER) onProgress({ values: [...values], stats: v.stats });
      if (v.done) {
        finish(v.ok
          ? { ok: true, latencyMs: v.stats.p50, stats: v.stats }
          : { ok: false, stats: v.stats, reason: `the echoes were too irregular (spread ${v.stats.spread.toFixed(1)} ms, at most ${LATENCY_MAX_SPREAD_MS} ms)` });
      }
    });
    const offStats = engine.on('stats', (m) => {
      if (m.inPeak > 0) heardAnything = true;
      if (!heardAnything && performance.now() - started > 1500) {
        onProgress({ noInput: true });
      }
    });
    const timer = setTimeout(() => {
      finish({
        ok: false,
        stats: latencyStats(values),
        reason: heardAnything
          ? `only ${values.length} of ${LATENCY_DETECTIONS} beeps were heard back`
          : 'no sound at all came from the microphone',
      });
    }, timeoutMs);
    engine.setMode('latency');
  });
}

/**
 * Runs the volume calibration: onLevel(meanAbs, db, count) per report.
 * Resolves {gain, levels}. cancel() on the returned promise's .cancel ends
 * it early with the levels so far.
 */
export function measureVolume(engine, { onLevel = () => {} } = {}) {
  let finish;
  const p = new Promise((resolve) => {
    const levels = [];
    let done = false;
    finish = () => {
      if (done) return;
      done = true;
      off();
      engine.setMode('idle');
      resolve({ gain: volumeGain(levels), levels });
    };
    const off = engine.on('volume-level', (m) => {
      levels.push(m.meanAbs);
      onLevel(m.meanAbs, levelDb(m.meanAbs), levels.length);
      if (levels.length >= VOLUME_BLOCKS) finish();
    });
    engine.setMode('volume');
  });
  p.cancel = () => finish();
  return p;
}
