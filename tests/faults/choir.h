/*
 * choir.h - a small choir for the fault tests: each voice is a bbclient
 * singer (the real protocol, real Opus, through nginx) in its own thread,
 * paced in real time, singing a pure tone of its own frequency at exact
 * timeline clocks.  While the test injects a fault, every voice records
 * what happened to each of its exchanges and what it heard; afterwards the
 * test asks precise questions:
 *
 *   - which exchanges failed, how (HTTP status, kill_client message), on
 *     which worker each was served, how often the voice reconnected;
 *   - which stretches of the timeline the voice certainly wrote (answered
 *     200), which it may have written (the request failed after it left),
 *     and therefore which of its audio was lost;
 *   - whether each listener heard each earlier voice exactly where it was
 *     written: present in every 60 ms frame covered by a certain write,
 *     absent where nothing was written, at the level the mix predicts
 *     (amp x 3 / (singers + 2) x volume), so a gap, a shift or a voice
 *     counted twice shows;
 *   - whether any answer to a voice carried another voice's userid (the
 *     secret; only public ids may be shown to others).
 *
 * Signals: voice i sings amp * sin(2 pi f_i t / 48000) at timeline clock t
 * (t counted from the Unix epoch), whenever it uploads.  Frequencies are
 * multiples of 50 Hz, so each falls on an exact bin of a 2880-sample (60 ms)
 * Goertzel window and voices do not leak into each other's measurement.
 * What a listener hears at clock c comes from the timeline at c - 312 (the
 * server's Opus encoder delay), and a voice's upload at clock t sits in the
 * timeline at t + 312 (the voice's own encoder delay): so a listener hears
 * a write [a, b) of a voice as the tone over [a + 624, b + 312).
 *
 * Threads: the test's main thread makes the choir and the voices, queues
 * actions (lead, start, stop, chat) and reads results; each voice's thread
 * owns its bbclient handle.  Shared fields are under the voice's mutex.
 */
#ifndef BB_CHOIR_H
#define BB_CHOIR_H

#include <stdbool.h>
#include <stdint.h>

#include "bbclient.h"

#define CH_MAX_VOICES 48
#define CH_AMP 0.25                 /* amplitude of every voice's tone */
#define CH_SECONDS 200              /* longest run a voice records */
#define CH_FRAME 2880

typedef struct ch_choir ch_choir_t;
typedef struct ch_voice ch_voice_t;

/* One exchange (a POST, preceded by a probe when the voice reconnected). */
typedef struct {
    long long t_ns;           /* CLOCK_MONOTONIC when it ended */
    int64_t server_clock;     /* server clock of the answer (0 if none) */
    int rc;                   /* bbclient code: 0 = every check passed */
    int status;               /* HTTP status of the POST (0: none) */
    bool posted;              /* a POST left (false: the probe failed) */
    bool reconnected;         /* a probe came first */
    int worker;               /* worker that answered (-1: unknown) */
    int64_t read_clock;       /* of the POST */
    int64_t write_clock;
    bool has_write;
    int n;
    int64_t song_start;       /* song_start_clock in the answer, 0 if none */
    int64_t song_end;
    int n_users;              /* -1 if absent */
    char leader[64];          /* as the answer gave it ("" for null) */
    char leader_name[128];
    char message[200];        /* kill_client message or the error text */
} ch_rec_t;

typedef struct {
    const char *name;         /* display name */
    const char *userid;       /* decimal; NULL: chosen by bbclient */
    int offset_s;             /* bucket, seconds */
    int hz;                   /* tone, a multiple of 50; 0 = sings silence */
    bool spectator;           /* listen only */
    bool deaf;                /* sing only: answers are checked, not decoded, and
                                 nothing is heard (ch_heard() has no frames of the
                                 voice's); spares the CPU of a large choir */
    int timeout_ms;           /* per request; 0: 5000 */
    const char *from_addr;    /* loopback address the voice connects from ("127.0.0.2":
                                 one the per-address limits count); NULL: 127.0.0.1,
                                 which they exempt */
} ch_voice_cfg_t;

/* A choir singing through nginx at http ("127.0.0.1:PORT"). */
ch_choir_t *ch_choir_new(const char *http);
/* Stops every voice still running and frees everything. */
void ch_choir_free(ch_choir_t *c);

