/* recdir: what the recordings directory holds as a whole: pruning the
 * songs beyond the last `keep`, the listing page (index.html) and each
 * song's Audacity project (SONG.lof).
 *
 * Pruning and the listing only ever consider names that start with a SONG
 * stamp followed by '.' or '-' and end in ".wav" or ".lof" (or ".opus"
 * after "-stem-"), i.e. names rec_file_name() makes (recname.h);
 * index.html, .keep and everything else are never touched.
 *
 * Cost: each call reads the directory and writes or deletes a few files
 * with an fsync; call them when a song closes, not per tick. No globals;
 * the functions may run on any thread, though two at once on one directory
 * would race on index.html (the last write wins, whole).
 */
#ifndef BB_MEDIA_RECDIR_H
#define BB_MEDIA_RECDIR_H

#include <stdint.h>

#include "recname.h"

/* Writes SONG.lof for the song that started at song_start_clock: one line
 * per recording of that song, the mix and its parts first, then the stems
 * in name order:
 *     file "SONG-stem-17.wav" offset 12.345000000
 * where offset is (file origin - song_start_clock) / 48000 s, read from
 * each WAV's 'bext' chunk (recbext.h) or each Opus stem's tags
 * (oggpage.h), printed with 9 decimals (exact to well under a sample;
 * Audacity rounds to the nearest sample). Files without our origin, or
 * whose names Audacity could not parse (a '"' or '#'), are left out with a
 * log line. Paths are relative: Audacity looks for them beside the .lof.
 * Written atomically, replacing an older one. Returns REC_OK, REC_ERR_ARG,
 * REC_ERR_NOMEM or REC_ERR_IO. */
int rec_lof_write(const char *dir, int64_t song_start_clock, rec_log_fn log,
                  void *log_user);

/* Keeps the `keep` (>= 1) most recent songs of `dir` (by SONG stamp) and
 * deletes every file of the older ones (their mixes, parts, stems and
 * .lof). Also deletes this library's temporary files older than an hour.
 * Touches no other name. Call it after creating a new song's mix, so the
 * new song counts among those kept. Returns the number of songs deleted
 * (>= 0), or REC_ERR_ARG / REC_ERR_IO / REC_ERR_NOMEM. Failures to delete
 * single files are logged and skipped. */
int rec_prune(const char *dir, int keep, rec_log_fn log, void *log_user);

/* Writes dir/index.html atomically: title and heading "Recordings", the
 * songs newest first, each with its start time in UTC linking its mix
 * (size in MB, 10^6 bytes, two decimals), its parts, its stems and its
 * .lof, and a line saying that only the `keep` most recent songs are
 * kept. Every name is HTML-escaped in text and percent-encoded then
 * escaped in links. Returns REC_OK, REC_ERR_ARG, REC_ERR_NOMEM or
 * REC_ERR_IO. */
int rec_listing_write(const char *dir, int keep, rec_log_fn log,
                      void *log_user);

#endif
