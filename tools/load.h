/*
 * load.h - the state of bb-load's one event loop, shared by its modules:
 * the connections and their pools (loadpool.h), the singers and their
 * timers (loadsinger.h), the counters (loadreport.h) and the options.
 * Types only; what changes them is in those modules.
 *
 * Ownership: the loop owns every connection (conns) and every singer slot
 * (sing); a pool lists connections it does not own, and its FIFO holds
 * singers waiting for one of them.  Identities across time: a connection's
 * epoch bumps on every close, so an epoll event for a closed socket is
 * recognised and dropped; a singer's timer_gen bumps whenever it is
 * re-armed, so a stale heap entry is dropped when it comes up.
 */
#ifndef BB_LOAD_H
#define BB_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "bbclient.h"
#include "cpuacct.h"
#include "loadopts.h"
#include "loadreport.h"
#include "rng.h"

/* Connection states; singer states; singer roles. */
enum { C_CLOSED = 0, C_CONNECTING, C_IDLE, C_BUSY };
enum { S_OFF = 0, S_WAIT, S_QUEUED, S_BUSY, S_GONE };
enum { R_SINGER = 0, R_LEADER, R_SPECTATOR };

struct pool;
struct lsinger;
struct loop;

typedef struct lconn {
    int id;                 /* index in the loop's connection table */
    uint32_t epoch;         /* bumps on every close: stale epoll events are ignored */
    bbc_conn_t *c;
    struct pool *pool;
    int state;
    bbuf_t out;
    size_t out_off;
    resp_t resp;
    struct lsinger *cur;
    int64_t deadline;
    int64_t retry_at;       /* after a failed connect, no new attempt before this */
    bool want_out;
} lconn_t;

typedef struct pool {
    lconn_t **conns;
    int nconns;
    struct lsinger **q;     /* FIFO of singers waiting for a connection */
    int qhead, qlen, qcap;
} pool_t;

typedef struct lsinger {
    int idx;
    int role;
    int state;
    int offset;
    bbc_singer_t *s;
    pool_t *pool;           /* where its requests go */
    pool_t own_pool;        /* HTTP: a pool of one connection of its own */
    bbc_request_t req;      /* the request being sent */
    bool req_is_probe;
    int64_t due;            /* when the next batch is due */
    int64_t t_ready;        /* when the pending request became due */
    int64_t t_sent;         /* when it was handed to a connection */
    uint64_t timer_gen;
    int64_t leave_at;       /* churn: when it leaves (0 = never) */
    int consecutive_errors;
    int lead_step;          /* leader: 0 before request_lead, 1 waiting, 2 started */
    int lead_posts;
    bool ok_in_interval;
    bool err_in_interval;
    uint32_t generation;    /* how many times this slot has (re)joined */
} lsinger_t;

typedef struct {
    int64_t t;
    int idx;
    uint64_t gen;
} load_timer_t;

/* Called by a pool when the exchange of singer ls on connection k ended:
 * rc is 0 with the whole answer in k->resp, or a transport error. */
typedef void (*load_done_fn)(struct loop *L, lsinger_t *ls, lconn_t *k, int rc);

typedef struct loop {
    load_opts_t o;
    int ep;
    int sigfd;
    load_done_fn done;
    bbc_preenc_t *pre;
    bbc_preenc_t *pre_floor;   /* the voice without rests: decoding alone */
    bbc_addr_t addrs[LOAD_MAX_ADDRS];
    pool_t pools[LOAD_MAX_ADDRS];    /* FastCGI: one per worker socket */
    lconn_t **conns;
    int nconns, capconns;
    lsinger_t *sing;
    int nsing;                       /* slots in use */
    int active_target;               /* singers (not spectators) wanted now */
    load_timer_t *heap;
    int hlen, hcap;
    rng_t rng;
    int64_t t0, t_end;
    lrep_t rep;
    cpuacct_t cpu;
    double self_cpu0;
    /* cpuacct_decode_floor() passes, o.floor_passes before the run and as
     * many after it */
    double floors[2 * LOAD_MAX_FLOOR_PASSES];
    int nfloors;
    /* ramp */
    int ramp_level;
    int ramp_ok_level;
    int ramp_broke_at;
    const char *ramp_reason;
    bool stop;
} loop_t;

#endif
