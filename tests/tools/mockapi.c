/*
 * mockapi.c - what the stand-in worker answers (mockapi.h): the clock
 * probe, and POSTs checked for clock continuity as the real worker checks
 * them, answered with metadata of the real shape and the uploaded packets
 * looped back (or encoded silence when none were sent).
 */
#include "mockapi.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "packet.h"
#include "srvclock.h"
#include "urlenc.h"

#define MAX_USERS 4096

typedef struct {
    char userid[24];
    char name[64];
    int64_t last_read, last_write;
    bool have_read, have_write;
    int pending_delay;
    int64_t delay_samples;
} muser_t;

struct mapi {
    int worker_id, fault_every, skew_every;
    muser_t users[MAX_USERS];
    int nusers;
    char leader[24];
    OpusEncoder *enc;
    bbuf_t silence;          /* pack_multi of silence for the last n */
    int silence_n;
};

/* What a POST says about its sender and its clocks. */
typedef struct {
    char userid[24], name[64];
    int64_t rc, wc, n;
    bool have_w;
    muser_t *u;
} post_t;

mapi_t *mapi_new(int worker_id, int fault_every, int skew_every)
{
    mapi_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->worker_id = worker_id;
    m->fault_every = fault_every;
    m->skew_every = skew_every;
    int oe;
    m->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &oe);
    if (!m->enc) {
        free(m);
        return NULL;
    }
    return m;
}

void mapi_free(mapi_t *m)
{
    if (!m)
        return;
    opus_encoder_destroy(m->enc);
    bbuf_free(&m->silence);
    free(m);
}

static muser_t *find_user(mapi_t *m, const char *id, bool create)
{
    for (int i = 0; i < m->nusers; i++)
        if (strcmp(m->users[i].userid, id) == 0)
            return &m->users[i];
    if (!create || m->nusers >= MAX_USERS)
        return NULL;
    muser_t *u = &m->users[m->nusers++];
    memset(u, 0, sizeof *u);
    snprintf(u->userid, sizeof u->userid, "%s", id);
    return u;
}

static bool qget_i64(const char *q, const char *name, int64_t *out)
{
    char v[64];
    if (urlenc_get(q, name, v, sizeof v) <= 0)
        return false;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end)
        return false;
    *out = x;
    return true;
}

static void kill_answer(mapi_resp_t *r, const char *msg)
{
    r->status = 500;
    bbuf_clear(&r->meta);
    bbuf_printf(&r->meta, "{\"kill_client\": true, \"message\": \"%s\"}", msg);
    bbuf_clear(&r->body);
    bbuf_printf(&r->body, "Error: %s\n", msg);
}

static const bbuf_t *silence_body(mapi_t *m, int n)
{
    if (m->silence_n == n)
        return &m->silence;
    bbuf_clear(&m->silence);
    float zero[2880] = { 0 };
    uint8_t pk[255][1500];
    const uint8_t *ptr[255];
    size_t lens[255];
    int frames = n / 2880;
    for (int i = 0; i < frames; i++) {
        int len = opus_encode_float(m->enc, zero, 2880, pk[i], sizeof pk[i]);
        ptr[i] = pk[i];
        lens[i] = len > 0 ? (size_t)len : 0;
    }
    int size = pk_size(lens, frames);
    uint8_t *at = size > 0 ? bbuf_extend(&m->silence, (size_t)size) : NULL;
    if (at)
        pk_pack(at, (size_t)size, ptr, lens, frames);
    m->silence_n = n;
    return &m->silence;
}

/* Reads and checks a POST's parameters and body into p.  0, or -1 having
 * put the kill answer into r. */
static int read_post(mapi_t *m, const mapi_req_t *rq, mapi_resp_t *r, post_t *p)
{
    const char *q = rq->query;
    char tmp[16];
    p->wc = p->n = 0;
    p->have_w = qget_i64(q, "write_clock", &p->wc);
    if (!qget_i64(q, "read_clock", &p->rc)) {
        kill_answer(r, "no client read clock");
        return -1;
    }
    if (urlenc_get(q, "userid", p->userid, sizeof p->userid) <= 0 ||
        urlenc_get(q, "username", p->name, sizeof p->name) <= 0) {
        kill_answer(r, "missing username/id");
        return -1;
    }
    qget_i64(q, "n_samples", &p->n);
    pk_packet_t pk[PK_MAX_PACKETS];
    int count = pk_parse(rq->body, rq->body_len, pk, PK_MAX_PACKETS);
    if (count < 0) {
        kill_answer(r, "malformed body");
        return -1;
    }
    if (rq->body_len && p->n && (int64_t)count * 2880 != p->n) {
        kill_answer(r, "Client is confused about how many samples it sent");
        return -1;
    }
    if (!p->n)
        p->n = (int64_t)count * 2880;
    if (p->n <= 0 || p->n % 2880 != 0) {
        kill_answer(r, "Must provide either n_samples or data");
        return -1;
    }
    p->u = find_user(m, p->userid, true);
    if (!p->u) {
        kill_answer(r, "too many users");
        return -1;
    }
    snprintf(p->u->name, sizeof p->u->name, "%s", p->name);
    if (urlenc_get(q, "reset_user_state", tmp, sizeof tmp) > 0)
        p->u->have_read = p->u->have_write = false;
    return 0;
}

