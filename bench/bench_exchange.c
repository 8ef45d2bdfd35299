/*
 * bench_exchange.c - the cost of one 600 ms audio exchange inside a worker,
 * without HTTP: parse, decode, mix, encode and metadata, exactly the code a
 * worker runs (ex_handle()), against a real segment and the daemon's logic.
 *
 * A song in progress: S singers spread over the buckets of the song, each
 * sending real Opus packets at 64 kbit/s (encoded once, before timing, from
 * ten seconds of a sung-like signal: a voice with vibrato and harmonics;
 * each singer its own stretch of it), on read clocks aligned to
 * Opus frames as our web client keeps them, or unaligned as the original
 * client does (--unaligned; --private-complexity sets the Opus complexity
 * of those private streams, to compare settings), or listen-only
 * (--spectators).  Time is
 * simulated: every round each singer makes one request and the clock moves
 * 600 ms.  The CPU time of ex_handle() alone is measured, after a warm-up
 * of song (--warmup, 32 rounds) long enough that every bucket, the last 18 s
 * behind, hears the voices of the buckets before it: without it every
 * frame the listeners read would still be before the song, and the shared
 * encoding would be of silence.
 *
 * Prints microseconds per request, the per-stage profile, and singers per
 * core = 1 s / (CPU per request * requests per singer-second); the same
 * song without the timing watch (fcgi/watch.h), measured before and after
 * in the same run, and what the watch costs per request; then the floor,
 * measured in the same run: the same packets decoded alone (each singer
 * its own decoder), as singers per core.  --metronome makes the song a
 * metronome song (the watch measures voices against the beats instead of
 * what each singer heard).
 *
 * --rests PCT measures the same song twice more, its voice now sung in
 * phrases of 6 s that each end in a rest of PCT% (encoded with DTX, as our
 * client sends rests: fcgi/rest.h), in the order without, with, without:
 * exchange_singers_per_core_with_rests beside the figure without (the mean
 * of the two around it), their ratio, and the share of frames the worker
 * did not decode; then decoding alone of both voices, the phrased one by
 * the worker's rule for rests (decode_alone_with_rests_singers_per_core):
 * what a server that did nothing but decode would carry.
 */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>

#include "room.h"
#include "exchange.h"
#include "output.h"
#include "packet.h"
#include "rest.h"
#include "rig.h"
#include "ring.h"
#include "segment.h"
#include "snap.h"
#include "users.h"

#define N 28800
#define RATE 48000

typedef struct {
    char uid[24];
    int64_t read;
    int64_t write;
    bool first;
    bool spectator;
    int bucket;
} sim_t;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A second of something like a sung vowel: 220 Hz with 5 Hz vibrato, five
 * harmonics, a slow swell. */
static void voice(float *x, int n, int64_t t0)
{
    double ph = 0;
    for (int i = 0; i < n; i++) {
        double t = (double)(t0 + i) / RATE;
        double f = 220.0 * (1.0 + 0.01 * sin(2 * M_PI * 5.0 * t));
        ph += 2 * M_PI * f / RATE;
        double s = 0;
        for (int h = 1; h <= 5; h++)
            s += sin(h * ph) / (h * h);
        x[i] = (float)(0.25 * (0.6 + 0.4 * sin(2 * M_PI * 0.3 * t)) * s);
    }
}

/* Packets of the voice: 10 s (12 s, two phrases, with rests).  Singer
 * i's k-th packet of a round. */
#define VOICE_PK 166
#define PHRASED_PK 200
#define PHRASE_PK 100
static int voice_pk = VOICE_PK;
static int voice_at(int singer, int round, int k)
{
    return (singer * 37 + round * 10 + k) % voice_pk;
}

/* What a run is asked for (the command line). */
typedef struct {
    int singers, spectators, rounds, total;
    int warmup;               /* untimed rounds of song before the timed ones */
    bool unaligned, metronome;
    int private_complexity;   /* -2: the worker's default (auto) */
    int rests;                /* --rests: percent of each phrase rested, 0: none */
} bench_opts_t;

/* A run: the rig and worker under test, the simulated users, and what was
 * measured. */
typedef struct {
    rig_t rig;
    ex_t *ex;
    int64_t now;
    sim_t *u;
    double cpu;   /* CPU seconds in ex_handle(), the timed rounds */
    long timed, errors;
} bench_t;

/* The voice in 60 ms Opus packets: packet i is pkd[i], pkl[i] bytes long;
 * the voice without rests, or the phrased one, copied in by use_voice(). */
