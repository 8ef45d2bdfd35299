/*
 * choir.c - voices in threads, their records, and the comparison of what
 * was heard with what was written (choir.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "choir.h"

#define NFRAMES (CH_SECONDS * 48000 / CH_FRAME)
/* A listener hears a write [a, b) of a voice over [a + LAT_ON, b + LAT_OFF):
 * the voice's encoder delays it by 312 samples, the server's encoder by
 * another 312. */
#define LAT_ON 624
#define LAT_OFF 312
#define EDGE 960             /* 20 ms kept clear of every onset and end */
#define GAIN 1.000245        /* the global volume at its default, friendly 1 */

typedef struct {
    char *name, *text;
} chat_t;

struct ch_voice {
    ch_choir_t *choir;
    int index;
    char name[1100], userid[24];
    int offset_s, hz, timeout_ms;
    bool spectator, deaf;
    bbc_singer_t *s;
    pthread_t th;
    bool running;
    atomic_bool stop;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* queued actions */
    bool q_lead, q_start, q_stop;
    char *q_chat[64];
    int n_q_chat;
    char *q_param[16][2];
    int n_q_param;
    /* results */
    ch_rec_t *recs;
    int nrecs, caprecs;
    long ok;
    int failures, leaks;
    char public_id[64];
    bbc_stats_t st;
    chat_t *chats;
    int nchats, capchats;
    /* heard: per 60 ms frame, the level of every voice's tone */
    int64_t base;             /* clock of frame 0, 0 until the first answer */
    float *amp;               /* NFRAMES x CH_MAX_VOICES */
    uint8_t *fstate;          /* 0 not received, 1 received, 2 first of a connection */
};

