/*
 * voice.c - storing a singer's upload (voice.h).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gain.h"
#include "media/recdir.h"
#include "media/stem.h"
#include "ring.h"
#include "tempo.h"
#include "timeline.h"
#include "users.h"
#include "voice.h"

struct vc {
    seg_t *seg;
    uint32_t worker;
    char *rec_dir;          /* stems go here; NULL: no stems */
    uint64_t refused;
    uint64_t stems_capped;
    int64_t capped_song;    /* the last song whose stem cap was logged */
    stem_packet_t stem_pk[SG_PREROLL_PACKETS + PK_MAX_PACKETS];
};

#define LOG(v, fmt, ...) fprintf(stderr, "bb-worker[%u]: " fmt "\n", (v)->worker, ##__VA_ARGS__)

vc_t *vc_create(seg_t *seg, uint32_t worker, const char *rec_dir)
{
    vc_t *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    if (rec_dir && !(v->rec_dir = strdup(rec_dir))) {
        free(v);
        return NULL;
    }
    v->seg = seg;
    v->worker = worker;
    return v;
}

void vc_destroy(vc_t *v)
{
    if (!v)
        return;
    free(v->rec_dir);
    free(v);
}

uint64_t vc_refused(const vc_t *v) { return v->refused; }
uint64_t vc_stems_capped(const vc_t *v) { return v->stems_capped; }
static void stem_log(void *user, const char *line)
{
    vc_t *v = user;
    LOG(v, "stems: %s", line);
}

/* Adds an upload to the singer's stem of the current song: the Opus
 * packets as the singer sent them, placed at their clocks (media/stem.h),
 * from `origin` on (the first clock this upload put into the mix, or the
 * song's start).  A new stem starts with the singer's previous upload as
 * pre-roll when it ends where this one begins, so that a player's decoder
 * comes to the first sample in the state the worker's decoder was in. */
/* True if the song has its REC_STEMS_MAX stems and none of them is this
 * one's (a worker restarted mid-song continues its singers' stems). */
static bool stems_full(vc_t *v, const song_t *song, const char *id)
{
    if (rec_stem_count(v->rec_dir, song->start) < REC_STEMS_MAX)
        return false;
    char name[REC_FILE_NAME_MAX], path[4096];
    struct stat st;
    return rec_file_name(name, sizeof name, song->start, id, 1, "opus") != REC_OK
           || snprintf(path, sizeof path, "%s/%s", v->rec_dir, name) >= (int)sizeof path
           || stat(path, &st) != 0;
}

