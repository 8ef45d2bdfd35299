/*
 * link.h - how a singer's requests reach the server: on time, late, or
 * with gaps (the console's "ok / late / dropping", PROTOCOL.md 9.13).
 *
 * A client reads and uploads in steady batches: its read clock moves on by
 * exactly the samples of each request, so the time a request arrives
 * (the server clock) minus its read clock, the offset, stays put while the
 * network and the browser keep pace.  The tracker keeps the lowest offset
 * of the last LK_WINDOW: that is the singer's own pace, however far back
 * their bucket lies.  A request whose offset is more than LK_LATE above it
 * arrived late (its audio reaches the others' mix late or not at all), and
 * a request that follows the previous one by more than its own length and
 * LK_GAP is a gap (requests were lost or stalled); an upload the server
 * could not use because its clocks were already past counts as late too.  Each verdict holds
 * LK_HOLD after the event, so a console that looks twice a second sees it.
 * A reconnect (reset) starts the window afresh: a singer moved to another
 * bucket reads from another offset; a reconnect after a stall is a gap.  All times are server clocks
 * (samples, 48 kHz).  Pure: no I/O, no shared state.
 */
#ifndef BB_LINK_H
#define BB_LINK_H

#include <stdbool.h>
#include <stdint.h>

#define LK_WINDOW (10 * 48000)       /* the pace is the best offset of 10 s */
#define LK_LATE (48000 * 3 / 10)     /* 300 ms above the pace is late */
#define LK_GAP 48000                 /* a request 1 s later than due is a gap */
#define LK_HOLD (5 * 48000)          /* a verdict shows for 5 s */

typedef enum { LK_OK = 0, LK_LATE_STATE = 1, LK_DROPPING = 2 } lk_state_t;

/* The tracker of one singer; all zeros is a fresh one. */
typedef struct {
    bool known;
    int64_t last_at;         /* server clock of the previous request */
    uint32_t last_n;         /* its samples */
    int64_t half_at;         /* the current half window began here */
    int64_t min_cur;         /* lowest offset of the current half */
    int64_t min_prev;        /* of the half before it */
    int64_t late_at;         /* the last late request; 0: none */
    int64_t gap_at;          /* the last gap; 0: none */
} lk_t;

/* Notes a request that arrived at server clock `now` with read clock
 * read_clock after reading n samples (n > 0); reset: the client
 * reconnected.  Returns the verdict as of now. */
lk_state_t lk_note(lk_t *l, int64_t now, int64_t read_clock, uint32_t n, bool reset);

/* Notes that an upload arrived too late to be used (the timeline or the
 * recorder had passed its clocks): the singer shows late for LK_HOLD. */
void lk_refused(lk_t *l, int64_t now);

/* The verdict at server clock `now` without a new request (a singer whose
 * requests stopped is dropping once a request is LK_GAP overdue). */
lk_state_t lk_state(const lk_t *l, int64_t now);

/* "ok", "late" or "dropping". */
const char *lk_name(lk_state_t s);

#endif
