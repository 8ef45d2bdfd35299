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
 * client does (--unaligned), or listen-only (--spectators).  Time is
 * simulated: every round each singer makes one request and the clock moves
 * 600 ms.  The CPU time of ex_handle() alone is measured.
 *
 * Prints microseconds per request, the per-stage profile, and singers per
 * core = 1 s / (CPU per request * requests per singer-second); the same
 * song without the timing watch (fcgi/watch.h), measured before and after
 * in the same run, and what the watch costs per request; then the floor,
 * measured in the same run: the same packets decoded alone (each singer
 * its own decoder), as singers per core.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>

#include "room.h"
#include "exchange.h"
#include "packet.h"
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

/* Packets of the voice: 10 s.  Singer i's k-th packet of a round. */
#define VOICE_PK 166
static int voice_at(int singer, int round, int k)
{
    return (singer * 37 + round * 10 + k) % VOICE_PK;
}

/* Ten seconds of a voice, encoded once into 60 ms packets (see main()). */
static uint8_t pkd[VOICE_PK][1500];
static int pkl[VOICE_PK];

typedef struct {
    int singers, spectators, rounds;
    bool unaligned, metronome;
} opts_t;

typedef struct {
    double us;             /* CPU per timed request */
    long timed, errors;
} result_t;

/* One song as the header says, with the timing watch on or off; with
 * `report`, prints the exchange's profile and sharing there. */
static int measure(const opts_t *o, bool watch, result_t *out, bool report)
{
    int total = o->singers + o->spectators;
    rig_t rig;
    if (rig_open(&rig, watch ? "bench-w" : "bench", &(rig_opts_t){.ring_seconds = 64, .user_cap = 8192, .depth = 7}) != 0)
        return -1;   /* depth 7: six buckets */
    rm_t *d = rig.d;
    seg_t *seg = rig.seg;
    seg_err_t err;
    char why[256];
    seg_claim_lane(seg, 3, &err);
    ex_t *ex = ex_create(seg, 3, (uint32_t)total + 16, NULL, why, sizeof why);
    if (!ex) {
        rig_close(&rig);
        return -1;
    }
    ex_set_timing_watch(ex, watch);
    int64_t now = rig.now;
    for (int i = 0; i < 40; i++)
        rm_tick(d, now += 240);
    static uint8_t body[1 + 10 * (2 + 1500)];

    sim_t *u = calloc((size_t)total, sizeof *u);
    /* Buckets 3, 6, ... 18 s; the first singer leads from the first. */
    for (int i = 0; i < total; i++) {
        snprintf(u[i].uid, sizeof u[i].uid, "%d", 100000 + i);
        u[i].spectator = i >= o->singers;
        u[i].bucket = i == 0 ? 0 : (u[i].spectator ? 5 : 1 + (i - 1) % 5);
        int64_t r = now - (int64_t)(3 + 3 * u[i].bucket) * RATE;
        u[i].read = o->unaligned ? r - 1000 - i : r - r % 2880;
        u[i].first = true;
    }
    char q[512];
    ex_response_t res;
    double cpu = 0;
    long timed = 0, errors = 0;
    for (int round = 0; round < o->rounds; round++) {
        for (int i = 0; i < total; i++) {
            sim_t *s = &u[i];
            s->read += N;
            int n = snprintf(q, sizeof q, "read_clock=%lld&n_samples=%d&userid=%s&username=Singer+%d",
                             (long long)s->read, N, s->uid, i);
            if (s->first)
                n += snprintf(q + n, sizeof q - (size_t)n, "&reset_user_state=true");
            if (s->spectator)
                n += snprintf(q + n, sizeof q - (size_t)n, "&spectator=1");
            if (i == 0 && round == 0)
                n += snprintf(q + n, sizeof q - (size_t)n, "&request_lead=1%s",
                              o->metronome ? "&bpm=100&track=metronome%20--%20set%20BPM%20below" : "");
            if (i == 0 && round == 1)
                n += snprintf(q + n, sizeof q - (size_t)n, "&mark_start_singing=1");
            bool upload = !s->spectator && round >= 2;
            if (upload) {
                /* The browser writes about a batch, its 1 s playback lead-in and
                 * its audio latency behind where it reads. */
                s->write = s->write ? s->write + N : s->read - 86400;
                snprintf(q + n, sizeof q - (size_t)n, "&write_clock=%lld", (long long)s->write);
            }
            s->first = false;
            size_t blen = 1;
            body[0] = 10;
            for (int k = 0; k < 10 && upload; k++) {
                int j = voice_at(i, round, k);
                pk_put_len(body + blen, (uint16_t)pkl[j]);
                memcpy(body + blen + 2, pkd[j], (size_t)pkl[j]);
                blen += 2 + (size_t)pkl[j];
            }
            ex_request_t req = {.query = q, .query_len = strlen(q), .body = upload ? body : NULL, .body_len = upload ? blen : 0, .event_data = "undefined"};
            double t0 = cpu_now();
            ex_handle(ex, &req, &res, now);
            double t1 = cpu_now();
            if (res.status != 200) {
                if (errors++ < 3)
                    fprintf(stderr, "bench_exchange: %d %s\n", res.status, res.meta);
            }
            if (round >= 2) {
                cpu += t1 - t0;
                timed++;
            }
        }
        /* 600 ms pass; the daemon runs as it would. */
        for (int k = 0; k < 120; k++)
            rm_tick(d, now += 240);
        if (round == 1)
            prof_reset(ex_prof_demand(ex), true);
    }
    out->us = cpu / (double)timed * 1e6;
    out->timed = timed;
    out->errors = errors;
    if (report) {
        char text[4096];
        prof_report(ex_prof_demand(ex), text, sizeof text);
        printf("%s", text);
        ex_share_t sh;
        ex_share(ex, &sh);
        printf("frames rendered %llu, from cache %llu; packets encoded %llu, shared %llu\n",
               (unsigned long long)sh.rendered, (unsigned long long)sh.render_hits,
               (unsigned long long)sh.encoded, (unsigned long long)sh.packet_hits);
    }
    ex_destroy(ex);
    rig_close(&rig);
    free(u);
    return 0;
}

