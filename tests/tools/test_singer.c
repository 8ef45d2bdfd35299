/*
 * test_singer.c - the singer end to end against the stand-in worker
 * (mockworker.h) over every transport: FastCGI on a unix socket, on
 * 127.0.0.1 and on [::1], HTTP/1.1 with Content-Length and chunked answers.
 * It checks what goes on the wire (query, X-Event-Data, clocks), what comes
 * back (loopback audio decodes to the tone sent), the delay move, error
 * answers (kill_client desync, broken continuity), a shared connection,
 * spectator and pre-encoded modes, pacing, timeouts and refused connects,
 * a singer that connects from another loopback address, and the room and
 * key every request of a singer in a room carries.
 */
#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "bbclient.h"
#include "check.h"
#include "mockworker.h"

/* The checks of this test (check.h). */
static check_t ck;

typedef struct {
    mock_t *m;
    pthread_t th;
    char addr[160];
} server_t;

static void *serve(void *arg)
{
    mock_run(arg);
    return NULL;
}

/* Starts a mock on `listen`; fills the address clients use.  Returns 0, or
 * -1 if it cannot bind (for example no IPv6 loopback). */
static int server_start(server_t *sv, const char *listen, bool http, bool chunked, int fault_every, int skew_every)
{
    mock_opts_t o = { .listen = listen, .http = http, .chunked = chunked, .fault_every = fault_every,
                      .skew_every = skew_every, .worker_id = 7, .duration_s = 60 };
    sv->m = mock_new(&o);
    if (!sv->m)
        return -1;
    if (strncmp(listen, "unix:", 5) == 0)
        snprintf(sv->addr, sizeof sv->addr, "%s", listen);
    else if (listen[0] == '[')
        snprintf(sv->addr, sizeof sv->addr, "[::1]:%d", mock_port(sv->m));
    else
        snprintf(sv->addr, sizeof sv->addr, "127.0.0.1:%d", mock_port(sv->m));
    pthread_create(&sv->th, NULL, serve, sv->m);
    return 0;
}

static void server_stop(server_t *sv)
{
    mock_stop(sv->m);
    pthread_join(sv->th, NULL);
    mock_destroy(sv->m);
}

static void unix_path(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "unix:/tmp/bbc-test-%d-%s.sock", (int)getpid(), tag);
}

typedef struct {
    int calls, old_off, new_off;
} moved_t;

static void on_move(bbc_singer_t *s, int old_off, int new_off, void *user)
{
    (void)s;
    moved_t *mv = user;
    mv->calls++;
    mv->old_off = old_off;
    mv->new_off = new_off;
}

