/*
 * tempo.c - metronome and rounds.
 */
#include <string.h>

#include "ring.h"
#include "tempo.h"

int64_t tempo_beat_period(int32_t bpm)
{
    if (bpm < 1 || bpm > TEMPO_BPM_MAX)
        return 0;
    return (int64_t)(60 * RING_SAMPLE_RATE) / bpm;
}

void tempo_fill_metronome(int64_t song_start, int64_t period, int64_t start,
                          uint32_t n, float *out)
{
    memset(out, 0, (size_t)n * sizeof *out);
    if (period <= 0)
        return;
    int64_t end = start + n;
    int64_t first = song_start;
    if (start > song_start) {
        /* The first beat at or after `start`. */
        int64_t k = ring_floor_div(start - song_start + period - 1, period);
        first = song_start + k * period;
    }
    for (int64_t t = first; t < end; t += period)
        out[t - start] = TEMPO_CLICK;
}

bool tempo_rounds_on(int32_t bpm, int32_t bpr, int32_t repeats)
{
    return bpm > 0 && bpr > 0 && repeats > 0;
}

int64_t tempo_repeat_len(int32_t bpm, int32_t bpr)
{
    if (bpm <= 0 || bpr <= 0)
        return 0;
    return (int64_t)((60.0 / bpm) * bpr * (double)RING_SAMPLE_RATE);
}

int32_t tempo_rounds_pad(int32_t bpm, int32_t bpr, int32_t repeats)
{
    if (!tempo_rounds_on(bpm, bpr, repeats))
        return 0;
    int64_t p = (int64_t)((60.0 / bpm) * bpr * repeats);
    return (int32_t)(p < TEMPO_ROUNDS_PAD_MAX ? p : TEMPO_ROUNDS_PAD_MAX);
}

uint32_t tempo_round_copies(int64_t pos, uint32_t n, int32_t bpm, int32_t bpr,
                            int32_t repeats, int64_t now, int64_t *out,
                            uint32_t max)
{
    if (!tempo_rounds_on(bpm, bpr, repeats))
        return 0;
    int64_t r = tempo_repeat_len(bpm, bpr);
    uint32_t k = 0;
    for (int32_t i = 1; i <= repeats && k < max; i++) {
        int64_t p = pos + r * i;
        if (p + (int64_t)n < now)
            out[k++] = p;
    }
    return k;
}
