/*
 * encshare.c - the shared frame cache.
 *
 * One open-addressing table keyed by node id holds, per node, the packet
 * that led to it from its parent and, while there is room, the encoder
 * state after it.  Deletion shifts later members of a probe run back, so
 * lookups never meet holes.  States are blocks of a pool; an entry points
 * at its block.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encbank.h"
#include "encshare.h"
#include "rng.h"

typedef struct {
    uint64_t id;          /* node id; 0 marks an empty slot (ES_ROOT is never stored) */
    uint64_t cid;         /* content id of the frame that led here */
    int64_t used;         /* server clock of the last use */
    uint32_t refs;        /* singers whose decoder sits at this node */
    uint16_t len;         /* packet length */
    uint8_t *state;       /* encoder state after this node, or NULL */
    uint8_t pkt[ES_PACKET_MAX];
} entry_t;

struct es {
    uint32_t mask;        /* table capacity - 1 */
    uint32_t max_entries;
    entry_t *t;
    uint32_t state_size;
    uint32_t max_states;
    uint8_t **free_states;
    uint32_t n_free;
    uint32_t n_alloc;     /* states allocated so far */
    OpusEncoder *scratch;
    /* Where newcomers join: (frame, content id) -> the first node reached
     * by encoding that frame with that content (direct-mapped; a stale or
     * overwritten slot is checked against the table before use).  The
     * frame is part of the key: silence in one bucket is not the chain of
     * another. */
    uint32_t join_mask;
    uint64_t *join_key;
    uint64_t *join_node;
    int64_t last_expire;
    uint32_t hand;        /* where the next eviction looks first */
    int64_t now;          /* the clock of the call in progress */
    /* The room's encode bank (encbank.h), or NULL: this cache alone. */
    seg_t *bank;
    /* Where libopus lies in this process ([lib_lo, lib_hi)), to relocate
     * the pointers of states other processes wrote; 0 if unknown, and
     * then no state is taken from the bank (packets still are). */
    uintptr_t lib_lo, lib_hi;
    /* Which libopus that is (its file, size and version): a state is
     * taken only from a process with the same one, so that a worker of a
     * rolling restart across a library upgrade never reads another
     * layout. */
    uint64_t lib_id;
    es_stats_t st;
};

uint64_t es_child(uint64_t node, int64_t frame, uint64_t cid)
{
    uint64_t h = rng_mix64(node * 0x9E3779B97F4A7C15ull +
                           rng_mix64(cid ^ 0x5851F42D4C957F2Dull ^ (uint64_t)frame * 0xD1B54A32D192ED03ull));
    return h ? h : 1;
}

int es_encoder_init(OpusEncoder *enc)
{
    int rc = opus_encoder_init(enc, 48000, 1, OPUS_APPLICATION_AUDIO);
    if (rc != OPUS_OK)
        return rc;
    /* The library's defaults otherwise (variable bitrate, DTX off), as the
     * protocol's reference server used them. */
    rc = opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(ES_COMPLEXITY));
    if (rc != OPUS_OK)
        return rc;
    return opus_encoder_ctl(enc, OPUS_SET_DTX(0));
}

/* ---- libopus's place, for states from other processes ---------------- */

/* An OpusEncoder is one block with no pointer to itself or to the heap,
 * but a few into libopus's own tables (the CELT mode, SILK's codebooks),
 * which lie elsewhere in each process (ASLR).  Finds the mappings of the
 * file that holds libopus (the executable itself when it is linked in
 * statically): those of the same inode as the one dladdr() names. */
static void find_libopus(es_t *es)
{
    Dl_info di;
    if (!dladdr((void *)(uintptr_t)opus_encoder_init, &di) || !di.dli_fbase)
        return;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return;
    uintptr_t base = (uintptr_t)di.dli_fbase, lo = 0, hi = 0;
    unsigned long long ino = 0, want = 0;
    char line[512];
    /* Twice over: first the inode mapped at the base, then its extent. */
    for (int pass = 0; pass < 2; pass++) {
        rewind(f);
        while (fgets(line, sizeof line, f)) {
            unsigned long a, b;
            if (sscanf(line, "%lx-%lx %*s %*s %*s %llu", &a, &b, &ino) != 3 || ino == 0)
                continue;
            if (pass == 0 && a == base) {
                want = ino;
                break;
            }
            if (pass == 1 && ino == want) {
                if (!lo || a < lo)
                    lo = a;
                if (b > hi)
                    hi = b;
            }
        }
        if (!want)
            break;
    }
    fclose(f);
    if (lo == base && hi > lo) {
        es->lib_lo = lo;
        es->lib_hi = hi;
        uint64_t v = 0;
        for (const char *c = opus_get_version_string(); *c; c++)
            v = rng_mix64(v ^ (uint8_t)*c);
        uint64_t shape = (hi - lo) ^ (uint64_t)es->state_size << 32;
        es->lib_id = rng_mix64(v ^ rng_mix64(want ^ rng_mix64(shape)));
    }
}

