/*
 * shmfile.h - a POSIX shared-memory file, created or opened and mapped.
 *
 * What the timeline segments and the host segment have in common: the
 * name, the descriptor, the mapping, and the one way each is made.
 * Creation is O_CREAT|O_EXCL (of two racing creators exactly one creates),
 * ftruncate gives zeroed memory, and a creator that fails removes the name
 * again; the caller fills its header and releases a `ready` word last.
 * Opening maps the file at its real size, which the caller validates.
 */
#ifndef BB_SHMFILE_H
#define BB_SHMFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "segment.h"

typedef struct {
    int fd;
    size_t size;
    void *base;
} shf_map_t;

/* Creates `name` with `size` zero bytes and maps it.  SEG_EBUSY (with
 * errno EEXIST in err) when it exists already; SEG_ESYS otherwise. */
int shf_create(const char *name, size_t size, shf_map_t *out, seg_err_t *err);

/* Opens and maps an existing `name`, refusing one smaller than min_size
 * (SEG_ESIZE) and a missing one (SEG_ENOENT: the daemon has not made
 * it). */
int shf_open(const char *name, size_t min_size, shf_map_t *out, seg_err_t *err);

/* Unmaps and closes; accepts a map never made (base NULL). */
void shf_close(shf_map_t *m);

/* Takes a role held by one live process at a time: an open-file-description
 * lock on byte `at` of the file, which the kernel drops when the process
 * dies, so a crashed holder never leaves the role taken.  SEG_EBUSY when
 * another process holds it.  `name` and `role` are for the message. */
int shf_lock(const shf_map_t *m, const char *name, off_t at, const char *role, seg_err_t *err);

/* Fills *err (may be NULL) with a code, errno and a printf-style sentence. */
void shf_err(seg_err_t *err, int code, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
