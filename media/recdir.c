/* recdir: the recordings directory as a whole: which names belong to
 * which song, the songs as a whole, deleting one, the listing and the
 * Audacity project with the song's ending (see recdir.h).
 *
 * Names are classified once (classify()) so deletion, the listing and the
 * project file agree on what belongs to a song; anything that does not
 * start with a song stamp and end in one of our suffixes is never touched.
 * The listing and the project are built in memory and written atomically
 * (mfile_write_atomic()), so a reader never sees half of either.
 */
#include "recdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "oggpage.h"
#include "recbext.h"

#define TMP_MAX_AGE_S 3600

/* RF_LABELS: SONG-words.txt, the song's words (reclabels.h): deleted and
 * counted with the song, served, but in neither the project nor the
 * listing's mix, stems or project. */
enum { RF_MIX, RF_STEM, RF_LOF, RF_OTHER_LOF, RF_LABELS };

typedef struct {
    char *name;
    int kind;
    int part;         /* RF_MIX: 1 for SONG.wav, K for SONG-partK.wav */
    uint64_t size;
    int64_t mtime;    /* seconds */
} rfile_t;

typedef struct {
    rfile_t *v;
    size_t n, cap;
} rtable_t;

int rec_is_song_stamp(const char *s)
{
    static const char pat[] = "DDDD-DD-DD-DDDDDD";
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; i < REC_SONG_NAME_LEN; i++) {
        if (pat[i] == 'D' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
            return 0;
    }
    return 1;
}

static int is_song_stamp(const char *s) { return rec_is_song_stamp(s); }

/* ---- endings ------------------------------------------------------------- */

static const struct {
    const char *code, *text;
} endings[REC_END_COUNT] = {
    [REC_END_UNKNOWN] = {"unknown", "how it ended was not kept"},
    [REC_END_SONG] = {"ended", "the song ended"},
    [REC_END_NEW_SONG] = {"new_song", "a new song started before this one was all recorded"},
    [REC_END_NEW_LEAD] = {"new_lead", "someone took the lead before this song was all recorded"},
    [REC_END_LEFT] = {"left", "everyone left before this song was all recorded"},
    [REC_END_LENGTH] = {"length", "the recording reached its one-hour limit"},
    [REC_END_FAILED] = {"failed", "the server could not write the recording"},
    [REC_END_DISK] = {"disk", "the server's space for recordings was full"},
    [REC_END_INTERRUPTED] = {"interrupted", "the recording was cut off (the server restarted) and not resumed"},
};

const char *rec_end_code(rec_end_t end)
{
    return (unsigned)end < REC_END_COUNT ? endings[end].code : endings[REC_END_UNKNOWN].code;
}

const char *rec_end_text(rec_end_t end)
{
    return (unsigned)end < REC_END_COUNT ? endings[end].text : endings[REC_END_UNKNOWN].text;
}

