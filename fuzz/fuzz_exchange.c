/*
 * fuzz_exchange.c - the whole audio exchange of a worker (fcgi/exchange.h):
 * everything a singer sends, through ex_handle(), against a real segment
 * and the daemon's logic, in one process on a simulated clock.
 *
 * Set-up (LLVMFuzzerInitialize, once): a daemon over a private segment
 * "/bbfuzz-exchange-<pid>" (tests/rig.h), a worker's exchange on lane 1
 * for 64 singers, no recordings, no tracks.  The segment's name is unlinked as soon as both
 * have mapped it, so nothing is left in /dev/shm however the process ends.
 *
 * Every input advances the clock by one Opus frame (60 ms), runs a daemon
 * tick and the worker's housekeeping, makes one request, and ticks the
 * daemon again at the same clock so that the commands the request queued
 * are applied within the same input (a crash replays from one file).  State stays bounded over
 * any number of inputs: the singer table, the segment's user table, the
 * command lane, the chat log and the encoder caches all have fixed
 * capacities and the simulated hour after which idle singers are swept
 * passes every 60 000 inputs.
 *
 * Three variants, built from this file with FZ_MODE (fuzz/CMakeLists.txt),
 * each with its own corpus:
 *
 *   exchange (FZ_MODE 0, raw): the input is  QUERY \0 X-EVENT-DATA \0 BODY,
 *     passed as they are (no second NUL: no header; no first: query only).
 *     So that a mutated query can still pass the clock checks, the harness
 *     replaces "$R" and "$W" in the query with a read / write clock 3 s
 *     behind the server clock, "$O" with one 59 minutes behind (the oldest
 *     the exchange takes), and "$P0".."$P7" with the public id of its
 *     singer 0..7 (userids 1000000001..8).
 *
 *   exchange_opus (FZ_MODE 1): USER FLAGS BODY.  The harness builds a
 *     valid query for its singer USER % 8, with continuous clocks, around
 *     the fuzzed pack_multi BODY, so the packets reach the Opus decoder, the
 *     mic volume, the timeline and the rounds.
 *
 *   exchange_json (FZ_MODE 2): USER FLAGS CHAT \0 MIC_VOLUME \0 EVENTS: a
 *     valid query that carries the fuzzed chat and mic_volume JSON
 *     (percent-encoded by the harness) and the fuzzed X-Event-Data; "@0".."@7"
 *     in MIC_VOLUME become the public ids of the harness's singers.
 *
 * FLAGS (both structured modes): bit 0 reset_user_state, 1 request_lead,
 * 2 mark_start_singing, 3 loopback, 4 spectator, 5 no write_clock, 6
 * mark_stop_singing, 7 a read clock off the 60 ms grid when (re)connecting.
 *
 * With BB_FUZZ_TRACE set in the environment every response's status and
 * metadata are printed (to see how far a seed gets).
 *
 * Invariants checked on every response: a known status; an
 * X-Audio-Metadata value that is one line of printable ASCII and valid
 * JSON; for a 200, a body of n_samples / 2880 packets, each one the
 * browser's decoder can take (at most PK_MAX_PACKET bytes).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "room.h"
#include "exchange.h"
#include "fuzz.h"
#include "packet.h"
#include "fzrig.h"
#include "ring.h"
#include "segment.h"

#ifndef FZ_MODE
#define FZ_MODE 0
#endif

#define FRAME RING_OPUS_FRAME
#define RATE RING_SAMPLE_RATE
#define NUSERS 8
#define LANE 1
#define QBUF_CAP 20000   /* a query after the harness's substitutions */

typedef struct {
    uint64_t uid;
    int64_t last_read;    /* END of the last read interval, 0 = reconnect */
    int64_t last_write;   /* END of the last write interval, 0 = none yet */
    int64_t offgrid;      /* 0, or the offset of an unaligned connection */
} fz_user_t;

static rig_t rig_;
static rm_t *dmn;
static seg_t *seg;
static ex_t *ex;
static int64_t now;
static fz_user_t users[NUSERS];
static bool trace;   /* BB_FUZZ_TRACE set: print every response */

