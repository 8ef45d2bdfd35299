/*
 * fzrig.h - the rig (tests/rig.h) a stateful fuzz target runs against: a
 * daemon and its segment in the fuzzing process, with lanes claimed for
 * the target's workers and the segment's name already unlinked, so a
 * crashing input leaves nothing behind in /dev/shm.  Header-only.
 */
#ifndef BB_FUZZ_FZRIG_H
#define BB_FUZZ_FZRIG_H

#include <stdio.h>
#include <stdlib.h>

#include "rig.h"

/* Opens r as rig_open(r, tag, opts) and claims lanes first .. first +
 * lanes - 1. A fuzz target cannot run without them: any failure aborts,
 * after a line on stderr that starts with `who`. */
static inline void fz_rig_open(rig_t *r, const char *who, const char *tag, const rig_opts_t *opts,
                               uint32_t first, uint32_t lanes)
{
    if (rig_open(r, tag, opts) != 0)
        abort();
    seg_err_t err;
    for (uint32_t l = first; l < first + lanes; l++)
        if (seg_claim_lane(r->seg, l, &err) != 0) {
            fprintf(stderr, "%s: %s\n", who, err.msg);
            abort();
        }
    seg_unlink(r->name);   /* nothing left behind, whatever happens */
}

#endif
