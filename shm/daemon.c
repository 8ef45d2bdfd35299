/*
 * daemon.c - the timeline daemon: time, commands, users, song, summary.
 *
 * The daemon is the single writer of the control state.  It keeps a private
 * copy (d->ctl), changes it while applying commands and housekeeping, and
 * publishes it whenever it changed.  Everything the daemon restores after a
 * restart comes from the segment itself (the published control state, the
 * user table, the watermark), so a SIGKILL loses nothing but the commands
 * that were in flight in its memory during that one tick.
 *
 * Work per tick is bounded: at most DMN_CMDS_PER_TICK commands, at most one
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

#include "chat.h"
#include "cmdq.h"
#include "daemon.h"
#include "delay.h"
#include "futex.h"
#include "gain.h"
#include "jsonw.h"

#include <cjson/cJSON.h>
#include "media/recording.h"
#include "ring.h"
#include "strutil.h"
#include "snap.h"
#include "tempo.h"
#include "timeline.h"
#include "trackset.h"
#include "users.h"

#define DMN_CMDS_PER_TICK 4096
#define DMN_HOUSE_EVERY (48000 / 10)       /* housekeeping every 100 ms */
#define DMN_STATUS_EVERY (10 * 48000)      /* a status line every 10 s */
#define DMN_EVENTS_MAX 64
#define DMN_SUMMARY_MAX 50
#define DMN_CHUNK 4096
/* The recording trails the clock by the last bucket plus 5 s, so that the
 * last bucket's voices, which reach the server a batch, a playback lead-in
 * and a latency after they heard a moment (about 2 s), are normally in the
 * mix when it passes.  A voice that comes later still (a stalled browser,
 * network or machine) is waited for: see DMN_REC_WAIT. */
#define DMN_REC_LAG_EXTRA 5
/* The recorder does not pass a clock until every singer still singing has
 * put its voice into the mix up to there (timeline.h, "The recorder's
 * gate"), however late that is.  A singer whose progress has not moved for
 * this long (it left, its worker died) is no longer waited for; the gate
 * then keeps its later uploads for those clocks out of the mix and out of
 * its stem, so the recording and the stems still agree. */
#define DMN_REC_WAIT (15 * 48000)
/* Most audio the recorder writes per tick: it catches up after a restart
 * in steps that keep a tick short. */
#define DMN_REC_PER_TICK (2 * 48000)

typedef struct {
    char evid[64];   /* JSON text */
    char clock[32];  /* JSON text */
} dmn_event_t;

struct dmn {
    dmn_config_t cfg;
    seg_t *seg;
    bool created;
    seg_ctl_t ctl;
    bool ctl_dirty;
    rng_t rng;
    int64_t last_house;
    int64_t last_status;
    uint64_t n_cmds;
    uint64_t n_joins;
    uint64_t n_refused;
    uint32_t n_events;
    dmn_event_t events[DMN_EVENTS_MAX];
    tset_t *tracks;
    rec_writer_t *rec;      /* the song being recorded, or NULL */
    int64_t rec_song;       /* its start clock */
    int64_t rec_held;       /* longest it waited for late voices, samples */
    bool mix_ready;         /* the three arrays below are filled */
    int64_t *mix_raw;       /* user_cap: each slot's mixed_to word as last seen */
    int64_t *mix_since;     /* user_cap: the clock when it last changed */
    bool *mix_gone;         /* user_cap: given up (and logged) since then */
    int32_t tickets_done;   /* JOINs applied this tick (see join_tickets) */
    uint64_t lanes_drained; /* bit per lane that gave commands this tick */
    bool summary_dirty;     /* a command changed what the summary shows */
    seg_cmd_t *cmds;        /* DMN_CMDS_PER_TICK */
    uint32_t *scratch;      /* user_cap */
    int32_t *delays;        /* user_cap */
    bool *spect;            /* user_cap */
    uint32_t *active_idx;   /* user_cap */
    users_view_t *views;    /* user_cap */
    char *text;             /* SEG_BLOB_SUMMARY_MAX */
    float buf[DMN_CHUNK];
};

/* ---- logging ----------------------------------------------------------- */

#define LOG(fmt, ...) fprintf(stderr, "bb-shmd: " fmt "\n", ##__VA_ARGS__)

void dmn_config_defaults(dmn_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->segment = "/bb";
    c->ring_seconds = SEG_RING_SECONDS_DEFAULT;
    c->user_cap = SEG_USERS_DEFAULT;
    c->keep = 20;
    c->depth = DELAY_DEPTH_DEFAULT;
}

seg_t *dmn_segment(dmn_t *d) { return d->seg; }
bool dmn_created(const dmn_t *d) { return d->created; }

/* ---- control state ---------------------------------------------------- */

static void ctl_defaults(dmn_t *d, seg_ctl_t *c)
{
    uint32_t epoch = c->epoch;
    memset(c, 0, sizeof *c);
    song_reset(&c->song, d->cfg.depth);
    c->global_volume = 1.0;
    c->backing_volume = 1.0;
    c->global_gain = (float)gain_volume(1.0);
    c->backing_gain = (float)gain_volume(1.0);
    c->epoch = epoch + 1;
    c->n_buckets = dly_buckets(0, c->song.depth, c->buckets);
}

static void publish(dmn_t *d)
{
    if (!d->ctl_dirty)
        return;
    snap_ctl_publish(d->seg, &d->ctl);
    d->ctl_dirty = false;
}

/* ---- backing ----------------------------------------------------------- */

