/*
 * bbcore.h - what every module of the protocol client shares: its error
 * codes, the audio constants of the protocol, and the monotonic clock its
 * deadlines and latencies are measured with.
 *
 * The client (bbclient.h brings all of it) is built from: bbconn.h
 * (addresses, connections, one request and its answer), bbmeta.h (the
 * X-Audio-Metadata header), bbpreenc.h (pre-encoded voice for load),
 * bbqueue.h (metadata queued for the next POST) and bbsinger.h (a singer:
 * the browser's protocol state machine).
 *
 * Conventions: 0 for success, negative BBC_E* codes with bbc_strerror();
 * constructors return NULL and put the reason in *err (err may be NULL);
 * destroy functions accept NULL.  No global mutable state.  Clocks are
 * samples at 48 kHz, END convention ([C-n, C)), in int64_t.
 */
#ifndef BB_BBCORE_H
#define BB_BBCORE_H

#include <stdint.h>

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

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t bbc_now_ns(void);

#endif
