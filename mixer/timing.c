/*
 * timing.c - the timing watch (timing.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"

#define NONE INT64_MIN
/* Levels kept per stream: the steps looked back and ahead of the one
 * decided, and that one. */
#define LEVELS 64
#define LEVEL_MASK (LEVELS - 1)
#define REF_MASK (TW_REF_EVENTS - 1)
/* Clocks either side of an entry where the other side's entries count. */
#define SPAN ((int64_t)(TW_MAX_LAG + 1) * TW_HOP)
/* Power below any level of interest, so that the log never sees 0. */
#define POWER_FLOOR 1e-12f
/* The rise (dB) that gives an entry its full weight. */
#define FULL_RISE_DB 40.0f

_Static_assert(LEVELS >= TW_BEFORE + TW_AHEAD + 2 && (LEVELS & LEVEL_MASK) == 0,
               "the levels kept cover the steps looked at");
_Static_assert(TW_AHEAD + 1 <= 32 && TW_BEFORE <= 32, "an extreme's window fits its ring");
_Static_assert(TW_KERNEL == 4, "the smoothing triangle below has 2 * 4 + 1 taps");
_Static_assert((TW_REF_EVENTS & REF_MASK) == 0, "the reference's entries are a ring");
_Static_assert(TW_HOP * TW_RATE == 48000, "a step is TW_HOP samples at 48 kHz");

/* A note coming in: where it crosses its entry level, and how clearly. */
typedef struct {
    int64_t clock;
    float w;            /* 0 .. 1, by the rise */
} entry_t;

/* A window's extreme level: the steps that can still be it, oldest
 * first, their levels falling (for a maximum) or rising (for a minimum). */
typedef struct {
    int64_t at[32];
    uint32_t head, n;
} extreme_t;

/* One stream of samples on the absolute clock, turned into step levels
 * and, TW_AHEAD steps later, into entries. */
typedef struct {
    int64_t next;       /* the clock it continues at; NONE: not started */
    int64_t first;      /* its first step */
    int64_t steps;      /* one past its newest step with a level */
    int64_t last_entry; /* step of its last entry; NONE */
    double part;        /* the step being filled: its sum of squares */
    uint32_t have;      /* and its samples */
    extreme_t peak;     /* the highest level of the steps looked ahead */
    extreme_t floor;    /* the lowest of the steps looked back on */
    float lv[LEVELS];   /* levels (dB) by step & LEVEL_MASK */
} stream_t;

/* One block's correlation: a block is TW_BLOCK_STEPS steps (600 ms) of the
 * absolute clock; the voice's entries in it are paired with the
 * reference's around them. */
typedef struct {
    int64_t id;         /* block number: its first step / TW_BLOCK_STEPS */
    bool ok;            /* wholly decided, with the reference it needed */
    uint32_t steps;     /* voice steps decided in it */
    uint32_t nv, nr;    /* entries of the voice, of the reference */
    float wv, wr;       /* sums of their weights */
    float ev, er;       /* sums of their squared weights */
    float c[TW_NLAGS];  /* weight products by lag (steps) + TW_MAX_LAG */
} block_t;

typedef struct {
    int64_t clock;
    float offset_ms;
} kept_t;

/* What the voice has shown so far: started over with another song. */
typedef struct {
    tw_ref_t ref;
    stream_t voice;
    uint32_t made;              /* estimates made by the running tw_voice() */
    block_t cur;                /* the block being filled */
    block_t win[TW_WINDOW_BLOCKS]; /* the last complete blocks, ring */
    uint32_t win_n;             /* consecutive good blocks in win (<= K) */
    uint32_t win_at;            /* next slot of win */
    kept_t kept[TW_EST_MAX];    /* confident estimates, ring */
    uint32_t kept_n, kept_at;
    int64_t newest;             /* END clock of the newest block */
    tw_estimate_t last;
    bool have_last;
    tw_verdict_t v;
} watch_t;

struct tw {
    watch_t m;
    stream_t refs;              /* the leader reference, as heard */
    int64_t r_from;             /* its entries are all known from this clock */
    entry_t r[TW_REF_EVENTS];   /* its entries, oldest first, ring */
    uint32_t r_n, r_at;
};

/* ---- life cycle ---------------------------------------------------------- */

