// protocol.js: the wire format of the Bucket Brigade API, as pure functions.
//
// What goes over the wire (see docs/PROTOCOL.md; section numbers below are its):
// - the API URL, "api" resolved against the page (PROTOCOL.md section 1.2);
// - the audio POST query, URLSearchParams-encoded, parameters sent only when
//   set (section 3.2);
// - pack_multi bodies: u8 packet count, then per packet a u16 big-endian
//   length and the packet bytes (section 4.1), used both ways;
// - the X-Audio-Metadata JSON header of probe and audio answers (5.2);
// - user_summary rows and the bucket layout (11.3 and the extensions).
//
// Nothing here touches the DOM, the network or Web Audio, so it runs under
// node's test runner. Functions that check input throw an Error whose
// message says what was wrong; the caller treats any throw as a failed
// exchange and reconnects.

/** Largest number of packets one pack_multi body can carry (u8 count). */
export const PACK_MAX_PACKETS = 255;
/** Largest packet pack_multi can frame (u16 length). */
export const PACK_MAX_PACKET_BYTES = 0xffff;
/** Placeholder entry of the backing-track selector; never sent. */
export const TRACK_PLACEHOLDER = '[optional] backing track';

/**
 * The API URL: the "Server path" field value (default "api") resolved
 * against the page URL, as new URL(value, page) does. With the page at
 * https://host/ this is https://host/api, with no trailing slash.
 */
export function apiUrl(serverPath, pageHref) {
  return new URL(serverPath && serverPath.trim() ? serverPath.trim() : 'api', pageHref).href;
}

/**
 * The URL of a named endpoint under the API (last path segment routing),
 * for example endpointUrl("https://h/api", "upload") = "https://h/api/upload".
 */
export function endpointUrl(api, name) {
  return api.replace(/\/+$/, '') + '/' + name;
}

/**
 * Frames a list of packets (Uint8Array each) as one pack_multi body.
 * Throws if there are more than 255 packets or one is longer than 65535
 * bytes. Allocates the result; not for the audio thread.
 */
