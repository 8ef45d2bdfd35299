/* recording: the song WAV writer (mix and stems), the Audacity project,
 * pruning and the listing page.
 *
 * Writer invariants: w->frames is the number of samples libsndfile has
 * accepted into the file, so origin + frames is the clock of the next
 * sample; the header on disk is rewritten after every write
 * (SFC_SET_UPDATE_HEADER_AUTO), so the frame count a restarted writer reads
 * back is at most one write behind what reached the page cache, and the
 * overlap rule (first write wins) makes a replay of that write harmless.
 * The writer owns its descriptor (libsndfile is given it with
 * close_desc = SF_FALSE) so it can hold the flock() and fsync at the end.
 *
 * Directory functions classify names once (classify()) so pruning, the
 * listing and the project file agree on what belongs to a song.
 */
#include "recording.h"
#include "stem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096                  /* int16 samples converted per write */
#define DAY_SAMPLES ((int64_t)86400 * REC_SAMPLE_RATE)
#define TMP_MAX_AGE_S 3600
#define DESC_PREFIX "Bucket Brigade recording;"
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

const char *rec_strerror(int err)
{
    switch (err) {
    case REC_OK: return "success";
    case REC_ERR_ARG: return "invalid argument";
    case REC_ERR_NOMEM: return "out of memory";
    case REC_ERR_IO: return "file system call failed";
    case REC_ERR_SNDFILE: return "libsndfile could not open or write the file";
    case REC_ERR_BUSY: return "another writer holds this recording";
    case REC_ERR_FULL: return "recording reached its maximum length";
    case REC_ERR_PARTS: return "no part name left for this recording";
    default: return "unknown recording error";
    }
}

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

/* Broken-down UTC time of a clock (whole seconds, rounded down). */
static int clock_utc(int64_t clock, struct tm *tm)
{
    time_t t;

    if (clock < 0 || clock / REC_SAMPLE_RATE > (int64_t)253402300799LL)
        return REC_ERR_ARG;   /* before 1970 or after 9999-12-31 */
    t = (time_t)(clock / REC_SAMPLE_RATE);
    return gmtime_r(&t, tm) != NULL ? REC_OK : REC_ERR_ARG;
}

