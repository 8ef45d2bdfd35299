/* test_request.c - the parsed request: required fields, clocks at every
 * extreme (refused by comparison, never by an overflowing difference),
 * the body's framing against n_samples, the optional controls and the
 * bounds of what people type.  No segment: the module is pure. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "request.h"

static rq_t rq;
static const int64_t NOW = INT64_C(80000000000000);   /* about 2022 */

static int parse(const char *q) { return rq_parse(&rq, q, strlen(q), NULL, 0, NULL, NOW); }

/* A request with the given clocks (as text, so that any int64 can be
 * written) and an empty body of 28,800 samples. */
static int with_clocks(const char *read, const char *write)
{
    char q[2048];
    snprintf(q, sizeof q, "read_clock=%s%s%s&n_samples=28800&userid=7&username=A", read,
             write ? "&write_clock=" : "", write ? write : "");
    return parse(q);
}

static int contains(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

int main(void)
{
    CHECK_INIT(c);
    char now[32], ok[32], hour_ago[32], past_hour[32], future[32];
    snprintf(now, sizeof now, "%" PRId64, NOW);
    snprintf(ok, sizeof ok, "%" PRId64, NOW - 48000);
    snprintf(hour_ago, sizeof hour_ago, "%" PRId64, (int64_t)(NOW - RQ_CLOCK_WINDOW));
    snprintf(past_hour, sizeof past_hour, "%" PRId64, (int64_t)(NOW - RQ_CLOCK_WINDOW - 1));
    snprintf(future, sizeof future, "%" PRId64, NOW + 1);

    /* Clocks inside the window. */
    CHECK_EQ_I(c, with_clocks(ok, ok), 0);
    CHECK_EQ_I(c, rq.read_clock, NOW - 48000);
    CHECK(c, rq.has_write && rq.write_clock == NOW - 48000 && rq.n == 28800);
    CHECK_EQ_I(c, with_clocks(now, now), 0);
    CHECK_EQ_I(c, with_clocks(hour_ago, hour_ago), 0);

    /* Every extreme is a 400 with a message, for either clock. */
    const char *bad[] = { "-9223372036854775808", "9223372036854775807", "-1", "0",
                          past_hour, future, "-9223372036854775807" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_I(c, with_clocks(bad[i], NULL), -1);
        CHECK(c, contains(rq.err, "read clock"));
        CHECK_EQ_I(c, with_clocks(ok, bad[i]), -1);
        CHECK(c, contains(rq.err, "write clock"));
    }
    /* Not numbers at all, or beyond int64. */
    CHECK_EQ_I(c, with_clocks("9223372036854775808", NULL), -1);
    CHECK_EQ_I(c, with_clocks("-9223372036854775809", NULL), -1);
    CHECK_EQ_I(c, with_clocks("1e9", NULL), -1);
    CHECK_EQ_I(c, with_clocks(ok, "12x"), -1);

    /* Required fields and n_samples. */
    CHECK_EQ_I(c, parse("n_samples=2880&userid=7&username=A"), -1);
    CHECK(c, strcmp(rq.err, "no client read clock") == 0);
    char q[2048];
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&username=A", ok);
    CHECK_EQ_I(c, parse(q), -1);
    CHECK(c, strcmp(rq.err, "missing username/id") == 0);
    snprintf(q, sizeof q, "read_clock=%s&userid=7&username=A", ok);
    CHECK_EQ_I(c, parse(q), -1);
    CHECK(c, strcmp(rq.err, "Must provide either n_samples or data") == 0);
    const char *bad_n[] = { "-2880", "2881", "734401", "9223372036854775807", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad_n / sizeof bad_n[0]; i++) {
        snprintf(q, sizeof q, "read_clock=%s&n_samples=%s&userid=7&username=A", ok, bad_n[i]);
        CHECK_EQ_I(c, parse(q), -1);
    }
    const char *bad_uid[] = { "-1", "007", "18446744073709551616x", "12345678901234567890", "a" };
    for (size_t i = 0; i < sizeof bad_uid / sizeof bad_uid[0]; i++) {
        snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=%s&username=A", ok, bad_uid[i]);
        CHECK_EQ_I(c, parse(q), -1);
    }

    /* The body's framing decides the length. */
    static uint8_t body[1 + 2 * (2 + 3)];
    body[0] = 2;
    for (int i = 0; i < 2; i++) {
        body[1 + i * 5] = 0;
        body[2 + i * 5] = 3;
        memset(body + 3 + i * 5, 0xF8, 3);
    }
    snprintf(q, sizeof q, "read_clock=%s&userid=7&username=A&write_clock=%s", ok, ok);
    CHECK_EQ_I(c, rq_parse(&rq, q, strlen(q), body, sizeof body, NULL, NOW), 0);
    CHECK(c, rq.npk == 2 && rq.n == 5760 && rq.pk[1].len == 3);
    snprintf(q, sizeof q, "read_clock=%s&userid=7&username=A&n_samples=2880", ok);
    CHECK_EQ_I(c, rq_parse(&rq, q, strlen(q), body, sizeof body, NULL, NOW), -1);
    CHECK(c, contains(rq.err, "confused"));
    CHECK_EQ_I(c, rq_parse(&rq, q, strlen(q), body, sizeof body - 1, NULL, NOW), -1);

    /* Flags: mute, and how much of the user summary the client wants. */
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=7&username=A", ok);
    CHECK_EQ_I(c, parse(q), 0);
    CHECK(c, !rq.muted && !rq.no_summary && !rq.summary_changes);
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=7&username=A&muted=1&summary=changed", ok);
    CHECK_EQ_I(c, parse(q), 0);
    CHECK(c, rq.muted && !rq.no_summary && rq.summary_changes);
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=7&username=A&muted=0&summary=0", ok);
    CHECK_EQ_I(c, parse(q), 0);
    CHECK(c, !rq.muted && rq.no_summary && !rq.summary_changes);

    /* Controls out of range are ignored, not refused. */
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=7&username=A&bpm=0&repeats=21&bpr=-1"
             "&volume=abc&backing_volume=1.5", ok);
    CHECK_EQ_I(c, parse(q), 0);
    CHECK(c, rq.bpm == -1 && rq.repeats == -1 && rq.bpr == -1);
    CHECK(c, !rq.has_volume && rq.has_backing_volume && rq.backing_volume == 1.5);

    /* What people type: a long name is cut on a character boundary, chat
     * is bounded per message and per request. */
    char name[300] = "", longchat[1200];
    for (int i = 0; i < 40; i++)
        strcat(name, "%C3%A9");    /* 80 bytes of é */
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=7&username=%s", ok, name);
    CHECK_EQ_I(c, parse(q), 0);
    CHECK_EQ_I(c, strlen(rq.name), SEG_NAME_MAX - 2);   /* 31 whole characters */
    snprintf(longchat, sizeof longchat, "%%5B%%22%0*d%%22%%5D", RQ_CHAT_MAX_BYTES + 1, 0);
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=7&username=A&chat=%s", ok, longchat);
    CHECK_EQ_I(c, parse(q), -1);
    CHECK(c, contains(rq.err, "too long"));
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=7&username=A&chat=%%5B%%22a%%5Cu0007%%22%%5D", ok);
    CHECK_EQ_I(c, parse(q), -1);   /* a control character */

    /* Mic volumes: one command per singer however often it is named; the
     * last value stands, as if each had been applied in order. */
    snprintf(q, sizeof q, "read_clock=%s&n_samples=2880&userid=7&username=A&mic_volume="
             "%%5B%%5B%%2212%%22,0.5%%5D,%%5B%%2213%%22,1%%5D,%%5B%%2212%%22,1.5%%5D,%%5B%%2212%%22,2%%5D%%5D", ok);
    CHECK_EQ_I(c, parse(q), 0);
    CHECK_EQ_I(c, rq.n_mic, 2);
    CHECK(c, rq.mic[0].id == 12 && rq.mic[0].v == 2.0 && rq.mic[1].id == 13 && rq.mic[1].v == 1.0);
    return check_done(&c, "test_request");
}
