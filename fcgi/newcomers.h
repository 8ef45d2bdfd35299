/*
 * newcomers.h - how many new singers one client address may bring.
 *
 * Every fresh userid costs a place in the worker's singer table and in the
 * room's user table, so a client that makes them up by the thousand could
 * fill both.  Each worker gives each client address a bucket of NC_BURST new
 * singers that refills at NC_PER_MINUTE: a rehearsal hall or a mobile
 * carrier's NAT brings its whole choir at once (40 singers and their
 * reloads fit), a script making userids is held to a trickle.  The worker
 * answers a newcomer beyond the bucket 429 with a message.
 *
 * Addresses are keyed as a network hands them out: an IPv4 address as is,
 * an IPv6 address by its /64 (one household or subscriber gets a whole
 * /64), an IPv4-mapped IPv6 address as its IPv4 address.  The operator's
 * own loopback addresses, 127.0.0.1 and ::1 (the local run, the load
 * tools), are not limited, as nginx does not limit them either.
 *
 * A fixed table of NC_SLOTS buckets, looked up in a short probe run; when
 * the run is full the stalest bucket gives way (one that has refilled to
 * NC_BURST is the same as none).  Owned by one worker's single thread; no
 * allocation after nc_create().  Since singers are sharded by userid over
 * the workers, an address may bring up to NC_BURST to each worker.
 */
#ifndef BB_NEWCOMERS_H
#define BB_NEWCOMERS_H

#include <stdbool.h>
#include <stdint.h>

#define NC_BURST 64
#define NC_PER_MINUTE 20
#define NC_SLOTS 4096

typedef struct nc nc_t;

/* A table with every bucket full; NULL when out of memory. */
nc_t *nc_create(void);

/* Frees it; accepts NULL. */
void nc_destroy(nc_t *t);

/* The key of a client address in text (REMOTE_ADDR); 0 (not limited) for
 * 127.0.0.1, ::1, NULL and text that is not an address. */
uint64_t nc_key(const char *addr);

/* True if the address with this key may bring one more new singer at
 * server clock `now` (samples at 48 kHz), which is then counted; always
 * true for key 0. */
bool nc_admit(nc_t *t, uint64_t key, int64_t now);

#endif
