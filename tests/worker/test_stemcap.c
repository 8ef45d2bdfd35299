/*
 * test_stemcap.c - a song holds at most REC_STEMS_MAX singers' stems.
 *
 * Ann leads and sings, Bob sings, through one worker's exchange with
 * recordings on (its stems beside the daemon's mix).  Twice:
 *   - with the song's folder as it is: both get a stem (the control: the
 *     test sees a stem when one is written);
 *   - with REC_STEMS_MAX - 1 other singers' stems of the same song already
 *     in the folder: Ann, the first to sing, takes the last place; Bob
 *     sings into the mix with no stem, the worker counts him once in
 *     stems_capped (its metrics) and says so in one log line, however long
 *     he sings.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "exclient.h"
#include "media/recname.h"
#include "snap.h"

#define ROUNDS 8

static void fill_tone(float *x, int64_t t0, double hz)
{
    for (int i = 0; i < N; i++)
        x[i] = 0.3f * (float)sin(2 * M_PI * hz * (double)(t0 + i) / RATE);
}

/* Files in dir whose names start with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        char p[4096];
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* One song; `full`: the folder holds REC_STEMS_MAX - 1 others' stems of
 * it before anyone sings.  Returns Ann's and Bob's stems found, and the
 * worker's count of singers given none. */
static void run(bool full, check_t *c, int *ann, int *bob, uint64_t *capped)
{
    char dir[256], why[256];
    snprintf(dir, sizeof dir, "/tmp/bb-stemcap-%d-%d", (int)getpid(), (int)full);
    rm_dir(dir);
    mkdir(dir, 0755);
    wr_t r;
    *ann = *bob = -1;
    *capped = 0;
    if (rig_open(&r.k, full ? "stemcap1" : "stemcap0",
                 &(rig_opts_t){.ring_seconds = 32, .user_cap = 64, .seed = 7, .recordings_dir = dir}) != 0) {
        CHECK(*c, false);
        return;
    }
    seg_err_t err;
    if (seg_claim_lane(r.k.seg, 2, &err) != 0 || !(r.ex = ex_create(r.k.seg, 2, 64, dir, why, sizeof why))) {
        CHECK(*c, false);
        rig_close(&r.k);
        return;
    }
    tick(&r, 50);
    static cl_t a, b;
    a = (cl_t){.uid = "11111111111", .name = "Ann"};
    b = (cl_t){.uid = "22222222222", .name = "Bob"};
    connect_at(&a, &r, 6);
    connect_at(&b, &r, 6);
    CHECK_EQ_I(*c, post(&r, &a, "request_lead=1", NULL, NULL), 200);
    CHECK_EQ_I(*c, post(&r, &b, NULL, NULL, NULL), 200);
    tick(&r, 600);
    CHECK_EQ_I(*c, post(&r, &a, "mark_start_singing=1", NULL, NULL), 200);
    tick(&r, 600);
    seg_ctl_t ctl;
    snap_ctl_read(r.k.seg, &ctl);
    char song[REC_SONG_NAME_LEN + 1], name[256], file[REC_FILE_NAME_MAX], path[4096];
    CHECK(*c, ctl.song.start > 0 && rec_song_name(ctl.song.start, song, sizeof song) == REC_OK);
    if (full) {
        /* Other singers' stems, by the names workers give them. */
        for (int i = 0; i < REC_STEMS_MAX - 1; i++) {
            snprintf(name, sizeof name, "Other_%06d", i);
            CHECK(*c, rec_file_name(file, sizeof file, ctl.song.start, name, 1, "opus") == REC_OK);
            snprintf(path, sizeof path, "%s/%s", dir, file);
            FILE *f = fopen(path, "w");
            CHECK(*c, f != NULL);
            if (f)
                fclose(f);
        }
    }
    static float xa[N], xb[N];
    for (int i = 0; i < ROUNDS; i++) {
        fill_tone(xa, a.read, 440);
        CHECK_EQ_I(*c, post(&r, &a, NULL, xa, NULL), 200);
        fill_tone(xb, b.read, 660);
        CHECK_EQ_I(*c, post(&r, &b, NULL, xb, NULL), 200);
        tick(&r, 600);
    }
    snprintf(name, sizeof name, "%s-stem-Ann_", song);
    *ann = count_prefix(dir, name);
    snprintf(name, sizeof name, "%s-stem-Bob_", song);
    *bob = count_prefix(dir, name);
    *capped = ex_counters(r.ex)->stems_capped;
    cl_free(&a);
    cl_free(&b);
    ex_destroy(r.ex);
    rig_close(&r.k);
    rm_dir(dir);
}

int main(void)
{
    CHECK_INIT(c);
    int ann, bob;
    uint64_t capped;
    run(false, &c, &ann, &bob, &capped);
    printf("test_stemcap: an empty folder: Ann %d stem(s), Bob %d, capped %llu\n", ann, bob,
           (unsigned long long)capped);
    CHECK_EQ_I(c, ann, 1);
    CHECK_EQ_I(c, bob, 1);
    CHECK_EQ_I(c, capped, 0);
    run(true, &c, &ann, &bob, &capped);
    printf("test_stemcap: %d others' stems: Ann %d stem(s), Bob %d, capped %llu\n", REC_STEMS_MAX - 1, ann,
           bob, (unsigned long long)capped);
    CHECK_EQ_I(c, ann, 1);
    CHECK_EQ_I(c, bob, 0);
    CHECK_EQ_I(c, capped, 1);
    return check_done(&c, "test_stemcap");
}
