/* track: backing tracks, from a file an organiser drops into the audio
 * directory (or uploads) to samples the daemon writes into the timeline.
 *
 * A source file is anything libsndfile decodes (WAV, AIFF, FLAC, Ogg Vorbis,
 * Ogg Opus, MP3, ...). Before it can be played it is *prepared* once into a
 * cache file:
 *
 *   - mono: the average of all channels;
 *   - 48 000 Hz: libsamplerate, SRC_SINC_MEDIUM_QUALITY, fed in blocks of
 *     4096 source frames so memory stays bounded whatever the length; a
 *     48 kHz source is copied unchanged;
 *   - loudness-normalised by one rule, so that tracks sound equally loud
 *     next to each other and none can clip: measure the gated RMS (mean
 *     square over the 100 ms blocks of the 48 kHz mono signal whose own
 *     RMS is above -60 dBFS, so leading and trailing silence do not count;
 *     the plain RMS if no block passes) and the peak, then apply
 *         gain = min(10^(-20/20) / gated_rms, 0.8 / peak)
 *     i.e. RMS -20 dBFS unless that would put the peak above 0.8 full
 *     scale (-1.9 dBFS). The original multiplied every 16-bit track by 0.8;
 *     ours gives the same peak ceiling with comparable levels. A source
 *     whose peak stays below 2^-15 (one 16-bit step) is refused as silent.
 *     Non-finite source samples (float files) count as 0 and source values
 *     are clamped to +-16 (trk_clean_sample()).
 *
 * The cache file (suffix ".bbtrk", one per track, in a cache directory) is
 *   offset  0  magic "BBTRACK\0"                       8 bytes
 *           8  format version (1), u32 LE
 *          12  sample rate (48000), u32 LE
 *          16  frames, u64 LE
 *          24  source file size in bytes, u64 LE
 *          32  source mtime seconds, s64 LE
 *          40  source mtime nanoseconds, s64 LE
 *          48  gain applied (linear), f32 LE
 *          52  gated RMS of the source before gain (dBFS), f32 LE
 *          56  header size (64), u32 LE
 *          60  reserved, 0
 *          64  frames x f32 LE samples, mono, 48 kHz, final level
 * and is written atomically (temp file in the cache directory, fsync,
 * rename). A cache whose recorded source size or mtime differs from the
 * source, or whose header or length is wrong, is stale and re-prepared.
 *
 * Bounds: sources of 8 000 .. 384 000 Hz, 1 .. 64 channels, at most
 * TRK_MAX_SECONDS long and TRK_MAX_SOURCE_SAMPLES samples over all
 * channels; uploads at most TRK_UPLOAD_MAX bytes. A track's
 * public name is its file name, which must pass trk_name_is_safe().
 *
 * Threading and cost: no globals and no shared mutable state; every
 * function may run on any thread, and the handles a function returns belong
 * to the caller. Preparing a track decodes and resamples it (about half a
 * second of one core per minute of 44.1 kHz stereo, so up to about 15 s for
 * the longest track) and writes 4 bytes per output sample (a 30-minute
 * track is 346 MB): run trk_scan_create() and trk_convert() on a background
 * thread, never on the daemon's tick. Playing
 * a prepared track (trk_track_create()) only maps it.
 * One caveat outside our control: libsndfile keeps the reason of the last
 * failed open in a process-wide variable, so two threads whose opens fail
 * at the same moment may log each other's reason text.
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

/* An opened prepared track (read-only mapping). */
typedef struct trk_track trk_track_t;

/* The result of scanning an audio directory. */
typedef struct trk_scan trk_scan_t;

/* Returns a static English description of a trk_error_t; never NULL. */
const char *trk_strerror(int err);

/* The source-sample rule: NaN and infinities become 0, everything else is
 * clamped to [-16, 16] (a float file 24 dB over full scale is broken, not
 * loud). */
float trk_clean_sample(float x);