size_t tw_size(void) { return sizeof(tw_t); }

static void stream_reset(stream_t *o)
{
    memset(o, 0, sizeof *o);
    o->next = NONE;
    o->last_entry = NONE;
}

static void block_clear(block_t *b, int64_t id)
{
    memset(b, 0, sizeof *b);
    b->id = id;
    b->ok = true;
}

/* Starts what the voice showed over; the reference heard stays. */
static void watch_init(watch_t *m)
{
    memset(m, 0, sizeof *m);
    stream_reset(&m->voice);
    block_clear(&m->cur, NONE);
    m->newest = NONE;
}

static void ref_clear(tw_t *w)
{
    stream_reset(&w->refs);
    w->r_from = NONE;
    w->r_n = w->r_at = 0;
}

void tw_init(tw_t *w)
{
    watch_init(&w->m);
    ref_clear(w);
}

void tw_restart(tw_t *w) { watch_init(&w->m); }

tw_t *tw_create(void)
{
    tw_t *w = malloc(sizeof *w);
    if (w)
        tw_init(w);
    return w;
}

void tw_destroy(tw_t *w) { free(w); }

const char *tw_basis_name(tw_basis_t b)
{
    switch (b) {
    case TW_BASIS_BEAT: return "beat";
    case TW_BASIS_LEADER: return "leader";
    case TW_BASIS_NONE: break;
    }
    return "none";
}

/* ---- levels and entries --------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void tw_step_power(const float *x, uint32_t steps, float *out)
{
    for (uint32_t s = 0; s < steps; s++) {
        /* Eight independent sums, so that the loop runs at the adder's
         * throughput (and vectorises). */
        float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        const float *p = x + (size_t)s * TW_HOP;
        for (uint32_t i = 0; i < TW_HOP; i += 8)
            for (int k = 0; k < 8; k++)
                a[k] += p[i + k] * p[i + k];
        out[s] = (a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7]) * (1.0f / TW_HOP);
    }
}

/* 10 log10(p) for a normal p > 0, within 1e-5 dB: the exponent's share
 * from the float's bits, the mantissa's from the series
 * ln m = 2 (t + t^3/3 + t^5/5), t = (m - 1) / (m + 1), m in [0.71, 1.42).
 * A level per 4 ms step costs no libm call. */
static float db_of(float p)
{
    uint32_t u;
    memcpy(&u, &p, sizeof u);
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127;
    u = (u & 0x7fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &u, sizeof m);
    if (m > 1.41421356f) {
        m *= 0.5f;
        e++;
    }
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float ln = 2.0f * t * (1.0f + t2 * (1.0f / 3.0f + t2 * (1.0f / 5.0f)));
    return 4.34294482f * (ln + 0.69314718f * (float)e);
}

/* The extreme's window gains step k (level v); `higher` keeps a maximum. */
static void extreme_push(extreme_t *x, const float *lv, int64_t k, bool higher)
{
    float v = lv[k & LEVEL_MASK];
    while (x->n) {
        float w = lv[x->at[(x->head + x->n - 1) & 31] & LEVEL_MASK];
        if (higher ? w > v : w < v)
            break;
        x->n--;
    }
    x->at[(x->head + x->n) & 31] = k;
    x->n++;
}

/* The extreme's window loses the steps before `from`; returns the step
 * holding the extreme (the window must not be empty).  Called for every
 * step, it keeps the ring within the window's length. */
static int64_t extreme_from(extreme_t *x, int64_t from)
{
    while (x->n > 1 && x->at[x->head & 31] < from) {
        x->head = (x->head + 1) & 31;
        x->n--;
    }
    return x->at[x->head & 31];
}

/* Whether step d of stream o is a note's entry (timing.h): the level
 * reaches the entry level between steps d - 1 and d, with a peak ahead
 * (the highest level of steps d .. d + TW_AHEAD) that rose enough from the
 * floor behind (the lowest of the TW_BEFORE steps before d).  Fills *e. */
