/*
 * test_daemon.c - the daemon's logic, tick by tick on a simulated clock:
 * joins and the summary, lead and bucket assignment, start with the
 * metronome (beats in the backing ring exactly where they belong), tempo
 * broadcasts, mic volume by public id, chat, events, stop, expiry of
 * inactive users with the state reset, and forgetting after an hour.
 */
#include <string.h>

#include "chat.h"
#include "check.h"
#include "cmdq.h"
#include "room.h"
#include "ring.h"
#include "rig.h"
#include "shm_test.h"
#include "snap.h"
#include "tempo.h"
#include "timeline.h"
#include "users.h"


static seg_cmd_t *cmd(seg_cmd_t *c, seg_cmd_type_t type, uint64_t userid, int64_t now)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    c->userid = userid;
    c->clock = now;
    return c;
}

/* Queues c as a worker does: in its lane, then a bump of the wake word a
 * sleeping room looks at. */
static void send(rig_t *r, seg_cmd_t *c)
{
    cq_push(r->seg, 1, c);
    atomic_fetch_add_explicit(&seg_header(r->seg)->wake, 1, memory_order_release);
}

static void touch_all(rig_t *r, const uint64_t *ids, int n, int delay_s)
{
    for (int i = 0; i < n; i++) {
        int64_t k = users_find(r->seg, ids[i]);
        if (k >= 0)
            users_touch(r->seg, (uint32_t)k, r->now, (int64_t)delay_s * 48000, 1);
    }
}

static const uint64_t ids[4] = {1001, 1002, 1003, 1004};

/* Four singers join; the summary lists them sorted, with public ids. */
static void join(check_t *c, rig_t *r)
{
    seg_cmd_t cm;
    seg_ctl_t ctl;
    const char *names[4] = {"Dee", "Al", "Cy", "Bo"};
    for (int i = 0; i < 4; i++) {
        cmd(&cm, CMD_JOIN, ids[i], r->now);
        snprintf(cm.name, sizeof cm.name, "%s", names[i]);
        cm.a = i == 3;   /* Bo is a spectator */
        send(r, &cm);
    }
    rig_tick(r, 10);
    touch_all(r, ids, 4, 115);
    rig_tick(r, 200);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, ctl.n_active, 4);
    uint64_t gen = 0;
    char sum[SEG_BLOB_SUMMARY_MAX];
    size_t len;
    snap_blob_read(r->seg, SEG_BLOB_SUMMARY, &gen, sum, sizeof sum, &len);
    char pub0[32];
    snprintf(pub0, sizeof pub0, "\"%llu\"", (unsigned long long)seg_public_id(r->seg, 1002));
    CHECK(*c, strncmp(sum, "[[115,\"Al\",1,", 13) == 0);
    CHECK(*c, strstr(sum, pub0) != NULL);
    CHECK(*c, strstr(sum, "1001") == NULL || strstr(sum, "\"1001\"") == NULL);  /* no userids */
    printf("  summary: %s\n", sum);
}

/* Dee leads: Dee to 3 s, the singers to 6/9, the spectator Bo to 12. */
static void lead(check_t *c, rig_t *r)
{
    seg_cmd_t cm;
    seg_ctl_t ctl;
    cmd(&cm, CMD_LEAD, 1001, r->now);
    snprintf(cm.name, sizeof cm.name, "Dee");
    send(r, &cm);
    rig_tick(r, 10);
    uint32_t dl[4];
    for (int i = 0; i < 4; i++)
        dl[i] = users_delay_msg(r->seg, (uint32_t)users_find(r->seg, ids[i])) & 0xffff;
    CHECK_EQ_I(*c, dl[0], 3);
    CHECK(*c, dl[1] == 6 || dl[1] == 9);
    CHECK(*c, dl[2] == 6 || dl[2] == 9);
    CHECK(*c, dl[1] != dl[2]);
    CHECK_EQ_I(*c, dl[3], 12);
    snap_ctl_read(r->seg, &ctl);
    CHECK(*c, ctl.song.has_leader && ctl.song.leader == 1001);
    CHECK_EQ_I(*c, ctl.leader_public, seg_public_id(r->seg, 1001));
    CHECK(*c, strcmp(ctl.leader_name, "Dee") == 0);
    CHECK_EQ_I(*c, ctl.song.max_position, 12);
    CHECK_EQ_I(*c, ctl.n_buckets, 4);
}

