/*
 * worker.c - bb-worker, the FastCGI responder every singer talks to.
 *
 * Single-threaded, one process per shard.  It listens on a TCP address, a
 * Unix socket or an inherited socket (descriptor 0, as systemd socket
 * activation and spawn-fcgi hand it over), attaches to the daemon's segment,
 * takes the command lane of its worker id, and answers requests one at a
 * time with libfcgi:
 *
 *   GET     the clock probe (or start_profile / stop_profile / get_profile /
 *           metrics, routed on the last path segment)
 *   OPTIONS the CORS preflight
 *   POST    the audio exchange (exchange.c), reset_events, upload
 *
 * Every response carries the CORS set and X-Worker-Id.  SIGTERM and SIGINT
 * finish the request in progress and exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "exchange.h"
#include "jsonw.h"
#include "meta.h"
#include "prof.h"
#include "ring.h"
#include "segment.h"
#include "snap.h"
#include "stopfd.h"
#include "timeline.h"
#include "upload.h"

#define CORS "Access-Control-Allow-Origin: *\r\n" \
             "Access-Control-Allow-Headers: Content-Type, X-Event-Data\r\n" \
             "Access-Control-Expose-Headers: X-Audio-Metadata\r\n"
#define METRICS_CAP 65536
#define WK_COMMAND_SYNC_NS (100 * 1000000LL)
/* The largest response header this worker writes: the metadata at its
 * bound (meta.h) and the status, CORS, type and id lines around it.
 * nginx's fastcgi_buffer_size is rendered from it (--header-max). */
#define WK_HEADER_MAX (MT_META_CAP + 1024)

typedef struct {
    const char *listen;
    const char *segment;
    int worker_id;
    int max_singers;
    int wait_segment;
    const char *audio_dir;
    const char *recordings_dir;
    bool no_sharing;
} wk_config_t;

/* The worker's own state: one per process, owned by main(). */
typedef struct {
    wk_config_t cfg;
    seg_t *seg;
    ex_t *ex;
    upl_t *upl;
    uint8_t *body;          /* request body buffer */
    size_t body_cap;
    char *text;             /* METRICS_CAP bytes for text responses */
    int64_t started;
    uint64_t probes, options, other;
} wk_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bb-worker [OPTIONS]\n"
            "\n"
            "The Bucket Brigade FastCGI worker: answers singers' requests, one process per shard.\n"
            "\n"
            "  -l, --listen ADDR       where to listen: HOST:PORT, [V6ADDR]:PORT, unix:/PATH or fd:N;\n"
            "                          default: the inherited socket on descriptor 0 (systemd\n"
            "                          socket activation, spawn-fcgi)\n"
            "  -s, --segment NAME      shared-memory segment of the daemon (default /bb)\n"
            "  -w, --worker-id N       this worker's id, 0..%d; unique per host (default 0)\n"
            "  -m, --max-singers N     singers this worker can hold (default 8192)\n"
            "  -a, --audio-dir DIR     backing-track directory, where uploads are written\n"
            "                          (default: uploads disabled)\n"
            "  -R, --recordings-dir DIR  write each singer's stem of every song here, as\n"
            "                          Ogg Opus (the packets they sent; default: no stems)\n"
            "      --wait-segment SECS wait this long for the daemon's segment (default 10)\n"
            "      --no-share-encoding encode every singer's mix privately (costs CPU; the\n"
            "                          shared path gives the same packets)\n"
            "      --header-max        print the size of the largest response header this\n"
            "                          worker writes, in nginx's units (for fastcgi_buffer_size),\n"
            "                          and exit\n"
            "  -h, --help              this text\n"
            "\n"
            "Logs go to stderr, one line per event.\n",
            SEG_LANES - 1);
}

