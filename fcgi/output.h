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
 *
 * Encoder settings: a stream the shared path could serve is encoded at the
 * shared setting (ES_COMPLEXITY) even when it is private (a lost state,
 * sharing switched off), so that it gives the shared path's packets; a
 * stream no one else can share (unaligned clocks, loopback, monitoring)
 * costs a whole encode per singer and frame, and has a setting of its own
 * (OUT_PRIVATE_COMPLEXITY, or what the operator chose), where a cheaper one
 * buys the most CPU.  An encoder can change complexity between frames: a
 * singer who moves from one kind to the other hears no seam.
 */
#ifndef BB_OUTPUT_H
#define BB_OUTPUT_H

#include <stdbool.h>
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

/* Opus complexity (0..10) of a stream no other singer can share (the
 * original client's unaligned clocks, loopback, monitoring).  Measured by
 * bench_complexity (bench/RESULTS.md): a 32 s song, SNR of the decoded mix
 * against the exact mix, against complexity 10, as three listeners hear
 * it, and the encode CPU per 60 ms frame against 10's:
 *
 *     complexity   choir    one voice + backing   one voice    CPU
 *     10, 9, 7     0        0                     0            1.00
 *     6, 5         -0.59    -1.45                 -2.25        0.69
 *     4 .. 1       -1.0     -2.8                  -6.6         0.43 .. 0.50
 *     0            -0.76    -2.50                 -6.19        0.27
 *
 * Below 7 CELT drops its pitch pre-filter, which is what a single voice
 * (or a chord of a few voices: test_private, -4.4 dB) leans on.  A mix of
 * many voices has no one pitch for it to follow, and there complexity 0
 * is as good as 10 at a quarter of the CPU: bench_complexity's sweep over
 * the number of voices (sung voices with rests, and steady chords sharing
 * one vibrato, the worst case) finds every mix of 8 voices or more within
 * 1 dB of 10 (7 sung voices: -1.07 dB; 3 steady ones: -4.0 dB).
 *
 * OUT_COMPLEXITY_AUTO (the default) therefore chooses per 60 ms frame:
 * complexity 0 where every sample of the frame holds at least
 * OUT_AUTO_VOICES contributions (singers, resting ones included, and the
 * copies of rounds; 10, two over the measured 8, leaves room for singers
 * who rest and still count), ES_COMPLEXITY everywhere
 * else (fewer voices, loopback, monitoring, a solo).  The operator can fix
 * one setting instead (bb-worker --private-complexity N).
 *
 * What SNR does not show: each voice's level within a dense mix.  In
 * fault_hall_one_address (40 tones, one per singer) complexity 9 keeps
 * every voice within 0.83 to 1.22 of its level in every frame, complexity
 * 0 within 0.59 to 1.27.  The shared path, whose encode is shared by a
 * whole bucket and costs little per singer, therefore stays at
 * ES_COMPLEXITY; for private streams, whose encode is the bulk of their
 * CPU, auto trades that for 1.6 times the singers per core (bench/
 * RESULTS.md), and --private-complexity 9 keeps the level instead. */
#define OUT_COMPLEXITY_AUTO (-1)
#define OUT_AUTO_VOICES 10
#define OUT_PRIVATE_COMPLEXITY OUT_COMPLEXITY_AUTO

/* The complexity auto mode gives a frame whose fewest contributions in a
 * sample are `voices`. */
static inline int out_auto_complexity(int32_t voices)
{
    return voices >= OUT_AUTO_VOICES ? 0 : ES_COMPLEXITY;
}

typedef struct {
    uint64_t stream_lost;      /* singers whose shared state was gone */
    uint64_t chain_joins;      /* newcomers put on a chain carried forward */
    uint64_t private_frames;   /* 60 ms frames encoded for one singer alone */
} out_counters_t;

typedef struct out out_t;

/* Creates the output of one timeline: frames rendered from `seg` through
 * `fr`, shared encodes in `es`, private encoders of the singers in `t`.
 * NULL when out of memory. */
out_t *out_create(seg_t *seg, es_t *es, fr_t *fr, sg_table_t *t);

/* Frees it (not what it was given); accepts NULL. */
void out_destroy(out_t *o);

/* Sets the Opus complexity of streams no other singer can share, 0..10
 * (clamped), or OUT_COMPLEXITY_AUTO; OUT_PRIVATE_COMPLEXITY until set. */
void out_set_private_complexity(out_t *o, int complexity);

/* Whether the shared path can serve this request: its read clock on whole
 * Opus frames of the server clock, and the common mix (no loopback; not
 * monitoring among the singer's SEG_UF_* flags). */
bool out_shareable(const rq_t *rq, uint32_t flags);

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
 * singer's SEG_UF_* flags; solo_ring is the solo ring the singer listens
 * to (out_solo_ring()), or -1 for the mix. */
int out_private(out_t *o, sg_t *s, const rq_t *rq, const float *in, const seg_ctl_t *ctl,
                uint32_t flags, int solo_ring, uint8_t *body, size_t *len, int64_t *mix_ns);

/* The solo ring the listener `userid` holds in the control state (a
 * selection of at least one singer, PROTOCOL.md 9.12), or -1.  A listener
 * who solos takes the private path: what they hear is theirs alone. */
int out_solo_ring(const seg_ctl_t *ctl, uint64_t userid);

/* The samples the last out_private() rendered (rq->n of them), until the
 * next call. */
const float *out_rendered(const out_t *o);

const out_counters_t *out_counters(const out_t *o);

#endif
