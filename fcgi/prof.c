/*
 * prof.c - stage timings.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "prof.h"

int64_t prof_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void prof_reset(prof_t *p, bool enabled)
{
    memset(p, 0, sizeof *p);
    p->enabled = enabled;
    p->started_ns = prof_now_ns();
}

static uint32_t bucket_of(uint64_t v)
{
    if (v < 8)
        return (uint32_t)v;
    uint32_t e = 63 - (uint32_t)__builtin_clzll(v);      /* >= 3 */
    uint32_t sub = (uint32_t)(v >> (e - 3)) & 7;
    uint32_t b = (e - 2) * 8 + sub;
    return b < PROF_BUCKETS ? b : PROF_BUCKETS - 1;
}

/* Lower bound of a bucket. */
static uint64_t bucket_low(uint32_t b)
{
    if (b < 8)
        return b;
    uint32_t e = b / 8 + 2, sub = b % 8;
    return ((uint64_t)8 + sub) << (e - 3);
}

void prof_add(prof_t *p, prof_stage_t stage, int64_t ns)
{
    if (!p->enabled)
        return;
    if (ns < 0)
        ns = 0;
    prof_stat_t *s = &p->st[stage];
    s->count++;
    s->total_ns += (uint64_t)ns;
    if ((uint64_t)ns > s->max_ns)
        s->max_ns = (uint64_t)ns;
    s->hist[bucket_of((uint64_t)ns)]++;
}

uint64_t prof_quantile(const prof_stat_t *s, double q)
{
    if (s->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)(s->count - 1)) + 1, seen = 0;
    for (uint32_t b = 0; b < PROF_BUCKETS; b++) {
        seen += s->hist[b];
        if (seen >= rank) {
            uint64_t lo = bucket_low(b), hi = b + 1 < PROF_BUCKETS ? bucket_low(b + 1) : lo;
            uint64_t mid = lo + (hi - lo) / 2;
            return mid < s->max_ns ? mid : s->max_ns;
        }
    }
    return s->max_ns;
}

const char *prof_stage_name(prof_stage_t s)
{
    static const char *names[PROF_NSTAGES] = {"parse", "decode", "mix", "encode", "metadata", "timing",
                                                 "request"};
    return s < PROF_NSTAGES ? names[s] : "?";
}

typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

static void outf(out_t *o, const char *fmt, ...)
{
    if (o->len + 1 >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

size_t prof_report(const prof_t *p, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0};
    buf[0] = '\0';
    int64_t end = p->stopped_ns ? p->stopped_ns : prof_now_ns();
    double secs = (double)(end - p->started_ns) / 1e9;
    outf(&o, "profile %s, %.1f s of collection\n", p->enabled ? "running" : "stopped", secs);
    outf(&o, "%-9s %10s %12s %9s %9s %9s %9s %9s %7s\n", "stage", "count", "total_ms", "mean_us",
         "p50_us", "p90_us", "p99_us", "max_us", "share");
    double req_total = (double)p->st[PROF_REQUEST].total_ns;
    for (int i = 0; i < PROF_NSTAGES; i++) {
        const prof_stat_t *s = &p->st[i];
        double mean = s->count ? (double)s->total_ns / (double)s->count / 1e3 : 0;
        outf(&o, "%-9s %10" PRIu64 " %12.3f %9.1f %9.1f %9.1f %9.1f %9.1f %6.1f%%\n",
             prof_stage_name((prof_stage_t)i), s->count, (double)s->total_ns / 1e6, mean,
             (double)prof_quantile(s, 0.5) / 1e3, (double)prof_quantile(s, 0.9) / 1e3,
             (double)prof_quantile(s, 0.99) / 1e3, (double)s->max_ns / 1e3,
             req_total > 0 ? 100.0 * (double)s->total_ns / req_total : 0.0);
    }
    return o.len;
}

size_t prof_metrics(const prof_t *p, const char *prefix, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0};
    buf[0] = '\0';
    outf(&o, "# HELP %s_stage_seconds Time spent per request stage.\n", prefix);
    outf(&o, "# TYPE %s_stage_seconds summary\n", prefix);
    static const double qs[] = {0.5, 0.9, 0.99};
    for (int i = 0; i < PROF_NSTAGES; i++) {
        const prof_stat_t *s = &p->st[i];
        const char *n = prof_stage_name((prof_stage_t)i);
        for (int k = 0; k < 3; k++)
            outf(&o, "%s_stage_seconds{stage=\"%s\",quantile=\"%g\"} %.9f\n", prefix, n, qs[k],
                 (double)prof_quantile(s, qs[k]) / 1e9);
        outf(&o, "%s_stage_seconds_sum{stage=\"%s\"} %.9f\n", prefix, n, (double)s->total_ns / 1e9);
        outf(&o, "%s_stage_seconds_count{stage=\"%s\"} %" PRIu64 "\n", prefix, n, s->count);
    }
    return o.len;
}
