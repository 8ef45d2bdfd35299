/*
 * test_httpclient.c - HTTP/1.1 framing (httpclient.h): the request bytes,
 * and the response parser with Content-Length, chunked (extensions,
 * trailers), close-delimited and empty bodies, interim responses, keep-alive
 * decisions and malformed input, each fed in every split size.
 */
#include <string.h>

#include "bbclient.h"
#include "check.h"
#include "httpclient.h"

/* The checks of this test (check.h). */
static check_t ck;

static void test_build(void)
{
    bbuf_t out = { 0 };
    httpc_header_t h[] = { { "Content-Type", "application/octet-stream" }, { "X-Event-Data", "undefined" } };
    const uint8_t body[3] = { 1, 2, 3 };
    CHECK(ck, httpc_build_request(&out, "POST", "127.0.0.1:8080", "/api?read_clock=5", h, 2, body, 3, true) == HTTPC_OK);
    const char *want = "POST /api?read_clock=5 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\n"
                       "Content-Type: application/octet-stream\r\nX-Event-Data: undefined\r\n"
                       "Content-Length: 3\r\n\r\n\x01\x02\x03";
    CHECK(ck, out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
    bbuf_clear(&out);
    CHECK(ck, httpc_build_request(&out, "GET", "[::1]:80", "/api", NULL, 0, NULL, 0, false) == HTTPC_OK);
    CHECK(ck, strcmp((char *)out.data, "GET /api HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n") == 0);
    bbuf_clear(&out);
    /* A POST always says its length, even when empty (reset_events). */
    CHECK(ck, httpc_build_request(&out, "POST", "h", "/api/reset_events", NULL, 0, NULL, 0, true) == HTTPC_OK);
    CHECK(ck, strstr((char *)out.data, "Content-Length: 0\r\n") != NULL);
    bbuf_free(&out);
}

/* Parses text fed `step` bytes at a time (EOF at the end if eof). Returns
 * the parser result; *used_total gets the bytes consumed. */
static int parse_steps(const char *text, size_t len, size_t step, bool eof, resp_t *r, size_t *used_total)
{
    httpc_parser_t p;
    httpc_parser_init(&p);
    httpc_parser_expect(&p, false);
    resp_reset(r);
    size_t at = 0;
    int rc = 0;
    while (at < len) {
        size_t chunk = len - at < step ? len - at : step;
        size_t used = 0;
        rc = httpc_parser_feed(&p, (const uint8_t *)text + at, chunk, &used, r);
        at += used;
        if (rc != 0)
            break;
        if (used < chunk)
            break;
    }
    if (rc == 0 && eof) {
        size_t used;
        rc = httpc_parser_feed(&p, NULL, 0, &used, r);
    }
    *used_total = at;
    httpc_parser_free(&p);
    return rc;
}

typedef struct {
    const char *name;
    const char *text;
    bool eof;
    int rc;
    int status;
    const char *body;
    int close;
} case_t;

static void test_parse(void)
{
    static const case_t cases[] = {
        { "content-length",
          "HTTP/1.1 200 OK\r\nX-Audio-Metadata: {\"n_samples\": 28800}\r\nContent-Length: 5\r\n\r\nhello", false, 1,
          200, "hello", 0 },
        { "chunked",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\n"
          "X-T: 1\r\n\r\n",
          false, 1, 200, "abcd0123456789", 0 },
        { "chunked-lower-hex", "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n",
          false, 1, 200, "0123456789", 0 },
        { "close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", true, 1, 200,
          "until close", 1 },
        { "no-content", "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n\r\n", false, 1, 204, "", 0 },
        { "interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 1, 200,
          "ok", 0 },
        { "connection-close", "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbad",
          false, 1, 500, "bad", 1 },
        { "http10", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 1, 200, "ok", 1 },
        { "http10-keepalive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", false, 1,
          200, "ok", 0 },
        { "bare-lf", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 1, 200, "ok", 0 },
        { "bad-status", "HTTX/1.1 200 OK\r\n\r\n", false, HTTPC_EPROTO, 0, "", 0 },
        { "bad-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, HTTPC_EPROTO, 0, "", 0 },
        { "bad-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, HTTPC_EPROTO, 0, "", 0 },
        { "folded", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\n\r\n", false, HTTPC_EPROTO, 0, "", 0 },
        { "eof-mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true, HTTPC_ECLOSED, 0, "", 0 },
        { "eof-in-head", "HTTP/1.1 200 OK\r\nContent-Le", true, HTTPC_ECLOSED, 0, "", 0 },
    };
    resp_t r;
    resp_init(&r);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const case_t *c = &cases[i];
        size_t len = strlen(c->text);
        size_t steps[] = { 1, 2, 5, 16, len };
        for (size_t k = 0; k < 5; k++) {
            size_t used;
            int rc = parse_steps(c->text, len, steps[k], c->eof, &r, &used);
            bool ok = rc == c->rc;
            if (ok && rc == 1)
                ok = r.status == c->status && r.body.len == strlen(c->body) &&
                     memcmp(r.body.data ? (char *)r.body.data : "", c->body, r.body.len) == 0 && r.close == c->close;
            CHECK_MSG(ck, ok, "case %s step %zu: rc %d status %d body '%.*s' close %d", c->name, steps[k], rc,
                      r.status, (int)r.body.len, r.body.data ? (char *)r.body.data : "", r.close);
        }
    }
    /* Two pipelined answers: the parser stops at the end of the first. */
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb";
    size_t used;
    CHECK(ck, parse_steps(two, strlen(two), strlen(two), false, &r, &used) == 1);
    CHECK(ck, used == strlen(two) / 2 && r.body.data[0] == 'a');
    CHECK(ck, parse_steps(two + used, strlen(two) - used, 3, false, &r, &used) == 1 && r.body.data[0] == 'b');
    resp_free(&r);
}

static void test_bbc_http_request(void)
{
    bbc_addr_t a;
    CHECK(ck, bbc_addr_parse("127.0.0.1:8080", BBC_HTTP, &a) == BBC_OK);
    bbc_conn_t *c = bbc_conn_new(&a, NULL);
    bbuf_t out = { 0 };
    bbc_request_t rq = { .method = "POST", .path = "/api", .query = "read_clock=1",
                         .event_data = "[{\"evid\":\"x\",\"clock\":5}]" };
    CHECK(ck, bbc_build_request(c, &rq, &out) == BBC_OK);
    const char *s = (const char *)out.data;
    CHECK(ck, strncmp(s, "POST /api?read_clock=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n", 55) == 0);
    CHECK(ck, strstr(s, "\r\nX-Event-Data: [{\"evid\":\"x\",\"clock\":5}]\r\n") != NULL);
    CHECK(ck, strstr(s, "\r\nContent-Type: application/octet-stream\r\n") != NULL);
    CHECK(ck, strstr(s, "\r\nContent-Length: 0\r\n\r\n") != NULL);
    /* The parser of the connection now expects the answer. */
    const char *ans = "HTTP/1.1 200 OK\r\nX-Worker-Id: 2\r\nContent-Length: 2\r\n\r\nok";
    resp_t r;
    resp_init(&r);
    size_t used;
    CHECK(ck, bbc_parse_feed(c, (const uint8_t *)ans, strlen(ans), &used, &r) == 1 && used == strlen(ans));
    CHECK(ck, r.status == 200 && strcmp(resp_header(&r, "x-worker-id"), "2") == 0);
    resp_free(&r);
    bbuf_free(&out);
    bbc_conn_destroy(c);
}

int main(void)
{
    test_build();
    test_parse();
    test_bbc_http_request();
    return check_done(&ck, "test_tools_httpclient");
}
