/*
 * httpclient.h - just enough HTTP/1.1 for a client on a kept-alive
 * connection to nginx: building a request with a Content-Length body, and an
 * incremental response parser.
 *
 * The parser handles a status line, header lines (folded continuation lines
 * are not accepted: RFC 9112 deprecates them), then a body delimited by
 * Content-Length, by chunked transfer coding (chunk extensions and trailers
 * are read and ignored), or by the end of the connection when neither is
 * given.  Interim 1xx responses are skipped.  A 204 or 304, or the answer to
 * a HEAD, has no body.  After a response the connection is reusable unless
 * the server said `Connection: close`, spoke HTTP/1.0 without keep-alive, or
 * ended the body by closing; resp->close says which.
 *
 * Limits: the status line and headers together at most HTTPC_MAX_HEAD bytes.
 */
#ifndef BB_HTTPCLIENT_H
#define BB_HTTPCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "response.h"

#define HTTPC_MAX_HEAD (256 * 1024)

/* Error codes: 0 for success, negative values below. */
enum {
    HTTPC_OK = 0,
    HTTPC_ENOMEM = -1,   /* a buffer could not grow */
    HTTPC_EPROTO = -2,   /* a malformed status line, header, length or chunk */
    HTTPC_ECLOSED = -3,  /* the connection ended before the response did */
    HTTPC_ETOOBIG = -4,  /* the header block exceeds HTTPC_MAX_HEAD */
};

const char *httpc_strerror(int code);

/* An extra request header. */
typedef struct {
    const char *name;
    const char *value;
} httpc_header_t;

/* Appends a request: "METHOD target HTTP/1.1", Host, Connection (keep-alive
 * or close), the extra headers, Content-Length (always for POST, else only
 * when there is a body), a blank line and the body.  target is the path with
 * its query.  Returns 0 or HTTPC_ENOMEM. */
int httpc_build_request(bbuf_t *out, const char *method, const char *host, const char *target,
                        const httpc_header_t *headers, size_t nheaders, const uint8_t *body,
                        size_t body_len, bool keep_alive);

typedef struct {
    int state;
    bool head_request;     /* the request was a HEAD: no body follows */
    bool chunked;
    bool until_close;
    uint64_t left;         /* body or chunk bytes still to read */
    size_t head_bytes;     /* bytes of status line + headers so far */
    int minor;             /* HTTP/1.minor of the response */
    bbuf_t line;           /* the line being assembled */
} httpc_parser_t;

void httpc_parser_init(httpc_parser_t *p);

/* Expects a new response; head_request: the request was a HEAD. */
void httpc_parser_expect(httpc_parser_t *p, bool head_request);

void httpc_parser_free(httpc_parser_t *p);

/* Feeds bytes of the connection into the response being parsed into resp.
 * data == NULL means the peer closed the connection (which completes a
 * close-delimited body).  *used receives the bytes consumed.  Returns 1 when
 * the response is complete, 0 when more bytes are needed, or HTTPC_EPROTO,
 * HTTPC_ECLOSED, HTTPC_ETOOBIG, HTTPC_ENOMEM. */
int httpc_parser_feed(httpc_parser_t *p, const uint8_t *data, size_t len, size_t *used, resp_t *resp);

#endif
