/*
 * watch.h - the timing watch in a worker: each singer's voice measured
 * against what they sang along to (mixer/timing.h), the verdict told to
 * the singer, the leader and the organiser, and applied in one click.
 *
 * What a voice is measured against (wt_reference()): the metronome's
 * beats while the song has one; otherwise, while a song is set, the mix
 * the singer heard.  What a singer hears is collected as it is rendered
 * for them (wt_heard(): the step powers the frame cache keeps, or the
 * samples of a private rendering), and the voice as it goes into the mix
 * (wt_voice()); a listener, a loopback and a monitoring singer's
 * listening are not collected.
 *
 * State: each singer's tw_t lives in the worker's own singer table
 * (singers.h), made on the first voice or hearing of a song and freed
 * with the singer's codecs (a reset, an error, 30 s of silence): a new
 * connection starts the watch over.  The worker publishes each singer's
 * verdict in their user-table slot (users.h, the timing word, one writer
 * per user), so that whichever worker serves the leader or the organiser
 * can list the flagged singers (wt_flags()): public ids, offsets and
 * bases, at most WT_FLAGS_MAX of them (the largest offsets first), of
 * singers heard within the last 5 s, rebuilt at most every
 * WT_FLAGS_EVERY samples per worker.
 *
 * Applying.  timing_apply=ID from the organiser, the leader or the singer
 * themself (roles.h) becomes a command; the daemon bumps that singer's
 * timing message (users.h); the singer's worker, on their next request
 * (wt_note()), if it still flags them, hands their client the offset to
 * apply ("timing_apply" in the metadata, once) and starts the watch over,
 * ignoring voice written before the read clock of that request (what the
 * client had captured before it applied the change).  A click that comes
 * after the flag cleared, or twice, applies nothing.
 */
#ifndef BB_WATCH_H
#define BB_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "segment.h"
#include "singers.h"
#include "snap.h"
#include "timing.h"

/* Flagged singers listed to a leader or organiser, and the bytes of the
 * list (each entry under 64 bytes: id, offset, basis, punctuation). */
#define WT_FLAGS_MAX 32
#define WT_FLAGS_BYTES (WT_FLAGS_MAX * 64 + 2)
/* The list is rebuilt at most this often: 0.5 s. */
#define WT_FLAGS_EVERY 24000

typedef struct wt wt_t;

/* The watch of a worker's singers on segment `seg`; NULL when out of
 * memory. */
wt_t *wt_create(seg_t *seg);

/* Frees it; accepts NULL. */
void wt_destroy(wt_t *w);

/* What a voice is measured against in the song `ctl` describes. */
tw_ref_t wt_reference(const seg_ctl_t *ctl);

/* Whether what a singer hears at this request (rq, SEG_UF_* flags) is a
 * reference to collect: a singer, not looping back nor monitoring, in a
 * song without a metronome. */
bool wt_wants_heard(const rq_t *rq, const seg_ctl_t *ctl, uint32_t flags);

/* What singer s heard at rq's read clocks: the power of each TW_HOP-sample
 * step (`power`, rq->n / TW_HOP of them, on a read clock that is a
 * multiple of TW_HOP) or else the samples (`x`, rq->n of them).  Call only
 * when wt_wants_heard(). */
void wt_heard(sg_t *s, const rq_t *rq, const seg_ctl_t *ctl, const float *power, const float *x);

/* Singer s's voice of this request (`in`, rq->n samples ending at
 * rq->write_clock), which went into the mix of the song in ctl. */
void wt_voice(sg_t *s, const rq_t *rq, const float *in, const seg_ctl_t *ctl);

/* Once per request of singer s (user-table slot `slot`, -1: none yet):
 * takes an "apply" message addressed to them, and publishes their
 * verdict where other workers read it. */
void wt_note(wt_t *w, sg_t *s, const rq_t *rq, int64_t slot);

/* Whether singer s is flagged as consistently early or late: the basis's
 * name ("beat" or "leader"), with the signed offset in *ms (positive:
 * late); NULL when not flagged. */
const char *wt_own(const sg_t *s, int32_t *ms);

/* The flagged singers of the room as a JSON array, for a leader or an
 * organiser; NULL when nobody is flagged.  *len gets its length.  Valid
 * until the next call. */
const char *wt_flags(wt_t *w, const seg_ctl_t *ctl, int64_t now, size_t *len);

#endif
