/*
 * daemon.h - the host daemon: the rooms a host serves, kept in step with
 * the rooms database, each run by its room daemon (room.h).
 *
 * One daemon runs per host.  It owns the host segment (host.h) and fills
 * its directory with the open rooms of the rooms database (rooms/roomdb.h)
 * and, if the operator wants it, the default room of the original client.
 * For each room it creates or re-attaches the room's timeline segment and
 * ticks its room daemon; a room closed in the database leaves the
 * directory (its links stop working at once) and its segment is removed.
 * The database is read again whenever another process (bb-room) changed
 * it, and written when an organiser replaces a link or caps the singers.
 * Started on a live host segment it re-attaches, and every room's song
 * goes on.
 *
 * With a recordings folder it also runs the keeper of recordings
 * (retain.h), a thread that holds the host's recordings to the
 * operator's limits (songs per room, days, bytes) without ever deleting
 * the song a room is recording; when only those are left over the bytes
 * cap, their recording stops between two ticks and the songs go on.
 */
#ifndef BB_DAEMON_H
#define BB_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "room.h"
#include "segment.h"

/* Days a recording is kept unless the operator says otherwise: a month
 * leaves a choir time to take home what it wants, without keeping
 * people's voices for ever. */
#define DMN_KEEP_DAYS 30

typedef struct {
    const char *segment;         /* the host segment, "/bb"; a room's is SEGMENT-ID */
    const char *db_path;         /* the rooms database; NULL: the default room only */
    bool default_room;           /* serve the default room (the original client) */
    bool default_uploads;        /* in it, the leader may upload tracks */
    uint32_t ring_seconds;       /* per room: SEG_RING_SECONDS_DEFAULT */
    uint32_t user_cap;           /* per room: SEG_USERS_DEFAULT */
    uint32_t max_singers;        /* the host's cap on a room's singers (0: none) */
    const char *audio_dir;       /* backing tracks; may be NULL */
    const char *recordings_dir;  /* the default room's recordings, and ID/ for a room's */
    const char *cache_dir;       /* prepared tracks; NULL: no tracks */
    int32_t keep;                /* recordings kept per room, default 20 */
    int32_t keep_days;           /* days a recording is kept, default DMN_KEEP_DAYS; 0: no limit */
    uint64_t rec_max_bytes;      /* all recordings of the host; 0 (default): no cap */
    int32_t rec_sweep_ms;        /* between sweeps of the recordings, default 10000 */
    int32_t depth;               /* layering depth, default 5 */
    uint64_t seed;               /* delay assignment order; 0 = random */
} dmn_config_t;

typedef struct dmn dmn_t;

/* Fills a configuration with the defaults (the default room on). */
void dmn_config_defaults(dmn_config_t *c);

/* Creates or re-attaches the host segment, opens the rooms database, and
 * brings up every room.  Returns NULL and writes a sentence into why
 * (whylen bytes) on failure. */
dmn_t *dmn_create(const dmn_config_t *cfg, char *why, size_t whylen);

/* Runs one tick of every room at server clock `now`, and looks at the
 * database twice a second. */
void dmn_tick(dmn_t *d, int64_t now);

/* Sleeping between ticks: read the host's wake word before a tick, then
 * sleep until a worker bumps it (it queued commands in any room) or max_ns
 * passed. */
uint32_t dmn_wake_word(dmn_t *d);
void dmn_wait(dmn_t *d, uint32_t seen, int64_t max_ns);

/* Whether every room sleeps and nothing waits for the database: the
 * daemon may then tick less often (a worker's commands still wake it at
 * once). */
bool dmn_asleep(const dmn_t *d);

/* The room daemon of room `id` ("default" for the default room), or NULL
 * (tests). */
rm_t *dmn_room(dmn_t *d, const char *id);

/* Sweeps of the recordings finished so far, and a request for one now
 * (tests).  0 / nothing without a recordings folder. */
uint64_t dmn_rec_sweeps(dmn_t *d);
void dmn_rec_kick(dmn_t *d);

/* Stops every room (their segments stay, for the next daemon) and releases
 * the host segment.  Accepts NULL. */
void dmn_destroy(dmn_t *d);

#endif
