/*
 * room.c - one room's daemon: its time, users, song and summary.
 *
 * The daemon keeps one of these per room it serves (daemon.h), each over
 * the room's own timeline segment.  It is the single writer of that
 * room's control state: it keeps a private copy (r->ctl), changes it while
 * applying commands (roomcmd.c) and housekeeping, and publishes it whenever
 * it changed.  Everything it restores after a restart comes from the
 * segment itself (the published control state, the user table, the
 * watermark), so a SIGKILL loses nothing but the commands that were in
 * flight in its memory during that one tick.
 *
 * Work per tick is bounded: at most RM_CMDS_PER_TICK commands, at most one
 * ring's worth of clearing.  Nothing here blocks on a worker.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "delay.h"
#include "encbank.h"
#include "futex.h"
#include "gain.h"
#include "jsonw.h"
#include "ring.h"
#include "link.h"
#include "room_impl.h"
#include "strutil.h"
#include "tempo.h"
#include "timeline.h"

void rm_config_defaults(rm_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->segment = "/bb";
    c->ring_seconds = SEG_RING_SECONDS_DEFAULT;
    c->user_cap = SEG_USERS_DEFAULT;
    c->depth = DELAY_DEPTH_DEFAULT;
}

seg_t *rm_segment(rm_t *r) { return r->seg; }
bool rm_created(const rm_t *r) { return r->created; }

/* ---- control state ---------------------------------------------------- */

static void ctl_defaults(rm_t *r, seg_ctl_t *c)
{
    uint32_t epoch = c->epoch;
    memset(c, 0, sizeof *c);
    song_reset(&c->song, r->cfg.depth);
    c->global_volume = 1.0;
    c->backing_volume = 1.0;
    c->global_gain = (float)gain_volume(1.0);
    c->backing_gain = (float)gain_volume(1.0);
    c->epoch = epoch + 1;
    c->n_buckets = dly_buckets(0, c->song.depth, c->buckets);
}

void rm_publish(rm_t *r)
{
    /* The page shows a "recording" sign while the recorder writes a song. */
    uint32_t recording = r->rec != NULL;
    if (recording != r->ctl.recording) {
        r->ctl.recording = recording;
        r->ctl_dirty = true;
    }
    if (!r->ctl_dirty)
        return;
    snap_ctl_publish(r->seg, &r->ctl);
    r->ctl_dirty = false;
}

/* ---- backing ----------------------------------------------------------- */

/* Renders n samples of backing for clocks [start, start + n) from the
 * current state into out: the metronome, the playing track, or silence.
 * Ends the song when the track runs out inside the range. */
static void render_backing(rm_t *r, int64_t start, uint32_t n, float *out)
{
    song_t *s = &r->ctl.song;
    float g = r->ctl.backing_gain;
    if (s->metronome_on && s->start) {
        tempo_fill_metronome(s->start, tempo_beat_period(s->bpm), start, n, out);
        for (uint32_t i = 0; i < n; i++)
            out[i] *= g;
        return;
    }
    memset(out, 0, (size_t)n * sizeof *out);
    if (s->playing_track < 0)
        return;
    if (!tset_ready(r->tracks))
        return;  /* first scan after a restart still running: silence, not the end */
    const tset_pcm_t *t = tset_pcm(r->tracks, s->playing_track);
    if (!t && tset_open(r->tracks, s->playing_track) == 0)
        t = tset_pcm(r->tracks, s->playing_track);
    if (!t) {
        song_track_ended(s, start);
        r->ctl_dirty = true;
        return;
    }
    int64_t pos = start - r->ctl.track_started;
    for (uint32_t i = 0; i < n; i++) {
        int64_t p = pos + i;
        if (p < 0)
            continue;
        if ((uint64_t)p >= t->frames) {
            LOG(r, "track \"%s\" ended at clock %" PRId64, tset_name(r->tracks, s->playing_track),
                start + i);
            song_track_ended(s, start + i);
            r->ctl_dirty = true;
            return;
        }
        out[i] = t->pcm[p] * g;
    }
}

/* Rewrites the backing ring over [from, to) from the current state.  Only
 * the ring's window can be written (tl_write_backing() skips the rest), so
 * rendering starts there: a start or stop clock far in the past (a read
 * clock an hour old, a corrupted command) costs one ring of rendering, not
 * hours of it inside one tick. */
