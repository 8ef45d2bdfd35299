/* rig.h - a daemon and its segment in one process: what the daemon and
 * worker tests, the request benchmark and the fuzz harnesses stand on.
 *
 * rig_open() makes a private segment named after the caller and its pid
 * (removing a leftover of the same name), runs a daemon over it in this
 * process - nothing runs it but rig_tick(), so time is the caller's - and
 * attaches to the segment as a worker would.  Header-only.
 */
#ifndef BB_TESTS_RIG_H
#define BB_TESTS_RIG_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "room.h"
#include "segment.h"

typedef struct {
    char name[64];
    rm_t *d;
    seg_t *seg;
    int64_t now;   /* the server clock as the caller moves it */
} rig_t;

/* What differs between users of the rig; 0 keeps the daemon's default. */
typedef struct {
    uint32_t ring_seconds;
    uint32_t user_cap;
    int32_t depth;
    uint64_t seed;
    const char *recordings_dir;   /* NULL: the daemon records nothing */
} rig_opts_t;

/* Creates "/bb<tag>-<pid>" with a daemon over it and attaches; the clock
 * starts at the real server clock.  Returns 0, or -1 with the reason on
 * stderr (nothing left behind). */
static inline int rig_open(rig_t *r, const char *tag, const rig_opts_t *o)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "/bb%s-%d", tag, (int)getpid());
    seg_unlink(r->name);
    rm_config_t cfg;
    rm_config_defaults(&cfg);
    cfg.segment = r->name;
    if (o && o->ring_seconds)
        cfg.ring_seconds = o->ring_seconds;
    if (o && o->user_cap)
        cfg.user_cap = o->user_cap;
    if (o && o->depth)
        cfg.depth = o->depth;
    if (o && o->seed)
        cfg.seed = o->seed;
    if (o && o->recordings_dir)
        cfg.recordings_dir = o->recordings_dir;
    char why[256];
    r->d = rm_create(&cfg, why, sizeof why);
    if (!r->d) {
        fprintf(stderr, "rig: %s\n", why);
        return -1;
    }
    seg_err_t err;
    r->seg = seg_attach(r->name, &err);
    if (!r->seg) {
        fprintf(stderr, "rig: attaching %s: %s\n", r->name, err.msg);
        rm_destroy(r->d);
        seg_unlink(r->name);
        return -1;
    }
    r->now = seg_now();
    return 0;
}

/* Moves the clock by `ms` milliseconds in the daemon's 5 ms ticks. */
static inline void rig_tick(rig_t *r, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        r->now += 240;
        rm_tick(r->d, r->now);
    }
}

/* Detaches, stops the daemon and removes the segment. */
static inline void rig_close(rig_t *r)
{
    if (r->seg)
        seg_detach(r->seg);
    if (r->d)
        rm_destroy(r->d);
    seg_unlink(r->name);
    r->seg = NULL;
    r->d = NULL;
}

#endif
