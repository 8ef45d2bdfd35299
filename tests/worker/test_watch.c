/*
 * test_watch.c - the timing watch through the worker's exchange: singers
 * who sing early or late are told so, and so are the leader and the
 * organiser; the offset is applied in one click.
 *
 * Protocol clients (exclient.h) sing a synthetic voice with soft onsets
 * (tests/unit/sung.h: 20-50 ms raised-cosine attacks, vibrato, breaths,
 * rests, a +-10 ms human spread, breath noise) through their own Opus
 * encoders, uploading 1.2 s behind what they read, as a client with a
 * little latency does.  Like the browser client (html/js/clock.js), each
 * client sends its voice ahead by its encoder's lookahead, so that an
 * on-time voice decodes on time at the server.
 *
 *   1. A metronome song at 100 bpm: the leader A and the singer B on time,
 *      L 80 ms late, E 80 ms early.  L and E are told ("timing", basis
 *      "beat") with the offset within 10 ms; A and B never are, not once;
 *      the leader and the organiser get both in "timing_flags", a singer
 *      does not.  B may not apply L's timing (refused, nothing happens);
 *      the organiser applies L's and E applies its own: each gets
 *      "timing_apply" once with its offset, sings on time from then on,
 *      and is not flagged again; the leader's list empties.
 *   2. A song without a metronome: A leads, singing; L sits 3 s behind in
 *      the chain and sings the same song 80 ms late against what it hears
 *      of A, B beside it on time.  L is told (basis "leader") within
 *      10 ms, B never; the leader lists L.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "exclient.h"
#include "unit/sung.h"

#define TNAME "test_watch"
#define LAG_BATCHES 2        /* uploads trail reads by 1.2 s */
#define SONG_SECS 40

/* One singer: its protocol client and how it sings. */
typedef struct {
    cl_t c;
    sung_t v;
    bool sings;              /* sends a voice */
    int lookahead;           /* of its encoder, samples */
    uint64_t pub;
    bool ever_told;          /* "timing" in any response */
    int told_ms;             /* the last "timing" offset */
    char told_basis[16];
    int applied_ms;          /* "timing_apply" offset; 0: none yet */
    int applies;             /* responses that carried one */
} who_t;

static float voice[N];

/* The integer after `key` in meta, if there. */
static bool int_after(const char *meta, const char *key, int *out)
{
    const char *p = strstr(meta, key);
    return p && sscanf(p + strlen(key), "%d", out) == 1;
}

/* Reads the singer's own flag and an offset to apply. */
static void note_meta(who_t *w)
{
    const char *m = w->c.meta;
    int ms;
    if (int_after(m, "\"timing\":{\"offset_ms\":", &ms)) {
        w->ever_told = true;
        w->told_ms = ms;
        const char *b = strstr(strstr(m, "\"timing\":"), "\"basis\":\"");
        if (b)
            sscanf(b + 9, "%15[a-z]", w->told_basis);
    }
    if (int_after(m, "\"timing_apply\":{\"offset_ms\":", &ms)) {
        w->applied_ms = ms;
        w->applies++;
    }
}

/* The offset timing_flags gives public id pub, in *ms; false if not
 * listed.  *n gets the length of the list. */
static bool listed(const char *meta, uint64_t pub, int *ms, int *n)
{
    *n = 0;
    const char *p = strstr(meta, "\"timing_flags\":[");
    if (!p)
        return false;
    const char *end = strchr(p, ']');
    bool found = false;
    char key[48];
    snprintf(key, sizeof key, "{\"id\":\"%llu\",\"offset_ms\":", (unsigned long long)pub);
    for (const char *q = strstr(p, "{\"id\":"); q && q < end; q = strstr(q + 1, "{\"id\":"))
        (*n)++;
    const char *q = strstr(p, key);
    if (q && q < end && sscanf(q + strlen(key), "%d", ms) == 1)
        found = true;
    return found;
}

/* One request of w: its voice of the clocks it uploads, sung from the
 * song whose beats start at beat0 (0: no song yet, silence). */
static int sing(wr_t *r, who_t *w, int64_t beat0, const char *extra)
{
    if (!w->sings)
        return post(r, &w->c, extra, NULL, NULL);
    if (!w->c.write)
        w->c.write = w->c.read - LAG_BATCHES * N;
    int64_t from = w->c.write + w->lookahead;   /* the clocks after this post: [write, write + N) */
    if (beat0)
        sung_render(&w->v, voice, N, from, beat0);
    else
        memset(voice, 0, sizeof voice);
    return post(r, &w->c, extra, voice, NULL);
}

