/*
 * exchange.c - the audio exchange: one request, in the order of
 * exchange.h, from the modules that do each step.
 *
 * Any error drops the singer's codec state, as the protocol requires.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "cmdq.h"
#include "commands.h"
#include "encshare.h"
#include "exchange.h"
#include "frames.h"
#include "meta.h"
#include "output.h"
#include "request.h"
#include "rest.h"
#include "ring.h"
#include "roles.h"
#include "singers.h"
#include "snap.h"
#include "timeline.h"
#include "users.h"
#include "voice.h"
#include "watch.h"

#define ERRBODY_CAP 1024
#define JOIN_RETRY RING_SAMPLE_RATE

struct ex {
    seg_t *seg;
    uint32_t worker;
    bool no_sharing;        /* every singer encodes privately */
    bool no_watch;          /* the timing watch is off */
    int64_t sync_ns;        /* longest wait for a singer's commands */
    cm_lane_t lane;         /* where this worker's commands go */
    sg_table_t *singers;
    es_t *es;               /* packets shared among singers (encshare.h) */
    fr_t *fr;               /* frames rendered once (frames.h) */
    out_t *out;             /* what singers hear (output.h) */
    vc_t *vc;               /* where their uploads go (voice.h) */
    mt_t *mt;               /* the metadata writer (meta.h) */
    wt_t *wt;               /* the timing watch (watch.h) */
    rq_t rq;                /* the request being handled */
    cm_refusals_t refused;  /* its controls the singer's role does not allow */
    float in[RQ_MAX_SAMPLES];
    bool rest[PK_MAX_PACKETS];   /* the upload's frames not decoded: rests */
    int nrest;
    float heard[RQ_MAX_SAMPLES / TW_HOP];   /* step powers of what was heard */
    int64_t watch_ns;       /* the timing watch's time in this request */
    uint8_t body[OUT_BODY_CAP];
    char errbody[ERRBODY_CAP];
    int64_t last_request_clock;
    int64_t last_sweep;
    ex_counters_t c;
    prof_t own_life, own_demand;
    prof_t *life, *demand;  /* the own ones, or a worker's shared by its rooms */
};

#define LOG(ex, fmt, ...) fprintf(stderr, "bb-worker[%u]: " fmt "\n", (ex)->worker, ##__VA_ARGS__)

/* ---- life cycle -------------------------------------------------------- */

ex_t *ex_create(seg_t *seg, uint32_t worker_id, uint32_t max_singers, const char *recordings_dir,
                char *why, size_t whylen)
{
    ex_t *ex = calloc(1, sizeof *ex);
    if (!ex) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    ex->seg = seg;
    ex->worker = worker_id;
    ex->lane = (cm_lane_t){seg, worker_id, &seg_header(seg)->wake};
    /* Room for ~20 s of frames of a dozen distinct streams, and a state for
     * every singer that could be pinned on its own. */
    ex->es = es_create(4096, max_singers + 256);
    if (ex->es)
        es_set_bank(ex->es, seg);
    ex->fr = fr_create(1024);
    ex->singers = sg_table_create(max_singers, ex->es);
    ex->out = ex->singers && ex->es && ex->fr ? out_create(seg, ex->es, ex->fr, ex->singers) : NULL;
    ex->vc = vc_create(seg, worker_id, recordings_dir);
    ex->mt = mt_create();
    ex->wt = wt_create(seg);
    if (!ex->singers || !ex->es || !ex->fr || !ex->out || !ex->vc || !ex->mt || !ex->wt) {
        ex_destroy(ex);
        snprintf(why, whylen, "out of memory for %u singers", max_singers);
        return NULL;
    }
    ex->last_request_clock = -1;
    prof_reset(&ex->own_life, true);
    prof_reset(&ex->own_demand, false);
    ex->life = &ex->own_life;
    ex->demand = &ex->own_demand;
    return ex;
}

