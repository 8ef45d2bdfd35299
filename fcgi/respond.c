/*
 * respond.c - answering a FastCGI request (respond.h).
 */
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "respond.h"

#define CORS "Access-Control-Allow-Origin: *\r\n" \
             "Access-Control-Allow-Headers: Content-Type, X-Event-Data\r\n" \
             "Access-Control-Expose-Headers: X-Audio-Metadata\r\n"

const char *rs_status(int code)
{
    switch (code) {
    case 200: return "200 OK";
    case 202: return "202 Accepted";
    case 204: return "204 No Content";
    case 304: return "304 Not Modified";
    case 400: return "400 Bad Request";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 409: return "409 Conflict";
    case 413: return "413 Payload Too Large";
    case 415: return "415 Unsupported Media Type";
    case 429: return "429 Too Many Requests";
    case 500: return "500 Internal Server Error";
    case 503: return "503 Service Unavailable";
    case 507: return "507 Insufficient Storage";
    default: return "500 Internal Server Error";
    }
}

void rs_head(FCGX_Request *r, int worker, int status, const char *ctype, const char *meta,
             const char *extra, size_t len)
{
    FCGX_FPrintF(r->out, "Status: %s\r\n" CORS "X-Content-Type-Options: nosniff\r\nX-Worker-Id: %d\r\n",
                 rs_status(status), worker);
    if (ctype)
        FCGX_FPrintF(r->out, "Content-Type: %s\r\n", ctype);
    if (meta) {
        FCGX_PutS("X-Audio-Metadata: ", r->out);
        FCGX_PutS(meta, r->out);
        FCGX_PutS("\r\n", r->out);
    }
    if (extra)
        FCGX_PutS(extra, r->out);
    /* libfcgi's printf knows no %zu */
    FCGX_FPrintF(r->out, "Content-Length: %lu\r\n\r\n", (unsigned long)len);
}

void rs_text(FCGX_Request *r, int worker, int status, const char *text)
{
    size_t n = strlen(text);
    rs_head(r, worker, status, "text/plain; charset=utf-8", NULL, NULL, n);
    FCGX_PutStr(text, (int)n, r->out);
}

void rs_json(FCGX_Request *r, int worker, int status, const char *json)
{
    size_t n = strlen(json);
    rs_head(r, worker, status, "application/json", NULL, NULL, n);
    FCGX_PutStr(json, (int)n, r->out);
}

void rs_json_error(FCGX_Request *r, int worker, int status, const char *msg)
{
    char buf[1024];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    jw_obj_begin(&j);
    jw_key(&j, "error");
    jw_str(&j, msg);
    jw_obj_end(&j);
    rs_json(r, worker, status, buf);
}

long rs_read_body(FCGX_Request *r, uint8_t *buf, size_t cap)
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
