/*
 * fcgiclient.h - the FastCGI 1.0 record protocol, web-server side: what nginx
 * does when it passes a request to a responder, so the test client and the
 * load generator can talk to a worker's socket directly.
 *
 * Every record is an 8-byte header followed by content and padding:
 *
 *   u8 version (1)  u8 type  u16 requestId  u16 contentLength
 *   u8 paddingLength  u8 reserved  |  content[contentLength]  padding
 *
 * all big-endian.  A request is BEGIN_REQUEST (role RESPONDER, flags
 * KEEP_CONN so the connection carries further requests), a PARAMS stream of
 * name-value pairs, then a STDIN stream with the body; a stream is any
 * number of records of its type followed by one record with no content.
 * The responder answers with a STDOUT stream (CGI headers, a blank line, the
 * body), possibly STDERR, and one END_REQUEST carrying appStatus and
 * protocolStatus.  Name-value pairs put each length in one byte when it is
 * below 128, else in four bytes with the top bit set (31-bit length).
 *
 * Records written here are padded to a multiple of 8 bytes, as the
 * specification recommends; stream data is split into records of at most
 * FCGIC_MAX_CHUNK bytes.  The record reader is incremental (bytes may arrive
 * in any pieces) and is used for both directions: it parses the answers of a
 * responder, and the tests use it to parse back the requests built here.
 */
#ifndef BB_FCGICLIENT_H
#define BB_FCGICLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "response.h"

#define FCGIC_VERSION_1 1
#define FCGIC_HEADER_LEN 8
/* Largest content of one record. */
#define FCGIC_MAX_CONTENT 65535
/* Stream data is cut into records of this size (a multiple of 8). */
#define FCGIC_MAX_CHUNK 65528

/* Record types. */
enum {
    FCGIC_BEGIN_REQUEST = 1,
    FCGIC_ABORT_REQUEST = 2,
    FCGIC_END_REQUEST = 3,
    FCGIC_PARAMS = 4,
    FCGIC_STDIN = 5,
    FCGIC_STDOUT = 6,
    FCGIC_STDERR = 7,
    FCGIC_DATA = 8,
    FCGIC_GET_VALUES = 9,
    FCGIC_GET_VALUES_RESULT = 10,
    FCGIC_UNKNOWN_TYPE = 11,
};

/* BEGIN_REQUEST roles and flags. */
#define FCGIC_RESPONDER 1
#define FCGIC_KEEP_CONN 1

/* END_REQUEST protocolStatus values. */
enum {
    FCGIC_REQUEST_COMPLETE = 0,
    FCGIC_CANT_MPX_CONN = 1,
    FCGIC_OVERLOADED = 2,
    FCGIC_UNKNOWN_ROLE = 3,
};

/* Error codes: 0 for success, negative values below. */
enum {
    FCGIC_OK = 0,
    FCGIC_ENOMEM = -1,     /* a buffer could not grow */
    FCGIC_ETOOBIG = -2,    /* a name or value longer than 2^31-1 bytes */
    FCGIC_EVERSION = -3,   /* a record whose version is not 1 */
    FCGIC_EPROTO = -4,     /* a malformed record, pair, or CGI header block */
    FCGIC_ECLOSED = -5,    /* the connection ended before END_REQUEST */
    FCGIC_EREJECTED = -6,  /* END_REQUEST with a protocolStatus other than COMPLETE */
};

const char *fcgic_strerror(int code);

/* A decoded record header. */
typedef struct {
    uint8_t version;
    uint8_t type;
    uint16_t request_id;
    uint16_t content_length;
    uint8_t padding_length;
} fcgic_header_t;

/* One whole record as the reader returns it; content stays valid until the
 * next call on the reader. */
typedef struct {
    uint8_t type;
    uint16_t request_id;
    const uint8_t *content;
    size_t len;
} fcgic_record_t;

/* A request parameter: NUL-terminated name and value. */
typedef struct {
    const char *name;
    const char *value;
} fcgic_param_t;

/* Writes a record header into out[0..8). */
void fcgic_header_encode(uint8_t out[FCGIC_HEADER_LEN], uint8_t type, uint16_t request_id,
                         uint16_t content_length, uint8_t padding_length);

/* Reads a record header from in[0..8). */
void fcgic_header_decode(const uint8_t in[FCGIC_HEADER_LEN], fcgic_header_t *h);

/* Appends one record with `len` (<= 65535) bytes of content, padded to a
 * multiple of 8.  Returns 0, FCGIC_ETOOBIG or FCGIC_ENOMEM. */
