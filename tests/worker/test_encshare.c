/*
 * test_encshare.c - shared encoding is indistinguishable from private
 * encoding.
 *
 * Two workers attach to one segment: S shares encoded frames, P encodes
 * every singer privately.  Every listener has a twin: the same requests at
 * the same moments, one to S and one to P.  The packets S sends must equal,
 * byte for byte, those P sends (Opus is deterministic: the same samples
 * through the same encoder history give the same packets), so what a singer
 * decodes through the shared path is exactly what a private encoder gives,
 * with no seam anywhere.  The song covers the cases that branch or leave
 * the shared path:
 *   - several listeners in one bucket (one encode, the rest shared);
 *   - a late write into frames some listeners have already heard (the
 *     chain branches for the listeners after it);
 *   - a listener joining mid-song and one reconnecting;
 *   - a listener who starts monitoring (leaves the shared path keeping its
 *     encoder state) and one on unaligned clocks like the original client;
 *   - a change of the global volume.
 * It also checks that sharing happened (most frames served from the
 * cache) and that the decoded audio is the mix.
 */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <opus.h>

#include "check.h"
#include "rig.h"
#include "daemon.h"
#include "exchange.h"
#include "encshare.h"
#include "packet.h"
#include "ring.h"
#include "snap.h"
#include "timeline.h"
#include "users.h"

#define N 28800
#define RATE 48000

typedef struct {
    rig_t k;       /* daemon and segment */
    ex_t *s;       /* sharing worker */
    ex_t *p;       /* private worker */
} wr_t;

typedef struct {
    int id;
    int64_t read;
    int64_t write;
    bool fresh;
    bool twin_ok;    /* all responses of the twins matched */
    int compared;
    char extra[256];
    OpusDecoder *dec[2];   /* what each twin's client decodes */
    float pcm[2][N];
    int frames_since_join;
    double first_sig, first_err;   /* first frame after a (re)connect */
    double rest_sig, rest_err;     /* every later frame */
} lis_t;

static void tick(wr_t *r, int ms)
{
    rig_tick(&r->k, ms);
}

static void connect_at(lis_t *l, wr_t *r, int offset_s, int64_t skew)
{
    for (int w = 0; w < 2; w++) {
        int e;
        if (l->dec[w])
            opus_decoder_destroy(l->dec[w]);
        l->dec[w] = opus_decoder_create(RATE, 1, &e);
    }
    l->frames_since_join = 0;
    int64_t s = r->k.now - (int64_t)offset_s * RATE;
    l->read = s - s % RING_OPUS_FRAME + skew;
    l->write = 0;
    l->fresh = true;
}

/* Sends the same request to both workers (userids differ: S gets 1000+id,
 * P 2000+id) and compares the bodies. */
static void twin(wr_t *r, lis_t *l, check_t *c, const uint8_t *body, size_t blen)
{
    static char q[1024];
    static uint8_t first[1 + 10 * (2 + 3832)];
    size_t first_len = 0;
    l->read += N;
    for (int w = 0; w < 2; w++) {
        int n = snprintf(q, sizeof q, "read_clock=%lld&n_samples=%d&userid=%d&username=L%d",
                         (long long)l->read, N, (w ? 2000 : 1000) + l->id, l->id);
        if (l->fresh)
            n += snprintf(q + n, sizeof q - (size_t)n, "&reset_user_state=true");
        if (body)
            n += snprintf(q + n, sizeof q - (size_t)n, "&write_clock=%lld", (long long)l->write + N);
        if (l->extra[0])
            snprintf(q + n, sizeof q - (size_t)n, "&%s", l->extra);
        ex_request_t req = {.query = q, .query_len = strlen(q), .body = body, .body_len = blen, .event_data = NULL};
        ex_response_t res;
        ex_handle(w ? r->p : r->s, &req, &res, r->k.now);
        if (res.status != 200) {
            fprintf(stderr, "listener %d on %s: %d %s\n", l->id, w ? "P" : "S", res.status, res.meta);
            l->twin_ok = false;
            return;
        }
        if (w == 0) {
            memcpy(first, res.body, res.body_len);
            first_len = res.body_len;
        } else if (res.body_len != first_len || memcmp(first, res.body, first_len) != 0) {
            l->twin_ok = false;
        }
        /* Decode as the twin's client would. */
        pk_packet_t pk[PK_MAX_PACKETS];
        int np = pk_parse(res.body, res.body_len, pk, PK_MAX_PACKETS);
        for (int i = 0; i < np; i++)
            if (opus_decode_float(l->dec[w], pk[i].data, pk[i].len, l->pcm[w] + i * 2880, 2880, 0) != 2880)
                l->twin_ok = false;
    }
    /* What the shared path's listener hears against the private one's. */
    for (int f = 0; f < N / 2880; f++, l->frames_since_join++) {
        double sig = 0, e2 = 0;
        for (int i = f * 2880; i < (f + 1) * 2880; i++) {
            sig += (double)l->pcm[1][i] * l->pcm[1][i];
            e2 += (double)(l->pcm[0][i] - l->pcm[1][i]) * (l->pcm[0][i] - l->pcm[1][i]);
        }
        if (l->frames_since_join == 0) {
            l->first_sig += sig;
            l->first_err += e2;
        } else {
            l->rest_sig += sig;
            l->rest_err += e2;
        }
    }
    if (body)
        l->write += N;
    l->fresh = false;
    l->extra[0] = '\0';
    l->compared++;
    (void)c;
}