static bool entry_at(stream_t *o, int64_t d, float peak, float floor_db, entry_t *e)
{
    const float *lv = o->lv;
    float a = lv[(d - 1) & LEVEL_MASK], b = lv[d & LEVEL_MASK];
    float rise = peak - floor_db;
    if (!(b > a) || peak < TW_GATE_DB || rise < TW_RISE_DB)
        return false;
    float depth = TW_DEPTH_SHARE * rise < TW_DEPTH_DB ? TW_DEPTH_SHARE * rise : TW_DEPTH_DB;
    float at = peak - depth;
    if (!(a < at && b >= at))
        return false;
    if (o->last_entry != NONE && d - o->last_entry < TW_REFRACTORY)
        return false;
    o->last_entry = d;
    /* Between the two steps' centres, (d - 0.5) and (d + 0.5) steps. */
    float f = (at - a) / (b - a);
    e->clock = d * TW_HOP + (int64_t)lrintf((f - 0.5f) * TW_HOP);
    e->w = rise < FULL_RISE_DB ? rise / FULL_RISE_DB : 1.0f;
    return true;
}

/* Starts stream o over at clock `start`. */
static void stream_restart(stream_t *o, int64_t start)
{
    stream_reset(o);
    o->next = start;
    o->first = floor_div(start, TW_HOP);
    o->steps = o->first;
}

typedef void decide_fn(tw_t *w, int64_t d, const entry_t *e);

/* Adds the level of the stream's next step (power p) and decides the step
 * TW_AHEAD before it, calling decide(w, d, entry or NULL). */
static void stream_step(tw_t *w, stream_t *o, float p, decide_fn *decide)
{
    int64_t k = o->steps++;
    o->lv[k & LEVEL_MASK] = db_of(p + POWER_FLOOR);
    extreme_push(&o->peak, o->lv, k, true);
    int64_t d = k - TW_AHEAD;
    if (d < o->first)
        return;
    float peak = o->lv[extreme_from(&o->peak, d) & LEVEL_MASK];
    entry_t e;
    bool in = false;
    if (d > o->first) {
        extreme_push(&o->floor, o->lv, d - 1, false);
        float floor_db = o->lv[extreme_from(&o->floor, d - TW_BEFORE) & LEVEL_MASK];
        in = entry_at(o, d, peak, floor_db, &e);
    }
    decide(w, d, in ? &e : NULL);
}

/* Feeds n samples at o->next (x NULL: silence) into stream o.  A first step
 * that began before the stream counts with the samples it has. */
static void stream_feed(tw_t *w, stream_t *o, const float *x, uint32_t n, decide_fn *decide)
{
    uint32_t i = 0;
    while (i < n) {
        int64_t k = floor_div(o->next, TW_HOP);
        uint32_t off = (uint32_t)(o->next - k * TW_HOP);
        if (o->have == 0 && off == 0 && n - i >= TW_HOP) {
            /* Whole steps straight from the input. */
            uint32_t steps = (n - i) / TW_HOP;
            for (uint32_t s = 0; s < steps; s++) {
                float p = 0.0f;
                if (x)
                    tw_step_power(x + i + (size_t)s * TW_HOP, 1, &p);
                stream_step(w, o, p, decide);
            }
            i += steps * TW_HOP;
            o->next += (int64_t)steps * TW_HOP;
            continue;
        }
        uint32_t room = TW_HOP - off;
        uint32_t take = n - i < room ? n - i : room;
        if (x)
            for (uint32_t j = 0; j < take; j++)
                o->part += (double)x[i + j] * x[i + j];
        o->have += take;
        i += take;
        o->next += take;
        if (take == room) {
            float p = (float)(o->part / o->have);
            o->part = 0;
            o->have = 0;
            stream_step(w, o, p, decide);
        }
    }
}

/* ---- the reference ------------------------------------------------------- */

static void ref_decide(tw_t *w, int64_t d, const entry_t *e)
{
    if (w->r_from == NONE)
        w->r_from = d * TW_HOP;
    if (!e)
        return;
    if (w->r_n == TW_REF_EVENTS) {
        /* The oldest entry goes: nothing before the next one is known. */
        w->r_from = w->r[w->r_at].clock + 1;
        w->r_n--;
    }
    w->r[w->r_at] = *e;
    w->r_at = (w->r_at + 1) & REF_MASK;
    w->r_n++;
}

void tw_reference(tw_t *w, int64_t start, const float *x, uint32_t n)
{
    if (w->refs.next != start) {
        ref_clear(w);
        stream_restart(&w->refs, start);
    }
    stream_feed(w, &w->refs, x, n, ref_decide);
}

