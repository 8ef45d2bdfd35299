/*
 * tones.h - pure tones for the worker's component tests that tell voices
 * apart by pitch: a tone to sing, the amplitude of one frequency in what
 * a listener heard (Goertzel), and dB of full scale.  Header-only.
 */
#ifndef BB_TESTS_TONES_H
#define BB_TESTS_TONES_H

#include <math.h>

#include "exclient.h"

/* N samples of a sine of hz at amplitude amp, from absolute clock t0 (so
 * that singers at the same clocks sing the same phase). */
static inline void fill_tone(float *x, int64_t t0, double hz, float amp)
{
    for (int i = 0; i < N; i++)
        x[i] = amp * (float)sin(2 * M_PI * hz * (double)(t0 + i) / RATE);
}

/* Amplitude of frequency hz in x (n samples), by Goertzel. */
static inline double level(const float *x, int n, double hz)
{
    double w = 2 * M_PI * hz / RATE, k = 2 * cos(w), s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double s0 = x[i] + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    double p = s1 * s1 + s2 * s2 - k * s1 * s2;
    return 2 * sqrt(p) / n;
}

/* v in dB (of full scale for an amplitude), -240 for nothing. */
static inline double db(double v) { return 20 * log10(v > 1e-12 ? v : 1e-12); }

#endif
