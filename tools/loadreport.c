/*
 * loadreport.c - bb-load's counters and printed report (loadreport.h).
 * The summary's keys are read by scripts (bench/run.sh, the smoke tests):
 * their names and order are an interface.
 */
#include "loadreport.h"

#include <stdio.h>
#include <string.h>

#include "bbcore.h"

static const char *const err_names[LREP_KINDS] = { "status", "kill", "timeout", "transport",
                                                   "proto", "decode", "continuity", "lag" };

uint64_t lrep_err_total(const lrep_counters_t *c)
{
    uint64_t t = 0;
    for (int i = 0; i < LREP_KINDS; i++)
        t += c->err[i];
    return t;
}

int lrep_kind_of(int bbc_code)
{
    switch (bbc_code) {
    case BBC_ESTATUS: return LREP_STATUS;
    case BBC_EKILL: return LREP_KILL;
    case BBC_ETIMEOUT: return LREP_TIMEOUT;
    case BBC_EPROTO:
    case BBC_EREJECTED: return LREP_PROTO;
    case BBC_EMETA:
    case BBC_EBODY:
    case BBC_EDECODE: return LREP_DECODE;
    case BBC_ECONTINUITY: return LREP_CONTINUITY;
    default: return LREP_TRANSPORT;
    }
}

void lrep_error(lrep_t *r, int kind)
{
    r->iv.err[kind]++;
    r->total.err[kind]++;
    r->step.err[kind]++;
}

static void fold_kill(lrep_t *r, const char *msg)
{
    char norm[96];
    size_t j = 0;
    for (size_t i = 0; msg[i] && j + 1 < sizeof norm; i++) {
        char c = msg[i];
        if ((c >= '0' && c <= '9') || c == '-') {
            if (j == 0 || norm[j - 1] != '#')
                norm[j++] = '#';
            continue;
        }
        norm[j++] = c;
    }
    norm[j] = 0;
    for (int i = 0; i < r->nkills; i++) {
        if (strcmp(r->kills[i].text, norm) == 0) {
            r->kills[i].n++;
            return;
        }
    }
    if (r->nkills < LREP_MAX_KILL_KINDS) {
        snprintf(r->kills[r->nkills].text, sizeof r->kills[r->nkills].text, "%s", norm);
        r->kills[r->nkills++].n = 1;
    }
}

void lrep_kill(lrep_t *r, const char *msg)
{
    if (strstr(msg, "desync")) {
        r->iv.desyncs++;
        r->total.desyncs++;
        r->step.desyncs++;
    }
    fold_kill(r, msg);
}

void lrep_answer(lrep_t *r, int status)
{
    r->iv.requests++;
    r->total.requests++;
    r->step.requests++;
    int sc = status / 100;
    if (sc >= 1 && sc <= 5) {
        r->iv.status_codes[sc]++;
        r->total.status_codes[sc]++;
    }
}

void lrep_probe(lrep_t *r)
{
    r->iv.probes++;
    r->total.probes++;
}

void lrep_post(lrep_t *r, int64_t us, int64_t us_due, bool moved)
{
    hist_add(&r->iv.lat, us);
    hist_add(&r->step.lat, us);
    hist_add(&r->total.lat, us);
    hist_add(&r->iv.lat_due, us_due);
    hist_add(&r->step.lat_due, us_due);
    hist_add(&r->total.lat_due, us_due);
    r->iv.posts_ok++;
    r->total.posts_ok++;
    r->step.posts_ok++;
    if (moved) {
        r->iv.moves++;
        r->total.moves++;
    }
}

void lrep_interval(lrep_t *r, const lrep_tally_t *tally, double t, double dt, double cpu,
                   int npids, bool measured)
{
    r->last_sustained = tally->sustained;
    r->intervals++;
    if (measured) {
        r->cpu_total += cpu;
        r->singer_seconds += (double)(tally->sustained + tally->spect_ok) * dt;
        if (r->min_sustained < 0 || tally->sustained < r->min_sustained)
            r->min_sustained = tally->sustained;
    }
    printf("[%7.1fs] singers %d/%d spect %d/%d | req/s %.1f | ms p50 %.2f p99 %.2f max %.2f (from due: p99 %.2f)"
           " | err %llu desync %llu | moves %llu",
           t, tally->sustained, tally->live, tally->spect_ok, tally->spect, (double)r->iv.requests / dt,
           hist_ms(&r->iv.lat, 0.5), hist_ms(&r->iv.lat, 0.99), (double)r->iv.lat.max_us / 1000.0, hist_ms(&r->iv.lat_due, 0.99),
           (unsigned long long)lrep_err_total(&r->iv),
           (unsigned long long)r->iv.desyncs, (unsigned long long)r->iv.moves);
    if (npids)
        printf(" | cpu %.2f core", cpu / dt);
    printf("\n");
    if (lrep_err_total(&r->iv)) {
        printf("           errors:");
        for (int i = 0; i < LREP_KINDS; i++)
            if (r->iv.err[i])
                printf(" %s %llu", err_names[i], (unsigned long long)r->iv.err[i]);
        printf("\n");
    }
    fflush(stdout);
    memset(&r->iv, 0, sizeof r->iv);
}

