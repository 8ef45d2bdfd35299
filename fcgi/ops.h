/*
 * ops.h - the operator's socket of a worker: metrics and profiling.
 *
 * Not on the API socket at all, so that no spelling of a public URL can
 * reach them through nginx: a separate socket, a unix socket only its
 * owner may open (mode 0600) or a port on loopback, speaking plain HTTP/1.0
 * so that curl and Prometheus read it as it is:
 *   GET /metrics        Prometheus text: the worker's counters summed over
 *                       its rooms, per-stage timings, and one gauge per room
 *                       (at most HS_ROOMS_MAX rooms, so a bounded set of
 *                       labels)
 *   GET /start_profile  starts the on-demand profile
 *   GET /stop_profile   stops it
 *   GET /get_profile    its report, as text
 * A connection is served at once and closed; its reads and writes time out
 * after a second, so a stalled operator's client costs the worker at most
 * that.
 */
#ifndef BB_OPS_H
#define BB_OPS_H

#include <stdint.h>

#include "api.h"
#include "prof.h"
#include "rooms.h"

/* What the operator's socket reports on (borrowed, owned by main()). */
typedef struct {
    wr_t *rooms;
    const api_t *api;        /* its counters */
    prof_t *life, *demand;   /* the worker's profiles, shared by its rooms */
    int64_t started;         /* server clock at start */
    const hs_t *host;
} ops_config_t;

typedef struct ops ops_t;

/* Creates the responder (its text buffers); NULL when out of memory. */
ops_t *ops_create(const ops_config_t *cfg);

/* Frees it; accepts NULL. */
void ops_destroy(ops_t *o);

/* Serves one accepted connection on the operator socket, then closes it. */
void ops_serve(ops_t *o, int fd);

#endif
