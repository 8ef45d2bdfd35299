/*
 * test_private.c - the encoder setting of private streams applies to the
 * streams no one can share, and to nothing else.
 *
 * Three workers attach to one segment: S with the default setting
 * (OUT_PRIVATE_COMPLEXITY, auto), R switched to complexity 0 (the
 * cheapest, ex_set_private_complexity()), F fixed at ES_COMPLEXITY.
 * Singers sing a chord (voices sharing one vibrato, with harmonics, each
 * resting one stretch in four, staggered); a listener on unaligned clocks
 * and one on whole frames ask every worker the same requests at the same
 * moments.  The aligned listener's packets must be identical everywhere
 * (the shared path keeps ES_COMPLEXITY); the unaligned listener's must
 * differ between F and R (the switch reaches its stream) and decode.
 * Each is set against the exact mix (the timeline read as the worker reads
 * it, moved by the encoder's lookahead) and the SNRs printed.
 *
 * Twice: with three singers, fewer than OUT_AUTO_VOICES, auto must give
 * F's packets byte for byte (on this chord complexity 0 costs 4 dB); with
 * twelve, auto must switch to 0 (its packets differ from F's) and stay
 * within 1 dB of F's SNR (bench_complexity measures the threshold).
 */
#include <math.h>
#include <string.h>

#include <opus.h>

#include "check.h"
#include "rig.h"
#include "encshare.h"
#include "exchange.h"
#include "output.h"
#include "packet.h"
#include "ring.h"
#include "snap.h"
#include "timeline.h"

#define N 28800
#define RATE 48000
#define ROUNDS 20

#define W 3          /* workers: S (auto), R (0), F (ES_COMPLEXITY) */
#define MAX_SINGERS 12

typedef struct {
    rig_t k;
    ex_t *ex[W];
} wr_t;

/* Singer v's voice at clock t: a note of a wide C major chord with
 * vibrato and four harmonics, resting one 600 ms stretch in four (not the
 * same one for each singer). */
static float voice(int v, int64_t t)
{
    static const double f0[MAX_SINGERS] = {131, 196, 330, 262, 392, 165, 523, 98, 659, 247, 440, 784};
    if ((t / N + v) % 4 == 3)
        return 0.0f;
    double s = (double)t / RATE;
    double ph = 2 * M_PI * f0[v] * s + 0.6 * sin(2 * M_PI * 5.5 * s);
    double x = 0;
    for (int h = 1; h <= 5; h++)
        x += sin(h * ph) / (h * h);
    return (float)(0.25 * x);
}

static size_t make_body(OpusEncoder *enc, int v, int64_t t0, uint8_t *body)
{
    float x[N];
    for (int i = 0; i < N; i++)
        x[i] = voice(v, t0 + i);
    size_t at = 1;
    body[0] = 10;
    for (int i = 0; i < 10; i++) {
        int k = opus_encode_float(enc, x + i * 2880, 2880, body + at + 2, 1500);
        pk_put_len(body + at, (uint16_t)k);
        at += 2 + (size_t)k;
    }
    return at;
}

static int request(ex_t *ex, int64_t now, const char *uid, int64_t read, bool fresh,
                   int64_t write, const uint8_t *body, size_t blen, const char *extra,
                   ex_response_t *res)
{
    char q[512];
    int n = snprintf(q, sizeof q, "read_clock=%lld&n_samples=%d&userid=%s&username=U%s",
                     (long long)read, N, uid, uid);
    if (fresh)
        n += snprintf(q + n, sizeof q - (size_t)n, "&reset_user_state=true");
    if (body)
        n += snprintf(q + n, sizeof q - (size_t)n, "&write_clock=%lld", (long long)write);
    if (extra)
        snprintf(q + n, sizeof q - (size_t)n, "&%s", extra);
    ex_request_t req = {.query = q, .query_len = strlen(q), .body = body, .body_len = blen, .event_data = NULL};
    ex_handle(ex, &req, res, now);
    return res->status;
}

