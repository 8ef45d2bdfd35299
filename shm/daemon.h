/*
 * daemon.h - the timeline daemon's logic, separate from its main() so that
 * tests can drive it tick by tick.
 *
 * One daemon runs per host.  Each tick it drains the workers' command lanes
 * and applies the commands in clock order, keeps the rings cleared about a
 * second ahead of the clock while writing the backing track or metronome
 * into the backing ring, expires users (inactive after 5 s, forgotten after
 * an hour), resets the song state when no one is active, republishes the
 * control state and the user summary, and writes recordings.  Started on a
 * live segment it re-attaches and carries on from the state it finds there.
 */
#ifndef BB_DAEMON_H
#define BB_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "segment.h"

typedef struct {
    const char *segment;         /* POSIX shm name, "/bb" */
    uint32_t ring_seconds;       /* SEG_RING_SECONDS_DEFAULT */
    uint32_t user_cap;           /* SEG_USERS_DEFAULT */
    const char *audio_dir;       /* backing tracks; may be NULL */
    const char *recordings_dir;  /* recordings; NULL disables them */
    const char *cache_dir;       /* prepared tracks; NULL: no tracks */
    int32_t keep;                /* recordings kept, default 20 */
    int32_t depth;               /* layering depth, default 5 */
    uint64_t seed;               /* delay assignment order; 0 = random */
} dmn_config_t;

typedef struct dmn dmn_t;

/* Fills a configuration with the defaults. */
void dmn_config_defaults(dmn_config_t *c);

/* Creates or re-attaches the segment, takes the daemon role, restores the
 * control state found there.  Returns NULL and writes a sentence into
 * why (whylen bytes) on failure. */
dmn_t *dmn_create(const dmn_config_t *cfg, char *why, size_t whylen);

/* Runs one tick at server clock `now`. */
void dmn_tick(dmn_t *d, int64_t now);

/* Sleeping between ticks: read the wake word before a tick, then sleep
 * until a worker bumps it (it queued commands) or max_ns passed. */
uint32_t dmn_wake_word(dmn_t *d);
void dmn_wait(dmn_t *d, uint32_t seen, int64_t max_ns);

/* The segment (tests). */
seg_t *dmn_segment(dmn_t *d);

/* True if the segment was created by this daemon (not re-attached). */
bool dmn_created(const dmn_t *d);

/* Stops: finishes the recording in progress, releases the segment (which
 * stays, with its timeline, for the next daemon).  Accepts NULL. */
void dmn_destroy(dmn_t *d);

#endif
