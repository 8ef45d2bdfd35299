/* recdir: what the recordings directory holds as a whole: pruning the
 * songs beyond the last `keep`, each song's Audacity project (SONG.lof)
 * and the listing the API serves (JSON).
 *
 * Pruning and the listing only ever consider names that start with a SONG
 * stamp followed by '.' or '-' and end in ".wav" or ".lof" (or ".opus"
 * after "-stem-"), i.e. names rec_file_name() makes (recname.h);
 * .keep and everything else are never touched.
 *
 * Cost: each call reads the directory and writes or deletes a few files
 * with an fsync; call them when a song closes, not per tick. No globals;
 * the functions may run on any thread, though two at once on one directory
 * would race on index.html (the last write wins, whole).
 */
#ifndef BB_MEDIA_RECDIR_H
#define BB_MEDIA_RECDIR_H

#include <stdint.h>

#include "jsonw.h"
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

/* True if `name` is a recording file (a mix, a part, a stem or a project
 * rec_file_name() would make) spelt in [A-Za-z0-9._-]: what may be served
 * from the directory, nothing else (no path, no temporary file, nothing a
 * URL or a header would have to escape). */
int rec_file_known(const char *name);

/* The directory's recordings as JSON, into w: an array of the newest
 * max_songs songs, each {"song": "YYYY-MM-DD-HHMMSS", "complete": true
 * once the recording was closed (its project written; false while it is
 * recorded, or if its daemon died and none resumed it), "mix": [{"file",
 * "bytes"}...] (the mix and its parts), "stems": [{"file", "bytes",
 * "singer"}...] (the singer from a stem's ARTIST tag, else its id),
 * "project": [{"file", "bytes"}]}.  Returns REC_OK, REC_ERR_IO or
 * REC_ERR_NOMEM; w's overflow flag says whether it fit. */
int rec_listing_json(const char *dir, int max_songs, jw_t *w, rec_log_fn log, void *log_user);

#endif
