/*
 * test_frames.c - the rendered-frame cache (fcgi/frames.h) over a real
 * segment: a frame is rendered once per version and served from the cache
 * until its generation, the gain or its slot changes.
 *
 * Asserted: the first read of a frame renders it and the second is a hit
 * with the same samples and content id; a write into the frame (a new
 * generation) renders it again, with the written samples and a new id; a
 * new gain renders again, then hits; a listener whose read the song does
 * not gate on gets silence without any rendering, and silence rendered
 * from an empty frame has that same id; frames a multiple of the slot
 * count apart evict each other; a frame not wholly inside the safe window
 * is rendered for each reader, never kept.
 */
#include <string.h>

#include "check.h"
#include "frames.h"
#include "ring.h"
#include "shm/shm_test.h"
#include "timeline.h"

#define FR RING_OPUS_FRAME

static void test_versions(check_t *c, seg_t *s, int64_t frame)
{
    fr_t *f = fr_create(64);
    uint64_t r, h, cid1, cid2, cid3;
    const float *x = fr_get(f, s, frame, 1.0f, true, &cid1);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 1);
    CHECK_EQ_I(*c, h, 0);
    float first[FR];
    memcpy(first, x, sizeof first);
    x = fr_get(f, s, frame, 1.0f, true, &cid2);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 1);                 /* served from the cache */
    CHECK_EQ_I(*c, h, 1);
    CHECK(*c, cid2 == cid1);
    CHECK(*c, memcmp(x, first, sizeof first) == 0);

    /* A singer writes into the frame: a new generation, rendered again. */
    uint32_t gen = tl_frame_gen(s, frame);
    static float voice[FR];
    for (int i = 0; i < FR; i++)
        voice[i] = (i % 100) / 200.0f - 0.25f;
    CHECK_EQ_I(*c, tl_write(s, frame * FR, voice, FR, tl_watermark(s)), TL_OK);
    CHECK(*c, tl_frame_gen(s, frame) != gen);
    x = fr_get(f, s, frame, 1.0f, true, &cid3);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 2);
    CHECK_EQ_I(*c, h, 1);
    CHECK(*c, cid3 != cid1);
    float expect[FR];
    tl_read(s, frame * FR, FR, 1.0f, expect, NULL);
    CHECK(*c, memcmp(x, expect, sizeof expect) == 0);
    double energy = 0;
    for (int i = 0; i < FR; i++)
        energy += x[i] * x[i];
    CHECK(*c, energy > 1.0);              /* the voice is in it */
    fr_get(f, s, frame, 1.0f, true, &cid2);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 2);
    CHECK_EQ_I(*c, h, 2);
    CHECK(*c, cid2 == cid3);

    /* Another gain is another rendering, then cached in turn. */
    fr_get(f, s, frame, 0.5f, true, &cid2);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 3);
    CHECK(*c, cid2 != cid3);
    fr_get(f, s, frame, 0.5f, true, &cid3);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 3);
    CHECK_EQ_I(*c, h, 3);
    CHECK(*c, cid3 == cid2);
    fr_destroy(f);
}

static void test_silence_and_slots(check_t *c, seg_t *s, int64_t empty)
{
    fr_t *f = fr_create(4);
    uint64_t r, h, silent, cid;
    /* Not gated in: silence, no rendering, no slot. */
    const float *x = fr_get(f, s, empty, 1.0f, false, &silent);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 0);
    CHECK_EQ_I(*c, h, 0);
    int loud = 0;
    for (int i = 0; i < FR; i++)
        loud += x[i] != 0.0f;
    CHECK_EQ_I(*c, loud, 0);
    /* An empty frame rendered: the same samples, so the same id. */
    fr_get(f, s, empty, 1.0f, true, &cid);
    CHECK(*c, cid == silent);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 1);
    /* Frames 4 apart share a slot: each read of the other evicts. */
    fr_get(f, s, empty + 4, 1.0f, true, &cid);
    fr_get(f, s, empty, 1.0f, true, &cid);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 3);
    CHECK_EQ_I(*c, h, 0);
    /* ... but not a neighbour in another slot. */
    fr_get(f, s, empty + 1, 1.0f, true, &cid);
    fr_get(f, s, empty, 1.0f, true, &cid);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 4);
    CHECK_EQ_I(*c, h, 1);
    fr_destroy(f);
}

static void test_outside_window(check_t *c, seg_t *s)
{
    fr_t *f = fr_create(16);
    uint64_t r, h, cid1, cid2;
    /* The frame holding the watermark is not wholly inside the window. */
    int64_t frame = tl_watermark(s) / FR;
    CHECK(*c, !tl_in_window(s, frame * FR, FR));
    fr_get(f, s, frame, 1.0f, true, &cid1);
    fr_get(f, s, frame, 1.0f, true, &cid2);
    fr_counts(f, &r, &h);
    CHECK_EQ_I(*c, r, 2);                 /* rendered for each reader */
    CHECK_EQ_I(*c, h, 0);
    CHECK(*c, cid1 == cid2);
    fr_destroy(f);
}

int main(void)
{
    CHECK_INIT(c);
    char name[64];
    shm_test_name(name, sizeof name, "frames");
    seg_t *s = shm_test_create(name, SEG_RING_SECONDS_MIN, 16);
    if (!s)
        return 1;
    /* Two seconds of cleared ring, then frames well inside the window. */
    for (int i = 0; i < 20; i++)
        tl_advance(s, 4800, NULL);
    int64_t w = tl_watermark(s);
    int64_t frame = w / FR - 20;
    CHECK(c, tl_in_window(s, frame * FR, FR));
    CHECK(c, tl_in_window(s, (frame - 10) * FR, 5 * FR));
    test_versions(&c, s, frame);
    test_silence_and_slots(&c, s, frame - 10);
    test_outside_window(&c, s);
    seg_detach(s);
    seg_unlink(name);
    return check_done(&c, "test_frames");
}