/* Only the leader may start.  Tempo first, then the metronome, whose
 * beats land exactly where they belong. */
static void start_song(check_t *c, rig_t *r)
{
    seg_cmd_t cm;
    seg_ctl_t ctl;
    /* Only the leader sets the tempo and starts (roles.h): a singer's tempo
     * is refused, the leader's taken. */
    cmd(&cm, CMD_TEMPO, 1002, r->now);
    cm.a = 90;
    cm.b = -1;
    cm.c = -1;
    send(r, &cm);
    cmd(&cm, CMD_TEMPO, 1001, r->now);
    cm.a = 120;
    cm.b = -1;
    cm.c = -1;
    send(r, &cm);
    cmd(&cm, CMD_TRACK, 1001, r->now);
    snprintf(cm.text, sizeof cm.text, "%s", "metronome -- set BPM below");
    send(r, &cm);
    cmd(&cm, CMD_START, 1002, r->now);
    cm.a = r->now - 3 * 48000;
    send(r, &cm);   /* not the leader: ignored */
    rig_tick(r, 10);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, ctl.song.start, 0);
    CHECK_EQ_I(*c, ctl.song.bpm, 120);
    CHECK(*c, ctl.settings_gen > 0);
    int64_t start = r->now - 3 * 48000;
    start -= start % 7;  /* any clock, not aligned to anything */
    cmd(&cm, CMD_START, 1001, r->now);
    cm.a = start;
    send(r, &cm);
    touch_all(r, ids, 4, 6);
    rig_tick(r, 100);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, ctl.song.start, start);
    CHECK(*c, ctl.song.metronome_on);
    /* Beats every 24000 samples from the start, backfilled and ahead. */
    static float b[5 * 48000];
    tl_read(r->seg, start, 4 * 48000, 1.0f, b, NULL);
    int beats = 0, misplaced = 0;
    for (int i = 0; i < 4 * 48000; i++)
        if (b[i] != 0.0f) {
            beats++;
            misplaced += i % 24000 != 0;
        }
    CHECK_EQ_I(*c, beats, 8);
    CHECK_EQ_I(*c, misplaced, 0);
    /* k = 0: a click alone is heard at 1.5 times the backing gain. */
    CHECK_NEAR(*c, b[0], 1.5 * 1.000245, 1e-4);
}

/* Mic volume by public id (a userid names no one), capped at +12 dB and
 * another's only from the leader; chat; events only from the leader. */
