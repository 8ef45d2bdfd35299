// Unit tests of the stall detection in html/js/audio.js (AudioEngine's
// checkClock) with a stand-in context and wall clock: a lasting slip of the
// audio clock is reported once, a slip the browser catches up within the
// hold is not, and a suspended context starts the measurement over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AudioEngine, STALL_HOLD_S, STALL_S } from '../../html/js/audio.js';

// An engine whose context and wall clock the test moves, checked every
// 100 ms of wall time as the worklet's statistics messages would be.
function rig() {
  const e = new AudioEngine();
  const clock = { wall: 100, audio: 0 };
  const listeners = [];
  e.ctx = {
    state: 'running',
    get currentTime() { return clock.audio; },
    addEventListener: (type, fn) => { if (type === 'statechange') listeners.push(fn); },
  };
  e.watchClock();
  const setState = (state) => { e.ctx.state = state; for (const fn of listeners) fn(); };
  const stalls = [];
  e.on('stall', (m) => stalls.push(m.seconds));
  const realNow = performance.now;
  performance.now = () => clock.wall * 1000;
  const run = (seconds, audioRate = 1) => {
    for (let i = 0; i < Math.round(seconds * 10); i++) {
      clock.wall += 0.1;
      clock.audio += 0.1 * audioRate;
      e.checkClock();
    }
  };
  return { e, clock, stalls, run, setState, done: () => { performance.now = realNow; } };
}

test('a lasting slip is reported once, then measured from there', () => {
  const r = rig();
  try {
    r.run(5);
    assert.deepEqual(r.stalls, []);
    r.clock.wall += 0.7; // the audio thread stopped for 0.7 s
    r.run(STALL_HOLD_S + 0.5);
    assert.equal(r.stalls.length, 1);
    assert.ok(Math.abs(r.stalls[0] - 0.7) < 1e-6, String(r.stalls[0]));
    r.run(10);
    assert.equal(r.stalls.length, 1, 'no second report for the same slip');
  } finally {
    r.done();
  }
});

test('a slip caught up within the hold is not reported; small ones never are', () => {
  const r = rig();
  try {
    r.run(2);
    r.clock.wall += 0.7;
    r.run(0.3);
    r.clock.audio += 0.7; // rendered quickly afterwards
    r.run(5);
    r.clock.wall += STALL_S * 0.8;
    r.run(5);
    assert.deepEqual(r.stalls, []);
  } finally {
    r.done();
  }
});

test('a sound card running fast is reported with a negative slip', () => {
  const r = rig();
  try {
    r.run(60, 1.01); // 1 % fast: 0.25 s ahead after 25 s
    assert.equal(r.stalls.length, 2);
    for (const s of r.stalls) assert.ok(s <= -STALL_S, String(s));
  } finally {
    r.done();
  }
});

test('a suspended context starts the measurement over', () => {
  const r = rig();
  try {
    r.run(2);
    // A phone call: the context is suspended, its clock stops on purpose
    // and no statistics come.
    r.setState('suspended');
    r.clock.wall += 30;
    r.setState('running');
    r.run(5);
    assert.deepEqual(r.stalls, []);
    // The same pause without the state change is a stall.
    r.clock.wall += 30;
    r.run(STALL_HOLD_S + 0.5);
    assert.equal(r.stalls.length, 1);
  } finally {
    r.done();
  }
});