static void fz_cleanup(void)
{
    ex_destroy(ex);
    rig_close(&rig_);
    ex = NULL;
    seg = NULL;
    dmn = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_rig_open(&rig_, "fuzz_exchange", "fuzz-exchange",
                &(rig_opts_t){.ring_seconds = 32, .user_cap = 64, .seed = 7}, LANE, 1);
    dmn = rig_.d;
    seg = rig_.seg;
    char why[256];
    ex = ex_create(seg, LANE, 64, NULL, why, sizeof why);
    if (!ex) {
        fprintf(stderr, "fuzz_exchange: ex_create: %s\n", why);
        abort();
    }
    atexit(fz_cleanup);
    trace = getenv("BB_FUZZ_TRACE") != NULL;
    now = seg_now();
    now -= now % FRAME;
    for (int i = 0; i < 50; i++)
        rm_tick(dmn, now += 240);
    now -= now % FRAME;
    for (int i = 0; i < NUSERS; i++)
        users[i].uid = 1000000001ull + (uint64_t)i;
    return 0;
}

/* ---- building requests ------------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap, len;
    bool full;
} sb_t;

static void sb_put(sb_t *b, const char *s, size_t n)
{
    if (b->full || n >= b->cap - b->len) {
        b->full = true;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Appends s[0..n) percent-encoded as URLSearchParams does (space as '+'). */
static void sb_urlencode(sb_t *b, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n && !b->full; i++) {
        uint8_t c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '*' || c == '-' || c == '.' || c == '_') {
            sb_put(b, (const char *)&c, 1);
        } else if (c == ' ') {
            sb_put(b, "+", 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_put(b, e, 3);
        }
    }
}

/* Splits data at the first NUL: *part is the bytes before it; returns the
 * rest after the NUL, or NULL (and *rest_len 0) when there is none. */
static const uint8_t *split(const uint8_t *data, size_t size, size_t *part_len, size_t *rest_len)
{
    const uint8_t *z = memchr(data, 0, size);
    if (!z) {
        *part_len = size;
        *rest_len = 0;
        return NULL;
    }
    *part_len = (size_t)(z - data);
    *rest_len = size - *part_len - 1;
    return z + 1;
}

/* The 60 ms-aligned clock a fresh connection reads up to: 3 s behind. */
static int64_t behind(void) { return now - 3 * RATE - (now - 3 * RATE) % FRAME; }

/* ---- checking responses ------------------------------------------------- */

static void check_response(const ex_response_t *res, uint32_t n_expected)
{
    if (trace)
        printf("%d %.300s\n", res->status, res->meta ? res->meta : "(no meta)");
    FZ_ASSERT(res->status == 200 || res->status == 400 || res->status == 500 ||
              res->status == 503);
    FZ_ASSERT(res->meta != NULL && res->content_type != NULL);
    size_t mlen = strlen(res->meta);
    FZ_ASSERT(mlen > 0 && mlen < 65536);
    for (size_t i = 0; i < mlen; i++)
        FZ_ASSERT(res->meta[i] >= 0x20 && res->meta[i] < 0x7f);
    cJSON *j = cJSON_ParseWithLength(res->meta, mlen);
    FZ_ASSERT(j != NULL && cJSON_IsObject(j));
    if (res->status == 200) {
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(j, "n_samples");
        FZ_ASSERT(cJSON_IsNumber(ns));
        uint32_t n = (uint32_t)ns->valuedouble;
        FZ_ASSERT(n > 0 && n % FRAME == 0 && n <= RQ_MAX_SAMPLES);
        if (n_expected)
            FZ_ASSERT(n == n_expected);
        static pk_packet_t pk[PK_MAX_PACKETS];
        int np = pk_parse(res->body, res->body_len, pk, PK_MAX_PACKETS);
        FZ_ASSERT(np >= 0 && (uint32_t)np == n / FRAME);
    } else {
        FZ_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "kill_client")));
    }
    cJSON_Delete(j);
}