struct ch_choir {
    char http[64];
    ch_voice_t *v[CH_MAX_VOICES];
    int n;
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---- the choir ------------------------------------------------------------ */

ch_choir_t *ch_choir_new(const char *http)
{
    ch_choir_t *c = calloc(1, sizeof *c);
    if (c)
        snprintf(c->http, sizeof c->http, "%s", http);
    return c;
}

static void voice_free(ch_voice_t *v)
{
    if (!v)
        return;
    ch_voice_stop(v);
    bbc_singer_destroy(v->s);
    for (int i = 0; i < v->n_q_chat; i++)
        free(v->q_chat[i]);
    for (int i = 0; i < v->n_q_param; i++) {
        free(v->q_param[i][0]);
        free(v->q_param[i][1]);
    }
    for (int i = 0; i < v->nchats; i++) {
        free(v->chats[i].name);
        free(v->chats[i].text);
    }
    free(v->chats);
    free(v->recs);
    free(v->amp);
    free(v->fstate);
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    free(v);
}

void ch_choir_free(ch_choir_t *c)
{
    if (!c)
        return;
    ch_stop_all(c);
    for (int i = 0; i < c->n; i++)
        voice_free(c->v[i]);
    free(c);
}

void ch_stop_all(ch_choir_t *c)
{
    /* Ask every voice first, so they all stop within one batch. */
    for (int i = 0; i < c->n; i++)
        atomic_store(&c->v[i]->stop, true);
    for (int i = 0; i < c->n; i++)
        ch_voice_stop(c->v[i]);
}

/* ---- a voice ------------------------------------------------------------- */

static void source(bbc_singer_t *s, float *out, int n, int64_t write_clock, void *user)
{
    (void)s;
    ch_voice_t *v = user;
    int64_t t0 = write_clock - n;
    for (int i = 0; i < n; i++) {
        int64_t t = t0 + i;
        int64_t ph = ((t % 48000) + 48000) % 48000;
        out[i] = v->hz ? (float)(CH_AMP * sin(2 * M_PI * v->hz * (double)ph / 48000.0)) : 0.0f;
    }
}

ch_voice_t *ch_voice_add(ch_choir_t *c, const ch_voice_cfg_t *cfg)
{
    if (c->n >= CH_MAX_VOICES)
        return NULL;
    ch_voice_t *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    v->choir = c;
    v->index = c->n;
    snprintf(v->name, sizeof v->name, "%s", cfg->name ? cfg->name : "voice");
    v->offset_s = cfg->offset_s;
    v->hz = cfg->hz;
    v->spectator = cfg->spectator;
    v->deaf = cfg->deaf;
    v->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
    if (!v->deaf) {
        v->amp = calloc((size_t)NFRAMES * CH_MAX_VOICES, sizeof *v->amp);
        v->fstate = calloc(NFRAMES, 1);
    }
    bbc_config_t bc;
    bbc_config_init(&bc);
    bc.addr = c->http;
    bc.transport = BBC_HTTP;
    bc.from_addr = cfg->from_addr;
    bc.userid = cfg->userid;
    bc.username = v->name;
    bc.offset_s = cfg->offset_s;
    bc.ignore_delay = true;     /* each voice stays in the bucket the test gives it */
    bc.timeout_ms = v->timeout_ms;
    bc.mode = cfg->spectator ? BBC_SEND_SPECTATOR : BBC_SEND_ENCODE;
    bc.skip_decode = cfg->deaf;
    bc.source = source;
    bc.user = v;
    int err = 0;
    v->s = v->deaf || (v->amp && v->fstate) ? bbc_singer_new(&bc, &err) : NULL;
    if (!v->s) {
        fprintf(stderr, "choir: cannot make voice %s: %s\n", v->name, bbc_strerror(err));
        voice_free(v);
        return NULL;
    }
    snprintf(v->userid, sizeof v->userid, "%s", bbc_singer_userid(v->s));
    c->v[c->n++] = v;
    return v;
}

/* Whether any other voice's userid appears in the answer's headers or body. */
static bool leaks_userid(ch_voice_t *v, const resp_t *r)
{
    ch_choir_t *c = v->choir;
    for (int i = 0; i < c->n; i++) {
        const ch_voice_t *o = c->v[i];
        if (o == v)
            continue;
        size_t ul = strlen(o->userid);
        if (r->headers.data && memmem(r->headers.data, r->headers.len, o->userid, ul))
            return true;
        if (r->body.data && memmem(r->body.data, r->body.len, o->userid, ul))
            return true;
    }
    return false;
}

static void take_actions(ch_voice_t *v)
{
    pthread_mutex_lock(&v->mu);
    if (v->q_lead)
        bbc_singer_request_lead(v->s);
    if (v->q_start)
        bbc_singer_mark_start(v->s);
    if (v->q_stop)
        bbc_singer_mark_stop(v->s);
    v->q_lead = v->q_start = v->q_stop = false;
    for (int i = 0; i < v->n_q_chat; i++) {
        bbc_singer_chat(v->s, v->q_chat[i]);
        free(v->q_chat[i]);
    }
    v->n_q_chat = 0;
    for (int i = 0; i < v->n_q_param; i++) {
        bbc_singer_param(v->s, v->q_param[i][0], v->q_param[i][1]);
        free(v->q_param[i][0]);
        free(v->q_param[i][1]);
    }
    v->n_q_param = 0;
    pthread_mutex_unlock(&v->mu);
}

/* Records the levels of every voice's tone in each frame of an answer. */
static void hear(ch_voice_t *v, const float *rx, int64_t read_clock, int n, bool reconnected)
{
    ch_choir_t *c = v->choir;
    int64_t start = read_clock - n;
    if (!v->base) {
        v->base = start - 30LL * 48000;
        v->base -= ((v->base % CH_FRAME) + CH_FRAME) % CH_FRAME;
    }
    for (int k = 0; k < n / CH_FRAME; k++) {
        int64_t clk = start + (int64_t)k * CH_FRAME;
        if (clk < v->base || (clk - v->base) % CH_FRAME)
            continue;
        int64_t f = (clk - v->base) / CH_FRAME;
        if (f >= NFRAMES)
            continue;
        for (int j = 0; j < c->n; j++)
            if (c->v[j]->hz)
                v->amp[f * CH_MAX_VOICES + j] =
                    (float)tone_goertzel(rx + (size_t)k * CH_FRAME, CH_FRAME, c->v[j]->hz);
        v->fstate[f] = (k == 0 && reconnected) ? 2 : 1;
    }
}

static void *voice_main(void *arg)
{
    ch_voice_t *v = arg;
    float *rx = malloc(sizeof(float) * BBC_MAX_BATCH);
    while (rx && !atomic_load(&v->stop)) {
        take_actions(v);
        bool need = bbc_singer_needs_probe(v->s);
        bbc_stats_t st0, st1;
        bbc_singer_stats(v->s, &st0);
        int rc = bbc_exchange_batch(v->s, NULL, rx);
        bbc_singer_stats(v->s, &st1);
        const bbc_meta_t *m = bbc_singer_meta(v->s);
        const resp_t *r = bbc_singer_response(v->s);
        const bbclock_post_t *p = bbc_singer_last_post(v->s);
        ch_rec_t rec;
        memset(&rec, 0, sizeof rec);
        rec.t_ns = now_ns();
        rec.rc = rc;
        rec.posted = !need || st1.probes > st0.probes;
        rec.reconnected = need && rec.posted;
        bool answered = rec.posted && st1.posts > st0.posts;
        rec.status = answered ? r->status : 0;
        rec.worker = answered && m->worker[0] ? atoi(m->worker) : -1;
        rec.n_users = -1;
        if (rec.posted) {
            rec.read_clock = p->read_clock;
            rec.write_clock = p->write_clock;
            rec.has_write = p->has_write;
            rec.n = p->n;
        }
        if (answered) {
            rec.server_clock = m->have_server_clock ? m->server_clock : 0;
            rec.song_start = m->have_song_start ? m->song_start_clock : 0;
            rec.song_end = m->have_song_end ? m->song_end_clock : 0;
            rec.n_users = m->have_n_users ? m->n_users : -1;
            if (m->have_leader)
                snprintf(rec.leader, sizeof rec.leader, "%s", m->leader);
            snprintf(rec.leader_name, sizeof rec.leader_name, "%s", m->leader_name);
        }
        if (rc != 0)
            snprintf(rec.message, sizeof rec.message, "%s", bbc_singer_error(v->s));
        bool leak = (answered || rec.reconnected) && leaks_userid(v, r);

        pthread_mutex_lock(&v->mu);
        if (v->nrecs == v->caprecs) {
            int cap = v->caprecs ? v->caprecs * 2 : 256;
            ch_rec_t *nr = realloc(v->recs, (size_t)cap * sizeof *nr);
            if (nr) {
                v->recs = nr;
                v->caprecs = cap;
            }
        }
        if (v->nrecs < v->caprecs)
            v->recs[v->nrecs++] = rec;
        if (leak)
            v->leaks++;
        if (rc == 0) {
            v->ok++;
            if (m->public_id[0])
                snprintf(v->public_id, sizeof v->public_id, "%s", m->public_id);
            if (!v->deaf)
                hear(v, rx, p->read_clock, p->n, rec.reconnected);
            int nc = bbc_meta_chat_count(m);
            for (int i = 0; i < nc; i++) {
                const char *cn, *ct;
                if (bbc_meta_chat(m, i, &cn, &ct) != 0)
                    continue;
                if (v->nchats == v->capchats) {
                    int cap = v->capchats ? v->capchats * 2 : 64;
                    chat_t *nc2 = realloc(v->chats, (size_t)cap * sizeof *nc2);
                    if (!nc2)
                        break;
                    v->chats = nc2;
                    v->capchats = cap;
                }
                v->chats[v->nchats].name = strdup(cn);
                v->chats[v->nchats].text = strdup(ct);
                v->nchats++;
            }
        } else {
            v->failures++;
        }
        v->st = st1;
        pthread_cond_broadcast(&v->cv);
        pthread_mutex_unlock(&v->mu);
        /* A failed probe (nothing listening) is retried after a pause, as
         * the browser retries its GET; a failed POST reconnects at once. */
        if (!rec.posted)
            sleep_ms(200);
    }
    free(rx);
    return NULL;
}

int ch_voice_start(ch_voice_t *v)
{
    if (v->running)
        return 0;
    atomic_store(&v->stop, false);
    if (pthread_create(&v->th, NULL, voice_main, v) != 0)
        return -1;
    v->running = true;
    return 0;
}

void ch_voice_stop(ch_voice_t *v)
{
    if (!v->running)
        return;
    atomic_store(&v->stop, true);
    pthread_join(v->th, NULL);
    v->running = false;
}

void ch_lead(ch_voice_t *v)
{
    pthread_mutex_lock(&v->mu);
    v->q_lead = true;
    pthread_mutex_unlock(&v->mu);
}

void ch_start_song(ch_voice_t *v)
{
    pthread_mutex_lock(&v->mu);
    v->q_start = true;
    pthread_mutex_unlock(&v->mu);
}

void ch_stop_song(ch_voice_t *v)
{
    pthread_mutex_lock(&v->mu);
    v->q_stop = true;
    pthread_mutex_unlock(&v->mu);
}

void ch_chat(ch_voice_t *v, const char *text)
{
    pthread_mutex_lock(&v->mu);
    if (v->n_q_chat < 64)
        v->q_chat[v->n_q_chat++] = strdup(text);
    pthread_mutex_unlock(&v->mu);
}

void ch_param(ch_voice_t *v, const char *name, const char *value)
{
    pthread_mutex_lock(&v->mu);
    if (v->n_q_param < 16) {
        v->q_param[v->n_q_param][0] = strdup(name);
        v->q_param[v->n_q_param][1] = strdup(value);
        v->n_q_param++;
    }
    pthread_mutex_unlock(&v->mu);
}

int ch_wait_ok(ch_voice_t *v, int n, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&v->mu);
    long want = v->ok + n;
    int rc = 0;
    while (v->ok < want && rc == 0)
        rc = pthread_cond_timedwait(&v->cv, &v->mu, &dl);
    bool ok = v->ok >= want;
    pthread_mutex_unlock(&v->mu);
    return ok ? 0 : -1;
}

