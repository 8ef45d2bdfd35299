/* test_accum.c - the packed fixed-point accumulator: scale, headroom,
 * saturation, order independence and rendering. */
#include <string.h>

#include "accum.h"
#include "check.h"
#include "gain.h"
#include "rng.h"

int main(void)
{
    CHECK_INIT(c);
    /* Scale: 1.0 is 2^23. */
    CHECK_EQ_I(c, acc_quantise(1.0f), 8388608);
    CHECK_EQ_I(c, acc_quantise(-1.0f), -8388608);
    CHECK_EQ_I(c, acc_quantise(0.5f), 4194304);
    CHECK_EQ_I(c, acc_quantise(0.0f), 0);
    /* Saturation at +-16 and NaN. */
    CHECK_EQ_I(c, acc_quantise(16.0f), 134217728);
    CHECK_EQ_I(c, acc_quantise(1e30f), 134217728);
    CHECK_EQ_I(c, acc_quantise(-1e30f), -134217728);
    CHECK_EQ_I(c, acc_quantise(NAN), 0);
    CHECK_EQ_I(c, acc_quantise(INFINITY), 134217728);
    CHECK_EQ_I(c, acc_quantise32(300.0f), (int64_t)(255.0 * 8388608));
    CHECK_EQ_I(c, acc_quantise32(NAN), 0);

    /* Packing: count and sum come back apart, also for negative sums. */
    int64_t cell = 0;
    cell += acc_contribution(acc_quantise(-0.75f));
    cell += acc_contribution(acc_quantise(0.25f));
    cell += acc_contribution(acc_quantise(-1.0f));
    CHECK_EQ_I(c, acc_count(cell), 3);
    CHECK_EQ_I(c, acc_sum(cell), acc_quantise(-1.5f));
    CHECK_EQ_I(c, acc_count(0), 0);
    CHECK_EQ_I(c, acc_sum(0), 0);
    /* Headroom: 65,536 contributions at the input limit, either sign. */
    int64_t big = 0, neg = 0;
    for (int i = 0; i < 65535; i++) {
        big += acc_contribution(acc_quantise(16.0f));
        neg += acc_contribution(acc_quantise(-16.0f));
    }
    CHECK_EQ_I(c, acc_count(big), 65535);
    CHECK_EQ_I(c, acc_sum(big), 65535LL * 134217728);
    CHECK_EQ_I(c, acc_count(neg), 65535);
    CHECK_EQ_I(c, acc_sum(neg), -65535LL * 134217728);

    /* Order independence: the same contributions in any order give the same
     * bits. */
    enum { N = 64, K = 9 };
    static float x[K][N];
    rng_t r;
    rng_seed(&r, check_seed("test_accum"));
    for (int k = 0; k < K; k++)
        for (int i = 0; i < N; i++)
            x[k][i] = (float)((double)(rng_next(&r) >> 11) / 9007199254740992.0 * 4 - 2);
    static acc_cell_t a[N], b[N];
    for (int k = 0; k < K; k++)
        acc_add(a, x[k], N);
    for (int k = K - 1; k >= 0; k--)
        acc_add(b, x[k], N);
    int same = 1;
    for (int i = 0; i < N; i++)
        same &= atomic_load(&a[i]) == atomic_load(&b[i]);
    CHECK(c, same);

    /* Rendering: (sum + backing) * 3 / (k + 2) * volume. */
    static acc_cell_t m[4];
    static acc_cell32_t bk[4];
    float one[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    acc_add(m + 1, one, 3);          /* k = 1 at 1..3 */
    acc_add(m + 2, one, 2);          /* k = 2 at 2..3 */
    acc_add(m + 3, one, 1);          /* k = 3 at 3 */
    atomic_store(&bk[0], acc_quantise32(0.2f));
    float out[4];
    int32_t counts[4];
    acc_render(m, bk, 4, 1.0f, out, counts);
    CHECK_EQ_I(c, counts[0], 0);
    CHECK_EQ_I(c, counts[3], 3);
    CHECK_NEAR(c, out[0], 0.2f * 1.5f, 1e-6);   /* backing alone: gain 1.5 */
    CHECK_NEAR(c, out[1], 0.5f * 1.0f, 1e-6);
    CHECK_NEAR(c, out[2], 1.0f * 0.75f, 1e-6);
    CHECK_NEAR(c, out[3], 1.5f * 0.6f, 1e-6);
    acc_render(m, NULL, 4, 2.0f, out, NULL);
    CHECK_NEAR(c, out[3], 1.5f * 0.6f * 2.0f, 1e-6);
    return check_done(&c, "test_accum");
}
