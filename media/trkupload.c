/* trkupload: accepting an uploaded backing track (see trkupload.h).
 *
 * The upload is decoded from memory through libsndfile's virtual I/O (a
 * read-only view of the request body: writes are refused), measured like
 * any source (trkdecode.h), and only then written to disk, byte for byte,
 * under a name of its own.
 */
#include "trkupload.h"

#include <errno.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "trkdecode.h"
#include "trkname.h"

typedef struct {
    const unsigned char *data;
    sf_count_t len;
    sf_count_t pos;
} memio_t;

static sf_count_t mem_get_filelen(void *user)
{
    return ((memio_t *)user)->len;
}

static sf_count_t mem_seek(sf_count_t offset, int whence, void *user)
{
    memio_t *m = user;
    sf_count_t to;

    switch (whence) {
    case SEEK_SET: to = offset; break;
    case SEEK_CUR: to = m->pos + offset; break;
    case SEEK_END: to = m->len + offset; break;
    default: return -1;
    }
    if (to < 0)
        return -1;
    m->pos = to > m->len ? m->len : to;
    return m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user)
{
    memio_t *m = user;
    sf_count_t n = m->len - m->pos;

    if (count < n)
        n = count;
    if (n <= 0)
        return 0;
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user)
{
    (void)ptr;
    (void)count;
    (void)user;
    return 0;
}

static sf_count_t mem_tell(void *user)
{
    return ((memio_t *)user)->pos;
}

/* The file extension for a detected libsndfile format, into buf. */
static void ext_for_format(int format, char *buf, size_t cap)
{
    const int major = format & SF_FORMAT_TYPEMASK;
    const int sub = format & SF_FORMAT_SUBMASK;
    const char *e = NULL;
    SF_FORMAT_INFO fi;

    switch (major) {
    case SF_FORMAT_WAV: case SF_FORMAT_WAVEX: case SF_FORMAT_RF64: e = "wav"; break;
    case SF_FORMAT_AIFF: e = "aiff"; break;
    case SF_FORMAT_FLAC: e = "flac"; break;
    case SF_FORMAT_OGG:
        e = sub == SF_FORMAT_OPUS ? "opus" : sub == SF_FORMAT_VORBIS ? "ogg" : "oga";
        break;
    case SF_FORMAT_MPEG:
        e = sub == SF_FORMAT_MPEG_LAYER_I ? "mp1"
          : sub == SF_FORMAT_MPEG_LAYER_II ? "mp2" : "mp3";
        break;
    default:
        memset(&fi, 0, sizeof fi);
        fi.format = major;
        if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0
            && fi.extension != NULL)
            e = fi.extension;
        break;
    }
    snprintf(buf, cap, "%s", e != NULL && trk_name_is_ext(e) ? e : "audio");
}

int trk_upload_accept(const void *data, size_t len, const char *requested_name,
                      const char *audio_dir, const trk_env_t *env,
                      char *name_out, size_t name_cap)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    SF_VIRTUAL_IO vio = { mem_get_filelen, mem_seek, mem_read, mem_write, mem_tell };
    memio_t m = { data, (sf_count_t)len, 0 };
    char ext[16], name[TRK_NAME_MAX + 1], tmp[4096];
    trk_dec_result_t res;
    SF_INFO info;
    SNDFILE *sf;
    int rc, n, fd = -1;

    if (data == NULL || audio_dir == NULL || name_out == NULL
        || name_cap < TRK_NAME_MAX + 1)
        return TRK_ERR_ARG;
    if (len == 0)
        return TRK_ERR_EMPTY;
    if (len > TRK_UPLOAD_MAX)
        return TRK_ERR_TOO_BIG;

    memset(&info, 0, sizeof info);
    sf = sf_open_virtual(&vio, SFM_READ, &info, &m);
    if (sf == NULL)
        return TRK_ERR_FORMAT;
    /* A long track is refused on its header's word before any decoding,
     * and again on what decoding found (a header may lie). */
    if (info.samplerate > 0 && info.frames > (sf_count_t)TRK_UPLOAD_MAX_SECONDS * info.samplerate) {
        sf_close(sf);
        return TRK_ERR_TOO_LONG;
    }
    rc = trk_dec_run(sf, &info, 0, env, NULL, NULL, &res);
    if (rc == TRK_OK && info.samplerate > 0 &&
        res.src_frames > (uint64_t)TRK_UPLOAD_MAX_SECONDS * (uint64_t)info.samplerate)
        rc = TRK_ERR_TOO_LONG;
    if (rc == TRK_OK && trk_dec_gain_for(res.gated_rms, res.peak) <= 0.0)
        rc = TRK_ERR_SILENT;
    ext_for_format(info.format, ext, sizeof ext);
    sf_close(sf);
    if (rc != TRK_OK)
        return rc;

    rc = trk_name_for_upload(requested_name, ext, 1, name, sizeof name);
    if (rc != TRK_OK)
        return rc;
    fd = mfile_tmp_create(audio_dir, name, tmp, sizeof tmp, log, lu);
    if (fd < 0)
        return fd == MFILE_ERR_ARG ? TRK_ERR_ARG : TRK_ERR_IO;
    if (mfile_pwrite_all(fd, data, len, 0) != 0) {
        mfile_log_errno(log, lu, "write", tmp, errno);
        rc = TRK_ERR_IO;
        goto out;
    }
    rc = TRK_ERR_EXISTS;
    for (n = 1; n <= 99; n++) {
        int pr;
        if (trk_name_for_upload(requested_name, ext, n, name, sizeof name) != TRK_OK) {
            rc = TRK_ERR_ARG;
            break;
        }
        pr = mfile_publish(fd, tmp, audio_dir, name, 0, log, lu);
        if (pr == MFILE_OK) {
            rc = TRK_OK;
            break;
        }
        if (pr != MFILE_ERR_EXISTS) {
            rc = TRK_ERR_IO;
            break;
        }
    }
    if (rc == TRK_OK)
        strcpy(name_out, name);
out:
    close(fd);
    if (rc != TRK_OK)
        unlink(tmp);
    return rc;
}
