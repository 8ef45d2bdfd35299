/*
 * rng.h - the project's one 64-bit mixing function and the small seeded
 * generator built on it (splitmix64).
 *
 * rng_mix64() is splitmix64's finaliser: a bijection on 64-bit words whose
 * every output bit depends on every input bit.  Hashes of ids and content
 * (encoder sharing, stem serials) use it directly; rng_t steps a Weyl
 * sequence and mixes each step, which is splitmix64, good enough for delay
 * assignment, load generation and stress tests, and replayable from its
 * seed.  The state is the caller's; there is no hidden global.  Not for
 * secrets.
 */
#ifndef BB_RNG_H
#define BB_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s;
} rng_t;

/* Mixes x into a well-distributed 64-bit value (splitmix64's finaliser).
 * rng_mix64(0) is 0; every other input gives a non-zero result. */
static inline uint64_t rng_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline void rng_seed(rng_t *r, uint64_t seed) { r->s = seed; }

/* The next 64 random bits (splitmix64: golden-ratio Weyl step, then mix). */
static inline uint64_t rng_next(rng_t *r)
{
    return rng_mix64(r->s += 0x9E3779B97F4A7C15ull);
}

/* A uniform integer in [0, n), n > 0 (rejection sampling, no modulo bias). */
static inline uint64_t rng_below(rng_t *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_next(r);
    while (x >= limit);
    return x % n;
}

/* A uniform double in [0, 1) with 53 random bits. */
static inline double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

#endif
