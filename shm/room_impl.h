/*
 * room_impl.h - what the parts of a room's daemon share: the room's state
 * and the functions one part calls in another.  Included by room.c (time,
 * users, summary, the tick), roomcmd.c (commands and roles), roomrec.c
 * (the recording), roomwords.c (the song's words and cues) and
 * roomsolo.c (the listeners' solos) only.
 */
#ifndef BB_ROOM_IMPL_H
#define BB_ROOM_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "media/recording.h"
#include "removed.h"
#include "rng.h"
#include "room.h"
#include "snap.h"
#include "trackset.h"
#include "users.h"
#include "words.h"

#define RM_CMDS_PER_TICK 4096
#define RM_HOUSE_EVERY (48000 / 10)       /* housekeeping every 100 ms */
#define RM_STATUS_EVERY (10 * 48000)      /* a status line every 10 s */
#define RM_EVENTS_MAX 64
#define RM_SUMMARY_MAX 50
#define RM_LEVEL_FRESH (48000 * 3 / 2) /* a level older than 1.5 s is silence */
/* A user who sent audio this recently (in clocks of where it sings: its
 * write clock against its read clock) is a real participant, kept in the
 * summary before users who only read. */
#define RM_SUMMARY_REAL (30 * 48000)
/* Newcomers a room takes at once, and per second after that: a whole
 * choir arriving together fits, a flood of made-up userids from many
 * addresses (each address is bounded by its worker, newcomers.h) is held
 * to a pace the user table and the daemon keep up with.  A newcomer beyond
 * it is not refused: its worker asks again each second, and it is heard
 * once its place is made. */
#define RM_JOINS_BURST 600
#define RM_JOINS_PER_SECOND 20
#define RM_CHUNK 4096
/* A room nobody was heard in for a minute, with no song, sleeps: no
 * clearing ahead, no summary, its rings' memory given back; it looks for a
 * returning singer every 2 s, and a command wakes it at once. */
#define RM_IDLE_AFTER (60 * 48000)
#define RM_IDLE_CHECK (2 * 48000)
/* The recording trails the clock by the last bucket plus 5 s, so that the
 * last bucket's voices, which reach the server a batch, a playback lead-in
 * and a latency after they heard a moment (about 2 s), are normally in the
 * mix when it passes.  A voice that comes later still (a stalled browser,
 * network or machine) is waited for: see RM_REC_WAIT. */
#define RM_REC_LAG_EXTRA 5
/* The recorder does not pass a clock until every singer still singing has
 * put its voice into the mix up to there (timeline.h, "The recorder's
 * gate"), however late that is.  A singer whose progress has not moved for
 * this long (it left, its worker died) is no longer waited for; the gate
 * then keeps its later uploads for those clocks out of the mix and out of
 * its stem, so the recording and the stems still agree. */
#define RM_REC_WAIT (15 * 48000)
/* Most audio the recorder writes per tick: it catches up after a restart
 * in steps that keep a tick short. */
#define RM_REC_PER_TICK (2 * 48000)

typedef struct {
    char evid[64];   /* JSON text */
    char clock[32];  /* JSON text */
} rm_event_t;

/* The room's words (roomwords.c). */
typedef struct {
    words_t w;              /* the current words; n_lines 0: none */
    uint64_t id;            /* their number (1, 2, ...); 0: none yet */
    words_cues_t cues;      /* of the current words, this song */
    char stage[WORDS_TEXT_MAX + 32];  /* the parts of a load, gathered; a restore */
    size_t staged;
    int64_t stage_total;    /* bytes of the load being gathered; 0: none */
    int64_t stage_load;     /* its number, from the worker */
    uint64_t stage_user;
    words_t parsed;         /* a load or restore being checked */
    char json[SEG_BLOB_WORDS_MAX];
} rm_words_t;

