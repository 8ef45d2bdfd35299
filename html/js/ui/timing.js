// timing.js: the singer's timing line in the Song card: which latency the
// page sings with and where it came from (measured, estimated after a
// failed measurement, or assumed because measuring is switched off), with
// a button to measure again that is always there for a singer. Below it is
// the server's timing watch ("You sing 80 ms late (against the beat)." with
// Apply, timingwatch.js), shown while the server flags the singer.

import { $, setText, show } from './dom.js';

/**
 * The sentence for the timing line. t: {calibration: "measured",
 * "estimated" or "assumed", latencyMs, seconds (how long the measurement
 * took), source (where an estimate came from, a phrase), adjustedMs (the
 * sum of the timing watch's offsets applied since, 0 or missing: none)}.
 */
export function timingText(t) {
  const base = calibrationText(t);
  if (!Number.isFinite(t.adjustedMs) || t.adjustedMs === 0) return base;
  const by = `${t.adjustedMs > 0 ? '+' : '−'}${Math.abs(t.adjustedMs)} ms`;
  return `${base} Adjusted by ${by} from the server's timing watch.`;
}

/**
 * The calib parameter that tells the server (and so the organiser's
 * console, PROTOCOL.md §9.13) how this page's latency came about:
 * "measured:MS", or "estimated:MS" for an estimate or an assumed figure
 * (nothing was measured); null before there is a latency. MS is whole
 * milliseconds, 0..5000.
 */
export function calibParam(calibration, latencyMs) {
  if (!calibration || !Number.isFinite(latencyMs)) return null;
  const ms = Math.min(5000, Math.max(0, Math.round(latencyMs)));
  return `${calibration === 'measured' ? 'measured' : 'estimated'}:${ms}`;
}

function calibrationText(t) {
  const ms = Number.isFinite(t.latencyMs) ? `${t.latencyMs.toFixed(1)} ms` : 'unknown';
  if (t.calibration === 'measured') {
    return `Your latency: ${ms}, measured${Number.isFinite(t.seconds) ? ` in ${t.seconds.toFixed(1)} s` : ''}.`;
  }
  if (t.calibration === 'estimated') {
    return `Your latency: ${ms}, estimated from ${t.source || 'a typical figure'} (not measured). If you sound early or late, measure again.`;
  }
  return `Your latency: ${ms}, assumed (measuring is switched off in Debug).`;
}

/**
 * Wires the button that measures again (onRecalibrate() starts it) and
 * the timing watch's Apply (onApply()).
 */
export function setupTiming(onRecalibrate, onApply) {
  $('recalibrate').addEventListener('click', onRecalibrate);
  $('timing-apply').addEventListener('click', onApply);
}

/**
 * Shows the timing line for a singer (hidden for a listener). offer: the
 * singer's own line from the timing watch (timingwatch.js ownLine) or
 * null; applying: an Apply was sent and its answer is awaited.
 */
export function renderTiming(t, listenOnly, offer = null, applying = false) {
  show($('timing'), !listenOnly);
  if (listenOnly) return;
  setText($('timing-text'), timingText(t));
  show($('timing-offer'), !!offer);
  if (!offer) return;
  setText($('timing-offer-text'), offer.text);
  const b = $('timing-apply');
  b.disabled = applying;
  setText(b, applying ? 'Applying…' : 'Apply');
  b.setAttribute('aria-label', `Apply: move my voice ${Math.abs(offer.offsetMs)} ms ${offer.offsetMs > 0 ? 'earlier' : 'later'}`);
}
