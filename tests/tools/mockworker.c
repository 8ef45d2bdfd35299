/*
 * mockworker.c - the test stand-in for the worker (mockworker.h).
 *
 * Each connection has an input buffer; a request is complete once its
 * FastCGI STDIN stream has ended (or its HTTP body has arrived), then it is
 * answered at once, in order.  The FastCGI side reuses the client's record
 * reader and name-value parser, which the unit tests check separately.
 */
#include "mockworker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bytebuf.h"
#include "fcgiclient.h"
#include "mockapi.h"
#include "urlenc.h"

#define MAX_CONNS 1024

typedef struct {
    int fd;
    bbuf_t in;
    bbuf_t out;
    size_t out_off;
    /* FastCGI request being assembled */
    fcgic_reader_t rd;
    uint16_t id;
    bool keep;
    bbuf_t params;
    bbuf_t body;
    bool params_done;
} mconn_t;

struct mock {
    mock_opts_t o;
    int lfd;
    int port;
    int wake[2];
    mconn_t conns[MAX_CONNS];
    int nconns;
    long posts;
    pthread_mutex_t lock;    /* guards posts, last_query, last_event */
    char last_query[8192];
    char last_event[4096];
    mapi_t *api;             /* what is answered */
    char unix_path[108];
};

mock_t *mock_new(const mock_opts_t *o)
{
    mock_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->o = *o;
    m->lfd = -1;
    m->wake[0] = m->wake[1] = -1;
    pthread_mutex_init(&m->lock, NULL);
    m->api = mapi_new(o->worker_id, o->fault_every, o->skew_every);
    if (!m->api || pipe(m->wake) < 0) {
        mock_destroy(m);
        return NULL;
    }
    const char *l = o->listen;
    if (strncmp(l, "unix:", 5) == 0) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        snprintf(un.sun_path, sizeof un.sun_path, "%s", l + 5);
        snprintf(m->unix_path, sizeof m->unix_path, "%s", l + 5);
        unlink(un.sun_path);
        m->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (m->lfd < 0 || bind(m->lfd, (struct sockaddr *)&un, sizeof un) < 0) {
            fprintf(stderr, "mock: bind %s: %s\n", l, strerror(errno));
            mock_destroy(m);
            return NULL;
        }
    } else {
        char host[64];
        const char *port;
        if (l[0] == '[') {
            const char *e = strchr(l, ']');
            if (!e || e[1] != ':' || (size_t)(e - l) >= sizeof host) {
                mock_destroy(m);
                return NULL;
            }
            snprintf(host, sizeof host, "%.*s", (int)(e - l - 1), l + 1);
            port = e + 2;
        } else {
            const char *c = strrchr(l, ':');
            if (!c || (size_t)(c - l) >= sizeof host) {
                mock_destroy(m);
                return NULL;
            }
            snprintf(host, sizeof host, "%.*s", (int)(c - l), l);
            port = c + 1;
        }
        struct sockaddr_storage ss;
        socklen_t sl;
        memset(&ss, 0, sizeof ss);
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
            in->sin_port = htons((uint16_t)atoi(port));
            sl = sizeof *in;
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons((uint16_t)atoi(port));
            sl = sizeof *in6;
        } else {
            mock_destroy(m);
            return NULL;
        }
        m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (m->lfd >= 0)
            setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (m->lfd < 0 || bind(m->lfd, (struct sockaddr *)&ss, sl) < 0) {
            fprintf(stderr, "mock: bind %s: %s\n", l, strerror(errno));
            mock_destroy(m);
            return NULL;
        }
        getsockname(m->lfd, (struct sockaddr *)&ss, &sl);
        m->port = ss.ss_family == AF_INET ? ntohs(in->sin_port) : ntohs(in6->sin6_port);
    }
    if (listen(m->lfd, 128) < 0) {
        mock_destroy(m);
        return NULL;
    }
    return m;
}

