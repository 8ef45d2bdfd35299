/* recdir: what one recordings directory (a room's) holds as a whole:
 * which files make up each song, deleting one song, each song's Audacity project (SONG.lof) with
 * how its recording ended, and the listing the API serves (JSON).
 *
 * Deletion and the listing only ever consider names that start
 * with a SONG stamp followed by '.' or '-' and end in ".wav" or ".lof" (or
 * ".opus" after "-stem-"), i.e. names rec_file_name() makes (recname.h);
 * .keep and everything else are never touched.
 *
 * How a recording ended lives in its project's comment header, which
 * Audacity skips:
 *     # ended: CODE (sentence)
 *     # length: SECONDS.mmm
 * A song with no project is being recorded, or was interrupted and not
 * yet sealed (rec_seal_song()).  Deleting a song removes its project
 * last, so a song is never seen without its project while other files of
 * it remain, and nothing seals what a deletion is taking away.
 *
 * Cost: each call reads the directory and writes or deletes a few files
 * with an fsync; call them when a song closes, not per tick. No globals;
 * the functions may run on any thread.
 */
#ifndef BB_MEDIA_RECDIR_H
#define BB_MEDIA_RECDIR_H

#include <stdint.h>

#include "jsonw.h"
#include "recname.h"

/* How a song's recording ended (its project's "# ended:" line). */
typedef enum {
    REC_END_UNKNOWN = 0,   /* a project from before endings were kept */
    REC_END_SONG,          /* "ended": the song ended (or was stopped) and all of it is in */
    REC_END_NEW_SONG,      /* "new_song": a new song started before this one was all in */
    REC_END_NEW_LEAD,      /* "new_lead": someone took the lead before it was all in */
    REC_END_LEFT,          /* "left": everyone left before it was all in */
    REC_END_LENGTH,        /* "length": the one-hour limit of a recording */
    REC_END_FAILED,        /* "failed": a write failed */
    REC_END_DISK,          /* "disk": the host's space for recordings was full */
    REC_END_INTERRUPTED,   /* "interrupted": cut off (the daemon stopped) and not resumed */
    REC_END_COUNT
} rec_end_t;

/* The ending's code for the listing ("ended", "new_song", ...; "unknown"
 * for REC_END_UNKNOWN or a value out of range).  Never NULL. */
const char *rec_end_code(rec_end_t end);

/* A sentence for people ("the song ended", ...).  Never NULL. */
const char *rec_end_text(rec_end_t end);

/* The ending a code names, or REC_END_UNKNOWN. */
rec_end_t rec_end_parse(const char *code, size_t len);

/* True if s starts with a song stamp "YYYY-MM-DD-HHMMSS" (digits and
 * dashes in place; the date itself is not checked). */
int rec_is_song_stamp(const char *s);

/* The Unix time (seconds, UTC) a song stamp names, or -1 if s is not one. */
int64_t rec_stamp_seconds(const char *stamp);

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
 * Its comment header says how the recording ended (`end`) and, when
 * end_clock > song_start_clock, how long it is (end_clock: the clock the
 * mix reached).  Written atomically, replacing an older one; a song with
 * no file at all gets none.  Returns REC_OK, REC_ERR_ARG, REC_ERR_NOMEM or
 * REC_ERR_IO. */
int rec_lof_write(const char *dir, int64_t song_start_clock, rec_end_t end,
                  int64_t end_clock, rec_log_fn log, void *log_user);

/* Seals a song that has files but no project (its recording was cut off
 * and nobody resumed it): writes its project with `end`, the song's start
 * clock read from its files (a WAV's bext chunk or a stem's tags; the
 * stamp's second if none has it).  `stamp` is the song's
 * "YYYY-MM-DD-HHMMSS".  Returns REC_OK (also when there is nothing to
 * seal), REC_ERR_ARG, REC_ERR_NOMEM or REC_ERR_IO. */
int rec_seal_song(const char *dir, const char *stamp, rec_end_t end, rec_log_fn log,
                  void *log_user);

/* Deletes every file of song `stamp` ("YYYY-MM-DD-HHMMSS") in dir: its
 * mixes, parts, stems and words (SONG-words.txt, reclabels.h), then its
 * project.  Returns the number of files
 * deleted (0: no such song), and their bytes in *bytes (may be NULL); or
 * REC_ERR_ARG (not a stamp), REC_ERR_IO (the directory cannot be read, or
 * a file of the song could not be deleted: logged; the project then
 * stays), REC_ERR_NOMEM. */
int rec_song_delete(const char *dir, const char *stamp, uint64_t *bytes, rec_log_fn log,
                    void *log_user);

/* The number of singers' stems (first parts, any extension) the song that
 * started at song_start_clock has in dir; 0 when the directory is missing.
 * A readdir: call it when a stem is about to start, not per upload. */
int rec_stem_count(const char *dir, int64_t song_start_clock);

/* One song of a directory, as a whole. */
typedef struct {
    char stamp[REC_SONG_NAME_LEN + 1];  /* "YYYY-MM-DD-HHMMSS" */
    int files;                          /* its files (mixes, parts, stems, words, project) */
    uint64_t bytes;                     /* their sizes summed */
    int64_t mtime;                      /* the newest file's change, Unix seconds */
    int project;                        /* 1 if it has its project (.lof) */
} rec_song_t;

/* The songs of dir, oldest first, in a malloc'd array (*out, free() it;
 * NULL when none) of *n.  Also removes this library's temporary files
 * older than an hour (a crashed writer's leftovers; a younger one may be
 * another process's file in the making).  Returns REC_OK, REC_ERR_ARG,
 * REC_ERR_IO (dir cannot be read) or REC_ERR_NOMEM. */
int rec_songs(const char *dir, rec_song_t **out, size_t *n, rec_log_fn log, void *log_user);

/* True if `name` is a recording file (a mix, a part, a stem or a project
 * rec_file_name() would make, or a song's words, reclabels.h) spelt in
 * [A-Za-z0-9._-]: what may be served from the directory, nothing else (no
 * path, no temporary file, nothing a URL or a header would have to
 * escape). */
int rec_file_known(const char *name);

/* The directory's recordings as JSON, into w: an array of the newest
 * max_songs songs, each
 *   {"song": "YYYY-MM-DD-HHMMSS" (its start, UTC),
 *    "complete": true once the recording was closed (its project written),
 *    "recording": true for the song being recorded now (recording_song:
 *                 its start clock, 0 when none),
 *    "ended": the ending's code (rec_end_code()), or null while there is
 *             no project,
 *    "ended_text": its sentence, or null,
 *    "normal": true when it ended with the song (REC_END_SONG),
 *    "seconds": its length (from the project; while there is none, from
 *               the mix's size), or null when there is no mix,
 *    "mix": [{"file", "bytes"}...] (the mix and its parts),
 *    "stems": [{"file", "bytes", "singer"}...] (the singer from a stem's
 *             ARTIST tag, else its id),
 *    "project": [{"file", "bytes"}]}.
 * Returns REC_OK, REC_ERR_IO or REC_ERR_NOMEM; w's overflow flag says
 * whether it fit. */
int rec_listing_json(const char *dir, int max_songs, int64_t recording_song, jw_t *w,
                     rec_log_fn log, void *log_user);

#endif
