/*
 * song.h - the song state machine (PROTOCOL.md section 10).
 *
 *      IDLE --lead--> LEADING --start--> SINGING --stop / track end--> ENDED
 *        ^              |  ^                 |                           |
 *        +----reset-----+  +------lead-------+-----------lead------------+
 *
 * The state is plain data with no pointers, so the daemon can publish a copy
 * of it into shared memory as it is.  A clock of 0 means "unset" (real clocks
 * are about 8e13).  Only the daemon changes it; workers read snapshots and ask
 * song_upload_active() / song_read_active() about a request's clocks.
 *
 * Departures from the original, each a fix its PROTOCOL.md section 16 allows:
 * stop without a last write clock falls back to the caller's clock (quirk
 * 10); when there is a leader, only the leader can start or stop (quirk 11);
 * rounds copies at i = 1..repeats (quirk 7, in tempo.h).
 */
#ifndef BB_SONG_H
#define BB_SONG_H

#include <stdbool.h>
#include <stdint.h>

#define SONG_TRACK_NONE (-1)
#define SONG_TRACK_METRONOME (-2)

typedef enum {
    SONG_IDLE = 0,     /* no leader, no start */
    SONG_LEADING,      /* a leader, waiting for start */
    SONG_SINGING,      /* started, not ended */
    SONG_ENDED,        /* started and ended */
} song_phase_t;

typedef struct {
    int64_t start;           /* song start clock, 0 = unset */
    int64_t end;             /* song end clock, 0 = open-ended */
    uint64_t leader;         /* userid of the leader (valid if has_leader) */
    uint8_t has_leader;
    uint8_t metronome_on;
    uint8_t pad_[2];
    int32_t bpm;             /* 0 = unset */
    int32_t repeats;
    int32_t bpr;             /* 0 = unset */
    int32_t requested_track; /* SONG_TRACK_NONE, _METRONOME or a track index */
    int32_t playing_track;   /* track index playing, or SONG_TRACK_NONE */
    int32_t max_position;    /* last bucket, seconds */
    int32_t first_bucket;    /* the leader's bucket, seconds */
    int32_t depth;           /* layering depth in use */
} song_t;

/* What song_start() asks the daemon to do next. */
typedef enum {
    SONG_START_REFUSED = -1, /* song_start_refusal() said why; nothing changed */
    SONG_START_NOTHING = 0,
    SONG_START_METRONOME,    /* turn the metronome on, backfilled from start */
    SONG_START_TRACK,        /* play s->playing_track from its beginning */
} song_start_action_t;

/* Resets the whole state (the protocol's state reset, section 6.2), using
 * the given layering depth. */
void song_reset(song_t *s, int32_t depth);

/* The phase the state is in. */
song_phase_t song_phase(const song_t *s);

/* request_lead from `leader`: clears start and end, stops the metronome and
 * makes `leader` the leader.  The caller assigns delays and zeroes the
 * rings. */
void song_request_lead(song_t *s, uint64_t leader);

/* True when `who` may start or stop: anyone while there is no leader, else
 * only the leader. */
bool song_may_control(const song_t *s, uint64_t who);

/* The sentence that refuses a start, or NULL when a start may go ahead:
 * a metronome song needs a tempo (with no bpm it would click nothing, and
 * its recording would hold no beat).  requested_track is the track the
 * start would play (s->requested_track, or the one the same request asks
 * for) and bpm the tempo it would have (s->bpm, or the request's). */
const char *song_start_refusal(int32_t requested_track, int32_t bpm);

/* mark_start_singing at `read_clock`: sets the start, clears the end and
 * turns rounds into the metronome; returns what to start.  read_clock <= 0
 * is refused (returns SONG_START_NOTHING, state unchanged), and so is what
 * song_start_refusal() refuses (SONG_START_REFUSED, state unchanged). */
song_start_action_t song_start(song_t *s, int64_t read_clock);

/* mark_stop_singing: the song ends at `end_clock` (the stopper's last write
 * clock, or their read clock when they never wrote), the track and the
 * metronome stop and the leader is cleared. */
void song_stop(song_t *s, int64_t end_clock);

/* The backing track ran out at `clock`: the song ends there. */
void song_track_ended(song_t *s, int64_t clock);

/* Requests a track (an index, or SONG_TRACK_METRONOME) for the next start;
 * ignored while a start is set (quirk 28, kept). */
void song_request_track(song_t *s, int32_t track);

/* Sets bpm, repeats, bpr where the argument is >= 0 and in range (1..500,
 * 0..20, 0..500); others are left as they are.  Returns true if anything
 * changed. */
bool song_set_tempo(song_t *s, int32_t bpm, int32_t repeats, int32_t bpr);

/* Section 9.8: is an upload ending at w with n samples part of the song? */
bool song_upload_active(const song_t *s, int64_t w, uint32_t n);

/* Section 9.2: does a read ending at r with n samples hear the mix? */
bool song_read_active(const song_t *s, int64_t r, uint32_t n);

#endif
