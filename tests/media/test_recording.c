/* test_recording: the int16 saturation rule with exact numbers, song names
 * in UTC, the writer's clock placement (gaps, overlaps, close/reopen, a
 * killed writer, parts, the lock), stems at their offsets summing to the
 * mix, the Audacity project's exact offsets and its ending, the songs of a
 * folder as a whole, deleting one song (its project last, nothing else
 * touched), sealing a cut-off one, counting a song's stems, and a listing
 * that says how each song ended and escapes a hostile name. */
#include "media/recdir.h"
#include "media/recording.h"
#include "media_test.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/wait.h>

/* 2024-05-01 19:30:00 UTC in samples, plus a little, as a song start. */
#define S0 ((int64_t)1714591800 * 48000 + 123)

/* Reads a whole 16-bit WAV into a fresh array; *n gets the frame count. */
static short *read_wav(const char *path, int64_t *n)
{
    SF_INFO info;
    SNDFILE *sf;
    short *x;

    memset(&info, 0, sizeof info);
    sf = sf_open(path, SFM_READ, &info);
    if (sf == NULL)
        return NULL;
    CHECK_EQ_I(ck, info.samplerate, 48000);
    CHECK_EQ_I(ck, info.channels, 1);
    CHECK_EQ_I(ck, info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    x = calloc((size_t)info.frames + 1, sizeof *x);
    CHECK_EQ_I(ck, sf_read_short(sf, x, info.frames), info.frames);
    sf_close(sf);
    *n = info.frames;
    return x;
}

/* v[i] = (base + i) / 16384 exactly representable, so samples read back
 * as base + i. */
static void ramp(float *v, size_t n, int base)
{
    size_t i;
    for (i = 0; i < n; i++)
        v[i] = (float)(base + (int)i) / 16384.0f;
}

static void test_saturate(void)
{
    CHECK_EQ_I(ck, rec_saturate_s16(0.5f), 8192);
    CHECK_EQ_I(ck, rec_saturate_s16(2.0f), 32767);
    CHECK_EQ_I(ck, rec_saturate_s16(-3.0f), -32768);
    CHECK_EQ_I(ck, rec_saturate_s16(NAN), 0);
    CHECK_EQ_I(ck, rec_saturate_s16(1.0f), 16384);
    CHECK_EQ_I(ck, rec_saturate_s16(-1.0f), -16384);
    CHECK_EQ_I(ck, rec_saturate_s16(0.0f), 0);
    CHECK_EQ_I(ck, rec_saturate_s16(-0.0f), 0);
    CHECK_EQ_I(ck, rec_saturate_s16(INFINITY), 32767);
    CHECK_EQ_I(ck, rec_saturate_s16(-INFINITY), -32768);
    CHECK_EQ_I(ck, rec_saturate_s16(1e30f), 32767);
    CHECK_EQ_I(ck, rec_saturate_s16(-1e30f), -32768);
    CHECK_EQ_I(ck, rec_saturate_s16(32767.0f / 16384.0f), 32767);
    CHECK_EQ_I(ck, rec_saturate_s16(-2.0f), -32768);
    /* Rounding: to nearest, ties away from zero. */
    CHECK_EQ_I(ck, rec_saturate_s16(0.5f / 16384.0f), 1);
    CHECK_EQ_I(ck, rec_saturate_s16(-0.5f / 16384.0f), -1);
    CHECK_EQ_I(ck, rec_saturate_s16(0.49f / 16384.0f), 0);
    CHECK_EQ_I(ck, rec_saturate_s16(1.5f / 16384.0f), 2);
    CHECK_EQ_I(ck, rec_saturate_s16(2.5f / 16384.0f), 3);
    CHECK_EQ_I(ck, rec_saturate_s16(32766.5f / 16384.0f), 32767);
    CHECK_EQ_I(ck, rec_saturate_s16(-32767.5f / 16384.0f), -32768);
    CHECK_EQ_I(ck, rec_saturate_s16(-32767.4f / 16384.0f), -32767);
}

static void test_names(void)
{
    char s[32];

    CHECK_EQ_I(ck, rec_song_name(0, s, sizeof s), REC_OK);
    CHECK_EQ_S(ck, s, "1970-01-01-000000");
    CHECK_EQ_I(ck, rec_song_name(S0, s, sizeof s), REC_OK);
    CHECK_EQ_S(ck, s, "2024-05-01-193000");
    CHECK_EQ_I(ck, rec_song_name((int64_t)1714591800 * 48000 - 1, s, sizeof s), REC_OK);
    CHECK_EQ_S(ck, s, "2024-05-01-192959");
    CHECK_EQ_I(ck, rec_song_name(-1, s, sizeof s), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_song_name(S0, s, 17), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_song_name((int64_t)253402300800LL * 48000, s, sizeof s), REC_ERR_ARG);
    CHECK(ck, strcmp(rec_strerror(REC_ERR_BUSY), "another writer holds this recording") == 0);
    CHECK(ck, rec_strerror(-99) != NULL);
}

/* What test_writer() wrote, read back: every sample sits at clock - song
 * start, and the origin travels in the file's bext chunk, in BWF terms
 * too. */
static void check_written(const char *dir)
{
    char path[4096];
    short *x;
    int64_t n, i;

    snprintf(path, sizeof path, "%s/2024-05-01-193000.wav", dir);
    x = read_wav(path, &n);
    CHECK(ck, x != NULL);
    CHECK_EQ_I(ck, n, 3100);
    if (x != NULL && n == 3100) {
        for (i = 0; i < 1000; i++)
            CHECK_EQ_I(ck, x[i], 1 + i);
        for (i = 1000; i < 1500; i++)
            CHECK_EQ_I(ck, x[i], 0);
        for (i = 1500; i < 2000; i++)
            CHECK_EQ_I(ck, x[i], 5001 + (i - 1500));
        for (i = 2000; i < 2100; i++)
            CHECK_EQ_I(ck, x[i], 9001 + 100 + (i - 2000));
        for (i = 2100; i < 2300; i++)
            CHECK_EQ_I(ck, x[i], 12001 + 100 + (i - 2100));
        for (i = 2300; i < 2400; i++)
            CHECK_EQ_I(ck, x[i], 0);
        for (i = 2400; i < 3100; i++)
            CHECK_EQ_I(ck, x[i], 20001 + (i - 2400));
    }
    free(x);

    /* The origin travels in the file's bext chunk, in BWF terms too. */
    {
        SF_INFO info;
        SF_BROADCAST_INFO bi;
        SNDFILE *sf;
        memset(&info, 0, sizeof info);
        memset(&bi, 0, sizeof bi);
        sf = sf_open(path, SFM_READ, &info);
        CHECK(ck, sf != NULL);
        CHECK(ck, sf_command(sf, SFC_GET_BROADCAST_INFO, &bi, sizeof bi) == SF_TRUE);
        CHECK(ck, strstr(bi.description, "song_start=82300406400123 origin=82300406400123") != NULL);
        CHECK(ck, memcmp(bi.origination_date, "2024-05-01", 10) == 0);
        CHECK(ck, memcmp(bi.origination_time, "19:30:00", 8) == 0);
        sf_close(sf);
    }

}

static void test_writer(const char *dir)
{
    mt_log_t log = { .n = 0 };
    float v[3000];
    int err = 0;
    rec_writer_t *w, *w2;
    pid_t pid;
    int status;

    w = rec_writer_create(dir, S0, NULL, S0, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    if (w == NULL)
        return;
    CHECK_EQ_S(ck, rec_writer_get_file_name(w), "2024-05-01-193000.wav");
    CHECK_EQ_I(ck, rec_writer_get_resumed(w), 0);
    CHECK_EQ_I(ck, rec_writer_get_end_clock(w), S0);
    CHECK_EQ_I(ck, rec_writer_get_origin_clock(w), S0);

    /* A second writer of the same file is refused while the first lives. */
    w2 = rec_writer_create(dir, S0, NULL, S0, mt_log, &log, &err);
    CHECK(ck, w2 == NULL);
    CHECK_EQ_I(ck, err, REC_ERR_BUSY);

    ramp(v, 1000, 1);
    CHECK_EQ_I(ck, rec_writer_write(w, S0, v, 1000), REC_OK);          /* [0,1000) */
    ramp(v, 500, 5001);
    CHECK_EQ_I(ck, rec_writer_write(w, S0 + 1500, v, 500), REC_OK);    /* gap 500 */
    CHECK_EQ_I(ck, rec_writer_get_end_clock(w), S0 + 2000);
    ramp(v, 200, 9001);
    CHECK_EQ_I(ck, rec_writer_write(w, S0 + 1900, v, 200), REC_OK);    /* overlap 100 */
    CHECK_EQ_I(ck, rec_writer_get_end_clock(w), S0 + 2100);
    CHECK_EQ_I(ck, rec_writer_write(w, S0 + 10, v, 50), REC_OK);       /* all old */
    CHECK_EQ_I(ck, rec_writer_write(w, S0 - 100, v, 50), REC_OK);      /* before origin */
    CHECK_EQ_I(ck, rec_writer_write(w, S0 + 5000, NULL, 0), REC_OK);
    CHECK_EQ_I(ck, rec_writer_write(w, S0, NULL, 5), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_writer_get_frames(w), 2100);
    CHECK_EQ_I(ck, rec_writer_write(w, S0 + (int64_t)REC_MAX_FRAMES, v, 10), REC_ERR_FULL);
    CHECK_EQ_I(ck, rec_writer_get_frames(w), 2100);
    CHECK_EQ_I(ck, rec_writer_destroy(w), REC_OK);

    /* Reopening continues the same file from where it ended. */
    w = rec_writer_create(dir, S0, NULL, S0, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    if (w == NULL)
        return;
    CHECK_EQ_I(ck, rec_writer_get_resumed(w), 1);
    CHECK_EQ_S(ck, rec_writer_get_file_name(w), "2024-05-01-193000.wav");
    CHECK_EQ_I(ck, rec_writer_get_end_clock(w), S0 + 2100);
    ramp(v, 300, 12001);
    CHECK_EQ_I(ck, rec_writer_write(w, S0 + 2000, v, 300), REC_OK);    /* replayed 100 */
    CHECK_EQ_I(ck, rec_writer_get_end_clock(w), S0 + 2300);
    CHECK_EQ_I(ck, rec_writer_destroy(w), REC_OK);

    /* A writer killed without closing: everything written is there. */
    pid = fork();
    if (pid == 0) {
        rec_writer_t *c = rec_writer_create(dir, S0, NULL, S0, NULL, NULL, NULL);
        float cv[700];
        ramp(cv, 700, 20001);
        if (c == NULL || rec_writer_write(c, S0 + 2400, cv, 700) != REC_OK)
            _exit(3);
        _exit(0);   /* no destroy, no atexit: as if killed */
    }
    CHECK(ck, waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    w = rec_writer_create(dir, S0, NULL, S0, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    CHECK_EQ_I(ck, rec_writer_get_end_clock(w), S0 + 3100);
    CHECK_EQ_I(ck, rec_writer_destroy(w), REC_OK);

    check_written(dir);

    /* Arguments. */
    CHECK(ck, rec_writer_create(NULL, S0, NULL, S0, NULL, NULL, &err) == NULL);
    CHECK_EQ_I(ck, err, REC_ERR_ARG);
    CHECK(ck, rec_writer_create(dir, S0, NULL, S0 - 1, NULL, NULL, &err) == NULL);
    CHECK_EQ_I(ck, err, REC_ERR_ARG);
    CHECK(ck, rec_writer_create(dir, S0, "!!!", S0, NULL, NULL, &err) == NULL);
    CHECK_EQ_I(ck, err, REC_ERR_ARG);
    CHECK(ck, rec_writer_create(dir, -5, NULL, 0, NULL, NULL, &err) == NULL);
    CHECK_EQ_I(ck, err, REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_writer_destroy(NULL), REC_OK);
    CHECK_EQ_I(ck, rec_writer_write(NULL, S0, v, 1), REC_ERR_ARG);
}

static void test_parts(const char *dir)
{
    const int64_t s1 = (int64_t)1714600000 * 48000;
    mt_log_t log = { .n = 0 };
    char path[4096], *back;
    int err = 0;
    rec_writer_t *w;
    float v[10] = { 0.5f };

    /* A file in the way that is not ours: untouched, part 2 starts. */
    snprintf(path, sizeof path, "%s/2024-05-01-214640.wav", dir);
    mt_write_file(path, "not a wav", 9);
    w = rec_writer_create(dir, s1, NULL, s1, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    CHECK_EQ_S(ck, rec_writer_get_file_name(w), "2024-05-01-214640-part2.wav");
    CHECK_EQ_I(ck, rec_writer_get_resumed(w), 0);
    CHECK_EQ_I(ck, rec_writer_write(w, s1 + 5, v, 10), REC_OK);
    CHECK_EQ_I(ck, rec_writer_destroy(w), REC_OK);
    back = mt_read_file(path, NULL);
    CHECK_EQ_S(ck, back, "not a wav");
    free(back);
    CHECK_EQ_I(ck, mt_log_count(&log, "2024-05-01-214640.wav: cannot be continued", NULL), 1);
    CHECK_EQ_I(ck, mt_log_count(&log, "continues in 2024-05-01-214640-part2.wav", NULL), 1);

    /* Reopening finds part 2 and continues it. */
    w = rec_writer_create(dir, s1, NULL, s1, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    CHECK_EQ_S(ck, rec_writer_get_file_name(w), "2024-05-01-214640-part2.wav");
    CHECK_EQ_I(ck, rec_writer_get_resumed(w), 1);
    CHECK_EQ_I(ck, rec_writer_get_end_clock(w), s1 + 15);
    CHECK_EQ_I(ck, rec_writer_destroy(w), REC_OK);

    /* Another song starting within the same second: never mixed into the
     * first one's file. */
    w = rec_writer_create(dir, s1 + 7, NULL, s1 + 7, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    CHECK_EQ_S(ck, rec_writer_get_file_name(w), "2024-05-01-214640-part3.wav");
    CHECK_EQ_I(ck, rec_writer_destroy(w), REC_OK);
}

/* Stems at their own origins, the mix, the project file, and stems that
 * sum to the mix once placed at the project's offsets. */
static void test_stems_and_lof(const char *dir)
{
    const int64_t s = (int64_t)1714700000 * 48000 + 7;
    mt_log_t log = { .n = 0 };
    char path[4096], *lof;
    float a[4000], b[4000], m[4000];
    rec_writer_t *wm, *wa, *wb;
    int err = 0, i;

    for (i = 0; i < 4000; i++) {
        a[i] = (float)((i * 37) % 2000 - 1000) / 16384.0f;
        b[i] = (float)((i * 11) % 900 - 450) / 16384.0f;
    }
    /* Singer A starts 1 s in, singer B 12345 samples in; the mix covers
     * the song from its start: m = A + B where they sound. */
    memset(m, 0, sizeof m);
    wm = rec_writer_create(dir, s, NULL, s, mt_log, &log, &err);
    wa = rec_writer_create(dir, s, "17", s + 48000, mt_log, &log, &err);
    wb = rec_writer_create(dir, s, "../x y", s + 12345, mt_log, &log, &err);
    CHECK(ck, wm != NULL && wa != NULL && wb != NULL);
    if (wm == NULL || wa == NULL || wb == NULL)
        return;
    CHECK_EQ_S(ck, rec_writer_get_file_name(wa), "2024-05-03-013320-stem-17.wav");
    CHECK_EQ_S(ck, rec_writer_get_file_name(wb), "2024-05-03-013320-stem-___x_y.wav");
    /* Stem writes arrive in pieces, at their clocks, with a gap. */
    CHECK_EQ_I(ck, rec_writer_write(wa, s + 48000, a, 1000), REC_OK);
    CHECK_EQ_I(ck, rec_writer_write(wa, s + 48000 + 1500, a + 1500, 2500), REC_OK);
    CHECK_EQ_I(ck, rec_writer_write(wb, s + 12345, b, 4000), REC_OK);
    {
        static float mix[48000 + 4000];
        memset(mix, 0, sizeof mix);
        for (i = 0; i < 4000; i++) {
            if (i < 1000 || i >= 1500)
                mix[48000 + i] += a[i];
            if (12345 + i < 48000 + 4000)
                mix[12345 + i] += b[i];
        }
        CHECK_EQ_I(ck, rec_writer_write(wm, s, mix, 48000 + 4000), REC_OK);
    }
    CHECK_EQ_I(ck, rec_writer_get_origin_clock(wa), s + 48000);
    CHECK_EQ_I(ck, rec_writer_destroy(wa), REC_OK);
    CHECK_EQ_I(ck, rec_writer_destroy(wb), REC_OK);
    CHECK_EQ_I(ck, rec_writer_destroy(wm), REC_OK);

    /* A stem reopened keeps the origin in its file, whatever is passed. */
    wa = rec_writer_create(dir, s, "17", s + 99999, mt_log, &log, &err);
    CHECK(ck, wa != NULL);
    CHECK_EQ_I(ck, rec_writer_get_origin_clock(wa), s + 48000);
    CHECK_EQ_I(ck, rec_writer_get_end_clock(wa), s + 48000 + 4000);
    CHECK_EQ_I(ck, rec_writer_destroy(wa), REC_OK);

    /* A hostile name that looks like a stem of this song is left out. */
    snprintf(path, sizeof path, "%s/2024-05-03-013320-stem-\"#.wav", dir);
    mt_write_file(path, "x", 1);

    CHECK_EQ_I(ck, rec_lof_write(dir, s, REC_END_SONG, s + 52000, mt_log, &log), REC_OK);
    snprintf(path, sizeof path, "%s/2024-05-03-013320.lof", dir);
    lof = mt_read_file(path, NULL);
    CHECK(ck, lof != NULL);
    if (lof != NULL) {
        const char *body = strstr(lof, "\nfile ");
        CHECK(ck, lof[0] == '#');
        /* How it ended and how long it is, in comments Audacity skips. */
        CHECK(ck, strstr(lof, "\n# ended: ended (the song ended)\n# length: 1.083\nfile ") != NULL);
        CHECK(ck, body != NULL);
        body = body != NULL ? body + 1 : "";
        CHECK_EQ_S(ck, body,
                  "file \"2024-05-03-013320.wav\" offset 0.000000000\n"
                  "file \"2024-05-03-013320-stem-17.wav\" offset 1.000000000\n"
                  "file \"2024-05-03-013320-stem-___x_y.wav\" offset 0.257187500\n");
    }
    free(lof);
    CHECK_EQ_I(ck, mt_log_count(&log, "left out", NULL), 1);
    unlink(path);
    snprintf(path, sizeof path, "%s/2024-05-03-013320-stem-\"#.wav", dir);
    unlink(path);
    CHECK_EQ_I(ck, rec_lof_write(dir, s, REC_END_NEW_SONG, 0, mt_log, &log), REC_OK);
    snprintf(path, sizeof path, "%s/2024-05-03-013320.lof", dir);
    lof = mt_read_file(path, NULL);
    CHECK(ck, lof != NULL && strstr(lof, "# ended: new_song (") != NULL && strstr(lof, "# length:") == NULL);
    free(lof);
    /* A song of which nothing was written gets no project. */
    CHECK_EQ_I(ck, rec_lof_write(dir, s + 3600 * 48000, REC_END_SONG, 0, mt_log, &log), REC_OK);
    snprintf(path, sizeof path, "%s/2024-05-03-023320.lof", dir);
    CHECK(ck, !mt_exists(path));

    /* Sum the stems at their offsets: exactly the mix. */
    {
        int64_t nm, na, nb, k;
        short *xm, *xa, *xb;
        snprintf(path, sizeof path, "%s/2024-05-03-013320.wav", dir);
        xm = read_wav(path, &nm);
        snprintf(path, sizeof path, "%s/2024-05-03-013320-stem-17.wav", dir);
        xa = read_wav(path, &na);
        snprintf(path, sizeof path, "%s/2024-05-03-013320-stem-___x_y.wav", dir);
        xb = read_wav(path, &nb);
        CHECK(ck, xm != NULL && xa != NULL && xb != NULL);
        CHECK_EQ_I(ck, nm, 52000);
        CHECK_EQ_I(ck, na, 4000);
        CHECK_EQ_I(ck, nb, 4000);
        if (xm != NULL && xa != NULL && xb != NULL && nm == 52000) {
            int bad = 0;
            for (k = 0; k < nm; k++) {
                int sum = 0;
                if (k >= 48000 && k - 48000 < na)
                    sum += xa[k - 48000];
                if (k >= 12345 && k - 12345 < nb)
                    sum += xb[k - 12345];
                bad += xm[k] != sum;
            }
            CHECK_EQ_I(ck, bad, 0);
            CHECK_EQ_I(ck, xa[1200], 0);   /* the stem's gap is silence */
        }
        free(xm);
        free(xa);
        free(xb);
    }
}

static void touch(const char *dir, const char *name, size_t size)
{
    char path[4096], *buf = calloc(1, size + 1);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mt_write_file(path, buf, size);
    free(buf);
}

/* The codes and sentences of the endings, both ways. */
static void test_endings(void)
{
    for (int e = REC_END_SONG; e < REC_END_COUNT; e++) {
        const char *code = rec_end_code((rec_end_t)e);
        CHECK_EQ_I(ck, rec_end_parse(code, strlen(code)), e);
        CHECK(ck, strlen(rec_end_text((rec_end_t)e)) > 10);
    }
    CHECK_EQ_S(ck, rec_end_code(REC_END_SONG), "ended");
    CHECK_EQ_S(ck, rec_end_code(REC_END_DISK), "disk");
    CHECK_EQ_S(ck, rec_end_code((rec_end_t)99), "unknown");
    CHECK_EQ_I(ck, rec_end_parse("ended (the", 5), REC_END_SONG);
    CHECK_EQ_I(ck, rec_end_parse("endedx", 6), REC_END_UNKNOWN);
    CHECK_EQ_I(ck, rec_end_parse(NULL, 0), REC_END_UNKNOWN);
    CHECK_EQ_I(ck, rec_stamp_seconds("2024-05-01-193000"), 1714591800);
    CHECK_EQ_I(ck, rec_stamp_seconds("2024-05-01 193000"), -1);
    CHECK_EQ_I(ck, rec_stamp_seconds(NULL), -1);
}

/* The songs of a folder as a whole, deleting one of them (its project
 * last, nothing else touched), and counting a song's stems. */
static void test_songs_and_delete(const char *base)
{
    char dir[2048], name[128], path[4096];
    struct timeval old[2];
    rec_song_t *v;
    size_t n;
    uint64_t bytes;
    int i;

    snprintf(dir, sizeof dir, "%s/songs", base);
    mkdir(dir, 0755);
    for (i = 0; i < 5; i++) {
        char song[32];
        CHECK_EQ_I(ck, rec_song_name((int64_t)(1714591800 + 3600 * i) * 48000, song, sizeof song), REC_OK);
        snprintf(name, sizeof name, "%s.wav", song);
        touch(dir, name, 100);
        snprintf(name, sizeof name, "%s-stem-Ann_000001.opus", song);
        touch(dir, name, 20);
        if (i != 4) {
            snprintf(name, sizeof name, "%s.lof", song);
            touch(dir, name, 3);
        }
        if (i == 0) {
            snprintf(name, sizeof name, "%s-part2.wav", song);
            touch(dir, name, 7);
        }
    }
    touch(dir, "index.html", 10);
    touch(dir, ".keep", 0);
    touch(dir, "notes.txt", 10);
    touch(dir, "2024-bad.wav", 10);
    touch(dir, "1999-01-01-000000", 10);       /* a stamp, but no suffix */
    touch(dir, ".bbtmp-old.wav-abcdef", 10);
    touch(dir, ".bbtmp-new.wav-abcdef", 10);
    snprintf(path, sizeof path, "%s/.bbtmp-old.wav-abcdef", dir);
    gettimeofday(&old[0], NULL);
    old[0].tv_sec -= 7200;
    old[1] = old[0];
    utimes(path, old);

    CHECK_EQ_I(ck, rec_songs(dir, &v, &n, NULL, NULL), REC_OK);
    CHECK_EQ_I(ck, n, 5);
    if (n == 5) {
        CHECK_EQ_S(ck, v[0].stamp, "2024-05-01-193000");   /* oldest first */
        CHECK_EQ_I(ck, v[0].files, 4);
        CHECK_EQ_I(ck, v[0].bytes, 130);
        CHECK_EQ_I(ck, v[0].project, 1);
        CHECK_EQ_S(ck, v[4].stamp, "2024-05-01-233000");
        CHECK_EQ_I(ck, v[4].files, 2);
        CHECK_EQ_I(ck, v[4].project, 0);
        CHECK(ck, v[4].mtime >= (int64_t)time(NULL) - 60);
    }
    free(v);
    /* A crashed writer's old temporary file went, a young one stays. */
    snprintf(path, sizeof path, "%s/.bbtmp-old.wav-abcdef", dir);
    CHECK(ck, !mt_exists(path));
    snprintf(path, sizeof path, "%s/.bbtmp-new.wav-abcdef", dir);
    CHECK(ck, mt_exists(path));

    /* One song goes whole, and only it. */
    mt_log_t log = {0};
    CHECK_EQ_I(ck, rec_song_delete(dir, "2024-05-01-193000", &bytes, mt_log, &log), 4);
    CHECK_EQ_I(ck, bytes, 130);
    CHECK_EQ_I(ck, rec_song_delete(dir, "2024-05-01-193000", &bytes, mt_log, &log), 0);
    CHECK_EQ_I(ck, bytes, 0);
    CHECK_EQ_I(ck, rec_song_delete(dir, "2024-05-01-19300", NULL, NULL, NULL), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_song_delete(dir, "2024-05-01-193000.wav", NULL, NULL, NULL), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_song_delete(dir, "../../../etc/pas", NULL, NULL, NULL), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_song_delete(NULL, "2024-05-01-193000", NULL, NULL, NULL), REC_ERR_ARG);
    for (i = 0; i < 5; i++) {
        char song[32];
        rec_song_name((int64_t)(1714591800 + 3600 * i) * 48000, song, sizeof song);
        snprintf(path, sizeof path, "%s/%s.wav", dir, song);
        CHECK_EQ_I(ck, mt_exists(path), i >= 1);
        snprintf(path, sizeof path, "%s/%s-stem-Ann_000001.opus", dir, song);
        CHECK_EQ_I(ck, mt_exists(path), i >= 1);
    }
    snprintf(path, sizeof path, "%s/2024-05-01-193000-part2.wav", dir);
    CHECK(ck, !mt_exists(path));
    for (i = 0; i < 5; i++) {
        static const char *others[] = {"index.html", ".keep", "notes.txt", "2024-bad.wav", "1999-01-01-000000"};
        snprintf(path, sizeof path, "%s/%s", dir, others[i]);
        CHECK(ck, mt_exists(path));
    }
    /* Something by a song's name that is not a file is never touched. */
    snprintf(path, sizeof path, "%s/2024-05-01-203000-stem-Bob_000002.wav", dir);
    mkdir(path, 0755);
    CHECK_EQ_I(ck, rec_song_delete(dir, "2024-05-01-203000", NULL, mt_log, &log), 3);
    CHECK(ck, mt_exists(path));
    rmdir(path);

    /* Stems of one song: each singer once, continuations not counted. */
    int64_t s = (int64_t)1714602600 * 48000 + 5;   /* 2024-05-01-223000 */
    CHECK_EQ_I(ck, rec_stem_count(dir, s), 1);
    touch(dir, "2024-05-01-223000-stem-Bob_000002.wav", 5);
    touch(dir, "2024-05-01-223000-stem-Bob_000002-part2.wav", 5);
    touch(dir, "2024-05-01-223000-stem-Cy_000003.opus", 5);
    touch(dir, "2024-05-01-223000-stem-Cy_000003-part3.opus", 5);
    touch(dir, "2024-05-01-223000.wav.txt", 5);
    CHECK_EQ_I(ck, rec_stem_count(dir, s), 3);
    CHECK_EQ_I(ck, rec_stem_count(dir, s + 48000), 0);
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_EQ_I(ck, rec_stem_count(path, s), 0);
    CHECK_EQ_I(ck, rec_songs(path, &v, &n, NULL, NULL), REC_ERR_IO);
}

/* A song cut off with no project gets one, counted from the start clock
 * its files carry; a song that has one, or none of whose files exist, is
 * left alone. */
static void test_seal(const char *base)
{
    char dir[2048], path[4096];
    int err = 0;
    mt_log_t log = {0};
    float x[4800];
    int64_t s = S0 + 7 * 3600 * 48000;   /* 2024-05-02-023000 and 123 samples */

    snprintf(dir, sizeof dir, "%s/seal", base);
    mkdir(dir, 0755);
    ramp(x, 4800, 1);
    rec_writer_t *m = rec_writer_create(dir, s, NULL, s, mt_log, &log, &err);
    rec_writer_t *a = rec_writer_create(dir, s, "Ann", s + 24000, mt_log, &log, &err);
    CHECK(ck, m != NULL && a != NULL);
    if (m == NULL || a == NULL)
        return;
    CHECK_EQ_I(ck, rec_writer_write(m, s, x, 4800), REC_OK);
    CHECK_EQ_I(ck, rec_writer_write(a, s + 24000, x, 4800), REC_OK);
    rec_writer_destroy(m);
    rec_writer_destroy(a);
    CHECK_EQ_I(ck, rec_seal_song(dir, "2024-05-02-023000", REC_END_INTERRUPTED, mt_log, &log), REC_OK);
    snprintf(path, sizeof path, "%s/2024-05-02-023000.lof", dir);
    char *lof = mt_read_file(path, NULL);
    CHECK(ck, lof != NULL);
    if (lof != NULL) {
        CHECK(ck, strstr(lof, "# ended: interrupted (") != NULL);
        /* The offsets count from the song's exact start, not its second. */
        CHECK(ck, strstr(lof, "file \"2024-05-02-023000.wav\" offset 0.000000000\n") != NULL);
        CHECK(ck, strstr(lof, "file \"2024-05-02-023000-stem-Ann.wav\" offset 0.500000000\n") != NULL);
    }
    free(lof);
    /* Sealed already: the project stays as it is. */
    CHECK_EQ_I(ck, rec_seal_song(dir, "2024-05-02-023000", REC_END_DISK, mt_log, &log), REC_OK);
    lof = mt_read_file(path, NULL);
    CHECK(ck, lof != NULL && strstr(lof, "interrupted") != NULL);
    free(lof);
    CHECK_EQ_I(ck, rec_seal_song(dir, "2024-05-02-033000", REC_END_DISK, mt_log, &log), REC_OK);
    snprintf(path, sizeof path, "%s/2024-05-02-033000.lof", dir);
    CHECK(ck, !mt_exists(path));
    CHECK_EQ_I(ck, rec_seal_song(dir, "2024-05-02", REC_END_DISK, mt_log, &log), REC_ERR_ARG);
}

/* The listing the API serves: newest song first, each with its mix and
 * parts, its stems (with their singers), its project and whether it was
 * closed; nothing else in the folder; a hostile name stays a string. */
static void test_listing(const char *base)
{
    char dir[2048], buf[16384], path[4096];
    jw_t w;

    snprintf(dir, sizeof dir, "%s/listing", base);
    mkdir(dir, 0755);
    jw_init(&w, buf, sizeof buf);
    CHECK_EQ_I(ck, rec_listing_json(dir, 20, 0, &w, NULL, NULL), REC_OK);
    CHECK(ck, jw_ok(&w) && strcmp(buf, "[]") == 0);

    touch(dir, "2024-01-02-030405.wav", 1234567);
    touch(dir, "2024-01-02-030405-stem-17.wav", 10000);
    touch(dir, "2024-01-02-030405-stem-<img src=x>\"'.wav", 10);
    snprintf(path, sizeof path, "%s/2024-01-02-030405.lof", dir);
    static const char project[] = "# Bucket Brigade song ...\n# files ...\n# ended: left (everyone left)\n"
                                  "# length: 183.240\nfile \"2024-01-02-030405.wav\" offset 0.000000000\n";
    mt_write_file(path, project, strlen(project));
    touch(dir, "2024-01-02-030405-part2.wav", 4999);
    touch(dir, "2024-03-04-050607.wav", 20000);
    touch(dir, "2023-12-31-235959.wav", 5);
    touch(dir, ".keep", 0);
    touch(dir, "notes.txt", 10);
    touch(dir, "index.html", 10);

    jw_init(&w, buf, sizeof buf);
    /* 2024-03-04 05:06:07 is the song being recorded now. */
    CHECK_EQ_I(ck, rec_listing_json(dir, 2, (int64_t)1709528767 * 48000 + 99, &w, NULL, NULL), REC_OK);
    CHECK(ck, jw_ok(&w));
    cJSON *j = cJSON_Parse(buf);
    CHECK(ck, cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2);
    cJSON *newer = cJSON_GetArrayItem(j, 0), *older = cJSON_GetArrayItem(j, 1);
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(newer, "song")), "2024-03-04-050607");
    CHECK(ck, cJSON_IsFalse(cJSON_GetObjectItem(newer, "complete")));
    CHECK(ck, cJSON_IsTrue(cJSON_GetObjectItem(newer, "recording")));
    CHECK(ck, cJSON_IsNull(cJSON_GetObjectItem(newer, "ended")));
    CHECK(ck, cJSON_IsFalse(cJSON_GetObjectItem(newer, "normal")));
    CHECK(ck, cJSON_IsNull(cJSON_GetObjectItem(newer, "seconds")));   /* not a WAV libsndfile reads */
    CHECK_EQ_I(ck, cJSON_GetArraySize(cJSON_GetObjectItem(newer, "stems")), 0);
    CHECK_EQ_I(ck, cJSON_GetArraySize(cJSON_GetObjectItem(newer, "project")), 0);
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(older, "song")), "2024-01-02-030405");
    CHECK(ck, cJSON_IsTrue(cJSON_GetObjectItem(older, "complete")));
    CHECK(ck, cJSON_IsFalse(cJSON_GetObjectItem(older, "recording")));
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(older, "ended")), "left");
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(older, "ended_text")),
               "everyone left before this song was all recorded");
    CHECK(ck, cJSON_IsFalse(cJSON_GetObjectItem(older, "normal")));
    CHECK(ck, cJSON_GetNumberValue(cJSON_GetObjectItem(older, "seconds")) == 183.24);
    cJSON *mix = cJSON_GetObjectItem(older, "mix");
    CHECK_EQ_I(ck, cJSON_GetArraySize(mix), 2);
    /* The mix first, then its parts in order. */
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(mix, 0), "file")),
               "2024-01-02-030405.wav");
    CHECK(ck, cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(mix, 0), "bytes")) == 1234567);
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(mix, 1), "file")),
               "2024-01-02-030405-part2.wav");
    cJSON *stems = cJSON_GetObjectItem(older, "stems");
    CHECK_EQ_I(ck, cJSON_GetArraySize(stems), 2);
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(stems, 0), "file")),
               "2024-01-02-030405-stem-17.wav");
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(stems, 0), "singer")), "17");
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(stems, 1), "file")),
               "2024-01-02-030405-stem-<img src=x>\"'.wav");
    CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(
                       cJSON_GetArrayItem(cJSON_GetObjectItem(older, "project"), 0), "file")),
               "2024-01-02-030405.lof");
    CHECK(ck, strstr(buf, "notes.txt") == NULL && strstr(buf, ".keep") == NULL && strstr(buf, "index.html") == NULL);
    CHECK(ck, strstr(buf, "2023-12-31") == NULL);   /* beyond the 2 asked for */
    cJSON_Delete(j);

    /* A real mix without a project: its length from the WAV; a project
     * that ended with the song is "normal"; an old project without an
     * ending says "unknown". */
    {
        int err = 0;
        float x[24000] = {0};
        int64_t s = (int64_t)1704164645 * 48000;   /* 2024-01-02-030405 */
        rec_writer_t *m = rec_writer_create(dir, s + 3 * 48000, NULL, s + 3 * 48000, NULL, NULL, &err);
        CHECK(ck, m != NULL);
        if (m != NULL) {
            CHECK_EQ_I(ck, rec_writer_write(m, s + 3 * 48000, x, 24000), REC_OK);
            rec_writer_destroy(m);
        }
        touch(dir, "2023-12-31-235959.lof", 10);
        jw_init(&w, buf, sizeof buf);
        CHECK_EQ_I(ck, rec_listing_json(dir, 20, 0, &w, NULL, NULL), REC_OK);
        j = cJSON_Parse(buf);
        cJSON *third = cJSON_GetArrayItem(j, 1), *oldest = cJSON_GetArrayItem(j, 3);
        CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(third, "song")), "2024-01-02-030408");
        CHECK(ck, cJSON_GetNumberValue(cJSON_GetObjectItem(third, "seconds")) == 0.5);
        CHECK(ck, cJSON_IsNull(cJSON_GetObjectItem(third, "ended")));
        CHECK(ck, cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "recording")));
        CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(oldest, "ended")), "unknown");
        cJSON_Delete(j);
        char p2[4096];
        snprintf(p2, sizeof p2, "%s/2024-01-02-030408.wav", dir);
        CHECK_EQ_I(ck, rec_lof_write(dir, s + 3 * 48000, REC_END_SONG, s + 3 * 48000 + 24000, NULL, NULL), REC_OK);
        jw_init(&w, buf, sizeof buf);
        CHECK_EQ_I(ck, rec_listing_json(dir, 20, 0, &w, NULL, NULL), REC_OK);
        j = cJSON_Parse(buf);
        third = cJSON_GetArrayItem(j, 1);
        CHECK(ck, cJSON_IsTrue(cJSON_GetObjectItem(third, "normal")));
        CHECK_EQ_S(ck, cJSON_GetStringValue(cJSON_GetObjectItem(third, "ended_text")), "the song ended");
        CHECK(ck, cJSON_GetNumberValue(cJSON_GetObjectItem(third, "seconds")) == 0.5);
        cJSON_Delete(j);
        CHECK_EQ_I(ck, rec_song_delete(dir, "2024-01-02-030408", NULL, NULL, NULL), 2);
        CHECK(ck, !mt_exists(p2));
    }

    /* Too small a buffer: the writer says so, nothing is cut silently. */
    char small[64];
    jw_init(&w, small, sizeof small);
    CHECK_EQ_I(ck, rec_listing_json(dir, 20, 0, &w, NULL, NULL), REC_OK);
    CHECK(ck, !jw_ok(&w));

    /* What may be served: our names in [A-Za-z0-9._-], nothing else. */
    CHECK(ck, rec_file_known("2024-01-02-030405.wav"));
    CHECK(ck, rec_file_known("2024-01-02-030405-part2.wav"));
    CHECK(ck, rec_file_known("2024-01-02-030405-stem-Alice_123456.opus"));
    CHECK(ck, rec_file_known("2024-01-02-030405.lof"));
    CHECK(ck, !rec_file_known("2024-01-02-030405-stem-<img src=x>\"'.wav"));
    CHECK(ck, !rec_file_known("2024-01-02-030405-stem-a\r\nX-Evil: 1.opus"));
    CHECK(ck, !rec_file_known("../2024-01-02-030405.wav"));
    CHECK(ck, !rec_file_known("x/2024-01-02-030405.wav"));
    CHECK(ck, !rec_file_known("index.html"));
    CHECK(ck, !rec_file_known(".bbtmp-2024-01-02-030405.wav-abcdef"));
    CHECK(ck, !rec_file_known("2024-01-02-030405.txt"));
    CHECK(ck, !rec_file_known(""));
    CHECK(ck, !rec_file_known(NULL));
}

int main(void)
{
    char *dir = mt_tmpdir();

    test_saturate();
    test_names();
    test_writer(dir);
    test_parts(dir);
    test_stems_and_lof(dir);
    test_endings();
    test_songs_and_delete(dir);
    test_seal(dir);
    test_listing(dir);
    mt_rmrf(dir);
    free(dir);
    return check_done(&ck, "test_media_recording");
}
