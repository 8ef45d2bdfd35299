/*
 * removed.h - the singers the organiser removed from a room, in the room's
 * segment (segment.h, seg_removed_t).
 *
 * The room's daemon is the only writer: it adds a singer on the
 * organiser's CMD_REMOVE and takes one off on CMD_LET_BACK (roomcmd.c),
 * keeping its own copy (rmv_list_t) and publishing the whole list after
 * each change.  Workers read it without waiting: every request of a room
 * with a key asks rmv_has() for its userid and a removed one is answered
 * 403 (fcgi/api.c); the organiser's answers carry the list by public id
 * and name (rmv_json()), never the userids.
 *
 * Bound: SEG_REMOVED_MAX (32) singers.  A full list takes no more: the
 * remove is refused with a sentence (the organiser lets someone back in,
 * or replaces the singers' link, which keeps everyone without the new
 * link out).  The list lives in the segment, so a daemon killed with -9
 * finds it there and goes on from it (rmv_read() at re-attach).
 *
 * The latch: the daemon bumps seq to odd and rewrites copy 0, then to even
 * and rewrites copy 1; a reader reads copy (seq & 1) and retries only if
 * seq moved meanwhile.  A daemon that dies mid-publish leaves the other
 * copy whole and seq steady, so no reader waits on a dead writer; the next
 * daemon's first publish steps over an odd seq (as snap.c does).
 */
#ifndef BB_REMOVED_H
#define BB_REMOVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "segment.h"

typedef struct {
    uint64_t userid;          /* secret: never logged nor sent */
    uint64_t public_id;
    char name[SEG_NAME_MAX];  /* as the room knew them when removed */
} rmv_entry_t;

/* The list as the daemon keeps it, or as a reader copied it. */
typedef struct {
    uint64_t gen;             /* changes with every publish that changed it */
    uint32_t n;               /* 0 .. SEG_REMOVED_MAX */
    rmv_entry_t e[SEG_REMOVED_MAX];
} rmv_list_t;

/* Outcomes of rmv_add(). */
enum { RMV_ADDED = 1, RMV_ALREADY = 0, RMV_FULL = -1 };

/* Whether `userid` is on the room's list now.  Lock-free, a few hundred
 * bytes read at most; safe in every request. */
bool rmv_has(const seg_t *seg, uint64_t userid);

/* How many singers are on the list now. */
uint32_t rmv_count(const seg_t *seg);

/* Copies the published list into *out if its generation differs from
 * *gen (then updates *gen and returns 1); returns 0, copying nothing,
 * when it is the same.  A zeroed segment reads as an empty list of
 * generation 0. */
int rmv_read(const seg_t *seg, uint64_t *gen, rmv_list_t *out);

/* Publishes *l (daemon only), with l->gen moved on first. */
void rmv_publish(seg_t *seg, rmv_list_t *l);

/* Adds a singer to *l: RMV_ADDED, RMV_ALREADY (that userid is on it;
 * nothing changes) or RMV_FULL (SEG_REMOVED_MAX on it; nothing changes).
 * The name is cut to SEG_NAME_MAX - 1 bytes. */
int rmv_add(rmv_list_t *l, uint64_t userid, uint64_t public_id, const char *name);

/* Takes the singer of `public_id` off *l, keeping the others in order.
 * True if one was on it. */
bool rmv_drop(rmv_list_t *l, uint64_t public_id);

/* Whether `userid` is on *l. */
bool rmv_list_has(const rmv_list_t *l, uint64_t userid);

/* Writes [["public id", "name"], ...] (oldest removal first) into buf (cap
 * bytes) and returns its length, or 0 if it did not fit (it always fits in
 * RMV_JSON_MAX bytes). */
#define RMV_JSON_MAX (8 + SEG_REMOVED_MAX * (32 + 6 * SEG_NAME_MAX))
size_t rmv_json(const rmv_list_t *l, char *buf, size_t cap);

#endif