/* The loudness rule: the linear gain for a track whose gated RMS is
 * `gated_rms` and whose peak is `peak` (both linear, full scale 1.0):
 * min(10^(TRK_TARGET_RMS_DBFS/20) / gated_rms, TRK_PEAK_LIMIT / peak).
 * Returns 0 when peak < 2^-15 (silent) or either argument is not a
 * positive finite number. */
double trk_gain_for(double gated_rms, double peak);

/* Returns 1 if `name` may be a track name: 1..TRK_NAME_MAX bytes of valid
 * UTF-8, not starting with '.', without '/', without control characters
 * (C0, DEL, C1) and without invisible format characters that could make one
 * name look like another (zero-width and bidirectional controls, U+FEFF).
 * Returns 0 otherwise, also for NULL. */
int trk_name_is_safe(const char *name);

/* Prepares the source file at `src_path` into the cache file `cache_path`
 * (whose directory must exist), replacing it atomically. On success fills
 * *info (may be NULL) and returns TRK_OK. On failure the cache file is left
 * as it was, no temporary file remains, and the return value says why:
 * TRK_ERR_EMPTY, _FORMAT, _DECODE, _SILENT, _TOO_LONG, _CHANNELS, _RATE,
 * _RESAMPLE, _IO (logged), _NOMEM, _CANCELLED or _ARG. Blocking: reads the
 * whole source and writes the whole cache; call off the audio path. */
int trk_convert(const char *src_path, const char *cache_path,
                const trk_env_t *env, trk_info_t *info);

/* Checks whether `cache_path` is a valid prepared version of the current
 * `src_path`. Returns TRK_OK (and fills *info, may be NULL; source_rate and
 * source_channels are 0), TRK_ERR_STALE if the source's size or mtime
 * changed, TRK_ERR_CACHE if the cache is missing or damaged, or TRK_ERR_IO
 * if the source cannot be stat()ed. Cheap: two stat()s and a 64-byte read. */
int trk_cache_check(const char *src_path, const char *cache_path,
                    trk_info_t *info);

/* Opens a prepared track for playback: validates its header and length and
 * maps it read-only (with a read-ahead hint, so the pages are usually
 * resident before they are needed). Returns NULL and sets *err (may be
 * NULL) to TRK_ERR_CACHE, _IO or _NOMEM on failure. The mapping stays valid
 * even if the cache file is replaced or deleted meanwhile. Cost: open,
 * fstat, mmap: microseconds, no reading of the samples. */
trk_track_t *trk_track_create(const char *cache_path, int *err);

/* The samples: trk_track_get_frames(t) floats, mono, 48 kHz, already at the
 * final level (|x| <= TRK_PEAK_LIMIT). Valid until trk_track_destroy(t).
 * Reading them never allocates or locks; it may page-fault on a cold
 * cache. */
const float *trk_track_get_samples(const trk_track_t *t);

/* Number of samples, 1 .. TRK_MAX_FRAMES. */
uint64_t trk_track_get_frames(const trk_track_t *t);

/* Unmaps and frees. NULL is allowed. */
void trk_track_destroy(trk_track_t *t);

/* Scans `audio_dir`: lists its regular files (symlinks followed) sorted by
 * name with strcmp() (the original's order), skipping dotfiles (which
 * includes in-progress uploads), names starting with "README" in any case,
 * names ending in ".tmp", ".part", "~" or TRK_CACHE_SUFFIX, directories and
 * other non-files, and TRK_METRONOME_NAME. Every listed file whose cache in
 * `cache_dir` (created if missing, mode 0755) is missing or stale is
 * prepared. A file with an unsafe name or that cannot be prepared is
 * logged, one line with its name and the reason, and left out; nothing a
 * file contains can make the scan fail. Cache files of tracks no longer
 * listed, and temporary files older than an hour, are removed from
 * `cache_dir`. At most TRK_MAX_TRACKS tracks are listed (the rest are
 * logged). Returns the result, owned by the caller (who may hand it to
 * another thread), or NULL with *err set (may be NULL) to TRK_ERR_IO when
 * `audio_dir` cannot be read or `cache_dir` cannot be created, TRK_ERR_NOMEM
 * or TRK_ERR_CANCELLED. Blocking; see the top of this file. `cache_dir`
 * must not be `audio_dir`. */
