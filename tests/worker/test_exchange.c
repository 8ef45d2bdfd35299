/*
 * test_exchange.c - the worker's audio exchange against a real segment and
 * the daemon's logic, on a simulated clock, with real Opus on both sides.
 *
 * Two singers, A (leads) and B (follows, later bucket):
 *   - the protocol basics of every response;
 *   - chat from A reaches B and not A; identity: B sees A's public id,
 *     never A's userid, and A sees its own userid as leader;
 *   - A leads and starts and sings a gated tone; B, 3 s later in the chain,
 *     receives it at exactly the position A wrote it: the lag is the two
 *     Opus encoders' lookahead and nothing else, and the level is the
 *     normalisation's (one singer: 1.0 times the global volume);
 *   - a desynced write clock gets kill_client; malformed bodies, bad clocks,
 *     oversized names and chats get a 4xx, and none of it changes what B
 *     hears or the timeline;
 *   - the summary is in every response, or only when it changed for a
 *     client that asks so.
 */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cmdq.h"
#include "daemon.h"
#include "exclient.h"
#include "snap.h"
#include "timeline.h"
#include "users.h"

int main(void)
{
    CHECK_INIT(c);
    wr_t r;
    if (rig_open(&r.k, "test-exchange", &(rig_opts_t){.ring_seconds = 32, .user_cap = 64, .seed = 7}) != 0)
        return 1;
    char why[256];
    seg_err_t err;
    CHECK_EQ_I(c, seg_claim_lane(r.k.seg, 2, &err), 0);
    r.ex = ex_create(r.k.seg, 2, 256, NULL, why, sizeof why);
    tick(&r, 50);

    static cl_t a = {.uid = "11111111111", .name = "Ann"}, b = {.uid = "22222222222", .name = "Bob+B"};
    connect_at(&a, &r, 115);
    connect_at(&b, &r, 115);

    /* Basics of the first response. */
    CHECK_EQ_I(c, post(&r, &a, NULL, NULL, "undefined"), 200);
    CHECK(c, has(a.meta, "\"events\":[]") && has(a.meta, "\"n_samples\":28800"));
    char rc[64];
    snprintf(rc, sizeof rc, "\"client_read_clock\":%lld", (long long)a.read);
    CHECK(c, has(a.meta, rc));
    CHECK(c, has(a.meta, "\"client_write_clock\":null"));
    CHECK(c, has(a.meta, "\"tracks\":[\"metronome -- set BPM below\"]"));
    CHECK(c, has(a.meta, "\"user_summary\":"));
    CHECK(c, has(a.meta, "\"chats\":[]"));
    char apub[32], bpub[32];
    snprintf(apub, sizeof apub, "%llu", (unsigned long long)seg_public_id(r.k.seg, 11111111111ull));
    snprintf(bpub, sizeof bpub, "%llu", (unsigned long long)seg_public_id(r.k.seg, 22222222222ull));
    CHECK(c, has(a.meta, apub));
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    tick(&r, 600);

    /* Chat: A to everyone but A. */
    CHECK_EQ_I(c, post(&r, &a, "chat=%5B%22hello+%3Cb%3E%22%5D", NULL, NULL), 200);
    tick(&r, 20);
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    char chat[128];
    snprintf(chat, sizeof chat, "\"chats\":[[\"Ann\",\"hello <b>\",\"%s\"]]", apub);
    CHECK(c, has(b.meta, chat));
    CHECK_EQ_I(c, post(&r, &a, NULL, NULL, NULL), 200);
    CHECK(c, has(a.meta, "\"chats\":[]"));
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    CHECK(c, has(b.meta, "\"chats\":[]"));   /* delivered once */
    tick(&r, 600);

    /* The summary changed (Ann joined): both are listed, by public id only.
     * Unchanged, it is sent again in every response (the original client
     * redraws its people list from each one), unless the client asked for
     * it only when it changes (summary=changed). */
    CHECK_EQ_I(c, post(&r, &b, "summary=changed", NULL, NULL), 200);
    CHECK(c, has(b.meta, "\"Ann\"") && has(b.meta, bpub) && has(b.meta, apub));
    CHECK(c, !has(b.meta, "11111111111") && !has(b.meta, "22222222222"));
    tick(&r, 1100);
    CHECK_EQ_I(c, post(&r, &b, "summary=changed", NULL, NULL), 200);
    CHECK(c, !has(b.meta, "user_summary"));   /* unchanged: not sent again */
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    CHECK(c, has(b.meta, "\"user_summary\":[[") && has(b.meta, apub));   /* every response */
    CHECK_EQ_I(c, post(&r, &b, "summary=0", NULL, NULL), 200);
    CHECK(c, !has(b.meta, "user_summary"));

    /* A leads: A is told its own userid as leader and moves to 3 s; B gets
     * A's public id and a follower bucket. */
    CHECK_EQ_I(c, post(&r, &a, "request_lead=1", NULL, NULL), 200);
    tick(&r, 20);
    CHECK_EQ_I(c, post(&r, &a, NULL, NULL, NULL), 200);
    CHECK(c, has(a.meta, "\"leader\":\"11111111111\""));
    CHECK(c, has(a.meta, "\"delay_seconds\":3"));
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    char lead_pub[64];
    snprintf(lead_pub, sizeof lead_pub, "\"leader\":\"%s\"", apub);
    CHECK(c, has(b.meta, lead_pub));
    CHECK(c, has(b.meta, "\"delay_seconds\":6"));
    /* Both reconnect at their new offsets, as the client does. */
    connect_at(&a, &r, 3);
    connect_at(&b, &r, 6);
    CHECK_EQ_I(c, post(&r, &a, "mark_start_singing=1", NULL, NULL), 200);
    int64_t start = a.read;
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    tick(&r, 600);

    /* A sings the tone for 6 s, writing at the clocks it reads (no local
     * latency); B keeps listening.  Collect what B hears by clock. */
    static float sent[N], heard[20 * N];
    int64_t heard_from = 0;
    int heard_n = 0;
    int64_t tone_from = 0, tone_to = 0;
    for (int k = 0; k < 18; k++) {
        /* This upload covers [pos, pos + N): it continues the last write,
         * or starts where this request's read interval starts. */
        int64_t pos = a.write ? a.write : a.read;
        for (int i = 0; i < N; i++)
            sent[i] = k < 10 ? tone(pos + i) : 0.0f;
        if (k == 0)
            tone_from = pos;
        if (k == 9)
            tone_to = pos + N;
        CHECK_EQ_I(c, post(&r, &a, NULL, sent, NULL), 200);
        CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
        if (heard_n == 0)
            heard_from = b.read - N;
        if (heard_n < 20)
            memcpy(heard + (size_t)heard_n++ * N, b.got, sizeof b.got);
        tick(&r, 600);
    }
    CHECK(c, tone_from >= start);
    /* B started hearing at its own read position; find the lag. */
    int32_t la = 0;
    opus_encoder_ctl(a.enc, OPUS_GET_LOOKAHEAD(&la));
    int expect_lag = 2 * la;   /* A's encoder, then the worker's encoder */
    double best = -1;
    int best_lag = -1;
    int64_t total = (int64_t)heard_n * N;
    for (int lag = 0; lag < 2000; lag++) {
        double acc = 0;
        for (int64_t t = tone_from; t < tone_to; t += 3) {
            int64_t i = t + lag - heard_from;
            if (i >= 0 && i < total)
                acc += (double)tone(t) * heard[i];
        }
        if (acc > best) {
            best = acc;
            best_lag = lag;
        }
    }
    printf("  tone heard %d samples after it was written (Opus lookahead %d + %d)\n", best_lag,
           la, la);
    CHECK_EQ_I(c, best_lag, expect_lag);
    /* Level: one singer, normalisation 1.0, global volume 1.000245. */
    double e_sent = 0, e_err = 0;
    for (int64_t t = tone_from + 4800; t < tone_to - 4800; t++) {
        int64_t i = t + expect_lag - heard_from;
        if (i < 0 || i >= total)
            continue;
        double want = tone(t) * 1.000245;
        e_sent += want * want;
        e_err += (heard[i] - want) * (heard[i] - want);
    }
    double snr = 10 * log10(e_sent / (e_err + 1e-30));
    printf("  tone through two Opus passes: SNR %.1f dB\n", snr);
    CHECK(c, e_sent > 0 && snr > 12.0);

    /* Bad input from A changes nothing for B or the timeline. */
    static int64_t cells_before[N], cells_after[N];
    int64_t probe = tone_from;
    tl_read_cells(r.k.seg, probe, N, cells_before);
    char meta[4096];
    char q[4096];
    /* Truncated body. */
    uint8_t trunc[5] = {2, 0, 10, 1, 2};
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=%d&userid=%s&username=Ann&write_clock=%lld",
             (long long)(a.read + N), N, a.uid, (long long)(a.write + N));
    CHECK_EQ_I(c, raw(&r, q, trunc, sizeof trunc, meta, sizeof meta), 400);
    CHECK(c, has(meta, "\"kill_client\":true") && has(meta, "truncated"));
    /* Garbage Opus. */
    uint8_t junk[1 + 2 + 7] = {1, 0, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=2880&userid=%s&username=Ann&write_clock=%lld",
             (long long)(a.read + 2880), a.uid, (long long)(a.write + 2880));
    int st = raw(&r, q, junk, sizeof junk, meta, sizeof meta);
    CHECK(c, st == 400);
    /* Future and absurd clocks. */
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=2880&userid=%s&username=Ann",
             (long long)(r.k.now + 48000), a.uid);
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    CHECK(c, has(meta, "future"));
    snprintf(q, sizeof q, "read_clock=-5&n_samples=2880&userid=%s&username=Ann", a.uid);
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    snprintf(q, sizeof q, "read_clock=NaN&n_samples=2880&userid=%s&username=Ann", a.uid);
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=2881&userid=%s&username=Ann", (long long)a.read, a.uid);
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    /* Missing or bad ids. */
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=2880&username=Ann", (long long)a.read);
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    CHECK(c, has(meta, "missing username/id"));
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=2880&userid=abc&username=Ann", (long long)a.read);
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    snprintf(q, sizeof q, "n_samples=2880&userid=1&username=Ann");
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    CHECK(c, has(meta, "no client read clock"));
    /* A huge name and a huge chat. */
    static char hq[16000];
    int hn = snprintf(hq, sizeof hq, "read_clock=%lld&n_samples=2880&userid=%s&username=", (long long)a.read, a.uid);
    memset(hq + hn, 'x', 2000);
    hq[hn + 2000] = '\0';
    CHECK_EQ_I(c, raw(&r, hq, NULL, 0, meta, sizeof meta), 400);
    CHECK(c, has(meta, "username too long"));
    hn = snprintf(hq, sizeof hq, "read_clock=%lld&n_samples=2880&userid=%s&username=Ann&chat=%%5B%%22",
                  (long long)a.read, a.uid);
    memset(hq + hn, 'y', 600);
    snprintf(hq + hn + 600, sizeof hq - (size_t)hn - 600, "%%22%%5D");
    CHECK_EQ_I(c, raw(&r, hq, NULL, 0, meta, sizeof meta), 400);
    CHECK(c, has(meta, "chat message too long"));
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=2880&userid=%s&username=Ann&chat=%%5B1%%2C2%%5D",
             (long long)a.read, a.uid);
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    /* Repeated and malformed parameters. */
    snprintf(q, sizeof q, "read_clock=1&read_clock=2&n_samples=2880&userid=1&username=A");
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    CHECK(c, has(meta, "repeated query parameter 'read_clock'"));
    snprintf(q, sizeof q, "read_clock=1&&n_samples=2880");
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    /* Body and n_samples disagree. */
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=5760&userid=%s&username=Ann", (long long)a.read, a.uid);
    CHECK_EQ_I(c, raw(&r, q, junk, sizeof junk, meta, sizeof meta), 400);
    CHECK(c, has(meta, "confused"));
    snprintf(q, sizeof q, "read_clock=%lld&userid=%s&username=Ann", (long long)a.read, a.uid);
    CHECK_EQ_I(c, raw(&r, q, NULL, 0, meta, sizeof meta), 400);
    CHECK(c, has(meta, "Must provide either n_samples or data"));

    /* A desynced write clock ends A's session. */
    a.write += 2880;   /* skip ahead: no longer continuous */
    for (int i = 0; i < N; i++)
        sent[i] = 0.3f;
    CHECK_EQ_I(c, post(&r, &a, NULL, sent, NULL), 500);
    CHECK(c, has(a.meta, "\"kill_client\":true") && has(a.meta, "Client write clock desync"));
    /* A write far in the past ends it too. */
    connect_at(&a, &r, 3);
    a.write = r.k.now - 40 * RATE;
    CHECK_EQ_I(c, post(&r, &a, NULL, sent, NULL), 500);
    CHECK(c, has(a.meta, "too far in the past"));

    tl_read_cells(r.k.seg, probe, N, cells_after);
    CHECK(c, memcmp(cells_before, cells_after, sizeof cells_before) == 0);
    /* B carries on undisturbed: its next exchange continues. */
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    snprintf(rc, sizeof rc, "\"client_read_clock\":%lld", (long long)b.read);
    CHECK(c, has(b.meta, rc));

    /* Events: only with a write clock; junk headers count as none. */
    connect_at(&a, &r, 3);
    CHECK_EQ_I(c, post(&r, &a, NULL, sent, "[{\"evid\":\"chorus\",\"clock\":123},{\"nope\":1}]"), 200);
    CHECK_EQ_I(c, post(&r, &a, NULL, sent, "{not json"), 200);
    tick(&r, 20);
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    CHECK(c, has(b.meta, "\"events\":[{\"evid\":\"chorus\",\"clock\":123}]"));

    /* mic_volume names a singer by public id; a userid is not accepted;
     * +12 dB is the most (1.5 is taken as 1.4). */
    char mq[256];
    snprintf(mq, sizeof mq, "mic_volume=%%5B%%5B%%22%s%%22%%2C1.5%%5D%%2C%%5B%%2211111111111%%22%%2C0.2%%5D%%5D", bpub);
    CHECK_EQ_I(c, post(&r, &a, mq, sent, NULL), 200);
    tick(&r, 20);
    CHECK_NEAR(c, users_mic_volume(r.k.seg, (uint32_t)users_find(r.k.seg, 22222222222ull)), 1.4f, 0);
    CHECK_NEAR(c, users_mic_volume(r.k.seg, (uint32_t)users_find(r.k.seg, 11111111111ull)), 1.0, 0);

    const ex_counters_t *cnt = ex_counters(r.ex);
    printf("  counters: ok %llu, 400 %llu, kill %llu, desyncs %llu\n",
           (unsigned long long)cnt->ok, (unsigned long long)cnt->bad_request,
           (unsigned long long)cnt->killed, (unsigned long long)cnt->desyncs);
    CHECK_EQ_I(c, cnt->desyncs, 1);

    cl_free(&a);
    cl_free(&b);
    ex_destroy(r.ex);
    rig_close(&r.k);
    return check_done(&c, "test_exchange");
}
