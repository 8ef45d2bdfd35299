/*
 * test_wire.c - faithful wire behaviour through the real stack (daemon,
 * two workers, nginx), spoken by the protocol test client as fast as it
 * can: no request waits for real time and nothing sleeps between them.
 *
 *   1. Commands in order: the leader sends request_lead and, in the very
 *      next request, mark_start_singing with a tempo and its own mic
 *      volume; each following response reflects what came before (the
 *      leader is itself, the song has its start at that request's read
 *      clock, the tempo and the mic volume are there), as the original
 *      server, which applied commands at once, answered.
 *   2. Chat crosses between singers on different workers within 100 ms.
 *   3. The leader's 1 kHz burst, gated in irregular 10 ms blocks, reaches
 *      a listener 10 s later in the chain at exactly the clock it was sung
 *      at: the only lag is the two Opus encoders' lookahead (within the
 *      sample or two by which Opus's real delay falls short of it).
 *   4. A chat flood - forty singers with long UTF-8 names, each sending four
 *      500-byte UTF-8 chats per request - never makes a response too big for
 *      nginx (no 502), every response still carries the leader, the song's
 *      start and the singer's public id, and what is pending for a singer
 *      (a move to another bucket, the track list, the tempo) arrives.
 *
 * usage: test_wire BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "bbclient.h"
#include "check.h"
#include "fstack.h"

#define TNAME "test_wire"
#define RATE 48000
#define N BBC_BATCH
#define FLOODERS 40
#define FLOOD_CHATS 4       /* per request: as many 500-byte UTF-8 chats as nginx's 8k request line holds */

/* The leader's burst: 1 kHz, on in irregular 10 ms blocks, over clocks
 * [burst_from, burst_from + RATE). */
static int64_t burst_from;

static float burst(int64_t t)
{
    if (t < burst_from || t >= burst_from + RATE)
        return 0.0f;
    uint64_t h = (uint64_t)(t / 480) * 0x9E3779B97F4A7C15ull;
    if ((h >> 61) < 3)
        return 0.0f;
    return 0.4f * (float)sin(2 * M_PI * 1000.0 * (double)(t % RATE) / RATE);
}

static void leader_source(bbc_singer_t *s, float *out, int n, int64_t write_clock, void *user)
{
    (void)s;
    (void)user;
    for (int i = 0; i < n; i++)
        out[i] = burst(write_clock - n + i);
}

static bbc_singer_t *singer(fs_t *fs, const char *uid, const char *name, int offset, bool lead)
{
    bbc_config_t bc;
    bbc_config_init(&bc);
    bc.addr = fs_http(fs);
    bc.transport = BBC_HTTP;
    bc.userid = uid;
    bc.username = name;
    bc.offset_s = offset;
    bc.ignore_delay = true;
    bc.no_pace = true;
    if (lead) {
        bc.mode = BBC_SEND_ENCODE;
        bc.source = leader_source;
    }
    int err;
    return bbc_singer_new(&bc, &err);
}

/* The mic volume of the summary row with this public id, or -1. */
static double mic_of(const bbc_singer_t *s, const char *pub)
{
    const bbc_meta_t *m = bbc_singer_meta(s);
    for (int i = 0; i < bbc_meta_user_count(m); i++) {
        bbc_user_t u;
        if (bbc_meta_user(m, i, &u) == 0 && strcmp(u.id, pub) == 0)
            return u.mic_volume;
    }
    return -1;
}

static int has_chat(const bbc_singer_t *s, const char *text)
{
    const bbc_meta_t *m = bbc_singer_meta(s);
    for (int i = 0; i < bbc_meta_chat_count(m); i++) {
        const char *nm, *tx;
        if (bbc_meta_chat(m, i, &nm, &tx) == 0 && strcmp(tx, text) == 0)
            return 1;
    }
    return 0;
}

/* The leader stays, as a leader's page does: a request whenever a batch's
 * time (600 ms) has passed since its last one, so it is never the 5 s
 * silent that makes a leader gone, however long the listener's catching
 * up or the newcomers' first requests take on a slow machine. */