void tw_reference_power(tw_t *w, int64_t start, const float *power, uint32_t steps)
{
    if (start % TW_HOP != 0) {
        ref_clear(w);
        return;
    }
    if (w->refs.next != start || w->refs.have != 0) {
        ref_clear(w);
        stream_restart(&w->refs, start);
    }
    for (uint32_t s = 0; s < steps; s++)
        stream_step(w, &w->refs, power ? power[s] : 0.0f, ref_decide);
    w->refs.next += (int64_t)steps * TW_HOP;
}

/* The clock up to which the reference's entries are all known. */
static int64_t ref_known_to(const tw_t *w)
{
    return w->r_from == NONE ? NONE : (w->refs.steps - TW_AHEAD) * TW_HOP;
}

/* True if every entry of the reference in [lo, hi) is known. */
static bool ref_covers(const tw_t *w, int64_t lo, int64_t hi)
{
    return w->r_from != NONE && lo >= w->r_from && hi <= ref_known_to(w);
}

/* The i-th newest entry of the reference (i < r_n). */
static const entry_t *ref_entry(const tw_t *w, uint32_t i)
{
    return &w->r[(w->r_at - 1 - i) & REF_MASK];
}

/* ---- estimates and the verdict ------------------------------------------ */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void update_verdict(watch_t *m)
{
    float x[TW_EST_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->kept_n; i++) {
        const kept_t *k = &m->kept[(m->kept_at + TW_EST_MAX - 1 - i) % TW_EST_MAX];
        if (k->clock > m->newest - TW_HISTORY_SAMPLES)
            x[n++] = k->offset_ms;
    }
    m->v.basis = m->ref.basis;
    m->v.estimates = n;
    m->v.have_median = n >= TW_MIN_ESTIMATES;
    if (!m->v.have_median)
        return;   /* a rest: the verdict stands */
    qsort(x, n, sizeof x[0], cmp_float);
    float med = n % 2 ? x[n / 2] : 0.5f * (x[n / 2 - 1] + x[n / 2]);
    m->v.median_ms = med;
    m->v.spread_ms = x[(3 * n) / 4] - x[n / 4];
    float mag = fabsf(med);
    if (m->v.spread_ms > TW_MAX_SPREAD_MS) {
        /* The estimates disagree: no grounds to flag, nor to clear. */
        return;
    }
    if (mag > TW_FLAG_MS || (m->v.flagged && mag > TW_CLEAR_MS)) {
        m->v.flagged = true;
        m->v.offset_ms = (int32_t)lrintf(med);
    } else {
        m->v.flagged = false;
        m->v.offset_ms = 0;
    }
}

/* The lags searched: short of half a beat with a beat reference. */
static int32_t lag_limit(const watch_t *m)
{
    int32_t lim = TW_MAX_LAG;
    if (m->ref.basis == TW_BASIS_BEAT) {
        int64_t half = m->ref.period / (2 * TW_HOP) - 1;
        if (half < lim)
            lim = (int32_t)(half > 0 ? half : 0);
    }
    return lim;
}

