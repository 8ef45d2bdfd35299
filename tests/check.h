/*
 * check.h - the tiny assertion kit of the C tests.
 *
 * CHECK(c, cond), CHECK_EQ_I / _S (integers, strings), CHECK_NEAR and
 * CHECK_MSG (with a message) count a pass in the check_t c, or print the
 * failing expression with its file and line and count a failure; this is
 * the one assertion dialect of every C test.  check_done() prints
 * "N passed, N failed" (the closing line ctest output is read for) and
 * returns the exit status.  Stress tests draw from a seeded generator and
 * print the seed with check_seed(), so any failure can be replayed with
 * BB_TEST_SEED=<seed>.
 */
#ifndef BB_CHECK_H
#define BB_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int passed;
    int failed;
} check_t;

#define CHECK_INIT(c) check_t c = {0, 0}

#define CHECK(c, cond)                                                              \
    do {                                                                            \
        if (cond) {                                                                 \
            (c).passed++;                                                           \
        } else {                                                                    \
            (c).failed++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
        }                                                                           \
    } while (0)

#define CHECK_EQ_I(c, a, b)                                                         \
    do {                                                                            \
        int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                               \
        if (a_ == b_) {                                                             \
            (c).passed++;                                                           \
        } else {                                                                    \
            (c).failed++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s == %s (%" PRId64 " != %" PRId64 ")\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_);                            \
        }                                                                           \
    } while (0)

#define CHECK_NEAR(c, a, b, tol)                                                    \
    do {                                                                            \
        double a_ = (double)(a), b_ = (double)(b);                                  \
        if (fabs(a_ - b_) <= (tol)) {                                               \
            (c).passed++;                                                           \
        } else {                                                                    \
            (c).failed++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s ~ %s (%.9g vs %.9g, tol %g)\n",         \
                    __FILE__, __LINE__, #a, #b, a_, b_, (double)(tol));             \
        }                                                                           \
    } while (0)

#define CHECK_EQ_S(c, a, b)                                                         \
    do {                                                                            \
        const char *a_ = (a), *b_ = (b);                                            \
        if (a_ != NULL && b_ != NULL && strcmp(a_, b_) == 0) {                      \
            (c).passed++;                                                           \
        } else {                                                                    \
            (c).failed++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s == %s (\"%s\" != \"%s\")\n",           \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
        }                                                                           \
    } while (0)

/* CHECK with a printf-style message saying what was seen, for conditions
 * whose expression alone would not tell (a loop index, a return code). */
#define CHECK_MSG(c, cond, ...)                                                     \
    do {                                                                            \
        if (cond) {                                                                 \
            (c).passed++;                                                           \
        } else {                                                                    \
            (c).failed++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
        }                                                                           \
    } while (0)

static inline int check_done(const check_t *c, const char *name)
{
    printf("%s: %d passed, %d failed\n", name, c->passed, c->failed);
    return c->failed ? 1 : 0;
}

/* The seed of a stress test: BB_TEST_SEED if set, else from the clock. */
static inline uint64_t check_seed(const char *name)
{
    const char *e = getenv("BB_TEST_SEED");
    uint64_t s;
    if (e && *e) {
        s = strtoull(e, NULL, 10);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_sec * 1000000007ull + (uint64_t)ts.tv_nsec;
    }
    printf("%s: seed %" PRIu64 " (replay with BB_TEST_SEED=%" PRIu64 ")\n", name, s, s);
    return s;
}

#endif