static uint8_t pkd[PHRASED_PK][1500];
static int pkl[PHRASED_PK];
static uint8_t plain_d[VOICE_PK][1500], phrased_d[PHRASED_PK][1500];
static int plain_l[VOICE_PK], phrased_l[PHRASED_PK];

/* Reads the command line into *o. Returns -1 to go on, else the exit
 * status (usage asked for, or wrong). */
static int parse_opts(int argc, char **argv, bench_opts_t *o)
{
    static const struct option opts[] = {
        {"singers", required_argument, 0, 's'},
        {"spectators", required_argument, 0, 'p'},
        {"rounds", required_argument, 0, 'r'},
        {"warmup", required_argument, 0, 'w'},
        {"unaligned", no_argument, 0, 'u'},
        {"metronome", no_argument, 0, 'm'},
        {"private-complexity", required_argument, 0, 'c'},
        {"rests", required_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (bench_opts_t){.singers = 60, .spectators = 0, .rounds = 20, .warmup = 32, .unaligned = false,
                         .private_complexity = -2};
    int c;
    while ((c = getopt_long(argc, argv, "s:p:r:w:umc:R:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': o->singers = atoi(optarg); break;
        case 'p': o->spectators = atoi(optarg); break;
        case 'r': o->rounds = atoi(optarg); break;
        case 'w': o->warmup = atoi(optarg); break;
        case 'u': o->unaligned = true; break;
        case 'm': o->metronome = true; break;
        case 'c': o->private_complexity = strcmp(optarg, "auto") == 0 ? OUT_COMPLEXITY_AUTO : atoi(optarg); break;
        case 'R': o->rests = atoi(optarg); break;
        default:
            printf("usage: bench_exchange [--singers N] [--spectators N] [--rounds N] [--warmup N]\n"
                   "                      [--unaligned]\n"
                   "                      [--metronome] [--private-complexity 0..10|auto] [--rests PCT]\n"
                   "  Measures the CPU cost of one 600 ms exchange inside a worker (no HTTP), with\n"
                   "  the timing watch and without it; --metronome: a metronome song; --rests: the\n"
                   "  song without rests and with PCT%% of each phrase rested; --warmup: rounds of\n"
                   "  song before the timed ones (default 32: 19 s, so that the last bucket, 18 s\n"
                   "  behind, hears the voices of the others, as in a song in progress).\n");
            return c == 'h' ? 0 : 2;
        }
    }
    o->total = o->singers + o->spectators;
    if (o->singers < 1 || o->spectators < 0 || o->rounds < 2 || o->warmup < 0 || o->warmup > 200 ||
        o->total > 4000 || o->rests < 0 ||
        o->rests > 90) {
        fprintf(stderr, "bench_exchange: 1..4000 users, at least 2 rounds, warm-up 0..200 rounds, "
                        "rests 0..90%%\n");
        return 2;
    }
    return -1;
}

/* Ten seconds of a voice, encoded once into 60 ms packets; each singer
 * sends its own stretch of it (identical packets for everyone would let
 * the decoder's branches and caches learn one path and flatter decoding
 * by a quarter). Returns 0, or -1 if Opus failed. */
static int encode(const float *sig, int count, bool dtx, uint8_t (*d)[1500], int *l)
{
    int e;
    OpusEncoder *enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &e);
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(64000));   /* what the browser asks */
    opus_encoder_ctl(enc, OPUS_SET_DTX(dtx));
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        l[i] = opus_encode_float(enc, sig + i * 2880, 2880, d[i], sizeof d[i]);
        rc = l[i] > 0 ? 0 : -1;
    }
    opus_encoder_destroy(enc);
    return rc;
}

/* Both voices, once: the plain one, and (rests > 0) the phrased one, the
 * last `rests` percent of each phrase silent, with 30 ms fades at the
 * phrase's ends. */
static int encode_voice(int rests)
{
    static bool done;
    if (done)
        return 0;
    static float sig[PHRASED_PK * 2880];
    voice(sig, VOICE_PK * 2880, 0);
    if (encode(sig, VOICE_PK, false, plain_d, plain_l) != 0)
        return -1;
    if (rests > 0) {
        int phrase = PHRASE_PK * 2880, sung = phrase - phrase * rests / 100, fade = RATE * 30 / 1000;
        voice(sig, PHRASED_PK * 2880, 0);
        for (int i = 0; i < PHRASED_PK * 2880; i++) {
            int k = i % phrase;
            if (k >= sung)
                sig[i] = 0;
            else if (k < fade)
                sig[i] *= (float)k / (float)fade;
            else if (sung - k < fade)
                sig[i] *= (float)(sung - k) / (float)fade;
        }
        if (encode(sig, PHRASED_PK, true, phrased_d, phrased_l) != 0)
            return -1;
    }
    done = true;
    return 0;
}

