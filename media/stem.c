/* stem: a singer's Opus packets in an Ogg Opus file (see stem.h).
 *
 * Ogg framing (RFC 3533): a page is "OggS", version 0, flags (1 continued,
 * 2 first, 4 last), the granule position (int64), the stream serial, the
 * page sequence number, a CRC-32 of the page with the CRC field zeroed
 * (polynomial 0x04c11db7, no reflection, initial value and final xor 0),
 * the number of lacing values and the lacing values; a packet of L bytes
 * takes L / 255 values of 255 and one of L % 255.  Ogg Opus (RFC 7845):
 * the granule position of a page is the number of 48 kHz samples decoded
 * from the stream's first packet to the end of the last packet completed on
 * that page, pre-skip included.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opus.h>

#include "rng.h"
#include "stem.h"

#define PAGE_HEADER 27
#define PAGE_BODY_MAX (255 * 255)
#define TAIL_SCAN (2 * (PAGE_HEADER + 255 + PAGE_BODY_MAX))
#define FLAG_BOS 2
#define FLAG_EOS 4
#define VENDOR "Bucket Brigade"

struct stem_writer {
    int fd;
    int durable, resumed, started, published;
    int64_t song_start, origin;
    int64_t end;          /* clock the next packet is expected at */
    uint64_t granule;     /* samples in the stream so far, pre-skip included */
    uint64_t limit;       /* largest granule allowed */
    uint32_t serial, seq;
    uint16_t pre_skip;
    uint64_t file_off;    /* bytes in the file */
    uint64_t last_off;    /* offset of the last page in the file */
    uint8_t *last;        /* a copy of that page (for the end-of-stream flag) */
    size_t last_len, last_cap;
    uint8_t *out;         /* pages of the current write */
    size_t out_len, out_cap, out_last;
    uint8_t seg[255];     /* the page being assembled */
    int nseg;
    uint8_t *body;        /* its packets, grown to the largest page seen */
    size_t body_len, body_cap;
    uint8_t sil60[64], sil2[64];   /* encoded silence, made on first need */
    uint32_t sil60_len, sil2_len;
    int shift_logged;
    uint32_t crc[4][256];
    char *dir;            /* the recordings directory */
    char *tmp;            /* the temporary name until the file is published */
    char name[REC_FILE_NAME_MAX];
    char id[REC_STEM_ID_MAX + 1];
    rec_log_fn log;
    void *log_user;
};

static void crc_init(uint32_t *t)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i << 24;
        for (int k = 0; k < 8; k++)
            r = (r & 0x80000000u) ? (r << 1) ^ 0x04c11db7u : r << 1;
        t[i] = r;
    }
}

static void crc_init4(uint32_t (*t4)[256])
{
    crc_init(t4[0]);
    for (int k = 1; k < 4; k++)
        for (int i = 0; i < 256; i++)
            t4[k][i] = (t4[k - 1][i] << 8) ^ t4[0][t4[k - 1][i] >> 24];
}

static uint32_t crc_of(const uint32_t *t, const uint8_t *p, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c = (c << 8) ^ t[(c >> 24) ^ p[i]];
    return c;
}

/* The same, four bytes a step (slicing by four: t4[k][b] is the CRC of
 * byte b followed by k zero bytes), for the pages of every write. */
