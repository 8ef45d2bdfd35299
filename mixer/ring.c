/*
 * ring.c - splitting clock ranges over the ring boundary.
 */
#include "ring.h"

ring_span_t ring_split(int64_t start, uint32_t n, uint32_t len)
{
    ring_span_t s;
    if (n > len)
        n = len;
    s.first_index = ring_index(start, len);
    uint32_t room = len - s.first_index;
    s.first_len = n < room ? n : room;
    s.second_len = n - s.first_len;
    return s;
}