void rm_rerender_backing(rm_t *r, int64_t from, int64_t to)
{
    int64_t oldest = to - (int64_t)seg_ring_len(r->seg) + TL_MARGIN;
    if (from < oldest)
        from = oldest;
    while (from < to) {
        uint32_t n = (uint32_t)(to - from < RM_CHUNK ? to - from : RM_CHUNK);
        render_backing(r, from, n, r->buf);
        tl_write_backing(r->seg, from, r->buf, n);
        from += n;
    }
}

/* Keeps the rings cleared TL_AHEAD past now. */
static void advance(rm_t *r, int64_t now)
{
    seg_header_shared_t *h = seg_header(r->seg);
    int64_t target = now + TL_AHEAD;
    target -= ring_floor_div(target, 1) % RING_FRAME;
    int64_t w = tl_watermark(r->seg);
    uint32_t len = seg_ring_len(r->seg);
    if (target - w > (int64_t)len - TL_MARGIN) {
        /* The daemon was away longer than the ring: nothing in it is
         * current any more.  Start a fresh lap just behind the clock. */
        LOG(r, "watermark %" PRId64 " is %.1f s behind; starting a fresh lap", w,
            (double)(target - w) / RING_SAMPLE_RATE);
        tl_zero_all(r->seg);
        int64_t fresh = target - ((int64_t)len - TL_MARGIN) + 1;
        fresh -= ring_floor_div(fresh, 1) % RING_FRAME;
        /* release; pairs with the acquire in tl_watermark() */
        store_release(&h->cleared_to, fresh);
        w = fresh;
    }
    while (w < target) {
        uint32_t n = (uint32_t)(target - w < RM_CHUNK ? target - w : RM_CHUNK);
        render_backing(r, w, n, r->buf);
        rm_solo_clear_ahead(r, n);
        tl_advance(r->seg, n, r->buf);
        w += n;
    }
    store_relaxed(&h->heartbeat, now);  /* relaxed: status only */
}

/* ---- users and summary ------------------------------------------------- */

/* Collects the active users (heard within 5 s) into r->active_idx/views;
 * returns their number. */
uint32_t rm_collect_active(rm_t *r, int64_t now)
{
    uint32_t cap = seg_user_cap(r->seg), n = 0;
    for (uint32_t i = 0; i < cap; i++) {
        users_view_t v;
        if (!users_read(r->seg, i, &v))
            continue;
        if (now - v.last_heard > USERS_ACTIVE_SAMPLES)
            continue;
        r->active_idx[n] = i;
        r->views[n] = v;
        n++;
    }
    return n;
}

/* Sort order of the summary: delay, name, mic volume, public id (as a
 * string), monitoring, monitored (PROTOCOL.md 11.3). */
typedef struct {
    int64_t delay;
    const users_view_t *v;
    char pub[24];
    bool real;
} sum_row_t;

/* Who the summary keeps when it must leave people out: real participants
 * (the leader, and whoever sent audio within RM_SUMMARY_REAL) before
 * userids that only read, so that made-up userids cannot push the choir
 * out of everyone's people list, bucket columns and monitor list. */
static int keep_cmp(const void *a, const void *b)
{
    const sum_row_t *x = a, *y = b;
    if (x->real != y->real)
        return x->real ? -1 : 1;
    return x->delay < y->delay ? -1 : x->delay > y->delay;
}

static int sum_cmp(const void *a, const void *b)
{
    const sum_row_t *x = a, *y = b;
    if (x->delay != y->delay)
        return x->delay < y->delay ? -1 : 1;
    int c = strcmp(x->v->name, y->v->name);
    if (c)
        return c;
    if (x->v->mic_volume != y->v->mic_volume)
        return x->v->mic_volume < y->v->mic_volume ? -1 : 1;
    c = strcmp(x->pub, y->pub);
    if (c)
        return c;
    int xm = !!(x->v->flags & SEG_UF_MONITORING), ym = !!(y->v->flags & SEG_UF_MONITORING);
    if (xm != ym)
        return xm - ym;
    xm = !!(x->v->flags & SEG_UF_MONITORED);
    ym = !!(y->v->flags & SEG_UF_MONITORED);
    return xm - ym;
}

