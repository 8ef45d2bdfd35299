/*
 * retain.h - the daemon's keeper of recordings: a thread of its own that
 * sweeps the host's recordings folder (media/recretain.h) every few
 * seconds, and at once when a recording begins, so that no tick of the
 * daemon ever waits on a readdir or an unlink.
 *
 * The main thread tells it which song each directory slot (host.h) is
 * recording now (rt_protect()); those are never deleted.  When only they
 * keep the recordings over the bytes cap, the thread asks for them to stop
 * (rt_take_stop()), and the main thread stops them between ticks
 * (rm_rec_stop(), REC_END_DISK): the song goes on unrecorded.  After each
 * sweep the thread adds what it did to the host segment's counters
 * (hs_rec_report(), its own cache line), which every worker's metrics
 * show.
 *
 * Threads: rt_protect(), rt_take_stop(), rt_kick(), rt_sweeps() and
 * rt_destroy() are the main thread's; the sweep runs on the keeper's
 * thread.  What they share is under one mutex, held for copies only,
 * never across a file operation.
 */
#ifndef BB_RETAIN_H
#define BB_RETAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "host.h"

typedef struct {
    const char *root;        /* the recordings folder (the default room's, ROOMID/ for others) */
    int keep;                /* songs kept per room, >= 1 */
    int keep_days;           /* days kept; 0: no age limit */
    uint64_t max_bytes;      /* all recordings together; 0: no cap */
    int every_ms;            /* between sweeps, >= 10 */
    hs_t *host;              /* its counters; may be NULL */
} rt_config_t;

typedef struct rt rt_t;

/* Starts the keeper.  Its first sweep waits for the first rt_kick() (or
 * every_ms): set the protections (rt_protect()) first, so that a
 * recording a restarted daemon resumes is never taken for an abandoned
 * one.  Returns NULL with the reason in why (whylen bytes). */
rt_t *rt_create(const rt_config_t *cfg, char *why, size_t whylen);

/* Slot `slot` (< HS_ROOMS_MAX), room `room`, records the song that
 * started at song_start (0: nothing; also for a freed slot).  A new song
 * being recorded sweeps at once (the room's oldest songs beyond `keep`
 * go then). */
void rt_protect(rt_t *t, uint32_t slot, const char *room, int64_t song_start);

/* True, once, if the keeper asked that slot's recording stop, with the
 * song's start clock in *song_start.  Cheap when nothing was asked (one
 * atomic load). */
bool rt_take_stop(rt_t *t, uint32_t slot, int64_t *song_start);

/* Asks for a sweep now. */
void rt_kick(rt_t *t);

/* Sweeps finished so far (tests). */
uint64_t rt_sweeps(rt_t *t);

/* Stops the thread (waiting for a sweep under way) and frees; accepts
 * NULL. */
void rt_destroy(rt_t *t);

#endif
