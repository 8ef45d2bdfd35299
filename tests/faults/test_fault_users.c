/*
 * test_fault_users.c - fill the user table.
 *
 * The daemon runs with the smallest table it accepts (--users 16).  Sixteen
 * singers join through real nginx and two workers: three sing (Lea 3 s
 * leads, Ann 6 s, Bob 9 s) and thirteen listen.  Then three more (Xia, Yan,
 * Zoe, each singing a tone of their own) try to join, and keep trying, as a
 * browser does after a failed request.  Asserted:
 *
 *   - every request of the three newcomers is answered 503 with
 *     kill_client and the message "the server is full: no room for another
 *     singer (N in the room)"; none of them gets in, none of their audio
 *     reaches the timeline (no listener hears their tones), none appears in
 *     the room (n_users stays 16);
 *   - the sixteen carry on unaffected: no error, every frame heard, every
 *     earlier voice heard where it was written.
 *
 * Lost: nothing of the sixteen; the newcomers are turned away, visibly.
 *
 * "burst": the same, but the newcomers arrive together with the last singer
 * who fits: fifteen are in, and four (Wen, Xia, Yan, Zoe) join at the same
 * moment.  Exactly one of them may get in; the other three must be refused
 * as above, and only the one who got in may be heard.
 *
 * usage: test_fault_users BB_SHMD BB_WORKER SOURCE_DIR late|burst
 */
#include <stdlib.h>

#include "ftest.h"