static void run_conversation(const char *listen, bbc_transport_t t, bool chunked)
{
    server_t sv;
    if (server_start(&sv, listen, t == BBC_HTTP, chunked, 0, 0) < 0) {
        fprintf(stderr, "  (cannot listen on %s: skipped)\n", listen);
        return;
    }
    moved_t mv = { 0 };
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = sv.addr;
    cfg.transport = t;
    cfg.no_pace = true;
    cfg.seed = 42;
    cfg.username = "Test Singer \xc3\xa9";
    cfg.on_move = on_move;
    cfg.user = &mv;
    int err;
    bbc_singer_t *s = bbc_singer_new(&cfg, &err);
    CHECK(ck, s != NULL);
    if (!s) {
        server_stop(&sv);
        return;
    }
    const int n = BBC_BATCH;
    float *tone = calloc(n, sizeof *tone), *rx = calloc(n, sizeof *rx);
    double ph = 0;
    char q[8192], ev[4096];

    CHECK(ck, bbc_connect(s) == BBC_OK);
    const bbc_meta_t *m = bbc_singer_meta(s);
    CHECK(ck, m->have_server_clock && m->server_sample_rate == 48000);
    CHECK(ck, strcmp(m->worker, "7") == 0);
    CHECK(ck, bbc_singer_clock(s)->read_clock % 2880 == 0);

    /* Two placeholder batches: no body, no write_clock, silence back. */
    CHECK(ck, bbc_exchange_batch(s, NULL, rx) == BBC_OK);
    CHECK(ck, !bbc_singer_last_post(s)->has_write && bbc_singer_last_post(s)->reset);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "reset_user_state=true") != NULL && strstr(q, "write_clock") == NULL);
    CHECK(ck, strstr(q, "username=Test+Singer+%C3%A9") != NULL && strstr(q, "n_samples=28800") != NULL);
    CHECK(ck, strcmp(ev, "undefined") == 0);
    CHECK(ck, tone_rms(rx, (size_t)n) < 1e-3);
    CHECK(ck, bbc_exchange_batch(s, NULL, rx) == BBC_OK);
    CHECK(ck, !bbc_singer_last_post(s)->reset);
    CHECK(ck, m->n_samples == n && m->client_read_clock == bbc_singer_last_post(s)->read_clock);

    /* Real audio: the loopback answer decodes to the tone we sent. */
    for (int k = 0; k < 4; k++) {
        tone_sine(tone, (size_t)n, 660, 0.5, &ph);
        CHECK(ck, bbc_exchange_batch(s, tone, rx) == BBC_OK);
    }
    const bbclock_post_t *p = bbc_singer_last_post(s);
    CHECK(ck, p->has_write && p->write_clock == p->read_clock);
    double a = tone_goertzel(rx + n / 2, 4800, 660);
    CHECK(ck, a > 0.35 && a < 0.65);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "write_clock=") != NULL && strstr(q, "reset_user_state") == NULL);

    /* Queued metadata goes out on the next POST only. */
    CHECK(ck, bbc_singer_chat(s, "hi w\xc3\xb6rld") == BBC_OK);
    CHECK(ck, bbc_singer_chat(s, "2nd") == BBC_OK);
    CHECK(ck, bbc_singer_event(s, "\"cue\"", 77040003312000LL) == BBC_OK);
    CHECK(ck, bbc_singer_event(s, "not json", 1) == BBC_EPARAM);
    CHECK(ck, bbc_singer_mic_volume(s, "p123", 1.5) == BBC_OK);
    bbc_singer_set_tempo(s, 90, 2, -1);
    bbc_singer_set_volume(s, 1.2);
    CHECK(ck, bbc_singer_set_track(s, "a b.wav") == BBC_OK);
    CHECK(ck, bbc_singer_monitor(s, "end") == BBC_OK);
    CHECK(ck, bbc_singer_param(s, "loopback", "true") == BBC_OK);
    tone_sine(tone, (size_t)n, 660, 0.5, &ph);
    CHECK(ck, bbc_exchange_batch(s, tone, rx) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "&chat=%5B%22hi+w%C3%B6rld%22%2C%222nd%22%5D") != NULL);
    CHECK(ck, strstr(q, "&mic_volume=%5B%5B%22p123%22%2C1.5%5D%5D") != NULL);
    CHECK(ck, strstr(q, "&bpm=90&repeats=2&track=a+b.wav&monitor=end") != NULL);
    CHECK(ck, strstr(q, "&volume=1.2") != NULL && strstr(q, "bpr=") == NULL);
    CHECK(ck, strstr(q, "&loopback=true") != NULL);
    CHECK(ck, strcmp(ev, "[{\"evid\":\"cue\",\"clock\":77040003312000}]") == 0);
    tone_sine(tone, (size_t)n, 660, 0.5, &ph);
    CHECK(ck, bbc_exchange_batch(s, tone, rx) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "chat=") == NULL && strstr(q, "bpm=") == NULL && strcmp(ev, "undefined") == 0);

    /* request_lead: the answer moves us to 3 s; the next batch reconnects. */
    bbc_singer_request_lead(s);
    tone_sine(tone, (size_t)n, 660, 0.5, &ph);
    CHECK(ck, bbc_exchange_batch(s, tone, rx) == BBC_OK);
    CHECK(ck, m->have_delay && m->delay_seconds == 3);
    CHECK(ck, strcmp(m->leader, bbc_singer_userid(s)) == 0);
    CHECK(ck, bbc_singer_offset(s) == 3 && mv.calls == 1 && mv.old_off == 6 && mv.new_off == 3);
    CHECK(ck, bbc_singer_needs_probe(s));
    tone_sine(tone, (size_t)n, 660, 0.5, &ph);
    CHECK(ck, bbc_exchange_batch(s, tone, rx) == BBC_OK);
    CHECK(ck, bbc_singer_last_post(s)->reset && bbc_singer_last_post(s)->has_write);
    bbc_stats_t st;
    bbc_singer_stats(s, &st);
    CHECK(ck, st.probes == 2 && st.reconnects == 1 && st.moves == 1 && st.errors == 0 && st.ok == 10);

    CHECK(ck, bbc_reset_events(s) == BBC_OK);
    CHECK(ck, bbc_exchange_batch(s, NULL, rx) == BBC_OK); /* silence after writing began */
    CHECK(ck, bbc_singer_last_post(s)->has_write);
    CHECK(ck, tone_rms(rx + n / 2, (size_t)n / 2) < 0.01);

    bbc_singer_destroy(s);
    free(tone);
    free(rx);
    server_stop(&sv);
}

