/* mfile: the file-system habits shared by the media modules.
 *
 * Everything the media library leaves in a directory that someone else reads
 * (a track in the audio directory, a prepared track in the cache, a
 * recording, the listing page, an Audacity project) appears there whole or
 * not at all. The pattern is always the same: write into a temporary file in
 * the same directory, fsync it, then publish it under its final name with
 * rename() (replacing) or link() (never replacing), and fsync the directory
 * so the new name survives a power cut.
 *
 * Temporary files are named ".bbtmp-<final name>-XXXXXX": a dotfile, so the
 * track scanner and the recordings listing never mistake one for content,
 * and recognisable, so a crash's leftovers can be cleaned up later
 * (mfile_is_temp_name()).
 *
 * Logging: the media modules never print. Whoever calls them supplies a
 * mfile_log_fn that receives one complete line (no trailing newline) per
 * event; a NULL function silences them. Failed system calls are logged with
 * the call's name, the path and strerror(errno).
 *
 * Binary files the media modules write (the prepared-track cache, Ogg
 * pages) store their integers little-endian, through mfile_put_le() and
 * mfile_get_le(), and every write of a buffer goes through one loop that
 * survives short writes and EINTR (mfile_pwrite_all()).
 *
 * Thread safety: no globals; every function may be called from any thread.
 */
#ifndef BB_MEDIA_MFILE_H
#define BB_MEDIA_MFILE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Receives one log line, NUL-terminated, without a newline. `user` is the
 * pointer the caller passed beside the function. Called on the thread that
 * called the media function. */
typedef void (*mfile_log_fn)(void *user, const char *line);

typedef enum {
    MFILE_OK = 0,
    MFILE_ERR_ARG = -1,      /* NULL or over-long path or name */
    MFILE_ERR_IO = -2,       /* a system call failed (logged with errno) */
    MFILE_ERR_EXISTS = -3,   /* the final name exists and replace was 0 */
    MFILE_ERR_NOENT = -4,    /* the file does not exist */
    MFILE_ERR_BUSY = -5      /* another process holds the file's lock */
} mfile_error_t;

/* Longest final name accepted, in bytes (the temp name adds 20). */
#define MFILE_NAME_MAX 200

/* Returns a static English description of an mfile_error_t value; never
 * NULL, also for unknown values. */
const char *mfile_strerror(int err);

/* Formats one line (printf rules, cut at 1023 bytes) and hands it to `log`.
 * Does nothing when `log` is NULL. */
void mfile_logf(mfile_log_fn log, void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mfile_logf() with a va_list. */
void mfile_vlogf(mfile_log_fn log, void *user, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Logs "<call> <path>: <strerror(errnum)>". Does nothing when `log` is NULL. */
void mfile_log_errno(mfile_log_fn log, void *user, const char *call,
                     const char *path, int errnum);

/* Returns 1 if `name` (a bare file name) is a temporary file of this module
 * (".bbtmp-" prefix), else 0. NULL gives 0. */
int mfile_is_temp_name(const char *name);

/* Creates a new temporary file in `dir` for `final_name`, opened read-write
 * with O_CLOEXEC and mode 0644, and writes its path into tmp_path (capacity
 * `cap` bytes, at least PATH_MAX is always enough). Returns the file
 * descriptor (>= 0), or MFILE_ERR_ARG if a name is too long, or MFILE_ERR_IO
 * (logged). */
int mfile_tmp_create(const char *dir, const char *final_name, char *tmp_path,
                     size_t cap, mfile_log_fn log, void *user);

/* Publishes a complete temporary file: fsyncs `fd` (which stays open and
 * owned by the caller), gives the file its final name dir/final_name and
 * fsyncs `dir`. With replace != 0 it rename()s over any existing file; with
 * replace == 0 it link()s, which fails with MFILE_ERR_EXISTS (nothing
 * logged) when the name is taken, and then removes the temporary name. On
 * success the temporary name is gone. On failure the temporary file is
 * left for the caller to unlink. A failed fsync of the directory after
 * the name exists is logged and not reported (the file is there). */
int mfile_publish(int fd, const char *tmp_path, const char *dir,
                  const char *final_name, int replace, mfile_log_fn log,
                  void *user);

/* The same; with durable == 0 it neither fsyncs the file nor the
 * directory: the name still appears atomically and a process crash loses
 * nothing, but a power cut may lose what the page cache held.  For files
 * written on a latency-critical thread. */
int mfile_publish_ex(int fd, const char *tmp_path, const char *dir,
                     const char *final_name, int replace, int durable,
                     mfile_log_fn log, void *user);

/* Writes `len` bytes as dir/name atomically (temp, fsync, publish, fsync
 * dir) with the replace rule of mfile_publish(). Leaves no temporary file
 * behind on any failure. Returns MFILE_OK or a negative mfile_error_t. */
int mfile_write_atomic(const char *dir, const char *name, const void *data,
                       size_t len, int replace, mfile_log_fn log, void *user);

/* Opens an existing file read-write (O_CLOEXEC) and takes an exclusive
 * flock() on it without waiting: the way one writer at a time continues a
 * recording.  Returns the descriptor (>= 0), MFILE_ERR_NOENT when there is
 * no such file, MFILE_ERR_BUSY when another holds the lock, or
 * MFILE_ERR_IO (logged). */
int mfile_open_locked(const char *path, mfile_log_fn log, void *user);

/* fsyncs a directory so that names created or removed in it are durable.
 * Returns MFILE_OK or MFILE_ERR_IO (logged). */
int mfile_fsync_dir(const char *dir, mfile_log_fn log, void *user);

/* Joins dir and name into out (capacity cap) as "dir/name". Returns MFILE_OK
 * or MFILE_ERR_ARG if it does not fit or an argument is NULL. */
int mfile_join(char *out, size_t cap, const char *dir, const char *name);

/* Writes the low `bytes` (1..8) bytes of v at p, least significant first. */
void mfile_put_le(uint8_t *p, uint64_t v, int bytes);

/* Reads `bytes` (1..8) bytes at p as a little-endian unsigned integer. */
uint64_t mfile_get_le(const uint8_t *p, int bytes);

/* Writes all `len` bytes of buf at file offset `off` (pwrite), going on
 * after short writes and EINTR. Returns 0, or -1 with errno set (EIO when
 * a write made no progress). Logs nothing: the caller knows the path. */
int mfile_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* Reads exactly `len` bytes at file offset `off` into buf (pread), going on
 * after short reads and EINTR. Returns 0, or -1 (errno set, or 0 when the
 * file ended first). */
int mfile_pread_all(int fd, void *buf, size_t len, off_t off);

#endif
