/*
 * upload.c - accepting a backing-track upload into its room (upload.h).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "query.h"
#include "upload.h"

struct upl {
    char *dir;
    char *cache;            /* may be NULL */
    q_t q;
    uint64_t full;          /* uploads refused for their room's bounds */
};

/* What a room's uploads hold now. */
typedef struct {
    uint32_t tracks;
    uint64_t bytes;         /* of the uploaded files */
    uint64_t prepared;      /* of their prepared audio in the cache */
} usage_t;

static void log_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "bb-worker: upload: %s\n", line);
}

upl_t *upl_create(const char *audio_dir, const char *cache_dir, char *why, size_t whylen)
{
    struct stat st;
    if (stat(audio_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "audio directory %s does not exist", audio_dir);
        return NULL;
    }
    if (access(audio_dir, W_OK) != 0) {
        snprintf(why, whylen, "audio directory %s is not writable", audio_dir);
        return NULL;
    }
    upl_t *u = calloc(1, sizeof *u);
    if (!u || !(u->dir = strdup(audio_dir)) || (cache_dir && !(u->cache = strdup(cache_dir)))) {
        upl_destroy(u);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    return u;
}

uint64_t upl_refused_full(const upl_t *u) { return u ? u->full : 0; }

void upl_destroy(upl_t *u)
{
    if (!u)
        return;
    free(u->dir);
    free(u->cache);
    free(u);
}

/* Adds up the regular, non-hidden files of dir: how many, and their bytes. */
static void sum_dir(const char *dir, uint32_t *files, uint64_t *bytes)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        (*files)++;
        *bytes += (uint64_t)st.st_size;
    }
    if (d)
        closedir(d);
}

/* The room's folder for uploads (made if missing): AUDIO_DIR/rooms/ID.
 * Returns 0, or -1 after logging why. */
static int room_dir(const upl_t *u, const char *room_id, char *out, size_t cap)
{
    char rooms[4096];
    snprintf(rooms, sizeof rooms, "%s/rooms", u->dir);
    if (snprintf(out, cap, "%s/%s", rooms, room_id) >= (int)cap)
        return -1;
    if ((mkdir(rooms, 0755) != 0 && errno != EEXIST) || (mkdir(out, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "bb-worker: upload: mkdir %s: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

static usage_t usage_of(const upl_t *u, const char *dir, const char *room_id)
{
    usage_t us = {0, 0, 0};
    sum_dir(dir, &us.tracks, &us.bytes);
    if (u->cache) {
        char cache[4096];
        uint32_t n = 0;
        snprintf(cache, sizeof cache, "%s/%s", u->cache, room_id);
        sum_dir(cache, &n, &us.prepared);
    }
    return us;
}

/* The room's bounds, before a new upload of len bytes is even decoded.
 * Returns 0, or 507 with the message. */
static int within_bounds(const usage_t *us, size_t len, char *msg, size_t cap)
{
    if (us->tracks >= UPL_ROOM_TRACKS) {
        snprintf(msg, cap, "this room has %u uploaded tracks, the most it may have; the organiser "
                 "can remove some", us->tracks);
        return 507;
    }
    if (us->bytes + len > UPL_ROOM_BYTES) {
        snprintf(msg, cap, "this room's uploads would take %" PRIu64 " MiB, more than the %" PRIu64
                 " MiB a room may have", (us->bytes + len) >> 20, UPL_ROOM_BYTES >> 20);
        return 507;
    }
    /* A prepared track is 4 bytes a sample at 48 kHz: the upload's length
     * is known only after decoding, so the prepared audio already there
     * must leave room for the longest one. */
    uint64_t longest = (uint64_t)TRK_UPLOAD_MAX_SECONDS * TRK_SAMPLE_RATE * 4;
    if (us->prepared + longest > UPL_ROOM_PREPARED) {
        snprintf(msg, cap, "this room's tracks fill the %" PRIu64 " MiB of prepared audio a room may "
                 "have; the organiser can remove some", UPL_ROOM_PREPARED >> 20);
        return 507;
    }
    return 0;
}

int upl_accept(upl_t *u, const char *room_id, const char *query, const uint8_t *body, size_t len,
               char *name_out, size_t name_cap, char *msg, size_t msg_cap)
{
    int rc = q_parse(&u->q, query, strlen(query));
    if (rc) {
        snprintf(msg, msg_cap, "%s", q_strerror(rc));
        return 400;
    }
    char dir[4096];
    if (room_dir(u, room_id, dir, sizeof dir) != 0) {
        snprintf(msg, msg_cap, "the server could not store the file");
        return 500;
    }
    usage_t us = usage_of(u, dir, room_id);
    int full = within_bounds(&us, len, msg, msg_cap);
    if (full) {
        /* The room's songs go on with the tracks it has; the operator is
         * told (and counted in the metrics), the uploader gets msg. */
        u->full++;
        fprintf(stderr, "bb-worker: upload: room %s: an upload of %zu bytes was refused: %s\n", room_id,
                len, msg);
        return full;
    }
    const char *name = q_get(&u->q, "name");
    trk_env_t env = {log_line, NULL, NULL};
    rc = trk_upload_accept(body, len, name, dir, &env, name_out, name_cap);
    switch (rc) {
    case TRK_OK:
        fprintf(stderr, "bb-worker: upload: room %s: new track \"%s\" (%zu bytes; %u tracks, %" PRIu64
                " MiB in the room)\n", room_id, name_out, len, us.tracks + 1, (us.bytes + len) >> 20);
        return 200;
    case TRK_ERR_TOO_BIG:
        snprintf(msg, msg_cap, "the file is larger than %zu MiB", (size_t)(TRK_UPLOAD_MAX >> 20));
        return 413;
    case TRK_ERR_TOO_LONG:
        snprintf(msg, msg_cap, "the track is longer than the %d minutes an upload may be",
                 TRK_UPLOAD_MAX_SECONDS / 60);
        return 413;
    case TRK_ERR_EXISTS:
        snprintf(msg, msg_cap, "too many tracks with that name already");
        return 409;
    case TRK_ERR_ARG:
    case TRK_ERR_NAME:
        snprintf(msg, msg_cap, "invalid upload: %s", trk_strerror(rc));
        return 400;
    case TRK_ERR_FORMAT:
    case TRK_ERR_DECODE:
    case TRK_ERR_EMPTY:
    case TRK_ERR_SILENT:
    case TRK_ERR_CHANNELS:
    case TRK_ERR_RATE:
        snprintf(msg, msg_cap, "not a usable audio file: %s", trk_strerror(rc));
        return 415;
    default:
        snprintf(msg, msg_cap, "the server could not store the file");
        return 500;
    }
}