const char *ch_name(const ch_voice_t *v) { return v->name; }
const char *ch_userid(const ch_voice_t *v) { return v->userid; }
int ch_offset(const ch_voice_t *v) { return v->offset_s; }
int ch_hz(const ch_voice_t *v) { return v->hz; }

void ch_public_id(ch_voice_t *v, char *out, size_t cap)
{
    pthread_mutex_lock(&v->mu);
    snprintf(out, cap, "%s", v->public_id);
    pthread_mutex_unlock(&v->mu);
}

int ch_records(ch_voice_t *v, ch_rec_t *out, int cap)
{
    pthread_mutex_lock(&v->mu);
    int n = v->nrecs;
    if (out)
        memcpy(out, v->recs, (size_t)(n < cap ? n : cap) * sizeof *out);
    pthread_mutex_unlock(&v->mu);
    return n;
}

bool ch_last(ch_voice_t *v, ch_rec_t *out)
{
    pthread_mutex_lock(&v->mu);
    bool have = v->nrecs > 0;
    if (have)
        *out = v->recs[v->nrecs - 1];
    pthread_mutex_unlock(&v->mu);
    return have;
}

void ch_stats(ch_voice_t *v, bbc_stats_t *out)
{
    pthread_mutex_lock(&v->mu);
    *out = v->st;
    pthread_mutex_unlock(&v->mu);
}

