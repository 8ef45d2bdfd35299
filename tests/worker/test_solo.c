/*
 * test_solo.c - the organiser hears chosen singers alone, and nobody else
 * notices (PROTOCOL.md 9.12).
 *
 * A, B and C sing 440, 660 and 880 Hz at the same clocks (A leads); the
 * organiser O and a listener L, 3 s later in the chain, hear them.  O
 * solos A and C.  Once the solo reaches O's read clock, O hears A and C
 * and B's pitch lies below -60 dBFS; L hears all three exactly as in a run
 * where nobody solos (the mix in the timeline is the same sample for
 * sample, and each tone's level in L's decoded audio within 0.1 dB).  O's
 * answers say whom O solos; a singer who asks for a solo is refused with
 * the sentence of roles.h and changes nothing; ids that are not singers of
 * the room and too many ids are refused too.  "solo=none" gives O everyone
 * again.  The console's rows (levels) carry each singer's link state and
 * the calibration their page reported.
 *
 * The bounds of the rings: the organiser and the leader solo at once, a
 * second organiser is refused (two rings, both held) until the first
 * leaves (not heard for 5 s); a leader who solos and loses the lead (the
 * organiser takes it) loses the solo.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "exclient.h"
#include "roles.h"
#include "snap.h"
#include "timeline.h"
#include "tones.h"

#define ROUNDS 26          /* the solo reaches O's read clock after 3 s more than A's delay */
#define MEASURED 6         /* the last blocks O and L received */

static float heard_o[2][MEASURED * N], heard_l[2][MEASURED * N], mixed[2][MEASURED * N];

/* A request of a listener (O and L listen only, on every request). */
static int listen_post(wr_t *r, cl_t *cl, const char *extra)
{
    char q[512];
    snprintf(q, sizeof q, "spectator=1%s%s", extra ? "&" : "", extra ? extra : "");
    return post(r, cl, q, NULL, NULL);
}

/* The row of public id `pub` in the levels of `meta`, or NULL. */
static const char *level_row(const char *meta, unsigned long long pub)
{
    const char *lv = strstr(meta, "\"levels\":[");
    char q[64];
    snprintf(q, sizeof q, "[\"%llu\",", pub);
    return lv ? strstr(lv, q) : NULL;
}

/* True if the levels row of `pub` ends with `tail` (link, calibration). */
static bool row_ends(const char *meta, unsigned long long pub, const char *tail)
{
    const char *row = level_row(meta, pub), *end = row ? strchr(row, ']') : NULL;
    size_t n = strlen(tail);
    return end && (size_t)(end - row) >= n && strncmp(end - n, tail, n) == 0;
}

