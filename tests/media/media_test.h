/* media_test: the little the media tests share besides check.h: their
 * check_t, a private temporary directory removed at the end, and a log
 * callback that keeps every line for inspection. Header-only (static
 * inline) so each test stays one executable. */
#ifndef BB_TESTS_MEDIA_TEST_H
#define BB_TESTS_MEDIA_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* The checks of the test that includes this header (check.h); each
 * media test is one executable, so one check_t per file. */
static check_t ck;

/* Captured log lines. */
#define MT_LOG_MAX 256
typedef struct {
    char lines[MT_LOG_MAX][512];
    int n;
} mt_log_t;

static inline void mt_log(void *user, const char *line)
{
    mt_log_t *l = user;
    fprintf(stderr, "  log: %s\n", line);
    if (l != NULL && l->n < MT_LOG_MAX)
        snprintf(l->lines[l->n++], sizeof l->lines[0], "%s", line);
}

/* Number of captured lines containing every one of up to two substrings. */
static inline int mt_log_count(const mt_log_t *l, const char *a, const char *b)
{
    int i, n = 0;
    for (i = 0; i < l->n; i++)
        if (strstr(l->lines[i], a) != NULL && (b == NULL || strstr(l->lines[i], b) != NULL))
            n++;
    return n;
}

static inline char *mt_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *t = malloc(4096);
    snprintf(t, 4096, "%s/bbmedia-test-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(t) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    return t;
}

static inline int mt_rm_one(const char *path, const struct stat *st, int flag,
                            struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static inline void mt_rmrf(const char *dir)
{
    nftw(dir, mt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads a whole file; returns NULL if it cannot. *len gets the size. */
static inline char *mt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len != NULL)
            *len = (size_t)n;
    }
    return buf;
}

static inline void mt_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

static inline int mt_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

#endif