/* An estimate from the window of the last TW_WINDOW_BLOCKS blocks. */
static void estimate(watch_t *m)
{
    /* raw[TW_KERNEL + lag + TW_MAX_LAG]: zeros either side for the kernel */
    float raw[TW_NLAGS + 2 * TW_KERNEL], c[TW_NLAGS];
    float ev = 0, er = 0, wv = 0, wr = 0;
    uint32_t nv = 0, nr = 0;
    memset(raw, 0, sizeof raw);
    for (uint32_t s = 0; s < TW_WINDOW_BLOCKS; s++) {
        const block_t *b = &m->win[s];
        for (int i = 0; i < TW_NLAGS; i++)
            raw[TW_KERNEL + i] += b->c[i];
        ev += b->ev;
        er += b->er;
        wv += b->wv;
        wr += b->wr;
        nv += b->nv;
        nr += b->nr;
    }
    /* Smoothed with a triangle (1 at its centre): entries a few ms apart
     * (a singer's note-to-note spread) make one peak at their middle. */
    static const float tri[2 * TW_KERNEL + 1] = {0.2f, 0.4f, 0.6f, 0.8f, 1.0f, 0.8f, 0.6f, 0.4f, 0.2f};
    for (int i = 0; i < TW_NLAGS; i++) {
        float acc = 0;
        for (int j = 0; j < 2 * TW_KERNEL + 1; j++)
            acc += tri[j] * raw[i + j];
        c[i] = acc;
    }
    tw_estimate_t e = {.clock = m->newest};
    /* What the voice's entries would add up to if each had its partner at
     * one lag: its weights times the reference's mean weight. */
    float all = nr ? wv * (wr / (float)nr) : 0.0f;
    int32_t lim = lag_limit(m);
    int lo = TW_MAX_LAG - lim, hi = TW_MAX_LAG + lim, best = lo;
    for (int i = lo; i <= hi; i++)
        if (c[i] > c[best])
            best = i;
    if (c[best] > 0.0f && ev > 0.0f && er > 0.0f) {
        /* The lag: the mean lag of the pairs around the peak (within
         * TW_LOBE), so that each note counts, not the densest few. */
        float sum = 0.0f, mass = 0.0f;
        for (int i = best - TW_LOBE; i <= best + TW_LOBE; i++)
            if (i >= lo && i <= hi) {
                sum += raw[TW_KERNEL + i] * (float)(i - TW_MAX_LAG);
                mass += raw[TW_KERNEL + i];
            }
        float lag = mass > 0.0f ? sum / mass : (float)(best - TW_MAX_LAG);
        float side = 0.0f;
        for (int i = lo; i <= hi; i++)
            if (abs(i - best) > TW_LOBE + TW_KERNEL && c[i] > side)
                side = c[i];
        e.offset_ms = lag * (1000.0f / TW_RATE);
        e.rho = c[best] / sqrtf(ev * er);
        e.match = all > 0.0f ? c[best] / all : 0.0f;
        e.sharp = 1.0f - side / c[best];
        e.confident = nv >= TW_MIN_ONSETS && nr >= TW_MIN_ONSETS && e.match >= TW_MIN_MATCH &&
                      e.sharp >= TW_MIN_SHARP && lim > TW_LOBE + TW_KERNEL;
    }
    m->last = e;
    m->have_last = true;
    if (e.confident) {
        m->kept[m->kept_at] = (kept_t){e.clock, e.offset_ms};
        m->kept_at = (m->kept_at + 1) % TW_EST_MAX;
        if (m->kept_n < TW_EST_MAX)
            m->kept_n++;
    }
}

/* Beats whose clock lies in [lo, hi). */
static int64_t beats_in(const tw_ref_t *r, int64_t lo, int64_t hi)
{
    if (r->end && hi > r->end)
        hi = r->end;
    if (lo < r->beat0)
        lo = r->beat0;
    if (hi <= lo)
        return 0;
    /* The first beat at or after lo, and the first at or after hi. */
    int64_t a = floor_div(lo - r->beat0 + r->period - 1, r->period);
    int64_t b = floor_div(hi - r->beat0 + r->period - 1, r->period);
    return b - a;
}

/* Closes the block being filled, and makes an estimate when the window is
 * whole. */
static void close_block(tw_t *w)
{
    watch_t *m = &w->m;
    block_t *b = &m->cur;
    if (b->id == NONE)
        return;
    int64_t lo = b->id * TW_BLOCK_STEPS * TW_HOP, hi = lo + TW_BLOCK_STEPS * TW_HOP;
    if (m->ref.basis == TW_BASIS_BEAT) {
        b->nr = (uint32_t)beats_in(&m->ref, lo, hi);
        b->wr = b->er = (float)b->nr;
    } else if (ref_covers(w, lo - SPAN, hi + SPAN)) {
        for (uint32_t i = 0; i < w->r_n; i++) {
            const entry_t *e = ref_entry(w, i);
            if (e->clock < lo)
                break;
            if (e->clock < hi) {
                b->nr++;
                b->wr += e->w;
                b->er += e->w * e->w;
            }
        }
    } else {
        b->ok = false;
    }
    m->newest = hi;
    if (b->ok && b->steps == TW_BLOCK_STEPS) {
        m->win[m->win_at] = *b;
        m->win_at = (m->win_at + 1) % TW_WINDOW_BLOCKS;
        if (m->win_n < TW_WINDOW_BLOCKS)
            m->win_n++;
        if (m->win_n == TW_WINDOW_BLOCKS) {
            estimate(m);
            m->made++;
        }
    } else {
        m->win_n = 0;
    }
    update_verdict(m);
}

