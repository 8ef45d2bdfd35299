/*
 * bbsinger.c - a singer (bbsinger.h): the browser's protocol state machine
 * over one connection.
 *
 * The singer mirrors the browser client: after any failed exchange it
 * reconnects (GET probe, reset_user_state, fresh codecs); a delay_seconds
 * move is a reconnect at the new offset.  Metadata queued with the
 * bbc_singer_* setters (bbqueue.h) goes out on the next POST only.
 */
#include "bbsinger.h"
#include "bbsinger_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>

#include "packet.h"
#include "rng.h"
#include "urlenc.h"


void bbc_config_init(bbc_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->transport = BBC_FCGI;
    cfg->path = "/api";
    cfg->offset_s = 6;
    cfg->n_samples = BBC_BATCH;
    cfg->timeout_ms = 5000;
    cfg->mode = BBC_SEND_ENCODE;
    cfg->bitrate = 64000;
}

static bool is_decimal(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

void bbc_singer_set_err(bbc_singer_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
}

void bbc_singer_destroy(bbc_singer_t *s)
{
    if (!s)
        return;
    bbc_queue_free(&s->q);
    bbc_conn_destroy(s->own_conn);
    if (s->enc)
        opus_encoder_destroy(s->enc);
    if (s->dec)
        opus_decoder_destroy(s->dec);
    bbuf_free(&s->query);
    bbuf_free(&s->body);
    bbuf_free(&s->link_query);
    if (s->event_hdr)
        cJSON_free(s->event_hdr);
    bbc_meta_free(&s->meta);
    resp_free(&s->resp);
    free(s->scratch);
    free(s->zeros);
    free(s->gen);
    free(s->pkts);
    free(s->path);
    free(s->userid);
    free(s->username);
    free(s->reset_path);
    free(s->room);
    free(s->key);
    free(s);
}

/* The singer's names and paths: its userid (drawn from seed when the
 * config has none), its name, the API path and <path>/reset_events.
 * BBC_OK or BBC_ENOMEM. */
static int set_identity(bbc_singer_t *s, const bbc_config_t *cfg, rng_t *seed)
{
    char idbuf[24], namebuf[64];
    if (!cfg->userid) {
        /* Math.round(Math.random()*1e11), never 0 */
        snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)(rng_next(seed) % 100000000000ull + 1));
    }
    s->userid = strdup(cfg->userid ? cfg->userid : idbuf);
    snprintf(namebuf, sizeof namebuf, "singer-%s", s->userid ? s->userid : "");
    s->username = strdup(cfg->username ? cfg->username : namebuf);
    s->path = strdup(cfg->path ? cfg->path : "/api");
    if (s->path) {
        size_t pl = strlen(s->path);
        s->reset_path = malloc(pl + sizeof "/reset_events");
        if (s->reset_path) {
            /* Route on the last segment: <path>/reset_events. */
            memcpy(s->reset_path, s->path, pl + 1);
            if (pl && s->reset_path[pl - 1] == '/')
                s->reset_path[--pl] = 0;
            strcat(s->reset_path, "/reset_events");
        }
    }
    s->room = strdup(cfg->room ? cfg->room : "");
    s->key = strdup(cfg->key ? cfg->key : "");
    if (!s->userid || !s->username || !s->path || !s->reset_path || !s->room || !s->key)
        return BBC_ENOMEM;
    s->cfg.room = s->room;
    s->cfg.key = s->key;
    s->cfg.userid = s->userid;
    s->cfg.username = s->username;
    s->cfg.path = s->path;
    s->cfg.addr = NULL;
    return BBC_OK;
}

/* Only what the mode needs: a load singer that sends pre-encoded packets
 * and skips decoding holds no codec and no audio buffer at all.  BBC_OK,
 * BBC_ENOMEM or BBC_EOPUS. */
