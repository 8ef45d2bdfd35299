/*
 * worker.c - bb-worker, the FastCGI responder every singer talks to.
 *
 * Single-threaded, one process per shard.  It listens on a TCP address, a
 * Unix socket or an inherited socket (descriptor 0, as systemd socket
 * activation and spawn-fcgi hand it over), attaches to the daemon's host
 * segment, and answers requests one at a time with libfcgi: the public API
 * (api.h), for the rooms the host serves (rooms.h).  Metrics and profiling
 * answer on a separate operator socket (ops.h).  SIGTERM and SIGINT finish
 * the request in progress and exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "api.h"
#include "host.h"
#include "listen.h"
#include "meta.h"
#include "output.h"
#include "ops.h"
#include "prof.h"
#include "ring.h"
#include "rooms.h"
#include "segment.h"
#include "stopfd.h"
#include "upload.h"

/* A singer's commands apply before its next request; the daemon takes
 * well under a millisecond when it is scheduled, so the bound is only for
 * a daemon starved of CPU. */
#define WK_COMMAND_SYNC_NS (100 * 1000000LL)
/* The largest response header this worker writes: the metadata at its
 * bound (meta.h) and the status, CORS, type and id lines around it.
 * nginx's fastcgi_buffer_size is rendered from it (--header-max). */
#define WK_HEADER_MAX (MT_META_CAP + 1024)

typedef struct {
    const char *listen;
    const char *ops;
    const char *segment;
    int worker_id;
    int max_singers;
    int wait_segment;
    const char *audio_dir;
    const char *cache_dir;
    const char *recordings_dir;
    bool no_sharing;
    bool no_bank;
    bool no_timing_watch;
    int private_complexity;
    bool uploads;
} wk_config_t;

/* The worker's own state: one per process, owned by main(). */
typedef struct {
    wk_config_t cfg;
    hs_t *host;
    wr_t *rooms;
    api_t api;
    ops_t *ops;
    prof_t life, demand;
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
            "      --ops ADDR          the operator's socket for metrics and profiling, plain\n"
            "                          HTTP: unix:/PATH (mode 0600) or a loopback HOST:PORT\n"
            "                          (default: none)\n"
            "  -s, --segment NAME      the daemon's host segment (default /bb); each room's\n"
            "                          timeline is NAME-ROOMID\n"
            "  -w, --worker-id N       this worker's id, 0..%d; unique per host (default 0)\n"
            "  -m, --max-singers N     singers one room can have on this worker (default 8192)\n"
            "      --uploads           the upload worker: serve /api/upload and the slides\n"
            "                          alone, reading and decoding uploads apart from the\n"
            "                          singers' workers (needs --audio-dir; slides go to\n"
            "                          DIR/rooms/ROOMID/slides/)\n"
            "  -a, --audio-dir DIR     backing-track directory; a room's uploads go to\n"
            "                          DIR/rooms/ROOMID/ (default: uploads disabled)\n"
            "  -c, --cache-dir DIR     the daemon's prepared tracks, read to bound what a room's\n"
            "                          uploads cost there\n"
            "  -R, --recordings-dir DIR  write each singer's stem of every song in DIR/ROOMID/\n"
            "                          (the default room's in DIR itself), as Ogg Opus (the\n"
            "                          packets they sent; default: no stems)\n"
            "      --wait-segment SECS wait this long for the daemon's host segment (default 10)\n"
            "      --no-share-encoding encode every singer's mix privately (costs CPU; the\n"
            "                          shared path gives the same packets)\n"
            "      --no-encode-bank    share encoded frames among this worker's singers\n"
            "                          only, not through the room's encode bank with the\n"
            "                          other workers (costs CPU; the same packets)\n"
            "      --no-timing-watch   do not measure how early or late singers sing\n"
            "      --private-complexity N|auto  Opus complexity 0..10 of the streams no\n"
            "                          singer can share, such as the original client's\n"
            "                          unaligned clocks; auto (the default): 0 in frames\n"
            "                          where the mix holds at least %d voices (within 1 dB\n"
            "                          SNR of 10 there at a quarter of the CPU, though one\n"
            "                          voice's level may stray a few dB), the shared\n"
            "                          setting %d elsewhere\n"
            "                          (0 on one voice costs 6 dB SNR: see output.h)\n"
            "      --header-max        print the size of the largest response header this\n"
            "                          worker writes, in nginx's units (for fastcgi_buffer_size),\n"
            "                          and exit\n"
            "  -h, --help              this text\n"
            "\n"
            "Logs go to stderr, one line per event.\n",
            SEG_LANES - 1, OUT_AUTO_VOICES, ES_COMPLEXITY);
}

