/*
 * bbsinger.h - a simulated singer that behaves as the browser client does:
 * userid, name, offset, its own Opus encoder and decoder, the clock state
 * machine (bbclock.h), metadata queued for the next POST (bbqueue.h), and
 * the checks the browser makes on every answer.
 *
 * Blocking use: bbc_connect() and bbc_exchange_batch() over the singer's
 * own connection or a shared one (bbconn.h).  Event-loop use:
 * bbc_singer_next_request() and bbc_singer_on_response(), with the caller
 * moving the bytes.  A singer is used by one thread.
 */
#ifndef BB_BBSINGER_H
#define BB_BBSINGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bbclock.h"
#include "bbconn.h"
#include "bbcore.h"
#include "bbmeta.h"
#include "bbpreenc.h"
#include "bbqueue.h"
#include "response.h"

typedef enum {
    BBC_SEND_ENCODE = 0,     /* encode the samples the caller passes */
    BBC_SEND_PREENCODED,     /* send packets from a bbc_preenc_t */
    BBC_SEND_SPECTATOR,      /* upload nothing; spectator=1 */
} bbc_send_t;

typedef struct bbc_singer bbc_singer_t;

/* Called when the singer follows a delay_seconds move (after the move is
 * decided, before the new probe). */
typedef void (*bbc_move_fn)(bbc_singer_t *s, int old_offset_s, int new_offset_s, void *user);

/* Fills out[0..n) with the audio of the next upload, which will cover the
 * timeline [write_clock - n, write_clock): a test can put a tone exactly
 * where it wants it.  Called in BBC_SEND_ENCODE mode when the caller passes
 * no samples, once placeholder_batches are over. */
typedef void (*bbc_source_fn)(bbc_singer_t *s, float *out, int n, int64_t write_clock, void *user);

typedef struct {
    /* Where the blocking calls go: an address of its own (addr), or a
     * connection shared with other singers (conn, not owned).  Both NULL: the
     * caller moves the bytes (event-loop use). */
    const char *addr;
    bbc_transport_t transport;   /* for addr; default BBC_FCGI */
    const char *from_addr;       /* for addr: the loopback address to connect from
                                    (bbc_addr_set_source()); NULL: the kernel's choice */
    bbc_conn_t *conn;
    const char *path;            /* API path; default "/api" */
    const char *room;            /* room id, sent as room= on every request; NULL or "":
                                    none (the default room, as the original client) */
    const char *key;             /* the room link's key, sent as key=; NULL or "": none */
    const char *userid;          /* decimal string; NULL: random 1 .. 1e11 from seed */
    const char *username;        /* NULL: "singer-<userid>" */
    int offset_s;                /* bucket delay, 1 .. 1000 s; default 6 */
    int n_samples;               /* per POST, a multiple of 2880; default 28800 */
    bool unaligned;              /* clocks like the original client (not on 2880) */
    bool ignore_delay;           /* do not follow delay_seconds moves */
    bool no_pace;                /* bbc_exchange_batch() does not wait for real time */
    bool skip_decode;            /* check packet sizes and lengths, do not decode */
    bool no_summary;             /* send summary=0 (extension) */
    bool spectator;              /* send spectator=1 on every POST even while uploading
                                    (a listener whose page still sends its mic); the
                                    BBC_SEND_SPECTATOR mode sends it anyway */
    bool omit_undefined_events;  /* leave X-Event-Data out instead of "undefined" */
    bool no_keep;                /* own connection (addr): close it after every request */
    int placeholder_batches;     /* batches without audio after each connect
                                    (BBC_SEND_PREENCODED and NULL samples); default 0 */
    int write_lag;               /* samples the first write_clock trails read_clock; default 0 */
    int timeout_ms;              /* per blocking request; default 5000 */
    bbc_send_t mode;
    const bbc_preenc_t *preenc;  /* for BBC_SEND_PREENCODED (not owned) */
    int bitrate;                 /* encoder bit/s; default 64000 (what the browser asks) */
    uint64_t seed;               /* userid and pre-encoded start; 0: from time and address */
    bbc_move_fn on_move;
    bbc_source_fn source;        /* audio generator for NULL samples (encode mode) */
    void *user;                  /* passed to on_move and source */
} bbc_config_t;

