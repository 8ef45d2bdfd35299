/*
 * bb-load.c - the load generator: N simulated singers speaking the real
 * protocol (bbclient.h), through nginx over HTTP/1.1 keep-alive or straight
 * to the workers' FastCGI sockets, paced in real time, with a leader who
 * starts a song, spectators, churn, and a ramp mode that finds where the
 * request latency breaks a bound.
 *
 * Design: one thread, one epoll loop, a timer heap.  Every singer has its own
 * 600 ms schedule (start times spread over the first batch), and at each due
 * time builds its next request from pre-encoded Opus packets, so the
 * generator spends no CPU encoding.  Requests go through a pool of
 * connections: over HTTP each singer has its own kept-alive connection (as a
 * browser does); over FastCGI each worker socket has a pool of kept-alive
 * connections (--fcgi-conns) shared by the singers assigned to it, as
 * nginx's upstream keepalive does, requests waiting their turn in FIFO
 * order.  Latency is measured from the moment a request is sent to the
 * moment its whole answer has arrived, and also from the moment its batch
 * was due, which adds the time spent waiting for a connection or for the
 * singer's previous answer (what a singer experiences; the ramp is judged
 * on this one).
 *
 * A singer is "sustained" in an interval when all its POSTs in that interval
 * succeeded and it sent at least one.  CPU comes from /proc/PID/stat of the
 * processes named with --pids / --pidfile-glob; CPU seconds per sustained
 * singer-second gives singers per core.
 *
 * Safety: it refuses any address that is not loopback or a unix socket, runs
 * for at most --duration seconds, and stops cleanly on SIGINT / SIGTERM
 * (through a signalfd, so no global state).
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>

#include "bbclient.h"
#include "rng.h"

#define MAX_SINGERS 20000
#define MAX_ADDRS 64
#define MAX_OFFSETS 16
#define MAX_PIDS 64
#define HIST_BUCKETS 2000
#define MAX_KILL_KINDS 16

/* ---- small helpers ------------------------------------------------------- */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* FNV-1a of a string: which worker socket a userid goes to. */
static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* ---- latency histogram ------------------------------------------------ */

/* Log-spaced buckets, 1 % wide, from 1 us to about 100 s: percentiles good
 * to 1 % at a fixed 16 KB, whatever the number of samples. */
typedef struct {
    uint64_t n[HIST_BUCKETS];
    uint64_t count;
    int64_t max_us;
} hist_t;

static int hist_index(int64_t us)
{
    if (us < 1)
        us = 1;
    int i = (int)(log((double)us) / log(1.01));
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

static void hist_add(hist_t *h, int64_t us)
{
    h->n[hist_index(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

/* The q-quantile in milliseconds (bucket middle), 0 when empty. */
static double hist_ms(const hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->count);
    if (want == 0)
        want = 1;
    uint64_t acc = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        acc += h->n[i];
        if (acc >= want) {
            double us = pow(1.01, i + 0.5);
            if (us > (double)h->max_us)
                us = (double)h->max_us;
            return us / 1000.0;
        }
    }
    return (double)h->max_us / 1000.0;
}

/* ---- counters ----------------------------------------------------------- */

enum {
    E_STATUS = 0,   /* non-200 without kill_client */
    E_KILL,         /* kill_client */
    E_TIMEOUT,
    E_TRANSPORT,    /* refused, reset, closed early */
    E_PROTO,        /* malformed HTTP / FastCGI */
    E_DECODE,       /* metadata, body, Opus length */
    E_CONTINUITY,
    E_LAG,          /* fell more than --max-lag batches behind */
    E_KINDS
};

static const char *const err_names[E_KINDS] = { "status", "kill", "timeout", "transport",
                                                "proto", "decode", "continuity", "lag" };

typedef struct {
    uint64_t requests;      /* answers completed (probes and POSTs) */
    uint64_t posts_ok;
    uint64_t probes;
    uint64_t err[E_KINDS];
    uint64_t desyncs;
    uint64_t moves;
    uint64_t status_codes[6]; /* by class: 1xx..5xx at [1..5] */
    hist_t lat;             /* POST: request sent -> whole answer received */
    hist_t lat_due;         /* POST: batch due -> whole answer (waiting included) */
} counters_t;

static uint64_t err_total(const counters_t *c)
{
    uint64_t t = 0;
    for (int i = 0; i < E_KINDS; i++)
        t += c->err[i];
    return t;
}

typedef struct {
    char text[96];          /* message with digits folded to '#' */
    uint64_t n;
} kill_kind_t;

/* ---- options -------------------------------------------------------------- */

typedef struct {
    bbc_transport_t transport;
    char *addrs[MAX_ADDRS];
    int naddrs;
    const char *path;
    int singers;
    int spectators;
    int offsets[MAX_OFFSETS];
    int noffsets;
    int leader;             /* 1: singer 0 leads and starts a song */
    const char *track;
    double churn_s;         /* mean singer lifetime, 0 = no churn */
    double duration_s;
    double interval_s;
    double warmup_s;
    int batch;              /* n_samples */
    bool unaligned;
    bool decode;
    bool ignore_delay;
    bool no_summary;
    int placeholders;
    int write_lag_ms;       /* how far behind its read clock a singer writes */
    double voice_hz;
    int bitrate;
    int fcgi_conns;
    bool no_keep;
    int timeout_ms;
    int max_lag;
    uint64_t seed;
    const char *pids_arg;
    const char *pid_glob;
    bool ramp;
    int ramp_start, ramp_step, ramp_max;
    double step_s;
    double p99_bound_ms;
    bool quiet;
} opts_t;

/* ---- loop state ----------------------------------------------------------- */

enum { C_CLOSED = 0, C_CONNECTING, C_IDLE, C_BUSY };
enum { S_OFF = 0, S_WAIT, S_QUEUED, S_BUSY, S_GONE };
enum { R_SINGER = 0, R_LEADER, R_SPECTATOR };

struct pool;
struct lsinger;

typedef struct lconn {
    int id;                 /* index in the loop's connection table */
    uint32_t epoch;         /* bumps on every close: stale epoll events are ignored */
    bbc_conn_t *c;
    struct pool *pool;
    int state;
    bbuf_t out;
    size_t out_off;
    resp_t resp;
    struct lsinger *cur;
    int64_t deadline;
    int64_t retry_at;       /* after a failed connect, no new attempt before this */
    bool want_out;
} lconn_t;

typedef struct pool {
    lconn_t **conns;
    int nconns;
    struct lsinger **q;     /* FIFO of singers waiting for a connection */
    int qhead, qlen, qcap;
} pool_t;

typedef struct lsinger {
    int idx;
    int role;
    int state;
    int offset;
    bbc_singer_t *s;
    pool_t *pool;           /* where its requests go */
    pool_t own_pool;        /* HTTP: a pool of one connection of its own */
    bbc_request_t req;      /* the request being sent */
    bool req_is_probe;
    int64_t due;            /* when the next batch is due */
    int64_t t_ready;        /* when the pending request became due */
    int64_t t_sent;         /* when it was handed to a connection */
    uint64_t timer_gen;
    int64_t leave_at;       /* churn: when it leaves (0 = never) */
    int consecutive_errors;
    int lead_step;          /* leader: 0 before request_lead, 1 waiting, 2 started */
    int lead_posts;
    bool ok_in_interval;
    bool err_in_interval;
    uint32_t generation;    /* how many times this slot has (re)joined */
} lsinger_t;

typedef struct {
    int64_t t;
    int idx;
    uint64_t gen;
} timer_t_;

typedef struct {
    opts_t o;
    int ep;
    int sigfd;
    bbc_preenc_t *pre;
    bbc_addr_t addrs[MAX_ADDRS];
    pool_t pools[MAX_ADDRS];         /* FastCGI: one per worker socket */
    lconn_t **conns;
    int nconns, capconns;
    lsinger_t *sing;
    int nsing;                       /* slots in use */
    int active_target;               /* singers (not spectators) wanted now */
    timer_t_ *heap;
    int hlen, hcap;
    rng_t rng;
    int64_t t0, t_end;
    counters_t iv, total, step;
    kill_kind_t kills[MAX_KILL_KINDS];
    int nkills;
    /* CPU */
    int pids[MAX_PIDS];
    int npids;
    double cpu_last[MAX_PIDS];
    double cpu_total;                /* measured window */
    double singer_seconds;           /* measured window */
    int intervals;
    double self_cpu0;
    double floor0;           /* decode_floor() before the run */
    /* ramp */
    int ramp_level;
    int ramp_ok_level;
    int ramp_broke_at;
    const char *ramp_reason;
    int64_t step_started;
    bool stop;
    int min_sustained;
    int last_sustained;
} loop_t;

/* ---- timer heap ------------------------------------------------------------ */

static int heap_push(loop_t *L, int64_t t, int idx, uint64_t gen)
{
    if (L->hlen == L->hcap) {
        int cap = L->hcap ? L->hcap * 2 : 1024;
        timer_t_ *h = realloc(L->heap, (size_t)cap * sizeof *h);
        if (!h)
            return -1;
        L->heap = h;
        L->hcap = cap;
    }
    int i = L->hlen++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (L->heap[p].t <= t)
            break;
        L->heap[i] = L->heap[p];
        i = p;
    }
    L->heap[i] = (timer_t_){ t, idx, gen };
    return 0;
}

static timer_t_ heap_pop(loop_t *L)
{
    timer_t_ top = L->heap[0];
    timer_t_ last = L->heap[--L->hlen];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= L->hlen)
            break;
        if (c + 1 < L->hlen && L->heap[c + 1].t < L->heap[c].t)
            c++;
        if (L->heap[c].t >= last.t)
            break;
        L->heap[i] = L->heap[c];
        i = c;
    }
    if (L->hlen)
        L->heap[i] = last;
    return top;
}

