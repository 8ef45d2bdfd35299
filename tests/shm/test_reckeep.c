/*
 * test_reckeep.c - a recording's ending and the host's limits, through
 * the real daemon on a simulated clock:
 *   - a room daemon (rig.h): a song that ends is "ended", with its length,
 *     in its project; one stopped mid-song (the bytes cap) is "disk" and
 *     the song goes on unrecorded, its singers' stems too; one whose
 *     singers all leave is "left"; one stopped before its recording began
 *     gets a project of its stems and never a mix; the song being
 *     recorded is the one rm_recording_song() names, and only until its
 *     recording closes;
 *   - the host daemon with its keeper of recordings (daemon.h, retain.h),
 *     a real thread sweeping a real folder: a song older than --keep-days
 *     goes at the first sweep; as the default room records, the oldest
 *     songs go when the recordings pass the bytes cap, a closed room's
 *     folder included; once only the song being recorded is left over the
 *     cap its recording stops ("disk") and the song goes on; the host
 *     segment's counters (what the workers' metrics show) say so.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "cmdq.h"
#include "daemon.h"
#include "host.h"
#include "media/recording.h"
#include "recheck.h"
#include "rig.h"
#include "snap.h"
#include "timeline.h"
#include "users.h"

#define RATE 48000

static check_t c = {0, 0};

static seg_cmd_t *cmd(seg_cmd_t *m, seg_cmd_type_t type, uint64_t userid, int64_t now)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    m->userid = userid;
    m->clock = now;
    return m;
}

/* Reads a file into buf (cap bytes, NUL-terminated); "" if missing. */
static const char *slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *project_of(const char *dir, int64_t song, char *buf, size_t cap)
{
    char name[32], path[600];
    rc_song_name(song, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s.lof", dir, name);
    return slurp(path, buf, cap);
}

static bool exists_song_file(const char *dir, int64_t song, const char *suffix)
{
    char name[32], path[600];
    struct stat st;
    rc_song_name(song, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    return stat(path, &st) == 0;
}

/* The room's singer, Ann, who leads, kept active. */
typedef struct {
    seg_t *seg;
    uint64_t id;
    int64_t slot;
} ann_t;

static void ann_touch(ann_t *a, int64_t now)
{
    if (a->slot >= 0)
        users_touch(a->seg, (uint32_t)a->slot, now, 3 * RATE, 1);
}

/* Moves a room (rig) on by ms while Ann stays active. */
static void run_rig(rig_t *r, ann_t *a, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        ann_touch(a, r->now);
        rig_tick(r, 100);
    }
}

/* Ann joins (tick moves the daemon on by ms). */
static void ann_join(seg_t *seg, ann_t *a, int64_t now, void (*tick)(void *, int), void *u)
{
    seg_cmd_t m;
    a->seg = seg;
    a->id = 4242;
    cmd(&m, CMD_JOIN, a->id, now);
    snprintf(m.name, sizeof m.name, "Ann");
    cq_push(seg, 1, &m);
    tick(u, 50);
    a->slot = users_find(seg, a->id);
    CHECK(c, a->slot >= 0);
    ann_touch(a, now);
    tick(u, 200);
}

static void rig_tick_cb(void *u, int ms) { rig_tick(u, ms); }

static int64_t start_song(seg_t *seg, ann_t *a, int64_t now)
{
    seg_cmd_t m;
    cmd(&m, CMD_LEAD, a->id, now);
    snprintf(m.name, sizeof m.name, "Ann");
    cq_push(seg, 1, &m);
    cmd(&m, CMD_START, a->id, now);
    m.a = now;
    cq_push(seg, 1, &m);
    return now;
}

static int64_t recorded_song(seg_t *seg)
{
    seg_ctl_t ctl;
    snap_ctl_read(seg, &ctl);
    return ctl.recorded_song;
}

static int64_t current_song(seg_t *seg)
{
    seg_ctl_t ctl;
    snap_ctl_read(seg, &ctl);
    return ctl.song.start;
}

/* ---- one room's endings -------------------------------------------------- */

static void test_endings(const char *dir)
{
    rig_t r;
    if (rig_open(&r, "test-reckeep", &(rig_opts_t){.ring_seconds = 64, .user_cap = 16, .seed = 3,
                                                   .recordings_dir = dir}) != 0) {
        CHECK(c, false);
        return;
    }
    seg_err_t err;
    seg_claim_lane(r.seg, 1, &err);
    rig_tick(&r, 20);
    ann_t a;
    ann_join(r.seg, &a, r.now, rig_tick_cb, &r);
    char buf[4096];
    seg_cmd_t m;

    /* 1. A song that ends: the recording closes when all of it is in. */
    int64_t s1 = start_song(r.seg, &a, r.now);
    rig_tick(&r, 20);
    CHECK_EQ_I(c, current_song(r.seg), s1);
    CHECK_EQ_I(c, rm_recording_song(r.d), s1);   /* from its start, before its file */
    run_rig(&r, &a, 12000);
    CHECK(c, exists_song_file(dir, s1, ".wav"));
    cmd(&m, CMD_STOP, a.id, r.now);
    m.a = r.now;
    cq_push(r.seg, 1, &m);
    int64_t end1 = r.now;
    for (int i = 0; i < 400 && recorded_song(r.seg) != s1; i++)
        run_rig(&r, &a, 100);
    CHECK_EQ_I(c, recorded_song(r.seg), s1);
    CHECK_EQ_I(c, rm_recording_song(r.d), 0);
    project_of(dir, s1, buf, sizeof buf);
    char want[64];
    snprintf(want, sizeof want, "# length: %d.", (int)((end1 - s1) / RATE));
    printf("  song 1: %.*s\n", (int)strcspn(strstr(buf, "# ended") ? strstr(buf, "# ended") : buf, "\n"),
           strstr(buf, "# ended") ? strstr(buf, "# ended") : buf);
    CHECK(c, strstr(buf, "# ended: ended (the song ended)\n") != NULL);
    CHECK(c, strstr(buf, want) != NULL);

    /* 2. Stopped mid-song (the bytes cap): "disk", and the song goes on. */
    rig_tick(&r, 1000);
    int64_t s2 = start_song(r.seg, &a, r.now + RATE);
    run_rig(&r, &a, 14000);
    CHECK(c, exists_song_file(dir, s2, ".wav"));
    CHECK_EQ_I(c, rm_recording_song(r.d), s2);
    rm_rec_stop(r.d, REC_END_DISK);
    rig_tick(&r, 10);
    CHECK_EQ_I(c, recorded_song(r.seg), s2);
    CHECK_EQ_I(c, rm_recording_song(r.d), 0);
    CHECK_EQ_I(c, current_song(r.seg), s2);   /* the song itself goes on */
    project_of(dir, s2, buf, sizeof buf);
    CHECK(c, strstr(buf, "# ended: disk (the server's space for recordings was full)\n") != NULL);
    char name[32], path[600];
    rc_song_name(s2, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s.wav", dir, name);
    struct stat st0, st1;
    stat(path, &st0);
    run_rig(&r, &a, 5000);
    stat(path, &st1);
    CHECK_EQ_I(c, st1.st_size, st0.st_size);   /* not a sample more */
    CHECK_EQ_I(c, current_song(r.seg), s2);

    /* 3. Everyone leaves mid-song: "left". */
    cmd(&m, CMD_STOP, a.id, r.now);
    m.a = r.now;
    cq_push(r.seg, 1, &m);
    run_rig(&r, &a, 1000);
    int64_t s3 = start_song(r.seg, &a, r.now + RATE);
    run_rig(&r, &a, 14000);
    CHECK_EQ_I(c, rm_recording_song(r.d), s3);
    rig_tick(&r, 8000);   /* nobody touches: after 5 s the room resets */
    CHECK_EQ_I(c, current_song(r.seg), 0);
    CHECK_EQ_I(c, rm_recording_song(r.d), 0);
    project_of(dir, s3, buf, sizeof buf);
    CHECK(c, strstr(buf, "# ended: left (") != NULL);

    /* 4. Stopped before its recording began: a stem that was written gets
     * a project; no mix ever comes. */
    ann_touch(&a, r.now);
    rig_tick(&r, 300);
    int64_t s4 = start_song(r.seg, &a, r.now + RATE);
    run_rig(&r, &a, 2000);
    CHECK_EQ_I(c, rm_recording_song(r.d), s4);
    int e = 0;
    rec_writer_t *stem = rec_writer_create(dir, s4, "Ann", s4, NULL, NULL, &e);
    float x[4800] = {0};
    CHECK(c, stem != NULL);
    if (stem) {
        rec_writer_write(stem, s4, x, 4800);
        rec_writer_destroy(stem);
    }
    rm_rec_stop(r.d, REC_END_DISK);
    run_rig(&r, &a, 14000);
    CHECK(c, !exists_song_file(dir, s4, ".wav"));
    project_of(dir, s4, buf, sizeof buf);
    CHECK(c, strstr(buf, "# ended: disk (") != NULL && strstr(buf, "-stem-Ann.wav") != NULL);
    CHECK_EQ_I(c, rm_recording_song(r.d), 0);
    rig_close(&r);
}

/* ---- the host's keeper ----------------------------------------------------- */

/* A finished song of `bytes` (a mix, a stem and its project), last
 * changed an hour ago, stamped `stamp_s` (Unix seconds). */
static void old_song(const char *dir, int64_t stamp_s, size_t bytes)
{
    char name[32], path[600];
    rc_song_name(stamp_s * RATE, name, sizeof name);
    const char *ext[] = {".wav", "-stem-Bo_000007.opus", ".lof"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s%s", dir, name, ext[k]);
        FILE *f = fopen(path, "w");
        if (!f)
            continue;
        if (k == 0 && bytes)
            fseek(f, (long)bytes - 1, SEEK_SET), fputc(0, f);
        fclose(f);
        struct timeval tv[2];
        gettimeofday(&tv[0], NULL);
        tv[0].tv_sec -= 3600;
        tv[1] = tv[0];
        utimes(path, tv);
    }
}

static bool old_song_there(const char *dir, int64_t stamp_s)
{
    return exists_song_file(dir, stamp_s * RATE, ".wav");
}

typedef struct {
    dmn_t *d;
    int64_t now;
} host_t;

static void host_tick(void *u, int ms)
{
    host_t *h = u;
    for (int i = 0; i < ms / 5; i++) {
        h->now += 240;
        dmn_tick(h->d, h->now);
    }
}

/* Waits (real time) for the keeper's next whole sweep. */
static void next_sweep(host_t *h)
{
    uint64_t n = dmn_rec_sweeps(h->d);
    dmn_rec_kick(h->d);
    for (int i = 0; i < 500 && dmn_rec_sweeps(h->d) < n + 1; i++)
        usleep(10000);
    /* A kick during a sweep may have been its own: one more to be sure
     * the sweep saw everything done before the kick. */
    n = dmn_rec_sweeps(h->d);
    dmn_rec_kick(h->d);
    for (int i = 0; i < 500 && dmn_rec_sweeps(h->d) < n + 1; i++)
        usleep(10000);
}

static void test_keeper(const char *root)
{
    char name[64], closed[700];
    snprintf(name, sizeof name, "/bbtest-reckeep-%d", (int)getpid());
    hs_unlink_all(name);
    /* A closed room's folder still counts. */
    snprintf(closed, sizeof closed, "%s/q4z8w2k7m1", root);
    mkdir(closed, 0755);
    int64_t t = (int64_t)time(NULL);
    old_song(root, 1577880000, 1000);        /* 2020-01-01: older than 30 days */
    old_song(closed, t - 7200, 300000);      /* two hours ago, a closed room */
    old_song(root, t - 3600, 300000);        /* an hour ago */

    dmn_config_t cfg;
    dmn_config_defaults(&cfg);
    cfg.segment = name;
    cfg.ring_seconds = 64;
    cfg.user_cap = 16;
    cfg.recordings_dir = root;
    cfg.rec_max_bytes = 1000000;             /* under a million bytes in all */
    cfg.rec_sweep_ms = 50;
    cfg.seed = 5;
    char why[256];
    dmn_t *d = dmn_create(&cfg, why, sizeof why);
    CHECK(c, d != NULL);
    if (!d) {
        fprintf(stderr, "dmn_create: %s\n", why);
        return;
    }
    host_t h = {d, seg_now()};
    host_tick(&h, 20);
    next_sweep(&h);
    /* The first sweep: the 2020 song is too old; the rest fit. */
    CHECK(c, !old_song_there(root, 1577880000));
    CHECK(c, old_song_there(closed, t - 7200) && old_song_there(root, t - 3600));
    seg_err_t err;
    hs_t *hs = hs_attach(name, &err);
    CHECK(c, hs != NULL);
    hs_rec_stats_t st = {0};
    if (hs)
        hs_rec_stats(hs, &st);
    CHECK_EQ_I(c, st.deleted[1], 1);
    CHECK_EQ_I(c, st.max_bytes, 1000000);
    CHECK(c, st.bytes >= 600000 && st.bytes < 700000);

    /* The default room records a song: 96 000 bytes a second of mix. */
    char seg_name[128];
    hs_room_segment(name, HS_DEFAULT_ID, seg_name, sizeof seg_name);
    seg_t *seg = seg_attach(seg_name, &err);
    CHECK(c, seg != NULL);
    if (!seg)
        goto out;
    seg_claim_lane(seg, 1, &err);
    ann_t a;
    ann_join(seg, &a, h.now, host_tick, &h);
    int64_t s = start_song(seg, &a, h.now);
    rm_t *room = dmn_room(d, HS_DEFAULT_ID);
    int closed_gone_at = -1, own_gone_at = -1, stopped_at = -1;
    for (int sec = 0; sec < 40 && stopped_at < 0; sec++) {
        for (int k = 0; k < 10; k++) {
            ann_touch(&a, h.now);
            host_tick(&h, 100);
        }
        next_sweep(&h);
        host_tick(&h, 5);   /* the main thread takes the keeper's stop */
        if (closed_gone_at < 0 && !old_song_there(closed, t - 7200))
            closed_gone_at = sec;
        if (own_gone_at < 0 && !old_song_there(root, t - 3600))
            own_gone_at = sec;
        if (recorded_song(seg) == s)
            stopped_at = sec;
    }
    printf("  keeper: the closed room's song went after %d s of recording, the room's own after %d s, "
           "the recording stopped after %d s\n", closed_gone_at, own_gone_at, stopped_at);
    /* Oldest first, whatever room; the song being recorded last. */
    CHECK(c, closed_gone_at >= 0 && own_gone_at >= closed_gone_at && stopped_at >= own_gone_at);
    CHECK_EQ_I(c, current_song(seg), s);          /* the song goes on */
    CHECK_EQ_I(c, rm_recording_song(room), 0);
    char buf[4096];
    project_of(root, s, buf, sizeof buf);
    CHECK(c, strstr(buf, "# ended: disk (") != NULL);
    if (hs) {
        hs_rec_stats(hs, &st);
        printf("  counters: deleted count %llu, age %llu, bytes %llu; stopped %llu; %llu bytes now\n",
               (unsigned long long)st.deleted[0], (unsigned long long)st.deleted[1],
               (unsigned long long)st.deleted[2], (unsigned long long)st.stopped,
               (unsigned long long)st.bytes);
        CHECK_EQ_I(c, st.deleted[2], 2);
        CHECK_EQ_I(c, st.stopped, 1);
    }
    seg_detach(seg);
out:
    hs_detach(hs);
    dmn_destroy(d);
    hs_unlink_all(name);
}

int main(void)
{
    char dir[] = "/tmp/bbtest-reckeep-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    char one[600], host[600];
    snprintf(one, sizeof one, "%s/room", dir);
    snprintf(host, sizeof host, "%s/host", dir);
    mkdir(one, 0755);
    mkdir(host, 0755);
    test_endings(one);
    test_keeper(host);
    char cmdline[700];
    snprintf(cmdline, sizeof cmdline, "rm -rf '%s'", dir);
    if (system(cmdline) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done(&c, "test_reckeep");
}
