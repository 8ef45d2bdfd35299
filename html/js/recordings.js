// recordings.js: the recordings page (recordings.html). Lists a room's
// songs, newest first, and shows one song with a player for its mix and
// for each singer's track, the files to download, the Audacity project,
// and, for the room's organiser, Delete.
//
// The room and its key come from the page's address (reclist.js: the key
// in the fragment), and go on every API request as room= and key=, as the
// singing page does. GET /api/room says who this is (only the organiser
// sees Delete; the server refuses anyone else anyway), GET /api/recordings
// lists the songs, GET /api/recording?file= is each file (nginx sends it,
// with HTTP ranges, so a player can seek), and POST
// /api/recording/delete?song= deletes one song. The list view refreshes
// itself while a song is being recorded.

import { $, el, setText, show } from './ui/dom.js';
import { askConfirm } from './ui/confirm.js';
import {
  apiUrl, duration, fileUrl, pageHref, parseRecordingsLocation, refusalText, roomHref, size, songState, songWhen,
} from './reclist.js';

const REFRESH_MS = 10000;

const state = {
  room: null,        // {id, key}, or null for the default room
  song: null,        // the song shown, or null for the list
  info: null,        // GET /api/room's answer
  songs: null,       // GET /api/recordings's list, newest first
  timer: 0,
};

/** An API request: resolves {status, body} (body: parsed JSON or null). */
async function call(path, { method = 'GET', extra = {} } = {}) {
  const r = await fetch(apiUrl(location.href, path, state.room, extra), { method, cache: 'no-store' });
  let body = null;
  if (r.status !== 204) {
    try { body = await r.json(); } catch { body = null; }
  }
  return { status: r.status, body };
}

/** Shows sentence in the message line (kind: '', 'warn' or 'error'), with
 * an optional button. null hides it. */
function message(sentence, kind = '', button = null) {
  const m = $('message');
  show(m, sentence != null);
  if (sentence == null) return;
  m.className = `banner${kind ? ` banner-${kind}` : ''}`;
  m.replaceChildren(sentence);
  if (button) m.append(' ', el('button', { class: 'secondary', text: button.text, on: { click: button.click } }));
}

function refused(status, body) {
  show($('list'), false);
  show($('song'), false);
  message(refusalText(status, body && body.error), 'error');
}

function networkError() {
  message('The server could not be reached. Check your connection and try again.', 'error',
    { text: 'Try again', click: () => load() });
}

/** Loads who this is and the list, then shows the view the address asks. */
async function load() {
  clearTimeout(state.timer);
  try {
    if (!state.info) {
      const info = await call('api/room');
      if (info.status !== 200) return refused(info.status, info.body);
      state.info = info.body;
      if (state.room) {
        setText($('room-name'), state.info.name || state.room.id);
        setText($('role-name'), `(${state.info.role})`);
        show($('room-line'), true);
        document.title = `Recordings · ${state.info.name || state.room.id} · Bucket Brigade`;
      }
    }
    const list = await call('api/recordings');
    if (list.status !== 200) return refused(list.status, list.body);
    state.songs = (list.body && list.body.recordings) || [];
  } catch {
    return networkError();
  }
  render();
  // While a song is being recorded (or closed), the list follows it.
  if (!state.song && state.songs.some((s) => s.recording || !s.complete)) {
    state.timer = setTimeout(load, REFRESH_MS);
  }
}

function render() {
  const song = state.song && state.songs.find((s) => s.song === state.song);
  if (state.song && !song) {
    show($('list'), false);
    show($('song'), false);
    message('That recording is not there any more: it was deleted, or the server kept newer ones only.', 'warn',
      { text: 'All recordings', click: () => go(null) });
    return;
  }
  if (song) renderSong(song); else renderList();
}

/** Moves to song (or the list) in the page's history. */
function go(song, { replace = false } = {}) {
  state.song = song;
  const href = pageHref(state.room, song);
  if (replace) history.replaceState(null, '', href); else history.pushState(null, '', href);
  return load();
}

function stateBadge(song) {
  const s = songState(song);
  return el('span', { class: `badge badge-${s.kind}`, text: s.text });
}