void rm_publish_summary(rm_t *r, uint32_t n, int64_t now)
{
    sum_row_t *rows = (sum_row_t *)r->scratch;  /* scratch is big enough: see rm_create */
    for (uint32_t i = 0; i < n; i++) {
        const users_view_t *v = &r->views[i];
        rows[i].v = v;
        rows[i].delay = (int64_t)nearbyint((double)v->delay_samples / RING_SAMPLE_RATE);
        snprintf(rows[i].pub, sizeof rows[i].pub, "%" PRIu64, v->public_id);
        rows[i].real = (r->ctl.song.has_leader && v->userid == r->ctl.song.leader) ||
                       (v->last_write_clock && v->last_write_clock > now - v->delay_samples - RM_SUMMARY_REAL);
    }
    uint32_t kept = n;
    if (n > RM_SUMMARY_MAX) {
        qsort(rows, n, sizeof *rows, keep_cmp);
        kept = RM_SUMMARY_MAX;
    }
    if (r->ctl.summary_more != n - kept) {
        r->ctl.summary_more = n - kept;
        r->ctl_dirty = true;
    }
    n = kept;
    qsort(rows, n, sizeof *rows, sum_cmp);
    jw_t w;
    jw_init(&w, r->text, SEG_BLOB_SUMMARY_MAX);
    jw_arr_begin(&w);
    for (uint32_t i = 0; i < n && i < RM_SUMMARY_MAX; i++) {
        size_t mark = w.len;
        bool comma = w.need_comma;
        jw_arr_begin(&w);
        jw_int(&w, rows[i].delay);
        jw_str(&w, rows[i].v->name);
        jw_num(&w, rows[i].v->mic_volume);
        jw_str(&w, rows[i].pub);
        jw_bool(&w, rows[i].v->flags & SEG_UF_MONITORING);
        jw_bool(&w, rows[i].v->flags & SEG_UF_MONITORED);
        jw_arr_end(&w);
        if (w.len + 2 >= w.cap || !jw_ok(&w)) {
            /* Keep the summary within its blob: drop this and later rows. */
            w.len = mark;
            w.buf[mark] = '\0';
            w.overflow = false;
            w.need_comma = comma;
            break;
        }
    }
    jw_arr_end(&w);
    snap_blob_publish(r->seg, SEG_BLOB_SUMMARY, r->text, w.len);
}

/* A level in whole dB of full scale: -100 for silence. */
static int level_db(float rms)
{
    return rms > 1e-5f ? (int)lrintf(20.0f * log10f(rms)) : -100;
}

void rm_publish_levels(rm_t *r, uint32_t n, int64_t now)
{
    char buf[SEG_BLOB_LEVELS_MAX];
    jw_t w;
    jw_init(&w, buf, sizeof buf);
    jw_arr_begin(&w);
    uint32_t rows = 0;
    for (uint32_t i = 0; i < n && rows < RM_SUMMARY_MAX; i++) {
        const users_view_t *v = &r->views[i];
        if (v->flags & SEG_UF_SPECTATOR)
            continue;
        /* The level of the last upload, while uploads keep coming. */
        bool fresh = v->last_write_clock && now - v->last_heard < RM_LEVEL_FRESH;
        jw_arr_begin(&w);
        jw_uint_str(&w, v->public_id);
        jw_int(&w, fresh ? level_db(v->rms) : -100);
        /* How the uploads arrive (the worker's verdict, mixer/link.h), or
         * dropping when they stopped coming; the page's calibration. */
        uint32_t link = now - v->last_heard > RM_LEVEL_FRESH ? USERS_LINK_DROPPING : v->link;
        jw_str(&w, lk_name((lk_state_t)link));
        uint32_t kind = users_calib_kind(v->calib);
        jw_str(&w, kind == USERS_CALIB_MEASURED    ? "measured"
                   : kind == USERS_CALIB_ESTIMATED ? "estimated"
                                                   : "none");
        jw_int(&w, users_calib_ms(v->calib));
        jw_arr_end(&w);
        rows++;
    }
    jw_arr_end(&w);
    if (jw_ok(&w))
        snap_blob_publish(r->seg, SEG_BLOB_LEVELS, buf, w.len);
}

