/*
 * segment.h - the shared-memory segment that holds the audio timeline, and
 * the one API that the daemon and the workers use to create or attach it.
 *
 * Layout (offsets from the start, every region 4 KiB aligned, sizes fixed at
 * creation and computed with overflow checks):
 *
 *   seg_header_shared_t   identity (magic, version, sizes, offsets), the
 *                         daemon's watermark and heartbeat, the control
 *                         state (a latch: two copies, see snap.h) and the
 *                         published text blobs (user summary, events,
 *                         tracks, the song's words and their cues)
 *   mix ring              acc_cell_t[ring_len]: singers' sum and count
 *   backing ring          acc_cell32_t[ring_len]: backing track / metronome
 *   monitor ring          acc_cell32_t[ring_len]: the monitored singer
 *   solo rings            acc_cell_t[SEG_SOLO_RINGS][ring_len]: the singers
 *                         a listener solos, added; cleared by the daemon
 *                         only while that listener solos, so its pages are
 *                         never touched in a room where nobody solos
 *   frame generations     uint32_t[ring_len / 2880]: bumped after every
 *                         change to a 60 ms frame of the rings, so a worker
 *                         can reuse what it rendered and encoded from a
 *                         frame until someone writes into it
 *   user table            seg_user_t[user_cap]
 *   command lanes         seg_lane_t[lanes], one single-producer queue per
 *                         worker id, each with lane_cap commands
 *   chat log              seg_chat_t[chat_cap]
 *   encode bank           seg_bank_t (encbank.h): the shared path's Opus
 *                         packets and encoder states, for every worker
 *
 * Everything in the segment is position-independent: offsets and indices,
 * never pointers.  The per-process handle (seg_t, opaque) holds the mapping,
 * its descriptor and the pointers derived from the offsets.
 *
 * Who writes what (the concurrency contract of ARCHITECTURE.md):
 *   - the daemon alone writes the header's time and control fields, the
 *     backing ring, the user table's identity fields, the chat log and the
 *     consumer index of every lane;
 *   - workers add into the mix, monitor and solo rings with atomic fetch-add, write
 *     the activity fields of the users they serve, and produce commands into
 *     the lane of their worker id;
 *   - exclusive roles (the daemon, each lane's producer) are held with
 *     open-file-description locks on the segment's descriptor, which the
 *     kernel drops when a process dies, so a crashed process never leaves a
 *     role taken.
 *
 * A segment found with an unexpected magic, version or size is refused with
 * an error saying what was found and what was expected; it is never wiped.
 */
#ifndef BB_SEGMENT_H
#define BB_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accum.h"
#include "atomics.h"
#include "song.h"
#include "words.h"

#define SEG_MAGIC UINT64_C(0x314c544247425542) /* "BUBGBTL1" little-endian */
/* 7: the user slot's timing words (timing_msg, timing) and
 * CMD_TIMING_APPLY: a daemon or worker of 6 would neither carry nor read
 * them, so versions 6 and 7 do not share a segment.
 * 8: the header's words and cues blobs (SEG_BLOB_WORDS, SEG_BLOB_CUES),
 * which move every offset after the header, and CMD_WORDS, CMD_CUE: a
 * daemon or worker of 7 would read another layout, so 7 and 8 do not
 * share a segment.  The user slot is version 7's.
 * 9: the levels blob (SEG_BLOB_LEVELS) and the control state's song_track
 * and recording: a daemon of 8 publishes neither, and the blob table grew,
 * so versions 8 and 9 do not share a segment.
 * 10: the solo rings (a region after the monitor ring, off_solo in the
 * header), the control state's solo selections, CMD_SOLO, the user slot's
 * calibration and link words: 9 and 10 do not share a segment.
 * 11: the header's list of removed singers (seg_removed_t, removed.h)
 * and CMD_REMOVE, CMD_LET_BACK, CMD_APPOINT: the header grew, which moves
 * every offset after it, so versions 10 and 11 do not share a segment.
 * 12: the encode bank (encbank.h, off_bank in the header): a worker of 11
 * would neither publish nor find packets there, and the header grew, so
 * 11 and 12 do not share a segment. */
