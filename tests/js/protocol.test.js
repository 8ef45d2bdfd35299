// Unit tests of html/js/protocol.js: URLs, the query, pack_multi framing,
// metadata parsing and the user summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  apiUrl, endpointUrl, packMulti, unpackMulti, buildAudioQuery, eventHeader, parseProbe,
  parseAudioMetadata, errorMessage, parseUserSummary, groupIntoBuckets, friendlyToGain,
  clampFriendly, makeUserId, isLeader, TRACK_PLACEHOLDER,
} from '../../html/js/protocol.js';

test('API URL resolves "api" against the page, no trailing slash', () => {
  assert.equal(apiUrl('api', 'https://host/'), 'https://host/api');
  assert.equal(apiUrl('api', 'https://host/index.html?x=1'), 'https://host/api');
  assert.equal(apiUrl('api', 'https://host/sub/'), 'https://host/sub/api');
  assert.equal(apiUrl('', 'http://localhost:8080/'), 'http://localhost:8080/api');
  assert.equal(apiUrl('http://other:9/x', 'https://host/'), 'http://other:9/x');
  assert.equal(endpointUrl('https://host/api', 'upload'), 'https://host/api/upload');
  assert.equal(endpointUrl('https://host/api/', 'upload'), 'https://host/api/upload');
});

test('pack_multi round trip, big-endian lengths', () => {
  const a = Uint8Array.of(1, 2, 3);
  const b = new Uint8Array(300).fill(7);
  const body = packMulti([a, b, new Uint8Array(0)]);
  assert.deepEqual([...body.subarray(0, 6)], [3, 0, 3, 1, 2, 3]);
  assert.deepEqual([...body.subarray(6, 8)], [1, 44]); // 300 = 0x012c
  const out = unpackMulti(body);
  assert.equal(out.length, 3);
  assert.deepEqual([...out[0]], [1, 2, 3]);
  assert.equal(out[1].length, 300);
  assert.equal(out[2].length, 0);
  assert.deepEqual(unpackMulti(new Uint8Array(0)), []);
  assert.deepEqual(unpackMulti(Uint8Array.of(0)), []);
});

test('pack_multi limits and malformed bodies', () => {
  assert.throws(() => packMulti(new Array(256).fill(new Uint8Array(1))), /at most 255/);
  assert.throws(() => packMulti([new Uint8Array(65536)]), /at most 65535/);
  assert.equal(packMulti(new Array(255).fill(Uint8Array.of(9))).length, 1 + 255 * 3);
  assert.throws(() => unpackMulti(Uint8Array.of(1, 0)), /truncated/);
  assert.throws(() => unpackMulti(Uint8Array.of(1, 0, 5, 1, 2)), /past the body end/);
  assert.throws(() => unpackMulti(Uint8Array.of(1, 0, 1, 9, 9)), /trailing/);
  assert.throws(() => unpackMulti(Uint8Array.of(2, 0, 1, 9)), /truncated/);
});

test('audio query: required fields, only set values, form encoding', () => {
  const q = new URLSearchParams(buildAudioQuery({
    readClock: 77040003312000, nSamples: 28800, userid: '123', username: 'Ann Lee & co',
    resetUserState: true,
  }));
  assert.equal(q.get('read_clock'), '77040003312000');
  assert.equal(q.get('n_samples'), '28800');
  assert.equal(q.get('userid'), '123');
  assert.equal(q.get('username'), 'Ann Lee & co');
  assert.equal(q.get('reset_user_state'), 'true');
  for (const k of ['write_clock', 'chat', 'request_lead', 'volume', 'track', 'monitor', 'spectator', 'bpm', 'room', 'key']) {
    assert.equal(q.has(k), false, k);
  }
  const raw = buildAudioQuery({ readClock: 1, nSamples: 2880, userid: '1', username: 'a b' });
  assert.match(raw, /username=a\+b/); // space becomes +
});

test('audio query: every optional item', () => {
  const q = new URLSearchParams(buildAudioQuery({
    readClock: 10, writeClock: 5, nSamples: 2880, userid: '9', username: 'x',
    chat: ['hi', 'all'], requestLead: true, markStart: true, markStop: true,
    volume: '1.5', backingVolume: 0, micVolume: [['48213371202', 1.5]],
    bpm: 120, repeats: 0, bpr: 8, track: 'song.wav', monitor: 'end', spectator: true,
    timingApply: '48213371202', room: 'k3xq9v2m7a', key: 'AbC-_0+/',
    remove: '111', letBack: '222', appoint: '333',
  }));
  assert.equal(q.get('room'), 'k3xq9v2m7a');
  assert.equal(q.get('key'), 'AbC-_0+/');
  assert.equal(q.get('write_clock'), '5');
  assert.deepEqual(JSON.parse(q.get('chat')), ['hi', 'all']);
  assert.equal(q.get('request_lead'), '1');
  assert.equal(q.get('mark_start_singing'), '1');
  assert.equal(q.get('mark_stop_singing'), '1');
  assert.equal(q.get('volume'), '1.5');
  assert.equal(q.get('backing_volume'), '0');
  assert.deepEqual(JSON.parse(q.get('mic_volume')), [['48213371202', 1.5]]);
  assert.equal(q.get('bpm'), '120');
  assert.equal(q.get('repeats'), '0');
  assert.equal(q.get('bpr'), '8');
  assert.equal(q.get('track'), 'song.wav');
  assert.equal(q.get('monitor'), 'end');
  assert.equal(q.get('spectator'), '1');
  assert.equal(q.get('timing_apply'), '48213371202');
  assert.equal(q.get('remove'), '111');
  assert.equal(q.get('let_back'), '222');
  assert.equal(q.get('appoint'), '333');
});

