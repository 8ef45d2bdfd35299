/*
 * gain.c - the volume curves and the normalisation.
 */
#include <math.h>

#include "gain.h"

float gain_normalise(int32_t k)
{
    if (k < 0)
        k = 0;
    return (float)(1 + GAIN_PHANTOM) / (float)(k + GAIN_PHANTOM);
}

bool gain_clamp_friendly(double v, double *out)
{
    if (!isfinite(v))
        return false;
    if (v < GAIN_FRIENDLY_MIN)
        v = GAIN_FRIENDLY_MIN;
    else if (v > GAIN_FRIENDLY_MAX)
        v = GAIN_FRIENDLY_MAX;
    *out = v;
    return true;
}

static bool clamp_to(double v, double max, double *out)
{
    if (!gain_clamp_friendly(v, out))
        return false;
    if (*out > max)
        *out = max;
    return true;
}

bool gain_clamp_everyone(double v, double *out) { return clamp_to(v, GAIN_EVERYONE_MAX, out); }
bool gain_clamp_mic(double v, double *out) { return clamp_to(v, GAIN_MIC_MAX, out); }

double gain_volume(double friendly)
{
    double v;
    if (!gain_clamp_friendly(friendly, &v))
        return 1.0;
    return exp(6.908 * v) / 1000.0;
}

double gain_mic(double friendly)
{
    double v;
    if (!gain_clamp_friendly(friendly, &v))
        return 1.0;
    return exp(6.908 * v * 0.5) / exp(6.908 * 0.5);
}

bool gain_mic_mutes(double friendly)
{
    double v;
    return gain_clamp_friendly(friendly, &v) && v <= GAIN_FRIENDLY_MIN;
}

int16_t gain_to_s16(float x, float full_scale)
{
    if (!(x == x))
        return 0;
    float y = x * full_scale;
    if (y >= 32767.0f)
        return 32767;
    if (y <= -32768.0f)
        return -32768;
    return (int16_t)lrintf(y);
}