int main(int argc, char **argv)
{
    opts_t op = {.singers = 60, .spectators = 0, .rounds = 20};
    static const struct option opts[] = {
        {"singers", required_argument, 0, 's'},
        {"spectators", required_argument, 0, 'p'},
        {"rounds", required_argument, 0, 'r'},
        {"unaligned", no_argument, 0, 'u'},
        {"metronome", no_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "s:p:r:umh", opts, NULL)) != -1) {
        switch (o) {
        case 's': op.singers = atoi(optarg); break;
        case 'p': op.spectators = atoi(optarg); break;
        case 'r': op.rounds = atoi(optarg); break;
        case 'u': op.unaligned = true; break;
        case 'm': op.metronome = true; break;
        default:
            printf("usage: bench_exchange [--singers N] [--spectators N] [--rounds N] [--unaligned]\n"
                   "                      [--metronome]\n"
                   "  Measures the CPU cost of one 600 ms exchange inside a worker (no HTTP), with\n"
                   "  the timing watch and without it; --metronome: a metronome song (the watch\n"
                   "  measures voices against the beats), else a cappella (against what each\n"
                   "  singer heard).\n");
            return o == 'h' ? 0 : 2;
        }
    }
    int singers = op.singers, spectators = op.spectators, rounds = op.rounds;
    int total = singers + spectators;
    if (singers < 1 || spectators < 0 || rounds < 2 || total > 4000) {
        fprintf(stderr, "bench_exchange: 1..4000 users and at least 2 rounds\n");
        return 2;
    }

    /* Ten seconds of a voice, encoded once into 60 ms packets; each singer
     * sends its own stretch of it (identical packets for everyone would
     * let the decoder's branches and caches learn one path and flatter
     * decoding by a quarter). */
    int e;
    OpusEncoder *enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &e);
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(64000));   /* what the browser asks */
    static float sig[VOICE_PK * 2880];
    voice(sig, VOICE_PK * 2880, 0);
    for (int i = 0; i < VOICE_PK; i++) {
        pkl[i] = opus_encode_float(enc, sig + i * 2880, 2880, pkd[i], sizeof pkd[i]);
        if (pkl[i] <= 0)
            return 1;
    }
    opus_encoder_destroy(enc);

    /* Without the watch, with it, and without it again: the figure without
     * is the mean of the two, so a machine that speeds up or slows down
     * during the run moves both sides alike. */
    result_t off1, on, off2;
    if (measure(&op, false, &off1, false) || measure(&op, true, &on, true) ||
        measure(&op, false, &off2, false))
        return 1;
    double us = on.us, off_us = 0.5 * (off1.us + off2.us);
    long errors = off1.errors + on.errors + off2.errors;
    /* A singer makes one request per 600 ms. */
    double per_core = 1e6 / (us / 0.6);

    /* The floor, measured here and now: the same packets decoded alone,
     * each singer with its own decoder, as the rounds above did. */
    double floor_us = 0;
    if (singers > 0) {
        OpusDecoder **dec = calloc((size_t)singers, sizeof *dec);
        static float pcm[2880];
        long dn = 0;
        double t0 = cpu_now();
        for (int round = 2; round < rounds; round++)
            for (int i = 0; i < singers; i++) {
                if (!dec[i])
                    dec[i] = opus_decoder_create(RATE, 1, &e);
                for (int k = 0; k < 10; k++) {
                    int j = voice_at(i, round, k);
                    if (opus_decode_float(dec[i], pkd[j], pkl[j], pcm, 2880, 0) != 2880)
                        errors++;
                }
                dn++;
            }
        floor_us = dn ? (cpu_now() - t0) / (double)dn * 1e6 : 0;
        for (int i = 0; i < singers; i++)
            if (dec[i])
                opus_decoder_destroy(dec[i]);
        free(dec);
    }
    printf("users: %d (%d singing, %d listening), %s clocks, %s song, %ld timed requests, %ld errors\n",
           total, singers, spectators, op.unaligned ? "unaligned" : "aligned",
           op.metronome ? "metronome" : "a cappella", on.timed, errors);
    printf("cpu_us_per_request: %.1f\n", us);
    printf("exchange_singers_per_core: %.0f\n", per_core);
    printf("without_timing_watch_cpu_us_per_request: %.1f (%.1f, %.1f)\n", off_us, off1.us, off2.us);
    printf("timing_watch_us_per_request: %.1f (%.1f%% of a request)\n", us - off_us,
           100.0 * (us - off_us) / us);
    printf("without_timing_watch_singers_per_core: %.0f\n", 1e6 / (off_us / 0.6));
    if (floor_us > 0) {
        printf("decode_alone_us_per_request: %.1f\n", floor_us);
        printf("decode_alone_singers_per_core: %.0f\n", 1e6 / (floor_us / 0.6));
    }
    return errors ? 1 : 0;
}
