/*
 * loadreport.h - what bb-load counts and prints: answers, errors by kind,
 * kill_client messages, latencies (from sending, and from when the batch
 * was due), a line per interval and the closing key: value summary.
 *
 * Counters are kept three times: for the interval being reported, for the
 * whole run, and for the ramp step being judged.  An lrep_t is a plain
 * value (histograms included, about 100 KB); zero it to start.
 */
#ifndef BB_LOADREPORT_H
#define BB_LOADREPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "loadopts.h"

#define LREP_MAX_KILL_KINDS 16

/* Kinds of failed exchange. */
enum {
    LREP_STATUS = 0,   /* non-200 without kill_client */
    LREP_KILL,         /* kill_client */
    LREP_TIMEOUT,
    LREP_TRANSPORT,    /* refused, reset, closed early */
    LREP_PROTO,        /* malformed HTTP / FastCGI */
    LREP_DECODE,       /* metadata, body, Opus length */
    LREP_CONTINUITY,
    LREP_LAG,          /* fell more than --max-lag batches behind */
    LREP_KINDS
};

typedef struct {
    uint64_t requests;      /* answers completed (probes and POSTs) */
    uint64_t posts_ok;
    uint64_t probes;
    uint64_t err[LREP_KINDS];
    uint64_t desyncs;
    uint64_t moves;
    uint64_t status_codes[6]; /* by class: 1xx..5xx at [1..5] */
    hist_t lat;             /* POST: request sent -> whole answer received */
    hist_t lat_due;         /* POST: batch due -> whole answer (waiting included) */
} lrep_counters_t;

typedef struct {
    char text[96];          /* message with digits folded to '#' */
    uint64_t n;
} lrep_kill_t;

typedef struct {
    lrep_counters_t iv, total, step;
    lrep_kill_t kills[LREP_MAX_KILL_KINDS];
    int nkills;
    double cpu_total;       /* measured intervals: CPU of the watched pids */
    double singer_seconds;  /* measured intervals: sustained singer-seconds */
    int intervals;
    int min_sustained;      /* -1 until an interval is measured */
    int last_sustained;
} lrep_t;

/* What an interval saw of the singers: each one alive in it counted once,
 * as sustained when all its POSTs in the interval succeeded and it sent at
 * least one. */
typedef struct {
    int live, sustained;    /* singers (leader included) */
    int spect, spect_ok;    /* spectators */
} lrep_tally_t;

/* What the summary adds to the counters. */
typedef struct {
    double elapsed_s;
    double self_cpu_s;      /* bb-load's own CPU over the run */
    int npids;              /* watched server processes */
    double floor;           /* decode-alone singers per core, 0: unknown */
    double floor_lo, floor_hi; /* its lowest and highest pass, with several */
    int ramp_ok_level, ramp_broke_at;
    const char *ramp_reason;
} lrep_summary_t;

/* Total errors of every kind in c. */
uint64_t lrep_err_total(const lrep_counters_t *c);

/* The kind (LREP_*) of a failed exchange from its bbclient error code. */
int lrep_kind_of(int bbc_code);

/* Counts one failed exchange of `kind` (in the interval, run and step). */
void lrep_error(lrep_t *r, int kind);

/* Counts a kill_client message: folded (digits to '#') into one of
 * LREP_MAX_KILL_KINDS kinds, and as a desync when it says so. */
void lrep_kill(lrep_t *r, const char *msg);

/* Counts an exchange that ended: with a whole answer of HTTP status
 * `status`, or 0 when the transport failed; a probe answered; a POST that
 * passed every check (latencies in us from sending and from when it was
 * due, and whether it moved the singer). */
void lrep_answer(lrep_t *r, int status);
void lrep_probe(lrep_t *r);
void lrep_post(lrep_t *r, int64_t us, int64_t us_due, bool moved);

/* Prints the interval's line (and its errors), t seconds into the run, dt
 * long, cpu watched-process seconds in it (npids of them); counts it in
 * the CPU figures when `measured`; clears the interval counters. */
void lrep_interval(lrep_t *r, const lrep_tally_t *tally, double t, double dt, double cpu,
                   int npids, bool measured);

/* Prints the kill_client kinds and the key: value summary. */
void lrep_summary(const lrep_t *r, const load_opts_t *o, const lrep_summary_t *x);

#endif