void rm_drop_leader(rm_t *r)
{
    seg_ctl_t *c = &r->ctl;
    c->song.has_leader = 0;
    c->song.leader = 0;
    c->leader_public = 0;
    c->leader_name[0] = '\0';
    r->leader_unseen = 0;
    r->ctl_dirty = true;
}

static void reset_state(rm_t *r, const char *why)
{
    rm_rec_stop(r, REC_END_LEFT);
    LOG(r, "state reset (%s)", why);
    ctl_defaults(r, &r->ctl);
    r->ctl_dirty = true;
}

static void housekeeping(rm_t *r, int64_t now)
{
    uint32_t cap = seg_user_cap(r->seg), n_users = 0;
    for (uint32_t i = 0; i < cap; i++) {
        users_view_t v;
        if (!users_read(r->seg, i, &v))
            continue;
        if (now - v.last_heard > USERS_FORGET_SAMPLES) {
            LOG(r, "user %" PRIu64 " forgotten after %d minutes of silence", v.public_id,
                (int)(USERS_FORGET_SAMPLES / RING_SAMPLE_RATE / 60));
            users_free(r->seg, i);
            continue;
        }
        n_users++;
    }
    uint32_t n = rm_collect_active(r, now), singers = 0;
    for (uint32_t i = 0; i < n; i++)
        singers += !(r->views[i].flags & SEG_UF_SPECTATOR);
    seg_ctl_t *c = &r->ctl;
    if (c->n_active != n || c->n_users != n_users || c->n_singers != singers) {
        c->n_active = n;
        c->n_singers = singers;
        c->n_users = n_users;
        c->users_full = n_users >= cap;
        r->ctl_dirty = true;
    }
    /* Nobody active: the protocol's state reset, once. */
    if (n == 0 && (c->song.has_leader || c->song.start || c->song.bpm || c->song.repeats ||
                   c->song.bpr || c->global_volume != 1.0 || c->backing_volume != 1.0 ||
                   c->song.requested_track != SONG_TRACK_NONE || c->monitored_public))
        reset_state(r, "no active users");
    /* A leader who left is no longer the leader (quirk 11); so is one
     * without a place in the table for as long (forgotten, or whose join
     * was put off and never came). */
    int64_t li = c->song.has_leader ? users_find(r->seg, c->song.leader) : -1;
    bool gone = false;
    uint64_t gone_public = c->leader_public;
    if (li >= 0) {
        users_view_t v;
        r->leader_unseen = 0;
        if (users_read(r->seg, (uint32_t)li, &v) && now - v.last_heard > USERS_ACTIVE_SAMPLES) {
            gone = true;
            gone_public = v.public_id;
        }
    } else if (c->song.has_leader) {
        if (!r->leader_unseen)
            r->leader_unseen = now;
        gone = now - r->leader_unseen > USERS_ACTIVE_SAMPLES;
    }
    if (gone) {
        LOG(r, "leader %" PRIu64 " left; the song has no leader now", gone_public);
        rm_drop_leader(r);
    }
    rm_solo_expire(r, now);
    rm_publish_summary(r, n, now);
    rm_publish_levels(r, n, now);
}

/* ---- commands ---------------------------------------------------------- */

void rm_publish_events(rm_t *r)
{
    char buf[SEG_BLOB_EVENTS_MAX];
    jw_t w;
    jw_init(&w, buf, sizeof buf);
    jw_arr_begin(&w);
    for (uint32_t i = 0; i < r->n_events; i++) {
        jw_obj_begin(&w);
        jw_key(&w, "evid");
        jw_raw(&w, r->events[i].evid, strlen(r->events[i].evid));
        jw_key(&w, "clock");
        jw_raw(&w, r->events[i].clock, strlen(r->events[i].clock));
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    if (jw_ok(&w))
        snap_blob_publish(r->seg, SEG_BLOB_EVENTS, buf, w.len);
}

/* After a restart: the events table is the one the previous daemon
 * published (the protocol clears it only on reset_events). */
void rm_restore_events(rm_t *r)
{
    char buf[SEG_BLOB_EVENTS_MAX];
    uint64_t gen = 0;
    size_t len = 0;
    snap_blob_read(r->seg, SEG_BLOB_EVENTS, &gen, buf, sizeof buf, &len);
    cJSON *j = len ? cJSON_ParseWithLength(buf, len) : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (r->n_events == RM_EVENTS_MAX)
            break;
        const cJSON *evid = cJSON_GetObjectItemCaseSensitive(it, "evid");
        const cJSON *clock = cJSON_GetObjectItemCaseSensitive(it, "clock");
        rm_event_t *e = &r->events[r->n_events];
        if (!evid || !cJSON_IsNumber(clock) ||
            !cJSON_PrintPreallocated((cJSON *)evid, e->evid, sizeof e->evid, false) ||
            !cJSON_PrintPreallocated((cJSON *)clock, e->clock, sizeof e->clock, false))
            continue;
        r->n_events++;
    }
    cJSON_Delete(j);
    if (r->n_events)
        LOG(r, "restored %u events", r->n_events);
}