static void step_clock(void)
{
    now += FRAME;
    rm_tick(dmn, now);
    ex_housekeeping(ex, now);
}

/* ---- mode 0: raw --------------------------------------------------------- */

static void raw_query(sb_t *q, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n && !q->full; i++) {
        if (s[i] == '$' && i + 1 < n) {
            uint8_t c = s[i + 1];
            if (c == 'R' || c == 'W') {
                sb_printf(q, "%lld", (long long)behind());
                i++;
                continue;
            }
            if (c == 'O') {
                /* The oldest clock the exchange accepts: 59 minutes back. */
                int64_t old = now - 59 * 60 * (int64_t)RATE;
                sb_printf(q, "%lld", (long long)(old - old % FRAME));
                i++;
                continue;
            }
            if (c == 'P' && i + 2 < n && s[i + 2] >= '0' && s[i + 2] < '0' + NUSERS) {
                sb_printf(q, "%llu",
                          (unsigned long long)seg_public_id(seg, users[s[i + 2] - '0'].uid));
                i += 2;
                continue;
            }
        }
        sb_put(q, (const char *)&s[i], 1);
    }
}

static void run_raw(const uint8_t *data, size_t size)
{
    static char qbuf[QBUF_CAP];
    static char ev[EX_EVENT_HEADER_MAX + 64];
    size_t qlen, rest, evlen, blen;
    const uint8_t *r = split(data, size, &qlen, &rest);
    const uint8_t *body = NULL;
    const char *event = NULL;
    blen = 0;
    if (r) {
        body = split(r, rest, &evlen, &blen);
        if (evlen >= sizeof ev)
            evlen = sizeof ev - 1;
        memcpy(ev, r, evlen);
        ev[evlen] = '\0';
        event = ev;
        if (!body)
            blen = 0;
    }
    sb_t q = {qbuf, sizeof qbuf, 0, false};
    qbuf[0] = '\0';
    raw_query(&q, data, qlen);
    step_clock();
    ex_request_t req = {.query = qbuf, .query_len = q.len, .body = body, .body_len = blen, .event_data = event};
    ex_response_t res;
    ex_handle(ex, &req, &res, now);
    rm_tick(dmn, now);   /* applies this request's commands: inputs replay alone */
    check_response(&res, 0);
}

/* ---- modes 1 and 2: a valid query around fuzzed parts -------------------- */

enum {
    F_RESET = 1, F_LEAD = 2, F_START = 4, F_LOOPBACK = 8,
    F_SPECTATOR = 16, F_NOWRITE = 32, F_STOP = 64, F_OFFGRID = 128,
};

/* Starts the query of harness singer u for an interval of n samples: both
 * clocks continue the singer's last request unless that would leave the
 * timeline's window, in which case the singer reconnects. */
static void base_query(sb_t *q, fz_user_t *u, uint8_t flags, uint32_t n)
{
    int64_t read = u->last_read + n;
    bool reconnect = u->last_read == 0 || (flags & F_RESET) || read > now ||
                     now - read > 20 * RATE;
    if (reconnect) {
        u->offgrid = (flags & F_OFFGRID) ? 1000 : 0;
        read = behind() - u->offgrid;
        u->last_write = 0;
    }
    sb_printf(q, "read_clock=%lld&n_samples=%u&userid=%llu&username=singer+%llu",
              (long long)read, n, (unsigned long long)u->uid,
              (unsigned long long)(u->uid % 100));
    if (reconnect)
        sb_printf(q, "&reset_user_state=true");
    if (!(flags & F_NOWRITE)) {
        int64_t w = u->last_write ? u->last_write + n : read;
        if (w > now || now - w > 20 * RATE)
            w = read;
        sb_printf(q, "&write_clock=%lld", (long long)w);
        u->last_write = w;
    } else {
        u->last_write = 0;
    }
    u->last_read = read;
    if (flags & F_LEAD)
        sb_printf(q, "&request_lead=1");
    if (flags & F_START)
        sb_printf(q, "&mark_start_singing=1");
    if (flags & F_STOP)
        sb_printf(q, "&mark_stop_singing=1");
    if (flags & F_LOOPBACK)
        sb_printf(q, "&loopback=true");
    if (flags & F_SPECTATOR)
        sb_printf(q, "&spectator=1");
}

