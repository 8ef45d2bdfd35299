/* recording: the WAV writer of recordings (see recording.h).
 *
 * Writer invariants: w->frames is the number of samples libsndfile has
 * accepted into the file, so origin + frames is the clock of the next
 * sample; the header on disk is rewritten after every write
 * (SFC_SET_UPDATE_HEADER_AUTO), so the frame count a restarted writer reads
 * back is at most one write behind what reached the page cache, and the
 * overlap rule (first write wins) makes a replay of that write harmless.
 * The writer owns its descriptor (libsndfile is given it with
 * close_desc = SF_FALSE) so it can hold the flock() and fsync at the end.
 */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "recbext.h"

#define BLOCK 4096                  /* int16 samples converted per write */
#define WAV_FORMAT (SF_FORMAT_WAV | SF_FORMAT_PCM_16)

struct rec_writer {
    SNDFILE *sf;
    int fd;
    int64_t song_start;
    int64_t origin;
    uint64_t frames;
    int resumed;
    int durable;          /* fsync at creation and at the end */
    rec_log_fn log;
    void *log_user;
    char name[REC_FILE_NAME_MAX];
    int16_t buf[BLOCK];
};

int16_t rec_saturate_s16(float x)
{
    /* Multiplying by a power of two is exact, so the only rounding is
     * lroundf's. Compare before converting: out-of-range lroundf is
     * undefined. */
    float v = x * REC_SCALE;

    if (isnan(v))
        return 0;
    if (v >= 32767.0f)
        return 32767;
    if (v <= -32768.0f)
        return -32768;
    return (int16_t)lroundf(v);
}


/* ---- the writer --------------------------------------------------------- */

/* Tries to continue dir/name. Returns REC_OK (w filled), REC_ERR_BUSY,
 * REC_ERR_IO, or 1 when the file exists but cannot be continued, or 2 when
 * it does not exist. */
