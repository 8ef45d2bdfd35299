/* test_gain.c - every gain formula with exact numbers. */
#include "check.h"
#include "gain.h"

int main(void)
{
    CHECK_INIT(c);
    /* Phantom-singer normalisation, PROTOCOL.md 9.3. */
    CHECK(c, gain_normalise(0) == 1.5f);
    CHECK(c, gain_normalise(1) == 1.0f);
    CHECK(c, gain_normalise(2) == 0.75f);
    CHECK(c, gain_normalise(3) == 0.6f);
    CHECK(c, gain_normalise(4) == 0.5f);
    CHECK(c, gain_normalise(10) == 0.25f);
    CHECK(c, gain_normalise(-3) == 1.5f);
    /* Global / backing volume curve, 9.4. */
    CHECK_NEAR(c, gain_volume(0), 0.001, 1e-12);
    CHECK_NEAR(c, gain_volume(1), 1.000245, 1e-6);
    CHECK_NEAR(c, gain_volume(2), 1000.4896, 1e-3);
    CHECK_NEAR(c, gain_volume(0.5), 0.0316266, 1e-6);
    /* Clamping: beyond [0, 2] is the edge; NaN and inf are refused. */
    CHECK_NEAR(c, gain_volume(5), gain_volume(2), 0);
    CHECK_NEAR(c, gain_volume(-1), 0.001, 1e-12);
    CHECK_NEAR(c, gain_volume(NAN), 1.0, 0);
    double v = 7;
    CHECK(c, !gain_clamp_friendly(NAN, &v) && v == 7);
    CHECK(c, !gain_clamp_friendly(INFINITY, &v) && v == 7);
    CHECK(c, gain_clamp_friendly(2.5, &v) && v == 2.0);
    CHECK(c, gain_clamp_friendly(-0.1, &v) && v == 0.0);
    CHECK(c, gain_clamp_friendly(1.25, &v) && v == 1.25);
    /* Mic volume curve, 9.5. */
    CHECK_NEAR(c, gain_mic(0), 0.0316189, 1e-6);
    CHECK_NEAR(c, gain_mic(1), 1.0, 1e-12);
    CHECK_NEAR(c, gain_mic(2), 31.6266, 1e-3);
    CHECK_NEAR(c, gain_mic(1.5), 5.6238, 1e-4);
    CHECK_NEAR(c, gain_mic(9), gain_mic(2), 0);
    /* Saturating conversion to int16 (recordings). */
    CHECK_EQ_I(c, gain_to_s16(0.5f, 16384.0f), 8192);
    CHECK_EQ_I(c, gain_to_s16(1.0f, 16384.0f), 16384);
    CHECK_EQ_I(c, gain_to_s16(2.0f, 16384.0f), 32767);
    CHECK_EQ_I(c, gain_to_s16(-2.0f, 16384.0f), -32768);
    CHECK_EQ_I(c, gain_to_s16(-3.0f, 16384.0f), -32768);
    CHECK_EQ_I(c, gain_to_s16(NAN, 16384.0f), 0);
    CHECK_EQ_I(c, gain_to_s16(1.0f / 16384.0f * 0.49f, 16384.0f), 0);
    return check_done(&c, "test_gain");
}
