/*
 * timing.h - the timing watch: whether a singer sings early or late, and by
 * how much, from their voice and what they sang along to.
 *
 * A singer who sings in time with what they hear writes voice that lines
 * up, clock for clock, with the timeline they heard; a singer whose latency
 * calibration is off by d lands d late (or early).  The watch compares the
 * voice with a reference at the same clocks:
 *
 *   beat    the song's metronome: beats at beat0 + k * period (tempo.h),
 *           known exactly without reading anything;
 *   leader  otherwise, the mix the singer heard (the singers ahead, the
 *           backing track), fed as it is read, before the voice that sings
 *           along to it arrives.
 *
 * Entries.  Both signals become levels: the power of each TW_HOP-sample
 * step (4 ms) of the absolute clock, in dB.  A note's entry is where its
 * level comes within TW_DEPTH_DB of the peak it reaches in the next
 * TW_AHEAD steps (80 ms), or within TW_DEPTH_SHARE of its rise from the
 * floor of the TW_BEFORE steps behind it when that floor is closer (noise,
 * a reverberant room, the note before); the crossing is placed between
 * two steps by interpolation.  A rise of less than TW_RISE_DB, a peak
 * below TW_GATE_DB, or another entry within TW_REFRACTORY steps is not an
 * entry.  Measured from the note's own peak, an entry does not move with
 * the singer's level, and a soft attack enters near its start: a 20-50 ms
 * raised-cosine swell crosses 36 dB below its peak 2-4 ms after its first
 * sample.  Legato steps without a dip, vibrato and a held note make no
 * entry; a rest or silence makes none at all.  Each entry weighs its rise
 * (full at 40 dB).
 *
 * Correlation.  Each voice entry is paired with every entry of the
 * reference (every beat) within about +-TW_MAX_LAG steps (+-252 ms), and the
 * product of their weights goes to the lag (positive: the voice is late),
 * shared between the two steps around it, in the sums of the 600 ms block
 * of the clock the entry lies in (TW_BLOCK_STEPS).  When a block is
 * complete, the last TW_WINDOW_BLOCKS consecutive blocks (4.2 s) give one
 * estimate.  The sums, smoothed over +-TW_KERNEL steps, peak at the lag
 * most entries agree on; the estimate is the mean lag of the pairs within
 * TW_LOBE steps of that peak, so that every note counts, not the few
 * that happen to coincide.  It is confident when:
 *   - both sides had TW_MIN_ONSETS entries (a rest, a silence or a silent
 *     reference gives no estimate, never 0);
 *   - the pairs at the peak hold TW_MIN_MATCH of the voice's entries
 *     (a voice that does not follow the reference matches by chance only
 *     the odd entry);
 *   - the peak stands out: the highest smoothed sum beyond TW_KERNEL +
 *     TW_LOBE steps of it is at most (1 - TW_MIN_SHARP) of the peak.
 * With a beat reference the lags searched stop short of half a beat,
 * where the grid repeats.
 *
 * Verdict.  The confident estimates of the last TW_HISTORY_SAMPLES (8 s)
 * of the singer's voice, once there are TW_MIN_ESTIMATES of them, give the
 * singer's offset: their median.  The singer is flagged, consistently early
 * or late, when the median is beyond TW_FLAG_MS (40 ms) either way and the
 * middle half of the estimates spans at most TW_MAX_SPREAD_MS; a flag stays
 * until the median comes back within TW_CLEAR_MS (30 ms), so a singer near
 * the line is not flagged on and off.  While there are too few estimates
 * (a rest) or they disagree, the verdict stands as it was.
 *
 * A stream is contiguous clocks: a voice or reference that does not start
 * where the last ended starts that stream over (the estimates already made
 * stay); another song or another beat grid starts the watch over (the
 * reference heard stays); tw_init() starts everything over.
 *
 * Cost: the power of every sample (the bulk: a few microseconds per 600 ms
 * of voice), a log per step, and a few multiplications per pair of
 * entries.  Pure: no I/O, no allocation but tw_create(), no pointers in
 * the state (a copy is a memcpy).  One watch per singer, one thread.
 */
#ifndef BB_TIMING_H
#define BB_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_HOP 192                   /* samples per step: 4 ms at 48 kHz */
#define TW_RATE 250                  /* steps per second */
#define TW_MAX_LAG 63                /* steps: the lags searched, +-252 ms */
#define TW_NLAGS (2 * TW_MAX_LAG + 1)
#define TW_BLOCK_STEPS 150           /* a block of the clock: 600 ms */
#define TW_WINDOW_BLOCKS 7           /* blocks per estimate: 4.2 s */
#define TW_HISTORY_SAMPLES (8 * 48000)
#define TW_EST_MAX 32                /* estimates kept (one per block) */
#define TW_MIN_ESTIMATES 6
#define TW_FLAG_MS 40
#define TW_CLEAR_MS 30

