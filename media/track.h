/* track: backing tracks, and the vocabulary every track module shares:
 * the bounds, the error codes, the caller's environment (logging and
 * cancellation) and the facts about a prepared track.
 *
 * A backing track goes from a file an organiser drops into the audio
 * directory (or uploads) to samples the daemon writes into the timeline,
 * through one module per step:
 *   trkname.h    what a track may be called (and an upload's name)
 *   trkdecode.h  decoding any libsndfile format to 48 kHz mono, loudness
 *   trkcache.h   the prepared ".bbtrk" cache file: convert, check
 *   trkplay.h    playing a prepared track (a read-only mapping)
 *   trkscan.h    scanning the audio directory, preparing what changed
 *   trkupload.h  accepting an uploaded file
 *
 * Bounds: sources of 8 000 .. 384 000 Hz, 1 .. 64 channels, at most
 * TRK_MAX_SECONDS long and TRK_MAX_SOURCE_SAMPLES samples over all
 * channels; uploads at most TRK_UPLOAD_MAX bytes. A track's public name is
 * its file name, which must pass trk_name_is_safe().
 *
 * Threading and cost: no globals and no shared mutable state; every
 * function may run on any thread, and the handles a function returns belong
 * to the caller. Preparing a track decodes and resamples it (about half a
 * second of one core per minute of 44.1 kHz stereo, so up to about 15 s for
 * the longest track) and writes 4 bytes per output sample (a 30-minute
 * track is 346 MB): run trk_scan_create() and trk_cache_convert() on a
 * background thread, never on the daemon's tick. Playing a prepared track
 * (trk_play_create()) only maps it. One caveat outside our control:
 * libsndfile keeps the reason of the last failed open in a process-wide
 * variable, so two threads whose opens fail at the same moment may log
 * each other's reason text.
 *
 * Errors: 0 for success, a negative trk_error_t otherwise; trk_strerror().
 * Logging: through the caller's trk_log_fn, one line per event (see mfile.h).
 */
#ifndef BB_MEDIA_TRACK_H
#define BB_MEDIA_TRACK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mfile.h"

#define TRK_SAMPLE_RATE 48000          /* Hz, of every prepared track */
#define TRK_MAX_SECONDS 1800           /* longest source accepted, seconds */
#define TRK_MAX_FRAMES ((uint64_t)TRK_MAX_SECONDS * TRK_SAMPLE_RATE)
#define TRK_MIN_SOURCE_RATE 8000       /* Hz */
#define TRK_MAX_SOURCE_RATE 384000     /* Hz */
#define TRK_MAX_CHANNELS 64
/* Most source samples (frames x channels) decoded for one file: 30 minutes
 * of 96 kHz stereo. Bounds the CPU a small, highly compressed file can
 * cost (a 32 MiB upload of near-silence at 384 kHz x 64 channels would
 * otherwise decode for minutes). */
#define TRK_MAX_SOURCE_SAMPLES ((uint64_t)TRK_MAX_SECONDS * 96000 * 2)
#define TRK_NAME_MAX 100               /* bytes of UTF-8 in a track name */
#define TRK_UPLOAD_MAX ((size_t)32 << 20) /* bytes: 32 MiB */
#define TRK_UPLOAD_MAX_SECONDS 900     /* longest upload: its prepared audio is
                                          at most 173 MB (48 kHz float) */
#define TRK_MAX_TRACKS 1000            /* tracks listed by one scan */
#define TRK_TARGET_RMS_DBFS (-20.0)    /* loudness target, gated RMS */
#define TRK_PEAK_LIMIT 0.8             /* peak ceiling after gain, linear */
#define TRK_CACHE_SUFFIX ".bbtrk"
/* The protocol's pseudo-track (PROTOCOL.md §6.1); a file of this name is
 * never listed, so the two cannot be confused. */
#define TRK_METRONOME_NAME "metronome -- set BPM below"

typedef enum {
    TRK_OK = 0,
    TRK_ERR_ARG = -1,        /* invalid argument */
    TRK_ERR_NOMEM = -2,      /* out of memory */
    TRK_ERR_IO = -3,         /* a system call failed (logged with errno) */
    TRK_ERR_FORMAT = -4,     /* not an audio file libsndfile can decode */
    TRK_ERR_DECODE = -5,     /* decoding failed or stopped early */
    TRK_ERR_EMPTY = -6,      /* no audio at all (empty file, 0 frames) */
    TRK_ERR_SILENT = -7,     /* only silence */
    TRK_ERR_TOO_LONG = -8,   /* longer than TRK_MAX_SECONDS, or more than
                                TRK_MAX_SOURCE_SAMPLES over all channels */
    TRK_ERR_CHANNELS = -9,   /* channel count outside 1..TRK_MAX_CHANNELS */
    TRK_ERR_RATE = -10,      /* sample rate outside the accepted range */
    TRK_ERR_RESAMPLE = -11,  /* libsamplerate failed */
    TRK_ERR_CACHE = -12,     /* cache file missing, damaged or not ours */
    TRK_ERR_STALE = -13,     /* cache file valid but its source changed */
    TRK_ERR_NAME = -14,      /* unsafe track name */
    TRK_ERR_EXISTS = -15,    /* no free name for an upload */
    TRK_ERR_TOO_BIG = -16,   /* upload larger than TRK_UPLOAD_MAX */
    TRK_ERR_CANCELLED = -17, /* the caller's cancel flag was raised */
    TRK_ERR_NOT_FOUND = -18  /* no track of that name */
} trk_error_t;

typedef mfile_log_fn trk_log_fn;

/* What a long-running call needs from its caller. Any field may be 0/NULL:
 * no logging, no cancellation. `cancel` is polled between blocks of
 * decoding; when it reads non-zero the call stops, cleans up and returns
 * TRK_ERR_CANCELLED (within a few milliseconds). */
typedef struct {
    trk_log_fn log;
    void *log_user;
    const atomic_int *cancel;
} trk_env_t;

/* Facts about one prepared track. */
typedef struct {
    uint64_t frames;          /* samples at 48 kHz, 1 .. TRK_MAX_FRAMES */
    float gain;               /* linear gain that was applied */
    float source_rms_dbfs;    /* gated RMS before the gain, dBFS */
    int source_rate;          /* Hz; 0 when read back from a cache */
    int source_channels;      /* 0 when read back from a cache */
} trk_info_t;

/* Returns a static English description of a trk_error_t; never NULL. */
const char *trk_strerror(int err);

/* 1 when env's cancel flag is raised, else 0 (also for a NULL env or
 * flag). Relaxed: the flag carries no data, it only asks to stop soon. */
int trk_env_cancelled(const trk_env_t *env);

/* Logs one line through env's logger (printf rules, as mfile_logf()).
 * Does nothing for a NULL env or logger. */
void trk_env_logf(const trk_env_t *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs "<call> <path>: <strerror(errnum)>" through env's logger. */
void trk_env_log_errno(const trk_env_t *env, const char *call, const char *path,
                       int errnum);

#endif