static int run(bool solo, check_t *c)
{
    wr_t r;
    if (wr_open(&r, solo ? "test-solo1" : "test-solo0",
                &(rig_opts_t){.ring_seconds = 32, .user_cap = 64, .seed = 7}, 2, 64) != 0)
        return -1;
    /* Both runs start on the same phase of the minute, so that tones and
     * frames line up alike (as in test_mute.c). */
    const int64_t minute = 60 * RATE;
    r.k.now = (r.k.now / minute + 1) * minute;
    tick(&r, 50);
    static cl_t a, b, cc, o, l;
    a = (cl_t){.uid = "11111111111", .name = "Ann"};
    b = (cl_t){.uid = "22222222222", .name = "Bob"};
    cc = (cl_t){.uid = "33333333333", .name = "Cy"};
    o = (cl_t){.uid = "44444444444", .name = "Org", .organiser = true};
    l = (cl_t){.uid = "55555555555", .name = "Lis"};
    connect_at(&a, &r, 6);
    connect_at(&b, &r, 6);
    connect_at(&cc, &r, 6);
    connect_at(&o, &r, 9);
    connect_at(&l, &r, 9);
    unsigned long long pa = seg_public_id(r.k.seg, 11111111111ull);
    unsigned long long pb = seg_public_id(r.k.seg, 22222222222ull);
    unsigned long long pc = seg_public_id(r.k.seg, 33333333333ull);
    CHECK_EQ_I(*c, post(&r, &a, "request_lead=1&calib=measured:42", NULL, NULL), 200);
    CHECK_EQ_I(*c, post(&r, &b, NULL, NULL, NULL), 200);
    CHECK_EQ_I(*c, post(&r, &cc, "calib=estimated:150", NULL, NULL), 200);
    CHECK_EQ_I(*c, listen_post(&r, &o, NULL), 200);
    CHECK_EQ_I(*c, listen_post(&r, &l, NULL), 200);
    tick(&r, 600);
    CHECK_EQ_I(*c, post(&r, &a, "mark_start_singing=1", NULL, NULL), 200);
    char q[256];
    const char *not_yours = role_refusal(&(role_who_t){.room_has_leader = true}, ROLE_ACT_SOLO);
    if (solo) {
        /* A singer may not solo: refused, and nothing changes for anyone. */
        snprintf(q, sizeof q, "solo=%llu", pa);
        CHECK_EQ_I(*c, post(&r, &b, q, NULL, NULL), 200);
        CHECK(*c, has(b.meta, not_yours));
        /* An id of nobody in the room, and nine ids, are refused. */
        CHECK_EQ_I(*c, listen_post(&r, &o, "solo=12345"), 200);
        CHECK(*c, has(o.meta, "solo: that singer is not in this room"));
        snprintf(q, sizeof q, "solo=%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu", pa, pa, pa, pa, pa,
                 pa, pa, pa, pc);
        CHECK_EQ_I(*c, listen_post(&r, &o, q), 200);
        CHECK(*c, has(o.meta, "solo: at most 8 singers"));
        tick(&r, 100);
        CHECK_EQ_I(*c, listen_post(&r, &o, NULL), 200);
        CHECK(*c, has(o.meta, "\"solo\":[]"));
        snprintf(q, sizeof q, "solo=%llu,%llu", pa, pc);
        CHECK_EQ_I(*c, listen_post(&r, &o, q), 200);
        CHECK(*c, !has(o.meta, "refused"));
    }
    tick(&r, 600);
    static float xa[N], xb[N], xc[N];
    for (int i = 0; i < ROUNDS; i++) {
        fill_tone(xa, a.read, 440, 0.3f);
        fill_tone(xb, b.read, 660, 0.3f);
        fill_tone(xc, cc.read, 880, 0.3f);
        CHECK_EQ_I(*c, post(&r, &a, NULL, xa, NULL), 200);
        CHECK_EQ_I(*c, post(&r, &b, NULL, xb, NULL), 200);
        CHECK_EQ_I(*c, post(&r, &cc, NULL, xc, NULL), 200);
        CHECK_EQ_I(*c, listen_post(&r, &o, NULL), 200);
        CHECK_EQ_I(*c, listen_post(&r, &l, NULL), 200);
        if (i >= ROUNDS - MEASURED) {
            size_t at = (size_t)(i - (ROUNDS - MEASURED)) * N;
            memcpy(heard_o[solo] + at, o.got, sizeof o.got);
            memcpy(heard_l[solo] + at, l.got, sizeof l.got);
            tl_read(r.k.seg, l.read - N, N, 1.0f, mixed[solo] + at, NULL);
        }
        tick(&r, 600);
    }
    /* The people only the organiser and the leader see: the solo, and each
     * singer's link state and calibration. */
    snprintf(q, sizeof q, "\"solo\":[\"%llu\",\"%llu\"]", pa, pc);
    CHECK_EQ_I(*c, has(o.meta, q), solo);
    CHECK(*c, !has(l.meta, "\"solo\""));
    const char *row = level_row(o.meta, pa);
    CHECK(*c, row && strncmp(strchr(row, ',') + 1, "-100", 4) != 0);   /* A is heard */
    CHECK(*c, row_ends(o.meta, pa, "\"ok\",\"measured\",42"));
    CHECK(*c, row_ends(o.meta, pc, "\"ok\",\"estimated\",150"));
    CHECK(*c, row_ends(o.meta, pb, "\"ok\",\"none\",0"));
    /* Listeners have no row. */
    CHECK(*c, !level_row(o.meta, seg_public_id(r.k.seg, 55555555555ull)));
    if (solo) {
        /* Everyone again: B is back in what O hears within a request. */
        CHECK_EQ_I(*c, listen_post(&r, &o, "solo=none"), 200);
        tick(&r, 600);
        for (int i = 0; i < 3; i++) {
            fill_tone(xa, a.read, 440, 0.3f);
            fill_tone(xb, b.read, 660, 0.3f);
            fill_tone(xc, cc.read, 880, 0.3f);
            post(&r, &a, NULL, xa, NULL);
            post(&r, &b, NULL, xb, NULL);
            post(&r, &cc, NULL, xc, NULL);
            CHECK_EQ_I(*c, listen_post(&r, &o, NULL), 200);
            tick(&r, 600);
        }
        CHECK(*c, has(o.meta, "\"solo\":[]"));
        double lb = db(level(o.got, N, 660));
        printf("test_solo: after solo=none O hears B at %.1f dBFS\n", lb);
        CHECK(*c, lb > -25);
    }
    cl_free(&a);
    cl_free(&b);
    cl_free(&cc);
    cl_free(&o);
    cl_free(&l);
    ex_destroy(r.ex);
    rig_close(&r.k);
    return 0;
}

