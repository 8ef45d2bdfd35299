/*
 * voice.h - where a singer's upload goes: the mix, the monitor ring, the
 * rounds' copies, and the singer's stem of the song.
 *
 * An upload is stored only while it belongs to the song (song.h), and a
 * singer's voice is never counted twice at one clock: after a reconnect the
 * new connection's first upload may reach back over clocks the old one
 * already wrote (the new read position is rounded down to a frame, or the
 * singer moved back a bucket), and only the part after the last write is
 * stored.  The stem holds the Opus packets as the singer sent them, placed
 * at their clocks (media/stem.h), from the first clock that went into the
 * mix; the previous upload is kept as the stem's pre-roll, so that a
 * player's decoder reaches the first sample in the state the worker's
 * decoder was in.  A song holds at most REC_STEMS_MAX singers' stems
 * (counted in its folder when a stem would start): a singer beyond them
 * sings into the mix with no stem, logged once per song; and no stem goes
 * on once the daemon has closed the song's recording (it reached the
 * song's end, or was stopped).
 */
#ifndef BB_VOICE_H
#define BB_VOICE_H

#include <stdbool.h>
#include <stdint.h>

#include "request.h"
#include "segment.h"
#include "singers.h"
#include "snap.h"

typedef struct vc vc_t;

/* Creates the store of worker `worker` on segment `seg`; with rec_dir set,
 * stems are written there.  NULL when out of memory. */
vc_t *vc_create(seg_t *seg, uint32_t worker, const char *rec_dir);

/* Frees it; accepts NULL. */
void vc_destroy(vc_t *v);

/* Stores the upload of request rq (rq->has_write), decoded into `in`
 * (rq->n samples; scaled here by the singer's mic volume), but for the
 * 60 ms frames i with rest[i] set (rest may be NULL: none), which are
 * rests not decoded (rest.h): zeros in `in`, counted in the mix without
 * their samples, left out of the monitor ring.  For singer s in
 * user-table slot `slot` (-1: not yet in the table) with SEG_UF_* flags.
 * Records the singer's write clock and level.  Sets s->pending_delay when
 * the song's end passed during the upload (the singer goes to the back).
 * Returns true if the voice went into the song's mix. */
bool vc_store(vc_t *v, sg_t *s, const rq_t *rq, float *in, const bool *rest, const seg_ctl_t *ctl,
              int64_t slot, uint32_t flags, int64_t now);

/* Uploads refused by the timeline (outside its window). */
uint64_t vc_refused(const vc_t *v);

/* Singers given no stem because their song had REC_STEMS_MAX already. */
uint64_t vc_stems_capped(const vc_t *v);

#endif