int rec_song_name(int64_t song_start_clock, char *out, size_t cap)
{
    struct tm tm;

    if (out == NULL || cap < REC_SONG_NAME_LEN + 1
        || clock_utc(song_start_clock, &tm) != REC_OK)
        return REC_ERR_ARG;
    snprintf(out, cap, "%04d-%02d-%02d-%02d%02d%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return REC_OK;
}

/* Reduces a singer id to [A-Za-z0-9_], at most REC_STEM_ID_MAX bytes. */
static int clean_stem_id(const char *id, char *out)
{
    size_t o = 0;
    int any = 0;

    for (; *id != '\0' && o < REC_STEM_ID_MAX; id++) {
        char c = *id;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_';
        out[o++] = ok ? c : '_';
        any |= ok;
    }
    out[o] = '\0';
    return any ? REC_OK : REC_ERR_ARG;
}

static void make_file_name(char *out, size_t cap, const char *song,
                           const char *stem, int part)
{
    char part_s[16] = "";

    if (part >= 2)
        snprintf(part_s, sizeof part_s, "-part%d", part);
    if (stem != NULL)
        snprintf(out, cap, "%s-stem-%s%s.wav", song, stem, part_s);
    else
        snprintf(out, cap, "%s%s.wav", song, part_s);
}

int rec_file_name(char *out, size_t cap, int64_t song_start_clock, const char *stem_id,
                  int part, const char *ext)
{
    char song[REC_SONG_NAME_LEN + 1], stem[REC_STEM_ID_MAX + 1], part_s[16] = "";
    int k;

    if (out == NULL || ext == NULL || part < 1 || part > REC_MAX_PART
        || rec_song_name(song_start_clock, song, sizeof song) != REC_OK
        || (stem_id != NULL && clean_stem_id(stem_id, stem) != REC_OK))
        return REC_ERR_ARG;
    if (part >= 2)
        snprintf(part_s, sizeof part_s, "-part%d", part);
    if (stem_id != NULL)
        k = snprintf(out, cap, "%s-stem-%s%s.%s", song, stem, part_s, ext);
    else
        k = snprintf(out, cap, "%s%s.%s", song, part_s, ext);
    return k > 0 && (size_t)k < cap ? REC_OK : REC_ERR_ARG;
}

/* ---- the bext chunk ----------------------------------------------------- */

static void bext_fill(SF_BROADCAST_INFO *bi, int64_t song_start, int64_t origin,
                      const char *stem)
{
    char date[40], tod[40];
    uint64_t tref = (uint64_t)(origin % DAY_SAMPLES);
    struct tm tm;

    memset(bi, 0, sizeof *bi);
    snprintf(bi->description, sizeof bi->description,
             DESC_PREFIX " song_start=%" PRId64 " origin=%" PRId64, song_start,
             origin);
    snprintf(bi->originator, sizeof bi->originator, "Bucket Brigade");
    snprintf(bi->originator_reference, sizeof bi->originator_reference,
             "%s%.24s", stem ? "stem-" : "mix", stem ? stem : "");
    if (clock_utc(origin, &tm) == REC_OK) {
        /* Exactly 10 and 8 characters, not NUL-terminated in the chunk. */
        snprintf(date, sizeof date, "%04d-%02d-%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday);
        snprintf(tod, sizeof tod, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        memcpy(bi->origination_date, date, sizeof bi->origination_date);
        memcpy(bi->origination_time, tod, sizeof bi->origination_time);
    }
    /* BWF time reference: samples since midnight (here UTC). */
    bi->time_reference_low = (uint32_t)tref;
    bi->time_reference_high = (uint32_t)(tref >> 32);
    bi->version = 1;
}

/* Reads song_start and origin from an open file's bext description. */
static int bext_parse(SNDFILE *sf, int64_t *song_start, int64_t *origin)
{
    SF_BROADCAST_INFO bi;
    char desc[sizeof bi.description + 1];
    const char *a, *b;
    char *end;
    long long v1, v2;

    memset(&bi, 0, sizeof bi);
    if (sf_command(sf, SFC_GET_BROADCAST_INFO, &bi, sizeof bi) != SF_TRUE)
        return -1;
    memcpy(desc, bi.description, sizeof bi.description);
    desc[sizeof bi.description] = '\0';
    if (strncmp(desc, DESC_PREFIX, sizeof DESC_PREFIX - 1) != 0)
        return -1;
    a = strstr(desc, " song_start=");
    b = strstr(desc, " origin=");
    if (a == NULL || b == NULL)
        return -1;
    errno = 0;
    v1 = strtoll(a + 12, &end, 10);
    if (errno != 0 || end == a + 12 || (*end != ' ' && *end != '\0'))
        return -1;
    v2 = strtoll(b + 8, &end, 10);
    if (errno != 0 || end == b + 8 || (*end != ' ' && *end != '\0'))
        return -1;
    if (v1 < 0 || v2 < v1)
        return -1;
    *song_start = v1;
    *origin = v2;
    return 0;
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
        || bext_parse(w->sf, &song_start, &origin) != 0
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
    bext_fill(&bi, w->song_start, origin, stem);
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
        || clock_utc(origin_clock, &(struct tm){0}) != REC_OK
        || (stem_id != NULL && clean_stem_id(stem_id, stem) != REC_OK)) {
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
        make_file_name(w->name, sizeof w->name, song, stem_id ? stem : NULL, part);
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

/* ---- the recordings directory ------------------------------------------- */

enum { RF_MIX, RF_STEM, RF_LOF, RF_OTHER_LOF };

typedef struct {
    char *name;
    int kind;
    int part;         /* RF_MIX: 1 for SONG.wav, K for SONG-partK.wav */
    uint64_t size;
} rfile_t;

typedef struct {
    rfile_t *v;
    size_t n, cap;
} rtable_t;

static int is_song_stamp(const char *s)
{
    static const char pat[] = "DDDD-DD-DD-DDDDDD";
    size_t i;

    for (i = 0; i < REC_SONG_NAME_LEN; i++) {
        if (pat[i] == 'D' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
            return 0;
    }
    return 1;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t b = strlen(suffix);
    return len >= b && memcmp(s + len - b, suffix, b) == 0;
}

/* Decides whether a name belongs to a song and what it is. Returns 1 and
 * fills kind/part if so, 0 for any other name. */
static int classify(const char *name, int *kind, int *part)
{
    size_t len = strlen(name), rest;
    const char *r;

    if (len < REC_SONG_NAME_LEN + 4 || !is_song_stamp(name)
        || (name[REC_SONG_NAME_LEN] != '.' && name[REC_SONG_NAME_LEN] != '-'))
        return 0;
    r = name + REC_SONG_NAME_LEN;
    rest = len - REC_SONG_NAME_LEN - 4;   /* between the stamp and suffix */
    *part = 1;
    if (ends_with(name, len, ".lof")) {
        *kind = rest == 0 ? RF_LOF : RF_OTHER_LOF;
        return 1;
    }
    if (ends_with(name, len, ".opus")) {
        /* Stems only: SONG-stem-... .opus */
        if (strncmp(r, "-stem-", 6) != 0 || len < REC_SONG_NAME_LEN + 6 + 1 + 5)
            return 0;
        *kind = RF_STEM;
        return 1;
    }
    if (!ends_with(name, len, ".wav"))
        return 0;
    *kind = RF_STEM;
    if (rest == 0) {
        *kind = RF_MIX;
    } else if (rest == 6 && strncmp(r, "-part", 5) == 0 && r[5] >= '2' && r[5] <= '9') {
        *kind = RF_MIX;
        *part = r[5] - '0';
    }
    return 1;
}

static int cmp_rfile(const void *a, const void *b)
{
    return strcmp(((const rfile_t *)a)->name, ((const rfile_t *)b)->name);
}

static void table_free(rtable_t *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        free(t->v[i].name);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* Loads every song file of dir, sorted by name (so each song's files are
 * contiguous). With remove_stale_tmp set, also removes our temporary files
 * older than an hour (a crashed writer's leftovers; a younger one may be
 * another process's file in the making). */
static int table_load(const char *dir, rtable_t *t, int remove_stale_tmp,
                      rec_log_fn log, void *lu)
{
    time_t now = time(NULL);
    struct dirent *de;
    DIR *d;

    memset(t, 0, sizeof *t);
    d = opendir(dir);
    if (d == NULL) {
        mfile_log_errno(log, lu, "opendir", dir, errno);
        return REC_ERR_IO;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        int kind, part;

        if (remove_stale_tmp && mfile_is_temp_name(de->d_name)) {
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
                && S_ISREG(st.st_mode) && now - st.st_mtim.tv_sec > TMP_MAX_AGE_S
                && unlinkat(dirfd(d), de->d_name, 0) != 0)
                mfile_log_errno(log, lu, "unlink", de->d_name, errno);
            continue;
        }
        if (!classify(de->d_name, &kind, &part))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0
            || !S_ISREG(st.st_mode))
            continue;
        if (t->n == t->cap) {
            size_t ncap = t->cap ? t->cap * 2 : 64;
            rfile_t *nv = realloc(t->v, ncap * sizeof *nv);
            if (nv == NULL)
                goto nomem;
            t->v = nv;
            t->cap = ncap;
        }
        t->v[t->n].name = strdup(de->d_name);
        if (t->v[t->n].name == NULL)
            goto nomem;
        t->v[t->n].kind = kind;
        t->v[t->n].part = part;
        t->v[t->n].size = (uint64_t)st.st_size;
        t->n++;
    }
    closedir(d);
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, cmp_rfile);
    return REC_OK;
nomem:
    closedir(d);
    table_free(t);
    return REC_ERR_NOMEM;
}

static int same_song(const rfile_t *a, const rfile_t *b)
{
    return memcmp(a->name, b->name, REC_SONG_NAME_LEN) == 0;
}

int rec_prune(const char *dir, int keep, rec_log_fn log, void *log_user)
{
    rtable_t t;
    size_t i, songs = 0, drop, seen = 0;
    int rc;

    if (dir == NULL || keep < 1)
        return REC_ERR_ARG;
    rc = table_load(dir, &t, 1, log, log_user);
    if (rc != REC_OK)
        return rc;
    for (i = 0; i < t.n; i++)
        if (i == 0 || !same_song(&t.v[i - 1], &t.v[i]))
            songs++;
    drop = songs > (size_t)keep ? songs - (size_t)keep : 0;
    for (i = 0; i < t.n && drop > 0; i++) {
        char path[4096];
        if (i == 0 || !same_song(&t.v[i - 1], &t.v[i]))
            seen++;
        if (seen > drop)
            break;
        if (mfile_join(path, sizeof path, dir, t.v[i].name) == MFILE_OK
            && unlink(path) != 0 && errno != ENOENT)
            mfile_log_errno(log, log_user, "unlink", path, errno);
    }
    if (drop > 0)
        mfile_fsync_dir(dir, log, log_user);
    table_free(&t);
    return (int)drop;
}

/* ---- text building ------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        char *np;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_printf(sbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char small[256], *big;
    va_list ap, ap2;
    int n;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
    } else if ((size_t)n < sizeof small) {
        sb_add(b, small, (size_t)n);
    } else if ((big = malloc((size_t)n + 1)) == NULL) {
        b->oom = 1;
    } else {
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
        sb_add(b, big, (size_t)n);
        free(big);
    }
    va_end(ap2);
}

/* Text content and attribute values: the five HTML specials escaped. */
static void sb_html(sbuf_t *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default: sb_add(b, s, 1); break;
        }
    }
}

/* A relative link to a file: every byte outside the URL-unreserved set is
 * percent-encoded, which also leaves nothing for HTML to interpret. */
static void sb_href(sbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
            sb_add(b, s, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            sb_add(b, e, 3);
        }
    }
}

static void sb_mb(sbuf_t *b, uint64_t bytes)
{
    uint64_t hundredths = (bytes + 5000) / 10000;
    sb_printf(b, "%" PRIu64 ".%02" PRIu64 " MB", hundredths / 100, hundredths % 100);
}

static void sb_link(sbuf_t *b, const rfile_t *f, const char *label)
{
    sb_puts(b, "<a href=\"");
    sb_href(b, f->name);
    sb_puts(b, "\">");
    sb_html(b, label);
    sb_puts(b, "</a> (");
    sb_mb(b, f->size);
    sb_puts(b, ")");
}

/* "YYYY-MM-DD HH:MM:SS UTC" from a name starting with a song stamp. */
static void stamp_label(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%.10s %.2s:%.2s:%.2s UTC", name, name + 11, name + 13,
             name + 15);
}

