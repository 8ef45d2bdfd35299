/*
 * packet.h - the pack_multi framing of Opus packets (PROTOCOL.md 4.1), one
 * set of rules for the worker, the protocol client and the tests.
 *
 *     u8 count, then count times: u16 big-endian length, length bytes.
 *
 * A body is valid when every packet is 1..PK_MAX_PACKET bytes, the lengths
 * add up to the body exactly and there are at most PK_MAX_PACKETS packets;
 * an empty body (zero bytes) is zero packets.  pk_parse() refuses anything
 * else, whole: a truncated packet, a zero-length packet, a packet longer
 * than the browser's decoder reads, trailing bytes.  pk_pack() writes only
 * what pk_parse() accepts, so a round trip always gives back the packets.
 * Nothing is copied on parsing: the parsed packets point into the body.
 * Nothing allocates.
 */
#ifndef BB_PACKET_H
#define BB_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define PK_MAX_PACKETS 255
/* The browser client's decoder reads at most 1275*3+7 bytes per packet. */
#define PK_MAX_PACKET 3832

enum {
    PK_OK = 0,
    PK_ETRUNC = -1,     /* a length runs past the end of the body */
    PK_ETRAIL = -2,     /* bytes after the last packet */
    PK_EEMPTY = -3,     /* a zero-length packet */
    PK_ELONG = -4,      /* a packet over PK_MAX_PACKET bytes */
    PK_ECOUNT = -5,     /* more packets than the caller allows */
    PK_ESPACE = -6,     /* the output buffer is too small */
};

typedef struct {
    const uint8_t *data;
    uint16_t len;
} pk_packet_t;

/* Parses body (len bytes; len 0 is an empty upload with 0 packets) into at
 * most max packets.  Returns the packet count (>= 0) or a PK_E* code. */
int pk_parse(const uint8_t *body, size_t len, pk_packet_t *out, int max);

/* The bytes of the framing of `count` packets whose lengths are lens[0..
 * count) (count 0 gives the one count byte), or PK_ECOUNT (count outside
 * 0..PK_MAX_PACKETS), PK_EEMPTY or PK_ELONG (a length outside
 * 1..PK_MAX_PACKET).  At most 1 + 255 * 3834 bytes. */
int pk_size(const size_t *lens, int count);

/* Writes the framing of `count` packets, packet i being lens[i] bytes at
 * pkts[i], into out (cap bytes).  Returns the bytes written (pk_size()) or
 * the error of pk_size(), or PK_ESPACE when cap is too small; out is then
 * untouched. */
int pk_pack(uint8_t *out, size_t cap, const uint8_t *const *pkts, const size_t *lens,
            int count);

/* Writes the framing header of one packet of `len` bytes at out (2 bytes). */
static inline void pk_put_len(uint8_t *out, uint16_t len)
{
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
}

/* A sentence for a PK_E* code ("success" for a count >= 0); never NULL. */
const char *pk_strerror(int code);

#endif
