/*
 * retain.c - the daemon's keeper of recordings (retain.h).
 *
 * One mutex guards the protections, the stop requests, the kick and the
 * stop flag; the condition variable (on CLOCK_MONOTONIC) wakes the thread
 * for a kick or to stop.  The sweep itself runs unlocked; its protect and
 * stop callbacks take the mutex for a lookup each.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomics.h"
#include "media/recretain.h"
#include "retain.h"
#include "strutil.h"

#define RT_FRESH_S 10    /* a song changed this recently is spared by the bytes rule */
#define RT_SEAL_S 120    /* unchanged this long without a project: sealed as cut off */

typedef struct {
    char room[HS_ID_MAX];
    char stamp[REC_SONG_NAME_LEN + 1];   /* "" when the slot records nothing */
    int64_t song;
    bool stop;                           /* the keeper asked it to stop */
} rt_slot_t;

struct rt {
    rt_config_t cfg;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit, kicked;
    uint64_t sweeps;
    /* Stop requests not yet taken: written under mu, read without it by
     * rt_take_stop()'s first look.  relaxed: the mutex orders the rest. */
    _Atomic uint32_t pending;
    rt_slot_t slots[HS_ROOMS_MAX];
};

static void log_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "bb-shmd: %s\n", line);
}

static bool protect_cb(void *user, const char *room, const char *stamp)
{
    rt_t *t = user;
    bool yes = false;
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < HS_ROOMS_MAX && !yes; i++)
        yes = t->slots[i].stamp[0] && strcmp(t->slots[i].stamp, stamp) == 0
              && strcmp(t->slots[i].room, room) == 0;
    pthread_mutex_unlock(&t->mu);
    return yes;
}

static bool stop_cb(void *user, const char *room, const char *stamp)
{
    rt_t *t = user;
    bool asked = false;
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < HS_ROOMS_MAX; i++) {
        rt_slot_t *s = &t->slots[i];
        if (s->stamp[0] && !s->stop && strcmp(s->stamp, stamp) == 0 && strcmp(s->room, room) == 0) {
            s->stop = true;
            store_relaxed(&t->pending, load_relaxed(&t->pending) + 1);
            asked = true;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return asked;
}

static void sweep(rt_t *t)
{
    rec_retain_t c = {
        .root = t->cfg.root,
        .keep = t->cfg.keep,
        .keep_days = t->cfg.keep_days,
        .max_bytes = t->cfg.max_bytes,
        .now = (int64_t)time(NULL),
        .fresh_s = RT_FRESH_S,
        .seal_s = RT_SEAL_S,
        .protect = protect_cb,
        .stop = stop_cb,
        .user = t,
        .log = log_line,
    };
    rec_retain_report_t rep;
    int rc = rec_retain_sweep(&c, &rep);
    if (rc != REC_OK) {
        fprintf(stderr, "bb-shmd: recordings: the sweep of %s failed: %s\n", t->cfg.root, rec_strerror(rc));
        return;
    }
    if (t->cfg.host) {
        hs_rec_stats_t st = {.stopped = rep.stopped, .sealed = rep.sealed, .bytes = rep.bytes,
                             .max_bytes = t->cfg.max_bytes};
        for (int i = 0; i < HS_REC_REASONS && i < REC_GONE_REASONS; i++)
            st.deleted[i] = rep.deleted[i];
        hs_rec_report(t->cfg.host, &st);
    }
}

/* Waits until a kick, a stop, or every_ms from now; under mu. */
static void nap(rt_t *t)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += t->cfg.every_ms / 1000;
    until.tv_nsec += (long)(t->cfg.every_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!t->quit && !t->kicked)
        if (pthread_cond_timedwait(&t->cv, &t->mu, &until) == ETIMEDOUT)
            break;
}

static void *run(void *arg)
{
    rt_t *t = arg;
    pthread_mutex_lock(&t->mu);
    /* The first sweep waits for the first kick: the owner tells what is
     * being recorded first. */
    nap(t);
    while (!t->quit) {
        t->kicked = false;
        pthread_mutex_unlock(&t->mu);
        sweep(t);
        pthread_mutex_lock(&t->mu);
        t->sweeps++;
        nap(t);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

rt_t *rt_create(const rt_config_t *cfg, char *why, size_t whylen)
{
    if (!cfg->root || cfg->keep < 1 || cfg->keep_days < 0 || cfg->every_ms < 10) {
        snprintf(why, whylen, "recordings keeper: invalid configuration");
        return NULL;
    }
    rt_t *t = calloc(1, sizeof *t);
    if (!t || !(t->cfg.root = strdup(cfg->root))) {
        free(t);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    t->cfg.keep = cfg->keep;
    t->cfg.keep_days = cfg->keep_days;
    t->cfg.max_bytes = cfg->max_bytes;
    t->cfg.every_ms = cfg->every_ms;
    t->cfg.host = cfg->host;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&t->thread, NULL, run, t);
    if (rc != 0) {
        snprintf(why, whylen, "recordings keeper: pthread_create: %s", strerror(rc));
        rt_destroy(t);
        return NULL;
    }
    t->started = true;
    return t;
}

void rt_protect(rt_t *t, uint32_t slot, const char *room, int64_t song_start)
{
    if (slot >= HS_ROOMS_MAX)
        return;
    char stamp[REC_SONG_NAME_LEN + 1] = "";
    if (song_start > 0 && rec_song_name(song_start, stamp, sizeof stamp) != REC_OK)
        stamp[0] = '\0';
    pthread_mutex_lock(&t->mu);
    rt_slot_t *s = &t->slots[slot];
    bool fresh = stamp[0] && s->song != song_start;
    if (s->stop)
        store_relaxed(&t->pending, load_relaxed(&t->pending) - 1);
    str_copy(s->room, sizeof s->room, room ? room : "");
    memcpy(s->stamp, stamp, sizeof stamp);
    s->song = stamp[0] ? song_start : 0;
    s->stop = false;
    if (fresh) {
        t->kicked = true;
        pthread_cond_signal(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
}

bool rt_take_stop(rt_t *t, uint32_t slot, int64_t *song_start)
{
    /* relaxed: a first look; the mutex orders what follows */
    if (slot >= HS_ROOMS_MAX || load_relaxed(&t->pending) == 0)
        return false;
    bool yes = false;
    pthread_mutex_lock(&t->mu);
    rt_slot_t *s = &t->slots[slot];
    if (s->stop) {
        s->stop = false;
        store_relaxed(&t->pending, load_relaxed(&t->pending) - 1);
        *song_start = s->song;
        yes = true;
    }
    pthread_mutex_unlock(&t->mu);
    return yes;
}

void rt_kick(rt_t *t)
{
    pthread_mutex_lock(&t->mu);
    t->kicked = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

uint64_t rt_sweeps(rt_t *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t n = t->sweeps;
    pthread_mutex_unlock(&t->mu);
    return n;
}

void rt_destroy(rt_t *t)
{
    if (!t)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->mu);
        t->quit = true;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free((char *)t->cfg.root);
    free(t);
}
