/*
 * bbqueue.h - the metadata a singer queues for its next POST (PROTOCOL.md
 * section 3.2): chat lines, a lead request, song start and stop, tempo,
 * volumes, a track, monitoring, events and any other parameter.
 *
 * Everything queued goes out once, on the next POST, then the queue is
 * cleared (bbc_queue_clear()); lists (chat, mic_volume, events) gather
 * every entry queued since.  A zeroed queue after bbc_queue_init() is
 * empty.  Not shared between threads.
 */
#ifndef BB_BBQUEUE_H
#define BB_BBQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bbcore.h"
#include "bytebuf.h"

typedef struct {
    cJSON *chat, *mic, *events;    /* JSON arrays, NULL when empty */
    bool lead, start, stop;
    int bpm, repeats, bpr;         /* < 0: leave out */
    char volume[32], backing[32];  /* "" : leave out */
    char *track, *monitor;         /* NULL: leave out */
    bbuf_t extra;                  /* "name\0value\0" pairs */
} bbc_queue_t;

/* Makes q empty; call once before any other use. */
void bbc_queue_init(bbc_queue_t *q);

/* Drops everything queued (after a POST carried it); keeps memory. */
void bbc_queue_clear(bbc_queue_t *q);

/* Frees what q holds; q is empty and usable afterwards.  Accepts NULL. */
void bbc_queue_free(bbc_queue_t *q);

/* Queueing; each returns 0, BBC_EPARAM (a NULL or empty value where one
 * is needed, evid_json not JSON) or BBC_ENOMEM. */
int bbc_queue_chat(bbc_queue_t *q, const char *text);            /* appended to `chat` */
int bbc_queue_mic_volume(bbc_queue_t *q, const char *id, double v); /* appended to `mic_volume` */
int bbc_queue_track(bbc_queue_t *q, const char *name);           /* track (non-empty) */
int bbc_queue_monitor(bbc_queue_t *q, const char *id);           /* monitor (id or "end") */
int bbc_queue_event(bbc_queue_t *q, const char *evid_json, int64_t clock);
int bbc_queue_param(bbc_queue_t *q, const char *name, const char *value);
/* A volume as JavaScript's String() writes the usual values. */
void bbc_queue_number(char out[32], double v);

/* Appends the queued parameters from chat to monitor, in the order the
 * browser sends them, to the query q (URL-encoded).  0 or BBC_ENOMEM. */
int bbc_queue_put_params(const bbc_queue_t *queue, bbuf_t *q);

/* Appends the parameters queued with bbc_queue_param(), in order.  0 or
 * BBC_ENOMEM. */
int bbc_queue_put_extra(const bbc_queue_t *queue, bbuf_t *q);

#endif
