/*
 * timeline.c - bounded access to the rings.
 */
#include <string.h>

#include "ring.h"
#include "timeline.h"

const char *tl_strerror(int code)
{
    switch (code) {
    case TL_OK: return "success";
    case TL_EPAST: return "too far in the past for the timeline";
    case TL_EFUTURE: return "in the future of the timeline";
    case TL_ERANGE: return "invalid length";
    default: return "unknown error";
    }
}

int64_t tl_watermark(const seg_t *seg)
{
    /* acquire; pairs with the release in tl_advance() */
    return load_acquire(&seg_header(seg)->cleared_to);
}

int64_t tl_rec_gate(const seg_t *seg)
{
    /* seq_cst; pairs with the store in tl_set_rec_gate() and orders after
     * the claim in users_mix_claim() (timeline.h, W1/W2) */
    return atomic_load_explicit(&seg_header(seg)->rec_gate, memory_order_seq_cst);
}

void tl_set_rec_gate(seg_t *seg, int64_t clock)
{
    /* seq_cst; pairs with the load in tl_rec_gate() and orders before the
     * daemon's loads in users_mix_progress() (timeline.h, D1/D2) */
    atomic_store_explicit(&seg_header(seg)->rec_gate, clock, memory_order_seq_cst);
}

uint32_t tl_frame_gen(const seg_t *seg, int64_t frame)
{
    uint32_t nf = seg_ring_len(seg) / RING_OPUS_FRAME;
    /* acquire; pairs with the release in bump_frames() */
    return load_acquire(&seg_fgen(seg)[ring_index(frame, nf)]);
}

/* Marks every 60 ms frame that [start, start + n) touches as changed. */
static void bump_frames(seg_t *seg, int64_t start, uint32_t n)
{
    if (n == 0)
        return;
    uint32_t nf = seg_ring_len(seg) / RING_OPUS_FRAME;
    _Atomic uint32_t *g = seg_fgen(seg);
    int64_t f0 = ring_floor_div(start, RING_OPUS_FRAME);
    int64_t f1 = ring_floor_div(start + n - 1, RING_OPUS_FRAME);
    if (f1 - f0 >= nf)
        f1 = f0 + nf - 1;
    for (int64_t f = f0; f <= f1; f++)
        /* release; pairs with the acquire in tl_frame_gen(): a reader that
         * sees the new generation sees the samples written before it */
        atomic_fetch_add_explicit(&g[ring_index(f, nf)], 1, memory_order_release);
}

bool tl_in_window(const seg_t *seg, int64_t start, uint32_t n)
{
    int64_t w = tl_watermark(seg);
    return start >= w - (int64_t)seg_ring_len(seg) + TL_MARGIN && start + (int64_t)n <= w;
}

int tl_check_write(const seg_t *seg, int64_t start, uint32_t n, int64_t now)
{
    uint32_t len = seg_ring_len(seg);
    if (n == 0 || n > len - TL_MARGIN)
        return TL_ERANGE;
    int64_t w = tl_watermark(seg);
    if (start < w - (int64_t)len + TL_MARGIN)
        return TL_EPAST;
    if (start + (int64_t)n > w || start + (int64_t)n > now)
        return TL_EFUTURE;
    return TL_OK;
}

int tl_write(seg_t *seg, int64_t start, const float *x, uint32_t n, int64_t now)
{
    int rc = tl_check_write(seg, start, n, now);
    if (rc)
        return rc;
    uint32_t len = seg_ring_len(seg);
    ring_span_t sp = ring_split(start, n, len);
    acc_cell_t *mix = seg_mix(seg);
    acc_add(mix + sp.first_index, x, sp.first_len);
    acc_add(mix, x + sp.first_len, sp.second_len);
    bump_frames(seg, start, n);
    return TL_OK;
}

int tl_write_rest(seg_t *seg, int64_t start, uint32_t n, int64_t now)
{
    int rc = tl_check_write(seg, start, n, now);
    if (rc)
        return rc;
    ring_span_t sp = ring_split(start, n, seg_ring_len(seg));
    acc_cell_t *mix = seg_mix(seg);
    acc_add_rest(mix + sp.first_index, sp.first_len);
    acc_add_rest(mix, sp.second_len);
    bump_frames(seg, start, n);
    return TL_OK;
}

