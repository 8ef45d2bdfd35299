/*
 * roomrec.c - a room's recording: the mix written behind the clock, once
 * every voice still singing is in it (timeline.h, "The recorder's gate").
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "room_impl.h"
#include "timeline.h"

/* ---- recording ---------------------------------------------------------- */

void rm_rec_log(void *user, const char *line)
{
    rm_t *r = user;
    LOG(r, "recordings: %s", line);
}

/* Closes the recording in progress and writes its Audacity project with
 * how it ended: `why`, unless everything up to the song's end is in the
 * file, which is a song that ended however the closing came. */
void rm_rec_close(rm_t *r, rec_end_t why)
{
    if (!r->rec)
        return;
    const song_t *s = &r->ctl.song;
    int64_t end = rec_writer_get_end_clock(r->rec);
    if (s->start == r->rec_song && s->end && end >= s->end)
        why = REC_END_SONG;
    LOG(r, "recording %s closed (%s): %.1f s; waited up to %.1f s for late voices",
        rec_writer_get_file_name(r->rec), rec_end_text(why),
        (double)rec_writer_get_frames(r->rec) / RING_SAMPLE_RATE,
        (double)r->rec_held / RING_SAMPLE_RATE);
    rec_writer_destroy(r->rec);
    r->rec = NULL;
    rec_lof_write(r->cfg.recordings_dir, r->rec_song, why, end, rm_rec_log, r);
    rm_words_labels(r);
    r->ctl.recorded_song = r->rec_song;
    r->ctl_dirty = true;
}

void rm_rec_stop(rm_t *r, rec_end_t why)
{
    if (r->rec) {
        rm_rec_close(r, why);
        return;
    }
    const song_t *s = &r->ctl.song;
    if (!r->cfg.recordings_dir || !s->start || s->start == r->ctl.recorded_song)
        return;
    /* Its window never opened: no mix, and none now; what the singers'
     * stems hold so far gets its project. */
    rec_lof_write(r->cfg.recordings_dir, s->start, why, 0, rm_rec_log, r);
    r->ctl.recorded_song = s->start;
    r->ctl_dirty = true;
    LOG(r, "recording of the song at %" PRId64 " will not start (%s)", s->start, rec_end_text(why));
}

int64_t rm_recording_song(const rm_t *r)
{
    if (r->rec)
        return r->rec_song;
    const song_t *s = &r->ctl.song;
    return r->cfg.recordings_dir && s->start && s->start != r->ctl.recorded_song ? s->start : 0;
}

/* How far the recording may go: `end`, or less while a singer still
 * singing has not put its voice into the mix up to there.  Called once to
 * choose where to move the gate (D1 of timeline.h), then, with `end` at or
 * below the gate, as D2.  A singer whose progress is below the gate and
 * who is not mid-upload is not waited for: whatever it sends below the
 * gate is refused.  One that has not moved for RM_REC_WAIT is given up
 * (logged once); nothing is waited for below `deadline`, where the ring is
 * about to lose the audio. */
