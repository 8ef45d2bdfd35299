/*
 * request.c - parsing and bounding one audio request (request.h).
 *
 * Order: the query (repeated or malformed fields are refused), the
 * identity, n_samples and the body's framing, both clocks against the
 * server clock, then the optional controls and the JSON texts.  Bounds are
 * checked as comparisons against limits, never as differences that could
 * overflow.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonw.h"
#include "request.h"
#include "ring.h"
#include "tempo.h"
#include "users.h"
#include "utf8.h"

bool rq_parse_userid(const char *s, uint64_t *out)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 19 || s[n] != '\0' || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    *out = v;
    return true;
}

bool rq_parse_calib(const char *s, uint32_t *word)
{
    uint32_t kind;
    const char *ms;
    if (strncmp(s, "measured:", 9) == 0) {
        kind = USERS_CALIB_MEASURED;
        ms = s + 9;
    } else if (strncmp(s, "estimated:", 10) == 0) {
        kind = USERS_CALIB_ESTIMATED;
        ms = s + 10;
    } else {
        return false;
    }
    /* 1..4 digits: up to 9999 ms, clamped to USERS_CALIB_MS_MAX */
    size_t len = strlen(ms);
    if (len == 0 || len > 4 || strspn(ms, "0123456789") != len)
        return false;
    *word = users_calib_word(kind, atoi(ms));
    return true;
}

bool rq_parse_public(const char *s, uint64_t *out)
{
    return rq_parse_userid(s, out) && *out != 0;
}

/* Parses an optional small integer parameter in [lo, hi]; absent or out of
 * range or not a number gives -1 (ignored, as PROTOCOL.md quirk 12 asks). */
static int32_t opt_int(const q_t *q, const char *name, int32_t lo, int32_t hi)
{
    const char *s = q_get(q, name);
    int64_t v;
    if (!s || !q_int64(s, &v) || v < lo || v > hi)
        return -1;
    return (int32_t)v;
}

/* Returns NULL on success or a message for a 400. */
static const char *parse_chat(rq_t *p, const char *s)
{
    cJSON *j = cJSON_ParseWithLength(s, strlen(s));
    const char *err = NULL;
    if (!j || !cJSON_IsArray(j)) {
        err = "chat must be a JSON array of strings";
        goto out;
    }
    int n = cJSON_GetArraySize(j);
    if (n > RQ_CHAT_MAX_COUNT) {
        err = "too many chat messages in one request (at most 10)";
        goto out;
    }
    /* The strings are copied into the query buffer's spare room: the chat
     * texts live in p->chat_buf, one after the other. */
    size_t at = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (!cJSON_IsString(it)) {
            err = "chat must be a JSON array of strings";
            goto out;
        }
        size_t len = strlen(it->valuestring);
        if (len > RQ_CHAT_MAX_BYTES) {
            err = "chat message too long (at most 500 bytes)";
            goto out;
        }
        if (!jw_utf8_clean(it->valuestring, len)) {
            err = "chat message must be text without control characters";
            goto out;
        }
        if (at + len + 1 > sizeof p->chat_buf) {
            err = "chat messages too long";
            goto out;
        }
        memcpy(p->chat_buf + at, it->valuestring, len + 1);
        /* Hidden characters (C1 controls, zero-width, bidirectional
         * overrides) are left out; what is left empty is no message. */
        len = utf8_strip_hidden(p->chat_buf + at, len);
        if (len == 0)
            continue;
        p->chat[p->n_chat++] = p->chat_buf + at;
        at += len + 1;
    }
out:
    cJSON_Delete(j);
    return err;
}

static const char *parse_mic_volume(rq_t *p, const char *s)
{
    cJSON *j = cJSON_ParseWithLength(s, strlen(s));
    const char *err = NULL;
    if (!j || !cJSON_IsArray(j)) {
        err = "mic_volume must be a JSON array of [id, volume] pairs";
        goto out;
    }
    if (cJSON_GetArraySize(j) > RQ_MIC_VOLUMES_MAX) {
        err = "too many mic volumes in one request (at most 16)";
        goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2) {
            err = "mic_volume must be a JSON array of [id, volume] pairs";
            goto out;
        }
        const cJSON *id = cJSON_GetArrayItem(it, 0), *v = cJSON_GetArrayItem(it, 1);
        uint64_t pub;
        bool ok;
        if (cJSON_IsString(id))
            ok = rq_parse_public(id->valuestring, &pub);
        else if (cJSON_IsNumber(id) && id->valuedouble >= 1 && id->valuedouble < 9007199254740992.0 &&
                 id->valuedouble == floor(id->valuedouble))
            ok = (pub = (uint64_t)id->valuedouble) != 0;
        else
            ok = false;
        /* A null or non-numeric volume (the client sends null for NaN) is
         * ignored, as is an id that names no one. */
        if (!ok || !cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            continue;
        /* The same singer twice: the later value is the one that would
         * stand, so it replaces the earlier one (one command, not two). */
        uint32_t k = 0;
        while (k < p->n_mic && p->mic[k].id != pub)
            k++;
        p->mic[k].id = pub;
        p->mic[k].v = v->valuedouble;
        if (k == p->n_mic)
            p->n_mic++;
    }
out:
    cJSON_Delete(j);
    return err;
}