/* Moves every word of a state that points into libopus's image as the
 * writer had it (at wlo) to the same place in ours.  Floats and counters
 * never fall in that window of one process's addresses (a few hundred KB
 * at 0x7f...). */
static void relocate(const es_t *es, uint8_t *st, size_t len, uint64_t wlo)
{
    if (wlo == es->lib_lo)
        return;
    uint64_t span = es->lib_hi - es->lib_lo;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, st + i, 8);
        if (v - wlo < span) {
            v = v - wlo + es->lib_lo;
            memcpy(st + i, &v, 8);
        }
    }
}

es_t *es_create(uint32_t max_entries, uint32_t max_states)
{
    es_t *es = calloc(1, sizeof *es);
    if (!es)
        return NULL;
    uint32_t n = 16;
    while (n < max_entries * 2)
        n <<= 1;
    es->mask = n - 1;
    es->max_entries = max_entries;
    es->max_states = max_states;
    es->state_size = (uint32_t)opus_encoder_get_size(1);
    es->t = calloc(n, sizeof *es->t);
    es->join_mask = n - 1;
    es->join_key = calloc(n, sizeof *es->join_key);
    es->join_node = calloc(n, sizeof *es->join_node);
    es->free_states = calloc(max_states, sizeof *es->free_states);
    es->scratch = malloc(es->state_size);
    if (!es->t || !es->free_states || !es->scratch || !es->join_key || !es->join_node) {
        es_destroy(es);
        return NULL;
    }
    find_libopus(es);
    return es;
}

void es_set_bank(es_t *es, seg_t *seg) { es->bank = seg; }

void es_destroy(es_t *es)
{
    if (!es)
        return;
    if (es->t)
        for (uint32_t i = 0; i <= es->mask; i++)
            free(es->t[i].state);
    for (uint32_t i = 0; i < es->n_free; i++)
        free(es->free_states[i]);
    free(es->free_states);
    free(es->join_key);
    free(es->join_node);
    free(es->t);
    free(es->scratch);
    free(es);
}

const es_stats_t *es_stats(const es_t *es) { return &es->st; }

static entry_t *find(es_t *es, uint64_t id)
{
    if (id == ES_ROOT)
        return NULL;
    for (uint32_t i = (uint32_t)rng_mix64(id) & es->mask;; i = (i + 1) & es->mask) {
        if (es->t[i].id == 0)
            return NULL;
        if (es->t[i].id == id)
            return &es->t[i];
    }
}

static void release_state(es_t *es, entry_t *e)
{
    if (!e->state)
        return;
    es->free_states[es->n_free++] = e->state;
    e->state = NULL;
    es->st.states--;
}

/* Removes slot i, shifting the rest of its probe run back. */
static void remove_at(es_t *es, uint32_t i)
{
    release_state(es, &es->t[i]);
    es->t[i].id = 0;
    es->st.entries--;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & es->mask;
        if (es->t[j].id == 0)
            return;
        uint32_t home = (uint32_t)rng_mix64(es->t[j].id) & es->mask;
        int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            es->t[i] = es->t[j];
            es->t[j].id = 0;
            es->t[j].state = NULL;
            i = j;
        }
    }
}

/* Removes an unpinned entry (or only its state); false if there is none.
 * A clock hand sweeps the table: it passes over pinned entries (a singer's
 * current node) and over entries used in the last 100 ms, so the work per
 * eviction stays small and what is dropped is history no singer stands on.
 * A full lap without a recent-enough victim takes any unpinned one. */
static int evict_one(es_t *es, int only_with_state)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t k = 0; k <= es->mask; k++) {
        uint32_t i = (es->hand + k) & es->mask;
        entry_t *e = &es->t[i];
        if (!e->id || e->refs != 0 || (only_with_state && !e->state))
            continue;
        if (best == UINT32_MAX || e->used < es->t[best].used)
            best = i;
        /* Old enough: take it now rather than look for the oldest. */
        if (es->t[best].used + 48000 / 10 <= es->now)
            break;
    }
    if (best == UINT32_MAX)
        return 0;
    es->hand = (best + 1) & es->mask;
    if (only_with_state) {
        release_state(es, &es->t[best]);
        es->st.evicted++;
    } else {
        remove_at(es, best);
    }
    return 1;
}

