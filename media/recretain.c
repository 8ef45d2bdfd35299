/* recretain: the host's sweep over its recordings (see recretain.h).
 *
 * Every room's songs are read into one table first (room, song, bytes,
 * newest change); the three limits then mark songs gone in turn, each
 * deleting as it marks, so a later limit counts what an earlier one left.
 * Whether a song is protected is asked at the moment it would go, so a
 * recording that began during the sweep is already spared.
 */
#include "recretain.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROOM_NAME_MAX 32

typedef struct {
    char room[ROOM_NAME_MAX];
    rec_song_t s;
    int room_index;
    bool gone;
} item_t;

typedef struct {
    const rec_retain_t *cfg;
    rec_retain_report_t *rep;
    item_t *v;
    size_t n, cap;
} sweep_t;

const char *rec_gone_name(rec_gone_t why)
{
    switch (why) {
    case REC_GONE_COUNT: return "count";
    case REC_GONE_AGE: return "age";
    case REC_GONE_BYTES: return "bytes";
    case REC_GONE_REASONS: break;
    }
    return "unknown";
}

int rec_parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || out == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: return -1;
    }
    if (*end != '\0') {
        end++;
        /* "K", "KB", "KiB" (and any case) all mean 1024. */
        if (toupper((unsigned char)*end) == 'I')
            end++;
        if (toupper((unsigned char)*end) == 'B')
            end++;
        if (*end != '\0')
            return -1;
    }
    if (v == 0 || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* A subfolder name that may be a room's id. */
static bool room_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= ROOM_NAME_MAX || name[0] == '.')
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
            return false;
    return true;
}

/* The folder of a room's songs. */
static void room_dir(const sweep_t *w, const char *room, char *out, size_t cap)
{
    if (strcmp(room, REC_DEFAULT_ROOM) == 0)
        snprintf(out, cap, "%s", w->cfg->root);
    else
        snprintf(out, cap, "%s/%s", w->cfg->root, room);
}

static void room_label(const char *room, char *out, size_t cap)
{
    if (strcmp(room, REC_DEFAULT_ROOM) == 0)
        snprintf(out, cap, "the default room");
    else
        snprintf(out, cap, "room %s", room);
}

/* Adds one room's songs to the table. */
static int add_room(sweep_t *w, const char *room, int index)
{
    char dir[4096];
    rec_song_t *songs;
    size_t n;
    room_dir(w, room, dir, sizeof dir);
    int rc = rec_songs(dir, &songs, &n, w->cfg->log, w->cfg->log_user);
    if (rc != REC_OK)
        return rc;
    if (w->n + n > w->cap) {
        size_t ncap = w->cap ? w->cap : 64;
        while (ncap < w->n + n)
            ncap *= 2;
        item_t *nv = realloc(w->v, ncap * sizeof *nv);
        if (nv == NULL) {
            free(songs);
            return REC_ERR_NOMEM;
        }
        w->v = nv;
        w->cap = ncap;
    }
    for (size_t i = 0; i < n; i++) {
        item_t *it = &w->v[w->n++];
        memset(it, 0, sizeof *it);
        snprintf(it->room, sizeof it->room, "%s", room);
        it->s = songs[i];
        it->room_index = index;
    }
    free(songs);
    w->rep->rooms++;
    return REC_OK;
}

static bool is_protected(const sweep_t *w, const item_t *it)
{
    return w->cfg->protect != NULL && w->cfg->protect(w->cfg->user, it->room, it->s.stamp);
}

static void size_text(uint64_t bytes, char *out, size_t cap)
{
    if (bytes >= (uint64_t)1 << 30)
        snprintf(out, cap, "%.1f GiB", (double)bytes / (double)(1u << 30));
    else if (bytes >= (uint64_t)1 << 20)
        snprintf(out, cap, "%.1f MiB", (double)bytes / (double)(1u << 20));
    else
        snprintf(out, cap, "%" PRIu64 " bytes", bytes);
}

/* Deletes a song for `why`, with its one log line. */
static void drop(sweep_t *w, item_t *it, rec_gone_t why)
{
    const rec_retain_t *c = w->cfg;
    char dir[4096], label[64], size[32], limit[96];
    room_dir(w, it->room, dir, sizeof dir);
    uint64_t bytes = 0;
    int rc = rec_song_delete(dir, it->s.stamp, &bytes, c->log, c->log_user);
    if (rc < 0) {
        mfile_logf(c->log, c->log_user, "recordings: song %s could not be deleted: %s", it->s.stamp,
                   rec_strerror(rc));
        return;
    }
    it->gone = true;
    w->rep->deleted[why]++;
    w->rep->deleted_bytes += bytes;
    room_label(it->room, label, sizeof label);
    size_text(bytes, size, sizeof size);
    if (why == REC_GONE_COUNT) {
        snprintf(limit, sizeof limit, "more than %d songs in the room (--keep)", c->keep);
    } else if (why == REC_GONE_AGE) {
        snprintf(limit, sizeof limit, "older than %d days (--keep-days)", c->keep_days);
    } else {
        char cap[32];
        size_text(c->max_bytes, cap, sizeof cap);
        snprintf(limit, sizeof limit, "the recordings passed the host's %s (--recordings-bytes)", cap);
    }
    mfile_logf(c->log, c->log_user, "recordings: deleted song %s of %s (%s): %s", it->s.stamp, label,
               size, limit);
}

