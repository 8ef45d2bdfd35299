/*
 * encshare.h - encoding each 60 ms frame once for every singer who hears it.
 *
 * Singers in the same bucket whose read clocks sit on whole Opus frames
 * hear the same mix.  Opus is stateful, so a packet can be reused only by a
 * singer whose decoder has followed exactly the encoder state the packet was
 * encoded from, and only for identical samples.  Both facts are captured by
 * a node id:
 *
 *     node(fresh encoder)                     = ES_ROOT
 *     node(after frame f with content c, n)   = mix(n, f, c)
 *
 * where c is the content id of the frame (frames.h: a hash of its
 * samples), so equal node ids mean the same sequence of inputs through the
 * same encoder settings, hence the same encoder state and, Opus being
 * deterministic, the same packets.  The frame number is part of the id so
 * that two singers who are on the same encoder state but at different
 * moments (the same silence, one frame apart) are not mistaken for one
 * chain.  A singer
 * keeps the node its decoder is at; for its next frame the packet of
 * mix(node, c) is taken from the cache, or encoded once from a copy of the
 * node's encoder state (OpusEncoder is one contiguous block, with no
 * pointer into itself or the heap) and kept for the others.  When content diverges (a late write
 * into a frame, a different gain) the chain branches naturally: the new
 * content gives a new child of the same parent.  Along a chain a singer
 * gets bit for bit the packets a private encoder would have produced for
 * it.
 *
 * Joining: a singer who (re)connects has a fresh decoder, which follows no
 * encoder state at all; Opus decoders start on any packet of a stream (as
 * they do after a loss), so instead of starting a chain of its own from a
 * fresh encoder, the newcomer takes the packet of the first chain that
 * encoded its first frame's content and follows that chain from there.
 * Only the decoder's first frame, which starts from silence anyway, can
 * differ from a private encoder's; from then on the singer is on a shared
 * chain exactly.  Without this, every singer who reconnected at a
 * different frame (they all do, when a lead assigns the buckets) would keep
 * a chain of its own for the rest of the song.  A newcomer's first frames
 * usually lie a little ahead of where the chain has got to (everyone in a
 * bucket reads about the same moment, each on its own 600 ms beat): the
 * caller then finds the chain a few frames back with es_node_after() and
 * carries it forward to the newcomer's frame, encoding frames the chain's
 * own singers are about to ask for anyway.
 *
 * Across workers: node ids mean the same in every process, so with the
 * room's encode bank attached (es_set_bank(), shm/encbank.h) a frame one
 * worker encoded is not encoded again by another.  What this cache does
 * not hold is looked for in the bank before it is encoded (the packet of
 * a node, the chain a newcomer joins, the state to carry a chain on
 * from), and what this cache encodes is published there.  A state from
 * the bank was written by another process, where libopus lies at another
 * address: its few pointers into libopus's tables (the CELT mode, SILK's
 * codebooks) are moved to this process's copy (find_libopus(),
 * relocate()), and then it encodes exactly as the writer's would
 * (test_encbank checks it across two processes).
 *
 * Memory is bounded: entries not used for ES_RETAIN samples and not pinned
 * by a singer are dropped; encoder states live in a pool that grows only
 * while pinned states need it, up to a cap, and unpinned states are evicted
 * least recently used first.  Single-threaded, like the worker.
 */
#ifndef BB_ENCSHARE_H
#define BB_ENCSHARE_H

#include <stdint.h>

#include <opus.h>

#include "segment.h"

#define ES_ROOT UINT64_C(0)
/* Largest packet a shared frame may take (60 ms at up to 200 kbit/s). */
#define ES_PACKET_MAX 1500
/* Unpinned entries are kept this long after their last use (3 s). */
#define ES_RETAIN (3 * 48000)

enum {
    ES_ELOST = -1000,   /* the singer's encoder state is gone: go private */
};

typedef struct {
    uint64_t hits;        /* frames served from the cache */
    uint64_t joins;       /* newcomers who joined an existing chain */
    uint64_t encodes;     /* frames encoded */
    uint64_t lost;        /* singers whose state was gone */
    uint64_t evicted;     /* states evicted to make room */
    uint64_t bank_hits;   /* packets taken from the room's encode bank */
    uint64_t bank_states; /* encoder states taken from it */
    uint64_t published;   /* packets given to it */
    uint32_t entries;     /* packets held */
    uint32_t states;      /* encoder states held */
} es_stats_t;

typedef struct es es_t;

/* Creates a cache holding up to max_entries packets and max_states encoder
 * states (about 44 KB each).  NULL when out of memory. */
es_t *es_create(uint32_t max_entries, uint32_t max_states);

/* Frees everything; accepts NULL. */
void es_destroy(es_t *es);

/* Shares this cache's packets and encoder states with every worker of
 * the room through the segment's encode bank (shm/encbank.h), or, with
 * NULL, keeps them to this cache (the default). */
void es_set_bank(es_t *es, seg_t *seg);

/* Opus complexity (0..10) of the shared encoding: libopus's default (9),
 * stated so that a private encoder can be set back to it.  A shared frame
 * is encoded once for a whole bucket, so its cost per singer is small and
 * it keeps the library's best-value setting. */
#define ES_COMPLEXITY 9

/* Sets up an encoder the way every encoder of the worker starts (shared
 * or private: ES_COMPLEXITY), so that the two paths produce the same
 * packets.  Returns an Opus error code. */
int es_encoder_init(OpusEncoder *enc);

/* The next node after frame `frame` with content cid from node. */
uint64_t es_child(uint64_t node, int64_t frame, uint64_t cid);

/* Gives the packet for frame `frame` (clock / 2880) of content cid
 * (samples x, 2880 of them, read only when the frame must be encoded) to
 * a singer at *node, writes it to out (cap bytes) and moves *node on.  The singer's pin moves with it.
 * Returns the packet length, an Opus error (< 0), or ES_ELOST when the
 * state of *node is gone (the caller then encodes privately). */
int es_frame(es_t *es, uint64_t *node, int64_t frame, uint64_t cid, const float *x, uint8_t *out,
             int cap, int64_t now);

/* Copies the encoder state at node into enc (a singer leaving the shared
 * path keeps its decoder's continuity).  Returns 0 or ES_ELOST. */
int es_copy_state(es_t *es, uint64_t node, OpusEncoder *enc);

/* Makes sure this cache holds the encoder state after node, copying it
 * from the bank if the node's packet came from there: called once a
 * request's frames are served, so that the singer's next frame can be
 * encoded here even after the bank has given the state's slot to newer
 * ones.  Does nothing without the bank or when the state is held. */
void es_hold_state(es_t *es, uint64_t node);

/* A singer at node leaves (reset, error, gone): drops its pin. */
void es_unpin(es_t *es, uint64_t node);

/* Takes a pin on node (a singer starts to follow it). */
void es_pin(es_t *es, uint64_t node);

/* The node a chain reached by encoding `frame` (clock / 2880) with
 * content cid (the first chain that did), or ES_ROOT if none is known. */
uint64_t es_node_after(es_t *es, int64_t frame, uint64_t cid);

/* Drops entries unused for ES_RETAIN and not pinned.  Cheap to call often:
 * it does the work at most every 100 ms. */
void es_expire(es_t *es, int64_t now);

const es_stats_t *es_stats(const es_t *es);

#endif
