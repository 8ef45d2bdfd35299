/*
 * tone.h - test signals and the measurements the protocol tests make on
 * what comes back: a pure tone, a sung-like voice (a fundamental with
 * vibrato and a few harmonics, which Opus codes like singing rather than
 * like a test tone), RMS, the amplitude of one frequency by the Goertzel
 * algorithm, and the first sample where a tone appears.
 *
 * Everything runs at 48 000 Hz, the rate of every clock on the wire.
 * Amplitudes are linear, 1.0 being full scale.  Generators carry their phase
 * in caller-owned state, so consecutive blocks join without a click.
 */
#ifndef BB_TONE_H
#define BB_TONE_H

#include <stddef.h>
#include <stdint.h>

#define TONE_RATE 48000

/* Writes n samples of amp * sin(phase), advancing *phase (radians) by
 * 2*pi*freq_hz/48000 per sample; *phase stays within [0, 2*pi). */
void tone_sine(float *out, size_t n, double freq_hz, double amp, double *phase);

/* A sung-like voice: fundamental f0 with a 5.5 Hz vibrato of +-1.5 %, and
 * harmonics 2..5 at falling levels; the peak stays at or below amp. */
typedef struct {
    double f0;          /* Hz, 50 .. 2000 */
    double amp;         /* 0 .. 1 */
    double phase;       /* of the fundamental, radians */
    double vib_phase;   /* of the vibrato, radians */
} tone_voice_t;

void tone_voice_init(tone_voice_t *v, double f0, double amp);

/* Writes the next n samples of the voice. */
void tone_voice_render(tone_voice_t *v, float *out, size_t n);

/* Root mean square of x[0..n); 0 for n == 0. */
double tone_rms(const float *x, size_t n);

/* Amplitude of the component at freq_hz in x[0..n), by the Goertzel
 * algorithm: a sine of amplitude A whose frequency fits the block gives
 * about A (a little less when it falls between two bins).  0 for n == 0. */
double tone_goertzel(const float *x, size_t n, double freq_hz);

/* The first sample index at which a tone of freq_hz reaches `level`
 * (linear amplitude): the centre of the first window of `window` samples
 * whose Goertzel amplitude is at least level.  For a tone switched on at
 * sample s with amplitude A and level A/2 this is s, within a few samples.
 * window should span several periods (480 samples = 10 ms suits 200 Hz and
 * up).  Returns -1 if the tone never reaches the level. */
long tone_find_onset(const float *x, size_t n, double freq_hz, double level, size_t window);

#endif