static void setup(who_t *w, wr_t *r, const char *uid, const char *name, int offset_s, bool sings,
                  uint64_t voice_seed, double offset_ms)
{
    w->c = (cl_t){.uid = uid, .name = name};
    connect_at(&w->c, r, offset_s);
    opus_encoder_ctl(w->c.enc, OPUS_GET_LOOKAHEAD(&w->lookahead));
    w->sings = sings;
    w->v = (sung_t){.score_seed = 3, .voice_seed = voice_seed, .bpm = 100, .attack_lo = 20,
                    .attack_hi = 50, .offset_ms = offset_ms, .jitter_ms = 10, .level_db = -12,
                    .noise_db = -60, .reverb = 0, .rest_share = 0.15};
    w->pub = seg_public_id(r->k.seg, strtoull(uid, NULL, 10));
    w->ever_told = false;
    w->applied_ms = 0;
    w->applies = 0;
}

static uint64_t start_of(const char *meta)
{
    const char *p = strstr(meta, "\"song_start_clock\":");
    long long v = 0;
    return p && sscanf(p + 19, "%lld", &v) == 1 ? (uint64_t)v : 0;
}

int main(void)
{
    CHECK_INIT(c);
    static wr_t r;
    if (wr_open(&r, "test-watch", &(rig_opts_t){.ring_seconds = 64, .user_cap = 64, .seed = 5}, 2, 64) != 0)
        return 1;
    tick(&r, 50);
    static who_t a, b, l, e, o;
    setup(&a, &r, "11111111111", "Ann", 6, true, 1, 0);
    setup(&b, &r, "22222222222", "Bob", 6, true, 2, 0);
    setup(&l, &r, "33333333333", "Lou", 6, true, 3, 80);
    setup(&e, &r, "44444444444", "Eve", 6, true, 4, -80);
    setup(&o, &r, "55555555555", "Org", 6, false, 5, 0);
    o.c.organiser = true;
    who_t *all[] = {&a, &b, &l, &e, &o};
    const int nall = 5;

    /* ---- 1. A metronome song ------------------------------------------ */
    for (int i = 0; i < nall; i++)
        CHECK_EQ_I(c, sing(&r, all[i], 0, i == 0 ? "request_lead=1" : NULL), 200);
    tick(&r, 600);
    CHECK_EQ_I(c, sing(&r, &a, 0, "bpm=100&track=metronome%20--%20set%20BPM%20below"), 200);
    tick(&r, 600);
    CHECK_EQ_I(c, sing(&r, &a, 0, "mark_start_singing=1"), 200);
    tick(&r, 600);
    CHECK_EQ_I(c, sing(&r, &a, 0, NULL), 200);
    int64_t beat0 = (int64_t)start_of(a.c.meta);
    CHECK(c, beat0 > 0);
    int first_flag_l = -1, singer_saw_list = 0, leader_lists = 0, org_lists = 0, others_listed = 0;
    int lead_l = 0, lead_e = 0, org_l = 0, org_e = 0;
    const int rounds = 36;                          /* 21.6 s */
    for (int k = 0; k < rounds; k++) {
        for (int i = 0; i < nall; i++) {
            CHECK_EQ_I(c, sing(&r, all[i], beat0, NULL), 200);
            note_meta(all[i]);
        }
        if (l.ever_told && first_flag_l < 0)
            first_flag_l = k;
        int n;
        singer_saw_list += has(b.c.meta, "timing_flags") + has(l.c.meta, "timing_flags");
        leader_lists += listed(a.c.meta, l.pub, &lead_l, &n) && listed(a.c.meta, e.pub, &lead_e, &n);
        others_listed += n > 2;
        org_lists += listed(o.c.meta, l.pub, &org_l, &n) && listed(o.c.meta, e.pub, &org_e, &n);
        others_listed += n > 2;
        tick(&r, 600);
    }
    printf("%s: metronome song, %d s: L told %+d ms (%s) from %.1f s on, E told %+d ms (%s); "
           "A told: %s, B told: %s\n", TNAME, rounds * 6 / 10, l.told_ms, l.told_basis,
           first_flag_l * 0.6, e.told_ms, e.told_basis, a.ever_told ? "YES" : "no",
           b.ever_told ? "YES" : "no");
    printf("%s: the leader's list: L %+d, E %+d ms (%d responses); the organiser's: L %+d, E %+d ms "
           "(%d responses)\n", TNAME, lead_l, lead_e, leader_lists, org_l, org_e, org_lists);
    CHECK(c, l.ever_told && e.ever_told);
    CHECK_NEAR(c, l.told_ms, 80, 10);
    CHECK_NEAR(c, e.told_ms, -80, 10);
    CHECK(c, strcmp(l.told_basis, "beat") == 0 && strcmp(e.told_basis, "beat") == 0);
    CHECK(c, !a.ever_told && !b.ever_told);
    /* Flagged within 16 s of singing (8 s of estimates after a 4.2 s window). */
    CHECK(c, first_flag_l >= 0 && first_flag_l <= 27);
    CHECK_EQ_I(c, singer_saw_list, 0);
    CHECK(c, leader_lists > 0 && org_lists > 0);
    CHECK_EQ_I(c, others_listed, 0);
    /* The lists are rebuilt every 0.5 s from what each worker published. */
    CHECK_NEAR(c, lead_l, 80, 10);
    CHECK_NEAR(c, lead_e, -80, 10);
    CHECK_NEAR(c, org_l, 80, 10);
    CHECK_NEAR(c, org_e, -80, 10);

    /* A singer may not apply another's timing. */
    char q[64];
    snprintf(q, sizeof q, "timing_apply=%llu", (unsigned long long)l.pub);
    CHECK_EQ_I(c, sing(&r, &b, beat0, q), 200);
    CHECK(c, has(b.c.meta, "only the leader or the organiser can correct another singer's timing"));
    /* The organiser applies L's; E applies its own. */
    CHECK_EQ_I(c, sing(&r, &o, beat0, q), 200);
    CHECK(c, !has(o.c.meta, "\"refused\""));
    snprintf(q, sizeof q, "timing_apply=%llu", (unsigned long long)e.pub);
    CHECK_EQ_I(c, sing(&r, &e, beat0, q), 200);
    CHECK(c, !has(e.c.meta, "\"refused\""));
    tick(&r, 600);
    int after_told = 0, list_len = -1;
    for (int k = 0; k < 24; k++) {
        for (int i = 0; i < nall; i++) {
            bool had = all[i]->applies > 0;
            CHECK_EQ_I(c, sing(&r, all[i], beat0, NULL), 200);
            all[i]->ever_told = false;
            note_meta(all[i]);
            after_told += all[i]->ever_told;
            /* The client applies it: its latency moves by the offset. */
            if (!had && all[i]->applies)
                all[i]->v.offset_ms -= all[i]->applied_ms;
        }
        int ms;
        listed(a.c.meta, l.pub, &ms, &list_len);
        tick(&r, 600);
    }
    printf("%s: applied: L %+d ms (%d times), E %+d ms (%d times), B's attempt %d; told after: %d; "
           "the leader's list at the end: %d\n", TNAME, l.applied_ms, l.applies, e.applied_ms,
           e.applies, b.applies, after_told, list_len);
    CHECK_EQ_I(c, l.applies, 1);
    CHECK_EQ_I(c, e.applies, 1);
    CHECK_EQ_I(c, a.applies + b.applies + o.applies, 0);
    /* What is applied is the median when the click arrives. */
    CHECK_NEAR(c, l.applied_ms, 80, 10);
    CHECK_NEAR(c, e.applied_ms, -80, 10);
    CHECK_EQ_I(c, after_told, 0);
    CHECK_EQ_I(c, list_len, 0);

    /* ---- 2. A song without a metronome: against the leader ------------- */
    CHECK_EQ_I(c, sing(&r, &a, beat0, "mark_stop_singing=1"), 200);
    tick(&r, 600);
    CHECK_EQ_I(c, sing(&r, &a, beat0, "request_lead=1"), 200);
    tick(&r, 600);
    /* L and B come back 3 s behind A in the chain; E and the organiser
     * stay away. */
    cl_free(&l.c);
    cl_free(&b.c);
    setup(&l, &r, "33333333333", "Lou", 9, true, 3, 80);
    setup(&b, &r, "22222222222", "Bob", 9, true, 2, 0);
    a.ever_told = false;
    CHECK_EQ_I(c, sing(&r, &l, 0, NULL), 200);
    CHECK_EQ_I(c, sing(&r, &b, 0, NULL), 200);
    CHECK_EQ_I(c, sing(&r, &a, 0, "mark_start_singing=1"), 200);
    tick(&r, 600);
    CHECK_EQ_I(c, sing(&r, &a, 0, NULL), 200);
    int64_t start2 = (int64_t)start_of(a.c.meta);
    CHECK(c, start2 > beat0);
    /* The leader sings the song from its start; L and B sing the same
     * score (a beat grid from the same start) with their own voices. */
    who_t *two[] = {&a, &l, &b};
    int lead_list2 = 0, lead_l2 = 0;
    for (int k = 0; k < 40; k++) {
        for (int i = 0; i < 3; i++) {
            CHECK_EQ_I(c, sing(&r, two[i], start2, NULL), 200);
            note_meta(two[i]);
        }
        int n;
        lead_list2 += listed(a.c.meta, l.pub, &lead_l2, &n);
        tick(&r, 600);
    }
    printf("%s: without a metronome: L told %+d ms (%s), B told: %s, A told: %s; the leader "
           "listed L in %d responses (%+d ms)\n", TNAME, l.told_ms, l.told_basis,
           b.ever_told ? "YES" : "no", a.ever_told ? "YES" : "no", lead_list2, lead_l2);
    CHECK(c, l.ever_told);
    CHECK_NEAR(c, l.told_ms, 80, 10);
    CHECK(c, strcmp(l.told_basis, "leader") == 0);
    CHECK(c, !b.ever_told && !a.ever_told);
    CHECK(c, lead_list2 > 0);
    CHECK_NEAR(c, lead_l2, 80, 10);

    for (int i = 0; i < nall; i++)
        cl_free(&all[i]->c);
    ex_destroy(r.ex);
    rig_close(&r.k);
    return check_done(&c, TNAME);
}
