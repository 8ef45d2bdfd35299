/*
 * encbank.h - the encode bank: the Opus packets of a room's shared path,
 * and the encoder states after them, kept in the room's segment for every
 * worker of the host.
 *
 * Each worker keeps a frame cache of its own (fcgi/encshare.h) keyed by
 * node ids, which name an encoder history by its content: equal ids mean
 * equal packets and equal encoder states in any process.  Without the
 * bank, every worker serving singers of a bucket encodes that bucket's
 * frames once more; with it, a worker that encodes a frame publishes the
 * packet and the state after it under the node id, and a worker that does
 * not find a node in its own cache looks here before it encodes, so a
 * bucket costs one encode per frame on the host.
 *
 * Slots: EB_PACKETS packet slots and EB_STATES state slots, each a
 * seqlock (`lock` odd while written), found by probing EB_PROBE slots from
 * the node id's home.  A writer claims a slot by a compare-and-swap of its
 * lock from even to odd (a slot already holding the id is left alone: two
 * workers that encode the same node at once made the same bytes), writes,
 * and releases lock + 1.  The victim among the probes is an empty slot,
 * else the one written longest ago (not the oldest frame: buckets read
 * seconds apart, and a deep bucket's chain is as alive as a shallow
 * one's).  Whoever claims a slot is its one
 * writer until it releases it; a writer killed mid-write leaves an odd
 * lock, which readers skip and a writer may claim again once the claim is
 * EB_CLAIM_STALE old.  Readers copy, then check that the lock did not move:
 * a torn, replaced or dead slot is a miss, never a wrong packet.  Nothing
 * waits: a miss costs the reader the encode it would have done anyway.
 *
 * Joins: EB_JOINS words map (frame, content id) to the first node
 * published for it, so that a newcomer on any worker joins a chain already
 * running (encshare.h, "Joining").  Each is one word, written by any
 * worker; a stale one is checked against its packet slot's frame and
 * content before use.
 *
 * The bank holds bytes: a state's `tag` is the caller's (fcgi/encshare.c
 * stores where libopus lies in the writer's address space, to relocate
 * the state's pointers into the reader's).  When a room falls asleep the
 * daemon gives the bank's pages back with the rings' (eb_release()).
 */
#ifndef BB_ENCBANK_H
#define BB_ENCBANK_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"

#define EB_PACKETS 1024        /* packets: ~3 s of 20 chains of 60 ms frames */
#define EB_STATES 256          /* encoder states: the chains' recent ends */
#define EB_JOINS 2048
#define EB_PROBE 8
#define EB_PACKET_MAX 1504     /* bytes (a multiple of 8, >= ES_PACKET_MAX) */
#define EB_STATE_MAX 45056     /* 44 KiB; libopus 1.3's mono encoder takes 43,572 */
#define EB_CLAIM_STALE 48000   /* a claim a second old is a dead writer's */

typedef struct {
    _Alignas(SEG_LINE) _Atomic uint64_t lock; /* odd while written: CAS from even
                                     (acq_rel) and a release fence by the
                                     writer, release of lock + 1 after the
                                     copy; acquire by readers, who check it
                                     again after theirs */
    _Atomic int64_t claimed;      /* server clock of the last claim (relaxed:
                                     read only to choose a victim and to
                                     judge an odd lock stale) */
    _Atomic uint64_t id;          /* node id, 0: empty; relaxed under lock */
    _Atomic uint64_t cid;         /* packet: content id of the frame; state: its
                                     build; relaxed under lock */
    _Atomic int64_t frame;        /* clock / 2880; relaxed under lock */
    _Atomic uint64_t len;         /* bytes; relaxed under lock */
    _Atomic uint64_t tag;         /* the writer's, for the reader; relaxed under lock */
    _Atomic uint64_t sum;         /* hash of id, len, tag and the bytes; relaxed
                                     under lock */
} eb_head_t;

typedef struct {
    eb_head_t h;
    _Atomic uint64_t w[EB_PACKET_MAX / 8];
} eb_packet_t;

typedef struct {
    eb_head_t h;
    _Atomic uint64_t w[EB_STATE_MAX / 8];
} eb_state_t;

/* The bank's region of a room segment (seg_bank()).  Every worker writes
 * here: the join words by design (one word each, like the ring cells),
 * the slots one claimed writer at a time, each slot whole lines. */
struct seg_bank {
    _Alignas(SEG_LINE) _Atomic uint64_t joins[EB_JOINS];
    eb_packet_t packets[EB_PACKETS];
    eb_state_t states[EB_STATES];
};

_Static_assert(sizeof(eb_packet_t) % SEG_LINE == 0 && sizeof(eb_state_t) % SEG_LINE == 0,
               "a bank slot is whole cache lines, so neighbouring slots' writers never share one");
_Static_assert(sizeof(eb_head_t) == SEG_LINE, "a slot's header is one line");

/* Copies the packet published for node `id` (at most cap bytes) into out,
 * with its frame and content id.  Returns its length, or -1 (not there,
 * being written, or longer than cap). */
int eb_packet_get(const seg_t *seg, uint64_t id, uint8_t *out, int cap, int64_t *frame,
                  uint64_t *cid);

/* Publishes the packet of node `id` (frame, content id cid).  Returns 0,
 * 1 if the node was there already, -1 if every probed slot is being
 * written (the packet is simply not shared). */
int eb_packet_put(seg_t *seg, uint64_t id, int64_t frame, uint64_t cid, const uint8_t *pkt,
                  int len, int64_t now);

/* Copies the state published for node `id` (at most cap bytes) into out,
 * its writer's tag into *tag, and the kind of state it is (the writer's
 * `build`) into *build.  Returns its length or -1. */
long eb_state_get(const seg_t *seg, uint64_t id, void *out, size_t cap, uint64_t *tag,
                  uint64_t *build);

/* Publishes the encoder state after node `id` (len <= EB_STATE_MAX
 * bytes), with the writer's tag and what kind of state it is (`build`:
 * a reader takes only its own kind).  Returns as eb_packet_put(). */
int eb_state_put(seg_t *seg, uint64_t id, int64_t frame, const void *st, size_t len,
                 uint64_t tag, uint64_t build, int64_t now);

/* The node first published for frame `frame` with content cid, or 0. */
uint64_t eb_join_get(const seg_t *seg, int64_t frame, uint64_t cid);

/* Notes node as the chain to join at (frame, cid) unless a live one is
 * noted there already. */
void eb_join_put(seg_t *seg, int64_t frame, uint64_t cid, uint64_t node);

/* Gives the bank's pages back to the system (a room falling asleep): it
 * then reads as empty everywhere.  A write racing it (a worker encoding
 * just as the room sleeps) may leave a slot partly zero, which its `sum`
 * turns into a miss. */
void eb_release(seg_t *seg);

#endif
