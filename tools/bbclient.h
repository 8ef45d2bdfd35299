/*
 * bbclient.h - a Bucket Brigade protocol client in C: it speaks the real
 * wire protocol (PROTOCOL.md sections 2-8 and 14.3, with the additions of
 * docs/PROTOCOL-EXTENSIONS.md) the way a browser singer does, either through
 * nginx over HTTP/1.1 or straight to a worker's FastCGI socket.  The protocol
 * tests and the load generator (bb-load) are built on it.
 *
 * Layers, bottom up:
 *
 *   addresses    "127.0.0.1:PORT", "[::1]:PORT", "localhost:PORT" or
 *                "unix:/path"; loopback only, anything else is refused.
 *   connections  bbc_conn_t: one socket and its transport (FastCGI records
 *                or HTTP/1.1), kept alive between requests.  The request /
 *                response step is split so that an event loop can drive many
 *                connections: bbc_build_request() gives the bytes to send,
 *                bbc_parse_feed() takes received bytes until a response is
 *                complete.  bbc_exchange() does both, blocking, with a
 *                timeout.
 *   metadata     bbc_meta_t: the X-Audio-Metadata JSON parsed with cJSON.
 *   singer       bbc_singer_t: userid, name, offset, its own Opus encoder and
 *                decoder, the clock state machine (bbclock.h), metadata
 *                queued for the next POST, and the checks the browser makes
 *                on every answer.  Blocking use: bbc_connect() and
 *                bbc_exchange_batch().  Event-loop use:
 *                bbc_singer_next_request() and bbc_singer_on_response(), with
 *                the caller moving the bytes.
 *
 * Connections to a worker: bb-worker serves every kept-alive FastCGI
 * connection from its one thread, so each singer may have its own.  A
 * responder built on a plain FCGX_Accept_r() loop does not: it reads only the
 * kept-alive connection it is on, and a second one waits unread.  Against
 * such a responder, singers should share one connection (bbc_config_t.conn)
 * or not keep theirs (bbc_config_t.no_keep).
 *
 * Conventions: 0 for success, negative BBC_E* codes with bbc_strerror();
 * constructors return NULL and put the reason in *err (err may be NULL);
 * destroy functions accept NULL.  No global mutable state: everything lives
 * in the handles, which are not shared between threads.  Clocks are samples
 * at 48 kHz, END convention ([C-n, C)), in int64_t.
 */
#ifndef BB_BBCLIENT_H
#define BB_BBCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "bbclock.h"
#include "bytebuf.h"
#include "response.h"
#include "tone.h"

#define BBC_RATE 48000          /* samples per second of every clock */
#define BBC_FRAME 2880          /* samples per Opus packet (60 ms) */
#define BBC_BATCH 28800         /* default samples per POST (600 ms, 10 packets) */
#define BBC_MAX_BATCH (255 * BBC_FRAME)

/* Error codes: 0 for success, negative values below. */
enum {
    BBC_OK = 0,
    BBC_ESYS = -1,         /* a system call failed; bbc_singer_error() / errno say which */
    BBC_EPARAM = -2,       /* invalid argument or configuration */
    BBC_ENOMEM = -3,       /* out of memory */
    BBC_EADDR = -4,        /* address unparsable, or not a loopback address */
    BBC_ETIMEOUT = -5,     /* no complete response within the timeout */
    BBC_ECLOSED = -6,      /* the peer closed the connection before the response ended */
    BBC_EPROTO = -7,       /* malformed HTTP or FastCGI answer */
    BBC_ESTATUS = -8,      /* an answer with an unexpected HTTP status */
    BBC_EKILL = -9,        /* an answer carrying kill_client (the message is kept) */
    BBC_EMETA = -10,       /* X-Audio-Metadata missing, not JSON, or lacking a field */
    BBC_EBODY = -11,       /* pack_multi body refused by pk_parse() (packet.h) */
    BBC_EDECODE = -12,     /* Opus decoding failed, or the length is not n_samples */
    BBC_ECONTINUITY = -13, /* clock echo or interval continuity broken */
    BBC_EOPUS = -14,       /* the Opus encoder or decoder could not be made or failed */
    BBC_ESTATE = -15,      /* a call in the wrong state (no connection, no request pending) */
    BBC_EREJECTED = -16,   /* FastCGI END_REQUEST other than REQUEST_COMPLETE */
};

/* A sentence for an error code. */
const char *bbc_strerror(int code);

/* ---- addresses ------------------------------------------------------- */

typedef enum {
    BBC_FCGI = 1,          /* FastCGI straight to a worker */
    BBC_HTTP = 2,          /* HTTP/1.1 to nginx */
} bbc_transport_t;

