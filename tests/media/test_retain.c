/* test_retain: the host's sweep over its recordings (recretain.h), on a
 * folder of every room's songs made here: the songs beyond `keep` in each
 * room go and the others stay; songs older than keep_days go; over the
 * bytes cap the oldest song of any room goes first, a fresh one waits, a
 * protected one never goes, and when only protected songs are left they
 * are asked to stop; a cut-off song is sealed once it has been still long
 * enough; each deletion is one log line; the operator's sizes parse. */
#include "media/recretain.h"
#include "media_test.h"

#include <sys/time.h>
#include <time.h>

/* The songs are stamped from this second on, an hour apart. */
#define T0 ((int64_t)1714591800)   /* 2024-05-01 19:30:00 UTC */

typedef struct {
    const char *room[4];
    const char *stamp[4];
    int n;
    char stopped[8][64];
    int n_stopped;
} guard_t;

static bool protect(void *user, const char *room, const char *stamp)
{
    const guard_t *g = user;
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->room[i], room) == 0 && strcmp(g->stamp[i], stamp) == 0)
            return true;
    return false;
}

/* Asks once: a second request for the same song is not new. */
static bool stop(void *user, const char *room, const char *stamp)
{
    guard_t *g = user;
    char key[64];
    snprintf(key, sizeof key, "%s/%s", room, stamp);
    for (int i = 0; i < g->n_stopped; i++)
        if (strcmp(g->stopped[i], key) == 0)
            return false;
    if (g->n_stopped < 8)
        snprintf(g->stopped[g->n_stopped++], 64, "%s", key);
    return true;
}

/* Song i of a room folder: a mix of `bytes`, a stem of 100 bytes, a
 * project unless `open`; its files changed `age_s` seconds ago. */
static void song(const char *dir, int i, size_t bytes, bool open, int age_s, char *stamp_out)
{
    char stamp[32], path[4096];
    rec_song_name((T0 + 3600 * i) * 48000, stamp, sizeof stamp);
    if (stamp_out)
        strcpy(stamp_out, stamp);
    const char *ext[] = {".wav", "-stem-Ann_000001.opus", ".lof"};
    size_t size[] = {bytes, 100, 10};
    for (int k = 0; k < (open ? 2 : 3); k++) {
        snprintf(path, sizeof path, "%s/%s%s", dir, stamp, ext[k]);
        char *buf = calloc(1, size[k] + 1);
        mt_write_file(path, buf, size[k]);
        free(buf);
        struct timeval tv[2];
        gettimeofday(&tv[0], NULL);
        tv[0].tv_sec -= age_s;
        tv[1] = tv[0];
        utimes(path, tv);
    }
}

static bool has(const char *dir, const char *stamp)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.wav", dir, stamp);
    return mt_exists(path);
}

static void fresh_root(const char *base, const char *name, char *root, char *room, size_t cap)
{
    snprintf(root, cap, "%s/%s", base, name);
    mkdir(root, 0755);
    snprintf(room, cap, "%s/k7q2m9x4ad", root);
    mkdir(room, 0755);
}

static rec_retain_t config(const char *root, guard_t *g, mt_log_t *log)
{
    rec_retain_t c = {
        .root = root, .keep = 100, .keep_days = 0, .max_bytes = 0, .now = (int64_t)time(NULL),
        .fresh_s = 10, .seal_s = 120, .protect = protect, .stop = stop, .user = g,
        .log = mt_log, .log_user = log,
    };
    return c;
}

/* In each room its newest `keep` songs stay; the older go, whole, but a
 * protected one. */
static void test_count(const char *base)
{
    char root[2048], room[2048], stamps[6][32];
    guard_t g = {0};
    mt_log_t log = {0};
    fresh_root(base, "count", root, room, sizeof root);
    for (int i = 0; i < 6; i++)
        song(root, i, 1000, false, 600, stamps[i]);
    for (int i = 0; i < 3; i++)
        song(room, i, 1000, false, 600, NULL);
    g.room[0] = REC_DEFAULT_ROOM;
    g.stamp[0] = stamps[0];   /* the oldest is being recorded (a clock set back) */
    g.n = 1;
    rec_retain_t c = config(root, &g, &log);
    c.keep = 3;
    rec_retain_report_t rep;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    /* The protected song counts among the three kept. */
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_COUNT], 3);
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_AGE] + rep.deleted[REC_GONE_BYTES], 0);
    CHECK_EQ_I(ck, rep.deleted_bytes, 3 * 1110);
    CHECK_EQ_I(ck, rep.rooms, 2);
    CHECK_EQ_I(ck, rep.songs, 6);
    CHECK_EQ_I(ck, rep.bytes, 6 * 1110);
    CHECK(ck, has(root, stamps[0]) && !has(root, stamps[1]) && !has(root, stamps[2]));
    CHECK(ck, !has(root, stamps[3]) && has(root, stamps[4]) && has(root, stamps[5]));
    for (int i = 0; i < 3; i++)
        CHECK(ck, has(room, stamps[i]));   /* another room's are its own */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.lof", root, stamps[1]);
    CHECK(ck, !mt_exists(path));
    CHECK_EQ_I(ck, mt_log_count(&log, "deleted song 2024-05-01-203000 of the default room (1110 bytes): more than 3 songs in the room (--keep)", NULL), 1);
    CHECK_EQ_I(ck, mt_log_count(&log, "deleted song", NULL), 3);
    /* Nothing more to do: a second sweep deletes nothing. */
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_COUNT], 0);
}