int mock_port(const mock_t *m)
{
    return m->port;
}

long mock_posts(mock_t *m)
{
    pthread_mutex_lock(&m->lock);
    long n = m->posts;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void mock_last_request(mock_t *m, char *query, size_t qcap, char *event, size_t ecap)
{
    pthread_mutex_lock(&m->lock);
    snprintf(query, qcap, "%s", m->last_query);
    snprintf(event, ecap, "%s", m->last_event);
    pthread_mutex_unlock(&m->lock);
}

void mock_stop(mock_t *m)
{
    if (write(m->wake[1], "x", 1) < 0) {
        /* nothing to do: the duration still stops the loop */
    }
}

static void conn_free(mconn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    bbuf_free(&c->in);
    bbuf_free(&c->out);
    bbuf_free(&c->params);
    bbuf_free(&c->body);
    fcgic_reader_free(&c->rd);
}

void mock_destroy(mock_t *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nconns; i++)
        conn_free(&m->conns[i]);
    if (m->lfd >= 0)
        close(m->lfd);
    if (m->unix_path[0])
        unlink(m->unix_path);
    if (m->wake[0] >= 0)
        close(m->wake[0]);
    if (m->wake[1] >= 0)
        close(m->wake[1]);
    mapi_free(m->api);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- the application (mockapi.h) ---------------------------------------- */


static void handle(mock_t *m, const mapi_req_t *rq, mapi_resp_t *r)
{
    pthread_mutex_lock(&m->lock);
    snprintf(m->last_query, sizeof m->last_query, "%s", rq->query ? rq->query : "");
    snprintf(m->last_event, sizeof m->last_event, "%s", rq->event_data ? rq->event_data : "");
    if (strcmp(rq->method, "POST") == 0 && !strstr(rq->path, "reset_events"))
        m->posts++;
    long post_no = m->posts;
    pthread_mutex_unlock(&m->lock);
    mapi_answer(m->api, post_no, rq, r);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    default: return "Unknown";
    }
}

/* The CGI / HTTP header block of an answer (without the status line). */
static void put_headers(mock_t *m, bbuf_t *o, const mapi_resp_t *r)
{
    if (r->status != 204) {
        bbuf_puts(o, "Access-Control-Allow-Origin: *\r\n");
        bbuf_printf(o, "Content-Type: %s\r\n", r->status == 200 ? "application/octet-stream" : "text/plain");
    }
    if (r->meta.len)
        bbuf_printf(o, "X-Audio-Metadata: %s\r\n", (const char *)r->meta.data);
    bbuf_printf(o, "X-Worker-Id: %d\r\n", m->o.worker_id);
}

/* ---- FastCGI ------------------------------------------------------------ */

static void param_value(const bbuf_t *p, const char *name, char *out, size_t cap)
{
    size_t pos = 0;
    const uint8_t *n, *v;
    uint32_t nl, vl;
    out[0] = 0;
    while (fcgic_nv_next(p->data, p->len, &pos, &n, &nl, &v, &vl) == 1) {
        if (nl == strlen(name) && memcmp(n, name, nl) == 0) {
            snprintf(out, cap, "%.*s", (int)vl, (const char *)v);
            return;
        }
    }
}