static void test_fcgi_unix(void)
{
    char l[128];
    unix_path(l, sizeof l, "fu");
    run_conversation(l, BBC_FCGI, false);
}

static void test_fcgi_tcp4(void)
{
    run_conversation("127.0.0.1:0", BBC_FCGI, false);
}

static void test_fcgi_tcp6(void)
{
    run_conversation("[::1]:0", BBC_FCGI, false);
}

static void test_http(void)
{
    run_conversation("127.0.0.1:0", BBC_HTTP, false);
}

static void test_http_chunked(void)
{
    char l[128];
    unix_path(l, sizeof l, "hc");
    run_conversation(l, BBC_HTTP, true);
}

static bbc_singer_t *quick_singer(const char *addr, bbc_transport_t t, bbc_send_t mode, const bbc_preenc_t *pre)
{
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = addr;
    cfg.transport = t;
    cfg.no_pace = true;
    cfg.mode = mode;
    cfg.preenc = pre;
    return bbc_singer_new(&cfg, NULL);
}

static void test_errors(void)
{
    char l[128];
    unix_path(l, sizeof l, "err");
    server_t sv;
    CHECK(ck, server_start(&sv, l, false, false, 3, 0) == 0);
    bbc_singer_t *s = quick_singer(sv.addr, BBC_FCGI, BBC_SEND_ENCODE, NULL);
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_EKILL);
    CHECK(ck, strstr(bbc_singer_error(s), "desync") != NULL);
    CHECK(ck, bbc_singer_meta(s)->kill_client && bbc_singer_needs_probe(s));
    CHECK(ck, bbc_singer_response(s)->status == 500);
    /* The next batch reconnects and works again. */
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    CHECK(ck, bbc_singer_last_post(s)->reset);
    bbc_stats_t st;
    bbc_singer_stats(s, &st);
    CHECK(ck, st.kills == 1 && st.desyncs == 1 && st.errors == 1 && st.reconnects == 1);
    bbc_singer_destroy(s);
    server_stop(&sv);

    /* A wrong client_read_clock echo is caught. */
    CHECK(ck, server_start(&sv, l, false, false, 0, 2) == 0);
    s = quick_singer(sv.addr, BBC_FCGI, BBC_SEND_ENCODE, NULL);
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_ECONTINUITY);
    bbc_singer_stats(s, &st);
    CHECK(ck, st.continuity_errors == 1);
    bbc_singer_destroy(s);
    server_stop(&sv);

    /* Nothing listening: refused at once. */
    s = quick_singer(l, BBC_FCGI, BBC_SEND_ENCODE, NULL);
    CHECK(ck, bbc_connect(s) == BBC_ESYS);
    bbc_singer_stats(s, &st);
    CHECK(ck, st.transport_errors == 1);
    bbc_singer_destroy(s);

    /* Listening but never answering: a timeout, on time. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof in;
    bind(lfd, (struct sockaddr *)&in, sizeof in);
    listen(lfd, 4);
    getsockname(lfd, (struct sockaddr *)&in, &sl);
    char a[64];
    snprintf(a, sizeof a, "127.0.0.1:%d", ntohs(in.sin_port));
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = a;
    cfg.timeout_ms = 300;
    s = bbc_singer_new(&cfg, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(ck, bbc_connect(s) == BBC_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(ck, el >= 0.29 && el < 1.0);
    bbc_singer_destroy(s);
    close(lfd);

    /* Bad configurations. */
    int err;
    bbc_config_init(&cfg);
    cfg.n_samples = 1000;
    CHECK(ck, bbc_singer_new(&cfg, &err) == NULL && err == BBC_EPARAM);
    bbc_config_init(&cfg);
    cfg.userid = "12a";
    CHECK(ck, bbc_singer_new(&cfg, &err) == NULL && err == BBC_EPARAM);
    bbc_config_init(&cfg);
    cfg.addr = "8.8.8.8:80";
    CHECK(ck, bbc_singer_new(&cfg, &err) == NULL && err == BBC_EADDR);
    bbc_config_init(&cfg);
    cfg.mode = BBC_SEND_PREENCODED;
    CHECK(ck, bbc_singer_new(&cfg, &err) == NULL && err == BBC_EPARAM);
    bbc_singer_destroy(NULL);
}