/* Adds the product of weights at lag (clocks, voice minus reference) to
 * block b, shared between the two steps around it. */
static void add_pair(block_t *b, int64_t lag, float wt)
{
    double l = (double)lag / TW_HOP;
    double fl = floor(l);
    int32_t i0 = (int32_t)fl;
    float fr = (float)(l - fl);
    if (i0 >= -TW_MAX_LAG && i0 <= TW_MAX_LAG)
        b->c[i0 + TW_MAX_LAG] += wt * (1.0f - fr);
    if (i0 + 1 >= -TW_MAX_LAG && i0 + 1 <= TW_MAX_LAG)
        b->c[i0 + 1 + TW_MAX_LAG] += wt * fr;
}

/* Pairs a voice entry with the reference's entries around it. */
static void pair_leader(const tw_t *w, block_t *b, const entry_t *v)
{
    if (!ref_covers(w, v->clock - SPAN, v->clock + SPAN)) {
        b->ok = false;
        return;
    }
    for (uint32_t i = 0; i < w->r_n; i++) {
        const entry_t *r = ref_entry(w, i);
        if (r->clock < v->clock - SPAN)
            break;
        if (r->clock <= v->clock + SPAN)
            add_pair(b, v->clock - r->clock, v->w * r->w);
    }
}

/* Pairs a voice entry with the beats around it. */
static void pair_beats(const tw_ref_t *r, block_t *b, const entry_t *v)
{
    int64_t lo = v->clock - SPAN, hi = v->clock + SPAN;
    if (lo < r->beat0)
        lo = r->beat0;
    if (r->end && hi > r->end)
        hi = r->end;
    for (int64_t t = r->beat0 + floor_div(lo - r->beat0 + r->period - 1, r->period) * r->period;
         t < hi; t += r->period)
        add_pair(b, v->clock - t, v->w);
}

static void voice_decide(tw_t *w, int64_t d, const entry_t *e)
{
    watch_t *m = &w->m;
    int64_t id = floor_div(d, TW_BLOCK_STEPS);
    if (id != m->cur.id) {
        int64_t prev = m->cur.id;
        close_block(w);
        if (prev == NONE || id != prev + 1)
            m->win_n = 0;
        block_clear(&m->cur, id);
    }
    block_t *b = &m->cur;
    b->steps++;
    if (!e)
        return;
    b->nv++;
    b->wv += e->w;
    b->ev += e->w * e->w;
    if (m->ref.basis == TW_BASIS_BEAT)
        pair_beats(&m->ref, b, e);
    else
        pair_leader(w, b, e);
}

static bool usable(const tw_ref_t *r)
{
    return r->basis == TW_BASIS_LEADER || (r->basis == TW_BASIS_BEAT && r->period > 0);
}

static bool same_ref(const tw_ref_t *a, const tw_ref_t *b)
{
    if (a->basis != b->basis || a->song != b->song)
        return false;
    return a->basis != TW_BASIS_BEAT || (a->beat0 == b->beat0 && a->period == b->period);
}

uint32_t tw_voice(tw_t *w, const tw_ref_t *ref, int64_t start, const float *x, uint32_t n)
{
    watch_t *m = &w->m;
    /* Another song or another grid: what was measured no longer holds. */
    if (!same_ref(&m->ref, ref))
        watch_init(m);
    m->ref = *ref;
    if (!usable(ref)) {
        m->voice.next = NONE;
        return 0;
    }
    if (m->voice.next != start) {
        stream_restart(&m->voice, start);
        m->win_n = 0;
        block_clear(&m->cur, NONE);
    }
    m->made = 0;
    stream_feed(w, &m->voice, x, n, voice_decide);
    return m->made;
}

void tw_verdict(const tw_t *w, tw_verdict_t *out) { *out = w->m.v; }

bool tw_last_estimate(const tw_t *w, tw_estimate_t *out)
{
    if (w->m.have_last)
        *out = w->m.last;
    return w->m.have_last;
}
