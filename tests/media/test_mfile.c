/* test_mfile: atomic publication (replace and never-replace), temporary
 * names, path joining and error logging of the media file helpers. */
#include <fcntl.h>

#include "media/mfile.h"
#include "media_test.h"

#include <dirent.h>
#include <errno.h>

/* Number of entries of dir whose name starts with ".bbtmp-". */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d != NULL && (de = readdir(d)) != NULL)
        n += mfile_is_temp_name(de->d_name);
    if (d != NULL)
        closedir(d);
    return n;
}

int main(void)
{
    char *dir = mt_tmpdir();
    char path[4096], tmp[4096], longname[400];
    mt_log_t log = { .n = 0 };
    struct stat st;
    char *s;
    int fd;

    /* strerror covers every code and unknown ones. */
    CHECK(ck, strcmp(mfile_strerror(MFILE_ERR_EXISTS), "file already exists") == 0);
    CHECK(ck, mfile_strerror(12345) != NULL);

    CHECK(ck, mfile_is_temp_name(".bbtmp-x-123456"));
    CHECK(ck, !mfile_is_temp_name("x.wav"));
    CHECK(ck, !mfile_is_temp_name(NULL));

    /* One writer at a time: the lock is exclusive and not waited for. */
    snprintf(path, sizeof path, "%s/locked", dir);
    CHECK_EQ_I(ck, mfile_open_locked(path, mt_log, &log), MFILE_ERR_NOENT);
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    CHECK(ck, fd >= 0);
    close(fd);
    fd = mfile_open_locked(path, mt_log, &log);
    CHECK(ck, fd >= 0);
    CHECK_EQ_I(ck, mfile_open_locked(path, mt_log, &log), MFILE_ERR_BUSY);
    close(fd);
    fd = mfile_open_locked(path, mt_log, &log);
    CHECK(ck, fd >= 0);
    close(fd);
    unlink(path);

    CHECK_EQ_I(ck, mfile_join(path, sizeof path, "/a", "b"), MFILE_OK);
    CHECK_EQ_S(ck, path, "/a/b");
    CHECK_EQ_I(ck, mfile_join(path, 4, "/a", "b"), MFILE_ERR_ARG);
    CHECK_EQ_I(ck, mfile_join(NULL, 4, "/a", "b"), MFILE_ERR_ARG);

    /* Write, refuse to replace, replace. */
    CHECK_EQ_I(ck, mfile_write_atomic(dir, "f.txt", "one", 3, 0, mt_log, &log), MFILE_OK);
    snprintf(path, sizeof path, "%s/f.txt", dir);
    s = mt_read_file(path, NULL);
    CHECK_EQ_S(ck, s, "one");
    free(s);
    CHECK(ck, stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    CHECK_EQ_I(ck, mfile_write_atomic(dir, "f.txt", "two", 3, 0, mt_log, &log), MFILE_ERR_EXISTS);
    s = mt_read_file(path, NULL);
    CHECK_EQ_S(ck, s, "one");
    free(s);
    CHECK_EQ_I(ck, mfile_write_atomic(dir, "f.txt", "three", 5, 1, mt_log, &log), MFILE_OK);
    s = mt_read_file(path, NULL);
    CHECK_EQ_S(ck, s, "three");
    free(s);
    CHECK_EQ_I(ck, mfile_write_atomic(dir, "empty", NULL, 0, 1, mt_log, &log), MFILE_OK);
    CHECK_EQ_I(ck, mfile_write_atomic(dir, "bad", NULL, 3, 1, mt_log, &log), MFILE_ERR_ARG);
    CHECK_EQ_I(ck, count_tmp(dir), 0);

    /* A temporary file is invisible under its final name until published. */
    fd = mfile_tmp_create(dir, "g.txt", tmp, sizeof tmp, mt_log, &log);
    CHECK(ck, fd >= 0);
    CHECK_EQ_I(ck, count_tmp(dir), 1);
    CHECK(ck, write(fd, "abc", 3) == 3);
    snprintf(path, sizeof path, "%s/g.txt", dir);
    CHECK(ck, !mt_exists(path));
    CHECK_EQ_I(ck, mfile_publish(fd, tmp, dir, "g.txt", 0, mt_log, &log), MFILE_OK);
    close(fd);
    CHECK(ck, mt_exists(path));
    CHECK(ck, !mt_exists(tmp));
    CHECK_EQ_I(ck, count_tmp(dir), 0);

    /* Over-long names are refused before touching the disk. */
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_EQ_I(ck, mfile_tmp_create(dir, longname, tmp, sizeof tmp, mt_log, &log), MFILE_ERR_ARG);

    /* A failing system call is logged with its name and the reason. */
    log.n = 0;
    CHECK_EQ_I(ck, mfile_write_atomic("/nonexistent-bb-dir", "x", "1", 1, 1, mt_log, &log),
              MFILE_ERR_IO);
    CHECK_EQ_I(ck, mt_log_count(&log, "mkostemp", "No such file or directory"), 1);
    CHECK_EQ_I(ck, mfile_fsync_dir("/nonexistent-bb-dir", mt_log, &log), MFILE_ERR_IO);

    /* A NULL log function is silence, not a crash. */
    CHECK_EQ_I(ck, mfile_write_atomic("/nonexistent-bb-dir", "x", "1", 1, 1, NULL, NULL),
              MFILE_ERR_IO);

    mt_rmrf(dir);
    free(dir);
    return check_done(&ck, "test_media_mfile");
}
