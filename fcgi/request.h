/*
 * request.h - one audio request, parsed and bounded before anything changes.
 *
 * rq_parse() turns the query string, the body and the X-Event-Data header
 * of an audio POST (PROTOCOL.md sections 3 and 4) into an rq_t: the
 * singer's identity, both clocks, the Opus packets of the body, every
 * control the request carries, and the texts people typed, each checked
 * against its bound.  Malformed input is refused with a message for a 400
 * and nothing else; unusable values of optional controls (a volume that is
 * not a number, a bpm out of range) are ignored, as PROTOCOL.md quirk 12
 * asks.  The module touches no shared state, so it is tested and fuzzed on
 * its own.
 *
 * Everything parsed points into the rq_t itself or into the request's
 * body, and is valid until the next rq_parse() on the same rq_t.
 */
#ifndef BB_REQUEST_H
#define BB_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "query.h"
#include "segment.h"

/* Largest read / write interval: 255 Opus frames (PROTOCOL.md 4.3). */
#define RQ_MAX_SAMPLES (255 * 2880)
/* Bounds of the things people type. */
#define RQ_NAME_INPUT_MAX 1024       /* longer names are refused */
#define RQ_CHAT_MAX_BYTES 500        /* per message */
#define RQ_CHAT_MAX_COUNT 10         /* per request */
#define RQ_EVENTS_MAX 16             /* per request */
#define RQ_MIC_VOLUMES_MAX 16        /* pairs per request */
#define RQ_EVENT_HEADER_MAX 8192
/* A client clock may lie at most this far behind the server clock. */
#define RQ_CLOCK_WINDOW (3600LL * 48000)

typedef struct {
    char evid[64];     /* JSON text of a scalar, ASCII */
    char clock[32];    /* JSON text of a number */
} rq_event_t;

typedef struct {
    uint64_t id;       /* public id of the singer */
    double v;          /* friendly volume, finite (not yet clamped) */
} rq_micvol_t;

/* Everything one request asks for.  Fields up to `chat` are reset by every
 * parse; the arrays after it are valid up to their counts. */
typedef struct {
    uint64_t userid;
    char name[SEG_NAME_MAX];        /* cut to fit, on a character boundary */
    int64_t read_clock;
    int64_t write_clock;            /* valid if has_write */
    bool has_write;
    uint32_t n;                     /* samples read, and written if has_write */
    int npk;                        /* Opus packets in the body */
    bool reset;
    bool loopback;
    bool spectator;
    bool muted;                     /* muted=1: the upload is not mixed */
    bool no_summary;                /* summary=0: never the user summary */
    bool summary_changes;           /* summary=changed: only when it changed */
    bool lead, start, stop;
    bool has_volume, has_backing_volume;
    double volume, backing_volume;
    int32_t bpm, repeats, bpr;      /* -1 = absent or unusable */
    const char *track;
    const char *monitor;            /* raw parameter */
    uint64_t timing_apply;          /* public id whose measured timing to
                                       apply (timing_apply=ID); 0 = none */
    const char *solo;               /* raw solo= (cm_check_solo() reads it) */
    bool has_solo;                  /* a usable solo=: the ids below */
    uint32_t n_solo;                /* 0: hear everyone again */
    uint64_t solo_ids[SEG_SOLO_MAX];
    bool has_calib;                 /* calib=KIND:MS was given and usable */
    uint32_t calib;                 /* its users_calib_word() */
    uint64_t remove;                /* the organiser's: public id to remove
                                       from the room (remove=ID); 0 = none */
    uint64_t let_back;              /* public id to let back in (let_back=ID) */
    uint64_t appoint;               /* public id to make the leader (appoint=ID) */
    uint32_t n_chat;
    const char *chat[RQ_CHAT_MAX_COUNT];
    uint32_t n_mic;
    rq_micvol_t mic[RQ_MIC_VOLUMES_MAX];
    uint32_t n_ev;
    rq_event_t ev[RQ_EVENTS_MAX];
    pk_packet_t pk[PK_MAX_PACKETS]; /* point into the body */
    char chat_buf[SEG_TEXT_MAX * 4];
    char err[512];                  /* why the request was refused */
    q_t q;
} rq_t;

/* Parses one audio request at server clock `now`.  Returns 0, or -1 with a
 * message for the client in rq->err (the caller answers 400). */
int rq_parse(rq_t *rq, const char *query, size_t query_len, const uint8_t *body, size_t body_len,
             const char *event_data, int64_t now);

/* Userids are decimal integers: "0" or 1..19 digits without a leading
 * zero, so each string maps to exactly one 64-bit key.  Returns false for
 * anything else. */
bool rq_parse_userid(const char *s, uint64_t *out);

/* The page's calibration, calib=measured:MS or calib=estimated:MS (MS 1
 * to 4 digits, ms, clamped to USERS_CALIB_MS_MAX): its users_calib_word()
 * into *word.  Returns false for anything else. */
bool rq_parse_calib(const char *s, uint32_t *word);

/* A public id: as a userid, but never 0. */
bool rq_parse_public(const char *s, uint64_t *out);

#endif
