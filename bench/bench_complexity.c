/*
 * bench_complexity.c - what a cheaper Opus setting costs a private stream in
 * quality, and what it saves in CPU.
 *
 * A singer whose read clock is not on whole Opus frames (the original
 * client) hears the mix through an encoder of its own: one encode per
 * singer per 60 ms frame, which dominates that path's CPU.  This program
 * takes a song mix the way a worker has it and encodes it as the worker's
 * private path does (es_encoder_init(), 60 ms frames, then the complexity
 * under test), at every complexity from 10 down to 0, decodes it, and
 * prints for each setting:
 *
 *   - the SNR of the decoded mix against the exact mix (the samples the
 *     encoder was given), the decoded stream moved back by the encoder's
 *     lookahead, over the whole song;
 *   - the encoder's CPU time per frame (the median of several passes, the
 *     settings taken in a rotating order each pass, so that a busy machine
 *     weighs on all of them alike) and its share of complexity 10's.
 *
 * Then the cheapest setting whose SNR on the choir is within 1 dB of
 * complexity 10's (`chosen_private_complexity: N`), the cheapest within
 * 1 dB for all three listeners (`chosen_for_every_listener: N`; settings
 * within 3% of each other's CPU count as alike, the lower one chosen), and
 * the worker's setting for such streams (`worker_private_complexity`,
 * OUT_PRIVATE_COMPLEXITY) with what it costs.
 *
 * Then a sweep over the number of voices a listener hears, 1 to SWEEP, in
 * two kinds of mix: the song's phrases with their rests (the four parts
 * doubled an octave up, then two octaves), and steady chords held through
 * the song, every voice on one vibrato (tone.h), the kind of mix that
 * leans hardest on the pitch pre-filter.  For each, the SNR at complexity
 * 0 against 10, and the fewest voices from which on every mix of both
 * kinds is within 1 dB (`auto_voices_within_1db: N`): the worker's auto
 * setting uses 0 only from OUT_AUTO_VOICES voices, which must not be
 * fewer (`worker_auto_voices: N`).
 *
 * The song (deterministic, 32 s): four voices (bass, tenor, alto, soprano)
 * on a chord progression, sung-like tones (tone.h: vibrato, harmonics) with
 * soft attacks and releases, each resting 30% of its time at the ends of
 * phrases, staggered so that the choir never falls silent together; each
 * voice goes through Opus at 64 kbit/s and back, as an upload does; a
 * backing chord like a piano's (struck, decaying) under them.  Three
 * listeners hear it: the whole choir with the backing (a late bucket), the
 * soprano with the backing (an early bucket), the soprano alone (a bucket
 * with no track); each mix normalised as the mixer does (gain_normalise()
 * of the singers in it).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opus.h>

#include "encshare.h"
#include "gain.h"
#include "output.h"
#include "tone.h"

#define RATE 48000
#define FRAME 2880                  /* 60 ms, as the worker encodes */
#define SLOT_S 2                    /* one chord, seconds */
#define SLOTS 16
#define SONG (SLOTS * SLOT_S * RATE)
#define VOICES 4
#define MAX_C 10
#define SWEEP 12                    /* voices in the sweep */

/* The progression (I vi IV V ... in C), as MIDI notes: bass, tenor, alto,
 * and two soprano notes per chord (a melody in half chords). */
static const int prog[SLOTS][VOICES + 1] = {
    {48, 55, 64, 72, 74}, {45, 57, 64, 72, 71}, {41, 57, 65, 69, 72}, {43, 55, 62, 71, 67},
    {48, 55, 64, 67, 69}, {45, 57, 60, 69, 71}, {41, 53, 65, 72, 74}, {43, 55, 62, 74, 71},
    {48, 55, 64, 76, 74}, {45, 52, 64, 72, 69}, {41, 57, 65, 69, 72}, {43, 59, 62, 74, 77},
    {48, 55, 67, 76, 74}, {41, 57, 65, 72, 69}, {43, 55, 62, 71, 74}, {48, 55, 64, 72, 72},
};

static double midi_hz(int m) { return 440.0 * pow(2.0, (m - 69) / 12.0); }

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether voice v rests in half-slot h (0 .. 2 * SLOTS): three halves in
 * ten, at phrase ends (the second half of a chord more often), staggered
 * by voice. */
static bool rests(int v, int h)
{
    int k = (h + 3 * v) % 10;
    return k == 3 || k == 7 || k == 9;
}

/* One voice of the song, as sung (before the upload's codec).  Voices 4
 * and up double the parts, an octave up and then two, resting elsewhere. */
