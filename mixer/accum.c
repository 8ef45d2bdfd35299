/*
 * accum.c - quantisation and the atomic add loops of the mix.
 */
#include <math.h>

#include "accum.h"
#include "atomics.h"
#include "gain.h"

int32_t acc_quantise(float x)
{
    if (!(x == x))
        return 0;
    if (x > ACC_INPUT_LIMIT)
        x = ACC_INPUT_LIMIT;
    else if (x < -ACC_INPUT_LIMIT)
        x = -ACC_INPUT_LIMIT;
    return (int32_t)lrintf(x * ACC_SCALE);
}

int32_t acc_quantise32(float x)
{
    if (!(x == x))
        return 0;
    if (x > ACC_CELL32_LIMIT)
        x = ACC_CELL32_LIMIT;
    else if (x < -ACC_CELL32_LIMIT)
        x = -ACC_CELL32_LIMIT;
    return (int32_t)lrintf(x * ACC_SCALE);
}

void acc_add(acc_cell_t *cells, const float *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        /* relaxed: independent cells, order-free sums (see accum.h) */
        fetch_add_relaxed(&cells[i], acc_contribution(acc_quantise(x[i])));
}

void acc_add_rest(acc_cell_t *cells, uint32_t n)
{
    const int64_t one = acc_contribution(0);
    for (uint32_t i = 0; i < n; i++)
        /* relaxed: as acc_add() */
        fetch_add_relaxed(&cells[i], one);
}

void acc_add32(acc_cell32_t *cells, const float *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        /* relaxed: independent cells, order-free sums (see accum.h) */
        fetch_add_relaxed(&cells[i], acc_quantise32(x[i]));
}

void acc_render(const acc_cell_t *cells, const acc_cell32_t *backing,
                uint32_t n, float volume, float *out, int32_t *counts)
{
    const float inv = 1.0f / ACC_SCALE;
    /* The count changes only where a singer's upload begins or ends, so
     * the normalisation (a division) is worked out once per run of equal
     * counts: the same float, half the time of rendering. */
    int32_t last_k = -1;
    float g = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* relaxed: see accum.h; the region is in the past */
        int64_t c = load_relaxed(&cells[i]);
        int32_t k = acc_count(c);
        float x = (float)acc_sum(c) * inv;
        if (backing)
            x += (float)load_relaxed(&backing[i]) * inv;
        if (k != last_k) {
            last_k = k;
            g = gain_normalise(k);
        }
        out[i] = x * g * volume;
        if (counts)
            counts[i] = k;
    }
}

void acc_render32(const acc_cell32_t *cells, uint32_t n, float *out)
{
    const float inv = 1.0f / ACC_SCALE;
    for (uint32_t i = 0; i < n; i++)
        out[i] = (float)load_relaxed(&cells[i]) * inv;  /* relaxed: as acc_render */
}
