/*
 * fuzz.h - the two entry points every fuzz target defines, as libFuzzer
 * calls them, and a few helpers the harnesses share.
 *
 * A target is one .c file with LLVMFuzzerTestOneInput() (and, when it
 * needs process-wide set-up such as a segment and a daemon,
 * LLVMFuzzerInitialize()).  It is linked twice (fuzz/CMakeLists.txt): with
 * libFuzzer (-fsanitize=fuzzer) in a BB_FUZZ build, and with replay.c, a
 * small main() that feeds it every file of the corpus and regression
 * directories, in every build, so corpora and past crashes run as ordinary
 * tests.
 *
 * Harnesses check invariants with FZ_ASSERT, which aborts: libFuzzer then
 * reports the input as a crash, and the replay driver fails.
 */
#ifndef BB_FUZZ_H
#define BB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_ASSERT(cond)                                                              \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz: invariant broken at %s:%d: %s\n", __FILE__,      \
                    __LINE__, #cond);                                                \
            abort();                                                                 \
        }                                                                            \
    } while (0)

#endif