static void arm(loop_t *L, lsinger_t *ls, int64_t t)
{
    ls->timer_gen++;
    ls->due = t;
    ls->state = ls->state == S_GONE ? S_GONE : S_WAIT;
    if (heap_push(L, t, ls->idx, ls->timer_gen) < 0) {
        fprintf(stderr, "bb-load: out of memory for timers\n");
        L->stop = true;
    }
}

/* ---- CPU of other processes -------------------------------------------------- */

/* utime + stime of a process in seconds, or -1 if it is gone. */
static double proc_cpu(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) */
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* The floor a server cannot go below: the CPU of decoding the voice the
 * singers send, alone, with a decoder per singer (64 here) each taking its
 * 600 ms batch in turn at its own place in the voice, as a worker does.
 * Measured in this process, at the time of the run, so that a figure can be
 * read against it on a shared machine.  Returns singers per core. */
static double decode_floor(const bbc_preenc_t *pre)
{
    enum { DECODERS = 64, ROUNDS = 10 };
    OpusDecoder *dec[DECODERS];
    float pcm[2880];
    size_t count = bbc_preenc_count(pre);
    int e, n = 0;
    bool ok = true;
    for (int i = 0; i < DECODERS; i++)
        if (!(dec[i] = opus_decoder_create(48000, 1, &e))) {
            while (i-- > 0)
                opus_decoder_destroy(dec[i]);
            return 0;
        }
    double t0 = self_cpu();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < DECODERS; i++) {
            for (int k = 0; k < 10; k++) {
                size_t len, j = ((size_t)i * 37 + (size_t)r * 10 + (size_t)k) % count;
                const uint8_t *pk = bbc_preenc_packet(pre, j, &len);
                if (opus_decode_float(dec[i], pk, (opus_int32)len, pcm, 2880, 0) < 0)
                    ok = false;
            }
            n++;
        }
    double cpu = self_cpu() - t0;
    for (int i = 0; i < DECODERS; i++)
        opus_decoder_destroy(dec[i]);
    if (!ok)
        return 0;
    /* A batch is 600 ms: a singer needs 1/0.6 of them per second. */
    return cpu > 0 ? 0.6 * n / cpu : 0;
}

static void add_pid(loop_t *L, int pid)
{
    if (pid <= 0 || L->npids >= MAX_PIDS)
        return;
    for (int i = 0; i < L->npids; i++)
        if (L->pids[i] == pid)
            return;
    L->pids[L->npids] = pid;
    L->cpu_last[L->npids] = proc_cpu(pid);
    L->npids++;
}

static void resolve_pids(loop_t *L)
{
    if (L->o.pids_arg) {
        char *copy = strdup(L->o.pids_arg), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
            add_pid(L, atoi(t));
        free(copy);
    }
    if (L->o.pid_glob) {
        glob_t g;
        if (glob(L->o.pid_glob, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                FILE *f = fopen(g.gl_pathv[i], "r");
                int pid = 0;
                if (f) {
                    /* a pid file holds one pid; a list file one per line */
                    while (fscanf(f, "%d", &pid) == 1)
                        add_pid(L, pid);
                    fclose(f);
                }
            }
            globfree(&g);
        }
    }
}

/* CPU seconds used by the watched processes since the last call. */
static double cpu_delta(loop_t *L)
{
    double d = 0;
    for (int i = 0; i < L->npids; i++) {
        double now = proc_cpu(L->pids[i]);
        if (now >= 0 && L->cpu_last[i] >= 0)
            d += now - L->cpu_last[i];
        L->cpu_last[i] = now;
    }
    return d;
}

/* ---- connections ------------------------------------------------------------ */

static void conn_events(loop_t *L, lconn_t *k, bool add)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (k->want_out ? EPOLLOUT : 0) };
    ev.data.u64 = ((uint64_t)k->epoch << 32) | (uint32_t)k->id;
    int fd = bbc_conn_fd(k->c);
    if (epoll_ctl(L->ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0) {
        fprintf(stderr, "bb-load: epoll_ctl(%s, fd %d): %s\n", add ? "ADD" : "MOD", fd, strerror(errno));
        L->stop = true;
    }
}

static void conn_close(loop_t *L, lconn_t *k)
{
    (void)L;
    bbc_conn_close(k->c);
    k->epoch++;
    k->state = C_CLOSED;
    k->want_out = false;
    bbuf_clear(&k->out);
    k->out_off = 0;
}

static lconn_t *conn_new(loop_t *L, pool_t *pool, const bbc_addr_t *addr)
{
    if (L->nconns == L->capconns) {
        int cap = L->capconns ? L->capconns * 2 : 256;
        lconn_t **c = realloc(L->conns, (size_t)cap * sizeof *c);
        if (!c)
            return NULL;
        L->conns = c;
        L->capconns = cap;
    }
    lconn_t *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    int err;
    k->c = bbc_conn_new(addr, &err);
    if (!k->c) {
        free(k);
        return NULL;
    }
    bbc_conn_set_keep(k->c, !L->o.no_keep);
    resp_init(&k->resp);
    k->pool = pool;
    k->id = L->nconns;
    L->conns[L->nconns++] = k;
    return k;
}

static int pool_add_conn(loop_t *L, pool_t *p, const bbc_addr_t *addr)
{
    lconn_t **c = realloc(p->conns, (size_t)(p->nconns + 1) * sizeof *c);
    if (!c)
        return -1;
    p->conns = c;
    lconn_t *k = conn_new(L, p, addr);
    if (!k)
        return -1;
    p->conns[p->nconns++] = k;
    return 0;
}

static int pool_enqueue(pool_t *p, lsinger_t *ls)
{
    if (p->qlen == p->qcap) {
        int cap = p->qcap ? p->qcap * 2 : 16;
        lsinger_t **q = malloc((size_t)cap * sizeof *q);
        if (!q)
            return -1;
        for (int i = 0; i < p->qlen; i++)
            q[i] = p->q[(p->qhead + i) % p->qcap];
        free(p->q);
        p->q = q;
        p->qhead = 0;
        p->qcap = cap;
    }
    p->q[(p->qhead + p->qlen) % p->qcap] = ls;
    p->qlen++;
    return 0;
}

