/*
 * packet.c - pack_multi parsing and packing (packet.h).
 */
#include <string.h>

#include "packet.h"

const char *pk_strerror(int code)
{
    switch (code) {
    case PK_ETRUNC: return "truncated Opus packet in the body";
    case PK_ETRAIL: return "trailing bytes after the last Opus packet";
    case PK_EEMPTY: return "empty Opus packet in the body";
    case PK_ELONG: return "Opus packet too long";
    case PK_ECOUNT: return "too many Opus packets in one request";
    case PK_ESPACE: return "no room for the packets";
    default: return code >= 0 ? "success" : "unknown error";
    }
}

int pk_parse(const uint8_t *body, size_t len, pk_packet_t *out, int max)
{
    if (len == 0)
        return 0;
    int count = body[0];
    if (count > max)
        return PK_ECOUNT;
    size_t at = 1;
    for (int i = 0; i < count; i++) {
        if (len - at < 2)
            return PK_ETRUNC;
        uint16_t n = (uint16_t)((body[at] << 8) | body[at + 1]);
        at += 2;
        if (n == 0)
            return PK_EEMPTY;
        if (n > PK_MAX_PACKET)
            return PK_ELONG;
        if (len - at < n)
            return PK_ETRUNC;
        out[i].data = body + at;
        out[i].len = n;
        at += n;
    }
    if (at != len)
        return PK_ETRAIL;
    return count;
}

int pk_size(const size_t *lens, int count)
{
    if (count < 0 || count > PK_MAX_PACKETS)
        return PK_ECOUNT;
    int total = 1;
    for (int i = 0; i < count; i++) {
        if (lens[i] == 0)
            return PK_EEMPTY;
        if (lens[i] > PK_MAX_PACKET)
            return PK_ELONG;
        total += 2 + (int)lens[i];
    }
    return total;
}

int pk_pack(uint8_t *out, size_t cap, const uint8_t *const *pkts, const size_t *lens,
            int count)
{
    int total = pk_size(lens, count);
    if (total < 0)
        return total;
    if ((size_t)total > cap)
        return PK_ESPACE;
    out[0] = (uint8_t)count;
    size_t at = 1;
    for (int i = 0; i < count; i++) {
        pk_put_len(out + at, (uint16_t)lens[i]);
        memcpy(out + at + 2, pkts[i], lens[i]);
        at += 2 + lens[i];
    }
    return total;
}
