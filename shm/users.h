/*
 * users.h - the user table in the segment.
 *
 * A fixed array of slots.  The daemon allocates and frees slots (on a
 * worker's JOIN command, after five minutes of silence, and when a newcomer
 * needs the slot of a user silent longer than USERS_ACTIVE_SAMPLES) and
 * writes their
 * identity and control fields under a per-slot sequence number `gen`; the
 * worker that serves a user writes that slot's activity fields.  Lookups
 * scan the array: they happen on a singer's first requests and when someone
 * names another singer, never per audio frame, and a worker caches the slot
 * index and checks `gen` before trusting it.
 *
 * Crash safety: the daemon dying mid-write leaves `gen` odd; readers skip
 * that slot until the restarted daemon repairs it (users_repair()).  A
 * worker dying leaves at most a stale activity field.
 */
#ifndef BB_USERS_H
#define BB_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include "segment.h"

/* Seconds without a request after which a user is inactive (out of the
 * summary, broadcasts and delay assignment), and after which it is
 * forgotten. */
#define USERS_ACTIVE_SAMPLES (5 * 48000)
#define USERS_FORGET_SAMPLES (300LL * 48000)

typedef struct {
    uint64_t gen;
    uint64_t userid;
    uint64_t public_id;
    uint32_t flags;
    float mic_volume;          /* friendly */
    uint32_t delay_msg;
    int64_t last_heard;
    int64_t delay_samples;
    int64_t last_write_clock;
    float rms;
    int32_t worker;
    uint32_t timing;           /* USERS_TIMING_* word, 0: not flagged */
    uint32_t calib;            /* users_calib_word(), 0: not told */
    uint32_t link;             /* USERS_LINK_* */
    char name[SEG_NAME_MAX];
} users_view_t;

/* The timing watch's verdict on a user (mixer/timing.h), as the worker
 * serving them publishes it: 0 while they are not flagged; else
 * USERS_TIMING_FLAGGED | basis << 16 | (uint16_t)offset_ms (a tw_basis_t,
 * and the signed offset in ms, positive = late). */
#define USERS_TIMING_FLAGGED 0x80000000u

static inline uint32_t users_timing_word(int32_t offset_ms, uint32_t basis)
{
    if (offset_ms > 32767)
        offset_ms = 32767;
    if (offset_ms < -32768)
        offset_ms = -32768;
    return USERS_TIMING_FLAGGED | (basis & 3u) << 16 | (uint16_t)(int16_t)offset_ms;
}

static inline int32_t users_timing_offset(uint32_t word) { return (int16_t)(word & 0xffffu); }
static inline uint32_t users_timing_basis(uint32_t word) { return (word >> 16) & 3u; }

/* The page's latency calibration as the worker serving the user
 * publishes it (the request's calib=, PROTOCOL.md): kind << 16 | ms, ms
 * clamped to 0..USERS_CALIB_MS_MAX; 0 while the page has not told. */
enum { USERS_CALIB_NONE = 0, USERS_CALIB_MEASURED = 1, USERS_CALIB_ESTIMATED = 2 };
#define USERS_CALIB_MS_MAX 5000

static inline uint32_t users_calib_word(uint32_t kind, int32_t ms)
{
    if (kind != USERS_CALIB_MEASURED && kind != USERS_CALIB_ESTIMATED)
        return 0;
    if (ms < 0)
        ms = 0;
    if (ms > USERS_CALIB_MS_MAX)
        ms = USERS_CALIB_MS_MAX;
    return kind << 16 | (uint32_t)ms;
}

static inline uint32_t users_calib_kind(uint32_t word) { return word >> 16; }
static inline int32_t users_calib_ms(uint32_t word) { return (int32_t)(word & 0xffffu); }

/* How the user's uploads reach the worker (fcgi/link.h judges it): on
 * time, late against their own usual pace, or with gaps. */
enum { USERS_LINK_OK = 0, USERS_LINK_LATE = 1, USERS_LINK_DROPPING = 2 };

/* Reads slot idx.  Returns true if it holds a user (consistently read),
 * false if free or being rewritten. */
bool users_read(const seg_t *seg, uint32_t idx, users_view_t *out);

