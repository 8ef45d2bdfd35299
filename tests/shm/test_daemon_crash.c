/*
 * test_daemon_crash.c - the real bb-shmd killed with SIGKILL mid-song.
 *
 * A writer (this process, acting as a worker) joins, leads and starts a
 * song through the command lane and adds audio into the song.  The daemon
 * is killed with SIGKILL and started again: the audio already written is
 * still there, the song state and the clock carry on, writes resume past
 * the old watermark, and SIGTERM then stops the daemon cleanly.
 *
 * usage: test_daemon_crash PATH/TO/bb-shmd
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "cmdq.h"
#include "shm_test.h"
#include "snap.h"
#include "timeline.h"
#include "users.h"

static const char *g_bin;

static pid_t start_daemon(const char *name)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(g_bin, g_bin, "--segment", name, "--ring-seconds", "16", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits up to 5 s for cond, evaluated every 10 ms. */
#define WAIT_FOR(cond)                               \
    do {                                             \
        for (int w_ = 0; w_ < 500 && !(cond); w_++)  \
            sleep_ms(10);                            \
    } while (0)

static void push(seg_t *s, seg_cmd_type_t type, uint64_t userid, int64_t a)
{
    seg_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.userid = userid;
    c.clock = seg_now();
    c.a = a;
    snprintf(c.name, sizeof c.name, "Tester");
    cq_push(s, 7, &c);
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/bb-shmd\n", argv[0]);
        return 2;
    }
    g_bin = argv[1];
    /* The daemon's host segment, and the default room's timeline in
     * NAME-default, which this test drives as a worker would. */
    char name[64], room[80];
    shm_test_name(name, sizeof name, "crash");
    snprintf(room, sizeof room, "%s-default", name);
    seg_unlink(name);
    seg_unlink(room);

    pid_t d = start_daemon(name);
    seg_t *s = NULL;
    seg_err_t err;
    WAIT_FOR((s = seg_attach(room, &err)) != NULL);
    CHECK(c, s != NULL);
    if (!s)
        return check_done(&c, "test_daemon_crash");
    CHECK_EQ_I(c, seg_claim_lane(s, 7, &err), 0);

    const uint64_t uid = 4242;
    push(s, CMD_JOIN, uid, 0);
    int64_t slot = -1;
    WAIT_FOR((slot = users_find(s, uid)) >= 0);
    CHECK(c, slot >= 0);
    users_touch(s, (uint32_t)slot, seg_now(), 3 * 48000, 7);
    int64_t start = seg_now() - 3 * 48000;
    push(s, CMD_LEAD, uid, 0);
    push(s, CMD_START, uid, start);
    seg_ctl_t ctl;
    WAIT_FOR((snap_ctl_read(s, &ctl), ctl.song.start == start));
    CHECK_EQ_I(c, ctl.song.start, start);
    CHECK(c, ctl.song.has_leader && ctl.song.leader == uid);
    uint32_t epoch = ctl.epoch;

    /* Audio into the song, 1 s of a ramp ending 0.5 s ago. */
    enum { N = 48000 };
    static float x[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 480) / 960.0f;
    int64_t now = seg_now();
    int64_t pos = now - N - 24000;
    CHECK(c, song_upload_active(&ctl.song, pos + N, N));
    CHECK_EQ_I(c, tl_write(s, pos, x, N, now), TL_OK);
    static int64_t before[N], after[N];
    tl_read_cells(s, pos, N, before);
    CHECK_EQ_I(c, acc_count(before[100]), 1);

    /* SIGKILL the daemon. */
    int64_t w_before = tl_watermark(s);
    kill(d, SIGKILL);
    int st;
    waitpid(d, &st, 0);
    CHECK(c, WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* While it is down, writes below the frozen watermark still work. */
    users_touch(s, (uint32_t)slot, seg_now(), 3 * 48000, 7);
    CHECK_EQ_I(c, tl_write(s, pos + N, x, 4800, seg_now()), TL_OK);
    sleep_ms(300);
    CHECK_EQ_I(c, tl_watermark(s), w_before);

    /* Start it again: it re-attaches and carries on. */
    users_touch(s, (uint32_t)slot, seg_now(), 3 * 48000, 7);
    d = start_daemon(name);
    WAIT_FOR(tl_watermark(s) > w_before);
    CHECK(c, tl_watermark(s) > w_before);
    CHECK(c, tl_watermark(s) >= seg_now() + 48000 / 2);   /* cleared ahead again */
    tl_read_cells(s, pos, N, after);
    CHECK(c, memcmp(before, after, sizeof before) == 0);
    int64_t extra[4800];
    tl_read_cells(s, pos + N, 4800, extra);
    CHECK_EQ_I(c, acc_count(extra[10]), 1);
    snap_ctl_read(s, &ctl);
    CHECK_EQ_I(c, ctl.song.start, start);
    CHECK_EQ_I(c, ctl.epoch, epoch);
    CHECK(c, ctl.song.has_leader && ctl.song.leader == uid);
    CHECK_EQ_I(c, users_find(s, uid), slot);
    /* Writes resume past the old watermark. */
    users_touch(s, (uint32_t)slot, seg_now(), 3 * 48000, 7);
    now = seg_now();
    int64_t later = w_before + 4800;
    WAIT_FOR((now = seg_now()) > later + 4800);
    CHECK_EQ_I(c, tl_write(s, later, x, 4800, now), TL_OK);
    /* Commands still flow: stop the song. */
    push(s, CMD_STOP, uid, now - 48000);
    WAIT_FOR((snap_ctl_read(s, &ctl), ctl.song.end != 0));
    CHECK_EQ_I(c, ctl.song.end, now - 48000);

    /* SIGTERM: a clean stop, and the segment stays. */
    kill(d, SIGTERM);
    waitpid(d, &st, 0);
    CHECK(c, WIFEXITED(st) && WEXITSTATUS(st) == 0);
    seg_t *again = seg_attach(room, &err);
    CHECK(c, again != NULL);
    seg_detach(again);
    seg_detach(s);
    seg_unlink(name);
    seg_unlink(room);
    return check_done(&c, "test_daemon_crash");
}
