/*
 * test_fcgiclient.c - the FastCGI record layer (fcgiclient.h) in both
 * directions: requests built here are parsed back with the record reader
 * (fed in every possible split), and answers a test responder writes into a
 * socketpair are assembled by the answer parser.  Also the FastCGI framing
 * of bbc_build_request() (the parameters nginx would pass), and the
 * addresses a connection goes to and leaves from: loopback only, and a
 * chosen source address is the one the server sees.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bbclient.h"
#include "check.h"
#include "fcgiclient.h"

/* The checks of this test (check.h). */
static check_t ck;

static void test_header(void)
{
    uint8_t h[8];
    fcgic_header_encode(h, FCGIC_STDOUT, 0x1234, 0xfedc, 7);
    CHECK(ck, h[0] == 1 && h[1] == 6 && h[2] == 0x12 && h[3] == 0x34 && h[4] == 0xfe && h[5] == 0xdc && h[6] == 7 &&
          h[7] == 0);
    fcgic_header_t d;
    fcgic_header_decode(h, &d);
    CHECK(ck, d.version == 1 && d.type == FCGIC_STDOUT && d.request_id == 0x1234 && d.content_length == 0xfedc &&
          d.padding_length == 7);
}

static void test_nv(void)
{
    char longname[130], longval[200];
    memset(longname, 'N', sizeof longname);
    memset(longval, 'v', sizeof longval);
    bbuf_t b = { 0 };
    CHECK(ck, fcgic_nv_append(&b, "A", 1, "", 0) == FCGIC_OK);
    CHECK(ck, fcgic_nv_append(&b, longname, sizeof longname, "x", 1) == FCGIC_OK);
    CHECK(ck, fcgic_nv_append(&b, "QUERY_STRING", 12, longval, sizeof longval) == FCGIC_OK);
    /* 1+1+1 ; 4+1+130+1 ; 1+4+12+200 */
    CHECK(ck, b.len == 3 + 136 + 217);
    CHECK(ck, b.data[3] == (0x80 | 0) && b.data[4] == 0 && b.data[5] == 0 && b.data[6] == 130);
    size_t pos = 0;
    const uint8_t *n, *v;
    uint32_t nl, vl;
    CHECK(ck, fcgic_nv_next(b.data, b.len, &pos, &n, &nl, &v, &vl) == 1 && nl == 1 && vl == 0 && n[0] == 'A');
    CHECK(ck, fcgic_nv_next(b.data, b.len, &pos, &n, &nl, &v, &vl) == 1 && nl == 130 && vl == 1 && v[0] == 'x');
    CHECK(ck, fcgic_nv_next(b.data, b.len, &pos, &n, &nl, &v, &vl) == 1 && nl == 12 && vl == 200 &&
          memcmp(v, longval, 200) == 0);
    CHECK(ck, fcgic_nv_next(b.data, b.len, &pos, &n, &nl, &v, &vl) == 0);
    /* Truncated anywhere inside: malformed. */
    for (size_t cut = 1; cut < b.len; cut++) {
        size_t p2 = 0;
        int rc;
        do
            rc = fcgic_nv_next(b.data, cut, &p2, &n, &nl, &v, &vl);
        while (rc == 1);
        if (cut == 3 || cut == 3 + 136)
            CHECK_MSG(ck, rc == 0, "cut %zu at a pair boundary: %d", cut, rc);
        else
            CHECK_MSG(ck, rc == FCGIC_EPROTO, "cut %zu: %d", cut, rc);
    }
    bbuf_free(&b);
}

typedef struct {
    int begins;
    uint16_t role;
    uint8_t flags;
    uint16_t id;
    bbuf_t params;
    bbuf_t stdin_;
    int params_end, stdin_end;
    int misaligned;
} seen_t;