static void stem_add(vc_t *v, sg_t *s, const rq_t *p, const seg_ctl_t *ctl, int64_t origin,
                     int64_t now)
{
    const song_t *song = &ctl->song;
    if (s->stem && s->stem_song != song->start)
        sg_close_stem(s);
    if (ctl->recorded_song == song->start) {
        /* The daemon closed this song's recording: its stems end too. */
        if (s->stem)
            sg_close_stem(s);
        s->stem_song = song->start;
        return;
    }
    if (origin < song->start)
        origin = song->start;
    if (!s->stem && s->stem_song == song->start)
        return;   /* it could not start for this song: logged once */
    int64_t clock = p->write_clock - p->n;
    uint32_t n = 0;
    if (!s->stem) {
        /* Named after the singer (its ASCII letters; the whole name is in
         * the file's ARTIST tag), unique by the public id's last digits. */
        char id[REC_STEM_ID_MAX + 1], ascii[16];
        int err = 0;
        size_t k = 0;
        for (const char *c = s->name; *c && k < sizeof ascii - 1; c++)
            ascii[k++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
                             ? *c : '_';
        ascii[k] = '\0';
        snprintf(id, sizeof id, "%s%s%06" PRIu64, ascii, k ? "_" : "", s->public_id % 1000000);
        if (stems_full(v, song, id)) {
            s->stem_song = song->start;   /* asked once per song */
            v->stems_capped++;
            if (v->capped_song != song->start) {
                v->capped_song = song->start;
                LOG(v, "stems: the song at %" PRId64 " has its %d singers' stems: singer %" PRIu64
                    " and any later ones sing into the mix without a stem", song->start, REC_STEMS_MAX,
                    s->public_id);
            }
            return;
        }
        /* The worker's one thread must not wait on the disk: stems are not
         * fsynced (a worker crash loses nothing of them; the mix, written
         * by the daemon, is). */
        s->stem = stem_create(v->rec_dir, song->start, id, origin, REC_NO_SYNC, stem_log, v,
                              &err);
        s->stem_song = song->start;
        if (!s->stem) {
            LOG(v, "stem of singer %" PRIu64 " cannot start: %s", s->public_id, rec_strerror(err));
            return;
        }
        stem_set_singer(s->stem, s->name);
        if (s->pre_n && s->pre_end == clock) {
            uint32_t off = 0;
            for (uint32_t i = 0; i < s->pre_n; i++) {
                v->stem_pk[n++] = (stem_packet_t){ s->pre + off, s->pre_len[i], RING_OPUS_FRAME };
                off += s->pre_len[i];
            }
            clock -= (int64_t)s->pre_n * RING_OPUS_FRAME;
        }
    }
    for (int i = 0; i < p->npk; i++)
        v->stem_pk[n++] = (stem_packet_t){ p->pk[i].data, p->pk[i].len, RING_OPUS_FRAME };
    if (stem_write(s->stem, clock, v->stem_pk, n) != REC_OK)
        sg_close_stem(s);
    else
        s->stem_last = now;
}

/* Keeps the last packets of an upload as the pre-roll of a stem that may
 * start with the next one. */
static void keep_preroll(sg_t *s, const rq_t *p)
{
    s->pre_n = 0;
    if (p->npk == 0)
        return;
    int first = p->npk > SG_PREROLL_PACKETS ? p->npk - SG_PREROLL_PACKETS : 0;
    uint32_t bytes = 0;
    for (int i = first; i < p->npk; i++)
        bytes += p->pk[i].len;
    if (bytes > s->pre_cap) {
        uint8_t *b = realloc(s->pre, bytes);
        if (!b)
            return;
        s->pre = b;
        s->pre_cap = bytes;
    }
    uint32_t off = 0;
    for (int i = first; i < p->npk; i++) {
        memcpy(s->pre + off, p->pk[i].data, p->pk[i].len);
        s->pre_len[s->pre_n++] = p->pk[i].len;
        off += p->pk[i].len;
    }
    s->pre_end = p->write_clock;
}

static float rms_of(const float *x, uint32_t n)
{
    /* Eight independent float sums (one vector's worth), so that the loop
     * runs at the adder's throughput rather than its latency; each sums at
     * most 1/8 of a batch, well within float precision for a level. */
    float a[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += x[i + k] * x[i + k];
    double sum = 0;
    for (int k = 0; k < 8; k++)
        sum += a[k];
    for (; i < n; i++)
        sum += (double)x[i] * x[i];
    return n ? (float)sqrt(sum / n) : 0.0f;
}

/* Writes x[from, to) of an upload whose sample 0 is at clock `at` into
 * the mix (monitor: the monitor ring), frame by frame as rest[] says: a
 * rest's frames counted without samples (none into the monitor ring), the
 * others added.  The whole range is checked first, so that it goes in
 * whole or not at all.  Returns TL_OK or the check's error. */
static int put(seg_t *seg, int64_t at, const float *x, uint32_t from, uint32_t to,
               const bool *rest, bool monitor, int64_t now)
{
    int rc = tl_check_write(seg, at + from, to - from, now);
    if (rc || !rest)
        return rc ? rc : monitor ? tl_write_monitor(seg, at + from, x + from, to - from, now)
                                 : tl_write(seg, at + from, x + from, to - from, now);
    while (from < to) {
        /* A run of frames alike, from `from` to the end of the last one. */
        uint32_t f = from / RING_OPUS_FRAME;
        bool r = rest[f];
        uint32_t end = from;
        while (end < to && rest[end / RING_OPUS_FRAME] == r)
            end = (end / RING_OPUS_FRAME + 1) * RING_OPUS_FRAME;
        if (end > to)
            end = to;
        if (!r)
            rc = monitor ? tl_write_monitor(seg, at + from, x + from, end - from, now)
                         : tl_write(seg, at + from, x + from, end - from, now);
        else if (!monitor)
            rc = tl_write_rest(seg, at + from, end - from, now);
        if (rc)
            return rc;
        from = end;
    }
    return TL_OK;
}

/* An upload of s that reaches neither the mix nor the stem (too late for
 * the timeline or the recorder, or no place yet): counted, and the
 * console shows the singer late for a while (link.h). */
static void refuse(vc_t *v, sg_t *s, int64_t now)
{
    v->refused++;
    lk_refused(&s->link, now);
}

/* True if selection `so` names the singer with public id `id`. */
static bool soloed(const seg_solo_t *so, uint64_t id)
{
    for (uint32_t i = 0; i < so->n && i < SEG_SOLO_MAX; i++)
        if (so->ids[i] == id)
            return true;
    return false;
}

/* Adds [pos, pos + n) of x into solo ring k, the part from `since` on
 * (before it the ring's listener hears the mix, output.c). */
static void solo_write(seg_t *seg, uint32_t k, int64_t since, int64_t pos, const float *x,
                       uint32_t n, int64_t now)
{
    uint32_t skip = since <= pos ? 0 : since >= pos + n ? n : (uint32_t)(since - pos);
    if (skip < n)
        tl_write_solo(seg, k, pos + skip, x + skip, n - skip, now);
}

/* Stores an upload (PROTOCOL.md 7, step 23), unless the singer is muted:
 * into the mix during a song,
 * the monitor ring if the singer is monitored, the rounds' copies, the
 * solo rings of the listeners who hear this singer alone, and the
 * singer's stem.  A singer's voice is never counted twice at one clock:
 * after a reconnect the new connection's first upload may reach back over
 * clocks the old one already wrote (the new read position is rounded down
 * to a frame, or the singer moved back a bucket), and only the part after
 * the last write is stored, as the stem keeps its first take.  Returns
 * true if the voice went into the mix. */
static bool store(vc_t *v, sg_t *s, const rq_t *p, float *in, const bool *rest,
                  const seg_ctl_t *ctl, int64_t slot, uint32_t flags, int64_t now)
{
    int64_t prev_end = s->last_write_clock;
    /* The song end passed: go to the back, except the one who led it (they
     * stay in the leader's bucket for the next song). */
    if (s->have_write && prev_end && ctl->song.end && prev_end <= ctl->song.end &&
        ctl->song.end <= p->write_clock && s->led_song != ctl->song.start)
        s->pending_delay = ctl->song.max_position;
    s->last_seen_write = p->write_clock;
    s->have_write = true;
    if (p->write_clock > s->last_write_clock)
        s->last_write_clock = p->write_clock;
    float mic = slot >= 0 ? users_mic_volume(v->seg, (uint32_t)slot) : 1.0f;
    /* Muted (by the singer, for lag, while monitoring, or a mic volume of 0
     * from the leader), or listening only: out of the mix, the stem and the
     * count, so that the others' level is what it is without this singer.
     * A singer who is not muted but silent still counts. */
    if (p->muted || p->spectator || (flags & SEG_UF_MONITORING) || gain_mic_mutes(mic)) {
        if (slot >= 0)
            users_set_write(v->seg, (uint32_t)slot, s->last_write_clock, 0.0f);
        return false;
    }
    /* An upload that is all rest is all zeros: nothing to scale or measure. */
    bool all_rest = rest && p->npk > 0;
    for (int i = 0; all_rest && i < p->npk; i++)
        all_rest = rest[i];
    if (mic != 1.0f && !all_rest) {
        float g = (float)gain_mic(mic);
        for (uint32_t i = 0; i < p->n; i++)
            in[i] *= g;
    }
    float rms = all_rest ? 0.0f : rms_of(in, p->n);
    if (slot >= 0)
        users_set_write(v->seg, (uint32_t)slot, s->last_write_clock, rms);
    if (p->npk == 0 || !song_upload_active(&ctl->song, p->write_clock, p->n))
        return false;
    int64_t pos = p->write_clock - p->n;
    uint32_t skip = 0;
    if (prev_end > pos)
        skip = prev_end >= p->write_clock ? p->n : (uint32_t)(prev_end - pos);
    if (skip == p->n)
        return false;
    /* The recorder's gate (timeline.h): claim the clocks, then see whether
     * the recorder has passed them; a voice it gave up on stays out of the
     * mix and the stem alike.  A singer not yet in the user table cannot
     * claim, and sings into nothing until the daemon has made its place. */
    if (slot < 0) {
        refuse(v, s, now);
        return false;
    }
    users_mix_claim(v->seg, (uint32_t)slot, pos + skip);
    if (pos + skip < tl_rec_gate(v->seg)) {
        refuse(v, s, now);
        return false;
    }
    int64_t at = pos;   /* the clock of in[0] */
    pos += skip;
    const float *x = in + skip;   /* rests' frames are zeros (rest.h) */
    uint32_t n = p->n - skip;
    if (put(v->seg, at, in, skip, p->n, rest, false, now) != TL_OK) {
        refuse(v, s, now);
        return false;
    }
    if (v->rec_dir)
        stem_add(v, s, p, ctl, pos, now);
    if (flags & SEG_UF_MONITORED)
        put(v->seg, at, in, skip, p->n, rest, true, now);
    int64_t copies[TEMPO_REPEATS_MAX];
    uint32_t nc = tempo_round_copies(pos, n, ctl->song.bpm, ctl->song.bpr, ctl->song.repeats, now,
                                     copies, TEMPO_REPEATS_MAX);
    for (uint32_t i = 0; i < nc; i++)
        if (put(v->seg, copies[i] - skip, in, skip, p->n, rest, false, now) != TL_OK)
            v->refused++;
    for (uint32_t k = 0; k < SEG_SOLO_RINGS; k++)
        if (soloed(&ctl->solo[k], s->public_id)) {
            solo_write(v->seg, k, ctl->solo[k].since, pos, x, n, now);
            for (uint32_t i = 0; i < nc; i++)
                solo_write(v->seg, k, ctl->solo[k].since, copies[i], x, n, now);
        }
    return true;
}

bool vc_store(vc_t *v, sg_t *s, const rq_t *rq, float *in, const bool *rest, const seg_ctl_t *ctl,
              int64_t slot, uint32_t flags, int64_t now)
{
    bool mixed = store(v, s, rq, in, rest, ctl, slot, flags, now);
    /* However the upload went (mixed, muted, refused), the singer's voice
     * is now in the mix as far as it will be below this clock. */
    if (slot >= 0)
        users_mix_done(v->seg, (uint32_t)slot, s->last_write_clock);
    /* An upload that went into no stem may be the pre-roll of the next
     * song's (a stem of the last song stays open a while). */
    if (v->rec_dir && !(s->stem && s->stem_last == now))
        keep_preroll(s, rq);
    return mixed;
}