int ch_failures(ch_voice_t *v)
{
    pthread_mutex_lock(&v->mu);
    int n = v->failures;
    pthread_mutex_unlock(&v->mu);
    return n;
}

int ch_leaks(ch_voice_t *v)
{
    pthread_mutex_lock(&v->mu);
    int n = v->leaks;
    pthread_mutex_unlock(&v->mu);
    return n;
}

int ch_chats(ch_voice_t *v, int i, char *name, size_t ncap, char *text, size_t tcap)
{
    pthread_mutex_lock(&v->mu);
    int n = v->nchats;
    if (i >= 0 && i < n) {
        if (name)
            snprintf(name, ncap, "%s", v->chats[i].name);
        if (text)
            snprintf(text, tcap, "%s", v->chats[i].text);
    }
    pthread_mutex_unlock(&v->mu);
    return n;
}

/* ---- analysis ------------------------------------------------------------ */

static bool stored(const ch_rec_t *r, int64_t start, int64_t end)
{
    return r->posted && r->has_write && start && r->write_clock > start &&
           (end == 0 || r->write_clock - r->n < end);
}

int ch_written(ch_voice_t *v, int64_t start, int64_t end, ch_span_t *sure, int cap,
               ch_span_t *maybe, int mcap, int *nmaybe)
{
    int ns = 0, nm = 0;
    pthread_mutex_lock(&v->mu);
    for (int i = 0; i < v->nrecs; i++) {
        const ch_rec_t *r = &v->recs[i];
        if (v->spectator || !stored(r, start, end))
            continue;
        ch_span_t sp = {r->write_clock - r->n, r->write_clock};
        if (r->status == 200 && r->song_start == start) {
            if (ns > 0 && ns <= cap && sp.a <= sure[ns - 1].b) {
                if (sp.b > sure[ns - 1].b)
                    sure[ns - 1].b = sp.b;
            } else {
                if (ns < cap)
                    sure[ns] = sp;
                ns++;
            }
        } else if (r->status == 0 || r->status == 502 || r->status == 504) {
            /* The request left and no worker answered it: it may have been
             * stored before its worker died. */
            if (nm < mcap)
                maybe[nm] = sp;
            nm++;
        }
    }
    pthread_mutex_unlock(&v->mu);
    if (nmaybe)
        *nmaybe = nm;
    return ns;
}

