// Unit tests of html/js/words.js: the line current at a clock, the cues and
// words of the server's answers, and which clock leaves the speakers when.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  anchorOf, clockAtContextTime, leavingContextTime, lineAt, nextCueAfter, parseCues, parseSlideList, parseWords,
  showAt, slideAt, slidesNamed,
} from '../../html/js/words.js';

const cues = [{ clock: 1000, line: 0 }, { clock: 2000, line: 1 }, { clock: 5000, line: 2 }];

test('the line current at a clock is the last cue at or before it', () => {
  assert.equal(lineAt(cues, 999), -1);
  assert.equal(lineAt(cues, 1000), 0);
  assert.equal(lineAt(cues, 1999), 0);
  assert.equal(lineAt(cues, 2000), 1);
  assert.equal(lineAt(cues, 1e15), 2);
  assert.equal(lineAt([], 5), -1);
  assert.equal(nextCueAfter(cues, 1000), 2000);
  assert.equal(nextCueAfter(cues, 999), 1000);
  assert.equal(nextCueAfter(cues, 5000), null);
  // Before the first cue the first line is next; at the last nothing is.
  assert.deepEqual(showAt(cues, 3, 0), { current: -1, next: 0 });
  assert.deepEqual(showAt(cues, 3, 2500), { current: 1, next: 2 });
  assert.deepEqual(showAt(cues, 3, 6000), { current: 2, next: -1 });
});

test('cues from a response: sorted, malformed and out-of-range ones left out', () => {
  const c = parseCues({ words: 3, n: 2, cues: [[2000, 1], [1000, 0], ['x', 0], [3000, 2], [4000, -1], [5000]] });
  assert.deepEqual(c, { words: 3, n: 2, cues: [{ clock: 1000, line: 0 }, { clock: 2000, line: 1 }] });
  assert.equal(parseCues(null), null);
  assert.equal(parseCues({ words: 'a', cues: [] }), null);
  assert.equal(parseCues({ words: 1, n: 2 }), null);
  assert.deepEqual(parseCues({ words: 0, n: 0, cues: [] }), { words: 0, n: 0, cues: [] });
});

test('words from GET /api/words: lines as text, verse starts', () => {
  const w = parseWords({ id: 2, lines: ['a', 7, '<b>'], verses: [0, 2, 'x'] });
  assert.deepEqual(w.lines, ['a', '7', '<b>']);
  assert.ok(w.verses.has(0) && w.verses.has(2) && w.verses.size === 2);
  assert.deepEqual(w.slides, [null, null, null]);   // an answer without slides
  assert.equal(parseWords({ lines: [] }), null);
  assert.equal(parseWords('x'), null);
});

test('a line shows the slide the last line up to it names', () => {
  const w = parseWords({ id: 1, lines: ['', 'a', 'b', 'c', 'd', 'e'], slides: [1, 2, null, 0, 'x', 99] });
  assert.deepEqual(w.slides, [1, 2, null, 0, null, null]);
  assert.equal(slideAt(w.slides, -1), 0);      // before the first line: none
  assert.equal(slideAt(w.slides, 0), 1);
  assert.equal(slideAt(w.slides, 2), 2);       // kept until a line names another
  assert.equal(slideAt(w.slides, 3), 0);       // [slide 0]: none from there
  assert.equal(slideAt(w.slides, 5), 0);
  assert.equal(slideAt(w.slides, 99), 0);
  assert.equal(slideAt([null, 4], 7), 4);
  assert.deepEqual(slidesNamed([3, null, 1, 0, 3]), [1, 3]);
});

test('the slide list: numbers to versions, malformed entries left out', () => {
  const m = parseSlideList({ slides: [{ slide: 1, v: 'ab-1-2' }, { slide: 40, v: 'a' }, { slide: 2, v: '"><x' },
    { slide: 3 }, { slide: 4, v: '12-34-56' }] });
  assert.deepEqual([...m.entries()], [[1, 'ab-1-2'], [4, '12-34-56']]);
  assert.equal(parseSlideList(null).size, 0);
});

test('the clock of a context time, from the worklet statistics', () => {
  assert.equal(anchorOf({ playClock: -1, frame: 100 }), null);
  assert.equal(anchorOf({ playClock: 5, frame: -1 }), null);
  const a = anchorOf({ playClock: 48000 * 1000, frame: 4800 });
  assert.deepEqual(a, { clock: 48000 * 1000, frame: 4800 });
  // At 48 kHz a frame is a server sample.
  assert.equal(clockAtContextTime(a, 0.1, 48000), 48000 * 1000);
  assert.equal(clockAtContextTime(a, 1.1, 48000), 48000 * 1001);
  // At 44.1 kHz a second of context is still 48000 server samples.
  const b = anchorOf({ playClock: 1e9, frame: 44100 });
  assert.ok(Math.abs(clockAtContextTime(b, 2, 44100) - (1e9 + 48000)) < 1e-6);
});

test('the context time leaving the speakers now', () => {
  // The device plays context time 10 s at performance time 5000 ms: 20 ms
  // later it plays 10.02 s.
  assert.ok(Math.abs(leavingContextTime({ contextTime: 10, performanceTime: 5000 }, 5020, {}) - 10.02) < 1e-9);
  // No timestamp yet: the render time less the latencies the browser reports.
  const t = leavingContextTime({ contextTime: 0, performanceTime: 0 }, 1, { currentTime: 3, outputLatency: 0.04, baseLatency: 0.01 });
  assert.ok(Math.abs(t - 2.95) < 1e-9);
});