static uint32_t crc_of4(const uint32_t (*t4)[256], const uint8_t *p, size_t n)
{
    uint32_t c = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t x = c ^ ((uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
                          (uint32_t)p[i + 2] << 8 | p[i + 3]);
        c = t4[3][x >> 24] ^ t4[2][(x >> 16) & 0xff] ^ t4[1][(x >> 8) & 0xff] ^ t4[0][x & 0xff];
    }
    for (; i < n; i++)
        c = (c << 8) ^ t4[0][(c >> 24) ^ p[i]];
    return c;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int reserve(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 8192;
    while (c < need)
        c *= 2;
    uint8_t *np = realloc(*p, c);
    if (!np)
        return -1;
    *p = np;
    *cap = c;
    return 0;
}

/* ---- building pages --------------------------------------------------- */

/* Ends the page being assembled (if it has lacing values, or always with
 * force) and appends it to w->out. */
static int flush_page(stem_writer_t *w, unsigned flags, int force)
{
    if (w->nseg == 0 && !force)
        return REC_OK;
    size_t len = PAGE_HEADER + (size_t)w->nseg + w->body_len;
    if (reserve(&w->out, &w->out_cap, w->out_len + len) != 0)
        return REC_ERR_NOMEM;
    uint8_t *p = w->out + w->out_len;
    memcpy(p, "OggS", 4);
    p[4] = 0;
    p[5] = (uint8_t)flags;
    put64(p + 6, w->granule);
    put32(p + 14, w->serial);
    put32(p + 18, w->seq++);
    put32(p + 22, 0);
    p[26] = (uint8_t)w->nseg;
    memcpy(p + PAGE_HEADER, w->seg, (size_t)w->nseg);
    memcpy(p + PAGE_HEADER + w->nseg, w->body, w->body_len);
    put32(p + 22, crc_of4(w->crc, p, len));
    w->out_last = w->out_len;
    w->out_len += len;
    w->nseg = 0;
    w->body_len = 0;
    return REC_OK;
}

/* Adds one packet to the page being assembled, starting a new page when
 * its lacing values would not fit. */
static int add_packet(stem_writer_t *w, const uint8_t *data, uint32_t len, uint32_t samples,
                      unsigned flags)
{
    int need = (int)(len / 255) + 1;
    if (w->nseg + need > 255) {
        int rc = flush_page(w, flags, 0);
        if (rc != REC_OK)
            return rc;
    }
    if (reserve(&w->body, &w->body_cap, w->body_len + len) != 0)
        return REC_ERR_NOMEM;
    for (int i = 0; i < need - 1; i++)
        w->seg[w->nseg++] = 255;
    w->seg[w->nseg++] = (uint8_t)(len % 255);
    memcpy(w->body + w->body_len, data, len);
    w->body_len += len;
    w->granule += samples;
    return REC_OK;
}

/* Encoded digital silence of 60 ms and 2.5 ms, made once per writer. */
static int make_silence(stem_writer_t *w)
{
    if (w->sil60_len)
        return REC_OK;
    static const float zeros[2880];
    int e;
    OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &e);
    if (!enc)
        return REC_ERR_NOMEM;
    int a = opus_encode_float(enc, zeros, 2880, w->sil60, sizeof w->sil60);
    int b = opus_encode_float(enc, zeros, (int)STEM_SILENCE_UNIT, w->sil2, sizeof w->sil2);
    opus_encoder_destroy(enc);
    if (a <= 0 || b <= 0) {
        mfile_logf(w->log, w->log_user, "stem %s: cannot encode silence", w->name);
        return REC_ERR_IO;
    }
    w->sil60_len = (uint32_t)a;
    w->sil2_len = (uint32_t)b;
    return REC_OK;
}

/* Adds `units` 2.5 ms units of silence (60 ms packets while they fit). */
static int add_silence(stem_writer_t *w, uint64_t units)
{
    int rc = make_silence(w);
    for (; rc == REC_OK && units >= 24; units -= 24)
        rc = add_packet(w, w->sil60, w->sil60_len, 2880, 0);
    for (; rc == REC_OK && units > 0; units--)
        rc = add_packet(w, w->sil2, w->sil2_len, STEM_SILENCE_UNIT, 0);
    return rc;
}

