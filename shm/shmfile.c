/*
 * shmfile.c - creating, opening and mapping shared-memory files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmfile.h"

void shf_err(seg_err_t *err, int code, int sys_errno, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    err->sys_errno = sys_errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static int map(const char *name, int fd, size_t size, shf_map_t *out, seg_err_t *err)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        shf_err(err, SEG_ESYS, errno, "mmap(%s, %zu bytes): %s", name, size, strerror(errno));
        return SEG_ESYS;
    }
    out->fd = fd;
    out->size = size;
    out->base = p;
    return SEG_OK;
}

int shf_create(const char *name, size_t size, shf_map_t *out, seg_err_t *err)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0660);
    if (fd < 0) {
        int e = errno;
        shf_err(err, e == EEXIST ? SEG_EBUSY : SEG_ESYS, e, "shm_open(%s, O_CREAT): %s", name,
               strerror(e));
        return e == EEXIST ? SEG_EBUSY : SEG_ESYS;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        shf_err(err, SEG_ESYS, errno, "ftruncate(%s, %zu): %s", name, size, strerror(errno));
        close(fd);
        shm_unlink(name);
        return SEG_ESYS;
    }
    if (map(name, fd, size, out, err) != SEG_OK) {
        close(fd);
        shm_unlink(name);
        return SEG_ESYS;
    }
    return SEG_OK;
}

int shf_open(const char *name, size_t min_size, shf_map_t *out, seg_err_t *err)
{
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            shf_err(err, SEG_ENOENT, e, "segment %s does not exist (is bb-shmd running?)", name);
            return SEG_ENOENT;
        }
        shf_err(err, SEG_ESYS, e, "shm_open(%s): %s", name, strerror(e));
        return SEG_ESYS;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        shf_err(err, SEG_ESYS, errno, "fstat(%s): %s", name, strerror(errno));
        close(fd);
        return SEG_ESYS;
    }
    if ((size_t)st.st_size < min_size) {
        shf_err(err, SEG_ESIZE, 0, "segment %s: %lld bytes, smaller than a header (%zu)", name,
               (long long)st.st_size, min_size);
        close(fd);
        return SEG_ESIZE;
    }
    if (map(name, fd, (size_t)st.st_size, out, err) != SEG_OK) {
        close(fd);
        return SEG_ESYS;
    }
    return SEG_OK;
}

void shf_close(shf_map_t *m)
{
    if (!m->base)
        return;
    munmap(m->base, m->size);
    close(m->fd);
    m->base = NULL;
    m->fd = -1;
}

int shf_lock(const shf_map_t *m, const char *name, off_t at, const char *role, seg_err_t *err)
{
    struct flock fl = {0};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = at;
    fl.l_len = 1;
    if (fcntl(m->fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    if (errno == EAGAIN || errno == EACCES) {
        struct flock q = fl;
        q.l_pid = 0;
        fcntl(m->fd, F_OFD_GETLK, &q);
        shf_err(err, SEG_EBUSY, errno, "segment %s: %s is held by another live process%s", name,
                role, q.l_type != F_UNLCK ? "" : " (just released)");
        return SEG_EBUSY;
    }
    shf_err(err, SEG_ESYS, errno, "fcntl(F_OFD_SETLK, %s): %s", role, strerror(errno));
    return SEG_ESYS;
}
