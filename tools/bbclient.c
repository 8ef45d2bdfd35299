/*
 * bbclient.c - the protocol client (bbclient.h): addresses, connections,
 * metadata, pre-encoded audio and the singer.
 *
 * Sockets are always non-blocking; the blocking calls wait with poll()
 * against a CLOCK_MONOTONIC deadline, so one code path serves both the
 * blocking wrapper and an event loop.  A connection carries one request at a
 * time (neither nginx's HTTP nor a libfcgi responder multiplexes), so the
 * transport parser of a connection is simply re-armed by each
 * bbc_build_request().
 *
 * The singer mirrors the browser client: after any failed exchange it
 * reconnects (GET probe, reset_user_state, fresh codecs); a delay_seconds
 * move is a reconnect at the new offset.  Metadata queued with the
 * bbc_singer_* setters goes out on the next POST only.
 */
#include "bbclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>

#include "fcgiclient.h"
#include "httpclient.h"
#include "packet.h"
#include "rng.h"
#include "urlenc.h"

const char *bbc_strerror(int code)
{
    switch (code) {
    case BBC_OK: return "success";
    case BBC_ESYS: return "system call failed";
    case BBC_EPARAM: return "invalid argument";
    case BBC_ENOMEM: return "out of memory";
    case BBC_EADDR: return "bad or non-loopback address";
    case BBC_ETIMEOUT: return "timed out";
    case BBC_ECLOSED: return "connection closed by the server";
    case BBC_EPROTO: return "malformed answer";
    case BBC_ESTATUS: return "unexpected HTTP status";
    case BBC_EKILL: return "server sent kill_client";
    case BBC_EMETA: return "bad X-Audio-Metadata";
    case BBC_EBODY: return "bad pack_multi body";
    case BBC_EDECODE: return "Opus decoding failed or wrong length";
    case BBC_ECONTINUITY: return "clock continuity broken";
    case BBC_EOPUS: return "Opus codec error";
    case BBC_ESTATE: return "call in the wrong state";
    case BBC_EREJECTED: return "FastCGI request rejected";
    default: return "unknown error";
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

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
        int64_t left = deadline - now_ns();
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
    int w = wait_fd(fd, POLLOUT, now_ns() + (int64_t)timeout_ms * 1000000);
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
    int64_t left_ms = (deadline - now_ns()) / 1000000;
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
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
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

/* ---- metadata -------------------------------------------------------- */

/* An integer field: a JSON number with an integral value. */
static bool get_i64(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= -9.0e18 && d <= 9.0e18) || d != floor(d))
        return false;
    *out = (int64_t)d;
    return true;
}

static bool get_int(const cJSON *o, const char *key, int *out, bool null_is_zero)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (null_is_zero && cJSON_IsNull(v)) {
        *out = 0;
        return true;
    }
    int64_t x;
    if (!get_i64(o, key, &x) || x < INT32_MIN || x > INT32_MAX)
        return false;
    *out = (int)x;
    return true;
}

/* A string or integer field as text. */
static bool get_text(const cJSON *o, const char *key, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring);
        return true;
    }
    int64_t x;
    if (get_i64(o, key, &x)) {
        snprintf(out, cap, "%lld", (long long)x);
        return true;
    }
    return false;
}

static const cJSON *get_array(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsArray(v) ? v : NULL;
}

void bbc_meta_free(bbc_meta_t *m)
{
    if (!m)
        return;
    cJSON_Delete(m->root);
    memset(m, 0, sizeof *m);
}

int bbc_meta_parse(bbc_meta_t *m, const char *json)
{
    bbc_meta_free(m);
    if (!json)
        return BBC_EMETA;
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return BBC_EMETA;
    }
    m->root = root;
    m->have_server_clock = get_i64(root, "server_clock", &m->server_clock);
    get_int(root, "server_sample_rate", &m->server_sample_rate, false);
    m->have_client_read_clock = get_i64(root, "client_read_clock", &m->client_read_clock);
    m->have_client_write_clock = get_i64(root, "client_write_clock", &m->client_write_clock);
    m->have_n_samples = get_i64(root, "n_samples", &m->n_samples);
    m->have_leader = get_text(root, "leader", m->leader, sizeof m->leader);
    get_text(root, "leader_name", m->leader_name, sizeof m->leader_name);
    get_text(root, "public_id", m->public_id, sizeof m->public_id);
    m->have_song_start = get_i64(root, "song_start_clock", &m->song_start_clock);
    m->have_song_end = get_i64(root, "song_end_clock", &m->song_end_clock);
    m->have_delay = get_int(root, "delay_seconds", &m->delay_seconds, false);
    m->have_bpm = get_int(root, "bpm", &m->bpm, true);
    m->have_repeats = get_int(root, "repeats", &m->repeats, true);
    m->have_bpr = get_int(root, "bpr", &m->bpr, true);
    m->kill_client = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "kill_client"));
    get_text(root, "message", m->message, sizeof m->message);
    m->have_n_users = get_int(root, "n_users", &m->n_users, false);
    get_text(root, "worker", m->worker, sizeof m->worker);
    m->chats = get_array(root, "chats");
    m->user_summary = get_array(root, "user_summary");
    m->events = get_array(root, "events");
    m->tracks = get_array(root, "tracks");
    m->buckets = get_array(root, "buckets");
    return BBC_OK;
}