#define MAXSPANS 512

typedef struct {
    ch_span_t sure[MAXSPANS], maybe[MAXSPANS];
    int ns, nm;
} spans_t;

static bool covers(const spans_t *s, int64_t a, int64_t b)
{
    for (int i = 0; i < s->ns && i < MAXSPANS; i++)
        if (s->sure[i].a <= a && b <= s->sure[i].b)
            return true;
    return false;
}

static bool touches(const spans_t *s, int64_t a, int64_t b, bool sure_too)
{
    for (int i = 0; i < s->nm && i < MAXSPANS; i++)
        if (s->maybe[i].a < b && a < s->maybe[i].b)
            return true;
    for (int i = 0; sure_too && i < s->ns && i < MAXSPANS; i++)
        if (s->sure[i].a < b && a < s->sure[i].b)
            return true;
    return false;
}

void ch_heard(ch_choir_t *c, ch_voice_t *listener, ch_voice_t *source, int64_t start, int64_t end,
              int64_t from, int64_t to, ch_heard_t *out)
{
    memset(out, 0, sizeof *out);
    out->worst_ratio = 1.0;
    static spans_t sp[CH_MAX_VOICES];
    int writers = 0;
    for (int i = 0; i < c->n; i++) {
        sp[i].ns = ch_written(c->v[i], start, end, sp[i].sure, MAXSPANS, sp[i].maybe, MAXSPANS, &sp[i].nm);
        writers += !c->v[i]->spectator;
    }
    if (!source->hz || !listener->base)
        return;
    /* The lowest level a voice's tone can have in the mix: all writers in. */
    double floor_level = CH_AMP * 3.0 / (writers + 2) * GAIN;
    double there = 0.5 * floor_level;
    const spans_t *src = &sp[source->index];
    int run = 0;
    for (int f = 0; f < NFRAMES; f++) {
        int64_t clk = listener->base + (int64_t)f * CH_FRAME;
        if (listener->fstate[f] != 1 || clk < from || clk + CH_FRAME > to) {
            run = 0;
            continue;
        }
        out->frames++;
        double a = listener->amp[(size_t)f * CH_MAX_VOICES + source->index];
        /* In the timeline domain: a write [wa, wb) is heard over
         * [wa + LAT_ON, wb + LAT_OFF). */
        bool on = covers(src, clk - LAT_ON - EDGE, clk + CH_FRAME - LAT_OFF + EDGE);
        bool off = !touches(src, clk - LAT_OFF - CH_FRAME - EDGE, clk + CH_FRAME + EDGE, true);
        if (on) {
            out->expect_on++;
            if (a >= there) {
                out->on_ok++;
                run = 0;
            } else {
                out->missing++;
                if (!out->first_missing)
                    out->first_missing = clk;
                if (++run > out->longest_gap)
                    out->longest_gap = run;
            }
            /* The level: every writer's state over the frame's timeline
             * window must be certain.  Voices in earlier buckets wrote
             * before the listener read, and so did the listener itself
             * (a worker stores an upload before it renders the answer);
             * voices in the listener's own bucket may or may not have yet;
             * later buckets had not. */
            int64_t ta = clk - LAT_OFF - EDGE, tb = clk + CH_FRAME - LAT_OFF + EDGE;
            int kmin = 0, kmax = 0;
            bool clear = true;
            for (int i = 0; i < c->n && clear; i++) {
                const ch_voice_t *w = c->v[i];
                if (w->spectator || (w != listener && w->offset_s > listener->offset_s))
                    continue;
                if (covers(&sp[i], ta, tb)) {
                    kmax++;
                    kmin += w == listener || w->offset_s < listener->offset_s;
                } else if (touches(&sp[i], ta, tb, true)) {
                    clear = false;
                }
            }
            if (clear && a >= there) {
                double hi = CH_AMP * 3.0 / (kmin + 2) * GAIN, lo = CH_AMP * 3.0 / (kmax + 2) * GAIN;
                double ratio = a > hi ? a / hi : a < lo ? a / lo : 1.0;
                out->level_checked++;
                if (ratio < 0.65 || ratio > 1.35)
                    out->level_bad++;
                if (fabs(ratio - 1.0) > fabs(out->worst_ratio - 1.0))
                    out->worst_ratio = ratio;
            }
        } else {
            run = 0;
            if (off) {
                out->expect_off++;
                if (a >= there)
                    out->stray++;
            }
        }
    }
}