void ex_destroy(ex_t *ex)
{
    if (!ex)
        return;
    sg_table_destroy(ex->singers);
    out_destroy(ex->out);
    es_destroy(ex->es);
    fr_destroy(ex->fr);
    vc_destroy(ex->vc);
    mt_destroy(ex->mt);
    wt_destroy(ex->wt);
    free(ex);
}

const ex_counters_t *ex_counters(const ex_t *ex) { return &ex->c; }
seg_t *ex_segment(const ex_t *ex) { return ex->seg; }

void ex_set_sharing(ex_t *ex, bool on) { ex->no_sharing = !on; }

void ex_set_bank(ex_t *ex, bool on) { es_set_bank(ex->es, on ? ex->seg : NULL); }

void ex_set_timing_watch(ex_t *ex, bool on) { ex->no_watch = !on; }

void ex_set_private_complexity(ex_t *ex, int complexity)
{
    out_set_private_complexity(ex->out, complexity);
}

void ex_set_command_sync(ex_t *ex, int64_t max_ns) { ex->sync_ns = max_ns; }

void ex_set_wake(ex_t *ex, _Atomic uint32_t *wake) { ex->lane.wake = wake; }

void ex_share(const ex_t *ex, ex_share_t *out)
{
    const es_stats_t *st = es_stats(ex->es);
    fr_counts(ex->fr, &out->rendered, &out->render_hits);
    out->packet_hits = st->hits;
    out->bank_hits = st->bank_hits;
    out->bank_states = st->bank_states;
    out->encoded = st->encodes;
    out->joins = st->joins;
    out->packets_held = st->entries;
    out->states_held = st->states;
}
uint32_t ex_singers(const ex_t *ex) { return sg_count(ex->singers); }
prof_t *ex_prof_life(ex_t *ex) { return ex->life; }
prof_t *ex_prof_demand(ex_t *ex) { return ex->demand; }

void ex_set_profiles(ex_t *ex, prof_t *life, prof_t *demand)
{
    ex->life = life;
    ex->demand = demand;
}

void ex_leader(ex_t *ex, uint64_t userid, bool *leads, bool *has_leader)
{
    seg_ctl_t ctl;
    snap_ctl_read(ex->seg, &ctl);
    *has_leader = ctl.song.has_leader;
    *leads = ctl.song.has_leader && ctl.song.leader == userid;
}

int64_t ex_recording_song(ex_t *ex)
{
    seg_ctl_t ctl;
    snap_ctl_read(ex->seg, &ctl);
    return ctl.song.start && ctl.song.start != ctl.recorded_song ? ctl.song.start : 0;
}

int ex_room_key(ex_t *ex, bool organiser, const uint8_t hash[32], int64_t now)
{
    return cm_push_room_key(&ex->lane, organiser, hash, now);
}

int ex_room_cap(ex_t *ex, uint32_t max_singers, int64_t now)
{
    return cm_push_room_cap(&ex->lane, max_singers, now);
}

static void add_time(ex_t *ex, prof_stage_t s, int64_t ns)
{
    prof_add(ex->life, s, ns);
    prof_add(ex->demand, s, ns);
}

static void stage(ex_t *ex, prof_stage_t s, int64_t *t0)
{
    int64_t t = prof_now_ns();
    add_time(ex, s, t - *t0);
    *t0 = t;
}

/* Charges the time since ta to the timing watch (added to the profile once
 * per request) and leaves it out of the stage running since *t0. */
static void watch_time(ex_t *ex, int64_t ta, int64_t *t0)
{
    int64_t t = prof_now_ns() - ta;
    ex->watch_ns += t;
    *t0 += t;
}

/* ---- responses --------------------------------------------------------- */

/* Fills an error response: status, a metadata header with kill_client and
 * the message (which the client logs), and the message as a text body. */