static int parse_args(int argc, char **argv, wk_config_t *c)
{
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},
        {"segment", required_argument, 0, 's'},
        {"worker-id", required_argument, 0, 'w'},
        {"max-singers", required_argument, 0, 'm'},
        {"audio-dir", required_argument, 0, 'a'},
        {"recordings-dir", required_argument, 0, 'R'},
        {"wait-segment", required_argument, 0, 'W'},
        {"no-share-encoding", no_argument, 0, 'N'},
        {"header-max", no_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    c->segment = "/bb";
    c->max_singers = 8192;
    c->wait_segment = 10;
    int o;
    while ((o = getopt_long(argc, argv, "l:s:w:m:a:R:h", opts, NULL)) != -1) {
        char *end;
        switch (o) {
        case 'l': c->listen = optarg; break;
        case 's': c->segment = optarg; break;
        case 'a': c->audio_dir = optarg; break;
        case 'R': c->recordings_dir = optarg; break;
        case 'w':
            c->worker_id = (int)strtol(optarg, &end, 10);
            if (*end || c->worker_id < 0 || c->worker_id >= SEG_LANES) {
                fprintf(stderr, "bb-worker: --worker-id must be 0..%d\n", SEG_LANES - 1);
                return -1;
            }
            break;
        case 'm':
            c->max_singers = (int)strtol(optarg, &end, 10);
            if (*end || c->max_singers < 1 || c->max_singers > 1 << 20) {
                fprintf(stderr, "bb-worker: --max-singers must be 1..%d\n", 1 << 20);
                return -1;
            }
            break;
        case 'W':
            c->wait_segment = (int)strtol(optarg, &end, 10);
            if (*end || c->wait_segment < 0 || c->wait_segment > 3600) {
                fprintf(stderr, "bb-worker: --wait-segment must be 0..3600\n");
                return -1;
            }
            break;
        case 'N': c->no_sharing = true; break;
        case 'H': printf("%dk\n", (WK_HEADER_MAX + 1023) / 1024); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bb-worker: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* ---- listening ----------------------------------------------------------- */

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "bb-worker: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "bb-worker: socket(AF_UNIX): %s\n", strerror(errno));
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "bb-worker: bind/listen(%s): %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    /* nginx may run as another user: the socket is as open as its folder. */
    chmod(path, 0666);
    return fd;
}

static int listen_tcp(const char *addr)
{
    char host[256];
    const char *port;
    if (addr[0] == '[') {
        const char *e = strchr(addr, ']');
        if (!e || e[1] != ':' || (size_t)(e - addr - 1) >= sizeof host) {
            fprintf(stderr, "bb-worker: bad address '%s' (want [V6ADDR]:PORT)\n", addr);
            return -1;
        }
        memcpy(host, addr + 1, (size_t)(e - addr - 1));
        host[e - addr - 1] = '\0';
        port = e + 2;
    } else {
        const char *c = strrchr(addr, ':');
        if (!c || (size_t)(c - addr) >= sizeof host) {
            fprintf(stderr, "bb-worker: bad address '%s' (want HOST:PORT)\n", addr);
            return -1;
        }
        memcpy(host, addr, (size_t)(c - addr));
        host[c - addr] = '\0';
        port = c + 1;
    }
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "bb-worker: getaddrinfo(%s): %s\n", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "bb-worker: bind/listen(%s): %s\n", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static int open_listener(const char *addr)
{
    if (!addr || strncmp(addr, "fd:", 3) == 0) {
        int fd = addr ? atoi(addr + 3) : 0;
        int type;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
            fprintf(stderr, "bb-worker: descriptor %d is not a socket (%s); give --listen\n", fd,
                    strerror(errno));
            return -1;
        }
        return fd;
    }
    if (strncmp(addr, "unix:", 5) == 0)
        return listen_unix(addr + 5);
    return listen_tcp(addr);
}

/* ---- responses -------------------------------------------------------- */

static void put_head(wk_t *w, FCGX_Request *r, const char *status, const char *ctype,
                     const char *meta, size_t len)
{
    FCGX_FPrintF(r->out, "Status: %s\r\n" CORS "X-Worker-Id: %d\r\n", status, w->cfg.worker_id);
    if (ctype)
        FCGX_FPrintF(r->out, "Content-Type: %s\r\n", ctype);
    if (meta) {
        FCGX_PutS("X-Audio-Metadata: ", r->out);
        FCGX_PutS(meta, r->out);
        FCGX_PutS("\r\n", r->out);
    }
    /* libfcgi's printf knows no %zu */
    FCGX_FPrintF(r->out, "Content-Length: %lu\r\n\r\n", (unsigned long)len);
}

static void reply_text(wk_t *w, FCGX_Request *r, const char *status, const char *text)
{
    size_t n = strlen(text);
    put_head(w, r, status, "text/plain; charset=utf-8", NULL, n);
    FCGX_PutStr(text, (int)n, r->out);
}

static void reply_json_error(wk_t *w, FCGX_Request *r, const char *status, const char *msg)
{
    char buf[1024];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    jw_obj_begin(&j);
    jw_key(&j, "error");
    jw_str(&j, msg);
    jw_obj_end(&j);
    size_t n = strlen(buf);
    put_head(w, r, status, "application/json", NULL, n);
    FCGX_PutStr(buf, (int)n, r->out);
}

static const char *status_line(int code)
{
    switch (code) {
    case 200: return "200 OK";
    case 204: return "204 No Content";
    case 400: return "400 Bad Request";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 409: return "409 Conflict";
    case 413: return "413 Payload Too Large";
    case 415: return "415 Unsupported Media Type";
    case 500: return "500 Internal Server Error";
    case 503: return "503 Service Unavailable";
    default: return "500 Internal Server Error";
    }
}

/* The last segment of the request path ("/api/reset_events" gives
 * "reset_events"). */
static void last_segment(FCGX_Request *r, char *out, size_t cap)
{
    const char *uri = FCGX_GetParam("DOCUMENT_URI", r->envp);
    if (!uri)
        uri = FCGX_GetParam("REQUEST_URI", r->envp);
    if (!uri)
        uri = FCGX_GetParam("SCRIPT_NAME", r->envp);
    if (!uri)
        uri = "/";
    size_t n = strcspn(uri, "?");
    while (n > 0 && uri[n - 1] == '/')
        n--;
    size_t s = n;
    while (s > 0 && uri[s - 1] != '/')
        s--;
    size_t len = n - s < cap - 1 ? n - s : cap - 1;
    memcpy(out, uri + s, len);
    out[len] = '\0';
}

/* Reads the request body (at most cap bytes).  Returns its length, -1 if it
 * is longer than cap, -2 if it ended early. */
static long read_body(FCGX_Request *r, uint8_t *buf, size_t cap)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->envp);
    long len = cl && *cl ? strtol(cl, NULL, 10) : 0;
    if (len < 0)
        return -2;
    if ((size_t)len > cap) {
        /* Read and drop it all: what is left unread of the body would be
         * taken for the next request on this kept-alive connection. */
        char sink[4096];
        long left = len;
        while (left > 0) {
            int k = FCGX_GetStr(sink, (int)(left < (long)sizeof sink ? left : (long)sizeof sink), r->in);
            if (k <= 0)
                break;
            left -= k;
        }
        return -1;
    }
    long got = 0;
    while (got < len) {
        int k = FCGX_GetStr((char *)buf + got, (int)(len - got), r->in);
        if (k <= 0)
            return -2;
        got += k;
    }
    return got;
}