trk_scan_t *trk_scan_create(const char *audio_dir, const char *cache_dir,
                            const trk_env_t *env, int *err);

/* Number of usable tracks, 0 .. TRK_MAX_TRACKS. NULL gives 0. */
size_t trk_scan_get_count(const trk_scan_t *s);

/* Name (the file name, safe, the public track name) of track i < count,
 * in sorted order; NULL when out of range. Valid until destroy. */
const char *trk_scan_get_name(const trk_scan_t *s, size_t i);

/* Path of track i's prepared cache file, for trk_track_create(); NULL when
 * out of range. */
const char *trk_scan_get_cache_path(const trk_scan_t *s, size_t i);

/* Facts about track i; NULL when out of range. */
const trk_info_t *trk_scan_get_info(const trk_scan_t *s, size_t i);

/* Index of the track called `name` (exact byte comparison), or
 * TRK_ERR_NOT_FOUND. This is the membership check the protocol requires
 * before a requested track is used (PROTOCOL.md §9.9). O(log n). */
int trk_scan_find(const trk_scan_t *s, const char *name);

/* Frees a scan result. NULL is allowed. */
void trk_scan_destroy(trk_scan_t *s);

/* Builds an upload's file name from the name the user asked for, into out
 * (capacity cap): the last path component (after '/' or '\'), its own
 * extension removed (a final '.' followed by 1..5 ASCII letters or
 * digits), invalid UTF-8, control and invisible characters and any of
 * / \ : * ? " < > | replaced by '_', runs of spaces collapsed, leading
 * spaces, dots and '-' and trailing spaces and dots trimmed, "track "
 * prefixed to a name the scanner would skip as a README, "upload" if
 * nothing is left; then " (n)" when n >= 2, then "." and `ext`; cut at a
 * character boundary so the whole stays within TRK_NAME_MAX bytes.
 * `requested` may be NULL. `ext` is 1..8 ASCII letters or digits. Returns
 * TRK_OK (the result passes trk_name_is_safe()) or TRK_ERR_ARG. */
int trk_upload_name(const char *requested, const char *ext, int n, char *out,
                    size_t cap);

/* Accepts an uploaded backing track: `len` bytes at `data`, which must
 * decode completely with libsndfile (from memory, sf_open_virtual) to a
 * non-silent source within the bounds above. The file is stored byte for
 * byte in `audio_dir` under trk_upload_name(requested_name, ext, n) where
 * ext follows the detected format (wav, flac, ogg, opus, mp3, aiff, ...)
 * and n is the first of 1, 2, .. 99 whose name is free: an existing track
 * is never overwritten. It is written to a temporary dotfile (which the
 * scanner ignores), fsynced and linked into place, so a half-written file
 * never appears under a track name. On success writes the track name into
 * name_out (capacity name_cap, TRK_NAME_MAX + 1 is enough) and returns
 * TRK_OK. Errors: TRK_ERR_EMPTY (len 0 or no frames), _TOO_BIG, _FORMAT,
 * _DECODE, _SILENT, _TOO_LONG, _CHANNELS, _RATE, _EXISTS (99 names taken),
 * _IO (logged), _NOMEM, _ARG; on any error nothing is left in audio_dir.
 * The new track is not prepared here: the daemon's next scan does it (a
 * caller that wants it ready at once may call trk_convert()). Cost: one
 * full decode of the upload, then one write and fsync. */
int trk_upload_accept(const void *data, size_t len, const char *requested_name,
                      const char *audio_dir, const trk_env_t *env,
                      char *name_out, size_t name_cap);

#endif
