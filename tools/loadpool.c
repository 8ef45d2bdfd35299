/*
 * loadpool.c - bb-load's connections and pools (loadpool.h).
 *
 * Every socket is non-blocking and registered with the loop's epoll; its
 * event data carries the connection's index and epoch.  A request goes
 * out in as many sends as the socket takes (EPOLLOUT armed meanwhile), and
 * its answer is parsed as it arrives; bytes nobody asked for close the
 * connection.
 */
#include "loadpool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static void conn_events(loop_t *L, lconn_t *k, bool add)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (k->want_out ? EPOLLOUT : 0) };
    ev.data.u64 = ((uint64_t)k->epoch << 32) | (uint32_t)k->id;
    int fd = bbc_conn_fd(k->c);
    if (epoll_ctl(L->ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0) {
        fprintf(stderr, "bb-load: epoll_ctl(%s, fd %d): %s\n", add ? "ADD" : "MOD", fd, strerror(errno));
        L->stop = true;
    }
}

void load_conn_close(loop_t *L, lconn_t *k)
{
    (void)L;
    bbc_conn_close(k->c);
    k->epoch++;
    k->state = C_CLOSED;
    k->want_out = false;
    bbuf_clear(&k->out);
    k->out_off = 0;
}

static lconn_t *conn_new(loop_t *L, pool_t *pool, const bbc_addr_t *addr)
{
    if (L->nconns == L->capconns) {
        int cap = L->capconns ? L->capconns * 2 : 256;
        lconn_t **c = realloc(L->conns, (size_t)cap * sizeof *c);
        if (!c)
            return NULL;
        L->conns = c;
        L->capconns = cap;
    }
    lconn_t *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    int err;
    k->c = bbc_conn_new(addr, &err);
    if (!k->c) {
        free(k);
        return NULL;
    }
    bbc_conn_set_keep(k->c, !L->o.no_keep);
    resp_init(&k->resp);
    k->pool = pool;
    k->id = L->nconns;
    L->conns[L->nconns++] = k;
    return k;
}

int load_pool_add_conn(loop_t *L, pool_t *p, const bbc_addr_t *addr)
{
    lconn_t **c = realloc(p->conns, (size_t)(p->nconns + 1) * sizeof *c);
    if (!c)
        return -1;
    p->conns = c;
    lconn_t *k = conn_new(L, p, addr);
    if (!k)
        return -1;
    p->conns[p->nconns++] = k;
    return 0;
}

static int pool_enqueue(pool_t *p, lsinger_t *ls)
{
    if (p->qlen == p->qcap) {
        int cap = p->qcap ? p->qcap * 2 : 16;
        lsinger_t **q = malloc((size_t)cap * sizeof *q);
        if (!q)
            return -1;
        for (int i = 0; i < p->qlen; i++)
            q[i] = p->q[(p->qhead + i) % p->qcap];
        free(p->q);
        p->q = q;
        p->qhead = 0;
        p->qcap = cap;
    }
    p->q[(p->qhead + p->qlen) % p->qcap] = ls;
    p->qlen++;
    return 0;
}

static lsinger_t *pool_dequeue(pool_t *p)
{
    while (p->qlen) {
        lsinger_t *ls = p->q[p->qhead];
        p->qhead = (p->qhead + 1) % p->qcap;
        p->qlen--;
        if (ls && ls->state == S_QUEUED)
            return ls;
    }
    return NULL;
}

static void finish(loop_t *L, lconn_t *k, int rc);

static void conn_flush(loop_t *L, lconn_t *k)
{
    int fd = bbc_conn_fd(k->c);
    while (k->out_off < k->out.len) {
        ssize_t n = send(fd, k->out.data + k->out_off, k->out.len - k->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            k->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!k->want_out) {
                k->want_out = true;
                conn_events(L, k, false);
            }
            return;
        }
        finish(L, k, BBC_ESYS);
        return;
    }
    if (k->want_out) {
        k->want_out = false;
        conn_events(L, k, false);
    }
}

/* Sends the pending request of ls on connection k (open or not). */
static void dispatch(loop_t *L, lconn_t *k, lsinger_t *ls)
{
    k->cur = ls;
    ls->state = S_BUSY;
    ls->t_sent = bbc_now_ns(); /* a browser's fetch includes the connect too */
    k->deadline = bbc_now_ns() + (int64_t)L->o.timeout_ms * 1000000;
    resp_reset(&k->resp);
    if (k->state == C_CLOSED) {
        int rc = bbc_conn_open(k->c, -1);
        if (rc != BBC_OK) {
            k->retry_at = bbc_now_ns() + 100000000;
            finish(L, k, rc);
            return;
        }
        k->want_out = true;
        k->state = C_CONNECTING;
        conn_events(L, k, true);
        return; /* the request goes out once connected */
    }
    bbuf_clear(&k->out);
    k->out_off = 0;
    if (bbc_build_request(k->c, &ls->req, &k->out) != BBC_OK) {
        finish(L, k, BBC_EPARAM);
        return;
    }
    k->state = C_BUSY;
    bbc_singer_sent(ls->s);
    conn_flush(L, k);
}

