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

#define MT_CHATS_OUT_MAX 32          /* chats delivered per response */

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
    char scratch[32];
};

mt_t *mt_create(void) { return calloc(1, sizeof(mt_t)); }

void mt_destroy(mt_t *mt) { free(mt); }

uint64_t mt_summary_gen(const mt_t *mt) { return mt->summary_gen; }
uint64_t mt_tracks_gen(const mt_t *mt) { return mt->tracks_gen; }

void mt_refresh(mt_t *mt, const seg_t *seg)
{
    snap_blob_read(seg, SEG_BLOB_SUMMARY, &mt->summary_gen, mt->summary, sizeof mt->summary,
                   &mt->summary_len);
    snap_blob_read(seg, SEG_BLOB_EVENTS, &mt->events_gen, mt->events, sizeof mt->events,
                   &mt->events_len);
    snap_blob_read(seg, SEG_BLOB_TRACKS, &mt->tracks_gen, mt->tracks, sizeof mt->tracks,
                   &mt->tracks_len);
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

const char *mt_build(mt_t *mt, const seg_t *seg, uint32_t worker, const rq_t *p, sg_t *s,
                     const seg_ctl_t *ctl, int64_t now, int64_t prev_clock, bool send_summary)
{
    jw_t w;
    jw_init(&w, mt->meta, MT_META_CAP);
    jw_obj_begin(&w);
    jw_key(&w, "server_clock");
    jw_int(&w, now);
    jw_key(&w, "server_sample_rate");
    jw_int(&w, RING_SAMPLE_RATE);
    jw_key(&w, "last_request_clock");
    if (prev_clock >= 0)
        jw_int(&w, prev_clock);
    else
        jw_null(&w);
    jw_key(&w, "client_read_clock");
    jw_int(&w, p->read_clock);
    jw_key(&w, "client_write_clock");
    if (p->has_write)
        jw_int(&w, p->write_clock);
    else
        jw_null(&w);
    jw_key(&w, "n_samples");
    jw_int(&w, p->n);
    if (send_summary) {
        jw_key(&w, "user_summary");
        jw_raw(&w, mt->summary, mt->summary_len);
        jw_key(&w, "buckets");
        jw_arr_begin(&w);
        for (uint32_t i = 0; i < ctl->n_buckets && i < DELAY_DEPTH_MAX; i++)
            jw_int(&w, ctl->buckets[i]);
        jw_arr_end(&w);
    }
    jw_key(&w, "queue_size");
    jw_raw(&w, mt->scratch, (size_t)snprintf(mt->scratch, sizeof mt->scratch, "%u.0",
                                              seg_ring_len(seg) / RING_FRAME));
    jw_key(&w, "events");
    jw_raw(&w, mt->events, mt->events_len);
    jw_key(&w, "leader");
    if (ctl->song.has_leader) {
        if (ctl->song.leader == p->userid)
            jw_uint_str(&w, p->userid);       /* the leader recognises itself */
        else
            jw_uint_str(&w, ctl->leader_public);
        jw_key(&w, "leader_name");
        jw_str(&w, ctl->leader_name);
    } else {
        jw_null(&w);
    }
    if (ctl->song.start) {
        jw_key(&w, "song_start_clock");
        jw_int(&w, ctl->song.start);
    }
    if (ctl->song.end) {
        jw_key(&w, "song_end_clock");
        jw_int(&w, ctl->song.end);
    }
    jw_key(&w, "public_id");
    jw_uint_str(&w, s->public_id);
    jw_key(&w, "n_users");
    jw_int(&w, ctl->n_active);
    jw_key(&w, "worker");
    jw_int(&w, worker);

    /* Chats since the last delivery, except the singer's own. */
    jw_key(&w, "chats");
    jw_arr_begin(&w);
    int64_t head = chat_head(seg);
    if (head - s->chat_cursor > SEG_CHAT_CAP)
        s->chat_cursor = head - SEG_CHAT_CAP;
    uint32_t sent = 0;
    while (s->chat_cursor < head && sent < MT_CHATS_OUT_MAX) {
        chat_msg_t m;
        s->chat_cursor++;
        if (chat_read(seg, s->chat_cursor, &m) != 0 || m.sender == s->public_id)
            continue;
        jw_arr_begin(&w);
        jw_str(&w, m.name);
        jw_str(&w, m.text);
        jw_arr_end(&w);
        sent++;
    }
    jw_arr_end(&w);

    if (s->tempo_pending) {
        jw_key(&w, "bpm");
        if (ctl->song.bpm)
            jw_int(&w, ctl->song.bpm);
        else
            jw_null(&w);
        jw_key(&w, "repeats");
        jw_int(&w, ctl->song.repeats);
        jw_key(&w, "bpr");
        if (ctl->song.bpr)
            jw_int(&w, ctl->song.bpr);
        else
            jw_null(&w);
        s->tempo_pending = false;
    }
    if (s->tracks_pending) {
        jw_key(&w, "tracks");
        jw_raw(&w, mt->tracks, mt->tracks_len);
        s->tracks_pending = false;
    }
    if (s->pending_delay > 0) {
        jw_key(&w, "delay_seconds");
        jw_int(&w, s->pending_delay);
        s->pending_delay = -1;
    }
    jw_obj_end(&w);
    if (!jw_ok(&w)) {
        /* Cannot happen with the blob bounds; keep the client alive with the
         * fields it needs rather than send broken JSON. */
        jw_init(&w, mt->meta, MT_META_CAP);
        jw_obj_begin(&w);
        jw_key(&w, "server_clock");
        jw_int(&w, now);
        jw_key(&w, "client_read_clock");
        jw_int(&w, p->read_clock);
        jw_key(&w, "n_samples");
        jw_int(&w, p->n);
        jw_key(&w, "events");
        jw_raw(&w, "[]", 2);
        jw_key(&w, "chats");
        jw_raw(&w, "[]", 2);
        jw_obj_end(&w);
    }
    return mt->meta;
}
