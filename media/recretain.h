/* recretain: how long a host keeps its recordings, and how much of them:
 * one sweep over the whole recordings folder, every room's songs at once,
 * that deletes what the operator's limits say must go.
 *
 * The folder: the default room's songs in ROOT itself, each room's in
 * ROOT/ROOMID/ (any subfolder whose name is a room id, open or closed:
 * a closed room's recordings take space too).  A sweep applies, in order:
 *   1. count: in each room, the songs beyond its newest `keep` go;
 *   2. age:   songs that started more than keep_days ago go;
 *   3. bytes: while all recordings together take more than max_bytes, the
 *             oldest song of any room goes;
 * and never a song the caller protects (the song a room is recording
 * now).  A song none of whose files changed for `fresh_s` seconds is also
 * spared by the bytes rule, so a song whose recording has just begun and
 * is not yet protected is never taken.  When protected songs alone keep
 * the folder over max_bytes, the sweep asks the caller to stop them
 * (`stop`): they stop growing, and once stopped they are songs like the
 * others.  A song with files but no project that nobody protects and that
 * did not change for seal_s seconds was cut off and never resumed: the
 * sweep seals it (rec_seal_song(), REC_END_INTERRUPTED).
 *
 * Each song deleted, sealed or stopped is one log line naming the room,
 * the song and the limit.  Cost: a readdir and a stat per file of the
 * folder, so run it on a thread that may wait on the disk, every few
 * seconds, not on a real-time one.  No globals.
 */
#ifndef BB_MEDIA_RECRETAIN_H
#define BB_MEDIA_RECRETAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "recdir.h"

/* Why a song was deleted. */
typedef enum {
    REC_GONE_COUNT = 0,   /* more than `keep` songs in its room */
    REC_GONE_AGE,         /* older than keep_days */
    REC_GONE_BYTES,       /* the host's recordings over max_bytes */
    REC_GONE_REASONS
} rec_gone_t;

/* The room id given for the songs in ROOT itself. */
#define REC_DEFAULT_ROOM "default"

/* Whether the song `stamp` of room `room` must stay (it is being
 * recorded). */
typedef bool (*rec_protect_fn)(void *user, const char *room, const char *stamp);
/* Asks that the recording of song `stamp` of room `room` stop.  Returns
 * true if this is a new request, false if it was asked already and not
 * yet done (then the sweep neither logs nor counts it again). */
typedef bool (*rec_stop_fn)(void *user, const char *room, const char *stamp);

typedef struct {
    const char *root;          /* the recordings folder */
    int keep;                  /* songs kept per room, >= 1 */
    int keep_days;             /* days a song is kept; 0: no age limit */
    uint64_t max_bytes;        /* bytes of all recordings; 0: no cap */
    int64_t now;               /* Unix seconds, for ages and freshness */
    int fresh_s;               /* seconds a changed song is spared by the bytes rule */
    int seal_s;                /* seconds unchanged before an unprotected song without
                                  a project is sealed */
    rec_protect_fn protect;    /* may be NULL: nothing protected */
    rec_stop_fn stop;          /* may be NULL */
    void *user;                /* for protect and stop */
    rec_log_fn log;
    void *log_user;
} rec_retain_t;

/* What a sweep did and found. */
typedef struct {
    uint32_t deleted[REC_GONE_REASONS];   /* songs deleted, by reason */
    uint64_t deleted_bytes;
    uint32_t sealed;                      /* songs sealed as interrupted */
    uint32_t stopped;                     /* recordings newly asked to stop (bytes) */
    uint32_t rooms;                       /* folders swept */
    uint32_t songs;                       /* songs left */
    uint64_t bytes;                       /* bytes of the songs left */
} rec_retain_report_t;

/* Runs one sweep (see the top of this file) and fills *rep.  Returns
 * REC_OK, REC_ERR_ARG (no root, keep < 1, negative limits), REC_ERR_IO
 * (the root cannot be read; a room folder that cannot be read is logged
 * and skipped) or REC_ERR_NOMEM. */
int rec_retain_sweep(const rec_retain_t *cfg, rec_retain_report_t *rep);

/* The limit's name for log lines and metrics labels: "count", "age",
 * "bytes"; "unknown" out of range. */
const char *rec_gone_name(rec_gone_t why);

/* Parses a size for an operator's option: a whole number of bytes with
 * an optional suffix K, M, G or T (powers of 1024; "KiB", "MB", "GiB" and
 * the like are read the same) into *out.  Returns 0, or -1 for anything
 * else, zero, or a size that overflows. */
int rec_parse_size(const char *s, uint64_t *out);

#endif
