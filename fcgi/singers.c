/*
 * singers.c - the worker's singer table.
 */
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "singers.h"

struct sg_table {
    es_t *es;          /* shared encoder states the singers' nodes name */
    uint32_t mask;     /* capacity - 1, capacity a power of two */
    uint32_t count;
    uint32_t limit;    /* most singers allowed (half the capacity) */
    sg_t *e;
};

static uint32_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

sg_table_t *sg_table_create(uint32_t cap, es_t *es)
{
    uint32_t n = 16;
    while (n < cap * 2 && n < (1u << 30))
        n <<= 1;
    sg_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->e = calloc(n, sizeof *t->e);
    if (!t->e) {
        free(t);
        return NULL;
    }
    t->es = es;
    t->mask = n - 1;
    t->limit = n / 2;
    return t;
}

OpusDecoder *sg_decoder(sg_t *s)
{
    if (!s->dec) {
        int err;
        s->dec = opus_decoder_create(RING_SAMPLE_RATE, 1, &err);
    }
    return s->dec;
}

OpusEncoder *sg_encoder(sg_table_t *t, sg_t *s, bool *lost)
{
    *lost = false;
    if (!s->enc) {
        /* Allocated whole (no pointers inside), so a copy of a shared state
         * is a plain memcpy into it. */
        s->enc = malloc((size_t)opus_encoder_get_size(1));
        if (!s->enc)
            return NULL;
        if (!t->es || es_copy_state(t->es, s->node, s->enc) != 0) {
            *lost = true;
            es_encoder_init(s->enc);
        }
        if (t->es)
            es_unpin(t->es, s->node);
        s->node = ES_ROOT;
    }
    s->priv = true;
    return s->enc;
}

void sg_drop_codecs(sg_table_t *t, sg_t *s)
{
    if (t->es)
        es_unpin(t->es, s->node);
    s->node = ES_ROOT;
    if (s->dec) {
        opus_decoder_destroy(s->dec);
        s->dec = NULL;
        s->dec_quiet = false;
    }
    free(s->enc);
    s->enc = NULL;
    free(s->pre);
    s->pre = NULL;
    s->pre_cap = 0;
    s->pre_n = 0;
    s->priv = false;
    tw_destroy(s->tw);
    s->tw = NULL;
}

void sg_close_stem(sg_t *s)
{
    if (s->stem) {
        stem_destroy(s->stem);
        s->stem = NULL;
    }
}

void sg_table_destroy(sg_table_t *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i <= t->mask; i++)
        if (t->e[i].used) {
            sg_drop_codecs(t, &t->e[i]);
            sg_close_stem(&t->e[i]);
        }
    free(t->e);
    free(t);
}

sg_t *sg_find(sg_table_t *t, uint64_t userid)
{
    for (uint32_t i = hash64(userid) & t->mask;; i = (i + 1) & t->mask) {
        sg_t *e = &t->e[i];
        if (!e->used)
            return NULL;
        if (e->userid == userid)
            return e;
    }
}

sg_t *sg_insert(sg_table_t *t, uint64_t userid)
{
    if (t->count >= t->limit)
        return NULL;
    uint32_t i = hash64(userid) & t->mask;
    while (t->e[i].used)
        i = (i + 1) & t->mask;
    sg_t *e = &t->e[i];
    memset(e, 0, sizeof *e);
    e->used = true;
    e->userid = userid;
    e->slot = -1;
    e->pending_delay = -1;
    e->timing_word = UINT32_MAX;
    t->count++;
    return e;
}

uint32_t sg_count(const sg_table_t *t) { return t->count; }

/* Removes entry i and shifts later members of its probe run back so that
 * lookups never meet a hole inside a run. */
static void remove_at(sg_table_t *t, uint32_t i)
{
    sg_drop_codecs(t, &t->e[i]);
    sg_close_stem(&t->e[i]);
    t->e[i].used = false;
    t->count--;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->e[j].used)
            return;
        uint32_t home = hash64(t->e[j].userid) & t->mask;
        /* Move e[j] into the hole at i if its home is not in (i, j]. */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            t->e[i] = t->e[j];
            t->e[j].used = false;
            t->e[j].dec = NULL;
            t->e[j].enc = NULL;
            t->e[j].stem = NULL;
            t->e[j].pre = NULL;
            t->e[j].pre_cap = 0;
            t->e[j].pre_n = 0;
            t->e[j].tw = NULL;
            i = j;
        }
    }
}

uint32_t sg_sweep(sg_table_t *t, int64_t now, int64_t max_idle)
{
    uint32_t removed = 0;
    for (uint32_t i = 0; i <= t->mask; i++) {
        while (t->e[i].used && now - t->e[i].last_active > max_idle) {
            remove_at(t, i);
            removed++;
        }
    }
    return removed;
}

bool sg_evict_idle(sg_table_t *t, int64_t now, int64_t min_idle)
{
    uint32_t best = 0;
    int64_t best_idle = min_idle;
    bool found = false;
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (t->e[i].used && now - t->e[i].last_active > best_idle) {
            best = i;
            best_idle = now - t->e[i].last_active;
            found = true;
        }
    }
    if (found)
        remove_at(t, best);
    return found;
}

uint32_t sg_close_idle_stems(sg_table_t *t, int64_t now, int64_t idle)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i <= t->mask; i++) {
        sg_t *e = &t->e[i];
        if (e->used && e->stem && now - e->stem_last > idle) {
            sg_close_stem(e);
            n++;
        }
    }
    return n;
}

uint32_t sg_drop_idle_codecs(sg_table_t *t, int64_t now, int64_t idle)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i <= t->mask; i++) {
        sg_t *e = &t->e[i];
        if (e->used && (e->dec || e->enc || e->node || e->tw) && now - e->last_active > idle) {
            sg_drop_codecs(t, e);
            n++;
        }
    }
    return n;
}
