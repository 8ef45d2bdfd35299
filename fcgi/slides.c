/*
 * slides.c - a room's slide images on disk (slides.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonw.h"
#include "media/mfile.h"
#include "slides.h"

struct sl {
    char *dir;
};

static const img_kind_t KINDS[] = {IMG_PNG, IMG_JPEG};

static void log_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "bb-worker: slides: %s\n", line);
}

sl_t *sl_create(const char *audio_dir, char *why, size_t whylen)
{
    struct stat st;
    if (stat(audio_dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(audio_dir, W_OK) != 0) {
        snprintf(why, whylen, "audio directory %s is not a writable directory", audio_dir);
        return NULL;
    }
    sl_t *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(audio_dir))) {
        free(s);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    return s;
}

void sl_destroy(sl_t *s)
{
    if (!s)
        return;
    free(s->dir);
    free(s);
}

static void refuse(sl_answer_t *out, int status, const char *why)
{
    jw_t j;
    out->status = status;
    jw_init(&j, out->body, sizeof out->body);
    jw_obj_begin(&j);
    jw_key(&j, "error");
    jw_str(&j, why);
    jw_obj_end(&j);
}

/* The room's slides folder: AUDIO_DIR/rooms/ID/slides, made if `make`.
 * Returns 0, or -1 (logged when making failed). */
