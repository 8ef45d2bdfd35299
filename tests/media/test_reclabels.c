/* test_reclabels.c - the song's words as an Audacity label track:
 * SONG-words.txt read back line by line (tab-separated start, end, text,
 * seconds from the song's start), the comment added to SONG.lof once, text
 * with tabs and line ends, a text cut inside a character, the labels of
 * songs whose project is gone pruned, and the labels deleted with their
 * song. */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media/mfile.h"
#include "media/reclabels.h"
#include "media/recdir.h"
#include "media_test.h"

#define RATE REC_SAMPLE_RATE
/* 2026-12-06 10:00:00 UTC and a quarter of a second: the labels count
 * from the song's start clock, as SONG.lof's offsets do. */
#define START ((int64_t)1796551200 * RATE + RATE / 4)

static char *path_in(const char *dir, const char *name)
{
    static char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

int main(void)
{
    char *dir = mt_tmpdir();
    mt_log_t log = {0};
    const char *lof = "# Bucket Brigade song\nfile \"2026-12-06-100000.wav\" offset 0.000000000\n";
    CHECK(ck, mfile_write_atomic(dir, "2026-12-06-100000.lof", lof, strlen(lof), 1, mt_log, &log) == MFILE_OK);
    char longtext[REC_LABEL_TEXT_MAX + 10];
    memset(longtext, 'a', REC_LABEL_TEXT_MAX - 1);
    memcpy(longtext + REC_LABEL_TEXT_MAX - 1, "\xc3\xa9\xc3\xa9", 5);   /* an é across the cut */
    rec_label_t l[] = {
        {START + 2 * RATE, START + 5 * RATE, "Amazing grace"},
        {START + 5 * RATE, START + 9 * RATE + RATE / 2, "how\tsweet\nthe sound"},
        {START - RATE, START - RATE, "before the start"},
        {START + 10 * RATE, START + 10 * RATE, longtext},
    };
    CHECK_EQ_I(ck, rec_labels_write(dir, START, l, 4, mt_log, &log), REC_OK);
    size_t len;
    char *txt = mt_read_file(path_in(dir, "2026-12-06-100000-words.txt"), &len);
    CHECK(ck, txt != NULL);
    if (txt) {
        char want[1024];
        snprintf(want, sizeof want,
                 "2.000000\t5.000000\tAmazing grace\n"
                 "5.000000\t9.500000\thow sweet the sound\n"
                 "0.000000\t0.000000\tbefore the start\n"
                 "10.000000\t10.000000\t%.*s\n", REC_LABEL_TEXT_MAX - 1, longtext);
        CHECK_EQ_S(ck, txt, want);
        printf("labels:\n%.200s...\n", txt);
        free(txt);
    }
    /* The project names the labels, once however often they are written. */
    CHECK_EQ_I(ck, rec_labels_write(dir, START, l, 2, mt_log, &log), REC_OK);
    char *p = mt_read_file(path_in(dir, "2026-12-06-100000.lof"), &len);
    CHECK(ck, p && strncmp(p, lof, strlen(lof)) == 0);
    CHECK(ck, p && strstr(p, "# The words: import 2026-12-06-100000-words.txt with File > Import > Labels.\n"));
    CHECK(ck, p && strstr(strstr(p, "# The words") + 1, "# The words") == NULL);
    free(p);
    /* Nothing to write: no file, no error. */
    CHECK_EQ_I(ck, rec_labels_write(dir, START + 3600 * RATE, l, 0, mt_log, &log), REC_OK);
    struct stat st;
    CHECK(ck, stat(path_in(dir, "2026-12-06-110000-words.txt"), &st) != 0);
    /* Bad arguments. */
    CHECK_EQ_I(ck, rec_labels_write(NULL, START, l, 1, mt_log, &log), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_labels_write(dir, -1, l, 1, mt_log, &log), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_labels_write(dir, START, NULL, 1, mt_log, &log), REC_ERR_ARG);
    CHECK_EQ_I(ck, rec_labels_write(dir, START, l, REC_LABELS_MAX + 1, mt_log, &log), REC_ERR_ARG);
    /* A song whose project was pruned loses its labels with the next write. */
    CHECK(ck, remove(path_in(dir, "2026-12-06-100000.lof")) == 0);
    CHECK_EQ_I(ck, rec_labels_write(dir, START + 7200 * RATE, l, 1, mt_log, &log), REC_OK);
    CHECK(ck, stat(path_in(dir, "2026-12-06-100000-words.txt"), &st) != 0 && errno == ENOENT);
    /* ... and one without a project yet keeps them only until then. */
    CHECK(ck, stat(path_in(dir, "2026-12-06-120000-words.txt"), &st) != 0);
    /* The words are the song's: counted and served with it, and gone
     * when the song is deleted (by its organiser or the retention). */
    const char *lof2 = "# Bucket Brigade song\n";
    CHECK(ck, mfile_write_atomic(dir, "2026-12-06-130000.lof", lof2, strlen(lof2), 1, mt_log, &log) == MFILE_OK);
    CHECK_EQ_I(ck, rec_labels_write(dir, START + 3 * 3600 * RATE, l, 2, mt_log, &log), REC_OK);
    CHECK(ck, rec_file_known("2026-12-06-130000-words.txt"));
    CHECK(ck, !rec_file_known("2026-12-06-130000-notes.txt"));
    rec_song_t *songs = NULL;
    size_t n_songs = 0;
    CHECK_EQ_I(ck, rec_songs(dir, &songs, &n_songs, mt_log, &log), REC_OK);
    bool counted = false;
    for (size_t i = 0; i < n_songs; i++)
        counted |= strcmp(songs[i].stamp, "2026-12-06-130000") == 0 && songs[i].files == 2;
    CHECK(ck, counted);
    free(songs);
    CHECK_EQ_I(ck, rec_song_delete(dir, "2026-12-06-130000", NULL, mt_log, &log), 2);
    CHECK(ck, stat(path_in(dir, "2026-12-06-130000-words.txt"), &st) != 0 && errno == ENOENT);
    mt_rmrf(dir);
    free(dir);
    return check_done(&ck, "test_reclabels");
}
