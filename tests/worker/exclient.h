/*
 * exclient.h - a protocol client that talks to ex_handle() directly: what
 * the worker's component tests stand on.  Header-only.
 *
 * A wr_t is a daemon and its segment in this process (rig.h) with one
 * exchange; a cl_t is one singer with its own Opus encoder and decoder,
 * reading in 600 ms batches on whole Opus frames, writing (when it sends
 * audio) at the clock it reads, as a singer with no latency would.
 */
#ifndef BB_TESTS_EXCLIENT_H
#define BB_TESTS_EXCLIENT_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <opus.h>

#include "exchange.h"
#include "packet.h"
#include "rig.h"
#include "ring.h"

#define N 28800
#define RATE 48000

typedef struct {
    rig_t k;       /* daemon and segment */
    ex_t *ex;
} wr_t;

typedef struct {
    const char *uid;
    const char *name;
    OpusEncoder *enc;
    OpusDecoder *dec;
    int64_t read;
    int64_t write;       /* 0: not sending audio yet */
    bool first;
    float got[N];
    char meta[65536];
    int status;
    bool organiser;      /* the requests carry the organiser's key */
} cl_t;

/* Opens the rig (rig_open() with tag and opts) and the exchange of a
 * worker that owns lane `lane` and holds up to `users` users. Returns 0,
 * or -1 when any part failed. */
static inline int wr_open(wr_t *r, const char *tag, const rig_opts_t *opts, uint32_t lane,
                          uint32_t users)
{
    char why[256];
    seg_err_t err;
    if (rig_open(&r->k, tag, opts) != 0)
        return -1;
    if (seg_claim_lane(r->k.seg, lane, &err) != 0 ||
        !(r->ex = ex_create(r->k.seg, lane, users, NULL, why, sizeof why)))
        return -1;
    return 0;
}

static inline void tick(wr_t *r, int ms)
{
    rig_tick(&r->k, ms);
}

static inline void connect_at(cl_t *c, wr_t *r, int offset_s)
{
    int err;
    if (c->enc)
        opus_encoder_destroy(c->enc);
    if (c->dec)
        opus_decoder_destroy(c->dec);
    c->enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &err);
    c->dec = opus_decoder_create(RATE, 1, &err);
    int64_t s = r->k.now - (int64_t)offset_s * RATE;
    c->read = s - s % RING_OPUS_FRAME;
    c->write = 0;
    c->first = true;
}

/* Frees the singer's codecs (the cl_t itself is the caller's). */
static inline void cl_free(cl_t *c)
{
    opus_encoder_destroy(c->enc);
    opus_decoder_destroy(c->dec);
    c->enc = NULL;
    c->dec = NULL;
}

/* The gated test tone at absolute clock t: 1 kHz, switched on and off in
 * irregular 10 ms blocks so that only one lag lines it up. */
static inline float tone(int64_t t)
{
    uint64_t b = (uint64_t)(t / 480);
    uint64_t h = b * 0x9E3779B97F4A7C15ull;
    if ((h >> 61) < 3)
        return 0.0f;
    return 0.4f * (float)sin(2 * M_PI * 1000.0 * (double)(t % RATE) / RATE);
}

/* One exchange: extra query text, the audio to send (NULL: none).  Decodes
 * the answer into c->got and keeps the metadata. */
static inline int post_body(wr_t *r, cl_t *c, const char *extra, const uint8_t *body, size_t blen,
                            const char *events);

static inline int post(wr_t *r, cl_t *c, const char *extra, const float *audio, const char *events)
{
    static uint8_t body[1 + 10 * (2 + 1500)];
    size_t blen = 0;
    if (audio) {
        body[0] = 10;
        blen = 1;
        for (int i = 0; i < 10; i++) {
            int k = opus_encode_float(c->enc, audio + i * 2880, 2880, body + blen + 2, 1500);
            pk_put_len(body + blen, (uint16_t)k);
            blen += 2 + (size_t)k;
        }
    }
    return post_body(r, c, extra, audio ? body : NULL, blen, events);
}

/* The same with the upload given as a pack_multi body of ten packets
 * (NULL: no audio). */
static inline int post_body(wr_t *r, cl_t *c, const char *extra, const uint8_t *body, size_t blen,
                            const char *events)
{
    static char q[8192];
    c->read += N;
    int n = snprintf(q, sizeof q, "read_clock=%lld&n_samples=%d&userid=%s&username=%s",
                     (long long)c->read, N, c->uid, c->name);
    if (body) {
        c->write = c->write ? c->write + N : c->read;
        n += snprintf(q + n, sizeof q - (size_t)n, "&write_clock=%lld", (long long)c->write);
    }
    if (c->first) {
        n += snprintf(q + n, sizeof q - (size_t)n, "&reset_user_state=true");
        c->first = false;
    }
    if (extra && *extra)
        snprintf(q + n, sizeof q - (size_t)n, "&%s", extra);
    ex_request_t req = {.query = q, .query_len = strlen(q), .body = body, .body_len = blen,
                        .event_data = events, .organiser = c->organiser};
    ex_response_t res;
    ex_handle(r->ex, &req, &res, r->k.now);
    c->status = res.status;
    snprintf(c->meta, sizeof c->meta, "%s", res.meta ? res.meta : "");
    if (res.status == 200) {
        pk_packet_t pk[PK_MAX_PACKETS];
        int np = pk_parse(res.body, res.body_len, pk, PK_MAX_PACKETS);
        if (np != N / 2880)
            return -1;
        for (int i = 0; i < np; i++)
            if (opus_decode_float(c->dec, pk[i].data, pk[i].len, c->got + i * 2880, 2880, 0) != 2880)
                return -1;
    }
    return res.status;
}

/* A request built by hand (for malformed input). */
static inline int raw(wr_t *r, const char *q, const uint8_t *body, size_t blen, char *meta, size_t cap)
{
    ex_request_t req = {.query = q, .query_len = strlen(q), .body = body, .body_len = blen, .event_data = NULL};
    ex_response_t res;
    ex_handle(r->ex, &req, &res, r->k.now);
    snprintf(meta, cap, "%s", res.meta ? res.meta : "");
    return res.status;
}

static inline bool has(const char *meta, const char *s) { return strstr(meta, s) != NULL; }

#endif