test('audio query: placeholder track and bad input', () => {
  const q = new URLSearchParams(buildAudioQuery({ readClock: 1, nSamples: 2880, userid: '1', username: 'a', track: TRACK_PLACEHOLDER }));
  assert.equal(q.has('track'), false);
  assert.throws(() => buildAudioQuery({ readClock: 1.5, nSamples: 2880, userid: '1', username: 'a' }), /readClock/);
  assert.throws(() => buildAudioQuery({ readClock: 1, nSamples: 2880, userid: '', username: 'a' }), /userid/);
  assert.throws(() => buildAudioQuery({ readClock: 1, nSamples: 2880, userid: '1', username: '' }), /username/);
  assert.throws(() => buildAudioQuery({ readClock: 1, writeClock: 0.5, nSamples: 2880, userid: '1', username: 'a' }), /writeClock/);
});

test('event header', () => {
  assert.equal(eventHeader([]), null);
  assert.equal(eventHeader([{ evid: 'a', clock: 5 }]), '[{"evid":"a","clock":5}]');
});

test('probe metadata', () => {
  assert.deepEqual(parseProbe('{"server_clock": 77040003312000, "server_sample_rate": 48000}'),
    { serverClock: 77040003312000, sampleRate: 48000 });
  assert.throws(() => parseProbe(null), /no X-Audio-Metadata/);
  assert.throws(() => parseProbe('{"server_clock": 1.5}'), /integer/);
});

test('audio metadata: required fields and defaults', () => {
  const m = parseAudioMetadata('{"client_read_clock": 100, "n_samples": 28800, "events": [], "user_summary": []}');
  assert.deepEqual(m.chats, []);
  assert.equal(parseAudioMetadata('{"client_read_clock": 1, "n_samples": 2880}').events.length, 0);
  assert.throws(() => parseAudioMetadata('{'), /not JSON/);
  assert.throws(() => parseAudioMetadata('[]'), /not an object/);
  assert.throws(() => parseAudioMetadata('{"n_samples": 2880}'), /client_read_clock/);
  assert.throws(() => parseAudioMetadata('{"client_read_clock": 1, "n_samples": 0}'), /n_samples/);
  // Non-ASCII arrives \u-escaped in the header and comes out as text.
  const c = parseAudioMetadata('{"client_read_clock":1,"n_samples":2880,"chats":[["J\\u00fcrgen","<b>hi</b>"]]}');
  assert.deepEqual(c.chats[0], ['Jürgen', '<b>hi</b>']);
});

test('error message from a kill_client answer', () => {
  assert.equal(errorMessage('{"kill_client": true, "message": "no client read clock"}', 500), 'no client read clock');
  assert.equal(errorMessage(null, 502), 'HTTP 502');
  assert.equal(errorMessage('garbage', 500), 'HTTP 500');
});

test('user summary rows and buckets', () => {
  const users = parseUserSummary([
    [3, 'Lead', 1, 'p1', false, false],
    [6, 'Bo', 1.5, 'p2', true, false],
    [7, '<img src=x>', 1, 'p3', false, true],
    [40, 'Far', 1, 'p4', false, false],
    'junk', [1, 2],
  ]);
  assert.equal(users.length, 4);
  assert.deepEqual(users[1], { delay: 6, name: 'Bo', micVolume: 1.5, id: 'p2', isMonitoring: true, isMonitored: false });
  const cols = groupIntoBuckets(users, [3, 6, 9, 12]);
  assert.deepEqual(cols.map((c) => c.delay), [3, 6, 9, 12, 40]);
  assert.deepEqual(cols[1].users.map((u) => u.id), ['p2', 'p3']);
  assert.equal(cols[2].users.length, 0);
  assert.equal(cols[4].isBucket, false);
  assert.deepEqual(groupIntoBuckets(users, []).map((c) => c.delay), [3, 6, 7, 40]);
});

test('volumes, ids and leadership', () => {
  assert.ok(Math.abs(friendlyToGain(1) - 1.000245) < 1e-5);
  assert.equal(clampFriendly('3'), 2);
  assert.equal(clampFriendly(-1), 0);
  assert.equal(clampFriendly('x'), 1);
  assert.equal(makeUserId(() => 0.5), '50000000000');
  assert.match(makeUserId(), /^\d+$/);
  assert.equal(isLeader({ leader: null }, '1', 'p'), false);
  assert.equal(isLeader({ leader: '123' }, '123', 'p'), true);
  assert.equal(isLeader({ leader: 123 }, '123', null), true); // the original compared loosely
  assert.equal(isLeader({ leader: 'p' }, '123', 'p'), true);
  assert.equal(isLeader({ leader: 'q' }, '123', 'p'), false);
});
