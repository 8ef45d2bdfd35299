/*
 * fuzz_query.c - the query-string parser (fcgi/query.h): q_parse() on the
 * raw bytes, then every accessor the exchange uses on what it parsed.
 *
 * Invariants checked besides memory safety: a parse that succeeds holds at
 * most Q_MAX_PARAMS fields whose names are distinct and whose values are
 * NUL-terminated inside the q_t's buffer, with value_len their length;
 * q_get() finds each of them; q_int64() and q_double() accept only what
 * they promise (digits that fit in int64; finite numbers).
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "query.h"

/* The names the exchange and the upload endpoint look up. */
static const char *const names[] = {
    "read_clock", "write_clock", "n_samples", "userid", "username", "reset_user_state",
    "chat", "request_lead", "mark_start_singing", "mark_stop_singing", "volume",
    "backing_volume", "mic_volume", "bpm", "repeats", "bpr", "track", "monitor",
    "loopback", "spectator", "summary", "name",
};

static bool inside(const q_t *q, const char *p) { return p >= q->buf && p < q->buf + sizeof q->buf; }

static void check_number(const char *s)
{
    int64_t v;
    if (q_int64(s, &v)) {
        size_t n = strlen(s);
        FZ_ASSERT(n >= 1 && n <= 20);
        FZ_ASSERT(strspn(s + (s[0] == '-'), "0123456789") == n - (s[0] == '-'));
    }
    double d;
    if (q_double(s, &d))
        FZ_ASSERT(isfinite(d));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static q_t q;
    int rc = q_parse(&q, (const char *)data, size);
    FZ_ASSERT(rc <= 0 && rc >= Q_EREPEAT);
    FZ_ASSERT(q_strerror(rc) != NULL);
    if (rc == Q_EREPEAT)
        FZ_ASSERT(strlen(q.bad) < sizeof q.bad);
    if (rc == Q_OK) {
        FZ_ASSERT(q.n <= Q_MAX_PARAMS);
        for (uint32_t i = 0; i < q.n; i++) {
            const q_param_t *p = &q.p[i];
            FZ_ASSERT(inside(&q, p->name) && inside(&q, p->value));
            FZ_ASSERT(inside(&q, p->value + p->value_len));
            FZ_ASSERT(strlen(p->value) == p->value_len);
            for (uint32_t j = 0; j < i; j++)
                FZ_ASSERT(strcmp(q.p[j].name, p->name) != 0);
            /* An empty value counts as absent; otherwise q_get finds it. */
            const char *got = q_get(&q, p->name);
            FZ_ASSERT(p->value_len ? got == p->value : got == NULL);
            check_number(p->value);
        }
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            const char *v = q_get(&q, names[i]);
            if (v)
                check_number(v);
        }
    }
    /* The number parsers straight on the bytes, as one string. */
    char s[128];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    check_number(s);
    return 0;
}