static void sing(int v, float *x)
{
    static float note[RATE];
    const double amp[VOICES] = {0.30, 0.26, 0.24, 0.28};
    tone_voice_t tv;
    memset(x, 0, SONG * sizeof *x);
    for (int h = 0; h < 2 * SLOTS; h++) {
        if (rests(v, h))
            continue;
        int p = v % VOICES;
        int m = prog[h / 2][p < 3 ? p : 3 + h % 2] + 12 * (v / VOICES);
        size_t len = RATE * SLOT_S / 2 - RATE / 12;   /* a breath before the next note */
        tone_voice_init(&tv, midi_hz(m), amp[p]);
        tone_voice_render(&tv, note, len);
        size_t at = (size_t)h * (RATE * SLOT_S / 2);
        for (size_t i = 0; i < len; i++) {
            double env = 1.0;
            if (i < RATE / 50)
                env = (double)i / (RATE / 50);                 /* 20 ms onset */
            else if (i > len - RATE / 20)
                env = (double)(len - i) / (RATE / 20);         /* 50 ms release */
            x[at + i] = (float)(note[i] * env);
        }
    }
}

/* x through Opus at 64 kbit/s and back, as the worker has an upload. */
static int upload(float *x)
{
    int e;
    OpusEncoder *enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &e);
    OpusDecoder *dec = opus_decoder_create(RATE, 1, &e);
    if (!enc || !dec)
        return -1;
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(64000));
    uint8_t pkt[1500];
    for (int f = 0; f < SONG / FRAME; f++) {
        int k = opus_encode_float(enc, x + f * FRAME, FRAME, pkt, sizeof pkt);
        if (k < 0 || opus_decode_float(dec, pkt, k, x + f * FRAME, FRAME, 0) != FRAME)
            return -1;
    }
    opus_encoder_destroy(enc);
    opus_decoder_destroy(dec);
    return 0;
}

/* The backing: each chord struck at the start of its slot, a fundamental
 * and a softer octave per note, decaying. */
static void backing(float *x)
{
    for (int s = 0; s < SLOTS; s++)
        for (int n = 0; n < 3; n++) {
            double f = midi_hz(prog[s][n] + 12 * (n == 0));
            for (int i = 0; i < SLOT_S * RATE; i++) {
                double t = (double)i / RATE;
                double env = (i < 96 ? i / 96.0 : 1.0) * exp(-1.2 * t);
                double ph = 2 * M_PI * f * t;
                x[s * SLOT_S * RATE + i] += (float)(0.07 * env * (sin(ph) + 0.3 * sin(2 * ph)));
            }
        }
}

/* A private stream of the mix at complexity c: packets into pk (lengths
 * in len), CPU seconds returned. */
static double encode(const float *mix, int c, uint8_t (*pk)[ES_PACKET_MAX], int *len)
{
    static _Alignas(16) uint8_t st[65536];
    OpusEncoder *enc = (OpusEncoder *)st;
    if ((size_t)opus_encoder_get_size(1) > sizeof st || es_encoder_init(enc) != OPUS_OK ||
        opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(c)) != OPUS_OK)
        return -1;
    double t0 = cpu_now();
    for (int f = 0; f < SONG / FRAME; f++) {
        len[f] = opus_encode_float(enc, mix + f * FRAME, FRAME, pk[f], ES_PACKET_MAX);
        if (len[f] < 0)
            return -1;
    }
    return cpu_now() - t0;
}

/* SNR (dB) of the stream in pk decoded against mix, the decoded samples
 * moved back by the encoder's lookahead la. */
