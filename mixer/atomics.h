/*
 * atomics.h - the few atomic operations the project uses, with names that
 * say their ordering.
 *
 * Every access to shared memory that another process may touch at the same
 * time goes through one of these.  Each call site carries a comment naming
 * the ordering it needs and the operation it pairs with ("release; pairs with
 * the acquire in tl_watermark()").  A relaxed access says why relaxed is
 * enough.  The arguments are pointers to C11 _Atomic objects, so the
 * compiler, ThreadSanitizer and the reader all see the same contract.
 */
#ifndef BB_ATOMICS_H
#define BB_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

#define load_acquire(p)        atomic_load_explicit((p), memory_order_acquire)
#define load_relaxed(p)        atomic_load_explicit((p), memory_order_relaxed)
#define store_release(p, v)    atomic_store_explicit((p), (v), memory_order_release)
#define store_relaxed(p, v)    atomic_store_explicit((p), (v), memory_order_relaxed)
#define fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define fetch_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define cas_acq_rel(p, expp, v) \
    atomic_compare_exchange_strong_explicit((p), (expp), (v), memory_order_acq_rel, memory_order_acquire)
#define fence_acquire()        atomic_thread_fence(memory_order_acquire)
#define fence_release()        atomic_thread_fence(memory_order_release)

/* Size of a cache line; whatever different processes write is kept this far
 * apart. */
#define CACHE_LINE 64

#endif