/* Fills cfg with the defaults above. */
void bbc_config_init(bbc_config_t *cfg);

/* Makes a singer; cfg and its strings are copied (preenc, conn and user are
 * borrowed).  Returns NULL with *err = BBC_EPARAM, BBC_EADDR, BBC_EOPUS or
 * BBC_ENOMEM. */
bbc_singer_t *bbc_singer_new(const bbc_config_t *cfg, int *err);

/* Frees the singer (and its own connection).  Accepts NULL. */
void bbc_singer_destroy(bbc_singer_t *s);

/* -- blocking use (needs addr or conn) -- */

/* (Re)connects: GET probe, server clock estimate, read clock at the current
 * offset, fresh encoder and decoder; the next POST carries
 * reset_user_state.  Returns 0, a transport error, BBC_ESTATUS (non-200),
 * BBC_EMETA (no server_clock). */
int bbc_connect(bbc_singer_t *s);

/* One POST of n_samples: uploads `samples` (n_samples floats, encoded here;
 * NULL asks cfg.source for them if there is one, else sends a placeholder
 * before writing has begun and silence after; ignored in the pre-encoded and
 * spectator modes), waits for the answer,
 * checks it and decodes it into `received` (n_samples floats, or NULL).
 * Connects first when needed (first call, after an error, after a move);
 * waits for the batch's real-time slot unless no_pace.  A delay_seconds move
 * is followed at once (a new probe) unless ignore_delay.  Returns 0, or the
 * error of the exchange: transport errors, BBC_ESTATUS, BBC_EKILL (message
 * in bbc_singer_error() and the meta), BBC_EMETA, BBC_EBODY, BBC_EDECODE,
 * BBC_ECONTINUITY; after an error the next call reconnects. */
int bbc_exchange_batch(bbc_singer_t *s, const float *samples, float *received);

/* POST <path>/reset_events, no body.  Without a room or key, no query (as
 * the original client sends it); with one, room=, key= and userid= (the
 * worker lets only the leader and the organiser of a room reset its cues,
 * and needs the userid to know who leads).  Returns 0 if the answer is a
 * 204, BBC_ESTATUS otherwise (the answer is in bbc_singer_response()), or
 * a transport error. */
int bbc_reset_events(bbc_singer_t *s);

/* -- event-loop use -- */

/* True when the next request will be a probe (not connected yet, or after
 * an error or a move). */
bool bbc_singer_needs_probe(const bbc_singer_t *s);

/* Builds the singer's next request into *req (pointers into the singer,
 * valid until its next call): the probe when needed, else the next POST,
 * with the queued metadata.  `samples` as for bbc_exchange_batch().
 * Returns 0, BBC_ESTATE (a request is already pending), BBC_EOPUS,
 * BBC_ENOMEM. */
int bbc_singer_next_request(bbc_singer_t *s, const float *samples, bbc_request_t *req);

/* Restamps the pending request's send time (the probe's round trip is
 * measured from it); call it when the bytes really leave, if they waited. */
void bbc_singer_sent(bbc_singer_t *s);

/* Handles the whole answer to the pending request: checks and decodes it as
 * bbc_exchange_batch() does (received may be NULL).  Returns 0 or the error;
 * any error makes the next request a probe. */
int bbc_singer_on_response(bbc_singer_t *s, const resp_t *resp, float *received);

/* Reports that the pending request failed in transport (timeout, closed,
 * protocol error: code, and a text or NULL); the next request is a probe. */
void bbc_singer_fail(bbc_singer_t *s, int code, const char *why);

