/*
 * bytebuf.h - a growable byte buffer, the one container the protocol client
 * builds requests into and collects responses in.
 *
 * A bbuf_t is a plain struct: { data, len, cap } with `len <= cap` and, once
 * anything has been appended, `data[len] == 0` (a spare NUL is always kept
 * after the bytes, so text can be used as a C string without a copy).  A
 * zero-initialised bbuf_t is a valid empty buffer; bbuf_free() returns it to
 * that state.  Growth doubles the capacity, so appending n bytes one call at
 * a time costs O(n) overall.  The buffer is not shared between threads.
 */
#ifndef BB_BYTEBUF_H
#define BB_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

/* Error codes: 0 for success, negative values below. */
enum {
    BBUF_OK = 0,
    BBUF_ENOMEM = -1,    /* allocation failed or the size would overflow */
};

typedef struct {
    uint8_t *data;   /* NULL until the first append or reserve */
    size_t len;      /* bytes in use */
    size_t cap;      /* bytes allocated, not counting the spare NUL */
} bbuf_t;

/* A sentence for an error code of this module. */
const char *bbuf_strerror(int code);

/* Makes room for at least `extra` more bytes after len.  Returns 0 or
 * BBUF_ENOMEM (the buffer is then unchanged). */
int bbuf_reserve(bbuf_t *b, size_t extra);

/* Appends n bytes (p may be NULL when n is 0).  Returns 0 or BBUF_ENOMEM. */
int bbuf_append(bbuf_t *b, const void *p, size_t n);

/* Appends n bytes for the caller to fill in and returns where they start
 * (valid until the buffer next grows), or NULL when memory runs out (the
 * buffer is then unchanged).  Until filled in, the bytes are zeros. */
uint8_t *bbuf_extend(bbuf_t *b, size_t n);

/* Appends a NUL-terminated string, without its NUL. */
int bbuf_puts(bbuf_t *b, const char *s);

/* Appends one byte. */
int bbuf_putc(bbuf_t *b, uint8_t c);

/* Appends printf-style formatted text.  Returns 0 or BBUF_ENOMEM. */
int bbuf_printf(bbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Removes the first n bytes (n is clamped to len), moving the rest down. */
void bbuf_consume(bbuf_t *b, size_t n);

/* Empties the buffer, keeping its memory. */
static inline void bbuf_clear(bbuf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

/* Frees the memory; the buffer is empty and reusable afterwards.  Accepts
 * NULL. */
void bbuf_free(bbuf_t *b);

#endif