static uint8_t *alloc_state(es_t *es)
{
    if (es->n_free == 0) {
        if (es->n_alloc < es->max_states) {
            uint8_t *b = malloc(es->state_size);
            if (b) {
                es->n_alloc++;
                es->free_states[es->n_free++] = b;
            }
        }
        if (es->n_free == 0 && !evict_one(es, 1))
            return NULL;
    }
    es->st.states++;
    return es->free_states[--es->n_free];
}

static entry_t *insert(es_t *es, uint64_t id, int64_t now)
{
    if (es->st.entries >= es->max_entries && !evict_one(es, 0))
        return NULL;
    uint32_t i = (uint32_t)rng_mix64(id) & es->mask;
    while (es->t[i].id != 0)
        i = (i + 1) & es->mask;
    entry_t *e = &es->t[i];
    memset(e, 0, offsetof(entry_t, pkt));
    e->id = id;
    e->used = now;
    es->st.entries++;
    return e;
}

static void pin(es_t *es, uint64_t id)
{
    entry_t *e = find(es, id);
    if (e)
        e->refs++;
}

void es_pin(es_t *es, uint64_t node) { pin(es, node); }

static uint64_t join_key(int64_t frame, uint64_t cid)
{
    return rng_mix64((uint64_t)frame * 0xD1B54A32D192ED03ull ^ cid) | 1;
}

/* The chain node reached by encoding `frame` with content cid, or NULL. */
static entry_t *join_find(es_t *es, int64_t frame, uint64_t cid)
{
    uint64_t k = join_key(frame, cid);
    uint32_t j = (uint32_t)rng_mix64(k) & es->join_mask;
    if (es->join_key[j] != k)
        return NULL;
    entry_t *m = find(es, es->join_node[j]);
    return m && m->len && m->cid == cid ? m : NULL;
}

static void join_note(es_t *es, int64_t frame, uint64_t cid, uint64_t node)
{
    uint64_t k = join_key(frame, cid);
    uint32_t j = (uint32_t)rng_mix64(k) & es->join_mask;
    if (es->join_key[j] != k || !find(es, es->join_node[j])) {
        es->join_key[j] = k;
        es->join_node[j] = node;
    }
}

uint64_t es_node_after(es_t *es, int64_t frame, uint64_t cid)
{
    entry_t *m = join_find(es, frame, cid);
    return m ? m->id : ES_ROOT;
}

void es_unpin(es_t *es, uint64_t node)
{
    entry_t *e = find(es, node);
    if (e && e->refs)
        e->refs--;
}

/* The state after node from the bank, into enc: 0 or ES_ELOST. */
static int bank_state(es_t *es, uint64_t node, OpusEncoder *enc)
{
    if (!es->bank || !es->lib_lo || es->state_size > EB_STATE_MAX)
        return ES_ELOST;
    uint64_t wlo, build;
    long n = eb_state_get(es->bank, node, enc, es->state_size, &wlo, &build);
    if (n != (long)es->state_size || build != es->lib_id)
        return ES_ELOST;
    relocate(es, (uint8_t *)enc, es->state_size, wlo);
    es->st.bank_states++;
    return 0;
}

int es_copy_state(es_t *es, uint64_t node, OpusEncoder *enc)
{
    if (node == ES_ROOT)
        return es_encoder_init(enc);
    entry_t *e = find(es, node);
    if (!e || !e->state)
        return bank_state(es, node, enc);
    memcpy(enc, e->state, es->state_size);
    return 0;
}

void es_hold_state(es_t *es, uint64_t node)
{
    if (!es->bank || node == ES_ROOT)
        return;
    entry_t *e = find(es, node);
    if (!e || e->state)
        return;
    uint8_t *st = alloc_state(es);
    if (!st)
        return;
    /* alloc_state() may have evicted entries, which moves others. */
    e = find(es, node);
    if (e && !e->state && bank_state(es, node, (OpusEncoder *)st) == 0) {
        e->state = st;
        return;
    }
    es->free_states[es->n_free++] = st;
    es->st.states--;
}

/* The packet of `frame` with content cid after parent, from the bank:
 * the node's entry in this cache (created for it), its id in *child, or
 * NULL.  A newcomer (parent ES_ROOT) takes the chain the bank names for
 * the frame, as es_frame() does with this cache's. */