/* The two header pages of a new file. */
static int add_headers(stem_writer_t *w)
{
    uint8_t head[19];
    memcpy(head, "OpusHead", 8);
    head[8] = 1;               /* version */
    head[9] = 1;               /* channels */
    put16(head + 10, w->pre_skip);
    put32(head + 12, 48000);   /* input sample rate */
    put16(head + 16, 0);       /* output gain */
    head[18] = 0;              /* mapping family: mono */
    int rc = add_packet(w, head, sizeof head, 0, FLAG_BOS);
    if (rc == REC_OK)
        rc = flush_page(w, FLAG_BOS, 0);
    if (rc != REC_OK)
        return rc;

    char c[3][96];
    int cl[3];
    cl[0] = snprintf(c[0], sizeof c[0], "BB_SONG_START=%" PRId64, w->song_start);
    cl[1] = snprintf(c[1], sizeof c[1], "BB_ORIGIN=%" PRId64, w->origin);
    cl[2] = snprintf(c[2], sizeof c[2], "BB_STEM=%s", w->id);
    uint8_t tags[8 + 4 + sizeof VENDOR + 4 + 3 * (4 + 96)];
    size_t n = 0;
    memcpy(tags, "OpusTags", 8);
    n = 8;
    put32(tags + n, sizeof VENDOR - 1);
    memcpy(tags + n + 4, VENDOR, sizeof VENDOR - 1);
    n += 4 + sizeof VENDOR - 1;
    put32(tags + n, 3);
    n += 4;
    for (int i = 0; i < 3; i++) {
        put32(tags + n, (uint32_t)cl[i]);
        memcpy(tags + n + 4, c[i], (size_t)cl[i]);
        n += 4 + (size_t)cl[i];
    }
    rc = add_packet(w, tags, (uint32_t)n, 0, 0);
    return rc == REC_OK ? flush_page(w, 0, 0) : rc;
}

/* ---- reading an existing file ---------------------------------------- */

/* Checks a page at buf[0..avail): returns its length, or 0 if it is not a
 * whole page with a good CRC. */
static size_t page_check(const uint32_t *crc, const uint8_t *buf, size_t avail)
{
    if (avail < PAGE_HEADER || memcmp(buf, "OggS", 4) != 0 || buf[4] != 0)
        return 0;
    size_t nseg = buf[26];
    if (avail < PAGE_HEADER + nseg)
        return 0;
    size_t body = 0;
    for (size_t i = 0; i < nseg; i++)
        body += buf[PAGE_HEADER + i];
    size_t len = PAGE_HEADER + nseg + body;
    if (avail < len)
        return 0;
    uint8_t hdr[PAGE_HEADER];
    memcpy(hdr, buf, PAGE_HEADER);
    put32(hdr + 22, 0);
    uint32_t c = crc_of(crc, hdr, PAGE_HEADER);
    for (size_t i = PAGE_HEADER; i < len; i++)
        c = (c << 8) ^ crc[(c >> 24) ^ buf[i]];
    return c == get32(buf + 22) ? len : 0;
}

/* The first packet of a page that holds exactly one whole packet. */
static const uint8_t *page_packet(const uint8_t *page, size_t *len)
{
    size_t nseg = page[26], body = 0;
    if (nseg == 0 || page[PAGE_HEADER + nseg - 1] == 255)
        return NULL;
    for (size_t i = 0; i < nseg; i++)
        body += page[PAGE_HEADER + i];
    *len = body;
    return page + PAGE_HEADER + nseg;
}

static int tag_value(const uint8_t *p, size_t n, const char *key, int64_t *out)
{
    size_t k = strlen(key);
    if (n <= k || n > 40 || memcmp(p, key, k) != 0)
        return 0;
    char v[48];
    memcpy(v, p + k, n - k);
    v[n - k] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0)
        return 0;
    *out = x;
    return 1;
}

typedef struct {
    uint32_t serial;
    uint16_t pre_skip;
    int64_t song_start, origin;
    size_t headers_end;    /* bytes of the two header pages */
} stem_info_t;

