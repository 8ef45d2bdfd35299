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
 * "leave": the table is full, then three listeners close their pages; six
 * seconds later (gone for more than the 5 s a user counts as here) the
 * three newcomers, singing 6 s behind, all get in at once and Bob (9 s)
 * hears each of them: a full table counts only the users still there, and
 * a silent one's place goes to a newcomer.  The sixteen who stayed carry on
 * as above.
 *
 * usage: test_fault_users BB_SHMD BB_WORKER SOURCE_DIR late|burst|leave
 */
#include <stdlib.h>

#include "ftest.h"

#define CAP 16
#define NSING 3
#define MAXNEW 4

/* One run: who is in the room, who comes knocking, and when. */
typedef struct {
    check_t *c;
    const char *tname;
    bool burst;
    int nin, nnew;
    int leaving;        /* the last `leaving` of those in leave before the newcomers come */
    ch_choir_t *ch;
    ch_voice_t *in[CAP], *out[MAXNEW];
    char names[CAP][16];
    int64_t start, t_new, t_end;
    bool refused[MAXNEW];
    int admitted;
} run_t;

static const struct {
    const char *name;
    int offset, hz;
} sing[NSING] = {{"Lea", 3, 400}, {"Ann", 6, 500}, {"Bob", 9, 600}};
static const char *newname[MAXNEW] = {"Xia", "Yan", "Zoe", "Wen"};

/* Every voice is added before any starts (each checks that no answer
 * carries another voice's userid).  0 or -1. */
static int add_voices(run_t *u)
{
    for (int i = 0; i < u->nin; i++) {
        ch_voice_cfg_t vc = {0};
        if (i < NSING) {
            vc.name = sing[i].name;
            vc.offset_s = sing[i].offset;
            vc.hz = sing[i].hz;
        } else {
            snprintf(u->names[i], sizeof u->names[i], "listener%02d", i);
            vc.name = u->names[i];
            vc.offset_s = 9;
            vc.spectator = true;
        }
        u->in[i] = ch_voice_add(u->ch, &vc);
        if (!u->in[i])
            return -1;
    }
    for (int i = 0; i < u->nnew; i++) {
        ch_voice_cfg_t vc = {.name = newname[i], .offset_s = u->leaving ? 6 : 9, .hz = 700 + 100 * i};
        u->out[i] = ch_voice_add(u->ch, &vc);
        if (!u->out[i])
            return -1;
    }
    return 0;
}

/* The song with the room full, the newcomers knocking for 6 s.  0 or -1. */
static int sing_and_knock(run_t *u, fs_t *fs)
{
    check_t *c = u->c;
    if (ft_start_voices(u->in, u->nin) != 0) {
        fs_dump_logs(fs, 20);
        return -1;
    }
    u->start = ft_song(u->in[0], u->in, u->nin);
    CHECK(*c, u->start != 0);
    /* Wait until the daemon has seen everyone (the table is full in "late"). */
    ch_rec_t last;
    for (int i = 0; i < 50; i++) {
        if (ch_last(u->in[1], &last) && last.n_users == u->nin)
            break;
        fs_sleep_ms(100);
    }
    CHECK_EQ_I(*c, last.n_users, u->nin);
    for (int i = u->nin - u->leaving; i < u->nin; i++)
        ch_voice_stop(u->in[i]);
    fs_sleep_ms(u->leaving ? 6500 : 3000);
    u->t_new = srvclock_now();
    for (int i = 0; i < u->nnew; i++)
        CHECK_EQ_I(*c, ch_voice_start(u->out[i]), 0);
    fs_sleep_ms(6000);
    for (int i = 0; i < u->nnew; i++)
        ch_voice_stop(u->out[i]);
    fs_sleep_ms(3000);
    u->t_end = srvclock_now();
    ch_stop_all(u->ch);
    printf("%s: %d in a table of %d; %d newcomers tried%s from clock %" PRId64 "\n", u->tname, u->nin,
           CAP, u->nnew, u->burst ? " at the same moment" : "", u->t_new);
    return 0;
}

/* Each newcomer was told the server is full, every time (in a burst, one
 * of them may take the one free place instead). */
static void judge_newcomers(run_t *u)
{
    check_t *c = u->c;
    for (int i = 0; i < u->nnew; i++) {
        int n;
        ch_rec_t *r = ft_recs(u->out[i], &n);
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
               u->tname, newname[i], posts, full, ok, n ? (r[0].rc ? r[0].message : "200") : "none");
        CHECK(*c, posts >= 4);
        u->refused[i] = ok == 0;
        if (u->leaving) {
            /* A silent user's place is theirs at once. */
            CHECK_EQ_I(*c, ok, posts);
            u->admitted++;
        } else if (ok == posts && u->burst) {
            u->admitted++;   /* the one who took the last place */
        } else {
            CHECK_EQ_I(*c, full, posts);
            CHECK_EQ_I(*c, ok, 0);
        }
        free(r);
    }
    /* Burst: the one free place went to one of them; late: to none;
     * leave: the leavers' places, to all of them. */
    CHECK_EQ_I(*c, u->admitted, u->leaving ? u->nnew : u->burst ? 1 : 0);
}