int rec_listing_write(const char *dir, int keep, rec_log_fn log, void *log_user)
{
    sbuf_t b = { NULL, 0, 0, 0 };
    rtable_t t;
    size_t end, i;
    int rc, any = 0;

    if (dir == NULL || keep < 1)
        return REC_ERR_ARG;
    rc = table_load(dir, &t, 0, log, log_user);
    if (rc != REC_OK)
        return rc;
    sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<title>Recordings</title>\n</head>\n<body>\n<h1>Recordings</h1>\n"
                "<p>Songs newest first; times are UTC. Each song has its mix, one stem"
                " per singer and an Audacity project (.lof: download it together with"
                " the files it lists, into one folder, then open it in Audacity).</p>\n"
                "<ul>\n");
    /* Walk the songs from the newest (the table is sorted ascending). */
    end = t.n;
    while (end > 0) {
        size_t start = end - 1;
        char label[64];
        int n_stems = 0;

        while (start > 0 && same_song(&t.v[start - 1], &t.v[end - 1]))
            start--;
        any = 1;
        stamp_label(t.v[start].name, label, sizeof label);
        sb_puts(&b, "<li>");
        for (i = start; i < end; i++)
            if (t.v[i].kind == RF_MIX && t.v[i].part == 1)
                break;
        if (i < end)
            sb_link(&b, &t.v[i], label);
        else
            sb_html(&b, label);
        for (i = start; i < end; i++) {
            if (t.v[i].kind == RF_MIX && t.v[i].part >= 2) {
                char part[32];
                snprintf(part, sizeof part, "part %d", t.v[i].part);
                sb_puts(&b, ", ");
                sb_link(&b, &t.v[i], part);
            }
        }
        for (i = start; i < end; i++) {
            if (t.v[i].kind != RF_STEM)
                continue;
            sb_puts(&b, n_stems++ == 0 ? "<br>\nStems: " : ", ");
            /* Label: the name without the stamp, the '-' and the suffix. */
            {
                size_t len = strlen(t.v[i].name);
                size_t suffix = strlen(strrchr(t.v[i].name, '.'));
                char *stem_label = strndup(t.v[i].name + REC_SONG_NAME_LEN + 1,
                                           len - REC_SONG_NAME_LEN - 1 - suffix);
                if (stem_label == NULL) {
                    b.oom = 1;
                    break;
                }
                sb_link(&b, &t.v[i], stem_label);
                free(stem_label);
            }
        }
        for (i = start; i < end; i++) {
            if (t.v[i].kind == RF_LOF) {
                sb_puts(&b, "<br>\n");
                sb_link(&b, &t.v[i], "Audacity project");
            }
        }
        sb_puts(&b, "</li>\n");
        end = start;
    }
    if (!any)
        sb_puts(&b, "<li>No recordings yet.</li>\n");
    sb_printf(&b, "</ul>\n<p>Only the %d most recent songs are kept.</p>\n"
                  "</body>\n</html>\n", keep);
    table_free(&t);
    if (b.oom) {
        free(b.p);
        return REC_ERR_NOMEM;
    }
    rc = mfile_write_atomic(dir, "index.html", b.p, b.len, 1, log, log_user);
    free(b.p);
    return rc == MFILE_OK ? REC_OK : rc == MFILE_ERR_ARG ? REC_ERR_ARG : REC_ERR_IO;
}

