/*
 * prof.h - where a worker's time goes, per stage of a request.
 *
 * Each stage (parse, decode, mix, encode, metadata, the timing watch, and
 * the whole request)
 * keeps a count, a total and a log-linear histogram of durations (8 steps
 * per power of two, so a percentile is within 1/16 of its true value).
 * Adding a sample is a few instructions and allocates nothing; a worker
 * keeps one profile for its lifetime (/metrics) and one that
 * start_profile / stop_profile switch on and off (get_profile).
 */
#ifndef BB_PROF_H
#define BB_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PROF_PARSE = 0,
    PROF_DECODE,
    PROF_MIX,
    PROF_ENCODE,
    PROF_META,
    PROF_TIMING,        /* the timing watch (watch.h), within the others */
    PROF_REQUEST,
    PROF_NSTAGES
} prof_stage_t;

#define PROF_BUCKETS (41 * 8)

typedef struct {
    uint64_t count;
    uint64_t total_ns;
    uint64_t max_ns;
    uint32_t hist[PROF_BUCKETS];
} prof_stat_t;

typedef struct {
    bool enabled;
    int64_t started_ns;      /* CLOCK_MONOTONIC when reset */
    int64_t stopped_ns;      /* 0 while running */
    prof_stat_t st[PROF_NSTAGES];
} prof_t;

/* Monotonic nanoseconds. */
int64_t prof_now_ns(void);

/* Clears all figures and enables or disables collection. */
void prof_reset(prof_t *p, bool enabled);

/* Records one duration of a stage (ignored while disabled). */
void prof_add(prof_t *p, prof_stage_t stage, int64_t ns);

/* The q-quantile (0..1) of a stage in nanoseconds (0 if no samples). */
uint64_t prof_quantile(const prof_stat_t *s, double q);

/* Name of a stage ("decode"). */
const char *prof_stage_name(prof_stage_t s);

/* A human-readable report; returns its length (cut to cap - 1). */
size_t prof_report(const prof_t *p, char *buf, size_t cap);

/* The same figures in Prometheus text format, metric names starting with
 * `prefix`; returns the length written. */
size_t prof_metrics(const prof_t *p, const char *prefix, char *buf, size_t cap);

#endif
