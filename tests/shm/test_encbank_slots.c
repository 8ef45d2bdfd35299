/*
 * test_encbank_slots.c - the encode bank's slots (encbank.h): what is published
 * is found, a node published twice is kept once, a dead writer's claim is
 * taken over only when stale, a released bank is empty, and writers
 * publishing over each other while readers copy on threads (so
 * ThreadSanitizer watches every access) never give a reader a wrong or
 * torn packet or state: only the right bytes or a miss.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "encbank.h"
#include "rng.h"
#include "shm_test.h"

enum { WRITERS = 2, READERS = 2, ROUNDS = 4000, IDS = 3000, STATE_BYTES = 43572 };

/* n bytes that follow from k. */
static void fill_n(uint64_t k, uint8_t *buf, int n)
{
    uint64_t x = k * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < n; i++) {
        x = rng_mix64(x + (uint64_t)i);
        buf[i] = (uint8_t)x;
    }
}

/* What node id k holds: its bytes follow from k, and its length too. */
static int fill(uint64_t k, uint8_t *buf, int cap)
{
    int len = 1 + (int)(rng_mix64(k) % (uint64_t)cap);
    uint64_t x = k * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < len; i++) {
        x = rng_mix64(x + (uint64_t)i);
        buf[i] = (uint8_t)x;
    }
    return len;
}

typedef struct {
    seg_t *seg;
    atomic_int *stop;
    int who;
    long wrong, hits, misses;
} worker_t;

static void *writer(void *arg)
{
    worker_t *w = arg;
    static _Thread_local uint8_t buf[EB_STATE_MAX];
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t k = 100000 + (rng_mix64((uint64_t)(r * WRITERS + w->who)) % IDS);
        int len = fill(k, buf, EB_PACKET_MAX);
        eb_packet_put(w->seg, k, (int64_t)r, k * 7, buf, len, seg_now());
        if (r % 8 == 0) {
            fill_n(k ^ 0x55, buf, STATE_BYTES);
            eb_state_put(w->seg, k, (int64_t)r, buf, STATE_BYTES, k * 3, k * 5, seg_now());
        }
    }
    atomic_fetch_add(w->stop, 1);
    return NULL;
}

static void *reader(void *arg)
{
    worker_t *w = arg;
    static _Thread_local uint8_t got[EB_STATE_MAX], want[EB_STATE_MAX];
    uint64_t x = (uint64_t)w->who;
    while (atomic_load(w->stop) < WRITERS) {
        x = rng_mix64(x + 1);
        uint64_t k = 100000 + x % IDS;
        int64_t f;
        uint64_t cid, tag;
        int n = eb_packet_get(w->seg, k, got, EB_PACKET_MAX, &f, &cid);
        if (n >= 0) {
            int len = fill(k, want, EB_PACKET_MAX);
            w->wrong += n != len || memcmp(got, want, (size_t)len) != 0 || cid != k * 7;
            w->hits++;
        } else {
            w->misses++;
        }
        uint64_t build;
        long m = eb_state_get(w->seg, k, got, sizeof got, &tag, &build);
        if (m >= 0) {
            fill_n(k ^ 0x55, want, STATE_BYTES);
            w->wrong += m != STATE_BYTES || memcmp(got, want, STATE_BYTES) != 0 || tag != k * 3 ||
                        build != k * 5;
        }
    }
    return NULL;
}