/* ---- the Audacity project ----------------------------------------------- */

/* Appends "file "NAME" offset S.NNNNNNNNN" for one WAV, or logs why not. */
static void lof_line(sbuf_t *b, const char *dir, const rfile_t *f,
                     int64_t song_start, rec_log_fn log, void *lu)
{
    char path[4096];
    SF_INFO info;
    SNDFILE *sf;
    int64_t file_song, origin, off;
    uint64_t a, ns;
    const char *c;

    for (c = f->name; *c != '\0'; c++) {
        if (*c == '"' || *c == '#' || (unsigned char)*c < 0x20) {
            mfile_logf(log, lu, "recording project: left out a file whose name Audacity cannot read");
            return;
        }
    }
    if (mfile_join(path, sizeof path, dir, f->name) != MFILE_OK)
        return;
    if (ends_with(f->name, strlen(f->name), ".opus")) {
        if (stem_read_info(path, &file_song, &origin) != 0) {
            mfile_logf(log, lu, "recording project: left out %s (no recording origin)",
                       f->name);
            return;
        }
        goto place;
    }
    memset(&info, 0, sizeof info);
    sf = sf_open(path, SFM_READ, &info);
    if (sf == NULL) {
        mfile_logf(log, lu, "recording project: left out %s (%s)", f->name,
                   sf_strerror(NULL));
        return;
    }
    if (bext_parse(sf, &file_song, &origin) != 0) {
        sf_close(sf);
        mfile_logf(log, lu, "recording project: left out %s (no recording origin)",
                   f->name);
        return;
    }
    sf_close(sf);
place:
    off = origin - song_start;
    a = off < 0 ? (uint64_t)0 - (uint64_t)off : (uint64_t)off;
    /* Seconds with 9 decimals, in integers: no locale, no rounding drift. */
    ns = ((a % REC_SAMPLE_RATE) * 1000000000u + REC_SAMPLE_RATE / 2) / REC_SAMPLE_RATE;
    sb_printf(b, "file \"%s\" offset %s%" PRIu64 ".%09" PRIu64 "\n", f->name,
              off < 0 ? "-" : "", a / REC_SAMPLE_RATE, ns);
}

