/*
 * bbclock.h - the client's clock state machine (PROTOCOL.md section 8.2),
 * with no I/O, so it can be tested alone.
 *
 * Every clock counts samples at 48 kHz and names the END of an interval.
 * On each (re)connection the client estimates the server clock S from the
 * GET probe (server_clock plus half the round trip), takes its offset D in
 * whole seconds and starts reading at S - D*48000; our own web client rounds
 * that to the nearest multiple of 2880 (one Opus frame) so that every later
 * clock stays on a frame boundary, the original client does not ("aligned"
 * here selects which).  Then for every batch of n samples:
 *
 *   read_clock  += n                     always;
 *   write_clock += n                     once real audio has started; the
 *                                        first real batch sets
 *                                        write_clock = read_clock - write_lag;
 *   reset_user_state                     on the first POST of a connection.
 *
 * so consecutive POSTs satisfy read_k - n_k == read_{k-1} and, once writing
 * has begun, write_k - n_k == write_{k-1}.  A placeholder batch (no audio,
 * no write_clock) is allowed only before writing has begun.
 *
 * Responses are checked the way the browser checks them: the echoed
 * client_read_clock and n_samples must be those sent, and each response's
 * interval must follow the previous one's (client_read_clock - n_samples ==
 * previous client_read_clock).
 *
 * The state is a plain struct with no pointers: copy it freely.
 */
#ifndef BB_BBCLOCK_H
#define BB_BBCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define BBCLOCK_RATE 48000
#define BBCLOCK_FRAME 2880

/* Error codes: 0 for success, negative values below. */
enum {
    BBCLOCK_OK = 0,
    BBCLOCK_EPARAM = -1,       /* n not a positive multiple of 2880, or bad offset */
    BBCLOCK_ESTATE = -2,       /* not started, or a placeholder after writing began */
    BBCLOCK_EECHO = -3,        /* the response did not echo the clock or length sent */
    BBCLOCK_ECONTINUITY = -4,  /* the response interval does not follow the previous one */
};

const char *bbclock_strerror(int code);

typedef struct {
    int64_t read_clock;    /* END of the last interval requested (the base before the first POST) */
    int64_t write_clock;   /* END of the last interval uploaded; meaningful when writing */
    int64_t last_rx;       /* client_read_clock of the last accepted response */
    int32_t write_lag;     /* samples the first write_clock trails its read_clock */
    int offset_s;          /* D, seconds */
    bool aligned;          /* clocks on multiples of BBCLOCK_FRAME */
    bool started;          /* bbclock_start() was called */
    bool writing;          /* real audio has been sent on this connection */
    bool reset_pending;    /* the next POST carries reset_user_state */
    bool have_rx;          /* last_rx is set */
} bbclock_t;

/* The clocks of one POST. */
typedef struct {
    int64_t read_clock;
    int64_t write_clock;   /* only if has_write */
    int32_t n;
    bool has_write;
    bool reset;            /* send reset_user_state=true */
} bbclock_post_t;

/* The server clock estimate at the moment the probe answer arrived: the
 * reported server_clock plus half the round trip rtt_ns (nanoseconds),
 * rounded to the nearest sample. */
int64_t bbclock_estimate(int64_t server_clock, int64_t rtt_ns);

/* The multiple of BBCLOCK_FRAME nearest to c (halves go up). */
int64_t bbclock_align_nearest(int64_t c);

/* Starts a connection at offset_s seconds (1 .. 1000) behind the estimated
 * server clock.  write_lag (samples, >= 0) is rounded up to a frame when
 * aligned.  Returns 0 or BBCLOCK_EPARAM. */
int bbclock_start(bbclock_t *c, int64_t estimated_server_clock, int offset_s, bool aligned,
                  int32_t write_lag);

/* Advances for the next batch of n samples (a positive multiple of 2880)
 * and fills *out with what the POST carries.  real_audio says whether the
 * batch has a body.  Returns 0, BBCLOCK_EPARAM, or BBCLOCK_ESTATE (not
 * started, or a placeholder after writing began; nothing changes then). */
int bbclock_next(bbclock_t *c, int32_t n, bool real_audio, bbclock_post_t *out);

/* Checks a successful response to the POST `sent`.  Returns 0 (and records
 * the interval), BBCLOCK_EECHO or BBCLOCK_ECONTINUITY. */
int bbclock_check_response(bbclock_t *c, const bbclock_post_t *sent, int64_t client_read_clock,
                           int64_t n_samples);

#endif
