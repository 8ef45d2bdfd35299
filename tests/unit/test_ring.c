/* test_ring.c - ring arithmetic and splitting at the ring's end. */
#include "check.h"
#include "ring.h"

int main(void)
{
    CHECK_INIT(c);
    const uint32_t L = 5760000;
    CHECK_EQ_I(c, ring_index(0, L), 0);
    CHECK_EQ_I(c, ring_index(5759999, L), 5759999);
    CHECK_EQ_I(c, ring_index(5760000, L), 0);
    CHECK_EQ_I(c, ring_index(77040003312000LL, L), 77040003312000LL % L);
    CHECK_EQ_I(c, ring_index(-1, L), 5759999);
    CHECK_EQ_I(c, ring_index(-5760000, L), 0);
    CHECK_EQ_I(c, ring_index(-5760001, L), 5759999);

    /* No wrap. */
    ring_span_t s = ring_split(100, 28800, L);
    CHECK_EQ_I(c, s.first_index, 100);
    CHECK_EQ_I(c, s.first_len, 28800);
    CHECK_EQ_I(c, s.second_len, 0);
    /* Ends exactly at the boundary: the second piece is empty. */
    s = ring_split(L - 28800, 28800, L);
    CHECK_EQ_I(c, s.first_index, L - 28800);
    CHECK_EQ_I(c, s.first_len, 28800);
    CHECK_EQ_I(c, s.second_len, 0);
    /* Crosses the boundary by one sample. */
    s = ring_split(L - 28799, 28800, L);
    CHECK_EQ_I(c, s.first_len, 28799);
    CHECK_EQ_I(c, s.second_len, 1);
    /* Starts exactly at the boundary (clock a multiple of L). */
    s = ring_split(3 * (int64_t)L, 2880, L);
    CHECK_EQ_I(c, s.first_index, 0);
    CHECK_EQ_I(c, s.first_len, 2880);
    CHECK_EQ_I(c, s.second_len, 0);
    /* Starts one before the boundary. */
    s = ring_split(2 * (int64_t)L - 1, 2880, L);
    CHECK_EQ_I(c, s.first_index, L - 1);
    CHECK_EQ_I(c, s.first_len, 1);
    CHECK_EQ_I(c, s.second_len, 2879);
    /* A range longer than the ring is clamped to the ring. */
    s = ring_split(10, L + 5, L);
    CHECK_EQ_I(c, s.first_len + s.second_len, L);
    /* Empty range. */
    s = ring_split(L - 1, 0, L);
    CHECK_EQ_I(c, s.first_len + s.second_len, 0);

    CHECK_EQ_I(c, ring_frames_floor(124 * 48000), 5952000);
    CHECK_EQ_I(c, ring_frames_floor(129), 128);
    CHECK_EQ_I(c, ring_floor_div(-1, 128), -1);
    CHECK_EQ_I(c, ring_floor_div(-128, 128), -1);
    CHECK_EQ_I(c, ring_floor_div(127, 128), 0);
    return check_done(&c, "test_ring");
}
