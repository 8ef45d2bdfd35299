/*
 * bbconn.c - addresses and connections (bbconn.h).
 *
 * Sockets are always non-blocking; the blocking calls wait with poll()
 * against a CLOCK_MONOTONIC deadline, so one code path serves both the
 * blocking wrapper and an event loop.  A connection carries one request at
 * a time (neither nginx's HTTP nor a libfcgi responder multiplexes), so the
 * transport parser of a connection is simply re-armed by each
 * bbc_build_request().
 */
#include "bbconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "fcgiclient.h"
#include "httpclient.h"

/* ---- addresses --------------------------------------------------------- */

static int parse_port(const char *p)
{
    char *end;
    if (!*p)
        return -1;
    long v = strtol(p, &end, 10);
    if (*end || v < 1 || v > 65535)
        return -1;
    return (int)v;
}

int bbc_addr_parse(const char *spec, bbc_transport_t transport, bbc_addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (!spec || (transport != BBC_FCGI && transport != BBC_HTTP) || strlen(spec) >= sizeof out->text)
        return BBC_EADDR;
    out->transport = transport;
    snprintf(out->text, sizeof out->text, "%s", spec);

    if (strncmp(spec, "unix:", 5) == 0) {
        const char *path = spec + 5;
        struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
        if (!*path || strlen(path) >= sizeof un->sun_path)
            return BBC_EADDR;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        out->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
        snprintf(out->host, sizeof out->host, "localhost");
        return BBC_OK;
    }

    char host[64];
    const char *port;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host)
            return BBC_EADDR;
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = 0;
        port = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof host || colon == spec)
            return BBC_EADDR;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = 0;
        port = colon + 1;
    }
    int pn = parse_port(port);
    if (pn < 0)
        return BBC_EADDR;
    out->port = pn;

    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4) == 1) {
        if ((ntohl(a4.s_addr) >> 24) != 127)
            return BBC_EADDR; /* loopback only */
        struct sockaddr_in *in = (struct sockaddr_in *)&out->sa;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)pn);
        in->sin_addr = a4;
        out->salen = sizeof *in;
        snprintf(out->host, sizeof out->host, "%s:%d", host, pn);
        return BBC_OK;
    }
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        bool loop = IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
        if (!loop)
            return BBC_EADDR;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)pn);
        in6->sin6_addr = a6;
        out->salen = sizeof *in6;
        snprintf(out->host, sizeof out->host, "[%s]:%d", host, pn);
        return BBC_OK;
    }
    return BBC_EADDR;
}

int bbc_addr_set_source(bbc_addr_t *a, const char *source)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!a || !source)
        return BBC_EADDR;
    int family = a->sa.ss_family;
    if (family == AF_INET && inet_pton(AF_INET, source, &a4) == 1) {
        if ((ntohl(a4.s_addr) >> 24) != 127)
            return BBC_EADDR; /* loopback only */
        struct sockaddr_in *in = (struct sockaddr_in *)&a->src;
        memset(&a->src, 0, sizeof a->src);
        in->sin_family = AF_INET;
        in->sin_addr = a4;
        a->srclen = sizeof *in;
        return BBC_OK;
    }
    if (family == AF_INET6 && inet_pton(AF_INET6, source, &a6) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6))
            return BBC_EADDR;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->src;
        memset(&a->src, 0, sizeof a->src);
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = a6;
        a->srclen = sizeof *in6;
        return BBC_OK;
    }
    return BBC_EADDR;
}

/* ---- connections ----------------------------------------------------- */

struct bbc_conn {
    bbc_addr_t addr;
    int fd;
    bool keep;
    bool connecting;
    uint16_t next_id;        /* FastCGI request id of the next request */
    uint64_t answered;       /* answers completed on the current socket */
    fcgic_parser_t fp;
    httpc_parser_t hp;
    bbuf_t out;              /* bytes of bbc_exchange() */
};

