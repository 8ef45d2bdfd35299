/*
 * meta.h - the X-Audio-Metadata header of an audio response.
 *
 * What a singer learns with every response (PROTOCOL.md section 5, with
 * our additions): the clocks, the song, the leader, chats since the last
 * response, and, when they changed for this singer, the user summary, the
 * tempo, the track list and a delay to move to; from the timing watch
 * (watch.h), whether they sing early or late, an offset to apply, and for
 * a leader or an organiser, who is flagged; and, for a leader or an
 * organiser, every singer's live level (the console).  The published
 * texts of the daemon (user summary, events, track list, levels) are
 * copied once per change of their generation into the mt_t, never per
 * request.
 *
 * The writer works in its own buffer of MT_META_CAP bytes; the response
 * points into it until the next call.  What a response delivers once (the
 * chats, a tempo, a delay, the track list) counts as delivered only when
 * the whole metadata was written.
 */
#ifndef BB_META_H
#define BB_META_H

#include <stdbool.h>
#include <stdint.h>

#include "removed.h"
#include "request.h"
#include "segment.h"
#include "singers.h"
#include "snap.h"
#include "watch.h"

/* Chats delivered per response: at most this many messages and this many
 * bytes of them (escaped); the rest wait for the next response. */
#define MT_CHATS_OUT_MAX 32
#define MT_CHAT_BYTES 12288
/* Bytes of everything else a response carries: clocks, the leader and
 * their name (escaped), buckets, tempo, ids, the role, the refusals (at
 * most CM_REFUSALS_MAX sentences of under 100 bytes), the song's track
 * name (SEG_TRACK_NAME_MAX bytes, escaped: up to 6 bytes each), keys and
 * punctuation. */
#define MT_FIXED_MAX 5120
/* The largest metadata the writer can produce: every part at its bound.
 * nginx's fastcgi_buffer_size is rendered from it (bb-worker --header-max),
 * so a response header never exceeds what nginx accepts. */
/* Bytes of the timing watch's keys: the singer's own flag and an offset
 * to apply (under 64 bytes each with their keys), and the list of flagged
 * singers a leader or organiser gets. */
#define MT_TIMING_MAX (2 * 64 + 16 + WT_FLAGS_BYTES)
/* Bytes of "solo": the key and up to SEG_SOLO_MAX quoted public ids. */
#define MT_SOLO_BYTES (16 + SEG_SOLO_MAX * 23)
#define MT_META_CAP (MT_FIXED_MAX + SEG_BLOB_SUMMARY_MAX + SEG_BLOB_EVENTS_MAX + \
                     SEG_BLOB_TRACKS_MAX + SEG_BLOB_CUES_MAX + SEG_BLOB_LEVELS_MAX + \
                     MT_CHAT_BYTES + MT_TIMING_MAX + MT_SOLO_BYTES + RMV_JSON_MAX)

typedef struct mt mt_t;

/* Creates a writer; NULL when out of memory. */
mt_t *mt_create(void);

/* Frees it; accepts NULL. */
void mt_destroy(mt_t *mt);

/* Copies whichever published texts changed since the last call. */
void mt_refresh(mt_t *mt, const seg_t *seg);

/* Generations of the copies held (a singer compares them with what it got). */
uint64_t mt_summary_gen(const mt_t *mt);
uint64_t mt_tracks_gen(const mt_t *mt);
uint64_t mt_cues_gen(const mt_t *mt);

/* What the exchange adds for this singer alone: the role their key and
 * the room give them ("organiser", "leader", "singer", "listener"), and a
 * sentence per control of the request that the role does not allow. */
typedef struct {
    const char *role;
    const char *const *refused;
    uint32_t n_refused;
    bool levels;          /* add every singer's live level (the console) */
    bool removed;         /* add the singers removed from the room (the
                             organiser's console: removed.h, rmv_json()) */
    /* The timing watch (watch.h): this singer's flag (timing_basis NULL:
     * not flagged) and, for a leader or an organiser, the flagged singers
     * (a JSON array; NULL: none or not theirs to see). */
    int32_t timing_ms;
    const char *timing_basis;
    const char *timing_flags;
    size_t timing_flags_len;
    /* The singers this listener hears alone (PROTOCOL.md 9.12), as "solo":
     * [public ids]; NULL: none to tell (not theirs to see). */
    const seg_solo_t *solo;
} mt_extra_t;

/* Writes the metadata of a successful exchange for singer s of worker
 * `worker`, at server clock `now`; prev_clock is the clock of the worker's
 * previous request (-1: none).  Marks what it delivered (chats, tempo,
 * tracks, a delay, a timing offset to apply) as delivered in s.  Returns
 * the NUL-terminated text. */
const char *mt_build(mt_t *mt, const seg_t *seg, uint32_t worker, const rq_t *rq, sg_t *s,
                     const seg_ctl_t *ctl, int64_t now, int64_t prev_clock, bool send_summary,
                     const mt_extra_t *extra);

/* Writes the metadata of a refused request: {"kill_client": true,
 * "message": msg}.  Returns the text. */
const char *mt_error(mt_t *mt, const char *msg);

#endif