static int64_t rec_settled(rm_t *r, int64_t now, int64_t end, int64_t deadline)
{
    uint32_t cap = seg_user_cap(r->seg);
    int64_t gate = tl_rec_gate(r->seg);
    int64_t lim = end;
    if (!r->mix_ready) {
        /* After a (re)start, everyone is waited for RM_REC_WAIT from now. */
        for (uint32_t i = 0; i < cap; i++) {
            bool busy;
            users_mix_progress(r->seg, i, &busy, &r->mix_raw[i]);
            r->mix_since[i] = now;
            r->mix_gone[i] = false;
        }
        r->mix_ready = true;
    }
    for (uint32_t i = 0; i < cap; i++) {
        bool busy;
        int64_t raw;
        int64_t v = users_mix_progress(r->seg, i, &busy, &raw);
        if (raw != r->mix_raw[i]) {
            r->mix_raw[i] = raw;
            r->mix_since[i] = now;
            r->mix_gone[i] = false;
        }
        if (v == 0 || v >= end || (!busy && v < gate))
            continue;
        if (now - r->mix_since[i] > RM_REC_WAIT) {
            if (!r->mix_gone[i]) {
                users_view_t uv;
                LOG(r, "recording: not waiting any longer for user %" PRIu64 ": its voice is in the "
                    "mix up to %.1f s before the recorder's clock, and has not moved for %.0f s",
                    users_read(r->seg, i, &uv) ? uv.public_id : 0,
                    (double)(end - v) / RING_SAMPLE_RATE, (double)RM_REC_WAIT / RING_SAMPLE_RATE);
                r->mix_gone[i] = true;
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
void rm_record(rm_t *r, int64_t now)
{
    const song_t *s = &r->ctl.song;
    if (!r->cfg.recordings_dir)
        return;
    int64_t lag = (int64_t)(s->max_position + RM_REC_LAG_EXTRA) * RING_SAMPLE_RATE;
    if (!r->rec) {
        if (!s->start || s->start == r->ctl.recorded_song)
            return;
        /* Before its window opens nothing of this song is recorded, by
         * this daemon or an earlier one: a gate left by the song before
         * must not keep this one's voices out. */
        if (now < s->start + lag) {
            if (tl_rec_gate(r->seg) > s->start)
                tl_set_rec_gate(r->seg, s->start);
            return;
        }
        int err = 0;
        /* Creating appends to the file if a previous daemon started it. */
        r->rec = rec_writer_create(r->cfg.recordings_dir, s->start, NULL, s->start, rm_rec_log, r,
                                   &err);
        if (!r->rec) {
            LOG(r, "recording of the song at %" PRId64 " cannot start: %s", s->start, rec_strerror(err));
            r->ctl.recorded_song = s->start;  /* do not retry every tick */
            r->ctl_dirty = true;
            return;
        }
        r->rec_song = s->start;
        r->rec_held = 0;
        /* The gate starts where the file ends: the voices are added from
         * there on, whatever a daemon before this one published. */
        tl_set_rec_gate(r->seg, rec_writer_get_end_clock(r->rec));
        LOG(r, "recording %s%s", rec_writer_get_file_name(r->rec),
            rec_writer_get_resumed(r->rec) ? " (resumed)" : "");
    }
    int64_t begin = rec_writer_get_end_clock(r->rec);
    int64_t end = now - lag;
    bool closing = false;
    if (s->start != r->rec_song) {
        rm_rec_close(r, REC_END_NEW_SONG);
        return;
    }
    if (s->end && s->end <= end) {
        end = s->end;
        closing = true;
    }
    /* What the ring no longer holds is left as silence by the writer. */
    int64_t oldest = tl_watermark(r->seg) - seg_ring_len(r->seg) + TL_MARGIN;
    if (begin < oldest)
        begin = oldest;
    /* Wait for the late voices: an estimate, the gate moved to it (D1),
     * then what may be read (D2), timeline.h's "The recorder's gate". */
    int64_t want = end, deadline = oldest + TL_MARGIN;
    end = rec_settled(r, now, end, deadline);
    if (end > tl_rec_gate(r->seg))
        tl_set_rec_gate(r->seg, end);
    end = rec_settled(r, now, end, deadline);
    if (end < want) {
        closing = false;
        if (want - end > r->rec_held)
            r->rec_held = want - end;
    }
    if (end - begin > RM_REC_PER_TICK) {
        end = begin + RM_REC_PER_TICK;
        closing = false;
    }
    while (begin < end) {
        uint32_t n = (uint32_t)(end - begin < RM_CHUNK ? end - begin : RM_CHUNK);
        tl_read(r->seg, begin, n, r->ctl.global_gain, r->buf, NULL);
        int rc = rec_writer_write(r->rec, begin, r->buf, n);
        if (rc == REC_ERR_FULL) {
            rm_rec_close(r, REC_END_LENGTH);
            return;
        }
        if (rc != REC_OK) {
            LOG(r, "recording write failed: %s", rec_strerror(rc));
            rm_rec_close(r, REC_END_FAILED);
            return;
        }
        begin += n;
    }
    if (closing)
        rm_rec_close(r, REC_END_SONG);
}

