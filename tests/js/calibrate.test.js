// Unit tests of the pure parts of html/js/calibrate.js and net.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  estimateLatency, estimateSource, latencySeconds, latencyVerdict, volumeGain, levelDb, LATENCY_DETECTIONS,
} from '../../html/js/calibrate.js';
import { backoffMs, MAX_IN_FLIGHT } from '../../html/js/net.js';

test('latency verdict: seven steady echoes pass, scattered ones fail', () => {
  assert.equal(LATENCY_DETECTIONS, 7);
  const few = latencyVerdict([100, 101, 100]);
  assert.equal(few.done, false);
  assert.equal(few.ok, false);
  const good = latencyVerdict([100, 100.5, 101, 100, 99.8, 100.2, 100.1]);
  assert.ok(good.done && good.ok);
  assert.equal(good.stats.p50, 100.1);
  const bad = latencyVerdict([100, 120, 90, 140, 100, 80, 130]);
  assert.ok(bad.done && !bad.ok);
});

test('volume gain aims the 90th percentile at 0.04, within [0.1, 10]', () => {
  assert.equal(volumeGain([]), 1);
  assert.equal(volumeGain([0, 0, 0]), 1);
  const levels = Array.from({ length: 18 }, (_, i) => 0.01 + i * 0.001);
  const g = volumeGain(levels);
  assert.ok(Math.abs(g - 0.04 / 0.0253) < 0.01, String(g));
  assert.equal(volumeGain([0.000001]), 10);
  assert.equal(volumeGain([1]), 0.1);
});

test('levels in dB', () => {
  assert.equal(levelDb(0), -100);
  assert.ok(Math.abs(levelDb(0.1) + 20) < 1e-9);
});

test('reconnect backoff: immediately first, then doubling up to 10 s', () => {
  assert.equal(MAX_IN_FLIGHT, 4);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map(backoffMs), [0, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
});

test('how long the measurement takes, as the page says it', () => {
  // Seven beeps at 105 per minute: 4 s; it gives up after 12 s.
  assert.deepEqual(latencySeconds(), { usual: 4, most: 12 });
});

test('the estimate to sing with: heard echoes, else the browser, else typical', () => {
  assert.deepEqual(estimateLatency([120, 121, 140], 30), { ms: 121, source: 'beeps' });
  assert.deepEqual(estimateLatency([120, 121], 42.37), { ms: 42.4, source: 'browser' });
  assert.deepEqual(estimateLatency([], 3), { ms: 150, source: 'typical' });
  assert.deepEqual(estimateLatency([], NaN), { ms: 150, source: 'typical' });
  assert.deepEqual(estimateLatency([], 5000), { ms: 150, source: 'typical' });
  assert.match(estimateSource('beeps', 3), /3 beeps/);
  assert.match(estimateSource('typical'), /typical/);
});
