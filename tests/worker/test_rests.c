/*
 * test_rests.c - a resting voice costs no decode and no add, counts in the
 * normalisation, and comes back as if the decoder had run all along.
 *
 * One singer, encoding as our client's WebCodecs encoder does (libopus,
 * 64 kbit/s, complexity 9, DTX on), sings a voice-like tone, rests 2.4 s,
 * sings, rests 0.6 s and sings, coming back each time with a sudden onset
 * inside a frame.  What the worker adds to the timeline is set against a
 * decoder fed every packet, rests included (the reference):
 *
 *   - frame by frame the same as the reference rounded by the mix, or, in
 *     a rest, nothing above -80 dBFS (where the reference conceals DTX
 *     with a made-up ghost of the last note);
 *   - most of the rests' packets are not decoded: the worker's rest
 *     counter says so;
 *   - every sample of the singer's clocks, rests included, is counted as
 *     one singer (resting is not muting);
 *   - after its first 20 ms back, the voice is within 40 dB SNR of the
 *     reference, and no sample-to-sample step at the onset is larger than
 *     in the reference.
 *
 * Off the worker, the same voice placed differently against the frames
 * must come back as well each time (rs_decode() against the reference);
 * it also prints what a decoder reset at the return would give instead,
 * the other way to keep the state (rest.h explains the choice), and checks
 * rs_is_rest() on the packets Chromium's WebCodecs encoder sent in
 * tests/browser/codec.test.js (its DTX probe).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accum.h"
#include "check.h"
#include "exclient.h"
#include "rest.h"
#include "timeline.h"

#define BATCHES 14
#define FRAMES (BATCHES * 10)
#define TOTAL (BATCHES * N)
#define ONSET 960                      /* the first 20 ms back */

/* Two rests: [stop, back), a long one (DTX refreshed by CELT silence
 * frames) and a short one (the encoder's tail, then DTX alone); each
 * comes back inside a frame. */
static const int rest_stop[2] = {4 * N, 10 * N + 2000};
static const int rest_back[2] = {8 * N + 1000, 11 * N + 5000};

static float voice[TOTAL], ref[TOTAL], srv[TOTAL], alt[TOTAL];
static int32_t counts[TOTAL];
static uint8_t pk[FRAMES][1500];
static int pk_len[FRAMES];

/* A sung-like note: a 220 Hz voice with harmonics and a slow vibrato. */
static float sung(int64_t t)
{
    double s = (double)t / RATE, f = 220.0, ph = 2 * M_PI * f * s + 0.8 * sin(2 * M_PI * 5.0 * s);
    return (float)(0.25 * sin(ph) + 0.12 * sin(2 * ph + 0.3) + 0.06 * sin(3 * ph + 1.1));
}

static float q(float x) { return (float)acc_quantise(x) / ACC_SCALE; }

/* SNR in dB of y against x over [a, b). */
static double snr(const float *x, const float *y, int a, int b)
{
    double s = 0, e = 0;
    for (int i = a; i < b; i++) {
        s += (double)x[i] * x[i];
        e += (double)(y[i] - x[i]) * (y[i] - x[i]);
    }
    return 10 * log10(s / (e > 1e-30 ? e : 1e-30));
}

static double max_step(const float *x, int a, int b)
{
    double m = 0;
    for (int i = a; i < b; i++)
        m = fmax(m, fabs((double)x[i] - x[i - 1]));
    return m;
}

/* Off the worker, the same voice placed `shift` samples later against its
 * frames, over white noise of amplitude `noise` (0: digital silence in the
 * rests): encoded with DTX, decoded every frame (the reference), the
 * worker's way (rs_decode()) and the worker's way with a reset at each
 * return.  The lower SNR of the two returns, after their first 20 ms, of
 * each way into keep and reset. */
