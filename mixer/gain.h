/*
 * gain.h - every gain the mix applies, as named, unit-tested functions.
 *
 * Friendly volumes are the user-facing numbers, meant to lie in [0, 2]; they
 * map to linear gains on an exponential curve (PROTOCOL.md section 9.4-9.5).
 * Unlike the original, every friendly value is clamped to [0, 2] first, and
 * a value that is not a finite number is refused, so exp() can never
 * overflow and one bad request cannot silence or deafen a choir.
 */
#ifndef BB_GAIN_H
#define BB_GAIN_H

#include <stdbool.h>
#include <stdint.h>

/* Phantom singers added to the count in the normalisation (section 9.3). */
#define GAIN_PHANTOM 2
#define GAIN_FRIENDLY_MIN 0.0
#define GAIN_FRIENDLY_MAX 2.0

/* Per-sample normalisation for k contributions: (1 + P) / (k + P) with P
 * phantom singers, in float32 as the original computed it:
 * k=0 -> 1.5, 1 -> 1.0, 2 -> 0.75, 3 -> 0.6, 4 -> 0.5, 10 -> 0.25.
 * Negative k is treated as 0. */
float gain_normalise(int32_t k);

/* Clamps a friendly volume to [0, 2].  Returns false (and leaves *out
 * untouched) for NaN or infinity, which callers ignore. */
bool gain_clamp_friendly(double v, double *out);

/* The most a volume everyone hears (the global and the backing volume) may
 * be: about +6 dB (gain_volume(1.1) = 1.995), where 2 would be +60 dB of
 * clipped noise in every ear and in the recording. */
#define GAIN_EVERYONE_MAX 1.1
/* The most a singer's mic volume may be: about +12 dB (gain_mic(1.4) =
 * 3.98), enough for a quiet singer, not enough to drown a choir. */
#define GAIN_MIC_MAX 1.4

/* As gain_clamp_friendly(), to [0, GAIN_EVERYONE_MAX] and [0, GAIN_MIC_MAX]. */
bool gain_clamp_everyone(double v, double *out);
bool gain_clamp_mic(double v, double *out);

/* Linear gain of a global or backing volume: exp(6.908 v) / 1000 with v
 * clamped to [0, 2]: 0 -> 0.001, 1 -> 1.000245, 2 -> 1000.5.  NaN -> 1. */
double gain_volume(double friendly);

/* Linear gain of a mic volume: exp(3.454 (v - 1)), v clamped to [0, 2]:
 * 0 -> 0.0316, 1 -> 1.0, 2 -> 31.6.  NaN -> 1. */
double gain_mic(double friendly);

/* True when a mic volume takes the singer out of the mix: a friendly 0
 * (after clamping) is "muted", not the -30 dB its curve would give. */
bool gain_mic_mutes(double friendly);

/* Scales a float sample so that 1.0 becomes `full_scale` and saturates it to
 * the int16 range (recordings use 16384, leaving 6 dB of headroom).  Never wraps;
 * NaN gives 0.  Rounds to nearest. */
int16_t gain_to_s16(float x, float full_scale);

#endif
