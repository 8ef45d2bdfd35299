/*
 * rest.c - the packets of a rest, and decoding around them (rest.h).
 */
#include <math.h>
#include <string.h>

#include "rest.h"
#include "ring.h"

/* Below this, a decoded sample rounds to zero in the mix: half a step of
 * its fixed point (mixer/accum.h, 2^23 to full scale). */
#define RS_QUIET 0x1p-24f

/* The first symbol of a CELT frame (RFC 6716 4.3, Table 56): the silence
 * flag, decoded with probability 1/32768 by the range decoder of RFC 6716
 * 4.1, here only as far as that one bit: initialisation (4.1.1), the
 * renormalisation that follows it (4.1.2.1), and the bit (4.1.3.1). */
static bool celt_silence_flag(const uint8_t *f, int32_t len)
{
    int32_t at = 0;
    uint32_t rem = len > at ? f[at++] : 0;
    uint32_t rng = 128, val = 127 - (rem >> 1);
    while (rng <= (1u << 23)) {
        uint32_t sym = rem;
        rem = len > at ? f[at++] : 0;
        sym = ((sym << 8) | rem) >> 1;
        rng <<= 8;
        val = ((val << 8) + (255 & ~sym)) & 0x7FFFFFFFu;
    }
    return val < (rng >> 15);
}

/* What a packet is: not a rest, a rest with some CELT silence frame, or
 * a rest of empty frames alone (DTX). */
enum { RS_SOUND, RS_SILENCE, RS_DTX };

static int kind_of(const uint8_t *p, int32_t len)
{
    if (!p || len < 1 || opus_packet_get_nb_samples(p, len, RING_SAMPLE_RATE) != RING_OPUS_FRAME)
        return RS_SOUND;
    const unsigned char *frames[48];
    opus_int16 size[48];
    int nf = opus_packet_parse(p, len, NULL, frames, size, NULL);
    if (nf < 1)
        return RS_SOUND;
    bool celt = (p[0] >> 3) >= 16;   /* configurations 16..31: CELT only */
    int kind = RS_DTX;
    for (int i = 0; i < nf; i++) {
        if (size[i] <= 1)
            continue;
        if (!(celt && celt_silence_flag(frames[i], size[i])))
            return RS_SOUND;
        kind = RS_SILENCE;
    }
    return kind;
}

bool rs_is_rest(const uint8_t *p, int32_t len)
{
    return kind_of(p, len) != RS_SOUND;
}

int rs_decode(OpusDecoder *dec, bool *quiet, const uint8_t *p, int32_t len, float *out,
              bool *skipped)
{
    int kind = kind_of(p, len);
    bool rest = kind != RS_SOUND;
    *skipped = kind == RS_DTX || (rest && *quiet);
    if (*skipped) {
        memset(out, 0, RING_OPUS_FRAME * sizeof *out);
        return RING_OPUS_FRAME;
    }
    int got = opus_decode_float(dec, p, len, out, RING_OPUS_FRAME, 0);
    if (got != RING_OPUS_FRAME) {
        *quiet = false;
        return got;
    }
    /* Quiet only after a rest that decoded to nothing the mix would hold. */
    float peak = 0;
    for (int i = 0; rest && i < RING_OPUS_FRAME; i++)
        peak = fmaxf(peak, fabsf(out[i]));
    *quiet = rest && peak < RS_QUIET;
    return got;
}