static int writer_try_append(rec_writer_t *w, const char *dir, const char *name)
{
    char path[4096];
    SF_INFO info;
    int64_t song_start, origin;
    sf_count_t end;
    int fd;

    if (mfile_join(path, sizeof path, dir, name) != MFILE_OK)
        return REC_ERR_ARG;
    fd = mfile_open_locked(path, w->log, w->log_user);
    if (fd < 0)
        return fd == MFILE_ERR_NOENT ? 2 : fd == MFILE_ERR_BUSY ? REC_ERR_BUSY : REC_ERR_IO;
    memset(&info, 0, sizeof info);
    w->sf = sf_open_fd(fd, SFM_RDWR, &info, SF_FALSE);
    if (w->sf == NULL) {
        mfile_logf(w->log, w->log_user, "recording %s: cannot be continued (%s)",
                   name, sf_strerror(NULL));
        close(fd);
        return 1;
    }
    if (info.samplerate != REC_SAMPLE_RATE || info.channels != 1
        || (info.format & (SF_FORMAT_TYPEMASK | SF_FORMAT_SUBMASK)) != WAV_FORMAT
        || rec_bext_parse(w->sf, &song_start, &origin) != 0
        || song_start != w->song_start) {
        mfile_logf(w->log, w->log_user,
                   "recording %s: cannot be continued (not this song's 48 kHz mono 16-bit recording)",
                   name);
        goto refuse;
    }
    end = sf_seek(w->sf, 0, SEEK_END);
    if (end != info.frames || end < 0) {
        mfile_logf(w->log, w->log_user, "recording %s: cannot be continued (seek failed)",
                   name);
        goto refuse;
    }
    sf_command(w->sf, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
    w->fd = fd;
    w->origin = origin;
    w->frames = (uint64_t)end;
    w->resumed = 1;
    return REC_OK;
refuse:
    sf_close(w->sf);
    w->sf = NULL;
    close(fd);
    return 1;
}

/* Creates dir/name as a new recording. Returns REC_OK, REC_ERR_*, or 1 if
 * the name was taken meanwhile. */
static int writer_create_new(rec_writer_t *w, const char *dir, const char *name,
                             const char *stem, int64_t origin)
{
    char tmp[4096];
    SF_BROADCAST_INFO bi;
    SF_INFO info;
    int fd, rc;

    fd = mfile_tmp_create(dir, name, tmp, sizeof tmp, w->log, w->log_user);
    if (fd < 0)
        return fd == MFILE_ERR_ARG ? REC_ERR_ARG : REC_ERR_IO;
    /* Cannot fail on a file nobody else can have opened, but the lock must
     * be in place before the name becomes visible. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        mfile_log_errno(w->log, w->log_user, "flock", tmp, errno);
        rc = REC_ERR_IO;
        goto err;
    }
    memset(&info, 0, sizeof info);
    info.samplerate = REC_SAMPLE_RATE;
    info.channels = 1;
    info.format = WAV_FORMAT;
    w->sf = sf_open_fd(fd, SFM_WRITE, &info, SF_FALSE);
    if (w->sf == NULL) {
        mfile_logf(w->log, w->log_user, "sf_open_fd %s: %s", tmp, sf_strerror(NULL));
        rc = REC_ERR_SNDFILE;
        goto err;
    }
    rec_bext_fill(&bi, w->song_start, origin, stem);
    if (sf_command(w->sf, SFC_SET_BROADCAST_INFO, &bi, sizeof bi) != SF_TRUE) {
        mfile_logf(w->log, w->log_user, "SFC_SET_BROADCAST_INFO %s: %s", tmp,
                   sf_strerror(w->sf));
        rc = REC_ERR_SNDFILE;
        goto err;
    }
    sf_command(w->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
    sf_command(w->sf, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
    rc = mfile_publish_ex(fd, tmp, dir, name, 0, w->durable, w->log, w->log_user);
    if (rc == MFILE_ERR_EXISTS) {
        rc = 1;
        goto err;
    }
    if (rc != MFILE_OK) {
        rc = REC_ERR_IO;
        goto err;
    }
    w->fd = fd;
    w->origin = origin;
    w->frames = 0;
    w->resumed = 0;
    return REC_OK;
err:
    if (w->sf != NULL)
        sf_close(w->sf);
    w->sf = NULL;
    close(fd);
    unlink(tmp);
    return rc;
}

rec_writer_t *rec_writer_create(const char *dir, int64_t song_start_clock,
                                const char *stem_id, int64_t origin_clock,
                                rec_log_fn log, void *log_user, int *err)
{
    return rec_writer_create_ex(dir, song_start_clock, stem_id, origin_clock, 0, log,
                                log_user, err);
}

rec_writer_t *rec_writer_create_ex(const char *dir, int64_t song_start_clock,
                                   const char *stem_id, int64_t origin_clock,
                                   unsigned flags, rec_log_fn log, void *log_user,
                                   int *err)
{
    char song[REC_SONG_NAME_LEN + 1], stem[REC_STEM_ID_MAX + 1];
    rec_writer_t *w = NULL;
    int part, rc = REC_ERR_PARTS, races = 0;

    if (dir == NULL || origin_clock < song_start_clock
        || rec_song_name(song_start_clock, song, sizeof song) != REC_OK
        || rec_clock_utc(origin_clock, &(struct tm){0}) != REC_OK
        || (stem_id != NULL && rec_stem_id(stem_id, stem) != REC_OK)) {
        rc = REC_ERR_ARG;
        goto err;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        rc = REC_ERR_NOMEM;
        goto err;
    }
    w->fd = -1;
    w->durable = !(flags & REC_NO_SYNC);
    w->song_start = song_start_clock;
    w->log = log;
    w->log_user = log_user;

    for (part = 1; part <= REC_MAX_PART; part++) {
        rec_file_name(w->name, sizeof w->name, song_start_clock, stem_id, part, "wav");
        rc = writer_try_append(w, dir, w->name);
        if (rc == 2) {
            rc = writer_create_new(w, dir, w->name, stem_id ? stem : NULL,
                                   origin_clock);
            if (rc == 1 && ++races < 3) {
                part--;          /* someone made it meanwhile: look again */
                continue;
            }
        }
        if (rc == REC_OK) {
            if (part >= 2 && !w->resumed)
                mfile_logf(log, log_user, "recording continues in %s", w->name);
            return w;
        }
        if (rc != 1)
            goto err;
        rc = REC_ERR_PARTS;
    }
