/*
 * bbsinger_impl.h - the singer's state, shared by the two files that make
 * it: bbsinger.c (life, requests, the blocking use) and bbanswer.c (what
 * an answer means).  Nothing outside tools/bbsinger.c and tools/bbanswer.c
 * includes it; everyone else has bbsinger.h.
 */
#ifndef BB_BBSINGER_IMPL_H
#define BB_BBSINGER_IMPL_H

#include <opus.h>

#include "bbsinger.h"

enum { PEND_NONE = 0, PEND_PROBE, PEND_POST };

struct bbc_singer {
    bbc_config_t cfg;
    char *path, *userid, *username, *reset_path;
    char *room, *key;         /* "" when none */
    bbc_conn_t *own_conn;
    bbc_conn_t *conn;
    OpusEncoder *enc;
    OpusDecoder *dec;
    bbclock_t clock;
    int offset_s;
    bool connected;           /* a probe has been answered on this connection */
    bool ever_connected;
    int pending;              /* PEND_* */
    bbclock_post_t post;      /* clocks of the last POST built */
    int64_t t_sent;           /* monotonic ns when the pending request left */
    int64_t t_connected;      /* monotonic ns when the probe was answered */
    uint64_t batches;         /* POSTs built since the probe */
    bbuf_t query, body;
    bbuf_t link_query;        /* of the probe and reset_events: room=, key= (and userid=) */
    char *event_hdr;          /* X-Event-Data of the pending POST (cJSON-allocated) */
    bbc_queue_t q;            /* metadata queued for the next POST */
    /* answers */
    bbc_meta_t meta;
    resp_t resp;
    float *scratch;           /* n_samples floats: decoding target when the caller passes none */
    float *zeros;             /* n_samples of silence */
    float *gen;               /* n_samples filled by cfg.source */
    uint8_t *pkts;            /* encoder output: n_samples/2880 packets of PK_MAX_PACKET */
    size_t pre_at;            /* next pre-encoded packet */
    char err[512];
    bbc_stats_t st;
};

/* Records the failure text bbc_singer_error() gives. */
void bbc_singer_set_err(bbc_singer_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets the encoder and decoder, as the browser does on a new connection. */
void bbc_singer_reset_codecs(bbc_singer_t *s);

#endif
