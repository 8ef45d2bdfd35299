/*
 * strutil.h - bounded string copies.
 */
#ifndef BB_STRUTIL_H
#define BB_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "utf8.h"

/* Copies src into dst (cap bytes, cap >= 1), always NUL-terminated.
 * Returns true if it fit whole; otherwise dst holds src cut at a UTF-8
 * character boundary and false is returned. */
static inline bool str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    bool whole = n < cap;
    if (!whole)
        n = utf8_cut(src, n, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return whole;
}

#endif
