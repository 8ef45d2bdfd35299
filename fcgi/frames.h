/*
 * frames.h - what a listener hears in one 60 ms frame of the server clock,
 * rendered once per worker and reused until the frame changes.
 *
 * A frame's samples depend on the rings (singers, backing) over its 2880
 * clocks, the global gain and whether the song gates the listener's read.
 * The segment keeps a generation per frame that every writer bumps after
 * changing it (timeline.h), so (frame, generation, gain, gating) tells
 * whether a rendering is still current.  The frame's content id, which
 * encshare.h keys packets by, is a 64-bit hash of the rendered samples
 * themselves: two renderings with the same samples (silence before and
 * after a song's start, a frame rewritten with what it held) have the same
 * id, so listeners who read the frame on either side of such a change stay
 * on one shared chain.  A frame that changed while it was being rendered,
 * or that is not wholly inside the timeline's safe window, is hashed like
 * any other but not kept for the next reader.  Each rendering keeps the
 * power of its 4 ms steps beside it, once someone asked for it
 * (fr_power()).
 */
#ifndef BB_FRAMES_H
#define BB_FRAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "segment.h"

typedef struct fr fr_t;

/* Creates a direct-mapped cache of `slots` frames (slots >= 1; frames a
 * multiple of `slots` apart share a slot: 1024 slots span 61 s). */
fr_t *fr_create(uint32_t slots);

/* Frees; accepts NULL. */
void fr_destroy(fr_t *f);

/* The 2880 samples of frame `frame` (its first clock is frame * 2880) as
 * heard with `gain` when `active` (else silence), and their content id in
 * *cid.  The pointer is valid until the next call. */
const float *fr_get(fr_t *f, const seg_t *seg, int64_t frame, float gain, bool active,
                    uint64_t *cid);

/* The power of each TW_HOP-sample step (timing.h) of the frame the last
 * fr_get() returned, RING_OPUS_FRAME / TW_HOP values, kept with the
 * rendering so that every singer who hears the frame shares it (what the
 * timing watch measures a voice against); computed on the first call for
 * a rendering.  Valid until the next fr_get(). */
const float *fr_power(fr_t *f);

/* Frames rendered and frames served from the cache. */
void fr_counts(const fr_t *f, uint64_t *rendered, uint64_t *hits);

#endif