static void test_shared_and_modes(void)
{
    char l[128];
    unix_path(l, sizeof l, "sh");
    server_t sv;
    CHECK(ck, server_start(&sv, l, false, false, 0, 0) == 0);
    bbc_addr_t addr;
    CHECK(ck, bbc_addr_parse(sv.addr, BBC_FCGI, &addr) == BBC_OK);
    bbc_conn_t *c = bbc_conn_new(&addr, NULL);

    /* Two singers over one kept-alive connection, taking turns. */
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.conn = c;
    cfg.no_pace = true;
    cfg.userid = "111";
    bbc_singer_t *a = bbc_singer_new(&cfg, NULL);
    cfg.userid = "222";
    cfg.username = "B";
    bbc_singer_t *b = bbc_singer_new(&cfg, NULL);
    CHECK(ck, a && b && bbc_singer_conn(a) == c && strcmp(bbc_singer_username(a), "singer-111") == 0);
    for (int i = 0; i < 3; i++) {
        CHECK(ck, bbc_exchange_batch(a, NULL, NULL) == BBC_OK);
        CHECK(ck, bbc_exchange_batch(b, NULL, NULL) == BBC_OK);
    }
    CHECK(ck, bbc_meta_user_count(bbc_singer_meta(b)) == 2);
    bbc_singer_destroy(a);
    bbc_singer_destroy(b);
    bbc_conn_destroy(c);

    /* A connection of its own that is not kept: a new one per request. */
    bbc_config_init(&cfg);
    cfg.addr = sv.addr;
    cfg.no_pace = true;
    cfg.no_keep = true;
    bbc_singer_t *nk = bbc_singer_new(&cfg, NULL);
    for (int i = 0; i < 3; i++) {
        CHECK(ck, bbc_exchange_batch(nk, NULL, NULL) == BBC_OK);
        CHECK(ck, bbc_conn_fd(bbc_singer_conn(nk)) == -1);
    }
    bbc_singer_destroy(nk);

    /* A spectator uploads nothing and says so. */
    char q[8192], ev[64];
    bbc_singer_t *s = quick_singer(sv.addr, BBC_FCGI, BBC_SEND_SPECTATOR, NULL);
    float tone[BBC_BATCH];
    double ph = 0;
    tone_sine(tone, BBC_BATCH, 440, 0.5, &ph);
    for (int i = 0; i < 3; i++)
        CHECK(ck, bbc_exchange_batch(s, tone, NULL) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "spectator=1") != NULL && strstr(q, "write_clock") == NULL);
    bbc_singer_destroy(s);

    /* Pre-encoded: placeholders first, then the voice, which comes back. */
    int err;
    bbc_preenc_t *pre = bbc_preenc_new_voice(220, 2.4, 64000, &err);
    bbc_config_init(&cfg);
    cfg.addr = sv.addr;
    cfg.no_pace = true;
    cfg.mode = BBC_SEND_PREENCODED;
    cfg.preenc = pre;
    cfg.placeholder_batches = 1;
    s = bbc_singer_new(&cfg, NULL);
    float rx[BBC_BATCH];
    CHECK(ck, bbc_exchange_batch(s, NULL, rx) == BBC_OK && !bbc_singer_last_post(s)->has_write);
    CHECK(ck, bbc_exchange_batch(s, NULL, rx) == BBC_OK && bbc_singer_last_post(s)->has_write);
    CHECK(ck, bbc_exchange_batch(s, NULL, rx) == BBC_OK);
    CHECK(ck, tone_goertzel(rx + 9600, 9600, 220) > 0.05);
    bbc_singer_destroy(s);

    /* Load settings: no decoding, summary=0, unaligned clocks. */
    cfg.skip_decode = true;
    cfg.no_summary = true;
    cfg.unaligned = true;
    cfg.omit_undefined_events = true;
    s = bbc_singer_new(&cfg, NULL);
    for (int i = 0; i < 3; i++)
        CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "summary=0") != NULL && ev[0] == 0);
    CHECK(ck, !bbc_singer_clock(s)->aligned);
    bbc_singer_destroy(s);
    bbc_preenc_destroy(pre);
    server_stop(&sv);
}