static lsinger_t *pool_dequeue(pool_t *p)
{
    while (p->qlen) {
        lsinger_t *ls = p->q[p->qhead];
        p->qhead = (p->qhead + 1) % p->qcap;
        p->qlen--;
        if (ls && ls->state == S_QUEUED)
            return ls;
    }
    return NULL;
}

/* ---- error accounting ------------------------------------------------------ */

static void note_kill(loop_t *L, const char *msg)
{
    char norm[96];
    size_t j = 0;
    for (size_t i = 0; msg[i] && j + 1 < sizeof norm; i++) {
        char c = msg[i];
        if ((c >= '0' && c <= '9') || c == '-') {
            if (j == 0 || norm[j - 1] != '#')
                norm[j++] = '#';
            continue;
        }
        norm[j++] = c;
    }
    norm[j] = 0;
    for (int i = 0; i < L->nkills; i++) {
        if (strcmp(L->kills[i].text, norm) == 0) {
            L->kills[i].n++;
            return;
        }
    }
    if (L->nkills < MAX_KILL_KINDS) {
        snprintf(L->kills[L->nkills].text, sizeof L->kills[L->nkills].text, "%s", norm);
        L->kills[L->nkills++].n = 1;
    }
}

static void count_err(loop_t *L, int kind)
{
    L->iv.err[kind]++;
    L->total.err[kind]++;
    L->step.err[kind]++;
}

/* Classifies a failed exchange by its bbclient error code. */
static void account_error(loop_t *L, lsinger_t *ls, int rc)
{
    ls->err_in_interval = true;
    switch (rc) {
    case BBC_ESTATUS: count_err(L, E_STATUS); break;
    case BBC_EKILL: {
        count_err(L, E_KILL);
        const bbc_meta_t *m = bbc_singer_meta(ls->s);
        if (strstr(m->message, "desync")) {
            L->iv.desyncs++;
            L->total.desyncs++;
            L->step.desyncs++;
        }
        note_kill(L, m->message);
        break;
    }
    case BBC_ETIMEOUT: count_err(L, E_TIMEOUT); break;
    case BBC_EPROTO:
    case BBC_EREJECTED: count_err(L, E_PROTO); break;
    case BBC_EMETA:
    case BBC_EBODY:
    case BBC_EDECODE: count_err(L, E_DECODE); break;
    case BBC_ECONTINUITY: count_err(L, E_CONTINUITY); break;
    default: count_err(L, E_TRANSPORT); break;
    }
    if (!L->o.quiet && err_total(&L->total) <= 5)
        fprintf(stderr, "bb-load: singer %d (%s): %s\n", ls->idx, bbc_singer_userid(ls->s),
                bbc_singer_error(ls->s));
}

/* ---- singers ------------------------------------------------------------------ */

static void submit(loop_t *L, lsinger_t *ls);

static int singer_offset(loop_t *L, lsinger_t *ls)
{
    if (ls->role == R_LEADER)
        return L->o.offsets[0];
    if (ls->role == R_SPECTATOR)
        return L->o.offsets[L->o.noffsets - 1];
    return L->o.offsets[ls->idx % L->o.noffsets];
}

/* Creates the bbclient singer of a slot (a fresh userid each time). */
static int singer_join(loop_t *L, lsinger_t *ls)
{
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.path = L->o.path;
    cfg.offset_s = singer_offset(L, ls);
    cfg.n_samples = L->o.batch;
    cfg.unaligned = L->o.unaligned;
    cfg.ignore_delay = L->o.ignore_delay;
    cfg.skip_decode = !L->o.decode;
    cfg.no_summary = L->o.no_summary;
    cfg.placeholder_batches = L->o.placeholders;
    cfg.write_lag = L->o.write_lag_ms * (BBC_RATE / 1000);
    cfg.mode = ls->role == R_SPECTATOR ? BBC_SEND_SPECTATOR : BBC_SEND_PREENCODED;
    cfg.preenc = L->pre;
    cfg.seed = rng_next(&L->rng) | 1;
    char name[64];
    snprintf(name, sizeof name, "%s %d.%u", ls->role == R_LEADER ? "leader" : ls->role == R_SPECTATOR ? "listener" : "singer",
             ls->idx, ls->generation);
    cfg.username = name;
    int err;
    ls->s = bbc_singer_new(&cfg, &err);
    if (!ls->s) {
        fprintf(stderr, "bb-load: cannot make singer %d: %s\n", ls->idx, bbc_strerror(err));
        return -1;
    }
    ls->generation++;
    ls->lead_step = 0;
    ls->lead_posts = 0;
    ls->consecutive_errors = 0;
    if (L->o.transport == BBC_FCGI) {
        ls->pool = &L->pools[hash_str(bbc_singer_userid(ls->s)) % (uint32_t)L->o.naddrs];
    } else {
        ls->pool = &ls->own_pool;
        if (ls->own_pool.nconns == 0 && pool_add_conn(L, &ls->own_pool, &L->addrs[0]) < 0)
            return -1;
    }
    ls->leave_at = 0;
    if (L->o.churn_s > 0 && ls->role == R_SINGER) {
        double life = -log(1.0 - rng_unit(&L->rng)) * L->o.churn_s;
        ls->leave_at = mono_ns() + (int64_t)(life * 1e9);
    }
    return 0;
}

static void singer_leave(loop_t *L, lsinger_t *ls, bool rejoin)
{
    bbc_singer_destroy(ls->s);
    ls->s = NULL;
    ls->state = S_GONE;
    /* Its own HTTP connection closes with it: a browser tab went away. */
    for (int i = 0; i < ls->own_pool.nconns; i++)
        if (ls->own_pool.conns[i]->state != C_BUSY)
            conn_close(L, ls->own_pool.conns[i]);
    if (rejoin) {
        /* Someone else takes the place after 1 to 3 s. */
        arm(L, ls, mono_ns() + (int64_t)((1.0 + 2.0 * rng_unit(&L->rng)) * 1e9));
    } else {
        ls->timer_gen++;
        ls->state = S_OFF;
    }
}

/* The leader's script: lead, then start the song (with a track if asked). */
static void leader_script(loop_t *L, lsinger_t *ls)
{
    const bbc_meta_t *m = bbc_singer_meta(ls->s);
    if (ls->lead_step == 0) {
        bbc_singer_request_lead(ls->s);
        ls->lead_step = 1;
        ls->lead_posts = 0;
        return;
    }
    if (ls->lead_step == 1) {
        bool me = m->have_leader && strcmp(m->leader, bbc_singer_userid(ls->s)) == 0;
        if (me) {
            if (L->o.track)
                bbc_singer_set_track(ls->s, L->o.track);
            bbc_singer_mark_start(ls->s);
            ls->lead_step = 2;
            if (!L->o.quiet)
                printf("# leader %s leads; song started%s%s\n", bbc_singer_userid(ls->s),
                       L->o.track ? " with track " : "", L->o.track ? L->o.track : "");
        } else if (++ls->lead_posts > 20) {
            ls->lead_step = 0; /* ask again */
        }
    }
}

/* A singer's batch is due: build the request and hand it to its pool. */
static void singer_due(loop_t *L, lsinger_t *ls)
{
    int64_t now = mono_ns();
    if (ls->state == S_GONE) {
        if (L->stop)
            return;
        if (singer_join(L, ls) < 0) {
            ls->state = S_OFF;
            return;
        }
        ls->state = S_WAIT;
    }
    if (ls->leave_at && now >= ls->leave_at) {
        singer_leave(L, ls, true);
        return;
    }
    if (ls->role == R_LEADER && !bbc_singer_needs_probe(ls->s) && ls->lead_step < 2 &&
        bbc_singer_meta(ls->s)->have_client_read_clock)
        leader_script(L, ls);
    ls->req_is_probe = bbc_singer_needs_probe(ls->s);
    int rc = bbc_singer_next_request(ls->s, NULL, &ls->req);
    if (rc != BBC_OK) {
        fprintf(stderr, "bb-load: singer %d: cannot build a request: %s %s\n", ls->idx, bbc_strerror(rc),
                bbc_singer_error(ls->s));
        L->stop = true;
        return;
    }
    ls->t_ready = ls->due < now ? ls->due : now;
    submit(L, ls);
}