/* Decodes a response body into out (N samples); false on any failure. */
static bool decode(OpusDecoder *dec, const ex_response_t *res, float *out)
{
    pk_packet_t pk[PK_MAX_PACKETS];
    int np = pk_parse(res->body, res->body_len, pk, PK_MAX_PACKETS);
    if (np != N / 2880)
        return false;
    for (int i = 0; i < np; i++)
        if (opus_decode_float(dec, pk[i].data, pk[i].len, out + i * 2880, 2880, 0) != 2880)
            return false;
    return true;
}

static double snr_db(const float *mix, const float *heard, int64_t n, int la)
{
    double sig = 0, err = 0;
    for (int64_t i = 0; i + la < n; i++) {
        double d = (double)heard[i + la] - mix[i];
        sig += (double)mix[i] * mix[i];
        err += d * d;
    }
    return 10 * log10(sig / (err + 1e-30));
}

typedef struct {
    double snr[W];     /* the unaligned listener's, against the exact mix */
    bool decoded;
    bool u_same[W];    /* its packets identical to S's */
    bool a_same;       /* the aligned listener's identical on every worker */
    double rms;        /* of the mix */
} result_t;

/* One run with `singers` singers; false if the rig would not open. */
static bool run(check_t *c, int singers, const char *name, result_t *out)
{
    wr_t w;
    if (rig_open(&w.k, name, &(rig_opts_t){.ring_seconds = 32, .user_cap = 128, .seed = 5}) != 0)
        return false;
    char why[256];
    for (int i = 0; i < W; i++)
        if (!(w.ex[i] = ex_create(w.k.seg, 4 + i, 64, NULL, why, sizeof why))) {
            fprintf(stderr, "ex_create: %s\n", why);
            return false;
        }
    ex_set_private_complexity(w.ex[1], 0);
    ex_set_private_complexity(w.ex[2], ES_COMPLEXITY);
    rig_tick(&w.k, 50);

    int e;
    OpusEncoder *enc[MAX_SINGERS];
    for (int v = 0; v < singers; v++)
        enc[v] = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &e);
    int32_t la = 0;
    opus_encoder_ctl(enc[0], OPUS_GET_LOOKAHEAD(&la));
    static uint8_t body[1 + 10 * (2 + 1500)];
    ex_response_t res;
    ex_t *s0 = w.ex[0];

    /* The first singer leads and starts; the singers write where they
     * hear, all at the first bucket's clocks. */
    int64_t sread = w.k.now - 3 * RATE;
    sread -= sread % RING_OPUS_FRAME;
    CHECK_EQ_I(*c, request(s0, w.k.now, "7", sread += N, true, 0, NULL, 0, "request_lead=1", &res), 200);
    rig_tick(&w.k, 20);
    CHECK_EQ_I(*c, request(s0, w.k.now, "7", sread += N, false, 0, NULL, 0, "mark_start_singing=1", &res),
               200);
    for (int v = 1; v < singers; v++) {
        char uid[8];
        snprintf(uid, sizeof uid, "%d", 7 + v);
        CHECK_EQ_I(*c, request(s0, w.k.now, uid, sread, true, 0, NULL, 0, NULL, &res), 200);
    }
    rig_tick(&w.k, 580);

    /* Listeners 6 s behind: u on unaligned clocks (one twin per worker,
     * userids 30..), a on whole frames (40..). */
    int64_t base = w.k.now - 6 * RATE;
    base -= base % RING_OPUS_FRAME;
    int64_t uread = base + 1234, aread = base;
    OpusDecoder *dec[W];
    for (int i = 0; i < W; i++)
        dec[i] = opus_decoder_create(RATE, 1, &e);
    static float heard[W][ROUNDS * N], mix[ROUNDS * N];
    result_t r = {.decoded = true, .a_same = true};
    for (int i = 0; i < W; i++)
        r.u_same[i] = true;
    static uint8_t first[OUT_BODY_CAP];
    for (int round = 0; round < ROUNDS; round++) {
        for (int v = 0; v < singers; v++) {
            char uid[8];
            snprintf(uid, sizeof uid, "%d", 7 + v);
            size_t blen = make_body(enc[v], v, sread, body);
            CHECK_EQ_I(*c, request(s0, w.k.now, uid, sread + N, false, sread + N, body, blen, NULL, &res),
                       200);
        }
        sread += N;
        uread += N;
        aread += N;
        size_t flen = 0;
        for (int t = 0; t < W; t++) {
            char uid[8];
            snprintf(uid, sizeof uid, "%d", 30 + t);
            CHECK_EQ_I(*c, request(w.ex[t], w.k.now, uid, uread, round == 0, 0, NULL, 0, NULL, &res), 200);
            r.decoded = r.decoded && decode(dec[t], &res, heard[t] + (size_t)round * N);
            if (t == 0) {
                memcpy(first, res.body, res.body_len);
                flen = res.body_len;
            } else if (res.body_len != flen || memcmp(first, res.body, flen) != 0) {
                r.u_same[t] = false;
            }
        }
        for (int t = 0; t < W; t++) {
            char uid[8];
            snprintf(uid, sizeof uid, "%d", 40 + t);
            CHECK_EQ_I(*c, request(w.ex[t], w.k.now, uid, aread, round == 0, 0, NULL, 0, NULL, &res), 200);
            if (t == 0) {
                memcpy(first, res.body, res.body_len);
                flen = res.body_len;
            } else if (res.body_len != flen || memcmp(first, res.body, flen) != 0) {
                r.a_same = false;
            }
        }
        /* The exact mix the unaligned listener was rendered from. */
        seg_ctl_t ctl;
        snap_ctl_read(w.k.seg, &ctl);
        tl_read(w.k.seg, uread - N, N, ctl.global_gain, mix + (size_t)round * N, NULL);
        rig_tick(&w.k, 600);
    }
    /* From the second request on: the singers' voices have reached the
     * listener, and the fresh decoder has settled. */
    int64_t n = (int64_t)(ROUNDS - 1) * N;
    double rms = 0;
    for (int64_t i = N; i < ROUNDS * N; i++)
        rms += (double)mix[i] * mix[i];
    r.rms = sqrt(rms / (double)n);
    for (int t = 0; t < W; t++)
        r.snr[t] = snr_db(mix + N, heard[t] + N, n, la);
    *out = r;

    for (int i = 0; i < W; i++) {
        opus_decoder_destroy(dec[i]);
        ex_destroy(w.ex[i]);
    }
    for (int v = 0; v < singers; v++)
        opus_encoder_destroy(enc[v]);
    rig_close(&w.k);
    return true;
}

