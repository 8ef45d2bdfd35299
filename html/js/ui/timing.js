// timing.js: the singer's timing line in the Song card: which latency the
// page sings with and where it came from (measured, estimated after a
// failed measurement, or assumed because measuring is switched off), with
// a button to measure again that is always there for a singer. Below it is
// the place for the server's timing watch ("you sing N ms late", with a
// button to apply it), hidden until the server says so.

import { $, setText, show } from './dom.js';

/**
 * The sentence for the timing line. t: {calibration: "measured",
 * "estimated" or "assumed", latencyMs, seconds (how long the measurement
 * took), source (where an estimate came from, a phrase)}.
 */
export function timingText(t) {
  const ms = Number.isFinite(t.latencyMs) ? `${t.latencyMs.toFixed(1)} ms` : 'unknown';
  if (t.calibration === 'measured') {
    return `Your latency: ${ms}, measured${Number.isFinite(t.seconds) ? ` in ${t.seconds.toFixed(1)} s` : ''}.`;
  }
  if (t.calibration === 'estimated') {
    return `Your latency: ${ms}, estimated from ${t.source || 'a typical figure'} (not measured). If you sound early or late, measure again.`;
  }
  return `Your latency: ${ms}, assumed (measuring is switched off in Debug).`;
}

/** Wires the button that measures again: onRecalibrate() starts it. */
export function setupTiming(onRecalibrate) {
  $('recalibrate').addEventListener('click', onRecalibrate);
}

/** Shows the timing line for a singer (hidden for a listener). */
export function renderTiming(t, listenOnly) {
  show($('timing'), !listenOnly);
  if (!listenOnly) setText($('timing-text'), timingText(t));
}