static void controls(check_t *c, rig_t *r)
{
    uint64_t gen = 0;
    size_t len;
    seg_cmd_t cm;
    cmd(&cm, CMD_MIC_VOLUME, 1001, r->now);
    cm.target = seg_public_id(r->seg, 1003);
    cm.f = 1.5;
    send(r, &cm);
    cmd(&cm, CMD_MIC_VOLUME, 1001, r->now);
    cm.target = 1002;
    cm.f = 0.1;
    send(r, &cm);
    cmd(&cm, CMD_MIC_VOLUME, 1002, r->now);   /* not the leader: refused */
    cm.target = seg_public_id(r->seg, 1004);
    cm.f = 0.2;
    send(r, &cm);
    /* Chat and events. */
    cmd(&cm, CMD_CHAT, 1002, r->now);
    snprintf(cm.name, sizeof cm.name, "Al");
    snprintf(cm.text, sizeof cm.text, "<b>hi</b>");
    send(r, &cm);
    cmd(&cm, CMD_EVENT, 1002, r->now);   /* not the leader: refused */
    snprintf(cm.text, sizeof cm.text, "\"chorus\"");
    snprintf(cm.name, sizeof cm.name, "777");
    send(r, &cm);
    cmd(&cm, CMD_EVENT, 1001, r->now);
    snprintf(cm.text, sizeof cm.text, "\"verse\"");
    snprintf(cm.name, sizeof cm.name, "12345");
    send(r, &cm);
    rig_tick(r, 10);
    CHECK_NEAR(*c, users_mic_volume(r->seg, (uint32_t)users_find(r->seg, 1003)), 1.4f, 0);
    CHECK_NEAR(*c, users_mic_volume(r->seg, (uint32_t)users_find(r->seg, 1004)), 1.0, 0);
    CHECK_NEAR(*c, users_mic_volume(r->seg, (uint32_t)users_find(r->seg, 1002)), 1.0, 0);
    chat_msg_t m;
    CHECK(*c, chat_read(r->seg, chat_head(r->seg), &m) == 0 && strcmp(m.text, "<b>hi</b>") == 0 &&
                 m.sender == seg_public_id(r->seg, 1002));
    gen = 0;
    char ev[SEG_BLOB_EVENTS_MAX];
    snap_blob_read(r->seg, SEG_BLOB_EVENTS, &gen, ev, sizeof ev, &len);
    CHECK(*c, strcmp(ev, "[{\"evid\":\"verse\",\"clock\":12345}]") == 0);
    cmd(&cm, CMD_RESET_EVENTS, 1002, r->now);
    send(r, &cm);
    rig_tick(r, 10);
    snap_blob_read(r->seg, SEG_BLOB_EVENTS, &gen, ev, sizeof ev, &len);
    CHECK(*c, strcmp(ev, "[]") == 0);
}

/* Stop: the end is the clock given, the leader is gone, the metronome
 * stops ahead of the clock, and the leader who stopped stays in the
 * leader's bucket (only someone else stopping goes to the back). */
static void stop(check_t *c, rig_t *r)
{
    seg_cmd_t cm;
    seg_ctl_t ctl;
    int64_t end = r->now - 48000;
    cmd(&cm, CMD_STOP, 1001, r->now);
    cm.a = end;
    send(r, &cm);
    touch_all(r, ids, 4, 6);
    rig_tick(r, 20);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, ctl.song.end, end);
    CHECK(*c, !ctl.song.has_leader && !ctl.song.metronome_on);
    CHECK_EQ_I(*c, users_delay_msg(r->seg, (uint32_t)users_find(r->seg, 1001)) & 0xffff, ctl.song.first_bucket);
}

/* A lead from a userid that has no place in the table (its join was put
 * off, or it was forgotten) holds only as long as a present leader's
 * would: 5 s, while the others stay active. */
static void slotless_leader(check_t *c, rig_t *r)
{
    seg_cmd_t cm;
    seg_ctl_t ctl;
    cmd(&cm, CMD_LEAD, 7777, r->now);
    snprintf(cm.name, sizeof cm.name, "Ghost");
    send(r, &cm);
    touch_all(r, ids, 4, 6);
    rig_tick(r, 20);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, users_find(r->seg, 7777), -1);
    CHECK(*c, ctl.song.has_leader && ctl.song.leader == 7777);
    for (int i = 0; i < 50; i++) {
        touch_all(r, ids, 4, 6);
        rig_tick(r, 100);
    }
    snap_ctl_read(r->seg, &ctl);
    CHECK(*c, ctl.song.has_leader);                  /* 5 s not yet over */
    for (int i = 0; i < 5; i++) {
        touch_all(r, ids, 4, 6);
        rig_tick(r, 100);
    }
    snap_ctl_read(r->seg, &ctl);
    CHECK(*c, !ctl.song.has_leader && ctl.leader_public == 0);
    CHECK_EQ_I(*c, ctl.n_active, 4);
}

