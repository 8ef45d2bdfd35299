/*
 * check.h - the assertion macro of the tools tests.
 *
 * Each test function keeps its own failure count in a local `fails` and
 * returns it; CHECK() prints the failed expression with its place and goes
 * on, so one run reports every failure.
 */
#ifndef BB_TESTS_TOOLS_CHECK_H
#define BB_TESTS_TOOLS_CHECK_H

#include <stdio.h>

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            fails++;                                                                  \
        }                                                                             \
    } while (0)

#define RUN(fn)                                                     \
    do {                                                            \
        int f_ = fn();                                              \
        fprintf(stderr, "%-40s %s\n", #fn, f_ ? "FAILED" : "ok");   \
        total += f_;                                                \
    } while (0)

#endif
