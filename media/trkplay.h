/* trkplay: playing a prepared backing track: its cache file (trkcache.h)
 * mapped read-only, so the daemon's tick reads samples straight from the
 * page cache with no decoding, no allocation and no lock.
 *
 * The mapping stays valid even if the cache file is replaced or deleted
 * meanwhile (a rescan re-prepares a changed source under the same name).
 * A handle belongs to its caller; reading one handle from several threads
 * is safe (it is never written after creation).
 */
#ifndef BB_MEDIA_TRKPLAY_H
#define BB_MEDIA_TRKPLAY_H

#include <stdint.h>

#include "track.h"

/* An opened prepared track (read-only mapping). */
typedef struct trk_play trk_play_t;

/* Opens a prepared track for playback: validates its header and length and
 * maps it read-only (with a read-ahead hint, so the pages are usually
 * resident before they are needed). Returns NULL and sets *err (may be
 * NULL) to TRK_ERR_CACHE, _IO, _NOMEM or _ARG on failure. Cost: open,
 * fstat, a 64-byte read, mmap: microseconds, no reading of the samples. */
trk_play_t *trk_play_create(const char *cache_path, int *err);

/* The samples: trk_play_get_frames(t) floats, mono, 48 kHz, already at the
 * final level (|x| <= TRK_PEAK_LIMIT). Valid until trk_play_destroy(t).
 * Reading them never allocates or locks; it may page-fault on a cold
 * cache. NULL for a NULL handle. */
const float *trk_play_get_samples(const trk_play_t *t);

/* Number of samples, 1 .. TRK_MAX_FRAMES; 0 for a NULL handle. */
uint64_t trk_play_get_frames(const trk_play_t *t);

/* Unmaps and frees. NULL is allowed. */
void trk_play_destroy(trk_play_t *t);

#endif