static void handle_probe(wk_t *w, FCGX_Request *r)
{
    char meta[128];
    snprintf(meta, sizeof meta, "{\"server_clock\": %" PRId64 ", \"server_sample_rate\": %d}",
             seg_now(), RING_SAMPLE_RATE);
    put_head(w, r, "200 OK", "application/octet-stream", meta, 2);
    FCGX_PutStr("ok", 2, r->out);
    w->probes++;
}

static void handle_metrics(wk_t *w, FCGX_Request *r)
{
    const ex_counters_t *c = ex_counters(w->ex);
    seg_header_shared_t *h = seg_header(w->seg);
    int64_t now = seg_now();
    size_t n = prof_metrics(ex_prof_life(w->ex), "bb_worker", w->text, METRICS_CAP);
    n += (size_t)snprintf(
        w->text + n, METRICS_CAP - n,
        "# HELP bb_worker_requests_total Audio exchanges by outcome.\n"
        "# TYPE bb_worker_requests_total counter\n"
        "bb_worker_requests_total{outcome=\"ok\"} %" PRIu64 "\n"
        "bb_worker_requests_total{outcome=\"bad_request\"} %" PRIu64 "\n"
        "bb_worker_requests_total{outcome=\"kill_client\"} %" PRIu64 "\n"
        "bb_worker_requests_total{outcome=\"busy\"} %" PRIu64 "\n"
        "# TYPE bb_worker_desyncs_total counter\nbb_worker_desyncs_total %" PRIu64 "\n"
        "# TYPE bb_worker_samples_in_total counter\nbb_worker_samples_in_total %" PRIu64 "\n"
        "# TYPE bb_worker_samples_out_total counter\nbb_worker_samples_out_total %" PRIu64 "\n"
        "# TYPE bb_worker_refused_writes_total counter\nbb_worker_refused_writes_total %" PRIu64 "\n"
        "# TYPE bb_worker_probes_total counter\nbb_worker_probes_total %" PRIu64 "\n"
        "# TYPE bb_worker_singers gauge\nbb_worker_singers %u\n"
        "# TYPE bb_worker_singers_created_total counter\nbb_worker_singers_created_total %" PRIu64 "\n"
        "# TYPE bb_worker_uptime_seconds gauge\nbb_worker_uptime_seconds %.1f\n"
        "# HELP bb_daemon_heartbeat_age_seconds Time since the daemon's last tick.\n"
        "# TYPE bb_daemon_heartbeat_age_seconds gauge\nbb_daemon_heartbeat_age_seconds %.3f\n"
        "# TYPE bb_timeline_ahead_seconds gauge\nbb_timeline_ahead_seconds %.3f\n",
        c->ok, c->bad_request, c->killed, c->busy, c->desyncs, c->samples_in, c->samples_out,
        c->refused_writes, w->probes, ex_singers(w->ex), c->singers_created,
        (double)(now - w->started) / RING_SAMPLE_RATE,
        (double)(now - load_relaxed(&h->heartbeat)) / RING_SAMPLE_RATE,
        (double)(tl_watermark(w->seg) - now) / RING_SAMPLE_RATE);
    ex_share_t sh;
    ex_share(w->ex, &sh);
    if (n < METRICS_CAP)
        n += (size_t)snprintf(
            w->text + n, METRICS_CAP - n,
            "# HELP bb_worker_frames_total 60 ms frames rendered, or served from the render cache.\n"
            "# TYPE bb_worker_frames_total counter\n"
            "bb_worker_frames_total{source=\"rendered\"} %" PRIu64 "\n"
            "bb_worker_frames_total{source=\"cache\"} %" PRIu64 "\n"
            "# HELP bb_worker_packets_total Opus packets of the shared path: encoded, shared, joined.\n"
            "# TYPE bb_worker_packets_total counter\n"
            "bb_worker_packets_total{source=\"encoded\"} %" PRIu64 "\n"
            "bb_worker_packets_total{source=\"shared\"} %" PRIu64 "\n"
            "bb_worker_packets_total{source=\"joined\"} %" PRIu64 "\n"
            "# TYPE bb_worker_packets_held gauge\nbb_worker_packets_held %u\n"
            "# TYPE bb_worker_encoder_states_held gauge\nbb_worker_encoder_states_held %u\n",
            sh.rendered, sh.render_hits, sh.encoded, sh.packet_hits, sh.joins, sh.packets_held,
            sh.states_held);
    if (n >= METRICS_CAP)
        n = METRICS_CAP - 1;
    put_head(w, r, "200 OK", "text/plain; version=0.0.4", NULL, n);
    FCGX_PutStr(w->text, (int)n, r->out);
}