int fcgic_put_record(bbuf_t *out, uint8_t type, uint16_t request_id, const void *content, size_t len);

/* Appends a whole stream: the data cut into records, then the empty record
 * that ends the stream.  Returns 0 or FCGIC_ENOMEM. */
int fcgic_put_stream(bbuf_t *out, uint8_t type, uint16_t request_id, const void *data, size_t len);

/* Appends BEGIN_REQUEST with a role and flags (FCGIC_KEEP_CONN or 0). */
int fcgic_put_begin(bbuf_t *out, uint16_t request_id, uint16_t role, uint8_t flags);

/* Appends END_REQUEST (the responder's side; the tests play responder). */
int fcgic_put_end(bbuf_t *out, uint16_t request_id, uint32_t app_status, uint8_t protocol_status);

/* Appends one name-value pair (not yet framed in a record).  Returns 0,
 * FCGIC_ETOOBIG or FCGIC_ENOMEM. */
int fcgic_nv_append(bbuf_t *out, const char *name, size_t nlen, const char *value, size_t vlen);

/* Reads the next name-value pair of the PARAMS content p[0..len) starting
 * at *pos.  Returns 1 with the pair (views into p) and *pos advanced, 0 at
 * the end, FCGIC_EPROTO when a length runs past the end. */
int fcgic_nv_next(const uint8_t *p, size_t len, size_t *pos, const uint8_t **name, uint32_t *nlen,
                  const uint8_t **value, uint32_t *vlen);

/* Appends a whole responder request: BEGIN_REQUEST, the PARAMS stream of the
 * nparams pairs, and the STDIN stream of the body.  keep_conn asks the
 * responder to keep the connection open afterwards.  Returns 0,
 * FCGIC_ETOOBIG or FCGIC_ENOMEM (out may then hold a partial request; clear
 * it). */
int fcgic_build_request(bbuf_t *out, uint16_t request_id, bool keep_conn, const fcgic_param_t *params,
                        size_t nparams, const uint8_t *body, size_t body_len);

/* ---- incremental record reader ---------------------------------------- */

typedef struct {
    uint8_t hdr[FCGIC_HEADER_LEN];
    size_t hdr_have;
    fcgic_header_t h;
    bbuf_t content;
    size_t pad_left;
    int state;          /* 0: header, 1: content, 2: padding */
} fcgic_reader_t;

/* Prepares a zero-filled reader. */
void fcgic_reader_init(fcgic_reader_t *r);

/* Forgets any partial record (after the connection was reset). */
void fcgic_reader_reset(fcgic_reader_t *r);

/* Frees the reader's memory.  Accepts NULL. */
void fcgic_reader_free(fcgic_reader_t *r);

/* Consumes bytes from data[0..len) until one whole record (padding included)
 * has been read or the bytes run out.  *used receives the bytes consumed.
 * Returns 1 with *rec filled, 0 when every byte was consumed without
 * completing a record, FCGIC_EVERSION or FCGIC_ENOMEM. */
int fcgic_reader_feed(fcgic_reader_t *r, const uint8_t *data, size_t len, size_t *used, fcgic_record_t *rec);

/* ---- responder answer parser ------------------------------------------ */

typedef struct {
    fcgic_reader_t rd;
    uint16_t request_id;   /* the request whose answer is expected */
    bool keep_conn;        /* whether the request asked to keep the connection */
    bool in_body;          /* the CGI header block has ended */
    bool stdout_ended;
    bbuf_t head;           /* CGI header bytes until the blank line */
} fcgic_parser_t;

void fcgic_parser_init(fcgic_parser_t *p);

/* Expects the answer to request `request_id` next. */
void fcgic_parser_expect(fcgic_parser_t *p, uint16_t request_id, bool keep_conn);

void fcgic_parser_free(fcgic_parser_t *p);

/* Feeds bytes of the connection into the answer being parsed into resp.
 * data == NULL means the peer closed the connection.  *used receives the
 * bytes consumed (the rest belongs to whatever follows).  Returns 1 when the
 * answer is complete (END_REQUEST seen: resp has status, headers, body,
 * stderr text, app and protocol status), 0 when more bytes are needed, or
 * a negative error (FCGIC_EPROTO, FCGIC_ECLOSED, FCGIC_EREJECTED,
 * FCGIC_ENOMEM).  A CGI answer without a Status header has status 200.
 * Records of other request ids and management records are skipped. */
int fcgic_parser_feed(fcgic_parser_t *p, const uint8_t *data, size_t len, size_t *used, resp_t *resp);

#endif
