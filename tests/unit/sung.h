/*
 * sung.h - a synthetic sung voice for the timing tests: notes on a beat
 * grid with soft onsets, as a choir singer sings them.  Header-only.
 *
 * Each note is a tone of six harmonics (1/h) on a pitch of a major scale
 * around 220 Hz, with vibrato (5.5 Hz, +-1.2 %, growing in over 200 ms)
 * and a little tremolo (+-1 dB), entering with a raised-cosine attack of
 * attack_lo..attack_hi ms and leaving with a 60 ms raised-cosine release.
 * Notes start on beats, last one or two beats (legato or with a breath
 * between), with rests and the odd note on the half beat; every note of
 * the singer starts offset_ms after its place (positive: late), plus a
 * uniform human spread of +-jitter_ms.  Breath noise (white, noise_db) is
 * under everything, and a Schroeder reverb (four combs, two allpasses,
 * about 0.6 s) can be added at wet gain `reverb`.
 *
 * The score (which beats get which note) depends on `score_seed` only, so
 * that a leader and a singer can sing the same song with their own voices
 * and timing (voice_seed).
 */
#ifndef BB_TESTS_SUNG_H
#define BB_TESTS_SUNG_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t score_seed;     /* which beats hold which notes */
    uint64_t voice_seed;     /* the singer's own pitch choices, timing, noise */
    double bpm;
    double attack_lo, attack_hi;  /* ms */
    double offset_ms;        /* positive: late */
    double jitter_ms;        /* uniform +- spread per note */
    double level_db;         /* peak level of a note, dBFS */
    double noise_db;         /* breath noise, dBFS RMS; below -200: none */
    double reverb;           /* wet gain, 0: dry */
    double rest_share;       /* share of notes that are rests */
} sung_t;

static inline uint64_t sung_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline double sung_uniform(uint64_t *s)
{
    return (double)(sung_rand(s) >> 11) / 9007199254740992.0;
}

/* Adds one note into x (n samples from clock t0): onset at clock `on`,
 * lasting `len` samples. */
static inline void sung_note(float *x, uint32_t n, int64_t t0, int64_t on, int64_t len, double f0,
                             double attack_s, double amp, double vib_phase)
{
    const double fs = 48000.0, rel = 0.06 * fs;
    int64_t b = on - t0 + len;
    if (b > (int64_t)n)
        b = (int64_t)n;
    double ph = 0;
    for (int64_t i = on - t0 < 0 ? 0 : on - t0; i < b; i++) {
        double t = (double)(i - (on - t0)) / fs;
        double vd = 0.012 * (t < 0.2 ? t / 0.2 : 1.0);
        double f = f0 * (1.0 + vd * sin(2 * M_PI * 5.5 * t + vib_phase));
        ph += 2 * M_PI * f / fs;
        double env = t < attack_s ? 0.5 - 0.5 * cos(M_PI * t / attack_s) : 1.0;
        double left = (double)(len - (i - (on - t0)));
        if (left < rel)
            env *= 0.5 - 0.5 * cos(M_PI * left / rel);
        env *= pow(10.0, 0.05 * sin(2 * M_PI * 5.5 * t + vib_phase + 1.0));
        /* Six harmonics by the recurrence sin((h+1)p) = 2 cos p sin(hp) - sin((h-1)p). */
        double s1 = sin(ph), c2 = 2 * cos(ph), prev = 0, cur = s1, s = 0;
        for (int h = 1; h <= 6; h++) {
            s += cur / h;
            double next = c2 * cur - prev;
            prev = cur;
            cur = next;
        }
        x[i] += (float)(amp * env * s / 2.45);
    }
}

/* A Schroeder reverb over x in place: the wet signal times `wet` added. */
static inline void sung_reverb(float *x, uint32_t n, double wet)
{
    static const int comb[4] = {557, 617, 691, 797};
    static const int ap[2] = {113, 241};
    float *y = calloc(n, sizeof *y);
    for (int c = 0; c < 4; c++) {
        double g = pow(10.0, -3.0 * comb[c] / (0.6 * 48000.0));
        float *buf = calloc((size_t)comb[c], sizeof *buf);
        for (uint32_t i = 0; i < n; i++) {
            int k = (int)(i % (uint32_t)comb[c]);
            float out = buf[k];
            buf[k] = (float)(x[i] + g * out);
            y[i] += out * 0.25f;
        }
        free(buf);
    }
    for (int a = 0; a < 2; a++) {
        float *buf = calloc((size_t)ap[a], sizeof *buf);
        for (uint32_t i = 0; i < n; i++) {
            int k = (int)(i % (uint32_t)ap[a]);
            float d = buf[k];
            float in = y[i];
            buf[k] = (float)(in + 0.5 * d);
            y[i] = (float)(d - 0.5 * buf[k]);
        }
        free(buf);
    }
    for (uint32_t i = 0; i < n; i++)
        x[i] += (float)(wet * y[i]);
    free(y);
}

/* Renders n samples from clock t0 of the song whose first beat is at
 * beat0, sung as p says, into x. */
static inline void sung_render(const sung_t *p, float *x, uint32_t n, int64_t t0, int64_t beat0)
{
    static const double scale[8] = {0, 2, 4, 5, 7, 9, 11, 12};
    memset(x, 0, n * sizeof *x);
    const double fs = 48000.0;
    double period = 60.0 / p->bpm * fs;
    uint64_t sc = p->score_seed * 2654435761u + 1, vs = p->voice_seed * 40503u + 7;
    double amp = pow(10.0, p->level_db / 20.0);
    int64_t beats = (int64_t)((double)(t0 + n - beat0) / period) + 2;
    for (int64_t k = 0; k < beats;) {
        /* The score: a rest, or a note of one or two beats, legato or with
         * a breath, now and then starting on the half beat. */
        double r = sung_uniform(&sc);
        int dur = sung_uniform(&sc) < 0.35 ? 2 : 1;
        bool half = sung_uniform(&sc) < 0.08;
        bool breath = sung_uniform(&sc) < 0.6;
        int deg = (int)(sung_uniform(&sc) * 8);
        double jit = (2 * sung_uniform(&vs) - 1) * p->jitter_ms;
        double att = p->attack_lo + (p->attack_hi - p->attack_lo) * sung_uniform(&vs);
        double vib = 2 * M_PI * sung_uniform(&vs);
        double lv = amp * pow(10.0, (sung_uniform(&vs) - 0.5) * 4.0 / 20.0);
        if (r >= p->rest_share) {
            double on = (double)beat0 + ((double)k + (half ? 0.5 : 0.0)) * period +
                        (p->offset_ms + jit) * fs / 1000.0;
            double len = (dur - (half ? 0.5 : 0.0)) * period - (breath ? 0.12 * fs : -0.03 * fs);
            double f0 = 220.0 * pow(2.0, scale[deg] / 12.0) * (p->voice_seed % 2 ? 1.0 : 0.75);
            sung_note(x, n, t0, (int64_t)llround(on), (int64_t)len, f0, att / 1000.0, lv, vib);
        }
        k += dur;
    }
    if (p->reverb > 0)
        sung_reverb(x, n, p->reverb);
    if (p->noise_db > -200) {
        double na = pow(10.0, p->noise_db / 20.0) * sqrt(3.0);
        for (uint32_t i = 0; i < n; i++)
            x[i] += (float)(na * (2 * sung_uniform(&vs) - 1));
    }
}

#endif
