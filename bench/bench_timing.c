/*
 * bench_timing.c - the CPU cost of the timing watch (mixer/timing.h) for
 * one singer, alone: what a worker spends per 600 ms request of a singer
 * beyond the exchange itself, on a loaded machine as on a quiet one (CPU
 * time of this process, not wall time).
 *
 * A sung voice (tests/unit/sung.h: soft onsets, vibrato, breaths, rests,
 * noise) at 100 bpm is fed as a worker feeds it, 600 ms at a time:
 *   beat     against the metronome's beats (nothing heard is collected);
 *   leader   against the mix heard, given as the power of 4 ms steps (what
 *            the frame cache keeps, fr_power()), 1.8 s ahead of the voice;
 *   samples  against the mix heard as samples (a singer on the private
 *            path: the power is computed here).
 * Each case runs `--seconds` of song `--repeat` times over fresh watches.
 * Prints microseconds per request per case, and the share of a request of
 * `--request-us` microseconds (bench_exchange's cpu_us_per_request).
 *
 * usage: bench_timing [--seconds S] [--repeat R] [--request-us US]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "timing.h"
#include "unit/sung.h"

#define RATE 48000
#define BATCH 28800
#define AHEAD (3 * BATCH)

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef enum { BEAT, LEADER, SAMPLES } feed_t;

static const char *mode_name[] = {"beat", "leader", "samples"};

/* Feeds `secs` of voice (and, but for BEAT, the leader heard) to a fresh
 * watch; returns CPU seconds and sets *req to the requests fed and *flag
 * to the verdict's offset (a check that it measured something). */
static double run(feed_t m, const float *voice, const float *lead, const float *lead_power,
                  int secs, long *req, int *flag)
{
    const int64_t t0 = INT64_C(80000000000000) - INT64_C(80000000000000) % 2880;
    tw_ref_t ref = {.basis = m == BEAT ? TW_BASIS_BEAT : TW_BASIS_LEADER, .song = t0 + RATE,
                    .beat0 = t0 + RATE, .period = RATE * 60 / 100};
    tw_t *w = tw_create();
    uint32_t batches = (uint32_t)secs * RATE / BATCH;
    double c0 = cpu_now();
    for (uint32_t b = 0; b < batches; b++) {
        int64_t at = t0 + (int64_t)b * BATCH;
        if (m == LEADER)
            tw_reference_power(w, at + AHEAD, lead_power + (size_t)(b * BATCH + AHEAD) / TW_HOP,
                               BATCH / TW_HOP);
        else if (m == SAMPLES)
            tw_reference(w, at + AHEAD, lead + (size_t)b * BATCH + AHEAD, BATCH);
        tw_voice(w, &ref, at, voice + (size_t)b * BATCH, BATCH);
    }
    double c = cpu_now() - c0;
    tw_verdict_t v;
    tw_verdict(w, &v);
    *flag = v.flagged ? v.offset_ms : 0;
    *req += batches;
    tw_destroy(w);
    return c;
}

int main(int argc, char **argv)
{
    int secs = 60, repeat = 10;
    double request_us = 0;
    static const struct option opts[] = {
        {"seconds", required_argument, 0, 's'},
        {"repeat", required_argument, 0, 'r'},
        {"request-us", required_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "s:r:q:h", opts, NULL)) != -1) {
        switch (o) {
        case 's': secs = atoi(optarg); break;
        case 'r': repeat = atoi(optarg); break;
        case 'q': request_us = atof(optarg); break;
        default:
            printf("usage: bench_timing [--seconds S] [--repeat R] [--request-us US]\n"
                   "  The timing watch's CPU per singer's 600 ms request.\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (secs < 10 || secs > 600 || repeat < 1) {
        fprintf(stderr, "bench_timing: 10..600 seconds, at least one repeat\n");
        return 2;
    }
    size_t n = (size_t)secs * RATE + AHEAD;
    float *voice = malloc(n * sizeof *voice), *lead = malloc(n * sizeof *lead);
    float *power = malloc(n / TW_HOP * sizeof *power);
    if (!voice || !lead || !power)
        return 1;
    const int64_t t0 = INT64_C(80000000000000) - INT64_C(80000000000000) % 2880;
    sung_t v = {.score_seed = 3, .voice_seed = 3, .bpm = 100, .attack_lo = 20, .attack_hi = 50,
                .offset_ms = 80, .jitter_ms = 10, .level_db = -12, .noise_db = -60,
                .rest_share = 0.15};
    sung_t l = v;
    l.voice_seed = 4;
    l.offset_ms = 0;
    sung_render(&v, voice, (uint32_t)n, t0, t0 + RATE);
    sung_render(&l, lead, (uint32_t)n, t0, t0 + RATE);
    tw_step_power(lead, (uint32_t)(n / TW_HOP), power);
    for (int m = BEAT; m <= SAMPLES; m++) {
        double cpu = 0;
        long req = 0;
        int flag = 0;
        for (int r = 0; r < repeat; r++)
            cpu += run((feed_t)m, voice, lead, power, secs, &req, &flag);
        double us = cpu / (double)req * 1e6;
        printf("timing_watch_%s_us_per_request: %.2f (%ld requests; the singer flagged at %+d ms)\n",
               mode_name[m], us, req, flag);
        if (request_us > 0)
            printf("timing_watch_%s_share: %.2f%% of a %.0f us request\n", mode_name[m],
                   100.0 * us / request_us, request_us);
    }
    free(voice);
    free(lead);
    free(power);
    return 0;
}
