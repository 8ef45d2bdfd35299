/*
 * timeline.h - reading and writing audio in the segment's rings.
 *
 * The daemon owns time.  It clears the rings ahead of the clock (about a
 * second) and publishes how far it has cleared, the watermark W, with
 * release ordering; workers read W with acquire ordering.  The safe window
 * for any access is
 *
 *     [W - ring_len + TL_MARGIN, W)
 *
 * Above W lie slots that still hold audio from a ring's length ago and are
 * about to be cleared; below the window lie slots the daemon may be clearing
 * right now (it moves W in steps far smaller than TL_MARGIN).  A write that
 * does not fall entirely inside the window, or that reaches past the server
 * clock, is refused with TL_EPAST / TL_EFUTURE, never wrapped.  A read
 * returns silence for any part outside the window.
 */
#ifndef BB_TIMELINE_H
#define BB_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "segment.h"

/* Slack kept between the oldest accessible clock and the slots being
 * cleared: 2 s, far more than the daemon clears in one step. */
#define TL_MARGIN (2 * 48000)
/* How far ahead of the clock the daemon keeps the rings cleared. */
#define TL_AHEAD 48000
/* The daemon clears in steps of this many samples (10 ms, 128-aligned). */
#define TL_STEP 512

enum {
    TL_OK = 0,
    TL_EPAST = -1,    /* older than the ring safely holds */
    TL_EFUTURE = -2,  /* at or past the watermark or the server clock */
    TL_ERANGE = -3,   /* n is 0 or longer than the ring allows */
};

const char *tl_strerror(int code);

/* The watermark: every clock below it has been cleared for its current
 * lap.  Acquire; pairs with the release in tl_advance(). */
int64_t tl_watermark(const seg_t *seg);

/* The generation of the 60 ms frame number `frame` (clock / 2880): it
 * changes after every write into the frame (singers, clearing, backing).
 * Acquire; pairs with the release in the writers' bump. */
uint32_t tl_frame_gen(const seg_t *seg, int64_t frame);

/* True if the whole of [start, start + n) lies inside the safe window. */
bool tl_in_window(const seg_t *seg, int64_t start, uint32_t n);

/* Checks that [start, start + n) may be written at server clock `now`. */
int tl_check_write(const seg_t *seg, int64_t start, uint32_t n, int64_t now);

/* Adds n samples at clocks [start, start + n) into the mix ring, each
 * counted as one singer.  Checks as tl_check_write() first and changes
 * nothing if that fails. */
int tl_write(seg_t *seg, int64_t start, const float *x, uint32_t n, int64_t now);

/* Adds n samples into the monitor ring, checked likewise. */
int tl_write_monitor(seg_t *seg, int64_t start, const float *x, uint32_t n, int64_t now);

/* Renders what a listener hears for [start, start + n): mix plus backing,
 * normalised per sample, times `volume` (acc_render()); silence for any part
 * outside the safe window.  counts (may be NULL) receives the per-sample
 * singer counts. */
void tl_read(const seg_t *seg, int64_t start, uint32_t n, float volume,
             float *out, int32_t *counts);

/* Reads the monitor ring raw for [start, start + n); silence outside the
 * window. */
void tl_read_monitor(const seg_t *seg, int64_t start, uint32_t n, float *out);

/* Reads the mix ring's raw cells (tests and the recorder). */
void tl_read_cells(const seg_t *seg, int64_t start, uint32_t n, int64_t *out);

/* Daemon only: clears [W, W + n) of the mix and monitor rings, writes
 * backing (n samples, or silence if NULL) into the backing ring, and
 * publishes W + n.  n is at most ring_len - TL_MARGIN. */
void tl_advance(seg_t *seg, uint32_t n, const float *backing);

/* Daemon only: overwrites backing samples for [start, start + n) inside the
 * window (the metronome backfill); outside parts are skipped. */
void tl_write_backing(seg_t *seg, int64_t start, const float *x, uint32_t n);

/* Daemon only: zeroes the mix, monitor and backing rings entirely (a new
 * lead).  Concurrent adds either land before the zeroing or after it. */
void tl_zero_all(seg_t *seg);

#endif
