// Unit tests of html/js/limiter.js: the soft clipper's response, and its
// curve as a WaveShaperNode applies it (the Web Audio spec's interpolation)
// after the 1 / HEADROOM gain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEADROOM, KNEE, limiterCurve, softClip } from '../../html/js/limiter.js';

// A WaveShaperNode with curve c, without oversampling, on input x.
function shape(c, x) {
  const v = ((c.length - 1) / 2) * (x + 1);
  const k = Math.floor(v);
  if (k < 0) return c[0];
  if (k >= c.length - 1) return c[c.length - 1];
  const f = v - k;
  return (1 - f) * c[k] + f * c[k + 1];
}

test('soft clip: unchanged up to the knee, then bending towards 1 without reaching it', () => {
  for (const u of [0, 0.1, -0.3, 0.5, KNEE, -KNEE]) assert.equal(softClip(u), u);
  let last = softClip(KNEE);
  for (let u = KNEE + 0.01; u <= HEADROOM; u += 0.01) {
    const y = softClip(u);
    assert.ok(y > last, `rising at ${u}`);
    assert.ok(y < 1, `below full scale at ${u}: ${y}`);
    assert.ok(y < u, `never louder than the input at ${u}`);
    assert.equal(softClip(-u), -y, `odd at ${u}`);
    last = y;
  }
  // Slope 1 at the knee: no kink where the bending starts.
  const d = 1e-6;
  assert.ok(Math.abs((softClip(KNEE + d) - softClip(KNEE)) / d - 1) < 1e-4);
  // The loudest metronome clicks measured at a leader's output.
  for (const u of [1.06, 1.24, 1.5]) assert.ok(softClip(u) > 0.95 && softClip(u) < 1, `${u} -> ${softClip(u)}`);
});

test('limiter curve through a WaveShaperNode: exact below the knee, within full scale above', () => {
  const c = limiterCurve();
  assert.equal(c.length % 2, 1, 'a point at the centre, on 0');
  let worstBelow = 0;
  let peak = 0;
  for (let s = -3; s <= 3; s += 1 / 4099) {
    const y = shape(c, s / HEADROOM);
    if (Math.abs(s) <= KNEE) worstBelow = Math.max(worstBelow, Math.abs(y - s));
    peak = Math.max(peak, Math.abs(y));
    if (Math.abs(s) <= HEADROOM) assert.ok(Math.abs(y - softClip(s)) < 1e-6, `at ${s}: ${y} against ${softClip(s)}`);
  }
  assert.ok(worstBelow < 1e-7, `below the knee, off by ${worstBelow}`);
  assert.ok(peak <= 1, `peak ${peak}`);
  // Far beyond the headroom it holds at the curve's end.
  assert.equal(shape(c, 10), c[c.length - 1]);
  assert.equal(shape(c, -10), c[0]);
});