/* Reads the two header pages of fd.  0, or -1 if they are not ours. */
static int read_headers(int fd, const uint32_t *crc, stem_info_t *inf)
{
    enum { CAP = 2 * (PAGE_HEADER + 255) + 2048 };
    uint8_t buf[CAP];
    ssize_t got = pread(fd, buf, sizeof buf, 0);
    if (got <= 0)
        return -1;
    size_t l0 = page_check(crc, buf, (size_t)got);
    if (!l0 || !(buf[5] & FLAG_BOS))
        return -1;
    size_t hl;
    const uint8_t *h = page_packet(buf, &hl);
    if (!h || hl < 19 || memcmp(h, "OpusHead", 8) != 0 || h[9] != 1 || h[18] != 0)
        return -1;
    inf->serial = get32(buf + 14);
    inf->pre_skip = (uint16_t)(h[10] | h[11] << 8);
    size_t l1 = page_check(crc, buf + l0, (size_t)got - l0);
    if (!l1 || get32(buf + l0 + 14) != inf->serial)
        return -1;
    size_t tl;
    const uint8_t *t = page_packet(buf + l0, &tl);
    if (!t || tl < 16 || memcmp(t, "OpusTags", 8) != 0)
        return -1;
    size_t at = 8, vl = get32(t + 8);
    if (vl > tl - 16)
        return -1;
    at += 4 + vl;
    uint32_t count = get32(t + at);
    at += 4;
    int have = 0;
    for (uint32_t i = 0; i < count && at + 4 <= tl; i++) {
        size_t cl = get32(t + at);
        if (cl > tl - at - 4)
            return -1;
        have |= tag_value(t + at + 4, cl, "BB_SONG_START=", &inf->song_start) ? 1 : 0;
        have |= tag_value(t + at + 4, cl, "BB_ORIGIN=", &inf->origin) ? 2 : 0;
        at += 4 + cl;
    }
    if (have != 3 || inf->origin < inf->song_start)
        return -1;
    inf->headers_end = l0 + l1;
    return 0;
}

int stem_read_info(const char *path, int64_t *song_start, int64_t *origin)
{
    uint32_t crc[256];
    stem_info_t inf;
    crc_init(crc);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = read_headers(fd, crc, &inf);
    close(fd);
    if (rc == 0) {
        *song_start = inf.song_start;
        *origin = inf.origin;
    }
    return rc;
}

/* Continues dir/name.  REC_OK, REC_ERR_BUSY / _IO / _NOMEM, 1 when the file
 * exists but is not this song's stem, 2 when it does not exist. */
