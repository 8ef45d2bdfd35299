/*
 * test_fault_daemon.c - kill -9 the shm daemon in the middle of a song,
 * restart it as systemd would, and check that nothing was lost: neither
 * the song nor the audio nor the recording.
 *
 * Four voices through real nginx and two workers: the leader Lea (3 s) and
 * Bob (6 s) on worker 1, Ann (6 s) and Cat (9 s) on worker 2.  Twenty
 * seconds into the song (the recording has been running for six) the daemon
 * is killed with SIGKILL and started again half a second later; later a
 * second kill keeps it away for three seconds.  Asserted:
 *
 *   - the restarted daemon re-attaches to the live segment (it says so) and
 *     the song's state is unchanged: the same start clock, the same leader
 *     (public id and name) in every answer, the same number of singers;
 *   - no voice sees an error.  Why none is expected: the daemon keeps the
 *     timeline cleared one second ahead of the clock, and workers refuse
 *     only writes at or past that frozen watermark; every voice writes at
 *     least 3 s behind the clock (its bucket), so writes are refused only
 *     after an outage longer than 1 s + 3 s = 4 s, and reads of the region
 *     past the watermark (silence) only after the same;
 *   - every listener hears every earlier voice exactly where it was
 *     written, over the whole song: the audio written before the kill is
 *     heard intact after it (Cat, 9 s, hears what Lea wrote up to 6 s
 *     before the kill), the writes after the restart too; no gap, nothing
 *     doubled, the level of the mix;
 *   - the recording carries on across both restarts ("Nothing is lost to a
 *     restart"): the WAV starts at the song's start clock, ends at its end
 *     clock, and equals, sample for sample, (stems) x 3 / (singers + 2) x
 *     volume, the stems placed where the Audacity project puts them; the
 *     daemon logged that it resumed the file.
 *
 * usage: test_fault_daemon BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "ftest.h"
#include "recheck.h"

#define NV 4
#define TNAME "fault_daemon"

/* Compares the song's WAV with its stems; returns the largest difference
 * in 16-bit steps, or -1 if the files are not there.  *len receives the
 * mix's length in samples, *stems their number. */
static double compare_recording(const char *rec, int64_t song_start, int64_t *len, int *stems)
{
    char song[32], lof[400], mixpath[400];
    rc_song_name(song_start, song, sizeof song);
    snprintf(lof, sizeof lof, "%s/%s.lof", rec, song);
    snprintf(mixpath, sizeof mixpath, "%s/%s.wav", rec, song);
    sf_count_t mix_n = 0;
    float *mix = rc_read(mixpath, &mix_n);
    if (!mix)
        return -1;
    *len = mix_n;
    double *pred = calloc((size_t)mix_n + 1, sizeof *pred);
    int *k = calloc((size_t)mix_n + 1, sizeof *k);
    *stems = rc_add_stems(rec, lof, mix_n, pred, k);
    if (*stems < 0) {
        free(mix);
        free(pred);
        free(k);
        return -1;
    }
    const double gv = exp(6.908) / 1000.0;
    double worst = 0;
    int64_t worst_i = 0;
    for (sf_count_t i = 0; i < mix_n; i++) {
        double d = fabs(mix[i] - pred[i] * 3.0 / (k[i] + 2) * gv);
        if (d > worst) {
            worst = d;
            worst_i = i;
        }
    }
    if (worst * 32768 > 4)
        printf("  largest difference at sample %lld (clock %lld): mix %.5f, stems give %.5f (k %d)\n",
               (long long)worst_i, (long long)(song_start + worst_i), mix[worst_i],
               pred[worst_i] * 3.0 / (k[worst_i] + 2) * gv, k[worst_i]);
    free(mix);
    free(pred);
    free(k);
    return worst * 32768;
}

/* Kills the daemon, waits `ms`, starts it again; returns the kill clock. */
static int64_t kill_daemon(check_t *c, fs_t *fs, int ms)
{
    pid_t old = fs_daemon_pid(fs);
    int64_t t = srvclock_now();
    CHECK_EQ_I(*c, fs_signal_daemon(fs, SIGKILL), 0);
    fs_sleep_ms(ms);
    int attached = fs_log_count(fs, "shmd", "re-attached to live segment");
    CHECK_EQ_I(*c, fs_start_daemon(fs), 0);
    CHECK_EQ_I(*c, fs_log_count(fs, "shmd", "re-attached to live segment"), attached + 1);
    printf(TNAME ": daemon (pid %d) killed with SIGKILL at clock %" PRId64 ", restarted %.1f s later "
           "(pid %d)\n", (int)old, t, ms / 1000.0, (int)fs_daemon_pid(fs));
    return t;
}

static const ft_spec_t spec[NV] = {
    {"Lea", 3, 400, 1}, {"Bob", 6, 600, 1}, {"Ann", 6, 500, 2}, {"Cat", 9, 700, 2},
};

/* Lea ends the song; returns its end clock once Cat was told, after the
 * project file of the recording appeared. */
static int64_t end_song(check_t *c, fs_t *fs, ch_voice_t **v, int64_t start)
{
    ch_stop_song(v[0]);
    int64_t end = 0;
    for (int i = 0; i < 50 && !end; i++) {
        ch_rec_t r;
        if (ch_last(v[3], &r))
            end = r.song_end;
        fs_sleep_ms(100);
    }
    CHECK(*c, end != 0);
    printf(TNAME ": song ended at clock %" PRId64 " (%.1f s)\n", end, ft_secs(start, end));
    char song[32], lof[400];
    rc_song_name(start, song, sizeof song);
    snprintf(lof, sizeof lof, "%s/%s.lof", fs_rec_dir(fs), song);
    for (int i = 0; i < 250 && access(lof, F_OK) != 0; i++)
        fs_sleep_ms(100);
    CHECK(*c, access(lof, F_OK) == 0);
    return end;
}

