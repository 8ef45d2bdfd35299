/*
 * output.c - rendering and encoding what a singer hears (output.h).
 */
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "packet.h"
#include "prof.h"
#include "ring.h"
#include "song.h"
#include "timeline.h"
#include "timing.h"

#define FRAME_STEPS (RING_OPUS_FRAME / TW_HOP)

/* How many frames back a newcomer looks for a chain to carry forward: a
 * batch and a half (everyone in a bucket reads within one batch). */
#define JOIN_BACK 16

struct out {
    seg_t *seg;
    es_t *es;
    fr_t *fr;
    sg_table_t *singers;
    out_counters_t c;
    int private_complexity;    /* of streams no one can share, or auto */
    float x[RQ_MAX_SAMPLES];   /* the private path's rendering */
    int32_t n[RQ_MAX_SAMPLES]; /* its contributions per sample (auto) */
};

out_t *out_create(seg_t *seg, es_t *es, fr_t *fr, sg_table_t *t)
{
    out_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->seg = seg;
    o->es = es;
    o->fr = fr;
    o->singers = t;
    o->private_complexity = OUT_PRIVATE_COMPLEXITY;
    return o;
}

void out_destroy(out_t *o) { free(o); }

void out_set_private_complexity(out_t *o, int complexity)
{
    o->private_complexity = complexity == OUT_COMPLEXITY_AUTO ? OUT_COMPLEXITY_AUTO
                            : complexity < 0                  ? 0
                            : complexity > 10                 ? 10
                                                              : complexity;
}

bool out_shareable(const rq_t *rq, uint32_t flags)
{
    return rq->read_clock % RING_OPUS_FRAME == 0 && !rq->loopback && !(flags & SEG_UF_MONITORING);
}

const out_counters_t *out_counters(const out_t *o) { return &o->c; }

const float *out_rendered(const out_t *o) { return o->x; }

/* The singer's private encoder, set to `complexity` for the frames at
 * hand; counts a shared state that was lost. */
static OpusEncoder *private_encoder(out_t *o, sg_t *s, int complexity)
{
    bool lost;
    OpusEncoder *enc = sg_encoder(o->singers, s, &lost);
    if (lost)
        o->c.stream_lost++;
    if (enc)
        opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(complexity));
    return enc;
}

/* A newcomer (a fresh decoder) starting at frame f0: if a chain of this
 * bucket has got to a frame shortly before f0, carry it forward to f0 and
 * put the newcomer on it (encshare.h, "Joining").  The frames encoded on
 * the way are the ones the chain's singers ask for next. */
static void join_chain(out_t *o, sg_t *s, const seg_ctl_t *ctl, int64_t f0, bool active,
                       int64_t now)
{
    uint64_t cid;
    fr_get(o->fr, o->seg, f0, ctl->global_gain, active, &cid);
    if (es_node_after(o->es, f0, cid) != ES_ROOT)
        return;   /* es_frame() joins at f0 itself */
    for (int k = 1; k <= JOIN_BACK; k++) {
        fr_get(o->fr, o->seg, f0 - k, ctl->global_gain, active, &cid);
        uint64_t node = es_node_after(o->es, f0 - k, cid);
        if (node == ES_ROOT)
            continue;
        es_pin(o->es, node);
        uint8_t pkt[ES_PACKET_MAX];
        for (int64_t f = f0 - k + 1; f < f0; f++) {
            const float *x = fr_get(o->fr, o->seg, f, ctl->global_gain, active, &cid);
            if (es_frame(o->es, &node, f, cid, x, pkt, sizeof pkt, now) < 0) {
                es_unpin(o->es, node);
                return;   /* the chain's state is gone: start a chain of its own */
            }
        }
        s->node = node;
        o->c.chain_joins++;
        return;
    }
}

