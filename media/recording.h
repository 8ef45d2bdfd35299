/* recording: what a choir takes home: every song's mix as a WAV file, each
 * singer's own aligned track (a stem), an Audacity project that lays them
 * out, and the listing page of the recordings directory.
 *
 * Files, in one recordings directory, all named after the song's start
 * clock in UTC, SONG = "YYYY-MM-DD-HHMMSS" (rec_song_name()):
 *   SONG.wav                 the mix, written by the daemon
 *   SONG-stem-ID.opus        one singer's voice as the Opus packets they
 *                            sent, in Ogg Opus, written by the worker that
 *                            receives them (stem.h); ID is the singer's
 *                            public id reduced to [A-Za-z0-9_], <= 32 bytes
 *   SONG-stem-ID.wav         a stem as a 16-bit WAV (this writer with a
 *                            stem id; the listing and the project take both)
 *   SONG-partK.wav, SONG-stem-ID-partK.opus   (K = 2..9) continuations,
 *                            only when the first file could not be
 *                            appended to (see below)
 *   SONG.lof                 the Audacity project (rec_lof_write())
 *   index.html               the listing (rec_listing_write())
 * Every WAV is mono, 48 000 Hz, 16-bit PCM.
 *
 * Scale: sample = rec_saturate_s16(x): 1.0 becomes 16384 (PROTOCOL.md §13:
 * 6 dB of headroom), rounded to nearest with ties away from zero, saturated
 * to [-32768, 32767], NaN -> 0. The mix and WAV stems use the same scale,
 * so stems summed (with the backing) line up with the mix.  An Opus stem
 * holds the voice as the singer sent it, before the mic volume the leader
 * set, at full scale (1.0 is 1.0): halve it to line it up with the mix.
 *
 * Placement: each WAV has an origin clock, the server clock (samples at
 * 48 kHz since the Unix epoch) of its first sample, and the writer keeps
 *     file sample position == clock - origin
 * exactly. For the mix the daemon passes origin = song start, so position
 * == clock - song_start_clock. A stem's origin is the clock of the
 * singer's first write, so a singer who joins late does not cost minutes
 * of leading silence; the project file puts it at its offset. Writes may
 * arrive at any clock in increasing order: a gap is filled with silence; a
 * part that overlaps what the file already holds is dropped (the first
 * write wins), so a restarted writer that replays a little audio never
 * duplicates it.
 *
 * The origin and the song start live in the file itself, in a Broadcast
 * WAV 'bext' chunk: its description reads
 *     "Bucket Brigade recording; song_start=<clock> origin=<clock>"
 * and its time reference / origination date and time are the origin in
 * BWF terms (samples since midnight UTC), so BWF-aware editors place the
 * file in time on their own.
 *
 * Restarts: the header is rewritten after every write
 * (SFC_SET_UPDATE_HEADER_AUTO), so a writer killed at any moment leaves a
 * playable file that holds everything written before the last completed
 * write. rec_writer_create() for a file that exists APPENDS to it (libsndfile
 * SFM_RDWR, seek to the end) when it is ours, mono 48 kHz 16-bit and for
 * the same song start; its origin then comes from the file and
 * rec_writer_get_end_clock() tells the caller which clock to resume from
 * (the daemon re-reads that audio from the timeline ring). A file that
 * exists but cannot be appended to (damaged, not ours, another song that
 * started in the same second) is left untouched and the recording goes on
 * in the next free SONG-partK.wav with the caller's origin. One process
 * writes a file at a time: the writer holds an exclusive flock() on it and
 * a second writer gets REC_ERR_BUSY. Durability: a process crash loses
 * nothing already written; the data is fsynced at rec_writer_destroy()
 * (a power cut may lose the page cache since then).
 *
 * New files appear atomically: they are created under a temporary dotfile
 * name, their header (with the 'bext' chunk) is written and fsynced, then
 * they are linked to their final name, never replacing an existing file.
 *
 * Pruning and the listing only ever consider names that start with a SONG
 * stamp followed by '.' or '-' and end in ".wav" or ".lof" (or ".opus"
 * after "-stem-"); index.html,
 * .keep and everything else are never touched.
 *
 * Threading: no globals. A writer is used by one thread at a time; separate
 * writers, and the directory functions, may run on any threads. Costs: a
 * write is one libsndfile write plus a header rewrite (three system calls
 * into the page cache); rec_writer_create() opens, locks and (new file)
 * fsyncs; rec_lof_write(), rec_prune() and rec_listing_write() read the
 * directory and fsync one file: call them when a song closes, not per tick.
 *
 * Errors: 0 for success, a negative rec_error_t otherwise; rec_strerror().
 * Logging: through the caller's rec_log_fn, one line per event (mfile.h).
 */
#ifndef BB_MEDIA_RECORDING_H
#define BB_MEDIA_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "mfile.h"

#define REC_SAMPLE_RATE 48000
#define REC_SCALE 16384.0f             /* int16 value of a float 1.0 */
#define REC_DEFAULT_KEEP 20            /* songs kept by default */
#define REC_MAX_FRAMES ((uint64_t)3600 * REC_SAMPLE_RATE) /* 1 h per file */
#define REC_SONG_NAME_LEN 17           /* strlen("YYYY-MM-DD-HHMMSS") */
#define REC_STEM_ID_MAX 32             /* bytes of a cleaned stem id */
#define REC_MAX_PART 9                 /* SONG-part2 .. SONG-part9 */
#define REC_FILE_NAME_MAX 96           /* bytes, any name the writer makes */

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