void rm_publish_tracks(rm_t *r)
{
    char *buf = r->text;
    jw_t w;
    jw_init(&w, buf, SEG_BLOB_TRACKS_MAX);
    jw_arr_begin(&w);
    uint32_t n = tset_count(r->tracks);
    for (uint32_t i = 0; i < n; i++) {
        size_t mark = w.len;
        jw_str(&w, tset_name(r->tracks, (int32_t)i));
        if (!jw_ok(&w) || w.len + 64 >= w.cap) {
            w.len = mark;
            w.overflow = false;
            break;
        }
    }
    jw_str(&w, TSET_METRONOME_NAME);
    jw_arr_end(&w);
    if (jw_ok(&w))
        snap_blob_publish(r->seg, SEG_BLOB_TRACKS, buf, w.len);
}

/* ---- the tick ---------------------------------------------------------- */

bool rm_asleep(const rm_t *r) { return r->asleep; }

bool rm_idle(const rm_t *r, int64_t now, int64_t quiet)
{
    return r->ctl.n_active == 0 && !r->ctl.song.start && now - r->last_active >= quiet;
}

/* The part of a tick that keeps time: tracks, clearing ahead, users,
 * recording.  An idle room skips it but for a look at its users every
 * RM_IDLE_CHECK, and wakes when someone is there again. */
static void keep_time(rm_t *r, int64_t now)
{
    if (r->asleep) {
        /* Commands are still applied every tick: a worker may wait for
         * them (cm_sync), so the heartbeat says the daemon is here. */
        store_relaxed(&seg_header(r->seg)->heartbeat, now);  /* relaxed: status only */
        if (!r->lanes_drained && now - r->last_house < RM_IDLE_CHECK)
            return;
        housekeeping(r, now);
        r->last_house = now;
        if (r->ctl.n_active == 0 && !r->ctl.song.start)
            return;
        r->asleep = false;
        LOG(r, "awake: someone is here");
    }
    if (tset_poll(r->tracks, &r->ctl.song.requested_track, &r->ctl.song.playing_track)) {
        rm_publish_tracks(r);
        r->ctl_dirty = true;
    }
    advance(r, now);
    if (now - r->last_house >= RM_HOUSE_EVERY) {
        housekeeping(r, now);
        rm_record(r, now);
        r->last_house = now;
    }
    if (r->ctl.n_active)
        r->last_active = now;
    if (!r->rec && rm_idle(r, now, RM_IDLE_AFTER)) {
        /* Nobody for a while: the memory of the rings and of the encode
         * bank goes back to the system, and the clearing ahead stops until
         * someone comes. */
        tl_zero_all(r->seg);
        eb_release(r->seg);
        r->asleep = true;
        LOG(r, "asleep: nobody here for %d s", (int)(RM_IDLE_AFTER / RING_SAMPLE_RATE));
    }
}

