/*
 * test_encbank.c - frames encoded by one worker are not encoded again by
 * another, and a chain carried on from another process's encoder state
 * gives exactly the packets of one encoder that did it all.
 *
 * A chain of 30 frames (a tone with noise, 60 ms each) is encoded once by
 * a private encoder: the reference.  Then, through one segment's encode
 * bank:
 *   1. cache A encodes frames 0-9; cache B (another worker's, in this
 *      process) follows and encodes none of them;
 *   2. B runs ahead and encodes 10-19 from A's state, taken from the bank;
 *      A follows and encodes none;
 *   3. a second process (this program run again, so libopus lies
 *      elsewhere in its address space) joins as a newcomer, takes 0-19
 *      from the bank, and encodes 20-29 from the state B published, whose
 *      pointers into libopus it must move to its own copy; A follows and
 *      encodes none.
 * Every packet anyone got must equal the reference's, byte for byte.
 * A state published by another libopus is not taken.  With the bank off,
 * a cache encodes everything itself (the same packets).
 */
#include <dlfcn.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <opus.h>

#include "check.h"
#include "encbank.h"
#include "encshare.h"
#include "rng.h"
#include "shm/shm_test.h"

extern char **environ;

enum { FRAMES = 30, FN = 2880 };

static void frame_pcm(int f, float *x)
{
    uint64_t r = (uint64_t)f + 1;
    for (int i = 0; i < FN; i++) {
        double t = (double)(f * FN + i) / 48000.0;
        r = rng_mix64(r);
        x[i] = (float)(0.3 * sin(2 * M_PI * 220.0 * t) + 0.2 * sin(2 * M_PI * 331.0 * t) +
                       0.02 * ((double)(r >> 11) / 9007199254740992.0 - 0.5));
    }
}

static uint64_t frame_cid(int f) { return rng_mix64((uint64_t)f * 7919 + 17); }

typedef struct {
    uint8_t p[ES_PACKET_MAX];
    int len;
} pkt_t;

/* Runs cache es along frames [from, to) from *node; returns how many
 * packets differed from ref. */
static int follow(es_t *es, uint64_t *node, int from, int to, const pkt_t *ref, int64_t now)
{
    int bad = 0;
    float x[FN];
    uint8_t out[ES_PACKET_MAX];
    for (int f = from; f < to; f++) {
        frame_pcm(f, x);
        int n = es_frame(es, node, 1000 + f, frame_cid(f), x, out, (int)sizeof out, now);
        if (n != ref[f].len || memcmp(out, ref[f].p, (size_t)n) != 0) {
            fprintf(stderr, "frame %d: %d bytes, the reference %d%s\n", f, n, ref[f].len,
                    n == ref[f].len ? " (other bytes)" : "");
            bad++;
        }
    }
    return bad;
}

static void reference(pkt_t *ref)
{
    OpusEncoder *enc = malloc((size_t)opus_encoder_get_size(1));
    es_encoder_init(enc);
    float x[FN];
    for (int f = 0; f < FRAMES; f++) {
        frame_pcm(f, x);
        ref[f].len = opus_encode_float(enc, x, FN, ref[f].p, ES_PACKET_MAX);
    }
    free(enc);
}

static uintptr_t opus_base(void)
{
    Dl_info di;
    return dladdr((void *)(uintptr_t)opus_encoder_init, &di) ? (uintptr_t)di.dli_fbase : 0;
}