/* Renders n samples of backing for clocks [start, start + n) from the
 * current state into out: the metronome, the playing track, or silence.
 * Ends the song when the track runs out inside the range. */
static void render_backing(dmn_t *d, int64_t start, uint32_t n, float *out)
{
    song_t *s = &d->ctl.song;
    float g = d->ctl.backing_gain;
    if (s->metronome_on && s->start) {
        tempo_fill_metronome(s->start, tempo_beat_period(s->bpm), start, n, out);
        for (uint32_t i = 0; i < n; i++)
            out[i] *= g;
        return;
    }
    memset(out, 0, (size_t)n * sizeof *out);
    if (s->playing_track < 0)
        return;
    if (!tset_ready(d->tracks))
        return;  /* first scan after a restart still running: silence, not the end */
    const tset_pcm_t *t = tset_pcm(d->tracks, s->playing_track);
    if (!t && tset_open(d->tracks, s->playing_track) == 0)
        t = tset_pcm(d->tracks, s->playing_track);
    if (!t) {
        song_track_ended(s, start);
        d->ctl_dirty = true;
        return;
    }
    int64_t pos = start - d->ctl.track_started;
    for (uint32_t i = 0; i < n; i++) {
        int64_t p = pos + i;
        if (p < 0)
            continue;
        if ((uint64_t)p >= t->frames) {
            LOG("track \"%s\" ended at clock %" PRId64, tset_name(d->tracks, s->playing_track),
                start + i);
            song_track_ended(s, start + i);
            d->ctl_dirty = true;
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
static void rerender_backing(dmn_t *d, int64_t from, int64_t to)
{
    int64_t oldest = to - (int64_t)seg_ring_len(d->seg) + TL_MARGIN;
    if (from < oldest)
        from = oldest;
    while (from < to) {
        uint32_t n = (uint32_t)(to - from < DMN_CHUNK ? to - from : DMN_CHUNK);
        render_backing(d, from, n, d->buf);
        tl_write_backing(d->seg, from, d->buf, n);
        from += n;
    }
}

/* Keeps the rings cleared TL_AHEAD past now. */
static void advance(dmn_t *d, int64_t now)
{
    seg_header_shared_t *h = seg_header(d->seg);
    int64_t target = now + TL_AHEAD;
    target -= ring_floor_div(target, 1) % RING_FRAME;
    int64_t w = tl_watermark(d->seg);
    uint32_t len = seg_ring_len(d->seg);
    if (target - w > (int64_t)len - TL_MARGIN) {
        /* The daemon was away longer than the ring: nothing in it is
         * current any more.  Start a fresh lap just behind the clock. */
        LOG("watermark %" PRId64 " is %.1f s behind; starting a fresh lap", w,
            (double)(target - w) / RING_SAMPLE_RATE);
        tl_zero_all(d->seg);
        int64_t fresh = target - ((int64_t)len - TL_MARGIN) + 1;
        fresh -= ring_floor_div(fresh, 1) % RING_FRAME;
        /* release; pairs with the acquire in tl_watermark() */
        store_release(&h->cleared_to, fresh);
        w = fresh;
    }
    while (w < target) {
        uint32_t n = (uint32_t)(target - w < DMN_CHUNK ? target - w : DMN_CHUNK);
        render_backing(d, w, n, d->buf);
        tl_advance(d->seg, n, d->buf);
        w += n;
    }
    store_relaxed(&h->heartbeat, now);  /* relaxed: status only */
}

/* ---- users and summary ------------------------------------------------- */

static int64_t find_user(dmn_t *d, uint64_t userid) { return users_find(d->seg, userid); }

/* Collects the active users (heard within 5 s) into d->active_idx/views;
 * returns their number. */
static uint32_t collect_active(dmn_t *d, int64_t now)
{
    uint32_t cap = seg_user_cap(d->seg), n = 0;
    for (uint32_t i = 0; i < cap; i++) {
        users_view_t v;
        if (!users_read(d->seg, i, &v))
            continue;
        if (now - v.last_heard > USERS_ACTIVE_SAMPLES)
            continue;
        d->active_idx[n] = i;
        d->views[n] = v;
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
} sum_row_t;

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

static void publish_summary(dmn_t *d, uint32_t n)
{
    sum_row_t *rows = (sum_row_t *)d->scratch;  /* scratch is big enough: see dmn_create */
    for (uint32_t i = 0; i < n; i++) {
        rows[i].v = &d->views[i];
        rows[i].delay = (int64_t)nearbyint((double)d->views[i].delay_samples / RING_SAMPLE_RATE);
        snprintf(rows[i].pub, sizeof rows[i].pub, "%" PRIu64, d->views[i].public_id);
    }
    qsort(rows, n, sizeof *rows, sum_cmp);
    jw_t w;
    jw_init(&w, d->text, SEG_BLOB_SUMMARY_MAX);
    jw_arr_begin(&w);
    for (uint32_t i = 0; i < n && i < DMN_SUMMARY_MAX; i++) {
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
    snap_blob_publish(d->seg, SEG_BLOB_SUMMARY, d->text, w.len);
}

/* ---- recording ---------------------------------------------------------- */

static void rec_log(void *user, const char *line)
{
    (void)user;
    LOG("recordings: %s", line);
}

/* Closes the recording in progress and publishes it in the listing. */
static void rec_close(dmn_t *d, const char *why)
{
    if (!d->rec)
        return;
    LOG("recording %s closed (%s): %.1f s; waited up to %.1f s for late voices",
        rec_writer_get_file_name(d->rec), why,
        (double)rec_writer_get_frames(d->rec) / RING_SAMPLE_RATE,
        (double)d->rec_held / RING_SAMPLE_RATE);
    rec_writer_destroy(d->rec);
    d->rec = NULL;
    rec_lof_write(d->cfg.recordings_dir, d->rec_song, rec_log, NULL);
    rec_listing_write(d->cfg.recordings_dir, d->cfg.keep, rec_log, NULL);
    d->ctl.recorded_song = d->rec_song;
    d->ctl_dirty = true;
}

/* How far the recording may go: `end`, or less while a singer still
 * singing has not put its voice into the mix up to there.  Called once to
 * choose where to move the gate (D1 of timeline.h), then, with `end` at or
 * below the gate, as D2.  A singer whose progress is below the gate and
 * who is not mid-upload is not waited for: whatever it sends below the
 * gate is refused.  One that has not moved for DMN_REC_WAIT is given up
 * (logged once); nothing is waited for below `deadline`, where the ring is
 * about to lose the audio. */
static int64_t rec_settled(dmn_t *d, int64_t now, int64_t end, int64_t deadline)
{
    uint32_t cap = seg_user_cap(d->seg);
    int64_t gate = tl_rec_gate(d->seg);
    int64_t lim = end;
    if (!d->mix_ready) {
        /* After a (re)start, everyone is waited for DMN_REC_WAIT from now. */
        for (uint32_t i = 0; i < cap; i++) {
            bool busy;
            users_mix_progress(d->seg, i, &busy, &d->mix_raw[i]);
            d->mix_since[i] = now;
            d->mix_gone[i] = false;
        }
        d->mix_ready = true;
    }
    for (uint32_t i = 0; i < cap; i++) {
        bool busy;
        int64_t raw;
        int64_t v = users_mix_progress(d->seg, i, &busy, &raw);
        if (raw != d->mix_raw[i]) {
            d->mix_raw[i] = raw;
            d->mix_since[i] = now;
            d->mix_gone[i] = false;
        }
        if (v == 0 || v >= end || (!busy && v < gate))
            continue;
        if (now - d->mix_since[i] > DMN_REC_WAIT) {
            if (!d->mix_gone[i]) {
                users_view_t uv;
                LOG("recording: not waiting any longer for user %" PRIu64 ": its voice is in the "
                    "mix up to %.1f s before the recorder's clock, and has not moved for %.0f s",
                    users_read(d->seg, i, &uv) ? uv.public_id : 0,
                    (double)(end - v) / RING_SAMPLE_RATE, (double)DMN_REC_WAIT / RING_SAMPLE_RATE);
                d->mix_gone[i] = true;
            }
            continue;
        }
        if (v < lim)
            lim = v;
    }
    if (lim < deadline)
        lim = end < deadline ? end : deadline;
    return lim;
}

/* Writes the settled part of the song: from where the file ends to
 * `now - lag`, or to the song's end, which closes it; no further than
 * every voice still singing has reached (rec_settled()). */
static void record(dmn_t *d, int64_t now)
{
    const song_t *s = &d->ctl.song;
    if (!d->cfg.recordings_dir)
        return;
    int64_t lag = (int64_t)(s->max_position + DMN_REC_LAG_EXTRA) * RING_SAMPLE_RATE;
    if (!d->rec) {
        if (!s->start || s->start == d->ctl.recorded_song)
            return;
        /* Before its window opens nothing of this song is recorded, by
         * this daemon or an earlier one: a gate left by the song before
         * must not keep this one's voices out. */
        if (now < s->start + lag) {
            if (tl_rec_gate(d->seg) > s->start)
                tl_set_rec_gate(d->seg, s->start);
            return;
        }
        int err = 0;
        /* Creating appends to the file if a previous daemon started it. */
        d->rec = rec_writer_create(d->cfg.recordings_dir, s->start, NULL, s->start, rec_log, NULL,
                                   &err);
        if (!d->rec) {
            LOG("recording of the song at %" PRId64 " cannot start: %s", s->start, rec_strerror(err));
            d->ctl.recorded_song = s->start;  /* do not retry every tick */
            d->ctl_dirty = true;
            return;
        }
        d->rec_song = s->start;
        d->rec_held = 0;
        /* The gate starts where the file ends: the voices are added from
         * there on, whatever a daemon before this one published. */
        tl_set_rec_gate(d->seg, rec_writer_get_end_clock(d->rec));
        LOG("recording %s%s", rec_writer_get_file_name(d->rec),
            rec_writer_get_resumed(d->rec) ? " (resumed)" : "");
        rec_prune(d->cfg.recordings_dir, d->cfg.keep, rec_log, NULL);
        rec_listing_write(d->cfg.recordings_dir, d->cfg.keep, rec_log, NULL);
    }
    int64_t begin = rec_writer_get_end_clock(d->rec);
    int64_t end = now - lag;
    bool closing = false;
    if (s->start != d->rec_song) {
        rec_close(d, "a new song started");
        return;
    }
    if (s->end && s->end <= end) {
        end = s->end;
        closing = true;
    }
    /* What the ring no longer holds is left as silence by the writer. */
    int64_t oldest = tl_watermark(d->seg) - seg_ring_len(d->seg) + TL_MARGIN;
    if (begin < oldest)
        begin = oldest;
    /* Wait for the late voices: an estimate, the gate moved to it (D1),
     * then what may be read (D2), timeline.h's "The recorder's gate". */
    int64_t want = end, deadline = oldest + TL_MARGIN;
    end = rec_settled(d, now, end, deadline);
    if (end > tl_rec_gate(d->seg))
        tl_set_rec_gate(d->seg, end);
    end = rec_settled(d, now, end, deadline);
    if (end < want) {
        closing = false;
        if (want - end > d->rec_held)
            d->rec_held = want - end;
    }
    if (end - begin > DMN_REC_PER_TICK) {
        end = begin + DMN_REC_PER_TICK;
        closing = false;
    }
    while (begin < end) {
        uint32_t n = (uint32_t)(end - begin < DMN_CHUNK ? end - begin : DMN_CHUNK);
        tl_read(d->seg, begin, n, d->ctl.global_gain, d->buf, NULL);
        int rc = rec_writer_write(d->rec, begin, d->buf, n);
        if (rc == REC_ERR_FULL) {
            rec_close(d, "one hour reached");
            return;
        }
        if (rc != REC_OK) {
            LOG("recording write failed: %s", rec_strerror(rc));
            rec_close(d, "write failed");
            return;
        }
        begin += n;
    }
    if (closing)
        rec_close(d, "song ended");
}

static void reset_state(dmn_t *d, const char *why)
{
    rec_close(d, "state reset");
    LOG("state reset (%s)", why);
    ctl_defaults(d, &d->ctl);
    d->ctl_dirty = true;
}

static void housekeeping(dmn_t *d, int64_t now)
{
    uint32_t cap = seg_user_cap(d->seg), n_users = 0;
    for (uint32_t i = 0; i < cap; i++) {
        users_view_t v;
        if (!users_read(d->seg, i, &v))
            continue;
        if (now - v.last_heard > USERS_FORGET_SAMPLES) {
            LOG("user %" PRIu64 " forgotten after an hour of silence", v.public_id);
            users_free(d->seg, i);
            continue;
        }
        n_users++;
    }
    uint32_t n = collect_active(d, now);
    seg_ctl_t *c = &d->ctl;
    if (c->n_active != n || c->n_users != n_users) {
        c->n_active = n;
        c->n_users = n_users;
        c->users_full = n_users >= cap;
        d->ctl_dirty = true;
    }
    /* Nobody active: the protocol's state reset, once. */
    if (n == 0 && (c->song.has_leader || c->song.start || c->song.bpm || c->song.repeats ||
                   c->song.bpr || c->global_volume != 1.0 || c->backing_volume != 1.0 ||
                   c->song.requested_track != SONG_TRACK_NONE || c->monitored_public))
        reset_state(d, "no active users");
    /* A leader who left is no longer the leader (quirk 11). */
    int64_t li = c->song.has_leader ? find_user(d, c->song.leader) : -1;
    if (li >= 0) {
        users_view_t v;
        if (users_read(d->seg, (uint32_t)li, &v) && now - v.last_heard > USERS_ACTIVE_SAMPLES) {
            LOG("leader %" PRIu64 " left; the song has no leader now", v.public_id);
            c->song.has_leader = 0;
            c->song.leader = 0;
            c->leader_public = 0;
            c->leader_name[0] = '\0';
            d->ctl_dirty = true;
        }
    }
    publish_summary(d, n);
}

/* ---- commands ---------------------------------------------------------- */

static void publish_events(dmn_t *d)
{
    char buf[SEG_BLOB_EVENTS_MAX];
    jw_t w;
    jw_init(&w, buf, sizeof buf);
    jw_arr_begin(&w);
    for (uint32_t i = 0; i < d->n_events; i++) {
        jw_obj_begin(&w);
        jw_key(&w, "evid");
        jw_raw(&w, d->events[i].evid, strlen(d->events[i].evid));
        jw_key(&w, "clock");
        jw_raw(&w, d->events[i].clock, strlen(d->events[i].clock));
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    if (jw_ok(&w))
        snap_blob_publish(d->seg, SEG_BLOB_EVENTS, buf, w.len);
}

/* After a restart: the events table is the one the previous daemon
 * published (the protocol clears it only on reset_events). */
static void restore_events(dmn_t *d)
{
    char buf[SEG_BLOB_EVENTS_MAX];
    uint64_t gen = 0;
    size_t len = 0;
    snap_blob_read(d->seg, SEG_BLOB_EVENTS, &gen, buf, sizeof buf, &len);
    cJSON *j = len ? cJSON_ParseWithLength(buf, len) : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (d->n_events == DMN_EVENTS_MAX)
            break;
        const cJSON *evid = cJSON_GetObjectItemCaseSensitive(it, "evid");
        const cJSON *clock = cJSON_GetObjectItemCaseSensitive(it, "clock");
        dmn_event_t *e = &d->events[d->n_events];
        if (!evid || !cJSON_IsNumber(clock) ||
            !cJSON_PrintPreallocated((cJSON *)evid, e->evid, sizeof e->evid, false) ||
            !cJSON_PrintPreallocated((cJSON *)clock, e->clock, sizeof e->clock, false))
            continue;
        d->n_events++;
    }
    cJSON_Delete(j);
    if (d->n_events)
        LOG("restored %u events", d->n_events);
}

static void publish_tracks(dmn_t *d)
{
    char *buf = d->text;
    jw_t w;
    jw_init(&w, buf, SEG_BLOB_TRACKS_MAX);
    jw_arr_begin(&w);
    uint32_t n = tset_count(d->tracks);
    for (uint32_t i = 0; i < n; i++) {
        size_t mark = w.len;
        jw_str(&w, tset_name(d->tracks, (int32_t)i));
        if (!jw_ok(&w) || w.len + 64 >= w.cap) {
            w.len = mark;
            w.overflow = false;
            break;
        }
    }
    jw_str(&w, TSET_METRONOME_NAME);
    jw_arr_end(&w);
    if (jw_ok(&w))
        snap_blob_publish(d->seg, SEG_BLOB_TRACKS, buf, w.len);
}

static void cmd_lead(dmn_t *d, const seg_cmd_t *c, int64_t now)
{
    seg_ctl_t *ctl = &d->ctl;
    song_request_lead(&ctl->song, c->userid);
    uint32_t n = collect_active(d, now);
    int64_t leader = -1;
    for (uint32_t i = 0; i < n; i++) {
        d->spect[i] = (d->views[i].flags & SEG_UF_SPECTATOR) != 0;
        if (d->views[i].userid == c->userid)
            leader = i;
    }
    int32_t p0 = tempo_rounds_pad(ctl->song.bpm, ctl->song.bpr, ctl->song.repeats);
    int32_t maxp = dly_assign(n, leader, d->spect, p0, ctl->song.depth, &d->rng, d->scratch,
                              d->delays);
    for (uint32_t i = 0; i < n; i++)
        users_send_delay(d->seg, d->active_idx[i], d->delays[i]);
    int64_t li = find_user(d, c->userid);
    if (leader < 0 && li >= 0)
        users_send_delay(d->seg, (uint32_t)li, p0 + DELAY_INTERVAL);
    ctl->song.max_position = maxp;
    ctl->song.first_bucket = p0 + DELAY_INTERVAL;
    ctl->n_buckets = dly_buckets(p0, ctl->song.depth, ctl->buckets);
    rec_close(d, "a new lead");
    ctl->leader_public = seg_public_id(d->seg, c->userid);
    str_copy(ctl->leader_name, sizeof ctl->leader_name, c->name);
    /* A new lead starts from silence (no stale audio reaches the song). */
    tl_zero_all(d->seg);
    rerender_backing(d, now - TL_MARGIN, tl_watermark(d->seg));
    LOG("lead by user %" PRIu64 " (%s): %u singers over buckets %d..%d s", ctl->leader_public,
        c->name, n, p0 + DELAY_INTERVAL, maxp);
}

static void cmd_start(dmn_t *d, const seg_cmd_t *c, int64_t now)
{
    seg_ctl_t *ctl = &d->ctl;
    if (!song_may_control(&ctl->song, c->userid)) {
        LOG("start from user %" PRIu64 " ignored: not the leader", seg_public_id(d->seg, c->userid));
        return;
    }
    song_start_action_t a = song_start(&ctl->song, c->a);
    int64_t w = tl_watermark(d->seg);
    if (a == SONG_START_METRONOME) {
        rerender_backing(d, ctl->song.start, w);
    } else if (a == SONG_START_TRACK) {
        if (tset_open(d->tracks, ctl->song.playing_track) != 0) {
            LOG("track %d cannot be opened; starting without it", ctl->song.playing_track);
            ctl->song.playing_track = SONG_TRACK_NONE;
        } else {
            /* The track starts at the clock of the start request, as in the
             * original (not at the song start, which lies in the past). */
            ctl->track_started = c->clock;
            rerender_backing(d, c->clock, w);
        }
    }
    LOG("song start at clock %" PRId64 " (%s)", ctl->song.start,
        a == SONG_START_METRONOME ? "metronome" : a == SONG_START_TRACK ? "backing track" : "a cappella");
    (void)now;
}

static void cmd_stop(dmn_t *d, const seg_cmd_t *c)
{
    seg_ctl_t *ctl = &d->ctl;
    if (!song_may_control(&ctl->song, c->userid)) {
        LOG("stop from user %" PRIu64 " ignored: not the leader", seg_public_id(d->seg, c->userid));
        return;
    }
    if (ctl->song.start == 0 && !ctl->song.has_leader)
        return;
    song_stop(&ctl->song, c->a);
    ctl->leader_public = 0;
    ctl->leader_name[0] = '\0';
    int64_t li = find_user(d, c->userid);
    if (li >= 0)
        users_send_delay(d->seg, (uint32_t)li, ctl->song.max_position);
    /* The track or metronome stops now: rewrite what lies ahead. */
    int64_t w = tl_watermark(d->seg);
    rerender_backing(d, c->clock, w);
    LOG("song stop at clock %" PRId64, ctl->song.end);
}

static void cmd_monitor(dmn_t *d, const seg_cmd_t *c)
{
    uint32_t cap = seg_user_cap(d->seg);
    for (uint32_t i = 0; i < cap; i++) {
        uint32_t f = users_flags(d->seg, i);
        if (f & (SEG_UF_MONITORING | SEG_UF_MONITORED))
            users_set_flags(d->seg, i, f & ~(SEG_UF_MONITORING | SEG_UF_MONITORED));
    }
    d->ctl.monitored_public = 0;
    d->ctl_dirty = true;
    int64_t m = find_user(d, c->userid);
    int64_t t = c->target ? users_find_public(d->seg, c->target) : -1;
    if (m < 0 || t < 0 || m == t)
        return;
    users_set_flags(d->seg, (uint32_t)m, users_flags(d->seg, (uint32_t)m) | SEG_UF_MONITORING);
    users_set_flags(d->seg, (uint32_t)t, users_flags(d->seg, (uint32_t)t) | SEG_UF_MONITORED);
    d->ctl.monitored_public = c->target;
    users_view_t v;
    if (users_read(d->seg, (uint32_t)t, &v))
        users_send_delay(d->seg, (uint32_t)m,
                         (int32_t)nearbyint((double)v.delay_samples / RING_SAMPLE_RATE) + DELAY_INTERVAL);
}

static void cmd_event(dmn_t *d, const seg_cmd_t *c)
{
    /* Workers never send longer texts; a cut JSON text would not parse. */
    if (strlen(c->text) >= sizeof d->events[0].evid || strlen(c->name) >= sizeof d->events[0].clock)
        return;
    uint32_t i;
    for (i = 0; i < d->n_events; i++)
        if (strcmp(d->events[i].evid, c->text) == 0)
            break;
    if (i == d->n_events) {
        if (d->n_events == DMN_EVENTS_MAX) {
            /* The table is full: the oldest entry makes room. */
            memmove(d->events, d->events + 1, (DMN_EVENTS_MAX - 1) * sizeof d->events[0]);
            i = DMN_EVENTS_MAX - 1;
        } else {
            d->n_events++;
        }
    }
    str_copy(d->events[i].evid, sizeof d->events[i].evid, c->text);
    str_copy(d->events[i].clock, sizeof d->events[i].clock, c->name);
    publish_events(d);
}

static void apply(dmn_t *d, const seg_cmd_t *c, int64_t now)
{
    seg_ctl_t *ctl = &d->ctl;
    d->n_cmds++;
    switch ((seg_cmd_type_t)c->type) {
    case CMD_JOIN: {
        d->tickets_done++;
        int64_t i = find_user(d, c->userid);
        if (i >= 0) {
            users_view_t v;
            if (users_read(d->seg, (uint32_t)i, &v) && strcmp(v.name, c->name) != 0)
                users_set_name(d->seg, (uint32_t)i, c->name);
            break;
        }
        i = users_alloc(d->seg, c->userid, c->name, c->a ? SEG_UF_SPECTATOR : 0, c->clock);
        if (i < 0) {
            d->n_refused++;
            if (!ctl->users_full) {
                LOG("user table full (%u slots): refusing new singers", seg_user_cap(d->seg));
                ctl->users_full = 1;
                d->ctl_dirty = true;
            }
            break;
        }
        d->n_joins++;
        d->summary_dirty = true;
        ctl->n_users++;
        ctl->users_full = ctl->n_users >= seg_user_cap(d->seg);
        d->ctl_dirty = true;
        LOG("user %" PRIu64 " joined (%s)%s", seg_public_id(d->seg, c->userid), c->name,
            c->a ? " as a spectator" : "");
        break;
    }
    case CMD_RENAME: {
        int64_t i = find_user(d, c->userid);
        if (i >= 0)
            users_set_name(d->seg, (uint32_t)i, c->name);
        d->summary_dirty = true;
        break;
    }
    case CMD_SPECTATOR: {
        int64_t i = find_user(d, c->userid);
        if (i >= 0) {
            uint32_t f = users_flags(d->seg, (uint32_t)i);
            users_set_flags(d->seg, (uint32_t)i, c->a ? f | SEG_UF_SPECTATOR : f & ~SEG_UF_SPECTATOR);
        }
        d->summary_dirty = true;
        break;
    }
    case CMD_CHAT:
        chat_post(d->seg, seg_public_id(d->seg, c->userid), c->name, c->text);
        break;
    case CMD_TEMPO:
        if (song_set_tempo(&ctl->song, (int32_t)c->a, (int32_t)c->b, (int32_t)c->c)) {
            ctl->settings_gen++;
            d->ctl_dirty = true;
        }
        break;
    case CMD_VOLUME: {
        double v;
        if (gain_clamp_friendly(c->f, &v)) {
            ctl->global_volume = v;
            ctl->global_gain = (float)gain_volume(v);
            d->ctl_dirty = true;
        }
        break;
    }
    case CMD_BACKING_VOLUME: {
        double v;
        if (gain_clamp_friendly(c->f, &v)) {
            ctl->backing_volume = v;
            ctl->backing_gain = (float)gain_volume(v);
            d->ctl_dirty = true;
        }
        break;
    }
    case CMD_MIC_VOLUME: {
        double v;
        int64_t i = users_find_public(d->seg, c->target);
        if (i >= 0 && gain_clamp_friendly(c->f, &v))
            users_set_mic_volume(d->seg, (uint32_t)i, (float)v);
        d->summary_dirty = true;
        break;
    }
    case CMD_TRACK: {
        int32_t t = strcmp(c->text, TSET_METRONOME_NAME) == 0 ? SONG_TRACK_METRONOME
                                                              : tset_find(d->tracks, c->text);
        if (t != SONG_TRACK_NONE) {
            song_request_track(&ctl->song, t);
            d->ctl_dirty = true;
        }
        break;
    }
    case CMD_LEAD:
        cmd_lead(d, c, now);
        d->ctl_dirty = true;
        break;
    case CMD_START:
        cmd_start(d, c, now);
        d->ctl_dirty = true;
        break;
    case CMD_STOP:
        cmd_stop(d, c);
        d->ctl_dirty = true;
        break;
    case CMD_MONITOR:
        cmd_monitor(d, c);
        d->summary_dirty = true;
        break;
    case CMD_EVENT:
        cmd_event(d, c);
        break;
    case CMD_RESET_EVENTS:
        d->n_events = 0;
        publish_events(d);
        break;
    case CMD_RESCAN_TRACKS:
        tset_rescan(d->tracks);
        break;
    default:
        LOG("unknown command type %u from lane %u ignored", c->type, c->lane);
        break;
    }
}

static int cmd_cmp(const void *a, const void *b)
{
    const seg_cmd_t *x = a, *y = b;
    if (x->clock != y->clock)
        return x->clock < y->clock ? -1 : 1;
    if (x->lane != y->lane)
        return x->lane < y->lane ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A command's clocks (when it was issued; the leader's read clock of a
 * start or stop) come from a worker reading the same server clock: never
 * ahead of ours by more than a second, never older than the ring (a daemon
 * that was down longer than that).  A lane cell outside those bounds is
 * damaged; its issue clock is taken as now and a start or stop at an
 * impossible read clock is dropped, so no clock arithmetic on command
 * values can overflow.  Returns false to drop the command. */
static bool bound_clocks(dmn_t *d, seg_cmd_t *c, int64_t now)
{
    int64_t oldest = now - (int64_t)seg_ring_len(d->seg), newest = now + RING_SAMPLE_RATE;
    bool ok = true;
    if (c->clock < oldest || c->clock > newest) {
        LOG("command %u from lane %u: clock %" PRId64 " is %s; taken as now", c->type, c->lane,
            c->clock, c->clock > newest ? "ahead of the server clock" : "older than the ring");
        c->clock = now;
    }
    if ((c->type == CMD_START || c->type == CMD_STOP) && (c->a < oldest || c->a > newest)) {
        LOG("%s from lane %u at read clock %" PRId64 " ignored: outside the ring",
            c->type == CMD_START ? "start" : "stop", c->lane, c->a);
        ok = false;
    }
    return ok;
}

static void drain(dmn_t *d, int64_t now)
{
    uint32_t n = 0;
    /* Round-robin over the lanes so a flooding worker cannot starve the
     * others of this tick's budget. */
    bool more = true;
    while (more && n < DMN_CMDS_PER_TICK) {
        more = false;
        for (uint32_t l = 0; l < SEG_LANES && n < DMN_CMDS_PER_TICK; l++)
            if (cq_pop(d->seg, l, &d->cmds[n])) {
                more = true;
                d->lanes_drained |= UINT64_C(1) << l;
                if (bound_clocks(d, &d->cmds[n], now))
                    n++;
            }
    }
    if (n == 0)
        return;
    qsort(d->cmds, n, sizeof d->cmds[0], cmd_cmp);
    for (uint32_t i = 0; i < n; i++)
        apply(d, &d->cmds[i], now);
    /* What a singer changed (a name, a mic volume, monitoring) shows in the
     * summary that singer's next response carries, not 100 ms later. */
    if (d->summary_dirty) {
        publish_summary(d, collect_active(d, now));
        d->summary_dirty = false;
    }
}

/* ---- the tick ---------------------------------------------------------- */

void dmn_tick(dmn_t *d, int64_t now)
{
    drain(d, now);
    if (tset_poll(d->tracks, &d->ctl.song.requested_track, &d->ctl.song.playing_track)) {
        publish_tracks(d);
        d->ctl_dirty = true;
    }
    advance(d, now);
    if (now - d->last_house >= DMN_HOUSE_EVERY) {
        housekeeping(d, now);
        record(d, now);
        d->last_house = now;
    }
    publish(d);
    if (d->tickets_done) {
        /* release; pairs with the acq_rel add in a worker's join: a worker
         * that sees these tickets gone reads a control state counting their
         * users.  Never below zero (a count cleared by a restart). */
        _Atomic int32_t *t = &seg_header(d->seg)->join_tickets;
        int32_t v = load_relaxed(t);
        while (!atomic_compare_exchange_weak_explicit(t, &v, v > d->tickets_done ? v - d->tickets_done : 0,
                                                      memory_order_release, memory_order_relaxed))
            ;
        d->tickets_done = 0;
    }
    /* Tell each worker whose commands were applied: everything they did is
     * published above, so the same singer's next request sees it. */
    for (uint32_t l = 0; d->lanes_drained && l < SEG_LANES; l++) {
        if (!(d->lanes_drained & (UINT64_C(1) << l)))
            continue;
        seg_lane_t *lane = seg_lane(d->seg, l);
        /* relaxed: the daemon is the only writer of head.  release; pairs
         * with the acquire in cm_sync() */
        store_release(&lane->applied, (uint32_t)load_relaxed(&lane->head));
        fx_wake(&lane->applied);
    }
    d->lanes_drained = 0;
    if (now - d->last_status >= DMN_STATUS_EVERY) {
        seg_ctl_t *c = &d->ctl;
        static const char *phases[] = {"idle", "leading", "singing", "ended"};
        LOG("status clock=%" PRId64 " watermark=+%.2fs users=%u active=%u song=%s leader=%" PRIu64
            " bpm=%d commands=%" PRIu64 " joins=%" PRIu64 " refused=%" PRIu64,
            now, (double)(tl_watermark(d->seg) - now) / RING_SAMPLE_RATE, c->n_users, c->n_active,
            phases[song_phase(&c->song)], c->leader_public, c->song.bpm, d->n_cmds, d->n_joins,
            d->n_refused);
        d->last_status = now;
    }
}

void dmn_wait(dmn_t *d, uint32_t seen, int64_t max_ns)
{
    fx_wait(&seg_header(d->seg)->wake, seen, max_ns);
}

uint32_t dmn_wake_word(dmn_t *d)
{
    /* acquire; pairs with the release bump in cm_wake_daemon() */
    return load_acquire(&seg_header(d->seg)->wake);
}

/* ---- life cycle -------------------------------------------------------- */

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

dmn_t *dmn_create(const dmn_config_t *cfg, char *why, size_t whylen)
{
    dmn_t *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    d->cfg = *cfg;
    d->cfg.segment = dupstr(cfg->segment);
    d->cfg.audio_dir = dupstr(cfg->audio_dir);
    d->cfg.recordings_dir = dupstr(cfg->recordings_dir);
    d->cfg.cache_dir = dupstr(cfg->cache_dir);
    d->cfg.depth = dly_clamp_depth(cfg->depth);

    seg_params_t p = {cfg->ring_seconds, cfg->user_cap};
    seg_err_t err;
    d->seg = seg_open_or_create(cfg->segment, &p, &d->created, &err);
    if (!d->seg) {
        snprintf(why, whylen, "%s", err.msg);
        goto err;
    }
    if (seg_claim_daemon(d->seg, &err)) {
        snprintf(why, whylen, "%s", err.msg);
        goto err;
    }
    uint32_t cap = seg_user_cap(d->seg);
    size_t scratch_bytes = (size_t)cap * sizeof(sum_row_t);
    d->cmds = calloc(DMN_CMDS_PER_TICK, sizeof *d->cmds);
    d->scratch = calloc(1, scratch_bytes);
    d->delays = calloc(cap, sizeof *d->delays);
    d->spect = calloc(cap, sizeof *d->spect);
    d->active_idx = calloc(cap, sizeof *d->active_idx);
    d->views = calloc(cap, sizeof *d->views);
    d->mix_raw = calloc(cap, sizeof *d->mix_raw);
    d->mix_since = calloc(cap, sizeof *d->mix_since);
    d->mix_gone = calloc(cap, sizeof *d->mix_gone);
    d->text = calloc(1, SEG_BLOB_SUMMARY_MAX > SEG_BLOB_TRACKS_MAX ? SEG_BLOB_SUMMARY_MAX
                                                                    : SEG_BLOB_TRACKS_MAX);
    if (!d->cmds || !d->scratch || !d->delays || !d->spect || !d->active_idx || !d->views ||
        !d->text || !d->mix_raw || !d->mix_since || !d->mix_gone) {
        snprintf(why, whylen, "out of memory");
        goto err;
    }
    uint64_t seed = cfg->seed;
    if (!seed && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)seg_now() ^ (uint64_t)getpid();
    rng_seed(&d->rng, seed);

    if (d->created) {
        ctl_defaults(d, &d->ctl);
        d->ctl.epoch = 1;
        d->ctl_dirty = true;
        LOG("created segment %s: %u s ring, %u users", cfg->segment,
            seg_ring_len(d->seg) / RING_SAMPLE_RATE, cap);
    } else {
        users_repair(d->seg);
        /* Joins promised to a previous daemon are either in the lanes (and
         * will be applied and counted again) or lost with it. */
        store_relaxed(&seg_header(d->seg)->join_tickets, 0);
        snap_ctl_read(d->seg, &d->ctl);
        if (d->ctl.epoch == 0) {
            ctl_defaults(d, &d->ctl);
            d->ctl_dirty = true;
        }
        d->ctl.song.depth = d->cfg.depth;
        d->ctl_dirty = true;
        LOG("re-attached to live segment %s: watermark %+.2f s, song %s, start %" PRId64,
            cfg->segment, (double)(tl_watermark(d->seg) - seg_now()) / RING_SAMPLE_RATE,
            d->ctl.song.start ? "in progress" : "not started", d->ctl.song.start);
        restore_events(d);
    }
    d->tracks = tset_new(d->cfg.audio_dir, d->cfg.cache_dir);
    if (!d->tracks) {
        snprintf(why, whylen, "cannot set up the track list");
        goto err;
    }
    publish_tracks(d);
    publish_events(d);
    publish(d);
    /* The listing page exists from the start, so /recordings/ answers
     * before the first song is recorded. */
    if (d->cfg.recordings_dir)
        rec_listing_write(d->cfg.recordings_dir, d->cfg.keep, rec_log, NULL);
    else
        tl_set_rec_gate(d->seg, 0);   /* no recorder: no gate (one may be left in the segment) */
    d->last_house = 0;
    d->last_status = seg_now();
    return d;
err:
    dmn_destroy(d);
    return NULL;
}

void dmn_destroy(dmn_t *d)
{
    if (!d)
        return;
    if (d->seg) {
        if (d->rec) {
            /* Stopping mid-song: the file is complete up to here and the next
             * daemon appends to it. */
            rec_writer_destroy(d->rec);
            d->rec = NULL;
        }
        publish(d);
        seg_detach(d->seg);
    }
    tset_free(d->tracks);
    free((char *)d->cfg.segment);
    free((char *)d->cfg.audio_dir);
    free((char *)d->cfg.recordings_dir);
    free((char *)d->cfg.cache_dir);
    free(d->cmds);
    free(d->scratch);
    free(d->delays);
    free(d->spect);
    free(d->active_idx);
    free(d->views);
    free(d->mix_raw);
    free(d->mix_since);
    free(d->mix_gone);
    free(d->text);
    free(d);
}