int out_shared(out_t *o, sg_t *s, const rq_t *rq, const seg_ctl_t *ctl, int64_t now,
               uint8_t *body, size_t *len, int64_t *mix_ns, float *power)
{
    bool active = song_read_active(&ctl->song, rq->read_clock, rq->n);
    int64_t f0 = (rq->read_clock - rq->n) / RING_OPUS_FRAME;
    uint32_t frames = rq->n / RING_OPUS_FRAME;
    size_t at = 1;
    *mix_ns = 0;
    body[0] = (uint8_t)frames;
    if (s->node == ES_ROOT && !s->priv)
        join_chain(o, s, ctl, f0, active, now);
    for (uint32_t i = 0; i < frames; i++) {
        int64_t ta = prof_now_ns();
        uint64_t cid;
        const float *x = fr_get(o->fr, o->seg, f0 + i, ctl->global_gain, active, &cid);
        if (power)
            memcpy(power + (size_t)i * FRAME_STEPS, fr_power(o->fr), FRAME_STEPS * sizeof(float));
        *mix_ns += prof_now_ns() - ta;
        int k = s->priv ? ES_ELOST
                        : es_frame(o->es, &s->node, f0 + i, cid, x, body + at + 2, PK_MAX_PACKET, now);
        if (k == ES_ELOST) {
            /* The state this singer's decoder follows is gone (the cache
             * was full of others' pinned states): go on privately. */
            OpusEncoder *enc = private_encoder(o, s, ES_COMPLEXITY);
            k = enc ? opus_encode_float(enc, x, RING_OPUS_FRAME, body + at + 2, PK_MAX_PACKET)
                    : OPUS_ALLOC_FAIL;
            o->c.private_frames++;
        }
        if (k < 0)
            return k;
        pk_put_len(body + at, (uint16_t)k);
        at += 2 + (size_t)k;
    }
    /* Another worker may be ahead on this chain: keep the state to carry
     * it on from, while the bank surely has it. */
    if (!s->priv)
        es_hold_state(o->es, s->node);
    es_expire(o->es, now);
    *len = at;
    return 0;
}

int out_solo_ring(const seg_ctl_t *ctl, uint64_t userid)
{
    for (int k = 0; k < SEG_SOLO_RINGS; k++)
        if (userid && ctl->solo[k].listener == userid && ctl->solo[k].n > 0)
            return k;
    return -1;
}

/* Renders [rpos, rpos + n) of solo ring k into o->x: the mix before the
 * selection's `since` (the ring does not hold those clocks yet), the
 * ring from there on. */
static void read_solo(out_t *o, const seg_ctl_t *ctl, int k, int64_t rpos, uint32_t n)
{
    int64_t since = ctl->solo[k].since;
    uint32_t before = since <= rpos ? 0 : since >= rpos + n ? n : (uint32_t)(since - rpos);
    if (before)
        tl_read(o->seg, rpos, before, ctl->global_gain, o->x, NULL);
    if (before < n)
        tl_read_solo(o->seg, (uint32_t)k, rpos + before, n - before, ctl->global_gain, o->x + before);
}

int out_private(out_t *o, sg_t *s, const rq_t *rq, const float *in, const seg_ctl_t *ctl,
                uint32_t flags, int solo_ring, uint8_t *body, size_t *len, int64_t *mix_ns)
{
    int64_t t0 = prof_now_ns();
    int64_t rpos = rq->read_clock - rq->n;
    int complexity = out_shareable(rq, flags) && solo_ring < 0 ? ES_COMPLEXITY : o->private_complexity;
    bool counted = false;   /* o->n holds the contributions of o->x */
    if (rq->loopback && in) {
        memcpy(o->x, in, (size_t)rq->n * sizeof(float));
    } else if (rq->loopback) {
        memset(o->x, 0, (size_t)rq->n * sizeof(float));
    } else if (flags & SEG_UF_MONITORING) {
        tl_read_monitor(o->seg, rpos, rq->n, o->x);
    } else if (!song_read_active(&ctl->song, rq->read_clock, rq->n)) {
        memset(o->x, 0, (size_t)rq->n * sizeof(float));
    } else if (solo_ring >= 0) {
        read_solo(o, ctl, solo_ring, rpos, rq->n);
    } else {
        counted = complexity == OUT_COMPLEXITY_AUTO;
        tl_read(o->seg, rpos, rq->n, ctl->global_gain, o->x, counted ? o->n : NULL);
    }
    *mix_ns = prof_now_ns() - t0;
    bool automatic = complexity == OUT_COMPLEXITY_AUTO;
    OpusEncoder *enc = private_encoder(o, s, automatic ? ES_COMPLEXITY : complexity);
    if (!enc)
        return OPUS_ALLOC_FAIL;
    uint32_t frames = rq->n / RING_OPUS_FRAME;
    size_t at = 1;
    body[0] = (uint8_t)frames;
    for (uint32_t i = 0; i < frames; i++) {
        const float *x = o->x + (size_t)i * RING_OPUS_FRAME;
        if (counted) {
            const int32_t *n = o->n + (size_t)i * RING_OPUS_FRAME;
            int32_t fewest = n[0];
            for (uint32_t j = 1; j < RING_OPUS_FRAME; j++)
                fewest = n[j] < fewest ? n[j] : fewest;
            opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(out_auto_complexity(fewest)));
        }
        int k = opus_encode_float(enc, x, RING_OPUS_FRAME, body + at + 2, PK_MAX_PACKET);
        if (k < 0)
            return k;
        o->c.private_frames++;
        pk_put_len(body + at, (uint16_t)k);
        at += 2 + (size_t)k;
    }
    *len = at;
    return 0;
}
