/*
 * output.h - what a singer hears: the mix at the singer's read clock,
 * rendered and encoded into the response body (pack_multi framing).
 *
 * Two paths give the same sound.  The shared path serves a read that sits
 * on whole Opus frames of the server clock: each 60 ms frame is rendered
 * once per version (frames.h) and encoded once per encoder history
 * (encshare.h), so singers of one bucket cost one encode between them.
 * The private path serves everything else (the original client's unaligned
 * clocks, loopback, monitoring) with the singer's own encoder (singers.h).
 * A singer whose shared encoder state was lost moves to the private path
 * without a seam.
 */
#ifndef BB_OUTPUT_H
#define BB_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "encshare.h"
#include "frames.h"
#include "request.h"
#include "segment.h"
#include "singers.h"
#include "snap.h"

/* Largest response body: a frame count and PK_MAX_PACKETS packets. */
#define OUT_BODY_CAP (1 + PK_MAX_PACKETS * (2 + PK_MAX_PACKET))

typedef struct {
    uint64_t stream_lost;      /* singers whose shared state was gone */
    uint64_t chain_joins;      /* newcomers put on a chain carried forward */
} out_counters_t;

typedef struct out out_t;

/* Creates the output of one timeline: frames rendered from `seg` through
 * `fr`, shared encodes in `es`, private encoders of the singers in `t`.
 * NULL when out of memory. */
out_t *out_create(seg_t *seg, es_t *es, fr_t *fr, sg_table_t *t);

/* Frees it (not what it was given); accepts NULL. */
void out_destroy(out_t *o);

/* The shared path.  Writes rq->n samples read at rq->read_clock (a
 * multiple of 2880) into body (OUT_BODY_CAP bytes), sets *len, and sets
 * *mix_ns to the time spent rendering (the rest was encoding).  With
 * `power` set, writes there the power of each TW_HOP-sample step of what
 * was rendered (rq->n / TW_HOP values, fr_power()).  Returns 0 or an Opus
 * error. */
int out_shared(out_t *o, sg_t *s, const rq_t *rq, const seg_ctl_t *ctl, int64_t now,
               uint8_t *body, size_t *len, int64_t *mix_ns, float *power);

/* The private path, likewise.  `in` is the singer's decoded upload, which
 * loopback returns (NULL: loopback returns silence); flags are the
 * singer's SEG_UF_* flags. */
int out_private(out_t *o, sg_t *s, const rq_t *rq, const float *in, const seg_ctl_t *ctl,
                uint32_t flags, uint8_t *body, size_t *len, int64_t *mix_ns);

/* The samples the last out_private() rendered (rq->n of them), until the
 * next call. */
const float *out_rendered(const out_t *o);

const out_counters_t *out_counters(const out_t *o);

#endif
