/*
 * host.h - the host segment: the directory of the rooms a host serves.
 *
 * A host serves many rooms; each room has a timeline segment of its own
 * (segment.h), named after the host segment and the room's public id
 * ("/bucket-brigade" and "/bucket-brigade-k7q2m9x4ad"), so that one room's
 * load or fault never touches another's memory.  The host segment is small
 * and holds only the directory: one slot per room with its public id, its
 * display name, the hashes of its two keys (rooms/roomkey.h), its cap on
 * singers and its state.  The daemon is its one writer: it fills the
 * directory from the rooms database (rooms/roomdb.h) and keeps it in step
 * when an operator or an organiser changes a room.  Workers read it to
 * route a request to its room and to check the request's key, without a
 * round trip to the disk.
 *
 * Every slot is a seqlock (odd `seq` while the daemon rewrites it), so a
 * reader copies a consistent slot or retries, and never waits on a daemon
 * that may have died: a daemon killed mid-write leaves `seq` odd, readers
 * skip that slot, and the next daemon rewrites every slot from the
 * database.  `gen` changes whenever a slot changes meaning (another room,
 * a replaced key, closed), so a worker that cached what it read knows when
 * to read again.
 *
 * The default room (the original client's, which knows no rooms and sends
 * no key) is an ordinary slot with HS_DEFAULT set and no key hashes.
 */
#ifndef BB_HOST_H
#define BB_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomics.h"
#include "segment.h"

#define HS_MAGIC UINT64_C(0x3153484742475542) /* "BUBGBHS1" little-endian */
#define HS_VERSION 2
#define HS_ROOMS_MAX 256        /* rooms a host holds (slots of the directory) */
#define HS_ID_MAX 16            /* bytes of a room id, NUL included ("default" or 10 base32) */
#define HS_NAME_MAX 72          /* bytes of a room's display name, NUL included */
#define HS_HASH_LEN 32          /* SHA-256 */
#define HS_DEFAULT_ID "default" /* the id of the default room */

/* Slot states. */
enum { HS_FREE = 0, HS_OPEN = 1 };

/* The limits a recording is deleted for (recretain.h's rec_gone_t):
 * count, age, bytes. */
#define HS_REC_REASONS 3

/* Room flags. */
#define HS_DEFAULT 1u           /* the default room: no keys, the original client */
#define HS_UPLOADS 2u           /* its organiser and leader may upload tracks */

/* One room of the directory (written by the daemon alone). */
typedef struct {
    _Alignas(SEG_LINE) _Atomic uint64_t seq; /* odd while rewritten; release by the daemon
                                                after a rewrite, acquire by readers */
    _Atomic uint64_t gen;                     /* relaxed under seq */
    _Atomic uint32_t state;                   /* HS_FREE, HS_OPEN; relaxed under seq */
    _Atomic uint32_t flags;                   /* HS_*; relaxed under seq */
    _Atomic uint32_t max_singers;             /* 0: the host's default */
    _Atomic uint32_t pad_;
    _Atomic uint64_t id[HS_ID_MAX / 8];
    _Atomic uint64_t name[HS_NAME_MAX / 8];
    _Atomic uint64_t singer_hash[HS_HASH_LEN / 8];
    _Atomic uint64_t organiser_hash[HS_HASH_LEN / 8];
} hs_room_shared_t;

_Static_assert(sizeof(hs_room_shared_t) % SEG_LINE == 0, "a directory slot must end on a cache line");

/* The host segment as laid out in shared memory. */
typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t size;                            /* sizeof(hs_shared_t) */
    _Atomic uint32_t ready;                   /* release at creation, acquire at attach */
    /* Daemon-written status. */
    _Alignas(SEG_LINE) _Atomic int64_t heartbeat; /* relaxed (status only) */
    _Atomic uint64_t dir_gen;                 /* bumped after any slot changed; release by the
                                                 daemon, acquire by workers (a cheap "did
                                                 anything change" before scanning) */
    _Atomic uint32_t n_open;                  /* rooms open; relaxed (status) */
    _Atomic uint32_t max_singers;             /* the host's default cap per room; relaxed */
    /* The recordings' limits, written by the daemon's retention thread
     * alone (its own line: the main thread writes the status above):
     * counters since the segment was made, and what the recordings took
     * at the last sweep.  Relaxed: each word is a figure for the
     * operator's metrics on its own, read with nothing else. */
    _Alignas(SEG_LINE) _Atomic uint64_t rec_deleted[HS_REC_REASONS]; /* songs, by limit */
    _Atomic uint64_t rec_stopped;             /* recordings stopped: the bytes cap was full */
    _Atomic uint64_t rec_sealed;              /* cut-off recordings sealed */
    _Atomic uint64_t rec_bytes;               /* bytes of all recordings, last sweep */
    _Atomic uint64_t rec_max_bytes;           /* the cap (0: none) */
    /* Bumped by a worker after it queued commands in any room, to wake the
     * daemon from its sleep between ticks (futex.h): release by workers,
     * acquire by the daemon before it sleeps.  Its own line: every worker
     * writes it.  A stale or lost bump costs at most one tick. */
    _Alignas(SEG_LINE) _Atomic uint32_t wake;
    hs_room_shared_t rooms[HS_ROOMS_MAX];
} hs_shared_t;