typedef struct {
    bbc_transport_t transport;
    struct sockaddr_storage sa;
    socklen_t salen;
    char text[160];        /* the address as given */
    char host[80];         /* value for the HTTP Host header */
    int port;              /* 0 for unix sockets */
} bbc_addr_t;

/* Parses spec: "HOST:PORT" with HOST 127.x.x.x or localhost, "[::1]:PORT",
 * or "unix:/path" (a path of at most 107 bytes).  Only loopback addresses
 * and unix sockets are accepted: this client never sends traffic off the
 * machine.  Returns 0 or BBC_EADDR. */
int bbc_addr_parse(const char *spec, bbc_transport_t transport, bbc_addr_t *out);

/* ---- requests and connections --------------------------------------- */

/* One request as the application sees it; the transport frames it. */
typedef struct {
    const char *method;        /* "GET" or "POST" */
    const char *path;          /* "/api", "/api/reset_events", ... */
    const char *query;         /* without '?'; NULL or "" for none */
    const char *event_data;    /* X-Event-Data value; NULL leaves the header out */
    const char *content_type;  /* NULL: application/octet-stream for POST, none for GET */
    const uint8_t *body;
    size_t body_len;
} bbc_request_t;

typedef struct bbc_conn bbc_conn_t;

/* Makes an unconnected connection handle for addr (copied).  The socket is
 * opened by bbc_conn_open() or on the first bbc_exchange(). */
bbc_conn_t *bbc_conn_new(const bbc_addr_t *addr, int *err);

/* Closes the socket and frees the handle.  Accepts NULL. */
void bbc_conn_destroy(bbc_conn_t *c);

/* Whether requests ask to keep the connection (FastCGI FCGI_KEEP_CONN, HTTP
 * keep-alive).  Default true. */
void bbc_conn_set_keep(bbc_conn_t *c, bool keep);

/* Opens the socket (non-blocking, close-on-exec, TCP_NODELAY).  With
 * timeout_ms >= 0 waits until connected; with timeout_ms < 0 returns at once
 * and the connect may still be in progress: wait until the descriptor is
 * writable, then call bbc_conn_check(). Does nothing if already open.
 * Returns 0, BBC_ESYS, BBC_ETIMEOUT. */
int bbc_conn_open(bbc_conn_t *c, int timeout_ms);

/* After a non-blocking open: 0 once connected, BBC_ESYS (errno set) if the
 * connect failed. */
int bbc_conn_check(bbc_conn_t *c);

/* The socket descriptor, or -1 when closed. */
int bbc_conn_fd(const bbc_conn_t *c);

/* The address the handle connects to. */
const bbc_addr_t *bbc_conn_addr(const bbc_conn_t *c);

/* Closes the socket (the handle stays usable; the next request reopens). */
void bbc_conn_close(bbc_conn_t *c);

/* Appends to out the bytes of req in the connection's transport and
 * prepares the parser for its answer.  One request at a time per connection:
 * build the next one only after the previous answer is complete.  Returns 0,
 * BBC_EPARAM, BBC_ENOMEM. */
int bbc_build_request(bbc_conn_t *c, const bbc_request_t *req, bbuf_t *out);

/* Feeds received bytes into the answer of the last built request; data ==
 * NULL means the peer closed the connection.  *used receives the bytes
 * consumed.  Returns 1 when resp holds the whole answer (resp->close then
 * says whether the connection must be closed), 0 when more bytes are
 * needed, or BBC_EPROTO, BBC_ECLOSED, BBC_EREJECTED, BBC_ENOMEM. */
int bbc_parse_feed(bbc_conn_t *c, const uint8_t *data, size_t len, size_t *used, resp_t *resp);

/* Sends req and waits for the whole answer, at most timeout_ms (> 0).
 * Opens the connection if needed; if a kept-alive connection turns out to
 * have been closed by the server before any answer byte, reopens it and
 * sends once more.  Closes the connection after an answer that says so, and
 * after any error.  Returns 0 (whatever the HTTP status: see resp->status)
 * or BBC_ESYS, BBC_ETIMEOUT, BBC_ECLOSED, BBC_EPROTO, BBC_EREJECTED,
 * BBC_ENOMEM. */
int bbc_exchange(bbc_conn_t *c, const bbc_request_t *req, resp_t *resp, int timeout_ms);

/* ---- X-Audio-Metadata ------------------------------------------------ */

/* A parsed X-Audio-Metadata header.  The cJSON pointers point into `root`
 * and live until the next bbc_meta_parse() or bbc_meta_free() on it. */