void lrep_summary(const lrep_t *r, const load_opts_t *o, const lrep_summary_t *x)
{
    const lrep_counters_t *T = &r->total;
    double elapsed = x->elapsed_s;
    if (r->nkills) {
        printf("kill_client messages (digits folded to #):\n");
        for (int i = 0; i < r->nkills; i++)
            printf("  %6llu  %s\n", (unsigned long long)r->kills[i].n, r->kills[i].text);
    }
    int singers = o->ramp ? x->ramp_ok_level : o->singers;
    double cps = r->singer_seconds > 0 ? r->cpu_total / r->singer_seconds : 0;
    printf("--- summary ---\n");
    printf("transport: %s\n", o->transport == BBC_HTTP ? "http" : "fcgi");
    printf("duration_s: %.1f\n", elapsed);
    printf("spectators: %d\n", o->spectators);
    printf("sustained_min: %d\n", r->min_sustained < 0 ? 0 : r->min_sustained);
    printf("sustained_last: %d\n", r->last_sustained);
    printf("requests: %llu\n", (unsigned long long)T->requests);
    printf("requests_per_s: %.1f\n", elapsed > 0 ? (double)T->requests / elapsed : 0);
    printf("posts_ok: %llu\n", (unsigned long long)T->posts_ok);
    printf("probes: %llu\n", (unsigned long long)T->probes);
    printf("moves: %llu\n", (unsigned long long)T->moves);
    printf("max_ms: %.2f\n", (double)T->lat.max_us / 1000.0);
    printf("p50_due_ms: %.2f\n", hist_ms(&T->lat_due, 0.5));
    printf("p99_due_ms: %.2f\n", hist_ms(&T->lat_due, 0.99));
    printf("max_due_ms: %.2f\n", (double)T->lat_due.max_us / 1000.0);
    for (int i = 0; i < LREP_KINDS; i++)
        printf("errors_%s: %llu\n", err_names[i], (unsigned long long)T->err[i]);
    printf("status_5xx: %llu\n", (unsigned long long)T->status_codes[5]);
    printf("status_4xx: %llu\n", (unsigned long long)T->status_codes[4]);
    printf("self_cpu_s: %.2f\n", x->self_cpu_s);
    if (x->npids) {
        printf("watched_pids: %d\n", x->npids);
        printf("cpu_s: %.2f\n", r->cpu_total);
        printf("singer_seconds: %.1f\n", r->singer_seconds);
        printf("cpu_per_singer_second: %.6f\n", cps);
    }
    if (o->ramp) {
        printf("ramp_broke_at: %d\n", x->ramp_broke_at);
        printf("ramp_reason: %s\n", x->ramp_reason ? x->ramp_reason : "duration reached");
    }
    printf("singers: %d\n", singers);
    printf("p50_ms: %.2f\n", hist_ms(&T->lat, 0.5));
    printf("p99_ms: %.2f\n", hist_ms(&T->lat, 0.99));
    printf("errors: %llu\n", (unsigned long long)lrep_err_total(T));
    printf("desyncs: %llu\n", (unsigned long long)T->desyncs);
    double fl = x->floor;
    if (fl > 0)
        printf("decode_alone_singers_per_core: %.0f\n", fl);
    if (fl > 0 && x->floor_hi > x->floor_lo)
        printf("decode_alone_range: %.0f %.0f\n", x->floor_lo, x->floor_hi);
    if (x->npids && cps > 0 && fl > 0)
        printf("of_decode_alone: %.3f\n", 1.0 / cps / fl);
    if (x->npids && cps > 0)
        printf("singers_per_core: %.0f\n", 1.0 / cps);
    else
        printf("singers_per_core: n/a\n");
    fflush(stdout);
}
