/*
 * meta.c - the X-Audio-Metadata writer (meta.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "jsonw.h"
#include "meta.h"
#include "ring.h"


struct mt {
    char meta[MT_META_CAP];
    char summary[SEG_BLOB_SUMMARY_MAX];
    size_t summary_len;
    uint64_t summary_gen;
    char events[SEG_BLOB_EVENTS_MAX];
    size_t events_len;
    uint64_t events_gen;
    char tracks[SEG_BLOB_TRACKS_MAX];
    size_t tracks_len;
    uint64_t tracks_gen;
    char levels[SEG_BLOB_LEVELS_MAX];
    size_t levels_len;
    uint64_t levels_gen;
    char cues[SEG_BLOB_CUES_MAX];
    size_t cues_len;
    uint64_t cues_gen;
    rmv_list_t removed_list;   /* copied when its generation moves */
    uint64_t removed_gen;
    char removed[RMV_JSON_MAX];
    size_t removed_len;
    char scratch[32];
};

mt_t *mt_create(void) { return calloc(1, sizeof(mt_t)); }

void mt_destroy(mt_t *mt) { free(mt); }

uint64_t mt_summary_gen(const mt_t *mt) { return mt->summary_gen; }
uint64_t mt_tracks_gen(const mt_t *mt) { return mt->tracks_gen; }
uint64_t mt_cues_gen(const mt_t *mt) { return mt->cues_gen; }

void mt_refresh(mt_t *mt, const seg_t *seg)
{
    snap_blob_read(seg, SEG_BLOB_SUMMARY, &mt->summary_gen, mt->summary, sizeof mt->summary,
                   &mt->summary_len);
    snap_blob_read(seg, SEG_BLOB_EVENTS, &mt->events_gen, mt->events, sizeof mt->events,
                   &mt->events_len);
    snap_blob_read(seg, SEG_BLOB_TRACKS, &mt->tracks_gen, mt->tracks, sizeof mt->tracks,
                   &mt->tracks_len);
    snap_blob_read(seg, SEG_BLOB_CUES, &mt->cues_gen, mt->cues, sizeof mt->cues, &mt->cues_len);
    snap_blob_read(seg, SEG_BLOB_LEVELS, &mt->levels_gen, mt->levels, sizeof mt->levels,
                   &mt->levels_len);
    if (rmv_read(seg, &mt->removed_gen, &mt->removed_list) || mt->removed_len == 0) {
        mt->removed_len = rmv_json(&mt->removed_list, mt->removed, sizeof mt->removed);
        if (mt->removed_len == 0) {
            memcpy(mt->removed, "[]", 3);
            mt->removed_len = 2;
        }
    }
    if (mt->levels_len == 0) {
        memcpy(mt->levels, "[]", 3);
        mt->levels_len = 2;
    }
    if (mt->summary_len == 0) {
        memcpy(mt->summary, "[]", 3);
        mt->summary_len = 2;
    }
    if (mt->events_len == 0) {
        memcpy(mt->events, "[]", 3);
        mt->events_len = 2;
    }
    if (mt->tracks_len == 0) {
        memcpy(mt->tracks, "[]", 3);
        mt->tracks_len = 2;
    }
}

const char *mt_error(mt_t *mt, const char *msg)
{
    jw_t w;
    jw_init(&w, mt->meta, MT_META_CAP);
    jw_obj_begin(&w);
    jw_key(&w, "kill_client");
    jw_bool(&w, true);
    jw_key(&w, "message");
    jw_str(&w, msg);
    jw_obj_end(&w);
    return mt->meta;
}

/* What one response delivers to the singer; committed to the singer's
 * entry only once the whole metadata was written. */
typedef struct {
    int64_t chat_cursor;
    bool tempo, tracks, delay, cues, apply;
} delivery_t;

/* The fields every response carries, success or fallback: the clocks, the
 * song, the leader and the singer's own public id. */