int bbc_meta_chat_count(const bbc_meta_t *m)
{
    return m->chats ? cJSON_GetArraySize(m->chats) : 0;
}

int bbc_meta_chat(const bbc_meta_t *m, int i, const char **name, const char **text)
{
    if (!m->chats || i < 0 || i >= cJSON_GetArraySize(m->chats))
        return BBC_EPARAM;
    const cJSON *row = cJSON_GetArrayItem(m->chats, i);
    const cJSON *a = cJSON_GetArrayItem(row, 0), *b = cJSON_GetArrayItem(row, 1);
    if (!cJSON_IsArray(row) || !cJSON_IsString(a) || !cJSON_IsString(b))
        return BBC_EPARAM;
    *name = a->valuestring;
    *text = b->valuestring;
    return BBC_OK;
}

int bbc_meta_user_count(const bbc_meta_t *m)
{
    return m->user_summary ? cJSON_GetArraySize(m->user_summary) : 0;
}

int bbc_meta_user(const bbc_meta_t *m, int i, bbc_user_t *u)
{
    if (!m->user_summary || i < 0 || i >= cJSON_GetArraySize(m->user_summary))
        return BBC_EPARAM;
    const cJSON *row = cJSON_GetArrayItem(m->user_summary, i);
    if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) < 6)
        return BBC_EPARAM;
    const cJSON *d = cJSON_GetArrayItem(row, 0), *n = cJSON_GetArrayItem(row, 1),
                *v = cJSON_GetArrayItem(row, 2), *id = cJSON_GetArrayItem(row, 3),
                *f1 = cJSON_GetArrayItem(row, 4), *f2 = cJSON_GetArrayItem(row, 5);
    if (!cJSON_IsNumber(d) || !cJSON_IsString(n) || !cJSON_IsNumber(v) || !cJSON_IsString(id) ||
        !cJSON_IsBool(f1) || !cJSON_IsBool(f2))
        return BBC_EPARAM;
    u->delay_s = (int)d->valuedouble;
    u->name = n->valuestring;
    u->mic_volume = v->valuedouble;
    u->id = id->valuestring;
    u->is_monitoring = cJSON_IsTrue(f1);
    u->is_monitored = cJSON_IsTrue(f2);
    return BBC_OK;
}

/* ---- pre-encoded audio ----------------------------------------------- */

struct bbc_preenc {
    size_t count;
    uint8_t *bytes;        /* all packets back to back */
    size_t *off;           /* packet i at bytes + off[i] */
    uint16_t *len;
    size_t total;
};

bbc_preenc_t *bbc_preenc_new(const float *x, size_t n, int bitrate, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!x || n == 0 || n % BBC_FRAME != 0 || bitrate < 0) {
        *err = BBC_EPARAM;
        return NULL;
    }
    int oe;
    OpusEncoder *enc = opus_encoder_create(BBC_RATE, 1, OPUS_APPLICATION_AUDIO, &oe);
    if (!enc) {
        *err = BBC_EOPUS;
        return NULL;
    }
    if (bitrate > 0)
        opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
    bbc_preenc_t *p = calloc(1, sizeof *p);
    size_t count = n / BBC_FRAME;
    if (p) {
        p->bytes = malloc(count * PK_MAX_PACKET);
        p->off = calloc(count, sizeof *p->off);
        p->len = calloc(count, sizeof *p->len);
    }
    if (!p || !p->bytes || !p->off || !p->len) {
        opus_encoder_destroy(enc);
        bbc_preenc_destroy(p);
        *err = BBC_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        opus_int32 len = opus_encode_float(enc, x + i * BBC_FRAME, BBC_FRAME, p->bytes + p->total,
                                           PK_MAX_PACKET);
        if (len <= 0) {
            opus_encoder_destroy(enc);
            bbc_preenc_destroy(p);
            *err = BBC_EOPUS;
            return NULL;
        }
        p->off[i] = p->total;
        p->len[i] = (uint16_t)len;
        p->total += (size_t)len;
    }
    p->count = count;
    opus_encoder_destroy(enc);
    *err = BBC_OK;
    return p;
}

bbc_preenc_t *bbc_preenc_new_voice(double f0, double seconds, int bitrate, int *err)
{
    if (!(seconds >= 0.6 && seconds <= 60) || !(f0 >= 50 && f0 <= 2000)) {
        if (err)
            *err = BBC_EPARAM;
        return NULL;
    }
    size_t n = (size_t)(seconds * BBC_RATE) / BBC_FRAME * BBC_FRAME;
    float *x = malloc(n * sizeof *x);
    if (!x) {
        if (err)
            *err = BBC_ENOMEM;
        return NULL;
    }
    tone_voice_t v;
    tone_voice_init(&v, f0, 0.3);
    tone_voice_render(&v, x, n);
    bbc_preenc_t *p = bbc_preenc_new(x, n, bitrate, err);
    free(x);
    return p;
}

void bbc_preenc_destroy(bbc_preenc_t *p)
{
    if (!p)
        return;
    free(p->bytes);
    free(p->off);
    free(p->len);
    free(p);
}

