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
 *
 * The recorder's gate.  The daemon records the mix some seconds behind the
 * clock, but a singer whose requests stall (a busy machine, a stalled
 * browser or network) writes the same clocks later than the others, and
 * how much later has no bound.  Recording at a fixed lag therefore left
 * such a voice out of the recording while the timeline and the singer's
 * stem held it.  So the recording follows the singers instead, and the
 * mix, the recording and the stems agree by construction:
 *
 *   worker, per upload [pos, end) of a singer in user slot u:
 *     W1  users_mix_claim(u, pos)      seq_cst: "u may write from pos on"
 *     W2  g = tl_rec_gate()            seq_cst
 *         if pos < g: the upload goes into neither the mix nor the stem
 *     W3  tl_write() ...; the stem
 *     W4  users_mix_done(u, end)       release: "u's voice is in below end"
 *   daemon, each recording step:
 *     D1  tl_set_rec_gate(e)           seq_cst, e only grows within a song
 *     D2  users_mix_progress() of every slot, seq_cst (acquire)
 *     D3  reads the mix below min(e, every waited-for singer's progress)
 *
 * W1/W2 and D1/D2 are the two sides of a store-then-load pair: either D2
 * sees the claim, and the recorder stops short of pos until W4 (whose
 * release hands it the samples), or W2 sees the gate and the upload is
 * refused whole.  The daemon waits for a singer while its progress keeps
 * changing; one that has not moved for RM_REC_WAIT (gone, or a worker
 * killed between W1 and W4) is given up: its later uploads below the gate
 * are refused, so they reach neither the recording nor the stem.  The one
 * assumption, as for TL_MARGIN, is that a live worker does not take that
 * long (15 s) between W1 and W4 of one request.
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

/* The recorder's gate (see the top of this file): no singer's audio may be
 * added below it.  seq_cst: the load side of W1/W2 above, pairing with
 * the store in tl_set_rec_gate(). */
int64_t tl_rec_gate(const seg_t *seg);

/* Daemon only: moves the gate to `clock` (D1 above; seq_cst, pairs with
 * the load in tl_rec_gate()).  It only grows within a song; it is set back
 * to a new song's start when that song's recording begins. */
void tl_set_rec_gate(seg_t *seg, int64_t clock);

/* Checks that [start, start + n) may be written at server clock `now`. */
int tl_check_write(const seg_t *seg, int64_t start, uint32_t n, int64_t now);

/* Adds n samples at clocks [start, start + n) into the mix ring, each
 * counted as one singer.  Checks as tl_check_write() first and changes
 * nothing if that fails. */
int tl_write(seg_t *seg, int64_t start, const float *x, uint32_t n, int64_t now);

/* Counts one silent singer at clocks [start, start + n) of the mix ring:
 * what tl_write() of n zeros does, without the samples (a resting voice,
 * fcgi/rest.h).  Checked and ordered as tl_write(). */
int tl_write_rest(seg_t *seg, int64_t start, uint32_t n, int64_t now);

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

/* Solo ring k (segment.h): adds n samples at [start, start + n), counted
 * as one singer as in the mix, checked as tl_check_write().  A worker
 * killed mid-add leaves part of one upload in the ring, as in the mix;
 * only the soloing listener hears it.  It moves no
 * frame generation: nobody caches what a solo renders (only its one
 * listener reads it), so a solo costs the shared frames nothing. */
int tl_write_solo(seg_t *seg, uint32_t k, int64_t start, const float *x, uint32_t n, int64_t now);

/* Renders solo ring k for [start, start + n) as tl_read() renders the mix:
 * the ring's singers plus backing, normalised per sample, times volume;
 * silence outside the safe window. */
void tl_read_solo(const seg_t *seg, uint32_t k, int64_t start, uint32_t n, float volume,
                  float *out);

/* Daemon only, before the tl_advance() of the same n: clears [W, W + n)
 * of solo ring k (W the watermark), which that advance then publishes.
 * The daemon clears a ring only while a listener solos with it. */
void tl_clear_solo(seg_t *seg, uint32_t k, uint32_t n);

/* Daemon only: zeroes all of solo ring k, giving its pages back (a ring
 * given to a new listener, or left by one).  A racing add lands before or
 * after, as in tl_zero_all(). */
void tl_release_solo(seg_t *seg, uint32_t k);

/* Reads the mix ring's raw cells (tests and the recorder). */
void tl_read_cells(const seg_t *seg, int64_t start, uint32_t n, int64_t *out);

/* Daemon only: clears [W, W + n) of the mix and monitor rings, writes
 * backing (n samples, or silence if NULL) into the backing ring, and
 * publishes W + n.  n is at most ring_len - TL_MARGIN. */
void tl_advance(seg_t *seg, uint32_t n, const float *backing);

/* Daemon only: overwrites backing samples for [start, start + n) inside the
 * window (the metronome backfill); outside parts are skipped. */
void tl_write_backing(seg_t *seg, int64_t start, const float *x, uint32_t n);

/* Daemon only: zeroes the mix, monitor, backing and solo rings entirely (a new
 * lead).  Concurrent adds either land before the zeroing or after it. */
void tl_zero_all(seg_t *seg);

#endif