static int try_append(stem_writer_t *w, const char *path)
{
    int fd = mfile_open_locked(path, w->log, w->log_user);
    if (fd < 0)
        return fd == MFILE_ERR_NOENT ? 2 : fd == MFILE_ERR_BUSY ? REC_ERR_BUSY : REC_ERR_IO;
    stem_info_t inf;
    struct stat st;
    if (read_headers(fd, w->crc[0], &inf) != 0 || inf.song_start != w->song_start
        || fstat(fd, &st) != 0) {
        mfile_logf(w->log, w->log_user, "stem %s: cannot be continued (not this song's stem)",
                   w->name);
        close(fd);
        return 1;
    }
    /* The last whole page with a good CRC. */
    uint64_t size = (uint64_t)st.st_size;
    uint64_t from = size > TAIL_SCAN ? size - TAIL_SCAN : 0;
    if (from < inf.headers_end)
        from = inf.headers_end;
    size_t n = (size_t)(size - from);
    uint8_t *tail = malloc(n ? n : 1);
    if (!tail) {
        close(fd);
        return REC_ERR_NOMEM;
    }
    if (n && pread(fd, tail, n, (off_t)from) != (ssize_t)n) {
        mfile_log_errno(w->log, w->log_user, "pread", path, errno);
        free(tail);
        close(fd);
        return REC_ERR_IO;
    }
    size_t found = SIZE_MAX, flen = 0;
    for (size_t q = n; q-- > 0;) {
        size_t l = tail[q] == 'O' ? page_check(w->crc[0], tail + q, n - q) : 0;
        if (l && get32(tail + q + 14) == inf.serial) {
            found = q;
            flen = l;
            break;
        }
    }
    w->serial = inf.serial;
    w->pre_skip = inf.pre_skip;
    w->origin = inf.origin;
    uint64_t end_off;
    if (found == SIZE_MAX) {
        if (size - inf.headers_end > TAIL_SCAN / 2) {
            mfile_logf(w->log, w->log_user, "stem %s: cannot be continued (no whole page at its end)",
                       w->name);
            free(tail);
            close(fd);
            return 1;
        }
        w->granule = 0;
        w->seq = 2;
        end_off = inf.headers_end;
    } else {
        uint8_t *pg = tail + found;
        if (pg[5] & FLAG_EOS) {
            pg[5] &= (uint8_t)~FLAG_EOS;
            put32(pg + 22, 0);
            put32(pg + 22, crc_of4(w->crc, pg, flen));
            if (pwrite(fd, pg, PAGE_HEADER, (off_t)(from + found)) != PAGE_HEADER) {
                mfile_log_errno(w->log, w->log_user, "pwrite", path, errno);
                free(tail);
                close(fd);
                return REC_ERR_IO;
            }
        }
        if (reserve(&w->last, &w->last_cap, flen) != 0) {
            free(tail);
            close(fd);
            return REC_ERR_NOMEM;
        }
        memcpy(w->last, pg, flen);
        w->last_len = flen;
        w->last_off = from + found;
        w->granule = get64(pg + 6);
        w->seq = get32(pg + 18) + 1;
        end_off = from + found + flen;
    }
    free(tail);
    if (end_off < size) {
        mfile_logf(w->log, w->log_user, "stem %s: cut %" PRIu64 " bytes of a torn page at its end",
                   w->name, size - end_off);
        if (ftruncate(fd, (off_t)end_off) != 0) {
            mfile_log_errno(w->log, w->log_user, "ftruncate", path, errno);
            close(fd);
            return REC_ERR_IO;
        }
    }
    w->fd = fd;
    w->file_off = end_off;
    w->end = w->origin - w->pre_skip + (int64_t)w->granule;
    w->started = w->published = w->resumed = 1;
    return REC_OK;
}

stem_writer_t *stem_create(const char *dir, int64_t song_start, const char *stem_id,
                           int64_t origin, unsigned flags, rec_log_fn log, void *log_user,
                           int *err)
{
    int rc = REC_ERR_ARG;
    stem_writer_t *w = NULL;
    char probe[REC_FILE_NAME_MAX];
    if (!dir || !stem_id || origin < song_start ||
        rec_file_name(probe, sizeof probe, song_start, stem_id, 1, "opus") != REC_OK)
        goto fail;
    rc = REC_ERR_NOMEM;
    w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir)) || !(w->tmp = malloc(PATH_MAX)))
        goto fail;
    w->tmp[0] = '\0';
    w->fd = -1;
    w->durable = !(flags & REC_NO_SYNC);
    w->song_start = song_start;
    w->origin = origin;
    w->limit = REC_MAX_FRAMES + STEM_PRESKIP_MAX;
    w->log = log;
    w->log_user = log_user;
    /* The id as the file name has it (probe: SONG-stem-ID.opus). */
    snprintf(w->id, sizeof w->id, "%.*s", (int)(strlen(probe) - REC_SONG_NAME_LEN - 6 - 5),
             probe + REC_SONG_NAME_LEN + 6);
    crc_init4(w->crc);
    /* The stream serial: a hash of the song and the singer, so the stems
     * of one song differ (RFC 3533 asks for distinct serials). */
    uint64_t h = rng_mix64((uint64_t)song_start);
    for (const char *c = w->id; *c; c++)
        h = rng_mix64(h ^ (uint8_t)*c);
    w->serial = (uint32_t)(h ^ h >> 32);

    for (int part = 1; part <= REC_MAX_PART; part++) {
        char path[4096 + REC_FILE_NAME_MAX];
        rec_file_name(w->name, sizeof w->name, song_start, stem_id, part, "opus");
        if (mfile_join(path, sizeof path, dir, w->name) != MFILE_OK) {
            rc = REC_ERR_ARG;
            goto fail;
        }
        rc = try_append(w, path);
        if (rc == REC_OK) {
            free(w->tmp);
            w->tmp = NULL;
            return w;
        }
        if (rc == 2) {
            /* A new file: made under a temporary name now, published with
             * its first audio. */
            int fd = mfile_tmp_create(dir, w->name, w->tmp, PATH_MAX, log, log_user);
            if (fd < 0) {
                rc = fd == MFILE_ERR_ARG ? REC_ERR_ARG : REC_ERR_IO;
                goto fail;
            }
            if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
                mfile_log_errno(log, log_user, "flock", w->tmp, errno);
                close(fd);
                unlink(w->tmp);
                rc = REC_ERR_IO;
                goto fail;
            }
            w->fd = fd;
            if (part >= 2)
                mfile_logf(log, log_user, "stem continues in %s", w->name);
            return w;
        }
        if (rc != 1)
            goto fail;
        rc = REC_ERR_PARTS;
    }