size_t bbc_preenc_count(const bbc_preenc_t *p)
{
    return p->count;
}

const uint8_t *bbc_preenc_packet(const bbc_preenc_t *p, size_t i, size_t *len)
{
    *len = p->len[i];
    return p->bytes + p->off[i];
}

double bbc_preenc_mean_bytes(const bbc_preenc_t *p)
{
    return p->count ? (double)p->total / (double)p->count : 0;
}

/* ---- singer ------------------------------------------------------------ */

enum { PEND_NONE = 0, PEND_PROBE, PEND_POST };

struct bbc_singer {
    bbc_config_t cfg;
    char *path, *userid, *username, *reset_path;
    bbc_conn_t *own_conn;
    bbc_conn_t *conn;
    OpusEncoder *enc;
    OpusDecoder *dec;
    bbclock_t clock;
    int offset_s;
    bool connected;           /* a probe has been answered on this connection */
    bool ever_connected;
    int pending;              /* PEND_* */
    bbclock_post_t post;      /* clocks of the last POST built */
    int64_t t_sent;           /* monotonic ns when the pending request left */
    int64_t t_connected;      /* monotonic ns when the probe was answered */
    uint64_t batches;         /* POSTs built since the probe */
    bbuf_t query, body;
    char *event_hdr;          /* X-Event-Data of the pending POST (cJSON-allocated) */
    /* metadata queued for the next POST */
    cJSON *q_chat, *q_mic, *q_events;
    bool q_lead, q_start, q_stop;
    int q_bpm, q_repeats, q_bpr;
    char q_volume[32], q_backing[32];
    char *q_track, *q_monitor;
    bbuf_t q_extra;           /* "name\0value\0" pairs */
    /* answers */
    bbc_meta_t meta;
    resp_t resp;
    float *scratch;           /* n_samples floats: decoding target when the caller passes none */
    float *zeros;             /* n_samples of silence */
    float *gen;               /* n_samples filled by cfg.source */
    uint8_t *pkts;            /* encoder output: n_samples/2880 packets of PK_MAX_PACKET */
    size_t pre_at;            /* next pre-encoded packet */
    char err[512];
    bbc_stats_t st;
};

void bbc_config_init(bbc_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->transport = BBC_FCGI;
    cfg->path = "/api";
    cfg->offset_s = 6;
    cfg->n_samples = BBC_BATCH;
    cfg->timeout_ms = 5000;
    cfg->mode = BBC_SEND_ENCODE;
    cfg->bitrate = 64000;
}

