/*
 * jsonw.h - writing single-line, pure-ASCII JSON into a bounded buffer.
 *
 * The metadata header must be one line of ASCII (PROTOCOL.md 5.2): every
 * non-ASCII character is written as \uXXXX (surrogate pairs above U+FFFF),
 * control characters are escaped, invalid UTF-8 becomes U+FFFD, and clocks
 * are printed as exact integers.  A writer that runs out of room sets its
 * overflow flag and stops writing; the caller checks jw_ok() once at the
 * end, so the happy path carries no error checks.  Nothing allocates.
 */
#ifndef BB_JSONW_H
#define BB_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
    bool need_comma;   /* inside an object or array, after a member */
} jw_t;

/* Starts writing into buf (cap bytes, cap >= 1). */
void jw_init(jw_t *w, char *buf, size_t cap);

/* True if everything fit.  The text is always NUL-terminated. */
static inline bool jw_ok(const jw_t *w) { return !w->overflow; }

void jw_obj_begin(jw_t *w);
void jw_obj_end(jw_t *w);
void jw_arr_begin(jw_t *w);
void jw_arr_end(jw_t *w);
/* A member name inside an object; the value follows. */
void jw_key(jw_t *w, const char *key);
void jw_str(jw_t *w, const char *s);
/* A string of at most n bytes. */
void jw_strn(jw_t *w, const char *s, size_t n);
void jw_int(jw_t *w, int64_t v);
void jw_uint_str(jw_t *w, uint64_t v);  /* an integer as a JSON string */
void jw_num(jw_t *w, double v);          /* shortest form; NaN/inf as null */
void jw_bool(jw_t *w, bool v);
void jw_null(jw_t *w);
/* Already-valid JSON text, written as a value. */
void jw_raw(jw_t *w, const char *json, size_t n);

/* Writes {"error": why} into buf (cap bytes): the body of every refusal a
 * client shows.  A why that does not fit leaves buf incomplete: callers'
 * buffers hold their longest sentence. */
void jw_error(char *buf, size_t cap, const char *why);

/* Escapes s (n bytes of UTF-8) as the contents of a JSON string (no
 * quotes) into out; returns the length written, or (size_t)-1 if out (cap
 * bytes) is too small. */
size_t jw_escape(const char *s, size_t n, char *out, size_t cap);

/* The bytes jw_str() writes for the n bytes at s: the escaped text and its
 * two quotes (what a caller with a byte budget checks first). */
size_t jw_str_len(const char *s, size_t n);

/* True if s (n bytes) is valid UTF-8 without control characters (names
 * and chat messages must be). */
bool jw_utf8_clean(const char *s, size_t n);

/* Cuts s to at most max_bytes at a character boundary; returns the new
 * length. */
size_t jw_utf8_cut(const char *s, size_t n, size_t max_bytes);

#endif