bbc_conn_t *bbc_conn_new(const bbc_addr_t *addr, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!addr || (addr->transport != BBC_FCGI && addr->transport != BBC_HTTP) || addr->salen == 0) {
        *err = BBC_EPARAM;
        return NULL;
    }
    bbc_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        *err = BBC_ENOMEM;
        return NULL;
    }
    c->addr = *addr;
    c->fd = -1;
    c->keep = true;
    c->next_id = 1;
    fcgic_parser_init(&c->fp);
    httpc_parser_init(&c->hp);
    *err = BBC_OK;
    return c;
}

void bbc_conn_close(bbc_conn_t *c)
{
    if (c && c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        c->connecting = false;
        c->answered = 0;
        fcgic_reader_reset(&c->fp.rd);
    }
}

void bbc_conn_destroy(bbc_conn_t *c)
{
    if (!c)
        return;
    bbc_conn_close(c);
    fcgic_parser_free(&c->fp);
    httpc_parser_free(&c->hp);
    bbuf_free(&c->out);
    free(c);
}

void bbc_conn_set_keep(bbc_conn_t *c, bool keep)
{
    c->keep = keep;
}

int bbc_conn_fd(const bbc_conn_t *c)
{
    return c->fd;
}

const bbc_addr_t *bbc_conn_addr(const bbc_conn_t *c)
{
    return &c->addr;
}

/* Waits until fd is ready for `events` or the deadline passes.  Returns 1
 * ready, 0 timeout, -1 error (errno set). */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - bbc_now_ns();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int ms = (int)((left + 999999) / 1000000);
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

int bbc_conn_check(bbc_conn_t *c)
{
    if (c->fd < 0)
        return BBC_ESTATE;
    if (!c->connecting)
        return BBC_OK;
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
        e = errno;
    if (e) {
        bbc_conn_close(c);
        errno = e;
        return BBC_ESYS;
    }
    c->connecting = false;
    return BBC_OK;
}