void rm_tick(rm_t *r, int64_t now)
{
    /* acquire; pairs with the release bump in a worker's lane_push()
     * (fcgi/commands.c): what was queued before it is seen by the drain */
    uint32_t wake = load_acquire(&seg_header(r->seg)->wake);
    if (r->asleep && wake == r->wake_seen && (now - r->last_house < RM_IDLE_CHECK || r->ctl.n_users == 0)) {
        /* Asleep and nothing queued: no lane is looked at, an idle room
         * costs a word read a tick.  Its users are looked at every
         * RM_IDLE_CHECK while it remembers any (one may sing again without
         * a command); with none, anyone who comes joins, which wakes it.
         * The heartbeat says the daemon is here (a worker waits for
         * commands only while it is fresh). */
        store_relaxed(&seg_header(r->seg)->heartbeat, now);  /* relaxed: status only */
        return;
    }
    r->wake_seen = wake;
    rm_drain(r, now);
    keep_time(r, now);
    rm_publish(r);
    if (r->tickets_done) {
        /* release; pairs with the acq_rel add in a worker's join: a worker
         * that sees these tickets gone reads a control state counting their
         * users.  Never below zero (a count cleared by a restart). */
        _Atomic int32_t *t = &seg_header(r->seg)->join_tickets;
        int32_t v = load_relaxed(t);
        while (!atomic_compare_exchange_weak_explicit(t, &v, v > r->tickets_done ? v - r->tickets_done : 0,
                                                      memory_order_release, memory_order_relaxed))
            ;
        r->tickets_done = 0;
    }
    /* Tell each worker whose commands were applied: everything they did is
     * published above, so the same singer's next request sees it. */
    for (uint32_t l = 0; r->lanes_drained && l < SEG_LANES; l++) {
        if (!(r->lanes_drained & (UINT64_C(1) << l)))
            continue;
        seg_lane_t *lane = seg_lane(r->seg, l);
        /* relaxed: the daemon is the only writer of head.  release; pairs
         * with the acquire in cm_sync() */
        store_release(&lane->applied, (uint32_t)load_relaxed(&lane->head));
        fx_wake(&lane->applied);
    }
    r->lanes_drained = 0;
    if (now - r->last_status >= RM_STATUS_EVERY) {
        seg_ctl_t *c = &r->ctl;
        static const char *phases[] = {"idle", "leading", "singing", "ended"};
        LOG(r, "status clock=%" PRId64 " watermark=+%.2fs users=%u active=%u song=%s leader=%" PRIu64
            " bpm=%d commands=%" PRIu64 " joins=%" PRIu64 " refused=%" PRIu64,
            now, (double)(tl_watermark(r->seg) - now) / RING_SAMPLE_RATE, c->n_users, c->n_active,
            phases[song_phase(&c->song)], c->leader_public, c->song.bpm, r->n_cmds, r->n_joins,
            r->n_refused);
        r->last_status = now;
    }
}


/* ---- life cycle -------------------------------------------------------- */

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

