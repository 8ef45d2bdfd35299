/*
 * frames.c - the rendered-frame cache.
 */
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "ring.h"
#include "timeline.h"
#include "timing.h"

#define STEPS (RING_OPUS_FRAME / TW_HOP)
_Static_assert(RING_OPUS_FRAME % TW_HOP == 0, "a frame is whole steps");

typedef struct {
    int64_t frame;
    uint32_t gen;
    uint32_t gain_bits;
    bool active;
    bool valid;
    uint64_t cid;
    bool have_power;      /* power[] is of x[] */
    float power[STEPS];
    float x[RING_OPUS_FRAME];
} slot_t;

struct fr {
    uint32_t n;
    slot_t *s;
    float scratch[RING_OPUS_FRAME];
    float quiet[STEPS];   /* the power of silence: zeros */
    slot_t *last;         /* the slot fr_get() returned last; NULL: silence */
    uint64_t silence;     /* content id of a silent frame */
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

/* The content id: a hash of the samples' bits, 64-bit words at a time. */
static uint64_t content_id(const float *x)
{
    const uint8_t *p = (const uint8_t *)x;
    uint64_t h = 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < sizeof(float) * RING_OPUS_FRAME; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = mix64(h ^ w) * 0x9E3779B97F4A7C15ull;
    }
    return h ? h : 1;
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
    f->silence = content_id(f->scratch);   /* calloc: zeros */
    return f;
}

void fr_destroy(fr_t *f)
{
    if (!f)
        return;
    free(f->s);
    free(f);
}

const float *fr_power(fr_t *f)
{
    slot_t *s = f->last;
    if (!s)
        return f->quiet;
    /* Computed on the first need only: without the timing watch, never. */
    if (!s->have_power) {
        tw_step_power(s->x, STEPS, s->power);
        s->have_power = true;
    }
    return s->power;
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
        *cid = f->silence;
        f->last = NULL;
        return f->scratch;
    }
    uint32_t g = tl_frame_gen(seg, frame);
    if (s->valid && s->frame == frame && s->gen == g && s->gain_bits == gb && s->active) {
        f->hits++;
        *cid = s->cid;
        f->last = s;
        return s->x;
    }
    int64_t start = frame * RING_OPUS_FRAME;
    f->rendered++;
    tl_read(seg, start, RING_OPUS_FRAME, gain, s->x, NULL);
    s->cid = content_id(s->x);
    s->have_power = false;
    f->last = s;
    *cid = s->cid;
    /* A write that finished during the render moved the generation on: the
     * samples may hold part of it; they are right for this reader (their id
     * says what they are) but not kept for the next. */
    s->valid = tl_frame_gen(seg, frame) == g && tl_in_window(seg, start, RING_OPUS_FRAME);
    s->frame = frame;
    s->gen = g;
    s->gain_bits = gb;
    s->active = true;
    return s->x;
}
