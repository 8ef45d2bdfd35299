/* stem: the Opus stem writer (see stem.h): pages built from a singer's
 * packets, appended to an Ogg Opus file, and a file continued after a
 * restart.
 *
 * Ogg framing is oggpage.h's (RFC 3533), and so is the reading of an
 * existing stem's head.  Ogg Opus (RFC 7845): the granule position of a
 * page is the number of 48 kHz samples decoded from the stream's first
 * packet to the end of the last packet completed on that page, pre-skip
 * included.  Only the silence that fills gaps is encoded here, which is
 * why this module, alone of the media modules, links libopus.
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

#include "strutil.h"

#include <opus.h>

#include "oggpage.h"
#include "rng.h"
#include "stem.h"

#define TAIL_SCAN (2 * (OGGP_HEADER + 255 + OGGP_BODY_MAX))
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
    oggp_crc_t crc;
    char *dir;            /* the recordings directory */
    char singer[OGGP_SINGER_MAX];   /* the singer's name, an ARTIST tag */
    char *tmp;            /* the temporary name until the file is published */
    char name[REC_FILE_NAME_MAX];
    char id[REC_STEM_ID_MAX + 1];
    rec_log_fn log;
    void *log_user;
};

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
    size_t len = OGGP_HEADER + (size_t)w->nseg + w->body_len;
    if (reserve(&w->out, &w->out_cap, w->out_len + len) != 0)
        return REC_ERR_NOMEM;
    uint8_t *p = w->out + w->out_len;
    memcpy(p, "OggS", 4);
    p[4] = 0;
    p[5] = (uint8_t)flags;
    mfile_put_le(p + 6, w->granule, 8);
    mfile_put_le(p + 14, w->serial, 4);
    mfile_put_le(p + 18, w->seq++, 4);
    mfile_put_le(p + 22, 0, 4);
    p[26] = (uint8_t)w->nseg;
    memcpy(p + OGGP_HEADER, w->seg, (size_t)w->nseg);
    memcpy(p + OGGP_HEADER + w->nseg, w->body, w->body_len);
    mfile_put_le(p + 22, oggp_crc(&w->crc, 0, p, len), 4);
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
    mfile_put_le(head + 10, w->pre_skip, 2);
    mfile_put_le(head + 12, 48000, 4);   /* input sample rate */
    mfile_put_le(head + 16, 0, 2);       /* output gain */
    head[18] = 0;              /* mapping family: mono */
    int rc = add_packet(w, head, sizeof head, 0, OGGP_FLAG_BOS);
    if (rc == REC_OK)
        rc = flush_page(w, OGGP_FLAG_BOS, 0);
    if (rc != REC_OK)
        return rc;

    /* Our clocks and id, and the singer's name for a player's display. */
    char c[4][112];
    int cl[4];
    cl[0] = snprintf(c[0], sizeof c[0], OGGP_TAG_SONG_START "%" PRId64, w->song_start);
    cl[1] = snprintf(c[1], sizeof c[1], OGGP_TAG_ORIGIN "%" PRId64, w->origin);
    cl[2] = snprintf(c[2], sizeof c[2], OGGP_TAG_STEM "%s", w->id);
    cl[3] = snprintf(c[3], sizeof c[3], OGGP_TAG_SINGER "%s", w->singer);
    int nc = w->singer[0] ? 4 : 3;
    uint8_t tags[8 + 4 + sizeof VENDOR + 4 + 4 * (4 + 112)];
    size_t n = 0;
    memcpy(tags, "OpusTags", 8);
    n = 8;
    mfile_put_le(tags + n, sizeof VENDOR - 1, 4);
    memcpy(tags + n + 4, VENDOR, sizeof VENDOR - 1);
    n += 4 + sizeof VENDOR - 1;
    mfile_put_le(tags + n, (uint32_t)nc, 4);
    n += 4;
    for (int i = 0; i < nc; i++) {
        mfile_put_le(tags + n, (uint32_t)cl[i], 4);
        memcpy(tags + n + 4, c[i], (size_t)cl[i]);
        n += 4 + (size_t)cl[i];
    }
    rc = add_packet(w, tags, (uint32_t)n, 0, 0);
    return rc == REC_OK ? flush_page(w, 0, 0) : rc;
}

/* ---- continuing an existing file ------------------------------------- */

/* Finds the last whole page of stream `h->serial` in fd (size bytes, its
 * headers first), clears its end-of-stream flag on disk and takes the
 * stream's state from it; with no page after the headers, the stream
 * restarts after them. Sets *end_off to where the next page goes. Returns
 * REC_OK, 1 when the end of the file is too damaged to continue, or
 * REC_ERR_NOMEM / REC_ERR_IO (logged). */
