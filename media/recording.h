/* recording: the WAV writer of recordings: every song's mix (the daemon)
 * and, where a caller wants one, a singer's stem as 16-bit PCM, each
 * sample at its exact place on the server clock.
 *
 * Every WAV is mono, 48 000 Hz, 16-bit PCM, named by rec_file_name()
 * (recname.h). This header also brings recname.h and recdir.h (pruning,
 * listing, project), so that the daemon's one include serves the whole
 * recording of a song; the Opus stems of the workers are stem.h's.
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
 * duplicates it. The origin and the song start live in the file itself,
 * in its 'bext' chunk (recbext.h).
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
 * Threading: no globals. A writer is used by one thread at a time; separate
 * writers may run on any threads. Costs: a write is one libsndfile write
 * plus a header rewrite (three system calls into the page cache);
 * rec_writer_create() opens, locks and (new file) fsyncs.
 *
 * Errors: the rec_error_t codes of recname.h; rec_strerror().
 */
#ifndef BB_MEDIA_RECORDING_H
#define BB_MEDIA_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "recdir.h"
#include "recname.h"

#define REC_SCALE 16384.0f             /* int16 value of a float 1.0 */

/* A WAV being written (the mix or one stem of one song). */
typedef struct rec_writer rec_writer_t;

/* The recording sample rule: x * 16384, rounded to nearest (ties away from
 * zero), saturated to [-32768, 32767]; NaN gives 0, +inf 32767, -inf
 * -32768. So 0.5 -> 8192, 2.0 -> 32767, -3.0 -> -32768. */
int16_t rec_saturate_s16(float x);

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

#endif