static void handle_profile(wk_t *w, FCGX_Request *r, const char *what)
{
    prof_t *p = ex_prof_demand(w->ex);
    if (strcmp(what, "start_profile") == 0) {
        prof_reset(p, true);
        reply_text(w, r, "200 OK", "profiling enabled\n");
    } else if (strcmp(what, "stop_profile") == 0) {
        if (p->enabled) {
            p->enabled = false;
            p->stopped_ns = prof_now_ns();
        }
        reply_text(w, r, "200 OK", "profiling disabled\n");
    } else {
        prof_report(p, w->text, METRICS_CAP);
        reply_text(w, r, "200 OK", w->text);
    }
}

static void handle_audio(wk_t *w, FCGX_Request *r)
{
    long len = read_body(r, w->body, EX_MAX_BODY);
    if (len < 0) {
        const char *msg = len == -1 ? "request body too large" : "request body ended early";
        char meta[160];
        snprintf(meta, sizeof meta, "{\"kill_client\": true, \"message\": \"%s\"}", msg);
        put_head(w, r, len == -1 ? "413 Payload Too Large" : "400 Bad Request", "text/plain", meta,
                 strlen(msg));
        FCGX_PutS(msg, r->out);
        return;
    }
    const char *qs = FCGX_GetParam("QUERY_STRING", r->envp);
    ex_request_t req = {
        .query = qs ? qs : "",
        .query_len = qs ? strlen(qs) : 0,
        .body = w->body,
        .body_len = (size_t)len,
        .event_data = FCGX_GetParam("HTTP_X_EVENT_DATA", r->envp),
    };
    ex_response_t res;
    int64_t now = seg_now();
    ex_handle(w->ex, &req, &res, now);
    put_head(w, r, status_line(res.status), res.content_type, res.meta, res.body_len);
    FCGX_PutStr((const char *)res.body, (int)res.body_len, r->out);
}

