/*
 * jsonw.c - the bounded JSON writer and UTF-8 checks.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"

void jw_init(jw_t *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
    w->need_comma = false;
    buf[0] = '\0';
}

static void put(jw_t *w, const char *s, size_t n)
{
    if (w->overflow)
        return;
    if (w->len + n + 1 > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void sep(jw_t *w)
{
    if (w->need_comma)
        put(w, ",", 1);
    w->need_comma = true;
}

void jw_obj_begin(jw_t *w) { sep(w); put(w, "{", 1); w->need_comma = false; }
void jw_obj_end(jw_t *w) { put(w, "}", 1); w->need_comma = true; }
void jw_arr_begin(jw_t *w) { sep(w); put(w, "[", 1); w->need_comma = false; }
void jw_arr_end(jw_t *w) { put(w, "]", 1); w->need_comma = true; }

void jw_key(jw_t *w, const char *key)
{
    jw_str(w, key);
    put(w, ":", 1);
    w->need_comma = false;
}

/* Decodes one UTF-8 character at s (n bytes left); returns its length and
 * the code point, or length 1 and -1 for an invalid sequence. */
static size_t utf8_next(const unsigned char *s, size_t n, int32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    size_t len;
    int32_t v, min;
    if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
    else { *cp = -1; return 1; }
    if (len > n) { *cp = -1; return 1; }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = -1; return 1; }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) { *cp = -1; return 1; }
    *cp = v;
    return len;
}

size_t jw_escape(const char *str, size_t n, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = utf8_next(s + i, n - i, &cp);
        i += l;
        if (cp < 0)
            cp = 0xFFFD;
        char tmp[16];
        size_t t;
        if (cp == '"') { memcpy(tmp, "\\\"", 2); t = 2; }
        else if (cp == '\\') { memcpy(tmp, "\\\\", 2); t = 2; }
        else if (cp == '\n') { memcpy(tmp, "\\n", 2); t = 2; }
        else if (cp == '\r') { memcpy(tmp, "\\r", 2); t = 2; }
        else if (cp == '\t') { memcpy(tmp, "\\t", 2); t = 2; }
        else if (cp >= 0x20 && cp < 0x7F) { tmp[0] = (char)cp; t = 1; }
        else if (cp < 0x10000) { t = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)cp); }
        else {
            int32_t v = cp - 0x10000;
            t = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x",
                                 (unsigned)(0xD800 + (v >> 10)), (unsigned)(0xDC00 + (v & 0x3FF)));
        }
        if (o + t > cap)
            return (size_t)-1;
        memcpy(out + o, tmp, t);
        o += t;
    }
    return o;
}

size_t jw_str_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 2;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += utf8_next(s + i, n - i, &cp);
        if (cp < 0)
            cp = 0xFFFD;
        if (cp == '"' || cp == '\\' || cp == '\n' || cp == '\r' || cp == '\t')
            o += 2;
        else if (cp >= 0x20 && cp < 0x7F)
            o += 1;
        else
            o += cp < 0x10000 ? 6 : 12;
    }
    return o;
}

void jw_strn(jw_t *w, const char *s, size_t n)
{
    sep(w);
    put(w, "\"", 1);
    if (w->overflow)
        return;
    size_t room = w->cap - w->len - 1;
    size_t k = jw_escape(s, n, w->buf + w->len, room);
    if (k == (size_t)-1) {
        w->overflow = true;
        w->buf[w->len] = '\0';
        return;
    }
    w->len += k;
    w->buf[w->len] = '\0';
    put(w, "\"", 1);
}

void jw_str(jw_t *w, const char *s) { jw_strn(w, s, strlen(s)); }

void jw_int(jw_t *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    sep(w);
    put(w, tmp, (size_t)n);
}

void jw_uint_str(jw_t *w, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "\"%" PRIu64 "\"", v);
    sep(w);
    put(w, tmp, (size_t)n);
}

void jw_num(jw_t *w, double v)
{
    if (!isfinite(v)) {
        jw_null(w);
        return;
    }
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%.9g", v);
    sep(w);
    put(w, tmp, (size_t)n);
}

void jw_bool(jw_t *w, bool v)
{
    sep(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(jw_t *w)
{
    sep(w);
    put(w, "null", 4);
}

void jw_raw(jw_t *w, const char *json, size_t n)
{
    sep(w);
    put(w, json, n);
}

bool jw_utf8_clean(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = utf8_next(s + i, n - i, &cp);
        if (cp < 0 || cp < 0x20 || cp == 0x7F)
            return false;
        i += l;
    }
    return true;
}

size_t jw_utf8_cut(const char *s, size_t n, size_t max_bytes)
{
    if (n <= max_bytes)
        return n;
    size_t k = max_bytes;
    /* Back up over continuation bytes to a character start. */
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}
