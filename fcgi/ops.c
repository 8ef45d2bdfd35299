/*
 * ops.c - the operator's socket: metrics and profiling over HTTP/1.0
 * (ops.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "media/recname.h"
#include "ops.h"
#include "ring.h"
#include "timeline.h"

#define OPS_CAP 131072

struct ops {
    ops_config_t cfg;
    char body[OPS_CAP];
    char rooms[OPS_CAP / 2];   /* the per-room lines, put after the rest */
};

ops_t *ops_create(const ops_config_t *cfg)
{
    ops_t *o = calloc(1, sizeof *o);
    if (o)
        o->cfg = *cfg;
    return o;
}

void ops_destroy(ops_t *o) { free(o); }

/* A growing text in a fixed buffer: appends stop at its end. */
typedef struct {
    char *buf;
    size_t len, cap;
} text_t;

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_t *t, const char *fmt, ...)
{
    if (t->len >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len = n < 0 ? t->cap : t->len + (size_t)n > t->cap - 1 ? t->cap - 1 : t->len + (size_t)n;
}

typedef struct {
    ex_counters_t c;
    ex_share_t sh;
    uint32_t singers;
    text_t *rooms;        /* per-room gauges */
    int64_t now;
} sum_t;

static void add_room(void *user, wr_room_t *r)
{
    sum_t *s = user;
    ex_t *ex = wr_ex(r);
    const ex_counters_t *c = ex_counters(ex);
    s->c.ok += c->ok;
    s->c.bad_request += c->bad_request;
    s->c.killed += c->killed;
    s->c.busy += c->busy;
    s->c.newcomers_refused += c->newcomers_refused;
    s->c.desyncs += c->desyncs;
    s->c.samples_in += c->samples_in;
    s->c.rest_frames += c->rest_frames;
    s->c.samples_out += c->samples_out;
    s->c.refused_writes += c->refused_writes;
    s->c.stems_capped += c->stems_capped;
    s->c.singers_created += c->singers_created;
    s->c.stream_lost += c->stream_lost;
    s->c.private_frames += c->private_frames;
    ex_share_t sh;
    ex_share(ex, &sh);
    s->sh.rendered += sh.rendered;
    s->sh.render_hits += sh.render_hits;
    s->sh.encoded += sh.encoded;
    s->sh.packet_hits += sh.packet_hits;
    s->sh.bank_hits += sh.bank_hits;
    s->sh.bank_states += sh.bank_states;
    s->sh.joins += sh.joins;
    s->sh.packets_held += sh.packets_held;
    s->sh.states_held += sh.states_held;
    uint32_t n = ex_singers(ex);
    s->singers += n;
    put(s->rooms, "bb_worker_room_singers{room=\"%s\"} %u\n", wr_info(r)->id, n);
    put(s->rooms, "bb_timeline_ahead_seconds{room=\"%s\"} %.3f\n", wr_info(r)->id,
        (double)(tl_watermark(ex_segment(ex)) - s->now) / RING_SAMPLE_RATE);
}

static size_t metrics(ops_t *o, char *buf, size_t cap)
{
    const ops_config_t *cf = &o->cfg;
    text_t rooms = {o->rooms, 0, sizeof o->rooms};
    sum_t s = {.rooms = &rooms, .now = seg_now()};
    put(&rooms, "# TYPE bb_worker_room_singers gauge\n# TYPE bb_timeline_ahead_seconds gauge\n");
    wr_each(cf->rooms, add_room, &s);
    text_t t = {buf, prof_metrics(cf->life, "bb_worker", buf, cap), cap};
    put(&t,
        "# HELP bb_worker_requests_total Audio exchanges by outcome.\n"
        "# TYPE bb_worker_requests_total counter\n"
        "bb_worker_requests_total{outcome=\"ok\"} %" PRIu64 "\n"
        "bb_worker_requests_total{outcome=\"bad_request\"} %" PRIu64 "\n"
        "bb_worker_requests_total{outcome=\"kill_client\"} %" PRIu64 "\n"
        "bb_worker_requests_total{outcome=\"busy\"} %" PRIu64 "\n"
        "bb_worker_requests_total{outcome=\"too_many_newcomers\"} %" PRIu64 "\n"
        "# HELP bb_worker_refused_total Requests refused for their room, key or role.\n"
        "# TYPE bb_worker_refused_total counter\nbb_worker_refused_total %" PRIu64 "\n"
        "# TYPE bb_worker_desyncs_total counter\nbb_worker_desyncs_total %" PRIu64 "\n"
        "# TYPE bb_worker_samples_in_total counter\nbb_worker_samples_in_total %" PRIu64 "\n"
        "# HELP bb_worker_rest_frames_total 60 ms frames of resting voices counted but not decoded.\n"
        "# TYPE bb_worker_rest_frames_total counter\nbb_worker_rest_frames_total %" PRIu64 "\n"
        "# TYPE bb_worker_samples_out_total counter\nbb_worker_samples_out_total %" PRIu64 "\n"
        "# TYPE bb_worker_refused_writes_total counter\nbb_worker_refused_writes_total %" PRIu64 "\n"
        "# TYPE bb_worker_probes_total counter\nbb_worker_probes_total %" PRIu64 "\n"
        "# TYPE bb_worker_singers gauge\nbb_worker_singers %u\n"
        "# TYPE bb_worker_rooms gauge\nbb_worker_rooms %u\n"
        "# TYPE bb_worker_singers_created_total counter\nbb_worker_singers_created_total %" PRIu64 "\n"
        "# TYPE bb_worker_uptime_seconds gauge\nbb_worker_uptime_seconds %.1f\n"
        "# HELP bb_daemon_heartbeat_age_seconds Time since the daemon's last tick.\n"
        "# TYPE bb_daemon_heartbeat_age_seconds gauge\nbb_daemon_heartbeat_age_seconds %.3f\n",
        s.c.ok, s.c.bad_request, s.c.killed, s.c.busy, s.c.newcomers_refused, cf->api->refused, s.c.desyncs, s.c.samples_in, s.c.rest_frames,
        s.c.samples_out, s.c.refused_writes, cf->api->probes, s.singers, wr_count(cf->rooms),
        s.c.singers_created, (double)(s.now - cf->started) / RING_SAMPLE_RATE,
        (double)(s.now - hs_heartbeat(cf->host)) / RING_SAMPLE_RATE);
    put(&t,
        "# HELP bb_worker_frames_total 60 ms frames rendered, or served from the render cache.\n"
        "# TYPE bb_worker_frames_total counter\n"
        "bb_worker_frames_total{source=\"rendered\"} %" PRIu64 "\n"
        "bb_worker_frames_total{source=\"cache\"} %" PRIu64 "\n"
        "# HELP bb_worker_packets_total Opus packets of the shared path: encoded here, shared from\n"
        "# this worker's cache, taken from the room's encode bank (another worker encoded them),\n"
        "# and of those served, joins of newcomers.\n"
        "# TYPE bb_worker_packets_total counter\n"
        "bb_worker_packets_total{source=\"encoded\"} %" PRIu64 "\n"
        "bb_worker_packets_total{source=\"shared\"} %" PRIu64 "\n"
        "bb_worker_packets_total{source=\"bank\"} %" PRIu64 "\n"
        "bb_worker_packets_total{source=\"joined\"} %" PRIu64 "\n"
        "# HELP bb_worker_bank_states_total Encoder states taken from the room's encode bank.\n"
        "# TYPE bb_worker_bank_states_total counter\nbb_worker_bank_states_total %" PRIu64 "\n"
        "# HELP bb_worker_private_frames_total 60 ms frames encoded for one singer alone.\n"
        "# TYPE bb_worker_private_frames_total counter\nbb_worker_private_frames_total %" PRIu64 "\n"
        "# HELP bb_worker_streams_lost_total Singers who left the shared path: their encoder\n"
        "# state was gone.\n"
        "# TYPE bb_worker_streams_lost_total counter\nbb_worker_streams_lost_total %" PRIu64 "\n"
        "# TYPE bb_worker_packets_held gauge\nbb_worker_packets_held %u\n"
        "# TYPE bb_worker_encoder_states_held gauge\nbb_worker_encoder_states_held %u\n",
        s.sh.rendered, s.sh.render_hits, s.sh.encoded, s.sh.packet_hits - s.sh.bank_hits,
        s.sh.bank_hits, s.sh.joins, s.sh.bank_states, s.c.private_frames, s.c.stream_lost,
        s.sh.packets_held, s.sh.states_held);
    /* The limits of the disk: what this worker refused, and what the
     * daemon's keeper of recordings did (host.h; the same on every
     * worker of a host). */
    hs_rec_stats_t rs;
    hs_rec_stats(cf->host, &rs);
    put(&t,
        "# HELP bb_worker_stems_capped_total Singers given no stem: their song had its %d stems.\n"
        "# TYPE bb_worker_stems_capped_total counter\nbb_worker_stems_capped_total %" PRIu64 "\n"
        "# HELP bb_worker_uploads_full_total Uploads refused: their room had reached its bounds.\n"
        "# TYPE bb_worker_uploads_full_total counter\nbb_worker_uploads_full_total %" PRIu64 "\n"
        "# HELP bb_worker_recordings_deleted_total Recordings organisers deleted through this worker.\n"
        "# TYPE bb_worker_recordings_deleted_total counter\nbb_worker_recordings_deleted_total %" PRIu64 "\n"
        "# HELP bb_recordings_deleted_total Songs the daemon deleted, by the limit reached.\n"
        "# TYPE bb_recordings_deleted_total counter\n"
        "bb_recordings_deleted_total{limit=\"count\"} %" PRIu64 "\n"
        "bb_recordings_deleted_total{limit=\"age\"} %" PRIu64 "\n"
        "bb_recordings_deleted_total{limit=\"bytes\"} %" PRIu64 "\n"
        "# HELP bb_recordings_stopped_total Recordings stopped mid-song: the bytes cap was full.\n"
        "# TYPE bb_recordings_stopped_total counter\nbb_recordings_stopped_total %" PRIu64 "\n"
        "# HELP bb_recordings_sealed_total Cut-off recordings the daemon closed after a restart.\n"
        "# TYPE bb_recordings_sealed_total counter\nbb_recordings_sealed_total %" PRIu64 "\n"
        "# HELP bb_recordings_bytes Bytes of all the host's recordings at the daemon's last sweep.\n"
        "# TYPE bb_recordings_bytes gauge\nbb_recordings_bytes %" PRIu64 "\n"
        "# HELP bb_recordings_max_bytes The host's cap on its recordings' bytes (0: none).\n"
        "# TYPE bb_recordings_max_bytes gauge\nbb_recordings_max_bytes %" PRIu64 "\n",
        REC_STEMS_MAX, s.c.stems_capped, upl_refused_full(cf->api->upl), cf->api->deleted,
        rs.deleted[0], rs.deleted[1], rs.deleted[2], rs.stopped, rs.sealed, rs.bytes, rs.max_bytes);
    put(&t, "%s", o->rooms);
    return t.len;
}

static void answer(int fd, int status, const char *ctype, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request", ctype, len);
    if (write(fd, head, (size_t)n) == n) {
        size_t off = 0;
        while (off < len) {
            ssize_t k = write(fd, body + off, len - off);
            if (k <= 0)
                break;
            off += (size_t)k;
        }
    }
}

void ops_serve(ops_t *o, int fd)
{
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* The request line is all that is read: "GET /metrics HTTP/1.x". */
    char req[512];
    size_t got = 0;
    while (got < sizeof req - 1 && !memchr(req, '\n', got)) {
        ssize_t k = read(fd, req + got, sizeof req - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    req[got] = '\0';
    char method[8], path[64];
    char *body = o->body;
    if (sscanf(req, "%7s %63s", method, path) != 2 || strcmp(method, "GET") != 0) {
        answer(fd, 400, "text/plain", "GET only\n", 9);
    } else if (strcmp(path, "/metrics") == 0) {
        size_t n = metrics(o, body, OPS_CAP);
        answer(fd, 200, "text/plain; version=0.0.4", body, n);
    } else if (strcmp(path, "/start_profile") == 0) {
        prof_reset(o->cfg.demand, true);
        answer(fd, 200, "text/plain", "profiling enabled\n", 18);
    } else if (strcmp(path, "/stop_profile") == 0) {
        if (o->cfg.demand->enabled) {
            o->cfg.demand->enabled = false;
            o->cfg.demand->stopped_ns = prof_now_ns();
        }
        answer(fd, 200, "text/plain", "profiling disabled\n", 19);
    } else if (strcmp(path, "/get_profile") == 0) {
        size_t n = prof_report(o->cfg.demand, body, OPS_CAP);
        answer(fd, 200, "text/plain", body, n);
    } else {
        answer(fd, 404, "text/plain", "metrics, start_profile, stop_profile, get_profile\n", 51);
    }
    close(fd);
}
