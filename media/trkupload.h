/* trkupload: a backing track uploaded by a room's organiser or leader (the worker's
 * /api/upload), checked by decoding it completely before a single byte is
 * stored, then stored under a new, safe name that never replaces a track.
 *
 * The daemon's next scan (trkscan.h) prepares it like any other file.
 */
#ifndef BB_MEDIA_TRKUPLOAD_H
#define BB_MEDIA_TRKUPLOAD_H

#include <stddef.h>

#include "track.h"

/* Accepts an uploaded backing track: `len` bytes at `data`, which must
 * decode completely with libsndfile (from memory, sf_open_virtual) to a
 * non-silent source within the bounds above. The file is stored byte for
 * byte in `audio_dir` under trk_name_for_upload(requested_name, ext, n) where
 * ext follows the detected format (wav, flac, ogg, opus, mp3, aiff, ...)
 * and n is the first of 1, 2, .. 99 whose name is free: an existing track
 * is never overwritten. It is written to a temporary dotfile (which the
 * scanner ignores), fsynced and linked into place, so a half-written file
 * never appears under a track name. On success writes the track name into
 * name_out (capacity name_cap, TRK_NAME_MAX + 1 is enough) and returns
 * TRK_OK. Errors: TRK_ERR_EMPTY (len 0 or no frames), _TOO_BIG, _FORMAT,
 * _DECODE, _SILENT, _TOO_LONG (over TRK_UPLOAD_MAX_SECONDS), _CHANNELS, _RATE,
 * _EXISTS (99 names taken),
 * _IO (logged), _NOMEM, _ARG; on any error nothing is left in audio_dir.
 * The new track is not prepared here: the daemon's next scan does it (a
 * caller that wants it ready at once may call trk_cache_convert()). Cost: one
 * full decode of the upload, then one write and fsync. */
int trk_upload_accept(const void *data, size_t len, const char *requested_name,
                      const char *audio_dir, const trk_env_t *env,
                      char *name_out, size_t name_cap);

#endif