static int keep_leader(bbc_singer_t *lead, long long *last_ns)
{
    if (fs_now_ns() - *last_ns < 600000000LL)
        return 0;
    *last_ns = fs_now_ns();
    return bbc_exchange_batch(lead, NULL, NULL) != 0;
}

/* Part 4: the flood.  Returns the number of listener responses checked. */
static int flood(check_t *c, fs_t *fs, bbc_singer_t *lead, bbc_singer_t *lis, const char *lead_uid)
{
    static bbc_singer_t *fl[FLOODERS];
    char uid[32], name[128] = "", text[600] = "";
    for (int i = 0; i < 21; i++)
        strcat(name, "\xe2\x99\xab");           /* 63 bytes of a note sign: 126 escaped */
    for (int i = 0; i < 250; i++)
        strcat(text, "\xc3\xa9");               /* 500 bytes of é: 1,500 escaped */
    for (int i = 0; i < FLOODERS; i++) {
        snprintf(uid, sizeof uid, "%d", 70000000 + i);
        fl[i] = singer(fs, uid, name, 40, false);
        CHECK(*c, fl[i] != NULL);
        if (!fl[i])
            return 0;
    }
    int checked = 0, got_move = 0, got_tracks = 0, got_tempo = 0, bad = 0;
    long long lead_ns = fs_now_ns();
    static float got[N];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < FLOODERS; i++) {
            for (int k = 0; k < FLOOD_CHATS; k++)
                bbc_singer_chat(fl[i], text);
            if (bbc_exchange_batch(fl[i], NULL, NULL) != 0)
                bad++;
            bad += keep_leader(lead, &lead_ns);
        }
        if (round == 1) {
            /* Pending for the listener: a reconnect's track list ... */
            CHECK_EQ_I(*c, bbc_connect(lis), 0);
        }
        if (round == 2) {
            /* ... a new tempo, and a move (a new lead assigns buckets). */
            bbc_singer_set_tempo(lead, 97, -1, -1);
            CHECK_EQ_I(*c, bbc_exchange_batch(lead, NULL, NULL), 0);
            bbc_singer_request_lead(lead);
            CHECK_EQ_I(*c, bbc_exchange_batch(lead, NULL, NULL), 0);
            bbc_singer_mark_start(lead);
            CHECK_EQ_I(*c, bbc_exchange_batch(lead, NULL, NULL), 0);
            /* The leader's next request is answered once the start is in
             * effect; from then on every listener response has the song. */
            CHECK_EQ_I(*c, bbc_exchange_batch(lead, NULL, NULL), 0);
        }
        for (int k = 0; k < 3; k++) {
            int rc = bbc_exchange_batch(lis, NULL, got);
            const bbc_meta_t *m = bbc_singer_meta(lis);
            const resp_t *r = bbc_singer_response(lis);
            if (rc != 0 || r->status != 200) {
                fprintf(stderr, "test_wire: flood: listener got %d (%s)\n", r->status,
                        bbc_singer_error(lis));
                bad++;
                continue;
            }
            checked++;
            if (!m->have_leader || !m->have_song_start || !m->public_id[0] ||
                strcmp(m->leader, lead_uid) == 0) {
                fprintf(stderr, "test_wire: flood: round %d: a response without leader (%s), start (%d) or public id (%s)\n",
                        round, m->have_leader ? m->leader : "none", m->have_song_start, m->public_id);
                bad++;
            }
            got_move |= m->have_delay;
            got_tracks |= m->tracks != NULL;
            got_tempo |= m->have_bpm && m->bpm == 97;
        }
    }
    CHECK_EQ_I(*c, bad, 0);
    CHECK(*c, got_move && got_tracks && got_tempo);
    printf("%s: flood: %d listener responses, all whole; move %s, tracks %s, tempo %s\n", TNAME,
           checked, got_move ? "arrived" : "LOST", got_tracks ? "arrived" : "LOST",
           got_tempo ? "arrived" : "LOST");
    CHECK_EQ_I(*c, fs_log_count(fs, "nginx", "too big header"), 0);
    for (int i = 0; i < FLOODERS; i++)
        bbc_singer_destroy(fl[i]);
    return checked;
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    if (argc != 4) {
        fprintf(stderr, "usage: %s BB_SHMD BB_WORKER SOURCE_DIR\n", argv[0]);
        return 2;
    }
    fs_config_t fc = {.shmd = argv[1], .worker = argv[2], .src = argv[3], .n_workers = 2,
                      .depth = 4, .sockets = FS_LISTEN, .name = "wire"};
    fs_t *fs = fs_start(&fc);
    if (!fs)
        return 1;
    /* The leader and the listener on different workers. */
    char luid[32], cuid[32];
    if (fs_userid_for(fs, 1, 11000000000ull, luid, sizeof luid) != 0 ||
        fs_userid_for(fs, 2, 22000000000ull, cuid, sizeof cuid) != 0) {
        fs_stop(fs);
        return 1;
    }
    /* Far enough behind the server clock that requests sent faster than
     * real time never read the future. */
    bbc_singer_t *lead = singer(fs, luid, "Lea", 30, true), *lis = singer(fs, cuid, "Cy", 40, false);
    CHECK(c, lead && lis);
    if (!lead || !lis) {
        fs_stop(fs);
        return check_done(&c, TNAME);
    }
    static float got[N];
    CHECK_EQ_I(c, bbc_exchange_batch(lead, NULL, NULL), 0);
    CHECK_EQ_I(c, bbc_exchange_batch(lis, NULL, NULL), 0);
    const char *lead_pub = bbc_singer_meta(lead)->public_id;
    char lpub[64];
    snprintf(lpub, sizeof lpub, "%s", lead_pub);

    /* 1. Lead, then start with a tempo and a mic volume, back to back. */
    bbc_singer_request_lead(lead);
    CHECK_EQ_I(c, bbc_exchange_batch(lead, NULL, NULL), 0);
    bbc_singer_mark_start(lead);
    bbc_singer_set_tempo(lead, 88, -1, -1);
    CHECK_EQ_I(c, bbc_singer_mic_volume(lead, lpub, 1.3), 0);
    CHECK_EQ_I(c, bbc_exchange_batch(lead, NULL, NULL), 0);
    const bbc_meta_t *m = bbc_singer_meta(lead);
    CHECK(c, m->have_leader && strcmp(m->leader, luid) == 0);     /* the lead was in effect */
    if (!m->have_leader || strcmp(m->leader, luid) != 0)
        fprintf(stderr, "%s: leader after request_lead: %s (%s)\n", TNAME, m->have_leader ? m->leader : "none", cJSON_PrintUnformatted(m->root));
    int64_t start_read = bbc_singer_last_post(lead)->read_clock;
    CHECK_EQ_I(c, bbc_exchange_batch(lead, NULL, NULL), 0);
    m = bbc_singer_meta(lead);
    CHECK(c, m->have_song_start && m->song_start_clock == start_read);
    CHECK(c, m->have_bpm && m->bpm == 88);
    CHECK_NEAR(c, mic_of(lead, lpub), 1.3, 1e-6);
    printf("%s: lead then start in consecutive requests: song at %lld, bpm %d, own mic volume %.2f\n",
           TNAME, (long long)m->song_start_clock, m->bpm, mic_of(lead, lpub));
    /* Back to 1.0, so the burst's level is the plain normalisation. */
    CHECK_EQ_I(c, bbc_singer_mic_volume(lead, lpub, 1.0), 0);
    CHECK_EQ_I(c, bbc_exchange_batch(lead, NULL, NULL), 0);

    /* 2. Chat crosses workers within 100 ms. */
    bbc_singer_chat(lis, "over here");
    CHECK_EQ_I(c, bbc_exchange_batch(lis, NULL, NULL), 0);
    long long t0 = fs_now_ns();
    int seen = 0;
    while (!seen && fs_now_ns() - t0 < 1000000000LL && bbc_exchange_batch(lead, NULL, NULL) == 0)
        seen = has_chat(lead, "over here");
    double chat_ms = (double)(fs_now_ns() - t0) / 1e6;
    CHECK(c, seen);
    CHECK(c, chat_ms < 100);
    printf("%s: chat crossed workers in %.1f ms\n", TNAME, chat_ms);

    /* 3. The burst, sung in the leader's next uploads. */
    burst_from = bbc_singer_last_post(lead)->read_clock + 2 * N / 3;
    for (int i = 0; i < 3; i++)
        CHECK_EQ_I(c, bbc_exchange_batch(lead, NULL, NULL), 0);
    static float heard[24 * N];
    int64_t heard_from = 0;
    int blocks = 0;
    long long lead_ns = fs_now_ns();
    while (blocks < 24 && bbc_exchange_batch(lis, NULL, got) == 0) {
        CHECK_EQ_I(c, keep_leader(lead, &lead_ns), 0);
        int64_t rc = bbc_singer_last_post(lis)->read_clock;
        if (rc - N < burst_from - N)
            continue;
        if (!blocks)
            heard_from = rc - N;
        memcpy(heard + (size_t)blocks * N, got, sizeof got);
        blocks++;
        if (rc > burst_from + 2 * RATE)
            break;
    }
    OpusEncoder *enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, NULL);
    opus_int32 la = 0;
    opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&la));
    opus_encoder_destroy(enc);
    int best = -1;
    double best_score = 0;
    for (int lag = 0; lag < 3000; lag++) {
        double s = 0;
        for (int64_t t = burst_from; t < burst_from + RATE; t += 3) {
            int64_t i = t + lag - heard_from;
            if (i >= 0 && i < (int64_t)blocks * N)
                s += burst(t) * heard[i];
        }
        if (s > best_score) {
            best_score = s;
            best = lag;
        }
    }
    /* The peak to a fraction of a sample: the correlation at every sample
     * around the coarse peak, and the parabola through the best three.
     * Opus's delay is its lookahead only nominally: one encoder and
     * decoder move this tone by 311.96 samples at 64 kbit/s, 311.5 at the
     * default rate and 310.8 at 16 to 32 kbit/s (SILK's layer and the
     * mode the encoder picks, which depends on what it coded before), so
     * the two in the chain put the peak up to about 1.5 samples early.  A
     * misplaced write would be off by frames (2,880), batches or a
     * lookahead (312), never by a sample or two. */
    double sc[7] = {0};
    int base = best - 3, top = 3;
    for (int d = 0; d < 7; d++) {
        for (int64_t t = burst_from; t < burst_from + RATE; t++) {
            int64_t i = t + base + d - heard_from;
            if (i >= 0 && i < (int64_t)blocks * N)
                sc[d] += burst(t) * heard[i];
        }
        if (sc[d] > sc[top])
            top = d;
    }
    double frac = 0;
    if (top > 0 && top < 6) {
        double den = sc[top - 1] - 2 * sc[top] + sc[top + 1];
        frac = den != 0 ? 0.5 * (sc[top - 1] - sc[top + 1]) / den : 0;
    }
    double lag_f = base + top + frac;
    printf("%s: the burst reached the listener %.2f samples after its clock (Opus lookahead %d + %d)\n",
           TNAME, lag_f, la, la);
    CHECK(c, lag_f > 2 * la - 2.0 && lag_f <= 2 * la + 0.5);

    /* 4. The flood. */
    CHECK(c, flood(&c, fs, lead, lis, luid) >= 12);
    bbc_stats_t st;
    bbc_singer_stats(lis, &st);
    CHECK_EQ_I(c, st.kills, 0);

    bbc_singer_destroy(lead);
    bbc_singer_destroy(lis);
    if (c.failed)
        fs_dump_logs(fs, 20);
    fs_stop(fs);
    return check_done(&c, TNAME);
}
