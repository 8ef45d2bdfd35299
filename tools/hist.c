/*
 * hist.c - the log-spaced latency histogram (hist.h).
 */
#include "hist.h"

#include <math.h>

static int hist_index(int64_t us)
{
    if (us < 1)
        us = 1;
    int i = (int)(log((double)us) / log(1.01));
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

void hist_add(hist_t *h, int64_t us)
{
    h->n[hist_index(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

double hist_ms(const hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->count);
    if (want == 0)
        want = 1;
    uint64_t acc = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        acc += h->n[i];
        if (acc >= want) {
            double us = pow(1.01, i + 0.5);
            if (us > (double)h->max_us)
                us = (double)h->max_us;
            return us / 1000.0;
        }
    }
    return (double)h->max_us / 1000.0;
}
