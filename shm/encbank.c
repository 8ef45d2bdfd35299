/*
 * encbank.c - the encode bank.
 *
 * Packet and state slots share one discipline (a header and words), so
 * the work is done once over (header, words, capacity) and the public
 * calls name the kind.
 */
#include <string.h>

#include "encbank.h"
#include "rng.h"

static seg_bank_t *bank(const seg_t *seg) { return seg_bank(seg); }

/* The hash a slot carries over what it says and holds (`tag` mixes in
 * the frame and content id): a reader that copied a slot a racing
 * eb_release() zeroed in part finds it wrong. */
static uint64_t slot_sum(uint64_t id, uint64_t len, uint64_t tag, const uint64_t *w, size_t nw)
{
    /* Four lanes, so that the multiplies of a 44 KB state overlap. */
    uint64_t h[4] = {id, len, tag, 0x9E3779B97F4A7C15ull};
    size_t i = 0;
    for (; i + 4 <= nw; i += 4)
        for (int k = 0; k < 4; k++)
            h[k] = (h[k] ^ w[i + (size_t)k]) * 0x100000001B3ull + (h[k] >> 29);
    for (; i < nw; i++)
        h[0] = (h[0] ^ w[i]) * 0x100000001B3ull + (h[0] >> 29);
    return rng_mix64(h[0] ^ rng_mix64(h[1] ^ rng_mix64(h[2] ^ rng_mix64(h[3])))) | 1;
}

static eb_head_t *slot(seg_bank_t *b, int states, uint32_t i)
{
    return states ? &b->states[i & (EB_STATES - 1)].h : &b->packets[i & (EB_PACKETS - 1)].h;
}

static _Atomic uint64_t *words(eb_head_t *h)
{
    /* The words follow the header in both kinds of slot. */
    return (_Atomic uint64_t *)(h + 1);
}

_Static_assert(offsetof(eb_packet_t, w) == sizeof(eb_head_t) &&
                   offsetof(eb_state_t, w) == sizeof(eb_head_t),
               "the words follow a slot's header");
_Static_assert((EB_PACKETS & (EB_PACKETS - 1)) == 0 && (EB_STATES & (EB_STATES - 1)) == 0 &&
                   (EB_JOINS & (EB_JOINS - 1)) == 0,
               "the bank's tables are powers of two");

static uint32_t home(uint64_t id) { return (uint32_t)rng_mix64(id ^ 0xB5AD4ECEDA1CE2A9ull); }

/* Copies slot kind `states` of node id: returns the length or -1. */
static long get(const seg_t *seg, int states, uint64_t id, void *out, size_t cap, int64_t *frame,
                uint64_t *cid, uint64_t *tag)
{
    if (id == 0)
        return -1;
    seg_bank_t *b = bank(seg);
    uint32_t h0 = home(id);
    for (uint32_t k = 0; k < EB_PROBE; k++) {
        eb_head_t *h = slot(b, states, h0 + k);
        uint64_t l = load_acquire(&h->lock);  /* acquire; pairs with the writer's release */
        if (l & 1)
            continue;
        if (load_relaxed(&h->id) != id)  /* relaxed: checked by the lock below */
            continue;
        uint64_t len = load_relaxed(&h->len);
        /* A torn read may say anything: never past the slot's words. */
        if (len > cap || len > (states ? EB_STATE_MAX : EB_PACKET_MAX))
            return -1;
        size_t nw = (size_t)(len + 7) / 8;
        uint64_t buf[EB_STATE_MAX / 8];
        _Atomic uint64_t *w = words(h);
        for (size_t i = 0; i < nw; i++)
            buf[i] = load_relaxed(&w[i]);  /* relaxed: checked by the lock below */
        int64_t f = load_relaxed(&h->frame);
        uint64_t c = load_relaxed(&h->cid), t = load_relaxed(&h->tag), sum = load_relaxed(&h->sum);
        fence_acquire();
        if (load_relaxed(&h->lock) != l ||
            sum != slot_sum(id, len, t ^ rng_mix64(c ^ (uint64_t)f), buf, nw))
            return -1;
        memcpy(out, buf, (size_t)len);
        if (frame)
            *frame = f;
        if (cid)
            *cid = c;
        if (tag)
            *tag = t;
        return (long)len;
    }
    return -1;
}