static bool is_decimal(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void set_err(bbc_singer_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(bbc_singer_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
}

static void clear_queue(bbc_singer_t *s)
{
    cJSON_Delete(s->q_chat);
    cJSON_Delete(s->q_mic);
    cJSON_Delete(s->q_events);
    s->q_chat = s->q_mic = s->q_events = NULL;
    s->q_lead = s->q_start = s->q_stop = false;
    s->q_bpm = s->q_repeats = s->q_bpr = -1;
    s->q_volume[0] = s->q_backing[0] = 0;
    free(s->q_track);
    free(s->q_monitor);
    s->q_track = s->q_monitor = NULL;
    bbuf_clear(&s->q_extra);
}

void bbc_singer_destroy(bbc_singer_t *s)
{
    if (!s)
        return;
    clear_queue(s);
    bbuf_free(&s->q_extra);
    bbc_conn_destroy(s->own_conn);
    if (s->enc)
        opus_encoder_destroy(s->enc);
    if (s->dec)
        opus_decoder_destroy(s->dec);
    bbuf_free(&s->query);
    bbuf_free(&s->body);
    if (s->event_hdr)
        cJSON_free(s->event_hdr);
    bbc_meta_free(&s->meta);
    resp_free(&s->resp);
    free(s->scratch);
    free(s->zeros);
    free(s->gen);
    free(s->pkts);
    free(s->path);
    free(s->userid);
    free(s->username);
    free(s->reset_path);
    free(s);
}

bbc_singer_t *bbc_singer_new(const bbc_config_t *cfg, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = BBC_EPARAM;
    if (!cfg || cfg->n_samples <= 0 || cfg->n_samples % BBC_FRAME != 0 || cfg->n_samples > BBC_MAX_BATCH ||
        cfg->offset_s < 1 || cfg->offset_s > 1000 || cfg->timeout_ms <= 0 || cfg->write_lag < 0 ||
        cfg->placeholder_batches < 0 || cfg->bitrate < 0 || (cfg->userid && !is_decimal(cfg->userid)) ||
        (cfg->username && !*cfg->username) || (cfg->mode == BBC_SEND_PREENCODED && !cfg->preenc) ||
        (cfg->mode == BBC_SEND_PREENCODED && bbc_preenc_count(cfg->preenc) == 0) ||
        (cfg->path && cfg->path[0] != '/') || (cfg->addr && cfg->conn))
        return NULL;
    bbc_singer_t *s = calloc(1, sizeof *s);
    if (!s) {
        *err = BBC_ENOMEM;
        return NULL;
    }
    s->cfg = *cfg;
    s->offset_s = cfg->offset_s;
    s->q_bpm = s->q_repeats = s->q_bpr = -1;
    resp_init(&s->resp);

    /* The generator of the userid and the pre-encoded start position. */
    rng_t seed;
    rng_seed(&seed, cfg->seed);
    if (cfg->seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rng_seed(&seed, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid() ^
                            (uint64_t)(uintptr_t)s);
    }
    char idbuf[24];
    if (!cfg->userid) {
        /* Math.round(Math.random()*1e11), never 0 */
        snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)(rng_next(&seed) % 100000000000ull + 1));
    }
    s->userid = dup_str(cfg->userid ? cfg->userid : idbuf);
    char namebuf[64];
    snprintf(namebuf, sizeof namebuf, "singer-%s", s->userid ? s->userid : "");
    s->username = dup_str(cfg->username ? cfg->username : namebuf);
    s->path = dup_str(cfg->path ? cfg->path : "/api");
    if (s->path) {
        size_t pl = strlen(s->path);
        s->reset_path = malloc(pl + sizeof "/reset_events");
        if (s->reset_path) {
            /* Route on the last segment: <path>/reset_events. */
            memcpy(s->reset_path, s->path, pl + 1);
            if (pl && s->reset_path[pl - 1] == '/')
                s->reset_path[--pl] = 0;
            strcat(s->reset_path, "/reset_events");
        }
    }
    /* Only what the mode needs: a load singer that sends pre-encoded packets
     * and skips decoding holds no codec and no audio buffer at all. */
    size_t n = (size_t)cfg->n_samples;
    const bool encoding = cfg->mode == BBC_SEND_ENCODE;
    const bool decoding = !cfg->skip_decode;
    s->cfg.userid = s->userid;
    s->cfg.username = s->username;
    s->cfg.path = s->path;
    s->cfg.addr = NULL;
    if (decoding)
        s->scratch = calloc(n, sizeof(float));
    if (encoding) {
        s->zeros = calloc(n, sizeof(float));
        s->pkts = malloc(n / BBC_FRAME * PK_MAX_PACKET);
        if (cfg->source)
            s->gen = calloc(n, sizeof(float));
    }
    if (!s->userid || !s->username || !s->path || !s->reset_path || (decoding && !s->scratch) ||
        (encoding && (!s->zeros || !s->pkts || (cfg->source && !s->gen)))) {
        bbc_singer_destroy(s);
        *err = BBC_ENOMEM;
        return NULL;
    }
    if (cfg->mode == BBC_SEND_PREENCODED)
        s->pre_at = (size_t)(rng_next(&seed) % bbc_preenc_count(cfg->preenc));

    int oe = OPUS_OK;
    if (encoding)
        s->enc = opus_encoder_create(BBC_RATE, 1, OPUS_APPLICATION_AUDIO, &oe);
    if (decoding)
        s->dec = opus_decoder_create(BBC_RATE, 1, &oe);
    if ((encoding && !s->enc) || (decoding && !s->dec)) {
        bbc_singer_destroy(s);
        *err = BBC_EOPUS;
        return NULL;
    }
    if (s->enc && cfg->bitrate > 0)
        opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(cfg->bitrate));

    if (cfg->addr) {
        bbc_addr_t a;
        int rc = bbc_addr_parse(cfg->addr, cfg->transport, &a);
        if (rc == BBC_OK)
            s->own_conn = bbc_conn_new(&a, &rc);
        if (!s->own_conn) {
            bbc_singer_destroy(s);
            *err = rc;
            return NULL;
        }
        bbc_conn_set_keep(s->own_conn, !cfg->no_keep);
        s->conn = s->own_conn;
    } else {
        s->conn = cfg->conn;
    }
    *err = BBC_OK;
    return s;
}

/* -- queued metadata -- */

static int queue_json(cJSON **list, cJSON *item)
{
    if (!item)
        return BBC_ENOMEM;
    if (!*list && !(*list = cJSON_CreateArray())) {
        cJSON_Delete(item);
        return BBC_ENOMEM;
    }
    if (!cJSON_AddItemToArray(*list, item)) {
        cJSON_Delete(item);
        return BBC_ENOMEM;
    }
    return BBC_OK;
}

int bbc_singer_chat(bbc_singer_t *s, const char *text)
{
    if (!text)
        return BBC_EPARAM;
    return queue_json(&s->q_chat, cJSON_CreateString(text));
}

void bbc_singer_request_lead(bbc_singer_t *s)
{
    s->q_lead = true;
}

void bbc_singer_mark_start(bbc_singer_t *s)
{
    s->q_start = true;
}

void bbc_singer_mark_stop(bbc_singer_t *s)
{
    s->q_stop = true;
}

void bbc_singer_set_tempo(bbc_singer_t *s, int bpm, int repeats, int bpr)
{
    s->q_bpm = bpm;
    s->q_repeats = repeats;
    s->q_bpr = bpr;
}

/* A number the way JavaScript's String() writes it, for the usual values. */
static void js_number(char *out, size_t cap, double v)
{
    snprintf(out, cap, "%.15g", v);
}

void bbc_singer_set_volume(bbc_singer_t *s, double v)
{
    js_number(s->q_volume, sizeof s->q_volume, v);
}

