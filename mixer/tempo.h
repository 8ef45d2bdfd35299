/*
 * tempo.h - metronome beats and the copies of rounds, sample-exact.
 *
 * Metronome: a beat every B = floor(2,880,000 / bpm) samples (60 s at 48 kHz
 * divided by bpm, in whole samples), the first exactly on the song's start
 * clock.  The original placed beats with a phase carry that leaked from one
 * song into the next (PROTOCOL.md quirk 8); here the position of every beat
 * is a pure function of the start clock, so the grid survives a daemon
 * restart and any split of the time into ranges.  A click is a single sample
 * of value 1.0, as in the original.
 *
 * Rounds: with bpm, beats per repeat (bpr) and repeats all non-zero, the
 * repeat length is R = int((60 / bpm) * bpr * 48000) samples (computed in
 * double precision exactly as the original) and every upload at position pos
 * is copied to pos + R*i for i = 1..repeats (the original's i = 0 copy doubled
 * the upload; quirk 7 is fixed).  A copy is made only where it lies entirely
 * in the past of the clock it is made at.
 */
#ifndef BB_TEMPO_H
#define BB_TEMPO_H

#include <stdbool.h>
#include <stdint.h>

#define TEMPO_BPM_MAX 500
#define TEMPO_REPEATS_MAX 20
#define TEMPO_BPR_MAX 500
/* Leader padding for rounds is capped at this many seconds. */
#define TEMPO_ROUNDS_PAD_MAX 90
#define TEMPO_CLICK 1.0f

/* Samples per beat for bpm in [1, TEMPO_BPM_MAX]; 0 for any other bpm. */
int64_t tempo_beat_period(int32_t bpm);

/* Writes the metronome for the n clocks [start, start + n) into out: zero
 * everywhere except TEMPO_CLICK at each clock t >= song_start with
 * (t - song_start) a multiple of period.  period <= 0 gives silence. */
void tempo_fill_metronome(int64_t song_start, int64_t period, int64_t start,
                          uint32_t n, float *out);

/* True when bpm, bpr and repeats are all positive: rounds are on. */
bool tempo_rounds_on(int32_t bpm, int32_t bpr, int32_t repeats);

/* Repeat length in samples, or 0 when rounds are off. */
int64_t tempo_repeat_len(int32_t bpm, int32_t bpr);

/* The leader's extra delay for rounds in whole seconds:
 * min(int((60 / bpm) * bpr * repeats), 90), or 0 when rounds are off. */
int32_t tempo_rounds_pad(int32_t bpm, int32_t bpr, int32_t repeats);

/* Positions (start clocks) of the copies of an upload of n samples at pos,
 * made at clock `now`: pos + R*i for i = 1..repeats where
 * pos + R*i + n < now.  Writes at most `max` positions to out and returns
 * how many.  Returns 0 when rounds are off. */
uint32_t tempo_round_copies(int64_t pos, uint32_t n, int32_t bpm, int32_t bpr,
                            int32_t repeats, int64_t now, int64_t *out,
                            uint32_t max);

#endif