int tl_write_monitor(seg_t *seg, int64_t start, const float *x, uint32_t n, int64_t now)
{
    int rc = tl_check_write(seg, start, n, now);
    if (rc)
        return rc;
    ring_span_t sp = ring_split(start, n, seg_ring_len(seg));
    acc_cell32_t *mon = seg_monitor(seg);
    acc_add32(mon + sp.first_index, x, sp.first_len);
    acc_add32(mon, x + sp.first_len, sp.second_len);
    return TL_OK;
}

int tl_write_solo(seg_t *seg, uint32_t k, int64_t start, const float *x, uint32_t n, int64_t now)
{
    if (k >= SEG_SOLO_RINGS)
        return TL_ERANGE;
    int rc = tl_check_write(seg, start, n, now);
    if (rc)
        return rc;
    ring_span_t sp = ring_split(start, n, seg_ring_len(seg));
    acc_cell_t *ring = seg_solo(seg, k);
    acc_add(ring + sp.first_index, x, sp.first_len);
    acc_add(ring, x + sp.first_len, sp.second_len);
    return TL_OK;
}

/* Clips [start, start + n) to the safe window; returns the offset into the
 * range and the count that lie inside (count 0 if none). */
static uint32_t clip_window(const seg_t *seg, int64_t start, uint32_t n, uint32_t *skip)
{
    uint32_t len = seg_ring_len(seg);
    int64_t w = tl_watermark(seg);
    int64_t lo = w - (int64_t)len + TL_MARGIN;
    int64_t a = start < lo ? lo : start;
    int64_t b = start + (int64_t)n > w ? w : start + (int64_t)n;
    if (b <= a) {
        *skip = 0;
        return 0;
    }
    *skip = (uint32_t)(a - start);
    return (uint32_t)(b - a);
}

void tl_read(const seg_t *seg, int64_t start, uint32_t n, float volume,
             float *out, int32_t *counts)
{
    uint32_t skip;
    uint32_t m = clip_window(seg, start, n, &skip);
    if (m < n) {
        memset(out, 0, (size_t)n * sizeof *out);
        if (counts)
            memset(counts, 0, (size_t)n * sizeof *counts);
    }
    if (m == 0)
        return;
    ring_span_t sp = ring_split(start + skip, m, seg_ring_len(seg));
    const acc_cell_t *mix = seg_mix(seg);
    const acc_cell32_t *bk = seg_backing(seg);
    acc_render(mix + sp.first_index, bk + sp.first_index, sp.first_len, volume,
               out + skip, counts ? counts + skip : NULL);
    acc_render(mix, bk, sp.second_len, volume, out + skip + sp.first_len,
               counts ? counts + skip + sp.first_len : NULL);
}

void tl_read_monitor(const seg_t *seg, int64_t start, uint32_t n, float *out)
{
    uint32_t skip;
    uint32_t m = clip_window(seg, start, n, &skip);
    if (m < n)
        memset(out, 0, (size_t)n * sizeof *out);
    if (m == 0)
        return;
    ring_span_t sp = ring_split(start + skip, m, seg_ring_len(seg));
    const acc_cell32_t *mon = seg_monitor(seg);
    acc_render32(mon + sp.first_index, sp.first_len, out + skip);
    acc_render32(mon, sp.second_len, out + skip + sp.first_len);
}

void tl_read_solo(const seg_t *seg, uint32_t k, int64_t start, uint32_t n, float volume,
                  float *out)
{
    uint32_t skip;
    uint32_t m = k < SEG_SOLO_RINGS ? clip_window(seg, start, n, &skip) : 0;
    if (m < n)
        memset(out, 0, (size_t)n * sizeof *out);
    if (m == 0)
        return;
    ring_span_t sp = ring_split(start + skip, m, seg_ring_len(seg));
    const acc_cell_t *ring = seg_solo(seg, k);
    const acc_cell32_t *bk = seg_backing(seg);
    acc_render(ring + sp.first_index, bk + sp.first_index, sp.first_len, volume, out + skip, NULL);
    acc_render(ring, bk, sp.second_len, volume, out + skip + sp.first_len, NULL);
}

