/*
 * exchange.h - one audio exchange (PROTOCOL.md sections 3-9), without HTTP.
 *
 * ex_handle() takes an HTTP request (query, body, X-Event-Data) and fills
 * a response (status, X-Audio-Metadata, body), in this order:
 *   1. parse and bound everything (request.h); malformed input is a 400
 *      and changes nothing;
 *   2. find or create the singer (singers.h); apply reset_user_state;
 *   3. check both clock continuities (a desync is a 500 with kill_client)
 *      and that the write lies inside the timeline, before any change;
 *   4. decode the upload (an invalid packet is a 400, nothing changed yet);
 *   5. reserve room in the command lane for every control, and a place in
 *      the user table for a newcomer, or 503;
 *   6. change state: the commands to the daemon (commands.h), the singer's
 *      activity, the upload into the timeline and the stem (voice.h);
 *   7. render and encode what the singer hears (output.h);
 *   8. write the metadata (meta.h).
 * Control actions (lead, start, chat, ...) become commands to the daemon;
 * audio goes straight into the segment.
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

#include "commands.h"
#include "newcomers.h"
#include "prof.h"
#include "request.h"
#include "segment.h"

/* Largest audio request body accepted: 255 packets of at most 1275 bytes
 * each (Opus' own limit) with framing, about 326 KB; nginx is set to 1 MB. */
#define EX_MAX_BODY (1 + 255 * (2 + 1275))
/* Largest X-Event-Data header read. */
#define EX_EVENT_HEADER_MAX RQ_EVENT_HEADER_MAX

typedef struct {
    const char *query;
    size_t query_len;
    const uint8_t *body;
    size_t body_len;
    const char *event_data;   /* X-Event-Data header, or NULL */
    bool organiser;           /* the request's key is the room's organiser key */
    bool uploads;             /* the room allows uploads (roles.h) */
    uint32_t max_singers;     /* the room's cap on singers; 0: none */
    nc_t *newcomers;          /* the worker's per-address buckets, or NULL */
    uint64_t addr;            /* nc_key() of the client's address */
} ex_request_t;

typedef struct {
    int status;                /* 200, 400, 429, 500 or 503 */
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
    uint64_t rest_frames;      /* 60 ms frames of rests not decoded (rest.h) */
    uint64_t samples_out;
    uint64_t refused_writes;
    uint64_t stems_capped;     /* singers given no stem: the song had REC_STEMS_MAX */
    uint64_t singers_created;
    uint64_t singers_swept;
    uint64_t stream_lost;      /* singers whose shared state was gone */
    uint64_t chain_joins;      /* newcomers put on a chain carried forward */
    uint64_t private_frames;   /* frames encoded for one singer alone */
    uint64_t newcomers_refused;   /* 429: the address brought too many */
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

/* Turns the room's encode bank (shm/encbank.h) on (the default) or off:
 * off, this worker shares encoded frames among its own singers only, and
 * a bucket costs one encode per frame per worker instead of per host. */
void ex_set_bank(ex_t *ex, bool on);

/* Turns the timing watch (watch.h) on (the default) or off: off, no voice
 * is measured and nobody is told or listed (an operator's switch for a
 * worker short of CPU, and the reference the benchmark compares with). */
void ex_set_timing_watch(ex_t *ex, bool on);

/* Sets the Opus complexity (0..10, clamped) of the streams no other singer
 * can share, such as the original client's unaligned clocks; by default
 * OUT_PRIVATE_COMPLEXITY (output.h, with the measured cost of each
 * setting).  An operator's switch: quality against CPU on that path. */
void ex_set_private_complexity(ex_t *ex, int complexity);

/* Makes a singer's request wait, at most max_ns, until the daemon applied
 * the commands of that singer's previous requests (commands.h), so that
 * its response reflects them.  0 (the default) never waits: what a daemon
 * ticked by the caller itself needs (tests, the benchmark); a worker with
 * a daemon process of its own turns it on. */
void ex_set_command_sync(ex_t *ex, int64_t max_ns);

/* The word to bump so the daemon wakes after this exchange queued commands:
 * by default the room segment's own; a worker of a host gives the host
 * segment's (host.h), which its daemon sleeps on. */
void ex_set_wake(ex_t *ex, _Atomic uint32_t *wake);

/* Handles one audio POST at server clock `now`. */
void ex_handle(ex_t *ex, const ex_request_t *req, ex_response_t *res, int64_t now);

/* Periodic work (sweeping singers idle for five minutes); call about once a
 * second. */
void ex_housekeeping(ex_t *ex, int64_t now);

/* Whether `userid` leads the room, and whether anyone does, as the
 * control state says now. */
void ex_leader(ex_t *ex, uint64_t userid, bool *leads, bool *has_leader);

/* The start clock of the song the room is recording now (the daemon has
 * not closed its recording yet), or 0: that song's files must stay. */
int64_t ex_recording_song(ex_t *ex);

/* The organiser's room controls, as commands to the daemon (which writes
 * them to the rooms database and the directory): a new key for the
 * singers' link or the organiser's (its SHA-256), and the most singers (0:
 * the host's default).  Return 0, or -1 if the command lane is full. */
int ex_room_key(ex_t *ex, bool organiser, const uint8_t hash[32], int64_t now);
int ex_room_cap(ex_t *ex, uint32_t max_singers, int64_t now);

/* Handles reset_events: asks the daemon to clear the events table.
 * Returns 0, or -1 if the command lane is full. */
int ex_reset_events(ex_t *ex, int64_t now);

/* Asks the daemon to rescan the tracks (after an upload). */
int ex_rescan_tracks(ex_t *ex, int64_t now);

/* The command lane of this exchange, for the controls that come outside
 * an audio request (the words: wordsapi.h). */
const cm_lane_t *ex_lane(const ex_t *ex);

const ex_counters_t *ex_counters(const ex_t *ex);

/* The room's timeline segment this exchange serves. */
seg_t *ex_segment(const ex_t *ex);

/* Frames served from the shared caches and frames that had to be rendered
 * or encoded (for /metrics and the benchmarks). */
typedef struct {
    uint64_t render_hits, rendered;
    uint64_t packet_hits, encoded, joins;
    uint64_t bank_hits, bank_states;   /* taken from the room's encode bank */
    uint32_t packets_held, states_held;
} ex_share_t;
void ex_share(const ex_t *ex, ex_share_t *out);
uint32_t ex_singers(const ex_t *ex);
/* The lifetime profile (always on) and the on-demand profile. */
prof_t *ex_prof_life(ex_t *ex);
prof_t *ex_prof_demand(ex_t *ex);
/* Makes the exchange add its timings to these profiles (a worker's, shared
 * by its rooms) instead of its own. */
void ex_set_profiles(ex_t *ex, prof_t *life, prof_t *demand);

#endif
