/*
 * watch.c - the timing watch in a worker (watch.h).
 */
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "ring.h"
#include "song.h"
#include "tempo.h"
#include "users.h"
#include "watch.h"

typedef struct {
    uint64_t public_id;
    int32_t offset_ms;
    uint32_t basis;
} flag_t;

struct wt {
    seg_t *seg;
    int64_t built;              /* server clock the list was built at; 0: never */
    size_t len;                 /* of json; 0: nobody flagged */
    char json[WT_FLAGS_BYTES];
};

wt_t *wt_create(seg_t *seg)
{
    wt_t *w = calloc(1, sizeof *w);
    if (w)
        w->seg = seg;
    return w;
}

void wt_destroy(wt_t *w) { free(w); }

tw_ref_t wt_reference(const seg_ctl_t *ctl)
{
    const song_t *s = &ctl->song;
    tw_ref_t r = {.basis = TW_BASIS_NONE};
    if (!s->start)
        return r;
    r.song = s->start;
    int64_t period = tempo_beat_period(s->bpm);
    if (s->metronome_on && period > 0) {
        r.basis = TW_BASIS_BEAT;
        r.beat0 = s->start;
        r.period = period;
        r.end = s->end;
    } else {
        r.basis = TW_BASIS_LEADER;
    }
    return r;
}

bool wt_wants_heard(const rq_t *rq, const seg_ctl_t *ctl, uint32_t flags)
{
    return !rq->spectator && !rq->loopback && !(flags & SEG_UF_MONITORING) &&
           wt_reference(ctl).basis == TW_BASIS_LEADER;
}

/* The singer's watch, made on first need; NULL when out of memory (the
 * singer is then not watched, which nobody notices). */
static tw_t *watch_of(sg_t *s)
{
    if (!s->tw)
        s->tw = tw_create();
    return s->tw;
}

void wt_heard(sg_t *s, const rq_t *rq, const seg_ctl_t *ctl, const float *power, const float *x)
{
    tw_t *w = watch_of(s);
    if (!w)
        return;
    int64_t start = rq->read_clock - rq->n;
    /* What the singer heard while the song did not reach them was silence. */
    bool heard = song_read_active(&ctl->song, rq->read_clock, rq->n);
    if (power && start % TW_HOP == 0)
        tw_reference_power(w, start, heard ? power : NULL, rq->n / TW_HOP);
    else
        tw_reference(w, start, heard ? x : NULL, rq->n);
}

void wt_voice(sg_t *s, const rq_t *rq, const float *in, const seg_ctl_t *ctl)
{
    tw_ref_t ref = wt_reference(ctl);
    int64_t start = rq->write_clock - rq->n;
    if (ref.basis == TW_BASIS_NONE || start < s->timing_from)
        return;
    tw_t *w = watch_of(s);
    if (w)
        tw_voice(w, &ref, start, in, rq->n);
}

void wt_note(wt_t *wt, sg_t *s, const rq_t *rq, int64_t slot)
{
    if (slot < 0)
        return;
    uint32_t idx = (uint32_t)slot;
    tw_verdict_t v = {0};
    if (s->tw)
        tw_verdict(s->tw, &v);
    uint32_t m = users_timing_msg(wt->seg, idx);
    if (!s->timing_known) {
        /* What was asked before this worker knew the singer is not for
         * this connection. */
        s->timing_seen = m;
        s->timing_known = true;
    } else if (m != s->timing_seen) {
        s->timing_seen = m;
        if (v.flagged) {
            s->apply_ms = v.offset_ms;
            s->apply_basis = (uint8_t)v.basis;
            /* The client applies it to what it captures from now on: voice
             * written before this read clock still carries the old offset. */
            tw_restart(s->tw);
            s->timing_from = rq->read_clock;
            v.flagged = false;
        }
    }
    uint32_t word = v.flagged ? users_timing_word(v.offset_ms, (uint32_t)v.basis) : 0;
    if (word != s->timing_word) {
        users_set_timing(wt->seg, idx, word);
        s->timing_word = word;
    }
}

const char *wt_own(const sg_t *s, int32_t *ms)
{
    tw_verdict_t v;
    if (!s->tw)
        return NULL;
    tw_verdict(s->tw, &v);
    if (!v.flagged)
        return NULL;
    *ms = v.offset_ms;
    return tw_basis_name(v.basis);
}

/* Keeps the WT_FLAGS_MAX largest offsets in f (n so far). */
static void keep(flag_t *f, uint32_t *n, flag_t x)
{
    uint32_t at = *n;
    if (at == WT_FLAGS_MAX) {
        uint32_t min = 0;
        for (uint32_t i = 1; i < at; i++)
            if (abs(f[i].offset_ms) < abs(f[min].offset_ms))
                min = i;
        if (abs(f[min].offset_ms) >= abs(x.offset_ms))
            return;
        f[min] = x;
        return;
    }
    f[at] = x;
    (*n)++;
}

static int by_offset(const void *a, const void *b)
{
    const flag_t *x = a, *y = b;
    int ax = abs(x->offset_ms), ay = abs(y->offset_ms);
    if (ax != ay)
        return ay - ax;
    return x->public_id < y->public_id ? -1 : x->public_id > y->public_id;
}

static void build(wt_t *w, const seg_ctl_t *ctl, int64_t now)
{
    flag_t f[WT_FLAGS_MAX];
    uint32_t n = 0, cap = seg_user_cap(w->seg), live = 0;
    /* Slots are given lowest first, so the users lie at the front: the
     * scan ends once it has passed as many as the table holds (a user
     * who joined since is listed at the next build). */
    for (uint32_t i = 0; i < cap && live < ctl->n_users; i++) {
        /* A relaxed look first: flagged singers are few. */
        bool in;
        uint32_t word = users_timing(w->seg, i, &in);
        live += in;
        if (!(word & USERS_TIMING_FLAGGED))
            continue;
        users_view_t v;
        if (!users_read(w->seg, i, &v) || !(v.timing & USERS_TIMING_FLAGGED) ||
            now - v.last_heard > USERS_ACTIVE_SAMPLES)
            continue;
        keep(f, &n, (flag_t){v.public_id, users_timing_offset(v.timing), users_timing_basis(v.timing)});
    }
    qsort(f, n, sizeof f[0], by_offset);
    w->len = 0;
    if (n == 0)
        return;
    jw_t j;
    jw_init(&j, w->json, sizeof w->json);
    jw_arr_begin(&j);
    for (uint32_t i = 0; i < n; i++) {
        jw_obj_begin(&j);
        jw_key(&j, "id");
        jw_uint_str(&j, f[i].public_id);
        jw_key(&j, "offset_ms");
        jw_int(&j, f[i].offset_ms);
        jw_key(&j, "basis");
        jw_str(&j, tw_basis_name((tw_basis_t)f[i].basis));
        jw_obj_end(&j);
    }
    jw_arr_end(&j);
    if (jw_ok(&j))
        w->len = j.len;
}

const char *wt_flags(wt_t *w, const seg_ctl_t *ctl, int64_t now, size_t *len)
{
    if (w->built == 0 || now - w->built >= WT_FLAGS_EVERY || now < w->built) {
        build(w, ctl, now);
        w->built = now;
    }
    *len = w->len;
    return w->len ? w->json : NULL;
}