static void fail(ex_t *ex, ex_response_t *res, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *cls = status == 400   ? "BadRequest"
                      : status == 429 ? "TooManyRequests"
                      : status == 503 ? "ServiceUnavailable"
                                      : "ClientError";
    int n = snprintf(ex->errbody, sizeof ex->errbody, "%s: %s\n", cls, msg);
    res->status = status;
    res->meta = mt_error(ex->mt, msg);
    res->body = (const uint8_t *)ex->errbody;
    res->body_len = (size_t)(n < (int)sizeof ex->errbody ? n : (int)sizeof ex->errbody - 1);
    res->content_type = "text/plain";
    if (status == 400)
        ex->c.bad_request++;
    else if (status == 503)
        ex->c.busy++;
    else if (status != 429)
        ex->c.killed++;
}

/* ---- singers ------------------------------------------------------------ */

/* The singer of the request, created on first contact; NULL when the
 * worker's table is full. */
static sg_t *singer_of(ex_t *ex, const seg_ctl_t *ctl, int64_t now, bool *created)
{
    const rq_t *p = &ex->rq;
    sg_t *s = sg_find(ex->singers, p->userid);
    *created = false;
    if (!s) {
        s = sg_insert(ex->singers, p->userid);
        /* A full table makes room by forgetting a singer who left. */
        if (!s && sg_evict_idle(ex->singers, now, USERS_ACTIVE_SAMPLES)) {
            ex->c.singers_swept++;
            s = sg_insert(ex->singers, p->userid);
        }
        if (!s)
            return NULL;
        *created = true;
        ex->c.singers_created++;
        s->public_id = seg_public_id(ex->seg, p->userid);
        s->chat_cursor = chat_head(ex->seg);
        s->tracks_pending = true;
        s->tempo_pending = true;
        s->cues_pending = true;
        s->cues_gen = mt_cues_gen(ex->mt);
        s->settings_gen = ctl->settings_gen;
        s->tracks_gen = mt_tracks_gen(ex->mt);
        s->epoch = ctl->epoch;
        s->spectator = p->spectator;
        snprintf(s->name, sizeof s->name, "%s", p->name);
    }
    s->last_active = now;
    if (p->reset) {
        sg_drop_codecs(ex->singers, s);
        s->have_read = s->have_write = false;
        /* A new connection may be a reloaded page: tell it everything the
         * first response of a singer carries. */
        s->tracks_pending = s->tempo_pending = s->cues_pending = true;
        s->summary_sent = 0;
    }
    return s;
}

/* Finds the singer's slot in the segment's user table, checking a cached
 * index first.  Returns the index or -1 (the daemon has not created it). */
static int64_t singer_slot(ex_t *ex, sg_t *s)
{
    if (s->slot >= 0 && users_check(ex->seg, (uint32_t)s->slot, s->slot_gen, s->userid))
        return s->slot;
    s->slot = -1;
    int64_t i = users_find(ex->seg, s->userid);
    if (i >= 0) {
        users_view_t v;
        if (users_read(ex->seg, (uint32_t)i, &v) && v.userid == s->userid) {
            s->slot = i;
            s->slot_gen = v.gen;
            /* A message delivered by a previous worker process is not
             * delivered again. */
            if (s->delay_seen == 0)
                s->delay_seen = v.delay_msg >> 16;
            /* The timing words are the slot's (watch.h): take its message
             * count afresh, and publish the verdict into it again. */
            s->timing_known = false;
            s->timing_word = UINT32_MAX;
            snprintf(s->name, sizeof s->name, "%s", v.name);
        }
    }
    return s->slot;
}

/* Step 3: both clock continuities, and that the write lies inside the
 * timeline.  Returns 0, or fails the request and returns -1. */