static int make_audio(bbc_singer_t *s, const bbc_config_t *cfg)
{
    size_t n = (size_t)cfg->n_samples;
    const bool encoding = cfg->mode == BBC_SEND_ENCODE;
    const bool decoding = !cfg->skip_decode;
    if (decoding)
        s->scratch = calloc(n, sizeof(float));
    if (encoding) {
        s->zeros = calloc(n, sizeof(float));
        s->pkts = malloc(n / BBC_FRAME * PK_MAX_PACKET);
        if (cfg->source)
            s->gen = calloc(n, sizeof(float));
    }
    if ((decoding && !s->scratch) || (encoding && (!s->zeros || !s->pkts || (cfg->source && !s->gen))))
        return BBC_ENOMEM;
    int oe = OPUS_OK;
    if (encoding)
        s->enc = opus_encoder_create(BBC_RATE, 1, OPUS_APPLICATION_AUDIO, &oe);
    if (decoding)
        s->dec = opus_decoder_create(BBC_RATE, 1, &oe);
    if ((encoding && !s->enc) || (decoding && !s->dec))
        return BBC_EOPUS;
    if (s->enc && cfg->bitrate > 0)
        opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(cfg->bitrate));
    return BBC_OK;
}

/* The singer's own connection to cfg->addr, or the shared cfg->conn. */
static int attach_conn(bbc_singer_t *s, const bbc_config_t *cfg)
{
    if (!cfg->addr) {
        s->conn = cfg->conn;
        return BBC_OK;
    }
    bbc_addr_t a;
    int rc = bbc_addr_parse(cfg->addr, cfg->transport, &a);
    if (rc == BBC_OK && cfg->from_addr)
        rc = bbc_addr_set_source(&a, cfg->from_addr);
    s->cfg.from_addr = NULL; /* kept in the connection's address, not as the caller's string */
    if (rc == BBC_OK)
        s->own_conn = bbc_conn_new(&a, &rc);
    if (!s->own_conn)
        return rc;
    bbc_conn_set_keep(s->own_conn, !cfg->no_keep);
    s->conn = s->own_conn;
    return BBC_OK;
}

bbc_singer_t *bbc_singer_new(const bbc_config_t *cfg, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = BBC_EPARAM;
    if (!cfg || cfg->n_samples <= 0 || cfg->n_samples % BBC_FRAME != 0 || cfg->n_samples > BBC_MAX_BATCH ||
        cfg->offset_s < 1 || cfg->offset_s > 1000 || cfg->timeout_ms <= 0 || cfg->write_lag < 0 ||
        cfg->placeholder_batches < 0 || cfg->bitrate < 0 || (cfg->userid && !is_decimal(cfg->userid)) ||
        (cfg->username && !*cfg->username) || (cfg->mode == BBC_SEND_PREENCODED && !cfg->preenc) ||
        (cfg->mode == BBC_SEND_PREENCODED && bbc_preenc_count(cfg->preenc) == 0) ||
        (cfg->path && cfg->path[0] != '/') || (cfg->addr && cfg->conn) || (cfg->from_addr && !cfg->addr))
        return NULL;
    bbc_singer_t *s = calloc(1, sizeof *s);
    if (!s) {
        *err = BBC_ENOMEM;
        return NULL;
    }
    s->cfg = *cfg;
    s->offset_s = cfg->offset_s;
    bbc_queue_init(&s->q);
    resp_init(&s->resp);

    /* The generator of the userid and the pre-encoded start position. */
    rng_t seed;
    rng_seed(&seed, cfg->seed);
    if (cfg->seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rng_seed(&seed, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid() ^
                            (uint64_t)(uintptr_t)s);
    }
    int rc = set_identity(s, cfg, &seed);
    if (rc == BBC_OK && cfg->mode == BBC_SEND_PREENCODED)
        s->pre_at = (size_t)(rng_next(&seed) % bbc_preenc_count(cfg->preenc));
    if (rc == BBC_OK)
        rc = make_audio(s, cfg);
    if (rc == BBC_OK)
        rc = attach_conn(s, cfg);
    if (rc != BBC_OK) {
        bbc_singer_destroy(s);
        *err = rc;
        return NULL;
    }
    *err = BBC_OK;
    return s;
}

/* -- queued metadata (bbqueue.h) -- */

int bbc_singer_chat(bbc_singer_t *s, const char *text) { return bbc_queue_chat(&s->q, text); }
void bbc_singer_request_lead(bbc_singer_t *s) { s->q.lead = true; }
void bbc_singer_mark_start(bbc_singer_t *s) { s->q.start = true; }
void bbc_singer_mark_stop(bbc_singer_t *s) { s->q.stop = true; }
void bbc_singer_set_volume(bbc_singer_t *s, double v) { bbc_queue_number(s->q.volume, v); }
void bbc_singer_set_backing_volume(bbc_singer_t *s, double v) { bbc_queue_number(s->q.backing, v); }
int bbc_singer_set_track(bbc_singer_t *s, const char *name) { return bbc_queue_track(&s->q, name); }
int bbc_singer_monitor(bbc_singer_t *s, const char *id) { return bbc_queue_monitor(&s->q, id); }

