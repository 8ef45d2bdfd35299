/*
 * trackset.c - background scans and the open track.
 *
 * The scanner thread owns nothing but the scan it is building; it hands a
 * finished scan over under a mutex (never held across I/O) and the daemon's
 * tick takes it with a trylock-free swap in tset_poll().  The thread exits
 * when asked (an atomic flag, also polled inside long conversions through
 * trk_env_t.cancel).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "song.h"
#include "trackset.h"

struct tset {
    char *audio_dir;
    char *cache_dir;
    char *own_dir;         /* the room's uploads, or NULL */
    char *own_cache;
    pthread_t thread;
    bool have_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool want_scan;        /* under mu */
    trk_scan_t *done;      /* under mu: a finished scan not yet taken */
    bool have_done;        /* under mu: `done` is set (it may be an empty NULL list) */
    atomic_int stop;
    trk_scan_t *cur;       /* the daemon's list */
    bool ready;
    trk_play_t *open;
    int32_t open_idx;
    tset_pcm_t pcm;
};

static void log_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "bb-shmd: tracks: %s\n", line);
}

static void *scanner(void *arg)
{
    tset_t *t = arg;
    trk_env_t env = {log_line, NULL, &t->stop};
    for (;;) {
        pthread_mutex_lock(&t->mu);
        while (!t->want_scan && !atomic_load(&t->stop))
            pthread_cond_wait(&t->cv, &t->mu);
        t->want_scan = false;
        pthread_mutex_unlock(&t->mu);
        if (atomic_load(&t->stop))
            return NULL;
        int err = 0, own_err = 0;
        trk_scan_t *s = trk_scan_create(t->audio_dir, t->cache_dir, &env, &err);
        /* A room's folder exists once something was uploaded to it. */
        bool have_own = t->own_dir && access(t->own_dir, F_OK) == 0;
        trk_scan_t *own = have_own ? trk_scan_create(t->own_dir, t->own_cache, &env, &own_err) : NULL;
        if (err == TRK_ERR_CANCELLED || own_err == TRK_ERR_CANCELLED) {
            trk_scan_destroy(s);
            trk_scan_destroy(own);
            return NULL;
        }
        /* An unreadable directory is an empty list, not a crash. */
        if (!s)
            fprintf(stderr, "bb-shmd: tracks: scan of %s failed: %s\n", t->audio_dir, trk_strerror(err));
        if (have_own && !own)
            fprintf(stderr, "bb-shmd: tracks: scan of %s failed: %s\n", t->own_dir, trk_strerror(own_err));
        size_t n_own = trk_scan_get_count(own);
        s = trk_scan_merge(s, own);
        if (t->own_dir)
            fprintf(stderr, "bb-shmd: tracks: %zu usable in %s and %s (%zu of them the room's own)\n",
                    trk_scan_get_count(s), t->audio_dir, t->own_dir, n_own);
        else
            fprintf(stderr, "bb-shmd: tracks: %zu usable in %s\n", trk_scan_get_count(s), t->audio_dir);
        pthread_mutex_lock(&t->mu);
        trk_scan_destroy(t->done);
        t->done = s;
        t->have_done = true;
        pthread_mutex_unlock(&t->mu);
    }
}

tset_t *tset_new(const char *audio_dir, const char *cache_dir, const char *own_dir,
                 const char *own_cache)
{
    tset_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->open_idx = SONG_TRACK_NONE;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    atomic_init(&t->stop, 0);
    if (!audio_dir || !cache_dir) {
        t->ready = true;
        return t;
    }
    t->audio_dir = strdup(audio_dir);
    t->cache_dir = strdup(cache_dir);
    t->own_dir = own_dir && own_cache ? strdup(own_dir) : NULL;
    t->own_cache = own_dir && own_cache ? strdup(own_cache) : NULL;
    t->want_scan = true;
    if (!t->audio_dir || !t->cache_dir || (own_dir && own_cache && (!t->own_dir || !t->own_cache)) ||
        pthread_create(&t->thread, NULL, scanner, t) != 0) {
        tset_free(t);
        return NULL;
    }
    t->have_thread = true;
    return t;
}

void tset_free(tset_t *t)
{
    if (!t)
        return;
    if (t->have_thread) {
        pthread_mutex_lock(&t->mu);
        atomic_store(&t->stop, 1);
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    trk_play_destroy(t->open);
    trk_scan_destroy(t->done);
    trk_scan_destroy(t->cur);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t->audio_dir);
    free(t->cache_dir);
    free(t->own_dir);
    free(t->own_cache);
    free(t);
}

void tset_rescan(tset_t *t)
{
    if (!t->have_thread)
        return;
    pthread_mutex_lock(&t->mu);
    t->want_scan = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void remap(const trk_scan_t *old, const trk_scan_t *new, int32_t *i)
{
    if (!i || *i < 0)
        return;
    const char *name = trk_scan_get_name(old, (size_t)*i);
    int k = name ? trk_scan_find(new, name) : TRK_ERR_NOT_FOUND;
    *i = k >= 0 ? k : SONG_TRACK_NONE;
}

bool tset_poll(tset_t *t, int32_t *a, int32_t *b)
{
    if (!t->have_thread)
        return false;
    trk_scan_t *s = NULL;
    bool got = false;
    pthread_mutex_lock(&t->mu);
    if (t->have_done) {
        s = t->done;
        t->done = NULL;
        t->have_done = false;
        got = true;
    }
    pthread_mutex_unlock(&t->mu);
    if (!got)
        return false;
    if (t->ready) {
        remap(t->cur, s, a);
        remap(t->cur, s, b);
        if (t->open_idx >= 0) {
            /* The open track stays mapped; only its index moves. */
            remap(t->cur, s, &t->open_idx);
        }
    }
    trk_scan_destroy(t->cur);
    t->cur = s;
    t->ready = true;
    return true;
}

bool tset_ready(const tset_t *t) { return t->ready; }

uint32_t tset_count(const tset_t *t) { return (uint32_t)trk_scan_get_count(t->cur); }

const char *tset_name(const tset_t *t, int32_t i)
{
    const char *n = i >= 0 ? trk_scan_get_name(t->cur, (size_t)i) : NULL;
    return n ? n : "";
}

int32_t tset_find(const tset_t *t, const char *name)
{
    int k = trk_scan_find(t->cur, name);
    return k >= 0 ? k : SONG_TRACK_NONE;
}

int tset_open(tset_t *t, int32_t i)
{
    const char *path = i >= 0 ? trk_scan_get_cache_path(t->cur, (size_t)i) : NULL;
    if (!path)
        return -1;
    int err = 0;
    trk_play_t *tr = trk_play_create(path, &err);
    if (!tr) {
        fprintf(stderr, "bb-shmd: tracks: cannot open %s: %s\n", tset_name(t, i), trk_strerror(err));
        return -1;
    }
    trk_play_destroy(t->open);
    t->open = tr;
    t->open_idx = i;
    t->pcm.pcm = trk_play_get_samples(tr);
    t->pcm.frames = trk_play_get_frames(tr);
    return 0;
}

const tset_pcm_t *tset_pcm(const tset_t *t, int32_t i)
{
    return t->open && t->open_idx == i ? &t->pcm : NULL;
}
