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
// Slides: a line may name one of the room's slide images ("[slide 3]",
// docs/PROTOCOL.md 10.8); the card shows the slide of the current line
// above it, switched in the same check() as the line, so on the same clock
// and with no timing of its own. The room's slide list (number -> version)
// is fetched with the words and every SLIDES_REFRESH_MS while the words
// name slides; each named slide is loaded ahead under a URL that names its
// version (cached for good), so that a switch shows an image already in
// the browser's cache. The leader and the organiser also get a form to
// upload a slide under a number.
//
// Lines are set with textContent: nothing a leader typed is parsed as HTML.

import {
  SERVER_RATE, SLIDE_MAX, anchorOf, clockAtContextTime, leavingContextTime, nextCueAfter, parseCues, parseSlideList,
  parseWords, showAt, slideAt, slidesNamed,
} from '../words.js';
import { el, setText, show } from './dom.js';

const CHECK_MS = 100;
const SHOWN_KEPT = 50;
const NEXT_KEYS = new Set(['ArrowRight', 'PageDown', 'n', 'N']);
const SLIDES_REFRESH_MS = 30000;
const SLIDE_BYTES_MAX = 4 * 1024 * 1024;   // IMG_MAX_BYTES

/**
 * Builds the card inside `card` (a hidden section of the page) and returns
 * its controller. deps: {engine (audio.js), url(path, extra) -> URL of an
 * API endpoint with the room and the userid, log(text), notice(text)}.
 */
