/*
 * httpclient.c - HTTP/1.1 request building and response parsing
 * (httpclient.h).
 *
 * The parser is a small state machine over lines and counted bytes; it
 * never looks ahead beyond what it consumes, so the bytes it leaves unused
 * belong to the next response on the connection.
 */
#include "httpclient.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    ST_STATUS = 0,   /* reading the status line */
    ST_HEADERS,      /* reading header lines */
    ST_BODY,         /* Content-Length body: `left` bytes to go */
    ST_EOF_BODY,     /* body until the connection closes */
    ST_CHUNK_SIZE,   /* reading a chunk-size line */
    ST_CHUNK_DATA,   /* `left` bytes of chunk data */
    ST_CHUNK_END,    /* the CRLF after chunk data */
    ST_TRAILERS,     /* trailer lines until a blank one */
    ST_DONE,
};

const char *httpc_strerror(int code)
{
    switch (code) {
    case HTTPC_OK: return "success";
    case HTTPC_ENOMEM: return "out of memory";
    case HTTPC_EPROTO: return "malformed HTTP response";
    case HTTPC_ECLOSED: return "connection closed before the HTTP response ended";
    case HTTPC_ETOOBIG: return "HTTP response header too large";
    default: return "unknown HTTP error";
    }
}

int httpc_build_request(bbuf_t *out, const char *method, const char *host, const char *target,
                        const httpc_header_t *headers, size_t nheaders, const uint8_t *body,
                        size_t body_len, bool keep_alive)
{
    size_t mark = out->len;
    int rc = bbuf_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\n", method, target, host,
                         keep_alive ? "keep-alive" : "close");
    for (size_t i = 0; i < nheaders && rc == BBUF_OK; i++)
        rc = bbuf_printf(out, "%s: %s\r\n", headers[i].name, headers[i].value);
    if (rc == BBUF_OK && (body_len > 0 || strcmp(method, "POST") == 0))
        rc = bbuf_printf(out, "Content-Length: %zu\r\n", body_len);
    if (rc == BBUF_OK)
        rc = bbuf_puts(out, "\r\n");
    if (rc == BBUF_OK)
        rc = bbuf_append(out, body, body_len);
    if (rc != BBUF_OK) {
        out->len = mark;
        return HTTPC_ENOMEM;
    }
    return HTTPC_OK;
}

void httpc_parser_init(httpc_parser_t *p)
{
    memset(p, 0, sizeof *p);
}

void httpc_parser_expect(httpc_parser_t *p, bool head_request)
{
    p->state = ST_STATUS;
    p->head_request = head_request;
    p->chunked = false;
    p->until_close = false;
    p->left = 0;
    p->head_bytes = 0;
    p->minor = 1;
    bbuf_clear(&p->line);
}

void httpc_parser_free(httpc_parser_t *p)
{
    if (!p)
        return;
    bbuf_free(&p->line);
    memset(p, 0, sizeof *p);
}

/* True if the comma-separated header value contains `token` (any case). */
static bool has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
            return true;
    }
    return false;
}

static int parse_status_line(httpc_parser_t *p, const char *line, resp_t *resp)
{
    /* "HTTP/1.x NNN reason" */
    if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) || line[8] != ' ')
        return HTTPC_EPROTO;
    p->minor = line[7] - '0';
    const char *c = line + 9;
    if (!isdigit((unsigned char)c[0]) || !isdigit((unsigned char)c[1]) || !isdigit((unsigned char)c[2]) ||
        (c[3] != ' ' && c[3] != 0))
        return HTTPC_EPROTO;
    resp->status = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
    if (resp->status < 100)
        return HTTPC_EPROTO;
    return HTTPC_OK;
}

/* Decides how the body is delimited once the headers are complete; returns
 * the next state or a negative error. */
static int body_state(httpc_parser_t *p, resp_t *resp)
{
    const char *conn = resp_header(resp, "Connection");
    if ((conn && has_token(conn, "close")) || (p->minor == 0 && !(conn && has_token(conn, "keep-alive"))))
        resp->close = 1;
    if (p->head_request || resp->status == 204 || resp->status == 304)
        return ST_DONE;
    const char *te = resp_header(resp, "Transfer-Encoding");
    if (te && has_token(te, "chunked")) {
        p->chunked = true;
        return ST_CHUNK_SIZE;
    }
    if (te)
        return HTTPC_EPROTO; /* another coding without chunked: cannot delimit */
    const char *cl = resp_header(resp, "Content-Length");
    if (cl) {
        char *end;
        if (!isdigit((unsigned char)cl[0]))
            return HTTPC_EPROTO;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end != 0)
            return HTTPC_EPROTO;
        p->left = n;
        return n ? ST_BODY : ST_DONE;
    }
    p->until_close = true;
    resp->close = 1;
    return ST_EOF_BODY;
}

