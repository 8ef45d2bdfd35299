// Unit tests of html/js/clock.js: frame alignment and clock arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FRAME_SAMPLES, BATCH_SAMPLES, CODEC_DELAY_SAMPLES, mod, alignDown, alignUp, alignNearest, isAligned,
  estimateServerClock, initialReadClock, captureSkip, parseOffset, totalTimeConsumed, readSlippage,
  countdownSeconds, quantile, latencyStats, msToSamples, samplesToMs, writeCompensation,
} from '../../html/js/clock.js';

const NOW = 77040003312123; // a server clock of Nov 2020, not on a frame boundary

test('constants: 60 ms frames, 600 ms batches', () => {
  assert.equal(FRAME_SAMPLES, 2880);
  assert.equal(BATCH_SAMPLES, 28800);
  assert.equal(CODEC_DELAY_SAMPLES, 624);
});

test('mod is non-negative', () => {
  assert.equal(mod(-1, 2880), 2879);
  assert.equal(mod(-2880, 2880), 0);
  assert.equal(mod(5, 3), 2);
});

test('alignment around zero and at 2^46', () => {
  assert.equal(alignDown(0), 0);
  assert.equal(alignDown(-1), -2880);
  assert.equal(alignUp(-1), 0);
  assert.equal(alignUp(1), 2880);
  assert.equal(alignNearest(1439), 0);
  assert.equal(alignNearest(1440), 2880);
  const d = alignDown(NOW);
  assert.ok(d <= NOW && NOW - d < 2880 && isAligned(d));
  assert.ok(isAligned(alignUp(NOW)));
  assert.ok(isAligned(alignNearest(NOW)));
  assert.ok(Math.abs(alignNearest(NOW) - NOW) <= 1440);
  assert.equal(isAligned(2880.5), false);
});

test('server clock estimate adds half the round trip', () => {
  assert.equal(estimateServerClock(1000, 0, 100), 1000 + 2400);
  assert.equal(estimateServerClock(1000, 50, 50), 1000);
  assert.equal(estimateServerClock(1000, 100, 0), 1000); // a clock that went backwards adds nothing
  assert.ok(Number.isSafeInteger(estimateServerClock(NOW, 0.3, 10.7)));
});

test('initial read clock is offset seconds back and frame aligned', () => {
  for (const off of [1, 3, 6, 115]) {
    const r = initialReadClock(NOW, off);
    assert.ok(isAligned(r), `offset ${off}`);
    assert.ok(Math.abs(r - (NOW - off * 48000)) <= 1440);
  }
  // Advancing by whole batches keeps it aligned.
  let r = initialReadClock(NOW, 6);
  for (let i = 0; i < 1000; i++) r += BATCH_SAMPLES;
  assert.ok(isAligned(r));
});

test('capture skip brings the first batch onto a frame boundary', () => {
  for (const first of [NOW, NOW - 7211, 0, 2880, -5, 123456789]) {
    const s = captureSkip(first);
    assert.ok(s >= 0 && s < 2880);
    assert.ok(isAligned(first + s), `first ${first}`);
  }
});

test('offset parsing accepts 1..110 whole seconds only', () => {
  assert.equal(parseOffset('6'), 6);
  assert.equal(parseOffset(' 110 '), 110);
  assert.equal(parseOffset('1'), 1);
  for (const bad of ['0', '111', '115', '-3', '3.5', 'abc', '', '1e2']) assert.equal(parseOffset(bad), null, bad);
});

test('debug figures', () => {
  assert.equal(totalTimeConsumed(null, 5, 28800), null);
  assert.equal(totalTimeConsumed(480000, 480000 - 96000, 28800), 2.6);
  assert.equal(readSlippage(1000 + 6 * 48000 + 4800, 1000, 6), 0.1);
  assert.equal(readSlippage(null, 1, 6), null);
});

test('countdown is whole seconds, never negative', () => {
  assert.equal(countdownSeconds(null, 100), 0);
  assert.equal(countdownSeconds(48000 * 10, 48000 * 7), 3);
  assert.equal(countdownSeconds(48000 * 7, 48000 * 10), 0);
});

test('quantiles and latency statistics', () => {
  assert.ok(Number.isNaN(quantile([], 0.5)));
  assert.equal(quantile([3, 1, 2], 0.5), 2);
  assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
  const s = latencyStats([100, 101, 99, 100, 100, 102, 100]);
  assert.equal(s.p50, 100);
  assert.equal(s.n, 7);
  assert.ok(s.spread >= 0 && s.spread <= 2);
});

test('latency compensation: ms to samples plus the codec delay', () => {
  assert.equal(msToSamples(150), 7200);
  assert.equal(samplesToMs(28800), 600);
  assert.equal(writeCompensation(150), 7200 + 624);
  assert.ok(Number.isInteger(writeCompensation(123.456)));
});
