// net.js: the connection to the server, one audio POST per 600 ms batch.
//
// A connection begins with a GET probe of the API URL, which gives the
// server clock; the read clock starts `offset` seconds behind it, rounded
// to a whole Opus frame. From then on the worklet paces us: every batch it
// hands over (captured audio with its write clock, or an empty tick before
// capture starts and for listeners) becomes one POST that reads the next
// BATCH_SAMPLES of the mix and uploads the batch. Consecutive POSTs of a
// connection satisfy read_clock_k - n = read_clock_(k-1), and the same for
// write_clock once writing has begun (PROTOCOL.md section 8.2).
//
// Responses are handled strictly in the order the requests were made (each
// waits for the one before), decoded and queued for playback at
// [client_read_clock - n, client_read_clock).
//
// Failure handling as the original client did, plus backoff: at most
// MAX_IN_FLIGHT requests are outstanding; a batch that would exceed that,
// a network error, a non-200 answer, bad metadata, a clock discontinuity or
// a decode failure tears the connection down and reconnects (a new probe
// and reset_user_state). The first retry is immediate; repeated failures
// back off up to 10 s and the page shows a lost-connectivity notice.
//
// Metadata items the page queues (chat, lead, volumes, ...) go out on the
// next POST only.
//
// In a room every request carries room= and key= (room.js). A 403 (a wrong
// key, a closed room) is no network trouble: the page is asked whether it
// is final (it is not when the key changed since the request left), and if
// so the connection stops instead of retrying. Other refusals (a full room,
// a busy server: 503) are retried like any failure, and the page is told
// the server's status and sentence so that it can say which it is.

import { BATCH_SAMPLES, estimateServerClock, initialReadClock } from './clock.js';
import {
  buildAudioQuery, errorMessage, eventHeader, packMulti, parseAudioMetadata,
  parseProbe, unpackMulti,
} from './protocol.js';
import { withRoom } from './room.js';

export const MAX_IN_FLIGHT = 4;
const MAX_BACKOFF_MS = 10000;

/** The delay before reconnect attempt number `failures` (1 = first). */
export function backoffMs(failures) {
  if (failures <= 1) return 0;
  return Math.min(MAX_BACKOFF_MS, 500 * 2 ** (failures - 2));
}

export class Connection {
  /**
   * o: {api: () => string, room: () => ({id, key}) | null (the default
   *     room), userid, username: () => string, listenOnly: () => bool,
   *     muted: () => bool, calib: () => string | null (the calib
   *     parameter, PROTOCOL.md §9.13), codec, engine, onMetadata(meta, req),
   *     onStatus({state, message, failures, http}) (http: {status, message}
   *     of the server's refusal behind a failure, or null),
   *     onRefused({status, message, key}) => bool (a 403 answer to a
   *     request made with key; true: final, the connection stops),
   *     log(text)}.
   */
  constructor(o) {
    this.o = o;
    this.epoch = 0;
    this.state = 'stopped';
    this.offset = null;
    this.failures = 0;
    this.pending = emptyPending();
    this.stats = { rttMs: null, lastServerClock: null, readClock: null, writeClock: null, batch: BATCH_SAMPLES, requests: 0, errors: 0 };
    this.timer = null;
    this.offBatch = o.engine.on('batch', (m) => this.onBatch(m));
  }

  /** Starts (or restarts) at offset seconds behind real time. */
  start(offset) {
    this.offset = offset;
    this.connect(0);
  }

  /** Reconnects, optionally at a new offset. */
  reconnect(offset, why = 'reconnect') {
    if (offset != null) this.offset = offset;
    this.o.log(`reconnecting: ${why}`);
    this.connect(0);
  }

  stop() {
    this.epoch++;
    this.state = 'stopped';
    clearTimeout(this.timer);
  }

  /** Queues a scalar item (requestLead, volume, track, ...) for the next POST. */
  queue(key, value) {
    this.pending[key] = value;
  }

  queueChat(text) {
    this.pending.chat.push(text);
  }

  queueMicVolume(id, v) {
    this.pending.micVolume.push([id, v]);
  }

  /**
   * Queues timing_apply for a singer's public id (PROTOCOL.md §10.6). The
   * server takes one a request, so several go out on successive POSTs.
   */
  queueTimingApply(id) {
    if (!this.pending.timingApply.includes(id)) this.pending.timingApply.push(id);
  }