typedef struct {
    cJSON *root;                  /* the whole object (owned) */
    bool have_server_clock;
    int64_t server_clock;
    int server_sample_rate;       /* 0 when absent */
    bool have_client_read_clock;
    int64_t client_read_clock;
    bool have_client_write_clock; /* false when absent or null */
    int64_t client_write_clock;
    bool have_n_samples;
    int64_t n_samples;
    bool have_leader;             /* false when absent or null */
    char leader[64];              /* as text (a number is printed as an integer) */
    char leader_name[128];
    char public_id[64];
    bool have_song_start;
    int64_t song_start_clock;
    bool have_song_end;
    int64_t song_end_clock;
    bool have_delay;              /* delay_seconds present */
    int delay_seconds;
    bool have_bpm, have_repeats, have_bpr;
    int bpm, repeats, bpr;        /* a JSON null reads as 0 with have_* true */
    bool kill_client;
    char message[512];            /* kill_client message */
    bool have_n_users;
    int n_users;
    char worker[32];              /* "worker" field, else the X-Worker-Id header */
    const cJSON *chats;           /* array of [name, message], or NULL */
    const cJSON *user_summary;    /* array of 6-element rows, or NULL when absent */
    const cJSON *events;          /* array of {evid, clock}, or NULL */
    const cJSON *tracks;          /* array of strings, or NULL */
    const cJSON *buckets;         /* array of seconds, or NULL */
} bbc_meta_t;

/* One user_summary row. */
typedef struct {
    int delay_s;
    const char *name;
    double mic_volume;
    const char *id;               /* the row's id as text (public id) */
    bool is_monitoring;
    bool is_monitored;
} bbc_user_t;

/* Parses json into m, replacing what m held (m must be zeroed before its
 * first use).  Only the JSON shape is checked here: a field of the wrong
 * type reads as absent.  Returns 0, or BBC_EMETA if json is not an object
 * (m is then empty). */
int bbc_meta_parse(bbc_meta_t *m, const char *json);

/* Frees what m holds and zeroes it.  Accepts NULL. */
void bbc_meta_free(bbc_meta_t *m);

/* Number of chats, and chat i as (name, text); returns 0 or BBC_EPARAM. */
int bbc_meta_chat_count(const bbc_meta_t *m);
int bbc_meta_chat(const bbc_meta_t *m, int i, const char **name, const char **text);

/* Number of user_summary rows (0 when absent), and row i; returns 0 or
 * BBC_EPARAM (index out of range or a malformed row). */
int bbc_meta_user_count(const bbc_meta_t *m);
int bbc_meta_user(const bbc_meta_t *m, int i, bbc_user_t *u);

/* ---- pre-encoded audio (load generation) ------------------------------ */

typedef struct bbc_preenc bbc_preenc_t;

/* Encodes x[0..n) (n a positive multiple of 2880, 48 kHz mono) once into
 * Opus packets that singers in BBC_SEND_PREENCODED mode then send in a
 * loop, so that generating load costs no encoding.  bitrate in bit/s, 0 for
 * the library default. */
bbc_preenc_t *bbc_preenc_new(const float *x, size_t n, int bitrate, int *err);

/* The same from `seconds` (0.6 .. 60) of a sung-like voice at f0 Hz. */
bbc_preenc_t *bbc_preenc_new_voice(double f0, double seconds, int bitrate, int *err);

void bbc_preenc_destroy(bbc_preenc_t *p);

/* Number of packets, and their mean size in bytes. */
size_t bbc_preenc_count(const bbc_preenc_t *p);
double bbc_preenc_mean_bytes(const bbc_preenc_t *p);

/* Packet i (i < count) and its length in bytes. */
const uint8_t *bbc_preenc_packet(const bbc_preenc_t *p, size_t i, size_t *len);

/* ---- singer ------------------------------------------------------------ */

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
    bbc_conn_t *conn;
    const char *path;            /* API path; default "/api" */
    const char *userid;          /* decimal string; NULL: random 1 .. 1e11 from seed */
    const char *username;        /* NULL: "singer-<userid>" */
    int offset_s;                /* bucket delay, 1 .. 1000 s; default 6 */
    int n_samples;               /* per POST, a multiple of 2880; default 28800 */
    bool unaligned;              /* clocks like the original client (not on 2880) */
    bool ignore_delay;           /* do not follow delay_seconds moves */
    bool no_pace;                /* bbc_exchange_batch() does not wait for real time */
    bool skip_decode;            /* check packet sizes and lengths, do not decode */
    bool no_summary;             /* send summary=0 (extension) */
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

/* POST <path>/reset_events (no query, no body).  Returns 0 if the answer is
 * a 204, BBC_ESTATUS otherwise, or a transport error. */
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
