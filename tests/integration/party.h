/*
 * party.h - the singers of a few rooms, sung in lockstep by one thread
 * through the real stack, and what every answer told each of them.
 *
 * Each member is a bbclient singer over its own kept-alive HTTP connection
 * to nginx, in a room (a keyed one, with its singers' or its organiser's
 * key, or the default room), sending one POST per 600 ms round, paced in
 * real time, with a tone of its own at exact timeline clocks (amp
 * PT_AMP, sin(2 pi hz t / 48000) at clock t) wherever the test wants it.
 * Running every member from one thread keeps the test deterministic: a
 * control queued before a round goes out in that round, and what the
 * daemon made of it shows in the answers of the next.
 *
 * After each answer the member keeps what it said: the public id, role,
 * leader, song clocks, tempo, cue events, track list, summary, moves
 * (delay_seconds) and refusals; the answer itself stays readable through
 * bbc_singer_meta() until the member's next exchange.  A view
 * (pt_view_take()) gathers all of it for every member, with each room's
 * control state read from its timeline segment (the volumes and the
 * requested track, which no answer carries) and the size of the song's
 * recording, so that a step can say what changed and what did not.
 *
 * Clocks are the server's: pt_now() is the latest server_clock answered.
 */
#ifndef BB_PARTY_H
#define BB_PARTY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bbclient.h"
#include "check.h"
#include "fstack.h"
#include "segment.h"
#include "snap.h"

#define PT_MAX 12            /* members */
#define PT_ROOMS 2
#define PT_AMP 0.25          /* amplitude of every tone */
#define PT_TEXT 2048         /* bytes kept of an events or tracks list */
#define PT_METER_MAX 2048    /* 60 ms frames a metered member keeps (123 s) */

typedef struct {
    char id[16];             /* "" for the default room */
    char singer_key[32];     /* "" for the default room */
    char organiser_key[32];
    char rec_dir[400];       /* where its recordings go */
    seg_t *seg;              /* its timeline, to read the control state */
} pt_room_t;

/* The level of two tones in each 60 ms frame a member heard. */
typedef struct {
    int hz[2];
    int n;
    int64_t clock[PT_METER_MAX];     /* receive clock where the frame starts */
    double amp[PT_METER_MAX][2];
} pt_meter_t;

typedef struct {
    /* who */
    const char *name;
    int room;                /* index into the party's rooms */
    bool organiser;          /* holds the organiser's key */
    bool listener;           /* spectator=1 on every POST, while uploading */
    bool stranger;           /* holds no key of the room, or a wrong one */
    int hz;                  /* its tone */
    char userid[24];
    bbc_singer_t *s;
    /* what the test makes it do */
    bool paused;             /* sends nothing: gone quiet */
    bool sings;              /* its tone at every clock but [hush_from, hush_to) */
    int64_t hush_from, hush_to;
    struct {
        int64_t from, to;    /* sings solo_hz over [from, to), whatever else */
    } solo[2];
    int solo_hz;
    pt_meter_t *meter;       /* NULL: not metered */
    /* what its answers said */
    char pub[64];            /* its public id */
    char role[16];
    char leader[64];         /* public id of the leader ("" none) */
    int64_t song_start, song_end;   /* 0 when absent */
    int bpm, repeats, bpr;
    char events[PT_TEXT];
    char tracks[PT_TEXT];
    char chats[PT_TEXT];     /* every chat received: "name|public id|text" a line, oldest cut first */
    int n_users;             /* active singers in its room */
    cJSON *summary;          /* the last user_summary */
    int moves;               /* delay_seconds received */
    int failures;            /* exchanges that failed */
    int answers;
    float rx[BBC_BATCH];
} pt_member_t;

typedef struct {
    fs_t *fs;
    check_t *ck;
    const char *tname;
    pt_room_t rooms[PT_ROOMS];
    int n_rooms;
    pt_member_t m[PT_MAX];
    int n;
    int64_t now;             /* the latest server clock answered */
    int rounds;
    bbuf_t query;            /* pt_query()'s */
} pt_party_t;

/* Adds the default room (keyed == NULL) or a room made with
 * fs_room_create(), and attaches its timeline.  Returns its index, or -1
 * having said why. */
int pt_room_add(pt_party_t *p, const fs_room_t *keyed);

/* Adds a member to room `room` on worker `worker` (a userid nginx sends
 * there, searched from `seed`).  It sings its tone from the start.
 * Returns it, or NULL having said why. */