void bbc_singer_set_backing_volume(bbc_singer_t *s, double v)
{
    js_number(s->q_backing, sizeof s->q_backing, v);
}

int bbc_singer_mic_volume(bbc_singer_t *s, const char *id, double v)
{
    if (!id)
        return BBC_EPARAM;
    cJSON *pair = cJSON_CreateArray();
    if (!pair || !cJSON_AddItemToArray(pair, cJSON_CreateString(id)) ||
        !cJSON_AddItemToArray(pair, cJSON_CreateNumber(v))) {
        cJSON_Delete(pair);
        return BBC_ENOMEM;
    }
    return queue_json(&s->q_mic, pair);
}

static int replace_str(char **slot, const char *v)
{
    if (!v || !*v)
        return BBC_EPARAM;
    char *d = dup_str(v);
    if (!d)
        return BBC_ENOMEM;
    free(*slot);
    *slot = d;
    return BBC_OK;
}

int bbc_singer_set_track(bbc_singer_t *s, const char *name)
{
    return replace_str(&s->q_track, name);
}

int bbc_singer_monitor(bbc_singer_t *s, const char *id)
{
    return replace_str(&s->q_monitor, id);
}

int bbc_singer_event(bbc_singer_t *s, const char *evid_json, int64_t clock)
{
    if (!evid_json)
        return BBC_EPARAM;
    cJSON *evid = cJSON_Parse(evid_json);
    if (!evid)
        return BBC_EPARAM;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToObject(o, "evid", evid)) {
        cJSON_Delete(o);
        cJSON_Delete(evid);
        return BBC_ENOMEM;
    }
    if (!cJSON_AddNumberToObject(o, "clock", (double)clock)) {
        cJSON_Delete(o);
        return BBC_ENOMEM;
    }
    return queue_json(&s->q_events, o);
}

int bbc_singer_param(bbc_singer_t *s, const char *name, const char *value)
{
    if (!name || !*name || !value)
        return BBC_EPARAM;
    if (bbuf_append(&s->q_extra, name, strlen(name) + 1) != BBUF_OK ||
        bbuf_append(&s->q_extra, value, strlen(value) + 1) != BBUF_OK)
        return BBC_ENOMEM;
    return BBC_OK;
}

/* -- requests -- */

bool bbc_singer_needs_probe(const bbc_singer_t *s)
{
    return !s->connected;
}

static void reset_codecs(bbc_singer_t *s)
{
    if (s->enc)
        opus_encoder_ctl(s->enc, OPUS_RESET_STATE);
    if (s->dec)
        opus_decoder_ctl(s->dec, OPUS_RESET_STATE);
}

static int put_param_i64(bbuf_t *q, const char *name, int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return urlenc_param(q, name, b);
}

static int put_param_json(bbuf_t *q, const char *name, const cJSON *list)
{
    char *txt = cJSON_PrintUnformatted(list);
    if (!txt)
        return BBC_ENOMEM;
    int rc = urlenc_param(q, name, txt);
    cJSON_free(txt);
    return rc;
}

static int build_query(bbc_singer_t *s)
{
    bbuf_t *q = &s->query;
    bbuf_clear(q);
    int rc = 0;
    rc |= put_param_i64(q, "read_clock", s->post.read_clock);
    if (s->post.has_write)
        rc |= put_param_i64(q, "write_clock", s->post.write_clock);
    rc |= put_param_i64(q, "n_samples", s->post.n);
    rc |= urlenc_param(q, "userid", s->userid);
    rc |= urlenc_param(q, "username", s->username);
    if (s->post.reset)
        rc |= urlenc_param(q, "reset_user_state", "true");
    if (s->q_chat)
        rc |= put_param_json(q, "chat", s->q_chat);
    if (s->q_lead)
        rc |= urlenc_param(q, "request_lead", "1");
    if (s->q_start)
        rc |= urlenc_param(q, "mark_start_singing", "1");
    if (s->q_stop)
        rc |= urlenc_param(q, "mark_stop_singing", "1");
    if (s->q_volume[0])
        rc |= urlenc_param(q, "volume", s->q_volume);
    if (s->q_backing[0])
        rc |= urlenc_param(q, "backing_volume", s->q_backing);
    if (s->q_mic)
        rc |= put_param_json(q, "mic_volume", s->q_mic);
    if (s->q_bpm >= 0)
        rc |= put_param_i64(q, "bpm", s->q_bpm);
    if (s->q_repeats >= 0)
        rc |= put_param_i64(q, "repeats", s->q_repeats);
    if (s->q_bpr >= 0)
        rc |= put_param_i64(q, "bpr", s->q_bpr);
    if (s->q_track)
        rc |= urlenc_param(q, "track", s->q_track);
    if (s->q_monitor)
        rc |= urlenc_param(q, "monitor", s->q_monitor);
    if (s->cfg.mode == BBC_SEND_SPECTATOR)
        rc |= urlenc_param(q, "spectator", "1");
    if (s->cfg.no_summary)
        rc |= urlenc_param(q, "summary", "0");
    for (size_t at = 0; at < s->q_extra.len;) {
        const char *name = (const char *)s->q_extra.data + at;
        const char *value = name + strlen(name) + 1;
        rc |= urlenc_param(q, name, value);
        at = (size_t)(value + strlen(value) + 1 - (const char *)s->q_extra.data);
    }
    return rc ? BBC_ENOMEM : BBC_OK;
}