/* The exchanges: no error, the song's state unchanged throughout. */
static void judge_exchanges(check_t *c, ch_voice_t **v, int64_t start, int64_t t1, int64_t end,
                            const char *lea_pub)
{
    for (int i = 0; i < NV; i++) {
        int n;
        ch_rec_t *r = ft_recs(v[i], &n);
        int fails = 0, after = 0, same = 0;
        for (int k = 0; k < n; k++) {
            if (r[k].rc != 0) {
                fails++;
                continue;
            }
            if (r[k].server_clock <= t1 || r[k].server_clock > end)
                continue;
            after++;
            bool leader_ok = i == 0 ? strcmp(r[k].leader, ch_userid(v[0])) == 0 : strcmp(r[k].leader, lea_pub) == 0;
            same += r[k].song_start == start && leader_ok && strcmp(r[k].leader_name, "Lea") == 0 &&
                    r[k].n_users == NV;
        }
        printf(TNAME ": %s (%d s): %d exchanges, %d failed; %d answers after the first kill, %d with "
               "the same song start, leader and %d singers\n",
               spec[i].name, spec[i].offset, n, fails, after, same, NV);
        ft_print_failures(v[i]);
        CHECK_EQ_I(*c, fails, 0);
        CHECK(*c, after >= 15);   /* about 12 s of answers between the first kill and the end */
        CHECK_EQ_I(*c, same, after);
        CHECK_EQ_I(*c, ch_leaks(v[i]), 0);
        int holes;
        CHECK_EQ_I(*c, ft_lost(v[i], start, end, &holes), 0);
        free(r);
    }
}

/* The recording: the mix is the song, whole, and equals its stems mixed. */
static void judge_recording(check_t *c, fs_t *fs, int64_t start, int64_t end)
{
    int64_t len = 0;
    int stems = 0;
    double diff = compare_recording(fs_rec_dir(fs), start, &len, &stems);
    char song[32];
    rc_song_name(start, song, sizeof song);
    printf(TNAME ": recording %s.wav: %.2f s (the song is %.2f s), %d stems, largest difference from "
           "(stems) x 3/(k+2) x volume: %.1f steps of 16 bits\n",
           song, (double)len / FT_RATE, ft_secs(start, end), stems, diff);
    CHECK(*c, diff >= 0 && diff <= 4.0);
    CHECK_EQ_I(*c, len, end - start);
    CHECK_EQ_I(*c, stems, NV);
    int resumed = fs_log_count(fs, "shmd", "(resumed)");
    printf(TNAME ": the daemon resumed the recording %d time(s)\n", resumed);
    CHECK_EQ_I(*c, resumed, 2);
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "daemon", .recordings = true}, &exit_code);
    if (!fs)
        return exit_code;
    ch_voice_t *v[NV];
    int64_t start;
    ch_choir_t *ch = ft_choir(fs, spec, NV, 500, 17, v, &start);
    if (!ch)
        return 1;
    CHECK(c, start != 0);
    char lea_pub[64];
    ch_public_id(v[0], lea_pub, sizeof lea_pub);
    printf(TNAME ": song started at clock %" PRId64 " by Lea (public id %s)\n", start, lea_pub);

    /* The recorder trails the clock by the last bucket + 5 s (14 s here):
     * kill when it has been writing for a while. */
    fs_sleep_ms(20000);
    int64_t t1 = kill_daemon(&c, fs, 500);
    fs_sleep_ms(6000);
    int64_t t2 = kill_daemon(&c, fs, 3000);
    fs_sleep_ms(5000);

    /* The song ends; the recording closes once the last bucket has sung it
     * (14 s later).  Everyone keeps singing meanwhile, as browsers do: with
     * no one active the daemon would reset the state and close it early. */
    int64_t end = end_song(&c, fs, v, start);
    int64_t t_end = srvclock_now();
    ch_stop_all(ch);
    judge_exchanges(&c, v, start, t1, end, lea_pub);

    /* ---- the audio: everything written is heard where it was written */
    for (int l = 0; l < NV; l++) {
        for (int s = 0; s < NV; s++)
            if (spec[s].offset < spec[l].offset)
                ft_check_heard_all(&c, ch, v[l], v[s], start, end, start, t_end, 0);
        int64_t a = start + 28800, b = end;
        a -= a % CH_FRAME;
        b -= b % CH_FRAME;
        int got = ch_frames_received(v[l], a, b), want = (int)((b - a) / CH_FRAME);
        printf(TNAME ": %s received %d of the %d frames of the song\n", spec[l].name, got, want);
        CHECK_EQ_I(c, got, want);
    }
    printf(TNAME ": Cat (9 s) heard, after the first restart, what Lea wrote up to %.1f s before it\n",
           (double)(spec[3].offset - spec[0].offset));
    (void)t2;

    judge_recording(&c, fs, start, end);
    int rc = check_done(&c, TNAME);
    if (rc)
        fs_dump_logs(fs, 30);
    ch_choir_free(ch);
    fs_stop(fs);
    return rc;
}