/* Nobody active for 5 s: the state resets (tempo too), once; after 5
 * minutes the users are forgotten. */
static void expiry(check_t *c, rig_t *r)
{
    seg_ctl_t ctl;
    snap_ctl_read(r->seg, &ctl);
    uint32_t epoch = ctl.epoch;
    rig_tick(r, 5300);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, ctl.n_active, 0);
    CHECK_EQ_I(*c, ctl.song.bpm, 0);
    CHECK_EQ_I(*c, ctl.song.start, 0);
    CHECK_EQ_I(*c, ctl.epoch, epoch + 1);
    CHECK_EQ_I(*c, ctl.n_users, 4);          /* remembered for 5 minutes */
    rig_tick(r, 200);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, ctl.epoch, epoch + 1);    /* not again */
    /* After 5 minutes they are forgotten. */
    r->now += USERS_FORGET_SAMPLES;
    rig_tick(r, 200);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, ctl.n_users, 0);
    CHECK_EQ_I(*c, users_find(r->seg, 1001), -1);
    /* Empty for a minute, the room sleeps; its heartbeat still says the
     * daemon is there, since commands are still applied (a worker waits
     * for them while it is fresh). */
    int64_t w = tl_watermark(r->seg);
    rig_tick(r, 61000);
    rig_tick(r, 3000);
    CHECK(*c, tl_watermark(r->seg) < r->now);     /* asleep: no clearing ahead */
    CHECK(*c, tl_watermark(r->seg) >= w);
    CHECK_EQ_I(*c, load_relaxed(&seg_header(r->seg)->heartbeat), r->now);
    /* A sleeping room reads one word a tick, not its lanes: a command
     * queued without the bump waits (with nobody remembered, until the
     * next bump), one with it is applied at the next tick. */
    seg_cmd_t cm;
    cmd(&cm, CMD_JOIN, 4242, r->now);
    snprintf(cm.name, sizeof cm.name, "Quiet");
    cq_push(r->seg, 1, &cm);
    rig_tick(r, 2500);
    CHECK_EQ_I(*c, users_find(r->seg, 4242), -1);
    cmd(&cm, CMD_JOIN, 4343, r->now);
    snprintf(cm.name, sizeof cm.name, "Loud");
    send(r, &cm);
    rig_tick(r, 10);
    CHECK(*c, users_find(r->seg, 4343) >= 0 && users_find(r->seg, 4242) >= 0);
}

/* A full user table is published, and joins are refused. */
static void full_table(check_t *c, rig_t *r)
{
    seg_cmd_t cm;
    seg_ctl_t ctl;
    for (uint64_t i = 0; i < 70; i++) {
        cmd(&cm, CMD_JOIN, 5000 + i, r->now);
        send(r, &cm);
    }
    rig_tick(r, 200);
    snap_ctl_read(r->seg, &ctl);
    CHECK_EQ_I(*c, ctl.users_full, 1);
    CHECK_EQ_I(*c, users_find(r->seg, 5069), -1);
}

int main(void)
{
    CHECK_INIT(c);
    rig_t r;
    if (rig_open(&r, "test-daemon", &(rig_opts_t){.ring_seconds = 32, .user_cap = 64, .seed = 12345}) != 0)
        return 1;
    CHECK(c, rm_created(r.d));
    seg_err_t err;
    seg_claim_lane(r.seg, 1, &err);
    rig_tick(&r, 20);
    CHECK(c, tl_watermark(r.seg) >= r.now + TL_AHEAD - RING_FRAME);
    join(&c, &r);
    lead(&c, &r);
    start_song(&c, &r);
    controls(&c, &r);
    stop(&c, &r);
    slotless_leader(&c, &r);
    expiry(&c, &r);
    full_table(&c, &r);
    rig_close(&r);
    return check_done(&c, "test_daemon");
}
