/* trkcache: the prepared-track cache file (see trkcache.h).
 *
 * Preparing writes the unscaled 48 kHz samples to a temporary file first,
 * because the gain is only known once the whole track has been measured;
 * a second pass scales the file in place, the header is written last, and
 * only then is the file renamed over the cache name. So a cache name always
 * holds a complete, consistent file, and a crash leaves at worst a
 * ".bbtmp-" file that a later scan deletes.
 *
 * The cache stores native floats and the header is encoded explicitly as
 * little-endian (mfile_put_le()); the build refuses a big-endian host
 * rather than writing a file another host would misread.
 */
#include "trkcache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trkdecode.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "trkcache.c writes cache samples as native floats: little-endian hosts only"
#endif

#define HDR_VERSION 1u

static const uint8_t HDR_MAGIC[8] = { 'B', 'B', 'T', 'R', 'A', 'C', 'K', 0 };

typedef struct {
    uint64_t frames;
    uint64_t src_size;
    int64_t src_mtime_s;
    int64_t src_mtime_ns;
    float gain;
    float rms_dbfs;
} cache_hdr_t;

static void put_f32(uint8_t *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    mfile_put_le(p, v, 4);
}

static float get_f32(const uint8_t *p)
{
    uint32_t v = (uint32_t)mfile_get_le(p, 4);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

static void hdr_encode(const cache_hdr_t *h, uint8_t b[TRK_CACHE_HEADER])
{
    memset(b, 0, TRK_CACHE_HEADER);
    memcpy(b, HDR_MAGIC, sizeof HDR_MAGIC);
    mfile_put_le(b + 8, HDR_VERSION, 4);
    mfile_put_le(b + 12, TRK_SAMPLE_RATE, 4);
    mfile_put_le(b + 16, h->frames, 8);
    mfile_put_le(b + 24, h->src_size, 8);
    mfile_put_le(b + 32, (uint64_t)h->src_mtime_s, 8);
    mfile_put_le(b + 40, (uint64_t)h->src_mtime_ns, 8);
    put_f32(b + 48, h->gain);
    put_f32(b + 52, h->rms_dbfs);
    mfile_put_le(b + 56, TRK_CACHE_HEADER, 4);
}

/* Decodes and validates a header against the file length. */
static int hdr_decode(const uint8_t b[TRK_CACHE_HEADER], uint64_t file_len, cache_hdr_t *h)
{
    if (memcmp(b, HDR_MAGIC, sizeof HDR_MAGIC) != 0 || mfile_get_le(b + 8, 4) != HDR_VERSION
        || mfile_get_le(b + 12, 4) != TRK_SAMPLE_RATE
        || mfile_get_le(b + 56, 4) != TRK_CACHE_HEADER)
        return TRK_ERR_CACHE;
    h->frames = mfile_get_le(b + 16, 8);
    h->src_size = mfile_get_le(b + 24, 8);
    h->src_mtime_s = (int64_t)mfile_get_le(b + 32, 8);
    h->src_mtime_ns = (int64_t)mfile_get_le(b + 40, 8);
    h->gain = get_f32(b + 48);
    h->rms_dbfs = get_f32(b + 52);
    if (h->frames == 0 || h->frames > TRK_MAX_FRAMES
        || file_len != TRK_CACHE_HEADER + h->frames * sizeof(float))
        return TRK_ERR_CACHE;
    return TRK_OK;
}

int trk_cache_read_header(int fd, uint64_t file_len, uint64_t *frames)
{
    uint8_t b[TRK_CACHE_HEADER];
    cache_hdr_t h;

    if (mfile_pread_all(fd, b, TRK_CACHE_HEADER, 0) != 0
        || hdr_decode(b, file_len, &h) != TRK_OK)
        return TRK_ERR_CACHE;
    *frames = h.frames;
    return TRK_OK;
}

int trk_cache_check(const char *src_path, const char *cache_path,
                    trk_info_t *info)
{
    uint8_t b[TRK_CACHE_HEADER];
    struct stat src_st, st;
    cache_hdr_t h;
    int fd, rc;

    if (src_path == NULL || cache_path == NULL)
        return TRK_ERR_ARG;
    if (stat(src_path, &src_st) != 0)
        return TRK_ERR_IO;
    fd = open(cache_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TRK_ERR_CACHE;
    if (fstat(fd, &st) != 0 || mfile_pread_all(fd, b, TRK_CACHE_HEADER, 0) != 0) {
        close(fd);
        return TRK_ERR_CACHE;
    }
    close(fd);
    rc = hdr_decode(b, (uint64_t)st.st_size, &h);
    if (rc != TRK_OK)
        return rc;
    if (h.src_size != (uint64_t)src_st.st_size
        || h.src_mtime_s != (int64_t)src_st.st_mtim.tv_sec
        || h.src_mtime_ns != (int64_t)src_st.st_mtim.tv_nsec)
        return TRK_ERR_STALE;
    if (info != NULL) {
        memset(info, 0, sizeof *info);
        info->frames = h.frames;
        info->gain = h.gain;
        info->source_rms_dbfs = h.rms_dbfs;
    }
    return TRK_OK;
}

typedef struct {
    int fd;
    off_t pos;
    const char *path;
    const trk_env_t *env;
} file_sink_t;

static int file_sink(void *ctx, const float *x, size_t n)
{
    file_sink_t *fs = ctx;

    if (mfile_pwrite_all(fs->fd, x, n * sizeof(float), fs->pos) != 0) {
        trk_env_log_errno(fs->env, "pwrite", fs->path, errno);
        return TRK_ERR_IO;
    }
    fs->pos += (off_t)(n * sizeof(float));
    return TRK_OK;
}

/* Multiplies every sample of the temporary cache file by gain, in place. */
static int scale_in_place(int fd, uint64_t frames, float gain, const char *path,
                          const trk_env_t *env)
{
    float buf[16384];
    uint64_t done = 0;

    while (done < frames) {
        size_t n = frames - done < 16384 ? (size_t)(frames - done) : 16384;
        off_t off = (off_t)(TRK_CACHE_HEADER + done * sizeof(float));
        size_t i;
        if (mfile_pread_all(fd, buf, n * sizeof(float), off) != 0) {
            trk_env_log_errno(env, "pread", path, errno ? errno : EIO);
            return TRK_ERR_IO;
        }
        for (i = 0; i < n; i++)
            buf[i] *= gain;
        if (mfile_pwrite_all(fd, buf, n * sizeof(float), off) != 0) {
            trk_env_log_errno(env, "pwrite", path, errno);
            return TRK_ERR_IO;
        }
        done += n;
    }
    return TRK_OK;
}

/* Splits path into its directory (written to dir) and its last component. */
static int split_path(const char *path, char *dir, size_t cap, const char **base)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        if (cap < 2)
            return TRK_ERR_ARG;
        strcpy(dir, ".");
        *base = path;
    } else {
        size_t len = (size_t)(slash - path);
        if (len == 0)
            len = 1;  /* "/name": the root */
        if (len >= cap)
            return TRK_ERR_ARG;
        memcpy(dir, path, len);
        dir[len] = '\0';
        *base = slash + 1;
    }
    return **base != '\0' ? TRK_OK : TRK_ERR_ARG;
}