static int parse_args(int argc, char **argv, wk_config_t *c)
{
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},
        {"ops", required_argument, 0, 'O'},
        {"segment", required_argument, 0, 's'},
        {"worker-id", required_argument, 0, 'w'},
        {"max-singers", required_argument, 0, 'm'},
        {"audio-dir", required_argument, 0, 'a'},
        {"cache-dir", required_argument, 0, 'c'},
        {"uploads", no_argument, 0, 'U'},
        {"recordings-dir", required_argument, 0, 'R'},
        {"wait-segment", required_argument, 0, 'W'},
        {"no-share-encoding", no_argument, 0, 'N'},
        {"no-encode-bank", no_argument, 0, 'B'},
        {"no-timing-watch", no_argument, 0, 'T'},
        {"private-complexity", required_argument, 0, 'C'},
        {"header-max", no_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    c->segment = "/bb";
    c->max_singers = 8192;
    c->wait_segment = 10;
    c->private_complexity = OUT_PRIVATE_COMPLEXITY;
    int o;
    while ((o = getopt_long(argc, argv, "l:s:w:m:a:c:R:h", opts, NULL)) != -1) {
        char *end;
        switch (o) {
        case 'l': c->listen = optarg; break;
        case 'O': c->ops = optarg; break;
        case 's': c->segment = optarg; break;
        case 'a': c->audio_dir = optarg; break;
        case 'c': c->cache_dir = optarg; break;
        case 'U': c->uploads = true; break;
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
        case 'B': c->no_bank = true; break;
        case 'T': c->no_timing_watch = true; break;
        case 'C':
            c->private_complexity = strcmp(optarg, "auto") == 0 ? OUT_COMPLEXITY_AUTO
                                                                : (int)strtol(optarg, &end, 10);
            if (c->private_complexity != OUT_COMPLEXITY_AUTO &&
                (*end || !*optarg || c->private_complexity < 0 || c->private_complexity > 10)) {
                fprintf(stderr, "bb-worker: --private-complexity must be 0..10 or auto\n");
                return -1;
            }
            break;
        case 'H': printf("%dk\n", (WK_HEADER_MAX + 1023) / 1024); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bb-worker: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (c->uploads && !c->audio_dir) {
        fprintf(stderr, "bb-worker: --uploads needs --audio-dir\n");
        return -1;
    }
    return 0;
}

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
static int serve(wk_t *w, int lfd, int ofd)
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
    if (ofd >= 0) {
        fcntl(ofd, F_SETFL, fcntl(ofd, F_GETFL) | O_NONBLOCK);
        ev.data.fd = ofd;
        epoll_ctl(ep, EPOLL_CTL_ADD, ofd, &ev);
    }
    int64_t last_house = 0;
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
            } else if (fd == ofd) {
                int cfd;
                while ((cfd = accept4(ofd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
                    ops_serve(w->ops, cfd);
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
                api_handle(&w->api, &c->req);
                FCGX_Finish_r(&c->req);
                /* Without keep-alive libfcgi has closed the connection. */
                if (c->req.ipcFd < 0) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    c->used = false;
                }
            }
        }
        int64_t now = seg_now();
        if (now - last_house >= RING_SAMPLE_RATE) {
            wr_housekeeping(w->rooms, now);
            last_house = now;
        }
    }
    for (int fd = 0; fd < MAX_CONNS; fd++)
        if (conns[fd].used)
            conn_close(ep, &conns[fd], fd);
    free(conns);
    close(ep);
    close(sfd);
    return 0;
}

