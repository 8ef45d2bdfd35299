/*
 * srvclock.h - the server clock: samples at 48 kHz since the Unix epoch.
 *
 * Every process on the host reads the same clock (CLOCK_REALTIME scaled to
 * the sample rate), so the daemon, the workers and the tests that drive
 * them agree on which sample "now" is without talking to each other.  The
 * segment's seg_now() is this clock; tests that only need the clock, not a
 * segment, read it here.
 */
#ifndef BB_SRVCLOCK_H
#define BB_SRVCLOCK_H

#include <stdint.h>

#define SRVCLOCK_RATE 48000   /* samples per second of the server clock */

/* The server clock now, in samples at SRVCLOCK_RATE since 1970-01-01 UTC
 * (rounded down).  Never fails; not monotonic (it follows the wall clock,
 * as every process's copy does). */
int64_t srvclock_now(void);

#endif