/* The solo ring the listener `userid` holds in the published control
 * state, or -1. */
static int ring_of(const seg_t *seg, uint64_t userid)
{
    seg_ctl_t ctl;
    snap_ctl_read(seg, &ctl);
    for (int k = 0; k < SEG_SOLO_RINGS; k++)
        if (ctl.solo[k].listener == userid && ctl.solo[k].n > 0)
            return k;
    return -1;
}

static int rings(check_t *c)
{
    wr_t r;
    if (wr_open(&r, "test-solo-rings", &(rig_opts_t){.ring_seconds = 32, .user_cap = 64, .seed = 9}, 2, 64) != 0)
        return -1;
    tick(&r, 50);
    static cl_t a, b, o1, o2;
    a = (cl_t){.uid = "11111111111", .name = "Ann"};
    b = (cl_t){.uid = "22222222222", .name = "Bob"};
    o1 = (cl_t){.uid = "44444444444", .name = "Org", .organiser = true};
    o2 = (cl_t){.uid = "66666666666", .name = "Oz", .organiser = true};
    connect_at(&a, &r, 6);
    connect_at(&b, &r, 6);
    connect_at(&o1, &r, 9);
    connect_at(&o2, &r, 9);
    CHECK_EQ_I(*c, post(&r, &a, "request_lead=1", NULL, NULL), 200);
    CHECK_EQ_I(*c, post(&r, &b, NULL, NULL, NULL), 200);
    CHECK_EQ_I(*c, listen_post(&r, &o1, NULL), 200);
    CHECK_EQ_I(*c, listen_post(&r, &o2, NULL), 200);
    tick(&r, 600);
    char q[128];
    unsigned long long pb = seg_public_id(r.k.seg, 22222222222ull);
    snprintf(q, sizeof q, "solo=%llu", pb);
    /* The leader and an organiser: a ring each. */
    CHECK_EQ_I(*c, post(&r, &a, q, NULL, NULL), 200);
    CHECK_EQ_I(*c, listen_post(&r, &o1, q), 200);
    tick(&r, 100);
    CHECK(*c, ring_of(r.k.seg, 11111111111ull) >= 0 && ring_of(r.k.seg, 44444444444ull) >= 0);
    /* A second organiser: refused while both rings are held. */
    CHECK_EQ_I(*c, listen_post(&r, &o2, q), 200);
    CHECK(*c, has(o2.meta, "solo: two people are hearing solos already"));
    tick(&r, 100);
    CHECK_EQ_I(*c, ring_of(r.k.seg, 66666666666ull), -1);
    /* The first organiser leaves (silent for 5 s): the second may. */
    for (int i = 0; i < 10; i++) {
        post(&r, &a, NULL, NULL, NULL);
        post(&r, &b, NULL, NULL, NULL);
        listen_post(&r, &o2, NULL);
        tick(&r, 600);
    }
    CHECK_EQ_I(*c, ring_of(r.k.seg, 44444444444ull), -1);
    CHECK_EQ_I(*c, listen_post(&r, &o2, q), 200);
    CHECK(*c, !has(o2.meta, "refused"));
    tick(&r, 100);
    CHECK(*c, ring_of(r.k.seg, 66666666666ull) >= 0);
    /* The organiser takes the lead from Ann, who stays: Ann's solo ends
     * with her lead, the organiser's stays. */
    CHECK(*c, ring_of(r.k.seg, 11111111111ull) >= 0);
    CHECK_EQ_I(*c, post(&r, &o2, "request_lead=1", NULL, NULL), 200);
    for (int i = 0; i < 3; i++) {
        post(&r, &a, NULL, NULL, NULL);
        post(&r, &o2, NULL, NULL, NULL);
        tick(&r, 600);
    }
    CHECK_EQ_I(*c, ring_of(r.k.seg, 11111111111ull), -1);
    CHECK(*c, ring_of(r.k.seg, 66666666666ull) >= 0);
    cl_free(&a);
    cl_free(&b);
    cl_free(&o1);
    cl_free(&o2);
    ex_destroy(r.ex);
    rig_close(&r.k);
    return 0;
}