static hs_t *attach_wait(const wk_config_t *c)
{
    seg_err_t err;
    bool said = false;
    for (int tenths = 0;; tenths++) {
        hs_t *h = hs_attach(c->segment, &err);
        if (h)
            return h;
        if (err.code != SEG_ENOENT || tenths >= c->wait_segment * 10) {
            fprintf(stderr, "bb-worker[%d]: %s\n", c->worker_id, err.msg);
            return NULL;
        }
        if (!said) {
            fprintf(stderr, "bb-worker[%d]: waiting for the host segment %s (is bb-shmd running?)\n",
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
    int rc = 1, ofd = -1;
    if (parse_args(argc, argv, &w.cfg))
        return 2;
    /* nginx may run as another user: the API socket is as open as its
     * folder; the operator's is the owner's alone. */
    int lfd = ln_open(w.cfg.listen, false, 0666);
    if (lfd < 0)
        return 1;
    if (w.cfg.ops && (ofd = ln_open(w.cfg.ops, true, 0600)) < 0)
        goto err;
    w.host = attach_wait(&w.cfg);
    if (!w.host)
        goto err;
    prof_reset(&w.life, true);
    prof_reset(&w.demand, false);
    wr_config_t rc_cfg = {
        .host_segment = w.cfg.segment,
        .worker_id = (uint32_t)w.cfg.worker_id,
        .max_singers = (uint32_t)w.cfg.max_singers,
        .recordings_dir = w.cfg.recordings_dir,
        .no_sharing = w.cfg.no_sharing,
        .no_bank = w.cfg.no_bank,
        .no_timing_watch = w.cfg.no_timing_watch,
        .private_complexity = w.cfg.private_complexity,
        .sync_ns = WK_COMMAND_SYNC_NS,
        .life = &w.life,
        .demand = &w.demand,
    };
    w.rooms = wr_create(&rc_cfg, w.host);
    char why[256];
    upl_t *upl = NULL;
    if (w.cfg.audio_dir && !(upl = upl_create(w.cfg.audio_dir, w.cfg.cache_dir, why, sizeof why)))
        fprintf(stderr, "bb-worker[%d]: uploads disabled: %s\n", w.cfg.worker_id, why);
    if (w.cfg.uploads && !upl)
        goto err;
    /* The slides, on the upload worker alone: decoding an image is as
     * slow as a track for a singer's exchange to wait behind. */
    sl_t *slides = NULL;
    if (w.cfg.uploads && !(slides = sl_create(w.cfg.audio_dir, why, sizeof why))) {
        fprintf(stderr, "bb-worker[%d]: %s\n", w.cfg.worker_id, why);
        upl_destroy(upl);
        goto err;
    }
    w.api = (api_t){.worker_id = w.cfg.worker_id, .rooms = w.rooms, .upl = upl, .slides = slides,
                    .uploads_only = w.cfg.uploads, .body_cap = upl ? UPL_MAX_BYTES : EX_MAX_BODY};
    w.api.body = malloc(w.api.body_cap);
    w.api.recordings_dir = w.cfg.recordings_dir;
    w.api.text_cap = 256 * 1024;
    w.api.text = malloc(w.api.text_cap);
    w.api.newcomers = nc_create();
    ops_config_t oc = {w.rooms, &w.api, &w.life, &w.demand, seg_now(), w.host};
    w.ops = ops_create(&oc);
    if (!w.rooms || !w.api.body || !w.api.text || !w.api.newcomers || !w.ops) {
        fprintf(stderr, "bb-worker[%d]: out of memory\n", w.cfg.worker_id);
        goto err;
    }
    if (FCGX_Init() != 0) {
        fprintf(stderr, "bb-worker[%d]: FCGX_Init failed\n", w.cfg.worker_id);
        goto err;
    }
    fprintf(stderr, "bb-worker[%d]: serving %s on %s (pid %d)\n", w.cfg.worker_id,
            w.cfg.segment, w.cfg.listen ? w.cfg.listen : "fd:0", (int)getpid());
    if (serve(&w, lfd, ofd) != 0)
        goto err;
    fprintf(stderr, "bb-worker[%d]: stopping after %" PRIu64 " exchanges\n", w.cfg.worker_id,
            w.life.st[PROF_REQUEST].count);
    rc = 0;
err:
    ops_destroy(w.ops);
    wr_destroy(w.rooms);
    upl_destroy(w.api.upl);
    sl_destroy(w.api.slides);
    free(w.api.body);
    free(w.api.text);
    nc_destroy(w.api.newcomers);
    hs_detach(w.host);
    if (ofd >= 0)
        close(ofd);
    close(lfd);
    return rc;
}