/* Makes the plain voice (or the phrased one) the one the singers send. */
static void use_voice(bool phrased)
{
    voice_pk = phrased ? PHRASED_PK : VOICE_PK;
    for (int i = 0; i < voice_pk; i++) {
        pkl[i] = phrased ? phrased_l[i] : plain_l[i];
        memcpy(pkd[i], phrased ? phrased_d[i] : plain_d[i], (size_t)pkl[i]);
    }
}

/* The segment, the daemon and a worker on lane 3 with the timing watch on
 * or off, the voice's packets and the users in their buckets. Returns 0,
 * or 1 (the exit status). */
static int set_up(bench_t *b, const bench_opts_t *o, bool watch)
{
    if (rig_open(&b->rig, "bench", &(rig_opts_t){.ring_seconds = 64, .user_cap = 8192, .depth = 7}) != 0)
        return 1;   /* depth 7: six buckets */
    seg_err_t err;
    char why[256];
    seg_claim_lane(b->rig.seg, 3, &err);
    b->ex = ex_create(b->rig.seg, 3, (uint32_t)o->total + 16, NULL, why, sizeof why);
    if (!b->ex)
        return 1;
    ex_set_timing_watch(b->ex, watch);
    if (o->private_complexity != -2)
        ex_set_private_complexity(b->ex, o->private_complexity);
    b->now = b->rig.now;
    for (int i = 0; i < 40; i++)
        rm_tick(b->rig.d, b->now += 240);
    if (encode_voice(o->rests) != 0)
        return 1;
    use_voice(false);

    b->u = calloc((size_t)o->total, sizeof *b->u);
    /* Buckets 3, 6, ... 18 s; the first singer leads from the first. */
    for (int i = 0; i < o->total; i++) {
        sim_t *u = &b->u[i];
        snprintf(u->uid, sizeof u->uid, "%d", 100000 + i);
        u->spectator = i >= o->singers;
        u->bucket = i == 0 ? 0 : (u->spectator ? 5 : 1 + (i - 1) % 5);
        int64_t r = b->now - (int64_t)(3 + 3 * u->bucket) * RATE;
        u->read = o->unaligned ? r - 1000 - i : r - r % 2880;
        u->first = true;
    }
    return 0;
}

/* Singer i's request of this round, as the browser makes it: the query
 * into q (cap bytes), and the body of ten packets into body when it
 * uploads (from round 2 on). Returns the body's length, 0 for none. */
static size_t make_request(sim_t *s, int i, int round, bool metronome, char *q, size_t cap,
                           uint8_t *body)
{
    s->read += N;
    int n = snprintf(q, cap, "read_clock=%lld&n_samples=%d&userid=%s&username=Singer+%d",
                     (long long)s->read, N, s->uid, i);
    if (s->first)
        n += snprintf(q + n, cap - (size_t)n, "&reset_user_state=true");
    if (s->spectator)
        n += snprintf(q + n, cap - (size_t)n, "&spectator=1");
    if (i == 0 && round == 0)
        n += snprintf(q + n, cap - (size_t)n, "&request_lead=1%s",
                      metronome ? "&bpm=100&track=metronome%20--%20set%20BPM%20below" : "");
    if (i == 0 && round == 1)
        n += snprintf(q + n, cap - (size_t)n, "&mark_start_singing=1");
    bool upload = !s->spectator && round >= 2;
    if (upload) {
        /* The browser writes about a batch, its 1 s playback lead-in and
         * its audio latency behind where it reads. */
        s->write = s->write ? s->write + N : s->read - 86400;
        snprintf(q + n, cap - (size_t)n, "&write_clock=%lld", (long long)s->write);
    }
    s->first = false;
    if (!upload)
        return 0;
    size_t blen = 1;
    body[0] = 10;
    for (int k = 0; k < 10; k++) {
        int j = voice_at(i, round, k);
        pk_put_len(body + blen, (uint16_t)pkl[j]);
        memcpy(body + blen + 2, pkd[j], (size_t)pkl[j]);
        blen += 2 + (size_t)pkl[j];
    }
    return blen;
}