/* Note entries (see above). */
#define TW_AHEAD 20                  /* steps looked ahead for the peak: 80 ms */
#define TW_BEFORE 12                 /* steps looked back for the floor: 48 ms */
#define TW_DEPTH_DB 36.0f            /* the entry: this far below the peak ... */
#define TW_DEPTH_SHARE 0.85f         /* ... or this share of the rise, if less */
#define TW_RISE_DB 8.0f              /* the least rise from the floor to the peak */
#define TW_GATE_DB (-55.0f)          /* the least peak, dB of full scale */
#define TW_REFRACTORY 15             /* steps after an entry without another: 60 ms */
#define TW_REF_EVENTS 256            /* entries of the leader reference kept */
/* Confidence of one estimate. */
#define TW_MIN_ONSETS 3
#define TW_MIN_MATCH 0.5f
#define TW_MIN_SHARP 0.3f
#define TW_MAX_SPREAD_MS 40.0f
#define TW_KERNEL 4                  /* steps: the correlation is smoothed +-16 ms */
#define TW_LOBE 10                   /* steps: 40 ms beyond the kernel */

typedef enum {
    TW_BASIS_NONE = 0,    /* nothing to compare with: no estimates */
    TW_BASIS_BEAT,        /* the metronome's beats */
    TW_BASIS_LEADER,      /* the mix the singer heard */
} tw_basis_t;

/* What a voice is compared with, in which song (its start clock; another
 * song starts the watch over).  For TW_BASIS_BEAT, beats lie at
 * beat0 + k * period (k >= 0, period > 0 samples) and before `end` (0: no
 * end); the leader reference ignores those three. */
typedef struct {
    tw_basis_t basis;
    int64_t song;
    int64_t beat0;
    int64_t period;
    int64_t end;
} tw_ref_t;

/* One estimate, for tests and diagnostics. */
typedef struct {
    int64_t clock;        /* END clock of the window it was made from */
    float offset_ms;      /* signed: positive = late */
    float rho;            /* normalised correlation at the peak, 0..1 */
    float match;          /* share of the voice's entries at the peak's lag */
    float sharp;          /* 1 - highest side correlation / peak, 0..1 */
    bool confident;       /* kept for the median */
} tw_estimate_t;

typedef struct {
    tw_basis_t basis;     /* of the estimates below */
    uint32_t estimates;   /* confident estimates in the last 8 s */
    bool have_median;     /* estimates >= TW_MIN_ESTIMATES */
    float median_ms;      /* their median, when have_median */
    float spread_ms;      /* their interquartile range, when have_median */
    bool flagged;         /* consistently early or late (see above) */
    int32_t offset_ms;    /* while flagged: the median that flagged,
                             rounded to whole ms, positive = late */
} tw_verdict_t;

typedef struct tw tw_t;

/* Bytes of a watch's state (fixed). */
size_t tw_size(void);

/* Starts the watch over in w (tw_size() bytes): no streams, no estimates,
 * not flagged. */
void tw_init(tw_t *w);

/* Starts what the voice showed over (estimates, verdict), keeping the
 * reference heard: after the singer changed their timing. */
void tw_restart(tw_t *w);

/* A new watch, started; NULL when out of memory. */
tw_t *tw_create(void);

/* Frees it; accepts NULL. */
void tw_destroy(tw_t *w);

/* Power per step: out[i] = mean of x^2 over x[i*TW_HOP .. (i+1)*TW_HOP),
 * for `steps` steps. */
void tw_step_power(const float *x, uint32_t steps, float *out);

/* The leader reference: the n samples the singer heard at clocks
 * [start, start + n); x NULL means silence.  Any n and start. */
void tw_reference(tw_t *w, int64_t start, const float *x, uint32_t n);

/* The same from the power of whole steps (tw_step_power()): `steps`
 * steps from clock `start`, which must be a multiple of TW_HOP (else the
 * call is ignored, and the reference stream starts over); power NULL means
 * silence. */
void tw_reference_power(tw_t *w, int64_t start, const float *power, uint32_t steps);

/* The singer's voice: n samples at clocks [start, start + n), compared
 * with `ref`.  A reference that differs from the one of the estimates so
 * far (another basis, another beat grid) starts the watch over.  Returns
 * the number of estimates made (confident or not). */
uint32_t tw_voice(tw_t *w, const tw_ref_t *ref, int64_t start, const float *x, uint32_t n);

/* The verdict as of the last voice. */
void tw_verdict(const tw_t *w, tw_verdict_t *out);

/* The last estimate made (false if none since tw_init()). */
bool tw_last_estimate(const tw_t *w, tw_estimate_t *out);

/* "beat", "leader" or "none". */
const char *tw_basis_name(tw_basis_t b);

#endif