typedef struct {
    int calls;
    int64_t first_wc, last_wc;
    bool consecutive;
} gen_t;

/* A generator that puts a 1 kHz tone on the timeline, phase-locked to the
 * write clock, so any two singers would agree on it. */
static void gen_tone(bbc_singer_t *s, float *out, int n, int64_t write_clock, void *user)
{
    (void)s;
    gen_t *g = user;
    if (g->calls && write_clock - n != g->last_wc)
        g->consecutive = false;
    if (!g->calls)
        g->first_wc = write_clock;
    g->last_wc = write_clock;
    g->calls++;
    for (int i = 0; i < n; i++)
        out[i] = (float)(0.4 * sin(2 * M_PI * 1000.0 * (double)((write_clock - n + i) % 48000) / 48000.0));
}

static void test_source(void)
{
    char l[128];
    unix_path(l, sizeof l, "src");
    server_t sv;
    CHECK(ck, server_start(&sv, l, false, false, 0, 0) == 0);
    gen_t g = { .consecutive = true };
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = sv.addr;
    cfg.no_pace = true;
    cfg.source = gen_tone;
    cfg.user = &g;
    cfg.placeholder_batches = 2;
    cfg.write_lag = 2 * BBC_BATCH;
    bbc_singer_t *s = bbc_singer_new(&cfg, NULL);
    float *rx = calloc(BBC_BATCH, sizeof *rx);
    for (int i = 0; i < 6; i++)
        CHECK(ck, bbc_exchange_batch(s, NULL, rx) == BBC_OK);
    const bbclock_post_t *p = bbc_singer_last_post(s);
    CHECK(ck, g.calls == 4 && g.consecutive);
    CHECK(ck, p->has_write && p->write_clock == g.last_wc && p->write_clock == p->read_clock - 2 * BBC_BATCH);
    CHECK(ck, tone_goertzel(rx + BBC_BATCH / 2, 4800, 1000) > 0.3); /* loopback */
    bbc_singer_destroy(s);
    free(rx);
    server_stop(&sv);
}

static void test_pacing(void)
{
    char l[128];
    unix_path(l, sizeof l, "pace");
    server_t sv;
    CHECK(ck, server_start(&sv, l, false, false, 0, 0) == 0);
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = sv.addr;
    cfg.n_samples = 2880;
    bbc_singer_t *s = bbc_singer_new(&cfg, NULL);
    CHECK(ck, bbc_connect(s) == BBC_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 5; i++)
        CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(ck, el >= 0.29 && el < 0.6); /* 5 batches of 60 ms */
    bbc_singer_destroy(s);
    server_stop(&sv);
}

/* A singer connecting from 127.0.0.2 sings as any other, from there; a
 * source that is not loopback, of the wrong family or without an address
 * of the singer's own is refused. */