struct rm {
    rm_config_t cfg;
    char label[24];         /* the room's id, as its log lines name it */
    seg_t *seg;
    bool created;
    seg_ctl_t ctl;
    bool ctl_dirty;
    rng_t rng;
    int64_t last_house;
    int64_t last_active;    /* clock when someone was last active */
    int64_t leader_unseen;  /* clock since which the leader has had no user slot, or 0 */
    bool asleep;            /* idle: see RM_IDLE_AFTER */
    int64_t last_status;
    uint64_t n_cmds;
    uint64_t n_joins;
    uint64_t n_refused;
    uint32_t n_events;
    rm_event_t events[RM_EVENTS_MAX];
    tset_t *tracks;
    rec_writer_t *rec;      /* the song being recorded, or NULL */
    int64_t rec_song;       /* its start clock */
    int64_t rec_held;       /* longest it waited for late voices, samples */
    bool mix_ready;         /* the three arrays below are filled */
    int64_t *mix_raw;       /* user_cap: each slot's mixed_to word as last seen */
    int64_t *mix_since;     /* user_cap: the clock when it last changed */
    bool *mix_gone;         /* user_cap: given up (and logged) since then */
    uint64_t n_evicted;     /* silent users whose slot went to a newcomer */
    uint64_t n_join_waits;  /* joins put off: too many at once */
    double join_tokens;     /* newcomers the room may take at join_at */
    int64_t join_at;
    int64_t join_wait_logged;
    int32_t tickets_done;   /* JOINs applied this tick (see join_tickets) */
    uint64_t lanes_drained; /* bit per lane that gave commands this tick */
    uint32_t wake_seen;     /* the segment's wake word at the last tick that drained */
    bool summary_dirty;     /* a command changed what the summary shows */
    seg_cmd_t *cmds;        /* RM_CMDS_PER_TICK */
    uint32_t *scratch;      /* user_cap */
    int32_t *delays;        /* user_cap */
    bool *spect;            /* user_cap */
    uint32_t *active_idx;   /* user_cap */
    users_view_t *views;    /* user_cap */
    char *text;             /* SEG_BLOB_SUMMARY_MAX */
    rm_words_t words;
    rmv_list_t removed;     /* the singers the organiser removed (removed.h) */
    float buf[RM_CHUNK];
};


/* Log lines name the room, but for the default room. */
#define LOG(r, fmt, ...)                                                                           \
    fprintf(stderr, "bb-shmd: %s%s" fmt "\n", (r)->cfg.is_default ? "" : "room ",              \
            (r)->cfg.is_default ? "" : (r)->label, ##__VA_ARGS__)

/* room.c */
void rm_publish(rm_t *r);
void rm_rerender_backing(rm_t *r, int64_t from, int64_t to);
uint32_t rm_collect_active(rm_t *r, int64_t now);
void rm_publish_summary(rm_t *r, uint32_t n, int64_t now);
/* Publishes the singers' live levels, [["public id", dB], ...], of the n
 * active users in r->views (the console's meters; listeners left out). */
void rm_publish_levels(rm_t *r, uint32_t n, int64_t now);
/* Nobody leads any more (the leader left, or was removed): the song, if
 * any, goes on without one. */
void rm_drop_leader(rm_t *r);
void rm_publish_events(rm_t *r);
void rm_restore_events(rm_t *r);
void rm_publish_tracks(rm_t *r);

/* roomcmd.c */
void rm_drain(rm_t *r, int64_t now);

/* roomsolo.c */
void rm_solo_cmd(rm_t *r, const seg_cmd_t *c, int64_t now);
void rm_solo_clear_ahead(rm_t *r, uint32_t n);
void rm_solo_expire(rm_t *r, int64_t now);

/* roomwords.c */
void rm_words_part(rm_t *r, const seg_cmd_t *c);
void rm_words_cue(rm_t *r, const seg_cmd_t *c);
void rm_words_song_start(rm_t *r);
void rm_words_publish(rm_t *r);
void rm_words_restore(rm_t *r);
void rm_words_labels(rm_t *r);

/* roomrec.c */
void rm_rec_log(void *user, const char *line);
void rm_rec_close(rm_t *r, rec_end_t why);
void rm_record(rm_t *r, int64_t now);

#endif