/* Songs older than keep_days go, in every room; a protected one stays. */
static void test_age(const char *base)
{
    char root[2048], room[2048], stamps[4][32];
    guard_t g = {0};
    mt_log_t log = {0};
    fresh_root(base, "age", root, room, sizeof root);
    for (int i = 0; i < 4; i++)
        song(i < 2 ? root : room, i * 24, 500, false, 600, stamps[i]);
    g.room[0] = "k7q2m9x4ad";
    g.stamp[0] = stamps[2];
    g.n = 1;
    rec_retain_t c = config(root, &g, &log);
    c.keep_days = 2;
    /* "Now" is 3.5 days after the first song: it (3.5 days old) and the
     * next (2.5) are older than 2 days; the third (1.5, and protected)
     * and the fourth (0.5) stay. */
    c.now = T0 + 84 * 3600;
    rec_retain_report_t rep;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_AGE], 2);
    CHECK(ck, !has(root, stamps[0]) && !has(root, stamps[1]));
    CHECK(ck, has(room, stamps[2]) && has(room, stamps[3]));
    CHECK_EQ_I(ck, mt_log_count(&log, "older than 2 days (--keep-days)", NULL), 2);
    /* A day later the protected song is too old too, and stays. */
    c.now += 86400;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_AGE], 0);
    CHECK(ck, has(room, stamps[2]));
    c.now += 86400;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_AGE], 1);
    CHECK(ck, has(room, stamps[2]) && !has(room, stamps[3]));
    /* keep_days 0: no age limit at all. */
    c.keep_days = 0;
    c.now += 1000 * 86400;
    g.n = 0;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK(ck, has(room, stamps[2]));
}

/* Over the cap the oldest song of any room goes first; a song that just
 * changed waits; a protected one stays; with nothing else left the
 * protected ones are asked to stop. */
static void test_bytes(const char *base)
{
    char root[2048], room[2048], a[32], b[32], c2[32], d[32], e[32];
    guard_t g = {0};
    mt_log_t log = {0};
    fresh_root(base, "bytes", root, room, sizeof root);
    song(root, 0, 9890, false, 600, a);          /* 10 000 bytes each with stem and project */
    song(room, 1, 9890, false, 600, b);
    song(root, 2, 9890, false, 600, c2);
    song(room, 3, 9890, false, 0, d);            /* just ended: fresh */
    song(root, 4, 9900, true, 0, e);             /* being recorded: no project yet */
    g.room[0] = REC_DEFAULT_ROOM;
    g.stamp[0] = e;
    g.n = 1;
    rec_retain_t c = config(root, &g, &log);
    c.max_bytes = 30000;
    rec_retain_report_t rep;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    /* 50 000 bytes: the two oldest go (across rooms), which is enough. */
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_BYTES], 2);
    CHECK(ck, !has(root, a) && !has(room, b) && has(root, c2) && has(room, d) && has(root, e));
    CHECK_EQ_I(ck, rep.bytes, 30000);
    CHECK_EQ_I(ck, rep.stopped, 0);
    CHECK_EQ_I(ck, mt_log_count(&log, "passed the host's 30000 bytes (--recordings-bytes)", NULL), 2);
    CHECK_EQ_I(ck, mt_log_count(&log, "of room k7q2m9x4ad", NULL), 1);

    /* Smaller: the next oldest goes; the fresh one waits, so nothing is
     * stopped yet. */
    c.max_bytes = 15000;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_BYTES], 1);
    CHECK(ck, !has(root, c2) && has(room, d) && has(root, e));
    CHECK_EQ_I(ck, rep.stopped, 0);
    CHECK_EQ_I(ck, g.n_stopped, 0);

    /* Later: the song that ended goes too, and the one being recorded
     * alone is over the cap: it is asked to stop, and stays. */
    c.now += 60;
    c.max_bytes = 5000;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_BYTES], 1);
    CHECK(ck, !has(room, d) && has(root, e));
    CHECK_EQ_I(ck, rep.stopped, 1);
    CHECK_EQ_I(ck, g.n_stopped, 1);
    char want[64];
    snprintf(want, sizeof want, "default/%s", e);
    CHECK_EQ_S(ck, g.stopped[0], want);
    CHECK_EQ_I(ck, mt_log_count(&log, "with nothing left to delete: the recording of song", "the song goes on"), 1);
    /* Asked already and not yet done: neither logged nor counted again. */
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.stopped, 0);
    CHECK_EQ_I(ck, mt_log_count(&log, "with nothing left to delete", NULL), 1);
    /* Once stopped it is a song like the others: it goes. */
    g.n = 0;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.deleted[REC_GONE_BYTES], 1);
    CHECK_EQ_I(ck, rep.songs, 0);
    CHECK_EQ_I(ck, rep.bytes, 0);
    CHECK_EQ_I(ck, g.n_stopped, 1);
}