int main(void)
{
    CHECK_INIT(c);
    CHECK_EQ_I(c, run(false, &c), 0);
    CHECK_EQ_I(c, run(true, &c), 0);
    CHECK_EQ_I(c, rings(&c), 0);
    const int n = MEASURED * N;
    const double hz[3] = {440, 660, 880};
    const char *who[3] = {"A", "B", "C"};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 3; i++)
            printf("test_solo: %s: O hears %s at %.1f dBFS, L at %.1f dBFS\n",
                   s ? "O solos A and C" : "nobody solos", who[i], db(level(heard_o[s], n, hz[i])),
                   db(level(heard_l[s], n, hz[i])));
    /* Without a solo O and L hear all three. */
    for (int i = 0; i < 3; i++) {
        CHECK(c, db(level(heard_o[0], n, hz[i])) > -25);
        CHECK(c, db(level(heard_l[0], n, hz[i])) > -25);
    }
    /* O soloing A and C: A and C, B not. */
    CHECK(c, db(level(heard_o[1], n, 440)) > -25);
    CHECK(c, db(level(heard_o[1], n, 880)) > -25);
    CHECK(c, db(level(heard_o[1], n, 660)) < -60);
    /* L as before: the same mix and the same levels.  Sample for sample
     * the two runs' mixes agree exactly almost always; about one run in
     * ten, with or without any solo, two separate runs of the same song
     * differ by -55 to -60 dBFS in the mix (test_mute sees the same
     * between its runs without B and with B muted), so across runs the
     * bound is that, far below anything a solo could leak (B alone is
     * -15 dBFS in the mix). */
    double sq = 0;
    for (int i = 0; i < n; i++)
        sq += ((double)mixed[1][i] - mixed[0][i]) * ((double)mixed[1][i] - mixed[0][i]);
    double diff = sqrt(sq / n);
    printf("test_solo: L's mix with O's solo against without: %.1f dBFS of difference\n", db(diff));
    CHECK(c, diff == 0.0 || db(diff) < -50);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(c, db(level(heard_l[1], n, hz[i])), db(level(heard_l[0], n, hz[i])), 0.1);
    return check_done(&c, "test_solo");
}