static void handle_upload(wk_t *w, FCGX_Request *r)
{
    if (!w->upl) {
        reply_json_error(w, r, "404 Not Found", "uploads are not enabled on this server");
        return;
    }
    const char *qs = FCGX_GetParam("QUERY_STRING", r->envp);
    long len = read_body(r, w->body, w->body_cap);
    if (len == -1) {
        reply_json_error(w, r, "413 Payload Too Large", "the file is larger than 32 MiB");
        return;
    }
    if (len < 0) {
        reply_json_error(w, r, "400 Bad Request", "the upload ended early");
        return;
    }
    char name[256], msg[512];
    int code = upl_accept(w->upl, qs ? qs : "", w->body, (size_t)len, name, sizeof name, msg,
                          sizeof msg);
    if (code != 200) {
        reply_json_error(w, r, status_line(code), msg);
        return;
    }
    ex_rescan_tracks(w->ex, seg_now());
    char buf[512];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    jw_obj_begin(&j);
    jw_key(&j, "track");
    jw_str(&j, name);
    jw_obj_end(&j);
    put_head(w, r, "200 OK", "application/json", NULL, strlen(buf));
    FCGX_PutS(buf, r->out);
}

static void handle(wk_t *w, FCGX_Request *r)
{
    const char *method = FCGX_GetParam("REQUEST_METHOD", r->envp);
    char seg[64];
    last_segment(r, seg, sizeof seg);
    if (!method)
        method = "GET";
    if (strcmp(method, "OPTIONS") == 0) {
        put_head(w, r, "200 OK", NULL, NULL, 0);
        w->options++;
        return;
    }
    size_t sl = strlen(seg);
    bool is_reset = sl >= 12 && strcmp(seg + sl - 12, "reset_events") == 0;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        if (strcmp(seg, "start_profile") == 0 || strcmp(seg, "stop_profile") == 0 ||
            strcmp(seg, "get_profile") == 0)
            handle_profile(w, r, seg);
        else if (strcmp(seg, "metrics") == 0)
            handle_metrics(w, r);
        else
            handle_probe(w, r);
        return;
    }
    if (strcmp(method, "POST") == 0) {
        if (is_reset) {
            if (ex_reset_events(w->ex, seg_now()) != 0)
                reply_text(w, r, "503 Service Unavailable", "the server is busy; retry\n");
            else
                put_head(w, r, "204 No Content", NULL, NULL, 0);
        } else if (strcmp(seg, "upload") == 0) {
            handle_upload(w, r);
        } else {
            handle_audio(w, r);
        }
        return;
    }
    w->other++;
    reply_text(w, r, "405 Method Not Allowed", "method not allowed\n");
}