/* The rounds: every user one request, then 600 ms of the daemon. Times
 * ex_handle() from round 2 + warmup on: everyone has joined, the song
 * runs, and every bucket hears the voices of the buckets before it. */
static void run(bench_t *b, const bench_opts_t *o)
{
    static uint8_t body[1 + 10 * (2 + 1500)];
    char q[512];
    ex_response_t res;
    int timed = 2 + o->warmup;
    for (int round = 0; round < o->warmup + o->rounds; round++) {
        for (int i = 0; i < o->total; i++) {
            size_t blen = make_request(&b->u[i], i, round, o->metronome, q, sizeof q, body);
            ex_request_t req = {.query = q, .query_len = strlen(q), .body = blen ? body : NULL, .body_len = blen, .event_data = "undefined"};
            double t0 = cpu_now();
            ex_handle(b->ex, &req, &res, b->now);
            double t1 = cpu_now();
            if (res.status != 200) {
                if (b->errors++ < 3)
                    fprintf(stderr, "bench_exchange: %d %s\n", res.status, res.meta);
            }
            if (round >= timed) {
                b->cpu += t1 - t0;
                b->timed++;
            }
        }
        /* 600 ms pass; the daemon runs as it would. */
        for (int k = 0; k < 120; k++)
            rm_tick(b->rig.d, b->now += 240);
        if (round == timed - 1)
            prof_reset(ex_prof_demand(b->ex), true);
    }
}

/* The floor, measured here and now: the same packets decoded alone, each
 * singer with its own decoder, as the rounds did; with `as_worker`, by the
 * worker's rule for rests (rs_decode(): a rest's frames are not decoded),
 * which is what a server that did nothing but decode would spend on a
 * voice that rests.  Returns microseconds per request; a failed decode
 * counts in *errors. */
static double decode_floor(const bench_opts_t *o, bool as_worker, long *errors)
{
    int e;
    OpusDecoder **dec = calloc((size_t)o->singers, sizeof *dec);
    bool *quiet = calloc((size_t)o->singers, sizeof *quiet);
    static float pcm[2880];
    long dn = 0;
    if (!dec || !quiet) {
        free(dec);
        free(quiet);
        ++*errors;
        return 0;
    }
    double t0 = cpu_now();
    for (int round = 2; round < o->rounds; round++)
        for (int i = 0; i < o->singers; i++) {
            if (!dec[i])
                dec[i] = opus_decoder_create(RATE, 1, &e);
            for (int k = 0; k < 10; k++) {
                int j = voice_at(i, round, k);
                bool skipped;
                int got = !dec[i] ? -1
                          : as_worker ? rs_decode(dec[i], &quiet[i], pkd[j], pkl[j], pcm, &skipped)
                                      : opus_decode_float(dec[i], pkd[j], pkl[j], pcm, 2880, 0);
                if (got != 2880)
                    ++*errors;
            }
            dn++;
        }
    double floor_us = dn ? (cpu_now() - t0) / (double)dn * 1e6 : 0;
    for (int i = 0; i < o->singers; i++)
        if (dec[i])
            opus_decoder_destroy(dec[i]);
    free(dec);
    free(quiet);
    return floor_us;
}

static void report(bench_t *b, const bench_opts_t *o, double floor_us)
{
    double us = b->cpu / (double)b->timed * 1e6;
    /* A singer makes one request per 600 ms. */
    double per_core = 1e6 / (us / 0.6);
    char text[4096];
    prof_report(ex_prof_demand(b->ex), text, sizeof text);
    printf("%s", text);
    printf("users: %d (%d singing, %d listening), %s clocks, %s song, %ld timed requests, %ld errors\n",
           o->total, o->singers, o->spectators, o->unaligned ? "unaligned" : "aligned",
           o->metronome ? "metronome" : "a cappella", b->timed, b->errors);
    ex_share_t sh;
    ex_share(b->ex, &sh);
    printf("frames rendered %llu, from cache %llu; packets encoded %llu, shared %llu\n",
           (unsigned long long)sh.rendered, (unsigned long long)sh.render_hits,
           (unsigned long long)sh.encoded, (unsigned long long)sh.packet_hits);
    printf("cpu_us_per_request: %.1f\n", us);
    printf("exchange_singers_per_core: %.0f\n", per_core);
    if (floor_us > 0) {
        printf("decode_alone_us_per_request: %.1f\n", floor_us);
        printf("decode_alone_singers_per_core: %.0f\n", 1e6 / (floor_us / 0.6));
    }
}

static double us_of(const bench_t *b) { return b->cpu / (double)b->timed * 1e6; }