static void by_count(sweep_t *w)
{
    /* The table holds each room's songs together, oldest first. */
    for (size_t a = 0; a < w->n;) {
        size_t b = a;
        while (b < w->n && w->v[b].room_index == w->v[a].room_index)
            b++;
        size_t songs = b - a;
        for (size_t i = a; songs > (size_t)w->cfg->keep && i < b; i++) {
            if (is_protected(w, &w->v[i]))
                continue;
            drop(w, &w->v[i], REC_GONE_COUNT);
            songs -= w->v[i].gone;
        }
        a = b;
    }
}

static void by_age(sweep_t *w)
{
    if (w->cfg->keep_days <= 0)
        return;
    int64_t cutoff = w->cfg->now - (int64_t)w->cfg->keep_days * 86400;
    for (size_t i = 0; i < w->n; i++) {
        item_t *it = &w->v[i];
        int64_t t = rec_stamp_seconds(it->s.stamp);
        if (!it->gone && t >= 0 && t < cutoff && !is_protected(w, it))
            drop(w, it, REC_GONE_AGE);
    }
}

static int cmp_age(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    int c = strcmp(x->s.stamp, y->s.stamp);
    return c ? c : strcmp(x->room, y->room);
}

static uint64_t total_bytes(const sweep_t *w)
{
    uint64_t t = 0;
    for (size_t i = 0; i < w->n; i++)
        if (!w->v[i].gone)
            t += w->v[i].s.bytes;
    return t;
}

static int by_bytes(sweep_t *w)
{
    const rec_retain_t *c = w->cfg;
    uint64_t total = total_bytes(w);
    if (c->max_bytes == 0 || total <= c->max_bytes)
        return REC_OK;
    item_t **order = malloc((w->n ? w->n : 1) * sizeof *order);
    if (order == NULL)
        return REC_ERR_NOMEM;
    for (size_t i = 0; i < w->n; i++)
        order[i] = &w->v[i];
    qsort(order, w->n, sizeof *order, cmp_age);
    bool waiting = false;   /* an unprotected song too fresh to take now */
    for (size_t i = 0; i < w->n && total > c->max_bytes; i++) {
        item_t *it = order[i];
        if (it->gone || is_protected(w, it))
            continue;
        if (c->now - it->s.mtime < c->fresh_s) {
            waiting = true;
            continue;
        }
        drop(w, it, REC_GONE_BYTES);
        if (it->gone)
            total -= it->s.bytes;
    }
    if (total > c->max_bytes && !waiting) {
        /* Only what is being recorded is left: it stops, the song goes on. */
        char cap[32], size[32], label[64];
        size_text(c->max_bytes, cap, sizeof cap);
        size_text(total, size, sizeof size);
        for (size_t i = 0; i < w->n; i++) {
            item_t *it = order[i];
            if (it->gone || !is_protected(w, it))
                continue;
            if (c->stop != NULL && !c->stop(c->user, it->room, it->s.stamp))
                continue;   /* asked before, not yet done */
            room_label(it->room, label, sizeof label);
            mfile_logf(c->log, c->log_user,
                       "recordings: the host's %s (--recordings-bytes) is full (%s) with nothing left "
                       "to delete: the recording of song %s of %s stops; the song goes on",
                       cap, size, it->s.stamp, label);
            w->rep->stopped++;
        }
    }
    free(order);
    return REC_OK;
}

static void seal(sweep_t *w)
{
    const rec_retain_t *c = w->cfg;
    for (size_t i = 0; i < w->n; i++) {
        item_t *it = &w->v[i];
        if (it->gone || it->s.project || c->now - it->s.mtime < c->seal_s || is_protected(w, it))
            continue;
        char dir[4096], label[64];
        room_dir(w, it->room, dir, sizeof dir);
        if (rec_seal_song(dir, it->s.stamp, REC_END_INTERRUPTED, c->log, c->log_user) != REC_OK)
            continue;
        it->s.project = 1;
        w->rep->sealed++;
        room_label(it->room, label, sizeof label);
        mfile_logf(c->log, c->log_user,
                   "recordings: song %s of %s was cut off and not resumed: its project is written",
                   it->s.stamp, label);
    }
}

int rec_retain_sweep(const rec_retain_t *cfg, rec_retain_report_t *rep)
{
    if (cfg == NULL || rep == NULL || cfg->root == NULL || cfg->keep < 1 || cfg->keep_days < 0
        || cfg->fresh_s < 0 || cfg->seal_s < 0)
        return REC_ERR_ARG;
    memset(rep, 0, sizeof *rep);
    sweep_t w = {cfg, rep, NULL, 0, 0};
    int rc = add_room(&w, REC_DEFAULT_ROOM, 0);
    if (rc != REC_OK)
        goto out;
    DIR *d = opendir(cfg->root);
    if (d == NULL) {
        mfile_log_errno(cfg->log, cfg->log_user, "opendir", cfg->root, errno);
        rc = REC_ERR_IO;
        goto out;
    }
    int index = 1;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        struct stat st;
        if (!room_name(de->d_name) || strcmp(de->d_name, REC_DEFAULT_ROOM) == 0
            || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        rc = add_room(&w, de->d_name, index++);
        if (rc == REC_ERR_NOMEM)
            break;
        rc = REC_OK;   /* a folder that cannot be read was logged: the others go on */
    }
    closedir(d);
    if (rc != REC_OK)
        goto out;
    by_count(&w);
    by_age(&w);
    rc = by_bytes(&w);
    if (rc != REC_OK)
        goto out;
    seal(&w);
    for (size_t i = 0; i < w.n; i++) {
        if (w.v[i].gone)
            continue;
        rep->songs++;
        rep->bytes += w.v[i].s.bytes;
    }
out:
    free(w.v);
    return rc;
}