static void answer_fcgi(mock_t *m, mconn_t *c)
{
    char method[16], path[256], query[8192], ev[4096];
    param_value(&c->params, "REQUEST_METHOD", method, sizeof method);
    param_value(&c->params, "PATH_INFO", path, sizeof path);
    param_value(&c->params, "QUERY_STRING", query, sizeof query);
    param_value(&c->params, "HTTP_X_EVENT_DATA", ev, sizeof ev);
    mapi_req_t rq = { method, path, query, ev, c->body.data, c->body.len };
    mapi_resp_t r = { 0 };
    handle(m, &rq, &r);
    bbuf_t so = { 0 };
    bbuf_printf(&so, "Status: %d %s\r\n", r.status, reason(r.status));
    put_headers(m, &so, &r);
    bbuf_puts(&so, "\r\n");
    bbuf_append(&so, r.body.data, r.body.len);
    /* Cut STDOUT in odd places on purpose: the client must reassemble. */
    size_t at = 0;
    while (at < so.len) {
        size_t chunk = so.len - at < 1000 ? so.len - at : 1000;
        fcgic_put_record(&c->out, FCGIC_STDOUT, c->id, so.data + at, chunk);
        at += chunk;
    }
    fcgic_put_record(&c->out, FCGIC_STDOUT, c->id, NULL, 0);
    fcgic_put_end(&c->out, c->id, 0, FCGIC_REQUEST_COMPLETE);
    bbuf_free(&so);
    bbuf_free(&r.meta);
    bbuf_free(&r.body);
    bbuf_clear(&c->params);
    bbuf_clear(&c->body);
    c->params_done = false;
}