/* Index of the live slot of userid, or -1. */
int64_t users_find(const seg_t *seg, uint64_t userid);

/* Index of the live slot with this public id, or -1. */
int64_t users_find_public(const seg_t *seg, uint64_t public_id);

/* True if slot idx still holds userid at generation gen (a cached index). */
bool users_check(const seg_t *seg, uint32_t idx, uint64_t gen, uint64_t userid);

/* Worker: records a request from the user in slot idx. */
void users_touch(seg_t *seg, uint32_t idx, int64_t now, int64_t delay_samples,
                 int32_t worker);

/* Worker: records the user's last accepted write clock and upload RMS. */
void users_set_write(seg_t *seg, uint32_t idx, int64_t write_clock, float rms);

/* The recorder's side of an upload (timeline.h, "The recorder's gate").
 * Worker: before adding an upload that starts at clock `from` (not below
 * the user's last users_mix_done() clock), claims it (W1, seq_cst; pairs
 * with the daemon's loads in users_mix_progress()); then reads the gate. */
void users_mix_claim(seg_t *seg, uint32_t idx, int64_t from);

/* Worker: after the upload's writes (or none), publishes that the user's
 * voice is in the mix below `to`, the upload's END clock (W4, release;
 * pairs with the acquire in users_mix_progress()). */
void users_mix_done(seg_t *seg, uint32_t idx, int64_t to);

/* Daemon: the user's progress: the clock below which its voice is in the
 * mix (the clock claimed, while *busy), 0 if it never wrote.  *raw gets
 * the word as stored, which changes with every claim and every upload.
 * seq_cst (D2: an acquire that pairs with users_mix_done(), and ordered
 * after the daemon's store in tl_set_rec_gate()). */
int64_t users_mix_progress(const seg_t *seg, uint32_t idx, bool *busy, int64_t *raw);

/* Worker: publishes the timing watch's verdict on the user in slot idx
 * (a users_timing_word(), or 0). */
void users_set_timing(seg_t *seg, uint32_t idx, uint32_t word);

/* Worker: publishes the page's calibration (a users_calib_word()) and the
 * link state (USERS_LINK_*) of the user in slot idx. */
void users_set_calib(seg_t *seg, uint32_t idx, uint32_t word);
void users_set_link(seg_t *seg, uint32_t idx, uint32_t state);

/* The timing word of slot idx as last published, and in *live whether the
 * slot holds a user (hints: check the slot's identity with users_read()
 * before naming its user). */
uint32_t users_timing(const seg_t *seg, uint32_t idx, bool *live);

/* Worker: the sequence number of the last "apply your measured timing"
 * for the user in slot idx; it delivers one when the number changes. */
uint32_t users_timing_msg(const seg_t *seg, uint32_t idx);

/* Daemon: tells the user in slot idx to apply their measured timing. */
void users_send_timing_apply(seg_t *seg, uint32_t idx);

/* Worker: reads the pending delay message and current mic volume / flags. */
uint32_t users_delay_msg(const seg_t *seg, uint32_t idx);
float users_mic_volume(const seg_t *seg, uint32_t idx);
uint32_t users_flags(const seg_t *seg, uint32_t idx);

/* Daemon: gives a free slot to userid.  Returns the index or -1 if full. */
int64_t users_alloc(seg_t *seg, uint64_t userid, const char *name,
                    uint32_t flags, int64_t now);

/* Daemon: frees slot idx. */
void users_free(seg_t *seg, uint32_t idx);

/* Daemon: identity and control updates. */
void users_set_name(seg_t *seg, uint32_t idx, const char *name);
void users_set_flags(seg_t *seg, uint32_t idx, uint32_t flags);
void users_set_mic_volume(seg_t *seg, uint32_t idx, float friendly);
/* Queues delay_seconds for the user, clamped to 0..4095 s (buckets are a
 * few hundred seconds at most). */
void users_send_delay(seg_t *seg, uint32_t idx, int32_t seconds);

/* Daemon at start: makes every slot's gen even again (a previous daemon may
 * have died mid-write) and frees slots left half-written. */
void users_repair(seg_t *seg);

#endif