/* The second process: prints where its libopus lies and what it did. */
static int child(const char *name)
{
    seg_err_t err;
    seg_t *seg = seg_attach(name, &err);
    if (!seg) {
        fprintf(stderr, "child: %s\n", err.msg);
        return 2;
    }
    pkt_t ref[FRAMES];
    reference(ref);
    es_t *es = es_create(256, 64);
    es_set_bank(es, seg);
    uint64_t node = ES_ROOT;
    int bad = follow(es, &node, 0, FRAMES, ref, seg_now());
    const es_stats_t *st = es_stats(es);
    printf("%lx %d %llu %llu %llu\n", (unsigned long)opus_base(), bad,
           (unsigned long long)st->encodes, (unsigned long long)st->bank_hits,
           (unsigned long long)st->bank_states);
    es_destroy(es);
    seg_detach(seg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0)
        return child(argv[2]);
    CHECK_INIT(c);
    char name[64];
    shm_test_name(name, sizeof name, "encbank-w");
    seg_t *seg = shm_test_create(name, SEG_RING_SECONDS_MIN, 16);
    CHECK(c, seg != NULL);
    if (!seg)
        return check_done(&c, "test_encbank");
    static pkt_t ref[FRAMES];
    reference(ref);
    int64_t now = seg_now();

    es_t *a = es_create(256, 64), *b = es_create(256, 64);
    es_set_bank(a, seg);
    es_set_bank(b, seg);
    uint64_t na = ES_ROOT, nb = ES_ROOT;

    /* 1. A encodes, B follows. */
    CHECK_EQ_I(c, follow(a, &na, 0, 10, ref, now), 0);
    CHECK_EQ_I(c, follow(b, &nb, 0, 10, ref, now), 0);
    CHECK_EQ_I(c, (int)es_stats(a)->encodes, 10);
    CHECK_EQ_I(c, (int)es_stats(b)->encodes, 0);
    CHECK_EQ_I(c, (int)es_stats(b)->bank_hits, 10);

    /* 2. B runs ahead from A's state; A follows. */
    CHECK_EQ_I(c, follow(b, &nb, 10, 20, ref, now), 0);
    CHECK_EQ_I(c, (int)es_stats(b)->encodes, 10);
    /* Two states from the bank: the one checked when B joined A's chain
     * at frame 0, and the one it carries the chain on from. */
    CHECK_EQ_I(c, (int)es_stats(b)->bank_states, 2);
    CHECK_EQ_I(c, follow(a, &na, 10, 20, ref, now), 0);
    CHECK_EQ_I(c, (int)es_stats(a)->encodes, 10);
    CHECK(c, na == nb);

    /* 3. Another process carries the chain on. */
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(c, sl > 0);
    self[sl > 0 ? sl : 0] = 0;
    int fds[2];
    CHECK(c, pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *cargv[] = {self, "child", name, NULL};
    pid_t pid;
    CHECK_EQ_I(c, posix_spawn(&pid, self, &fa, NULL, cargv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char line[256] = {0};
    FILE *in = fdopen(fds[0], "r");
    if (!fgets(line, sizeof line, in))
        line[0] = 0;
    fclose(in);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(c, WIFEXITED(status) && WEXITSTATUS(status) == 0, "the second process failed (%d)",
              status);
    unsigned long cbase = 0;
    int cbad = -1;
    unsigned long long cenc = 0, chits = 0, cstates = 0;
    CHECK(c, sscanf(line, "%lx %d %llu %llu %llu", &cbase, &cbad, &cenc, &chits, &cstates) == 5);
    printf("second process: libopus at %#lx (here %#lx), %d packets differ, %llu encoded, "
           "%llu from the bank, %llu states from the bank\n",
           cbase, (unsigned long)opus_base(), cbad, cenc, chits, cstates);
    CHECK_EQ_I(c, cbad, 0);
    CHECK(c, cenc == 10 && chits == 20 && cstates == 2);
    if (cbase == (unsigned long)opus_base())
        printf("note: libopus at the same address in both processes (no ASLR): the relocation "
               "had nothing to move\n");
    CHECK_EQ_I(c, follow(a, &na, 20, FRAMES, ref, now), 0);
    CHECK_EQ_I(c, (int)es_stats(a)->encodes, 10);

    /* A state of another kind (another libopus: a rolling restart across
     * an upgrade) is never taken, however it is tagged. */
    {
        static uint8_t junk[EB_STATE_MAX];
        memset(junk, 0x5a, sizeof junk);
        uint64_t odd_node = 0x1234567;
        size_t n = (size_t)opus_encoder_get_size(1);
        eb_state_put(seg, odd_node, 5000, junk, n, 0, 0x99, seg_now());
        OpusEncoder *enc = malloc((size_t)opus_encoder_get_size(1));
        es_t *e2 = es_create(16, 4);
        es_set_bank(e2, seg);
        CHECK_EQ_I(c, es_copy_state(e2, odd_node, enc), ES_ELOST);
        es_destroy(e2);
        free(enc);
    }

    /* Without the bank, a worker encodes everything it serves. */
    es_t *d = es_create(256, 64);
    uint64_t nd = ES_ROOT;
    CHECK_EQ_I(c, follow(d, &nd, 0, FRAMES, ref, now), 0);
    CHECK_EQ_I(c, (int)es_stats(d)->encodes, FRAMES);
    CHECK_EQ_I(c, (int)es_stats(d)->bank_hits, 0);

    es_destroy(a);
    es_destroy(b);
    es_destroy(d);
    seg_detach(seg);
    seg_unlink(name);
    return check_done(&c, "test_encbank");
}