rec_end_t rec_end_parse(const char *code, size_t len)
{
    for (int e = REC_END_SONG; code != NULL && e < REC_END_COUNT; e++)
        if (strlen(endings[e].code) == len && memcmp(endings[e].code, code, len) == 0)
            return (rec_end_t)e;
    return REC_END_UNKNOWN;
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
    if (ends_with(name, len, ".txt")) {
        if (rest != 6 || strncmp(r, "-words", 6) != 0)
            return 0;
        *kind = RF_LABELS;
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
        t->v[t->n].mtime = (int64_t)st.st_mtim.tv_sec;
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

int rec_songs(const char *dir, rec_song_t **out, size_t *n, rec_log_fn log, void *log_user)
{
    rtable_t t;
    rec_song_t *v = NULL;
    size_t k = 0;
    int rc;

    if (out == NULL || n == NULL)
        return REC_ERR_ARG;
    *out = NULL;
    *n = 0;
    if (dir == NULL)
        return REC_ERR_ARG;
    rc = table_load(dir, &t, 1, log, log_user);
    if (rc != REC_OK)
        return rc;
    if (t.n > 0 && (v = calloc(t.n, sizeof *v)) == NULL) {
        table_free(&t);
        return REC_ERR_NOMEM;
    }
    for (size_t i = 0; i < t.n; i++) {
        if (i == 0 || !same_song(&t.v[i - 1], &t.v[i])) {
            memcpy(v[k].stamp, t.v[i].name, REC_SONG_NAME_LEN);
            v[k].stamp[REC_SONG_NAME_LEN] = '\0';
            k++;
        }
        rec_song_t *g = &v[k - 1];
        g->files++;
        g->bytes += t.v[i].size;
        if (t.v[i].mtime > g->mtime)
            g->mtime = t.v[i].mtime;
        g->project |= t.v[i].kind == RF_LOF;
    }
    table_free(&t);
    *out = v;
    *n = k;
    return REC_OK;
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

/* "YYYY-MM-DD HH:MM:SS UTC" from a name starting with a song stamp. */
static void stamp_label(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%.10s %.2s:%.2s:%.2s UTC", name, name + 11, name + 13,
             name + 15);
}

/* ---- the Audacity project ----------------------------------------------- */

/* Appends "file "NAME" offset S.NNNNNNNNN" for one WAV or Opus stem, or
 * logs why not. */
static void lof_line(sbuf_t *b, const char *dir, const rfile_t *f,
                     int64_t song_start, rec_log_fn log, void *lu)
{
    const char *why = "no recording origin";
    char path[4096];
    int64_t file_song, origin, off;
    int rc;
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
    rc = ends_with(f->name, strlen(f->name), ".opus")
       ? oggp_stem_info(path, &file_song, &origin)
       : rec_bext_read(path, &file_song, &origin, &why);
    if (rc != 0) {
        mfile_logf(log, lu, "recording project: left out %s (%s)", f->name, why);
        return;
    }
    off = origin - song_start;
    a = off < 0 ? (uint64_t)0 - (uint64_t)off : (uint64_t)off;
    /* Seconds with 9 decimals, in integers: no locale, no rounding drift. */
    ns = ((a % REC_SAMPLE_RATE) * 1000000000u + REC_SAMPLE_RATE / 2) / REC_SAMPLE_RATE;
    sb_printf(b, "file \"%s\" offset %s%" PRIu64 ".%09" PRIu64 "\n", f->name,
              off < 0 ? "-" : "", a / REC_SAMPLE_RATE, ns);
}

int rec_lof_write(const char *dir, int64_t song_start_clock, rec_end_t end,
                  int64_t end_clock, rec_log_fn log, void *log_user)
{
    char song[REC_SONG_NAME_LEN + 1], label[64], lof[REC_SONG_NAME_LEN + 8];
    sbuf_t b = { NULL, 0, 0, 0 };
    rtable_t t;
    size_t i, files = 0;
    int rc, part;

    if (dir == NULL || rec_song_name(song_start_clock, song, sizeof song) != REC_OK)
        return REC_ERR_ARG;
    rc = table_load(dir, &t, 0, log, log_user);
    if (rc != REC_OK)
        return rc;
    for (i = 0; i < t.n; i++)
        files += memcmp(t.v[i].name, song, REC_SONG_NAME_LEN) == 0
                 && (t.v[i].kind == RF_MIX || t.v[i].kind == RF_STEM);
    if (files == 0) {
        /* Nothing of this song was written: no project of nothing. */
        table_free(&t);
        return REC_OK;
    }
    stamp_label(song, label, sizeof label);
    sb_printf(&b, "# Bucket Brigade song %s: open this file in Audacity with the\n"
                  "# files it lists in the same folder.\n", label);
    sb_printf(&b, "# ended: %s (%s)\n", rec_end_code(end), rec_end_text(end));
    if (end_clock > song_start_clock) {
        /* Milliseconds in integers, as the offsets below: no locale. */
        int64_t ms = (end_clock - song_start_clock) * 1000 / REC_SAMPLE_RATE;
        sb_printf(&b, "# length: %" PRId64 ".%03d\n", ms / 1000, (int)(ms % 1000));
    }
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

int64_t rec_stamp_seconds(const char *stamp)
{
    struct tm tm;
    if (!rec_is_song_stamp(stamp))
        return -1;
    memset(&tm, 0, sizeof tm);
    if (sscanf(stamp, "%4d-%2d-%2d-%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? -1 : (int64_t)t;
}

int rec_seal_song(const char *dir, const char *stamp, rec_end_t end, rec_log_fn log,
                  void *log_user)
{
    rtable_t t;
    int64_t start = -1;
    int has_lof = 0, files = 0, rc;

    if (dir == NULL || !rec_is_song_stamp(stamp))
        return REC_ERR_ARG;
    rc = table_load(dir, &t, 0, log, log_user);
    if (rc != REC_OK)
        return rc;
    for (size_t i = 0; i < t.n; i++) {
        if (memcmp(t.v[i].name, stamp, REC_SONG_NAME_LEN) != 0)
            continue;
        has_lof |= t.v[i].kind == RF_LOF;
        if (t.v[i].kind != RF_MIX && t.v[i].kind != RF_STEM)
            continue;
        files++;
        /* The exact start clock, which the offsets count from, is in each
         * of the song's files. */
        char path[4096];
        const char *why;
        int64_t song, origin;
        if (start < 0 && mfile_join(path, sizeof path, dir, t.v[i].name) == MFILE_OK
            && (ends_with(t.v[i].name, strlen(t.v[i].name), ".opus")
                    ? oggp_stem_info(path, &song, &origin)
                    : rec_bext_read(path, &song, &origin, &why)) == 0
            && song >= 0)
            start = song;
    }
    table_free(&t);
    if (has_lof || files == 0)
        return REC_OK;
    /* A start read from the files must fall in the stamp's second. */
    char check[REC_SONG_NAME_LEN + 1];
    if (start >= 0 && (rec_song_name(start, check, sizeof check) != REC_OK
                       || memcmp(check, stamp, REC_SONG_NAME_LEN) != 0))
        start = -1;
    if (start < 0 && rec_stamp_seconds(stamp) >= 0)
        start = rec_stamp_seconds(stamp) * REC_SAMPLE_RATE;
    if (start < 0)
        return REC_ERR_ARG;
    return rec_lof_write(dir, start, end, 0, log, log_user);
}

int rec_song_delete(const char *dir, const char *stamp, uint64_t *bytes, rec_log_fn log,
                    void *log_user)
{
    rtable_t t;
    uint64_t sum = 0;
    int n = 0, failed = 0, rc;

    if (bytes != NULL)
        *bytes = 0;
    if (dir == NULL || !rec_is_song_stamp(stamp) || stamp[REC_SONG_NAME_LEN] != '\0')
        return REC_ERR_ARG;
    rc = table_load(dir, &t, 0, log, log_user);
    if (rc != REC_OK)
        return rc;
    /* Every file but the project, then the project: a song is never seen
     * without it while other files of it remain. */
    for (int pass = 0; pass < 2 && !failed; pass++) {
        for (size_t i = 0; i < t.n; i++) {
            char path[4096];
            if (memcmp(t.v[i].name, stamp, REC_SONG_NAME_LEN) != 0 || (t.v[i].kind == RF_LOF) != (pass == 1))
                continue;
            if (mfile_join(path, sizeof path, dir, t.v[i].name) != MFILE_OK)
                continue;
            if (unlink(path) != 0) {
                if (errno == ENOENT)
                    continue;
                mfile_log_errno(log, log_user, "unlink", path, errno);
                failed = 1;
                continue;
            }
            n++;
            sum += t.v[i].size;
        }
    }
    table_free(&t);
    if (n > 0)
        mfile_fsync_dir(dir, log, log_user);
    if (bytes != NULL)
        *bytes = sum;
    return failed ? REC_ERR_IO : n;
}

int rec_stem_count(const char *dir, int64_t song_start_clock)
{
    char song[REC_SONG_NAME_LEN + 1], prefix[REC_SONG_NAME_LEN + 8];
    int n = 0;

    if (dir == NULL || rec_song_name(song_start_clock, song, sizeof song) != REC_OK)
        return 0;
    snprintf(prefix, sizeof prefix, "%s-stem-", song);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        int kind, part;
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0
            || !classify(de->d_name, &kind, &part) || kind != RF_STEM)
            continue;
        /* A continuation (-partK before the extension) is not another
         * singer. */
        const char *dot = strrchr(de->d_name, '.');
        if (dot != NULL && dot - de->d_name >= 6 && strncmp(dot - 6, "-part", 5) == 0
            && dot[-1] >= '2' && dot[-1] <= '9')
            continue;
        n++;
    }
    closedir(d);
    return n;
}

int rec_file_known(const char *name)
{
    int kind, part;
    if (name == NULL || name[0] == '.')
        return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_' || *c == '.'))
            return 0;
    return classify(name, &kind, &part) && kind != RF_OTHER_LOF;
}

/* The singer of a stem: its ARTIST tag, else the id in its name. */
static void stem_singer(const char *dir, const rfile_t *f, const oggp_crc_t *crc, char *out, size_t cap)
{
    out[0] = '\0';
    if (ends_with(f->name, strlen(f->name), ".opus")) {
        char path[4096];
        oggp_stem_head_t h;
        int fd = mfile_join(path, sizeof path, dir, f->name) == MFILE_OK ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        if (fd >= 0 && oggp_read_stem_head(fd, crc, &h) == 0 && h.singer[0])
            snprintf(out, cap, "%s", h.singer);
        if (fd >= 0)
            close(fd);
    }
    if (out[0])
        return;
    /* SONG-stem-ID[-partK].ext: the id, without a trailing _DIGITS. */
    const char *id = f->name + REC_SONG_NAME_LEN + 6;
    size_t n = strcspn(id, ".-");
    const char *us = memrchr(id, '_', n);
    if (us && us > id)
        n = (size_t)(us - id);
    snprintf(out, cap, "%.*s", (int)n, id);
}

/* The ending and the length (ms, -1 if not given) a project's comment
 * header gives. */
static void lof_head(const char *dir, const char *name, rec_end_t *end, int64_t *ms)
{
    char path[4096], head[1024];
    *end = REC_END_UNKNOWN;
    *ms = -1;
    int fd = mfile_join(path, sizeof path, dir, name) == MFILE_OK ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return;
    ssize_t n = read(fd, head, sizeof head - 1);
    close(fd);
    if (n <= 0)
        return;
    head[n] = '\0';
    for (const char *l = head; l != NULL && *l == '#'; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, "# ended: ", 9) == 0) {
            *end = rec_end_parse(l + 9, strcspn(l + 9, " \n"));
        } else if (strncmp(l, "# length: ", 10) == 0) {
            long long sec = 0;
            int milli = 0;
            if (sscanf(l + 10, "%lld.%3d", &sec, &milli) == 2 && sec >= 0 && milli >= 0)
                *ms = sec * 1000 + milli;
        }
    }
}

/* The length of a mix WAV in ms from its header, or -1. */
static int64_t wav_ms(const char *dir, const char *name)
{
    char path[4096];
    SF_INFO info;
    memset(&info, 0, sizeof info);
    if (mfile_join(path, sizeof path, dir, name) != MFILE_OK)
        return -1;
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (sf == NULL)
        return -1;
    sf_close(sf);
    return info.samplerate > 0 ? (int64_t)info.frames * 1000 / info.samplerate : -1;
}

int rec_listing_json(const char *dir, int max_songs, int64_t recording_song, jw_t *w,
                     rec_log_fn log, void *log_user)
{
    char now_song[REC_SONG_NAME_LEN + 1] = "";
    rtable_t t;
    int rc = table_load(dir, &t, 0, log, log_user);
    if (rc != REC_OK)
        return rc;
    if (recording_song > 0 && rec_song_name(recording_song, now_song, sizeof now_song) != REC_OK)
        now_song[0] = '\0';
    oggp_crc_t crc;
    oggp_crc_init(&crc);
    jw_arr_begin(w);
    size_t end = t.n;
    for (int songs = 0; end > 0 && songs < max_songs; songs++) {
        size_t start = end - 1;
        while (start > 0 && same_song(&t.v[start - 1], &t.v[end - 1]))
            start--;
        jw_obj_begin(w);
        jw_key(w, "song");
        jw_strn(w, t.v[start].name, REC_SONG_NAME_LEN);
        bool complete = false;
        rec_end_t ending = REC_END_UNKNOWN;
        int64_t ms = -1;
        for (size_t i = start; i < end; i++) {
            if (t.v[i].kind == RF_LOF) {
                complete = true;
                lof_head(dir, t.v[i].name, &ending, &ms);
            }
        }
        for (size_t i = start; i < end && ms < 0; i++)
            if (t.v[i].kind == RF_MIX && t.v[i].part == 1)
                ms = wav_ms(dir, t.v[i].name);
        jw_key(w, "complete");
        jw_bool(w, complete);
        jw_key(w, "recording");
        jw_bool(w, now_song[0] && memcmp(now_song, t.v[start].name, REC_SONG_NAME_LEN) == 0);
        jw_key(w, "ended");
        if (complete)
            jw_str(w, rec_end_code(ending));
        else
            jw_null(w);
        jw_key(w, "ended_text");
        if (complete)
            jw_str(w, rec_end_text(ending));
        else
            jw_null(w);
        jw_key(w, "normal");
        jw_bool(w, complete && ending == REC_END_SONG);
        jw_key(w, "seconds");
        if (ms >= 0)
            jw_num(w, (double)ms / 1000.0);
        else
            jw_null(w);
        for (int kind = RF_MIX; kind <= RF_LOF; kind++) {
            jw_key(w, kind == RF_MIX ? "mix" : kind == RF_STEM ? "stems" : "project");
            jw_arr_begin(w);
            /* Files in name order, but a mix before its parts. */
            for (size_t k = 0; k < (end - start) * (kind == RF_MIX ? 9 : 1); k++) {
                size_t i = start + k % (end - start);
                if (t.v[i].kind != kind || (kind == RF_MIX && t.v[i].part != 1 + (int)(k / (end - start))))
                    continue;
                jw_obj_begin(w);
                jw_key(w, "file");
                jw_str(w, t.v[i].name);
                jw_key(w, "bytes");
                jw_int(w, (int64_t)t.v[i].size);
                if (kind == RF_STEM) {
                    char singer[OGGP_SINGER_MAX];
                    stem_singer(dir, &t.v[i], &crc, singer, sizeof singer);
                    jw_key(w, "singer");
                    jw_str(w, singer);
                }
                jw_obj_end(w);
            }
            jw_arr_end(w);
        }
        jw_obj_end(w);
        end = start;
    }
    jw_arr_end(w);
    table_free(&t);
    return REC_OK;
}
