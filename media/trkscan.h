/* trkscan: the audio directory as the list of backing tracks singers can
 * pick: every playable file, sorted, each with its prepared cache file
 * (trkcache.h) made or refreshed as needed.
 *
 * The result is a plain value the caller owns: the daemon scans on a
 * background thread and hands the result to its main thread, which looks
 * tracks up in it (trk_scan_find(), the protocol's membership check) and
 * opens them for playing (trkplay.h) by their cache path. Nothing in it
 * is shared or changes after creation.
 */
#ifndef BB_MEDIA_TRKSCAN_H
#define BB_MEDIA_TRKSCAN_H

#include <stddef.h>

#include "track.h"

/* The result of scanning an audio directory. */
typedef struct trk_scan trk_scan_t;

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
 * or TRK_ERR_CANCELLED. Blocking; see track.h. `cache_dir`
 * must not be `audio_dir`. */
trk_scan_t *trk_scan_create(const char *audio_dir, const char *cache_dir,
                            const trk_env_t *env, int *err);

/* Number of usable tracks, 0 .. TRK_MAX_TRACKS. NULL gives 0. */
size_t trk_scan_get_count(const trk_scan_t *s);

/* Name (the file name, safe, the public track name) of track i < count,
 * in sorted order; NULL when out of range. Valid until destroy. */
const char *trk_scan_get_name(const trk_scan_t *s, size_t i);

/* Path of track i's prepared cache file, for trk_play_create(); NULL when
 * out of range. */
const char *trk_scan_get_cache_path(const trk_scan_t *s, size_t i);

/* Facts about track i; NULL when out of range. */
const trk_info_t *trk_scan_get_info(const trk_scan_t *s, size_t i);

/* Index of the track called `name` (exact byte comparison), or
 * TRK_ERR_NOT_FOUND. This is the membership check the protocol requires
 * before a requested track is used (PROTOCOL.md §9.9). O(log n). */
int trk_scan_find(const trk_scan_t *s, const char *name);

/* One list from two scans: the tracks of `base` (the host's library) and
 * of `own` (a room's uploads), sorted by name; where both have a name,
 * `own`'s track is the one listed.  Takes both (either may be NULL) and
 * returns the merged list, or NULL when out of memory (both freed). */
trk_scan_t *trk_scan_merge(trk_scan_t *base, trk_scan_t *own);

/* Frees a scan result. NULL is allowed. */
void trk_scan_destroy(trk_scan_t *s);

#endif