/* Handles one complete line (without CR LF) in the current state. */
static int on_line(httpc_parser_t *p, char *line, size_t len, resp_t *resp)
{
    switch (p->state) {
    case ST_STATUS:
        if (len == 0)
            return HTTPC_OK; /* tolerate a stray blank line before the status */
        if (parse_status_line(p, line, resp) != HTTPC_OK)
            return HTTPC_EPROTO;
        p->state = ST_HEADERS;
        return HTTPC_OK;
    case ST_HEADERS:
        if (len == 0) {
            if (resp->status < 200) {
                /* An interim response: forget it and wait for the real one. */
                int keep_close = resp->close;
                resp_reset(resp);
                resp->close = keep_close;
                p->state = ST_STATUS;
                return HTTPC_OK;
            }
            int st = body_state(p, resp);
            if (st < 0)
                return st;
            p->state = st;
            return HTTPC_OK;
        }
        if (line[0] == ' ' || line[0] == '\t')
            return HTTPC_EPROTO; /* obsolete line folding */
        {
            int rc = resp_header_line(resp, line, len);
            if (rc == RESP_ENOMEM)
                return HTTPC_ENOMEM;
            return rc == RESP_OK ? HTTPC_OK : HTTPC_EPROTO;
        }
    case ST_CHUNK_SIZE: {
        char *end;
        if (!isxdigit((unsigned char)line[0]))
            return HTTPC_EPROTO;
        unsigned long long n = strtoull(line, &end, 16);
        if (*end != 0 && *end != ';' && *end != ' ' && *end != '\t')
            return HTTPC_EPROTO;
        p->left = n;
        p->state = n ? ST_CHUNK_DATA : ST_TRAILERS;
        return HTTPC_OK;
    }
    case ST_CHUNK_END:
        if (len != 0)
            return HTTPC_EPROTO;
        p->state = ST_CHUNK_SIZE;
        return HTTPC_OK;
    case ST_TRAILERS:
        if (len == 0)
            p->state = ST_DONE;
        return HTTPC_OK;
    default:
        return HTTPC_EPROTO;
    }
}

static bool line_state(int st)
{
    return st == ST_STATUS || st == ST_HEADERS || st == ST_CHUNK_SIZE || st == ST_CHUNK_END ||
           st == ST_TRAILERS;
}

int httpc_parser_feed(httpc_parser_t *p, const uint8_t *data, size_t len, size_t *used, resp_t *resp)
{
    *used = 0;
    if (!data) {
        if (p->state == ST_EOF_BODY) {
            p->state = ST_DONE;
            return 1;
        }
        return p->state == ST_DONE ? 1 : HTTPC_ECLOSED;
    }
    size_t at = 0;
    while (at < len && p->state != ST_DONE) {
        if (line_state(p->state)) {
            const uint8_t *nl = memchr(data + at, '\n', len - at);
            size_t take = nl ? (size_t)(nl - (data + at)) + 1 : len - at;
            if (p->state == ST_STATUS || p->state == ST_HEADERS) {
                p->head_bytes += take;
                if (p->head_bytes > HTTPC_MAX_HEAD) {
                    *used = at;
                    return HTTPC_ETOOBIG;
                }
            } else if (p->line.len + take > 4096) {
                *used = at;
                return HTTPC_EPROTO; /* a chunk-size or trailer line that never ends */
            }
            if (bbuf_append(&p->line, data + at, take) != BBUF_OK) {
                *used = at;
                return HTTPC_ENOMEM;
            }
            at += take;
            if (!nl)
                break;
            size_t ll = p->line.len - 1;
            if (ll && p->line.data[ll - 1] == '\r')
                ll--;
            p->line.data[ll] = 0;
            int rc = on_line(p, (char *)p->line.data, ll, resp);
            bbuf_clear(&p->line);
            if (rc < 0) {
                *used = at;
                return rc;
            }
            continue;
        }
        size_t avail = len - at;
        size_t take = avail;
        if (p->state != ST_EOF_BODY && p->left < take)
            take = (size_t)p->left;
        if (bbuf_append(&resp->body, data + at, take) != BBUF_OK) {
            *used = at;
            return HTTPC_ENOMEM;
        }
        at += take;
        if (p->state == ST_BODY) {
            p->left -= take;
            if (p->left == 0)
                p->state = ST_DONE;
        } else if (p->state == ST_CHUNK_DATA) {
            p->left -= take;
            if (p->left == 0)
                p->state = ST_CHUNK_END;
        }
    }
    *used = at;
    return p->state == ST_DONE ? 1 : 0;
}
