/*
 * futex.h - waiting for a word of shared memory to change, across
 * processes.
 *
 * Two uses, both bounded in time so that a process that died never keeps
 * another waiting: the daemon sleeps between ticks until a worker has
 * queued a command (the header's `wake` word) or its tick period is over;
 * a worker whose singer sent commands waits, before that singer's next
 * request, until the daemon says it applied them (a lane's `applied`
 * word).  Shared (not process-private) futexes on the mapped segment.
 */
#ifndef BB_FUTEX_H
#define BB_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleeps while *word equals `expected`, at most timeout_ns nanoseconds.
 * Returns at once if it differs already.  Spurious returns happen: callers
 * check their condition again. */
void fx_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns);

/* Wakes every process sleeping on `word`. */
void fx_wake(_Atomic uint32_t *word);

#endif