static void placing(int shift, float noise, double *keep, double *reset)
{
    static float x[TOTAL], y0[TOTAL], y1[TOTAL], y2[TOTAL];
    uint32_t seed = 12345;
    for (int i = 0; i < TOTAL; i++) {
        bool rests_here = (i >= rest_stop[0] && i < rest_back[0]) || (i >= rest_stop[1] && i < rest_back[1]);
        seed = seed * 1664525u + 1013904223u;
        float n = noise * ((float)(seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f);
        x[i] = (rests_here ? 0.0f : sung(shift + i)) + n;
    }
    int err;
    OpusEncoder *enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &err);
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(64000));
    opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(9));
    opus_encoder_ctl(enc, OPUS_SET_DTX(1));
    OpusDecoder *d0 = opus_decoder_create(RATE, 1, &err), *d1 = opus_decoder_create(RATE, 1, &err),
                *d2 = opus_decoder_create(RATE, 1, &err);
    bool q1 = false, q2 = false, skipped;
    for (int f = 0; f < FRAMES; f++) {
        uint8_t b[1500];
        int len = opus_encode_float(enc, x + f * 2880, 2880, b, sizeof b);
        if (f == rest_back[0] / 2880 || f == rest_back[1] / 2880)
            opus_decoder_ctl(d2, OPUS_RESET_STATE);
        if (len <= 0 || opus_decode_float(d0, b, len, y0 + f * 2880, 2880, 0) != 2880 ||
            rs_decode(d1, &q1, b, len, y1 + f * 2880, &skipped) != 2880 ||
            rs_decode(d2, &q2, b, len, y2 + f * 2880, &skipped) != 2880)
            *keep = *reset = -999;
    }
    for (int k = 0; k < 2; k++) {
        int end = k == 0 ? rest_stop[1] : TOTAL;
        *keep = fmin(*keep, snr(y0, y1, rest_back[k] + ONSET, end));
        *reset = fmin(*reset, snr(y0, y2, rest_back[k] + ONSET, end));
    }
    opus_encoder_destroy(enc);
    opus_decoder_destroy(d0);
    opus_decoder_destroy(d1);
    opus_decoder_destroy(d2);
}

/* The packets Chromium 'opus' with usedtx sent for silence (the browser
 * test's probe): DTX (three empty CELT frames), three CELT silence frames
 * (constant size), and two silence frames around an empty one. */
static void chromium_packets(check_t *c)
{
    static const uint8_t dtx[] = {0xfb, 0x03};
    static const uint8_t sil[] = {0xfb, 0x03, 0xff, 0xfe, 0xff, 0xfe, 0xff, 0xfe};
    static const uint8_t mixed[] = {0xfb, 0x83, 0x02, 0x00, 0xff, 0xfe};
    CHECK(*c, rs_is_rest(dtx, sizeof dtx));
    CHECK(*c, rs_is_rest(sil, sizeof sil));
    CHECK(*c, rs_is_rest(mixed, sizeof mixed));
    static const uint8_t toc_only[] = {0xfb};   /* 20 ms: not a frame of ours */
    static const uint8_t no_frames[] = {0xfb, 0x00};
    static const uint8_t short_vbr[] = {0xfb, 0x83, 0x09, 0x00, 0xff, 0xfe};
    CHECK(*c, !rs_is_rest(toc_only, sizeof toc_only));
    CHECK(*c, !rs_is_rest(no_frames, sizeof no_frames));
    CHECK(*c, !rs_is_rest(short_vbr, sizeof short_vbr));
    CHECK(*c, !rs_is_rest(NULL, 0));
}

