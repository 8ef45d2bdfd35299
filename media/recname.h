/* recname: the names and the errors of recordings, shared by the WAV
 * writer (recording.h), the Opus stem writer (stem.h) and the recordings
 * directory (recdir.h).
 *
 * Files, in one recordings directory, all named after the song's start
 * clock in UTC, SONG = "YYYY-MM-DD-HHMMSS" (rec_song_name()):
 *   SONG.wav                 the mix, written by the daemon
 *   SONG-stem-ID.opus        one singer's voice as the Opus packets they
 *                            sent, in Ogg Opus, written by the worker that
 *                            receives them (stem.h); ID is the singer's
 *                            public id reduced to [A-Za-z0-9_], <= 32 bytes
 *                            (rec_stem_id())
 *   SONG-stem-ID.wav         a stem as a 16-bit WAV (the WAV writer with a
 *                            stem id; the listing and the project take both)
 *   SONG-partK.wav, SONG-stem-ID-partK.opus   (K = 2..9) continuations,
 *                            only when the first file could not be
 *                            appended to (recording.h)
 *   SONG.lof                 the Audacity project (rec_lof_write())
 *   SONG-words.txt           the song's words as Audacity labels, when it
 *                            had any (reclabels.h)
 * Clocks are server clocks: samples at 48 kHz since the Unix epoch.
 *
 * Errors: 0 for success, a negative rec_error_t otherwise; rec_strerror().
 * Logging: through the caller's rec_log_fn, one line per event (mfile.h).
 * No globals; every function may run on any thread.
 */
#ifndef BB_MEDIA_RECNAME_H
#define BB_MEDIA_RECNAME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mfile.h"

#define REC_SAMPLE_RATE 48000
#define REC_STEMS_MAX 100              /* singers' stems a song holds at most */
#define REC_MAX_FRAMES ((uint64_t)3600 * REC_SAMPLE_RATE) /* 1 h per file */
#define REC_SONG_NAME_LEN 17           /* strlen("YYYY-MM-DD-HHMMSS") */
#define REC_STEM_ID_MAX 32             /* bytes of a cleaned stem id */
#define REC_MAX_PART 9                 /* SONG-part2 .. SONG-part9 */
#define REC_FILE_NAME_MAX 96           /* bytes, any name the writers make */

/* Flags of the writers (rec_writer_create_ex(), stem_create()). */
#define REC_NO_SYNC 1u   /* no fsync at creation or at the end: the file
                            still appears atomically and a process crash
                            loses nothing, but a power cut may lose what the
                            page cache held.  For writers on a thread that
                            must not wait on the disk (a worker's stems). */

typedef enum {
    REC_OK = 0,
    REC_ERR_ARG = -1,      /* invalid argument (NULL, negative clock, ...) */
    REC_ERR_NOMEM = -2,    /* out of memory */
    REC_ERR_IO = -3,       /* a system call failed (logged with errno) */
    REC_ERR_SNDFILE = -4,  /* libsndfile could not open or write (logged) */
    REC_ERR_BUSY = -5,     /* another writer holds this recording */
    REC_ERR_FULL = -6,     /* the file reached REC_MAX_FRAMES */
    REC_ERR_PARTS = -7     /* no part name left to continue in */
} rec_error_t;

typedef mfile_log_fn rec_log_fn;

/* Returns a static English description of a rec_error_t; never NULL. */
const char *rec_strerror(int err);

/* Breaks a clock down into UTC (whole seconds, rounded down). Returns
 * REC_OK, or REC_ERR_ARG for a clock before 1970 or after 9999-12-31. */
int rec_clock_utc(int64_t clock, struct tm *tm);

/* Writes the song's name stem "YYYY-MM-DD-HHMMSS" (UTC, 17 bytes + NUL)
 * for a start clock in samples at 48 kHz since the Unix epoch (whole
 * seconds, rounded down) into out (capacity cap >= 18). Returns REC_OK, or
 * REC_ERR_ARG for a NULL/short buffer or a clock outside years 1970..9999. */
int rec_song_name(int64_t song_start_clock, char *out, size_t cap);

/* Reduces a singer id to [A-Za-z0-9_] (every other byte becomes '_'), cut
 * to REC_STEM_ID_MAX bytes, into out (REC_STEM_ID_MAX + 1 bytes). Returns
 * REC_OK, or REC_ERR_ARG when id is NULL or has no such character at all. */
int rec_stem_id(const char *id, char out[REC_STEM_ID_MAX + 1]);

/* Writes the name of a song's file into out (capacity cap):
 * "SONG.EXT" for the mix (stem_id NULL), "SONG-stem-ID.EXT" for a stem (ID
 * cleaned by rec_stem_id()), with "-partK" before the dot for part K >= 2.
 * Returns REC_OK, or REC_ERR_ARG (bad clock, id, part or a short buffer). */
int rec_file_name(char *out, size_t cap, int64_t song_start_clock, const char *stem_id,
                  int part, const char *ext);

#endif