/* After a refused request the client reconnects (the server dropped its
 * codec state and it gets kill_client). */
static void after(fz_user_t *u, const ex_response_t *res)
{
    if (res->status != 200)
        u->last_read = 0;
}

static void run_opus(const uint8_t *data, size_t size)
{
    static char qbuf[1024];
    static pk_packet_t pk[PK_MAX_PACKETS];
    if (size < 2)
        return;
    fz_user_t *u = &users[data[0] % NUSERS];
    uint8_t flags = data[1];
    const uint8_t *body = data + 2;
    size_t blen = size - 2;
    int npk = pk_parse(body, blen, pk, PK_MAX_PACKETS);
    uint32_t n = npk > 0 ? (uint32_t)npk * FRAME : 10 * FRAME;
    sb_t q = {qbuf, sizeof qbuf, 0, false};
    step_clock();
    base_query(&q, u, flags, n);
    ex_request_t req = {.query = qbuf, .query_len = q.len, .body = body, .body_len = blen, .event_data = "undefined"};
    ex_response_t res;
    ex_handle(ex, &req, &res, now);
    rm_tick(dmn, now);   /* applies this request's commands: inputs replay alone */
    check_response(&res, n);
    after(u, &res);
}

static void run_json(const uint8_t *data, size_t size)
{
    static char qbuf[QBUF_CAP];
    static uint8_t mic[4096];
    static char ev[EX_EVENT_HEADER_MAX + 64];
    if (size < 2)
        return;
    fz_user_t *u = &users[data[0] % NUSERS];
    uint8_t flags = data[1];
    size_t chat_len, rest, mic_len, ev_len;
    const uint8_t *chat = data + 2;
    const uint8_t *m = split(chat, size - 2, &chat_len, &rest);
    const uint8_t *e = m ? split(m, rest, &mic_len, &ev_len) : NULL;
    if (!m)
        mic_len = 0;
    /* "@k" in the mic volumes: the public id of harness singer k. */
    size_t ml = 0;
    for (size_t i = 0; m && i < mic_len && ml + 24 < sizeof mic; i++) {
        if (m[i] == '@' && i + 1 < mic_len && m[i + 1] >= '0' && m[i + 1] < '0' + NUSERS) {
            ml += (size_t)snprintf((char *)mic + ml, sizeof mic - ml, "%llu",
                                   (unsigned long long)seg_public_id(seg, users[m[i + 1] - '0'].uid));
            i++;
        } else {
            mic[ml++] = m[i];
        }
    }
    const char *event = NULL;
    if (e) {
        if (ev_len >= sizeof ev)
            ev_len = sizeof ev - 1;
        memcpy(ev, e, ev_len);
        ev[ev_len] = '\0';
        event = ev;
    }
    uint32_t n = 10 * FRAME;
    sb_t q = {qbuf, sizeof qbuf, 0, false};
    step_clock();
    base_query(&q, u, flags, n);
    if (chat_len) {
        sb_printf(&q, "&chat=");
        sb_urlencode(&q, chat, chat_len);
    }
    if (ml) {
        sb_printf(&q, "&mic_volume=");
        sb_urlencode(&q, mic, ml);
    }
    ex_request_t req = {.query = qbuf, .query_len = q.len, .body = NULL, .body_len = 0, .event_data = event};
    ex_response_t res;
    ex_handle(ex, &req, &res, now);
    rm_tick(dmn, now);   /* applies this request's commands: inputs replay alone */
    check_response(&res, n);
    after(u, &res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ex)
        LLVMFuzzerInitialize(NULL, NULL);
    if (FZ_MODE == 0)
        run_raw(data, size);
    else if (FZ_MODE == 1)
        run_opus(data, size);
    else
        run_json(data, size);
    return 0;
}
