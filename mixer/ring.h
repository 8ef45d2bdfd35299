/*
 * ring.h - arithmetic of the circular audio timeline.
 *
 * The timeline is indexed by absolute clocks: samples at 48 kHz since the
 * Unix epoch, as signed 64-bit integers.  A ring of `len` samples holds the
 * clock `t` at index `t mod len`, a non-negative modulo, so negative clocks
 * (never produced by the server, but possible in a hostile request) still map
 * inside the ring.  A range of clocks that crosses the end of the ring is
 * split into at most two contiguous pieces; ring_split() handles every case,
 * including a range that ends exactly at the boundary (the second piece is
 * then empty).
 *
 * Every clock on the wire names the END of an interval: a clock C with length
 * n means the samples [C-n, C).
 */
#ifndef BB_RING_H
#define BB_RING_H

#include <stdint.h>

/* Samples per second of every clock and every ring. */
#define RING_SAMPLE_RATE 48000
/* Web Audio render quantum; ring lengths are multiples of it. */
#define RING_FRAME 128
/* Samples in one 60 ms Opus frame. */
#define RING_OPUS_FRAME 2880

/* One or two contiguous pieces of a ring that make up a range of clocks. */
typedef struct {
    uint32_t first_index;  /* ring index where the first piece starts */
    uint32_t first_len;    /* samples in the first piece */
    uint32_t second_len;   /* samples in the second piece, which starts at 0 */
} ring_span_t;

/* The ring index of clock `t`: t mod len, never negative.  len > 0. */
static inline uint32_t ring_index(int64_t t, uint32_t len)
{
    int64_t r = t % (int64_t)len;
    return (uint32_t)(r < 0 ? r + len : r);
}

/* Splits the n clocks starting at `start` into pieces of a ring of `len`
 * samples.  n must be at most len (a longer range would overlap itself; the
 * function then clamps n to len).  Returns the split. */
ring_span_t ring_split(int64_t start, uint32_t n, uint32_t len);

/* Ring lengths are multiples of both the render quantum and the Opus
 * frame, so that every 60 ms frame of the server clock has one place in
 * the ring: lcm(128, 2880) = 5760 samples (120 ms). */
#define RING_ALIGN 5760

/* Rounds a sample count down to a whole number of RING_ALIGN blocks. */
static inline uint32_t ring_align_floor(uint64_t samples)
{
    return (uint32_t)(samples - samples % RING_ALIGN);
}

/* Rounds a sample count down to a whole number of RING_FRAME frames. */
static inline uint32_t ring_frames_floor(uint64_t samples)
{
    return (uint32_t)(samples - samples % RING_FRAME);
}

/* Floor division of a clock by a positive step (for negative clocks too). */
static inline int64_t ring_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

#endif
