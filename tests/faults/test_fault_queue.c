/*
 * test_fault_queue.c - fill a worker's command lane while the daemon cannot
 * drain it.
 *
 * Control actions (chat, lead, volumes ...) travel from a worker to the
 * daemon through the worker's command lane, SEG_LANE_CAP commands deep.
 * Three voices sing through real nginx and two workers (Lea 3 s and Bob 9 s
 * on worker 1, Ann 6 s on worker 2).  One singer's chat is paced (a burst of
 * CM_CHAT_BURST messages), so no one listener can fill the lane by
 * itself: FLOOD listeners on worker 1 ("Max 00" ...), joined beforehand,
 * each send one request of CM_CHAT_BURST numbered chat messages while the
 * daemon is stopped (SIGSTOP), as fast as they can, one after another.
 * The daemon is continued (SIGCONT) two seconds later.  Asserted:
 *
 *   - the worker accepts whole requests while their commands fit (51 of
 *     them: 255 of the lane's 256 places) and answers every later one 503
 *     with kill_client and the message "the server is busy (control queue
 *     full); please retry": a refused request changes nothing;
 *   - after SIGCONT, Ann and Bob receive each accepted message exactly
 *     once, in order, intact, from the listener who sent it, and none of
 *     the refused ones;
 *   - the lane works again: a chat sent afterwards arrives;
 *   - audio keeps flowing for everyone meanwhile: no voice sees an error,
 *     every frame arrives, every earlier voice is heard where it was
 *     written (the daemon was away 2 s, less than the 1 s it clears ahead
 *     plus the 3 s the first bucket sings behind the clock).
 *
 * Lost: nothing accepted.  The refused messages are refused, visibly (503).
 *
 * usage: test_fault_queue BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <signal.h>
#include <stdlib.h>

#include "commands.h"
#include "ftest.h"
#include "segment.h"

#define NV 3
#define TNAME "fault_command_queue"
#define FLOOD 60            /* listeners, one request each */
#define PER CM_CHAT_BURST   /* chat messages per request: one singer's burst */

static const ft_spec_t spec[NV] = {{"Lea", 3, 400, 1}, {"Ann", 6, 500, 2}, {"Bob", 9, 600, 1}};

/* A listener that sends 60 ms requests back to back (no pacing), 30 s
 * behind the clock so that its read clock stays in the past. */
static bbc_singer_t *make_max(fs_t *fs, const char *uid, const char *name)
{
    bbc_config_t mc;
    bbc_config_init(&mc);
    mc.addr = fs_http(fs);
    mc.transport = BBC_HTTP;
    mc.userid = uid;
    mc.username = name;
    mc.offset_s = 30;
    mc.n_samples = 2880;
    mc.no_pace = true;
    mc.ignore_delay = true;
    mc.mode = BBC_SEND_SPECTATOR;
    int err;
    return bbc_singer_new(&mc, &err);
}

/* The flood, with the daemon stopped for 2 s: the listeners' requests of
 * PER chats each are accepted while the lane has room, then refused whole
 * with a 503.  Returns how many were accepted. */
static int flood(check_t *c, fs_t *fs, bbc_singer_t **max)
{
    CHECK_EQ_I(*c, fs_signal_daemon(fs, SIGSTOP), 0);
    long long t_stop = fs_now_ns();
    int64_t c_stop = srvclock_now();
    int status[FLOOD] = {0}, accepted = 0, refused = 0, first_refused = -1;
    char msg503[600] = "";
    for (int r = 0; r < FLOOD; r++) {
        for (int k = 0; k < PER; k++) {
            char text[64];
            snprintf(text, sizeof text, "max %02d.%d <&\"'>", r, k);
            bbc_singer_chat(max[r], text);
        }
        int rc = bbc_exchange_batch(max[r], NULL, NULL);
        const resp_t *resp = bbc_singer_response(max[r]);
        const bbc_meta_t *m = bbc_singer_meta(max[r]);
        status[r] = rc == BBC_OK ? 200 : resp->status;
        if (rc == BBC_OK) {
            accepted++;
        } else {
            refused++;
            if (first_refused < 0) {
                first_refused = r;
                snprintf(msg503, sizeof msg503, "%s", m->message);
                CHECK(*c, m->kill_client);
            }
            CHECK_EQ_I(*c, resp->status, 503);
        }
    }
    double flood_ms = (fs_now_ns() - t_stop) / 1e6;
    printf(TNAME ": daemon stopped at clock %" PRId64 "; %d listeners sent a request of %d chats in %.0f ms: "
           "%d accepted, %d refused (first refused: request %d, HTTP %d, \"%s\")\n",
           c_stop, FLOOD, PER, flood_ms, accepted, refused, first_refused,
           first_refused >= 0 ? status[first_refused] : 0, msg503);
    CHECK_EQ_I(*c, accepted, SEG_LANE_CAP / PER);
    CHECK_EQ_I(*c, refused, FLOOD - SEG_LANE_CAP / PER);
    CHECK(*c, strcmp(msg503, "the server is busy (control queue full); please retry") == 0);
    /* Accepted requests come first, then only refusals: nothing is taken
     * from a request that does not fit. */
    for (int r = 0; r < FLOOD; r++)
        CHECK_EQ_I(*c, status[r], r < accepted ? 200 : 503);
    long long left = 2000 - (fs_now_ns() - t_stop) / 1000000;
    fs_sleep_ms(left > 0 ? (int)left : 0);
    CHECK_EQ_I(*c, fs_signal_daemon(fs, SIGCONT), 0);
    printf(TNAME ": daemon continued after %.2f s\n", ft_secs(c_stop, srvclock_now()));
    return accepted;
}