static int resume_after_last_page(stem_writer_t *w, int fd, const char *path,
                                  const oggp_stem_head_t *h, uint64_t size, uint64_t *end_off)
{
    uint64_t from = size > TAIL_SCAN ? size - TAIL_SCAN : 0;
    if (from < h->headers_end)
        from = h->headers_end;
    size_t n = (size_t)(size - from);
    uint8_t *tail = malloc(n ? n : 1);
    if (!tail)
        return REC_ERR_NOMEM;
    if (n && mfile_pread_all(fd, tail, n, (off_t)from) != 0) {
        mfile_log_errno(w->log, w->log_user, "pread", path, errno ? errno : EIO);
        free(tail);
        return REC_ERR_IO;
    }
    size_t found = SIZE_MAX, flen = 0;
    for (size_t q = n; q-- > 0;) {
        size_t l = tail[q] == 'O' ? oggp_page_check(&w->crc, tail + q, n - q) : 0;
        if (l && (uint32_t)mfile_get_le(tail + q + 14, 4) == h->serial) {
            found = q;
            flen = l;
            break;
        }
    }
    int rc = REC_OK;
    if (found == SIZE_MAX) {
        if (size - h->headers_end > TAIL_SCAN / 2) {
            mfile_logf(w->log, w->log_user,
                       "stem %s: cannot be continued (no whole page at its end)", w->name);
            rc = 1;
        }
        w->granule = 0;
        w->seq = 2;
        *end_off = h->headers_end;
    } else {
        uint8_t *pg = tail + found;
        if (pg[5] & OGGP_FLAG_EOS) {
            pg[5] &= (uint8_t)~OGGP_FLAG_EOS;
            mfile_put_le(pg + 22, 0, 4);
            mfile_put_le(pg + 22, oggp_crc(&w->crc, 0, pg, flen), 4);
            if (mfile_pwrite_all(fd, pg, OGGP_HEADER, (off_t)(from + found)) != 0) {
                mfile_log_errno(w->log, w->log_user, "pwrite", path, errno);
                rc = REC_ERR_IO;
            }
        }
        if (rc == REC_OK && reserve(&w->last, &w->last_cap, flen) != 0)
            rc = REC_ERR_NOMEM;
        if (rc == REC_OK) {
            memcpy(w->last, pg, flen);
            w->last_len = flen;
            w->last_off = from + found;
            w->granule = mfile_get_le(pg + 6, 8);
            w->seq = (uint32_t)mfile_get_le(pg + 18, 4) + 1;
            *end_off = from + found + flen;
        }
    }
    free(tail);
    return rc;
}

/* Continues the stem at path.  REC_OK, REC_ERR_BUSY / _IO / _NOMEM, 1 when
 * the file exists but is not this song's stem, 2 when it does not exist. */
static int try_append(stem_writer_t *w, const char *path)
{
    int fd = mfile_open_locked(path, w->log, w->log_user);
    if (fd < 0)
        return fd == MFILE_ERR_NOENT ? 2 : fd == MFILE_ERR_BUSY ? REC_ERR_BUSY : REC_ERR_IO;
    oggp_stem_head_t h;
    struct stat st;
    if (oggp_read_stem_head(fd, &w->crc, &h) != 0 || h.song_start != w->song_start
        || fstat(fd, &st) != 0) {
        mfile_logf(w->log, w->log_user, "stem %s: cannot be continued (not this song's stem)",
                   w->name);
        close(fd);
        return 1;
    }
    uint64_t size = (uint64_t)st.st_size, end_off = 0;
    int rc = resume_after_last_page(w, fd, path, &h, size, &end_off);
    if (rc != REC_OK) {
        close(fd);
        return rc;
    }
    w->serial = h.serial;
    w->pre_skip = h.pre_skip;
    w->origin = h.origin;
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
    char id[REC_STEM_ID_MAX + 1];
    rec_stem_id(stem_id, id);   /* cannot fail: rec_file_name() took it */
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
    memcpy(w->id, id, sizeof w->id);
    oggp_crc_init(&w->crc);
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
    if (mfile_pwrite_all(w->fd, w->out, w->out_len, (off_t)w->file_off) != 0) {
        mfile_log_errno(w->log, w->log_user, "pwrite", w->name, errno);
        return REC_ERR_IO;
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

void stem_set_singer(stem_writer_t *w, const char *name)
{
    if (w && name)
        str_copy(w->singer, sizeof w->singer, name);
}

int stem_destroy(stem_writer_t *w)
{
    if (!w)
        return REC_OK;
    int rc = REC_OK;
    if (w->published && w->last_len >= OGGP_HEADER) {
        w->last[5] |= OGGP_FLAG_EOS;
        mfile_put_le(w->last + 22, 0, 4);
        mfile_put_le(w->last + 22, oggp_crc(&w->crc, 0, w->last, w->last_len), 4);
        if (mfile_pwrite_all(w->fd, w->last, OGGP_HEADER, (off_t)w->last_off) != 0) {
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
