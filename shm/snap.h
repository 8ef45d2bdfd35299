/*
 * snap.h - the control state and the published texts, read as snapshots.
 *
 * The daemon is the only writer of both.  Workers read them without ever
 * waiting on the daemon: the control state lives in a latch (two copies and
 * a sequence number, see seg_latch_t), so a reader copies the stable copy
 * and retries only if the daemon published again meanwhile; a daemon that
 * dies mid-publish leaves the other copy whole.  All words are copied with
 * relaxed atomic loads bracketed by acquire loads of the sequence number
 * (the C11 seqlock pattern), so there is no data race to report.
 *
 * The texts (user summary, events, track list) carry a generation that
 * changes only when the text changes; a reader that already holds the
 * current generation copies nothing.
 */
#ifndef BB_SNAP_H
#define BB_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delay.h"
#include "segment.h"
#include "song.h"

/* Bytes of the name of the track a song plays, NUL included (a track's
 * name has at most TRK_NAME_MAX = 100 bytes; roomcmd.c checks). */
#define SEG_TRACK_NAME_MAX 104

/* A listener's solo (PROTOCOL.md 9.12): the daemon gives ring k of the
 * segment to a listener who solos, and the singers named in ids[] add
 * their voice into it from clock `since` on (their workers read this).  A
 * free selection has listener 0 and n 0. */
typedef struct {
    uint64_t listener;            /* the listener's userid; 0: free */
    uint64_t listener_public;
    int64_t since;                /* the ring holds the selection from here */
    uint32_t n;                   /* ids used, 0 .. SEG_SOLO_MAX */
    uint32_t organiser;           /* 1: asked with the organiser's key */
    uint64_t ids[SEG_SOLO_MAX];   /* public ids of the soloed singers */
} seg_solo_t;

/* Everything the workers need to know of the song and the settings. */
typedef struct {
    song_t song;
    uint64_t leader_public;       /* public id of the leader, 0 if none */
    char leader_name[SEG_NAME_MAX];
    double global_volume;         /* friendly, 0..2 */
    double backing_volume;        /* friendly, 0..2 */
    float global_gain;            /* gain_volume(global_volume) */
    float backing_gain;           /* gain_volume(backing_volume) */
    uint32_t settings_gen;        /* changes when bpm / repeats / bpr change */
    uint32_t epoch;               /* changes on every state reset */
    uint32_t n_active;            /* users heard within 5 s */
    uint32_t n_singers;           /* of them, those who sing (not listeners) */
    uint32_t n_users;             /* users in the table */
    uint32_t users_full;          /* 1 when no slot is free for a new user */
    uint32_t summary_more;        /* active users the summary leaves out */
    uint32_t n_buckets;
    int32_t buckets[DELAY_DEPTH_MAX];
    uint64_t monitored_public;    /* public id of the monitored user, or 0 */
    int64_t track_started;        /* clock where the playing track began */
    int64_t recorded_song;        /* start clock of the last song whose
                                     recording is complete */
    uint32_t recording;           /* 1 while the song is being recorded */
    uint32_t pad_;
    char song_track[SEG_TRACK_NAME_MAX]; /* the track the song started with,
                                     "" a cappella or with the metronome */
    seg_solo_t solo[SEG_SOLO_RINGS];
} seg_ctl_t;

_Static_assert(sizeof(seg_ctl_t) <= SEG_CTL_WORDS * 8, "control state outgrew its latch");

/* Copies the current control state into *out.  Never blocks on the daemon;
 * retries only while the daemon publishes. */
void snap_ctl_read(const seg_t *seg, seg_ctl_t *out);

/* Publishes a new control state (daemon only). */
void snap_ctl_publish(seg_t *seg, const seg_ctl_t *in);

/* Reads published text `which` (SEG_BLOB_*).  If its generation equals
 * *gen, copies nothing and returns 0.  Otherwise copies it into buf (cap
 * bytes; the text is cut to fit and NUL-terminated), stores its length in
 * *len and its generation in *gen, and returns 1. */
int snap_blob_read(const seg_t *seg, int which, uint64_t *gen, char *buf,
                   size_t cap, size_t *len);

/* Publishes text (daemon only).  If it equals the current text nothing
 * changes and 0 is returned; otherwise the generation moves on and 1 is
 * returned.  Text longer than the blob's capacity is refused (-1). */
int snap_blob_publish(seg_t *seg, int which, const char *text, size_t len);

#endif
