/*
 * accum.h - lock-free, order-independent accumulation of singers' audio.
 *
 * Each sample of the mix ring is one 64-bit signed integer cell holding two
 * fields at once, so that a single atomic fetch-add adds a singer's sample
 * and counts the singer:
 *
 *     cell = count * 2^ACC_COUNT_SHIFT + sum
 *
 *   sum    fixed point, 1.0 full scale = 2^ACC_SCALE_BITS (2^23, so every
 *          float32 sample in [-1, 1] keeps its full 24-bit precision).
 *          The field spans [-2^43, 2^43): 2^20 = 1,048,576 voices at full
 *          scale, or 65,536 contributions at the input limit of +-16.0,
 *          before it would overflow into the count.
 *   count  the number of contributions to this sample (singers, plus the
 *          copies of rounds), 0 ... 2^19-1 = 524,287.
 *
 * Integer addition is associative and commutative, so the mix is
 * bit-identical whatever order the singers' requests arrive in, and no
 * lock is needed: each cell is an independent atomic object.  Every input
 * sample is first quantised by acc_quantise(), which saturates at
 * +-ACC_INPUT_LIMIT and maps NaN to 0, so one bad input cannot spill into
 * the count or poison the mix.
 *
 * The monitor ring and the backing ring hold 32-bit cells in the same scale
 * without a count: the monitor ring is added to by the monitored singer's
 * worker, the backing ring is written by the daemon alone.
 */
#ifndef BB_ACCUM_H
#define BB_ACCUM_H

#include <stdint.h>
#include <stdatomic.h>

#define ACC_SCALE_BITS 23
#define ACC_SCALE ((float)(1 << ACC_SCALE_BITS))
#define ACC_COUNT_SHIFT 44
#define ACC_INPUT_LIMIT 16.0f
/* Largest magnitude a 32-bit cell (monitor, backing) holds: 255.99 full scale. */
#define ACC_CELL32_LIMIT 255.0f

typedef _Atomic int64_t acc_cell_t;    /* mix ring cell: count and sum */
typedef _Atomic int32_t acc_cell32_t;  /* monitor / backing ring cell */

/* Quantises one sample to the fixed-point scale, saturating at
 * +-ACC_INPUT_LIMIT; NaN gives 0.  Rounds to nearest. */
int32_t acc_quantise(float x);

/* Same, for 32-bit cells, saturating at +-ACC_CELL32_LIMIT. */
int32_t acc_quantise32(float x);

/* The count field of a cell value. */
static inline int32_t acc_count(int64_t cell)
{
    /* Arithmetic shift after adding half a count step recovers the count
     * even when the sum field is negative. */
    return (int32_t)((cell + ((int64_t)1 << (ACC_COUNT_SHIFT - 1))) >> ACC_COUNT_SHIFT);
}

/* The sum field of a cell value, in fixed point. */
static inline int64_t acc_sum(int64_t cell)
{
    return cell - ((int64_t)acc_count(cell) << ACC_COUNT_SHIFT);
}

/* The value one contribution of quantised sample q adds to a cell. */
static inline int64_t acc_contribution(int32_t q)
{
    return ((int64_t)1 << ACC_COUNT_SHIFT) + q;
}

/* Adds n samples, each counted as one contribution, into cells[0..n).
 * Relaxed fetch-adds: each cell is independent and the result does not
 * depend on order; readers learn that a region is complete from time (the
 * region lies in the past), never from these stores. */
void acc_add(acc_cell_t *cells, const float *x, uint32_t n);

/* Counts one silent contribution into each of cells[0..n): what acc_add()
 * of n zeros adds, without reading samples (a resting voice).  Relaxed, as
 * acc_add(). */
void acc_add_rest(acc_cell_t *cells, uint32_t n);
/* Adds n samples into 32-bit cells (monitor ring), relaxed, as above. */
void acc_add32(acc_cell32_t *cells, const float *x, uint32_t n);

/* Renders n samples of what a listener hears:
 *   out[i] = (sum_i + backing_i) * gain_normalise(count_i) * volume
 * from mix cells and backing cells (backing may be NULL).  Relaxed loads:
 * the region read lies in the past, where writers have finished; a write
 * racing with the read (a late singer) is either seen whole or not at all,
 * per sample.  When counts is not NULL it receives each count. */
void acc_render(const acc_cell_t *cells, const acc_cell32_t *backing,
                uint32_t n, float volume, float *out, int32_t *counts);

/* Renders n samples of the monitor ring, raw (no normalisation). */
void acc_render32(const acc_cell32_t *cells, uint32_t n, float *out);

#endif
