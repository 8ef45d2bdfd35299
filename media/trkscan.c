/* trkscan: the audio directory as a list of playable tracks (see
 * trkscan.h).
 *
 * A scan lists candidate names first (sorted, unsafe ones logged), then
 * checks each one's cache and prepares what is missing or stale, then
 * prunes the cache directory of what is no longer listed. Only the
 * preparing is slow; a scan of an unchanged directory costs a readdir and
 * two stat()s and a 64-byte read per track.
 */
#include "trkscan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trkcache.h"
#include "trkname.h"

#define TMP_MAX_AGE_S 3600

typedef struct {
    char *name;
    char *cache_path;
    trk_info_t info;
} scan_entry_t;

struct trk_scan {
    scan_entry_t *v;
    size_t n;
};

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Names the scanner passes over without a word: not meant to be tracks. */
static int scan_ignores(const char *name)
{
    return name[0] == '.' || strncasecmp(name, "README", 6) == 0
        || ends_with(name, ".tmp") || ends_with(name, ".part")
        || ends_with(name, "~") || ends_with(name, TRK_CACHE_SUFFIX);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the candidate names of `dir` (sorted), logging unsafe ones. */
static int list_candidates(const char *dir, const trk_env_t *env, char ***out,
                           size_t *out_n)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL) {
        mfile_log_errno(log, lu, "opendir", dir, errno);
        return TRK_ERR_IO;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        char shown[4 * TRK_NAME_MAX + 64];
        if (scan_ignores(de->d_name))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!trk_name_is_safe(de->d_name) || strcmp(de->d_name, TRK_METRONOME_NAME) == 0) {
            trk_name_for_log(de->d_name, shown, sizeof shown);
            mfile_logf(log, lu, "track \"%s\": skipped: %s", shown,
                       trk_strerror(TRK_ERR_NAME));
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL)
                goto nomem;
            v = nv;
            cap = ncap;
        }
        v[n] = strdup(de->d_name);
        if (v[n] == NULL)
            goto nomem;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *out_n = n;
    return TRK_OK;
nomem:
    closedir(d);
    while (n > 0)
        free(v[--n]);
    free(v);
    return TRK_ERR_NOMEM;
}

/* Removes caches of tracks not in s, and temporary files older than an
 * hour (a crashed conversion's leftovers; a younger one may be another
 * process's conversion in progress). */
static void prune_cache_dir(const char *cache_dir, const trk_scan_t *s,
                            const trk_env_t *env)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    time_t now = time(NULL);
    struct dirent *de;
    DIR *d = opendir(cache_dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char track[NAME_MAX + 1];
        struct stat st;
        int drop = 0;
        if (mfile_is_temp_name(de->d_name)) {
            drop = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
                && S_ISREG(st.st_mode) && now - st.st_mtim.tv_sec > TMP_MAX_AGE_S;
        } else if (ends_with(de->d_name, TRK_CACHE_SUFFIX)) {
            size_t len = strlen(de->d_name) - strlen(TRK_CACHE_SUFFIX);
            memcpy(track, de->d_name, len);
            track[len] = '\0';
            drop = trk_scan_find(s, track) < 0;
        }
        if (drop && unlinkat(dirfd(d), de->d_name, 0) != 0)
            mfile_log_errno(log, lu, "unlink", de->d_name, errno);
    }
    closedir(d);
}