/* X-Event-Data: anything that is not a JSON array of objects counts as no
 * events (the client sends the string "undefined"); entries without evid or
 * a numeric clock are skipped.  Too many entries is a 400. */
static const char *parse_events(rq_t *p, const char *s)
{
    if (!s || !*s)
        return NULL;
    size_t len = strlen(s);
    if (len > RQ_EVENT_HEADER_MAX)
        return "X-Event-Data too long (at most 8192 bytes)";
    cJSON *j = cJSON_ParseWithLength(s, len);
    const char *err = NULL;
    if (!j || !cJSON_IsArray(j))
        goto out;
    if (cJSON_GetArraySize(j) > RQ_EVENTS_MAX) {
        err = "too many events in one request (at most 16)";
        goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        const cJSON *evid = cJSON_GetObjectItemCaseSensitive(it, "evid");
        const cJSON *clock = cJSON_GetObjectItemCaseSensitive(it, "clock");
        if (!cJSON_IsObject(it) || !evid || !cJSON_IsNumber(clock) || !isfinite(clock->valuedouble))
            continue;
        if (cJSON_IsArray(evid) || cJSON_IsObject(evid))
            continue;  /* evid is a JSON scalar */
        rq_event_t *e = &p->ev[p->n_ev];
        if (!cJSON_PrintPreallocated((cJSON *)evid, e->evid, sizeof e->evid - 5, false))
            continue;
        double c = clock->valuedouble;
        if (c == floor(c) && fabs(c) < 9007199254740992.0)
            snprintf(e->clock, sizeof e->clock, "%.0f", c);
        else
            snprintf(e->clock, sizeof e->clock, "%.17g", c);
        /* cJSON prints non-ASCII raw; the header must stay ASCII. */
        if (!jw_utf8_clean(e->evid, strlen(e->evid)))
            continue;
        bool ascii = true;
        for (const char *c2 = e->evid; *c2; c2++)
            ascii &= (unsigned char)*c2 < 0x80;
        if (!ascii)
            continue;
        p->n_ev++;
    }
out:
    cJSON_Delete(j);
    return err;
}

/* Writes why the request is refused into p->err; returns -1. */
static int refuse(rq_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return -1;
}

