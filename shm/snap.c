/*
 * snap.c - latch reads and writes of the control state and texts.
 */
#include <string.h>

#include "snap.h"

static void words_load(const _Atomic uint64_t *src, uint64_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = load_relaxed(&src[i]);  /* relaxed: bracketed by the latch seq */
}

static void words_store(_Atomic uint64_t *dst, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_relaxed(&dst[i], src[i]);  /* relaxed: bracketed by the latch seq */
}

void snap_ctl_read(const seg_t *seg, seg_ctl_t *out)
{
    seg_latch_t *l = &seg_header(seg)->ctl;
    uint64_t words[SEG_CTL_WORDS];
    const size_t n = (sizeof *out + 7) / 8;
    for (;;) {
        /* acquire; pairs with the release stores of seq in snap_ctl_publish() */
        uint64_t s = load_acquire(&l->seq);
        words_load(l->w[s & 1], words, n);
        fence_acquire();
        if (load_relaxed(&l->seq) == s)
            break;
    }
    memcpy(out, words, sizeof *out);
}

void snap_ctl_publish(seg_t *seg, const seg_ctl_t *in)
{
    seg_latch_t *l = &seg_header(seg)->ctl;
    uint64_t words[SEG_CTL_WORDS] = {0};
    const size_t n = (sizeof *in + 7) / 8;
    memcpy(words, in, sizeof *in);
    uint64_t s = load_relaxed(&l->seq);  /* relaxed: the daemon is the only writer */
    if (s & 1)
        s++;  /* a previous daemon died between the two halves */
    /* Readers move to copy 1 while copy 0 is rewritten. */
    store_relaxed(&l->seq, s + 1);
    fence_release();
    words_store(l->w[0], words, n);
    /* release; pairs with the acquire in snap_ctl_read() */
    store_release(&l->seq, s + 2);
    words_store(l->w[1], words, n);
}

static _Atomic uint64_t *blob_words(const seg_t *seg, int which, int copy)
{
    seg_blob_t *b = &seg_header(seg)->blobs[which];
    return (_Atomic uint64_t *)(seg_base(seg) + b->off + (size_t)copy * b->cap);
}

int snap_blob_read(const seg_t *seg, int which, uint64_t *gen, char *buf,
                   size_t cap, size_t *len)
{
    seg_blob_t *b = &seg_header(seg)->blobs[which];
    for (;;) {
        /* acquire; pairs with the release stores of seq in snap_blob_publish() */
        uint64_t s = load_acquire(&b->seq);
        int c = (int)(s & 1);
        uint64_t g = load_relaxed(&b->gen[c]);
        uint64_t n = load_relaxed(&b->len[c]);
        int changed = g != *gen;
        size_t take = 0;
        if (changed && cap > 0) {
            take = n < cap - 1 ? (size_t)n : cap - 1;
            const _Atomic uint64_t *w = blob_words(seg, which, c);
            size_t nw = (take + 7) / 8;
            for (size_t i = 0; i < nw; i++) {
                uint64_t v = load_relaxed(&w[i]);  /* relaxed: bracketed by seq */
                size_t k = take - 8 * i < 8 ? take - 8 * i : 8;
                memcpy(buf + 8 * i, &v, k);
            }
        }
        fence_acquire();
        if (load_relaxed(&b->seq) != s)
            continue;
        if (!changed)
            return 0;
        buf[take] = '\0';
        *len = take;
        *gen = g;
        return 1;
    }
}

static void blob_write_copy(seg_t *seg, int which, int c, const char *text,
                            size_t len, uint64_t g)
{
    seg_blob_t *b = &seg_header(seg)->blobs[which];
    _Atomic uint64_t *w = blob_words(seg, which, c);
    size_t nw = (len + 7) / 8;
    for (size_t i = 0; i < nw; i++) {
        uint64_t v = 0;
        size_t k = len - 8 * i < 8 ? len - 8 * i : 8;
        memcpy(&v, text + 8 * i, k);
        store_relaxed(&w[i], v);  /* relaxed: bracketed by seq */
    }
    store_relaxed(&b->len[c], len);
    store_relaxed(&b->gen[c], g);
}

int snap_blob_publish(seg_t *seg, int which, const char *text, size_t len)
{
    seg_blob_t *b = &seg_header(seg)->blobs[which];
    if (len > b->cap)
        return -1;
    uint64_t s = load_relaxed(&b->seq);  /* relaxed: single writer */
    if (s & 1)
        s++;
    int cur = (int)(s & 1);
    uint64_t g = load_relaxed(&b->gen[cur]);
    if (g != 0 && load_relaxed(&b->len[cur]) == len) {
        /* Compare with the current text; unchanged texts keep their
         * generation so that readers copy nothing. */
        const _Atomic uint64_t *w = blob_words(seg, which, cur);
        size_t nw = (len + 7) / 8;
        int same = 1;
        for (size_t i = 0; i < nw && same; i++) {
            uint64_t v = 0;
            size_t k = len - 8 * i < 8 ? len - 8 * i : 8;
            memcpy(&v, text + 8 * i, k);
            same = load_relaxed(&w[i]) == v;
        }
        if (same)
            return 0;
    }
    g++;
    store_relaxed(&b->seq, s + 1);
    fence_release();
    blob_write_copy(seg, which, 0, text, len, g);
    /* release; pairs with the acquire in snap_blob_read() */
    store_release(&b->seq, s + 2);
    blob_write_copy(seg, which, 1, text, len, g);
    return 1;
}
