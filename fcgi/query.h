/*
 * query.h - parsing an application/x-www-form-urlencoded query string.
 *
 * The client builds its query with URLSearchParams: UTF-8 percent-encoded,
 * space as '+'.  The parser decodes both, into one buffer owned by the
 * caller's q_t, so nothing is allocated per request.  As PROTOCOL.md 3.1
 * asks, an empty value counts as absent, while a field without '=', an
 * empty field ("a=1&&b=2"), a bad percent escape, a repeated name or a
 * query longer than Q_MAX_LEN or with more than Q_MAX_PARAMS fields is
 * malformed and refused as a whole.
 */
#ifndef BB_QUERY_H
#define BB_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define Q_MAX_LEN 16384
#define Q_MAX_PARAMS 48

enum {
    Q_OK = 0,
    Q_ETOOLONG = -1,   /* the query exceeds Q_MAX_LEN */
    Q_ETOOMANY = -2,   /* more than Q_MAX_PARAMS fields */
    Q_EFIELD = -3,     /* a field without '=' or an empty field */
    Q_EESCAPE = -4,    /* a bad %XX escape or a NUL byte */
    Q_EREPEAT = -5,    /* a name appears twice */
};

typedef struct {
    const char *name;   /* decoded, NUL-terminated, inside buf */
    const char *value;  /* decoded, NUL-terminated, inside buf */
    size_t value_len;
} q_param_t;

typedef struct {
    uint32_t n;
    q_param_t p[Q_MAX_PARAMS];
    char buf[Q_MAX_LEN + Q_MAX_PARAMS * 2];
    char bad[64];       /* the offending name after Q_EREPEAT (for the message) */
} q_t;

/* Parses query (len bytes, need not be NUL-terminated) into q.  Returns
 * Q_OK or a negative Q_E* code; on failure q holds nothing usable. */
int q_parse(q_t *q, const char *query, size_t len);

/* A sentence for a code. */
const char *q_strerror(int code);

/* The value of `name`, or NULL if absent (or given with an empty value). */
const char *q_get(const q_t *q, const char *name);

/* Strict decimal integer: optional '-', 1..19 digits, nothing else.
 * Returns false if s is not one or overflows int64. */
bool q_int64(const char *s, int64_t *out);

/* A finite decimal number (as JavaScript prints them); false otherwise. */
bool q_double(const char *s, double *out);

/* Decodes the value of the first field `name` of a raw query into out (cap
 * bytes), without parsing the rest: what routing a request to its room
 * needs before the exchange parses it whole.  False if absent, malformed
 * or longer than cap - 1 bytes; an empty value gives "". */
bool q_peek(const char *query, const char *name, char *out, size_t cap);

#endif
