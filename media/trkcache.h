/* trkcache: the prepared-track cache file: a source decoded once
 * (trkdecode.h) to 48 kHz mono floats at their final level, so that
 * playing a track costs no decoding.
 *
 * The cache file (suffix TRK_CACHE_SUFFIX, one per track, in a cache
 * directory) is
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
 * Cost: trk_cache_convert() is a full decode and write (track.h); run it
 * off the audio path. No globals.
 */
#ifndef BB_MEDIA_TRKCACHE_H
#define BB_MEDIA_TRKCACHE_H

#include <stdint.h>

#include "track.h"

#define TRK_CACHE_HEADER 64    /* bytes before the samples */

/* Prepares the source file at `src_path` into the cache file `cache_path`
 * (whose directory must exist), replacing it atomically. On success fills
 * *info (may be NULL) and returns TRK_OK. On failure the cache file is left
 * as it was, no temporary file remains, and the return value says why:
 * TRK_ERR_EMPTY, _FORMAT, _DECODE, _SILENT, _TOO_LONG, _CHANNELS, _RATE,
 * _RESAMPLE, _IO (logged), _NOMEM, _CANCELLED or _ARG. Blocking: reads the
 * whole source and writes the whole cache; call off the audio path. */
int trk_cache_convert(const char *src_path, const char *cache_path,
                      const trk_env_t *env, trk_info_t *info);

/* Checks whether `cache_path` is a valid prepared version of the current
 * `src_path`. Returns TRK_OK (and fills *info, may be NULL; source_rate and
 * source_channels are 0), TRK_ERR_STALE if the source's size or mtime
 * changed, TRK_ERR_CACHE if the cache is missing or damaged, or TRK_ERR_IO
 * if the source cannot be stat()ed. Cheap: two stat()s and a 64-byte read. */
int trk_cache_check(const char *src_path, const char *cache_path,
                    trk_info_t *info);

/* Reads and validates the header of the open cache file fd, whose length
 * is file_len bytes (magic, version, rate, header size, and a length that
 * matches the frame count). Returns TRK_OK with *frames set, or
 * TRK_ERR_CACHE. */
int trk_cache_read_header(int fd, uint64_t file_len, uint64_t *frames);

#endif
