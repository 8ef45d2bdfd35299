/*
 * packmulti.h - the pack_multi framing of Opus packets, used for request and
 * response bodies alike (PROTOCOL.md section 4.1):
 *
 *   u8  packet_count                      0 .. 255
 *   packet_count times:
 *     u16 packet_length (big-endian)      0 .. 65535 bytes
 *     u8  packet[packet_length]
 *
 * There is no padding and nothing may follow the last packet.  The unpacker
 * checks every length against the bytes that are really there, and rejects
 * trailing bytes, so a truncated or padded body is an error, never a short
 * read.  An empty body (zero bytes) means zero packets.
 */
#ifndef BB_PACKMULTI_H
#define BB_PACKMULTI_H

#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"

#define PM_MAX_PACKETS 255
#define PM_MAX_PACKET_BYTES 65535
/* Largest response packet the original browser client's decoder accepts:
 * its input buffer is 1275*3+7 bytes (PROTOCOL.md section 4.2). */
#define PM_CLIENT_MAX_PACKET 3832

/* Error codes: 0 for success, negative values below. */
enum {
    PM_OK = 0,
    PM_ENOMEM = -1,      /* the output buffer could not grow */
    PM_ETOOMANY = -2,    /* more than 255 packets, or more than the caller's array holds */
    PM_ETOOBIG = -3,     /* a packet longer than 65535 bytes */
    PM_ETRUNC = -4,      /* a length field or packet runs past the end of the body */
    PM_ETRAILING = -5,   /* bytes left over after the last packet */
};

const char *pm_strerror(int code);

/* One packet inside a body: a view, not a copy. */
typedef struct {
    const uint8_t *data;
    uint16_t len;
} pm_packet_t;

/* Appends the pack_multi framing of `count` packets to out.  pkts[i] and
 * lens[i] describe packet i.  Returns 0, PM_ETOOMANY, PM_ETOOBIG or
 * PM_ENOMEM (out is then unchanged). */
int pm_pack(bbuf_t *out, const uint8_t *const *pkts, const size_t *lens, size_t count);

/* Splits a body of `len` bytes into at most `max` packets, stored in pkts as
 * views into body; *count receives the packet count.  Returns 0, or
 * PM_ETRUNC, PM_ETRAILING, PM_ETOOMANY (count larger than max). */
int pm_unpack(const uint8_t *body, size_t len, pm_packet_t *pkts, size_t max, size_t *count);

#endif