void load_pool_submit(loop_t *L, lsinger_t *ls)
{
    pool_t *p = ls->pool;
    int64_t now = bbc_now_ns();
    lconn_t *closed = NULL;
    for (int i = 0; i < p->nconns; i++) {
        lconn_t *k = p->conns[i];
        if (k->state == C_IDLE) {
            dispatch(L, k, ls);
            return;
        }
        if (k->state == C_CLOSED && !closed && now >= k->retry_at)
            closed = k;
    }
    if (closed) {
        dispatch(L, closed, ls);
        return;
    }
    ls->state = S_QUEUED;
    if (pool_enqueue(p, ls) < 0) {
        fprintf(stderr, "bb-load: out of memory for the request queue\n");
        L->stop = true;
    }
}

void load_pool_kick(loop_t *L, pool_t *p)
{
    int64_t now = bbc_now_ns();
    for (int i = 0; i < p->nconns && p->qlen; i++) {
        lconn_t *k = p->conns[i];
        if (k->state == C_IDLE || (k->state == C_CLOSED && now >= k->retry_at)) {
            lsinger_t *ls = pool_dequeue(p);
            if (ls)
                dispatch(L, k, ls);
        }
    }
}

/* The exchange on k ended: rc is 0 with a whole answer in k->resp, or a
 * transport error.  The connection is closed or idle again before the
 * singer hears of it, so the singer's next request may reuse it. */
static void finish(loop_t *L, lconn_t *k, int rc)
{
    lsinger_t *ls = k->cur;
    k->cur = NULL;
    if (rc != BBC_OK || k->resp.close)
        load_conn_close(L, k);
    else
        k->state = C_IDLE;
    if (ls && ls->s)
        L->done(L, ls, k, rc);
    load_pool_kick(L, k->pool);
}

void load_pool_on_io(loop_t *L, lconn_t *k, uint32_t events)
{
    if (k->state == C_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int rc = bbc_conn_check(k->c);
        if (rc != BBC_OK) {
            k->epoch++;
            k->state = C_CLOSED;
            k->want_out = false;
            k->retry_at = bbc_now_ns() + 100000000;
            finish(L, k, rc);
            return;
        }
        k->state = C_IDLE;
        lsinger_t *ls = k->cur;
        if (ls)
            dispatch(L, k, ls);
        else
            load_pool_kick(L, k->pool);
        return;
    }
    if ((events & EPOLLOUT) && k->state == C_BUSY)
        conn_flush(L, k);
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || k->state == C_CLOSED)
        return;
    uint8_t buf[65536];
    int fd = bbc_conn_fd(k->c);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (k->state == C_BUSY)
                finish(L, k, BBC_ESYS);
            else
                load_conn_close(L, k);
            return;
        }
        size_t used = 0;
        if (n == 0) {
            if (k->state != C_BUSY) {
                load_conn_close(L, k); /* the server closed an idle kept-alive connection */
                load_pool_kick(L, k->pool);
                return;
            }
            int rc = bbc_parse_feed(k->c, NULL, 0, &used, &k->resp);
            finish(L, k, rc == 1 ? BBC_OK : rc < 0 ? rc : BBC_ECLOSED);
            return;
        }
        if (k->state != C_BUSY) {
            load_conn_close(L, k); /* bytes nobody asked for */
            return;
        }
        int rc = bbc_parse_feed(k->c, buf, (size_t)n, &used, &k->resp);
        if (rc < 0) {
            finish(L, k, rc);
            return;
        }
        if (rc == 1) {
            if (used != (size_t)n)
                k->resp.close = 1;
            finish(L, k, BBC_OK);
            return;
        }
    }
}

void load_pool_scan_timeouts(loop_t *L)
{
    int64_t now = bbc_now_ns();
    for (int i = 0; i < L->nconns; i++) {
        lconn_t *k = L->conns[i];
        if ((k->state == C_BUSY || k->state == C_CONNECTING) && k->cur && now > k->deadline) {
            load_conn_close(L, k);
            finish(L, k, BBC_ETIMEOUT);
        }
    }
}
