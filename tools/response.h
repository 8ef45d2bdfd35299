/*
 * response.h - one response as the client received it, whatever carried it
 * (an HTTP/1.1 response from nginx or the CGI-style STDOUT of a FastCGI
 * responder): status, headers, body, and the FastCGI extras.
 *
 * Headers are kept in arrival order in one buffer as "name\0value\0" pairs,
 * so looking one up is a short linear scan and a response allocates nothing
 * once its buffers have grown to size: resp_reset() keeps the memory for the
 * next response on the same connection.  Names compare case-insensitively
 * (HTTP and CGI header names are case-insensitive); values have the leading
 * and trailing blanks removed.
 */
#ifndef BB_RESPONSE_H
#define BB_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"

/* Error codes: 0 for success, negative values below. */
enum {
    RESP_OK = 0,
    RESP_ENOMEM = -1,     /* a buffer could not grow */
    RESP_EHEADER = -2,    /* a header line without a colon, or an empty name */
};

const char *resp_strerror(int code);

typedef struct {
    int status;             /* HTTP status, 100 .. 999; 0 until known */
    bbuf_t headers;         /* "name\0value\0" pairs */
    size_t nheaders;
    bbuf_t body;            /* the body bytes, de-chunked */
    bbuf_t errtext;         /* FastCGI STDERR stream (empty over HTTP) */
    uint32_t app_status;    /* FastCGI END_REQUEST appStatus */
    int protocol_status;    /* FastCGI END_REQUEST protocolStatus; -1 over HTTP */
    int close;              /* 1: the connection cannot carry another request */
} resp_t;

/* Prepares a zero-filled or freed resp_t (equivalent to zeroing it and
 * setting protocol_status to -1). */
void resp_init(resp_t *r);

/* Empties r for the next response, keeping its memory. */
void resp_reset(resp_t *r);

/* Frees r's memory; r is then as after resp_init().  Accepts NULL. */
void resp_free(resp_t *r);

/* Adds a header.  The value's surrounding blanks (space, tab) are removed.
 * Returns 0 or RESP_ENOMEM. */
int resp_add_header(resp_t *r, const char *name, size_t nlen, const char *value, size_t vlen);

/* Parses one "Name: value" line (without its line break) and adds it.
 * Returns 0, RESP_EHEADER or RESP_ENOMEM. */
int resp_header_line(resp_t *r, const char *line, size_t len);

/* The value of the first header called `name` (any case), or NULL. */
const char *resp_header(const resp_t *r, const char *name);

/* Iterates headers: *pos starts at 0; returns 1 and sets *name and *value
 * while there are headers left, 0 at the end. */
int resp_header_next(const resp_t *r, size_t *pos, const char **name, const char **value);

#endif
