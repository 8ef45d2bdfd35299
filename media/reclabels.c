/* reclabels.c - the song's words as an Audacity label track (reclabels.h). */
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

#include "mfile.h"
#include "reclabels.h"

#define SUFFIX "-words.txt"
/* A label line: two times of at most 14 characters, two tabs, the text
 * and a line end. */
#define LINE_MAX_BYTES (2 * 24 + 2 + REC_LABEL_TEXT_MAX + 2)
/* The comment added to SONG.lof. */
#define LOF_NOTE "# The words: import %s with File > Import > Labels.\n"

/* Seconds of the song at clock, never before its start. */
static double seconds(int64_t clock, int64_t start)
{
    return clock > start ? (double)(clock - start) / REC_SAMPLE_RATE : 0.0;
}

/* Appends the label's text to out, cut to REC_LABEL_TEXT_MAX bytes on a
 * character boundary, tabs and line ends as spaces. */
static size_t put_text(char *out, const char *text)
{
    size_t n = 0;
    for (const char *p = text ? text : ""; *p && n < REC_LABEL_TEXT_MAX; p++)
        out[n++] = (*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p;
    if (text)
        while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
            n--;   /* the cut fell inside a character: leave all of it out */
    return n;
}

/* Adds the comment naming the labels to dir/SONG.lof, once. */
static int note_in_lof(const char *dir, const char *song, const char *labels, rec_log_fn log, void *user)
{
    char lof[REC_FILE_NAME_MAX], path[4096], note[REC_FILE_NAME_MAX + 80];
    snprintf(lof, sizeof lof, "%s.lof", song);
    if (mfile_join(path, sizeof path, dir, lof) != MFILE_OK)
        return REC_ERR_ARG;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? REC_OK : REC_ERR_IO;
    int nl = snprintf(note, sizeof note, LOF_NOTE, labels);
    char *buf = malloc(64 * 1024 + (size_t)nl);
    size_t len = buf ? fread(buf, 1, 64 * 1024, f) : 0;
    bool big = buf && !feof(f);
    fclose(f);
    if (!buf)
        return REC_ERR_NOMEM;
    int rc = REC_OK;
    buf[len] = '\0';
    if (!big && !memmem(buf, len, note, (size_t)nl)) {
        memcpy(buf + len, note, (size_t)nl);
        rc = mfile_write_atomic(dir, lof, buf, len + (size_t)nl, 1, log, user) == MFILE_OK ? REC_OK : REC_ERR_IO;
    }
    free(buf);
    return rc;
}

/* Deletes dir's "SONG-words.txt" files whose SONG.lof is gone. */
static void prune(const char *dir, rec_log_fn log, void *user)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n != REC_SONG_NAME_LEN + strlen(SUFFIX) || strcmp(e->d_name + REC_SONG_NAME_LEN, SUFFIX) != 0)
            continue;
        char lof[REC_SONG_NAME_LEN + 8];
        snprintf(lof, sizeof lof, "%.*s.lof", REC_SONG_NAME_LEN, e->d_name);
        struct stat st;
        if (fstatat(dirfd(d), lof, &st, 0) == 0 || errno != ENOENT)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0)
            mfile_log_errno(log, user, "unlinkat", e->d_name, errno);
    }
    closedir(d);
}

int rec_labels_write(const char *dir, int64_t song_start_clock, const rec_label_t *labels, uint32_t n,
                     rec_log_fn log, void *log_user)
{
    char song[REC_SONG_NAME_LEN + 1], name[REC_FILE_NAME_MAX];
    if (!dir || (n && !labels) || n > REC_LABELS_MAX ||
        rec_song_name(song_start_clock, song, sizeof song) != REC_OK)
        return REC_ERR_ARG;
    if (n == 0)
        return REC_OK;
    char *buf = malloc((size_t)n * LINE_MAX_BYTES);
    if (!buf)
        return REC_ERR_NOMEM;
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t end = labels[i].end > labels[i].start ? labels[i].end : labels[i].start;
        len += (size_t)snprintf(buf + len, LINE_MAX_BYTES, "%.6f\t%.6f\t", seconds(labels[i].start, song_start_clock),
                                seconds(end, song_start_clock));
        len += put_text(buf + len, labels[i].text);
        buf[len++] = '\n';
    }
    snprintf(name, sizeof name, "%s" SUFFIX, song);
    int rc = mfile_write_atomic(dir, name, buf, len, 1, log, log_user) == MFILE_OK ? REC_OK : REC_ERR_IO;
    free(buf);
    if (rc == REC_OK)
        rc = note_in_lof(dir, song, name, log, log_user);
    prune(dir, log, log_user);
    return rc;
}