err:
    free(w);
    if (err != NULL)
        *err = rc;
    return NULL;
}

/* Appends n converted samples from w->buf. */
static int put_block(rec_writer_t *w, size_t n)
{
    sf_count_t put = sf_write_short(w->sf, w->buf, (sf_count_t)n);

    if (put > 0)
        w->frames += (uint64_t)put;
    if (put != (sf_count_t)n) {
        mfile_logf(w->log, w->log_user, "sf_write_short %s: %s", w->name,
                   sf_strerror(w->sf));
        return REC_ERR_SNDFILE;
    }
    return REC_OK;
}

int rec_writer_write(rec_writer_t *w, int64_t start_clock, const float *x,
                     size_t n)
{
    int64_t pos;
    uint64_t gap, room;
    int rc = REC_OK;

    if (w == NULL || (x == NULL && n > 0))
        return REC_ERR_ARG;
    if (n == 0)
        return REC_OK;
    if (__builtin_sub_overflow(start_clock, w->origin, &pos))
        return REC_ERR_ARG;
    if (pos < 0) {
        /* Before the file's first sample: not part of this file. */
        uint64_t skip = (uint64_t)0 - (uint64_t)pos;
        if (skip >= n)
            return REC_OK;
        x += skip;
        n -= (size_t)skip;
        pos = 0;
    }
    if ((uint64_t)pos < w->frames) {
        /* Already written: the first write wins, nothing is duplicated. */
        uint64_t overlap = w->frames - (uint64_t)pos;
        if (overlap >= n)
            return REC_OK;
        x += overlap;
        n -= (size_t)overlap;
        pos = (int64_t)w->frames;
    }
    gap = (uint64_t)pos - w->frames;
    if (w->frames >= REC_MAX_FRAMES || gap >= REC_MAX_FRAMES - w->frames)
        return REC_ERR_FULL;
    room = REC_MAX_FRAMES - w->frames - gap;
    if (n > room) {
        n = (size_t)room;
        rc = REC_ERR_FULL;
    }
    if (gap > 0) {
        memset(w->buf, 0, sizeof w->buf);
        while (gap > 0) {
            size_t k = gap < BLOCK ? (size_t)gap : BLOCK;
            int e = put_block(w, k);
            if (e != REC_OK)
                return e;
            gap -= k;
        }
    }
    while (n > 0) {
        size_t k = n < BLOCK ? n : BLOCK, i;
        int e;
        for (i = 0; i < k; i++)
            w->buf[i] = rec_saturate_s16(x[i]);
        e = put_block(w, k);
        if (e != REC_OK)
            return e;
        x += k;
        n -= k;
    }
    return rc;
}

int64_t rec_writer_get_end_clock(const rec_writer_t *w)
{
    return w != NULL ? w->origin + (int64_t)w->frames : 0;
}

int64_t rec_writer_get_origin_clock(const rec_writer_t *w)
{
    return w != NULL ? w->origin : 0;
}

uint64_t rec_writer_get_frames(const rec_writer_t *w)
{
    return w != NULL ? w->frames : 0;
}

const char *rec_writer_get_file_name(const rec_writer_t *w)
{
    return w != NULL ? w->name : NULL;
}

int rec_writer_get_resumed(const rec_writer_t *w)
{
    return w != NULL ? w->resumed : 0;
}

int rec_writer_destroy(rec_writer_t *w)
{
    int rc = REC_OK;

    if (w == NULL)
        return REC_OK;
    if (w->sf != NULL && sf_close(w->sf) != 0) {
        mfile_logf(w->log, w->log_user, "sf_close %s: failed", w->name);
        rc = REC_ERR_SNDFILE;
    }
    if (w->fd >= 0) {
        if (w->durable && fsync(w->fd) != 0 && rc == REC_OK) {
            mfile_log_errno(w->log, w->log_user, "fsync", w->name, errno);
            rc = REC_ERR_IO;
        }
        close(w->fd);
    }
    free(w);
    return rc;
}
