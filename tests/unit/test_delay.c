/* test_delay.c - bucket assignment. */
#include "check.h"
#include "delay.h"

int main(void)
{
    CHECK_INIT(c);
    int32_t b[DELAY_DEPTH_MAX];
    uint32_t nb = dly_buckets(0, 5, b);
    CHECK_EQ_I(c, nb, 4);
    CHECK(c, b[0] == 3 && b[1] == 6 && b[2] == 9 && b[3] == 12);
    nb = dly_buckets(16, 5, b);
    CHECK(c, nb == 4 && b[0] == 19 && b[3] == 28);
    CHECK_EQ_I(c, dly_clamp_depth(1), 3);
    CHECK_EQ_I(c, dly_clamp_depth(99), 16);

    rng_t r;
    rng_seed(&r, check_seed("test_delay"));
    enum { N = 10 };
    int32_t out[N];
    uint32_t scratch[N];
    bool spect[N] = {0};
    spect[7] = true;
    int32_t maxp = dly_assign(N, 4, spect, 0, 5, &r, scratch, out);
    CHECK_EQ_I(c, out[4], 3);   /* the leader: first bucket */
    CHECK_EQ_I(c, out[7], 12);  /* the spectator: last bucket */
    CHECK_EQ_I(c, maxp, 12);
    /* The 8 followers fill 6, 9, 12 round-robin: 3, 3, 2. */
    int n6 = 0, n9 = 0, n12 = 0;
    for (int i = 0; i < N; i++) {
        if (i == 4 || i == 7)
            continue;
        n6 += out[i] == 6;
        n9 += out[i] == 9;
        n12 += out[i] == 12;
    }
    CHECK_EQ_I(c, n6, 3);
    CHECK_EQ_I(c, n9, 3);
    CHECK_EQ_I(c, n12, 2);
    /* Alone: the leader at 3, max_position at least 6. */
    maxp = dly_assign(1, 0, NULL, 0, 5, &r, scratch, out);
    CHECK(c, out[0] == 3 && maxp == 6);
    /* Rounds padding moves everyone back by p0. */
    maxp = dly_assign(3, 0, NULL, 16, 5, &r, scratch, out);
    CHECK(c, out[0] == 19 && out[1] >= 22 && out[2] >= 22 && maxp == 25);
    /* The order is random: over many draws every follower sees every bucket. */
    int seen[3][3] = {{0}};
    for (int t = 0; t < 300; t++) {
        dly_assign(4, 0, NULL, 0, 5, &r, scratch, out);
        for (int i = 1; i < 4; i++)
            seen[i - 1][out[i] / 3 - 2]++;
    }
    int all = 1;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            all &= seen[i][k] > 50;
    CHECK(c, all);
    /* A leader who is not among the users: everyone is a follower. */
    maxp = dly_assign(2, -1, NULL, 0, 5, &r, scratch, out);
    CHECK(c, out[0] >= 6 && out[1] >= 6 && out[0] != out[1]);
    return check_done(&c, "test_delay");
}