/* Opens and checks the source: its descriptor (the caller closes it), its
 * stat and libsndfile's handle on it with what it announced. */
static int open_source(const char *src_path, const trk_env_t *env, int *fd, struct stat *st,
                       SNDFILE **sf, SF_INFO *info)
{
    *fd = open(src_path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        trk_env_log_errno(env, "open", src_path, errno);
        return TRK_ERR_IO;
    }
    /* fstat of the descriptor we decode: the size and mtime recorded are
     * those of the very bytes we read, even if the file is replaced now. */
    if (fstat(*fd, st) != 0) {
        trk_env_log_errno(env, "fstat", src_path, errno);
        return TRK_ERR_IO;
    }
    if (!S_ISREG(st->st_mode))
        return TRK_ERR_FORMAT;
    if (st->st_size == 0)
        return TRK_ERR_EMPTY;
    memset(info, 0, sizeof *info);
    *sf = sf_open_fd(*fd, SFM_READ, info, SF_FALSE);
    if (*sf == NULL)
        return TRK_ERR_FORMAT;
    return trk_dec_check_info(info);
}

/* Decodes sf into the temporary file tmp_fd (path tmp), sets its level and
 * writes its header; fills *h. */
static int fill_cache(SNDFILE *sf, const SF_INFO *sinfo, const struct stat *st, int tmp_fd,
                      const char *tmp, const trk_env_t *env, cache_hdr_t *h)
{
    uint8_t hb[TRK_CACHE_HEADER];
    file_sink_t fs = { tmp_fd, TRK_CACHE_HEADER, tmp, env };
    trk_dec_result_t res;
    double gain;
    int rc;

    rc = trk_dec_run(sf, sinfo, 1, env, file_sink, &fs, &res);
    if (rc != TRK_OK)
        return rc;
    gain = trk_dec_gain_for(res.gated_rms, res.peak);
    if (gain <= 0.0)
        return TRK_ERR_SILENT;
    rc = scale_in_place(tmp_fd, res.out_frames, (float)gain, tmp, env);
    if (rc != TRK_OK)
        return rc;
    memset(h, 0, sizeof *h);
    h->frames = res.out_frames;
    h->src_size = (uint64_t)st->st_size;
    h->src_mtime_s = (int64_t)st->st_mtim.tv_sec;
    h->src_mtime_ns = (int64_t)st->st_mtim.tv_nsec;
    h->gain = (float)gain;
    h->rms_dbfs = (float)(20.0 * log10(res.gated_rms));
    hdr_encode(h, hb);
    if (mfile_pwrite_all(tmp_fd, hb, TRK_CACHE_HEADER, 0) != 0) {
        trk_env_log_errno(env, "pwrite", tmp, errno);
        return TRK_ERR_IO;
    }
    return TRK_OK;
}