int main(void)
{
    CHECK_INIT(c);
    char name[64];
    shm_test_name(name, sizeof name, "encbank");
    seg_t *seg = shm_test_create(name, SEG_RING_SECONDS_MIN, 16);
    CHECK(c, seg != NULL);
    if (!seg)
        return check_done(&c, "test_encbank_slots");
    int64_t now = seg_now();
    static uint8_t a[EB_STATE_MAX], b[EB_STATE_MAX];

    /* Found as published; a miss for what was not; too small a buffer is
     * a miss, not a cut packet. */
    int len = fill(42, a, EB_PACKET_MAX);
    CHECK_EQ_I(c, eb_packet_put(seg, 42, 100, 4242, a, len, now), 0);
    int64_t f = 0;
    uint64_t cid = 0;
    CHECK_EQ_I(c, eb_packet_get(seg, 42, b, EB_PACKET_MAX, &f, &cid), len);
    CHECK(c, memcmp(a, b, (size_t)len) == 0 && f == 100 && cid == 4242);
    CHECK_EQ_I(c, eb_packet_get(seg, 43, b, EB_PACKET_MAX, NULL, NULL), -1);
    CHECK_EQ_I(c, eb_packet_get(seg, 42, b, len - 1, NULL, NULL), -1);
    /* Published again (another worker made the same bytes): kept once. */
    CHECK_EQ_I(c, eb_packet_put(seg, 42, 100, 4242, a, len, now), 1);
    /* Too long, or id 0: refused. */
    CHECK_EQ_I(c, eb_packet_put(seg, 44, 100, 1, a, EB_PACKET_MAX + 1, now), -1);
    CHECK_EQ_I(c, eb_packet_put(seg, 0, 100, 1, a, 10, now), -1);

    /* A state, with its writer's tag. */
    fill_n(7, a, STATE_BYTES);
    CHECK_EQ_I(c, eb_state_put(seg, 42, 100, a, STATE_BYTES, 0x7f00aa000000ull, 1313, now), 0);
    uint64_t tag = 0, build = 0;
    CHECK(c, eb_state_get(seg, 42, b, sizeof b, &tag, &build) == STATE_BYTES &&
                 memcmp(a, b, STATE_BYTES) == 0 && tag == 0x7f00aa000000ull && build == 1313);
    CHECK(c, eb_state_get(seg, 42, b, STATE_BYTES - 1, &tag, NULL) == -1);

    /* Joins: the first node noted for (frame, content) stays while its
     * packet is there; a note naming a node with another frame is not
     * trusted. */
    eb_join_put(seg, 100, 4242, 42);
    eb_join_put(seg, 100, 4242, 99);
    CHECK(c, eb_join_get(seg, 100, 4242) == 42);
    CHECK(c, eb_join_get(seg, 101, 4242) == 0);

    /* Full probes: what was written longest ago gives way, whatever its
     * frame: a packet of an old frame (a deep bucket) written last stays. */
    seg_bank_t *bk = seg_bank(seg);
    const uint64_t K0 = 1000, KN = 1000 + 4 * EB_PACKETS;
    for (uint64_t k = K0; k < KN; k++) {
        len = fill(k, a, 64);
        eb_packet_put(seg, k, k == KN - 1 ? 1 : (int64_t)k, k, a, len, now + (int64_t)(k - K0));
    }
    len = fill(KN - 1, a, 64);
    CHECK_EQ_I(c, eb_packet_get(seg, KN - 1, b, 64, &f, NULL), len);
    CHECK(c, f == 1);
    int kept = 0;
    for (uint64_t k = K0; k < K0 + EB_PACKETS; k++)
        kept += eb_packet_get(seg, k, b, 64, NULL, NULL) >= 0;
    CHECK_MSG(c, kept < EB_PACKETS / 8, "%d of the first %d packets outlived 3 times as many newer",
              kept, EB_PACKETS);

    /* A writer killed mid-write leaves an odd lock: that slot is skipped,
     * and taken over only once the claim is a second old. */
    int odd = 0;
    for (uint32_t i = 0; i < EB_STATES; i++) {
        atomic_store(&bk->states[i].h.lock, 1);
        atomic_store(&bk->states[i].h.claimed, now);
    }
    CHECK_EQ_I(c, eb_state_put(seg, 77, 200, a, 100, 0, 0, now), -1);
    CHECK_EQ_I(c, eb_state_put(seg, 77, 200, a, 100, 0, 0, now + EB_CLAIM_STALE), 0);
    CHECK(c, eb_state_get(seg, 77, b, sizeof b, NULL, NULL) == 100);
    for (uint32_t i = 0; i < EB_STATES; i++)
        odd += (int)(atomic_load(&bk->states[i].h.lock) & 1);
    CHECK_EQ_I(c, odd, EB_STATES - 1);

    /* A slot zeroed in part under a reader (a racing release) is a miss. */
    len = fill(900, a, 200);
    CHECK_EQ_I(c, eb_packet_put(seg, 900, 300, 9, a, len, now), 0);
    for (uint32_t i = 0; i < EB_PACKETS; i++)
        if (atomic_load(&bk->packets[i].h.id) == 900)
            atomic_store(&bk->packets[i].w[0], 0);
    CHECK_EQ_I(c, eb_packet_get(seg, 900, b, EB_PACKET_MAX, NULL, NULL), -1);

    /* Released: empty everywhere, and usable again. */
    eb_release(seg);
    CHECK_EQ_I(c, eb_packet_get(seg, 42, b, EB_PACKET_MAX, NULL, NULL), -1);
    CHECK(c, eb_state_get(seg, 77, b, sizeof b, NULL, NULL) == -1);
    CHECK(c, eb_join_get(seg, 100, 4242) == 0);
    len = fill(42, a, EB_PACKET_MAX);
    CHECK_EQ_I(c, eb_packet_put(seg, 42, 100, 4242, a, len, now), 0);

    /* Writers and readers at once. */
    atomic_int stop = 0;
    worker_t ws[WRITERS + READERS];
    pthread_t th[WRITERS + READERS];
    for (int i = 0; i < WRITERS + READERS; i++) {
        ws[i] = (worker_t){.seg = seg, .stop = &stop, .who = i};
        pthread_create(&th[i], NULL, i < WRITERS ? writer : reader, &ws[i]);
    }
    long wrong = 0, hits = 0;
    for (int i = 0; i < WRITERS + READERS; i++) {
        pthread_join(th[i], NULL);
        wrong += ws[i].wrong;
        hits += ws[i].hits;
    }
    CHECK_MSG(c, wrong == 0, "%ld wrong copies", wrong);
    CHECK_MSG(c, hits > 0, "readers found nothing (%ld hits)", hits);
    printf("concurrent: %ld hits, 0 wrong\n", hits);

    seg_detach(seg);
    seg_unlink(name);
    return check_done(&c, "test_encbank_slots");
}