/* ---- main ----------------------------------------------------------------- */

/* ---- connections ---------------------------------------------------------- *
 *
 * nginx keeps several FastCGI connections open to each worker (one per
 * request in flight per nginx process, kept alive between requests).  The
 * worker serves them all from one thread: epoll tells which connection has
 * a request, and each connection has its own libfcgi request object whose
 * descriptor is that connection, so FCGX_Accept_r() reads the next request
 * from it rather than accepting.  A request arrives whole (nginx buffers the
 * body first), so the reads libfcgi does are short; a receive timeout bounds
 * them against a peer that stalls.  SIGTERM and SIGINT arrive on a signalfd
 * in the same epoll set and stop the loop between requests.
 */

#define MAX_CONNS 4096

typedef struct {
    FCGX_Request req;
    bool used;
} conn_t;

static void conn_close(int ep, conn_t *c, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    /* Frees libfcgi's buffers; closes the descriptor unless it is gone. */
    FCGX_Free(&c->req, 1);
    if (c->req.ipcFd >= 0)
        close(c->req.ipcFd);
    c->used = false;
}

static void conn_open(wk_t *w, int ep, conn_t *conns, int fd)
{
    if (fd >= MAX_CONNS) {
        fprintf(stderr, "bb-worker[%d]: too many connections (fd %d); refusing\n", w->cfg.worker_id, fd);
        close(fd);
        return;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    conn_t *c = &conns[fd];
    /* No listening socket of its own: if the peer closes, FCGX_Accept_r()
     * fails instead of accepting. */
    FCGX_InitRequest(&c->req, -1, FCGI_FAIL_ACCEPT_ON_INTR);
    c->req.ipcFd = fd;
    /* FCGX_Accept_r() first finishes the previous request and closes the
     * connection unless it is kept: keep it until a request says. */
    c->req.keepConnection = 1;
    /* "Detached": closing is a plain close(), without libfcgi's drain that
     * waits on select() (which cannot take descriptors above 1023). */
    c->req.detached = 1;
    c->used = true;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        fprintf(stderr, "bb-worker[%d]: epoll_ctl: %s\n", w->cfg.worker_id, strerror(errno));
        close(fd);
        c->used = false;
    }
}

/* Serves until SIGTERM / SIGINT.  Returns 0, or -1 on a setup failure. */
static int serve(wk_t *w, int lfd)
{
    signal(SIGPIPE, SIG_IGN);
    int sfd = stopfd_open();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn_t *conns = calloc(MAX_CONNS, sizeof *conns);
    if (sfd < 0 || ep < 0 || !conns) {
        fprintf(stderr, "bb-worker[%d]: signalfd/epoll: %s\n", w->cfg.worker_id, strerror(errno));
        free(conns);
        return -1;
    }
    int fl = fcntl(lfd, F_GETFL);
    fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    bool stop = false;
    while (!stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 1000);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "bb-worker[%d]: epoll_wait: %s\n", w->cfg.worker_id, strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sfd) {
                fprintf(stderr, "bb-worker[%d]: signal %d: stopping\n", w->cfg.worker_id,
                        stopfd_read(sfd));
                stop = true;
            } else if (fd == lfd) {
                for (;;) {
                    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                    if (cfd < 0)
                        break;
                    conn_open(w, ep, conns, cfd);
                }
            } else if (fd < MAX_CONNS && conns[fd].used) {
                conn_t *c = &conns[fd];
                if (FCGX_Accept_r(&c->req) < 0 || c->req.ipcFd < 0) {
                    conn_close(ep, c, fd);
                    continue;
                }
                handle(w, &c->req);
                FCGX_Finish_r(&c->req);
                /* Without keep-alive libfcgi has closed the connection. */
                if (c->req.ipcFd < 0) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    c->used = false;
                }
            }
        }
        ex_housekeeping(w->ex, seg_now());
    }
    for (int fd = 0; fd < MAX_CONNS; fd++)
        if (conns[fd].used)
            conn_close(ep, &conns[fd], fd);
    free(conns);
    close(ep);
    close(sfd);
    return 0;
}

