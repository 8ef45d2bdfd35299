/*
 * query.c - the query string parser.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

const char *q_strerror(int code)
{
    switch (code) {
    case Q_OK: return "success";
    case Q_ETOOLONG: return "query string too long";
    case Q_ETOOMANY: return "too many query parameters";
    case Q_EFIELD: return "malformed query string (a field without '=' or an empty field)";
    case Q_EESCAPE: return "malformed percent-escape in the query string";
    case Q_EREPEAT: return "repeated query parameter";
    default: return "unknown error";
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into out, NUL-terminates; returns the decoded length or
 * -1 on a bad escape or a NUL byte. */
static long decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

int q_parse(q_t *q, const char *query, size_t len)
{
    q->n = 0;
    q->bad[0] = '\0';
    if (len > Q_MAX_LEN)
        return Q_ETOOLONG;
    if (len == 0)
        return Q_OK;
    char *o = q->buf;
    size_t start = 0;
    while (start <= len) {
        size_t end = start;
        while (end < len && query[end] != '&')
            end++;
        const char *f = query + start;
        size_t flen = end - start;
        if (flen == 0)
            return Q_EFIELD;
        const char *eq = memchr(f, '=', flen);
        if (!eq)
            return Q_EFIELD;
        size_t nlen = (size_t)(eq - f), vlen = flen - nlen - 1;
        if (q->n == Q_MAX_PARAMS)
            return Q_ETOOMANY;
        q_param_t *p = &q->p[q->n];
        long k = decode(f, nlen, o);
        if (k < 0)
            return Q_EESCAPE;
        p->name = o;
        o += k + 1;
        k = decode(eq + 1, vlen, o);
        if (k < 0)
            return Q_EESCAPE;
        p->value = o;
        p->value_len = (size_t)k;
        o += k + 1;
        for (uint32_t i = 0; i < q->n; i++) {
            if (strcmp(q->p[i].name, p->name) == 0) {
                size_t m = strlen(p->name);
                if (m > sizeof q->bad - 1)
                    m = sizeof q->bad - 1;
                memcpy(q->bad, p->name, m);
                q->bad[m] = '\0';
                return Q_EREPEAT;
            }
        }
        q->n++;
        if (end == len)
            break;
        start = end + 1;
        if (start == len)
            return Q_EFIELD;  /* a trailing '&' leaves an empty field */
    }
    return Q_OK;
}

const char *q_get(const q_t *q, const char *name)
{
    for (uint32_t i = 0; i < q->n; i++)
        if (strcmp(q->p[i].name, name) == 0)
            return q->p[i].value_len ? q->p[i].value : NULL;
    return NULL;
}

bool q_int64(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    size_t nd = strspn(p, "0123456789");
    if (nd == 0 || nd > 19 || p[nd] != '\0')
        return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno)
        return false;
    *out = v;
    return true;
}

bool q_double(const char *s, double *out)
{
    if (!*s || strlen(s) > 64)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(v))
        return false;
    /* strtod accepts hex floats and "inf"; JavaScript never sends them and
     * they are refused by the isfinite check or here. */
    if (strpbrk(s, "xXpP"))
        return false;
    *out = v;
    return true;
}

bool q_peek(const char *query, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *f = query; f && *f; f = strchr(f, '&') ? strchr(f, '&') + 1 : NULL) {
        size_t flen = strcspn(f, "&");
        if (flen > nl && strncmp(f, name, nl) == 0 && f[nl] == '=') {
            size_t vlen = flen - nl - 1;
            if (vlen >= cap)
                return false;
            return decode(f + nl + 1, vlen, out) >= 0;
        }
    }
    return false;
}
