// mock-server.js: a small stand-in for the Bucket Brigade server, for
// developing the web client without the C stack.
//
// It serves html/ and a minimal API with real Opus (the @evan/opus native
// binding): the clock probe, audio POSTs with one shared timeline (uploads
// added at write_clock - n while a song runs, reads normalised by
// 3/(k+2)), lead / start / stop with delay assignment, chat, user_summary
// with public ids, leader / leader_name / buckets / n_users and
// delay_seconds. setDown(true) makes the API answer 503 (a server outage);
// setDelay(ms) holds every audio request that long before handling it (a
// slow uplink: the audio arrives late).
// No monitoring, rounds, tracks or recordings. It is not the
// server under test: the end-to-end test runs against the real stack, and
// uses this only when asked with BB_E2E_SERVER=mock.
//
// Run by hand: node tests/browser/mock-server.js [port]

import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { ROOT } from './lib.js';

const require = createRequire(import.meta.url);
const { Encoder, Decoder } = require('@evan/opus');

const RATE = 48000;
const FRAME = 2880;
const L = 120 * RATE;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

function now() {
  return Math.floor((Date.now() / 1000) * RATE);
}

function unpack(b) {
  const out = [];
  if (!b.length) return out;
  let at = 1;
  for (let i = 0; i < b[0]; i++) {
    const len = (b[at] << 8) | b[at + 1];
    out.push(b.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return out;
}

function pack(packets) {
  const parts = [Buffer.from([packets.length])];
  for (const p of packets) parts.push(Buffer.from([p.length >> 8, p.length & 0xff]), Buffer.from(p));
  return Buffer.concat(parts);
}

export function startMock(port = 0) {
  const audio = new Float32Array(L);
  const people = new Int16Array(L);
  const users = new Map();
  const g = { leader: null, songStart: null, songEnd: 0, lastClear: null, nextPublic: 1 };
  const idx = (c) => ((c % L) + L) % L;

  function summary() {
    return [...users.values()].map((u) => [Math.round(u.delay / RATE), u.name, 1, u.publicId, false, false])
      .sort((a, b) => a[0] - b[0]);
  }

  function handleApi(req, res, body) {
    const url = new URL(req.url, 'http://x');
    const headers = { 'Content-Type': 'application/octet-stream', 'Access-Control-Expose-Headers': 'X-Audio-Metadata' };
    if (req.method === 'GET') {
      headers['X-Audio-Metadata'] = JSON.stringify({ server_clock: now(), server_sample_rate: RATE });
      res.writeHead(200, headers);
      res.end('ok');
      return;
    }
    const q = url.searchParams;
    const t = now();
    for (const [id, u] of users) if (t - u.lastHeard > 5 * RATE) users.delete(id);
    const id = q.get('userid');
    const n = Number(q.get('n_samples'));
    const read = Number(q.get('read_clock'));
    const write = q.has('write_clock') ? Number(q.get('write_clock')) : null;
    let u = users.get(id);
    if (!u) {
      u = { name: q.get('username'), publicId: 'p' + g.nextPublic++, out: { chats: [] }, lastHeard: t };
      users.set(id, u);
    }
    if (q.has('reset_user_state') || !u.enc) {
      u.enc = new Encoder({ channels: 1, sample_rate: RATE, application: 'audio' });
      u.dec = new Decoder({ channels: 1, sample_rate: RATE });
    }
    u.lastHeard = t;
    u.delay = t - read;
    if (q.has('chat')) {
      for (const msg of JSON.parse(q.get('chat'))) {
        for (const [oid, o] of users) if (oid !== id) o.out.chats.push([u.name, msg]);
      }
    }
    if (q.has('request_lead')) {
      g.leader = id; g.songStart = null; g.songEnd = 0;
      audio.fill(0); people.fill(0);
      u.out.delay_seconds = 3;
      let i = 0;
      for (const [oid, o] of users) if (oid !== id) o.out.delay_seconds = [6, 9, 12][i++ % 3];
    }
    if (q.has('mark_start_singing')) g.songStart = read;
    if (q.has('mark_stop_singing')) { g.songEnd = write || read; g.leader = null; u.out.delay_seconds = 12; }
    // Clear from the last request's clock to now.
    if (g.lastClear !== null) {
      for (let c = g.lastClear; c < t && c < g.lastClear + L; c++) { audio[idx(c)] = 0; people[idx(c)] = 0; }
    }
    g.lastClear = t;
    const packets = unpack(body);
    if (write !== null && packets.length && g.songStart && write > g.songStart && (!g.songEnd || write - n < g.songEnd)) {
      let at = write - n;
      for (const p of packets) {
        const pcm = new Int16Array(u.dec.decode(p).buffer.slice(0));
        for (let i = 0; i < pcm.length; i++, at++) { audio[idx(at)] += pcm[i] / 32768; people[idx(at)] += 1; }
      }
    }
    const outPackets = [];
    const frame = new Int16Array(FRAME);
    for (let f = 0; f < n / FRAME; f++) {
      for (let i = 0; i < FRAME; i++) {
        const c = read - n + f * FRAME + i;
        const on = g.songStart && (!g.songEnd || c < g.songEnd);
        const v = on ? (audio[idx(c)] * 3) / (people[idx(c)] + 2) : 0;
        frame[i] = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
      }
      outPackets.push(u.enc.encode(frame));
    }
    const leaderUser = g.leader && users.get(g.leader);
    const meta = {
      server_clock: t, server_sample_rate: RATE, client_read_clock: read, client_write_clock: write,
      n_samples: n, user_summary: summary(), events: [], public_id: u.publicId, buckets: [3, 6, 9, 12],
      n_users: users.size,
      leader: !leaderUser ? null : g.leader === id ? id : leaderUser.publicId,
      ...(leaderUser ? { leader_name: leaderUser.name } : {}),
      ...(g.songStart ? { song_start_clock: g.songStart } : {}),
      ...u.out,
    };
    u.out = { chats: [] };
    headers['X-Audio-Metadata'] = JSON.stringify(meta).replace(/[\u0080-\uffff]/g, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
    res.writeHead(200, headers);
    res.end(pack(outPackets));
  }

  let down = false;
  let delayMs = 0;
  const server = createServer((req, res) => {
    if (down && req.url.startsWith('/api')) {
      res.writeHead(503);
      res.end('down');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path === '/api' || path.startsWith('/api/')) {
        if (delayMs && req.method === 'POST') {
          setTimeout(() => api(req, res, Buffer.concat(chunks)), delayMs);
          return;
        }
        api(req, res, Buffer.concat(chunks));
        return;
      }
      serveFile(path, res);
    });
  });

  function api(req, res, body) {
    try { handleApi(req, res, body); } catch (e) {
      res.writeHead(500, { 'X-Audio-Metadata': JSON.stringify({ kill_client: true, message: String(e.message) }) });
      res.end(String(e.stack));
    }
  }

  function serveFile(path, res) {
    const dir = join(ROOT, 'html');
    let file = normalize(join(dir, decodeURIComponent(path)));
    if (!file.startsWith(dir)) { res.writeHead(403); res.end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream' });
    createReadStream(file).pipe(res);
  }

  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok({
    url: `http://localhost:${server.address().port}/`,
    close: () => { server.closeAllConnections(); server.close(); },
    setDown: (v) => { down = !!v; },
    setDelay: (ms) => { delayMs = ms; },
  })));
}

if (process.argv[1] && process.argv[1].endsWith('mock-server.js')) {
  const m = await startMock(Number(process.argv[2] || 8090));
  console.log(`mock server on ${m.url}`);
}
