/*
 * test_timeline.c - the audio path over a real segment.
 *
 * Concurrent writers: several writers (threads, which ThreadSanitizer can
 * watch, and then separate processes, repeated to catch torn writes) add
 * overlapping audio into the same region, crossing the ring's end, each in
 * its own random order; the result must be bit-identical to the serial sum.
 * Also: the safe window (too old / future writes refused and nothing
 * changed), reads outside the window are silence, wrap-around of reads.
 * The solo rings: a solo write lands in its own ring only, moves no frame
 * generation (the shared frames never notice a solo), renders as the mix
 * does, is cleared ahead only when asked, and a release zeroes the ring.
 */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "rng.h"
#include "ring.h"
#include "shm_test.h"
#include "timeline.h"

enum { WRITERS = 8, CHUNKS = 24, CHUNK = 1000, SPAN = CHUNKS * CHUNK, REGION = SPAN + 4000 };

typedef struct {
    const char *name;
    seg_t *seg;          /* threads share the parent's mapping */
    int64_t base;        /* first clock of the region */
    int64_t now;
    int64_t offset;      /* this writer's offset into the region */
    uint64_t seed;
    float x[SPAN];
    int errors;
} writer_t;

static void fill_signal(writer_t *w)
{
    rng_t r;
    rng_seed(&r, w->seed);
    for (int i = 0; i < SPAN; i++)
        w->x[i] = (float)((double)(rng_next(&r) >> 11) / 9007199254740992.0 * 2.4 - 1.2);
    w->offset = (int64_t)rng_below(&r, REGION - SPAN);
}

/* Writes the signal in CHUNKS pieces in a random order. */
static void write_all(writer_t *w, seg_t *seg)
{
    int order[CHUNKS];
    for (int i = 0; i < CHUNKS; i++)
        order[i] = i;
    rng_t r;
    rng_seed(&r, w->seed ^ 0xabcdef);
    for (int i = CHUNKS; i > 1; i--) {
        int j = (int)rng_below(&r, (uint64_t)i);
        int t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < CHUNKS; k++) {
        int i = order[k];
        if (tl_write(seg, w->base + w->offset + i * CHUNK, w->x + i * CHUNK, CHUNK, w->now) != TL_OK)
            w->errors++;
    }
}

static void *thread_main(void *arg)
{
    writer_t *w = arg;
    write_all(w, w->seg);
    return NULL;
}

/* The serial sum, computed without the segment. */
static void expected(writer_t *ws, int64_t *exp)
{
    memset(exp, 0, REGION * sizeof *exp);
    for (int k = 0; k < WRITERS; k++)
        for (int i = 0; i < SPAN; i++)
            exp[ws[k].offset + i] += acc_contribution(acc_quantise(ws[k].x[i]));
}