/* A WAV being written (the mix or one stem of one song). */
typedef struct rec_writer rec_writer_t;

/* Returns a static English description of a rec_error_t; never NULL. */
const char *rec_strerror(int err);

/* The recording sample rule: x * 16384, rounded to nearest (ties away from
 * zero), saturated to [-32768, 32767]; NaN gives 0, +inf 32767, -inf
 * -32768. So 0.5 -> 8192, 2.0 -> 32767, -3.0 -> -32768. */
int16_t rec_saturate_s16(float x);

/* Writes the song's name stem "YYYY-MM-DD-HHMMSS" (UTC, 17 bytes + NUL)
 * for a start clock in samples at 48 kHz since the Unix epoch (whole
 * seconds, rounded down) into out (capacity cap >= 18). Returns REC_OK, or
 * REC_ERR_ARG for a NULL/short buffer or a clock outside years 1970..9999. */
int rec_song_name(int64_t song_start_clock, char *out, size_t cap);

/* Writes the name of a song's file into out (capacity cap):
 * "SONG.EXT" for the mix (stem_id NULL), "SONG-stem-ID.EXT" for a stem (ID
 * cleaned as below), with "-partK" before the dot for part K >= 2.
 * Returns REC_OK, or REC_ERR_ARG (bad clock, id, part or a short buffer). */
int rec_file_name(char *out, size_t cap, int64_t song_start_clock, const char *stem_id,
                  int part, const char *ext);

/* Opens the recording of one song for writing: the mix when stem_id is
 * NULL, else the stem of that singer (stem_id is cleaned to [A-Za-z0-9_],
 * at most REC_STEM_ID_MAX bytes; one with no such character is
 * REC_ERR_ARG). Appends to the file if it exists and can be continued,
 * else starts the first free part (see the top of this file). A new file's
 * origin is origin_clock (>= song_start_clock; the mix normally passes the
 * song start, a stem the clock of its first write). Logging goes to `log`
 * for the writer's whole life. Returns the writer, or NULL with *err (may
 * be NULL) set to REC_ERR_ARG, _BUSY, _PARTS, _SNDFILE, _IO or _NOMEM. */
rec_writer_t *rec_writer_create(const char *dir, int64_t song_start_clock,
                                const char *stem_id, int64_t origin_clock,
                                rec_log_fn log, void *log_user, int *err);

/* Flags of rec_writer_create_ex(). */
#define REC_NO_SYNC 1u   /* no fsync at creation or at the end: the file
                            still appears atomically and a process crash
                            loses nothing, but a power cut may lose what the
                            page cache held.  For writers on a thread that
                            must not wait on the disk (a worker's stems). */

/* rec_writer_create() with flags (REC_NO_SYNC). */
rec_writer_t *rec_writer_create_ex(const char *dir, int64_t song_start_clock,
                                   const char *stem_id, int64_t origin_clock,
                                   unsigned flags, rec_log_fn log, void *log_user,
                                   int *err);

/* Writes n float samples whose first belongs at clock start_clock (server
 * clock, samples at 48 kHz; not the protocol's END convention). Samples
 * before the file's end (already written) or before its origin are
 * dropped; a gap after the end is filled with zeros first. Every sample
 * goes through rec_saturate_s16(). If the file would pass REC_MAX_FRAMES,
 * what fits is written and REC_ERR_FULL returned: close the writer. Other
 * errors: REC_ERR_ARG (NULL x with n > 0), REC_ERR_SNDFILE or REC_ERR_IO
 * (logged). Allocates nothing; n may be anything (processed in blocks). */
int rec_writer_write(rec_writer_t *w, int64_t start_clock, const float *x,
                     size_t n);

/* The clock the next sample belongs at: origin + frames written. After an
 * append-open this is where the caller resumes. */
int64_t rec_writer_get_end_clock(const rec_writer_t *w);

/* The clock of the file's first sample. */
int64_t rec_writer_get_origin_clock(const rec_writer_t *w);

/* Samples in the file. */
uint64_t rec_writer_get_frames(const rec_writer_t *w);

/* The file's name in the directory (e.g. "2024-05-01-193000-stem-17.wav"),
 * valid until destroy. */
const char *rec_writer_get_file_name(const rec_writer_t *w);

/* 1 if rec_writer_create() appended to an existing file, 0 if it made a
 * new one. */
int rec_writer_get_resumed(const rec_writer_t *w);

/* Finishes the header, fsyncs, closes and frees (releasing the lock).
 * Returns REC_OK or the first error of finishing (the writer is freed
 * either way). NULL is allowed and returns REC_OK. */
int rec_writer_destroy(rec_writer_t *w);

/* Writes SONG.lof for the song that started at song_start_clock: one line
 * per WAV of that song, the mix and its parts first, then the stems in
 * name order:
 *     file "SONG-stem-17.wav" offset 12.345000000
 * where offset is (file origin - song_start_clock) / 48000 s, read from
 * each WAV's 'bext' chunk or each Opus stem's tags, printed with 9 decimals (exact to well under
 * a sample; Audacity rounds to the nearest sample). Files without our
 * 'bext' chunk, or whose names Audacity could not parse (a '"' or '#'),
 * are left out with a log line. Paths are relative: Audacity looks for
 * them beside the .lof. Written atomically, replacing an older one.
 * Returns REC_OK, REC_ERR_ARG, REC_ERR_NOMEM or REC_ERR_IO. */
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
