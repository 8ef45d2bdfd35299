// Unit tests of the song state line (html/js/ui/songstate.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockText, songStateOf } from '../../html/js/ui/songstate.js';

const S = 80000000000000;
const base = { songStart: null, songEnd: null, clock: S, leader: null, leaderName: '', amLeader: false, track: '', metronomeBpm: 0, recording: false, wasThere: false };

test('clock text is m:ss', () => {
  assert.equal(clockText(0), '0:00');
  assert.equal(clockText(65.9), '1:05');
  assert.equal(clockText(-3), '0:00');
  assert.equal(clockText(3600), '60:00');
});

test('waiting, then a leader getting ready', () => {
  assert.equal(songStateOf(base).phase, 'waiting');
  const r = songStateOf({ ...base, leader: '7', leaderName: 'Ann' });
  assert.equal(r.phase, 'ready');
  assert.match(r.text, /^Ann leads/);
  assert.match(songStateOf({ ...base, leader: '7', amLeader: true }).text, /^You lead/);
});

test('counting in, for the leader too, then singing with the track and the time', () => {
  const c = songStateOf({ ...base, leader: '7', amLeader: true, songStart: S + 3 * 48000 - 10, track: 'Hallelujah' });
  assert.equal(c.phase, 'counting');
  assert.equal(c.text, 'The song reaches you in 3 s');
  assert.equal(c.detail, '“Hallelujah”');
  const s = songStateOf({ ...base, leader: '7', songStart: S - 83 * 48000, track: 'Hallelujah.wav', recording: true });
  assert.equal(s.phase, 'singing');
  assert.equal(s.detail, '“Hallelujah” · 1:23');
  assert.equal(s.recording, true);
  assert.equal(songStateOf({ ...base, songStart: S - 48000, metronomeBpm: 90 }).detail, 'metronome at 90 bpm · 0:01');
  assert.equal(songStateOf({ ...base, songStart: S - 48000 }).detail, 'no backing track · 0:01');
});

test('ended only for those who were there; a newcomer sees what comes next', () => {
  const done = { ...base, songStart: S - 600000, songEnd: S - 1000 };
  assert.equal(songStateOf({ ...done, wasThere: true }).phase, 'ended');
  assert.equal(songStateOf({ ...done, wasThere: false }).phase, 'waiting');
  assert.equal(songStateOf({ ...done, wasThere: false, leader: '3', leaderName: 'Bo' }).phase, 'ready');
  // Sent to the back, the singer hears the song again: it has still ended.
  assert.equal(songStateOf({ ...done, clock: S - 300000, wasThere: true, endSeen: true }).phase, 'ended');
  // Before the end reaches this singer the song is still being sung.
  assert.equal(songStateOf({ ...base, songStart: S - 600000, songEnd: S + 1000 }).phase, 'singing');
});

test('before playback starts nothing is claimed about the song', () => {
  assert.equal(songStateOf({ ...base, clock: null, songStart: S }).phase, 'waiting');
});
