// Unit tests of the page's side of the timing watch (html/js/timingwatch.js):
// the singer's line, the console's flags and the latency after an apply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_FLAGS, MAX_LATENCY_MS, addAdjustment, appliedLatency, flagMap, flagText, ownLine, parseTiming,
} from '../../html/js/timingwatch.js';
import { writeCompensation } from '../../html/js/clock.js';

test('the singer\'s own line says how late or early, and against what', () => {
  assert.deepEqual(ownLine({ offset_ms: 80, basis: 'beat' }),
    { offsetMs: 80, basis: 'beat', text: 'You sing 80 ms late (against the beat).' });
  assert.equal(ownLine({ offset_ms: -45, basis: 'leader' }).text, 'You sing 45 ms early (against the leader).');
});

test('no line without a well-formed flag', () => {
  for (const t of [undefined, null, {}, { offset_ms: 0, basis: 'beat' }, { offset_ms: 12.5, basis: 'beat' },
    { offset_ms: '80', basis: 'beat' }, { offset_ms: 80, basis: 'tempo' }, { offset_ms: 5000, basis: 'beat' }]) {
    assert.equal(ownLine(t), null, JSON.stringify(t));
  }
});

test('the flags become a map by public id, malformed entries left out', () => {
  const m = flagMap([
    { id: '17', offset_ms: 120, basis: 'leader' },
    { id: '9', offset_ms: -60, basis: 'beat' },
    { id: 'x', offset_ms: 50, basis: 'beat' },
    { id: '4', offset_ms: 0, basis: 'beat' },
    { id: '17', offset_ms: 50, basis: 'beat' },
    null,
  ]);
  assert.deepEqual([...m.entries()], [['17', { offsetMs: 120, basis: 'leader' }], ['9', { offsetMs: -60, basis: 'beat' }]]);
  assert.equal(flagText(m.get('9')), '60 ms early (beat)');
  assert.equal(flagText(undefined), '');
  assert.equal(flagMap(undefined).size, 0);
  assert.equal(flagMap('nope').size, 0);
});

test('at most MAX_FLAGS flags are kept', () => {
  const many = Array.from({ length: MAX_FLAGS + 5 }, (_, i) => ({ id: String(i + 1), offset_ms: 41 + i, basis: 'beat' }));
  assert.equal(flagMap(many).size, MAX_FLAGS);
});

test('a late singer gets a larger latency, so the voice is stamped earlier', () => {
  assert.equal(appliedLatency(100, { offset_ms: 80, basis: 'beat' }), 180);
  assert.equal(appliedLatency(100, { offset_ms: -30, basis: 'leader' }), 70);
  // The stamp is P - compensation: 80 ms more latency moves the voice
  // 80 ms (3840 samples at 48 kHz) earlier.
  assert.equal(writeCompensation(180) - writeCompensation(100), 3840);
});

test('the latency stays within its bounds, and an invalid apply changes nothing', () => {
  assert.equal(appliedLatency(20, { offset_ms: -60, basis: 'beat' }), 0);
  assert.equal(appliedLatency(MAX_LATENCY_MS - 10, { offset_ms: 200, basis: 'beat' }), MAX_LATENCY_MS);
  assert.equal(appliedLatency(100, { offset_ms: 0, basis: 'beat' }), null);
  assert.equal(appliedLatency(100, null), null);
  assert.equal(appliedLatency(null, { offset_ms: 80, basis: 'beat' }), null);
});

test('the adjustments add up to what really moved', () => {
  assert.equal(addAdjustment(undefined, 100, 180), 80);
  assert.equal(addAdjustment(80, 180, 150), 50);
  assert.equal(addAdjustment(0, 20, 0), -20);
  assert.deepEqual(parseTiming({ offset_ms: -41, basis: 'beat' }), { offsetMs: -41, basis: 'beat' });
});

test('queued applies go out one a request, each id once', async () => {
  const { Connection } = await import('../../html/js/net.js');
  // The connection only subscribes to the engine's batches here; nothing
  // is sent.
  const conn = new Connection({ engine: { on: () => () => {} }, log: () => {} });
  conn.queueTimingApply('17');
  conn.queueTimingApply('9');
  conn.queueTimingApply('17');
  assert.equal(conn.takePending().timingApply, '17');
  assert.equal(conn.takePending().timingApply, '9');
  assert.equal(conn.takePending().timingApply, '');
});
