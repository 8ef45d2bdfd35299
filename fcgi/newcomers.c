/*
 * newcomers.c - per-address buckets of new singers (newcomers.h).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "newcomers.h"
#include "rng.h"

/* Buckets looked at for one key before the stalest of them gives way. */
#define NC_PROBE 16
/* Samples at 48 kHz for one new singer to come back into a bucket. */
#define NC_REFILL ((int64_t)48000 * 60 / NC_PER_MINUTE)

typedef struct {
    uint64_t key;       /* 0: free */
    int64_t at;         /* clock of `tokens` */
    double tokens;      /* new singers the address may still bring at `at` */
} bucket_t;

struct nc {
    bucket_t b[NC_SLOTS];
};

_Static_assert((NC_SLOTS & (NC_SLOTS - 1)) == 0, "NC_SLOTS is a power of two");

nc_t *nc_create(void)
{
    return calloc(1, sizeof(nc_t));
}

void nc_destroy(nc_t *t)
{
    free(t);
}

uint64_t nc_key(const char *addr)
{
    unsigned char a[16];
    uint64_t k;
    if (!addr)
        return 0;
    if (inet_pton(AF_INET, addr, a) == 1) {
        k = (uint64_t)a[0] << 24 | (uint64_t)a[1] << 16 | (uint64_t)a[2] << 8 | a[3];
    } else if (inet_pton(AF_INET6, addr, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const unsigned char loop6[16] = {[15] = 1};
        if (memcmp(a, loop6, 16) == 0)
            return 0;
        if (memcmp(a, mapped, 12) == 0) {
            k = (uint64_t)a[12] << 24 | (uint64_t)a[13] << 16 | (uint64_t)a[14] << 8 | a[15];
        } else {
            /* The /64, marked apart from every IPv4 key. */
            k = 0;
            for (int i = 0; i < 8; i++)
                k = k << 8 | a[i];
            return rng_mix64(k ^ UINT64_C(0x6000000000000000)) | 1;
        }
    } else {
        return 0;
    }
    if (k == 0x7f000001)    /* 127.0.0.1 */
        return 0;
    return rng_mix64(k) | 1;
}

/* The bucket's fill at `now`, refilled since it was last counted. */
static double fill(const bucket_t *b, int64_t now)
{
    double t = b->tokens + (double)(now - b->at) / (double)NC_REFILL;
    return now < b->at ? b->tokens : t > NC_BURST ? NC_BURST : t;
}

bool nc_admit(nc_t *t, uint64_t key, int64_t now)
{
    if (key == 0)
        return true;
    uint32_t mask = NC_SLOTS - 1, at = (uint32_t)key & mask;
    bucket_t *pick = NULL;
    double pick_fill = -1;
    for (uint32_t i = 0; i < NC_PROBE; i++) {
        bucket_t *b = &t->b[(at + i) & mask];
        if (b->key == key) {
            pick = b;
            break;
        }
        /* A free bucket, or the fullest (stalest) of the run, gives way. */
        double f = b->key == 0 ? NC_BURST + 1 : fill(b, now);
        if (f > pick_fill) {
            pick_fill = f;
            pick = b;
        }
    }
    if (pick->key != key) {
        pick->key = key;
        pick->at = now;
        pick->tokens = NC_BURST;
    }
    double f = fill(pick, now);
    pick->at = now > pick->at ? now : pick->at;
    if (f < 1.0) {
        pick->tokens = f;
        return false;
    }
    pick->tokens = f - 1.0;
    return true;
}
