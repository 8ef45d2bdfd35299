/*
 * bbqueue.c - metadata queued for the next POST (bbqueue.h).  Lists are
 * kept as cJSON arrays and printed once, when the query is built.
 */
#include "bbqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urlenc.h"

void bbc_queue_init(bbc_queue_t *q)
{
    memset(q, 0, sizeof *q);
    q->bpm = q->repeats = q->bpr = -1;
}

void bbc_queue_clear(bbc_queue_t *q)
{
    cJSON_Delete(q->chat);
    cJSON_Delete(q->mic);
    cJSON_Delete(q->events);
    q->chat = q->mic = q->events = NULL;
    q->lead = q->start = q->stop = false;
    q->bpm = q->repeats = q->bpr = -1;
    q->volume[0] = q->backing[0] = 0;
    free(q->track);
    free(q->monitor);
    q->track = q->monitor = NULL;
    bbuf_clear(&q->extra);
}

void bbc_queue_free(bbc_queue_t *q)
{
    if (!q)
        return;
    bbc_queue_clear(q);
    bbuf_free(&q->extra);
}

static int queue_json(cJSON **list, cJSON *item)
{
    if (!item)
        return BBC_ENOMEM;
    if (!*list && !(*list = cJSON_CreateArray())) {
        cJSON_Delete(item);
        return BBC_ENOMEM;
    }
    if (!cJSON_AddItemToArray(*list, item)) {
        cJSON_Delete(item);
        return BBC_ENOMEM;
    }
    return BBC_OK;
}

int bbc_queue_chat(bbc_queue_t *q, const char *text)
{
    if (!text)
        return BBC_EPARAM;
    return queue_json(&q->chat, cJSON_CreateString(text));
}

void bbc_queue_number(char out[32], double v)
{
    snprintf(out, 32, "%.15g", v);
}

int bbc_queue_mic_volume(bbc_queue_t *q, const char *id, double v)
{
    if (!id)
        return BBC_EPARAM;
    cJSON *pair = cJSON_CreateArray();
    if (!pair || !cJSON_AddItemToArray(pair, cJSON_CreateString(id)) ||
        !cJSON_AddItemToArray(pair, cJSON_CreateNumber(v))) {
        cJSON_Delete(pair);
        return BBC_ENOMEM;
    }
    return queue_json(&q->mic, pair);
}

static int replace_str(char **slot, const char *v)
{
    if (!v || !*v)
        return BBC_EPARAM;
    char *d = strdup(v);
    if (!d)
        return BBC_ENOMEM;
    free(*slot);
    *slot = d;
    return BBC_OK;
}

int bbc_queue_track(bbc_queue_t *q, const char *name)
{
    return replace_str(&q->track, name);
}

int bbc_queue_monitor(bbc_queue_t *q, const char *id)
{
    return replace_str(&q->monitor, id);
}

int bbc_queue_event(bbc_queue_t *q, const char *evid_json, int64_t clock)
{
    if (!evid_json)
        return BBC_EPARAM;
    cJSON *evid = cJSON_Parse(evid_json);
    if (!evid)
        return BBC_EPARAM;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToObject(o, "evid", evid)) {
        cJSON_Delete(o);
        cJSON_Delete(evid);
        return BBC_ENOMEM;
    }
    if (!cJSON_AddNumberToObject(o, "clock", (double)clock)) {
        cJSON_Delete(o);
        return BBC_ENOMEM;
    }
    return queue_json(&q->events, o);
}

int bbc_queue_param(bbc_queue_t *q, const char *name, const char *value)
{
    if (!name || !*name || !value)
        return BBC_EPARAM;
    if (bbuf_append(&q->extra, name, strlen(name) + 1) != BBUF_OK ||
        bbuf_append(&q->extra, value, strlen(value) + 1) != BBUF_OK)
        return BBC_ENOMEM;
    return BBC_OK;
}

static int put_param_json(bbuf_t *q, const char *name, const cJSON *list)
{
    char *txt = cJSON_PrintUnformatted(list);
    if (!txt)
        return BBC_ENOMEM;
    int rc = urlenc_param(q, name, txt);
    cJSON_free(txt);
    return rc;
}

int bbc_queue_put_params(const bbc_queue_t *queue, bbuf_t *q)
{
    int rc = 0;
    if (queue->chat)
        rc |= put_param_json(q, "chat", queue->chat);
    if (queue->lead)
        rc |= urlenc_param(q, "request_lead", "1");
    if (queue->start)
        rc |= urlenc_param(q, "mark_start_singing", "1");
    if (queue->stop)
        rc |= urlenc_param(q, "mark_stop_singing", "1");
    if (queue->volume[0])
        rc |= urlenc_param(q, "volume", queue->volume);
    if (queue->backing[0])
        rc |= urlenc_param(q, "backing_volume", queue->backing);
    if (queue->mic)
        rc |= put_param_json(q, "mic_volume", queue->mic);
    if (queue->bpm >= 0)
        rc |= urlenc_param_i64(q, "bpm", queue->bpm);
    if (queue->repeats >= 0)
        rc |= urlenc_param_i64(q, "repeats", queue->repeats);
    if (queue->bpr >= 0)
        rc |= urlenc_param_i64(q, "bpr", queue->bpr);
    if (queue->track)
        rc |= urlenc_param(q, "track", queue->track);
    if (queue->monitor)
        rc |= urlenc_param(q, "monitor", queue->monitor);
    return rc ? BBC_ENOMEM : BBC_OK;
}

int bbc_queue_put_extra(const bbc_queue_t *queue, bbuf_t *q)
{
    int rc = 0;
    for (size_t at = 0; at < queue->extra.len;) {
        const char *name = (const char *)queue->extra.data + at;
        const char *value = name + strlen(name) + 1;
        rc |= urlenc_param(q, name, value);
        at = (size_t)(value + strlen(value) + 1 - (const char *)queue->extra.data);
    }
    return rc ? BBC_ENOMEM : BBC_OK;
}