#define SEG_VERSION 12

#define SEG_RING_SECONDS_DEFAULT 124
#define SEG_RING_SECONDS_MIN 16
#define SEG_RING_SECONDS_MAX 600
#define SEG_USERS_DEFAULT 8192
#define SEG_USERS_MAX 65536
#define SEG_LANES 64                 /* worker ids 0 .. 63 */
#define SEG_LANE_CAP 256             /* commands queued per lane */
#define SEG_CHAT_CAP 256             /* chat messages kept */

#define SEG_NAME_MAX 64              /* bytes of a display name, NUL included */
#define SEG_TEXT_MAX 512             /* bytes of a chat message or command text */
#define SEG_CTL_WORDS 96             /* 768 bytes of control state */
#define SEG_BLOB_SUMMARY_MAX 16384
#define SEG_BLOB_EVENTS_MAX 8192
#define SEG_BLOB_TRACKS_MAX 16384
#define SEG_BLOB_WORDS_MAX WORDS_JSON_MAX       /* the song's words (words.h) */
#define SEG_BLOB_CUES_MAX WORDS_CUES_JSON_MAX   /* their cues */
#define SEG_BLOB_LEVELS_MAX 4096     /* 50 rows of ["public id", dB, link, calibration, ms],
                                        each at most 60 bytes */
/* Solos (PROTOCOL.md 9.12): at most SEG_SOLO_RINGS listeners at once (the
 * organiser and the leader) each hear up to SEG_SOLO_MAX chosen singers
 * alone, from a ring of their own that the chosen singers' workers add
 * into. */
#define SEG_SOLO_RINGS 2
#define SEG_SOLO_MAX 8

/* Bytes of a cache line.  Whatever two processes write lives on different
 * lines (ARCHITECTURE.md): each writer's fields of a shared structure are
 * grouped, each group starts a line (_Alignas), and SEG_APART checks at
 * compile time that a group ends before the next writer's group starts. */