/* Consumes what arrived; returns -1 to close the connection. */
static int feed_fcgi(mock_t *m, mconn_t *c)
{
    size_t at = 0;
    while (at < c->in.len) {
        fcgic_record_t rec;
        size_t used = 0;
        int rc = fcgic_reader_feed(&c->rd, c->in.data + at, c->in.len - at, &used, &rec);
        at += used;
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        switch (rec.type) {
        case FCGIC_BEGIN_REQUEST:
            if (rec.len < 8)
                return -1;
            c->id = rec.request_id;
            c->keep = rec.content[2] & FCGIC_KEEP_CONN;
            bbuf_clear(&c->params);
            bbuf_clear(&c->body);
            break;
        case FCGIC_PARAMS:
            if (rec.len == 0)
                c->params_done = true;
            else
                bbuf_append(&c->params, rec.content, rec.len);
            break;
        case FCGIC_STDIN:
            if (rec.len) {
                bbuf_append(&c->body, rec.content, rec.len);
            } else {
                answer_fcgi(m, c);
                if (!c->keep) {
                    bbuf_consume(&c->in, at);
                    return 1; /* close once the answer is written */
                }
            }
            break;
        default:
            break;
        }
    }
    bbuf_consume(&c->in, at);
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------ */

static const char *hdr_find(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = strstr(head, "\r\n");
    while (p && p[2]) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            return out;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}

static int feed_http(mock_t *m, mconn_t *c)
{
    for (;;) {
        if (!c->in.len)
            return 0;
        char *head = (char *)c->in.data;
        char *end = strstr(head, "\r\n\r\n");
        if (!end)
            return c->in.len > 65536 ? -1 : 0;
        size_t hlen = (size_t)(end - head) + 4;
        char cl[32] = "0", conn[32] = "", ev[4096] = "";
        *end = 0;
        hdr_find(head, "Content-Length", cl, sizeof cl);
        hdr_find(head, "Connection", conn, sizeof conn);
        bool have_ev = hdr_find(head, "X-Event-Data", ev, sizeof ev) != NULL;
        size_t blen = (size_t)strtoul(cl, NULL, 10);
        if (c->in.len < hlen + blen) {
            *end = '\r';
            return 0;
        }
        char method[16], target[8192];
        if (sscanf(head, "%15s %8191s", method, target) != 2)
            return -1;
        char *qm = strchr(target, '?');
        const char *query = "";
        if (qm) {
            *qm = 0;
            query = qm + 1;
        }
        mapi_req_t rq = { method, target, query, have_ev ? ev : NULL, c->in.data + hlen, blen };
        mapi_resp_t r = { 0 };
        handle(m, &rq, &r);
        bbuf_printf(&c->out, "HTTP/1.1 %d %s\r\n", r.status, reason(r.status));
        put_headers(m, &c->out, &r);
        bool close_after = strcasecmp(conn, "close") == 0;
        if (close_after)
            bbuf_puts(&c->out, "Connection: close\r\n");
        if (r.status == 204) {
            bbuf_puts(&c->out, "\r\n");
        } else if (m->o.chunked) {
            bbuf_puts(&c->out, "Transfer-Encoding: chunked\r\n\r\n");
            size_t at = 0;
            while (at < r.body.len) {
                size_t ch = r.body.len - at < 777 ? r.body.len - at : 777;
                bbuf_printf(&c->out, "%zx;ext=1\r\n", ch);
                bbuf_append(&c->out, r.body.data + at, ch);
                bbuf_puts(&c->out, "\r\n");
                at += ch;
            }
            bbuf_puts(&c->out, "0\r\nX-Trailer: yes\r\n\r\n");
        } else {
            bbuf_printf(&c->out, "Content-Length: %zu\r\n\r\n", r.body.len);
            bbuf_append(&c->out, r.body.data, r.body.len);
        }
        bbuf_free(&r.meta);
        bbuf_free(&r.body);
        bbuf_consume(&c->in, hlen + blen);
        if (close_after)
            return 1;
    }
}

/* ---- loop ------------------------------------------------------------------ */

int mock_run(mock_t *m)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct pollfd pf[MAX_CONNS + 2];
    bool closing[MAX_CONNS] = { false };
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (m->o.duration_s > 0 && el >= m->o.duration_s)
            break;
        int n = 0;
        pf[n++] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
        pf[n++] = (struct pollfd){ .fd = m->wake[0], .events = POLLIN };
        for (int i = 0; i < m->nconns; i++)
            pf[n++] = (struct pollfd){ .fd = m->conns[i].fd,
                                       .events = (short)(POLLIN | (m->conns[i].out.len > m->conns[i].out_off ? POLLOUT : 0)) };
        int r = poll(pf, (nfds_t)n, 100);
        if (r < 0 && errno != EINTR)
            break;
        if (pf[1].revents)
            break;
        bool dead[MAX_CONNS];
        int polled = m->nconns;
        for (int i = 0; i < polled; i++) {
            mconn_t *c = &m->conns[i];
            short ev = pf[2 + i].revents;
            dead[i] = false;
            if (ev & (POLLIN | POLLHUP | POLLERR)) {
                uint8_t buf[65536];
                ssize_t got = recv(c->fd, buf, sizeof buf, 0);
                if (got > 0) {
                    bbuf_append(&c->in, buf, (size_t)got);
                    int fr = m->o.http ? feed_http(m, c) : feed_fcgi(m, c);
                    if (fr < 0)
                        dead[i] = true;
                    else if (fr > 0)
                        closing[i] = true;
                } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                    dead[i] = true;
                }
            }
            if (!dead[i] && c->out.len > c->out_off) {
                ssize_t w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
                if (w > 0)
                    c->out_off += (size_t)w;
                else if (w < 0 && errno != EAGAIN && errno != EINTR)
                    dead[i] = true;
                if (c->out_off == c->out.len) {
                    bbuf_clear(&c->out);
                    c->out_off = 0;
                    if (closing[i])
                        dead[i] = true;
                }
            }
        }
        /* Compact after the pass, so poll results stay matched to conns. */
        int keep = 0;
        for (int i = 0; i < polled; i++) {
            if (dead[i]) {
                conn_free(&m->conns[i]);
                continue;
            }
            m->conns[keep] = m->conns[i];
            closing[keep] = closing[i];
            keep++;
        }
        for (int i = polled; i < m->nconns; i++) {
            m->conns[keep] = m->conns[i];
            closing[keep] = closing[i];
            keep++;
        }
        m->nconns = keep;
        if ((pf[0].revents & POLLIN) && m->nconns < MAX_CONNS) {
            int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0) {
                mconn_t *c = &m->conns[m->nconns];
                memset(c, 0, sizeof *c);
                c->fd = fd;
                fcgic_reader_init(&c->rd);
                closing[m->nconns] = false;
                m->nconns++;
            }
        }
    }
    return 0;
}