rm_t *rm_create(const rm_config_t *cfg, char *why, size_t whylen)
{
    rm_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    r->cfg.segment = dupstr(cfg->segment);
    r->cfg.id = dupstr(cfg->id ? cfg->id : "default");
    /* The default room's lines name no room, as before there were rooms. */
    r->cfg.is_default = !cfg->id || strcmp(cfg->id, "default") == 0;
    r->join_tokens = RM_JOINS_BURST;
    if (!r->cfg.is_default)
        snprintf(r->label, sizeof r->label, "%s: ", cfg->id);
    r->cfg.audio_dir = dupstr(cfg->audio_dir);
    r->cfg.uploads_dir = dupstr(cfg->uploads_dir);
    r->cfg.recordings_dir = dupstr(cfg->recordings_dir);
    r->cfg.cache_dir = dupstr(cfg->cache_dir);
    r->cfg.depth = dly_clamp_depth(cfg->depth);

    seg_params_t p = {cfg->ring_seconds, cfg->user_cap};
    seg_err_t err;
    r->seg = seg_open_or_create(cfg->segment, &p, &r->created, &err);
    if (!r->seg) {
        snprintf(why, whylen, "%s", err.msg);
        goto err;
    }
    if (seg_claim_daemon(r->seg, &err)) {
        snprintf(why, whylen, "%s", err.msg);
        goto err;
    }
    uint32_t cap = seg_user_cap(r->seg);
    size_t scratch_bytes = (size_t)cap * sizeof(sum_row_t);
    r->cmds = calloc(RM_CMDS_PER_TICK, sizeof *r->cmds);
    r->scratch = calloc(1, scratch_bytes);
    r->delays = calloc(cap, sizeof *r->delays);
    r->spect = calloc(cap, sizeof *r->spect);
    r->active_idx = calloc(cap, sizeof *r->active_idx);
    r->views = calloc(cap, sizeof *r->views);
    r->mix_raw = calloc(cap, sizeof *r->mix_raw);
    r->mix_since = calloc(cap, sizeof *r->mix_since);
    r->mix_gone = calloc(cap, sizeof *r->mix_gone);
    r->text = calloc(1, SEG_BLOB_SUMMARY_MAX > SEG_BLOB_TRACKS_MAX ? SEG_BLOB_SUMMARY_MAX
                                                                    : SEG_BLOB_TRACKS_MAX);
    if (!r->cmds || !r->scratch || !r->delays || !r->spect || !r->active_idx || !r->views ||
        !r->text || !r->mix_raw || !r->mix_since || !r->mix_gone) {
        snprintf(why, whylen, "out of memory");
        goto err;
    }
    uint64_t seed = cfg->seed;
    if (!seed && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)seg_now() ^ (uint64_t)getpid();
    rng_seed(&r->rng, seed);

    if (r->created) {
        ctl_defaults(r, &r->ctl);
        r->ctl.epoch = 1;
        r->ctl_dirty = true;
        LOG(r, "created segment %s: %u s ring, %u users", cfg->segment,
            seg_ring_len(r->seg) / RING_SAMPLE_RATE, cap);
    } else {
        users_repair(r->seg);
        /* Joins promised to a previous daemon are either in the lanes (and
         * will be applied and counted again) or lost with it. */
        store_relaxed(&seg_header(r->seg)->join_tickets, 0);
        snap_ctl_read(r->seg, &r->ctl);
        if (r->ctl.epoch == 0) {
            ctl_defaults(r, &r->ctl);
            r->ctl_dirty = true;
        }
        r->ctl.song.depth = r->cfg.depth;
        r->ctl_dirty = true;
        LOG(r, "re-attached to live segment %s: watermark %+.2f s, song %s, start %" PRId64,
            cfg->segment, (double)(tl_watermark(r->seg) - seg_now()) / RING_SAMPLE_RATE,
            r->ctl.song.start ? "in progress" : "not started", r->ctl.song.start);
        rm_restore_events(r);
        rm_words_restore(r);
        uint64_t gen = 0;
        if (rmv_read(r->seg, &gen, &r->removed) && r->removed.n)
            LOG(r, "restored %u removed singers", r->removed.n);
    }
    char own_cache[512];
    if (r->cfg.uploads_dir && r->cfg.cache_dir)
        snprintf(own_cache, sizeof own_cache, "%s/%s", r->cfg.cache_dir, r->cfg.id);
    r->tracks = tset_new(r->cfg.audio_dir, r->cfg.cache_dir, r->cfg.uploads_dir,
                         r->cfg.uploads_dir && r->cfg.cache_dir ? own_cache : NULL);
    if (!r->tracks) {
        snprintf(why, whylen, "cannot set up the track list");
        goto err;
    }
    rm_publish_tracks(r);
    rm_publish_events(r);
    rm_words_publish(r);
    rm_publish(r);
    if (!r->cfg.recordings_dir)
        tl_set_rec_gate(r->seg, 0);   /* no recorder: no gate (one may be left in the segment) */
    r->last_house = 0;
    r->last_status = seg_now();
    r->last_active = seg_now();
    return r;
err:
    rm_destroy(r);
    return NULL;
}

void rm_destroy(rm_t *r)
{
    if (!r)
        return;
    if (r->seg) {
        if (r->rec) {
            /* Stopping mid-song: the file is complete up to here and the next
             * daemon appends to it. */
            rec_writer_destroy(r->rec);
            r->rec = NULL;
        }
        rm_publish(r);
        seg_detach(r->seg);
    }
    tset_free(r->tracks);
    free((char *)r->cfg.segment);
    free((char *)r->cfg.id);
    free((char *)r->cfg.audio_dir);
    free((char *)r->cfg.uploads_dir);
    free((char *)r->cfg.recordings_dir);
    free((char *)r->cfg.cache_dir);
    free(r->cmds);
    free(r->scratch);
    free(r->delays);
    free(r->spect);
    free(r->active_idx);
    free(r->views);
    free(r->mix_raw);
    free(r->mix_since);
    free(r->mix_gone);
    free(r->text);
    free(r);
}
