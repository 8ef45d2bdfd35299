/*
 * mockworker.h - a stand-in for the worker, for testing the protocol client
 * and bb-load without the real server: it answers the GET probe, audio
 * POSTs and reset_events over FastCGI (or HTTP/1.1), one thread, poll().
 *
 * What it does with a POST: checks the query the way the server must
 * (userid and read_clock present, n_samples a multiple of 2880, the body's
 * packet count matching it), keeps each userid's last read and write clocks
 * and answers a discontinuity with the server's "Client read clock desync"
 * kill_client error, and returns the uploaded Opus packets as the mix
 * (loopback), or encoded silence for an empty body.  request_lead makes the
 * requester leader and queues delay_seconds for everyone (3 for the leader,
 * 6 for the others), like the real delay assignment.  Every answer carries
 * X-Worker-Id and the metadata fields of PROTOCOL.md 5.2 that the client
 * reads.
 *
 * Fault injection: every Nth POST answers a kill_client desync
 * (fault_every) or echoes a wrong client_read_clock (skew_every), so the
 * error paths of the callers can be tested.  The accessors may be called from
 * another thread while mock_run() serves (a mutex guards what they read).
 */
#ifndef BB_MOCKWORKER_H
#define BB_MOCKWORKER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mock mock_t;

typedef struct {
    const char *listen;     /* "127.0.0.1:PORT", "[::1]:PORT" (PORT may be 0) or "unix:/path" */
    bool http;              /* speak HTTP/1.1 instead of FastCGI */
    bool chunked;           /* HTTP: answer with chunked transfer coding */
    int fault_every;        /* every Nth POST: kill_client desync; 0: never */
    int skew_every;         /* every Nth POST: echo a wrong client_read_clock; 0: never */
    int worker_id;
    double duration_s;      /* stop by itself after this long (safety) */
} mock_opts_t;

/* Binds and listens.  Returns NULL (and prints why) on failure. */
mock_t *mock_new(const mock_opts_t *o);

/* The TCP port bound (useful with PORT 0), or 0 for a unix socket. */
int mock_port(const mock_t *m);

/* Serves until the duration ends or mock_stop() is called (from another
 * thread).  Returns 0. */
int mock_run(mock_t *m);

/* Asks mock_run() to return; safe from another thread. */
void mock_stop(mock_t *m);

/* POSTs answered so far. */
long mock_posts(mock_t *m);

/* Copies the query string and X-Event-Data value ("" when absent) of the
 * last request into the given buffers (NUL-terminated, truncated). */
void mock_last_request(mock_t *m, char *query, size_t qcap, char *event, size_t ecap);

/* Closes everything and frees.  Accepts NULL. */
void mock_destroy(mock_t *m);

#endif
