// returning.js: the singer who comes back is the same person.
//
// For each room this browser keeps, in localStorage (never in the URL),
// the singer's record: their userid (the secret the server knows them
// by), name, whether they listen only, microphone, latency and how it was
// found, input gain, their own volume in the mix and their place (seconds
// behind). It is written while they sing and read when the page loads: a
// record less than RETURN_MS old skips the set-up questions ("Welcome back")
// and starts where they were. The server still knows a userid that was
// silent for less than 5 minutes (shm/users.h); after that the same userid
// simply joins again, and the page asks for its old place and sends its
// old volume.
//
// Chat: the server delivers each message once, after a singer's cursor,
// so a reload would lose the song's chat. The page keeps it instead of
// the server replaying it: the messages are already here, a replay would
// need a per-song history in shared memory and a cursor per userid, and a
// page keeps only what this singer saw. The last CHAT_KEEP lines are kept
// with the song they came in (its start clock), and a returning page shows
// those of the song that is still on.
//
// The functions take the storage as an argument (localStorage in the page,
// a Map-like stand-in in tests/js/returning.test.js).

export const RETURN_MS = 12 * 3600 * 1000;
export const CHAT_KEEP = 50;

const singerKey = (roomId) => `bb.singer.${roomId || ''}`;
const chatKey = (roomId) => `bb.chat.${roomId || ''}`;

function read(storage, key) {
  try {
    const v = JSON.parse(storage.getItem(key) || 'null');
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

function write(storage, key, value) {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch {
    // private mode or full: the singer just starts over next time
  }
}

/**
 * The singer's record for the room if it is younger than RETURN_MS at
 * now (ms) and holds a userid and a name, else null.
 */
export function loadSinger(storage, roomId, now) {
  const r = read(storage, singerKey(roomId));
  if (!r || typeof r.userid !== 'string' || !/^\d{1,20}$/.test(r.userid) || typeof r.name !== 'string' || !r.name) return null;
  if (!(now - r.savedAt < RETURN_MS) || r.savedAt > now + 60000) return null;
  return r;
}

/** Writes the singer's record for the room, stamped now. */
export function saveSinger(storage, roomId, record, now) {
  write(storage, singerKey(roomId), { ...record, savedAt: now });
}

/** Forgets the singer's record for the room (setting up afresh). */
export function forgetSinger(storage, roomId) {
  try { storage.removeItem(singerKey(roomId)); } catch { /* nothing kept */ }
  try { storage.removeItem(chatKey(roomId)); } catch { /* nothing kept */ }
}

/**
 * Keeps one chat line {name, text, kind} of the song that started at
 * song (its start clock, or null between songs), at most CHAT_KEEP.
 */
export function keepChat(storage, roomId, song, line, now) {
  const kept = read(storage, chatKey(roomId));
  const lines = Array.isArray(kept && kept.lines) ? kept.lines : [];
  lines.push({ song: song ?? null, name: String(line.name), text: String(line.text), kind: line.kind || 'chat', at: now });
  write(storage, chatKey(roomId), { lines: lines.slice(-CHAT_KEEP) });
}

/** The kept lines of the song that started at song (null: between songs), younger than RETURN_MS. */
export function keptChat(storage, roomId, song, now) {
  const kept = read(storage, chatKey(roomId));
  const lines = Array.isArray(kept && kept.lines) ? kept.lines : [];
  return lines.filter((l) => l && l.song === (song ?? null) && now - l.at < RETURN_MS);
}
