/*
 * test_fault_events.c - the events table (PROTOCOL.md section 12: timed cue
 * markers every answer carries) across a daemon restart.
 *
 * A singer leads and declares two events, sees them in the next answers, then the
 * daemon is killed with SIGKILL and restarted half a second later, as in
 * test_fault_daemon.c.  Asserted: the answers after the restart still carry
 * both events.  The daemon's own contract (shm/daemon.c) is that a SIGKILL
 * loses nothing but the commands in flight during that one tick, and the
 * song goes on across a restart (README: rolling restarts during a
 * session); the events of a song are part of what its singers see.
 *
 * usage: test_fault_events BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <signal.h>
#include <stdlib.h>

#include "ftest.h"

#define TNAME "fault_daemon_events"

/* Whether the last answer's events hold an entry with this evid. */
static bool has_event(const bbc_singer_t *s, const char *evid)
{
    const cJSON *e, *ev = bbc_singer_meta(s)->events;
    cJSON_ArrayForEach(e, ev) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "evid");
        if (cJSON_IsString(id) && strcmp(id->valuestring, evid) == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "events", .workers = 1}, &exit_code);
    if (!fs)
        return exit_code;
    bbc_config_t bc;
    bbc_config_init(&bc);
    bc.addr = fs_http(fs);
    bc.transport = BBC_HTTP;
    bc.username = "Eva";
    bc.offset_s = 3;
    bc.ignore_delay = true;
    int err;
    bbc_singer_t *s = bbc_singer_new(&bc, &err);
    CHECK(c, s != NULL);
    if (!s)
        return check_done(&c, TNAME);
    static float quiet[BBC_BATCH];
    for (int i = 0; i < 2; i++)
        CHECK_EQ_I(c, bbc_exchange_batch(s, quiet, NULL), 0);
    /* The room's cue events are its leader's to set (roles.h). */
    bbc_singer_request_lead(s);
    CHECK_EQ_I(c, bbc_exchange_batch(s, quiet, NULL), 0);
    int64_t now = srvclock_now();
    bbc_singer_event(s, "\"verse-2\"", now);
    bbc_singer_event(s, "\"chorus\"", now + 10 * FT_RATE);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_I(c, bbc_exchange_batch(s, quiet, NULL), 0);
    bool before = has_event(s, "verse-2") && has_event(s, "chorus");
    printf(TNAME ": before the kill the answers carry both events: %s\n", before ? "yes" : "no");
    CHECK(c, before);

    CHECK_EQ_I(c, fs_signal_daemon(fs, SIGKILL), 0);
    fs_sleep_ms(500);
    CHECK_EQ_I(c, fs_start_daemon(fs), 0);
    int kept = 0, answers = 0;
    for (int i = 0; i < 4; i++) {
        if (bbc_exchange_batch(s, quiet, NULL) != 0)
            continue;
        answers++;
        kept += has_event(s, "verse-2") && has_event(s, "chorus");
    }
    char *ev = cJSON_PrintUnformatted(bbc_singer_meta(s)->events);
    printf(TNAME ": after the daemon's restart, %d of %d answers carry both events (last: %s)\n", kept,
           answers, ev ? ev : "none");
    free(ev);
    CHECK_EQ_I(c, answers, 4);
    CHECK_EQ_I(c, kept, answers);
    int rc = check_done(&c, TNAME);
    if (rc)
        fs_dump_logs(fs, 20);
    bbc_singer_destroy(s);
    fs_stop(fs);
    return rc;
}
