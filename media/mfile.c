/* mfile: temporary files, atomic publication, log formatting and the
 * binary-file primitives (little-endian integers, whole writes) of the
 * media modules.
 *
 * Invariant: a final name either does not exist or names a complete,
 * fsynced file. Temporary files live in the same directory as their final
 * name (rename and link only work within one file system) and carry the
 * ".bbtmp-" prefix. The mode of every published file is 0644 whatever the
 * umask: nginx, running as another user, serves the recordings and the
 * worker and the daemon share the audio directory.
 */
#include "mfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX ".bbtmp-"

const char *mfile_strerror(int err)
{
    switch (err) {
    case MFILE_OK: return "success";
    case MFILE_ERR_ARG: return "invalid argument or name too long";
    case MFILE_ERR_IO: return "file system call failed";
    case MFILE_ERR_EXISTS: return "file already exists";
    case MFILE_ERR_NOENT: return "no such file";
    case MFILE_ERR_BUSY: return "another process holds the file";
    default: return "unknown mfile error";
    }
}

void mfile_vlogf(mfile_log_fn log, void *user, const char *fmt, va_list ap)
{
    char line[1024];

    if (log == NULL)
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    log(user, line);
}

void mfile_logf(mfile_log_fn log, void *user, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mfile_vlogf(log, user, fmt, ap);
    va_end(ap);
}

void mfile_log_errno(mfile_log_fn log, void *user, const char *call,
                     const char *path, int errnum)
{
    char buf[256];

    if (log == NULL)
        return;
    /* GNU strerror_r returns the message, possibly not in buf. */
    mfile_logf(log, user, "%s %s: %s", call, path ? path : "(null)",
               strerror_r(errnum, buf, sizeof buf));
}

int mfile_is_temp_name(const char *name)
{
    return name != NULL && strncmp(name, TMP_PREFIX, sizeof TMP_PREFIX - 1) == 0;
}

int mfile_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n;

    if (out == NULL || dir == NULL || name == NULL || cap == 0)
        return MFILE_ERR_ARG;
    n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return MFILE_ERR_ARG;
    return MFILE_OK;
}

int mfile_tmp_create(const char *dir, const char *final_name, char *tmp_path,
                     size_t cap, mfile_log_fn log, void *user)
{
    int n, fd;

    if (dir == NULL || final_name == NULL || tmp_path == NULL
        || strlen(final_name) > MFILE_NAME_MAX)
        return MFILE_ERR_ARG;
    n = snprintf(tmp_path, cap, "%s/" TMP_PREFIX "%s-XXXXXX", dir, final_name);
    if (n < 0 || (size_t)n >= cap)
        return MFILE_ERR_ARG;
    fd = mkostemp(tmp_path, O_CLOEXEC);
    if (fd < 0) {
        mfile_log_errno(log, user, "mkostemp", tmp_path, errno);
        return MFILE_ERR_IO;
    }
    if (fchmod(fd, 0644) != 0) {
        mfile_log_errno(log, user, "fchmod", tmp_path, errno);
        close(fd);
        unlink(tmp_path);
        return MFILE_ERR_IO;
    }
    return fd;
}

int mfile_fsync_dir(const char *dir, mfile_log_fn log, void *user)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        mfile_log_errno(log, user, "open", dir, errno);
        return MFILE_ERR_IO;
    }
    /* Some file systems refuse fsync on a directory (EINVAL); the name is
     * then as durable as that file system makes it, which is not an error
     * we can do anything about. */
    if (fsync(fd) != 0 && errno != EINVAL) {
        mfile_log_errno(log, user, "fsync", dir, errno);
        close(fd);
        return MFILE_ERR_IO;
    }
    close(fd);
    return MFILE_OK;
}

int mfile_publish(int fd, const char *tmp_path, const char *dir,
                  const char *final_name, int replace, mfile_log_fn log,
                  void *user)
{
    return mfile_publish_ex(fd, tmp_path, dir, final_name, replace, 1, log, user);
}

int mfile_publish_ex(int fd, const char *tmp_path, const char *dir,
                     const char *final_name, int replace, int durable,
                     mfile_log_fn log, void *user)
{
    char path[4096];

    if (fd < 0 || tmp_path == NULL
        || mfile_join(path, sizeof path, dir, final_name) != MFILE_OK)
        return MFILE_ERR_ARG;
    if (durable && fsync(fd) != 0) {
        mfile_log_errno(log, user, "fsync", tmp_path, errno);
        return MFILE_ERR_IO;
    }
    if (replace) {
        if (rename(tmp_path, path) != 0) {
            mfile_log_errno(log, user, "rename", path, errno);
            return MFILE_ERR_IO;
        }
    } else {
        /* link() is the portable never-replace publication: it fails with
         * EEXIST instead of overwriting, atomically. */
        if (link(tmp_path, path) != 0) {
            if (errno == EEXIST)
                return MFILE_ERR_EXISTS;
            mfile_log_errno(log, user, "link", path, errno);
            return MFILE_ERR_IO;
        }
        if (unlink(tmp_path) != 0)
            mfile_log_errno(log, user, "unlink", tmp_path, errno);
    }
    /* The file is published; a failed directory fsync only weakens its
     * durability across a power cut, so it is logged, not returned. */
    if (durable)
        (void)mfile_fsync_dir(dir, log, user);
    return MFILE_OK;
}

void mfile_put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t mfile_get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;

    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int mfile_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

int mfile_pread_all(int fd, void *buf, size_t len, off_t off)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t r = pread(fd, p, len, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return -1;
        }
        p += r;
        len -= (size_t)r;
        off += r;
    }
    return 0;
}

int mfile_write_atomic(const char *dir, const char *name, const void *data,
                       size_t len, int replace, mfile_log_fn log, void *user)
{
    char tmp[4096];
    int fd, rc;

    if (data == NULL && len > 0)
        return MFILE_ERR_ARG;
    fd = mfile_tmp_create(dir, name, tmp, sizeof tmp, log, user);
    if (fd < 0)
        return fd;
    if (mfile_pwrite_all(fd, data, len, 0) != 0) {
        mfile_log_errno(log, user, "write", tmp, errno);
        rc = MFILE_ERR_IO;
        goto err;
    }
    rc = mfile_publish(fd, tmp, dir, name, replace, log, user);
    if (rc != MFILE_OK)
        goto err;
    close(fd);
    return MFILE_OK;
err:
    close(fd);
    unlink(tmp);
    return rc;
}

int mfile_open_locked(const char *path, mfile_log_fn log, void *user)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return MFILE_ERR_NOENT;
        mfile_log_errno(log, user, "open", path, errno);
        return MFILE_ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return MFILE_ERR_BUSY;
        mfile_log_errno(log, user, "flock", path, e);
        return MFILE_ERR_IO;
    }
    return fd;
}
