/* oggpage: reading Ogg pages (RFC 3533) and the head of a stem file
 * (stem.h) without decoding anything.
 *
 * A page is "OggS", version 0, flags (OGGP_FLAG_*), the granule position
 * (int64 LE), the stream serial, the page sequence number, a CRC-32 of the
 * page with its CRC field zeroed (polynomial 0x04c11db7, no reflection,
 * initial value and final xor 0), the number of lacing values and the
 * lacing values; a packet of L bytes takes L / 255 values of 255 and one
 * of L % 255.
 *
 * The head of a stem is its first two pages: OpusHead (RFC 7845: mono,
 * mapping family 0, the pre-skip) and OpusTags carrying OGGP_TAG_SONG_START
 * and OGGP_TAG_ORIGIN.  Reading them needs no Opus library, so the
 * recordings directory (recording.h: the Audacity project places each stem
 * by its origin) and the daemon that writes it link no codec; only the
 * stem writer does.
 *
 * No globals; the CRC table is the caller's (oggp_crc_init()), so every
 * function may run on any thread.
 */
#ifndef BB_MEDIA_OGGPAGE_H
#define BB_MEDIA_OGGPAGE_H

#include <stddef.h>
#include <stdint.h>

#define OGGP_HEADER 27                       /* bytes before the lacing values */
#define OGGP_BODY_MAX (255 * 255)            /* largest page body */
#define OGGP_FLAG_BOS 2                      /* first page of the stream */
#define OGGP_FLAG_EOS 4                      /* last page of the stream */
#define OGGP_TAG_SONG_START "BB_SONG_START="  /* OpusTags: the song's start clock */
#define OGGP_TAG_ORIGIN "BB_ORIGIN="         /* OpusTags: clock of decoded sample 0 */
#define OGGP_TAG_STEM "BB_STEM="             /* OpusTags: the cleaned stem id */
#define OGGP_TAG_SINGER "ARTIST="            /* OpusTags: the singer's name, UTF-8 */
#define OGGP_SINGER_MAX 72                   /* bytes of it, NUL included */

/* The CRC-32 of Ogg in slicing-by-4 tables: t[k][b] is the CRC of byte b
 * followed by k zero bytes. 4 KiB; no pointers, may be copied. */
typedef struct {
    uint32_t t[4][256];
} oggp_crc_t;

/* What the head of a stem says. */
typedef struct {
    uint32_t serial;        /* the stream serial of both header pages */
    uint16_t pre_skip;      /* OpusHead's pre-skip, samples at 48 kHz */
    int64_t song_start;     /* OGGP_TAG_SONG_START, >= 0 */
    int64_t origin;         /* OGGP_TAG_ORIGIN, >= song_start */
    size_t headers_end;     /* bytes of the two header pages */
    char singer[OGGP_SINGER_MAX];  /* OGGP_TAG_SINGER, or "" */
} oggp_stem_head_t;

/* Fills the tables. Cost: 1024 small loops, once per user. */
void oggp_crc_init(oggp_crc_t *c);

/* Continues the Ogg CRC `crc` (0 to start) over p[0..n). */
uint32_t oggp_crc(const oggp_crc_t *c, uint32_t crc, const uint8_t *p, size_t n);

/* Checks the page at buf[0..avail): returns its length when it is a whole
 * page (version 0) whose CRC is right, else 0. Reads nothing past avail. */
size_t oggp_page_check(const oggp_crc_t *c, const uint8_t *buf, size_t avail);

/* The packet of a checked page that holds exactly one whole packet (its
 * last lacing value below 255): returns where it starts and puts its length
 * in *len; NULL for any other page. */
const uint8_t *oggp_page_packet(const uint8_t *page, size_t *len);

/* Reads and checks the two header pages at the start of fd (pread: the
 * file offset does not move). Returns 0 with *h filled, or -1 when they
 * are not the head of a stem (not Ogg, a bad CRC, not mono Opus, a tag
 * missing, origin before song start, a read error). */
int oggp_read_stem_head(int fd, const oggp_crc_t *c, oggp_stem_head_t *h);

/* The song start and origin clocks of the stem file at path. Returns 0, or
 * -1 when it cannot be opened or is not a stem (then *song_start and
 * *origin are untouched). Opens, reads at most 2.6 KB, closes. */
int oggp_stem_info(const char *path, int64_t *song_start, int64_t *origin);

#endif