static int check_clocks(ex_t *ex, sg_t *s, const seg_ctl_t *ctl, ex_response_t *res, int64_t now)
{
    const rq_t *p = &ex->rq;
    if (p->has_write) {
        if (s->have_write && p->write_clock - p->n != s->last_seen_write) {
            ex->c.desyncs++;
            fail(ex, res, 500, "Client write clock desync (%" PRId64 " - %" PRId64 " = %" PRId64 ")",
                 p->write_clock - p->n, s->last_seen_write, p->write_clock - p->n - s->last_seen_write);
            return -1;
        }
        int rc = tl_check_write(ex->seg, p->write_clock - p->n, p->n, now);
        if (rc == TL_EPAST) {
            fail(ex, res, 500, "Client's write clock is too far in the past");
            return -1;
        }
        if (rc != TL_OK && song_upload_active(&ctl->song, p->write_clock, p->n)) {
            /* Writing at or past the watermark: the daemon is not keeping
             * up (or is down).  Refuse rather than wrap. */
            fail(ex, res, 503, "the timeline is not ready for this write (%s); retrying helps",
                 tl_strerror(rc));
            return -1;
        }
    }
    if (s->have_read && p->read_clock - p->n != s->last_seen_read) {
        ex->c.desyncs++;
        fail(ex, res, 500, "Client read clock desync (%" PRId64 " - %" PRId64 " = %" PRId64 ")",
             p->read_clock - p->n, s->last_seen_read, p->read_clock - p->n - s->last_seen_read);
        return -1;
    }
    return 0;
}

/* Step 4: decodes the upload into ex->in (silence without packets), but
 * for the rests of a quiet decoder (rest.h), marked in ex->rest.
 * Returns 0, or fails the request and returns -1. */
static int decode(ex_t *ex, sg_t *s, ex_response_t *res)
{
    const rq_t *p = &ex->rq;
    ex->nrest = 0;
    if (p->npk == 0) {
        memset(ex->in, 0, (size_t)p->n * sizeof(float));
        return 0;
    }
    OpusDecoder *dec = sg_decoder(s);
    if (!dec) {
        fail(ex, res, 503, "out of memory for the decoder");
        return -1;
    }
    for (int i = 0; i < p->npk; i++) {
        int got = rs_decode(dec, &s->dec_quiet, p->pk[i].data, p->pk[i].len,
                            ex->in + (size_t)i * RING_OPUS_FRAME, &ex->rest[i]);
        ex->nrest += ex->rest[i];
        if (got != RING_OPUS_FRAME) {
            fail(ex, res, 400, got < 0 ? "invalid Opus packet %d: %s" : "Opus packet %d is not 60 ms%s",
                 i, got < 0 ? opus_strerror(got) : "");
            return -1;
        }
    }
    ex->c.rest_frames += (uint64_t)ex->nrest;
    return 0;
}

/* Step 5: room in the command lane for every control of the request, and
 * a place in the user table for a newcomer.  A singer without a place asks
 * for one (again each second until the daemon has made it), holding a
 * ticket that promises the place: a crowd for the last places is decided
 * here and now, one newcomer per place.  The join only takes lane room
 * that is left over: a singer whose join cannot be queued this time is
 * served and asks again on the next request.  Returns 0 and sets *join,
 * or fails the request and returns -1. */
static int reserve(ex_t *ex, sg_t *s, int64_t slot, const seg_ctl_t *ctl, ex_response_t *res,
                   int64_t now, uint32_t max_singers, bool *join)
{
    uint32_t ncmd = cm_count(&ex->rq, s);
    uint32_t room = cq_room(ex->seg, ex->worker);
    if (ncmd > room) {
        fail(ex, res, 503, "the server is busy (control queue full); please retry");
        return -1;
    }
    *join = slot < 0 && room > ncmd && (s->join_sent == 0 || now - s->join_sent > JOIN_RETRY);
    /* The organiser's cap counts singers, not listeners, and the places
     * promised to joins not yet made; whoever is in already stays in. */
    /* relaxed: a count to compare, as in cm_join_ticket() */
    int32_t promised = atomic_load_explicit(&seg_header(ex->seg)->join_tickets, memory_order_relaxed);
    if (slot < 0 && max_singers && !ex->rq.spectator &&
        (int64_t)ctl->n_singers + (promised > 0 ? promised : 0) >= (int64_t)max_singers) {
        fail(ex, res, 503, "this room is full: it takes at most %u singers (you can still listen)",
             max_singers);
        return -1;
    }
    if (*join && !cm_join_ticket(ex->seg)) {
        fail(ex, res, 503, "the server is full: no room for another singer (%u in the room)",
             ctl->n_users);
        return -1;
    }
    return 0;
}