  /**
   * Queues a solo (PROTOCOL.md §9.12): the public ids to hear alone, or
   * none to hear everyone again. The latest selection wins.
   */
  queueSolo(ids) {
    this.pending.solo = ids.length ? ids.join(',') : 'none';
  }

  queueEvent(evid, clock) {
    this.pending.events.push({ evid, clock });
  }

  takePending() {
    const p = this.pending;
    this.pending = emptyPending();
    const [apply, ...later] = p.timingApply;
    p.timingApply = apply || '';
    this.pending.timingApply = later;
    return p;
  }

  // Tells the page what to show; does not change this.state (the loop's own).
  status(state, message = '', http = null) {
    this.lastStatus = state;
    this.o.onStatus({ state, message, failures: this.failures, http });
  }

  room() {
    return this.o.room ? this.o.room() : null;
  }

  // A 403 the page takes as final stops the connection for good.
  refusedForGood(epoch, status, message, key) {
    if (status !== 403 || !this.o.onRefused || epoch !== this.epoch) return false;
    if (!this.o.onRefused({ status, message, key })) return false;
    this.o.log(`refused: ${message}`);
    this.stop();
    return true;
  }

  async connect(delayMs) {
    const epoch = ++this.epoch;
    clearTimeout(this.timer);
    this.state = 'probing';
    if (delayMs > 0) {
      await new Promise((r) => { this.timer = setTimeout(r, delayMs); });
      if (epoch !== this.epoch) return;
    }
    this.o.engine.reset();
    this.o.codec.reset();
    this.inFlight = 0;
    this.chain = Promise.resolve();
    this.readClock = null;
    this.writeClock = null;
    this.lastReadClock = null;
    this.firstPost = true;
    for (let attempt = 0; ; attempt++) {
      try {
        const room = this.room();
        const t0 = performance.now();
        const r = await fetch(withRoom(this.o.api(), room), { cache: 'no-store' });
        const t1 = performance.now();
        if (epoch !== this.epoch) return;
        if (!r.ok) {
          const message = errorMessage(r.headers.get('X-Audio-Metadata'), r.status);
          if (this.refusedForGood(epoch, r.status, message, room && room.key)) return;
          throw new HttpError(`the server answered ${r.status} to the clock probe: ${message}`, r.status, message);
        }
        await r.arrayBuffer();
        const p = parseProbe(r.headers.get('X-Audio-Metadata'));
        const s = estimateServerClock(p.serverClock, t0, t1);
        this.readClock = initialReadClock(s, this.offset);
        this.stats.lastServerClock = p.serverClock;
        this.stats.rttMs = t1 - t0;
        break;
      } catch (e) {
        if (epoch !== this.epoch) return;
        this.failures++;
        this.status('offline', e.message || String(e), e.http || null);
        await new Promise((r) => { this.timer = setTimeout(r, Math.max(1000, backoffMs(this.failures))); });
        if (epoch !== this.epoch) return;
      }
    }
    this.status(this.failures > 0 ? 'resyncing' : 'connecting');
    this.state = 'running';
  }

  fail(epoch, why, http = null) {
    if (epoch !== this.epoch) return;
    this.failures++;
    this.stats.errors++;
    this.o.log(`connection error: ${why}`);
    this.status(this.failures >= 2 ? 'offline' : 'resyncing', why, http);
    this.connect(backoffMs(this.failures));
  }

  // One batch from the worklet: {end, buf} with end the write clock of a
  // captured batch, or end null (and no buf) for a pacing tick.
  onBatch(m) {
    if (this.state !== 'running') {
      if (m.buf) this.o.engine.returnBuffer(m.buf);
      return;
    }
    const epoch = this.epoch;
    if (m.end !== null && !m.buf) {
      this.fail(epoch, 'a captured batch was lost (the page was too busy)');
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      if (m.buf) this.o.engine.returnBuffer(m.buf);
      this.fail(epoch, `more than ${MAX_IN_FLIGHT} requests in flight`);
      return;
    }
    const n = BATCH_SAMPLES;
    let write = null;
    if (m.buf) {
      write = m.end;
      if (this.writeClock !== null && write - n !== this.writeClock) {
        this.o.engine.returnBuffer(m.buf);
        this.fail(epoch, `write clock jumped from ${this.writeClock} to ${write - n}`);
        return;
      }
      this.writeClock = write;
    } else if (this.writeClock !== null) {
      // Once real audio went out, the server expects it to continue; a tick
      // now means capture stopped (listen-only was switched on).
      this.fail(epoch, 'capture stopped');
      return;
    }
    this.readClock += n;
    const p = this.takePending();
    const room = this.room();
    const req = {
      ...p,
      room: room ? room.id : null,
      key: room ? room.key : null,
      readClock: this.readClock,
      writeClock: write,
      nSamples: n,
      userid: this.o.userid,
      username: this.o.username(),
      resetUserState: this.firstPost,
      spectator: this.o.listenOnly(),
      muted: this.o.muted ? this.o.muted() : false,
      calib: this.o.calib ? this.o.calib() : null,
      // The user summary only when it changed: the page keeps the last one.
      summary: 'changed',
      offset: this.offset, // not sent: the offset this request was made at
    };
    this.firstPost = false;
    this.stats.readClock = this.readClock;
    this.stats.writeClock = this.writeClock;
    this.inFlight++;
    const sent = this.post(req, m.buf, p.events);
    this.chain = this.chain.then(() => this.handle(epoch, req, sent));
  }

