/* test_tempo.c - metronome beat placement and rounds, sample-exact. */
#include <string.h>

#include "check.h"
#include "tempo.h"

/* The original's phase-carry metronome (PROTOCOL.md 9.10), as a reference:
 * with the carry starting at 0 on the song start it must place exactly the
 * beats the stateless version does, however time is cut into ranges. */
static void carry_fill(int64_t *leftover, int64_t period, uint32_t n, float *buf)
{
    memset(buf, 0, n * sizeof *buf);
    int64_t rem = n;
    while (*leftover < rem) {
        rem -= *leftover;
        buf[n - rem] = 1.0f;
        *leftover = period;
    }
    *leftover -= rem;
}

int main(void)
{
    CHECK_INIT(c);
    CHECK_EQ_I(c, tempo_beat_period(120), 24000);
    CHECK_EQ_I(c, tempo_beat_period(97), 29690);
    CHECK_EQ_I(c, tempo_beat_period(1), 2880000);
    CHECK_EQ_I(c, tempo_beat_period(500), 5760);
    CHECK_EQ_I(c, tempo_beat_period(0), 0);     /* quirk 9: no division by zero */
    CHECK_EQ_I(c, tempo_beat_period(-5), 0);
    CHECK_EQ_I(c, tempo_beat_period(501), 0);

    /* Beats exactly at start + k * period. */
    static float out[100000];
    int64_t start = 86000000000000LL + 17;
    tempo_fill_metronome(start, 24000, start - 10, 100000, out);
    int beats = 0;
    for (int i = 0; i < 100000; i++)
        if (out[i] != 0.0f) {
            beats++;
            CHECK_EQ_I(c, (start - 10 + i - start) % 24000, 0);
            CHECK(c, out[i] == TEMPO_CLICK);
        }
    CHECK_EQ_I(c, beats, 5);  /* at +0, 24000, 48000, 72000, 96000 (< 99990) */
    CHECK(c, out[10] == 1.0f && out[9] == 0.0f);
    /* Nothing before the song start. */
    tempo_fill_metronome(start, 24000, start - 50000, 50000, out);
    int any = 0;
    for (int i = 0; i < 50000; i++)
        any |= out[i] != 0.0f;
    CHECK(c, !any);
    tempo_fill_metronome(start, 0, start, 1000, out);
    CHECK(c, out[0] == 0.0f);

    /* Equivalence with the carry form over odd-sized ranges, for several
     * tempos. */
    static const int bpms[] = {1, 60, 97, 120, 333, 500};
    for (size_t b = 0; b < sizeof bpms / sizeof bpms[0]; b++) {
        int64_t period = tempo_beat_period(bpms[b]), leftover = 0, t = start;
        static float ref[4096], got[4096];
        int ok = 1;
        for (int k = 0; k < 3000; k++) {
            uint32_t n = (uint32_t)(512 + (k * 37) % 3584);
            carry_fill(&leftover, period, n, ref);
            tempo_fill_metronome(start, period, t, n, got);
            ok &= memcmp(ref, got, n * sizeof(float)) == 0;
            t += n;
        }
        CHECK(c, ok);
    }

    /* Rounds. */
    CHECK(c, tempo_rounds_on(90, 8, 3));
    CHECK(c, !tempo_rounds_on(90, 0, 3));
    CHECK(c, !tempo_rounds_on(0, 8, 3));
    CHECK(c, !tempo_rounds_on(90, 8, 0));
    CHECK_EQ_I(c, tempo_repeat_len(90, 8), 256000);
    CHECK_EQ_I(c, tempo_repeat_len(97, 7), 207835);
    CHECK_EQ_I(c, tempo_rounds_pad(90, 8, 3), 16);
    CHECK_EQ_I(c, tempo_rounds_pad(30, 100, 20), 90);   /* capped */
    CHECK_EQ_I(c, tempo_rounds_pad(90, 0, 3), 0);
    int64_t cp[TEMPO_REPEATS_MAX];
    int64_t pos = 1000000;
    /* All copies in the past: i = 1..repeats, each exactly R later. */
    uint32_t n = tempo_round_copies(pos, 28800, 90, 8, 3, pos + 10000000, cp, TEMPO_REPEATS_MAX);
    CHECK_EQ_I(c, n, 3);
    CHECK_EQ_I(c, cp[0], pos + 256000);
    CHECK_EQ_I(c, cp[1], pos + 512000);
    CHECK_EQ_I(c, cp[2], pos + 768000);
    /* Only copies lying entirely in the past (strictly before now). */
    n = tempo_round_copies(pos, 28800, 90, 8, 3, pos + 512000 + 28800, cp, TEMPO_REPEATS_MAX);
    CHECK_EQ_I(c, n, 1);
    n = tempo_round_copies(pos, 28800, 90, 8, 3, pos + 512000 + 28801, cp, TEMPO_REPEATS_MAX);
    CHECK_EQ_I(c, n, 2);
    n = tempo_round_copies(pos, 28800, 90, 0, 3, pos + 10000000, cp, TEMPO_REPEATS_MAX);
    CHECK_EQ_I(c, n, 0);
    return check_done(&c, "test_tempo");
}