/* -- metadata queued for the next POST (PROTOCOL.md section 3.2) -- */

int bbc_singer_chat(bbc_singer_t *s, const char *text);          /* appended to `chat` */
void bbc_singer_request_lead(bbc_singer_t *s);                   /* request_lead=1 */
void bbc_singer_mark_start(bbc_singer_t *s);                     /* mark_start_singing=1 */
void bbc_singer_mark_stop(bbc_singer_t *s);                      /* mark_stop_singing=1 */
void bbc_singer_set_tempo(bbc_singer_t *s, int bpm, int repeats, int bpr); /* < 0: leave out */
void bbc_singer_set_volume(bbc_singer_t *s, double v);           /* volume, friendly units */
void bbc_singer_set_backing_volume(bbc_singer_t *s, double v);   /* backing_volume */
int bbc_singer_mic_volume(bbc_singer_t *s, const char *id, double v); /* appended to `mic_volume` */
int bbc_singer_set_track(bbc_singer_t *s, const char *name);     /* track (non-empty) */
int bbc_singer_monitor(bbc_singer_t *s, const char *id);         /* monitor (id or "end") */
/* An event for X-Event-Data: evid_json is JSON text (e.g. "\"cue\"" or "7"). */
int bbc_singer_event(bbc_singer_t *s, const char *evid_json, int64_t clock);
/* Any other parameter, sent as given on the next POST (e.g. loopback=true). */
int bbc_singer_param(bbc_singer_t *s, const char *name, const char *value);

/* -- state -- */

/* Metadata of the last answer (probe or POST, successful or not). */
const bbc_meta_t *bbc_singer_meta(const bbc_singer_t *s);
/* The last answer itself (blocking use only; empty in event-loop use). */
const resp_t *bbc_singer_response(const bbc_singer_t *s);
const char *bbc_singer_userid(const bbc_singer_t *s);
const char *bbc_singer_username(const bbc_singer_t *s);
int bbc_singer_offset(const bbc_singer_t *s);
int bbc_singer_n_samples(const bbc_singer_t *s);
const bbclock_t *bbc_singer_clock(const bbc_singer_t *s);
/* The clocks of the last POST built. */
const bbclock_post_t *bbc_singer_last_post(const bbc_singer_t *s);
/* Text of the last error ("" if none). */
const char *bbc_singer_error(const bbc_singer_t *s);
/* The singer's own connection or the shared one, or NULL. */
bbc_conn_t *bbc_singer_conn(const bbc_singer_t *s);
/* Changes the room and key every later request carries (a page given a
 * new link); NULL or "" leaves the parameter out.  The singer does not
 * reconnect for it.  Returns 0 or BBC_ENOMEM (the old values are kept). */
int bbc_singer_set_room(bbc_singer_t *s, const char *room, const char *key);
const char *bbc_singer_room(const bbc_singer_t *s);   /* "" when none */
const char *bbc_singer_key(const bbc_singer_t *s);    /* "" when none */
/* Changes the offset; the singer reconnects before its next POST. */
int bbc_singer_set_offset(bbc_singer_t *s, int offset_s);

typedef struct {
    uint64_t probes;         /* GET probes answered */
    uint64_t posts;          /* POSTs answered (any status) */
    uint64_t ok;             /* POSTs that passed every check */
    uint64_t reconnects;     /* probes after the first */
    uint64_t moves;          /* delay_seconds moves followed */
    uint64_t errors;         /* failed exchanges of any kind */
    uint64_t status_errors;  /* non-200 answers without kill_client */
    uint64_t kills;          /* answers with kill_client */
    uint64_t desyncs;        /* kill_client messages containing "desync" */
    uint64_t meta_errors;
    uint64_t body_errors;
    uint64_t decode_errors;
    uint64_t continuity_errors;
    uint64_t transport_errors;
} bbc_stats_t;

void bbc_singer_stats(const bbc_singer_t *s, bbc_stats_t *out);

#endif