fail:
    if (w) {
        free(w->dir);
        free(w->tmp);
        free(w->body);
        free(w->last);
        free(w);
    }
    if (err)
        *err = rc;
    return NULL;
}

/* Writes w->out to the file: a new file is published with its first pages. */
static int put_out(stem_writer_t *w)
{
    if (w->out_len == 0)
        return REC_OK;
    const uint8_t *p = w->out;
    size_t left = w->out_len;
    off_t at = (off_t)w->file_off;
    while (left > 0) {
        ssize_t k = pwrite(w->fd, p, left, at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            mfile_log_errno(w->log, w->log_user, "pwrite", w->name, k < 0 ? errno : EIO);
            return REC_ERR_IO;
        }
        p += k;
        left -= (size_t)k;
        at += k;
    }
    size_t plen = w->out_len - w->out_last;
    if (reserve(&w->last, &w->last_cap, plen) != 0)
        return REC_ERR_NOMEM;
    memcpy(w->last, w->out + w->out_last, plen);
    w->last_len = plen;
    w->last_off = w->file_off + w->out_last;
    w->file_off += w->out_len;
    w->out_len = 0;
    if (!w->published) {
        int rc = mfile_publish_ex(w->fd, w->tmp, w->dir, w->name, 0, w->durable, w->log,
                                  w->log_user);
        if (rc != MFILE_OK) {
            if (rc == MFILE_ERR_EXISTS)
                mfile_logf(w->log, w->log_user, "stem %s: made meanwhile by another writer",
                           w->name);
            return rc == MFILE_ERR_EXISTS ? REC_ERR_BUSY : REC_ERR_IO;
        }
        w->published = 1;
        free(w->tmp);
        w->tmp = NULL;
    }
    return REC_OK;
}