int trk_cache_convert(const char *src_path, const char *cache_path,
                      const trk_env_t *env, trk_info_t *info)
{
    char dir[4096], tmp[4096];
    const char *base;
    struct stat st;
    cache_hdr_t h;
    SNDFILE *sf = NULL;
    SF_INFO sinfo;
    int src_fd = -1, tmp_fd = -1, rc;

    if (src_path == NULL || cache_path == NULL
        || split_path(cache_path, dir, sizeof dir, &base) != TRK_OK)
        return TRK_ERR_ARG;
    rc = open_source(src_path, env, &src_fd, &st, &sf, &sinfo);
    if (rc != TRK_OK)
        goto out;
    tmp_fd = mfile_tmp_create(dir, base, tmp, sizeof tmp, env ? env->log : NULL,
                              env ? env->log_user : NULL);
    if (tmp_fd < 0) {
        rc = tmp_fd == MFILE_ERR_ARG ? TRK_ERR_ARG : TRK_ERR_IO;
        goto out;
    }
    rc = fill_cache(sf, &sinfo, &st, tmp_fd, tmp, env, &h);
    if (rc == TRK_OK && mfile_publish(tmp_fd, tmp, dir, base, 1, env ? env->log : NULL,
                                      env ? env->log_user : NULL) != MFILE_OK)
        rc = TRK_ERR_IO;
    if (rc == TRK_OK && info != NULL) {
        info->frames = h.frames;
        info->gain = h.gain;
        info->source_rms_dbfs = h.rms_dbfs;
        info->source_rate = sinfo.samplerate;
        info->source_channels = sinfo.channels;
    }
out:
    if (sf != NULL)
        sf_close(sf);
    if (src_fd >= 0)
        close(src_fd);
    if (tmp_fd >= 0) {
        close(tmp_fd);
        if (rc != TRK_OK)
            unlink(tmp);
    }
    return rc;
}
