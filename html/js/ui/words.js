// ui/words.js: the words card. Every page shows the current line large and
// the next one below it, switching when its own audio output reaches the
// line's cue clock (words.js says how that clock is known). The leader
// and the organiser also get the controls: load the words (typed, pasted
// or from a .txt file) and move to the next line with a button or a key
// (Right arrow, Page Down or N: a presentation clicker sends Page Down).
// The presentation view shows the lines alone, full screen, for a screen
// share; Escape or the button leaves it.
//
// Timing: the card does not wait for a frame or for the next worklet
// message to switch. After every change it sets a timer for the moment the
// next cue's clock leaves the speakers, and checks again when the timer
// fires (a timer that fires early sets itself again); a 100 ms check
// catches a reconnect or a new anchor. Each switch is recorded with its
// performance.now() in `shown` (the browser test compares it with the
// marker tone in the page's output).
//
// Lines are set with textContent: nothing a leader typed is parsed as HTML.

import {
  SERVER_RATE, anchorOf, clockAtContextTime, leavingContextTime, nextCueAfter, parseCues, parseWords, showAt,
} from '../words.js';
import { el, setText, show } from './dom.js';

const CHECK_MS = 100;
const SHOWN_KEPT = 50;
const NEXT_KEYS = new Set(['ArrowRight', 'PageDown', 'n', 'N']);

/**
 * Builds the card inside `card` (a hidden section of the page) and returns
 * its controller. deps: {engine (audio.js), url(path, extra) -> URL of an
 * API endpoint with the room and the userid, log(text), notice(text)}.
 */
