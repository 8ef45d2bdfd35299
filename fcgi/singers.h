/*
 * singers.h - a worker's own table of the singers it serves.
 *
 * One entry per userid that reached this worker: its Opus decoder (for what
 * the singer sends) and encoder (for what the singer hears), created on
 * first need; the continuity clocks of its connection; and what has already
 * been delivered to it (chat cursor, settings, summary, track list, delay
 * messages).  Open addressing with linear probing and backward-shift
 * deletion, fixed capacity chosen at start: no allocation on the request
 * path except the codec state of a new singer.  Entries idle for five
 * minutes (USERS_FORGET_SAMPLES) are swept away with their codec state, and
 * a full table gives the place of the singer idle longest to a newcomer.
 *
 * The codec state of a singer lives and dies here: the decoder, the private
 * encoder (which starts from the shared encoder state the singer's decoder
 * was following, see encshare.h) and the pin on that shared state.
 */
#ifndef BB_SINGERS_H
#define BB_SINGERS_H

#include <stdbool.h>
#include <stdint.h>

#include <opus.h>

#include "encshare.h"
#include "link.h"
#include "media/stem.h"
#include "segment.h"
#include "timing.h"

/* Packets of pre-roll kept per singer: 600 ms (30 CELT frames), enough for
 * a decoder that starts on them to reach the state of one that decoded the
 * whole stream. */
#define SG_PREROLL_PACKETS 10

typedef struct {
    uint64_t userid;
    bool used;
    bool have_read;          /* last_seen_read is valid */
    bool have_write;         /* last_seen_write is valid */
    bool tracks_pending;     /* send the track list on the next response */
    bool tempo_pending;      /* send bpm / repeats / bpr on the next response */
    bool cues_pending;       /* send the words' cues on the next response */
    bool spectator;
    int64_t last_seen_read;
    int64_t last_seen_write;
    int64_t last_write_clock;   /* END of the last accepted upload, 0 = never */
    int64_t last_active;        /* server clock of the last request */
    int64_t summary_sent;       /* server clock the summary was last sent */
    uint64_t summary_gen;       /* generation of the summary last sent */
    uint64_t tracks_gen;
    uint64_t cues_gen;          /* generation of the cues last noted */
    uint32_t settings_gen;
    uint32_t epoch;
    uint32_t delay_seen;        /* delay message sequence already delivered */
    int32_t pending_delay;      /* delay_seconds decided here, -1 = none */
    int64_t led_song;           /* start clock of the last song this singer
                                   was seen leading, 0 = none: its end does
                                   not send them to the back */
    int64_t chat_cursor;        /* number of the last chat message seen */
    double chat_tokens;         /* chat messages the singer may send at chat_at */
    int64_t chat_at;            /* 0: none sent yet */
    int64_t slot;               /* index in the segment's user table, -1 */
    uint64_t slot_gen;
    uint64_t public_id;
    int64_t join_sent;          /* clock a JOIN was last queued, 0 = never */
    uint64_t cmd_seq;           /* lane position past this singer's last
                                   command, until the daemon applied it
                                   (commands.h); 0 = none pending */
    char name[SEG_NAME_MAX];    /* name last sent to the daemon */
    OpusDecoder *dec;
    bool dec_quiet;             /* dec rests quietly: rest.h */
    OpusEncoder *enc;
    stem_writer_t *stem;        /* this singer's track of the song, or NULL */
    int64_t stem_song;          /* start clock of the song it belongs to */
    int64_t stem_last;          /* server clock of its last write */
    /* The last upload's packets when it went into no stem: the pre-roll
     * of a stem that starts with the next upload (freed with the codecs). */
    uint8_t *pre;
    uint32_t pre_cap;
    uint16_t pre_len[SG_PREROLL_PACKETS];
    uint32_t pre_n;
    int64_t pre_end;            /* clock just past them */
    /* Encoding (see encshare.h): on the shared path the singer's decoder
     * follows `node`; on the private path (unaligned clocks, monitoring,
     * loopback) it follows `enc`. */
    uint64_t node;
    bool priv;
    /* The timing watch (watch.h): its state, made when a song needs it and
     * freed with the codecs; the verdict last published in the user table
     * (UINT32_MAX: none yet); the apply messages already taken; the clock
     * before which voice is not measured; an offset to deliver (0: none). */
    tw_t *tw;
    uint32_t timing_word;
    uint32_t timing_seen;
    bool timing_known;          /* timing_seen was read from the slot */
    lk_t link;                  /* how the requests arrive (link.h) */
    uint32_t calib;             /* the page's calibration (users_calib_word()) */
    uint8_t apply_basis;        /* tw_basis_t of apply_ms */
    int32_t apply_ms;
    int64_t timing_from;
} sg_t;

typedef struct sg_table sg_table_t;

/* Creates a table for up to `cap` singers (rounded up; the table keeps its
 * load at most one half) whose shared encoder states live in `es` (may be
 * NULL when no singer ever uses the shared path).  Returns NULL on
 * allocation failure. */
sg_table_t *sg_table_create(uint32_t cap, es_t *es);

/* Frees the table and every singer's codec state; accepts NULL. */
void sg_table_destroy(sg_table_t *t);

/* The entry of userid, or NULL. */
sg_t *sg_find(sg_table_t *t, uint64_t userid);

/* Creates the entry of userid (which must be absent), zeroed but for its
 * key, or NULL when the table is full. */
sg_t *sg_insert(sg_table_t *t, uint64_t userid);

/* Number of singers in the table. */
uint32_t sg_count(const sg_table_t *t);

/* The singer's decoder, created on first need; NULL when out of memory. */
OpusDecoder *sg_decoder(sg_t *s);

/* The singer's private encoder, created on first need from the shared
 * encoder state its decoder has followed so far, so that it hears no seam;
 * the singer then stays on the private path until its codecs are dropped.
 * *lost is set when that shared state was gone (the new encoder starts
 * fresh).  NULL when out of memory. */
OpusEncoder *sg_encoder(sg_table_t *t, sg_t *s, bool *lost);

/* Frees the codec state of one singer (both directions, the pin on its
 * shared state and its pre-roll) and its timing watch: what a reset or an
 * error asks for. */
void sg_drop_codecs(sg_table_t *t, sg_t *s);

/* Closes the singer's stem recording, if any. */
void sg_close_stem(sg_t *s);

/* Closes the stems of singers who have not written for `idle` samples
 * (their song ended or they left); returns how many. */
uint32_t sg_close_idle_stems(sg_table_t *t, int64_t now, int64_t idle);

/* Frees the codec state of singers silent for `idle` samples (a singer who
 * comes back reconnects with reset_user_state, which starts fresh codecs
 * anyway); the small entry stays until it is swept.  Returns how many. */
uint32_t sg_drop_idle_codecs(sg_table_t *t, int64_t now, int64_t idle);

/* Removes every singer idle for longer than max_idle samples at `now`, with
 * its codecs and stem; returns how many were removed. */
uint32_t sg_sweep(sg_table_t *t, int64_t now, int64_t max_idle);

/* When the table is full: removes the singer idle longest, if idle for more
 * than min_idle samples, so that a newcomer gets its place.  True if one
 * was removed.  Scans the whole table: call it only when sg_insert() found
 * the table full. */
bool sg_evict_idle(sg_table_t *t, int64_t now, int64_t min_idle);

#endif