void tl_clear_solo(seg_t *seg, uint32_t k, uint32_t n)
{
    uint32_t len = seg_ring_len(seg);
    if (k >= SEG_SOLO_RINGS)
        return;
    if (n > len - TL_MARGIN)
        n = len - TL_MARGIN;
    /* relaxed: the daemon is the only writer of the watermark */
    int64_t w = load_relaxed(&seg_header(seg)->cleared_to);
    acc_cell_t *ring = seg_solo(seg, k);
    for (uint32_t i = 0; i < n; i++)
        /* relaxed: nothing may write here until the release in the
         * tl_advance() that follows moves the watermark past it */
        store_relaxed(&ring[ring_index(w + i, len)], 0);
}

void tl_release_solo(seg_t *seg, uint32_t k)
{
    if (k >= SEG_SOLO_RINGS)
        return;
    uint32_t len = seg_ring_len(seg);
    acc_cell_t *ring = seg_solo(seg, k);
    if (seg_release(seg, ring, (size_t)len * sizeof *ring) != SEG_OK)
        for (uint32_t i = 0; i < len; i++)
            store_relaxed(&ring[i], 0);  /* relaxed: a racing add lands before or after */
}

void tl_read_cells(const seg_t *seg, int64_t start, uint32_t n, int64_t *out)
{
    uint32_t len = seg_ring_len(seg);
    const acc_cell_t *mix = seg_mix(seg);
    for (uint32_t i = 0; i < n; i++)
        out[i] = load_relaxed(&mix[ring_index(start + i, len)]);  /* relaxed: see accum.h */
}

void tl_advance(seg_t *seg, uint32_t n, const float *backing)
{
    seg_header_shared_t *h = seg_header(seg);
    uint32_t len = seg_ring_len(seg);
    if (n > len - TL_MARGIN)
        n = len - TL_MARGIN;
    /* relaxed: the daemon is the only writer of the watermark */
    int64_t w = load_relaxed(&h->cleared_to);
    acc_cell_t *mix = seg_mix(seg);
    acc_cell32_t *mon = seg_monitor(seg);
    acc_cell32_t *bk = seg_backing(seg);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = ring_index(w + i, len);
        /* relaxed: nothing may write here until the release below moves the
         * watermark past it */
        store_relaxed(&mix[k], 0);
        store_relaxed(&mon[k], 0);
        store_relaxed(&bk[k], backing ? acc_quantise32(backing[i]) : 0);
    }
    bump_frames(seg, w, n);
    /* release; pairs with the acquire in tl_watermark() */
    store_release(&h->cleared_to, w + n);
}

void tl_write_backing(seg_t *seg, int64_t start, const float *x, uint32_t n)
{
    uint32_t skip;
    uint32_t m = clip_window(seg, start, n, &skip);
    uint32_t len = seg_ring_len(seg);
    acc_cell32_t *bk = seg_backing(seg);
    for (uint32_t i = 0; i < m; i++)
        /* relaxed: readers of the past see the click or not, per sample */
        store_relaxed(&bk[ring_index(start + skip + i, len)], acc_quantise32(x[skip + i]));
    bump_frames(seg, start + skip, m);
}

void tl_zero_all(seg_t *seg)
{
    uint32_t len = seg_ring_len(seg);
    acc_cell_t *mix = seg_mix(seg);
    acc_cell32_t *mon = seg_monitor(seg);
    acc_cell32_t *bk = seg_backing(seg);
    /* Giving the rings' pages back is a few milliseconds where storing 95 MB
     * of zeros is tens of them, in the daemon's tick; the clearing ahead of
     * the clock touches them again as time reaches them. */
    if (seg_release(seg, mix, (size_t)len * sizeof *mix) != SEG_OK ||
        seg_release(seg, mon, (size_t)len * sizeof *mon) != SEG_OK ||
        seg_release(seg, bk, (size_t)len * sizeof *bk) != SEG_OK) {
        for (uint32_t i = 0; i < len; i++) {
            store_relaxed(&mix[i], 0);  /* relaxed: a racing add lands before or after */
            store_relaxed(&mon[i], 0);
            store_relaxed(&bk[i], 0);
        }
    }
    for (uint32_t k = 0; k < SEG_SOLO_RINGS; k++)
        tl_release_solo(seg, k);
    uint32_t nf = len / RING_OPUS_FRAME;
    for (uint32_t f = 0; f < nf; f++)
        /* release; pairs with the acquire in tl_frame_gen() */
        atomic_fetch_add_explicit(&seg_fgen(seg)[f], 1, memory_order_release);
}