/* A singer's upload (through S only: audio goes into the shared segment). */
static int sing(wr_t *r, int64_t *read, int64_t *write, bool fresh, const uint8_t *body, size_t blen,
                const char *extra)
{
    char q[512];
    *read += N;
    int n = snprintf(q, sizeof q, "read_clock=%lld&n_samples=%d&userid=7&username=Lead", (long long)*read, N);
    if (fresh)
        n += snprintf(q + n, sizeof q - (size_t)n, "&reset_user_state=true");
    if (body) {
        *write += N;
        n += snprintf(q + n, sizeof q - (size_t)n, "&write_clock=%lld", (long long)*write);
    }
    if (extra)
        snprintf(q + n, sizeof q - (size_t)n, "&%s", extra);
    ex_request_t req = {.query = q, .query_len = strlen(q), .body = body, .body_len = blen, .event_data = NULL};
    ex_response_t res;
    ex_handle(r->s, &req, &res, r->k.now);
    return res.status;
}

/* Encodes 600 ms of a voice-like signal starting at clock t0. */
static size_t make_body(OpusEncoder *enc, int64_t t0, uint8_t *body)
{
    float x[N];
    for (int i = 0; i < N; i++) {
        double t = (double)(t0 + i) / RATE;
        x[i] = (float)(0.3 * sin(2 * M_PI * 330 * t) * (0.6 + 0.4 * sin(2 * M_PI * 2 * t)));
    }
    size_t at = 1;
    body[0] = 10;
    for (int i = 0; i < 10; i++) {
        int k = opus_encode_float(enc, x + i * 2880, 2880, body + at + 2, 1500);
        pk_put_len(body + at, (uint16_t)k);
        at += 2 + (size_t)k;
    }
    return at;
}

