/*
 * test_codec.c - the signal helpers (tone.h) and Opus with the protocol's
 * settings: a tone encoded in 60 ms packets and decoded comes back at the
 * same frequency and about the same level, its onset where it was put (plus
 * the codec delay), and the pre-encoded voice decodes to its pitch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "bbclient.h"
#include "packet.h"
#include "check.h"

/* The checks of this test (check.h). */
static check_t ck;

static void test_measurements(void)
{
    enum { N = 48000 };
    float *x = calloc(N, sizeof *x);
    double ph = 0;
    tone_sine(x, N, 440, 0.5, &ph);
    CHECK(ck, fabs(tone_rms(x, N) - 0.5 / sqrt(2)) < 1e-3);
    CHECK(ck, fabs(tone_goertzel(x, 4800, 440) - 0.5) < 0.01);
    CHECK(ck, tone_goertzel(x, 4800, 1000) < 0.01);
    /* Phase carries across blocks: two halves equal one whole. */
    float *y = calloc(N, sizeof *y);
    ph = 0;
    tone_sine(y, 1000, 440, 0.5, &ph);
    tone_sine(y + 1000, N - 1000, 440, 0.5, &ph);
    double maxdiff = 0;
    for (int i = 0; i < N; i++)
        maxdiff = fmax(maxdiff, fabs(x[i] - y[i]));
    CHECK(ck, maxdiff < 1e-4);
    /* Onset of a tone switched on at 12345. */
    memset(x, 0, N * sizeof *x);
    ph = 0;
    tone_sine(x + 12345, N - 12345, 1000, 0.4, &ph);
    long on = tone_find_onset(x, N, 1000, 0.2, 480);
    CHECK(ck, on >= 12345 - 10 && on <= 12345 + 10);
    CHECK(ck, tone_find_onset(x, 12000, 1000, 0.2, 480) == -1);
    CHECK(ck, tone_find_onset(x, N, 700, 0.2, 480) == -1);
    /* The voice: fundamental dominant, peak below its amplitude. */
    tone_voice_t v;
    tone_voice_init(&v, 220, 0.3);
    tone_voice_render(&v, x, N);
    float peak = 0;
    for (int i = 0; i < N; i++)
        peak = fmaxf(peak, fabsf(x[i]));
    CHECK(ck, peak <= 0.3f + 1e-6f && peak > 0.1f);
    CHECK(ck, tone_goertzel(x, 4800, 220) > tone_goertzel(x, 4800, 440));
    free(x);
    free(y);
}

static void test_opus_tone(void)
{
    enum { FR = 2880, FRAMES = 30, N = FR * FRAMES, ON = 5 * FR + 1000 };
    int err;
    OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &err);
    OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(64000));
    float *in = calloc(N, sizeof *in), *out = calloc(N, sizeof *out);
    double ph = 0;
    tone_sine(in + ON, N - ON, 880, 0.5, &ph);
    size_t max_pkt = 0;
    for (int f = 0; f < FRAMES; f++) {
        unsigned char pkt[4000];
        int len = opus_encode_float(enc, in + f * FR, FR, pkt, sizeof pkt);
        CHECK(ck, len > 0);
        if (len > 0 && (size_t)len > max_pkt)
            max_pkt = (size_t)len;
        CHECK(ck, opus_packet_get_nb_samples(pkt, len, 48000) == FR);
        CHECK(ck, opus_decode_float(dec, pkt, len, out + f * FR, FR, 0) == FR);
    }
    CHECK(ck, max_pkt <= PK_MAX_PACKET);
    double a = tone_goertzel(out + 20 * FR, 4800, 880);
    CHECK(ck, a > 0.4 && a < 0.6);
    CHECK(ck, tone_goertzel(out + 20 * FR, 4800, 1760) < 0.05);
    long on = tone_find_onset(out, N, 880, 0.25, 480);
    /* Opus delays by its lookahead (312 samples at 48 kHz). */
    CHECK(ck, on >= ON && on <= ON + 312 + 200);
    fprintf(stderr, "  tone in at %d, out at %ld (delay %ld), level %.3f\n", ON, on, on - ON, a);
    free(in);
    free(out);
    opus_encoder_destroy(enc);
    opus_decoder_destroy(dec);
}

static void test_preenc(void)
{
    int err;
    CHECK(ck, bbc_preenc_new_voice(220, 0.1, 64000, &err) == NULL && err == BBC_EPARAM);
    float x[100];
    CHECK(ck, bbc_preenc_new(x, 100, 0, &err) == NULL && err == BBC_EPARAM);
    bbc_preenc_t *p = bbc_preenc_new_voice(220, 3.0, 64000, &err);
    CHECK(ck, p != NULL && err == BBC_OK);
    if (!p)
        return;
    CHECK(ck, bbc_preenc_count(p) == 50);
    double mean = bbc_preenc_mean_bytes(p);
    CHECK(ck, mean > 100 && mean <= PK_MAX_PACKET);
    fprintf(stderr, "  pre-encoded voice: %zu packets, %.0f bytes each on average\n", bbc_preenc_count(p), mean);
    bbc_preenc_destroy(p);
    bbc_preenc_destroy(NULL);
}

/* The load generator's phrased voice: two 6 s phrases each ending in a
 * rest of 30%: sung packets where the phrase sings, the client's small
 * DTX packets over most of each rest, and nothing else. */
static void test_phrases(void)
{
    int err;
    CHECK(ck, bbc_preenc_new_phrases(220, 7.0, 0.3, 64000, &err) == NULL && err == BBC_EPARAM);
    CHECK(ck, bbc_preenc_new_phrases(220, 12.0, 0.95, 64000, &err) == NULL && err == BBC_EPARAM);
    bbc_preenc_t *p = bbc_preenc_new_phrases(220, 12.0, 0.3, 64000, &err);
    CHECK(ck, p != NULL && err == BBC_OK);
    if (!p)
        return;
    CHECK(ck, bbc_preenc_count(p) == 200);
    int small = 0, sung_small = 0, first_small = 100;
    for (size_t i = 0; i < bbc_preenc_count(p); i++) {
        size_t len;
        bbc_preenc_packet(p, i, &len);
        size_t k = i % 100;             /* 100 packets a phrase, 70 sung */
        if (len <= 8) {
            small++;
            sung_small += k < 70;
            if (k < (size_t)first_small)
                first_small = (int)k;
        }
    }
    fprintf(stderr, "  phrased voice: %d of 200 packets are DTX-sized, the first at %d of a phrase\n", small,
            first_small);
    CHECK(ck, sung_small == 0);
    CHECK(ck, first_small >= 70 && first_small <= 76);   /* DTX within 360 ms of the rest */
    CHECK(ck, small >= 2 * 24);
    bbc_preenc_destroy(p);
}

int main(void)
{
    test_measurements();
    test_opus_tone();
    test_preenc();
    test_phrases();
    return check_done(&ck, "test_tools_codec");
}
