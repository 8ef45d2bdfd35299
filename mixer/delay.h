/*
 * delay.h - assigning singers to buckets when a song is led.
 *
 * Buckets are DELAY_INTERVAL (3) seconds apart.  The leader goes to the first
 * bucket, p0 + 3 s, where p0 is the rounds padding (tempo_rounds_pad()); the
 * followers are spread, in a uniformly random order, over the follower
 * buckets p0 + 3x for x = 2 .. depth - 1 (depth 5, the original's
 * LAYERING_DEPTH, gives 6, 9 and 12 s), round-robin from the first one;
 * listen-only spectators go to the last bucket.  The random order comes from
 * the caller's generator, so a test can pin it with a seed.
 */
#ifndef BB_DELAY_H
#define BB_DELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"

#define DELAY_INTERVAL 3
#define DELAY_DEPTH_DEFAULT 5
#define DELAY_DEPTH_MIN 3
#define DELAY_DEPTH_MAX 16

/* Clamps a layering depth to [DELAY_DEPTH_MIN, DELAY_DEPTH_MAX]. */
int32_t dly_clamp_depth(int32_t depth);

/* Writes the bucket delays in seconds, first (leader) to last, into out
 * (room for DELAY_DEPTH_MAX) and returns their number, depth - 1. */
uint32_t dly_buckets(int32_t p0, int32_t depth, int32_t *out);

/* Assigns a delay in seconds to each of n users: out[leader] = p0 + 3,
 * spectators (spectator[i] true; spectator may be NULL) the last bucket, the
 * rest spread over the follower buckets in random order.  leader may be
 * outside [0, n) when the leader is not among the users.  scratch has room
 * for n indices.  Returns max_position: the largest delay assigned, at
 * least p0 + 6. */
int32_t dly_assign(uint32_t n, int64_t leader, const bool *spectator,
                   int32_t p0, int32_t depth, rng_t *rng, uint32_t *scratch,
                   int32_t *out);

#endif
