/*
 * shm_test.h - helpers shared by the shared-memory tests: a private segment
 * name per test process, and creation with small parameters.
 */
#ifndef BB_SHM_TEST_H
#define BB_SHM_TEST_H

#include <stdio.h>
#include <unistd.h>

#include "segment.h"

static inline void shm_test_name(char *buf, size_t cap, const char *what)
{
    snprintf(buf, cap, "/bbtest-%s-%d", what, (int)getpid());
}

/* Creates a fresh segment (removing a leftover of the same name). */
static inline seg_t *shm_test_create(const char *name, uint32_t ring_seconds, uint32_t users)
{
    seg_unlink(name);
    seg_params_t p = {ring_seconds, users};
    bool created;
    seg_err_t err;
    seg_t *s = seg_open_or_create(name, &p, &created, &err);
    if (!s)
        fprintf(stderr, "cannot create %s: %s\n", name, err.msg);
    return s;
}

#endif