/* Decides whether this batch carries audio, and builds the body. */
static int build_body(bbc_singer_t *s, const float *samples, bool *real)
{
    bbuf_clear(&s->body);
    size_t frames = (size_t)s->cfg.n_samples / BBC_FRAME;
    const bool early = s->batches < (uint64_t)s->cfg.placeholder_batches && !s->clock.writing;
    const uint8_t *ptr[PK_MAX_PACKETS];
    size_t lens[PK_MAX_PACKETS];

    switch (s->cfg.mode) {
    case BBC_SEND_SPECTATOR:
        *real = false;
        return BBC_OK;
    case BBC_SEND_PREENCODED: {
        if (early) {
            *real = false;
            return BBC_OK;
        }
        const bbc_preenc_t *p = s->cfg.preenc;
        for (size_t i = 0; i < frames; i++) {
            size_t k = (s->pre_at + i) % p->count;
            ptr[i] = p->bytes + p->off[k];
            lens[i] = p->len[k];
        }
        s->pre_at = (s->pre_at + frames) % p->count;
        break;
    }
    case BBC_SEND_ENCODE:
    default: {
        if (!samples && s->cfg.source && !early) {
            /* The END of the interval this upload will cover (bbclock_next
             * advances the same way). */
            const bbclock_t *c = &s->clock;
            int64_t n = s->cfg.n_samples;
            int64_t wc = c->writing ? c->write_clock + n : c->read_clock + n - c->write_lag;
            memset(s->gen, 0, (size_t)n * sizeof(float));
            s->cfg.source(s, s->gen, (int)n, wc, s->cfg.user);
            samples = s->gen;
        }
        if (!samples && !s->clock.writing) {
            *real = false;
            return BBC_OK;
        }
        const float *src = samples ? samples : s->zeros;
        for (size_t i = 0; i < frames; i++) {
            uint8_t *dst = s->pkts + i * PK_MAX_PACKET;
            opus_int32 len = opus_encode_float(s->enc, src + i * BBC_FRAME, BBC_FRAME, dst, PK_MAX_PACKET);
            if (len <= 0) {
                set_err(s, "opus_encode_float: %s", opus_strerror(len));
                return BBC_EOPUS;
            }
            ptr[i] = dst;
            lens[i] = (size_t)len;
        }
        break;
    }
    }
    *real = true;
    int size = pk_size(lens, (int)frames);
    if (size < 0) {
        set_err(s, "body: %s", pk_strerror(size));
        return BBC_EPARAM;
    }
    uint8_t *at = bbuf_extend(&s->body, (size_t)size);
    if (!at)
        return BBC_ENOMEM;
    pk_pack(at, (size_t)size, ptr, lens, (int)frames);
    return BBC_OK;
}

int bbc_singer_next_request(bbc_singer_t *s, const float *samples, bbc_request_t *req)
{
    if (s->pending != PEND_NONE)
        return BBC_ESTATE;
    memset(req, 0, sizeof *req);
    req->path = s->path;
    if (!s->connected) {
        req->method = "GET";
        s->pending = PEND_PROBE;
        if (s->ever_connected)
            s->st.reconnects++;
        s->t_sent = now_ns();
        return BBC_OK;
    }
    bool real = false;
    int rc = build_body(s, samples, &real);
    if (rc != BBC_OK)
        return rc;
    rc = bbclock_next(&s->clock, s->cfg.n_samples, real, &s->post);
    if (rc != BBC_OK) {
        set_err(s, "clock: %s", bbclock_strerror(rc));
        return BBC_ESTATE;
    }
    rc = build_query(s);
    if (rc != BBC_OK)
        return rc;
    if (s->event_hdr) {
        cJSON_free(s->event_hdr);
        s->event_hdr = NULL;
    }
    if (s->q_events) {
        s->event_hdr = cJSON_PrintUnformatted(s->q_events);
        if (!s->event_hdr)
            return BBC_ENOMEM;
    }
    clear_queue(s);
    s->batches++;
    req->method = "POST";
    req->query = (const char *)s->query.data;
    req->event_data = s->event_hdr ? s->event_hdr : s->cfg.omit_undefined_events ? NULL : "undefined";
    req->body = s->body.data;
    req->body_len = s->body.len;
    s->pending = PEND_POST;
    s->t_sent = now_ns();
    return BBC_OK;
}

void bbc_singer_sent(bbc_singer_t *s)
{
    s->t_sent = now_ns();
}

void bbc_singer_fail(bbc_singer_t *s, int code, const char *why)
{
    s->pending = PEND_NONE;
    s->connected = false;
    s->st.errors++;
    s->st.transport_errors++;
    set_err(s, "%s%s%s", bbc_strerror(code), why ? ": " : "", why ? why : "");
}