/* Schedules what a singer does after an answer (or a failure). */
static void singer_next(loop_t *L, lsinger_t *ls, bool failed)
{
    int64_t now = mono_ns();
    int64_t period = (int64_t)L->o.batch * 1000000000 / BBC_RATE;
    if (L->stop)
        return;
    if (ls->leave_at && now >= ls->leave_at) {
        singer_leave(L, ls, true);
        return;
    }
    if (failed) {
        /* The browser reconnects at once; repeated failures back off so a
         * dead server does not make this loop spin. */
        ls->consecutive_errors++;
        int64_t back = ls->consecutive_errors <= 1 ? 0 : (int64_t)100000000 << (ls->consecutive_errors - 2);
        if (back > 1000000000)
            back = 1000000000;
        arm(L, ls, now + back);
        return;
    }
    ls->consecutive_errors = 0;
    if (bbc_singer_needs_probe(ls->s)) {
        arm(L, ls, now); /* a move: reconnect at once */
        return;
    }
    if (ls->req_is_probe) {
        arm(L, ls, now + period); /* the first batch is captured for 600 ms */
        return;
    }
    int64_t due = ls->due + period;
    if (now - due > (int64_t)L->o.max_lag * period) {
        /* Too far behind to catch up: the browser would drop the batch and
         * reconnect. */
        ls->err_in_interval = true;
        count_err(L, E_LAG);
        bbc_singer_set_offset(ls->s, bbc_singer_offset(ls->s));
        arm(L, ls, now);
        return;
    }
    arm(L, ls, due);
    if (due <= now) {
        /* Late: send right away (the timer entry becomes stale). */
        ls->timer_gen++;
        singer_due(L, ls);
    }
}

/* ---- sending and receiving --------------------------------------------------- */

static void finish(loop_t *L, lconn_t *k, int rc);

static void conn_flush(loop_t *L, lconn_t *k)
{
    int fd = bbc_conn_fd(k->c);
    while (k->out_off < k->out.len) {
        ssize_t n = send(fd, k->out.data + k->out_off, k->out.len - k->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            k->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!k->want_out) {
                k->want_out = true;
                conn_events(L, k, false);
            }
            return;
        }
        finish(L, k, BBC_ESYS);
        return;
    }
    if (k->want_out) {
        k->want_out = false;
        conn_events(L, k, false);
    }
}

/* Sends the pending request of ls on connection k (open or not). */
static void dispatch(loop_t *L, lconn_t *k, lsinger_t *ls)
{
    k->cur = ls;
    ls->state = S_BUSY;
    ls->t_sent = mono_ns(); /* a browser's fetch includes the connect too */
    k->deadline = mono_ns() + (int64_t)L->o.timeout_ms * 1000000;
    resp_reset(&k->resp);
    if (k->state == C_CLOSED) {
        int rc = bbc_conn_open(k->c, -1);
        if (rc != BBC_OK) {
            k->retry_at = mono_ns() + 100000000;
            finish(L, k, rc);
            return;
        }
        k->want_out = true;
        k->state = C_CONNECTING;
        conn_events(L, k, true);
        return; /* the request goes out once connected */
    }
    bbuf_clear(&k->out);
    k->out_off = 0;
    if (bbc_build_request(k->c, &ls->req, &k->out) != BBC_OK) {
        finish(L, k, BBC_EPARAM);
        return;
    }
    k->state = C_BUSY;
    bbc_singer_sent(ls->s);
    conn_flush(L, k);
}

static void submit(loop_t *L, lsinger_t *ls)
{
    pool_t *p = ls->pool;
    int64_t now = mono_ns();
    lconn_t *closed = NULL;
    for (int i = 0; i < p->nconns; i++) {
        lconn_t *k = p->conns[i];
        if (k->state == C_IDLE) {
            dispatch(L, k, ls);
            return;
        }
        if (k->state == C_CLOSED && !closed && now >= k->retry_at)
            closed = k;
    }
    if (closed) {
        dispatch(L, closed, ls);
        return;
    }
    ls->state = S_QUEUED;
    if (pool_enqueue(p, ls) < 0) {
        fprintf(stderr, "bb-load: out of memory for the request queue\n");
        L->stop = true;
    }
}

/* Gives an idle or closed connection of the pool to the next waiting singer. */
static void pool_kick(loop_t *L, pool_t *p)
{
    int64_t now = mono_ns();
    for (int i = 0; i < p->nconns && p->qlen; i++) {
        lconn_t *k = p->conns[i];
        if (k->state == C_IDLE || (k->state == C_CLOSED && now >= k->retry_at)) {
            lsinger_t *ls = pool_dequeue(p);
            if (ls)
                dispatch(L, k, ls);
        }
    }
}

/* The exchange on k ended: rc is 0 with a whole answer in k->resp, or a
 * transport error. */
static void finish(loop_t *L, lconn_t *k, int rc)
{
    lsinger_t *ls = k->cur;
    k->cur = NULL;
    int64_t now = mono_ns();
    if (rc != BBC_OK || k->resp.close)
        conn_close(L, k);
    else
        k->state = C_IDLE;
    if (ls && ls->s) {
        L->iv.requests++;
        L->total.requests++;
        L->step.requests++;
        bool failed;
        if (rc == BBC_OK) {
            int sc = k->resp.status / 100;
            if (sc >= 1 && sc <= 5) {
                L->iv.status_codes[sc]++;
                L->total.status_codes[sc]++;
            }
            uint64_t moves_before = 0;
            bbc_stats_t st;
            bbc_singer_stats(ls->s, &st);
            moves_before = st.moves;
            int r = bbc_singer_on_response(ls->s, &k->resp, NULL);
            failed = r != BBC_OK;
            if (failed) {
                account_error(L, ls, r);
            } else if (ls->req_is_probe) {
                L->iv.probes++;
                L->total.probes++;
            } else {
                int64_t us = (now - ls->t_sent) / 1000;
                int64_t us_due = (now - ls->t_ready) / 1000;
                hist_add(&L->iv.lat, us);
                hist_add(&L->step.lat, us);
                hist_add(&L->total.lat, us);
                hist_add(&L->iv.lat_due, us_due);
                hist_add(&L->step.lat_due, us_due);
                hist_add(&L->total.lat_due, us_due);
                L->iv.posts_ok++;
                L->total.posts_ok++;
                L->step.posts_ok++;
                ls->ok_in_interval = true;
                bbc_singer_stats(ls->s, &st);
                if (st.moves > moves_before) {
                    L->iv.moves++;
                    L->total.moves++;
                }
            }
        } else {
            char why[400];
            snprintf(why, sizeof why, "via %s%s%s", bbc_conn_addr(k->c)->text, rc == BBC_ESYS ? ": " : "",
                     rc == BBC_ESYS ? strerror(errno) : "");
            bbc_singer_fail(ls->s, rc, why);
            account_error(L, ls, rc);
            failed = true;
        }
        ls->state = S_WAIT;
        singer_next(L, ls, failed);
    }
    pool_kick(L, k->pool);
}