static entry_t *bank_packet(es_t *es, uint64_t parent, int64_t frame, uint64_t cid,
                            uint64_t *child, int64_t now)
{
    uint64_t id = *child;
    int joined = 0;
    if (parent == ES_ROOT) {
        uint64_t n = eb_join_get(es->bank, frame, cid);
        /* Only a chain the bank can still carry on: it keeps packets
         * longer than states, and a newcomer on a chain whose state is
         * gone would leave it at its first branch with a fresh encoder
         * its decoder never followed (one garbled frame). */
        if (n && bank_state(es, n, es->scratch) == 0) {
            id = n;
            joined = 1;
        }
    }
    uint8_t pkt[ES_PACKET_MAX];
    int64_t f;
    uint64_t c;
    int len = eb_packet_get(es->bank, id, pkt, (int)sizeof pkt, &f, &c);
    if (len <= 0 || f != frame || c != cid)
        return NULL;
    entry_t *e = find(es, id);
    if (!e)
        e = insert(es, id, now);
    if (!e)
        return NULL;
    e->cid = cid;
    memcpy(e->pkt, pkt, (size_t)len);
    e->len = (uint16_t)len;
    es->st.bank_hits++;
    if (joined)
        es->st.joins++;
    *child = id;
    return e;
}

int es_frame(es_t *es, uint64_t *node, int64_t frame, uint64_t cid, const float *x, uint8_t *out,
             int cap, int64_t now)
{
    uint64_t parent = *node, child = es_child(parent, frame, cid);
    es->now = now;
    entry_t *e = NULL;
    if (parent == ES_ROOT) {
        /* A newcomer: join the chain that already encoded this frame. */
        e = join_find(es, frame, cid);
        if (e) {
            child = e->id;
            es->st.joins++;
        }
    }
    if (!e)
        e = find(es, child);
    if ((!e || !e->len) && es->bank)
        e = bank_packet(es, parent, frame, cid, &child, now);
    if (e && e->len) {
        if (e->len > cap)
            return OPUS_BUFFER_TOO_SMALL;
        memcpy(out, e->pkt, e->len);
        e->used = now;
        e->refs++;
        es_unpin(es, parent);
        join_note(es, frame, cid, child);
        *node = child;
        es->st.hits++;
        return e->len;
    }
    /* Encode from a copy of the parent's state. */
    int rc = es_copy_state(es, parent, es->scratch);
    if (rc != 0) {
        es->st.lost++;
        return ES_ELOST;
    }
    int len = opus_encode_float(es->scratch, x, 2880, out, cap < ES_PACKET_MAX ? cap : ES_PACKET_MAX);
    if (len < 0)
        return len;
    es->st.encodes++;
    entry_t *p = find(es, parent);
    if (p)
        p->used = now;
    /* Keep the packet and the state for the others; if the cache is full
     * of pinned entries this singer still gets its packet, and continues
     * from a state it will not find: it then goes private. */
    e = insert(es, child, now);
    if (e) {
        e->cid = cid;
        memcpy(e->pkt, out, (size_t)len);
        e->len = (uint16_t)len;
        e->state = alloc_state(es);
        if (e->state)
            memcpy(e->state, es->scratch, es->state_size);
    }
    es_unpin(es, parent);
    pin(es, child);
    if (e)
        join_note(es, frame, cid, child);
    if (es->bank) {
        /* For the other workers: the state to carry the chain on from,
         * then the packet and the chain to join here, in that order, so
         * that whoever finds the packet finds the state too (the bank's
         * slots are claimed, never waited for: a busy slot only means not
         * shared). */
        if (es->lib_lo && es->state_size <= EB_STATE_MAX)
            eb_state_put(es->bank, child, frame, es->scratch, es->state_size, es->lib_lo, es->lib_id,
                         now);
        if (eb_packet_put(es->bank, child, frame, cid, out, len, now) == 0)
            es->st.published++;
        eb_join_put(es->bank, frame, cid, child);
    }
    *node = child;
    return len;
}

void es_expire(es_t *es, int64_t now)
{
    if (now - es->last_expire < 48000 / 10)
        return;
    es->last_expire = now;
    for (uint32_t i = 0; i <= es->mask; i++) {
        /* remove_at() may shift a later entry into slot i: look again. */
        while (es->t[i].id && es->t[i].refs == 0 && now - es->t[i].used > ES_RETAIN)
            remove_at(es, i);
    }
}
