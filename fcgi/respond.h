/*
 * respond.h - answering a FastCGI request: status, headers, body.
 *
 * Every answer of the API carries the CORS set of PROTOCOL.md 2.1,
 * X-Worker-Id, and X-Content-Type-Options: nosniff, so that no browser
 * takes a body for something other than its declared type.  Bodies are
 * read whole, bounded: an oversized one is read to its end and dropped, so
 * that what is left of it is not taken for the next request on a kept-alive
 * connection.
 */
#ifndef BB_RESPOND_H
#define BB_RESPOND_H

#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>

/* "200 OK" for 200, and so on; an unknown code reads as 500. */
const char *rs_status(int code);

/* Writes the status line and headers; `ctype`, `meta` (X-Audio-Metadata)
 * and `extra` (further header lines, each ending in CRLF) may be NULL;
 * len is the Content-Length. */
void rs_head(FCGX_Request *r, int worker, int status, const char *ctype, const char *meta,
             const char *extra, size_t len);

/* A whole answer with a text body. */
void rs_text(FCGX_Request *r, int worker, int status, const char *text);

/* A whole answer with the JSON body {"error": msg}. */
void rs_json_error(FCGX_Request *r, int worker, int status, const char *msg);

/* A whole answer with the JSON body `json`. */
void rs_json(FCGX_Request *r, int worker, int status, const char *json);

/* Reads the request body into buf (cap bytes).  Returns its length, -1 if
 * it is longer than cap (read and dropped), -2 if it ended early. */
long rs_read_body(FCGX_Request *r, uint8_t *buf, size_t cap);

#endif
