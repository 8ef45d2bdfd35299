/*
 * packet.h - the pack_multi framing of Opus packets (PROTOCOL.md 4.1).
 *
 *     u8 count, then count times: u16 big-endian length, length bytes.
 *
 * Parsing checks every length against the body: a truncated packet, a
 * zero-length packet, a packet longer than PK_MAX_PACKET or trailing bytes
 * refuse the whole body.  Nothing is copied: the parsed packets point into
 * the body.
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

/* Writes the framing header of one packet of `len` bytes at out (2 bytes). */
static inline void pk_put_len(uint8_t *out, uint16_t len)
{
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
}

const char *pk_strerror(int code);

#endif
