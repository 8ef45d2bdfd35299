// Unit tests of the returning singer's record and the kept chat
// (html/js/ui/returning.js), with a stand-in for localStorage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHAT_KEEP, RETURN_MS, forgetSinger, keepChat, keptChat, loadSinger, saveSinger,
} from '../../html/js/ui/returning.js';

function storage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
    keys: () => [...m.keys()],
  };
}

const rec = { userid: '123456789012', name: 'Ben', offset: 6, inputGain: 0.2, latencyMs: 80.5, calibration: 'measured', micVolume: 0.5 };

test('a record comes back within 12 hours, per room, and not after', () => {
  const s = storage();
  const t0 = 1_000_000_000_000;
  saveSinger(s, 'choir', rec, t0);
  assert.deepEqual(loadSinger(s, 'choir', t0 + 1000), { ...rec, savedAt: t0 });
  assert.equal(loadSinger(s, 'other', t0 + 1000), null, 'another room knows nothing of it');
  assert.equal(loadSinger(s, 'choir', t0 + RETURN_MS - 1).name, 'Ben');
  assert.equal(loadSinger(s, 'choir', t0 + RETURN_MS), null);
  assert.ok(s.keys().every((k) => !k.includes('#')), 'keys hold no link');
  forgetSinger(s, 'choir');
  assert.equal(loadSinger(s, 'choir', t0 + 1000), null);
});

test('a damaged or incomplete record is no record', () => {
  const s = storage();
  s.setItem('bb.singer.r', '{not json');
  assert.equal(loadSinger(s, 'r', 5), null);
  saveSinger(s, 'r', { name: 'X' }, 5);
  assert.equal(loadSinger(s, 'r', 6), null);
  saveSinger(s, 'r', { userid: '12; drop', name: 'X' }, 5);
  assert.equal(loadSinger(s, 'r', 6), null);
  saveSinger(s, 'r', { userid: '42', name: '' }, 5);
  assert.equal(loadSinger(s, 'r', 6), null);
});

test('chat is kept per song, at most CHAT_KEEP lines', () => {
  const s = storage();
  keepChat(s, 'r', null, { name: 'Ann', text: 'before' }, 1);
  for (let i = 0; i < CHAT_KEEP + 5; i++) keepChat(s, 'r', 777, { name: 'Ann', text: `m${i}` }, 2);
  const song = keptChat(s, 'r', 777, 3);
  assert.equal(song.length, CHAT_KEEP);
  assert.equal(song[0].text, 'm5');
  assert.equal(song[CHAT_KEEP - 1].text, `m${CHAT_KEEP + 4}`);
  assert.deepEqual(keptChat(s, 'r', null, 3), [], 'pushed out by the song');
  assert.deepEqual(keptChat(s, 'r', 778, 3), []);
  assert.deepEqual(keptChat(s, 'r', 777, 2 + RETURN_MS), [], 'old lines are gone');
});