/* A song with no project, still for seal_s and not protected, is sealed
 * as cut off; a protected or a recent one is not. */
static void test_seal(const char *base)
{
    char root[2048], room[2048], a[32], b[32], c2[32], path[4096];
    guard_t g = {0};
    mt_log_t log = {0};
    fresh_root(base, "seal", root, room, sizeof root);
    song(root, 0, 100, true, 600, a);
    song(room, 1, 100, true, 600, b);
    song(room, 2, 100, true, 30, c2);
    g.room[0] = "k7q2m9x4ad";
    g.stamp[0] = b;
    g.n = 1;
    rec_retain_t c = config(root, &g, &log);
    rec_retain_report_t rep;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.sealed, 1);
    snprintf(path, sizeof path, "%s/%s.lof", root, a);
    char *lof = mt_read_file(path, NULL);
    CHECK(ck, lof != NULL && strstr(lof, "# ended: interrupted (") != NULL);
    free(lof);
    snprintf(path, sizeof path, "%s/%s.lof", room, b);
    CHECK(ck, !mt_exists(path));
    snprintf(path, sizeof path, "%s/%s.lof", room, c2);
    CHECK(ck, !mt_exists(path));
    CHECK_EQ_I(ck, mt_log_count(&log, "was cut off and not resumed", NULL), 1);
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.sealed, 0);
}

/* Only room folders are swept, only song files touched. */
static void test_folders(const char *base)
{
    char root[2048], room[2048], path[4096], a[32];
    guard_t g = {0};
    mt_log_t log = {0};
    fresh_root(base, "folders", root, room, sizeof root);
    snprintf(path, sizeof path, "%s/not a room", root);
    mkdir(path, 0755);
    song(path, 0, 10, false, 600, a);
    snprintf(path, sizeof path, "%s/.hidden", root);
    mkdir(path, 0755);
    song(path, 0, 10, false, 600, NULL);
    snprintf(path, sizeof path, "%s/notes.txt", root);
    mt_write_file(path, "x", 1);
    rec_retain_t c = config(root, &g, &log);
    c.max_bytes = 1;
    rec_retain_report_t rep;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_OK);
    CHECK_EQ_I(ck, rep.rooms, 2);
    CHECK_EQ_I(ck, rep.songs, 0);
    snprintf(path, sizeof path, "%s/not a room", root);
    CHECK(ck, has(path, a));
    snprintf(path, sizeof path, "%s/.hidden", root);
    CHECK(ck, has(path, a));
    snprintf(path, sizeof path, "%s/notes.txt", root);
    CHECK(ck, mt_exists(path));
    /* Bad configurations. */
    c.keep = 0;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_ERR_ARG);
    c.keep = 1;
    c.root = NULL;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_ERR_ARG);
    snprintf(path, sizeof path, "%s/missing", root);
    c.root = path;
    CHECK_EQ_I(ck, rec_retain_sweep(&c, &rep), REC_ERR_IO);
}

static void test_sizes(void)
{
    uint64_t v = 0;
    CHECK(ck, rec_parse_size("123", &v) == 0 && v == 123);
    CHECK(ck, rec_parse_size("500M", &v) == 0 && v == 500ull << 20);
    CHECK(ck, rec_parse_size("20G", &v) == 0 && v == 20ull << 30);
    CHECK(ck, rec_parse_size("20GiB", &v) == 0 && v == 20ull << 30);
    CHECK(ck, rec_parse_size("2tb", &v) == 0 && v == 2ull << 40);
    CHECK(ck, rec_parse_size("64k", &v) == 0 && v == 64ull << 10);
    CHECK(ck, rec_parse_size("0", &v) != 0);
    CHECK(ck, rec_parse_size("", &v) != 0);
    CHECK(ck, rec_parse_size("-5G", &v) != 0);
    CHECK(ck, rec_parse_size("5 G", &v) != 0);
    CHECK(ck, rec_parse_size("5X", &v) != 0);
    CHECK(ck, rec_parse_size("5GBs", &v) != 0);
    CHECK(ck, rec_parse_size("99999999999T", &v) != 0);
    CHECK(ck, rec_parse_size(NULL, &v) != 0);
    CHECK_EQ_S(ck, rec_gone_name(REC_GONE_BYTES), "bytes");
}

int main(void)
{
    char *dir = mt_tmpdir();
    test_count(dir);
    test_age(dir);
    test_bytes(dir);
    test_seal(dir);
    test_folders(dir);
    test_sizes();
    mt_rmrf(dir);
    free(dir);
    return check_done(&ck, "test_media_retain");
}