static void on_io(loop_t *L, lconn_t *k, uint32_t events)
{
    if (k->state == C_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int rc = bbc_conn_check(k->c);
        if (rc != BBC_OK) {
            k->epoch++;
            k->state = C_CLOSED;
            k->want_out = false;
            k->retry_at = mono_ns() + 100000000;
            finish(L, k, rc);
            return;
        }
        k->state = C_IDLE;
        lsinger_t *ls = k->cur;
        if (ls)
            dispatch(L, k, ls);
        else
            pool_kick(L, k->pool);
        return;
    }
    if ((events & EPOLLOUT) && k->state == C_BUSY)
        conn_flush(L, k);
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || k->state == C_CLOSED)
        return;
    uint8_t buf[65536];
    int fd = bbc_conn_fd(k->c);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (k->state == C_BUSY)
                finish(L, k, BBC_ESYS);
            else
                conn_close(L, k);
            return;
        }
        size_t used = 0;
        if (n == 0) {
            if (k->state != C_BUSY) {
                conn_close(L, k); /* the server closed an idle kept-alive connection */
                pool_kick(L, k->pool);
                return;
            }
            int rc = bbc_parse_feed(k->c, NULL, 0, &used, &k->resp);
            finish(L, k, rc == 1 ? BBC_OK : rc < 0 ? rc : BBC_ECLOSED);
            return;
        }
        if (k->state != C_BUSY) {
            conn_close(L, k); /* bytes nobody asked for */
            return;
        }
        int rc = bbc_parse_feed(k->c, buf, (size_t)n, &used, &k->resp);
        if (rc < 0) {
            finish(L, k, rc);
            return;
        }
        if (rc == 1) {
            if (used != (size_t)n)
                k->resp.close = 1;
            finish(L, k, BBC_OK);
            return;
        }
    }
}

/* Times out exchanges and queued requests that waited too long. */
static void scan_timeouts(loop_t *L)
{
    int64_t now = mono_ns();
    for (int i = 0; i < L->nconns; i++) {
        lconn_t *k = L->conns[i];
        if ((k->state == C_BUSY || k->state == C_CONNECTING) && k->cur && now > k->deadline) {
            conn_close(L, k);
            finish(L, k, BBC_ETIMEOUT);
        }
    }
    int64_t limit = (int64_t)L->o.timeout_ms * 1000000;
    for (int i = 0; i < L->nsing; i++) {
        lsinger_t *ls = &L->sing[i];
        if (ls->state == S_QUEUED && now - ls->t_ready <= limit) {
            /* A connection may have become usable again (retry delay over). */
            pool_kick(L, ls->pool);
            continue;
        }
        if (ls->state == S_QUEUED) {
            ls->state = S_WAIT; /* its queue entry is skipped from now on */
            bbc_singer_fail(ls->s, BBC_ETIMEOUT, "queued too long for a connection");
            account_error(L, ls, BBC_ETIMEOUT);
            singer_next(L, ls, true);
        }
    }
}

/* ---- population -------------------------------------------------------------- */

static int add_slot(loop_t *L, int role)
{
    if (L->nsing >= MAX_SINGERS + MAX_SINGERS / 2)
        return -1;
    lsinger_t *ls = &L->sing[L->nsing];
    memset(ls, 0, sizeof *ls);
    ls->idx = L->nsing++;
    ls->role = role;
    if (singer_join(L, ls) < 0)
        return -1;
    /* Start times spread over one batch so requests do not arrive in step. */
    int64_t period = (int64_t)L->o.batch * 1000000000 / BBC_RATE;
    ls->state = S_WAIT;
    arm(L, ls, mono_ns() + (int64_t)(rng_unit(&L->rng) * (double)period));
    return 0;
}

/* Brings the number of live singers (not spectators) to `want`. */
static int set_population(loop_t *L, int want)
{
    int have = 0;
    for (int i = 0; i < L->nsing; i++)
        if (L->sing[i].role != R_SPECTATOR)
            have++;
    while (have < want) {
        if (add_slot(L, have == 0 && L->o.leader ? R_LEADER : R_SINGER) < 0)
            return -1;
        have++;
    }
    L->active_target = want;
    return 0;
}

/* ---- reporting --------------------------------------------------------------- */

static void report_interval(loop_t *L, double dt, double cpu)
{
    int live = 0, sustained = 0, spect = 0, spect_ok = 0;
    for (int i = 0; i < L->nsing; i++) {
        lsinger_t *ls = &L->sing[i];
        if (!ls->s)
            continue;
        bool ok = ls->ok_in_interval && !ls->err_in_interval;
        if (ls->role == R_SPECTATOR) {
            spect++;
            spect_ok += ok;
        } else {
            live++;
            sustained += ok;
        }
        ls->ok_in_interval = ls->err_in_interval = false;
    }
    L->last_sustained = sustained;
    L->intervals++;
    /* Warm-up (probes, placeholders, the song starting, every stem
     * opening) is not measured: the first interval, or every interval
     * that ends within --warmup seconds. */
    double t_end = (double)(mono_ns() - L->t0) / 1e9;
    bool measured = L->o.warmup_s >= 0 ? t_end > L->o.warmup_s + 0.5 * dt
                                       : L->intervals > 1 || (L->t_end - L->t0) <= (int64_t)(dt * 1.5e9);
    if (measured) {
        L->cpu_total += cpu;
        L->singer_seconds += (double)(sustained + spect_ok) * dt;
        if (L->min_sustained < 0 || sustained < L->min_sustained)
            L->min_sustained = sustained;
    }
    double t = (double)(mono_ns() - L->t0) / 1e9;
    printf("[%7.1fs] singers %d/%d spect %d/%d | req/s %.1f | ms p50 %.2f p99 %.2f max %.2f (from due: p99 %.2f)"
           " | err %llu desync %llu | moves %llu",
           t, sustained, live, spect_ok, spect, (double)L->iv.requests / dt, hist_ms(&L->iv.lat, 0.5),
           hist_ms(&L->iv.lat, 0.99), (double)L->iv.lat.max_us / 1000.0, hist_ms(&L->iv.lat_due, 0.99),
           (unsigned long long)err_total(&L->iv),
           (unsigned long long)L->iv.desyncs, (unsigned long long)L->iv.moves);
    if (L->npids)
        printf(" | cpu %.2f core", cpu / dt);
    printf("\n");
    if (err_total(&L->iv)) {
        printf("           errors:");
        for (int i = 0; i < E_KINDS; i++)
            if (L->iv.err[i])
                printf(" %s %llu", err_names[i], (unsigned long long)L->iv.err[i]);
        printf("\n");
    }
    fflush(stdout);
    memset(&L->iv, 0, sizeof L->iv);
}

/* Ramp: at the end of each step, judge it and grow or stop. */
static void ramp_step(loop_t *L)
{
    /* Judged on what singers experience: from when a batch is due. */
    double p99 = hist_ms(&L->step.lat_due, 0.99);
    uint64_t errs = err_total(&L->step);
    printf("# ramp step: %d singers, p99 %.2f ms, errors %llu, requests %llu\n", L->ramp_level, p99,
           (unsigned long long)errs, (unsigned long long)L->step.requests);
    if (p99 > L->o.p99_bound_ms || errs > 0 || L->step.posts_ok == 0) {
        L->ramp_broke_at = L->ramp_level;
        L->ramp_reason = errs > 0 ? "errors" : L->step.posts_ok == 0 ? "no answers" : "p99";
        L->stop = true;
        return;
    }
    L->ramp_ok_level = L->ramp_level;
    if (L->ramp_level >= L->o.ramp_max) {
        L->ramp_reason = "max reached";
        L->stop = true;
        return;
    }
    L->ramp_level += L->o.ramp_step;
    if (L->ramp_level > L->o.ramp_max)
        L->ramp_level = L->o.ramp_max;
    memset(&L->step, 0, sizeof L->step);
    if (set_population(L, L->ramp_level) < 0)
        L->stop = true;
}

