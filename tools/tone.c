/*
 * tone.c - test signal generators and measurements (tone.h).
 *
 * The onset search scans coarsely (a quarter window at a time) to find the
 * first window over the level, then walks back sample by sample over the
 * last coarse step, so a long buffer costs about 4 Goertzel windows per
 * window length plus one fine pass.
 */
#include "tone.h"

#include <math.h>

#define TWO_PI 6.283185307179586

void tone_sine(float *out, size_t n, double freq_hz, double amp, double *phase)
{
    double step = TWO_PI * freq_hz / TONE_RATE;
    double ph = *phase;
    for (size_t i = 0; i < n; i++) {
        out[i] = (float)(amp * sin(ph));
        ph += step;
        if (ph >= TWO_PI)
            ph -= TWO_PI;
    }
    *phase = ph;
}

/* Relative levels of harmonics 1..5. */
static const double voice_harm[5] = { 1.0, 0.5, 0.3, 0.18, 0.1 };

void tone_voice_init(tone_voice_t *v, double f0, double amp)
{
    v->f0 = f0;
    v->amp = amp;
    v->phase = 0;
    v->vib_phase = 0;
}

void tone_voice_render(tone_voice_t *v, float *out, size_t n)
{
    double norm = 0;
    for (int k = 0; k < 5; k++)
        norm += voice_harm[k];
    double vib_step = TWO_PI * 5.5 / TONE_RATE;
    for (size_t i = 0; i < n; i++) {
        double f = v->f0 * (1.0 + 0.015 * sin(v->vib_phase));
        double s = 0;
        for (int k = 0; k < 5; k++)
            s += voice_harm[k] * sin((k + 1) * v->phase);
        out[i] = (float)(v->amp * s / norm);
        v->phase += TWO_PI * f / TONE_RATE;
        if (v->phase >= TWO_PI)
            v->phase -= TWO_PI;
        v->vib_phase += vib_step;
        if (v->vib_phase >= TWO_PI)
            v->vib_phase -= TWO_PI;
    }
}

double tone_rms(const float *x, size_t n)
{
    if (n == 0)
        return 0;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s / (double)n);
}

double tone_goertzel(const float *x, size_t n, double freq_hz)
{
    if (n == 0)
        return 0;
    double w = TWO_PI * freq_hz / TONE_RATE;
    double coeff = 2.0 * cos(w);
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if (power < 0)
        power = 0;
    return 2.0 * sqrt(power) / (double)n;
}

long tone_find_onset(const float *x, size_t n, double freq_hz, double level, size_t window)
{
    if (window == 0 || n < window)
        return -1;
    size_t hop = window / 4 ? window / 4 : 1;
    size_t prev = 0;
    for (size_t at = 0;; at += hop) {
        if (at + window > n)
            at = n - window;
        if (tone_goertzel(x + at, window, freq_hz) >= level) {
            /* Refine: the first start in (prev, at] that already reaches it. */
            size_t first = at;
            for (size_t k = (at == 0 ? 0 : prev + 1); k < at; k++) {
                if (tone_goertzel(x + k, window, freq_hz) >= level) {
                    first = k;
                    break;
                }
            }
            return (long)(first + window / 2);
        }
        if (at + window >= n)
            return -1;
        prev = at;
    }
}