/* Reads the request bytes back, fed `step` bytes at a time. */
static void parse_request(const uint8_t *p, size_t len, size_t step, seen_t *s)
{
    memset(s, 0, sizeof *s);
    fcgic_reader_t rd;
    fcgic_reader_init(&rd);
    size_t at = 0;
    while (at < len) {
        size_t chunk = len - at < step ? len - at : step;
        size_t off = 0;
        while (off < chunk) {
            fcgic_record_t rec;
            size_t used = 0;
            int rc = fcgic_reader_feed(&rd, p + at + off, chunk - off, &used, &rec);
            CHECK(ck, rc >= 0);
            if (rc < 0)
                break;
            off += used;
            if (rc == 0)
                break;
            s->id = rec.request_id;
            switch (rec.type) {
            case FCGIC_BEGIN_REQUEST:
                s->begins++;
                s->role = (uint16_t)(rec.content[0] << 8 | rec.content[1]);
                s->flags = rec.content[2];
                break;
            case FCGIC_PARAMS:
                if (rec.len == 0)
                    s->params_end++;
                bbuf_append(&s->params, rec.content, rec.len);
                break;
            case FCGIC_STDIN:
                if (rec.len == 0)
                    s->stdin_end++;
                bbuf_append(&s->stdin_, rec.content, rec.len);
                break;
            default:
                break;
            }
        }
        at += chunk;
    }
    CHECK(ck, rd.state == 0 && rd.hdr_have == 0); /* ended on a record boundary */
    fcgic_reader_free(&rd);
}

static const char *param(const bbuf_t *p, const char *name, char *out, size_t cap)
{
    size_t pos = 0;
    const uint8_t *n, *v;
    uint32_t nl, vl;
    while (fcgic_nv_next(p->data, p->len, &pos, &n, &nl, &v, &vl) == 1)
        if (nl == strlen(name) && memcmp(n, name, nl) == 0) {
            snprintf(out, cap, "%.*s", (int)vl, (const char *)v);
            return out;
        }
    return NULL;
}

static void test_request_round_trip(void)
{
    /* A body longer than one record (65528 bytes) must be split. */
    size_t blen = 100000;
    uint8_t *body = malloc(blen);
    for (size_t i = 0; i < blen; i++)
        body[i] = (uint8_t)(i * 31 + 7);
    char big[300];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = 0;
    fcgic_param_t ps[] = { { "REQUEST_METHOD", "POST" }, { "QUERY_STRING", big }, { "EMPTY", "" } };
    bbuf_t out = { 0 };
    CHECK(ck, fcgic_build_request(&out, 77, true, ps, 3, body, blen) == FCGIC_OK);
    CHECK(ck, out.len % 8 == 0);
    /* Every record header is at a multiple of 8 and padded to one. */
    for (size_t at = 0; at < out.len;) {
        fcgic_header_t h;
        fcgic_header_decode(out.data + at, &h);
        CHECK(ck, h.version == 1 && h.request_id == 77);
        CHECK(ck, (h.content_length + h.padding_length) % 8 == 0);
        CHECK(ck, h.content_length <= FCGIC_MAX_CHUNK || h.type == FCGIC_BEGIN_REQUEST);
        at += 8 + h.content_length + h.padding_length;
    }
    size_t steps[] = { 1, 3, 7, 8, 13, 4096, 70000, out.len };
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        seen_t s;
        parse_request(out.data, out.len, steps[k], &s);
        CHECK(ck, s.begins == 1 && s.role == FCGIC_RESPONDER && s.flags == FCGIC_KEEP_CONN && s.id == 77);
        CHECK(ck, s.params_end == 1 && s.stdin_end == 1);
        CHECK(ck, s.stdin_.len == blen && memcmp(s.stdin_.data, body, blen) == 0);
        char v[400];
        CHECK(ck, param(&s.params, "REQUEST_METHOD", v, sizeof v) && strcmp(v, "POST") == 0);
        CHECK(ck, param(&s.params, "QUERY_STRING", v, sizeof v) && strcmp(v, big) == 0);
        CHECK(ck, param(&s.params, "EMPTY", v, sizeof v) && v[0] == 0);
        bbuf_free(&s.params);
        bbuf_free(&s.stdin_);
    }
    /* Without keep-alive, and with an empty body: STDIN is one empty record. */
    bbuf_clear(&out);
    CHECK(ck, fcgic_build_request(&out, 1, false, ps, 1, NULL, 0) == FCGIC_OK);
    seen_t s;
    parse_request(out.data, out.len, 5, &s);
    CHECK(ck, s.flags == 0 && s.stdin_end == 1 && s.stdin_.len == 0);
    bbuf_free(&s.params);
    bbuf_free(&s.stdin_);
    bbuf_free(&out);
    free(body);
}