/* The continuity of the sender's clocks, as the worker checks it (and the
 * injected faults).  0, or -1 having put the kill answer into r. */
static int check_clocks(mapi_t *m, long post_no, post_t *p, mapi_resp_t *r)
{
    if (m->fault_every > 0 && post_no % m->fault_every == 0) {
        p->u->have_read = p->u->have_write = false;
        kill_answer(r, "Client read clock desync (injected fault)");
        return -1;
    }
    if (p->have_w && p->u->have_write && p->wc - p->n != p->u->last_write) {
        char msg[160];
        snprintf(msg, sizeof msg, "Client write clock desync (%lld - %lld = %lld)", (long long)(p->wc - p->n),
                 (long long)p->u->last_write, (long long)(p->wc - p->n - p->u->last_write));
        p->u->have_read = p->u->have_write = false;
        kill_answer(r, msg);
        return -1;
    }
    if (p->u->have_read && p->rc - p->n != p->u->last_read) {
        char msg[160];
        snprintf(msg, sizeof msg, "Client read clock desync (%lld - %lld = %lld)", (long long)(p->rc - p->n),
                 (long long)p->u->last_read, (long long)(p->rc - p->n - p->u->last_read));
        p->u->have_read = p->u->have_write = false;
        kill_answer(r, msg);
        return -1;
    }
    p->u->last_read = p->rc;
    p->u->have_read = true;
    if (p->have_w) {
        p->u->last_write = p->wc;
        p->u->have_write = true;
    }
    return 0;
}

/* The answer to an accepted POST: metadata of the real shape, and the
 * upload looped back (silence when it carried none). */
static void answer_post(mapi_t *m, long post_no, const mapi_req_t *rq, const post_t *p, mapi_resp_t *r)
{
    int64_t now = srvclock_now();
    p->u->delay_samples = now - p->rc;
    int64_t echo_rc = p->rc;
    if (m->skew_every > 0 && post_no % m->skew_every == 0)
        echo_rc = p->rc + 2880;
    char tmp[16];
    if (urlenc_get(rq->query, "request_lead", tmp, sizeof tmp) > 0) {
        snprintf(m->leader, sizeof m->leader, "%s", p->userid);
        for (int i = 0; i < m->nusers; i++)
            m->users[i].pending_delay = strcmp(m->users[i].userid, p->userid) == 0 ? 3 : 6;
    }
    bbuf_t *mt = &r->meta;
    bbuf_printf(mt, "{\"server_clock\": %lld, \"server_sample_rate\": 48000, \"last_request_clock\": null, "
                    "\"client_read_clock\": %lld, \"client_write_clock\": ",
                (long long)now, (long long)echo_rc);
    if (p->have_w)
        bbuf_printf(mt, "%lld", (long long)p->wc);
    else
        bbuf_puts(mt, "null");
    bbuf_printf(mt, ", \"n_samples\": %lld, \"user_summary\": [", (long long)p->n);
    for (int i = 0, k = 0; i < m->nusers && k < 50; i++, k++)
        bbuf_printf(mt, "%s[%lld, \"%s\", 1.0, \"p%s\", false, false]", k ? ", " : "",
                    (long long)(m->users[i].delay_samples / 48000), m->users[i].name, m->users[i].userid);
    bbuf_printf(mt, "], \"queue_size\": 45000.0, \"events\": [], \"chats\": [], \"leader\": ");
    if (m->leader[0])
        bbuf_printf(mt, "\"%s\"", strcmp(m->leader, p->userid) == 0 ? m->leader : "p-leader");
    else
        bbuf_puts(mt, "null");
    bbuf_printf(mt, ", \"public_id\": \"p%s\", \"n_users\": %d, \"worker\": %d", p->userid, m->nusers,
                m->worker_id);
    if (p->u->pending_delay) {
        bbuf_printf(mt, ", \"delay_seconds\": %d", p->u->pending_delay);
        p->u->pending_delay = 0;
    }
    bbuf_puts(mt, "}");
    if (rq->body_len)
        bbuf_append(&r->body, rq->body, rq->body_len); /* loopback */
    else
        bbuf_append(&r->body, silence_body(m, (int)p->n)->data, silence_body(m, (int)p->n)->len);
}

void mapi_answer(mapi_t *m, long post_no, const mapi_req_t *rq, mapi_resp_t *r)
{
    r->status = 200;
    bbuf_clear(&r->meta);
    bbuf_clear(&r->body);
    const char *last = strrchr(rq->path, '/');
    last = last ? last + 1 : rq->path;
    if (strcmp(last, "reset_events") == 0) {
        r->status = 204;
        return;
    }
    if (strcmp(rq->method, "GET") == 0) {
        bbuf_printf(&r->meta, "{\"server_clock\": %lld, \"server_sample_rate\": 48000}", (long long)srvclock_now());
        bbuf_puts(&r->body, "ok");
        return;
    }
    if (strcmp(rq->method, "POST") != 0) {
        r->status = 405;
        return;
    }
    post_t p;
    if (read_post(m, rq, r, &p) != 0 || check_clocks(m, post_no, &p, r) != 0)
        return;
    answer_post(m, post_no, rq, &p, r);
}
