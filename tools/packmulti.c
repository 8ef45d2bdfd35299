/*
 * packmulti.c - pack_multi framing (packmulti.h).
 */
#include "packmulti.h"

const char *pm_strerror(int code)
{
    switch (code) {
    case PM_OK: return "success";
    case PM_ENOMEM: return "out of memory";
    case PM_ETOOMANY: return "too many packets for pack_multi";
    case PM_ETOOBIG: return "packet longer than 65535 bytes";
    case PM_ETRUNC: return "pack_multi body truncated";
    case PM_ETRAILING: return "bytes after the last pack_multi packet";
    default: return "unknown pack_multi error";
    }
}

int pm_pack(bbuf_t *out, const uint8_t *const *pkts, const size_t *lens, size_t count)
{
    if (count > PM_MAX_PACKETS)
        return PM_ETOOMANY;
    size_t total = 1;
    for (size_t i = 0; i < count; i++) {
        if (lens[i] > PM_MAX_PACKET_BYTES)
            return PM_ETOOBIG;
        total += 2 + lens[i];
    }
    if (bbuf_reserve(out, total) != BBUF_OK)
        return PM_ENOMEM;
    uint8_t *w = out->data + out->len;
    *w++ = (uint8_t)count;
    for (size_t i = 0; i < count; i++) {
        *w++ = (uint8_t)(lens[i] >> 8);
        *w++ = (uint8_t)(lens[i] & 0xff);
        for (size_t k = 0; k < lens[i]; k++)
            w[k] = pkts[i][k];
        w += lens[i];
    }
    out->len += total;
    out->data[out->len] = 0;
    return PM_OK;
}

int pm_unpack(const uint8_t *body, size_t len, pm_packet_t *pkts, size_t max, size_t *count)
{
    *count = 0;
    if (len == 0)
        return PM_OK;
    size_t n = body[0];
    if (n > max)
        return PM_ETOOMANY;
    size_t at = 1;
    for (size_t i = 0; i < n; i++) {
        if (len - at < 2)
            return PM_ETRUNC;
        size_t plen = ((size_t)body[at] << 8) | body[at + 1];
        at += 2;
        if (len - at < plen)
            return PM_ETRUNC;
        pkts[i].data = body + at;
        pkts[i].len = (uint16_t)plen;
        at += plen;
    }
    if (at != len)
        return PM_ETRAILING;
    *count = n;
    return PM_OK;
}