/* Writes all of b to fd. */
static void put_all(int fd, const bbuf_t *b)
{
    size_t at = 0;
    while (at < b->len) {
        ssize_t n = write(fd, b->data + at, b->len - at);
        if (n <= 0)
            return;
        at += (size_t)n;
    }
}

/* Reads from fd into the answer parser until it completes or fails. */
static int read_answer(int fd, fcgic_parser_t *p, resp_t *r, size_t *leftover)
{
    uint8_t buf[37]; /* small on purpose: records arrive in pieces */
    *leftover = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        size_t used = 0;
        int rc = fcgic_parser_feed(p, n > 0 ? buf : NULL, n > 0 ? (size_t)n : 0, &used, r);
        if (rc != 0) {
            if (n > 0)
                *leftover = (size_t)n - used;
            return rc;
        }
    }
}

static void test_socketpair_answers(void)
{
    int sv[2];
    CHECK(ck, socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    bbuf_t w = { 0 };
    fcgic_parser_t p;
    fcgic_parser_init(&p);
    resp_t r;
    resp_init(&r);
    size_t left;

    /* 1: the client sends a request; the test responder reads it from the
     * socket and answers with the header block split across records, a
     * body, STDERR text, and END_REQUEST. */
    fcgic_param_t ps[] = { { "REQUEST_METHOD", "GET" }, { "PATH_INFO", "/api" } };
    CHECK(ck, fcgic_build_request(&w, 9, true, ps, 2, NULL, 0) == FCGIC_OK);
    put_all(sv[0], &w);
    bbuf_t got = { 0 };
    while (got.len < w.len) {
        uint8_t b[512];
        ssize_t n = read(sv[1], b, sizeof b);
        if (n <= 0)
            break;
        bbuf_append(&got, b, (size_t)n);
    }
    seen_t s;
    parse_request(got.data, got.len, 11, &s);
    char v[64];
    CHECK(ck, s.id == 9 && param(&s.params, "PATH_INFO", v, sizeof v) && strcmp(v, "/api") == 0);
    bbuf_free(&s.params);
    bbuf_free(&s.stdin_);
    bbuf_free(&got);

    bbuf_clear(&w);
    const char *h1 = "Status: 200 OK\r\nX-Audio-Metadata: {\"server_clock\": 77040003312000, \"server_sample_rate\": 48000}\r\nX-Wor";
    const char *h2 = "ker-Id: 3\r\nContent-Type: application/octet-stream\r\n\r\nok";
    fcgic_put_record(&w, FCGIC_STDOUT, 0, "ignored", 7); /* a management record: skipped */
    fcgic_put_record(&w, FCGIC_STDOUT, 9, h1, strlen(h1));
    fcgic_put_record(&w, FCGIC_STDERR, 9, "warn: x\n", 8);
    fcgic_put_record(&w, FCGIC_STDOUT, 9, h2, strlen(h2));
    fcgic_put_record(&w, FCGIC_STDOUT, 9, NULL, 0);
    fcgic_put_end(&w, 9, 0x01020304, FCGIC_REQUEST_COMPLETE);
    put_all(sv[1], &w);
    fcgic_parser_expect(&p, 9, true);
    CHECK(ck, read_answer(sv[0], &p, &r, &left) == 1 && left == 0);
    CHECK(ck, r.status == 200 && r.body.len == 2 && memcmp(r.body.data, "ok", 2) == 0);
    CHECK(ck, resp_header(&r, "x-worker-id") && strcmp(resp_header(&r, "X-Worker-Id"), "3") == 0);
    CHECK(ck, resp_header(&r, "X-Audio-Metadata") && strstr(resp_header(&r, "X-Audio-Metadata"), "77040003312000"));
    CHECK(ck, r.errtext.len == 8 && r.app_status == 0x01020304 && r.protocol_status == 0 && r.close == 0);

    /* 2: bare \n line ends, a 500 status, no body; then without keep-conn. */
    bbuf_clear(&w);
    resp_reset(&r);
    const char *h3 = "Status: 500 Internal Server Error\nX-Audio-Metadata: {\"kill_client\": true}\n\n";
    fcgic_put_stream(&w, FCGIC_STDOUT, 10, h3, strlen(h3));
    fcgic_put_end(&w, 10, 0, FCGIC_REQUEST_COMPLETE);
    put_all(sv[1], &w);
    fcgic_parser_expect(&p, 10, false);
    CHECK(ck, read_answer(sv[0], &p, &r, &left) == 1);
    CHECK(ck, r.status == 500 && r.body.len == 0 && r.close == 1);

    /* 3: no Status header means 200; a body of 70000 bytes in two records. */
    bbuf_clear(&w);
    resp_reset(&r);
    bbuf_t so = { 0 };
    bbuf_puts(&so, "Content-Type: text/plain\r\n\r\n");
    for (int i = 0; i < 70000; i++)
        bbuf_putc(&so, (uint8_t)('a' + i % 26));
    fcgic_put_stream(&w, FCGIC_STDOUT, 11, so.data, so.len);
    fcgic_put_end(&w, 11, 0, FCGIC_REQUEST_COMPLETE);
    put_all(sv[1], &w);
    fcgic_parser_expect(&p, 11, true);
    CHECK(ck, read_answer(sv[0], &p, &r, &left) == 1);
    CHECK(ck, r.status == 200 && r.body.len == 70000 && r.body.data[69999] == (uint8_t)('a' + 69999 % 26));
    bbuf_free(&so);

    /* 4: the responder is overloaded. */
    bbuf_clear(&w);
    resp_reset(&r);
    fcgic_put_end(&w, 12, 0, FCGIC_OVERLOADED);
    put_all(sv[1], &w);
    fcgic_parser_expect(&p, 12, true);
    CHECK(ck, read_answer(sv[0], &p, &r, &left) == FCGIC_EREJECTED);

    /* 5: a record of another version is a protocol error. */
    bbuf_clear(&w);
    resp_reset(&r);
    fcgic_put_record(&w, FCGIC_STDOUT, 13, "x", 1);
    w.data[0] = 2;
    put_all(sv[1], &w);
    fcgic_parser_expect(&p, 13, true);
    fcgic_reader_reset(&p.rd);
    CHECK(ck, read_answer(sv[0], &p, &r, &left) == FCGIC_EPROTO);

    /* 6: the responder goes away mid-answer. */
    bbuf_clear(&w);
    resp_reset(&r);
    fcgic_reader_reset(&p.rd);
    fcgic_put_record(&w, FCGIC_STDOUT, 14, "Status: 200 OK\r\n", 16);
    put_all(sv[1], &w);
    close(sv[1]);
    fcgic_parser_expect(&p, 14, true);
    CHECK(ck, read_answer(sv[0], &p, &r, &left) == FCGIC_ECLOSED);

    close(sv[0]);
    bbuf_free(&w);
    resp_free(&r);
    fcgic_parser_free(&p);
}

static void test_bbc_fcgi_params(void)
{
    bbc_addr_t a;
    CHECK(ck, bbc_addr_parse("127.0.0.1:9000", BBC_FCGI, &a) == BBC_OK);
    bbc_conn_t *c = bbc_conn_new(&a, NULL);
    CHECK(ck, c != NULL);
    uint8_t body[5] = { 1, 0, 1, 0xaa, 0 };
    bbc_request_t rq = { .method = "POST", .path = "/api", .query = "read_clock=1&n_samples=2880",
                         .event_data = "undefined", .body = body, .body_len = 4 };
    bbuf_t out = { 0 };
    CHECK(ck, bbc_build_request(c, &rq, &out) == BBC_OK);
    seen_t s;
    parse_request(out.data, out.len, 64, &s);
    char v[128];
    CHECK(ck, s.flags == FCGIC_KEEP_CONN && s.id == 1);
    CHECK(ck, param(&s.params, "REQUEST_METHOD", v, sizeof v) && strcmp(v, "POST") == 0);
    CHECK(ck, param(&s.params, "QUERY_STRING", v, sizeof v) && strcmp(v, "read_clock=1&n_samples=2880") == 0);
    CHECK(ck, param(&s.params, "CONTENT_LENGTH", v, sizeof v) && strcmp(v, "4") == 0);
    CHECK(ck, param(&s.params, "CONTENT_TYPE", v, sizeof v) && strcmp(v, "application/octet-stream") == 0);
    CHECK(ck, param(&s.params, "PATH_INFO", v, sizeof v) && strcmp(v, "/api") == 0);
    CHECK(ck, param(&s.params, "DOCUMENT_URI", v, sizeof v) && strcmp(v, "/api") == 0);
    CHECK(ck, param(&s.params, "SCRIPT_NAME", v, sizeof v) && v[0] == 0);
    CHECK(ck, param(&s.params, "REQUEST_URI", v, sizeof v) && strcmp(v, "/api?read_clock=1&n_samples=2880") == 0);
    CHECK(ck, param(&s.params, "HTTP_X_EVENT_DATA", v, sizeof v) && strcmp(v, "undefined") == 0);
    CHECK(ck, param(&s.params, "SERVER_PROTOCOL", v, sizeof v) && strcmp(v, "HTTP/1.1") == 0);
    CHECK(ck, param(&s.params, "REMOTE_ADDR", v, sizeof v) && strcmp(v, "127.0.0.1") == 0);
    CHECK(ck, s.stdin_.len == 4 && memcmp(s.stdin_.data, body, 4) == 0);
    bbuf_free(&s.params);
    bbuf_free(&s.stdin_);

    /* The next request gets the next id; a GET has no event header. */
    bbuf_clear(&out);
    bbc_request_t g = { .method = "GET", .path = "/api/reset_events" };
    CHECK(ck, bbc_build_request(c, &g, &out) == BBC_OK);
    parse_request(out.data, out.len, 64, &s);
    CHECK(ck, s.id == 2 && !param(&s.params, "HTTP_X_EVENT_DATA", v, sizeof v));
    CHECK(ck, param(&s.params, "PATH_INFO", v, sizeof v) && strcmp(v, "/api/reset_events") == 0);
    CHECK(ck, param(&s.params, "CONTENT_LENGTH", v, sizeof v) && strcmp(v, "0") == 0);
    bbuf_free(&s.params);
    bbuf_free(&s.stdin_);

    /* Requests that would corrupt the framing are refused. */
    bbc_request_t bad = { .method = "GET", .path = "/api\r\nX: y" };
    CHECK(ck, bbc_build_request(c, &bad, &out) == BBC_EPARAM);
    bbuf_free(&out);
    bbc_conn_destroy(c);
}

static void test_addresses(void)
{
    bbc_addr_t a;
    CHECK(ck, bbc_addr_parse("127.0.0.1:8080", BBC_HTTP, &a) == BBC_OK && a.port == 8080 &&
          strcmp(a.host, "127.0.0.1:8080") == 0);
    CHECK(ck, bbc_addr_parse("127.1.2.3:1", BBC_HTTP, &a) == BBC_OK);
    CHECK(ck, bbc_addr_parse("localhost:9000", BBC_FCGI, &a) == BBC_OK && a.sa.ss_family == AF_INET);
    CHECK(ck, bbc_addr_parse("[::1]:9000", BBC_FCGI, &a) == BBC_OK && a.sa.ss_family == AF_INET6 &&
          strcmp(a.host, "[::1]:9000") == 0);
    CHECK(ck, bbc_addr_parse("unix:/tmp/w.sock", BBC_FCGI, &a) == BBC_OK && a.sa.ss_family == AF_UNIX);
    /* Never anything off this machine. */
    CHECK(ck, bbc_addr_parse("10.0.0.1:80", BBC_HTTP, &a) == BBC_EADDR);
    CHECK(ck, bbc_addr_parse("192.168.1.1:80", BBC_HTTP, &a) == BBC_EADDR);
    CHECK(ck, bbc_addr_parse("[2001:db8::1]:80", BBC_HTTP, &a) == BBC_EADDR);
    CHECK(ck, bbc_addr_parse("0.0.0.0:80", BBC_HTTP, &a) == BBC_EADDR);
    CHECK(ck, bbc_addr_parse("example.com:80", BBC_HTTP, &a) == BBC_EADDR);
    CHECK(ck, bbc_addr_parse("127.0.0.1", BBC_HTTP, &a) == BBC_EADDR);
    CHECK(ck, bbc_addr_parse("127.0.0.1:0", BBC_HTTP, &a) == BBC_EADDR);
    CHECK(ck, bbc_addr_parse("127.0.0.1:70000", BBC_HTTP, &a) == BBC_EADDR);
    CHECK(ck, bbc_addr_parse("unix:", BBC_FCGI, &a) == BBC_EADDR);
}

/* The source address: loopback of the destination's family, or refused
 * with the address left as it was. */
static void test_source_addresses(void)
{
    bbc_addr_t a, before;
    CHECK(ck, bbc_addr_parse("127.0.0.1:8080", BBC_HTTP, &a) == BBC_OK && a.srclen == 0);
    CHECK(ck, bbc_addr_set_source(&a, "127.0.0.2") == BBC_OK && a.srclen == sizeof(struct sockaddr_in) &&
          a.src.ss_family == AF_INET);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&a.src;
    CHECK(ck, ntohl(in->sin_addr.s_addr) == 0x7f000002 && in->sin_port == 0);
    CHECK(ck, bbc_addr_set_source(&a, "127.255.255.254") == BBC_OK);
    CHECK(ck, bbc_addr_set_source(&a, "127.0.0.1") == BBC_OK);
    /* Never from an address that is not this machine's loopback, never a
     * name, never a port, never across families. */
    before = a;
    static const char *const bad4[] = {
        "10.0.0.1", "192.168.1.1", "0.0.0.0", "128.0.0.1", "255.255.255.255", "localhost",
        "example.com", "127.0.0.2:80", "127.0.0.256", "127.0.0", " 127.0.0.2", "", "::1",
        "::ffff:127.0.0.2",
    };
    for (size_t i = 0; i < sizeof bad4 / sizeof bad4[0]; i++) {
        CHECK(ck, bbc_addr_set_source(&a, bad4[i]) == BBC_EADDR);
        CHECK(ck, memcmp(&a, &before, sizeof a) == 0);
    }
    CHECK(ck, bbc_addr_set_source(&a, NULL) == BBC_EADDR);
    CHECK(ck, bbc_addr_set_source(NULL, "127.0.0.2") == BBC_EADDR);

    CHECK(ck, bbc_addr_parse("[::1]:9000", BBC_FCGI, &a) == BBC_OK);
    CHECK(ck, bbc_addr_set_source(&a, "::1") == BBC_OK && a.srclen == sizeof(struct sockaddr_in6) &&
          a.src.ss_family == AF_INET6);
    static const char *const bad6[] = {
        "127.0.0.2", "::", "::2", "fe80::1", "2001:db8::1", "::ffff:127.0.0.2", "[::1]", "[::1]:80",
    };
    before = a;
    for (size_t i = 0; i < sizeof bad6 / sizeof bad6[0]; i++) {
        CHECK(ck, bbc_addr_set_source(&a, bad6[i]) == BBC_EADDR);
        CHECK(ck, memcmp(&a, &before, sizeof a) == 0);
    }
    CHECK(ck, bbc_addr_parse("unix:/tmp/w.sock", BBC_FCGI, &a) == BBC_OK);
    CHECK(ck, bbc_addr_set_source(&a, "127.0.0.2") == BBC_EADDR && a.srclen == 0);
}

/* Opens a connection to a listener on `host` from `source` (NULL: the
 * kernel's choice) and writes the address the listener saw the connection
 * come from into seen.  Returns 0, 1 when the host has no such loopback
 * (IPv6 off), -1 on failure. */
static int seen_from(const char *host, const char *source, char *seen, size_t cap)
{
    int family = host[0] == '[' ? AF_INET6 : AF_INET;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(0x7f000001);
        sl = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        sl = sizeof *in6;
    }
    int lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 4) < 0) {
        int rc = family == AF_INET6 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL) ? 1 : -1;
        if (lfd >= 0)
            close(lfd);
        return rc;
    }
    getsockname(lfd, (struct sockaddr *)&ss, &sl);
    int port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                       : ((struct sockaddr_in6 *)&ss)->sin6_port);
    char spec[64];
    snprintf(spec, sizeof spec, "%s:%d", host, port);
    bbc_addr_t a;
    int rc = -1;
    bbc_conn_t *c = NULL;
    if (bbc_addr_parse(spec, BBC_HTTP, &a) == BBC_OK && (!source || bbc_addr_set_source(&a, source) == BBC_OK))
        c = bbc_conn_new(&a, NULL);
    if (c && bbc_conn_open(c, 2000) == BBC_OK) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int afd = poll(&p, 1, 2000) == 1 ? accept(lfd, (struct sockaddr *)&ss, &sl) : -1;
        if (afd >= 0) {
            const void *ip = family == AF_INET ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                                               : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
            rc = inet_ntop(family, ip, seen, (socklen_t)cap) ? 0 : -1;
            close(afd);
        }
    }
    bbc_conn_destroy(c);
    close(lfd);
    return rc;
}

/* A connection with a source leaves from it (the server sees it), one
 * without from the kernel's choice. */
static void test_source_connect(void)
{
    char seen[64] = "";
    CHECK(ck, seen_from("127.0.0.1", "127.0.0.2", seen, sizeof seen) == 0 && strcmp(seen, "127.0.0.2") == 0);
    CHECK(ck, seen_from("127.0.0.1", "127.0.0.3", seen, sizeof seen) == 0 && strcmp(seen, "127.0.0.3") == 0);
    CHECK(ck, seen_from("127.0.0.1", NULL, seen, sizeof seen) == 0 && strcmp(seen, "127.0.0.1") == 0);
    int rc = seen_from("[::1]", "::1", seen, sizeof seen);
    CHECK(ck, rc == 1 || (rc == 0 && strcmp(seen, "::1") == 0));
    if (rc == 1)
        printf("test_tools_fcgiclient: no IPv6 loopback here; the ::1 source is not tried\n");
}

int main(void)
{
    test_header();
    test_nv();
    test_request_round_trip();
    test_socketpair_answers();
    test_bbc_fcgi_params();
    test_addresses();
    test_source_addresses();
    test_source_connect();
    return check_done(&ck, "test_tools_fcgiclient");
}
