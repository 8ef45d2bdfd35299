/*
 * fcgiclient.c - FastCGI records, name-value pairs, request building and
 * the incremental answer parser (fcgiclient.h).
 *
 * The answer parser keeps the CGI header block in its own buffer until the
 * blank line that ends it, then sends every further STDOUT byte straight to
 * the response body.  Status comes from a "Status: NNN reason" header, as a
 * CGI responder writes it; without one the answer is a 200.
 */
#include "fcgiclient.h"

#include <stdlib.h>
#include <string.h>

const char *fcgic_strerror(int code)
{
    switch (code) {
    case FCGIC_OK: return "success";
    case FCGIC_ENOMEM: return "out of memory";
    case FCGIC_ETOOBIG: return "FastCGI name or value too long";
    case FCGIC_EVERSION: return "FastCGI record with an unknown version";
    case FCGIC_EPROTO: return "malformed FastCGI record or CGI header";
    case FCGIC_ECLOSED: return "connection closed before FastCGI END_REQUEST";
    case FCGIC_EREJECTED: return "FastCGI request rejected by the responder";
    default: return "unknown FastCGI error";
    }
}

void fcgic_header_encode(uint8_t out[FCGIC_HEADER_LEN], uint8_t type, uint16_t request_id,
                         uint16_t content_length, uint8_t padding_length)
{
    out[0] = FCGIC_VERSION_1;
    out[1] = type;
    out[2] = (uint8_t)(request_id >> 8);
    out[3] = (uint8_t)(request_id & 0xff);
    out[4] = (uint8_t)(content_length >> 8);
    out[5] = (uint8_t)(content_length & 0xff);
    out[6] = padding_length;
    out[7] = 0;
}

void fcgic_header_decode(const uint8_t in[FCGIC_HEADER_LEN], fcgic_header_t *h)
{
    h->version = in[0];
    h->type = in[1];
    h->request_id = (uint16_t)((in[2] << 8) | in[3]);
    h->content_length = (uint16_t)((in[4] << 8) | in[5]);
    h->padding_length = in[6];
}

int fcgic_put_record(bbuf_t *out, uint8_t type, uint16_t request_id, const void *content, size_t len)
{
    if (len > FCGIC_MAX_CONTENT)
        return FCGIC_ETOOBIG;
    uint8_t pad = (uint8_t)((8 - len % 8) % 8);
    if (bbuf_reserve(out, FCGIC_HEADER_LEN + len + pad) != BBUF_OK)
        return FCGIC_ENOMEM;
    uint8_t h[FCGIC_HEADER_LEN];
    fcgic_header_encode(h, type, request_id, (uint16_t)len, pad);
    static const uint8_t zeros[8];
    bbuf_append(out, h, sizeof h);
    bbuf_append(out, content, len);
    bbuf_append(out, zeros, pad);
    return FCGIC_OK;
}

int fcgic_put_stream(bbuf_t *out, uint8_t type, uint16_t request_id, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        size_t chunk = len < FCGIC_MAX_CHUNK ? len : FCGIC_MAX_CHUNK;
        int rc = fcgic_put_record(out, type, request_id, p, chunk);
        if (rc != FCGIC_OK)
            return rc;
        p += chunk;
        len -= chunk;
    }
    return fcgic_put_record(out, type, request_id, NULL, 0);
}

int fcgic_put_begin(bbuf_t *out, uint16_t request_id, uint16_t role, uint8_t flags)
{
    uint8_t body[8] = { (uint8_t)(role >> 8), (uint8_t)(role & 0xff), flags, 0, 0, 0, 0, 0 };
    return fcgic_put_record(out, FCGIC_BEGIN_REQUEST, request_id, body, sizeof body);
}