export function packMulti(packets) {
  if (packets.length > PACK_MAX_PACKETS) {
    throw new Error(`pack_multi: ${packets.length} packets, at most ${PACK_MAX_PACKETS}`);
  }
  let size = 1;
  for (const p of packets) {
    if (p.length > PACK_MAX_PACKET_BYTES) {
      throw new Error(`pack_multi: packet of ${p.length} bytes, at most ${PACK_MAX_PACKET_BYTES}`);
    }
    size += 2 + p.length;
  }
  const out = new Uint8Array(size);
  out[0] = packets.length;
  let at = 1;
  for (const p of packets) {
    out[at] = p.length >> 8;
    out[at + 1] = p.length & 0xff;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}

/**
 * Splits a pack_multi body into its packets (views into bytes, not copies).
 * An empty body is zero packets. Throws when a length runs past the end or
 * bytes are left over after the last packet.
 */
export function unpackMulti(bytes) {
  if (bytes.length === 0) return [];
  const count = bytes[0];
  const packets = [];
  let at = 1;
  for (let i = 0; i < count; i++) {
    if (at + 2 > bytes.length) {
      throw new Error(`pack_multi: truncated length of packet ${i} of ${count}`);
    }
    const len = (bytes[at] << 8) | bytes[at + 1];
    at += 2;
    if (at + len > bytes.length) {
      throw new Error(`pack_multi: packet ${i} of ${len} bytes runs past the body end`);
    }
    packets.push(bytes.subarray(at, at + len));
    at += len;
  }
  if (at !== bytes.length) {
    throw new Error(`pack_multi: ${bytes.length - at} trailing bytes`);
  }
  return packets;
}

/**
 * The query string of one audio POST (without "?"). req holds:
 *   readClock, nSamples, userid, username   required;
 *   writeClock                              once real audio is sent;
 *   resetUserState (bool)                   first POST of a connection;
 *   chat (string[]), micVolume ([id, v][])  lists, sent when non-empty;
 *   requestLead, markStart, markStop (bool) one-shot actions;
 *   volume, backingVolume (number|string)   friendly 0..2;
 *   bpm, repeats, bpr (integer)             rounds settings;
 *   track, monitor (string)                 sent when non-empty;
 *   timingApply (string)                    a public id whose measured
 *                                           timing is to be applied
 *                                           (extension, §10.6);
 *   remove, letBack, appoint (string)       the organiser's: a public id
 *                                           to remove from the room, to
 *                                           let back in, to make the
 *                                           leader (extension, §10.9);
 *   spectator (bool)                        listen only (extension);
 *   muted (bool)                            the upload is not to be mixed:
 *                                           muted, lag-muted or monitoring
 *                                           (extension);
 *   summary ('changed')                     user_summary only when it
 *                                           changed (extension);
 *   room, key (string)                      the room and its key, from
 *                                           the room's link (none: the
 *                                           default room).
 * Values that are null, undefined, false or empty are left out, as the
 * original client did.
 */
export function buildAudioQuery(req) {
  for (const k of ['readClock', 'nSamples']) {
    if (!Number.isSafeInteger(req[k])) throw new Error(`query: ${k} must be an integer`);
  }
  if (!req.userid) throw new Error('query: userid is required');
  if (!req.username) throw new Error('query: username is required');
  const q = new URLSearchParams();
  const put = (name, value) => {
    if (value === null || value === undefined || value === false || value === '') return;
    q.append(name, value === true ? 'true' : String(value));
  };
  put('read_clock', req.readClock);
  if (req.writeClock != null) {
    if (!Number.isSafeInteger(req.writeClock)) throw new Error('query: writeClock must be an integer');
    put('write_clock', req.writeClock);
  }
  put('n_samples', req.nSamples);
  put('userid', req.userid);
  put('username', req.username);
  put('reset_user_state', !!req.resetUserState);
  if (req.chat && req.chat.length) put('chat', JSON.stringify(req.chat));
  if (req.requestLead) put('request_lead', 1);
  if (req.markStart) put('mark_start_singing', 1);
  if (req.markStop) put('mark_stop_singing', 1);
  put('volume', req.volume);
  put('backing_volume', req.backingVolume);
  if (req.micVolume && req.micVolume.length) put('mic_volume', JSON.stringify(req.micVolume));
  put('bpm', req.bpm);
  put('repeats', req.repeats);
  put('bpr', req.bpr);
  if (req.track && req.track !== TRACK_PLACEHOLDER) put('track', req.track);
  put('monitor', req.monitor);
  put('timing_apply', req.timingApply);
  put('solo', req.solo);
  put('calib', req.calib);
  put('remove', req.remove);
  put('let_back', req.letBack);
  put('appoint', req.appoint);
  if (req.spectator) put('spectator', 1);
  if (req.muted) put('muted', 1);
  put('summary', req.summary);
  put('room', req.room);
  put('key', req.key);
  return q.toString();
}

/**
 * The X-Event-Data header value for a list of {evid, clock} events, or
 * null when there are none (the header is then left out).
 */
export function eventHeader(events) {
  return events && events.length ? JSON.stringify(events) : null;
}

/**
 * Parses the X-Audio-Metadata header of a GET probe. Returns
 * {serverClock, sampleRate}; throws when the header is missing or
 * server_clock is not an integer.
 */
export function parseProbe(header) {
  if (!header) throw new Error('probe: no X-Audio-Metadata header');
  const m = JSON.parse(header);
  if (!Number.isSafeInteger(m.server_clock)) throw new Error('probe: server_clock is not an integer');
  return { serverClock: m.server_clock, sampleRate: parseInt(m.server_sample_rate, 10) || 48000 };
}

/**
 * Parses and checks the X-Audio-Metadata header of a successful audio POST.
 * Returns the object; throws unless it is a JSON object with integer
 * client_read_clock and n_samples. events defaults to [] and chats to [].
 */
export function parseAudioMetadata(header) {
  if (!header) throw new Error('metadata: no X-Audio-Metadata header');
  let m;
  try {
    m = JSON.parse(header);
  } catch (e) {
    throw new Error('metadata: not JSON: ' + e.message);
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('metadata: not an object');
  if (!Number.isSafeInteger(m.client_read_clock)) throw new Error('metadata: client_read_clock is not an integer');
  if (!Number.isSafeInteger(m.n_samples) || m.n_samples <= 0) throw new Error('metadata: n_samples is not a positive integer');
  if (!Array.isArray(m.events)) m.events = [];
  if (!Array.isArray(m.chats)) m.chats = [];
  return m;
}

/**
 * The error message a failed audio POST carries in its metadata
 * ({"kill_client": true, "message": ...}), or a generic text.
 */
export function errorMessage(header, status) {
  try {
    const m = JSON.parse(header);
    if (m && typeof m.message === 'string') return m.message;
  } catch {
    // fall through: the header is optional on errors
  }
  return `HTTP ${status}`;
}

/**
 * Turns user_summary rows [delay_s, name, mic_volume, id, is_monitoring,
 * is_monitored] into objects. Rows that are not arrays of at least four
 * items are skipped. Names and ids become strings.
 */
export function parseUserSummary(rows) {
  if (!Array.isArray(rows)) return [];
  const users = [];
  for (const r of rows) {
    if (!Array.isArray(r) || r.length < 4) continue;
    users.push({
      delay: Number(r[0]) || 0,
      name: String(r[1] ?? ''),
      micVolume: Number.isFinite(Number(r[2])) ? Number(r[2]) : 1,
      id: String(r[3]),
      isMonitoring: !!r[4],
      isMonitored: !!r[5],
    });
  }
  return users;
}

/**
 * Groups users into bucket columns. buckets is the server's list of bucket
 * delays in seconds (first = leader), or empty. Each user joins the bucket
 * whose delay is nearest to theirs if it is within 1.5 s; the others form
 * extra columns at their own delay. Returns [{delay, users, isBucket}]
 * sorted by delay; bucket columns are present even when empty.
 */
export function groupIntoBuckets(users, buckets) {
  const cols = new Map();
  for (const d of buckets || []) {
    if (Number.isFinite(d)) cols.set(d, { delay: d, users: [], isBucket: true });
  }
  const delays = [...cols.keys()];
  for (const u of users) {
    let best = null;
    for (const d of delays) {
      if (Math.abs(d - u.delay) <= 1.5 && (best === null || Math.abs(d - u.delay) < Math.abs(best - u.delay))) best = d;
    }
    if (best === null) {
      best = u.delay;
      if (!cols.has(best)) cols.set(best, { delay: best, users: [], isBucket: false });
    }
    cols.get(best).users.push(u);
  }
  return [...cols.values()].sort((a, b) => a.delay - b.delay);
}

/**
 * The friendly volume (0..2) as the linear gain the server applies:
 * exp(6.908 v) / 1000, so 1 is about unity (PROTOCOL.md section 9.4).
 */
export function friendlyToGain(v) {
  return Math.exp(6.908 * v) / 1000;
}

/** Clamps a friendly volume to [0, 2]; NaN becomes 1. */
export function clampFriendly(v) {
  const x = Number(v);
  if (!Number.isFinite(x)) return 1;
  return Math.min(2, Math.max(0, x));
}

/**
 * A random userid as the original made it: decimal digits, 0..1e11, kept
 * as a string. rand is a function returning [0, 1).
 */
export function makeUserId(rand = Math.random) {
  return String(Math.round(rand() * 1e11));
}

/**
 * Whether the metadata says this client leads: the server names the leader
 * by our own userid when we ask, by our public id for others.
 */
export function isLeader(meta, userid, publicId) {
  if (meta.leader === null || meta.leader === undefined) return false;
  const l = String(meta.leader);
  return l === String(userid) || (publicId != null && l === String(publicId));
}
