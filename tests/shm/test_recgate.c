/*
 * test_recgate.c - the recorder's gate (timeline.h, "The recorder's
 * gate"): a daemon that records, tick by tick on a simulated clock, and two
 * singers whose uploads go in as a worker puts them (claim, gate, add,
 * done), each a constant level so that the recording tells who is in it.
 *
 * Ann (the leader, 3 s) sings on time throughout.  Ben (6 s):
 *   - stalls for 7.8 s, then sends what he held back at once: the recorder
 *     waits for him (the gate stays at his progress), nothing is refused;
 *   - stalls for 24 s: after DMN_REC_WAIT (15 s) the recorder gives him up
 *     and moves on; of what he then sends, exactly the uploads below the
 *     gate are refused, and the rest go in;
 *   - claims and adds an upload but never reports it done (a worker killed
 *     mid-upload): the recorder holds before it for 15 s, then moves on;
 * and the recording equals, sample for sample, what went into the mix by
 * the singers' own account: (Ann + Ben where accepted) x 3/(k+2) x volume.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cmdq.h"
#include "daemon.h"
#include "recheck.h"
#include "rig.h"
#include "snap.h"
#include "timeline.h"
#include "users.h"

#define N 28800                 /* one upload: 600 ms, one step of the clock */
#define RATE 48000
#define STEPS 170
#define ANN 0.1f
#define BEN 0.2f

static seg_cmd_t *cmd(seg_cmd_t *c, seg_cmd_type_t type, uint64_t userid, int64_t now)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    c->userid = userid;
    c->clock = now;
    return c;
}

/* One upload at `pos` of level x, as exchange.c's store_upload() adds it:
 * claim, check the gate, add, and (unless the worker "dies" first) done.
 * Returns true if it went into the mix. */
static bool upload(rig_t *r, uint32_t slot, int64_t pos, float x, bool finish)
{
    static float buf[N];
    for (int i = 0; i < N; i++)
        buf[i] = x;
    users_mix_claim(r->seg, slot, pos);
    bool in = pos >= tl_rec_gate(r->seg) && tl_write(r->seg, pos, buf, N, r->now) == TL_OK;
    if (finish)
        users_mix_done(r->seg, slot, pos + N);
    return in;
}

