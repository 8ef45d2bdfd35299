/*
 * upload.c - accepting a backing-track upload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "query.h"
#include "upload.h"

struct upl {
    char *dir;
    q_t q;
};

static void log_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "bb-worker: upload: %s\n", line);
}

upl_t *upl_create(const char *audio_dir, char *why, size_t whylen)
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
    if (!u || !(u->dir = strdup(audio_dir))) {
        free(u);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    return u;
}

void upl_destroy(upl_t *u)
{
    if (!u)
        return;
    free(u->dir);
    free(u);
}

int upl_accept(upl_t *u, const char *query, const uint8_t *body, size_t len, char *name_out,
               size_t name_cap, char *msg, size_t msg_cap)
{
    int rc = q_parse(&u->q, query, strlen(query));
    if (rc) {
        snprintf(msg, msg_cap, "%s", q_strerror(rc));
        return 400;
    }
    const char *name = q_get(&u->q, "name");
    trk_env_t env = {log_line, NULL, NULL};
    rc = trk_upload_accept(body, len, name, u->dir, &env, name_out, name_cap);
    switch (rc) {
    case TRK_OK:
        fprintf(stderr, "bb-worker: upload: new track \"%s\" (%zu bytes)\n", name_out, len);
        return 200;
    case TRK_ERR_TOO_BIG:
        snprintf(msg, msg_cap, "the file is larger than %zu MiB", (size_t)(TRK_UPLOAD_MAX >> 20));
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
    case TRK_ERR_TOO_LONG:
    case TRK_ERR_CHANNELS:
    case TRK_ERR_RATE:
        snprintf(msg, msg_cap, "not a usable audio file: %s", trk_strerror(rc));
        return 415;
    default:
        snprintf(msg, msg_cap, "the server could not store the file");
        return 500;
    }
}