/* Step 6, for the singer's own deliveries: what changed since the last
 * response (tempo, tracks, a delay message). */
static void note_changes(ex_t *ex, sg_t *s, int64_t slot, const seg_ctl_t *ctl)
{
    if (ctl->settings_gen != s->settings_gen || ctl->epoch != s->epoch) {
        s->tempo_pending = true;
        s->settings_gen = ctl->settings_gen;
        s->epoch = ctl->epoch;
    }
    if (mt_tracks_gen(ex->mt) != s->tracks_gen) {
        s->tracks_pending = true;
        s->tracks_gen = mt_tracks_gen(ex->mt);
    }
    if (mt_cues_gen(ex->mt) != s->cues_gen) {
        s->cues_pending = true;
        s->cues_gen = mt_cues_gen(ex->mt);
    }
    if (slot >= 0) {
        uint32_t m = users_delay_msg(ex->seg, (uint32_t)slot);
        if ((m >> 16) != 0 && (m >> 16) != s->delay_seen) {
            s->delay_seen = m >> 16;
            s->pending_delay = (int32_t)(m & 0xffff);
        }
    }
}

/* Step 7: the output, shared when the read sits on whole Opus frames of
 * the server clock and the singer hears the common mix, private otherwise.
 * Returns 0, or fails the request and returns -1. */
static int render(ex_t *ex, sg_t *s, const seg_ctl_t *ctl, uint32_t flags, ex_response_t *res,
                  int64_t now, size_t *len, int64_t *t0)
{
    const rq_t *p = &ex->rq;
    /* A listener who solos hears a mix of their own (PROTOCOL.md 9.12). */
    int solo = out_solo_ring(ctl, s->userid);
    bool shared = !ex->no_sharing && !s->priv && solo < 0 && out_shareable(p, flags);
    /* The timing watch measures a voice against what the singer heard. */
    bool heard = !ex->no_watch && wt_wants_heard(p, ctl, flags);
    int64_t mix_ns;
    int rc = shared ? out_shared(ex->out, s, p, ctl, now, ex->body, len, &mix_ns,
                                 heard ? ex->heard : NULL)
                    : out_private(ex->out, s, p, p->has_write ? ex->in : NULL, ctl, flags, solo, ex->body,
                                  len, &mix_ns);
    int64_t t = prof_now_ns();
    add_time(ex, PROF_MIX, mix_ns);
    add_time(ex, PROF_ENCODE, t - *t0 - mix_ns);
    *t0 = t;
    if (rc < 0) {
        fail(ex, res, 500, "Opus encoder failed: %s", opus_strerror(rc));
        return -1;
    }
    if (heard) {
        wt_heard(s, p, ctl, shared ? ex->heard : NULL, shared ? NULL : out_rendered(ex->out));
        watch_time(ex, t, t0);
    }
    return 0;
}

static const seg_solo_t no_solo;
_Static_assert(USERS_LINK_LATE == (int)LK_LATE_STATE && USERS_LINK_DROPPING == (int)LK_DROPPING,
               "the user slot keeps link.h's verdicts");