int rec_lof_write(const char *dir, int64_t song_start_clock, rec_log_fn log,
                  void *log_user)
{
    char song[REC_SONG_NAME_LEN + 1], label[64], lof[REC_SONG_NAME_LEN + 8];
    sbuf_t b = { NULL, 0, 0, 0 };
    rtable_t t;
    size_t i;
    int rc, part;

    if (dir == NULL || rec_song_name(song_start_clock, song, sizeof song) != REC_OK)
        return REC_ERR_ARG;
    rc = table_load(dir, &t, 0, log, log_user);
    if (rc != REC_OK)
        return rc;
    stamp_label(song, label, sizeof label);
    sb_printf(&b, "# Bucket Brigade song %s: open this file in Audacity with the\n"
                  "# files it lists in the same folder.\n", label);
    for (part = 1; part <= REC_MAX_PART; part++)
        for (i = 0; i < t.n; i++)
            if (memcmp(t.v[i].name, song, REC_SONG_NAME_LEN) == 0
                && t.v[i].kind == RF_MIX && t.v[i].part == part)
                lof_line(&b, dir, &t.v[i], song_start_clock, log, log_user);
    for (i = 0; i < t.n; i++)
        if (memcmp(t.v[i].name, song, REC_SONG_NAME_LEN) == 0
            && t.v[i].kind == RF_STEM)
            lof_line(&b, dir, &t.v[i], song_start_clock, log, log_user);
    table_free(&t);
    if (b.oom) {
        free(b.p);
        return REC_ERR_NOMEM;
    }
    snprintf(lof, sizeof lof, "%s.lof", song);
    rc = mfile_write_atomic(dir, lof, b.p, b.len, 1, log, log_user);
    free(b.p);
    return rc == MFILE_OK ? REC_OK : rc == MFILE_ERR_ARG ? REC_ERR_ARG : REC_ERR_IO;
}