/* Adds a voice (not yet singing).  NULL on failure. */
ch_voice_t *ch_voice_add(ch_choir_t *c, const ch_voice_cfg_t *cfg);
/* Starts / stops the voice's thread (stop waits for its exchange to end). */
int ch_voice_start(ch_voice_t *v);
void ch_voice_stop(ch_voice_t *v);
void ch_stop_all(ch_choir_t *c);

/* Actions queued for the voice's next POST. */
void ch_lead(ch_voice_t *v);
void ch_start_song(ch_voice_t *v);
void ch_stop_song(ch_voice_t *v);
void ch_chat(ch_voice_t *v, const char *text);
void ch_param(ch_voice_t *v, const char *name, const char *value);

/* Waits until the voice has had `n` more exchanges that passed every
 * check, at most timeout_ms.  Returns 0, or -1 on timeout. */
int ch_wait_ok(ch_voice_t *v, int n, int timeout_ms);

/* Identity. */
const char *ch_name(const ch_voice_t *v);
const char *ch_userid(const ch_voice_t *v);
int ch_offset(const ch_voice_t *v);
int ch_hz(const ch_voice_t *v);
/* The public id the server gave the voice ("" until answered). */
void ch_public_id(ch_voice_t *v, char *out, size_t cap);

/* Records so far: copies up to cap of them (from the first) into out and
 * returns how many there are in all. */
int ch_records(ch_voice_t *v, ch_rec_t *out, int cap);
/* A copy of the last record; false if none. */
bool ch_last(ch_voice_t *v, ch_rec_t *out);
/* The voice's bbclient statistics. */
void ch_stats(ch_voice_t *v, bbc_stats_t *out);
/* Exchanges that failed, and answers that carried another voice's userid. */
int ch_failures(ch_voice_t *v);
int ch_leaks(ch_voice_t *v);

/* Chats the voice received, in order: (name, text); returns the count. */
int ch_chats(ch_voice_t *v, int i, char *name, size_t ncap, char *text, size_t tcap);

/* ---- what was written and what was heard -------------------------------- */

/* A stretch of the timeline [a, b). */
typedef struct {
    int64_t a, b;
} ch_span_t;

/* The voice's uploads stored in the song that starts at `start` (ends at
 * `end`, 0 = open): spans it certainly wrote (merged; answered 200 by a
 * worker that knew the song: the answer carries its start) and spans it
 * may have written (the POST failed after it left).  An upload a worker
 * took before the daemon had started the song was not stored, even where
 * its clocks lie after the start: a singer in the leader's bucket writes
 * the clocks just after the start at the moment the leader asks for it,
 * and another worker may take that upload within the daemon's tick;
 * its answer says the song had not started.  Returns the number of
 * certain spans (up to cap in sure[]); *nmaybe the maybe spans. */
int ch_written(ch_voice_t *v, int64_t start, int64_t end, ch_span_t *sure, int cap,
               ch_span_t *maybe, int mcap, int *nmaybe);

/* What `listener` heard of `source` over the clocks [from, to) (listener's
 * clocks, i.e. as it received them). */
typedef struct {
    int frames;               /* frames received and judged */
    int expect_on;            /* frames inside a certain write of the source */
    int on_ok;                /* ... where the tone was there */
    int missing;              /* ... where it was not: a gap */
    int longest_gap;          /* longest run of missing frames */
    int64_t first_missing;    /* listener clock of the first missing frame, 0 */
    int expect_off;           /* frames far from any write of the source */
    int stray;                /* ... where the tone was there anyway */
    int level_checked;        /* frames whose level was compared */
    int level_bad;            /* ... off by more than 35 % */
    double worst_ratio;       /* measured level over the nearest bound of the expected
                                 range (1 inside it), furthest from 1 */
} ch_heard_t;

/* Compares what listener heard of source with what every voice of the
 * choir wrote, for the song [start, end).  Both voices must be stopped. */
void ch_heard(ch_choir_t *c, ch_voice_t *listener, ch_voice_t *source, int64_t start, int64_t end,
              int64_t from, int64_t to, ch_heard_t *out);

/* Prints a one-line account of ch_heard's result. */
void ch_heard_print(const ch_voice_t *listener, const ch_voice_t *source, const ch_heard_t *h);

/* Frames the listener received over [from, to) and frames it should have
 * (every 60 ms over the range): a gap in what it heard. */
int ch_frames_received(ch_voice_t *v, int64_t from, int64_t to);

#endif
