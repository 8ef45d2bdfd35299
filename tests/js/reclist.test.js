// Unit tests of html/js/reclist.js: the recordings page's address (the
// key only ever in the fragment), the API and file URLs, and each song's
// date, length and ending in words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  apiUrl, duration, fileUrl, pageHref, parseRecordingsLocation, refusalText, roomHref, size, songState, songWhen,
  stampDate,
} from '../../html/js/reclist.js';

test('the room from the query, its key from the fragment; the default room has neither', () => {
  assert.deepEqual(parseRecordingsLocation('?room=k3xq9v2m7a', '#AbC-_01%2B'),
    { room: { id: 'k3xq9v2m7a', key: 'AbC-_01+' }, song: null });
  assert.deepEqual(parseRecordingsLocation('', ''), { room: null, song: null });
  assert.deepEqual(parseRecordingsLocation('?song=2026-12-06-093000', ''), { room: null, song: '2026-12-06-093000' });
  // Not a song's stamp: the list.
  assert.equal(parseRecordingsLocation('?room=a&song=../x', '#k').song, null);
  // A malformed escape stays as written, for the server to refuse.
  assert.equal(parseRecordingsLocation('?room=a', '#%zz').room.key, '%zz');
});

test('the page\'s own links keep the key in the fragment, never in the query', () => {
  const room = { id: 'k3xq9v2m7a', key: 'a+b/c' };
  const href = pageHref(room, '2026-12-06-093000');
  assert.equal(href, 'recordings.html?room=k3xq9v2m7a&song=2026-12-06-093000#a%2Bb%2Fc');
  const u = new URL(href, 'https://h/');
  assert.equal(u.searchParams.get('key'), null);
  assert.deepEqual(parseRecordingsLocation(u.search, u.hash), { room, song: '2026-12-06-093000' });
  assert.equal(pageHref(null, null), 'recordings.html');
  assert.equal(pageHref(room, null), 'recordings.html?room=k3xq9v2m7a#a%2Bb%2Fc');
  assert.equal(roomHref(room), 'r/k3xq9v2m7a#a%2Bb%2Fc');
  assert.equal(roomHref(null), './');
});

test('API requests carry room= and key=; the default room adds nothing', () => {
  const room = { id: 'r1', key: 'a+b' };
  const u = new URL(apiUrl('https://h/choir/recordings.html?room=r1#a+b', 'api/recordings', room));
  assert.equal(u.pathname, '/choir/api/recordings');
  assert.equal(u.searchParams.get('room'), 'r1');
  assert.equal(u.searchParams.get('key'), 'a+b');
  assert.equal(u.hash, '');
  const f = new URL(fileUrl('https://h/recordings.html', room, '2026-12-06-093000-stem-Ann_000001.opus'));
  assert.equal(f.pathname, '/api/recording');
  assert.equal(f.searchParams.get('file'), '2026-12-06-093000-stem-Ann_000001.opus');
  assert.equal(apiUrl('https://h/recordings.html', 'api/recordings', null), 'https://h/api/recordings');
  assert.equal(new URL(apiUrl('https://h/x.html', 'api/recording/delete', room, { song: 'S' })).searchParams.get('song'), 'S');
});

test('a song\'s start in the viewer\'s time zone, its length, its size', () => {
  assert.equal(stampDate('2026-12-06-093005').toISOString(), '2026-12-06T09:30:05.000Z');
  assert.equal(stampDate('2026-12-06 093005'), null);
  const when = songWhen('2026-12-06-233000', { locale: 'en-GB', timeZone: 'Europe/Berlin' });
  assert.match(when, /Mon/);
  assert.match(when, /7 Dec 2026/);
  assert.match(when, /00:30/);
  assert.match(songWhen('2026-12-06-233000', { locale: 'en-GB', timeZone: 'UTC' }), /Sun.*6 Dec 2026.*23:30/);
  assert.equal(duration(183.24), '3:03');
  assert.equal(duration(0.4), '0:00');
  assert.equal(duration(3725), '1:02:05');
  assert.equal(duration(null), '');
  assert.equal(size(1234567), '1.2 MB');
  assert.equal(size(81234), '81 kB');
  assert.equal(size(10), '1 kB');
});

test('how a recording stands: being recorded, not closed, complete, stopped early and why', () => {
  assert.equal(songState({ recording: true, complete: false }).kind, 'recording');
  assert.equal(songState({ recording: false, complete: false }).kind, 'open');
  assert.deepEqual(songState({ complete: true, normal: true, ended: 'ended' }),
    { kind: 'normal', text: 'Complete: the song ended normally' });
  assert.deepEqual(songState({ complete: true, normal: false, ended: 'disk', ended_text: "the server's space for recordings was full" }),
    { kind: 'early', text: "Stopped early: the server's space for recordings was full" });
  assert.match(songState({ complete: true, normal: false, ended: 'unknown', ended_text: null }).text, /not kept/);
});

test('refusals in words: a wrong link, a deleted song, the song being recorded, the network', () => {
  assert.match(refusalText(403, 'this link is not valid or the room was closed'), /^This link is not valid or the room was closed\. Ask/);
  assert.match(refusalText(403, 'only the organiser can delete a recording'), /^Only the organiser can delete a recording\./);
  assert.equal(refusalText(409, 'this song is being recorded now; delete it once it has ended'),
    'this song is being recorded now; delete it once it has ended');
  assert.match(refusalText(500), /500/);
});
