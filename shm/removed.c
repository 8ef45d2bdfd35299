/*
 * removed.c - the room's list of removed singers in its segment (removed.h).
 */
#include <string.h>

#include "jsonw.h"
#include "removed.h"
#include "strutil.h"

static seg_removed_t *latch(const seg_t *seg) { return &seg_header(seg)->removed; }

/* Entry i's first word in a copy. */
static size_t entry_word(uint32_t i) { return 2 + (size_t)i * SEG_REMOVED_ENTRY_WORDS; }

/* The count of a copy, bounded: a damaged word never makes a reader scan
 * past the copy. */
static uint32_t copy_count(const _Atomic uint64_t *w)
{
    uint64_t n = load_relaxed(&w[1]);  /* relaxed: bracketed by the latch seq */
    return n > SEG_REMOVED_MAX ? SEG_REMOVED_MAX : (uint32_t)n;
}

bool rmv_has(const seg_t *seg, uint64_t userid)
{
    const seg_removed_t *l = latch(seg);
    for (;;) {
        /* acquire; pairs with the release store of seq in rmv_publish() */
        uint64_t s = load_acquire(&l->seq);
        const _Atomic uint64_t *w = l->w[s & 1];
        uint32_t n = copy_count(w);
        bool found = false;
        for (uint32_t i = 0; i < n && !found; i++)
            found = load_relaxed(&w[entry_word(i)]) == userid;  /* relaxed: bracketed by seq */
        fence_acquire();
        if (load_relaxed(&l->seq) == s)
            return found;
    }
}

uint32_t rmv_count(const seg_t *seg)
{
    const seg_removed_t *l = latch(seg);
    for (;;) {
        /* acquire; pairs with the release store of seq in rmv_publish() */
        uint64_t s = load_acquire(&l->seq);
        uint32_t n = copy_count(l->w[s & 1]);
        fence_acquire();
        if (load_relaxed(&l->seq) == s)
            return n;
    }
}

int rmv_read(const seg_t *seg, uint64_t *gen, rmv_list_t *out)
{
    const seg_removed_t *l = latch(seg);
    for (;;) {
        /* acquire; pairs with the release store of seq in rmv_publish() */
        uint64_t s = load_acquire(&l->seq);
        const _Atomic uint64_t *w = l->w[s & 1];
        uint64_t g = load_relaxed(&w[0]);  /* relaxed: bracketed by seq */
        bool changed = g != *gen;
        if (changed) {
            out->gen = g;
            out->n = copy_count(w);
            for (uint32_t i = 0; i < out->n; i++) {
                size_t k = entry_word(i);
                out->e[i].userid = load_relaxed(&w[k]);
                out->e[i].public_id = load_relaxed(&w[k + 1]);
                seg_str_load(&w[k + 2], SEG_NAME_MAX, out->e[i].name);
            }
        }
        fence_acquire();
        if (load_relaxed(&l->seq) != s)
            continue;
        if (!changed)
            return 0;
        *gen = g;
        return 1;
    }
}

static void write_copy(_Atomic uint64_t *w, const rmv_list_t *l)
{
    /* relaxed: bracketed by the latch seq */
    store_relaxed(&w[0], l->gen);
    store_relaxed(&w[1], l->n);
    for (uint32_t i = 0; i < l->n; i++) {
        size_t k = entry_word(i);
        store_relaxed(&w[k], l->e[i].userid);
        store_relaxed(&w[k + 1], l->e[i].public_id);
        seg_str_store(&w[k + 2], SEG_NAME_MAX, l->e[i].name);
    }
}

void rmv_publish(seg_t *seg, rmv_list_t *l)
{
    seg_removed_t *x = latch(seg);
    l->gen++;
    uint64_t s = load_relaxed(&x->seq);  /* relaxed: the daemon is the only writer */
    if (s & 1)
        s++;  /* a previous daemon died between the two halves */
    /* Readers move to copy 1 while copy 0 is rewritten. */
    store_relaxed(&x->seq, s + 1);
    fence_release();
    write_copy(x->w[0], l);
    /* release; pairs with the acquire loads of seq in the readers */
    store_release(&x->seq, s + 2);
    write_copy(x->w[1], l);
}

bool rmv_list_has(const rmv_list_t *l, uint64_t userid)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->e[i].userid == userid)
            return true;
    return false;
}

int rmv_add(rmv_list_t *l, uint64_t userid, uint64_t public_id, const char *name)
{
    if (rmv_list_has(l, userid))
        return RMV_ALREADY;
    if (l->n >= SEG_REMOVED_MAX)
        return RMV_FULL;
    rmv_entry_t *e = &l->e[l->n++];
    e->userid = userid;
    e->public_id = public_id;
    str_copy(e->name, sizeof e->name, name ? name : "");
    return RMV_ADDED;
}

bool rmv_drop(rmv_list_t *l, uint64_t public_id)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->e[i].public_id == public_id) {
            memmove(&l->e[i], &l->e[i + 1], (l->n - i - 1) * sizeof l->e[0]);
            l->n--;
            return true;
        }
    return false;
}

size_t rmv_json(const rmv_list_t *l, char *buf, size_t cap)
{
    jw_t w;
    jw_init(&w, buf, cap);
    jw_arr_begin(&w);
    for (uint32_t i = 0; i < l->n && i < SEG_REMOVED_MAX; i++) {
        jw_arr_begin(&w);
        jw_uint_str(&w, l->e[i].public_id);
        jw_str(&w, l->e[i].name);
        jw_arr_end(&w);
    }
    jw_arr_end(&w);
    return jw_ok(&w) ? w.len : 0;
}