static void print_summary(loop_t *L, double elapsed)
{
    const counters_t *T = &L->total;
    if (L->nkills) {
        printf("kill_client messages (digits folded to #):\n");
        for (int i = 0; i < L->nkills; i++)
            printf("  %6llu  %s\n", (unsigned long long)L->kills[i].n, L->kills[i].text);
    }
    int singers = L->o.ramp ? L->ramp_ok_level : L->o.singers;
    double cps = L->singer_seconds > 0 ? L->cpu_total / L->singer_seconds : 0;
    printf("--- summary ---\n");
    printf("transport: %s\n", L->o.transport == BBC_HTTP ? "http" : "fcgi");
    printf("duration_s: %.1f\n", elapsed);
    printf("spectators: %d\n", L->o.spectators);
    printf("sustained_min: %d\n", L->min_sustained < 0 ? 0 : L->min_sustained);
    printf("sustained_last: %d\n", L->last_sustained);
    printf("requests: %llu\n", (unsigned long long)T->requests);
    printf("requests_per_s: %.1f\n", elapsed > 0 ? (double)T->requests / elapsed : 0);
    printf("posts_ok: %llu\n", (unsigned long long)T->posts_ok);
    printf("probes: %llu\n", (unsigned long long)T->probes);
    printf("moves: %llu\n", (unsigned long long)T->moves);
    printf("max_ms: %.2f\n", (double)T->lat.max_us / 1000.0);
    printf("p50_due_ms: %.2f\n", hist_ms(&T->lat_due, 0.5));
    printf("p99_due_ms: %.2f\n", hist_ms(&T->lat_due, 0.99));
    printf("max_due_ms: %.2f\n", (double)T->lat_due.max_us / 1000.0);
    for (int i = 0; i < E_KINDS; i++)
        printf("errors_%s: %llu\n", err_names[i], (unsigned long long)T->err[i]);
    printf("status_5xx: %llu\n", (unsigned long long)T->status_codes[5]);
    printf("status_4xx: %llu\n", (unsigned long long)T->status_codes[4]);
    printf("self_cpu_s: %.2f\n", self_cpu() - L->self_cpu0);
    if (L->npids) {
        printf("watched_pids: %d\n", L->npids);
        printf("cpu_s: %.2f\n", L->cpu_total);
        printf("singer_seconds: %.1f\n", L->singer_seconds);
        printf("cpu_per_singer_second: %.6f\n", cps);
    }
    if (L->o.ramp) {
        printf("ramp_broke_at: %d\n", L->ramp_broke_at);
        printf("ramp_reason: %s\n", L->ramp_reason ? L->ramp_reason : "duration reached");
    }
    printf("singers: %d\n", singers);
    printf("p50_ms: %.2f\n", hist_ms(&T->lat, 0.5));
    printf("p99_ms: %.2f\n", hist_ms(&T->lat, 0.99));
    printf("errors: %llu\n", (unsigned long long)err_total(T));
    printf("desyncs: %llu\n", (unsigned long long)T->desyncs);
    /* The floor before and after the run, averaged. */
    double fl = (L->floor0 + decode_floor(L->pre)) / 2;
    if (fl > 0)
        printf("decode_alone_singers_per_core: %.0f\n", fl);
    if (L->npids && cps > 0 && fl > 0)
        printf("of_decode_alone: %.3f\n", 1.0 / cps / fl);
    if (L->npids && cps > 0)
        printf("singers_per_core: %.0f\n", 1.0 / cps);
    else
        printf("singers_per_core: n/a\n");
    fflush(stdout);
}