export function setupWords(card, { engine, url, log, notice }) {
  const w = {
    words: { id: 0, lines: [], verses: new Set(), slides: [] },
    slideList: new Map(),   // slide number -> version, from GET /api/slides
    preloaded: new Map(),   // slide URL -> Image, loaded ahead of its line
    slide: 0,
    cues: { words: 0, n: 0, cues: [] },
    anchor: null,
    canLead: false,
    current: -2,
    next: -2,
    shown: [],
    fetching: 0,
    timer: 0,
  };

  const slideImg = el('img', { attrs: { id: 'words-slide', alt: '', decoding: 'sync' } });
  const slideFig = el('figure', { class: 'words-slide' }, slideImg);
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
      text: 'One line a line, a blank line between verses (at most 200 lines). A line that starts with its time, [0:12] or the beat [b9], follows the song by itself. A line that starts with [slide 3] (after its time) shows slide 3 from that line on; [slide 0] shows none; a line may be a slide alone.',
      attrs: { for: 'words-text' },
    }),
    text, el('div', { class: 'buttons' }, file, loadBtn), result);
  const slideNum = el('input', {
    attrs: { type: 'number', min: 1, max: SLIDE_MAX, id: 'slide-number', placeholder: 'next free', 'aria-label': 'Slide number' },
  });
  const slideFile = el('input', { attrs: { type: 'file', accept: 'image/png,image/jpeg', id: 'slide-file', 'aria-label': 'A slide image' } });
  const slideBtn = el('button', { text: 'Upload slide', attrs: { type: 'submit' } });
  const slideResult = el('p', { attrs: { role: 'status', 'aria-live': 'polite', id: 'slide-result' } });
  const slideHave = el('p', { class: 'hint', attrs: { id: 'slide-list' } });
  const slideForm = el('form', { class: 'words-load' },
    el('label', {
      text: 'Slides: PNG or JPEG images, at most 4 MiB and 4096 pixels a side, up to 32 a room. Give a number to replace that slide.',
      attrs: { for: 'slide-file' },
    }),
    el('div', { class: 'buttons' }, slideNum, slideFile, slideBtn), slideResult, slideHave);
  const loadBox = el('details', { class: 'words-load-box' }, el('summary', { text: 'Words and slides for the song' }),
    form, slideForm);
  const leaderRow = el('div', { class: 'buttons words-buttons' }, nextBtn,
    el('span', { class: 'hint', text: 'or press → / Page Down' }));
  const view = el('div', { class: 'words-view' }, slideFig, lineEl, nextEl);
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
    const t = leavingContextTime(engine.outputTimestamp(), performance.now(), ctx);
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
    const src = has && w.slide > 0 ? slideUrl(w.slide) : '';
    if (src && slideImg.getAttribute('src') !== src) slideImg.src = src;
    slideImg.alt = src ? `Slide ${w.slide}` : '';
    show(slideFig, !!src);
    card.classList.toggle('has-slide', !!src);
    const have = [...w.slideList.keys()];
    setText(slideHave, have.length ? `This room's slides: ${have.join(', ')}` : 'This room has no slides yet.');
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
    const slide = slideAt(w.words.slides, s.current);
    if (s.current !== w.current || s.next !== w.next || slide !== w.slide) {
      w.current = s.current;
      w.next = s.next;
      w.slide = slide;
      render();
      w.shown.push({ line: s.current, slide, at: performance.now(), clock: Math.round(clock) });
      if (w.shown.length > SHOWN_KEPT) w.shown.shift();
    }
    const due = nextCueAfter(mine, clock);
    if (due != null) {
      const ms = ((due - clock) / SERVER_RATE) * 1000;
      w.timer = setTimeout(check, Math.max(0, Math.min(ms, 60000)));
    }
  }
  setInterval(() => { if (!w.timer) check(); }, CHECK_MS);

  // ---- slides

  /** The URL of slide n: its version in it when known (cached for good);
   * the room's key, not the secret userid (an image URL is not private). */
  function slideUrl(n) {
    const v = w.slideList.get(n);
    const u = new URL(url('slide', v ? { n, v } : { n }));
    u.searchParams.delete('userid');
    return u.href;
  }

  function preloadSlides() {
    for (const n of slidesNamed(w.words.slides)) {
      const src = slideUrl(n);
      if (w.preloaded.has(src)) continue;
      const img = new Image();
      img.src = src;
      img.decode().catch(() => {});
      w.preloaded.set(src, img);
    }
  }

  async function fetchSlides() {
    try {
      const r = await fetch(url('slides'), { cache: 'no-store' });
      if (!r.ok) return;   // a server without the upload worker: no slides
      w.slideList = parseSlideList(await r.json());
    } catch (e) {
      log(`slides: ${e.message}`);
      return;
    }
    preloadSlides();
    render();
  }
  setInterval(() => { if (slidesNamed(w.words.slides).length) fetchSlides(); }, SLIDES_REFRESH_MS);

  async function uploadSlide() {
    const f = slideFile.files[0];
    if (!f) {
      setText(slideResult, 'Choose an image first.');
      return;
    }
    if (f.size > SLIDE_BYTES_MAX) {
      setText(slideResult, `Not stored: the image file is larger than 4 MiB (${(f.size / 1048576).toFixed(1)} MiB).`);
      return;
    }
    const n = slideNum.value ? Number(slideNum.value) : 0;
    setText(slideResult, 'Uploading…');
    try {
      const r = await fetch(url('slide', n ? { n } : {}), { method: 'POST', body: f });
      let j = {};
      try { j = await r.json(); } catch { /* not JSON */ }
      if (r.ok) setText(slideResult, `Stored as slide ${j.slide} (${j.width}×${j.height}).`);
      else setText(slideResult, `Not stored: ${j.error || 'HTTP ' + r.status}`);
    } catch (e) {
      setText(slideResult, `Not stored: ${e.message}`);
    }
    fetchSlides();
  }
  slideForm.addEventListener('submit', (e) => {
    e.preventDefault();
    uploadSlide();
  });

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
        if (slidesNamed(j.slides).length || w.canLead) fetchSlides();
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
    uploadSlide,
    fetchSlides,
    /** The words_cues of a response. */
    onCues(m) {
      const c = parseCues(m);
      if (!c) return;
      w.cues = c;
      if (c.words !== w.words.id && c.words > 0) fetchWords(c.words);
      else if (c.words === 0 && w.words.id !== 0) w.words = { id: 0, lines: [], verses: new Set(), slides: [] };
      render();
      check();
    },
    /** Whether this person may load words and move the line. */
    setCanLead(on) {
      if (on === w.canLead) return;
      w.canLead = on;
      if (on) fetchSlides();
      render();
    },
  };
}