/* Ann and Bob received each accepted message once, in order, intact. */
static void judge_chats(check_t *c, ch_voice_t **v, int accepted)
{
    for (int i = 1; i < NV; i++) {
        int n = ch_chats(v[i], -1, NULL, 0, NULL, 0);
        int good = 0, bad = 0, k = 0;
        for (int j = 0; j < n; j++) {
            char name[64], text[600], want[64], who[16];
            ch_chats(v[i], j, name, sizeof name, text, sizeof text);
            if (k < accepted * PER) {
                snprintf(want, sizeof want, "max %02d.%d <&\"'>", k / PER, k % PER);
                snprintf(who, sizeof who, "Max %02d", k / PER);
            } else {
                snprintf(want, sizeof want, "max after");
                snprintf(who, sizeof who, "Max %02d", 0);
            }
            if (strcmp(name, who) == 0 && strcmp(text, want) == 0)
                good++;
            else if (bad++ < 3)
                printf("  %s: chat %d is \"%s: %s\", want \"%s: %s\"\n", spec[i].name, j, name, text, who, want);
            k++;
        }
        printf(TNAME ": %s received %d chats, %d as sent and in order (want %d)\n", spec[i].name, n,
               good, accepted * PER + 1);
        CHECK_EQ_I(*c, n, accepted * PER + 1);
        CHECK_EQ_I(*c, good, n);
    }
}

/* The audio meanwhile: nothing failed, lost or misplaced. */
static void judge_audio(check_t *c, ch_choir_t *ch, ch_voice_t **v, int64_t start, int64_t t_end)
{
    for (int i = 0; i < NV; i++) {
        printf(TNAME ": %s (%d s): %d failed exchanges\n", spec[i].name, spec[i].offset, ch_failures(v[i]));
        ft_print_failures(v[i]);
        CHECK_EQ_I(*c, ch_failures(v[i]), 0);
        CHECK_EQ_I(*c, ch_leaks(v[i]), 0);
        int holes;
        CHECK_EQ_I(*c, ft_lost(v[i], start, 0, &holes), 0);
        for (int s = 0; s < NV; s++)
            if (spec[s].offset < spec[i].offset)
                ft_check_heard_all(c, ch, v[i], v[s], start, 0, start, t_end, 0);
        int64_t a = start + 28800, b = t_end - (int64_t)(spec[i].offset + 2) * FT_RATE;
        a -= a % CH_FRAME;
        b -= b % CH_FRAME;
        CHECK_EQ_I(*c, ch_frames_received(v[i], a, b), (int)((b - a) / CH_FRAME));
    }
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "queue"}, &exit_code);
    if (!fs)
        return exit_code;
    ch_choir_t *ch = ch_choir_new(fs_http(fs));
    ch_voice_t *v[NV];
    bbc_singer_t *max[FLOOD] = {0};
    if (ft_add_voices(fs, ch, spec, NV, 700, 11, v) != 0)
        return 1;
    for (int i = 0; i < FLOOD; i++) {
        char uid[24], name[16];
        snprintf(name, sizeof name, "Max %02d", i);
        if (fs_userid_for(fs, 1, 999 + (unsigned)i, uid, sizeof uid) != 0)
            return 1;
        max[i] = make_max(fs, uid, name);
        CHECK(c, max[i] != NULL);
        if (!max[i])
            return 1;
    }
    if (ft_start_voices(v, NV) != 0) {
        fs_dump_logs(fs, 20);
        return 1;
    }
    int64_t start = ft_song(v[0], v, NV);
    CHECK(c, start != 0);
    for (int i = 0; i < FLOOD; i++)
        CHECK_EQ_I(c, bbc_exchange_batch(max[i], NULL, NULL), 0);
    fs_sleep_ms(6000);
    int accepted = flood(&c, fs, max);

    /* The lane drains; control works again (Max 00 spent PER of its
     * burst some seconds ago; one message fits again by now). */
    fs_sleep_ms(2500);
    bbc_singer_chat(max[0], "max after");
    CHECK_EQ_I(c, bbc_exchange_batch(max[0], NULL, NULL), 0);
    fs_sleep_ms(8000);
    int64_t t_end = srvclock_now();
    ch_stop_all(ch);
    judge_chats(&c, v, accepted);
    judge_audio(&c, ch, v, start, t_end);
    int rc = check_done(&c, TNAME);
    if (rc)
        fs_dump_logs(fs, 30);
    for (int i = 0; i < FLOOD; i++)
        bbc_singer_destroy(max[i]);
    ch_choir_free(ch);
    fs_stop(fs);
    return rc;
}