static int put(seg_t *seg, int states, uint64_t id, int64_t frame, uint64_t cid, const void *data,
               size_t len, uint64_t tag, int64_t now)
{
    if (id == 0 || len > (states ? EB_STATE_MAX : EB_PACKET_MAX))
        return -1;
    seg_bank_t *b = bank(seg);
    uint32_t h0 = home(id);
    eb_head_t *victim = NULL;
    uint64_t vlock = 0;
    int64_t vage = INT64_MIN;
    for (uint32_t k = 0; k < EB_PROBE; k++) {
        eb_head_t *h = slot(b, states, h0 + k);
        uint64_t l = load_acquire(&h->lock);  /* acquire; pairs with the writer's release */
        /* relaxed: a guess at the victim, made good by the claim below */
        int64_t age = now - load_relaxed(&h->claimed);
        uint64_t sid = load_relaxed(&h->id);
        if (l & 1) {
            /* Being written, or its writer died: take it only when dead. */
            if (age < EB_CLAIM_STALE)
                continue;
            age = INT64_MAX;
        } else if (sid == id) {
            return 1;
        } else if (sid == 0) {
            age = INT64_MAX;
        }
        /* The longest since written, not the oldest frame: a deep
         * bucket's chain reads frames seconds older than a shallow one's,
         * and is as alive. */
        if (age > vage) {
            victim = h;
            vlock = l;
            vage = age;
        }
    }
    if (!victim)
        return -1;
    uint64_t odd = (vlock | 1) + ((vlock & 1) ? 2 : 0);
    if (!cas_acq_rel(&victim->lock, &vlock, odd))
        return -1;   /* another writer took it first: not shared this time */
    fence_release();  /* the odd lock is seen before any word below */
    store_relaxed(&victim->claimed, now);  /* relaxed: advisory */
    uint64_t buf[EB_STATE_MAX / 8];
    size_t nw = (len + 7) / 8;
    buf[nw ? nw - 1 : 0] = 0;
    memcpy(buf, data, len);
    _Atomic uint64_t *w = words(victim);
    for (size_t i = 0; i < nw; i++)
        store_relaxed(&w[i], buf[i]);  /* relaxed: published by the lock */
    store_relaxed(&victim->id, id);
    store_relaxed(&victim->cid, cid);
    store_relaxed(&victim->frame, frame);
    store_relaxed(&victim->len, (uint64_t)len);
    store_relaxed(&victim->tag, tag);
    store_relaxed(&victim->sum, slot_sum(id, len, tag ^ rng_mix64(cid ^ (uint64_t)frame), buf, nw));
    /* release; pairs with the acquire in get() */
    store_release(&victim->lock, odd + 1);
    return 0;
}

int eb_packet_get(const seg_t *seg, uint64_t id, uint8_t *out, int cap, int64_t *frame,
                  uint64_t *cid)
{
    if (cap <= 0)
        return -1;
    return (int)get(seg, 0, id, out, (size_t)cap, frame, cid, NULL);
}

int eb_packet_put(seg_t *seg, uint64_t id, int64_t frame, uint64_t cid, const uint8_t *pkt,
                  int len, int64_t now)
{
    if (len <= 0)
        return -1;
    return put(seg, 0, id, frame, cid, pkt, (size_t)len, 0, now);
}

long eb_state_get(const seg_t *seg, uint64_t id, void *out, size_t cap, uint64_t *tag,
                  uint64_t *build)
{
    return get(seg, 1, id, out, cap, NULL, build, tag);
}

int eb_state_put(seg_t *seg, uint64_t id, int64_t frame, const void *st, size_t len,
                 uint64_t tag, uint64_t build, int64_t now)
{
    return put(seg, 1, id, frame, build, st, len, tag, now);
}

static uint32_t join_index(int64_t frame, uint64_t cid)
{
    uint64_t k = (uint64_t)frame * 0xD1B54A32D192ED03ull ^ cid ^ 0x6A09E667F3BCC909ull;
    return (uint32_t)rng_mix64(k) & (EB_JOINS - 1);
}

uint64_t eb_join_get(const seg_t *seg, int64_t frame, uint64_t cid)
{
    /* relaxed: the node is checked against its packet slot, whose lock
     * orders what is read there */
    uint64_t node = load_relaxed(&bank(seg)->joins[join_index(frame, cid)]);
    if (!node)
        return 0;
    uint8_t pkt[EB_PACKET_MAX];
    int64_t f;
    uint64_t c;
    if (eb_packet_get(seg, node, pkt, (int)sizeof pkt, &f, &c) < 0 || f != frame || c != cid)
        return 0;
    return node;
}

void eb_join_put(seg_t *seg, int64_t frame, uint64_t cid, uint64_t node)
{
    if (eb_join_get(seg, frame, cid))
        return;
    /* relaxed: a single word, checked by every reader (eb_join_get) */
    store_relaxed(&bank(seg)->joins[join_index(frame, cid)], node);
}

void eb_release(seg_t *seg)
{
    seg_bank_t *b = bank(seg);
    if (seg_release(seg, b, sizeof *b) == SEG_OK)
        return;
    /* No holes on this file system: empty the slots instead. */
    for (uint32_t i = 0; i < EB_JOINS; i++)
        store_relaxed(&b->joins[i], 0);  /* relaxed: readers check every join */
    for (uint32_t i = 0; i < EB_PACKETS + EB_STATES; i++) {
        eb_head_t *h = i < EB_PACKETS ? &b->packets[i].h : &b->states[i - EB_PACKETS].h;
        uint64_t l = load_acquire(&h->lock);  /* acquire; pairs with the writer's release */
        if (!(l & 1) && cas_acq_rel(&h->lock, &l, l + 1)) {
            fence_release();
            store_relaxed(&h->id, 0);  /* relaxed: published by the lock */
            store_release(&h->lock, l + 2);
        }
    }
}
