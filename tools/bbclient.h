/*
 * bbclient.h - a Bucket Brigade protocol client in C: it speaks the real
 * wire protocol (docs/PROTOCOL.md sections 2-8 and 14.3, our additions
 * included) the way a browser singer does, either through
 * nginx over HTTP/1.1 or straight to a worker's FastCGI socket.  The protocol
 * tests and the load generator (bb-load) are built on it.
 *
 * Layers, bottom up, one module each (this header includes them all):
 *
 *   bbcore.h     error codes, the protocol's audio constants, the clock.
 *   bbconn.h     addresses: "127.0.0.1:PORT", "[::1]:PORT",
 *                "localhost:PORT" or "unix:/path"; loopback only, anything
 *                else is refused.  Connections:
 *                bbc_conn_t: one socket and its transport (FastCGI records
 *                or HTTP/1.1), kept alive between requests.  The request /
 *                response step is split so that an event loop can drive many
 *                connections: bbc_build_request() gives the bytes to send,
 *                bbc_parse_feed() takes received bytes until a response is
 *                complete.  bbc_exchange() does both, blocking, with a
 *                timeout.
 *   bbmeta.h     bbc_meta_t: the X-Audio-Metadata JSON parsed with cJSON.
 *   bbpreenc.h   bbc_preenc_t: a voice encoded once, for load generation.
 *   bbqueue.h    bbc_queue_t: metadata queued for a singer's next POST.
 *   bbsinger.h   bbc_singer_t: userid, name, offset, its own Opus encoder and
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

#include "bbconn.h"
#include "bbcore.h"
#include "bbmeta.h"
#include "bbpreenc.h"
#include "bbqueue.h"
#include "bbsinger.h"
#include "tone.h"       /* test signals: what singers sing, what tests measure */

#endif