function renderList() {
  show($('song'), false);
  show($('list'), state.songs.length > 0);
  if (state.songs.length === 0) {
    message('No recordings yet. Each song the room sings is recorded, and shows here once it starts.');
  } else {
    message(null);
  }
  $('songs').replaceChildren(...state.songs.map((s) => {
    const a = el('a', { class: 'song-link', attrs: { href: pageHref(state.room, s.song) } },
      el('span', { class: 'when', text: songWhen(s.song) }),
      el('span', { class: 'length', text: duration(s.seconds) }));
    a.addEventListener('click', (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      go(s.song);
    });
    const singers = s.stems.length === 1 ? '1 singer' : `${s.stems.length} singers`;
    return el('li', { attrs: { 'data-song': s.song } }, a, el('span', { class: 'hint', text: singers }), stateBadge(s));
  }));
}

/** A download link for file {file, bytes}. */
function download(f, label) {
  return el('a', { class: 'download', attrs: { href: fileUrl(location.href, state.room, f.file), download: f.file } },
    `${label} (${size(f.bytes)})`);
}

/** One player with its heading and download link. */
function track(f, name) {
  const audio = el('audio', { attrs: { controls: '', preload: 'metadata', src: fileUrl(location.href, state.room, f.file) } });
  audio.setAttribute('aria-label', name);
  return el('li', { class: 'track', attrs: { 'data-file': f.file } },
    el('div', { class: 'track-head' }, el('strong', { text: name }), download(f, 'Download')),
    audio);
}

function renderSong(song) {
  message(null);
  show($('list'), false);
  show($('song'), true);
  setText($('song-title'), songWhen(song.song));
  const len = duration(song.seconds);
  $('song-state').replaceChildren(stateBadge(song), len ? ` ${len}` : '');
  $('mix').replaceChildren(...song.mix.map((f, i) => track(f, song.mix.length > 1 ? `The whole choir, part ${i + 1}` : 'The whole choir')));
  if (song.mix.length === 0) $('mix').replaceChildren(el('li', { class: 'hint', text: 'No mix was recorded for this song.' }));
  show($('no-stems'), song.stems.length === 0);
  $('stems').replaceChildren(...song.stems.map((f) => track(f, f.singer || 'A singer')));
  show($('project-block'), song.project.length > 0);
  $('project').replaceChildren(...song.project.map((f) => download(f, `Download the project ${f.file}`)));
  const organiser = state.info && state.info.role === 'organiser' && !state.info.default;
  show($('delete-block'), organiser);
  setText($('delete-result'), '');
  $('delete').disabled = !!song.recording;
  if (song.recording) setText($('delete-result'), 'A song can be deleted once it has been recorded.');
}

async function deleteSong() {
  const song = state.songs.find((s) => s.song === state.song);
  if (!song) return;
  const n = song.stems.length;
  const ok = await askConfirm(`Delete the recording of ${songWhen(song.song)}? Its mix, ` +
    `${n === 1 ? 'the singer\'s track' : `all ${n} singers' tracks`} and its project go, for everyone. ` +
    'This cannot be undone.', 'Delete');
  if (!ok) return;
  const out = $('delete-result');
  out.className = '';
  setText(out, 'Deleting…');
  try {
    const r = await call('api/recording/delete', { method: 'POST', extra: { song: song.song } });
    if (r.status === 204) {
      await go(null, { replace: true });
      message(`The recording of ${songWhen(song.song)} was deleted.${state.songs.length ? '' : ' There are no other recordings.'}`, 'ok');
      return;
    }
    out.className = 'error';
    setText(out, refusalText(r.status, r.body && r.body.error));
  } catch {
    out.className = 'error';
    setText(out, 'The server could not be reached; nothing was deleted. Try again.');
  }
}

function start() {
  const loc = parseRecordingsLocation(location.search, location.hash);
  state.room = loc.room;
  state.song = loc.song;
  $('room-link').href = roomHref(state.room);
  $('back').href = pageHref(state.room, null);
  $('back').addEventListener('click', (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    go(null);
  });
  $('delete').addEventListener('click', deleteSong);
  window.addEventListener('popstate', () => {
    state.song = parseRecordingsLocation(location.search, location.hash).song;
    load();
  });
  load();
}

start();