/* Marks a failed exchange: the browser reconnects after any failure. */
static int fail_with(bbc_singer_t *s, int code)
{
    s->connected = false;
    s->st.errors++;
    switch (code) {
    case BBC_ESTATUS: s->st.status_errors++; break;
    case BBC_EKILL: s->st.kills++; break;
    case BBC_EMETA: s->st.meta_errors++; break;
    case BBC_EBODY: s->st.body_errors++; break;
    case BBC_EDECODE: s->st.decode_errors++; break;
    case BBC_ECONTINUITY: s->st.continuity_errors++; break;
    default: break;
    }
    return code;
}

static void fill_worker(bbc_singer_t *s, const resp_t *resp)
{
    const char *w = resp_header(resp, "X-Worker-Id");
    if (!s->meta.worker[0] && w)
        snprintf(s->meta.worker, sizeof s->meta.worker, "%s", w);
}

static int on_probe(bbc_singer_t *s, const resp_t *resp)
{
    int64_t rtt = now_ns() - s->t_sent;
    const char *h = resp_header(resp, "X-Audio-Metadata");
    if (h)
        bbc_meta_parse(&s->meta, h);
    else
        bbc_meta_free(&s->meta);
    fill_worker(s, resp);
    if (resp->status != 200) {
        set_err(s, "probe answered %d", resp->status);
        return fail_with(s, BBC_ESTATUS);
    }
    if (!s->meta.have_server_clock) {
        set_err(s, "probe answer has no server_clock");
        return fail_with(s, BBC_EMETA);
    }
    int64_t est = bbclock_estimate(s->meta.server_clock, rtt);
    int rc = bbclock_start(&s->clock, est, s->offset_s, !s->cfg.unaligned, s->cfg.write_lag);
    if (rc != BBCLOCK_OK) {
        set_err(s, "clock start: %s", bbclock_strerror(rc));
        return fail_with(s, BBC_EPARAM);
    }
    reset_codecs(s);
    s->connected = true;
    s->ever_connected = true;
    s->t_connected = now_ns();
    s->batches = 0;
    s->st.probes++;
    return BBC_OK;
}

/* Checks the pack_multi body and decodes it into out (n floats, or NULL to
 * only check lengths). */
static int check_body(bbc_singer_t *s, const resp_t *resp, int64_t n, float *out)
{
    pk_packet_t pk[PK_MAX_PACKETS];
    int count = pk_parse(resp->body.data, resp->body.len, pk, PK_MAX_PACKETS);
    if (count < 0) {
        set_err(s, "body: %s (%zu bytes)", pk_strerror(count), resp->body.len);
        return BBC_EBODY;
    }
    int64_t total = 0;
    for (int i = 0; i < count; i++) {
        int got;
        if (out) {
            /* The browser's decoder holds 2880 samples: a longer packet fails. */
            if (total + BBC_FRAME > n) {
                set_err(s, "decode: more audio than n_samples=%lld", (long long)n);
                return BBC_EDECODE;
            }
            got = opus_decode_float(s->dec, pk[i].data, pk[i].len, out + total, BBC_FRAME, 0);
        } else {
            got = opus_packet_get_nb_samples(pk[i].data, pk[i].len, BBC_RATE);
            if (got > BBC_FRAME)
                got = OPUS_BUFFER_TOO_SMALL;
        }
        if (got < 0) {
            set_err(s, "decode: packet %d: %s", i, opus_strerror(got));
            return BBC_EDECODE;
        }
        total += got;
    }
    if (total != n) {
        set_err(s, "decode: %lld samples in %d packets, n_samples is %lld", (long long)total, count,
                (long long)n);
        return BBC_EDECODE;
    }
    return BBC_OK;
}

static int on_post(bbc_singer_t *s, const resp_t *resp, float *received)
{
    s->st.posts++;
    const char *h = resp_header(resp, "X-Audio-Metadata");
    int mrc = h ? bbc_meta_parse(&s->meta, h) : BBC_EMETA;
    if (!h)
        bbc_meta_free(&s->meta);
    fill_worker(s, resp);
    if (s->meta.kill_client) {
        set_err(s, "kill_client (HTTP %d): %s", resp->status, s->meta.message);
        if (strstr(s->meta.message, "desync"))
            s->st.desyncs++;
        return fail_with(s, BBC_EKILL);
    }
    if (resp->status != 200) {
        set_err(s, "POST answered %d", resp->status);
        return fail_with(s, BBC_ESTATUS);
    }
    if (mrc != BBC_OK || !s->meta.have_client_read_clock || !s->meta.have_n_samples || !s->meta.events) {
        set_err(s, "metadata: %s", !h ? "no X-Audio-Metadata header"
                                   : mrc != BBC_OK ? "not a JSON object"
                                                   : "client_read_clock, n_samples or events missing");
        return fail_with(s, BBC_EMETA);
    }
    int rc = bbclock_check_response(&s->clock, &s->post, s->meta.client_read_clock, s->meta.n_samples);
    if (rc != BBCLOCK_OK) {
        set_err(s, "%s: sent read_clock=%lld n=%d, got client_read_clock=%lld n_samples=%lld (previous %lld)",
                bbclock_strerror(rc), (long long)s->post.read_clock, s->post.n,
                (long long)s->meta.client_read_clock, (long long)s->meta.n_samples, (long long)s->clock.last_rx);
        return fail_with(s, BBC_ECONTINUITY);
    }
    float *out = s->cfg.skip_decode ? NULL : received ? received : s->scratch;
    rc = check_body(s, resp, s->meta.n_samples, out);
    if (rc != BBC_OK)
        return fail_with(s, rc);
    s->st.ok++;
    if (s->meta.have_delay && s->meta.delay_seconds > 0 && !s->cfg.ignore_delay) {
        int old = s->offset_s;
        s->offset_s = s->meta.delay_seconds > 1000 ? 1000 : s->meta.delay_seconds;
        s->connected = false; /* the browser reconnects even if unchanged */
        s->st.moves++;
        if (s->cfg.on_move)
            s->cfg.on_move(s, old, s->offset_s, s->cfg.user);
    }
    return BBC_OK;
}