int rq_parse(rq_t *p, const char *query, size_t query_len, const uint8_t *body, size_t body_len,
             const char *event_data, int64_t now)
{
    memset(p, 0, offsetof(rq_t, chat));
    p->n_chat = p->n_mic = p->n_ev = 0;
    p->bpm = p->repeats = p->bpr = -1;
    q_t *q = &p->q;
    int rc = q_parse(q, query, query_len);
    if (rc == Q_EREPEAT)
        return refuse(p, "repeated query parameter '%s'", q->bad);
    if (rc)
        return refuse(p, "%s", q_strerror(rc));
    const char *s = q_get(q, "read_clock");
    if (!s)
        return refuse(p, "no client read clock");
    if (!q_int64(s, &p->read_clock))
        return refuse(p, "read_clock must be an integer");
    const char *uid = q_get(q, "userid"), *name = q_get(q, "username");
    if (!uid || !name)
        return refuse(p, "missing username/id");
    if (!rq_parse_userid(uid, &p->userid))
        return refuse(p, "userid must be a decimal number of at most 19 digits");
    size_t nlen = strlen(name);
    if (nlen > RQ_NAME_INPUT_MAX)
        return refuse(p, "username too long (at most %d bytes)", RQ_NAME_INPUT_MAX);
    if (!jw_utf8_clean(name, nlen))
        return refuse(p, "username must be text without control characters");
    /* Characters that could disguise one name as another (C1 controls,
     * zero-width, bidirectional overrides) are left out; long names are
     * kept, shortened for display. */
    char clean[RQ_NAME_INPUT_MAX + 1];
    memcpy(clean, name, nlen + 1);
    nlen = utf8_strip_hidden(clean, nlen);
    if (nlen == 0 && name[0])
        return refuse(p, "username must have a visible character");
    size_t keep = jw_utf8_cut(clean, nlen, SEG_NAME_MAX - 1);
    memcpy(p->name, clean, keep);
    p->name[keep] = '\0';

    int64_t ns = 0;
    if ((s = q_get(q, "n_samples")) &&
        (!q_int64(s, &ns) || ns < 0 || ns > RQ_MAX_SAMPLES || ns % RING_OPUS_FRAME))
        return refuse(p, "n_samples must be a multiple of %d up to %d", RING_OPUS_FRAME,
                      RQ_MAX_SAMPLES);
    int npk = pk_parse(body, body_len, p->pk, PK_MAX_PACKETS);
    if (npk < 0)
        return refuse(p, "%s", pk_strerror(npk));
    p->npk = npk;
    if (npk > 0) {
        if (ns && ns != (int64_t)npk * RING_OPUS_FRAME)
            return refuse(p,
                          "Client is confused about how many samples it sent (n_samples=%" PRId64
                          ", body has %d packets = %d samples)", ns, npk, npk * RING_OPUS_FRAME);
        p->n = (uint32_t)npk * RING_OPUS_FRAME;
    } else {
        if (!ns)
            return refuse(p, "Must provide either n_samples or data");
        p->n = (uint32_t)ns;
    }
    if ((s = q_get(q, "write_clock"))) {
        if (!q_int64(s, &p->write_clock))
            return refuse(p, "write_clock must be an integer");
        p->has_write = true;
    }
    /* Clocks that cannot be right at all are malformed input.  Each is
     * compared with bounds computed from the server clock, never subtracted
     * from it: a client clock may be any int64. */
    if (p->read_clock > now)
        return refuse(p, "read clock is %.3f s in the future of the server clock",
                      (double)(p->read_clock - now) / RING_SAMPLE_RATE);
    if (p->read_clock < now - RQ_CLOCK_WINDOW)
        return refuse(p, "read clock is more than an hour in the past");
    if (p->has_write && p->write_clock > now)
        return refuse(p, "write clock is %.3f s in the future of the server clock",
                      (double)(p->write_clock - now) / RING_SAMPLE_RATE);
    if (p->has_write && p->write_clock < now - RQ_CLOCK_WINDOW)
        return refuse(p, "write clock is more than an hour in the past");

    p->reset = q_get(q, "reset_user_state") != NULL;
    p->loopback = (s = q_get(q, "loopback")) && strcmp(s, "true") == 0;
    p->spectator = (s = q_get(q, "spectator")) && (strcmp(s, "1") == 0 || strcmp(s, "true") == 0);
    p->muted = (s = q_get(q, "muted")) && (strcmp(s, "1") == 0 || strcmp(s, "true") == 0);
    if ((s = q_get(q, "summary"))) {
        p->no_summary = strcmp(s, "0") == 0;
        p->summary_changes = strcmp(s, "changed") == 0;
    }
    p->lead = q_get(q, "request_lead") != NULL;
    p->start = q_get(q, "mark_start_singing") != NULL;
    p->stop = q_get(q, "mark_stop_singing") != NULL;
    if ((s = q_get(q, "volume")))
        p->has_volume = q_double(s, &p->volume);
    if ((s = q_get(q, "backing_volume")))
        p->has_backing_volume = q_double(s, &p->backing_volume);
    p->bpm = opt_int(q, "bpm", 1, TEMPO_BPM_MAX);
    p->repeats = opt_int(q, "repeats", 0, TEMPO_REPEATS_MAX);
    p->bpr = opt_int(q, "bpr", 0, TEMPO_BPR_MAX);
    if ((s = q_get(q, "track"))) {
        if (strlen(s) >= SEG_TEXT_MAX)
            return refuse(p, "track name too long");
        p->track = s;
    }
    p->monitor = q_get(q, "monitor");
    p->solo = q_get(q, "solo");
    if ((s = q_get(q, "calib")))
        p->has_calib = rq_parse_calib(s, &p->calib);
    /* Not a public id: ignored, as any unusable control. */
    if ((s = q_get(q, "timing_apply")) && !rq_parse_public(s, &p->timing_apply))
        p->timing_apply = 0;
    if ((s = q_get(q, "remove")) && !rq_parse_public(s, &p->remove))
        p->remove = 0;
    if ((s = q_get(q, "let_back")) && !rq_parse_public(s, &p->let_back))
        p->let_back = 0;
    if ((s = q_get(q, "appoint")) && !rq_parse_public(s, &p->appoint))
        p->appoint = 0;
    const char *err;
    if ((s = q_get(q, "chat")) && (err = parse_chat(p, s)))
        return refuse(p, "%s", err);
    if ((s = q_get(q, "mic_volume")) && (err = parse_mic_volume(p, s)))
        return refuse(p, "%s", err);
    if (p->has_write && (err = parse_events(p, event_data)))
        return refuse(p, "%s", err);
    return 0;
}
