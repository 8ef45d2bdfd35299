/*
 * test_fault_nginx.c - `nginx -s reload` in the middle of a song (what an
 * operator does after editing the site, and what certbot's deploy hook does
 * after every certificate renewal).
 *
 * Three voices through real nginx (two worker processes) and two workers:
 * the leader Lea (3 s) and Bob (9 s) on worker 1, Ann (6 s) on worker 2.
 * nginx is reloaded three times, two seconds apart.  A reload starts new
 * nginx worker processes and lets the old ones finish the requests they
 * hold; they close their idle kept-alive connections, to the singers and to
 * the workers.  Asserted: no voice sees an error or reconnects, no voice
 * moves to another worker, every listener receives every frame and hears
 * every earlier voice where it was written; nothing is lost.  A request
 * sent on a kept-alive connection just as the old nginx process closes it
 * gets no answer byte; the client sends it again on a new connection, as
 * browsers do (the test client counts this as no error, and the test would
 * see a desync if such a request were ever applied twice).
 *
 * usage: test_fault_nginx BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <stdlib.h>

#include "ftest.h"

#define NV 3
#define TNAME "fault_nginx_reload"

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "nginx"}, &exit_code);
    if (!fs)
        return exit_code;
    static const ft_spec_t spec[NV] = {{"Lea", 3, 400, 1}, {"Ann", 6, 500, 2}, {"Bob", 9, 600, 1}};
    ch_voice_t *v[NV];
    int64_t start;
    ch_choir_t *ch = ft_choir(fs, spec, NV, 300, 13, v, &start);
    if (!ch)
        return 1;
    CHECK(c, start != 0);
    fs_sleep_ms(7000);
    for (int k = 0; k < 3; k++) {
        int64_t t = srvclock_now();
        CHECK_EQ_I(c, fs_reload_nginx(fs), 0);
        printf(TNAME ": nginx reloaded at clock %" PRId64 " (new worker processes in %.0f ms)\n", t,
               ft_secs(t, srvclock_now()) * 1000);
        fs_sleep_ms(2000);
    }
    fs_sleep_ms(5000);
    int64_t t_end = srvclock_now();
    ch_stop_all(ch);

    for (int i = 0; i < NV; i++) {
        int n;
        ch_rec_t *r = ft_recs(v[i], &n);
        bbc_stats_t st;
        ch_stats(v[i], &st);
        int moved = 0;
        for (int k = 0; k < n; k++)
            moved += r[k].rc == 0 && r[k].worker != spec[i].worker;
        printf(TNAME ": %s (%d s): %d exchanges, %d failed, %d reconnects, %d desyncs, %d served by "
               "another worker\n",
               spec[i].name, spec[i].offset, n, ch_failures(v[i]), (int)st.reconnects,
               (int)st.desyncs, moved);
        ft_print_failures(v[i]);
        CHECK_EQ_I(c, ch_failures(v[i]), 0);
        CHECK_EQ_I(c, (int)st.reconnects, 0);
        CHECK_EQ_I(c, moved, 0);
        CHECK_EQ_I(c, ch_leaks(v[i]), 0);
        int holes;
        CHECK_EQ_I(c, ft_lost(v[i], start, 0, &holes), 0);
        for (int s = 0; s < NV; s++)
            if (spec[s].offset < spec[i].offset)
                ft_check_heard_all(&c, ch, v[i], v[s], start, 0, start, t_end, 0);
        int64_t a = start + 28800, b = t_end - (int64_t)(spec[i].offset + 2) * FT_RATE;
        a -= a % CH_FRAME;
        b -= b % CH_FRAME;
        int got = ch_frames_received(v[i], a, b), want = (int)((b - a) / CH_FRAME);
        printf(TNAME ": %s received %d of the %d frames of [%" PRId64 ", %" PRId64 ")\n",
               spec[i].name, got, want, a, b);
        CHECK_EQ_I(c, got, want);
        free(r);
    }
    int rc = check_done(&c, TNAME);
    if (rc)
        fs_dump_logs(fs, 30);
    ch_choir_free(ch);
    fs_stop(fs);
    return rc;
}