int main(void)
{
    CHECK_INIT(c);
    wr_t r;
    if (rig_open(&r.k, "test-encshare", &(rig_opts_t){.ring_seconds = 32, .user_cap = 128, .seed = 3}) != 0)
        return 1;
    char why[256];
    r.s = ex_create(r.k.seg, 4, 256, NULL, why, sizeof why);
    r.p = ex_create(r.k.seg, 5, 256, NULL, why, sizeof why);
    ex_set_sharing(r.p, false);
    tick(&r, 50);

    int e;
    OpusEncoder *enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &e);
    static uint8_t body[1 + 10 * (2 + 1500)];

    /* The singer leads and starts from the first bucket. */
    int64_t sread = r.k.now - 3 * RATE;
    sread -= sread % RING_OPUS_FRAME;
    int64_t swrite = 0;
    CHECK_EQ_I(c, sing(&r, &sread, &swrite, true, NULL, 0, "request_lead=1"), 200);
    tick(&r, 20);
    CHECK_EQ_I(c, sing(&r, &sread, &swrite, false, NULL, 0, "mark_start_singing=1"), 200);
    tick(&r, 580);
    swrite = sread;   /* writes where it hears */

    /* Listeners: 0-3 in the 6 s bucket; 4 joins later; 5 on unaligned
     * clocks; 6 will monitor the singer. */
    enum { L = 7 };
    static lis_t ls[L];
    for (int i = 0; i < L; i++) {
        ls[i].id = i;
        ls[i].twin_ok = true;
        connect_at(&ls[i], &r, 6, i == 5 ? 1234 : 0);
    }
    for (int round = 0; round < 24; round++) {
        size_t blen = make_body(enc, swrite, body);
        CHECK_EQ_I(c, sing(&r, &sread, &swrite, false, body, blen, NULL), 200);
        for (int i = 0; i < L; i++) {
            if (i == 4 && round < 8)
                continue;                               /* joins mid-song */
            if (i == 4 && round == 8)
                connect_at(&ls[4], &r, 6, 0);
            if (i == 2 && round == 12)
                connect_at(&ls[2], &r, 6, 0);           /* reconnects */
            if (i == 6 && round == 10)
                snprintf(ls[6].extra, sizeof ls[6].extra, "loopback=true");
            if (i == 0 && round == 14)
                snprintf(ls[0].extra, sizeof ls[0].extra, "volume=1.3");
            twin(&r, &ls[i], &c, NULL, 0);
            if (i == 1 && round % 5 == 3) {
                /* A late write: a second singer writes into frames listener
                 * 0 and 1 have just heard and 2 and 3 are about to hear. */
                char q[512];
                int64_t at = ls[1].read - N;
                int64_t lr = r.k.now - 9 * RATE;
                lr -= lr % RING_OPUS_FRAME;
                size_t ln = make_body(enc, at, body);
                snprintf(q, sizeof q,
                         "read_clock=%lld&n_samples=%d&userid=8&username=Late&write_clock=%lld"
                         "&reset_user_state=true", (long long)(lr + N), N, (long long)(at + N));
                ex_request_t req = {.query = q, .query_len = strlen(q), .body = body, .body_len = ln, .event_data = NULL};
                ex_response_t res;
                ex_handle(r.s, &req, &res, r.k.now);
                CHECK_EQ_I(c, res.status, 200);
            }
        }
        tick(&r, 600);
    }
    for (int i = 0; i < L; i++) {
        lis_t *l = &ls[i];
        double snr_first = 10 * log10((l->first_sig + 1e-20) / (l->first_err + 1e-20));
        double snr_rest = 10 * log10((l->rest_sig + 1e-20) / (l->rest_err + 1e-20));
        printf("  listener %d: %d exchanges, packets %s; decoded shared vs private: "
               "first frame after joining %.1f dB, after it %.1f dB\n", i, l->compared,
               l->twin_ok ? "identical" : "differ", snr_first, snr_rest);
        CHECK(c, l->compared >= 10);
        if (i == 2 || i == 4) {
            /* Joined an existing chain: only the fresh decoder's first frame
             * differs; from the next one on it is the same stream. */
            CHECK(c, snr_rest >= 35.0);
        } else {
            CHECK(c, l->twin_ok);
        }
    }
    ex_share_t sh, ph;
    ex_share(r.s, &sh);
    ex_share(r.p, &ph);
    printf("  after the disturbances: %llu frames encoded, %llu shared, %llu newcomers joined\n",
           (unsigned long long)sh.encoded, (unsigned long long)sh.packet_hits,
           (unsigned long long)sh.joins);
    CHECK_EQ_I(c, ph.packet_hits, 0);
    /* A quiet stretch after everyone reconnects (as after a lead): the
     * aligned listeners of the bucket share one chain, so each frame is
     * encoded once for them, and once for the singer alone in its bucket. */
    for (int i = 0; i < L; i++)
        if (i != 5 && i != 6)
            connect_at(&ls[i], &r, 6, 0);
    ex_share_t before, after;
    ex_share(r.s, &before);
    for (int round = 0; round < 4; round++) {
        size_t blen = make_body(enc, swrite, body);
        CHECK_EQ_I(c, sing(&r, &sread, &swrite, false, body, blen, NULL), 200);
        for (int i = 0; i < L; i++)
            if (i != 5 && i != 6)
                twin(&r, &ls[i], &c, NULL, 0);
        tick(&r, 600);
    }
    ex_share(r.s, &after);
    uint64_t enc_d = after.encoded - before.encoded, hit_d = after.packet_hits - before.packet_hits;
    printf("  quiet stretch: 4 rounds x 10 frames x 5 listeners + the singer: %llu encoded, %llu shared\n",
           (unsigned long long)enc_d, (unsigned long long)hit_d);
    CHECK_EQ_I(c, enc_d, 4 * 10 * 2);
    CHECK_EQ_I(c, hit_d, 4 * 10 * 4);

    for (int i = 0; i < L; i++) {
        opus_decoder_destroy(ls[i].dec[0]);
        opus_decoder_destroy(ls[i].dec[1]);
    }
    opus_encoder_destroy(enc);
    ex_destroy(r.s);
    ex_destroy(r.p);
    rig_close(&r.k);
    return check_done(&c, "test_encshare");
}