static int slides_dir(const sl_t *s, const char *room_id, bool make, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s/rooms/%s/slides", s->dir, room_id) >= (int)cap)
        return -1;
    if (!make)
        return 0;
    char part[4096];
    const char *steps[] = {"%s/rooms", "%s/rooms/%s", "%s/rooms/%s/slides"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(part, sizeof part, steps[i], s->dir, room_id);
        if (mkdir(part, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "bb-worker: slides: mkdir %s: %s\n", part, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void file_name(int64_t n, img_kind_t kind, char *out, size_t cap)
{
    snprintf(out, cap, "%" PRId64 ".%s", n, img_extension(kind));
}

/* The stored file of slide n in dir: its kind and stat, or IMG_NONE.
 * Replacing a slide by one of the other kind publishes the new file before
 * it removes the old: should both be there (a crash between the two), the
 * newer is the slide. */
static img_kind_t find(const char *dir, int64_t n, struct stat *st)
{
    img_kind_t found = IMG_NONE;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
        char name[32], path[4200];
        struct stat cand;
        file_name(n, KINDS[i], name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (stat(path, &cand) != 0 || !S_ISREG(cand.st_mode))
            continue;
        if (found == IMG_NONE || cand.st_mtim.tv_sec > st->st_mtim.tv_sec ||
            (cand.st_mtim.tv_sec == st->st_mtim.tv_sec && cand.st_mtim.tv_nsec > st->st_mtim.tv_nsec)) {
            *st = cand;
            found = KINDS[i];
        }
    }
    return found;
}

/* A version that changes whenever the file is replaced: its change time
 * to the nanosecond, its inode and its size. */
static void version_of(const struct stat *st, char *out, size_t cap)
{
    snprintf(out, cap, "%" PRIx64 "-%" PRIx64 "-%" PRIx64, (uint64_t)st->st_mtim.tv_sec * 1000000000u +
             (uint64_t)st->st_mtim.tv_nsec, (uint64_t)st->st_ino, (uint64_t)st->st_size);
}

static int status_of(int rc)
{
    switch (rc) {
    case IMG_EEMPTY: return 400;
    case IMG_ETOOBIG:
    case IMG_EDIMS:
    case IMG_EOUT: return 413;
    case IMG_ETYPE:
    case IMG_EDECODE: return 415;
    default: return 500;
    }
}

void sl_put(sl_t *s, const char *room_id, int64_t n, const uint8_t *body, size_t len, const char *by,
            sl_answer_t *out)
{
    if (n < 0 || n > SL_MAX) {
        refuse(out, 400, "slide must be a number from 1 to 32 (or left out for the next free one)");
        return;
    }
    char dir[4096];
    if (slides_dir(s, room_id, true, dir, sizeof dir) != 0) {
        refuse(out, 500, "the server could not store the slide");
        return;
    }
    /* What the room holds: the free numbers, the bytes besides slide n. */
    struct stat st;
    uint64_t bytes = 0;
    int64_t first_free = 0;
    for (int64_t i = 1; i <= SL_MAX; i++) {
        if (find(dir, i, &st) == IMG_NONE) {
            if (!first_free)
                first_free = i;
        } else if (i != n) {
            bytes += (uint64_t)st.st_size;
        }
    }
    if (n == 0 && !(n = first_free)) {
        refuse(out, 507, "this room has 32 slides, the most it may have; replace or delete one");
        return;
    }
    img_file_t f;
    char detail[200];
    int rc = img_sanitize(body, len, &f, detail, sizeof detail);
    if (rc != IMG_OK) {
        char why[400];
        if (detail[0])
            snprintf(why, sizeof why, "%s (%s); nothing was changed", img_strerror(rc), detail);
        else
            snprintf(why, sizeof why, "%s; nothing was changed", img_strerror(rc));
        fprintf(stderr, "bb-worker: slides: room %s: an image of %zu bytes from the %s was refused: %s\n",
                room_id, len, by, img_strerror(rc));
        refuse(out, status_of(rc), why);
        return;
    }
    if (bytes + f.len > SL_ROOM_BYTES) {
        img_file_free(&f);
        refuse(out, 507, "this room's slides would take more than the 64 MiB a room may have; delete some");
        return;
    }
    char name[32];
    file_name(n, f.kind, name, sizeof name);
    if (mfile_write_atomic(dir, name, f.data, f.len, 1, log_line, NULL) != MFILE_OK) {
        img_file_free(&f);
        refuse(out, 500, "the server could not store the slide");
        return;
    }
    /* A slide of the other kind under the same number is replaced. */
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
        char other[32], path[4200];
        if (KINDS[i] == f.kind)
            continue;
        file_name(n, KINDS[i], other, sizeof other);
        snprintf(path, sizeof path, "%s/%s", dir, other);
        if (unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "bb-worker: slides: unlink %s: %s\n", path, strerror(errno));
    }
    char path[4200], v[40] = "";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (stat(path, &st) == 0)
        version_of(&st, v, sizeof v);
    out->status = 200;
    snprintf(out->body, sizeof out->body,
             "{\"slide\":%" PRId64 ",\"type\":\"%s\",\"width\":%u,\"height\":%u,\"bytes\":%zu,\"v\":\"%s\"}", n,
             img_extension(f.kind), f.width, f.height, f.len, v);
    fprintf(stderr, "bb-worker: slides: room %s: slide %" PRId64 " stored by the %s (%s %ux%u, %zu bytes from %zu)\n",
            room_id, n, by, img_extension(f.kind), f.width, f.height, f.len, len);
    img_file_free(&f);
}

void sl_delete(sl_t *s, const char *room_id, int64_t n, const char *by, sl_answer_t *out)
{
    char dir[4096], name[32], path[4200];
    struct stat st;
    img_kind_t kind;
    if (n < 1 || n > SL_MAX) {
        refuse(out, 400, "slide must be a number from 1 to 32");
        return;
    }
    if (slides_dir(s, room_id, false, dir, sizeof dir) != 0 || (kind = find(dir, n, &st)) == IMG_NONE) {
        refuse(out, 404, "this room has no slide of that number");
        return;
    }
    file_name(n, kind, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (unlink(path) != 0) {
        fprintf(stderr, "bb-worker: slides: unlink %s: %s\n", path, strerror(errno));
        refuse(out, 500, "the slide could not be deleted");
        return;
    }
    mfile_fsync_dir(dir, log_line, NULL);
    fprintf(stderr, "bb-worker: slides: room %s: slide %" PRId64 " deleted by the %s\n", room_id, n, by);
    out->status = 200;
    snprintf(out->body, sizeof out->body, "{\"slide\":%" PRId64 ",\"deleted\":true}", n);
}

void sl_list(sl_t *s, const char *room_id, char *buf, size_t cap)
{
    char dir[4096];
    jw_t j;
    jw_init(&j, buf, cap);
    jw_obj_begin(&j);
    jw_key(&j, "slides");
    jw_arr_begin(&j);
    if (slides_dir(s, room_id, false, dir, sizeof dir) == 0)
        for (int64_t n = 1; n <= SL_MAX; n++) {
            struct stat st;
            img_kind_t kind = find(dir, n, &st);
            if (kind == IMG_NONE)
                continue;
            char v[40];
            version_of(&st, v, sizeof v);
            jw_obj_begin(&j);
            jw_key(&j, "slide");
            jw_int(&j, n);
            jw_key(&j, "type");
            jw_str(&j, img_extension(kind));
            jw_key(&j, "bytes");
            jw_int(&j, (int64_t)st.st_size);
            jw_key(&j, "v");
            jw_str(&j, v);
            jw_obj_end(&j);
        }
    jw_arr_end(&j);
    jw_obj_end(&j);
}

int sl_read(sl_t *s, const char *room_id, int64_t n, uint8_t *buf, size_t cap, sl_file_t *f)
{
    char dir[4096], name[32], path[4200];
    struct stat st;
    if (n < 1 || n > SL_MAX || slides_dir(s, room_id, false, dir, sizeof dir) != 0)
        return -1;
    img_kind_t kind = find(dir, n, &st);
    if (kind == IMG_NONE)
        return -1;
    file_name(n, kind, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* The file read is the one whose version is given: fstat the open
     * descriptor, not the name, which a replacement may have moved on. */
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > cap ||
        mfile_pread_all(fd, buf, (size_t)st.st_size, 0) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    f->kind = kind;
    f->len = (size_t)st.st_size;
    version_of(&st, f->v, sizeof f->v);
    return 0;
}