static seg_t *attach_wait(const wk_config_t *c)
{
    seg_err_t err;
    bool said = false;
    for (int tenths = 0;; tenths++) {
        seg_t *s = seg_attach(c->segment, &err);
        if (s)
            return s;
        if (err.code != SEG_ENOENT || tenths >= c->wait_segment * 10) {
            fprintf(stderr, "bb-worker[%d]: %s\n", c->worker_id, err.msg);
            return NULL;
        }
        if (!said) {
            fprintf(stderr, "bb-worker[%d]: waiting for segment %s (is bb-shmd running?)\n",
                    c->worker_id, c->segment);
            said = true;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    wk_t w = {0};
    int rc = 1;
    if (parse_args(argc, argv, &w.cfg))
        return 2;
    int lfd = open_listener(w.cfg.listen);
    if (lfd < 0)
        return 1;
    w.seg = attach_wait(&w.cfg);
    if (!w.seg)
        goto err;
    seg_err_t err;
    if (seg_claim_lane(w.seg, (uint32_t)w.cfg.worker_id, &err)) {
        fprintf(stderr, "bb-worker[%d]: %s\n", w.cfg.worker_id, err.msg);
        goto err;
    }
    char why[256];
    w.ex = ex_create(w.seg, (uint32_t)w.cfg.worker_id, (uint32_t)w.cfg.max_singers,
                     w.cfg.recordings_dir, why, sizeof why);
    if (!w.ex) {
        fprintf(stderr, "bb-worker[%d]: %s\n", w.cfg.worker_id, why);
        goto err;
    }
    ex_set_sharing(w.ex, !w.cfg.no_sharing);
    /* A singer's commands apply before its next request; the daemon takes
     * well under a millisecond when it is scheduled, so the bound is only
     * for a daemon starved of CPU. */
    ex_set_command_sync(w.ex, WK_COMMAND_SYNC_NS);
    if (w.cfg.audio_dir) {
        w.upl = upl_create(w.cfg.audio_dir, why, sizeof why);
        if (!w.upl) {
            fprintf(stderr, "bb-worker[%d]: uploads disabled: %s\n", w.cfg.worker_id, why);
        }
    }
    w.body_cap = w.upl ? UPL_MAX_BYTES : EX_MAX_BODY;
    w.body = malloc(w.body_cap);
    w.text = malloc(METRICS_CAP);
    if (!w.body || !w.text) {
        fprintf(stderr, "bb-worker[%d]: out of memory\n", w.cfg.worker_id);
        goto err;
    }
    w.started = seg_now();

    if (FCGX_Init() != 0) {
        fprintf(stderr, "bb-worker[%d]: FCGX_Init failed\n", w.cfg.worker_id);
        goto err;
    }
    fprintf(stderr, "bb-worker[%d]: serving %s on %s (pid %d)\n", w.cfg.worker_id,
            w.cfg.segment, w.cfg.listen ? w.cfg.listen : "fd:0", (int)getpid());
    if (serve(&w, lfd) != 0)
        goto err;
    fprintf(stderr, "bb-worker[%d]: stopping after %" PRIu64 " exchanges\n", w.cfg.worker_id,
            ex_counters(w.ex)->requests);
    rc = 0;
err:
    upl_destroy(w.upl);
    ex_destroy(w.ex);
    seg_detach(w.seg);
    free(w.body);
    free(w.text);
    return rc;
}
