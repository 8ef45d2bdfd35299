/*
 * bytebuf.c - the growable byte buffer of bytebuf.h.
 *
 * Invariant: when data is not NULL, cap + 1 bytes are allocated and
 * data[len] is 0.  Sizes are checked for overflow before every allocation.
 */
#include "bytebuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bbuf_strerror(int code)
{
    switch (code) {
    case BBUF_OK: return "success";
    case BBUF_ENOMEM: return "out of memory";
    default: return "unknown byte buffer error";
    }
}

int bbuf_reserve(bbuf_t *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - 1 - b->len)
        return BBUF_ENOMEM;
    size_t need = b->len + extra;
    if (b->data && need <= b->cap)
        return BBUF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap + 1);
    if (!p)
        return BBUF_ENOMEM;
    if (!b->data)
        p[0] = 0;
    b->data = p;
    b->cap = cap;
    return BBUF_OK;
}

int bbuf_append(bbuf_t *b, const void *p, size_t n)
{
    if (bbuf_reserve(b, n) != BBUF_OK)
        return BBUF_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return BBUF_OK;
}

uint8_t *bbuf_extend(bbuf_t *b, size_t n)
{
    if (bbuf_reserve(b, n) != BBUF_OK)
        return NULL;
    uint8_t *at = b->data + b->len;
    memset(at, 0, n + 1);
    b->len += n;
    return at;
}

int bbuf_puts(bbuf_t *b, const char *s)
{
    return bbuf_append(b, s, strlen(s));
}

int bbuf_putc(bbuf_t *b, uint8_t c)
{
    return bbuf_append(b, &c, 1);
}

int bbuf_printf(bbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return BBUF_ENOMEM;
    if ((size_t)n < sizeof small)
        return bbuf_append(b, small, (size_t)n);
    if (bbuf_reserve(b, (size_t)n) != BBUF_OK)
        return BBUF_ENOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return BBUF_OK;
}

void bbuf_consume(bbuf_t *b, size_t n)
{
    if (n >= b->len) {
        bbuf_clear(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = 0;
}

void bbuf_free(bbuf_t *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
