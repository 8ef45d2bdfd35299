/*
 * response.c - storage of a received response (response.h).
 */
#include "response.h"

#include <string.h>
#include <strings.h>

const char *resp_strerror(int code)
{
    switch (code) {
    case RESP_OK: return "success";
    case RESP_ENOMEM: return "out of memory";
    case RESP_EHEADER: return "malformed header line";
    default: return "unknown response error";
    }
}

void resp_init(resp_t *r)
{
    memset(r, 0, sizeof *r);
    r->protocol_status = -1;
}

void resp_reset(resp_t *r)
{
    r->status = 0;
    bbuf_clear(&r->headers);
    r->nheaders = 0;
    bbuf_clear(&r->body);
    bbuf_clear(&r->errtext);
    r->app_status = 0;
    r->protocol_status = -1;
    r->close = 0;
}

void resp_free(resp_t *r)
{
    if (!r)
        return;
    bbuf_free(&r->headers);
    bbuf_free(&r->body);
    bbuf_free(&r->errtext);
    resp_init(r);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int resp_add_header(resp_t *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    while (vlen && is_blank(*value)) {
        value++;
        vlen--;
    }
    while (vlen && is_blank(value[vlen - 1]))
        vlen--;
    size_t mark = r->headers.len;
    if (bbuf_append(&r->headers, name, nlen) != BBUF_OK || bbuf_putc(&r->headers, 0) != BBUF_OK ||
        bbuf_append(&r->headers, value, vlen) != BBUF_OK || bbuf_putc(&r->headers, 0) != BBUF_OK) {
        r->headers.len = mark;
        return RESP_ENOMEM;
    }
    r->nheaders++;
    return RESP_OK;
}

int resp_header_line(resp_t *r, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return RESP_EHEADER;
    size_t nlen = (size_t)(colon - line);
    while (nlen && is_blank(line[nlen - 1]))
        nlen--;
    if (nlen == 0)
        return RESP_EHEADER;
    return resp_add_header(r, line, nlen, colon + 1, len - (size_t)(colon + 1 - line));
}

int resp_header_next(const resp_t *r, size_t *pos, const char **name, const char **value)
{
    if (*pos >= r->headers.len)
        return 0;
    const char *p = (const char *)r->headers.data + *pos;
    *name = p;
    p += strlen(p) + 1;
    *value = p;
    p += strlen(p) + 1;
    *pos = (size_t)(p - (const char *)r->headers.data);
    return 1;
}

const char *resp_header(const resp_t *r, const char *name)
{
    size_t pos = 0;
    const char *n, *v;
    while (resp_header_next(r, &pos, &n, &v))
        if (strcasecmp(n, name) == 0)
            return v;
    return NULL;
}
