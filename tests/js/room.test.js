// Unit tests of html/js/room.js: the room of a page location, room= and
// key= on request URLs, links, how refusals are taken, and which controls
// each role sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  controlsFor, leadTakenNotice, parseRoomLocation, refusalKind, roomLink, withRoom,
} from '../../html/js/room.js';

test('a room page is /r/ID with the key in the fragment; any other path is the default room', () => {
  assert.deepEqual(parseRoomLocation('/r/k3xq9v2m7a', '#AbC-_0123456789abcdefgh'),
    { id: 'k3xq9v2m7a', key: 'AbC-_0123456789abcdefgh', root: '/' });
  assert.deepEqual(parseRoomLocation('/r/k3xq9v2m7a/', ''), { id: 'k3xq9v2m7a', key: '', root: '/' });
  assert.deepEqual(parseRoomLocation('/choir/r/abc', '#k'), { id: 'abc', key: 'k', root: '/choir/' });
  // A link pasted with an escaped or padded fragment still names the key.
  assert.equal(parseRoomLocation('/r/abc', '#%41bc%20').key, 'Abc');
  // A malformed escape is left for the server to refuse.
  assert.equal(parseRoomLocation('/r/abc', '#%zz').key, '%zz');
  for (const p of ['/', '/index.html', '/r/', '/r', '/recordings.html', '/r/a/b', '/x/r']) {
    assert.equal(parseRoomLocation(p, '#key'), null, p);
  }
});

test('room= and key= join the query; the default room adds nothing', () => {
  const room = { id: 'k3xq9v2m7a', key: 'a+b/c' };
  const u = new URL(withRoom('http://h:8080/api/room', room));
  assert.equal(u.pathname, '/api/room');
  assert.equal(u.searchParams.get('room'), 'k3xq9v2m7a');
  assert.equal(u.searchParams.get('key'), 'a+b/c');
  const up = new URL(withRoom('http://h/api/upload', room, { name: 'Song & co', userid: '42' }));
  assert.equal(up.searchParams.get('name'), 'Song & co');
  assert.equal(up.searchParams.get('userid'), '42');
  assert.equal(up.searchParams.get('key'), 'a+b/c');
  // Exactly the original URLs in the default room.
  assert.equal(withRoom('http://h/api', null), 'http://h/api');
  assert.equal(withRoom('http://h/api/upload', null, { name: 'x' }), 'http://h/api/upload?name=x');
});

test('a link is the page without its query, with the key as fragment', () => {
  assert.equal(roomLink('http://localhost:8080/r/abc?test=1#old', 'NEW'), 'http://localhost:8080/r/abc#NEW');
  assert.equal(roomLink('https://choir.example.org/r/abc#old', 'k-_'), 'https://choir.example.org/r/abc#k-_');
});

test('403 is the link, a full room is told apart from a busy server', () => {
  assert.equal(refusalKind(403, 'this link is not valid or the room was closed'), 'link');
  assert.equal(refusalKind(503, 'this room is full: it takes at most 2 singers (you can still listen)'), 'full');
  assert.equal(refusalKind(503, 'the server is busy (control queue full); please retry'), 'retry');
  assert.equal(refusalKind(503, "this server's worker is full: no room for another singer"), 'retry');
  assert.equal(refusalKind(500, 'Client read clock desync'), 'retry');
  assert.equal(refusalKind(503, undefined), 'retry');
});

test('the default room keeps every control, as the original client has them', () => {
  for (const amLeader of [false, true]) {
    const c = controlsFor({ inRoom: false, role: 'singer', amLeader, leaderPresent: true, uploads: false });
    assert.equal(c.leader, true);
    assert.equal(c.upload, true);
    assert.equal(c.organiser, false);
    assert.equal(c.lead, amLeader ? 'leading' : 'lead');
  }
});

test('in a room each role sees its own controls', () => {
  const room = (o) => controlsFor({ inRoom: true, uploads: true, ...o });
  // A singer: no controls for everyone; may lead only while nobody does.
  assert.deepEqual(room({ role: 'singer', amLeader: false, leaderPresent: false }),
    { leader: false, upload: false, organiser: false, lead: 'lead' });
  assert.deepEqual(room({ role: 'singer', amLeader: false, leaderPresent: true }),
    { leader: false, upload: false, organiser: false, lead: 'none' });
  // The leader: the controls for everyone, uploads if the room allows them.
  assert.deepEqual(room({ role: 'leader', amLeader: true, leaderPresent: true }),
    { leader: true, upload: true, organiser: false, lead: 'leading' });
  assert.equal(room({ role: 'leader', amLeader: true, leaderPresent: true, uploads: false }).upload, false);
  // The organiser: everything, and taking over a lead someone holds.
  assert.deepEqual(room({ role: 'organiser', amLeader: false, leaderPresent: true }),
    { leader: true, upload: true, organiser: true, lead: 'take' });
  assert.equal(room({ role: 'organiser', amLeader: false, leaderPresent: false }).lead, 'lead');
  assert.equal(room({ role: 'organiser', amLeader: true, leaderPresent: true }).lead, 'leading');
  assert.equal(room({ role: 'organiser', amLeader: false, leaderPresent: false, uploads: false }).upload, false);
  // A listener has no controls for everyone either.
  assert.equal(room({ role: 'listener', amLeader: false, leaderPresent: true }).leader, false);
});

test('the old leader is told who took the lead, and only then', () => {
  const was = { amLeader: true, leader: '7', leaderName: 'Ann' };
  assert.equal(leadTakenNotice(was, { amLeader: false, leader: '9', leaderName: 'Olga' }), 'Olga took the lead from you.');
  assert.equal(leadTakenNotice(was, { amLeader: false, leader: '9', leaderName: '' }), 'Someone else took the lead from you.');
  // Giving the lead up, keeping it, or never having had it: nothing to say.
  assert.equal(leadTakenNotice(was, { amLeader: false, leader: null, leaderName: '' }), null);
  assert.equal(leadTakenNotice(was, was), null);
  assert.equal(leadTakenNotice({ amLeader: false, leader: '7' }, { amLeader: false, leader: '9', leaderName: 'Olga' }), null);
  assert.equal(leadTakenNotice(null, { amLeader: false, leader: '9', leaderName: 'Olga' }), null);
});
