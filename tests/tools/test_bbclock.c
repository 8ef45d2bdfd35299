/*
 * test_bbclock.c - the client clock state machine (bbclock.h), aligned like
 * our web client and unaligned like the original: initial read clock,
 * advance by n, write clock start and continuation, reset_user_state on the
 * first POST only, and the response echo and continuity checks.
 */
#include "bbclock.h"
#include "check.h"

/* The checks of this test (check.h). */
static check_t ck;

static void test_estimate(void)
{
    CHECK(ck, bbclock_estimate(1000, 0) == 1000);
    CHECK(ck, bbclock_estimate(1000, 10000000) == 1000 + 240);   /* 10 ms trip: +5 ms */
    CHECK(ck, bbclock_estimate(1000, 1000000000) == 1000 + 24000);
    CHECK(ck, bbclock_estimate(1000, 20833) == 1000 + 0);        /* 0.4999 sample rounds down */
    CHECK(ck, bbclock_estimate(1000, 20834) == 1000 + 1);
    CHECK(ck, bbclock_estimate(1000, -5) == 1000);
    CHECK(ck, bbclock_align_nearest(2880 * 10) == 2880 * 10);
    CHECK(ck, bbclock_align_nearest(2880 * 10 + 1439) == 2880 * 10);
    CHECK(ck, bbclock_align_nearest(2880 * 10 + 1440) == 2880 * 11);
    CHECK(ck, bbclock_align_nearest(-1) == 0);
    CHECK(ck, bbclock_align_nearest(-1441) == -2880);
}

static void test_aligned(void)
{
    const int64_t S = 77040003312000LL + 1234;
    const int n = 28800;
    bbclock_t c = { 0 };
    bbclock_post_t p;
    CHECK(ck, bbclock_next(&c, n, false, &p) == BBCLOCK_ESTATE); /* not started */
    CHECK(ck, bbclock_start(&c, S, 6, true, 0) == BBCLOCK_OK);
    int64_t base = bbclock_align_nearest(S - 6 * 48000);
    CHECK(ck, base % 2880 == 0 && c.read_clock == base);
    CHECK(ck, base - (S - 6 * 48000) <= 1440 && (S - 6 * 48000) - base <= 1440);

    /* Placeholders: no write clock; reset only on the first POST. */
    CHECK(ck, bbclock_next(&c, n, false, &p) == BBCLOCK_OK);
    CHECK(ck, p.read_clock == base + n && !p.has_write && p.reset && p.n == n);
    CHECK(ck, bbclock_next(&c, n, false, &p) == BBCLOCK_OK);
    CHECK(ck, p.read_clock == base + 2 * n && !p.has_write && !p.reset);

    /* Real audio starts: write clock = this read clock (no lag), then +n. */
    CHECK(ck, bbclock_next(&c, n, true, &p) == BBCLOCK_OK);
    CHECK(ck, p.read_clock == base + 3 * n && p.has_write && p.write_clock == p.read_clock);
    int64_t w = p.write_clock;
    CHECK(ck, bbclock_next(&c, 2880, true, &p) == BBCLOCK_OK);
    CHECK(ck, p.read_clock == base + 3 * n + 2880 && p.write_clock == w + 2880);

    /* No placeholder after writing began, and n must be whole frames. */
    bbclock_t before = c;
    CHECK(ck, bbclock_next(&c, n, false, &p) == BBCLOCK_ESTATE);
    CHECK(ck, c.read_clock == before.read_clock);
    CHECK(ck, bbclock_next(&c, 1000, true, &p) == BBCLOCK_EPARAM);
    CHECK(ck, bbclock_next(&c, 0, true, &p) == BBCLOCK_EPARAM);

    /* Restart (a reconnect): new base, reset again, writing over. */
    CHECK(ck, bbclock_start(&c, S + 48000, 3, true, 1000) == BBCLOCK_OK);
    CHECK(ck, c.write_lag == 2880 && !c.writing && c.reset_pending);
    CHECK(ck, bbclock_next(&c, n, true, &p) == BBCLOCK_OK);
    CHECK(ck, p.reset && p.has_write && p.write_clock == p.read_clock - 2880 && p.read_clock % 2880 == 0);
    CHECK(ck, bbclock_start(&c, S, 0, true, 0) == BBCLOCK_EPARAM);
}

static void test_unaligned(void)
{
    const int64_t S = 77040003312000LL + 1234;
    bbclock_t c = { 0 };
    bbclock_post_t p;
    CHECK(ck, bbclock_start(&c, S, 115, false, 0) == BBCLOCK_OK);
    CHECK(ck, c.read_clock == S - 115 * 48000);
    CHECK(ck, bbclock_next(&c, 28800, false, &p) == BBCLOCK_OK);
    CHECK(ck, p.read_clock == S - 115 * 48000 + 28800 && p.read_clock % 2880 != 0);
    CHECK(ck, bbclock_start(&c, S, 6, false, 1001) == BBCLOCK_OK && c.write_lag == 1001);
    CHECK(ck, bbclock_next(&c, 28800, true, &p) == BBCLOCK_OK && p.write_clock == p.read_clock - 1001);
}

static void test_responses(void)
{
    bbclock_t c = { 0 };
    bbclock_post_t p1, p2, p3;
    bbclock_start(&c, 10000000, 6, true, 0);
    bbclock_next(&c, 28800, false, &p1);
    bbclock_next(&c, 28800, false, &p2);
    bbclock_next(&c, 28800, false, &p3);
    CHECK(ck, bbclock_check_response(&c, &p1, p1.read_clock + 1, 28800) == BBCLOCK_EECHO);
    CHECK(ck, bbclock_check_response(&c, &p1, p1.read_clock, 2880) == BBCLOCK_EECHO);
    CHECK(ck, bbclock_check_response(&c, &p1, p1.read_clock, 28800) == BBCLOCK_OK);
    CHECK(ck, bbclock_check_response(&c, &p2, p2.read_clock, 28800) == BBCLOCK_OK);
    /* An answer whose interval does not follow the previous one: a forged
     * "sent" record with a gap stands in for a skipped batch. */
    bbclock_post_t gap = p3;
    gap.read_clock += 28800;
    CHECK(ck, bbclock_check_response(&c, &gap, gap.read_clock, 28800) == BBCLOCK_ECONTINUITY);
    CHECK(ck, bbclock_check_response(&c, &p3, p3.read_clock, 28800) == BBCLOCK_OK);
}

int main(void)
{
    test_estimate();
    test_aligned();
    test_unaligned();
    test_responses();
    return check_done(&ck, "test_tools_bbclock");
}