#define SEG_LINE 64
#define SEG_APART(type, last_of_a, first_of_b)                                                    \
    _Static_assert(offsetof(type, first_of_b) % SEG_LINE == 0 &&                                  \
                       offsetof(type, last_of_a) + sizeof(((type *)0)->last_of_a) <=              \
                           offsetof(type, first_of_b),                                           \
                   #type ": " #first_of_b " must start a cache line of its own writer, after " #last_of_a)
/* Checks that `field` lies inside its writer's group, the bytes from the
 * start of field `first` up to `end`: a field moved into another writer's
 * group (onto its cache lines) fails the build. */
#define SEG_IN(type, field, first, end)                                                           \
    _Static_assert(offsetof(type, field) >= offsetof(type, first) &&                              \
                       offsetof(type, field) + sizeof(((type *)0)->field) <= (end),               \
                   #type ": " #field " is written by another writer than its neighbours")

/* Error codes: 0 for success, negative values below. */
enum {
    SEG_OK = 0,
    SEG_ESYS = -1,        /* a system call failed; errno says why */
    SEG_EMAGIC = -2,      /* not a Bucket Brigade segment */
    SEG_EVERSION = -3,    /* made by another layout version */
    SEG_ESIZE = -4,       /* sizes in the header disagree with the file */
    SEG_ENOTREADY = -5,   /* creation never finished */
    SEG_EPARAM = -6,      /* invalid creation parameters */
    SEG_ENOENT = -7,      /* no such segment (daemon not started) */
    SEG_EBUSY = -8,       /* the role is held by another live process */
    SEG_EMISMATCH = -9,   /* valid, but created with other parameters */
};

/* Why an operation failed: a code and a sentence for the log. */
typedef struct {
    int code;
    int sys_errno;
    char msg[256];
} seg_err_t;

/* The parameters a segment is created with. */
typedef struct {
    uint32_t ring_seconds;  /* SEG_RING_SECONDS_MIN .. _MAX */
    uint32_t user_cap;      /* 16 .. SEG_USERS_MAX */
} seg_params_t;

/* ---- shared layout ---------------------------------------------------- */

/* A latch: two copies of a value and a sequence number.  The writer (the
 * daemon alone) bumps seq to odd and rewrites copy 0, then to even and
 * rewrites copy 1; readers use copy (seq & 1) and retry if seq moved.  A
 * writer that dies mid-update leaves the other copy whole and seq steady, so
 * readers never wait on a dead writer. */
typedef struct {
    _Alignas(SEG_LINE) _Atomic uint64_t seq;
    _Alignas(SEG_LINE) _Atomic uint64_t w[2][SEG_CTL_WORDS];
} seg_latch_t;

/* A published text (JSON) with a generation; same latch discipline. */
typedef struct {
    _Alignas(SEG_LINE) _Atomic uint64_t seq;
    _Alignas(SEG_LINE) _Atomic uint64_t gen[2];
    _Atomic uint64_t len[2];
    uint32_t cap;            /* bytes per copy, fixed at creation */
    uint32_t off;            /* offset of copy 0 from the segment start */
} seg_blob_t;

enum {
    SEG_BLOB_SUMMARY = 0, SEG_BLOB_EVENTS, SEG_BLOB_TRACKS,
    SEG_BLOB_WORDS,   /* {"id","lines","verses"}: words_json() */
    SEG_BLOB_CUES,    /* {"words","n","cues"}: words_cues_json(); changes on every cue */
    SEG_BLOB_LEVELS,  /* [["public id", dB], ...]: rm_publish_levels() */
    SEG_NBLOBS
};
/* The singers the organiser removed from the room (removed.h): at most
 * SEG_REMOVED_MAX, each as its userid, public id and name; a latch as the
 * control state's (two copies, seq), the daemon its only writer.  Words of
 * a copy: [0] a generation that changes with the list, [1] the count,
 * then per entry userid, public id and SEG_NAME_MAX / 8 words of name. */
#define SEG_REMOVED_MAX 32
#define SEG_REMOVED_ENTRY_WORDS (2 + SEG_NAME_MAX / 8)
#define SEG_REMOVED_WORDS (2 + SEG_REMOVED_MAX * SEG_REMOVED_ENTRY_WORDS)
typedef struct {
    _Alignas(SEG_LINE) _Atomic uint64_t seq;
    _Alignas(SEG_LINE) _Atomic uint64_t w[2][SEG_REMOVED_WORDS];
} seg_removed_t;

/* Each blob (the words and cues too) starts its own cache lines, and its
 * sequence number has a line of its own: a reader spinning on one blob
 * never shares a line with a publish of another. */
_Static_assert(sizeof(seg_blob_t) % SEG_LINE == 0, "a blob must end on a cache line");

typedef struct {
    /* Identity, written once at creation before `ready`. */
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint64_t total_size;
    uint32_t sample_rate;
    uint32_t ring_len;        /* samples, a multiple of RING_FRAME */
    uint32_t user_cap;
    uint32_t lanes;
    uint32_t lane_cap;
    uint32_t chat_cap;
    uint64_t off_mix, off_backing, off_monitor, off_users, off_lanes, off_chat;
    uint64_t off_fgen;
    uint64_t off_solo;        /* SEG_SOLO_RINGS rings of ring_len cells */
    uint64_t off_bank;        /* the encode bank (encbank.h) */
    uint64_t id_key[2];       /* secret key of the public-id hash */
    int64_t created_clock;
    _Atomic uint32_t ready;   /* 1 once initialised; release at creation,
                                 acquire in seg_attach() */

    /* Daemon-written time: its own cache line. */
    _Alignas(SEG_LINE) _Atomic int64_t cleared_to; /* watermark: release by the daemon after
                                     clearing; acquire by workers in
                                     tl_watermark() */
    _Atomic int64_t heartbeat;    /* clock of the daemon's last tick; relaxed
                                     (status only) */
    _Atomic int64_t daemon_pid;   /* relaxed (status only) */
    _Atomic uint64_t daemon_starts; /* relaxed (status only) */
    _Atomic int64_t chat_head;    /* seq of the newest chat message; release
                                     by the daemon after writing it, acquire
                                     by workers in chat_read() */
    _Atomic int64_t rec_gate;     /* the recorder may have read the mix below
                                     this clock: workers add nothing below
                                     it (timeline.h, "The recorder's gate");
                                     seq_cst both sides */

    /* Places in the user table promised to joins not yet applied: a worker
     * adds one (acq_rel) before it queues a JOIN and then reads the control
     * state; the daemon takes its joins off (release) after publishing the
     * control state that counts their users.  A worker that sees n_users +
     * tickets at capacity refuses the newcomer at once.  Its own line: all
     * processes write it.  A worker killed between adding a ticket and
     * queuing its JOIN (a few instructions) leaves one place promised until
     * the daemon restarts, which clears the count. */
    _Alignas(SEG_LINE) _Atomic int32_t join_tickets;

    /* Bumped by a worker after it queued commands, to wake the daemon from
     * its sleep between ticks (futex.h): release by workers, acquire by
     * the daemon before it sleeps on it.  Its own line: all workers write
     * it.  A stale or lost bump costs at most one tick of delay. */
    _Alignas(SEG_LINE) _Atomic uint32_t wake;

    seg_latch_t ctl;              /* seg_ctl_t, see snap.h */
    seg_blob_t blobs[SEG_NBLOBS];
    seg_removed_t removed;        /* removed.h; daemon-written, like the blobs */
} seg_header_shared_t;

SEG_APART(seg_header_shared_t, ready, cleared_to);
#define SEG_HDR_DAEMON_(f) SEG_IN(seg_header_shared_t, f, cleared_to, offsetof(seg_header_shared_t, join_tickets))
SEG_HDR_DAEMON_(cleared_to);
SEG_HDR_DAEMON_(heartbeat);
SEG_HDR_DAEMON_(daemon_pid);
SEG_HDR_DAEMON_(daemon_starts);
SEG_HDR_DAEMON_(chat_head);
SEG_HDR_DAEMON_(rec_gate);
#undef SEG_HDR_DAEMON_
SEG_APART(seg_header_shared_t, rec_gate, join_tickets);
SEG_APART(seg_header_shared_t, join_tickets, wake);
SEG_APART(seg_header_shared_t, wake, ctl);
SEG_APART(seg_latch_t, seq, w);
SEG_APART(seg_blob_t, seq, gen);
SEG_APART(seg_removed_t, seq, w);
_Static_assert(offsetof(seg_header_shared_t, blobs) % SEG_LINE == 0, "the blobs must start a cache line");

/* One user slot.  The daemon writes the first part (identity, control), the
 * worker serving the user writes the second part (activity), each group on
 * cache lines of its own (the slot is line-aligned, so neither group shares
 * a line with a neighbouring slot either).  `gen` is odd while the daemon
 * rewrites the identity and changes whenever the slot is given to another
 * user, so a worker holding a slot index checks it before trusting what it
 * read. */
typedef struct {
    _Alignas(SEG_LINE) _Atomic uint64_t gen; /* release by the daemon after an identity
                                      write; acquire by readers (seqlock) */
    _Atomic uint64_t userid;       /* relaxed under gen */
    _Atomic uint64_t public_id;    /* relaxed under gen */
    _Atomic uint32_t live;         /* 1 while the slot holds a user */
    _Atomic uint32_t flags;        /* SEG_UF_*, relaxed (advisory) */
    _Atomic uint32_t mic_volume;   /* friendly mic volume, float bits, relaxed */
    _Atomic uint32_t delay_msg;    /* (seq << 16) | seconds: a delay_seconds
                                      message for this user; relaxed, the
                                      worker delivers it when seq changes */
    _Atomic uint64_t name[SEG_NAME_MAX / 8]; /* relaxed under gen */
    /* Added in version 7 where the group had room, so no other field
     * moved. */
    _Atomic uint32_t timing_msg;   /* seq of the last "apply your measured
                                      timing" for this user (users.h);
                                      relaxed, as delay_msg */
    /* Written by the worker serving the user: relaxed (single writer per
     * user; the daemon reads them for expiry and the summary, where a value
     * one request old is as good as the newest). */
    _Alignas(SEG_LINE) _Atomic int64_t last_heard;
    _Atomic int64_t delay_samples;
    _Atomic int64_t last_write_clock;
    _Atomic uint32_t rms;          /* float bits */
    _Atomic int32_t worker;
    /* How far the user's voice is in the mix, for the recorder (users.h,
     * users_mix_claim()): not relaxed, seq_cst / release, see there. */
    _Atomic int64_t mixed_to;
    /* Added in version 7 (see timing_msg above). */
    _Atomic uint32_t timing;       /* the timing watch's verdict on the user
                                      (users.h); relaxed, as rms */
    /* Added in version 10 where the group had room, so no other field
     * moved; relaxed, as rms (status for the console). */
    _Atomic uint32_t calib;        /* the page's calibration (users.h) */
    _Atomic uint32_t link;         /* USERS_LINK_*: how the uploads arrive */
} seg_user_t;

SEG_APART(seg_user_t, timing_msg, last_heard);
#define SEG_USER_DAEMON_(f) SEG_IN(seg_user_t, f, gen, offsetof(seg_user_t, last_heard))
#define SEG_USER_WORKER_(f) SEG_IN(seg_user_t, f, last_heard, sizeof(seg_user_t))
SEG_USER_DAEMON_(gen);
SEG_USER_DAEMON_(userid);
SEG_USER_DAEMON_(public_id);
SEG_USER_DAEMON_(live);
SEG_USER_DAEMON_(flags);
SEG_USER_DAEMON_(mic_volume);
SEG_USER_DAEMON_(delay_msg);
SEG_USER_DAEMON_(timing_msg);
SEG_USER_DAEMON_(name);
SEG_USER_WORKER_(last_heard);
SEG_USER_WORKER_(delay_samples);
SEG_USER_WORKER_(last_write_clock);
SEG_USER_WORKER_(rms);
SEG_USER_WORKER_(worker);
SEG_USER_WORKER_(timing);
SEG_USER_WORKER_(mixed_to);
SEG_USER_WORKER_(calib);
SEG_USER_WORKER_(link);
#undef SEG_USER_DAEMON_
#undef SEG_USER_WORKER_
_Static_assert(sizeof(seg_user_t) % SEG_LINE == 0, "a user slot must end on a cache line");
_Static_assert(sizeof(seg_user_t) == 3 * SEG_LINE && offsetof(seg_user_t, mixed_to) == 160,
               "layout version 7's user slot: a field that moves needs a new SEG_VERSION");

#define SEG_UF_MONITORING 1u
#define SEG_UF_MONITORED 2u
#define SEG_UF_SPECTATOR 4u

/* Command types, from workers to the daemon. */
typedef enum {
    CMD_NONE = 0,
    CMD_JOIN,           /* userid, name, a = spectator */
    CMD_RENAME,         /* userid, name */
    CMD_CHAT,           /* userid, text (posted under the user's name) */
    CMD_TEMPO,          /* a = bpm, b = repeats, c = bpr (-1 = unchanged) */
    CMD_VOLUME,         /* f = friendly global volume */
    CMD_BACKING_VOLUME, /* f = friendly backing volume */
    CMD_MIC_VOLUME,     /* target = public id, f = friendly volume */
    CMD_TRACK,          /* text = track name */
    CMD_LEAD,           /* userid */
    CMD_START,          /* userid, a = read clock */
    CMD_STOP,           /* userid, a = end clock */
    CMD_MONITOR,        /* userid, target = public id (0 = stop) */
    CMD_EVENT,          /* text = evid JSON, name = clock JSON */
    CMD_RESET_EVENTS,
    CMD_RESCAN_TRACKS,  /* an upload added a track */
    CMD_SPECTATOR,      /* userid, a = 1 spectator, 0 singer */
    CMD_ROOM_KEY,       /* organiser: a = 1 organiser's key, 0 singers'; text = SHA-256, hex */
    CMD_ROOM_CAP,       /* organiser: a = most singers, 0 = the host's default */
    CMD_TIMING_APPLY,   /* userid, target = public id: apply its measured timing */
    CMD_WORDS,          /* userid, a = bytes of the words file, b = offset of this part,
                           c = the load's number (parts of one load share it),
                           text = up to SEG_WORDS_PART bytes of the file */
    CMD_CUE,            /* userid, a = clock the leader heard, b = line (0-based),
                           c = words id the line is of */
    CMD_SOLO,           /* userid, a = count (0 = hear everyone), text = that many
                           public ids as uint64_t (roomsolo.c) */
    CMD_REMOVE,         /* organiser: target = public id of a singer to remove from the room */
    CMD_LET_BACK,       /* organiser: target = public id of a removed singer to let back in */
    CMD_APPOINT,        /* organiser: target = public id of a present singer to lead */
    CMD_NTYPES
} seg_cmd_type_t;

/* Bytes of a words file one CMD_WORDS carries. */
#define SEG_WORDS_PART 480
_Static_assert(SEG_WORDS_PART < SEG_TEXT_MAX, "a words part must fit a command's text");
/* Commands a whole words file takes. */
#define SEG_WORDS_PARTS_MAX ((WORDS_TEXT_MAX + SEG_WORDS_PART - 1) / SEG_WORDS_PART)
_Static_assert(SEG_WORDS_PARTS_MAX < SEG_LANE_CAP / 4, "a words file must fit a lane with room to spare");

/* A command's role bits: what the key of the request that made it opens. */
#define CMD_ROLE_ORGANISER 1u

typedef struct {
    uint32_t type;
    uint32_t lane;
    uint32_t role;               /* CMD_ROLE_* */
    uint32_t pad_;
    int64_t clock;               /* server clock when issued */
    uint64_t seq;                /* lane sequence number */
    uint64_t userid;
    uint64_t target;
    int64_t a, b, c;
    double f;
    char name[SEG_NAME_MAX];
    char text[SEG_TEXT_MAX];
} seg_cmd_t;

/* A single-producer, single-consumer queue of commands. */
typedef struct {
    _Alignas(SEG_LINE) _Atomic uint64_t head; /* consumer index: release by the
                                daemon after reading a cell; acquire by the
                                producer before reusing it */
    _Atomic uint32_t applied; /* low 32 bits of the number of commands whose
                                effects the daemon has published (control
                                state, user table, chat): release by the
                                daemon after publishing; acquire by the
                                producer, which may sleep on it (futex.h) */
    _Alignas(SEG_LINE) _Atomic uint64_t tail; /* producer index: release by the
                                producer after writing a cell; acquire by the
                                daemon */
    _Atomic uint64_t dropped; /* commands refused because full; relaxed */
    /* seg_cmd_t cells[lane_cap] follow (written by the producer alone) */
} seg_lane_t;

SEG_APART(seg_lane_t, applied, tail);
SEG_IN(seg_lane_t, head, head, offsetof(seg_lane_t, tail));
SEG_IN(seg_lane_t, dropped, tail, sizeof(seg_lane_t));
_Static_assert(sizeof(seg_lane_t) % SEG_LINE == 0, "lane cells must start a cache line");

/* One chat message; `lock` is a per-entry seqlock (odd while written). */
typedef struct {
    _Atomic uint64_t lock;
    _Atomic uint64_t seq;        /* message number, 1, 2, ... */
    _Atomic uint64_t sender;     /* public id of the sender */
    _Atomic uint64_t name[SEG_NAME_MAX / 8];
    _Atomic uint64_t text[SEG_TEXT_MAX / 8];
} seg_chat_t;

/* ---- the per-process handle ------------------------------------------- */

typedef struct seg seg_t;

/* Opens the segment `name` (a POSIX shm name, "/bb"), creating it with
 * `params` if it does not exist.  An existing segment is validated and
 * attached as it is, never cleared; if its parameters differ from `params`
 * the call fails with SEG_EMISMATCH.  *created tells which happened.
 * Returns NULL and fills *err on failure. */
seg_t *seg_open_or_create(const char *name, const seg_params_t *params,
                          bool *created, seg_err_t *err);

/* Attaches an existing, valid segment (what workers do).  Returns NULL and
 * fills *err on failure (SEG_ENOENT if the daemon has not created it). */
seg_t *seg_attach(const char *name, seg_err_t *err);

/* Unmaps and closes; accepts NULL.  Roles held are released. */
void seg_detach(seg_t *seg);

/* Removes the segment's name (tests and explicit operator resets only). */
int seg_unlink(const char *name);

/* Takes the daemon role (exclusive, non-blocking).  SEG_EBUSY if another
 * live daemon holds it. */
int seg_claim_daemon(seg_t *seg, seg_err_t *err);

/* Takes the producer role of command lane `lane` (a worker id). */
int seg_claim_lane(seg_t *seg, uint32_t lane, seg_err_t *err);

/* A sentence for an error code. */
const char *seg_strerror(int code);

/* Accessors to the mapped regions. */
seg_header_shared_t *seg_header(const seg_t *seg);
acc_cell_t *seg_mix(const seg_t *seg);
acc_cell32_t *seg_backing(const seg_t *seg);
acc_cell32_t *seg_monitor(const seg_t *seg);
/* Solo ring k (0 .. SEG_SOLO_RINGS - 1), ring_len cells. */
acc_cell_t *seg_solo(const seg_t *seg, uint32_t k);
_Atomic uint32_t *seg_fgen(const seg_t *seg);
typedef struct seg_bank seg_bank_t;
seg_bank_t *seg_bank(const seg_t *seg);
seg_user_t *seg_users(const seg_t *seg);
seg_lane_t *seg_lane(const seg_t *seg, uint32_t lane);
seg_cmd_t *seg_lane_cells(const seg_t *seg, uint32_t lane);
seg_chat_t *seg_chat(const seg_t *seg);
uint32_t seg_ring_len(const seg_t *seg);
uint32_t seg_user_cap(const seg_t *seg);
const char *seg_name(const seg_t *seg);
uint8_t *seg_base(const seg_t *seg);

/* Gives the memory of [start, start + bytes) inside the segment back to
 * the system: it reads as zeros from then on, in every process, and costs
 * nothing until written again (fallocate PUNCH_HOLE on the segment's
 * file; a partial page at either end is zeroed).  What other processes add
 * concurrently lands before it or is lost with it, as with a plain store
 * of zeros.  Returns SEG_OK, SEG_EPARAM (outside the segment) or SEG_ESYS
 * (the file system cannot punch holes; the caller zeroes instead). */
int seg_release(seg_t *seg, const void *start, size_t bytes);

/* The public id of a userid: a keyed hash (SipHash-2-4 with the segment's
 * secret key) cut to 50 bits, so every process computes the same id, no one
 * can recover the userid from it, and it stays an exact JavaScript number.
 * Never 0. */
uint64_t seg_public_id(const seg_t *seg, uint64_t userid);

/* Reads the server clock: samples at 48 kHz since the Unix epoch from
 * CLOCK_REALTIME, the same in every process on the host. */
int64_t seg_now(void);

/* Copies a NUL-terminated string into/out of atomic words (relaxed), so
 * strings in the segment can be read while the daemon may rewrite them
 * (under a seqlock) without a data race.  `cap` is the bytes of the words. */
void seg_str_store(_Atomic uint64_t *w, size_t cap, const char *s);
void seg_str_load(const _Atomic uint64_t *w, size_t cap, char *out);

#endif