trk_scan_t *trk_scan_create(const char *audio_dir, const char *cache_dir,
                            const trk_env_t *env, int *err)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    trk_scan_t *s = NULL;
    char **names = NULL;
    size_t n_names = 0, i;
    int rc;

    if (audio_dir == NULL || cache_dir == NULL) {
        rc = TRK_ERR_ARG;
        goto err;
    }
    if (mkdir(cache_dir, 0755) != 0 && errno != EEXIST) {
        mfile_log_errno(log, lu, "mkdir", cache_dir, errno);
        rc = TRK_ERR_IO;
        goto err;
    }
    rc = list_candidates(audio_dir, env, &names, &n_names);
    if (rc != TRK_OK)
        goto err;
    s = calloc(1, sizeof *s);
    if (s == NULL || (n_names > 0 && (s->v = calloc(n_names, sizeof *s->v)) == NULL)) {
        rc = TRK_ERR_NOMEM;
        goto err;
    }
    for (i = 0; i < n_names; i++) {
        char src[4096], cache[4096], cache_name[TRK_NAME_MAX + 16];
        char shown[4 * TRK_NAME_MAX + 64];
        scan_entry_t *e = &s->v[s->n];
        trk_info_t info;

        trk_name_for_log(names[i], shown, sizeof shown);
        if (s->n == TRK_MAX_TRACKS) {
            mfile_logf(log, lu, "track \"%s\": skipped: more than %d tracks",
                       shown, TRK_MAX_TRACKS);
            continue;
        }
        snprintf(cache_name, sizeof cache_name, "%s%s", names[i], TRK_CACHE_SUFFIX);
        if (mfile_join(src, sizeof src, audio_dir, names[i]) != MFILE_OK
            || mfile_join(cache, sizeof cache, cache_dir, cache_name) != MFILE_OK) {
            mfile_logf(log, lu, "track \"%s\": skipped: path too long", shown);
            continue;
        }
        rc = trk_cache_check(src, cache, &info);
        if (rc != TRK_OK) {
            rc = trk_cache_convert(src, cache, env, &info);
            if (rc == TRK_ERR_CANCELLED || rc == TRK_ERR_NOMEM)
                goto err;
            if (rc != TRK_OK) {
                mfile_logf(log, lu, "track \"%s\": skipped: %s", shown,
                           trk_strerror(rc));
                continue;
            }
            mfile_logf(log, lu,
                       "track \"%s\": prepared: %.1f s, from %d Hz %d ch, gain %+.1f dB",
                       shown, (double)info.frames / TRK_SAMPLE_RATE,
                       info.source_rate, info.source_channels,
                       20.0 * log10((double)info.gain));
        }
        e->name = names[i];
        names[i] = NULL;
        e->cache_path = strdup(cache);
        if (e->cache_path == NULL) {
            free(e->name);
            rc = TRK_ERR_NOMEM;
            goto err;
        }
        e->info = info;
        s->n++;
    }
    prune_cache_dir(cache_dir, s, env);
    for (i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    return s;
err:
    for (i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    trk_scan_destroy(s);
    if (err != NULL)
        *err = rc;
    return NULL;
}

size_t trk_scan_get_count(const trk_scan_t *s)
{
    return s != NULL ? s->n : 0;
}

const char *trk_scan_get_name(const trk_scan_t *s, size_t i)
{
    return s != NULL && i < s->n ? s->v[i].name : NULL;
}

const char *trk_scan_get_cache_path(const trk_scan_t *s, size_t i)
{
    return s != NULL && i < s->n ? s->v[i].cache_path : NULL;
}

const trk_info_t *trk_scan_get_info(const trk_scan_t *s, size_t i)
{
    return s != NULL && i < s->n ? &s->v[i].info : NULL;
}

int trk_scan_find(const trk_scan_t *s, const char *name)
{
    size_t lo = 0, hi;

    if (s == NULL || name == NULL)
        return TRK_ERR_NOT_FOUND;
    hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, s->v[mid].name);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return TRK_ERR_NOT_FOUND;
}

void trk_scan_destroy(trk_scan_t *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].cache_path);
    }
    free(s->v);
    free(s);
}

trk_scan_t *trk_scan_merge(trk_scan_t *base, trk_scan_t *own)
{
    if (base == NULL || own == NULL)
        return base != NULL ? base : own;
    trk_scan_t *m = calloc(1, sizeof *m);
    size_t cap = base->n + own->n;
    if (m == NULL || (cap > 0 && (m->v = calloc(cap, sizeof *m->v)) == NULL)) {
        free(m);
        trk_scan_destroy(base);
        trk_scan_destroy(own);
        return NULL;
    }
    /* Both lists are sorted: walk them together, moving the entries. */
    size_t i = 0, j = 0;
    while (i < base->n || j < own->n) {
        int c = i == base->n ? 1 : j == own->n ? -1 : strcmp(base->v[i].name, own->v[j].name);
        if (c < 0) {
            m->v[m->n++] = base->v[i];
            base->v[i++].name = NULL;
            continue;
        }
        if (c == 0) {   /* the room's own track hides the library's */
            free(base->v[i].name);
            free(base->v[i].cache_path);
            base->v[i++].name = NULL;
        }
        m->v[m->n++] = own->v[j];
        own->v[j++].name = NULL;
    }
    base->n = own->n = 0;   /* what is left holds no names: nothing to free twice */
    trk_scan_destroy(base);
    trk_scan_destroy(own);
    return m;
}