int fcgic_put_end(bbuf_t *out, uint16_t request_id, uint32_t app_status, uint8_t protocol_status)
{
    uint8_t body[8] = { (uint8_t)(app_status >> 24), (uint8_t)(app_status >> 16),
                        (uint8_t)(app_status >> 8), (uint8_t)app_status, protocol_status, 0, 0, 0 };
    return fcgic_put_record(out, FCGIC_END_REQUEST, request_id, body, sizeof body);
}

/* Appends a name-value length: one byte below 128, else four with the top
 * bit set. */
static int put_nv_len(bbuf_t *out, size_t n)
{
    if (n < 128)
        return bbuf_putc(out, (uint8_t)n) == BBUF_OK ? FCGIC_OK : FCGIC_ENOMEM;
    if (n > 0x7fffffffu)
        return FCGIC_ETOOBIG;
    uint8_t b[4] = { (uint8_t)((n >> 24) | 0x80), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    return bbuf_append(out, b, 4) == BBUF_OK ? FCGIC_OK : FCGIC_ENOMEM;
}

int fcgic_nv_append(bbuf_t *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
    int rc = put_nv_len(out, nlen);
    if (rc == FCGIC_OK)
        rc = put_nv_len(out, vlen);
    if (rc != FCGIC_OK)
        return rc;
    if (bbuf_append(out, name, nlen) != BBUF_OK || bbuf_append(out, value, vlen) != BBUF_OK)
        return FCGIC_ENOMEM;
    return FCGIC_OK;
}

/* Reads a name-value length at p[*pos]; returns 0 or FCGIC_EPROTO. */
static int get_nv_len(const uint8_t *p, size_t len, size_t *pos, uint32_t *out)
{
    if (*pos >= len)
        return FCGIC_EPROTO;
    uint8_t b0 = p[*pos];
    if (!(b0 & 0x80)) {
        *out = b0;
        *pos += 1;
        return FCGIC_OK;
    }
    if (len - *pos < 4)
        return FCGIC_EPROTO;
    *out = ((uint32_t)(b0 & 0x7f) << 24) | ((uint32_t)p[*pos + 1] << 16) |
           ((uint32_t)p[*pos + 2] << 8) | p[*pos + 3];
    *pos += 4;
    return FCGIC_OK;
}

int fcgic_nv_next(const uint8_t *p, size_t len, size_t *pos, const uint8_t **name, uint32_t *nlen,
                  const uint8_t **value, uint32_t *vlen)
{
    if (*pos >= len)
        return 0;
    size_t at = *pos;
    if (get_nv_len(p, len, &at, nlen) != FCGIC_OK || get_nv_len(p, len, &at, vlen) != FCGIC_OK)
        return FCGIC_EPROTO;
    if (len - at < *nlen || len - at - *nlen < *vlen)
        return FCGIC_EPROTO;
    *name = p + at;
    *value = p + at + *nlen;
    *pos = at + *nlen + *vlen;
    return 1;
}

int fcgic_build_request(bbuf_t *out, uint16_t request_id, bool keep_conn, const fcgic_param_t *params,
                        size_t nparams, const uint8_t *body, size_t body_len)
{
    int rc = fcgic_put_begin(out, request_id, FCGIC_RESPONDER, keep_conn ? FCGIC_KEEP_CONN : 0);
    if (rc != FCGIC_OK)
        return rc;
    /* The pairs are gathered first, then cut into PARAMS records: a pair may
     * span two records, which the specification allows. */
    bbuf_t nv = { 0 };
    for (size_t i = 0; i < nparams && rc == FCGIC_OK; i++)
        rc = fcgic_nv_append(&nv, params[i].name, strlen(params[i].name), params[i].value,
                             strlen(params[i].value));
    if (rc == FCGIC_OK)
        rc = fcgic_put_stream(out, FCGIC_PARAMS, request_id, nv.data, nv.len);
    bbuf_free(&nv);
    if (rc == FCGIC_OK)
        rc = fcgic_put_stream(out, FCGIC_STDIN, request_id, body, body_len);
    return rc;
}

/* ---- record reader ---------------------------------------------------- */

void fcgic_reader_init(fcgic_reader_t *r)
{
    memset(r, 0, sizeof *r);
}

void fcgic_reader_reset(fcgic_reader_t *r)
{
    r->hdr_have = 0;
    r->pad_left = 0;
    r->state = 0;
    bbuf_clear(&r->content);
}

void fcgic_reader_free(fcgic_reader_t *r)
{
    if (!r)
        return;
    bbuf_free(&r->content);
    fcgic_reader_init(r);
}

int fcgic_reader_feed(fcgic_reader_t *r, const uint8_t *data, size_t len, size_t *used, fcgic_record_t *rec)
{
    size_t at = 0;
    for (;;) {
        if (r->state == 0) {
            size_t take = FCGIC_HEADER_LEN - r->hdr_have;
            if (take > len - at)
                take = len - at;
            memcpy(r->hdr + r->hdr_have, data + at, take);
            r->hdr_have += take;
            at += take;
            if (r->hdr_have < FCGIC_HEADER_LEN)
                break;
            fcgic_header_decode(r->hdr, &r->h);
            if (r->h.version != FCGIC_VERSION_1) {
                *used = at;
                return FCGIC_EVERSION;
            }
            bbuf_clear(&r->content);
            if (bbuf_reserve(&r->content, r->h.content_length) != BBUF_OK) {
                *used = at;
                return FCGIC_ENOMEM;
            }
            r->hdr_have = 0;
            r->pad_left = r->h.padding_length;
            r->state = 1;
        }
        if (r->state == 1) {
            size_t take = r->h.content_length - r->content.len;
            if (take > len - at)
                take = len - at;
            bbuf_append(&r->content, data + at, take); /* reserved above */
            at += take;
            if (r->content.len < r->h.content_length)
                break;
            r->state = 2;
        }
        if (r->state == 2) {
            size_t take = r->pad_left < len - at ? r->pad_left : len - at;
            r->pad_left -= take;
            at += take;
            if (r->pad_left > 0)
                break;
            r->state = 0;
            rec->type = r->h.type;
            rec->request_id = r->h.request_id;
            rec->content = r->content.data ? r->content.data : (const uint8_t *)"";
            rec->len = r->content.len;
            *used = at;
            return 1;
        }
    }
    *used = at;
    return 0;
}

/* ---- answer parser ---------------------------------------------------- */

void fcgic_parser_init(fcgic_parser_t *p)
{
    memset(p, 0, sizeof *p);
    fcgic_reader_init(&p->rd);
}

void fcgic_parser_expect(fcgic_parser_t *p, uint16_t request_id, bool keep_conn)
{
    p->request_id = request_id;
    p->keep_conn = keep_conn;
    p->in_body = false;
    p->stdout_ended = false;
    bbuf_clear(&p->head);
}

void fcgic_parser_free(fcgic_parser_t *p)
{
    if (!p)
        return;
    fcgic_reader_free(&p->rd);
    bbuf_free(&p->head);
    memset(p, 0, sizeof *p);
}

/* Parses the CGI header block head[0..n) (line breaks \n or \r\n, no blank
 * line included) into resp. */
static int parse_cgi_head(const char *head, size_t n, resp_t *resp)
{
    resp->status = 200;
    size_t at = 0;
    while (at < n) {
        const char *line = head + at;
        const char *nl = memchr(line, '\n', n - at);
        size_t llen = nl ? (size_t)(nl - line) : n - at;
        at += llen + (nl ? 1 : 0);
        if (llen && line[llen - 1] == '\r')
            llen--;
        if (llen == 0)
            continue;
        int rc = resp_header_line(resp, line, llen);
        if (rc == RESP_ENOMEM)
            return FCGIC_ENOMEM;
        if (rc != RESP_OK)
            return FCGIC_EPROTO;
    }
    const char *st = resp_header(resp, "Status");
    if (st) {
        char *end;
        long code = strtol(st, &end, 10);
        if (end == st || code < 100 || code > 999)
            return FCGIC_EPROTO;
        resp->status = (int)code;
    }
    return FCGIC_OK;
}

/* Finds the blank line that ends a CGI header block in b; returns the length
 * of the block before it and sets *skip to the blank line's own length, or
 * returns -1 when it has not arrived yet. */
static long find_head_end(const bbuf_t *b, size_t *skip)
{
    const uint8_t *d = b->data;
    for (size_t i = 0; i + 1 < b->len; i++) {
        if (d[i] != '\n')
            continue;
        if (d[i + 1] == '\n') {
            *skip = 2;
            return (long)i;
        }
        if (d[i + 1] == '\r' && i + 2 < b->len && d[i + 2] == '\n') {
            *skip = 3;
            return (long)i;
        }
    }
    return -1;
}

static int on_stdout(fcgic_parser_t *p, const uint8_t *c, size_t len, resp_t *resp)
{
    if (len == 0) {
        p->stdout_ended = true;
        return FCGIC_OK;
    }
    if (p->in_body)
        return bbuf_append(&resp->body, c, len) == BBUF_OK ? FCGIC_OK : FCGIC_ENOMEM;
    if (bbuf_append(&p->head, c, len) != BBUF_OK)
        return FCGIC_ENOMEM;
    size_t skip = 0;
    long end = find_head_end(&p->head, &skip);
    if (end < 0)
        return FCGIC_OK;
    int rc = parse_cgi_head((const char *)p->head.data, (size_t)end + 1, resp);
    if (rc != FCGIC_OK)
        return rc;
    p->in_body = true;
    size_t body_at = (size_t)end + skip;
    if (bbuf_append(&resp->body, p->head.data + body_at, p->head.len - body_at) != BBUF_OK)
        return FCGIC_ENOMEM;
    bbuf_clear(&p->head);
    return FCGIC_OK;
}

int fcgic_parser_feed(fcgic_parser_t *p, const uint8_t *data, size_t len, size_t *used, resp_t *resp)
{
    *used = 0;
    if (!data)
        return FCGIC_ECLOSED;
    while (*used < len) {
        fcgic_record_t rec;
        size_t u = 0;
        int rc = fcgic_reader_feed(&p->rd, data + *used, len - *used, &u, &rec);
        *used += u;
        if (rc < 0)
            return rc == FCGIC_EVERSION ? FCGIC_EPROTO : rc;
        if (rc == 0)
            break;
        if (rec.request_id != p->request_id)
            continue; /* management records (id 0) or a stale request */
        switch (rec.type) {
        case FCGIC_STDOUT:
            rc = on_stdout(p, rec.content, rec.len, resp);
            if (rc != FCGIC_OK)
                return rc;
            break;
        case FCGIC_STDERR:
            if (bbuf_append(&resp->errtext, rec.content, rec.len) != BBUF_OK)
                return FCGIC_ENOMEM;
            break;
        case FCGIC_END_REQUEST:
            if (rec.len < 8)
                return FCGIC_EPROTO;
            resp->app_status = ((uint32_t)rec.content[0] << 24) | ((uint32_t)rec.content[1] << 16) |
                               ((uint32_t)rec.content[2] << 8) | rec.content[3];
            resp->protocol_status = rec.content[4];
            resp->close = !p->keep_conn;
            if (resp->protocol_status != FCGIC_REQUEST_COMPLETE)
                return FCGIC_EREJECTED;
            if (!p->in_body) {
                /* STDOUT ended without a blank line: take what there is as
                 * the header block, with no body. */
                int hr = parse_cgi_head((const char *)p->head.data, p->head.len, resp);
                if (hr != FCGIC_OK || p->head.len == 0)
                    return FCGIC_EPROTO;
                p->in_body = true;
            }
            return 1;
        default:
            break; /* nothing else is meant for a web server; skip it */
        }
    }
    return 0;
}
