/*
 * bbconn.h - the client's transport: loopback addresses, and connections
 * that carry one request at a time to a worker (FastCGI records) or to
 * nginx (HTTP/1.1), kept alive between requests.
 *
 * The request / response step is split so that an event loop can drive
 * many connections: bbc_build_request() gives the bytes to send,
 * bbc_parse_feed() takes received bytes until a response is complete.
 * bbc_exchange() does both, blocking, with a timeout.
 *
 * Connections to a worker: bb-worker serves every kept-alive FastCGI
 * connection from its one thread, so each singer may have its own.  A
 * responder built on a plain FCGX_Accept_r() loop does not: it reads only
 * the kept-alive connection it is on, and a second one waits unread.
 * Against such a responder, singers should share one connection or not
 * keep theirs (bbsinger.h).
 *
 * Only loopback addresses and unix sockets are accepted: this client never
 * sends traffic off the machine.  That holds for the source address too: a
 * connection may leave from another loopback address than the kernel's
 * choice (127.0.0.1), which is how a test plays clients at different
 * addresses (a rehearsal hall, a flood) against per-address limits.  A
 * handle is used by one thread.
 */
#ifndef BB_BBCONN_H
#define BB_BBCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bbcore.h"
#include "bytebuf.h"
#include "response.h"

typedef enum {
    BBC_FCGI = 1,          /* FastCGI straight to a worker */
    BBC_HTTP = 2,          /* HTTP/1.1 to nginx */
} bbc_transport_t;

typedef struct {
    bbc_transport_t transport;
    struct sockaddr_storage sa;
    socklen_t salen;
    char text[160];        /* the address as given */
    char host[80];         /* value for the HTTP Host header */
    int port;              /* 0 for unix sockets */
    struct sockaddr_storage src;  /* where connections leave from, port 0 ... */
    socklen_t srclen;             /* ... when > 0 (bbc_addr_set_source()) */
} bbc_addr_t;

/* Parses spec: "HOST:PORT" with HOST 127.x.x.x or localhost, "[::1]:PORT",
 * or "unix:/path" (a path of at most 107 bytes).  Only loopback addresses
 * and unix sockets are accepted: this client never sends traffic off the
 * machine.  Returns 0 or BBC_EADDR. */
int bbc_addr_parse(const char *spec, bbc_transport_t transport, bbc_addr_t *out);

/* Makes connections to a (parsed by bbc_addr_parse()) leave from the
 * loopback address `source`, bound before the connect: an address of
 * 127.0.0.0/8 in dotted decimal ("127.0.0.2"), or "::1"; no port (the
 * kernel picks one) and no name.  The source must be of the destination's
 * family: an IPv4 source for a 127.x destination, ::1 for [::1]; a unix
 * socket has none.  Returns 0, or BBC_EADDR leaving a unchanged. */
int bbc_addr_set_source(bbc_addr_t *a, const char *source);

/* One request as the application sees it; the transport frames it. */
typedef struct {
    const char *method;        /* "GET" or "POST" */
    const char *path;          /* "/api", "/api/reset_events", ... */
    const char *query;         /* without '?'; NULL or "" for none */
    const char *event_data;    /* X-Event-Data value; NULL leaves the header out */
    const char *content_type;  /* NULL: application/octet-stream for POST, none for GET */
    const uint8_t *body;
    size_t body_len;
} bbc_request_t;

typedef struct bbc_conn bbc_conn_t;

/* Makes an unconnected connection handle for addr (copied).  The socket is
 * opened by bbc_conn_open() or on the first bbc_exchange(). */
bbc_conn_t *bbc_conn_new(const bbc_addr_t *addr, int *err);

/* Closes the socket and frees the handle.  Accepts NULL. */
void bbc_conn_destroy(bbc_conn_t *c);

/* Whether requests ask to keep the connection (FastCGI FCGI_KEEP_CONN, HTTP
 * keep-alive).  Default true. */
void bbc_conn_set_keep(bbc_conn_t *c, bool keep);

/* Opens the socket (non-blocking, close-on-exec, TCP_NODELAY; bound to the
 * address's source when it has one).  With
 * timeout_ms >= 0 waits until connected; with timeout_ms < 0 returns at once
 * and the connect may still be in progress: wait until the descriptor is
 * writable, then call bbc_conn_check(). Does nothing if already open.
 * Returns 0, BBC_ESYS, BBC_ETIMEOUT. */
int bbc_conn_open(bbc_conn_t *c, int timeout_ms);

/* After a non-blocking open: 0 once connected, BBC_ESYS (errno set) if the
 * connect failed. */
int bbc_conn_check(bbc_conn_t *c);

/* The socket descriptor, or -1 when closed. */
int bbc_conn_fd(const bbc_conn_t *c);

/* The address the handle connects to. */
const bbc_addr_t *bbc_conn_addr(const bbc_conn_t *c);

/* Closes the socket (the handle stays usable; the next request reopens). */
void bbc_conn_close(bbc_conn_t *c);

/* Appends to out the bytes of req in the connection's transport and
 * prepares the parser for its answer.  One request at a time per connection:
 * build the next one only after the previous answer is complete.  Returns 0,
 * BBC_EPARAM, BBC_ENOMEM. */
int bbc_build_request(bbc_conn_t *c, const bbc_request_t *req, bbuf_t *out);

/* Feeds received bytes into the answer of the last built request; data ==
 * NULL means the peer closed the connection.  *used receives the bytes
 * consumed.  Returns 1 when resp holds the whole answer (resp->close then
 * says whether the connection must be closed), 0 when more bytes are
 * needed, or BBC_EPROTO, BBC_ECLOSED, BBC_EREJECTED, BBC_ENOMEM. */
int bbc_parse_feed(bbc_conn_t *c, const uint8_t *data, size_t len, size_t *used, resp_t *resp);

/* Sends req and waits for the whole answer, at most timeout_ms (> 0).
 * Opens the connection if needed; if a kept-alive connection turns out to
 * have been closed by the server before any answer byte, reopens it and
 * sends once more.  Closes the connection after an answer that says so, and
 * after any error.  Returns 0 (whatever the HTTP status: see resp->status)
 * or BBC_ESYS, BBC_ETIMEOUT, BBC_ECLOSED, BBC_EPROTO, BBC_EREJECTED,
 * BBC_ENOMEM. */
int bbc_exchange(bbc_conn_t *c, const bbc_request_t *req, resp_t *resp, int timeout_ms);

#endif
