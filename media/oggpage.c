/* oggpage: Ogg page checks and the stem head reader (see oggpage.h).
 *
 * The CRC runs four bytes a step (slicing by four) because the stem writer
 * computes it over every page it writes; page checks use the same tables.
 * Nothing here trusts a length it has not compared with what was read.
 */
#include "oggpage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mfile.h"

void oggp_crc_init(oggp_crc_t *c)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i << 24;
        for (int k = 0; k < 8; k++)
            r = (r & 0x80000000u) ? (r << 1) ^ 0x04c11db7u : r << 1;
        c->t[0][i] = r;
    }
    for (int k = 1; k < 4; k++)
        for (int i = 0; i < 256; i++)
            c->t[k][i] = (c->t[k - 1][i] << 8) ^ c->t[0][c->t[k - 1][i] >> 24];
}

uint32_t oggp_crc(const oggp_crc_t *c, uint32_t crc, const uint8_t *p, size_t n)
{
    size_t i = 0;

    for (; i + 4 <= n; i += 4) {
        uint32_t x = crc ^ ((uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
                            (uint32_t)p[i + 2] << 8 | p[i + 3]);
        crc = c->t[3][x >> 24] ^ c->t[2][(x >> 16) & 0xff] ^ c->t[1][(x >> 8) & 0xff]
            ^ c->t[0][x & 0xff];
    }
    for (; i < n; i++)
        crc = (crc << 8) ^ c->t[0][(crc >> 24) ^ p[i]];
    return crc;
}

size_t oggp_page_check(const oggp_crc_t *c, const uint8_t *buf, size_t avail)
{
    if (avail < OGGP_HEADER || memcmp(buf, "OggS", 4) != 0 || buf[4] != 0)
        return 0;
    size_t nseg = buf[26];
    if (avail < OGGP_HEADER + nseg)
        return 0;
    size_t body = 0;
    for (size_t i = 0; i < nseg; i++)
        body += buf[OGGP_HEADER + i];
    size_t len = OGGP_HEADER + nseg + body;
    if (avail < len)
        return 0;
    uint8_t hdr[OGGP_HEADER];
    memcpy(hdr, buf, OGGP_HEADER);
    mfile_put_le(hdr + 22, 0, 4);
    uint32_t crc = oggp_crc(c, 0, hdr, OGGP_HEADER);
    crc = oggp_crc(c, crc, buf + OGGP_HEADER, len - OGGP_HEADER);
    return crc == (uint32_t)mfile_get_le(buf + 22, 4) ? len : 0;
}

const uint8_t *oggp_page_packet(const uint8_t *page, size_t *len)
{
    size_t nseg = page[26], body = 0;

    if (nseg == 0 || page[OGGP_HEADER + nseg - 1] == 255)
        return NULL;
    for (size_t i = 0; i < nseg; i++)
        body += page[OGGP_HEADER + i];
    *len = body;
    return page + OGGP_HEADER + nseg;
}

/* The value of one "KEY=digits" comment when it is `key`'s: 1 and *out, or 0. */
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

/* Finds our two clocks among the comments of an OpusTags packet t (tl
 * bytes, >= 16). 0, or -1 when malformed or a clock is missing. */
static int read_tags(const uint8_t *t, size_t tl, oggp_stem_head_t *h)
{
    h->singer[0] = '\0';
    size_t at = 8, vl = (size_t)mfile_get_le(t + 8, 4);
    if (vl > tl - 16)
        return -1;
    at += 4 + vl;
    uint32_t count = (uint32_t)mfile_get_le(t + at, 4);
    at += 4;
    int have = 0;
    for (uint32_t i = 0; i < count && at + 4 <= tl; i++) {
        size_t cl = (size_t)mfile_get_le(t + at, 4);
        if (cl > tl - at - 4)
            return -1;
        have |= tag_value(t + at + 4, cl, OGGP_TAG_SONG_START, &h->song_start) ? 1 : 0;
        have |= tag_value(t + at + 4, cl, OGGP_TAG_ORIGIN, &h->origin) ? 2 : 0;
        size_t sk = strlen(OGGP_TAG_SINGER);
        if (cl > sk && memcmp(t + at + 4, OGGP_TAG_SINGER, sk) == 0) {
            size_t vn = cl - sk < sizeof h->singer - 1 ? cl - sk : sizeof h->singer - 1;
            memcpy(h->singer, t + at + 4 + sk, vn);
            h->singer[vn] = '\0';
        }
        at += 4 + cl;
    }
    return have == 3 && h->origin >= h->song_start ? 0 : -1;
}

int oggp_read_stem_head(int fd, const oggp_crc_t *c, oggp_stem_head_t *h)
{
    enum { CAP = 2 * (OGGP_HEADER + 255) + 2048 };
    uint8_t buf[CAP];
    ssize_t got = pread(fd, buf, sizeof buf, 0);
    if (got <= 0)
        return -1;
    size_t l0 = oggp_page_check(c, buf, (size_t)got);
    if (!l0 || !(buf[5] & OGGP_FLAG_BOS))
        return -1;
    size_t hl;
    const uint8_t *head = oggp_page_packet(buf, &hl);
    if (!head || hl < 19 || memcmp(head, "OpusHead", 8) != 0 || head[9] != 1 || head[18] != 0)
        return -1;
    h->serial = (uint32_t)mfile_get_le(buf + 14, 4);
    h->pre_skip = (uint16_t)mfile_get_le(head + 10, 2);
    size_t l1 = oggp_page_check(c, buf + l0, (size_t)got - l0);
    if (!l1 || (uint32_t)mfile_get_le(buf + l0 + 14, 4) != h->serial)
        return -1;
    size_t tl;
    const uint8_t *tags = oggp_page_packet(buf + l0, &tl);
    if (!tags || tl < 16 || memcmp(tags, "OpusTags", 8) != 0 || read_tags(tags, tl, h) != 0)
        return -1;
    h->headers_end = l0 + l1;
    return 0;
}

int oggp_stem_info(const char *path, int64_t *song_start, int64_t *origin)
{
    oggp_crc_t c;
    oggp_stem_head_t h;
    int fd, rc = -1;

    oggp_crc_init(&c);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        rc = oggp_read_stem_head(fd, &c, &h);
        close(fd);
    }
    if (rc == 0) {
        *song_start = h.song_start;
        *origin = h.origin;
    }
    return rc;
}
