// words.js: the song's words in time with this page's own audio (pure: no
// DOM, no network, no audio; ui/words.js puts it on the page).
//
// The server keeps the words and the cues: "line L is current from
// timeline clock C on", C being the clock of the audio the leader was
// hearing when they moved on (docs/PROTOCOL.md 5.2, words_cues; 10.7).
// Every page hears clock C at its own moment, its bucket's delay after the
// leader, so each page switches the line when its own output reaches C.
//
// Which clock leaves the speakers now. The worklet says, with its
// statistics (every 100 ms of audio), which server clock it plays next
// (playClock) and at which frame of the audio context (frame): the clock
// of context frame f is playClock + (f - frame) * 48000 / sampleRate,
// exactly, for as long as playback runs without a reset. The frame that
// leaves the device at a moment of performance.now() comes from the
// engine's outputTimestamp() (audio.js; the device's own latency included).
// outputClock() combines the two; it is what the leader's key stamps and
// what each page compares cues with.

export const SERVER_RATE = 48000;

/** The line current at clock (the last cue at or before it), or -1. */
export function lineAt(cues, clock) {
  let line = -1;
  for (const c of cues) {
    if (c.clock > clock) break;
    line = c.line;
  }
  return line;
}

/** The clock of the first cue after clock, or null. */
export function nextCueAfter(cues, clock) {
  for (const c of cues) if (c.clock > clock) return c.clock;
  return null;
}

/**
 * The words_cues object of a response ({words, n, cues: [[clock, line]]})
 * as {words, n, cues: [{clock, line}]} in clock order, anything malformed
 * left out; null for something that is not one.
 */
export function parseCues(m) {
  if (!m || typeof m !== 'object' || !Number.isInteger(m.words) || !Array.isArray(m.cues)) return null;
  const n = Number.isInteger(m.n) && m.n >= 0 ? m.n : 0;
  const cues = [];
  for (const c of m.cues) {
    if (!Array.isArray(c) || !Number.isSafeInteger(c[0]) || !Number.isInteger(c[1])) continue;
    if (c[1] < 0 || c[1] >= n) continue;
    cues.push({ clock: c[0], line: c[1] });
  }
  cues.sort((a, b) => a.clock - b.clock);
  return { words: m.words, n, cues };
}

/** The highest slide number a line may name (SL_MAX, WORDS_SLIDE_MAX). */
export const SLIDE_MAX = 32;

/**
 * GET /api/words's answer as {id, lines, verses, slides}, or null. slides
 * has one entry a line: the slide it names (0: none from there), or null.
 */
export function parseWords(j) {
  if (!j || typeof j !== 'object' || !Number.isInteger(j.id) || !Array.isArray(j.lines)) return null;
  const lines = j.lines.map((l) => String(l));
  const verses = new Set(Array.isArray(j.verses) ? j.verses.filter(Number.isInteger) : []);
  const given = Array.isArray(j.slides) ? j.slides : [];
  const slides = lines.map((_, i) => {
    const s = given[i];
    return Number.isInteger(s) && s >= 0 && s <= SLIDE_MAX ? s : null;
  });
  return { id: j.id, lines, verses, slides };
}

/**
 * The slide shown while line `line` is current: the one the last line up
 * to it names; 0 for none (also before the first line, line -1). The
 * slide switches with its line, on the same clock: no timing of its own.
 */
export function slideAt(slides, line) {
  for (let i = Math.min(line, slides.length - 1); i >= 0; i--) {
    if (slides[i] != null) return slides[i];
  }
  return 0;
}

/** The numbers of the slides the words name (without 0), in order. */
export function slidesNamed(slides) {
  return [...new Set(slides.filter((s) => s > 0))].sort((a, b) => a - b);
}

/**
 * GET /api/slides's answer as a Map from slide number to its version
 * string; anything malformed left out.
 */
export function parseSlideList(j) {
  const m = new Map();
  if (!j || !Array.isArray(j.slides)) return m;
  for (const s of j.slides) {
    if (s && Number.isInteger(s.slide) && s.slide >= 1 && s.slide <= SLIDE_MAX && typeof s.v === 'string'
      && /^[0-9a-f-]{1,40}$/.test(s.v)) m.set(s.slide, s.v);
  }
  return m;
}

/**
 * The anchor of a worklet statistics message, {clock, frame} (frame in the
 * context's frames), or null while nothing plays.
 */
export function anchorOf(stats) {
  if (!stats || !(stats.playClock >= 0) || !Number.isFinite(stats.frame) || stats.frame < 0) return null;
  return { clock: stats.playClock, frame: stats.frame };
}

/** The server clock at context time t (seconds) from an anchor. */
export function clockAtContextTime(anchor, t, sampleRate) {
  return anchor.clock + (t * sampleRate - anchor.frame) * (SERVER_RATE / sampleRate);
}

/**
 * The context time (seconds) whose audio leaves the device at
 * performance time nowMs, from ts = ctx.getOutputTimestamp(); falls back
 * to currentTime less the reported latencies when the browser gives no
 * timestamp yet.
 */
export function leavingContextTime(ts, nowMs, fallback) {
  if (ts && ts.performanceTime > 0 && Number.isFinite(ts.contextTime)) {
    return ts.contextTime + (nowMs - ts.performanceTime) / 1000;
  }
  return fallback.currentTime - (fallback.outputLatency || 0) - (fallback.baseLatency || 0);
}

/**
 * What to show at clock: {current, next} line indexes (-1: none). Before
 * the first cue the first line is next; after the last line nothing is.
 */
export function showAt(cues, n, clock) {
  const current = lineAt(cues, clock);
  const next = current + 1 < n ? current + 1 : -1;
  return { current, next };
}