/* ---- command line ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"usage: bb-load (--http HOST:PORT | --fcgi ADDR[,ADDR...]) [options]\n"
"\n"
"Simulated Bucket Brigade singers speaking the real protocol: pre-encoded\n"
"Opus uploads in 600 ms batches, paced in real time, checked answers.\n"
"Traffic goes only to loopback addresses (127.0.0.0/8, ::1) or unix sockets;\n"
"any other address is refused.  Runs for at most --duration seconds.\n"
"\n"
"Target (one of):\n"
"  --http HOST:PORT         nginx, HTTP/1.1 keep-alive, one connection per singer\n"
"  --fcgi ADDR[,ADDR...]    worker FastCGI sockets: HOST:PORT, [::1]:PORT or\n"
"                           unix:/path; each singer is tied to one socket\n"
"                           (hash of its userid modulo the count)\n"
"Population:\n"
"  --singers N              simulated singers, 1..%d (default 10)\n"
"  --spectators N           listeners that upload nothing (default 0)\n"
"  --offsets LIST           bucket delays in seconds singers are spread over\n"
"                           (default 3,6,9,12; leader in the first, spectators\n"
"                           in the last)\n"
"  --no-leader              no leader (by default singer 0 takes the lead and\n"
"                           starts a song, which moves everyone to new buckets)\n"
"  --track NAME             the leader picks this backing track before starting\n"
"  --churn SECONDS          singers leave after a random lifetime of this mean and\n"
"                           someone new (a new userid) joins 1-3 s later\n"
"  --ignore-delay           do not follow delay_seconds moves\n"
"Timing:\n"
"  --duration SECONDS       total run time, 1..86400 (default 10)\n"
"  --interval SECONDS       report interval (default 5)\n"
"  --warmup SECONDS         leave intervals that end within this many seconds\n"
"                           out of the CPU figures (default: the first interval)\n"
"  --batch N                samples per POST, a multiple of 2880 (default 28800)\n"
"  --timeout-ms MS          per request, queueing included (default 5000)\n"
"  --max-lag N              batches a singer may fall behind before it gives up\n"
"                           and reconnects, as a browser would (default 4)\n"
"Protocol details:\n"
"  --path PATH              API path (default /api)\n"
"  --unaligned              clocks not on 2880-sample frames (the original client)\n"
"  --placeholders N         empty batches after each connect before singing\n"
"                           (default 2, like the browser's lead-in)\n"
"  --write-lag-ms MS        how far behind its read clock a singer's voice\n"
"                           lands: a batch, the browser's 1 s playback lead-in\n"
"                           and its audio latency (default 1800; 0 writes where\n"
"                           it reads, into frames its bucket is still hearing)\n"
"  --decode                 decode every answer with Opus (default: check packet\n"
"                           framing and lengths only, which costs no CPU)\n"
"  --no-summary             send summary=0 (extension; smaller answers)\n"
"  --voice-hz HZ            pitch of the pre-encoded voice (default 220)\n"
"  --bitrate BPS            bit rate of the pre-encoded voice (default 64000)\n"
"  --fcgi-conns N           kept-alive connections per worker socket, opened as\n"
"                           requests overlap, as nginx does (default 4; use 1\n"
"                           for a responder that reads only one kept-alive\n"
"                           connection at a time, a plain FCGX_Accept_r loop)\n"
"  --no-keep                close the connection after every request\n"
"  --seed N                 random seed (userids, phases); printed at start\n"
"Measurement:\n"
"  --pids PID[,PID...]      processes whose CPU time is measured (server side)\n"
"  --pidfile-glob PATTERN   files holding pids (one or more each), e.g.\n"
"                           'run/*.pid'\n"
"  --ramp START:STEP:MAX    start with START singers, add STEP every\n"
"                           --step-seconds until MAX, p99 above the bound or any\n"
"                           error; reports the last level that held\n"
"  --step-seconds S         length of a ramp step (default 10)\n"
"  --p99-bound-ms MS        ramp bound on the p99 latency counted from when a\n"
"                           batch is due (default 50)\n"
"  --quiet                  no per-error lines on stderr\n"
"  --help                   this text\n"
"\n"
"Output: a line per interval, then 'key: value' lines ending with\n"
"singers, p50_ms, p99_ms, errors, desyncs, decode_alone_singers_per_core (the\n"
"floor: the same voice decoded alone in this process, before and after the\n"
"run), of_decode_alone (singers_per_core over that floor, comparable across\n"
"machines and moments) and singers_per_core (CPU of the watched processes per\n"
"sustained singer-second, inverted; n/a without --pids). p50_ms / p99_ms / max_ms run from sending a POST to receiving its\n"
"whole answer; the *_due_ms variants from when the batch was due, which\n"
"adds any wait for a connection or for the previous answer. Exit status 0\n"
"when the run had no errors, 1 otherwise, 2 on bad usage.\n",
            MAX_SINGERS);
}

static int parse_list_int(const char *s, int *out, int max, int lo, int hi)
{
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v < lo || v > hi || n >= max) {
            free(copy);
            return -1;
        }
        out[n++] = (int)v;
    }
    free(copy);
    return n;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || !*s || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static int parse_opts(int argc, char **argv, opts_t *o, char **addr_store)
{
    memset(o, 0, sizeof *o);
    o->path = "/api";
    o->singers = 10;
    o->leader = 1;
    o->duration_s = 10;
    o->interval_s = 5;
    o->warmup_s = -1;
    o->batch = BBC_BATCH;
    o->placeholders = 2;
    o->write_lag_ms = 1800;
    o->voice_hz = 220;
    o->bitrate = 64000;
    o->fcgi_conns = 4;
    o->timeout_ms = 5000;
    o->max_lag = 4;
    o->step_s = 10;
    o->p99_bound_ms = 50;
    o->noffsets = parse_list_int("3,6,9,12", o->offsets, MAX_OFFSETS, 1, 1000);

    enum {
        O_HTTP = 256, O_FCGI, O_SINGERS, O_SPECT, O_OFFSETS, O_NOLEAD, O_TRACK, O_CHURN, O_IGNDELAY,
        O_DURATION, O_INTERVAL, O_WARMUP, O_BATCH, O_TIMEOUT, O_MAXLAG, O_PATH, O_UNALIGNED, O_PLACEHOLDERS, O_WRITELAG,
        O_DECODE, O_NOSUMMARY, O_VOICE, O_BITRATE, O_FCONNS, O_NOKEEP, O_SEED, O_PIDS, O_PIDGLOB,
        O_RAMP, O_STEPS, O_P99, O_QUIET, O_HELP
    };
    static const struct option lo[] = {
        { "http", required_argument, 0, O_HTTP },
        { "fcgi", required_argument, 0, O_FCGI },
        { "singers", required_argument, 0, O_SINGERS },
        { "spectators", required_argument, 0, O_SPECT },
        { "offsets", required_argument, 0, O_OFFSETS },
        { "no-leader", no_argument, 0, O_NOLEAD },
        { "track", required_argument, 0, O_TRACK },
        { "churn", required_argument, 0, O_CHURN },
        { "ignore-delay", no_argument, 0, O_IGNDELAY },
        { "duration", required_argument, 0, O_DURATION },
        { "interval", required_argument, 0, O_INTERVAL },
        { "warmup", required_argument, 0, O_WARMUP },
        { "batch", required_argument, 0, O_BATCH },
        { "timeout-ms", required_argument, 0, O_TIMEOUT },
        { "max-lag", required_argument, 0, O_MAXLAG },
        { "path", required_argument, 0, O_PATH },
        { "unaligned", no_argument, 0, O_UNALIGNED },
        { "placeholders", required_argument, 0, O_PLACEHOLDERS },
        { "write-lag-ms", required_argument, 0, O_WRITELAG },
        { "decode", no_argument, 0, O_DECODE },
        { "no-summary", no_argument, 0, O_NOSUMMARY },
        { "voice-hz", required_argument, 0, O_VOICE },
        { "bitrate", required_argument, 0, O_BITRATE },
        { "fcgi-conns", required_argument, 0, O_FCONNS },
        { "no-keep", no_argument, 0, O_NOKEEP },
        { "seed", required_argument, 0, O_SEED },
        { "pids", required_argument, 0, O_PIDS },
        { "pidfile-glob", required_argument, 0, O_PIDGLOB },
        { "ramp", required_argument, 0, O_RAMP },
        { "step-seconds", required_argument, 0, O_STEPS },
        { "p99-bound-ms", required_argument, 0, O_P99 },
        { "quiet", no_argument, 0, O_QUIET },
        { "help", no_argument, 0, O_HELP },
        { 0, 0, 0, 0 },
    };
    int c;
    const char *target = NULL;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case O_HTTP: o->transport = BBC_HTTP; target = optarg; break;
        case O_FCGI: o->transport = BBC_FCGI; target = optarg; break;
        case O_SINGERS: ok = parse_int(optarg, 1, MAX_SINGERS, &o->singers); break;
        case O_SPECT: ok = parse_int(optarg, 0, MAX_SINGERS / 2, &o->spectators); break;
        case O_OFFSETS:
            o->noffsets = parse_list_int(optarg, o->offsets, MAX_OFFSETS, 1, 1000);
            ok = o->noffsets > 0;
            break;
        case O_NOLEAD: o->leader = 0; break;
        case O_TRACK: o->track = optarg; ok = *optarg != 0; break;
        case O_CHURN: ok = parse_double(optarg, 1, 1e6, &o->churn_s); break;
        case O_IGNDELAY: o->ignore_delay = true; break;
        case O_DURATION: ok = parse_double(optarg, 1, 86400, &o->duration_s); break;
        case O_INTERVAL: ok = parse_double(optarg, 0.5, 3600, &o->interval_s); break;
        case O_WARMUP: ok = parse_double(optarg, 0, 3600, &o->warmup_s); break;
        case O_BATCH: ok = parse_int(optarg, BBC_FRAME, BBC_MAX_BATCH, &o->batch) && o->batch % BBC_FRAME == 0; break;
        case O_TIMEOUT: ok = parse_int(optarg, 10, 600000, &o->timeout_ms); break;
        case O_MAXLAG: ok = parse_int(optarg, 1, 1000, &o->max_lag); break;
        case O_PATH: o->path = optarg; ok = optarg[0] == '/'; break;
        case O_UNALIGNED: o->unaligned = true; break;
        case O_PLACEHOLDERS: ok = parse_int(optarg, 0, 100, &o->placeholders); break;
        case O_WRITELAG: ok = parse_int(optarg, 0, 10000, &o->write_lag_ms); break;
        case O_DECODE: o->decode = true; break;
        case O_NOSUMMARY: o->no_summary = true; break;
        case O_VOICE: ok = parse_double(optarg, 50, 2000, &o->voice_hz); break;
        case O_BITRATE: ok = parse_int(optarg, 6000, 510000, &o->bitrate); break;
        case O_FCONNS: ok = parse_int(optarg, 1, 1024, &o->fcgi_conns); break;
        case O_NOKEEP: o->no_keep = true; break;
        case O_SEED: o->seed = strtoull(optarg, NULL, 10); break;
        case O_PIDS: o->pids_arg = optarg; break;
        case O_PIDGLOB: o->pid_glob = optarg; break;
        case O_RAMP:
            o->ramp = true;
            ok = sscanf(optarg, "%d:%d:%d", &o->ramp_start, &o->ramp_step, &o->ramp_max) == 3 &&
                 o->ramp_start >= 1 && o->ramp_step >= 1 && o->ramp_max >= o->ramp_start &&
                 o->ramp_max <= MAX_SINGERS;
            break;
        case O_STEPS: ok = parse_double(optarg, 1, 86400, &o->step_s); break;
        case O_P99: ok = parse_double(optarg, 0.01, 1e6, &o->p99_bound_ms); break;
        case O_QUIET: o->quiet = true; break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (!ok) {
            fprintf(stderr, "bb-load: bad value for --%s: %s\n", lo[c - O_HTTP].name, optarg ? optarg : "");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bb-load: unexpected argument: %s\n", argv[optind]);
        return -1;
    }
    if (!target) {
        fprintf(stderr, "bb-load: give --http HOST:PORT or --fcgi ADDR[,ADDR...]\n");
        return -1;
    }
    *addr_store = strdup(target);
    if (!*addr_store)
        return -1;
    char *save = NULL;
    for (char *t = strtok_r(*addr_store, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->naddrs >= MAX_ADDRS) {
            fprintf(stderr, "bb-load: at most %d addresses\n", MAX_ADDRS);
            return -1;
        }
        o->addrs[o->naddrs++] = t;
    }
    if (o->transport == BBC_HTTP && o->naddrs != 1) {
        fprintf(stderr, "bb-load: --http takes one address\n");
        return -1;
    }
    if (o->ramp)
        o->singers = o->ramp_start;
    return 0;
}

/* ---- main -------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    loop_t *L = calloc(1, sizeof *L);
    char *addr_store = NULL;
    int status = 1;
    if (!L)
        goto out;
    L->ep = L->sigfd = -1;
    if (parse_opts(argc, argv, &L->o, &addr_store) < 0) {
        status = 2;
        goto out;
    }
    opts_t *o = &L->o;
    for (int i = 0; i < o->naddrs; i++) {
        if (bbc_addr_parse(o->addrs[i], o->transport, &L->addrs[i]) != BBC_OK) {
            fprintf(stderr,
                    "bb-load: refusing address '%s': only 127.0.0.0/8, [::1] and unix:/path are allowed\n",
                    o->addrs[i]);
            status = 2;
            goto out;
        }
    }
    if (o->seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
    }
    rng_seed(&L->rng, o->seed);
    L->min_sustained = -1;

    /* Enough descriptors for a connection per singer. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int err;
    L->pre = bbc_preenc_new_voice(o->voice_hz, 10.0, o->bitrate, &err);
    if (!L->pre) {
        fprintf(stderr, "bb-load: cannot pre-encode the voice: %s\n", bbc_strerror(err));
        goto out;
    }
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    L->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (L->ep < 0 || L->sigfd < 0) {
        fprintf(stderr, "bb-load: epoll_create1/signalfd: %s\n", strerror(errno));
        goto out;
    }
    struct epoll_event sev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
    epoll_ctl(L->ep, EPOLL_CTL_ADD, L->sigfd, &sev);

    if (o->transport == BBC_FCGI) {
        for (int a = 0; a < o->naddrs; a++)
            for (int i = 0; i < o->fcgi_conns; i++)
                if (pool_add_conn(L, &L->pools[a], &L->addrs[a]) < 0) {
                    fprintf(stderr, "bb-load: out of memory\n");
                    goto out;
                }
    }
    int max_slots = MAX_SINGERS + MAX_SINGERS / 2;
    L->sing = calloc((size_t)max_slots, sizeof *L->sing);
    if (!L->sing) {
        fprintf(stderr, "bb-load: out of memory\n");
        goto out;
    }
    resolve_pids(L);
    L->floor0 = decode_floor(L->pre);
    L->self_cpu0 = self_cpu();

    printf("# bb-load: %s, %d singers%s, %d spectators, offsets", o->transport == BBC_HTTP ? "http" : "fcgi",
           o->ramp ? o->ramp_start : o->singers,
           o->ramp ? " (ramp start)" : "", o->spectators);
    for (int i = 0; i < o->noffsets; i++)
        printf("%s%d", i ? "," : " ", o->offsets[i]);
    printf(", duration %.0f s, seed %llu, voice %.0f Hz %.0f B/packet, %d watched pids\n", o->duration_s,
           (unsigned long long)o->seed, o->voice_hz, bbc_preenc_mean_bytes(L->pre), L->npids);
    if (o->transport == BBC_FCGI)
        for (int a = 0; a < o->naddrs; a++)
            printf("# worker socket %d: %s (%d connections)\n", a, L->addrs[a].text, o->fcgi_conns);
    else
        printf("# nginx: %s (a connection per singer)\n", L->addrs[0].text);
    fflush(stdout);

    L->t0 = mono_ns();
    L->t_end = L->t0 + (int64_t)(o->duration_s * 1e9);
    L->ramp_level = o->ramp ? o->ramp_start : o->singers;
    for (int i = 0; i < o->spectators; i++)
        if (add_slot(L, R_SPECTATOR) < 0) {
            fprintf(stderr, "bb-load: cannot add spectators\n");
            goto out;
        }
    if (set_population(L, L->ramp_level) < 0) {
        fprintf(stderr, "bb-load: cannot add singers\n");
        goto out;
    }
    int64_t interval = (int64_t)(o->interval_s * 1e9);
    int64_t next_report = L->t0 + interval;
    int64_t last_report = L->t0;
    int64_t next_step = o->ramp ? L->t0 + (int64_t)(o->step_s * 1e9) : INT64_MAX;
    int64_t next_scan = L->t0 + 50000000;
    struct epoll_event evs[256];

    while (!L->stop) {
        int64_t now = mono_ns();
        if (now >= L->t_end)
            break;
        int64_t wake = L->t_end;
        if (L->hlen && L->heap[0].t < wake)
            wake = L->heap[0].t;
        if (next_report < wake)
            wake = next_report;
        if (next_step < wake)
            wake = next_step;
        if (next_scan < wake)
            wake = next_scan;
        int ms = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
        int n = epoll_wait(L->ep, evs, 256, ms);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "bb-load: epoll_wait: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t d = evs[i].data.u64;
            if (d == UINT64_MAX) {
                struct signalfd_siginfo si;
                while (read(L->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                }
                printf("# interrupted: stopping\n");
                L->stop = true;
                continue;
            }
            int id = (int)(uint32_t)d;
            if (id < 0 || id >= L->nconns)
                continue;
            lconn_t *k = L->conns[id];
            if (k->epoch != (uint32_t)(d >> 32))
                continue; /* the socket this event was for is gone */
            on_io(L, k, evs[i].events);
        }
        now = mono_ns();
        while (L->hlen && L->heap[0].t <= now && !L->stop) {
            timer_t_ t = heap_pop(L);
            lsinger_t *ls = &L->sing[t.idx];
            if (t.gen != ls->timer_gen || (ls->state != S_WAIT && ls->state != S_GONE))
                continue;
            singer_due(L, ls);
        }
        if (now >= next_scan) {
            scan_timeouts(L);
            next_scan = now + 50000000;
        }
        if (now >= next_report) {
            double dt = (double)(now - last_report) / 1e9;
            report_interval(L, dt, cpu_delta(L));
            last_report = now;
            next_report += interval;
            if (next_report <= now)
                next_report = now + interval;
        }
        if (now >= next_step) {
            ramp_step(L);
            next_step = now + (int64_t)(o->step_s * 1e9);
        }
    }
    int64_t now = mono_ns();
    double tail = (double)(now - last_report) / 1e9;
    if (tail > 0.25 * o->interval_s)
        report_interval(L, tail, cpu_delta(L));
    if (o->ramp && !L->ramp_reason && L->step.posts_ok > 0 && hist_ms(&L->step.lat_due, 0.99) <= o->p99_bound_ms &&
        err_total(&L->step) == 0)
        L->ramp_ok_level = L->ramp_level; /* the last step held until the end */
    print_summary(L, (double)(now - L->t0) / 1e9);
    status = err_total(&L->total) ? 1 : 0;

out:
    for (int i = 0; i < L->nsing; i++) {
        bbc_singer_destroy(L->sing[i].s);
        free(L->sing[i].own_pool.conns);
        free(L->sing[i].own_pool.q);
    }
    for (int i = 0; i < L->nconns; i++) {
        bbc_conn_destroy(L->conns[i]->c);
        resp_free(&L->conns[i]->resp);
        bbuf_free(&L->conns[i]->out);
        free(L->conns[i]);
    }
    for (int a = 0; a < MAX_ADDRS; a++) {
        free(L->pools[a].conns);
        free(L->pools[a].q);
    }
    free(L->conns);
    free(L->sing);
    free(L->heap);
    bbc_preenc_destroy(L->pre);
    if (L->ep >= 0)
        close(L->ep);
    if (L->sigfd >= 0)
        close(L->sigfd);
    free(addr_store);
    free(L);
    return status;
}
