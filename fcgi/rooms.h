/*
 * rooms.h - the rooms a worker serves.
 *
 * A request names its room (room=ID; none: the default room) and carries
 * a key (key=KEY, from the room's link).  The worker finds the room in the
 * host segment's directory (host.h), checks the key against the room's
 * hashes, and serves the request with that room's exchange: the room's
 * timeline segment, attached on the room's first request, with this
 * worker's command lane in it, its singers, its shared encodings and its
 * stems.  Rooms are independent: nothing of one is heard or seen in
 * another.  A room that was closed (its directory slot freed or given to
 * another room) is detached at the next housekeeping.
 */
#ifndef BB_ROOMS_H
#define BB_ROOMS_H

#include <stdbool.h>
#include <stdint.h>

#include "exchange.h"
#include "host.h"

typedef struct {
    const char *host_segment;    /* "/bucket-brigade" */
    uint32_t worker_id;
    uint32_t max_singers;        /* singers one room can have on this worker */
    const char *recordings_dir;  /* stems go here (the default room) or to DIR/<room id>/;
                                    NULL: no stems */
    bool no_sharing;             /* see ex_set_sharing() */
    bool no_bank;                /* see ex_set_bank() */
    bool no_timing_watch;        /* see ex_set_timing_watch() */
    int private_complexity;      /* see ex_set_private_complexity() */
    int64_t sync_ns;             /* see ex_set_command_sync() */
    prof_t *life, *demand;       /* the worker's profiles, for every room's timings */
} wr_config_t;

typedef struct wr wr_t;
typedef struct wr_room wr_room_t;

/* What entering a room gives. */
typedef enum {
    WR_OK = 0,
    WR_NOROOM = -1,    /* no open room of that id, or a wrong key: 403 */
    WR_STARTING = -2,  /* the room's timeline is not there yet: 503, retry */
    WR_NOMEM = -3,     /* 503 */
} wr_status_t;

/* Creates the rooms of a worker over the attached host segment (borrowed).
 * NULL when out of memory. */
wr_t *wr_create(const wr_config_t *cfg, hs_t *host);

/* Detaches every room; accepts NULL. */
void wr_destroy(wr_t *w);

/* The room `id` (NULL or "": the default room) for a request with `key`
 * (may be NULL), and the role the key opens in it.  Returns WR_OK and sets
 * *room and *role, or a wr_status_t with *why a sentence for the client. */
int wr_enter(wr_t *w, const char *id, const char *key, wr_room_t **room, hs_role_t *role,
             const char **why);

/* The room's exchange and its directory entry as last read. */
ex_t *wr_ex(wr_room_t *r);
const hs_room_t *wr_info(const wr_room_t *r);

/* Closed rooms are detached; each room's exchange does its housekeeping.
 * Call about once a second. */
void wr_housekeeping(wr_t *w, int64_t now);

/* The rooms attached now, for metrics: calls fn for each. */
void wr_each(wr_t *w, void (*fn)(void *user, wr_room_t *r), void *user);
uint32_t wr_count(const wr_t *w);

#endif
