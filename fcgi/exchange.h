/*
 * exchange.h - one audio exchange (PROTOCOL.md sections 3-9), without HTTP.
 *
 * ex_handle() takes a parsed HTTP request (query, body, X-Event-Data) and
 * fills a response (status, X-Audio-Metadata, body).  It does the whole
 * protocol: bounds every input, checks both clocks before it changes
 * anything, decodes the singer's Opus packets, adds them into the timeline,
 * reads and normalises the mix at the singer's read position, encodes it,
 * and builds the metadata.  Control actions (lead, start, chat, ...) become
 * commands to the daemon; audio goes straight into the segment.
 *
 * Keeping this free of FastCGI lets the request microbenchmark and the
 * tests run the exact code path of a worker.  One ex_t serves one
 * single-threaded worker; the response points into buffers of the ex_t and
 * is valid until the next call.
 */
#ifndef BB_EXCHANGE_H
#define BB_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prof.h"
#include "segment.h"

/* Largest audio request body accepted: 255 packets of at most 1275 bytes
 * each (Opus' own limit) with framing, about 326 KB; nginx is set to 1 MB. */
#define EX_MAX_BODY (1 + 255 * (2 + 1275))
/* Largest read / write interval: 255 Opus frames (PROTOCOL.md 4.3). */
#define EX_MAX_SAMPLES (255 * 2880)
/* Bounds of the things users type. */
#define EX_NAME_INPUT_MAX 1024       /* longer names are refused */
#define EX_CHAT_MAX_BYTES 500        /* per message */
#define EX_CHAT_MAX_COUNT 10         /* per request */
#define EX_CHATS_OUT_MAX 32          /* delivered per response */
#define EX_EVENTS_MAX 16             /* per request */
#define EX_MIC_VOLUMES_MAX 16        /* pairs per request */
#define EX_EVENT_HEADER_MAX 8192
/* A read clock may lie at most this far from the server clock. */
#define EX_CLOCK_WINDOW (3600LL * 48000)

typedef struct {
    const char *query;
    size_t query_len;
    const uint8_t *body;
    size_t body_len;
    const char *event_data;   /* X-Event-Data header, or NULL */
} ex_request_t;

typedef struct {
    int status;                /* 200, 400, 500 or 503 */
    const char *meta;          /* X-Audio-Metadata value (NUL-terminated) */
    const uint8_t *body;
    size_t body_len;
    const char *content_type;
} ex_response_t;

/* Counters of a worker, for /metrics. */
typedef struct {
    uint64_t requests;
    uint64_t ok;
    uint64_t bad_request;      /* 400 */
    uint64_t killed;           /* 500 kill_client */
    uint64_t busy;             /* 503 */
    uint64_t desyncs;
    uint64_t samples_in;
    uint64_t samples_out;
    uint64_t refused_writes;
    uint64_t singers_created;
    uint64_t singers_swept;
    uint64_t stream_lost;      /* singers whose shared state was gone */
    uint64_t chain_joins;      /* newcomers put on a chain carried forward */
} ex_counters_t;

typedef struct ex ex_t;

/* Creates the exchange of worker `worker_id` (which must hold the command
 * lane of that id) for up to max_singers singers.  With recordings_dir set
 * it writes each singer's stem of every song there.  Returns NULL and
 * writes why on failure. */
ex_t *ex_create(seg_t *seg, uint32_t worker_id, uint32_t max_singers, const char *recordings_dir,
                char *why, size_t whylen);

/* Frees everything; accepts NULL. */
void ex_destroy(ex_t *ex);

/* Turns the sharing of encoded frames on (the default) or off: off, every
 * singer has a private encoder (an operator's switch, and the reference the
 * tests compare the shared path with). */
void ex_set_sharing(ex_t *ex, bool on);

/* Handles one audio POST at server clock `now`. */
void ex_handle(ex_t *ex, const ex_request_t *req, ex_response_t *res, int64_t now);

/* Periodic work (sweeping singers idle for an hour); call about once a
 * second. */
void ex_housekeeping(ex_t *ex, int64_t now);

/* Handles reset_events: asks the daemon to clear the events table.
 * Returns 0, or -1 if the command lane is full. */
int ex_reset_events(ex_t *ex, int64_t now);

/* Asks the daemon to rescan the tracks (after an upload). */
int ex_rescan_tracks(ex_t *ex, int64_t now);

const ex_counters_t *ex_counters(const ex_t *ex);

/* Frames served from the shared caches and frames that had to be rendered
 * or encoded (for /metrics and the benchmarks). */
typedef struct {
    uint64_t render_hits, rendered;
    uint64_t packet_hits, encoded, joins;
    uint32_t packets_held, states_held;
} ex_share_t;
void ex_share(const ex_t *ex, ex_share_t *out);
uint32_t ex_singers(const ex_t *ex);
/* The lifetime profile (always on) and the on-demand profile. */
prof_t *ex_prof_life(ex_t *ex);
prof_t *ex_prof_demand(ex_t *ex);

#endif
