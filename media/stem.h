/* stem: one singer's track of a song, kept as the Opus packets the singer
 * sent, in an Ogg Opus file (RFC 7845).
 *
 * The worker that receives a singer's uploads already holds them encoded;
 * storing those packets costs a copy into the page cache (about 5 KB per
 * 600 ms at 64 kbit/s) where a 16-bit WAV would cost decoding's output,
 * a conversion and twelve times the bytes.  Nothing is re-encoded, so the
 * stem is exactly what the singer sent.
 *
 * File: SONG-stem-ID.opus (SONG-stem-ID-partK.opus, K = 2..9, when the
 * first name could not be continued), named by rec_file_name().  Mono,
 * 48 kHz, one logical stream: page 0 holds OpusHead, page 1 OpusTags with
 *     BB_SONG_START=<clock>   BB_ORIGIN=<clock>   BB_STEM=<id>
 * then one page per write (more when a write holds more than 255 lacing
 * values).  The last page carries the end-of-stream flag once the writer
 * is closed.
 *
 * Placement, as for the WAV recordings (recording.h): the decoded stream,
 * after OpusHead's pre-skip, starts at the origin clock, so
 *     decoded sample i (after pre-skip) belongs at clock origin + i.
 * Packets that start before the origin (the singer's previous upload,
 * passed with the first write) are pre-roll: decoded and discarded by
 * every player through the pre-skip, they bring the decoder into the
 * state the singer's stream had, so the stem decodes as the worker
 * decoded it.  A gap between writes is filled with encoded silence (60 ms
 * and 2.5 ms packets); a gap that is not a multiple of 2.5 ms (only after
 * a reconnect of a client whose clocks are not on Opus frames) shifts the
 * rest of the stem by less than 1.25 ms, logged once per writer.  Packets
 * at clocks the file already holds are dropped (the first take wins).
 *
 * Restarts: a writer for a file that exists continues it when it is ours
 * and of the same song: the last whole page is found (a torn page left by
 * a crash is cut off), its end-of-stream flag cleared, and the stream goes
 * on; otherwise the next part is used.  One writer per file (flock, else
 * REC_ERR_BUSY).  New files appear atomically, with their first audio.
 *
 * Reading a stem's head (its song and origin) needs no codec: that is
 * oggpage.h's, and this module, the only media module that links libopus,
 * is a library of its own (bbstem) that only the worker links.
 *
 * Errors: the rec_error_t codes of recname.h.  No globals; a writer is
 * used by one thread at a time.
 */
#ifndef BB_MEDIA_STEM_H
#define BB_MEDIA_STEM_H

#include <stddef.h>
#include <stdint.h>

#include "recname.h"

#define STEM_PRESKIP_MAX 65535u       /* OpusHead's 16-bit pre-skip */
#define STEM_PACKET_MAX 7660u         /* bytes: six 1275-byte frames (120 ms) */
#define STEM_SILENCE_UNIT 120u        /* 2.5 ms: the finest gap filled */

/* One Opus packet and its duration in samples at 48 kHz. */
typedef struct {
    const uint8_t *data;
    uint32_t len;        /* 1 .. STEM_PACKET_MAX */
    uint32_t samples;    /* 120 .. 5760 */
} stem_packet_t;

typedef struct stem_writer stem_writer_t;

/* Opens the stem of singer stem_id (cleaned as for recordings) for the song
 * that started at song_start: continues an existing file of that song, or
 * prepares a new one whose decoded audio starts at origin (>= song_start);
 * a new file appears with the first write.  flags: REC_NO_SYNC (no fsync,
 * for a thread that must not wait on the disk).  Returns NULL with *err set
 * on failure (REC_ERR_ARG, _NOMEM, _IO, _BUSY, _PARTS). */
stem_writer_t *stem_create(const char *dir, int64_t song_start, const char *stem_id,
                           int64_t origin, unsigned flags, rec_log_fn log, void *log_user,
                           int *err);

/* The singer's name (UTF-8, cut to fit) for the stem's ARTIST tag, which
 * players show; call before the first write (a continued file keeps the
 * name it has).  Accepts NULL. */
void stem_set_singer(stem_writer_t *w, const char *name);

/* Adds n packets, the first starting at clock `clock`, each following the
 * one before.  Packets before the origin are pre-roll (first write of a new
 * file, up to STEM_PRESKIP_MAX samples before the origin; older ones are
 * dropped); packets the file already holds are dropped; a gap is filled
 * with silence.  REC_ERR_FULL when the stem would pass REC_MAX_FRAMES
 * (what fits is kept; close the writer).  Other errors: REC_ERR_ARG (a
 * packet out of bounds), REC_ERR_NOMEM, REC_ERR_IO (logged). */
int stem_write(stem_writer_t *w, int64_t clock, const stem_packet_t *pk, uint32_t n);

/* The clock just past the last sample the stem holds. */
int64_t stem_get_end_clock(const stem_writer_t *w);

/* The clock of the stem's first sample after the pre-skip. */
int64_t stem_get_origin_clock(const stem_writer_t *w);

/* The file's name in the directory, valid until destroy. */
const char *stem_get_file_name(const stem_writer_t *w);

/* 1 if the writer continued an existing file. */
int stem_get_resumed(const stem_writer_t *w);

/* Marks the last page end-of-stream, fsyncs (unless REC_NO_SYNC), closes
 * and frees.  NULL is allowed.  Returns REC_OK or the first error. */
int stem_destroy(stem_writer_t *w);

#endif