  async post(req, buf, events) {
    let body = new Uint8Array(0);
    if (buf) {
      try {
        body = packMulti(await this.o.codec.encode(buf));
      } finally {
        this.o.engine.returnBuffer(buf);
      }
    }
    const headers = { 'Content-Type': 'application/octet-stream' };
    const ev = eventHeader(events);
    if (ev) headers['X-Event-Data'] = ev;
    const t0 = performance.now();
    const r = await fetch(this.o.api() + '?' + buildAudioQuery(req), { method: 'POST', body, headers, cache: 'no-store' });
    const bytes = new Uint8Array(await r.arrayBuffer());
    return { r, bytes, rttMs: performance.now() - t0 };
  }

  async handle(epoch, req, sent) {
    let res;
    try {
      res = await sent;
    } catch (e) {
      if (epoch === this.epoch) this.fail(epoch, 'network: ' + (e.message || e));
      return;
    } finally {
      if (epoch === this.epoch) this.inFlight--;
    }
    if (epoch !== this.epoch) return;
    const header = res.r.headers.get('X-Audio-Metadata');
    if (!res.r.ok) {
      const message = errorMessage(header, res.r.status);
      if (this.refusedForGood(epoch, res.r.status, message, req.key)) return;
      this.fail(epoch, `server: ${message}`, { status: res.r.status, message });
      return;
    }
    let meta;
    let pcm;
    try {
      meta = parseAudioMetadata(header);
      if (meta.client_read_clock !== req.readClock || meta.n_samples !== req.nSamples) {
        throw new Error(`the answer is for ${meta.client_read_clock}/${meta.n_samples}, not ${req.readClock}/${req.nSamples}`);
      }
      if (this.lastReadClock !== null && meta.client_read_clock - meta.n_samples !== this.lastReadClock) {
        throw new Error('read clock discontinuity');
      }
      pcm = await this.o.codec.decode(unpackMulti(res.bytes));
      if (Math.abs(pcm.length - meta.n_samples) > 5) {
        throw new Error(`decoded ${pcm.length} samples, expected ${meta.n_samples}`);
      }
    } catch (e) {
      this.fail(epoch, e.message || String(e));
      return;
    }
    if (epoch !== this.epoch) return;
    if (pcm.length !== meta.n_samples) {
      const fixed = new Float32Array(meta.n_samples);
      fixed.set(pcm.subarray(0, meta.n_samples));
      pcm = fixed;
    } else if (pcm.byteOffset !== 0 || pcm.buffer.byteLength !== pcm.byteLength) {
      pcm = pcm.slice();
    }
    this.lastReadClock = meta.client_read_clock;
    this.o.engine.play(meta.client_read_clock - meta.n_samples, pcm);
    this.stats.requests++;
    this.stats.rttMs = res.rttMs;
    this.stats.lastServerClock = meta.server_clock ?? this.stats.lastServerClock;
    if (this.lastStatus !== 'connected') {
      this.failures = 0;
      this.status('connected');
    }
    this.failures = 0;
    this.o.onMetadata(meta, req);
  }
}

// A refusal of the clock probe, with the server's status and sentence.
class HttpError extends Error {
  constructor(text, status, message) {
    super(text);
    this.http = { status, message };
  }
}

function emptyPending() {
  return {
    chat: [], micVolume: [], events: [], timingApply: [],
    requestLead: false, markStart: false, markStop: false,
    volume: null, backingVolume: null, bpm: null, repeats: null, bpr: null,
    track: '', monitor: '', solo: '', remove: '', letBack: '', appoint: '',
  };
}