/* Those in the room never noticed: the right head count, no failure, no
 * leak, every frame received. */
static void judge_room(run_t *u)
{
    check_t *c = u->c;
    int room = u->nin - u->leaving + u->admitted;
    for (int i = 0; i < u->nin - u->leaving; i++) {
        int n;
        ch_rec_t *r = ft_recs(u->in[i], &n);
        int crowd = 0;
        /* Once the newcomers have had a second to join or be refused. */
        for (int k = 0; k < n; k++)
            crowd += r[k].rc == 0 && r[k].server_clock > u->t_new + FT_RATE && r[k].n_users != room;
        CHECK_EQ_I(*c, crowd, 0);
        CHECK_EQ_I(*c, ch_failures(u->in[i]), 0);
        CHECK_EQ_I(*c, ch_leaks(u->in[i]), 0);
        if (ch_failures(u->in[i]))
            ft_print_failures(u->in[i]);
        int64_t a = u->start + 28800, b = u->t_end - (int64_t)(ch_offset(u->in[i]) + 2) * FT_RATE;
        a -= a % CH_FRAME;
        b -= b % CH_FRAME;
        CHECK_EQ_I(*c, ch_frames_received(u->in[i], a, b), (int)((b - a) / CH_FRAME));
        free(r);
    }
    int fails = 0;
    for (int i = 0; i < u->nin - u->leaving; i++)
        fails += ch_failures(u->in[i]);
    printf("%s: the %d in the room: %d failed exchanges in all\n", u->tname, u->nin - u->leaving, fails);
}

/* The singers heard each other, and no refused newcomer anywhere. */
static void judge_hearing(run_t *u)
{
    check_t *c = u->c;
    for (int l = 0; l < NSING; l++) {
        for (int s = 0; s < NSING; s++)
            if (sing[s].offset < sing[l].offset)
                ft_check_heard_all(c, u->ch, u->in[l], u->in[s], u->start, 0, u->start, u->t_end, 0);
        /* A refused newcomer's tone is nowhere; the admitted one's is where
         * it was written (ch_heard compares with what was answered 200). */
        for (int x = 0; x < u->nnew; x++) {
            ch_heard_t h;
            ch_heard(u->ch, u->in[l], u->out[x], u->start, 0, u->start, u->t_end, &h);
            if (u->refused[x]) {
                CHECK_EQ_I(*c, h.expect_on, 0);
                CHECK(*c, h.expect_off > 50);
            }
            if (h.stray)
                printf("%s: %s heard %s's tone in %d frames where nothing of it was accepted\n", u->tname,
                       ch_name(u->in[l]), newname[x], h.stray);
            CHECK_EQ_I(*c, h.stray, 0);
        }
    }
    /* At most the one who got the last place is heard at all. */
    int heard_new = 0;
    for (int x = 0; x < u->nnew; x++) {
        ch_heard_t h;
        ch_heard(u->ch, u->in[NSING - 1], u->out[x], u->start, 0, u->start, u->t_end, &h);
        heard_new += h.on_ok > 0;
    }
    printf("%s: %s (9 s) heard the tones of %d newcomer(s)\n", u->tname, ch_name(u->in[NSING - 1]),
           heard_new);
    if (u->leaving)
        CHECK_EQ_I(*c, heard_new, u->nnew);
    else
        CHECK(*c, heard_new <= (u->burst ? 1 : 0));
    /* A listener in the last bucket heard no refused newcomer either. */
    for (int x = 0; x < u->nnew; x++) {
        ch_heard_t h;
        ch_heard(u->ch, u->in[u->nin - u->leaving - 1], u->out[x], u->start, 0, u->start, u->t_end, &h);
        CHECK_EQ_I(*c, h.stray, 0);
    }
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "users", .users = CAP, .modes = "late|burst|leave"},
                        &exit_code);
    if (!fs)
        return exit_code;
    static run_t u;
    u.c = &c;
    u.burst = strcmp(argv[4], "burst") == 0;
    u.leaving = strcmp(argv[4], "leave") == 0 ? 3 : 0;
    u.tname = u.burst ? "fault_user_table_burst" : u.leaving ? "fault_user_table_leave" : "fault_user_table";
    /* Late: 16 in, 3 newcomers.  Burst: 15 in, 4 newcomers at once. */
    u.nin = u.burst ? CAP - 1 : CAP;
    u.nnew = u.burst ? 4 : 3;
    u.ch = ch_choir_new(fs_http(fs));
    if (add_voices(&u) != 0 || sing_and_knock(&u, fs) != 0)
        return 1;
    judge_newcomers(&u);
    judge_room(&u);
    judge_hearing(&u);
    int rc = check_done(&c, u.tname);
    if (rc)
        fs_dump_logs(fs, 30);
    ch_choir_free(u.ch);
    fs_stop(fs);
    return rc;
}