pt_member_t *pt_member_add(pt_party_t *p, const char *name, int room, bool organiser, bool listener,
                           int hz, int worker, unsigned seed);

/* A stranger to keyed room `room`, in *m: it knows the room's id but holds
 * `key` (no key when "", else one the room does not have), and sings its
 * tone through nginx to worker `worker`, its POSTs unpaced (they are
 * refused whenever they come).  It is not a member: rounds and views
 * leave it out; the caller drives it (bbc_connect(), bbc_exchange_batch())
 * and frees it.  Returns 0, or -1 having said why. */
int pt_stranger_init(pt_party_t *p, pt_member_t *m, const char *name, int room, const char *key, int hz,
                     int worker, unsigned seed);

/* Frees what pt_stranger_init() made; accepts a zeroed *m. */
void pt_stranger_free(pt_member_t *m);

/* One round: every member that is not paused and needs one probes first,
 * then each sends its POST (at its real-time slot) and the answer is
 * kept.  pt_rounds() runs k of them. */
void pt_round(pt_party_t *p);
void pt_rounds(pt_party_t *p, int k);

/* Runs rounds until cond(p, arg) holds (it may hold already), at most max
 * of them.  Returns whether it held. */
bool pt_until(pt_party_t *p, bool (*cond)(pt_party_t *p, void *arg), void *arg, int max);

/* The latest server clock answered. */
static inline int64_t pt_now(const pt_party_t *p) { return p->now; }

/* Members of room r, and whether m leads it (as m's own last answer says). */
bool pt_in(const pt_member_t *m, int r);
bool pt_leads(const pt_member_t *m);

/* What viewer's last summary shows of target: its mic volume (-1 when not
 * listed) and flags (bit 0 monitoring, bit 1 monitored). */
double pt_mic_seen(const pt_member_t *viewer, const pt_member_t *target);
int pt_flags_seen(const pt_member_t *viewer, const pt_member_t *target);

/* Whether m's last events / tracks list holds the text `what`. */
bool pt_events_have(const pt_member_t *m, const char *what);
bool pt_tracks_have(const pt_member_t *m, const char *what);

/* Whether m received the chat `text` from `from`, under from's name and
 * public id. */
bool pt_chat_heard(const pt_member_t *m, const pt_member_t *from, const char *text);

/* The room's control state as its daemon last published it. */
void pt_ctl(const pt_party_t *p, int r, seg_ctl_t *out);

/* Size in bytes of the recording of the song that started at `start` in
 * room r, or -1 when it is not there. */
long pt_wav_size(const pt_party_t *p, int r, int64_t start);

/* Mix recordings (WAV, not stems) in room r's recordings folder. */
int pt_wav_count(const pt_party_t *p, int r);

/* The query a page of m's would send to another endpoint: `name=value`
 * first (when name is not NULL), then m's room, key and userid.  Valid
 * until the next call; "" when out of memory. */
const char *pt_query(pt_party_t *p, const pt_member_t *m, const char *name, const char *value);

/* Everything a step compares: per member what its answers said, per room
 * the control state and the size of the song's recording. */
typedef struct {
    struct {
        bool on;             /* the member was sending */
        char leader[64];
        int64_t start, end;
        int bpm, repeats, bpr;
        char events[PT_TEXT];
        char chats[PT_TEXT];
        int n_users;
        int moves, offset;
        double mic[PT_MAX];  /* as this member's summary shows each member */
        int flags[PT_MAX];
        char role[16];
    } m[PT_MAX];
    seg_ctl_t ctl[PT_ROOMS];
    long wav[PT_ROOMS];      /* -1: no song or not recorded yet */
} pt_view_t;

void pt_view_take(const pt_party_t *p, pt_view_t *v);

/* Checks that nothing changed from a to b for anyone: leader, song clocks,
 * tempo, cue events, chats received, the number of singers, positions (no
 * move, same offset), everyone's mic volume and monitoring as each member
 * sees them, roles, each room's volumes, track, tempo, leader, song and
 * buckets; and that each song's recording grew.  `what` names the step in
 * failures.  Returns the number of differences. */
int pt_view_same(pt_party_t *p, const pt_view_t *a, const pt_view_t *b, const char *what);

/* Stops the members, detaches the rooms.  The stack is the caller's. */
void pt_free(pt_party_t *p);

#endif
