// timingwatch.js: what the page makes of the server's timing watch
// (docs/PROTOCOL.md §10.6). The worker that serves a singer measures how
// late (positive) or early (negative) their voice lands against the beat
// or against what they heard; a flagged singer gets "timing", the leader
// and the organiser get "timing_flags", and once someone applied the
// offset the singer's answer carries "timing_apply" once. This module
// turns those into sentences and rows, and computes the latency the page
// sings with afterwards. Pure: no DOM, no clocks (tests/js/timingwatch.test.js).
//
// The sign. The page stamps audio captured while it played clock P with
// P - compensation, where compensation grows with the latency (clock.js
// writeCompensation). A latency taken too small by d stamps the voice d
// too late, and the server measures it d late (positive). Applying an
// offset of +d therefore adds d to the latency: the voice is stamped, and
// lands, d earlier. An early singer (negative offset) gets a smaller one.

/** The largest offset the page takes from the server, either way (ms). */
export const MAX_OFFSET_MS = 1000;
/** The latency the page sings with stays within these bounds (ms). */
export const MIN_LATENCY_MS = 0;
export const MAX_LATENCY_MS = 2000;
/** The server sends at most this many flagged singers. */
export const MAX_FLAGS = 32;

const BASIS_TEXT = { beat: 'against the beat', leader: 'against the leader' };

/**
 * A {"offset_ms": N, "basis": ...} object from the server as
 * {offsetMs, basis}, or null when it is not one: N a non-zero integer
 * within MAX_OFFSET_MS, basis "beat" or "leader".
 */
export function parseTiming(t) {
  if (!t || typeof t !== 'object') return null;
  const ms = t.offset_ms;
  if (!Number.isInteger(ms) || ms === 0 || Math.abs(ms) > MAX_OFFSET_MS) return null;
  if (!Object.hasOwn(BASIS_TEXT, t.basis)) return null;
  return { offsetMs: ms, basis: t.basis };
}

/** "80 ms late" or "35 ms early" for a signed offset (positive = late). */
export function offsetText(ms) {
  return `${Math.abs(ms)} ms ${ms > 0 ? 'late' : 'early'}`;
}

/** "against the beat" or "against the leader". */
export function basisText(basis) {
  return BASIS_TEXT[basis] || '';
}

/**
 * The singer's own line from an answer's "timing", or null when the
 * singer is not flagged: {text: "You sing 80 ms late (against the
 * beat).", offsetMs, basis}.
 */
export function ownLine(timing) {
  const t = parseTiming(timing);
  if (!t) return null;
  return { ...t, text: `You sing ${offsetText(t.offsetMs)} (${basisText(t.basis)}).` };
}

/**
 * The flagged singers from an answer's "timing_flags" as a Map from
 * public id (string) to {offsetMs, basis}; entries that are not well
 * formed are left out, and at most MAX_FLAGS are kept.
 */
export function flagMap(flags) {
  const m = new Map();
  if (!Array.isArray(flags)) return m;
  for (const f of flags) {
    if (m.size >= MAX_FLAGS) break;
    if (!f || (typeof f.id !== 'string' && !Number.isSafeInteger(f.id))) continue;
    const id = String(f.id);
    const t = parseTiming(f);
    if (!/^\d{1,20}$/.test(id) || !t || m.has(id)) continue;
    m.set(id, t);
  }
  return m;
}

/**
 * The console's text for one singer's flag ("80 ms late (beat)"), or ''
 * when they are not flagged.
 */
export function flagText(t) {
  return t ? `${offsetText(t.offsetMs)} (${t.basis})` : '';
}

/**
 * The latency to sing with after "timing_apply" arrived: latencyMs (the
 * one sung with until now) plus the applied offset, kept within
 * MIN_LATENCY_MS..MAX_LATENCY_MS; null when apply is not a valid offset
 * (nothing changes then). See the top of this file for the sign.
 */
export function appliedLatency(latencyMs, apply) {
  const t = parseTiming(apply);
  if (!t || !Number.isFinite(latencyMs)) return null;
  return Math.min(MAX_LATENCY_MS, Math.max(MIN_LATENCY_MS, latencyMs + t.offsetMs));
}

/**
 * The sum of the offsets applied so far, for the timing line: adjusted
 * (the sum before, a number or missing) plus what was really moved, the
 * new latency minus the old.
 */
export function addAdjustment(adjusted, before, after) {
  return Math.round((Number.isFinite(adjusted) ? adjusted : 0) + (after - before));
}