int main(void)
{
    CHECK_INIT(c);
    static const int counts[2] = {3, MAX_SINGERS};
    for (int k = 0; k < 2; k++) {
        result_t r;
        char name[32];
        snprintf(name, sizeof name, "test-private-%d", counts[k]);
        if (!run(&c, counts[k], name, &r))
            return 1;
        printf("  %d singers: the mix at %.1f dBFS RMS; the unaligned listener against the exact "
               "mix: auto %.2f dB, complexity 0 %.2f dB, %d %.2f dB (auto %+.2f dB); auto's packets "
               "%s %d's; aligned packets %s\n",
               counts[k], 20 * log10(r.rms + 1e-30), r.snr[0], r.snr[1], ES_COMPLEXITY, r.snr[2],
               r.snr[0] - r.snr[2], r.u_same[2] ? "are" : "differ from", ES_COMPLEXITY,
               r.a_same ? "identical" : "differ");
        CHECK(c, r.decoded);
        CHECK(c, r.rms > 0.02);     /* the voices were there to hear */
        CHECK(c, r.a_same);         /* the shared path is untouched */
        /* the fixed switch reaches the stream: 0 and ES_COMPLEXITY differ */
        CHECK(c, !(r.u_same[1] && r.u_same[2]));
        if (counts[k] < OUT_AUTO_VOICES) {
            CHECK(c, r.u_same[2]);  /* few voices: auto is ES_COMPLEXITY */
        } else {
            CHECK(c, !r.u_same[2]);                  /* many: auto switched */
            CHECK(c, r.snr[0] >= r.snr[2] - 1.0);    /* and costs under 1 dB */
        }
    }
    return check_done(&c, "test_private");
}
