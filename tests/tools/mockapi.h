/*
 * mockapi.h - the answers of the test stand-in for the worker
 * (mockworker.h), apart from its sockets and framing: the clock probe, and
 * POSTs checked as the real worker checks them (clock continuity, the body
 * against n_samples), with faults injected on request.  Not thread-safe:
 * one mapi_t is used by one serving thread.
 */
#ifndef BB_MOCKAPI_H
#define BB_MOCKAPI_H

#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"

/* A request as the transport parsed it (pointers into its buffers). */
typedef struct {
    const char *method;
    const char *path;
    const char *query;
    const char *event_data;
    const uint8_t *body;
    size_t body_len;
} mapi_req_t;

/* An answer: status, X-Audio-Metadata (empty: none) and body. */
typedef struct {
    int status;
    bbuf_t meta;
    bbuf_t body;
} mapi_resp_t;

typedef struct mapi mapi_t;

/* A stand-in that says it is worker `worker_id`; every fault_every-th POST
 * is answered with a read clock desync (kill_client), every skew_every-th
 * echoes a wrong client_read_clock (0: never).  NULL when out of memory. */
mapi_t *mapi_new(int worker_id, int fault_every, int skew_every);

/* Frees; accepts NULL. */
void mapi_free(mapi_t *m);

/* Answers request rq, the post_no-th POST, into r (whose buffers it
 * clears first). */
void mapi_answer(mapi_t *m, long post_no, const mapi_req_t *rq, mapi_resp_t *r);

#endif