static void test_from_address(void)
{
    server_t sv;
    if (server_start(&sv, "127.0.0.1:0", true, false, 0, 0) < 0) {
        CHECK(ck, false);
        return;
    }
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = sv.addr;
    cfg.transport = BBC_HTTP;
    cfg.from_addr = "127.0.0.2";
    cfg.no_pace = true;
    cfg.seed = 7;
    int err;
    bbc_singer_t *s = bbc_singer_new(&cfg, &err);
    CHECK(ck, s != NULL);
    for (int i = 0; s && i < 3; i++)
        CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    int fd = s ? bbc_conn_fd(bbc_singer_conn(s)) : -1;
    CHECK(ck, fd >= 0 && getsockname(fd, (struct sockaddr *)&me, &ml) == 0 && me.sin_family == AF_INET &&
              ntohl(me.sin_addr.s_addr) == 0x7f000002);
    bbc_singer_destroy(s);
    server_stop(&sv);

    static const char *const bad[] = {"10.0.0.1", "8.8.8.8", "::1", "localhost", "127.0.0.2:9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.from_addr = bad[i];
        CHECK(ck, bbc_singer_new(&cfg, &err) == NULL && err == BBC_EADDR);
    }
    bbc_config_init(&cfg);
    cfg.from_addr = "127.0.0.2";   /* event-loop use: no connection of its own to bind */
    CHECK(ck, bbc_singer_new(&cfg, &err) == NULL && err == BBC_EPARAM);
}

/* A singer in a room names it, with its key, on every request: the probe,
 * each POST and reset_events (with the userid there, so the worker knows
 * whether the leader asks); both URL-encoded as the rest.  A singer in no
 * room sends exactly what the original client sends. */
static void test_room(void)
{
    char l[128], q[8192], ev[4096];
    unix_path(l, sizeof l, "room");
    server_t sv;
    CHECK(ck, server_start(&sv, l, false, false, 0, 0) == 0);
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = sv.addr;
    cfg.no_pace = true;
    cfg.userid = "4242";
    cfg.username = "Ro";
    cfg.room = "ab2cd3ef4g";
    cfg.key = "k y+/=\xc3\xa9";
    cfg.spectator = true;
    bbc_singer_t *s = bbc_singer_new(&cfg, NULL);
    CHECK(ck, s != NULL);
    if (!s) {
        server_stop(&sv);
        return;
    }
    const char *want = "room=ab2cd3ef4g&key=k+y%2B%2F%3D%C3%A9";
    CHECK(ck, bbc_connect(s) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK_EQ_S(ck, q, want);
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "&username=Ro&room=ab2cd3ef4g&key=k+y%2B%2F%3D%C3%A9&reset_user_state=true") != NULL);
    CHECK(ck, strstr(q, "&spectator=1") != NULL);
    CHECK(ck, bbc_reset_events(s) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK_EQ_S(ck, q, "room=ab2cd3ef4g&key=k+y%2B%2F%3D%C3%A9&userid=4242");

    /* A new link: the next requests carry it; a key alone is sent alone. */
    CHECK(ck, bbc_singer_set_room(s, NULL, "NEW") == BBC_OK);
    CHECK_EQ_S(ck, bbc_singer_room(s), "");
    CHECK_EQ_S(ck, bbc_singer_key(s), "NEW");
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "room=") == NULL && strstr(q, "&username=Ro&key=NEW&") != NULL);
    CHECK(ck, bbc_connect(s) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK_EQ_S(ck, q, "key=NEW");

    /* No room: the probe and reset_events have no query, the POST no room. */
    CHECK(ck, bbc_singer_set_room(s, "", NULL) == BBC_OK);
    CHECK(ck, bbc_connect(s) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK_EQ_S(ck, q, "");
    CHECK(ck, bbc_exchange_batch(s, NULL, NULL) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK(ck, strstr(q, "room=") == NULL && strstr(q, "key=") == NULL && strstr(q, "userid=4242") != NULL);
    CHECK(ck, bbc_reset_events(s) == BBC_OK);
    mock_last_request(sv.m, q, sizeof q, ev, sizeof ev);
    CHECK_EQ_S(ck, q, "");
    bbc_singer_destroy(s);
    server_stop(&sv);
}

int main(void)
{
    test_fcgi_unix();
    test_fcgi_tcp4();
    test_fcgi_tcp6();
    test_http();
    test_http_chunked();
    test_errors();
    test_shared_and_modes();
    test_source();
    test_pacing();
    test_from_address();
    test_room();
    return check_done(&ck, "test_tools_singer");
}