int bbc_singer_on_response(bbc_singer_t *s, const resp_t *resp, float *received)
{
    int p = s->pending;
    s->pending = PEND_NONE;
    s->err[0] = 0;
    if (p == PEND_PROBE)
        return on_probe(s, resp);
    if (p == PEND_POST)
        return on_post(s, resp, received);
    return BBC_ESTATE;
}

/* -- blocking use -- */

static int transport_exchange(bbc_singer_t *s, const bbc_request_t *req)
{
    int rc = bbc_exchange(s->conn, req, &s->resp, s->cfg.timeout_ms);
    if (rc != BBC_OK) {
        char why[400];
        snprintf(why, sizeof why, "%s %s via %s%s%s", req->method, req->path, bbc_conn_addr(s->conn)->text,
                 rc == BBC_ESYS ? ": " : "", rc == BBC_ESYS ? strerror(errno) : "");
        bbc_singer_fail(s, rc, why);
    }
    return rc;
}

int bbc_connect(bbc_singer_t *s)
{
    if (!s->conn)
        return BBC_ESTATE;
    s->connected = false;
    s->pending = PEND_NONE;
    bbc_request_t req;
    int rc = bbc_singer_next_request(s, NULL, &req);
    if (rc != BBC_OK)
        return rc;
    rc = transport_exchange(s, &req);
    if (rc != BBC_OK)
        return rc;
    return bbc_singer_on_response(s, &s->resp, NULL);
}

static void sleep_until(int64_t t)
{
    struct timespec ts = { .tv_sec = t / 1000000000, .tv_nsec = t % 1000000000 };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

int bbc_exchange_batch(bbc_singer_t *s, const float *samples, float *received)
{
    if (!s->conn)
        return BBC_ESTATE;
    if (!s->connected) {
        int rc = bbc_connect(s);
        if (rc != BBC_OK)
            return rc;
    }
    if (!s->cfg.no_pace) {
        /* Batch k of a connection leaves k batch lengths after the probe,
         * as the browser's audio clock would send it. */
        int64_t due = s->t_connected + (int64_t)(s->batches + 1) * s->cfg.n_samples * (1000000000 / BBC_RATE);
        sleep_until(due);
    }
    bbc_request_t req;
    int rc = bbc_singer_next_request(s, samples, &req);
    if (rc != BBC_OK)
        return rc;
    rc = transport_exchange(s, &req);
    if (rc != BBC_OK)
        return rc;
    return bbc_singer_on_response(s, &s->resp, received);
}

int bbc_reset_events(bbc_singer_t *s)
{
    if (!s->conn)
        return BBC_ESTATE;
    bbc_request_t req = { .method = "POST", .path = s->reset_path };
    int rc = bbc_exchange(s->conn, &req, &s->resp, s->cfg.timeout_ms);
    if (rc != BBC_OK)
        return rc;
    if (s->resp.status != 204) {
        set_err(s, "reset_events answered %d", s->resp.status);
        return BBC_ESTATUS;
    }
    return BBC_OK;
}

/* -- state -- */

const bbc_meta_t *bbc_singer_meta(const bbc_singer_t *s)
{
    return &s->meta;
}

const resp_t *bbc_singer_response(const bbc_singer_t *s)
{
    return &s->resp;
}

const char *bbc_singer_userid(const bbc_singer_t *s)
{
    return s->userid;
}

const char *bbc_singer_username(const bbc_singer_t *s)
{
    return s->username;
}

int bbc_singer_offset(const bbc_singer_t *s)
{
    return s->offset_s;
}

int bbc_singer_n_samples(const bbc_singer_t *s)
{
    return s->cfg.n_samples;
}

const bbclock_t *bbc_singer_clock(const bbc_singer_t *s)
{
    return &s->clock;
}

const bbclock_post_t *bbc_singer_last_post(const bbc_singer_t *s)
{
    return &s->post;
}

const char *bbc_singer_error(const bbc_singer_t *s)
{
    return s->err;
}

bbc_conn_t *bbc_singer_conn(const bbc_singer_t *s)
{
    return s->conn;
}

int bbc_singer_set_offset(bbc_singer_t *s, int offset_s)
{
    if (offset_s < 1 || offset_s > 1000)
        return BBC_EPARAM;
    s->offset_s = offset_s;
    s->connected = false;
    return BBC_OK;
}

void bbc_singer_stats(const bbc_singer_t *s, bbc_stats_t *out)
{
    *out = s->st;
}