export function setupWords(card, { engine, url, log, notice }) {
  const w = {
    words: { id: 0, lines: [], verses: new Set() },
    cues: { words: 0, n: 0, cues: [] },
    anchor: null,
    canLead: false,
    current: -2,
    next: -2,
    shown: [],
    fetching: 0,
    timer: 0,
  };

  const lineEl = el('p', { class: 'words-line', attrs: { 'aria-live': 'polite', id: 'words-current' } });
  const nextEl = el('p', { class: 'words-next', attrs: { id: 'words-next' } });
  const empty = el('p', { class: 'hint', text: 'No words for this song yet.' });
  const nextBtn = el('button', { text: 'Next line ▸', attrs: { type: 'button', id: 'words-advance' } });
  const presentBtn = el('button', { text: 'Present', attrs: { type: 'button', id: 'words-present' } });
  const text = el('textarea', { attrs: { id: 'words-text', rows: 6, maxlength: 8192, 'aria-label': 'The words, one line a line' } });
  const file = el('input', { attrs: { type: 'file', accept: '.txt,text/plain', id: 'words-file', 'aria-label': 'A words file' } });
  const loadBtn = el('button', { text: 'Load words', attrs: { type: 'submit' } });
  const result = el('p', { attrs: { role: 'status', 'aria-live': 'polite', id: 'words-result' } });
  const form = el('form', { class: 'words-load' },
    el('label', {
      text: 'One line a line, a blank line between verses (at most 200 lines). A line that starts with its time, [0:12] or the beat [b9], follows the song by itself.',
      attrs: { for: 'words-text' },
    }),
    text, el('div', { class: 'buttons' }, file, loadBtn), result);
  const loadBox = el('details', { class: 'words-load-box' }, el('summary', { text: 'Words for the song' }), form);
  const leaderRow = el('div', { class: 'buttons words-buttons' }, nextBtn,
    el('span', { class: 'hint', text: 'or press → / Page Down' }));
  const view = el('div', { class: 'words-view' }, lineEl, nextEl);
  const presentRow = el('div', { class: 'buttons' }, presentBtn);
  card.append(
    el('h2', { text: 'Words', attrs: { id: 'words-title' } }),
    view, empty, presentRow, leaderRow, loadBox,
  );
  card.setAttribute('aria-labelledby', 'words-title');

  // ---- the clock leaving the speakers

  function outputClock() {
    if (!w.anchor || !engine.ctx) return null;
    const ctx = engine.ctx;
    const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    const t = leavingContextTime(ts, performance.now(), ctx);
    return clockAtContextTime(w.anchor, t, ctx.sampleRate);
  }

  engine.on('stats', (s) => {
    const a = anchorOf(s);
    const moved = !a || !w.anchor || Math.abs(clockAtContextTime(w.anchor, a.frame / engine.ctx.sampleRate, engine.ctx.sampleRate) - a.clock) > 1;
    w.anchor = a;
    if (moved) check();
  });

  // ---- showing

  function render() {
    const has = w.words.id > 0 && w.words.lines.length > 0;
    show(empty, !has);
    // Without words the leader's card is the loader alone, not an empty stage.
    show(view, has);
    show(presentRow, has);
    const cur = w.current >= 0 ? w.words.lines[w.current] ?? '' : '';
    const nxt = w.next >= 0 ? w.words.lines[w.next] ?? '' : '';
    setText(lineEl, cur || (has && w.current < 0 ? '…' : ''));
    setText(nextEl, nxt);
    nextEl.classList.toggle('verse', w.next >= 0 && w.words.verses.has(w.next));
    show(leaderRow, w.canLead && has);
    show(loadBox, w.canLead);
    nextBtn.disabled = !has || w.next < 0;
    show(card, has || w.canLead);
  }

  function check() {
    clearTimeout(w.timer);
    w.timer = 0;
    const clock = outputClock();
    if (clock == null) return;
    const mine = w.cues.words === w.words.id ? w.cues.cues : [];
    const n = w.words.lines.length;
    const s = showAt(mine, n, clock);
    if (s.current !== w.current || s.next !== w.next) {
      w.current = s.current;
      w.next = s.next;
      render();
      w.shown.push({ line: s.current, at: performance.now(), clock: Math.round(clock) });
      if (w.shown.length > SHOWN_KEPT) w.shown.shift();
    }
    const due = nextCueAfter(mine, clock);
    if (due != null) {
      const ms = ((due - clock) / SERVER_RATE) * 1000;
      w.timer = setTimeout(check, Math.max(0, Math.min(ms, 60000)));
    }
  }
  setInterval(() => { if (!w.timer) check(); }, CHECK_MS);

  async function fetchWords(id) {
    if (w.fetching === id) return;
    w.fetching = id;
    try {
      const r = await fetch(url('words'), { cache: 'no-store' });
      const j = parseWords(await r.json());
      if (j && j.id >= w.words.id) {
        w.words = j;
        w.current = w.next = -2;
        log(`words ${j.id}: ${j.lines.length} lines`);
      }
    } catch (e) {
      log(`words: ${e.message}`);
    } finally {
      w.fetching = 0;
    }
    render();
    check();
  }

  // ---- the leader's controls

  async function advance() {
    const has = w.words.id > 0 && w.words.lines.length > 0;
    const clock = outputClock();
    if (!w.canLead || !has || clock == null) return;
    const line = w.current + 1;
    if (line >= w.words.lines.length) return;
    const at = Math.round(clock);
    // Shown here at once: this page hears that clock now.
    const cues = w.cues.words === w.words.id ? w.cues.cues.filter((c) => c.clock < at) : [];
    w.cues = { words: w.words.id, n: w.words.lines.length, cues: [...cues, { clock: at, line }] };
    check();
    try {
      const r = await fetch(url('words/cue', { line, clock: at, words: w.words.id }), { method: 'POST' });
      if (!r.ok) {
        let j = {};
        try { j = await r.json(); } catch { /* not JSON */ }
        notice(`The line did not move for the others: ${j.error || 'HTTP ' + r.status}`);
      }
    } catch (e) {
      notice(`The line did not move for the others: ${e.message}`);
    }
  }

  async function load(body) {
    setText(result, 'Loading…');
    try {
      const r = await fetch(url('words'), {
        method: 'POST', body, headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      });
      let j = {};
      try { j = await r.json(); } catch { /* not JSON */ }
      if (r.ok) {
        setText(result, `Loaded ${j.lines} lines.`);
        fetchWords(j.words);
      } else {
        setText(result, `Not loaded: ${j.error || 'HTTP ' + r.status}`);
      }
    } catch (e) {
      setText(result, `Not loaded: ${e.message}`);
    }
  }

  nextBtn.addEventListener('click', advance);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = file.files[0];
    load(f || text.value);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && card.classList.contains('present')) {
      togglePresent(false);
      return;
    }
    if (!NEXT_KEYS.has(e.key) || e.ctrlKey || e.altKey || e.metaKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (!w.canLead) return;
    e.preventDefault();
    advance();
  });

  function togglePresent(on) {
    card.classList.toggle('present', on);
    setText(presentBtn, on ? 'Leave presentation' : 'Present');
    if (on && card.requestFullscreen) card.requestFullscreen().catch(() => {});
    if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }
  presentBtn.addEventListener('click', () => togglePresent(!card.classList.contains('present')));

  render();
  return {
    state: w,
    outputClock,
    advance,
    load,
    /** The words_cues of a response. */
    onCues(m) {
      const c = parseCues(m);
      if (!c) return;
      w.cues = c;
      if (c.words !== w.words.id && c.words > 0) fetchWords(c.words);
      else if (c.words === 0 && w.words.id !== 0) w.words = { id: 0, lines: [], verses: new Set() };
      render();
      check();
    },
    /** Whether this person may load words and move the line. */
    setCanLead(on) {
      if (on === w.canLead) return;
      w.canLead = on;
      render();
    },
  };
}