static int compare(seg_t *s, int64_t base, const int64_t *exp)
{
    static int64_t got[REGION];
    tl_read_cells(s, base, REGION, got);
    int bad = 0;
    for (int i = 0; i < REGION; i++)
        if (got[i] != exp[i]) {
            if (bad < 3)
                fprintf(stderr, "cell %d: got %lld, expected %lld\n", i, (long long)got[i],
                        (long long)exp[i]);
            bad++;
        }
    return bad;
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    char name[64];
    shm_test_name(name, sizeof name, "timeline");
    seg_t *s = shm_test_create(name, SEG_RING_SECONDS_MIN, 16);
    if (!s)
        return 1;
    const uint32_t L = seg_ring_len(s);
    /* A region that crosses the ring's end, inside the safe window
     * [W - L + margin, W): move the watermark on until one fits. */
    int64_t W, base;
    for (;;) {
        tl_advance(s, 4800, NULL);
        W = tl_watermark(s);
        int64_t lo = W - L + TL_MARGIN;
        base = lo + (L - ring_index(lo, L)) - REGION / 2;
        if (base >= lo && base + REGION <= W)
            break;
    }
    CHECK(c, ring_index(base, L) > L - REGION && ring_index(base + REGION, L) < REGION);

    static writer_t ws[WRITERS];
    static int64_t exp[REGION];
    uint64_t seed = check_seed("test_timeline");
    rng_t master;
    rng_seed(&master, seed);

    /* Threads. */
    for (int round = 0; round < rounds; round++) {
        tl_zero_all(s);
        for (int k = 0; k < WRITERS; k++) {
            ws[k].seg = s;
            ws[k].base = base;
            ws[k].now = W;
            ws[k].seed = rng_next(&master);
            fill_signal(&ws[k]);
        }
        pthread_t th[WRITERS];
        for (int k = 0; k < WRITERS; k++)
            pthread_create(&th[k], NULL, thread_main, &ws[k]);
        for (int k = 0; k < WRITERS; k++)
            pthread_join(th[k], NULL);
        expected(ws, exp);
        int errs = 0;
        for (int k = 0; k < WRITERS; k++)
            errs += ws[k].errors;
        CHECK_EQ_I(c, errs, 0);
        CHECK_EQ_I(c, compare(s, base, exp), 0);
    }

    /* Processes, each attached on its own. */
    for (int round = 0; round < rounds; round++) {
        tl_zero_all(s);
        pid_t pids[WRITERS];
        for (int k = 0; k < WRITERS; k++) {
            ws[k].base = base;
            ws[k].now = W;
            ws[k].seed = rng_next(&master);
            fill_signal(&ws[k]);
            pids[k] = fork();
            if (pids[k] == 0) {
                seg_err_t err;
                seg_t *mine = seg_attach(name, &err);
                if (!mine)
                    _exit(2);
                write_all(&ws[k], mine);
                _exit(ws[k].errors ? 1 : 0);
            }
        }
        int failed = 0;
        for (int k = 0; k < WRITERS; k++) {
            int st;
            waitpid(pids[k], &st, 0);
            failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        CHECK_EQ_I(c, failed, 0);
        expected(ws, exp);
        CHECK_EQ_I(c, compare(s, base, exp), 0);
    }

    /* Reading back across the ring's end: what one writer wrote, scaled. */
    tl_zero_all(s);
    float one[REGION], out[REGION];
    for (int i = 0; i < REGION; i++)
        one[i] = (float)(i % 100) / 256.0f;  /* exact in the fixed-point scale */
    CHECK_EQ_I(c, tl_write(s, base, one, REGION, W), TL_OK);
    tl_read(s, base, REGION, 1.0f, out, NULL);
    int same = 1;
    for (int i = 0; i < REGION; i++)
        same &= out[i] == one[i];  /* k = 1: gain 1.0, exact in fixed point */
    CHECK(c, same);

    /* The safe window. */
    int64_t cell_before[4];
    tl_read_cells(s, W - L + TL_MARGIN - 2, 4, cell_before);
    CHECK_EQ_I(c, tl_write(s, W - L + TL_MARGIN - 1, one, 10, W), TL_EPAST);
    CHECK_EQ_I(c, tl_write(s, W - L + TL_MARGIN, one, 10, W), TL_OK);
    CHECK_EQ_I(c, tl_write(s, W - 5, one, 10, W + 100), TL_EFUTURE);   /* past the watermark */
    CHECK_EQ_I(c, tl_write(s, W - 100, one, 10, W - 95), TL_EFUTURE);  /* past the server clock */
    CHECK_EQ_I(c, tl_write(s, W - 100, one, 0, W), TL_ERANGE);
    CHECK_EQ_I(c, tl_write(s, W - L, one, L, W), TL_ERANGE);
    int64_t cell_after[4];
    tl_read_cells(s, W - L + TL_MARGIN - 2, 4, cell_after);
    CHECK(c, cell_before[0] == cell_after[0] && cell_before[1] == cell_after[1]);
    /* Reads outside the window are silence, inside are the audio. */
    tl_zero_all(s);
    float ones[64];
    for (int i = 0; i < 64; i++)
        ones[i] = 0.5f;
    tl_write(s, W - 32, ones, 32, W);
    tl_read(s, W - 32, 64, 1.0f, out, NULL);
    CHECK(c, out[0] == 0.5f && out[31] == 0.5f && out[32] == 0.0f && out[63] == 0.0f);
    /* Advancing clears ahead and moves the watermark. */
    tl_advance(s, 512, NULL);
    CHECK_EQ_I(c, tl_watermark(s), W + 512);
    W += 512;

    /* The solo rings. */
    tl_zero_all(s);
    int64_t f = (W - 3 * RING_OPUS_FRAME) / RING_OPUS_FRAME;
    int64_t at = f * RING_OPUS_FRAME;
    uint32_t gen = tl_frame_gen(s, f);
    CHECK_EQ_I(c, tl_write_solo(s, 1, at, ones, 32, W), TL_OK);
    CHECK_EQ_I(c, tl_write_solo(s, 1, at, ones, 32, W), TL_OK);   /* a second voice */
    CHECK_EQ_I(c, tl_frame_gen(s, f), gen);
    CHECK_EQ_I(c, tl_write_solo(s, SEG_SOLO_RINGS, at, ones, 32, W), TL_ERANGE);
    CHECK_EQ_I(c, tl_write_solo(s, 0, W - L + TL_MARGIN - 1, ones, 10, W), TL_EPAST);
    float mix[32], solo[32], other[32];
    tl_read(s, at, 32, 1.0f, mix, NULL);
    tl_read_solo(s, 1, at, 32, 1.0f, solo);
    tl_read_solo(s, 0, at, 32, 1.0f, other);
    /* The same two voices in the mix render as the solo ring does. */
    float mix2[32];
    tl_write(s, at, ones, 32, W);
    tl_write(s, at, ones, 32, W);
    tl_read(s, at, 32, 1.0f, mix2, NULL);
    CHECK(c, mix[0] == 0.0f && other[0] == 0.0f && other[31] == 0.0f);
    CHECK(c, solo[0] == mix2[0] && solo[31] == mix2[31] && solo[0] > 0.5f);
    /* Clearing ahead: only [W, W + n) of the ring asked for (its cells
     * hold a lap-old value, put there directly). */
    CHECK_EQ_I(c, tl_write_solo(s, 0, W - 32, ones, 32, W), TL_OK);
    acc_cell_t *ring1 = seg_solo(s, 1), *ring0 = seg_solo(s, 0);
    for (int64_t t = W - 1; t <= W + 512; t++)
        atomic_store(&ring1[ring_index(t, L)], 12345);
    atomic_store(&ring0[ring_index(W, L)], 12345);
    tl_clear_solo(s, 1, 512);
    CHECK(c, atomic_load(&ring1[ring_index(W - 1, L)]) == 12345);
    CHECK(c, atomic_load(&ring1[ring_index(W, L)]) == 0 && atomic_load(&ring1[ring_index(W + 511, L)]) == 0);
    CHECK(c, atomic_load(&ring1[ring_index(W + 512, L)]) == 12345);
    CHECK(c, atomic_load(&ring0[ring_index(W, L)]) == 12345);
    atomic_store(&ring1[ring_index(W - 1, L)], 0);
    tl_read_solo(s, 0, W - 32, 32, 1.0f, other);
    tl_read_solo(s, 1, at, 32, 1.0f, solo);
    CHECK(c, other[0] == 0.5f && solo[0] == mix2[0]);
    tl_release_solo(s, 1);
    tl_read_solo(s, 1, at, 32, 1.0f, solo);
    tl_read_solo(s, 0, W - 32, 32, 1.0f, other);
    CHECK(c, solo[0] == 0.0f && solo[31] == 0.0f && other[0] == 0.5f);

    seg_detach(s);
    seg_unlink(name);
    return check_done(&c, "test_timeline");
}
