/*
 * jsonw.c - the bounded JSON writer and UTF-8 checks.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "utf8.h"

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

/* The next character of s (n > 0 bytes left) into *cp and its length; an
 * invalid byte stands for one U+FFFD. */
static size_t next_cp(const unsigned char *s, size_t n, uint32_t *cp)
{
    int l = utf8_decode(s, n, cp);
    if (l < 0) {
        *cp = 0xFFFD;
        return 1;
    }
    return (size_t)l;
}

/* The JSON escape of code point cp into tmp; returns its length (1..12). */
static size_t escape_cp(uint32_t cp, char tmp[16])
{
    switch (cp) {
    case '"': memcpy(tmp, "\\\"", 2); return 2;
    case '\\': memcpy(tmp, "\\\\", 2); return 2;
    case '\n': memcpy(tmp, "\\n", 2); return 2;
    case '\r': memcpy(tmp, "\\r", 2); return 2;
    case '\t': memcpy(tmp, "\\t", 2); return 2;
    default: break;
    }
    if (cp >= 0x20 && cp < 0x7F) {
        tmp[0] = (char)cp;
        return 1;
    }
    if (cp < 0x10000)
        return (size_t)snprintf(tmp, 16, "\\u%04x", (unsigned)cp);
    uint32_t v = cp - 0x10000;
    return (size_t)snprintf(tmp, 16, "\\u%04x\\u%04x", (unsigned)(0xD800 + (v >> 10)),
                            (unsigned)(0xDC00 + (v & 0x3FF)));
}

size_t jw_escape(const char *str, size_t n, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        char tmp[16];
        i += next_cp(s + i, n - i, &cp);
        size_t t = escape_cp(cp, tmp);
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
        uint32_t cp;
        char tmp[16];
        i += next_cp(s + i, n - i, &cp);
        o += escape_cp(cp, tmp);
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

void jw_error(char *buf, size_t cap, const char *why)
{
    jw_t j;
    jw_init(&j, buf, cap);
    jw_obj_begin(&j);
    jw_key(&j, "error");
    jw_str(&j, why);
    jw_obj_end(&j);
}

bool jw_utf8_clean(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_decode(s + i, n - i, &cp);
        if (l < 0 || cp < 0x20 || cp == 0x7F)
            return false;
        i += (size_t)l;
    }
    return true;
}

size_t jw_utf8_cut(const char *s, size_t n, size_t max_bytes)
{
    return utf8_cut(s, n, max_bytes);
}
