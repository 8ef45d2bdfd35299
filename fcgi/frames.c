/*
 * frames.c - the rendered-frame cache.
 */
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "ring.h"
#include "timeline.h"

typedef struct {
    int64_t frame;
    uint32_t gen;
    uint32_t gain_bits;
    bool active;
    bool valid;
    uint64_t cid;
    float x[RING_OPUS_FRAME];
} slot_t;

struct fr {
    uint32_t n;
    slot_t *s;
    float scratch[RING_OPUS_FRAME];
    uint64_t unique;      /* content ids of frames that are not shared */
    uint64_t rendered, hits;
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t content_id(int64_t frame, uint32_t gen, uint32_t gain_bits, bool active)
{
    if (!active)
        return mix64((uint64_t)frame * 3 + 1);   /* silence: the same for every gain */
    return mix64(mix64((uint64_t)frame * 3 + 2) ^ ((uint64_t)gen << 32 | gain_bits));
}

fr_t *fr_create(uint32_t slots)
{
    fr_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->n = slots ? slots : 1;
    f->s = calloc(f->n, sizeof *f->s);
    if (!f->s) {
        free(f);
        return NULL;
    }
    return f;
}

void fr_destroy(fr_t *f)
{
    if (!f)
        return;
    free(f->s);
    free(f);
}

void fr_counts(const fr_t *f, uint64_t *rendered, uint64_t *hits)
{
    *rendered = f->rendered;
    *hits = f->hits;
}

const float *fr_get(fr_t *f, const seg_t *seg, int64_t frame, float gain, bool active,
                    uint64_t *cid)
{
    uint32_t gb;
    memcpy(&gb, &gain, sizeof gb);
    slot_t *s = &f->s[ring_index(frame, f->n)];
    if (!active) {
        /* Silence needs no rendering and no slot. */
        memset(f->scratch, 0, sizeof f->scratch);
        *cid = content_id(frame, 0, 0, false);
        return f->scratch;
    }
    uint32_t g = tl_frame_gen(seg, frame);
    if (s->valid && s->frame == frame && s->gen == g && s->gain_bits == gb && s->active) {
        f->hits++;
        *cid = s->cid;
        return s->x;
    }
    int64_t start = frame * RING_OPUS_FRAME;
    f->rendered++;
    tl_read(seg, start, RING_OPUS_FRAME, gain, s->x, NULL);
    /* A write that finished during the render moved the generation on: the
     * samples may hold part of it, so they are nobody else's. */
    if (tl_frame_gen(seg, frame) != g || !tl_in_window(seg, start, RING_OPUS_FRAME)) {
        s->valid = false;
        *cid = mix64(++f->unique ^ 0xA5A5A5A5A5A5A5A5ull) | 1;
        return s->x;
    }
    s->frame = frame;
    s->gen = g;
    s->gain_bits = gb;
    s->active = true;
    s->valid = true;
    s->cid = content_id(frame, g, gb, true);
    *cid = s->cid;
    return s->x;
}