static void put_core(jw_t *w, const seg_t *seg, uint32_t worker, const rq_t *p, const sg_t *s,
                     const seg_ctl_t *ctl, int64_t now, int64_t prev_clock, char *scratch,
                     size_t scratch_cap)
{
    jw_key(w, "server_clock");
    jw_int(w, now);
    jw_key(w, "server_sample_rate");
    jw_int(w, RING_SAMPLE_RATE);
    jw_key(w, "last_request_clock");
    if (prev_clock >= 0)
        jw_int(w, prev_clock);
    else
        jw_null(w);
    jw_key(w, "client_read_clock");
    jw_int(w, p->read_clock);
    jw_key(w, "client_write_clock");
    if (p->has_write)
        jw_int(w, p->write_clock);
    else
        jw_null(w);
    jw_key(w, "n_samples");
    jw_int(w, p->n);
    jw_key(w, "queue_size");
    jw_raw(w, scratch, (size_t)snprintf(scratch, scratch_cap, "%u.0", seg_ring_len(seg) / RING_FRAME));
    jw_key(w, "leader");
    if (ctl->song.has_leader) {
        if (ctl->song.leader == p->userid)
            jw_uint_str(w, p->userid);       /* the leader recognises itself */
        else
            jw_uint_str(w, ctl->leader_public);
        jw_key(w, "leader_name");
        jw_str(w, ctl->leader_name);
    } else {
        jw_null(w);
    }
    if (ctl->song.start) {
        jw_key(w, "song_start_clock");
        jw_int(w, ctl->song.start);
    }
    if (ctl->song.end) {
        jw_key(w, "song_end_clock");
        jw_int(w, ctl->song.end);
    }
    if (ctl->song.start && ctl->song_track[0]) {
        jw_key(w, "song_track");
        jw_str(w, ctl->song_track);
    }
    if (ctl->song.start && ctl->song.metronome_on) {
        jw_key(w, "song_metronome");
        jw_int(w, ctl->song.bpm);
    }
    if (ctl->recording) {
        jw_key(w, "recording");
        jw_bool(w, true);
    }
    jw_key(w, "public_id");
    jw_uint_str(w, s->public_id);
    jw_key(w, "n_users");
    jw_int(w, ctl->n_active);
    jw_key(w, "worker");
    jw_int(w, worker);
}

/* {"offset_ms": N, "basis": "beat"}: a timing watch's offset. */
static void put_timing(jw_t *w, int32_t offset_ms, const char *basis)
{
    jw_obj_begin(w);
    jw_key(w, "offset_ms");
    jw_int(w, offset_ms);
    jw_key(w, "basis");
    jw_str(w, basis);
    jw_obj_end(w);
}

/* The settings and messages meant for this singer alone: the tempo, a
 * delay to move to, the track list, the words' cues, a timing offset to
 * apply. */
static void put_pending(jw_t *w, const mt_t *mt, const sg_t *s, const seg_ctl_t *ctl, delivery_t *d)
{
    if (s->tempo_pending) {
        jw_key(w, "bpm");
        if (ctl->song.bpm)
            jw_int(w, ctl->song.bpm);
        else
            jw_null(w);
        jw_key(w, "repeats");
        jw_int(w, ctl->song.repeats);
        jw_key(w, "bpr");
        if (ctl->song.bpr)
            jw_int(w, ctl->song.bpr);
        else
            jw_null(w);
        d->tempo = true;
    }
    if (s->pending_delay > 0) {
        jw_key(w, "delay_seconds");
        jw_int(w, s->pending_delay);
        d->delay = true;
    }
    if (s->tracks_pending) {
        jw_key(w, "tracks");
        jw_raw(w, mt->tracks, mt->tracks_len);
        d->tracks = true;
    }
    if (s->cues_pending && mt->cues_len) {
        jw_key(w, "words_cues");
        jw_raw(w, mt->cues, mt->cues_len);
        d->cues = true;
    }
    if (s->apply_ms) {
        jw_key(w, "timing_apply");
        put_timing(w, s->apply_ms, tw_basis_name((tw_basis_t)s->apply_basis));
        d->apply = true;
    }
}

/* Chats since the singer's cursor, except the singer's own, up to
 * MT_CHATS_OUT_MAX messages and MT_CHAT_BYTES bytes; what does not fit
 * waits for the next response. */
