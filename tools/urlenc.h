/*
 * urlenc.h - application/x-www-form-urlencoded text, as the browser's
 * URLSearchParams writes it (PROTOCOL.md section 3.1).
 *
 * Encoding keeps ASCII letters, digits and the four characters `*-._`
 * unchanged, turns a space into `+`, and writes every other byte as `%XX`
 * with upper-case hex.  Strings are taken as UTF-8 bytes, so a non-ASCII
 * character becomes the percent-encoding of each of its UTF-8 bytes; the
 * encoder does not check that the input is valid UTF-8 (a test may want to
 * send broken text on purpose).  Decoding is the inverse: `+` is a space and
 * `%XX` a byte; a `%` not followed by two hex digits is kept as it is, as the
 * WHATWG URL standard's percent-decode does.
 */
#ifndef BB_URLENC_H
#define BB_URLENC_H

#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"

/* Error codes: 0 for success, negative values below. */
enum {
    URLENC_OK = 0,
    URLENC_ENOMEM = -1,   /* the output buffer could not grow */
    URLENC_ESPACE = -2,   /* the fixed output array is too small */
};

const char *urlenc_strerror(int code);

/* Appends the form-encoding of the n bytes at s to out.  Returns 0 or
 * URLENC_ENOMEM. */
int urlenc_append(bbuf_t *out, const char *s, size_t n);

/* Appends one query parameter: "name=value", preceded by '&' unless out is
 * empty.  Both parts are encoded.  value must not be NULL.  Returns 0 or
 * URLENC_ENOMEM. */
int urlenc_param(bbuf_t *out, const char *name, const char *value);

/* urlenc_param() with a decimal integer value. */
int urlenc_param_i64(bbuf_t *out, const char *name, int64_t v);

/* Decodes n bytes of form-encoded text into out (cap bytes, a NUL is always
 * written).  Returns the decoded length (not counting the NUL), or
 * URLENC_ESPACE when it does not fit. */
long urlenc_decode(char *out, size_t cap, const char *in, size_t n);

/* Finds parameter `name` in the query string q (no leading '?') and decodes
 * its value into out (cap bytes, NUL-terminated).  Returns the value's
 * length, -1 if the parameter is absent, or URLENC_ESPACE. */
long urlenc_get(const char *q, const char *name, char *out, size_t cap);

#endif