int bbc_conn_open(bbc_conn_t *c, int timeout_ms)
{
    if (c->fd >= 0)
        return BBC_OK;
    int family = c->addr.sa.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return BBC_ESYS;
    if (family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (c->addr.srclen > 0) {
        /* The port is chosen at connect() time, for the whole 4-tuple, not
         * at bind() time from the ports free on every destination: many
         * connections from one source then do not run out of ports.  An
         * old kernel without the option picks at bind(), which also works. */
#ifdef IP_BIND_ADDRESS_NO_PORT
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
        if (bind(fd, (const struct sockaddr *)&c->addr.src, c->addr.srclen) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return BBC_ESYS;
        }
    }
    c->fd = fd;
    c->answered = 0;
    c->connecting = false;
    fcgic_reader_reset(&c->fp.rd);
    if (connect(fd, (const struct sockaddr *)&c->addr.sa, c->addr.salen) == 0)
        return BBC_OK;
    if (errno != EINPROGRESS) {
        int e = errno;
        bbc_conn_close(c);
        errno = e;
        return BBC_ESYS;
    }
    c->connecting = true;
    if (timeout_ms < 0)
        return BBC_OK;
    int w = wait_fd(fd, POLLOUT, bbc_now_ns() + (int64_t)timeout_ms * 1000000);
    if (w <= 0) {
        int e = errno;
        bbc_conn_close(c);
        if (w == 0)
            return BBC_ETIMEOUT;
        errno = e;
        return BBC_ESYS;
    }
    return bbc_conn_check(c);
}

/* The FastCGI parameters nginx passes (deploy/nginx/bb-fastcgi.conf). */
static int build_fcgi(bbc_conn_t *c, const bbc_request_t *req, bbuf_t *out)
{
    const char *query = req->query ? req->query : "";
    const char *ctype = req->content_type ? req->content_type
                        : strcmp(req->method, "POST") == 0 ? "application/octet-stream" : "";
    char clen[24], port[8];
    snprintf(clen, sizeof clen, "%zu", req->body_len);
    snprintf(port, sizeof port, "%d", c->addr.port ? c->addr.port : 80);
    bbuf_t uri = { 0 };
    if (bbuf_puts(&uri, req->path) != BBUF_OK || (*query && bbuf_printf(&uri, "?%s", query) != BBUF_OK)) {
        bbuf_free(&uri);
        return BBC_ENOMEM;
    }
    fcgic_param_t p[24];
    size_t n = 0;
    p[n++] = (fcgic_param_t){ "GATEWAY_INTERFACE", "CGI/1.1" };
    p[n++] = (fcgic_param_t){ "SERVER_SOFTWARE", "bbclient" };
    p[n++] = (fcgic_param_t){ "REQUEST_METHOD", req->method };
    p[n++] = (fcgic_param_t){ "REQUEST_SCHEME", "http" };
    p[n++] = (fcgic_param_t){ "SERVER_PROTOCOL", "HTTP/1.1" };
    p[n++] = (fcgic_param_t){ "QUERY_STRING", query };
    p[n++] = (fcgic_param_t){ "CONTENT_TYPE", ctype };
    p[n++] = (fcgic_param_t){ "CONTENT_LENGTH", clen };
    p[n++] = (fcgic_param_t){ "SCRIPT_NAME", "" };
    p[n++] = (fcgic_param_t){ "PATH_INFO", req->path };
    p[n++] = (fcgic_param_t){ "DOCUMENT_URI", req->path };
    p[n++] = (fcgic_param_t){ "REQUEST_URI", (const char *)uri.data };
    p[n++] = (fcgic_param_t){ "REMOTE_ADDR", "127.0.0.1" };
    p[n++] = (fcgic_param_t){ "REMOTE_PORT", "50000" };
    p[n++] = (fcgic_param_t){ "SERVER_ADDR", "127.0.0.1" };
    p[n++] = (fcgic_param_t){ "SERVER_PORT", port };
    p[n++] = (fcgic_param_t){ "SERVER_NAME", "localhost" };
    p[n++] = (fcgic_param_t){ "HTTP_HOST", c->addr.host };
    if (*ctype)
        p[n++] = (fcgic_param_t){ "HTTP_CONTENT_TYPE", ctype };
    if (req->event_data)
        p[n++] = (fcgic_param_t){ "HTTP_X_EVENT_DATA", req->event_data };
    uint16_t id = c->next_id;
    c->next_id = (uint16_t)(c->next_id == 0xffff ? 1 : c->next_id + 1);
    int rc = fcgic_build_request(out, id, c->keep, p, n, req->body, req->body_len);
    bbuf_free(&uri);
    if (rc != FCGIC_OK)
        return rc == FCGIC_ENOMEM ? BBC_ENOMEM : BBC_EPARAM;
    fcgic_parser_expect(&c->fp, id, c->keep);
    return BBC_OK;
}

static int build_http(bbc_conn_t *c, const bbc_request_t *req, bbuf_t *out)
{
    const char *query = req->query ? req->query : "";
    bbuf_t target = { 0 };
    if (bbuf_puts(&target, req->path) != BBUF_OK || (*query && bbuf_printf(&target, "?%s", query) != BBUF_OK)) {
        bbuf_free(&target);
        return BBC_ENOMEM;
    }
    httpc_header_t h[4];
    size_t n = 0;
    const char *ctype = req->content_type ? req->content_type
                        : strcmp(req->method, "POST") == 0 ? "application/octet-stream" : NULL;
    if (ctype)
        h[n++] = (httpc_header_t){ "Content-Type", ctype };
    if (req->event_data)
        h[n++] = (httpc_header_t){ "X-Event-Data", req->event_data };
    int rc = httpc_build_request(out, req->method, c->addr.host, (const char *)target.data, h, n, req->body,
                                 req->body_len, c->keep);
    bbuf_free(&target);
    if (rc != HTTPC_OK)
        return BBC_ENOMEM;
    httpc_parser_expect(&c->hp, strcmp(req->method, "HEAD") == 0);
    return BBC_OK;
}

/* Characters that would break a request line or a header value. */
static bool has_ctl(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

int bbc_build_request(bbc_conn_t *c, const bbc_request_t *req, bbuf_t *out)
{
    if (!req->method || !req->path || req->path[0] != '/' || has_ctl(req->method) || has_ctl(req->path) ||
        has_ctl(req->query) || has_ctl(req->event_data) || strchr(req->path, ' ') ||
        (req->query && strchr(req->query, ' ')) || (req->body_len && !req->body))
        return BBC_EPARAM;
    return c->addr.transport == BBC_FCGI ? build_fcgi(c, req, out) : build_http(c, req, out);
}

int bbc_parse_feed(bbc_conn_t *c, const uint8_t *data, size_t len, size_t *used, resp_t *resp)
{
    int rc;
    if (c->addr.transport == BBC_FCGI) {
        rc = fcgic_parser_feed(&c->fp, data, len, used, resp);
        if (rc == 1)
            c->answered++;
        if (rc >= 0)
            return rc;
        switch (rc) {
        case FCGIC_ENOMEM: return BBC_ENOMEM;
        case FCGIC_ECLOSED: return BBC_ECLOSED;
        case FCGIC_EREJECTED: return BBC_EREJECTED;
        default: return BBC_EPROTO;
        }
    }
    rc = httpc_parser_feed(&c->hp, data, len, used, resp);
    if (rc == 1)
        c->answered++;
    if (rc >= 0)
        return rc;
    switch (rc) {
    case HTTPC_ENOMEM: return BBC_ENOMEM;
    case HTTPC_ECLOSED: return BBC_ECLOSED;
    default: return BBC_EPROTO;
    }
}

/* One attempt of bbc_exchange(); *retry is set when a reused connection was
 * found closed before any byte of the answer arrived. */
static int exchange_once(bbc_conn_t *c, const bbc_request_t *req, resp_t *resp, int64_t deadline, bool *retry)
{
    *retry = false;
    int64_t left_ms = (deadline - bbc_now_ns()) / 1000000;
    int rc = bbc_conn_open(c, left_ms > 0 ? (int)left_ms : 1);
    if (rc != BBC_OK)
        return rc;
    bool reused = c->answered > 0;
    bbuf_clear(&c->out);
    rc = bbc_build_request(c, req, &c->out);
    if (rc != BBC_OK)
        return rc;
    resp_reset(resp);
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(c->fd, POLLOUT, deadline);
            if (w == 0)
                return BBC_ETIMEOUT;
            if (w < 0)
                return BBC_ESYS;
            continue;
        }
        if (reused && off == 0 && (errno == EPIPE || errno == ECONNRESET))
            *retry = true;
        return BBC_ESYS;
    }
    uint8_t buf[65536];
    bool got_any = false;
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int w = wait_fd(c->fd, POLLIN, deadline);
                if (w == 0)
                    return BBC_ETIMEOUT;
                if (w < 0)
                    return BBC_ESYS;
                continue;
            }
            if (reused && !got_any && errno == ECONNRESET)
                *retry = true;
            return BBC_ESYS;
        }
        size_t used = 0;
        if (n == 0) {
            rc = bbc_parse_feed(c, NULL, 0, &used, resp);
            if (rc == 1)
                return BBC_OK;
            if (reused && !got_any)
                *retry = true;
            return rc < 0 ? rc : BBC_ECLOSED;
        }
        got_any = true;
        rc = bbc_parse_feed(c, buf, (size_t)n, &used, resp);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            /* Nothing may follow an answer we did not ask for. */
            if (used != (size_t)n)
                resp->close = 1;
            return BBC_OK;
        }
    }
}

int bbc_exchange(bbc_conn_t *c, const bbc_request_t *req, resp_t *resp, int timeout_ms)
{
    if (timeout_ms <= 0)
        return BBC_EPARAM;
    int64_t deadline = bbc_now_ns() + (int64_t)timeout_ms * 1000000;
    for (int attempt = 0;; attempt++) {
        bool retry = false;
        int rc = exchange_once(c, req, resp, deadline, &retry);
        if (rc == BBC_OK) {
            if (resp->close)
                bbc_conn_close(c);
            return BBC_OK;
        }
        int e = errno;
        bbc_conn_close(c);
        if (!(retry && attempt == 0)) {
            errno = e;
            return rc;
        }
    }
}