/* Step 8: the metadata of a 200, into res->meta. */
static void answer(ex_t *ex, sg_t *s, const role_who_t *who, const seg_ctl_t *ctl, bool created, int64_t now,
                   ex_response_t *res, int64_t *t0)
{
    const rq_t *p = &ex->rq;
    /* The original client redraws its people list from every response;
     * a client that asks for less gets the summary when it changed. */
    bool send_summary = !p->no_summary &&
                        (!p->summary_changes || created || s->summary_sent == 0 ||
                         s->summary_gen != mt_summary_gen(ex->mt));
    if (send_summary) {
        s->summary_gen = mt_summary_gen(ex->mt);
        s->summary_sent = now;
    }
    int64_t prev = ex->last_request_clock;
    ex->last_request_clock = now;
    res->status = 200;
    mt_extra_t extra = {.role = role_name(who), .refused = ex->refused.why,
                        .n_refused = ex->refused.n,
                        .levels = role_may(who, ROLE_ACT_LEVELS),
                        .removed = role_may(who, ROLE_ACT_REMOVE)};
    int64_t ta = prof_now_ns();
    extra.timing_basis = wt_own(s, &extra.timing_ms);
    int solo = out_solo_ring(ctl, s->userid);
    if (extra.levels)
        extra.solo = solo >= 0 ? &ctl->solo[solo] : &no_solo;
    if ((who->organiser || who->leads) && !ex->no_watch)
        extra.timing_flags = wt_flags(ex->wt, ctl, now, &extra.timing_flags_len);
    watch_time(ex, ta, t0);
    res->meta = mt_build(ex->mt, ex->seg, ex->worker, p, s, ctl, now, prev, send_summary, &extra);
    res->content_type = "application/octet-stream";
    ex->c.ok++;
    stage(ex, PROF_META, t0);
}

/* ---- the exchange -------------------------------------------------------- */