int main(void)
{
    CHECK_INIT(c);
    chromium_packets(&c);
    wr_t r;
    if (wr_open(&r, "test-rests", &(rig_opts_t){.ring_seconds = 32, .user_cap = 16, .seed = 3}, 2, 16) != 0)
        return 1;
    static cl_t a;
    a = (cl_t){.uid = "11111111111", .name = "Ann"};
    /* On the same phase of the minute every run, so that the voice and
     * the frames line up alike. */
    const int64_t minute = 60 * RATE;
    r.k.now = (r.k.now / minute + 1) * minute;
    tick(&r, 50);
    connect_at(&a, &r, 3);
    CHECK_EQ_I(c, post(&r, &a, "request_lead=1", NULL, NULL), 200);
    tick(&r, 600);
    CHECK_EQ_I(c, post(&r, &a, "mark_start_singing=1", NULL, NULL), 200);
    tick(&r, 600);

    /* The voice at the clocks it will be written at, encoded as our
     * client's encoder does, and the reference decoded from every packet. */
    int64_t t0 = a.read;
    for (int i = 0; i < TOTAL; i++) {
        bool rests_here = (i >= rest_stop[0] && i < rest_back[0]) || (i >= rest_stop[1] && i < rest_back[1]);
        voice[i] = rests_here ? 0.0f : sung(i);
    }
    int err;
    OpusEncoder *enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &err);
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(64000));
    opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(9));
    opus_encoder_ctl(enc, OPUS_SET_DTX(1));
    OpusDecoder *dec = opus_decoder_create(RATE, 1, &err);
    int rests = 0;
    static bool is_rest[FRAMES];
    for (int f = 0; f < FRAMES; f++) {
        pk_len[f] = opus_encode_float(enc, voice + f * 2880, 2880, pk[f], sizeof pk[f]);
        CHECK(c, pk_len[f] > 0);
        CHECK_EQ_I(c, opus_decode_float(dec, pk[f], pk_len[f], ref + f * 2880, 2880, 0), 2880);
        is_rest[f] = rs_is_rest(pk[f], pk_len[f]);
        rests += is_rest[f];
    }

    /* The worker's way, and a decoder reset at each return instead. */
    OpusDecoder *d2 = opus_decoder_create(RATE, 1, &err);
    bool quiet = false;
    for (int f = 0; f < FRAMES; f++) {
        bool skipped;
        if (f == rest_back[0] / 2880 || f == rest_back[1] / 2880)
            opus_decoder_ctl(d2, OPUS_RESET_STATE);
        CHECK_EQ_I(c, rs_decode(d2, &quiet, pk[f], pk_len[f], alt + f * 2880, &skipped), 2880);
    }

    /* The singer sends them, batch by batch; the mix holds the singer alone. */
    for (int b = 0; b < BATCHES; b++) {
        uint8_t body[1 + 10 * (2 + 1500)];
        size_t blen = 1;
        body[0] = 10;
        for (int i = 0; i < 10; i++) {
            int f = b * 10 + i;
            pk_put_len(body + blen, (uint16_t)pk_len[f]);
            memcpy(body + blen + 2, pk[f], (size_t)pk_len[f]);
            blen += 2 + (size_t)pk_len[f];
        }
        CHECK_EQ_I(c, post_body(&r, &a, NULL, body, blen, NULL), 200);
        CHECK_EQ_I(c, (int)(a.write - N - t0), b * N);
        /* What the worker added: the raw cells, sum and count. */
        static int64_t cells[N];
        tl_read_cells(r.k.seg, a.write - N, N, cells);
        for (int i = 0; i < N; i++) {
            srv[b * N + i] = (float)acc_sum(cells[i]) / ACC_SCALE;
            counts[b * N + i] = acc_count(cells[i]);
        }
        tick(&r, 600);
    }

    uint64_t skipped = ex_counters(r.ex)->rest_frames;
    int counted = 0;
    for (int i = 0; i < TOTAL; i++)
        counted += counts[i] == 1;
    printf("test_rests: %d of %d packets are rests, %llu frames not decoded; %d of %d samples counted once\n",
           rests, FRAMES, (unsigned long long)skipped, counted, TOTAL);
    CHECK(c, rests >= 40);                        /* the encoder rested */
    CHECK(c, skipped >= (uint64_t)rests * 3 / 4); /* ... and the worker decoded little of it */
    CHECK_EQ_I(c, counted, TOTAL);                /* resting still counts */

    /* Up to the first return (after it, the decoder that skipped the rest
     * may differ from the reference in its last bits: the returns are
     * measured below), frame by frame, what the worker added is the reference as the mix
     * rounds it, or, in a rest, nothing above -80 dBFS: the reference
     * conceals empty DTX frames and makes up sound there (a ghost of the
     * last note, which the singer did not sing), which the worker leaves
     * out. */
    int same = 0, quiet_rests = 0, other = 0;
    double ghost = 0, left = 0;
    for (int f = 0; f < rest_back[0] / 2880; f++) {
        bool eq = true;
        double peak = 0, got = 0;
        for (int i = f * 2880; i < (f + 1) * 2880; i++) {
            eq = eq && srv[i] == q(ref[i]);
            peak = fmax(peak, fabs(ref[i]));
            got = fmax(got, fabs(srv[i]));
        }
        if (eq) {
            same++;
        } else if (is_rest[f] && got <= 1e-4) {
            quiet_rests++;
            ghost = fmax(ghost, peak);
            left = fmax(left, got);
        } else {
            other++;
        }
    }
    printf("test_rests: up to the first return, %d frames as the reference; %d rests where the reference"
           " conceals up to %.3g and the worker adds at most %.3g; %d otherwise\n", same, quiet_rests, ghost,
           left, other);
    CHECK_EQ_I(c, other, 0);

    for (int k = 0; k < 2; k++) {
        int back = rest_back[k], end = k == 0 ? rest_stop[1] : TOTAL;
        double s_srv = snr(ref, srv, back + ONSET, end), s_alt = snr(ref, alt, back + ONSET, end);
        double step_ref = max_step(ref, back - 1, back + ONSET), step_srv = max_step(srv, back - 1, back + ONSET);
        double step_alt = max_step(alt, back - 1, back + ONSET);
        printf("test_rests: %s rest, after 20 ms back: SNR against a decoder fed every frame %.1f dB"
               " (a decoder reset at the return: %.1f dB); largest step in the first 20 ms back %.4f,"
               " reference %.4f (reset: %.4f)\n", k ? "short" : "long", s_srv, s_alt, step_srv, step_ref,
               step_alt);
        CHECK(c, s_srv >= 40.0);
        CHECK(c, step_srv <= step_ref + 1.0 / ACC_SCALE);
    }

    /* Other placings of the same voice against the frames, off the worker,
     * in digital silence and over a microphone's noise floor (-60 dBFS RMS,
     * where the encoder goes to DTX later and refreshes it with small
     * frames of noise): going on from the decoder's state holds at each; a
     * reset does not. */
    static const int shifts[] = {0, 28800, 12345, 777, 2000, 40000};
    const size_t ns = sizeof shifts / sizeof shifts[0];
    double keep_min = 1e9, reset_min = 1e9, reset_max = -1e9;
    for (size_t k = 0; k < 2 * ns; k++) {
        double keep = 1e9, reset = 1e9;
        placing(shifts[k % ns], k < ns ? 0.0f : 0.001f * sqrtf(3.0f), &keep, &reset);
        if (k >= ns)
            printf("test_rests: over noise, placing %d: the worker's way %.1f dB, a reset %.1f dB\n",
                   shifts[k % ns], keep, reset);
        keep_min = fmin(keep_min, keep);
        reset_min = fmin(reset_min, reset);
        reset_max = fmax(reset_max, reset);
    }
    printf("test_rests: %zu placings of the voice against the frames: the worker's way at least %.1f dB;"
           " a reset at the return %.1f to %.1f dB\n", 2 * ns, keep_min, reset_min,
           reset_max);
    CHECK(c, keep_min >= 40.0);

    opus_encoder_destroy(enc);
    opus_decoder_destroy(dec);
    opus_decoder_destroy(d2);
    cl_free(&a);
    ex_destroy(r.ex);
    rig_close(&r.k);
    return check_done(&c, "test_rests");
}