SEG_APART(hs_shared_t, ready, heartbeat);
#define HS_STATUS_(f) SEG_IN(hs_shared_t, f, heartbeat, offsetof(hs_shared_t, rec_deleted))
HS_STATUS_(heartbeat);
HS_STATUS_(dir_gen);
HS_STATUS_(n_open);
HS_STATUS_(max_singers);
#undef HS_STATUS_
SEG_APART(hs_shared_t, max_singers, rec_deleted);
#define HS_KEEPER_(f) SEG_IN(hs_shared_t, f, rec_deleted, offsetof(hs_shared_t, wake))
HS_KEEPER_(rec_deleted);
HS_KEEPER_(rec_stopped);
HS_KEEPER_(rec_sealed);
HS_KEEPER_(rec_bytes);
HS_KEEPER_(rec_max_bytes);
#undef HS_KEEPER_
SEG_APART(hs_shared_t, rec_max_bytes, wake);
SEG_APART(hs_shared_t, wake, rooms);

/* What a reader copies out of a slot. */
typedef struct {
    uint64_t gen;
    uint32_t slot;
    uint32_t flags;
    uint32_t max_singers;
    char id[HS_ID_MAX];
    char name[HS_NAME_MAX];
    uint8_t singer_hash[HS_HASH_LEN];
    uint8_t organiser_hash[HS_HASH_LEN];
} hs_room_t;

/* The recordings' limits as the metrics give them. */
typedef struct {
    uint64_t deleted[HS_REC_REASONS];  /* songs deleted: count, age, bytes */
    uint64_t stopped;                  /* recordings stopped by the bytes cap */
    uint64_t sealed;                   /* cut-off recordings sealed */
    uint64_t bytes;                    /* bytes of all recordings, last sweep */
    uint64_t max_bytes;                /* the cap; 0: none */
} hs_rec_stats_t;

/* What a key opens. */
typedef enum { HS_ROLE_NONE = 0, HS_ROLE_SINGER, HS_ROLE_ORGANISER } hs_role_t;

typedef struct hs hs_t;

/* Creates the host segment `name` ("/bucket-brigade"), or attaches it as
 * it is when it exists and is valid (a daemon restart); *created tells
 * which.  Returns NULL with the reason in *err. */
hs_t *hs_open_or_create(const char *name, bool *created, seg_err_t *err);

/* Attaches an existing host segment (workers).  SEG_ENOENT when the daemon
 * has not created it. */
hs_t *hs_attach(const char *name, seg_err_t *err);

/* Unmaps; accepts NULL. */
void hs_detach(hs_t *h);

/* Takes the daemon role of the host (exclusive, non-blocking): SEG_EBUSY
 * if another live daemon holds it. */
int hs_claim_daemon(hs_t *h, seg_err_t *err);

/* The word workers bump to wake the daemon (see hs_shared_t.wake). */
_Atomic uint32_t *hs_wake(hs_t *h);

/* Removes the host segment's name (tests, operator resets). */
int hs_unlink(const char *name);

/* Removes the host segment and every room timeline named after it
 * ("NAME-*"): what stopping a host for good leaves to clean (tests, the
 * local run).  Returns how many names were removed. */
int hs_unlink_all(const char *name);

/* The segment name of room `id` on host segment `host` ("/bb-8080" and
 * "k7q2m9x4ad" give "/bb-8080-k7q2m9x4ad").  Returns 0, or -1 if it does
 * not fit in cap bytes. */
int hs_room_segment(const char *host, const char *id, char *out, size_t cap);

/* ---- readers (workers) ----------------------------------------------- */

/* The directory generation: when it is unchanged, nothing in the directory
 * changed.  Acquire; pairs with the release in hs_publish(). */
uint64_t hs_dir_gen(const hs_t *h);

/* Copies slot i if it holds an open room.  Returns false if free, or being
 * rewritten (the caller treats the room as unknown for this request). */
bool hs_read(const hs_t *h, uint32_t i, hs_room_t *out);

/* True if slot i holds no room (and is not being rewritten). */
bool hs_is_free(const hs_t *h, uint32_t i);

/* Finds the open room with this id; fills *out.  Returns false if none. */
bool hs_find(const hs_t *h, const char *id, hs_room_t *out);

/* The role a key opens in room r: HS_ROLE_ORGANISER, HS_ROLE_SINGER, or
 * HS_ROLE_NONE (wrong, missing or malformed key).  The default room opens
 * HS_ROLE_SINGER to anyone, with or without a key.  Compares hashes in
 * constant time. */
hs_role_t hs_check_key(const hs_room_t *r, const char *key);

/* The daemon's heartbeat (status). */
int64_t hs_heartbeat(const hs_t *h);

/* The recordings' limits (status; each figure read on its own). */
void hs_rec_stats(const hs_t *h, hs_rec_stats_t *out);

/* ---- the writer (the daemon) ------------------------------------------ */

/* Writes room r into slot i (r->slot is ignored) and marks it open. */
void hs_put(hs_t *h, uint32_t i, const hs_room_t *r);

/* Frees slot i. */
void hs_clear(hs_t *h, uint32_t i);

/* After a batch of hs_put / hs_clear: moves the directory generation on so
 * that readers look again, and records the number of open rooms. */
void hs_publish(hs_t *h, uint32_t n_open);

/* After a sweep of the recordings (the retention thread alone): adds
 * what it deleted, stopped and sealed to the counters and sets the bytes
 * and the cap. */
void hs_rec_report(hs_t *h, const hs_rec_stats_t *sweep);

/* The daemon's status words. */
void hs_set_heartbeat(hs_t *h, int64_t now);
void hs_set_default_max(hs_t *h, uint32_t max_singers);
uint32_t hs_default_max(const hs_t *h);

/* Daemon at start: a slot a previous daemon died rewriting is freed (its
 * seq made even again); the others stay as they are, so workers keep
 * serving while the daemon brings the directory in step with the
 * database. */
void hs_repair(hs_t *h);

#endif