void ex_handle(ex_t *ex, const ex_request_t *req, ex_response_t *res, int64_t now)
{
    int64_t t0 = prof_now_ns(), tstart = t0;
    rq_t *p = &ex->rq;
    sg_t *s = NULL;
    ex->c.requests++;
    ex->watch_ns = 0;

    /* 1. Parse and bound everything; malformed input changes nothing. */
    if (rq_parse(p, req->query, req->query_len, req->body, req->body_len, req->event_data, now)) {
        fail(ex, res, 400, "%s", p->err);
        goto done;
    }
    /* What this singer asked for before is in effect now (commands.h). */
    sg_t *known = sg_find(ex->singers, p->userid);
    if (known)
        cm_sync(&ex->lane, known, now, ex->sync_ns);
    else if (req->newcomers && !nc_admit(req->newcomers, req->addr, now)) {
        ex->c.newcomers_refused++;
        fail(ex, res, 429, "too many new singers from your network in a short time: wait a minute, then "
             "reload the page");
        goto done;
    }
    seg_ctl_t ctl;
    snap_ctl_read(ex->seg, &ctl);
    mt_refresh(ex->mt, ex->seg);

    /* 2. The singer; reset_user_state. */
    bool created;
    s = singer_of(ex, &ctl, now, &created);
    if (!s) {
        fail(ex, res, 503, "this server's worker is full: no room for another singer");
        goto done;
    }
    int64_t slot = singer_slot(ex, s);
    /* What the singer's role does not allow is taken out, with a reason. */
    role_who_t who = {
        .organiser = req->organiser,
        .listener = p->spectator,
        .leads = ctl.song.has_leader && ctl.song.leader == p->userid,
        .room_has_leader = ctl.song.has_leader,
        .uploads = req->uploads,
    };
    cm_permit(p, &who, s->public_id, &ex->refused);
    cm_check_solo(p, ex->seg, &ctl, &ex->refused);
    cm_check_moderate(p, ex->seg, s->public_id, now, &ex->refused);
    cm_check_start(p, &ctl, &ex->refused);
    if (who.leads && ctl.song.start)
        s->led_song = ctl.song.start;
    cm_pace_chat(p, s, now, &ex->refused);

    /* 3. Both clocks, before anything changes. */
    if (check_clocks(ex, s, &ctl, res, now))
        goto drop;
    stage(ex, PROF_PARSE, &t0);

    /* 4. Decode the upload. */
    if (decode(ex, s, res))
        goto drop;
    stage(ex, PROF_DECODE, &t0);

    /* 5. Reserve the command lane, and a place for a newcomer. */
    bool join;
    if (reserve(ex, s, slot, &ctl, res, now, req->max_singers, &join))
        goto drop;

    /* 6. From here on, state changes: commands, activity, the upload. */
    if (join) {
        cm_join(&ex->lane, p, s, now);
        s->join_sent = now;
    }
    cm_send(&ex->lane, p, s, req->organiser, now);
    /* A newcomer's first upload counts: its place is made within a daemon
     * tick, which this request waits for (as for any command, commands.h). */
    if (join) {
        cm_sync(&ex->lane, s, now, ex->sync_ns);
        slot = singer_slot(ex, s);
    }
    lk_state_t link = lk_note(&s->link, now, p->read_clock, p->n, p->reset);
    if (p->has_calib)
        s->calib = p->calib;
    if (slot >= 0) {
        users_touch(ex->seg, (uint32_t)slot, now, now - p->read_clock, (int32_t)ex->worker);
        /* For the console: the page's calibration, and how the requests
         * arrive (link.h). */
        users_set_link(ex->seg, (uint32_t)slot, link);
        users_set_calib(ex->seg, (uint32_t)slot, s->calib);
    }
    note_changes(ex, s, slot, &ctl);
    uint32_t flags = slot >= 0 ? users_flags(ex->seg, (uint32_t)slot) : 0;
    ex->c.samples_in += p->n;
    if (p->has_write && vc_store(ex->vc, s, p, ex->in, ex->nrest ? ex->rest : NULL, &ctl, slot, flags, now) && !ex->no_watch) {
        int64_t ta = prof_now_ns();
        wt_voice(s, p, ex->in, &ctl);
        watch_time(ex, ta, &t0);
    }
    int64_t ta = prof_now_ns();
    wt_note(ex->wt, s, p, slot);
    watch_time(ex, ta, &t0);
    s->last_seen_read = p->read_clock;
    s->have_read = true;

    /* 7. Render and encode what the singer hears. */
    size_t len;
    if (render(ex, s, &ctl, flags, res, now, &len, &t0))
        goto drop;
    ex->c.samples_out += p->n;

    /* 8. The metadata. */
    answer(ex, s, &who, &ctl, created, now, res, &t0);
    res->body = ex->body;
    res->body_len = len;
    goto done;
drop:
    sg_drop_codecs(ex->singers, s);
done:
    ex->c.refused_writes = vc_refused(ex->vc);
    ex->c.stems_capped = vc_stems_capped(ex->vc);
    ex->c.stream_lost = out_counters(ex->out)->stream_lost;
    ex->c.chain_joins = out_counters(ex->out)->chain_joins;
    ex->c.private_frames = out_counters(ex->out)->private_frames;
    add_time(ex, PROF_TIMING, ex->watch_ns);
    add_time(ex, PROF_REQUEST, prof_now_ns() - tstart);
}

void ex_housekeeping(ex_t *ex, int64_t now)
{
    if (now - ex->last_sweep < RING_SAMPLE_RATE * 10)
        return;
    ex->last_sweep = now;
    sg_close_idle_stems(ex->singers, now, 10 * RING_SAMPLE_RATE);
    /* About 60 KB of Opus state per singer: a worker whose choir comes and
     * goes would otherwise hold five minutes of departed singers' codecs. */
    sg_drop_idle_codecs(ex->singers, now, 30 * RING_SAMPLE_RATE);
    uint32_t n = sg_sweep(ex->singers, now, USERS_FORGET_SAMPLES);
    if (n) {
        ex->c.singers_swept += n;
        LOG(ex, "freed %u singers silent for %d minutes", n, (int)(USERS_FORGET_SAMPLES / RING_SAMPLE_RATE / 60));
    }
}

int ex_reset_events(ex_t *ex, int64_t now)
{
    return cm_push_plain(&ex->lane, CMD_RESET_EVENTS, now);
}

const cm_lane_t *ex_lane(const ex_t *ex) { return &ex->lane; }

int ex_rescan_tracks(ex_t *ex, int64_t now)
{
    return cm_push_plain(&ex->lane, CMD_RESCAN_TRACKS, now);
}