int stem_write(stem_writer_t *w, int64_t clock, const stem_packet_t *pk, uint32_t n)
{
    if (!w || (n && !pk))
        return REC_ERR_ARG;
    for (uint32_t i = 0; i < n; i++)
        if (!pk[i].data || pk[i].len == 0 || pk[i].len > STEM_PACKET_MAX ||
            pk[i].samples < STEM_SILENCE_UNIT || pk[i].samples > 5760)
            return REC_ERR_ARG;
    int rc = REC_OK;
    uint32_t i = 0;
    int64_t c = clock;
    if (!w->started) {
        /* Pre-roll reaches back at most STEM_PRESKIP_MAX samples. */
        while (i < n && w->origin - c > (int64_t)STEM_PRESKIP_MAX)
            c += pk[i++].samples;
        if (i == n)
            return REC_OK;
        int64_t t0 = c;
        if (c - w->origin > (int64_t)w->limit)
            return REC_ERR_FULL;
        if (c > w->origin) {
            /* Audio starts after the origin: silence first, its start
             * moved back to a whole 2.5 ms, the excess in the pre-skip. */
            uint64_t g = (uint64_t)(c - w->origin);
            t0 = c - (int64_t)((g + STEM_SILENCE_UNIT - 1) / STEM_SILENCE_UNIT * STEM_SILENCE_UNIT);
        }
        w->pre_skip = (uint16_t)(w->origin - t0);
        w->granule = 0;
        w->seq = 0;
        rc = add_headers(w);
        if (rc == REC_OK && c > t0)
            rc = add_silence(w, (uint64_t)(c - t0) / STEM_SILENCE_UNIT);
        w->end = c;
        w->started = 1;
    }
    for (; rc == REC_OK && i < n; c += pk[i++].samples) {
        if (c < w->end)
            continue;   /* held already (a packet across the end too) */
        if (c > w->end) {
            uint64_t g = (uint64_t)(c - w->end);
            if (g > w->limit) {
                rc = REC_ERR_FULL;
                break;
            }
            uint64_t units = (g + STEM_SILENCE_UNIT / 2) / STEM_SILENCE_UNIT;
            if (g % STEM_SILENCE_UNIT && !w->shift_logged) {
                w->shift_logged = 1;
                mfile_logf(w->log, w->log_user,
                           "stem %s: a gap of %" PRIu64 " samples is not a whole 2.5 ms; "
                           "what follows is placed %" PRId64 " samples off",
                           w->name, g, (int64_t)(units * STEM_SILENCE_UNIT) - (int64_t)g);
            }
            rc = add_silence(w, units);
            if (rc != REC_OK)
                break;
        }
        if (w->granule + pk[i].samples > w->limit) {
            rc = REC_ERR_FULL;
            break;
        }
        rc = add_packet(w, pk[i].data, pk[i].len, pk[i].samples, 0);
        w->end = c + pk[i].samples;
    }
    int frc = flush_page(w, 0, 0);
    int prc = frc == REC_OK ? put_out(w) : frc;
    w->out_len = 0;
    return rc != REC_OK ? rc : prc;
}

int64_t stem_get_end_clock(const stem_writer_t *w)
{
    return w->started ? w->end : w->origin;
}

int64_t stem_get_origin_clock(const stem_writer_t *w)
{
    return w->origin;
}

const char *stem_get_file_name(const stem_writer_t *w)
{
    return w->name;
}

int stem_get_resumed(const stem_writer_t *w)
{
    return w->resumed;
}

int stem_destroy(stem_writer_t *w)
{
    if (!w)
        return REC_OK;
    int rc = REC_OK;
    if (w->published && w->last_len >= PAGE_HEADER) {
        w->last[5] |= FLAG_EOS;
        put32(w->last + 22, 0);
        put32(w->last + 22, crc_of4(w->crc, w->last, w->last_len));
        if (pwrite(w->fd, w->last, PAGE_HEADER, (off_t)w->last_off) != PAGE_HEADER) {
            mfile_log_errno(w->log, w->log_user, "pwrite", w->name, errno);
            rc = REC_ERR_IO;
        }
    }
    if (w->fd >= 0) {
        if (w->published && w->durable && fsync(w->fd) != 0 && rc == REC_OK) {
            mfile_log_errno(w->log, w->log_user, "fsync", w->name, errno);
            rc = REC_ERR_IO;
        }
        close(w->fd);
    }
    if (!w->published && w->tmp && w->tmp[0])
        unlink(w->tmp);
    free(w->dir);
    free(w->tmp);
    free(w->body);
    free(w->last);
    free(w->out);
    free(w);
    return rc;
}