static void put_chats(jw_t *w, const seg_t *seg, const sg_t *s, delivery_t *d)
{
    jw_key(w, "chats");
    jw_arr_begin(w);
    size_t budget_end = w->len + MT_CHAT_BYTES;
    int64_t head = chat_head(seg);
    int64_t cursor = s->chat_cursor;
    if (head - cursor > SEG_CHAT_CAP)
        cursor = head - SEG_CHAT_CAP;
    uint32_t sent = 0;
    while (cursor < head && sent < MT_CHATS_OUT_MAX) {
        chat_msg_t m;
        if (chat_read(seg, cursor + 1, &m) != 0 || m.sender == s->public_id) {
            cursor++;
            continue;
        }
        if (w->len + jw_str_len(m.name, strlen(m.name)) + jw_str_len(m.text, strlen(m.text)) + 4 + 24 >
            budget_end)
            break;
        cursor++;
        /* [name, text] as the original client reads it, then the sender's
         * public id, so that a page can tell two people of one name apart. */
        jw_arr_begin(w);
        jw_str(w, m.name);
        jw_str(w, m.text);
        jw_uint_str(w, m.sender);
        jw_arr_end(w);
        sent++;
    }
    jw_arr_end(w);
    d->chat_cursor = cursor;
}

const char *mt_build(mt_t *mt, const seg_t *seg, uint32_t worker, const rq_t *p, sg_t *s,
                     const seg_ctl_t *ctl, int64_t now, int64_t prev_clock, bool send_summary,
                     const mt_extra_t *extra)
{
    delivery_t d = { .chat_cursor = s->chat_cursor };
    jw_t w;
    jw_init(&w, mt->meta, MT_META_CAP);
    jw_obj_begin(&w);
    put_core(&w, seg, worker, p, s, ctl, now, prev_clock, mt->scratch, sizeof mt->scratch);
    put_pending(&w, mt, s, ctl, &d);
    if (extra && extra->role) {
        jw_key(&w, "role");
        jw_str(&w, extra->role);
    }
    if (extra && extra->n_refused) {
        jw_key(&w, "refused");
        jw_arr_begin(&w);
        for (uint32_t i = 0; i < extra->n_refused; i++)
            jw_str(&w, extra->refused[i]);
        jw_arr_end(&w);
    }
    if (extra && extra->levels) {
        jw_key(&w, "levels");
        jw_raw(&w, mt->levels, mt->levels_len);
    }
    if (extra && extra->solo) {
        jw_key(&w, "solo");
        jw_arr_begin(&w);
        for (uint32_t i = 0; i < extra->solo->n && i < SEG_SOLO_MAX; i++)
            jw_uint_str(&w, extra->solo->ids[i]);
        jw_arr_end(&w);
    }
    if (extra && extra->removed) {
        jw_key(&w, "removed");
        jw_raw(&w, mt->removed, mt->removed_len);
    }
    if (extra && extra->timing_basis) {
        jw_key(&w, "timing");
        put_timing(&w, extra->timing_ms, extra->timing_basis);
    }
    if (extra && extra->timing_flags) {
        jw_key(&w, "timing_flags");
        jw_raw(&w, extra->timing_flags, extra->timing_flags_len);
    }
    if (send_summary) {
        jw_key(&w, "user_summary");
        jw_raw(&w, mt->summary, mt->summary_len);
        /* How many active users the summary leaves out (it keeps the
         * singers first); never rows the original client would read. */
        jw_key(&w, "user_summary_more");
        jw_int(&w, ctl->summary_more);
        jw_key(&w, "buckets");
        jw_arr_begin(&w);
        for (uint32_t i = 0; i < ctl->n_buckets && i < DELAY_DEPTH_MAX; i++)
            jw_int(&w, ctl->buckets[i]);
        jw_arr_end(&w);
    }
    jw_key(&w, "events");
    jw_raw(&w, mt->events, mt->events_len);
    put_chats(&w, seg, s, &d);
    jw_obj_end(&w);
    if (jw_ok(&w)) {
        s->chat_cursor = d.chat_cursor;
        if (d.tempo)
            s->tempo_pending = false;
        if (d.tracks)
            s->tracks_pending = false;
        if (d.cues)
            s->cues_pending = false;
        if (d.delay)
            s->pending_delay = -1;
        if (d.apply)
            s->apply_ms = 0;
        return mt->meta;
    }
    /* MT_META_CAP holds the largest metadata by construction (meta.h); if
     * that ever broke, the singer still gets every field it needs to keep
     * its place in the song, and what was pending stays pending. */
    jw_init(&w, mt->meta, MT_META_CAP);
    jw_obj_begin(&w);
    put_core(&w, seg, worker, p, s, ctl, now, prev_clock, mt->scratch, sizeof mt->scratch);
    jw_key(&w, "events");
    jw_raw(&w, "[]", 2);
    jw_key(&w, "chats");
    jw_raw(&w, "[]", 2);
    jw_obj_end(&w);
    return mt->meta;
}