void ch_heard_print(const ch_voice_t *listener, const ch_voice_t *source, const ch_heard_t *h)
{
    printf("  %s (%d s) hears %s (%d s, %d Hz): %d frames; tone in %d of %d written frames "
           "(longest gap %d frames), stray in %d of %d silent; level checked in %d, off in %d "
           "(worst ratio %.2f)\n",
           listener->name, listener->offset_s, source->name, source->offset_s, source->hz, h->frames,
           h->on_ok, h->expect_on, h->longest_gap, h->stray, h->expect_off, h->level_checked,
           h->level_bad, h->worst_ratio);
    if (h->missing)
        printf("  %s: the first frame without %s is at listener clock %" PRId64 " (%.2f s after its first frame)\n",
               listener->name, source->name, h->first_missing,
               (double)(h->first_missing - listener->base) / 48000.0);
}

int ch_frames_received(ch_voice_t *v, int64_t from, int64_t to)
{
    int n = 0;
    pthread_mutex_lock(&v->mu);
    for (int f = 0; v->base && f < NFRAMES; f++) {
        int64_t clk = v->base + (int64_t)f * CH_FRAME;
        if (clk >= from && clk + CH_FRAME <= to && v->fstate[f])
            n++;
    }
    pthread_mutex_unlock(&v->mu);
    return n;
}