void bbc_singer_set_tempo(bbc_singer_t *s, int bpm, int repeats, int bpr)
{
    s->q.bpm = bpm;
    s->q.repeats = repeats;
    s->q.bpr = bpr;
}

int bbc_singer_mic_volume(bbc_singer_t *s, const char *id, double v)
{
    return bbc_queue_mic_volume(&s->q, id, v);
}

int bbc_singer_event(bbc_singer_t *s, const char *evid_json, int64_t clock)
{
    return bbc_queue_event(&s->q, evid_json, clock);
}

int bbc_singer_param(bbc_singer_t *s, const char *name, const char *value)
{
    return bbc_queue_param(&s->q, name, value);
}

/* -- requests -- */

bool bbc_singer_needs_probe(const bbc_singer_t *s)
{
    return !s->connected;
}

void bbc_singer_reset_codecs(bbc_singer_t *s)
{
    if (s->enc)
        opus_encoder_ctl(s->enc, OPUS_RESET_STATE);
    if (s->dec)
        opus_decoder_ctl(s->dec, OPUS_RESET_STATE);
}

/* The room the singer is in: room= and key=, each only when set. */
static int put_room(const bbc_singer_t *s, bbuf_t *q)
{
    int rc = 0;
    if (*s->room)
        rc |= urlenc_param(q, "room", s->room);
    if (*s->key)
        rc |= urlenc_param(q, "key", s->key);
    return rc;
}

/* The query of a request that is not an audio POST: the room and key, and
 * with them the userid when asked (reset_events), or NULL when the singer
 * names no room (the original client sends no query there). */
static const char *link_query(bbc_singer_t *s, bool with_userid)
{
    bbuf_t *q = &s->link_query;
    bbuf_clear(q);
    if (!*s->room && !*s->key)
        return NULL;
    int rc = put_room(s, q);
    if (with_userid)
        rc |= urlenc_param(q, "userid", s->userid);
    return rc ? NULL : (const char *)q->data;
}

/* The query of the POST being built: its clocks and the singer, then the
 * queued metadata, in the browser's order. */
static int build_query(bbc_singer_t *s)
{
    bbuf_t *q = &s->query;
    bbuf_clear(q);
    int rc = 0;
    rc |= urlenc_param_i64(q, "read_clock", s->post.read_clock);
    if (s->post.has_write)
        rc |= urlenc_param_i64(q, "write_clock", s->post.write_clock);
    rc |= urlenc_param_i64(q, "n_samples", s->post.n);
    rc |= urlenc_param(q, "userid", s->userid);
    rc |= urlenc_param(q, "username", s->username);
    rc |= put_room(s, q);
    if (s->post.reset)
        rc |= urlenc_param(q, "reset_user_state", "true");
    rc |= bbc_queue_put_params(&s->q, q);
    if (s->cfg.mode == BBC_SEND_SPECTATOR || s->cfg.spectator)
        rc |= urlenc_param(q, "spectator", "1");
    if (s->cfg.no_summary)
        rc |= urlenc_param(q, "summary", "0");
    rc |= bbc_queue_put_extra(&s->q, q);
    return rc ? BBC_ENOMEM : BBC_OK;
}