static double snr(const float *mix, uint8_t (*pk)[ES_PACKET_MAX], const int *len, int la)
{
    static float out[SONG];
    int e;
    OpusDecoder *dec = opus_decoder_create(RATE, 1, &e);
    for (int f = 0; f < SONG / FRAME; f++)
        if (opus_decode_float(dec, pk[f], len[f], out + f * FRAME, FRAME, 0) != FRAME)
            return -INFINITY;
    opus_decoder_destroy(dec);
    double sig = 0, err = 0;
    for (int i = 0; i + la < SONG; i++) {
        double d = (double)out[i + la] - mix[i];
        sig += (double)mix[i] * mix[i];
        err += d * d;
    }
    return 10 * log10(sig / (err + 1e-30));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The mix a listener hears when the first `voices` voices sing (with the
 * backing chord or not), normalised as the mixer does; its peak returned. */
static double make_mix(float *mix, int voices, bool with_backing)
{
    static float voice[SONG];
    memset(mix, 0, SONG * sizeof *mix);
    if (with_backing)
        backing(mix);
    for (int v = VOICES - voices; v < VOICES; v++) {
        sing(v, voice);
        if (upload(voice) != 0)
            return -1;
        for (int i = 0; i < SONG; i++)
            mix[i] += voice[i];
    }
    float g = gain_normalise(voices);
    double peak = 0;
    for (int i = 0; i < SONG; i++) {
        mix[i] *= g;
        peak = fmax(peak, fabs(mix[i]));
    }
    return peak;
}

/* A steady voice: note v of a wide chord held through the song. */
static void hold(int v, float *x)
{
    static const int chord[SWEEP] = {48, 55, 64, 72, 43, 60, 67, 76, 52, 59, 69, 79};
    tone_voice_t tv;
    tone_voice_init(&tv, midi_hz(chord[v % SWEEP]), 0.25);
    tone_voice_render(&tv, x, SONG);
}

/* The sweep: for n = 1 .. SWEEP voices of each kind (sung, steady), the
 * SNR at complexity 0 less the SNR at 10, into d[kind][n]. */
static int sweep(double d[2][SWEEP + 1], uint8_t (*pk)[ES_PACKET_MAX], int *len, int la)
{
    static float voice[SONG], sum[SONG], mix[SONG];
    for (int kind = 0; kind < 2; kind++) {
        memset(sum, 0, sizeof sum);
        for (int n = 1; n <= SWEEP; n++) {
            if (kind == 0)
                sing(n - 1, voice);
            else
                hold(n - 1, voice);
            if (upload(voice) != 0)
                return -1;
            float g = gain_normalise(n);
            for (int i = 0; i < SONG; i++) {
                sum[i] += voice[i];
                mix[i] = sum[i] * g;
            }
            if (encode(mix, MAX_C, pk, len) < 0)
                return -1;
            double at10 = snr(mix, pk, len, la);
            if (encode(mix, 0, pk, len) < 0)
                return -1;
            d[kind][n] = snr(mix, pk, len, la) - at10;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"passes", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int passes = 7, o;
    while ((o = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        if (o == 'p') {
            passes = atoi(optarg);
        } else {
            printf("usage: bench_complexity [--passes N]\n"
                   "  SNR and encode CPU of a private stream at each Opus complexity.\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (passes < 1 || passes > 100) {
        fprintf(stderr, "bench_complexity: --passes must be 1..100\n");
        return 2;
    }

    /* The choir (four voices and the backing), the soprano with the
     * backing (what an early bucket hears), the soprano alone. */
    enum { M = 3 };
    static float mix[M][SONG];
    double peak[M] = {make_mix(mix[0], VOICES, true), make_mix(mix[1], 1, true),
                      make_mix(mix[2], 1, false)};
    if (peak[0] < 0 || peak[1] < 0 || peak[2] < 0) {
        fprintf(stderr, "bench_complexity: Opus failed on the uploads\n");
        return 1;
    }

    static uint8_t pk[SONG / FRAME][ES_PACKET_MAX];
    static int len[SONG / FRAME];
    static double t[MAX_C + 1][100];
    double db[M][MAX_C + 1], kbit[MAX_C + 1], us[MAX_C + 1];
    int la = 0;
    {
        static _Alignas(16) uint8_t st[65536];
        es_encoder_init((OpusEncoder *)st);
        opus_encoder_ctl((OpusEncoder *)st, OPUS_GET_LOOKAHEAD(&la));
    }
    for (int m = 1; m < M; m++)
        for (int c = 0; c <= MAX_C; c++) {
            if (encode(mix[m], c, pk, len) < 0) {
                fprintf(stderr, "bench_complexity: Opus failed at complexity %d\n", c);
                return 1;
            }
            db[m][c] = snr(mix[m], pk, len, la);
        }
    /* The CPU on the choir, which every setting encodes once per pass. */
    for (int p = 0; p < passes; p++)
        for (int k = 0; k <= MAX_C; k++) {
            int c = (k + p) % (MAX_C + 1);
            t[c][p] = encode(mix[0], c, pk, len);
            if (t[c][p] < 0) {
                fprintf(stderr, "bench_complexity: Opus failed at complexity %d\n", c);
                return 1;
            }
            if (p == 0) {
                db[0][c] = snr(mix[0], pk, len, la);
                long bytes = 0;
                for (int f = 0; f < SONG / FRAME; f++)
                    bytes += len[f];
                kbit[c] = bytes * 8.0 / ((double)SONG / RATE) / 1000;
            }
        }
    for (int c = 0; c <= MAX_C; c++) {
        qsort(t[c], (size_t)passes, sizeof t[c][0], cmp_double);
        us[c] = t[c][passes / 2] / (SONG / FRAME) * 1e6;
    }

    printf("A song (%d s) as three listeners hear it: the choir (%d voices resting 30%%, a\n"
           "backing chord; peak %.2f), the soprano with the backing (peak %.2f), the soprano\n"
           "alone (peak %.2f); each encoded as a private stream in 60 ms frames.  SNR of the\n"
           "decoded mix against the exact mix (lookahead %d samples); encode CPU per frame\n"
           "on the choir, the median of %d passes\n",
           SONG / RATE, VOICES, peak[0], peak[1], peak[2], la, passes);
    printf("%-10s %14s %14s %14s %12s %6s %6s\n", "complexity", "choir dB", "1+backing dB",
           "solo dB", "encode us/fr", "of 10", "kbit/s");
    int chosen = MAX_C, chosen_all = MAX_C;
    for (int c = MAX_C; c >= 0; c--) {
        printf("%-10d", c);
        for (int m = 0; m < M; m++)
            printf(" %6.2f (%+5.2f)", db[m][c], db[m][c] - db[m][MAX_C]);
        printf(" %12.1f %6.2f %6.1f\n", us[c], us[c] / us[MAX_C], kbit[c]);
        bool ok[M];
        for (int m = 0; m < M; m++)
            ok[m] = db[m][c] >= db[m][MAX_C] - 1.0;
        /* Settings within 3% of each other's CPU are alike: the lower wins. */
        if (ok[0] && us[c] < 0.97 * us[chosen])
            chosen = c;
        if (ok[0] && ok[1] && ok[2] && us[c] < 0.97 * us[chosen_all])
            chosen_all = c;
    }
    printf("snr_db_complexity_10: %.2f (choir), %.2f (one voice and backing), %.2f (solo)\n",
           db[0][MAX_C], db[1][MAX_C], db[2][MAX_C]);
    printf("encode_us_per_frame_complexity_10: %.1f\n", us[MAX_C]);
    printf("chosen_private_complexity: %d (the choir within 1 dB: %+.2f dB; %.2f of 10's CPU)\n",
           chosen, db[0][chosen] - db[0][MAX_C], us[chosen] / us[MAX_C]);
    printf("chosen_for_every_listener: %d (all three within 1 dB; %.2f of 10's CPU)\n", chosen_all,
           us[chosen_all] / us[MAX_C]);
    int w = ES_COMPLEXITY;   /* auto's setting for fewer voices */
    printf("worker_private_complexity: %s (below %d voices %d: against 10, choir %+.2f dB, one "
           "voice and backing %+.2f dB, solo %+.2f dB; %.1f us per frame, %.2f of 10's CPU; "
           "from %d voices 0: %.1f us, %.2f)\n",
           OUT_PRIVATE_COMPLEXITY == OUT_COMPLEXITY_AUTO ? "auto" : "fixed", OUT_AUTO_VOICES, w,
           db[0][w] - db[0][MAX_C], db[1][w] - db[1][MAX_C], db[2][w] - db[2][MAX_C], us[w],
           us[w] / us[MAX_C], OUT_AUTO_VOICES, us[0], us[0] / us[MAX_C]);

    double d[2][SWEEP + 1];
    if (sweep(d, pk, len, la) != 0) {
        fprintf(stderr, "bench_complexity: Opus failed in the sweep\n");
        return 1;
    }
    printf("\nComplexity 0 against 10 by the number of voices heard (SNR difference, dB):\n");
    printf("%-7s %8s %8s\n", "voices", "sung", "steady");
    int from = SWEEP + 1;
    for (int n = SWEEP; n >= 1; n--)
        if (d[0][n] >= -1.0 && d[1][n] >= -1.0)
            from = n;
        else
            break;
    for (int n = 1; n <= SWEEP; n++)
        printf("%-7d %+8.2f %+8.2f\n", n, d[0][n], d[1][n]);
    printf("auto_voices_within_1db: %d\n", from);
    printf("worker_auto_voices: %d (%s)\n", OUT_AUTO_VOICES,
           OUT_AUTO_VOICES >= from ? "not fewer: every mix it encodes at 0 is within 1 dB"
                                   : "FEWER than measured: mixes it encodes at 0 lose more than 1 dB");
    return 0;
}
