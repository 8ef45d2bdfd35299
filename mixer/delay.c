/*
 * delay.c - bucket assignment.
 */
#include "delay.h"

int32_t dly_clamp_depth(int32_t depth)
{
    if (depth < DELAY_DEPTH_MIN)
        return DELAY_DEPTH_MIN;
    if (depth > DELAY_DEPTH_MAX)
        return DELAY_DEPTH_MAX;
    return depth;
}

uint32_t dly_buckets(int32_t p0, int32_t depth, int32_t *out)
{
    depth = dly_clamp_depth(depth);
    for (int32_t x = 1; x < depth; x++)
        out[x - 1] = p0 + DELAY_INTERVAL * x;
    return (uint32_t)(depth - 1);
}

int32_t dly_assign(uint32_t n, int64_t leader, const bool *spectator,
                   int32_t p0, int32_t depth, rng_t *rng, uint32_t *scratch,
                   int32_t *out)
{
    int32_t buckets[DELAY_DEPTH_MAX];
    uint32_t nb = dly_buckets(p0, depth, buckets);
    uint32_t nfollow = nb - 1;   /* follower buckets are buckets[1 .. nb) */
    int32_t max_position = buckets[1];
    uint32_t m = 0;

    for (uint32_t i = 0; i < n; i++) {
        if ((int64_t)i == leader)
            out[i] = buckets[0];
        else if (spectator && spectator[i])
            out[i] = buckets[nb - 1];
        else
            scratch[m++] = i;
    }
    /* Fisher-Yates: a uniformly random order of the followers. */
    for (uint32_t i = m; i > 1; i--) {
        uint32_t j = (uint32_t)rng_below(rng, i);
        uint32_t t = scratch[i - 1];
        scratch[i - 1] = scratch[j];
        scratch[j] = t;
    }
    for (uint32_t i = 0; i < m; i++)
        out[scratch[i]] = buckets[1 + i % nfollow];
    for (uint32_t i = 0; i < n; i++)
        if ((int64_t)i != leader && out[i] > max_position)
            max_position = out[i];
    return max_position;
}
