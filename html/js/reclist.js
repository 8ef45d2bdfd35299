// reclist.js: what the recordings page shows, as pure functions: the room
// and song of the page's address, the URLs of the API and of each file,
// and each song's date, length and how its recording ended, in words.
//
// The page is recordings.html for the default room and
// recordings.html?room=ID#KEY for a room: the key rides in the fragment,
// which a browser never sends to a server, so it reaches no log; the page
// puts it on its own API requests as key=, as the singing page does. A
// song's view adds song=STAMP to the query. Nothing here touches the DOM
// or the network, so it runs under node's test runner.

const STAMP = /^(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})$/;

/**
 * The room and song of the page's location: {room: {id, key} or null (the
 * default room), song: "YYYY-MM-DD-HHMMSS" or null}. search and hash as
 * location gives them. A song that is not a stamp is null (the list).
 */
export function parseRecordingsLocation(search, hash) {
  const q = new URLSearchParams(search || '');
  const id = (q.get('room') || '').trim();
  let key = String(hash || '').replace(/^#/, '');
  try { key = decodeURIComponent(key); } catch { /* kept as written: the server says it is wrong */ }
  const song = q.get('song');
  return { room: id ? { id, key: key.trim() } : null, song: song && STAMP.test(song) ? song : null };
}

/**
 * The page's own address for room (or null) and song (or null), relative
 * to the page: "recordings.html?room=ID&song=S#KEY". What the page's
 * history and links use; the key stays in the fragment.
 */
export function pageHref(room, song) {
  const q = new URLSearchParams();
  if (room) q.set('room', room.id);
  if (song) q.set('song', song);
  const s = q.toString();
  return `recordings.html${s ? `?${s}` : ''}${room ? `#${encodeURIComponent(room.key)}` : ''}`;
}

/**
 * The singing page of room (or the default room's), relative to the
 * recordings page: "r/ID#KEY" or "./".
 */
export function roomHref(room) {
  return room ? `r/${encodeURIComponent(room.id)}#${encodeURIComponent(room.key)}` : './';
}

/**
 * An API URL: path (e.g. "api/recordings") resolved against base (the
 * page's URL), with room= and key= for a room and the extra parameters.
 */
export function apiUrl(base, path, room, extra = {}) {
  const u = new URL(path, base);
  if (room) {
    u.searchParams.set('room', room.id);
    u.searchParams.set('key', room.key);
  }
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, String(v));
  return u.href;
}

/** The URL of one file of the room's recordings. */
export function fileUrl(base, room, file) {
  return apiUrl(base, 'api/recording', room, { file });
}

/** The Date a song stamp names (its start, UTC), or null. */
export function stampDate(stamp) {
  const m = STAMP.exec(String(stamp || ''));
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/**
 * When a song started, in the viewer's words: "Sat 6 Dec 2026, 09:30" in
 * their own time zone (timeZone and locale only for tests).
 */
export function songWhen(stamp, { locale, timeZone } = {}) {
  const d = stampDate(stamp);
  if (!d) return String(stamp);
  return d.toLocaleString(locale, {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone,
  });
}

/** A length in seconds as "m:ss" or "h:mm:ss"; '' for none. */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '';
  const t = Math.round(seconds);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Bytes as "812 kB" or "4.2 MB". */
export function size(bytes) {
  const b = Number(bytes) || 0;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(b / 1e3))} kB`;
}

/**
 * How a song's recording stands: {kind, text}, kind one of "recording"
 * (being recorded now), "open" (not closed yet: cut off, the server
 * closes it shortly), "normal" (the song ended and all of it is in) or
 * "early" (stopped before the song ended: text says why).
 */
export function songState(song) {
  if (song.recording) return { kind: 'recording', text: 'Being recorded now' };
  if (!song.complete) return { kind: 'open', text: 'Not finished: the server is still closing this recording' };
  if (song.normal) return { kind: 'normal', text: 'Complete: the song ended normally' };
  const why = song.ended_text || 'how it ended was not kept';
  return { kind: 'early', text: `Stopped early: ${why}` };
}

/**
 * What an API refusal means for this page, from its status and the
 * server's JSON {error} (or nothing): a sentence to show.
 */
export function refusalText(status, error) {
  const cap = (t) => t.charAt(0).toUpperCase() + t.slice(1);
  if (status === 403) {
    return `${cap(error || 'this link is not valid or the room was closed')}. ` +
      'Ask your choir\'s organiser for the room\'s link, and open its recordings from there.';
  }
  if (status === 404) return error || 'That recording is not there any more.';
  if (status === 409) return error || 'This song is being recorded now.';
  return error ? `The server said: ${error}` : `The server answered ${status}. Try again in a moment.`;
}
