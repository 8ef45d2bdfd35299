/* track: the error strings and the environment helpers shared by the
 * track modules (see track.h).
 */
#include "track.h"

#include <stdarg.h>

const char *trk_strerror(int err)
{
    switch (err) {
    case TRK_OK: return "success";
    case TRK_ERR_ARG: return "invalid argument";
    case TRK_ERR_NOMEM: return "out of memory";
    case TRK_ERR_IO: return "file system call failed";
    case TRK_ERR_FORMAT: return "not an audio file that can be decoded";
    case TRK_ERR_DECODE: return "audio data is damaged (decoding failed)";
    case TRK_ERR_EMPTY: return "file holds no audio";
    case TRK_ERR_SILENT: return "audio is silent";
    case TRK_ERR_TOO_LONG: return "longer than 30 minutes";
    case TRK_ERR_CHANNELS: return "unsupported number of channels";
    case TRK_ERR_RATE: return "unsupported sample rate";
    case TRK_ERR_RESAMPLE: return "resampling failed";
    case TRK_ERR_CACHE: return "prepared track missing or damaged";
    case TRK_ERR_STALE: return "prepared track is out of date";
    case TRK_ERR_NAME: return "unsafe track name";
    case TRK_ERR_EXISTS: return "no free track name";
    case TRK_ERR_TOO_BIG: return "file larger than 32 MiB";
    case TRK_ERR_CANCELLED: return "cancelled";
    case TRK_ERR_NOT_FOUND: return "no such track";
    default: return "unknown track error";
    }
}

int trk_env_cancelled(const trk_env_t *env)
{
    /* Relaxed: the flag carries no data, it only asks us to stop soon. */
    return env != NULL && env->cancel != NULL
        && atomic_load_explicit(env->cancel, memory_order_relaxed) != 0;
}

void trk_env_logf(const trk_env_t *env, const char *fmt, ...)
{
    va_list ap;

    if (env == NULL || env->log == NULL)
        return;
    va_start(ap, fmt);
    mfile_vlogf(env->log, env->log_user, fmt, ap);
    va_end(ap);
}

void trk_env_log_errno(const trk_env_t *env, const char *call, const char *path,
                       int errnum)
{
    if (env != NULL)
        mfile_log_errno(env->log, env->log_user, call, path, errnum);
}
