/*
 * urlenc.c - form-urlencoding of query strings (urlenc.h).
 *
 * A 256-entry table says which bytes pass through unchanged; everything is
 * byte-oriented, so UTF-8 needs no special handling in either direction.
 */
#include "urlenc.h"

#include <stdio.h>
#include <string.h>

static const char hex_digits[] = "0123456789ABCDEF";

const char *urlenc_strerror(int code)
{
    switch (code) {
    case URLENC_OK: return "success";
    case URLENC_ENOMEM: return "out of memory";
    case URLENC_ESPACE: return "decoded text does not fit the output";
    default: return "unknown url-encoding error";
    }
}

/* True for the bytes URLSearchParams leaves unchanged. */
static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '*' || c == '-' || c == '.' || c == '_';
}

int urlenc_append(bbuf_t *out, const char *s, size_t n)
{
    /* Worst case three output bytes per input byte. */
    if (n > ((size_t)-1) / 3 || bbuf_reserve(out, 3 * n) != BBUF_OK)
        return URLENC_ENOMEM;
    char *w = (char *)out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            *w++ = (char)c;
        } else if (c == ' ') {
            *w++ = '+';
        } else {
            *w++ = '%';
            *w++ = hex_digits[c >> 4];
            *w++ = hex_digits[c & 15];
        }
    }
    out->len = (size_t)(w - (char *)out->data);
    out->data[out->len] = 0;
    return URLENC_OK;
}

int urlenc_param(bbuf_t *out, const char *name, const char *value)
{
    if (out->len && bbuf_putc(out, '&') != BBUF_OK)
        return URLENC_ENOMEM;
    if (urlenc_append(out, name, strlen(name)) != URLENC_OK || bbuf_putc(out, '=') != BBUF_OK)
        return URLENC_ENOMEM;
    return urlenc_append(out, value, strlen(value));
}

int urlenc_param_i64(bbuf_t *out, const char *name, int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return urlenc_param(out, name, b);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long urlenc_decode(char *out, size_t cap, const char *in, size_t n)
{
    if (cap == 0)
        return URLENC_ESPACE;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n) {
            int hi = hex_value(in[i + 1]);
            int lo = hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (char)(hi * 16 + lo);
                i += 2;
            }
        }
        if (w + 1 >= cap) {
            out[w] = 0;
            return URLENC_ESPACE;
        }
        out[w++] = c;
    }
    out[w] = 0;
    return (long)w;
}

long urlenc_get(const char *q, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t flen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', flen);
        size_t klen = eq ? (size_t)(eq - p) : flen;
        /* Names we look up never need decoding, so compare raw bytes. */
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            if (!eq)
                return urlenc_decode(out, cap, "", 0);
            return urlenc_decode(out, cap, eq + 1, flen - klen - 1);
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return -1;
}