/* Decides whether this batch carries audio, and builds the body. */
static int build_body(bbc_singer_t *s, const float *samples, bool *real)
{
    bbuf_clear(&s->body);
    size_t frames = (size_t)s->cfg.n_samples / BBC_FRAME;
    const bool early = s->batches < (uint64_t)s->cfg.placeholder_batches && !s->clock.writing;
    const uint8_t *ptr[PK_MAX_PACKETS];
    size_t lens[PK_MAX_PACKETS];

    switch (s->cfg.mode) {
    case BBC_SEND_SPECTATOR:
        *real = false;
        return BBC_OK;
    case BBC_SEND_PREENCODED: {
        if (early) {
            *real = false;
            return BBC_OK;
        }
        const bbc_preenc_t *p = s->cfg.preenc;
        size_t count = bbc_preenc_count(p);
        for (size_t i = 0; i < frames; i++)
            ptr[i] = bbc_preenc_packet(p, (s->pre_at + i) % count, &lens[i]);
        s->pre_at = (s->pre_at + frames) % count;
        break;
    }
    case BBC_SEND_ENCODE:
    default: {
        if (!samples && s->cfg.source && !early) {
            /* The END of the interval this upload will cover (bbclock_next
             * advances the same way). */
            const bbclock_t *c = &s->clock;
            int64_t n = s->cfg.n_samples;
            int64_t wc = c->writing ? c->write_clock + n : c->read_clock + n - c->write_lag;
            memset(s->gen, 0, (size_t)n * sizeof(float));
            s->cfg.source(s, s->gen, (int)n, wc, s->cfg.user);
            samples = s->gen;
        }
        if (!samples && !s->clock.writing) {
            *real = false;
            return BBC_OK;
        }
        const float *src = samples ? samples : s->zeros;
        for (size_t i = 0; i < frames; i++) {
            uint8_t *dst = s->pkts + i * PK_MAX_PACKET;
            opus_int32 len = opus_encode_float(s->enc, src + i * BBC_FRAME, BBC_FRAME, dst, PK_MAX_PACKET);
            if (len <= 0) {
                bbc_singer_set_err(s, "opus_encode_float: %s", opus_strerror(len));
                return BBC_EOPUS;
            }
            ptr[i] = dst;
            lens[i] = (size_t)len;
        }
        break;
    }
    }
    *real = true;
    int size = pk_size(lens, (int)frames);
    if (size < 0) {
        bbc_singer_set_err(s, "body: %s", pk_strerror(size));
        return BBC_EPARAM;
    }
    uint8_t *at = bbuf_extend(&s->body, (size_t)size);
    if (!at)
        return BBC_ENOMEM;
    pk_pack(at, (size_t)size, ptr, lens, (int)frames);
    return BBC_OK;
}

int bbc_singer_next_request(bbc_singer_t *s, const float *samples, bbc_request_t *req)
{
    if (s->pending != PEND_NONE)
        return BBC_ESTATE;
    memset(req, 0, sizeof *req);
    req->path = s->path;
    if (!s->connected) {
        req->method = "GET";
        req->query = link_query(s, false);
        if ((*s->room || *s->key) && !req->query)
            return BBC_ENOMEM;
        s->pending = PEND_PROBE;
        if (s->ever_connected)
            s->st.reconnects++;
        s->t_sent = bbc_now_ns();
        return BBC_OK;
    }
    bool real = false;
    int rc = build_body(s, samples, &real);
    if (rc != BBC_OK)
        return rc;
    rc = bbclock_next(&s->clock, s->cfg.n_samples, real, &s->post);
    if (rc != BBC_OK) {
        bbc_singer_set_err(s, "clock: %s", bbclock_strerror(rc));
        return BBC_ESTATE;
    }
    rc = build_query(s);
    if (rc != BBC_OK)
        return rc;
    if (s->event_hdr) {
        cJSON_free(s->event_hdr);
        s->event_hdr = NULL;
    }
    if (s->q.events) {
        s->event_hdr = cJSON_PrintUnformatted(s->q.events);
        if (!s->event_hdr)
            return BBC_ENOMEM;
    }
    bbc_queue_clear(&s->q);
    s->batches++;
    req->method = "POST";
    req->query = (const char *)s->query.data;
    req->event_data = s->event_hdr ? s->event_hdr : s->cfg.omit_undefined_events ? NULL : "undefined";
    req->body = s->body.data;
    req->body_len = s->body.len;
    s->pending = PEND_POST;
    s->t_sent = bbc_now_ns();
    return BBC_OK;
}

void bbc_singer_sent(bbc_singer_t *s)
{
    s->t_sent = bbc_now_ns();
}

void bbc_singer_fail(bbc_singer_t *s, int code, const char *why)
{
    s->pending = PEND_NONE;
    s->connected = false;
    s->st.errors++;
    s->st.transport_errors++;
    bbc_singer_set_err(s, "%s%s%s", bbc_strerror(code), why ? ": " : "", why ? why : "");
}

/* -- blocking use -- */

static int transport_exchange(bbc_singer_t *s, const bbc_request_t *req)
{
    int rc = bbc_exchange(s->conn, req, &s->resp, s->cfg.timeout_ms);
    if (rc != BBC_OK) {
        char why[400];
        snprintf(why, sizeof why, "%s %s via %s%s%s", req->method, req->path, bbc_conn_addr(s->conn)->text,
                 rc == BBC_ESYS ? ": " : "", rc == BBC_ESYS ? strerror(errno) : "");
        bbc_singer_fail(s, rc, why);
    }
    return rc;
}

