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
 *
 * This file is the loop and the ramp; the rest is one module per concern:
 * loadopts (command line), loadsinger (singers and their schedule),
 * loadpool (connections), loadreport (counters and output), hist
 * (latency histogram) and cpuacct (CPU of the watched processes), sharing
 * the loop's state (load.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "load.h"
#include "loadpool.h"
#include "loadsinger.h"
#include "stopfd.h"

/* Ramp: at the end of each step, judge it and grow or stop. */
static void ramp_step(loop_t *L)
{
    /* Judged on what singers experience: from when a batch is due. */
    double p99 = hist_ms(&L->rep.step.lat_due, 0.99);
    uint64_t errs = lrep_err_total(&L->rep.step);
    printf("# ramp step: %d singers, p99 %.2f ms, errors %llu, requests %llu\n", L->ramp_level, p99,
           (unsigned long long)errs, (unsigned long long)L->rep.step.requests);
    if (p99 > L->o.p99_bound_ms || errs > 0 || L->rep.step.posts_ok == 0) {
        L->ramp_broke_at = L->ramp_level;
        L->ramp_reason = errs > 0 ? "errors" : L->rep.step.posts_ok == 0 ? "no answers" : "p99";
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
    memset(&L->rep.step, 0, sizeof L->rep.step);
    if (load_singer_population(L, L->ramp_level) < 0)
        L->stop = true;
}

/* The report of the interval that ends now. */
static void report(loop_t *L, double dt)
{
    lrep_tally_t tally;
    load_singer_tally(L, &tally);
    /* Warm-up (probes, placeholders, the song starting, every stem
     * opening) is not measured: the first interval, or every interval
     * that ends within --warmup seconds. */
    double t = (double)(bbc_now_ns() - L->t0) / 1e9;
    bool not_first = L->rep.intervals > 0;
    bool measured = L->o.warmup_s >= 0 ? t > L->o.warmup_s + 0.5 * dt
                                       : not_first || (L->t_end - L->t0) <= (int64_t)(dt * 1.5e9);
    lrep_interval(&L->rep, &tally, t, dt, cpuacct_delta(&L->cpu), L->cpu.n, measured);
}

/* Measures decoding alone o.floor_passes times (cpuacct.h); a pass that
 * fails is left out. */
static void floor_passes(loop_t *L)
{
    for (int i = 0; i < L->o.floor_passes && L->nfloors < 2 * LOAD_MAX_FLOOR_PASSES; i++) {
        double f = cpuacct_decode_floor(L->pre_floor);
        if (f > 0)
            L->floors[L->nfloors++] = f;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts the passes and returns their median (0 without any); with one pass
 * on each side, their mean. */
static double floor_median(loop_t *L)
{
    int n = L->nfloors;
    if (n == 0)
        return 0;
    qsort(L->floors, (size_t)n, sizeof L->floors[0], cmp_double);
    return n % 2 ? L->floors[n / 2] : (L->floors[n / 2 - 1] + L->floors[n / 2]) / 2;
}

/* Everything before the first batch: addresses, seed, the voice, epoll and
 * the signal descriptor, the FastCGI pools, the singer slots, the pids to
 * watch.  0, 1 (failed, said why) or 2 (bad usage). */
static int setup(loop_t *L, int argc, char **argv, char **addr_store)
{
    if (load_opts_parse(argc, argv, &L->o, addr_store) < 0)
        return 2;
    load_opts_t *o = &L->o;
    for (int i = 0; i < o->naddrs; i++) {
        if (bbc_addr_parse(o->addrs[i], o->transport, &L->addrs[i]) != BBC_OK) {
            fprintf(stderr,
                    "bb-load: refusing address '%s': only 127.0.0.0/8, [::1] and unix:/path are allowed\n",
                    o->addrs[i]);
            return 2;
        }
    }
    if (o->seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
    }
    rng_seed(&L->rng, o->seed);
    L->rep.min_sustained = -1;
    load_singer_init(L);

    /* Enough descriptors for a connection per singer. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int err;
    /* Decoding alone is always measured on the voice without rests, so that
     * the floor is the same with rests and without. */
    L->pre_floor = bbc_preenc_new_voice(o->voice_hz, 10.0, o->bitrate, &err);
    L->pre = !L->pre_floor || !o->rests_pct ? L->pre_floor
             : bbc_preenc_new_phrases(o->voice_hz, 2 * BBC_PHRASE_S, o->rests_pct / 100.0, o->bitrate, &err);
    if (!L->pre) {
        fprintf(stderr, "bb-load: cannot pre-encode the voice: %s\n", bbc_strerror(err));
        return 1;
    }
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    L->sigfd = stopfd_open();
    if (L->ep < 0 || L->sigfd < 0) {
        fprintf(stderr, "bb-load: epoll_create1/signalfd: %s\n", strerror(errno));
        return 1;
    }
    struct epoll_event sev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
    epoll_ctl(L->ep, EPOLL_CTL_ADD, L->sigfd, &sev);
    if (o->transport == BBC_FCGI)
        for (int a = 0; a < o->naddrs; a++)
            for (int i = 0; i < o->fcgi_conns; i++)
                if (load_pool_add_conn(L, &L->pools[a], &L->addrs[a]) < 0) {
                    fprintf(stderr, "bb-load: out of memory\n");
                    return 1;
                }
    L->sing = calloc((size_t)(LOAD_MAX_SINGERS + LOAD_MAX_SINGERS / 2), sizeof *L->sing);
    if (!L->sing) {
        fprintf(stderr, "bb-load: out of memory\n");
        return 1;
    }
    cpuacct_watch(&L->cpu, o->pids_arg, o->pid_glob);
    floor_passes(L);
    L->self_cpu0 = cpuacct_self();
    return 0;
}

static void print_header(const loop_t *L)
{
    const load_opts_t *o = &L->o;
    printf("# bb-load: %s, %d singers%s, %d spectators, offsets", o->transport == BBC_HTTP ? "http" : "fcgi",
           o->ramp ? o->ramp_start : o->singers,
           o->ramp ? " (ramp start)" : "", o->spectators);
    for (int i = 0; i < o->noffsets; i++)
        printf("%s%d", i ? "," : " ", o->offsets[i]);
    printf(", duration %.0f s, seed %llu, voice %.0f Hz %.0f B/packet, rests %d%% of each phrase, %d watched pids\n",
           o->duration_s, (unsigned long long)o->seed, o->voice_hz, bbc_preenc_mean_bytes(L->pre), o->rests_pct,
           L->cpu.n);
    if (o->transport == BBC_FCGI)
        for (int a = 0; a < o->naddrs; a++)
            printf("# worker socket %d: %s (%d connections)\n", a, L->addrs[a].text, o->fcgi_conns);
    else
        printf("# nginx: %s (a connection per singer)\n", L->addrs[0].text);
    fflush(stdout);
}

/* Hands each epoll event to its connection (or stops on a signal). */
static void dispatch_events(loop_t *L, const struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t d = evs[i].data.u64;
        if (d == UINT64_MAX) {
            stopfd_read(L->sigfd);
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
        load_pool_on_io(L, k, evs[i].events);
    }
}

/* The loop until the end of the run or a stop; returns when the last
 * report was printed. */
static int64_t run(loop_t *L)
{
    const load_opts_t *o = &L->o;
    int64_t interval = (int64_t)(o->interval_s * 1e9);
    int64_t next_report = L->t0 + interval;
    int64_t last_report = L->t0;
    int64_t next_step = o->ramp ? L->t0 + (int64_t)(o->step_s * 1e9) : INT64_MAX;
    int64_t next_scan = L->t0 + 50000000;
    struct epoll_event evs[256];

    while (!L->stop) {
        int64_t now = bbc_now_ns();
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
        dispatch_events(L, evs, n > 0 ? n : 0);
        now = bbc_now_ns();
        load_singer_fire(L, now);
        if (now >= next_scan) {
            load_pool_scan_timeouts(L);
            load_singer_scan_queued(L);
            next_scan = now + 50000000;
        }
        if (now >= next_report) {
            report(L, (double)(now - last_report) / 1e9);
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
    return last_report;
}

static void teardown(loop_t *L, char *addr_store)
{
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
    for (int a = 0; a < LOAD_MAX_ADDRS; a++) {
        free(L->pools[a].conns);
        free(L->pools[a].q);
    }
    free(L->conns);
    free(L->sing);
    free(L->heap);
    if (L->pre != L->pre_floor)
        bbc_preenc_destroy(L->pre);
    bbc_preenc_destroy(L->pre_floor);
    if (L->ep >= 0)
        close(L->ep);
    if (L->sigfd >= 0)
        close(L->sigfd);
    free(addr_store);
    free(L);
}

int main(int argc, char **argv)
{
    loop_t *L = calloc(1, sizeof *L);
    char *addr_store = NULL;
    if (!L)
        return 1;
    L->ep = L->sigfd = -1;
    int status = setup(L, argc, argv, &addr_store);
    if (status != 0)
        goto out;
    status = 1;
    print_header(L);
    const load_opts_t *o = &L->o;
    L->t0 = bbc_now_ns();
    L->t_end = L->t0 + (int64_t)(o->duration_s * 1e9);
    L->ramp_level = o->ramp ? o->ramp_start : o->singers;
    for (int i = 0; i < o->spectators; i++)
        if (load_singer_add(L, R_SPECTATOR) < 0) {
            fprintf(stderr, "bb-load: cannot add spectators\n");
            goto out;
        }
    if (load_singer_population(L, L->ramp_level) < 0) {
        fprintf(stderr, "bb-load: cannot add singers\n");
        goto out;
    }
    int64_t last_report = run(L);
    int64_t now = bbc_now_ns();
    double tail = (double)(now - last_report) / 1e9;
    if (tail > 0.25 * o->interval_s)
        report(L, tail);
    if (o->ramp && !L->ramp_reason && L->rep.step.posts_ok > 0 &&
        hist_ms(&L->rep.step.lat_due, 0.99) <= o->p99_bound_ms && lrep_err_total(&L->rep.step) == 0)
        L->ramp_ok_level = L->ramp_level; /* the last step held until the end */
    /* The floor before and after the run: the median of its passes. */
    floor_passes(L);
    double floor = floor_median(L);
    lrep_summary_t x = { (double)(now - L->t0) / 1e9, cpuacct_self() - L->self_cpu0, L->cpu.n,
                         floor, L->nfloors ? L->floors[0] : 0, L->nfloors ? L->floors[L->nfloors - 1] : 0, L->ramp_ok_level,
                         L->ramp_broke_at, L->ramp_reason };
    lrep_summary(&L->rep, o, &x);
    status = lrep_err_total(&L->rep.total) ? 1 : 0;
out:
    teardown(L, addr_store);
    return status;
}
