// room.js: the room this page is in, and what the person's role in it
// shows them, as pure functions.
//
// A room's page is /r/ROOMID#KEY. The key rides in the URL fragment, which a
// browser never sends to a server, so it reaches no log; the page sends it
// itself, with the room's id, as room= and key= on every API request. Any
// other path is the default room (the original client's): the page then
// sends neither, exactly as before rooms existed.
//
// The server decides every permission (mixer/roles.h) and refuses what a
// role may not do; the page only shows each person the controls their role
// has, so that nobody meets a button that cannot work. Nothing here touches
// the DOM or the network, so it runs under node's test runner.

/**
 * The room of a page location: {id, key, root} for /ROOT/r/ID (key from
 * the fragment, '' when there is none; root the path before "r/", where
 * the site and its API live), or null for any other path (the default
 * room). Percent-escapes are decoded; a malformed one is kept as written,
 * so that the server, not the page, says the link is wrong.
 */
export function parseRoomLocation(pathname, hash) {
  const m = /^(.*\/)r\/([^/]+)\/?$/.exec(pathname || '');
  if (!m) return null;
  const decode = (s) => {
    try { return decodeURIComponent(s); } catch { return s; }
  };
  const key = decode(String(hash || '').replace(/^#/, '')).trim();
  return { id: decode(m[2]), key, root: m[1] };
}

/**
 * url with the room's room= and key= added to its query (other parameters
 * kept); url itself for the default room (room null). extra: more
 * parameters, {name: value}.
 */
export function withRoom(url, room, extra = {}) {
  const u = new URL(url);
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, String(v));
  if (room) {
    u.searchParams.set('room', room.id);
    u.searchParams.set('key', room.key);
  }
  return u.href;
}

/**
 * The link that opens the room of page href with key: the page's origin
 * and path, no query, the key as fragment. What a person is given to copy.
 */
export function roomLink(href, key) {
  const u = new URL(href);
  return `${u.origin}${u.pathname}#${key}`;
}

/**
 * How a refused API answer is to be taken: "link" (403: a wrong key or a
 * closed room; nothing here can help, a new link can), "full" (503 because
 * the room has as many singers as its organiser allows: listening still
 * works) or "retry" (anything else: the connection tries again by itself).
 * The server tells a full room from a busy one only in its sentence.
 */
export function refusalKind(status, message) {
  if (status === 403) return 'link';
  if (status === 503 && /\broom is full\b/.test(String(message || ''))) return 'full';
  return 'retry';
}

/**
 * What the page shows, from who the person is now:
 *   inRoom        the page is in a room (false: the default room, where
 *                 everything stays as the original client has it);
 *   role          the server's word: "organiser", "leader", "singer" or
 *                 "listener" (every answer carries it);
 *   amLeader      the server names this singer as the leader;
 *   leaderPresent somebody leads;
 *   uploads       the room allows uploads.
 * Returns {leader, upload, organiser, lead}:
 *   leader    the controls that act on everyone (start/stop, tempo, rounds,
 *             track, volumes, another singer's mic volume, monitoring);
 *   upload    adding a backing track;
 *   organiser the organiser's card (links, cap);
 *   lead      the lead button: "leading" (start or stop the song), "lead"
 *             (take a lead nobody holds), "take" (take the lead from the
 *             one who has it, after a confirmation) or "none" (hidden: a
 *             singer cannot take it while someone leads).
 */
export function controlsFor({ inRoom, role, amLeader, leaderPresent, uploads }) {
  if (!inRoom) return { leader: true, upload: true, organiser: false, lead: amLeader ? 'leading' : 'lead' };
  const organiser = role === 'organiser';
  const leader = amLeader || organiser;
  let lead = 'lead';
  if (amLeader) lead = 'leading';
  else if (leaderPresent) lead = organiser ? 'take' : 'none';
  return { leader, upload: leader && !!uploads, organiser, lead };
}

/**
 * The sentence that tells this person someone else took the lead from
 * them, or null: prev and next are {amLeader, leader, leaderName} before
 * and after an answer. Giving the lead up (nobody leads afterwards) is no
 * news.
 */
export function leadTakenNotice(prev, next) {
  if (!prev || !prev.amLeader || next.amLeader || next.leader == null) return null;
  return `${next.leaderName || 'Someone else'} took the lead from you.`;
}