int bbc_connect(bbc_singer_t *s)
{
    if (!s->conn)
        return BBC_ESTATE;
    s->connected = false;
    s->pending = PEND_NONE;
    bbc_request_t req;
    int rc = bbc_singer_next_request(s, NULL, &req);
    if (rc != BBC_OK)
        return rc;
    rc = transport_exchange(s, &req);
    if (rc != BBC_OK)
        return rc;
    return bbc_singer_on_response(s, &s->resp, NULL);
}

static void sleep_until(int64_t t)
{
    struct timespec ts = { .tv_sec = t / 1000000000, .tv_nsec = t % 1000000000 };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

int bbc_exchange_batch(bbc_singer_t *s, const float *samples, float *received)
{
    if (!s->conn)
        return BBC_ESTATE;
    if (!s->connected) {
        int rc = bbc_connect(s);
        if (rc != BBC_OK)
            return rc;
    }
    if (!s->cfg.no_pace) {
        /* Batch k of a connection leaves k batch lengths after the probe,
         * as the browser's audio clock would send it. */
        int64_t due = s->t_connected + (int64_t)(s->batches + 1) * s->cfg.n_samples * (1000000000 / BBC_RATE);
        sleep_until(due);
    }
    bbc_request_t req;
    int rc = bbc_singer_next_request(s, samples, &req);
    if (rc != BBC_OK)
        return rc;
    rc = transport_exchange(s, &req);
    if (rc != BBC_OK)
        return rc;
    return bbc_singer_on_response(s, &s->resp, received);
}

int bbc_reset_events(bbc_singer_t *s)
{
    if (!s->conn)
        return BBC_ESTATE;
    bbc_request_t req = { .method = "POST", .path = s->reset_path, .query = link_query(s, true) };
    if ((*s->room || *s->key) && !req.query)
        return BBC_ENOMEM;
    int rc = bbc_exchange(s->conn, &req, &s->resp, s->cfg.timeout_ms);
    if (rc != BBC_OK)
        return rc;
    if (s->resp.status != 204) {
        bbc_singer_set_err(s, "reset_events answered %d", s->resp.status);
        return BBC_ESTATUS;
    }
    return BBC_OK;
}

/* -- state -- */

const bbc_meta_t *bbc_singer_meta(const bbc_singer_t *s) { return &s->meta; }
const resp_t *bbc_singer_response(const bbc_singer_t *s) { return &s->resp; }
const char *bbc_singer_userid(const bbc_singer_t *s) { return s->userid; }
const char *bbc_singer_username(const bbc_singer_t *s) { return s->username; }
int bbc_singer_offset(const bbc_singer_t *s) { return s->offset_s; }
int bbc_singer_n_samples(const bbc_singer_t *s) { return s->cfg.n_samples; }
const bbclock_t *bbc_singer_clock(const bbc_singer_t *s) { return &s->clock; }
const bbclock_post_t *bbc_singer_last_post(const bbc_singer_t *s) { return &s->post; }
const char *bbc_singer_error(const bbc_singer_t *s) { return s->err; }
bbc_conn_t *bbc_singer_conn(const bbc_singer_t *s) { return s->conn; }
void bbc_singer_stats(const bbc_singer_t *s, bbc_stats_t *out) { *out = s->st; }

const char *bbc_singer_room(const bbc_singer_t *s) { return s->room; }
const char *bbc_singer_key(const bbc_singer_t *s) { return s->key; }

int bbc_singer_set_room(bbc_singer_t *s, const char *room, const char *key)
{
    char *r = strdup(room ? room : ""), *k = strdup(key ? key : "");
    if (!r || !k) {
        free(r);
        free(k);
        return BBC_ENOMEM;
    }
    free(s->room);
    free(s->key);
    s->room = r;
    s->key = k;
    s->cfg.room = r;
    s->cfg.key = k;
    return BBC_OK;
}

int bbc_singer_set_offset(bbc_singer_t *s, int offset_s)
{
    if (offset_s < 1 || offset_s > 1000)
        return BBC_EPARAM;
    s->offset_s = offset_s;
    s->connected = false;
    return BBC_OK;
}