int main(void)
{
    CHECK_INIT(c);
    char dir[] = "/tmp/bbtest-recgate-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    rig_t r;
    if (rig_open(&r, "test-recgate", &(rig_opts_t){.ring_seconds = 64, .user_cap = 16,
                                                   .seed = 7, .recordings_dir = dir}) != 0)
        return 1;
    seg_err_t err;
    seg_claim_lane(r.seg, 1, &err);
    /* The clock on a whole upload, so that every upload is one block. */
    r.now -= r.now % N;
    rig_tick(&r, 20);

    seg_cmd_t cm;
    const uint64_t ann = 2001, ben = 2002;
    cmd(&cm, CMD_JOIN, ann, r.now);
    snprintf(cm.name, sizeof cm.name, "Ann");
    cq_push(r.seg, 1, &cm);
    cmd(&cm, CMD_JOIN, ben, r.now);
    snprintf(cm.name, sizeof cm.name, "Ben");
    cq_push(r.seg, 1, &cm);
    rig_tick(&r, 20);
    int64_t ia = users_find(r.seg, ann), ib = users_find(r.seg, ben);
    CHECK(c, ia >= 0 && ib >= 0);
    if (ia < 0 || ib < 0)
        return check_done(&c, "test_recgate");
    users_touch(r.seg, (uint32_t)ia, r.now, 0, 1);
    users_touch(r.seg, (uint32_t)ib, r.now, 0, 1);
    rig_tick(&r, 200);
    cmd(&cm, CMD_LEAD, ann, r.now);
    snprintf(cm.name, sizeof cm.name, "Ann");
    cq_push(r.seg, 1, &cm);
    rig_tick(&r, 20);
    /* Step 0: Ann starts, her read clock 3 s behind (a whole block). */
    r.now += N - r.now % N;
    const int64_t start = r.now - 3 * RATE - N, t0 = r.now;
    cmd(&cm, CMD_START, ann, r.now);
    cm.a = start;
    cq_push(r.seg, 1, &cm);

    /* Block b is [start + b N, start + (b + 1) N).  At step s (clock t0 +
     * s N) Ann uploads block s - 1, Ben (4.2 s further back) block s - 8. */
    static bool in_a[STEPS], in_b[STEPS];
    int ben_next = 0, refused1 = 0, refused2 = 0, first_in2 = -1, last_out2 = -1;
    int64_t gate_stall1 = 0, gate_held = 0, gate_after = 0;
    for (int s = 1; s < STEPS; s++) {
        while (r.now < t0 + (int64_t)s * N)
            rig_tick(&r, 5);
        users_touch(r.seg, (uint32_t)ia, r.now, 3 * RATE, 1);
        in_a[s - 1] = upload(&r, (uint32_t)ia, start + (int64_t)(s - 1) * N, ANN, true);
        bool stalled = (s >= 20 && s < 33) || (s >= 46 && s < 86) || (s >= 101 && s < 140);
        if (s >= 20 && s < 33 && tl_rec_gate(r.seg) > gate_stall1)
            gate_stall1 = tl_rec_gate(r.seg);
        if (s > 101 && s < 120 && tl_rec_gate(r.seg) > gate_held)
            gate_held = tl_rec_gate(r.seg);
        if (s == 139)
            gate_after = tl_rec_gate(r.seg);
        if (s == 101) {
            /* Ben's worker is killed after adding, before done. */
            in_b[ben_next] = upload(&r, (uint32_t)ib, start + (int64_t)ben_next * N, BEN, false);
            ben_next++;
        }
        if (stalled)
            continue;
        users_touch(r.seg, (uint32_t)ib, r.now, 6 * RATE, 1);
        for (; ben_next <= s - 8; ben_next++) {
            bool in = upload(&r, (uint32_t)ib, start + (int64_t)ben_next * N, BEN, true);
            in_b[ben_next] = in;
            if (s == 33)
                refused1 += !in;
            if (s == 86) {
                refused2 += !in;
                if (in && first_in2 < 0)
                    first_in2 = ben_next;
                if (!in)
                    last_out2 = ben_next;
            }
        }
    }

    /* The first stall: waited for. */
    printf("  stall of 7.8 s: gate at most %.1f s past Ben's progress, %d uploads refused\n",
           (double)(gate_stall1 - (start + 12 * N)) / RATE, refused1);
    CHECK(c, gate_stall1 <= start + 12 * N);
    CHECK_EQ_I(c, refused1, 0);
    /* The second: given up after 15 s; what came below the gate stayed out,
     * what came at or after it went in. */
    printf("  stall of 24 s: %d uploads refused, blocks %d.. went in\n", refused2, first_in2);
    CHECK(c, refused2 > 0);
    CHECK(c, first_in2 > last_out2 && last_out2 >= 38);
    /* A claim never finished: held for DMN_REC_WAIT (the recorder reaches
     * it about 3 s after it was made), then passed; the upload it added is
     * in the recording (checked below with the rest). */
    int64_t claimed = start + 93 * (int64_t)N;
    printf("  unfinished claim at block 93: the gate held %.1f s before it for 11 s, then went "
           "%.1f s past it\n", (double)(claimed - gate_held) / RATE,
           (double)(gate_after - claimed) / RATE);
    CHECK(c, gate_held <= claimed && gate_held > claimed - RATE);
    CHECK(c, gate_after > claimed);
    CHECK(c, in_b[93]);

    /* Ann stops; the recording closes once everyone is past the end. */
    int64_t end = start + (int64_t)(STEPS - 1) * N;
    cmd(&cm, CMD_STOP, ann, r.now);
    cm.a = end;
    cq_push(r.seg, 1, &cm);
    seg_ctl_t ctl;
    snap_ctl_read(r.seg, &ctl);
    const double gv = ctl.global_gain;
    for (int i = 0; i < 30000 && ctl.recorded_song != start; i++) {
        if (i % 100 == 0) {
            users_touch(r.seg, (uint32_t)ia, r.now, 3 * RATE, 1);
            users_touch(r.seg, (uint32_t)ib, r.now, 6 * RATE, 1);
        }
        rig_tick(&r, 5);
        snap_ctl_read(r.seg, &ctl);
    }
    CHECK_EQ_I(c, ctl.recorded_song, start);

    char song[32], path[400];
    rc_song_name(start, song, sizeof song);
    snprintf(path, sizeof path, "%s/%s.wav", dir, song);
    sf_count_t n = 0;
    float *wav = rc_read(path, &n);
    CHECK(c, wav != NULL && n == end - start);
    double worst = 0;
    int64_t worst_i = 0;
    for (sf_count_t i = 0; wav && i < n; i++) {
        int b = (int)(i / N);
        int k = in_a[b] + in_b[b];
        double want = ((in_a[b] ? ANN : 0) + (in_b[b] ? BEN : 0)) * 3.0 / (k + 2) * gv / 2;
        if (fabs(wav[i] - want) > worst) {
            worst = fabs(wav[i] - want);
            worst_i = i;
        }
    }
    printf("  recording: %.1f s, largest difference from what went into the mix: %.1f steps of 16 "
           "bits (block %lld)\n", (double)n / RATE, worst * 32768, (long long)(worst_i / N));
    CHECK(c, worst * 32768 <= 1.5);
    free(wav);

    rig_close(&r);
    char cmdline[300];
    snprintf(cmdline, sizeof cmdline, "rm -rf '%s'", dir);
    if (system(cmdline) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done(&c, "test_recgate");
}
