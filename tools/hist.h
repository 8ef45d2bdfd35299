/*
 * hist.h - a latency histogram with log-spaced buckets, 1 % wide, from
 * 1 us to about 100 s: percentiles good to 1 % in a fixed 16 KB, whatever
 * the number of samples.  A zeroed hist_t is empty; it holds no pointers,
 * so it may be copied or cleared with memset.
 */
#ifndef BB_HIST_H
#define BB_HIST_H

#include <stdint.h>

#define HIST_BUCKETS 2000

typedef struct {
    uint64_t n[HIST_BUCKETS];
    uint64_t count;
    int64_t max_us;
} hist_t;

/* Counts one latency of `us` microseconds (below 1 counts as 1). */
void hist_add(hist_t *h, int64_t us);

/* The q-quantile (0 < q <= 1) in milliseconds: the middle of its bucket,
 * at most the largest latency seen; 0 when empty. */
double hist_ms(const hist_t *h, double q);

#endif