static void tear_down(bench_t *b)
{
    ex_destroy(b->ex);
    rig_close(&b->rig);
    free(b->u);
}

/* The song without the timing watch: CPU per request, and the errors in
 * *errors; -1 if it could not be set up. */
static double without_watch(const bench_opts_t *o, long *errors)
{
    static bench_t w;
    memset(&w, 0, sizeof w);
    if (set_up(&w, o, false) != 0)
        return -1;
    run(&w, o);
    double us = us_of(&w);
    *errors += w.errors;
    tear_down(&w);
    return us;
}

/* One song with the timing watch, the plain voice or the phrased one: CPU
 * per request; the share of uploaded frames not decoded in *rest_share;
 * the errors added to *errors; -1 if it could not be set up. */
static double song(const bench_opts_t *o, bool phrased, double *rest_share, long *errors)
{
    static bench_t w;
    memset(&w, 0, sizeof w);
    if (set_up(&w, o, true) != 0)
        return -1;
    use_voice(phrased);
    run(&w, o);
    double us = us_of(&w);
    char text[4096];
    prof_report(ex_prof_demand(w.ex), text, sizeof text);
    printf("%s:\n%s", phrased ? "with rests" : "without rests", text);
    const ex_counters_t *c = ex_counters(w.ex);
    /* Every singer uploads ten frames a round from round 2 on. */
    *rest_share = (double)c->rest_frames / ((double)(o->warmup + o->rounds - 2) * o->singers * 10);
    *errors += w.errors;
    tear_down(&w);
    return us;
}

/* --rests: without, with, without. */
static int rests_main(const bench_opts_t *o)
{
    long errors = 0;
    double s1, s2, share;
    double a = song(o, false, &s1, &errors), r = song(o, true, &share, &errors), b = song(o, false, &s2, &errors);
    if (a < 0 || r < 0 || b < 0)
        return 1;
    double off = 0.5 * (a + b);
    printf("rests: %d%% of each 6 s phrase; %.1f%% of the uploaded frames not decoded\n", o->rests, 100 * share);
    printf("cpu_us_per_request: %.1f without rests (%.1f, %.1f), %.1f with\n", off, a, b, r);
    printf("exchange_singers_per_core: %.0f\n", 1e6 / (off / 0.6));
    printf("exchange_singers_per_core_with_rests: %.0f\n", 1e6 / (r / 0.6));
    printf("exchange_rests_over_no_rests: %.2f\n", off / r);
    /* The ceiling: decoding alone, the plain voice and the phrased one by
     * the worker's rule, alternated as the songs were. */
    use_voice(false);
    double f1 = decode_floor(o, false, &errors);
    use_voice(true);
    double fr = decode_floor(o, true, &errors);
    use_voice(false);
    double f2 = decode_floor(o, false, &errors);
    if (f1 > 0 && fr > 0 && f2 > 0) {
        double f = 0.5 * (f1 + f2);
        printf("decode_alone_singers_per_core: %.0f (%.0f, %.0f)\n", 1e6 / (f / 0.6), 1e6 / (f1 / 0.6),
               1e6 / (f2 / 0.6));
        printf("decode_alone_with_rests_singers_per_core: %.0f\n", 1e6 / (fr / 0.6));
    }
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    int status = parse_opts(argc, argv, &o);
    if (status >= 0)
        return status;
    if (o.rests)
        return rests_main(&o);
    /* Without the watch, with it, and without it again: the figure without
     * is the mean of the two, so a machine that speeds up or slows down
     * during the run moves both sides alike. */
    long errors = 0;
    double off1 = without_watch(&o, &errors);
    static bench_t b;
    if (off1 < 0 || set_up(&b, &o, true) != 0)
        return 1;
    run(&b, &o);
    double floor_us = decode_floor(&o, false, &b.errors);
    report(&b, &o, floor_us);
    double off2 = without_watch(&o, &errors);
    if (off2 < 0)
        return 1;
    double us = us_of(&b), off = 0.5 * (off1 + off2);
    printf("without_timing_watch_cpu_us_per_request: %.1f (%.1f, %.1f)\n", off, off1, off2);
    printf("timing_watch_us_per_request: %.1f (%.1f%% of a request)\n", us - off,
           100.0 * (us - off) / us);
    printf("without_timing_watch_singers_per_core: %.0f\n", 1e6 / (off / 0.6));
    errors += b.errors;
    tear_down(&b);
    return errors ? 1 : 0;
}
