/* recbext: the Broadcast WAV 'bext' chunk that places a recording WAV in
 * time.
 *
 * Every WAV the recording writer makes (recording.h) carries a 'bext'
 * chunk whose description reads
 *     "Bucket Brigade recording; song_start=<clock> origin=<clock>"
 * (server clocks: samples at 48 kHz since the Unix epoch), so the file
 * itself says which song it belongs to and the clock of its first sample:
 * the writer checks it before appending, the Audacity project
 * (rec_lof_write()) reads each file's offset from it.  Its time reference
 * and origination date and time are the origin in BWF terms (samples since
 * midnight UTC), so BWF-aware editors place the file in time on their own.
 *
 * No globals; every function may run on any thread.
 */
#ifndef BB_MEDIA_RECBEXT_H
#define BB_MEDIA_RECBEXT_H

#include <sndfile.h>
#include <stdint.h>

#include "recname.h"

/* Fills *bi for a recording of the song that started at song_start whose
 * first sample is at clock origin; stem is the cleaned stem id, or NULL
 * for the mix (it names the file's originator reference). */
void rec_bext_fill(SF_BROADCAST_INFO *bi, int64_t song_start, int64_t origin,
                   const char *stem);

/* Reads song_start and origin back from an open file's 'bext' chunk.
 * Returns 0, or -1 when the file has no chunk of ours (then the outputs
 * are untouched). */
int rec_bext_parse(SNDFILE *sf, int64_t *song_start, int64_t *origin);

/* The same for the WAV file at path (opened read-only and closed again).
 * Returns 0, or -1 with *why (may be NULL) set to a static text saying why
 * not: libsndfile's reason for not opening it, or "no recording origin". */
int rec_bext_read(const char *path, int64_t *song_start, int64_t *origin, const char **why);

#endif
