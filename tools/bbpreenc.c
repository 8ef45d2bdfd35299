/*
 * bbpreenc.c - pre-encoded voice (bbpreenc.h): every packet back to back
 * in one allocation, at most PK_MAX_PACKET bytes each.
 */
#include "bbpreenc.h"

#include <stdlib.h>

#include <opus.h>

#include "packet.h"
#include "tone.h"

struct bbc_preenc {
    size_t count;
    uint8_t *bytes;        /* all packets back to back */
    size_t *off;           /* packet i at bytes + off[i] */
    uint16_t *len;
    size_t total;
};

static bbc_preenc_t *encode(const float *x, size_t n, int bitrate, int dtx, int *err);

bbc_preenc_t *bbc_preenc_new(const float *x, size_t n, int bitrate, int *err)
{
    return encode(x, n, bitrate, 0, err);
}

static bbc_preenc_t *encode(const float *x, size_t n, int bitrate, int dtx, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!x || n == 0 || n % BBC_FRAME != 0 || bitrate < 0) {
        *err = BBC_EPARAM;
        return NULL;
    }
    int oe;
    OpusEncoder *enc = opus_encoder_create(BBC_RATE, 1, OPUS_APPLICATION_AUDIO, &oe);
    if (!enc) {
        *err = BBC_EOPUS;
        return NULL;
    }
    if (bitrate > 0)
        opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
    opus_encoder_ctl(enc, OPUS_SET_DTX(dtx));
    bbc_preenc_t *p = calloc(1, sizeof *p);
    size_t count = n / BBC_FRAME;
    if (p) {
        p->bytes = malloc(count * PK_MAX_PACKET);
        p->off = calloc(count, sizeof *p->off);
        p->len = calloc(count, sizeof *p->len);
    }
    if (!p || !p->bytes || !p->off || !p->len) {
        opus_encoder_destroy(enc);
        bbc_preenc_destroy(p);
        *err = BBC_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        opus_int32 len = opus_encode_float(enc, x + i * BBC_FRAME, BBC_FRAME, p->bytes + p->total,
                                           PK_MAX_PACKET);
        if (len <= 0) {
            opus_encoder_destroy(enc);
            bbc_preenc_destroy(p);
            *err = BBC_EOPUS;
            return NULL;
        }
        p->off[i] = p->total;
        p->len[i] = (uint16_t)len;
        p->total += (size_t)len;
    }
    p->count = count;
    opus_encoder_destroy(enc);
    *err = BBC_OK;
    return p;
}

/* n samples of the sung tone voice at f0 (malloc'd), or NULL with *err set
 * to BBC_ENOMEM. */
static float *voice_samples(double f0, size_t n, int *err)
{
    float *x = malloc(n * sizeof *x);
    if (!x) {
        if (err)
            *err = BBC_ENOMEM;
        return NULL;
    }
    tone_voice_t v;
    tone_voice_init(&v, f0, 0.3);
    tone_voice_render(&v, x, n);
    return x;
}

bbc_preenc_t *bbc_preenc_new_voice(double f0, double seconds, int bitrate, int *err)
{
    if (!(seconds >= 0.6 && seconds <= 60) || !(f0 >= 50 && f0 <= 2000)) {
        if (err)
            *err = BBC_EPARAM;
        return NULL;
    }
    size_t n = (size_t)(seconds * BBC_RATE) / BBC_FRAME * BBC_FRAME;
    float *x = voice_samples(f0, n, err);
    if (!x)
        return NULL;
    bbc_preenc_t *p = bbc_preenc_new(x, n, bitrate, err);
    free(x);
    return p;
}

bbc_preenc_t *bbc_preenc_new_phrases(double f0, double seconds, double rest, int bitrate, int *err)
{
    size_t phrase = (size_t)(BBC_PHRASE_S * BBC_RATE);
    size_t n = (size_t)(seconds * BBC_RATE + 0.5);
    if (!(seconds >= BBC_PHRASE_S && seconds <= 60) || n % phrase != 0 || !(rest >= 0 && rest <= 0.9) ||
        !(f0 >= 50 && f0 <= 2000)) {
        if (err)
            *err = BBC_EPARAM;
        return NULL;
    }
    float *x = voice_samples(f0, n, err);
    if (!x)
        return NULL;
    size_t sung = phrase - (size_t)(rest * (double)phrase);
    size_t fade = BBC_RATE * 30 / 1000;
    for (size_t i = 0; i < n; i++) {
        size_t k = i % phrase;   /* the place in its phrase */
        if (k >= sung)
            x[i] = 0;
        else if (k < fade)
            x[i] *= (float)k / (float)fade;
        else if (sung - k < fade)
            x[i] *= (float)(sung - k) / (float)fade;
    }
    bbc_preenc_t *p = encode(x, n, bitrate, rest > 0, err);
    free(x);
    return p;
}

void bbc_preenc_destroy(bbc_preenc_t *p)
{
    if (!p)
        return;
    free(p->bytes);
    free(p->off);
    free(p->len);
    free(p);
}

size_t bbc_preenc_count(const bbc_preenc_t *p)
{
    return p->count;
}

const uint8_t *bbc_preenc_packet(const bbc_preenc_t *p, size_t i, size_t *len)
{
    *len = p->len[i];
    return p->bytes + p->off[i];
}

double bbc_preenc_mean_bytes(const bbc_preenc_t *p)
{
    return p->count ? (double)p->total / (double)p->count : 0;
}