#define CAP 16
#define NSING 3
#define MAXNEW 4

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "users", .users = CAP, .modes = "late|burst"},
                        &exit_code);
    if (!fs)
        return exit_code;
    bool burst = strcmp(argv[4], "burst") == 0;
    const char *TNAME = burst ? "fault_user_table_burst" : "fault_user_table";
    /* Late: 16 in, 3 newcomers.  Burst: 15 in, 4 newcomers at once. */
    int nin = burst ? CAP - 1 : CAP, NEW = burst ? 4 : 3;
    ch_choir_t *ch = ch_choir_new(fs_http(fs));
    ch_voice_t *in[CAP], *out[MAXNEW];
    static const struct {
        const char *name;
        int offset, hz;
    } sing[NSING] = {{"Lea", 3, 400}, {"Ann", 6, 500}, {"Bob", 9, 600}};
    static const char *newname[MAXNEW] = {"Xia", "Yan", "Zoe", "Wen"};
    char names[CAP][16];
    /* Every voice is added before any starts (each checks that no answer
     * carries another voice's userid). */
    for (int i = 0; i < nin; i++) {
        ch_voice_cfg_t vc = {0};
        if (i < NSING) {
            vc.name = sing[i].name;
            vc.offset_s = sing[i].offset;
            vc.hz = sing[i].hz;
        } else {
            snprintf(names[i], sizeof names[i], "listener%02d", i);
            vc.name = names[i];
            vc.offset_s = 9;
            vc.spectator = true;
        }
        in[i] = ch_voice_add(ch, &vc);
        if (!in[i])
            return 1;
    }
    for (int i = 0; i < NEW; i++) {
        ch_voice_cfg_t vc = {newname[i], NULL, 9, 700 + 100 * i, false, 0};
        out[i] = ch_voice_add(ch, &vc);
        if (!out[i])
            return 1;
    }
    if (ft_start_voices(in, nin) != 0) {
        fs_dump_logs(fs, 20);
        return 1;
    }
    int64_t start = ft_song(in[0], in, nin);
    CHECK(c, start != 0);
    /* Wait until the daemon has seen everyone (the table is full in "late"). */
    ch_rec_t last;
    for (int i = 0; i < 50; i++) {
        if (ch_last(in[1], &last) && last.n_users == nin)
            break;
        fs_sleep_ms(100);
    }
    CHECK_EQ_I(c, last.n_users, nin);
    fs_sleep_ms(3000);
    int64_t t_new = srvclock_now();
    for (int i = 0; i < NEW; i++)
        CHECK_EQ_I(c, ch_voice_start(out[i]), 0);
    fs_sleep_ms(6000);
    for (int i = 0; i < NEW; i++)
        ch_voice_stop(out[i]);
    fs_sleep_ms(3000);
    int64_t t_end = srvclock_now();
    ch_stop_all(ch);
    printf("%s: %d in a table of %d; %d newcomers tried%s from clock %" PRId64 "\n", TNAME, nin, CAP,
           NEW, burst ? " at the same moment" : "", t_new);

    int admitted = 0;
    bool refused[MAXNEW];
    for (int i = 0; i < NEW; i++) {
        int n;
        ch_rec_t *r = ft_recs(out[i], &n);
        int posts = 0, full = 0, ok = 0;
        for (int k = 0; k < n; k++) {
            if (!r[k].posted)
                continue;
            posts++;
            ok += r[k].rc == 0;
            /* The count in the message is the daemon's last tally, which
             * can trail a join by its 100 ms housekeeping period. */
            full += r[k].status == 503 &&
                    strstr(r[k].message, "the server is full: no room for another singer (");
        }
        printf("%s: %s: %d requests, %d answered 503 \"the server is full\", %d accepted; first answer: %s\n",
               TNAME, newname[i], posts, full, ok, n ? (r[0].rc ? r[0].message : "200") : "none");
        CHECK(c, posts >= 4);
        refused[i] = ok == 0;
        if (ok == posts && burst) {
            admitted++;   /* the one who took the last place */
        } else {
            CHECK_EQ_I(c, full, posts);
            CHECK_EQ_I(c, ok, 0);
        }
        free(r);
    }
    /* Burst: the one free place went to one of them; late: to none. */
    CHECK_EQ_I(c, admitted, burst ? 1 : 0);
    int room = nin + admitted;
    for (int i = 0; i < nin; i++) {
        int n;
        ch_rec_t *r = ft_recs(in[i], &n);
        int crowd = 0;
        /* Once the newcomers have had a second to join or be refused. */
        for (int k = 0; k < n; k++)
            crowd += r[k].rc == 0 && r[k].server_clock > t_new + FT_RATE && r[k].n_users != room;
        CHECK_EQ_I(c, crowd, 0);
        CHECK_EQ_I(c, ch_failures(in[i]), 0);
        CHECK_EQ_I(c, ch_leaks(in[i]), 0);
        if (ch_failures(in[i]))
            ft_print_failures(in[i]);
        int64_t a = start + 28800, b = t_end - (int64_t)(ch_offset(in[i]) + 2) * FT_RATE;
        a -= a % CH_FRAME;
        b -= b % CH_FRAME;
        CHECK_EQ_I(c, ch_frames_received(in[i], a, b), (int)((b - a) / CH_FRAME));
        free(r);
    }
    int fails = 0;
    for (int i = 0; i < nin; i++)
        fails += ch_failures(in[i]);
    printf("%s: the %d in the room: %d failed exchanges in all\n", TNAME, nin, fails);
    for (int l = 0; l < NSING; l++) {
        for (int s = 0; s < NSING; s++)
            if (sing[s].offset < sing[l].offset)
                ft_check_heard_all(&c, ch, in[l], in[s], start, 0, start, t_end, 0);
        /* A refused newcomer's tone is nowhere; the admitted one's is where
         * it was written (ch_heard compares with what was answered 200). */
        for (int x = 0; x < NEW; x++) {
            ch_heard_t h;
            ch_heard(ch, in[l], out[x], start, 0, start, t_end, &h);
            if (refused[x]) {
                CHECK_EQ_I(c, h.expect_on, 0);
                CHECK(c, h.expect_off > 50);
            }
            if (h.stray)
                printf("%s: %s heard %s's tone in %d frames where nothing of it was accepted\n", TNAME,
                       ch_name(in[l]), newname[x], h.stray);
            CHECK_EQ_I(c, h.stray, 0);
        }
    }
    /* At most the one who got the last place is heard at all. */
    int heard_new = 0;
    for (int x = 0; x < NEW; x++) {
        ch_heard_t h;
        ch_heard(ch, in[NSING - 1], out[x], start, 0, start, t_end, &h);
        heard_new += h.on_ok > 0;
    }
    printf("%s: %s (9 s) heard the tones of %d newcomer(s)\n", TNAME, ch_name(in[NSING - 1]), heard_new);
    CHECK(c, heard_new <= (burst ? 1 : 0));
    /* A listener in the last bucket heard no refused newcomer either. */
    for (int x = 0; x < NEW; x++) {
        ch_heard_t h;
        ch_heard(ch, in[nin - 1], out[x], start, 0, start, t_end, &h);
        CHECK_EQ_I(c, h.stray, 0);
    }
    int rc = check_done(&c, TNAME);
    if (rc)
        fs_dump_logs(fs, 30);
    ch_choir_free(ch);
    fs_stop(fs);
    return rc;
}
