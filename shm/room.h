/*
 * room.h - one room's daemon, separate from the host daemon (daemon.h)
 * that runs one per room, so that tests can drive a room tick by tick.
 *
 * Each tick it drains the workers' command lanes of the room's segment and
 * applies the commands in clock order (checking each against the roles of
 * roles.h on the state it holds), keeps the rings cleared about a second
 * ahead of the clock while writing the backing track or metronome into the
 * backing ring, expires users (inactive after 5 s, forgotten after 5
 * minutes), resets the song state when no one is active, republishes the
 * control state and the user summary, and writes the recording.  Started
 * on a live segment it re-attaches and carries on from the state it finds
 * there.
 */
#ifndef BB_ROOM_H
#define BB_ROOM_H

#include <stdbool.h>
#include <stdint.h>

#include "media/recdir.h"
#include "segment.h"

/* What a room asks of the host daemon: the organiser's room controls,
 * which live in the rooms database (CMD_ROOM_KEY, CMD_ROOM_CAP). */
typedef void (*rm_host_fn)(void *user, const char *room_id, const seg_cmd_t *c);

typedef struct {
    const char *segment;         /* POSIX shm name of the room's timeline */
    const char *id;              /* the room's public id, for the log */
    bool is_default;             /* the default room (its log lines name no room) */
    uint32_t ring_seconds;       /* SEG_RING_SECONDS_DEFAULT */
    uint32_t user_cap;           /* SEG_USERS_DEFAULT */
    const char *audio_dir;       /* the host's backing tracks; may be NULL */
    const char *uploads_dir;     /* the room's own uploaded tracks; may be NULL */
    const char *recordings_dir;  /* the room's recordings; NULL disables them */
    const char *cache_dir;       /* prepared tracks (the room's own in ROOMID/ there);
                                    NULL: no tracks */
    int32_t depth;               /* layering depth, default 5 */
    uint64_t seed;               /* delay assignment order; 0 = random */
    rm_host_fn host;             /* may be NULL: room controls are then ignored */
    void *host_user;
} rm_config_t;

typedef struct rm rm_t;

/* Fills a configuration with the defaults. */
void rm_config_defaults(rm_config_t *c);

/* Creates or re-attaches the room's segment, takes the daemon role,
 * restores the control state found there.  Returns NULL and writes a
 * sentence into why (whylen bytes) on failure. */
rm_t *rm_create(const rm_config_t *cfg, char *why, size_t whylen);

/* Runs one tick at server clock `now`. */
void rm_tick(rm_t *r, int64_t now);

/* The segment (tests). */
seg_t *rm_segment(rm_t *r);

/* True if the segment was created by this daemon (not re-attached). */
bool rm_created(const rm_t *r);

/* True when nobody was heard in the room for `quiet` samples and no song
 * is under way.  An idle room costs next to nothing: its ticks only look
 * for commands, and every 2 s for a singer who came back. */
bool rm_idle(const rm_t *r, int64_t now, int64_t quiet);

/* Whether the room sleeps: nobody there for a minute, no clearing ahead;
 * its ticks read one word unless a worker queued something. */
bool rm_asleep(const rm_t *r);

/* The start clock of the song the room is recording now (its recording
 * open, or its window not yet open), or 0.  Its files must stay. */
int64_t rm_recording_song(const rm_t *r);

/* Stops the recording of the current song for `why` (recdir.h): the file
 * is closed with its project, and this song is not recorded any further;
 * the song itself goes on.  A song whose recording has not begun will not
 * be recorded.  Nothing when no song is being recorded. */
void rm_rec_stop(rm_t *r, rec_end_t why);

/* Stops: finishes the recording in progress, releases the segment (which
 * stays, with its timeline, for the next daemon).  Accepts NULL. */
void rm_destroy(rm_t *r);

#endif
