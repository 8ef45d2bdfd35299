/*
 * exchange.c - the audio exchange.
 *
 * Order of work (PROTOCOL.md section 7, with its fixes):
 *   1. parse and bound everything: query, body framing, clocks, typed text,
 *      JSON parameters; any malformed input is a 400 and changes nothing;
 *   2. find or create the singer; apply reset_user_state;
 *   3. check both clock continuities (desync is a 500 with kill_client) and
 *      that the write lies inside the timeline, before any state changes;
 *   4. decode the upload (an invalid packet is a 400, nothing changed yet);
 *   5. reserve room in the command lane for every control action, or 503;
 *   6. change state: activity, commands, the upload into the timeline;
 *   7. render the output, encode it, build the metadata.
 * Any error drops the singer's codec state, as the protocol requires.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chat.h"
#include "cmdq.h"
#include "encshare.h"
#include "exchange.h"
#include "frames.h"
#include "gain.h"
#include "jsonw.h"
#include "packet.h"
#include "query.h"
#include "ring.h"
#include "singers.h"
#include "snap.h"
#include "tempo.h"
#include "timeline.h"
#include "users.h"

#define META_CAP 65536
#define ERRBODY_CAP 1024
#define MAX_CMDS (EX_CHAT_MAX_COUNT + EX_EVENTS_MAX + EX_MIC_VOLUMES_MAX + 16)
#define SUMMARY_EVERY RING_SAMPLE_RATE     /* at most once a second */
#define JOIN_RETRY RING_SAMPLE_RATE

typedef struct {
    char evid[64];
    char clock[32];
} ev_t;

typedef struct {
    uint64_t id;       /* public id */
    double v;
} micvol_t;

/* Everything parsed from one request, before anything changes. */
typedef struct {
    uint64_t userid;
    char name[SEG_NAME_MAX];
    int64_t read_clock;
    int64_t write_clock;
    bool has_write;
    uint32_t n;
    int npk;
    bool reset;
    bool loopback;
    bool spectator;
    bool no_summary;
    bool lead, start, stop;
    bool has_volume, has_backing_volume;
    double volume, backing_volume;
    int32_t bpm, repeats, bpr;      /* -1 = absent */
    const char *track;
    const char *monitor;            /* raw parameter */
    uint32_t n_chat;
    const char *chat[EX_CHAT_MAX_COUNT];
    uint32_t n_mic;
    micvol_t mic[EX_MIC_VOLUMES_MAX];
    uint32_t n_ev;
    ev_t ev[EX_EVENTS_MAX];
} parsed_t;

struct ex {
    seg_t *seg;
    uint32_t worker;
    char *rec_dir;          /* stems go here; NULL: no stems */
    bool no_sharing;        /* every singer encodes privately */
    sg_table_t *singers;
    es_t *es;               /* packets shared among singers (encshare.h) */
    fr_t *fr;               /* frames rendered once (frames.h) */
    q_t q;
    pk_packet_t pk[PK_MAX_PACKETS];
    stem_packet_t stem_pk[SG_PREROLL_PACKETS + PK_MAX_PACKETS];
    float in[EX_MAX_SAMPLES];
    float out[EX_MAX_SAMPLES];
    uint8_t body[1 + PK_MAX_PACKETS * (2 + PK_MAX_PACKET)];
    char meta[META_CAP];
    char errbody[ERRBODY_CAP];
    char summary[SEG_BLOB_SUMMARY_MAX];
    size_t summary_len;
    uint64_t summary_gen;
    char events[SEG_BLOB_EVENTS_MAX];
    size_t events_len;
    uint64_t events_gen;
    char tracks[SEG_BLOB_TRACKS_MAX];
    size_t tracks_len;
    uint64_t tracks_gen;
    char chat_json[SEG_TEXT_MAX * 4];
    int64_t last_request_clock;
    int64_t last_sweep;
    seg_cmd_t cmd;
    parsed_t p;
    ex_counters_t c;
    prof_t life;
    prof_t demand;
    char scratch[SEG_TEXT_MAX * 6 + 8];
};

#define LOG(ex, fmt, ...) fprintf(stderr, "bb-worker[%u]: " fmt "\n", (ex)->worker, ##__VA_ARGS__)

/* ---- life cycle -------------------------------------------------------- */

ex_t *ex_create(seg_t *seg, uint32_t worker_id, uint32_t max_singers, const char *recordings_dir,
                char *why, size_t whylen)
{
    ex_t *ex = calloc(1, sizeof *ex);
    if (!ex || (recordings_dir && !(ex->rec_dir = strdup(recordings_dir)))) {
        free(ex);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    ex->seg = seg;
    ex->worker = worker_id;
    ex->singers = sg_table_create(max_singers);
    /* Room for ~20 s of frames of a dozen distinct streams, and a state for
     * every singer that could be pinned on its own. */
    ex->es = es_create(4096, max_singers + 256);
    ex->fr = fr_create(1024);
    if (!ex->singers || !ex->es || !ex->fr) {
        sg_table_destroy(ex->singers);
        es_destroy(ex->es);
        fr_destroy(ex->fr);
        snprintf(why, whylen, "out of memory for %u singers", max_singers);
        free(ex->rec_dir);
        free(ex);
        return NULL;
    }
    ex->last_request_clock = -1;
    prof_reset(&ex->life, true);
    prof_reset(&ex->demand, false);
    return ex;
}

void ex_destroy(ex_t *ex)
{
    if (!ex)
        return;
    sg_table_destroy(ex->singers);
    es_destroy(ex->es);
    fr_destroy(ex->fr);
    free(ex->rec_dir);
    free(ex);
}

const ex_counters_t *ex_counters(const ex_t *ex) { return &ex->c; }

void ex_set_sharing(ex_t *ex, bool on) { ex->no_sharing = !on; }

void ex_share(const ex_t *ex, ex_share_t *out)
{
    const es_stats_t *st = es_stats(ex->es);
    fr_counts(ex->fr, &out->rendered, &out->render_hits);
    out->packet_hits = st->hits;
    out->encoded = st->encodes;
    out->joins = st->joins;
    out->packets_held = st->entries;
    out->states_held = st->states;
}
uint32_t ex_singers(const ex_t *ex) { return sg_count(ex->singers); }
prof_t *ex_prof_life(ex_t *ex) { return &ex->life; }
prof_t *ex_prof_demand(ex_t *ex) { return &ex->demand; }

static void stage(ex_t *ex, prof_stage_t s, int64_t *t0)
{
    int64_t t = prof_now_ns();
    prof_add(&ex->life, s, t - *t0);
    prof_add(&ex->demand, s, t - *t0);
    *t0 = t;
}

/* ---- responses --------------------------------------------------------- */

/* Fills an error response: status, a metadata header with kill_client and
 * the message (which the client logs), and the message as a text body. */
static void fail(ex_t *ex, ex_response_t *res, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jw_t w;
    jw_init(&w, ex->meta, META_CAP);
    jw_obj_begin(&w);
    jw_key(&w, "kill_client");
    jw_bool(&w, true);
    jw_key(&w, "message");
    jw_str(&w, msg);
    jw_obj_end(&w);
    const char *cls = status == 400 ? "BadRequest" : status == 503 ? "ServiceUnavailable" : "ClientError";
    int n = snprintf(ex->errbody, sizeof ex->errbody, "%s: %s\n", cls, msg);
    res->status = status;
    res->meta = ex->meta;
    res->body = (const uint8_t *)ex->errbody;
    res->body_len = (size_t)(n < (int)sizeof ex->errbody ? n : (int)sizeof ex->errbody - 1);
    res->content_type = "text/plain";
    if (status == 400)
        ex->c.bad_request++;
    else if (status == 503)
        ex->c.busy++;
    else
        ex->c.killed++;
}

/* ---- parsing ----------------------------------------------------------- */

/* Userids are decimal integers: "0" or 1..19 digits without a leading
 * zero, so each string maps to exactly one 64-bit key. */
static bool parse_userid(const char *s, uint64_t *out)
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

static bool parse_public(const char *s, uint64_t *out)
{
    return parse_userid(s, out) && *out != 0;
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
static const char *parse_chat(ex_t *ex, parsed_t *p, const char *s)
{
    cJSON *j = cJSON_ParseWithLength(s, strlen(s));
    const char *err = NULL;
    if (!j || !cJSON_IsArray(j)) {
        err = "chat must be a JSON array of strings";
        goto out;
    }
    int n = cJSON_GetArraySize(j);
    if (n > EX_CHAT_MAX_COUNT) {
        err = "too many chat messages in one request (at most 10)";
        goto out;
    }
    /* The strings are copied into the query buffer's spare room: the chat
     * texts live in ex->chat_json, one after the other. */
    size_t at = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (!cJSON_IsString(it)) {
            err = "chat must be a JSON array of strings";
            goto out;
        }
        size_t len = strlen(it->valuestring);
        if (len > EX_CHAT_MAX_BYTES) {
            err = "chat message too long (at most 500 bytes)";
            goto out;
        }
        if (!jw_utf8_clean(it->valuestring, len)) {
            err = "chat message must be text without control characters";
            goto out;
        }
        if (len == 0)
            continue;
        if (at + len + 1 > sizeof ex->chat_json) {
            err = "chat messages too long";
            goto out;
        }
        memcpy(ex->chat_json + at, it->valuestring, len + 1);
        p->chat[p->n_chat++] = ex->chat_json + at;
        at += len + 1;
    }
out:
    cJSON_Delete(j);
    return err;
}

static const char *parse_mic_volume(parsed_t *p, const char *s)
{
    cJSON *j = cJSON_ParseWithLength(s, strlen(s));
    const char *err = NULL;
    if (!j || !cJSON_IsArray(j)) {
        err = "mic_volume must be a JSON array of [id, volume] pairs";
        goto out;
    }
    if (cJSON_GetArraySize(j) > EX_MIC_VOLUMES_MAX) {
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
            ok = parse_public(id->valuestring, &pub);
        else if (cJSON_IsNumber(id) && id->valuedouble >= 1 && id->valuedouble < 9007199254740992.0 &&
                 id->valuedouble == floor(id->valuedouble))
            ok = (pub = (uint64_t)id->valuedouble) != 0;
        else
            ok = false;
        /* A null or non-numeric volume (the client sends null for NaN) is
         * ignored, as is an id that names no one. */
        if (!ok || !cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            continue;
        p->mic[p->n_mic].id = pub;
        p->mic[p->n_mic].v = v->valuedouble;
        p->n_mic++;
    }
out:
    cJSON_Delete(j);
    return err;
}

/* X-Event-Data: anything that is not a JSON array of objects counts as no
 * events (the client sends the string "undefined"); entries without evid or
 * a numeric clock are skipped.  Too many entries is a 400. */
static const char *parse_events(parsed_t *p, const char *s)
{
    if (!s || !*s)
        return NULL;
    size_t len = strlen(s);
    if (len > EX_EVENT_HEADER_MAX)
        return "X-Event-Data too long (at most 8192 bytes)";
    cJSON *j = cJSON_ParseWithLength(s, len);
    const char *err = NULL;
    if (!j || !cJSON_IsArray(j))
        goto out;
    if (cJSON_GetArraySize(j) > EX_EVENTS_MAX) {
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
        ev_t *e = &p->ev[p->n_ev];
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

/* Parses and bounds the whole request into ex->p.  Returns 0, or fills res
 * with a 400 and returns -1. */
static int parse(ex_t *ex, const ex_request_t *req, ex_response_t *res, int64_t now)
{
    parsed_t *p = &ex->p;
    memset(p, 0, offsetof(parsed_t, chat));
    p->n_chat = p->n_mic = p->n_ev = 0;
    p->bpm = p->repeats = p->bpr = -1;
    q_t *q = &ex->q;
    int rc = q_parse(q, req->query, req->query_len);
    if (rc == Q_EREPEAT) {
        fail(ex, res, 400, "repeated query parameter '%s'", q->bad);
        return -1;
    }
    if (rc) {
        fail(ex, res, 400, "%s", q_strerror(rc));
        return -1;
    }
    const char *s = q_get(q, "read_clock");
    if (!s) {
        fail(ex, res, 400, "no client read clock");
        return -1;
    }
    if (!q_int64(s, &p->read_clock)) {
        fail(ex, res, 400, "read_clock must be an integer");
        return -1;
    }
    const char *uid = q_get(q, "userid"), *name = q_get(q, "username");
    if (!uid || !name) {
        fail(ex, res, 400, "missing username/id");
        return -1;
    }
    if (!parse_userid(uid, &p->userid)) {
        fail(ex, res, 400, "userid must be a decimal number of at most 19 digits");
        return -1;
    }
    size_t nlen = strlen(name);
    if (nlen > EX_NAME_INPUT_MAX) {
        fail(ex, res, 400, "username too long (at most %d bytes)", EX_NAME_INPUT_MAX);
        return -1;
    }
    if (!jw_utf8_clean(name, nlen)) {
        fail(ex, res, 400, "username must be text without control characters");
        return -1;
    }
    /* Long names are kept, shortened for display. */
    size_t keep = jw_utf8_cut(name, nlen, SEG_NAME_MAX - 1);
    memcpy(p->name, name, keep);
    p->name[keep] = '\0';

    int64_t ns = 0;
    if ((s = q_get(q, "n_samples")) &&
        (!q_int64(s, &ns) || ns < 0 || ns > EX_MAX_SAMPLES || ns % RING_OPUS_FRAME)) {
        fail(ex, res, 400, "n_samples must be a multiple of %d up to %d", RING_OPUS_FRAME,
             EX_MAX_SAMPLES);
        return -1;
    }
    int npk = pk_parse(req->body, req->body_len, ex->pk, PK_MAX_PACKETS);
    if (npk < 0) {
        fail(ex, res, 400, "%s", pk_strerror(npk));
        return -1;
    }
    p->npk = npk;
    if (npk > 0) {
        if (ns && ns != (int64_t)npk * RING_OPUS_FRAME) {
            fail(ex, res, 400,
                 "Client is confused about how many samples it sent (n_samples=%" PRId64
                 ", body has %d packets = %d samples)", ns, npk, npk * RING_OPUS_FRAME);
            return -1;
        }
        p->n = (uint32_t)npk * RING_OPUS_FRAME;
    } else {
        if (!ns) {
            fail(ex, res, 400, "Must provide either n_samples or data");
            return -1;
        }
        p->n = (uint32_t)ns;
    }
    if ((s = q_get(q, "write_clock"))) {
        if (!q_int64(s, &p->write_clock)) {
            fail(ex, res, 400, "write_clock must be an integer");
            return -1;
        }
        p->has_write = true;
    }
    /* Clocks that cannot be right at all are malformed input. */
    if (p->read_clock > now) {
        fail(ex, res, 400, "read clock is %.3f s in the future of the server clock",
             (double)(p->read_clock - now) / RING_SAMPLE_RATE);
        return -1;
    }
    if (now - p->read_clock > EX_CLOCK_WINDOW) {
        fail(ex, res, 400, "read clock is more than an hour in the past");
        return -1;
    }
    if (p->has_write && p->write_clock > now) {
        fail(ex, res, 400, "write clock is %.3f s in the future of the server clock",
             (double)(p->write_clock - now) / RING_SAMPLE_RATE);
        return -1;
    }
    if (p->has_write && now - p->write_clock > EX_CLOCK_WINDOW) {
        fail(ex, res, 400, "write clock is more than an hour in the past");
        return -1;
    }

    p->reset = q_get(q, "reset_user_state") != NULL;
    p->loopback = (s = q_get(q, "loopback")) && strcmp(s, "true") == 0;
    p->spectator = (s = q_get(q, "spectator")) && (strcmp(s, "1") == 0 || strcmp(s, "true") == 0);
    p->no_summary = (s = q_get(q, "summary")) && strcmp(s, "0") == 0;
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
        if (strlen(s) >= SEG_TEXT_MAX) {
            fail(ex, res, 400, "track name too long");
            return -1;
        }
        p->track = s;
    }
    p->monitor = q_get(q, "monitor");
    const char *err;
    if ((s = q_get(q, "chat")) && (err = parse_chat(ex, p, s))) {
        fail(ex, res, 400, "%s", err);
        return -1;
    }
    if ((s = q_get(q, "mic_volume")) && (err = parse_mic_volume(p, s))) {
        fail(ex, res, 400, "%s", err);
        return -1;
    }
    if (p->has_write && (err = parse_events(p, req->event_data))) {
        fail(ex, res, 400, "%s", err);
        return -1;
    }
    return 0;
}

/* ---- commands ---------------------------------------------------------- */

static seg_cmd_t *cmd_new(ex_t *ex, seg_cmd_type_t type, int64_t now)
{
    seg_cmd_t *c = &ex->cmd;
    memset(c, 0, offsetof(seg_cmd_t, name));
    c->name[0] = '\0';
    c->text[0] = '\0';
    c->type = type;
    c->clock = now;
    c->userid = ex->p.userid;
    return c;
}

static void cmd_send(ex_t *ex)
{
    /* Room was reserved before any state changed (count_cmds()). */
    if (cq_push(ex->seg, ex->worker, &ex->cmd) != CQ_OK)
        LOG(ex, "command lane full after reservation (type %u)", ex->cmd.type);
}

static uint32_t count_cmds(const parsed_t *p, const sg_t *s)
{
    uint32_t n = 0;
    n += p->n_chat + p->n_mic + p->n_ev;
    n += p->has_volume + p->has_backing_volume;
    n += (p->bpm >= 0 || p->repeats >= 0 || p->bpr >= 0);
    n += p->track != NULL;
    n += p->lead + p->start + p->stop + (p->monitor != NULL);
    n += (s && s->slot >= 0 && strcmp(s->name, p->name) != 0);
    n += (s && s->spectator != p->spectator);
    return n;
}

static void send_cmds(ex_t *ex, sg_t *s, int64_t now)
{
    parsed_t *p = &ex->p;
    seg_cmd_t *c;
    if (s->slot >= 0 && strcmp(s->name, p->name) != 0) {
        c = cmd_new(ex, CMD_RENAME, now);
        snprintf(c->name, sizeof c->name, "%s", p->name);
        cmd_send(ex);
        snprintf(s->name, sizeof s->name, "%s", p->name);
    }
    if (s->spectator != p->spectator) {
        c = cmd_new(ex, CMD_SPECTATOR, now);
        c->a = p->spectator;
        cmd_send(ex);
        s->spectator = p->spectator;
    }
    if (p->has_volume) {
        c = cmd_new(ex, CMD_VOLUME, now);
        c->f = p->volume;
        cmd_send(ex);
    }
    if (p->has_backing_volume) {
        c = cmd_new(ex, CMD_BACKING_VOLUME, now);
        c->f = p->backing_volume;
        cmd_send(ex);
    }
    for (uint32_t i = 0; i < p->n_chat; i++) {
        c = cmd_new(ex, CMD_CHAT, now);
        snprintf(c->name, sizeof c->name, "%s", p->name);
        snprintf(c->text, sizeof c->text, "%s", p->chat[i]);
        cmd_send(ex);
    }
    if (p->bpm >= 0 || p->repeats >= 0 || p->bpr >= 0) {
        c = cmd_new(ex, CMD_TEMPO, now);
        c->a = p->bpm;
        c->b = p->repeats;
        c->c = p->bpr;
        cmd_send(ex);
    }
    for (uint32_t i = 0; i < p->n_mic; i++) {
        c = cmd_new(ex, CMD_MIC_VOLUME, now);
        c->target = p->mic[i].id;
        c->f = p->mic[i].v;
        cmd_send(ex);
    }
    if (p->track) {
        c = cmd_new(ex, CMD_TRACK, now);
        snprintf(c->text, sizeof c->text, "%s", p->track);
        cmd_send(ex);
    }
    if (p->lead) {
        c = cmd_new(ex, CMD_LEAD, now);
        snprintf(c->name, sizeof c->name, "%s", p->name);
        cmd_send(ex);
    }
    if (p->start) {
        c = cmd_new(ex, CMD_START, now);
        c->a = p->read_clock;
        cmd_send(ex);
    }
    if (p->stop) {
        c = cmd_new(ex, CMD_STOP, now);
        /* The END of the singer's previous upload; the read clock when they
         * never uploaded (PROTOCOL.md quirk 10, fixed). */
        c->a = s->last_write_clock ? s->last_write_clock : p->read_clock;
        cmd_send(ex);
    }
    if (p->monitor) {
        c = cmd_new(ex, CMD_MONITOR, now);
        uint64_t t;
        c->target = parse_public(p->monitor, &t) ? t : 0;
        cmd_send(ex);
    }
    for (uint32_t i = 0; i < p->n_ev; i++) {
        c = cmd_new(ex, CMD_EVENT, now);
        snprintf(c->text, sizeof c->text, "%s", p->ev[i].evid);
        snprintf(c->name, sizeof c->name, "%s", p->ev[i].clock);
        cmd_send(ex);
    }
}

/* ---- singers ------------------------------------------------------------ */

/* Finds the singer's slot in the segment's user table, checking a cached
 * index first.  Returns the index or -1 (the daemon has not created it). */
static int64_t singer_slot(ex_t *ex, sg_t *s)
{
    if (s->slot >= 0 && users_check(ex->seg, (uint32_t)s->slot, s->slot_gen, s->userid))
        return s->slot;
    s->slot = -1;
    int64_t i = users_find(ex->seg, s->userid);
    if (i >= 0) {
        users_view_t v;
        if (users_read(ex->seg, (uint32_t)i, &v) && v.userid == s->userid) {
            s->slot = i;
            s->slot_gen = v.gen;
            /* A message delivered by a previous worker process is not
             * delivered again. */
            if (s->delay_seen == 0)
                s->delay_seen = v.delay_msg >> 16;
            snprintf(s->name, sizeof s->name, "%s", v.name);
        }
    }
    return s->slot;
}

/* Takes a ticket for a place in the user table (segment.h, join_tickets):
 * false when every place is taken or promised. */
static bool join_ticket(ex_t *ex)
{
    _Atomic int32_t *t = &seg_header(ex->seg)->join_tickets;
    /* acq_rel; pairs with the daemon's release when it takes joins off: the
     * control state read next counts every join whose ticket is gone */
    int32_t promised = atomic_fetch_add_explicit(t, 1, memory_order_acq_rel) + 1;
    seg_ctl_t ctl;
    snap_ctl_read(ex->seg, &ctl);
    if ((int64_t)ctl.n_users + promised > (int64_t)seg_user_cap(ex->seg)) {
        atomic_fetch_sub_explicit(t, 1, memory_order_relaxed);  /* relaxed: nothing was promised */
        return false;
    }
    return true;
}

/* Forgets a singer's codec state on both paths (reset, error). */
static void drop_codecs(ex_t *ex, sg_t *s)
{
    es_unpin(ex->es, s->node);
    s->node = ES_ROOT;
    sg_reset_codecs(s);
}

static void singer_gone(void *user, sg_t *s)
{
    ex_t *ex = user;
    es_unpin(ex->es, s->node);
}

static OpusDecoder *decoder_of(sg_t *s)
{
    if (!s->dec) {
        int err;
        s->dec = opus_decoder_create(RING_SAMPLE_RATE, 1, &err);
    }
    return s->dec;
}

/* The singer's private encoder.  A singer leaving the shared path takes
 * the state its decoder follows along, so it hears no seam. */
static OpusEncoder *encoder_of(ex_t *ex, sg_t *s)
{
    if (!s->enc) {
        s->enc = malloc((size_t)opus_encoder_get_size(1));
        if (!s->enc)
            return NULL;
        if (es_copy_state(ex->es, s->node, s->enc) != 0) {
            ex->c.stream_lost++;
            es_encoder_init(s->enc);
        }
        es_unpin(ex->es, s->node);
        s->node = ES_ROOT;
    }
    s->priv = true;
    return s->enc;
}

/* ---- metadata ------------------------------------------------------------ */

static void build_meta(ex_t *ex, sg_t *s, const seg_ctl_t *ctl, int64_t now, int64_t prev_clock,
                       bool send_summary)
{
    parsed_t *p = &ex->p;
    jw_t w;
    jw_init(&w, ex->meta, META_CAP);
    jw_obj_begin(&w);
    jw_key(&w, "server_clock");
    jw_int(&w, now);
    jw_key(&w, "server_sample_rate");
    jw_int(&w, RING_SAMPLE_RATE);
    jw_key(&w, "last_request_clock");
    if (prev_clock >= 0)
        jw_int(&w, prev_clock);
    else
        jw_null(&w);
    jw_key(&w, "client_read_clock");
    jw_int(&w, p->read_clock);
    jw_key(&w, "client_write_clock");
    if (p->has_write)
        jw_int(&w, p->write_clock);
    else
        jw_null(&w);
    jw_key(&w, "n_samples");
    jw_int(&w, p->n);
    if (send_summary) {
        jw_key(&w, "user_summary");
        jw_raw(&w, ex->summary, ex->summary_len);
        jw_key(&w, "buckets");
        jw_arr_begin(&w);
        for (uint32_t i = 0; i < ctl->n_buckets && i < DELAY_DEPTH_MAX; i++)
            jw_int(&w, ctl->buckets[i]);
        jw_arr_end(&w);
    }
    jw_key(&w, "queue_size");
    jw_raw(&w, ex->scratch, (size_t)snprintf(ex->scratch, sizeof ex->scratch, "%u.0",
                                              seg_ring_len(ex->seg) / RING_FRAME));
    jw_key(&w, "events");
    jw_raw(&w, ex->events, ex->events_len);
    jw_key(&w, "leader");
    if (ctl->song.has_leader) {
        if (ctl->song.leader == p->userid)
            jw_uint_str(&w, p->userid);       /* the leader recognises itself */
        else
            jw_uint_str(&w, ctl->leader_public);
        jw_key(&w, "leader_name");
        jw_str(&w, ctl->leader_name);
    } else {
        jw_null(&w);
    }
    if (ctl->song.start) {
        jw_key(&w, "song_start_clock");
        jw_int(&w, ctl->song.start);
    }
    if (ctl->song.end) {
        jw_key(&w, "song_end_clock");
        jw_int(&w, ctl->song.end);
    }
    jw_key(&w, "public_id");
    jw_uint_str(&w, s->public_id);
    jw_key(&w, "n_users");
    jw_int(&w, ctl->n_active);
    jw_key(&w, "worker");
    jw_int(&w, ex->worker);

    /* Chats since the last delivery, except the singer's own. */
    jw_key(&w, "chats");
    jw_arr_begin(&w);
    int64_t head = chat_head(ex->seg);
    if (head - s->chat_cursor > SEG_CHAT_CAP)
        s->chat_cursor = head - SEG_CHAT_CAP;
    uint32_t sent = 0;
    while (s->chat_cursor < head && sent < EX_CHATS_OUT_MAX) {
        chat_msg_t m;
        s->chat_cursor++;
        if (chat_read(ex->seg, s->chat_cursor, &m) != 0 || m.sender == s->public_id)
            continue;
        jw_arr_begin(&w);
        jw_str(&w, m.name);
        jw_str(&w, m.text);
        jw_arr_end(&w);
        sent++;
    }
    jw_arr_end(&w);

    if (s->tempo_pending) {
        jw_key(&w, "bpm");
        if (ctl->song.bpm)
            jw_int(&w, ctl->song.bpm);
        else
            jw_null(&w);
        jw_key(&w, "repeats");
        jw_int(&w, ctl->song.repeats);
        jw_key(&w, "bpr");
        if (ctl->song.bpr)
            jw_int(&w, ctl->song.bpr);
        else
            jw_null(&w);
        s->tempo_pending = false;
    }
    if (s->tracks_pending) {
        jw_key(&w, "tracks");
        jw_raw(&w, ex->tracks, ex->tracks_len);
        s->tracks_pending = false;
    }
    if (s->pending_delay > 0) {
        jw_key(&w, "delay_seconds");
        jw_int(&w, s->pending_delay);
        s->pending_delay = -1;
    }
    jw_obj_end(&w);
    if (!jw_ok(&w)) {
        /* Cannot happen with the blob bounds; keep the client alive with the
         * fields it needs rather than send broken JSON. */
        jw_init(&w, ex->meta, META_CAP);
        jw_obj_begin(&w);
        jw_key(&w, "server_clock");
        jw_int(&w, now);
        jw_key(&w, "client_read_clock");
        jw_int(&w, p->read_clock);
        jw_key(&w, "n_samples");
        jw_int(&w, p->n);
        jw_key(&w, "events");
        jw_raw(&w, "[]", 2);
        jw_key(&w, "chats");
        jw_raw(&w, "[]", 2);
        jw_obj_end(&w);
    }
}

/* ---- the exchange -------------------------------------------------------- */

static void refresh_blobs(ex_t *ex)
{
    snap_blob_read(ex->seg, SEG_BLOB_SUMMARY, &ex->summary_gen, ex->summary, sizeof ex->summary,
                   &ex->summary_len);
    snap_blob_read(ex->seg, SEG_BLOB_EVENTS, &ex->events_gen, ex->events, sizeof ex->events,
                   &ex->events_len);
    snap_blob_read(ex->seg, SEG_BLOB_TRACKS, &ex->tracks_gen, ex->tracks, sizeof ex->tracks,
                   &ex->tracks_len);
    if (ex->summary_len == 0) {
        memcpy(ex->summary, "[]", 3);
        ex->summary_len = 2;
    }
    if (ex->events_len == 0) {
        memcpy(ex->events, "[]", 3);
        ex->events_len = 2;
    }
    if (ex->tracks_len == 0) {
        memcpy(ex->tracks, "[]", 3);
        ex->tracks_len = 2;
    }
}

static void stem_log(void *user, const char *line)
{
    ex_t *ex = user;
    LOG(ex, "stems: %s", line);
}

/* Adds an upload to the singer's stem of the current song: the Opus
 * packets as the singer sent them, placed at their clocks (media/stem.h),
 * from `origin` on (the first clock this upload put into the mix, or the
 * song's start).  A new stem starts with the singer's previous upload as
 * pre-roll when it ends where this one begins, so that a player's decoder
 * comes to the first sample in the state the worker's decoder was in. */
static void stem_add(ex_t *ex, sg_t *s, const song_t *song, int64_t origin, int64_t now)
{
    const parsed_t *p = &ex->p;
    if (s->stem && s->stem_song != song->start)
        sg_close_stem(s);
    if (origin < song->start)
        origin = song->start;
    if (!s->stem && s->stem_song == song->start)
        return;   /* it could not start for this song: logged once */
    int64_t clock = p->write_clock - p->n;
    uint32_t n = 0;
    if (!s->stem) {
        char id[24];
        int err = 0;
        snprintf(id, sizeof id, "%" PRIu64, s->public_id);
        /* The worker's one thread must not wait on the disk: stems are not
         * fsynced (a worker crash loses nothing of them; the mix, written
         * by the daemon, is). */
        s->stem = stem_create(ex->rec_dir, song->start, id, origin, REC_NO_SYNC, stem_log, ex,
                              &err);
        s->stem_song = song->start;
        if (!s->stem) {
            LOG(ex, "stem of singer %" PRIu64 " cannot start: %s", s->public_id, rec_strerror(err));
            return;
        }
        if (s->pre_n && s->pre_end == clock) {
            uint32_t off = 0;
            for (uint32_t i = 0; i < s->pre_n; i++) {
                ex->stem_pk[n++] = (stem_packet_t){ s->pre + off, s->pre_len[i], RING_OPUS_FRAME };
                off += s->pre_len[i];
            }
            clock -= (int64_t)s->pre_n * RING_OPUS_FRAME;
        }
    }
    for (int i = 0; i < p->npk; i++)
        ex->stem_pk[n++] = (stem_packet_t){ ex->pk[i].data, ex->pk[i].len, RING_OPUS_FRAME };
    if (stem_write(s->stem, clock, ex->stem_pk, n) != REC_OK)
        sg_close_stem(s);
    else
        s->stem_last = now;
}

/* Keeps the last packets of an upload as the pre-roll of a stem that may
 * start with the next one. */
static void keep_preroll(ex_t *ex, sg_t *s)
{
    const parsed_t *p = &ex->p;
    s->pre_n = 0;
    if (p->npk == 0)
        return;
    int first = p->npk > SG_PREROLL_PACKETS ? p->npk - SG_PREROLL_PACKETS : 0;
    uint32_t bytes = 0;
    for (int i = first; i < p->npk; i++)
        bytes += ex->pk[i].len;
    if (bytes > s->pre_cap) {
        uint8_t *b = realloc(s->pre, bytes);
        if (!b)
            return;
        s->pre = b;
        s->pre_cap = bytes;
    }
    uint32_t off = 0;
    for (int i = first; i < p->npk; i++) {
        memcpy(s->pre + off, ex->pk[i].data, ex->pk[i].len);
        s->pre_len[s->pre_n++] = ex->pk[i].len;
        off += ex->pk[i].len;
    }
    s->pre_end = p->write_clock;
}

/* How many frames back a newcomer looks for a chain to carry forward: a
 * batch and a half (everyone in a bucket reads within one batch). */
#define JOIN_BACK 16

/* A newcomer (a fresh decoder) starting at frame f0: if a chain of this
 * bucket has got to a frame shortly before f0, carry it forward to f0 and
 * put the newcomer on it (encshare.h, "Joining").  The frames encoded on
 * the way are the ones the chain's singers ask for next. */
static void join_chain(ex_t *ex, sg_t *s, const seg_ctl_t *ctl, int64_t f0, bool active,
                       int64_t now)
{
    uint64_t cid;
    fr_get(ex->fr, ex->seg, f0, ctl->global_gain, active, &cid);
    if (es_node_after(ex->es, f0, cid) != ES_ROOT)
        return;   /* es_frame() joins at f0 itself */
    for (int k = 1; k <= JOIN_BACK; k++) {
        fr_get(ex->fr, ex->seg, f0 - k, ctl->global_gain, active, &cid);
        uint64_t node = es_node_after(ex->es, f0 - k, cid);
        if (node == ES_ROOT)
            continue;
        es_pin(ex->es, node);
        uint8_t pkt[ES_PACKET_MAX];
        for (int64_t f = f0 - k + 1; f < f0; f++) {
            const float *x = fr_get(ex->fr, ex->seg, f, ctl->global_gain, active, &cid);
            if (es_frame(ex->es, &node, f, cid, x, pkt, sizeof pkt, now) < 0) {
                es_unpin(ex->es, node);
                return;   /* the chain's state is gone: start a chain of its own */
            }
        }
        s->node = node;
        ex->c.chain_joins++;
        return;
    }
}

/* The shared path: each frame rendered once per version (frames.h) and
 * encoded once per encoder history (encshare.h).  Returns 0 or an Opus
 * error; *len is the body length. */
static int output_shared(ex_t *ex, sg_t *s, const seg_ctl_t *ctl, int64_t now, size_t *len,
                         int64_t *t0)
{
    parsed_t *p = &ex->p;
    bool active = song_read_active(&ctl->song, p->read_clock, p->n);
    int64_t f0 = (p->read_clock - p->n) / RING_OPUS_FRAME;
    uint32_t frames = p->n / RING_OPUS_FRAME;
    uint8_t *b = ex->body;
    size_t at = 1;
    int64_t mix_ns = 0;
    b[0] = (uint8_t)frames;
    if (s->node == ES_ROOT && !s->priv)
        join_chain(ex, s, ctl, f0, active, now);
    for (uint32_t i = 0; i < frames; i++) {
        int64_t ta = prof_now_ns();
        uint64_t cid;
        const float *x = fr_get(ex->fr, ex->seg, f0 + i, ctl->global_gain, active, &cid);
        mix_ns += prof_now_ns() - ta;
        int k = s->priv ? ES_ELOST
                        : es_frame(ex->es, &s->node, f0 + i, cid, x, b + at + 2, PK_MAX_PACKET, now);
        if (k == ES_ELOST) {
            /* The state this singer's decoder follows is gone (the cache
             * was full of others' pinned states): go on privately. */
            OpusEncoder *enc = encoder_of(ex, s);
            k = enc ? opus_encode_float(enc, x, RING_OPUS_FRAME, b + at + 2, PK_MAX_PACKET)
                    : OPUS_ALLOC_FAIL;
        }
        if (k < 0)
            return k;
        pk_put_len(b + at, (uint16_t)k);
        at += 2 + (size_t)k;
    }
    es_expire(ex->es, now);
    *len = at;
    /* Split the time between the two stages it was spent in. */
    prof_add(&ex->life, PROF_MIX, mix_ns);
    prof_add(&ex->demand, PROF_MIX, mix_ns);
    int64_t t = prof_now_ns();
    prof_add(&ex->life, PROF_ENCODE, t - *t0 - mix_ns);
    prof_add(&ex->demand, PROF_ENCODE, t - *t0 - mix_ns);
    *t0 = t;
    return 0;
}

/* The private path: the singer's own encoder over its own rendering
 * (unaligned clocks, loopback, monitoring). */
static int output_private(ex_t *ex, sg_t *s, const seg_ctl_t *ctl, uint32_t flags, size_t *len,
                          int64_t *t0)
{
    parsed_t *p = &ex->p;
    int64_t rpos = p->read_clock - p->n;
    if (p->loopback) {
        if (!p->has_write)
            memset(ex->in, 0, (size_t)p->n * sizeof(float));
        memcpy(ex->out, ex->in, (size_t)p->n * sizeof(float));
    } else if (flags & SEG_UF_MONITORING) {
        tl_read_monitor(ex->seg, rpos, p->n, ex->out);
    } else if (song_read_active(&ctl->song, p->read_clock, p->n)) {
        tl_read(ex->seg, rpos, p->n, ctl->global_gain, ex->out, NULL);
    } else {
        memset(ex->out, 0, (size_t)p->n * sizeof(float));
    }
    stage(ex, PROF_MIX, t0);
    OpusEncoder *enc = encoder_of(ex, s);
    if (!enc)
        return OPUS_ALLOC_FAIL;
    uint32_t frames = p->n / RING_OPUS_FRAME;
    uint8_t *b = ex->body;
    size_t at = 1;
    b[0] = (uint8_t)frames;
    for (uint32_t i = 0; i < frames; i++) {
        int k = opus_encode_float(enc, ex->out + (size_t)i * RING_OPUS_FRAME, RING_OPUS_FRAME,
                                  b + at + 2, PK_MAX_PACKET);
        if (k < 0)
            return k;
        pk_put_len(b + at, (uint16_t)k);
        at += 2 + (size_t)k;
    }
    *len = at;
    stage(ex, PROF_ENCODE, t0);
    return 0;
}

static float rms_of(const float *x, uint32_t n)
{
    /* Eight independent float sums (one vector's worth), so that the loop
     * runs at the adder's throughput rather than its latency; each sums at
     * most 1/8 of a batch, well within float precision for a level. */
    float a[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += x[i + k] * x[i + k];
    double sum = 0;
    for (int k = 0; k < 8; k++)
        sum += a[k];
    for (; i < n; i++)
        sum += (double)x[i] * x[i];
    return n ? (float)sqrt(sum / n) : 0.0f;
}

/* Stores an upload (PROTOCOL.md 7, step 23): into the mix during a song,
 * the monitor ring if the singer is monitored, the rounds' copies and the
 * singer's stem.  A singer's voice is never counted twice at one clock:
 * after a reconnect the new connection's first upload may reach back over
 * clocks the old one already wrote (the new read position is rounded down
 * to a frame, or the singer moved back a bucket), and only the part after
 * the last write is stored, as the stem keeps its first take. */
static void store_upload(ex_t *ex, sg_t *s, const seg_ctl_t *ctl, int64_t slot, uint32_t flags,
                         int64_t now)
{
    parsed_t *p = &ex->p;
    int64_t prev_end = s->last_write_clock;
    if (s->have_write && prev_end && ctl->song.end && prev_end <= ctl->song.end &&
        ctl->song.end <= p->write_clock)
        s->pending_delay = ctl->song.max_position;  /* the song end passed: go to the back */
    s->last_seen_write = p->write_clock;
    s->have_write = true;
    if (p->write_clock > s->last_write_clock)
        s->last_write_clock = p->write_clock;
    float mic = slot >= 0 ? users_mic_volume(ex->seg, (uint32_t)slot) : 1.0f;
    if (mic != 1.0f) {
        float g = (float)gain_mic(mic);
        for (uint32_t i = 0; i < p->n; i++)
            ex->in[i] *= g;
    }
    float rms = rms_of(ex->in, p->n);
    if (slot >= 0)
        users_set_write(ex->seg, (uint32_t)slot, s->last_write_clock, rms);
    if (p->npk == 0 || !song_upload_active(&ctl->song, p->write_clock, p->n))
        return;
    int64_t pos = p->write_clock - p->n;
    uint32_t skip = 0;
    if (prev_end > pos)
        skip = prev_end >= p->write_clock ? p->n : (uint32_t)(prev_end - pos);
    if (skip == p->n)
        return;
    /* The recorder's gate (timeline.h): claim these clocks, then check the
     * gate; below it the recording may have passed, so the upload goes
     * into neither the mix nor the stem.  A singer without a user slot
     * cannot claim: it has no voice in the song until it has one. */
    if (slot < 0) {
        ex->c.refused_writes++;
        return;
    }
    users_mix_claim(ex->seg, (uint32_t)slot, pos + skip);
    if (pos + skip < tl_rec_gate(ex->seg)) {
        ex->c.refused_writes++;
        return;
    }
    pos += skip;
    const float *x = ex->in + skip;
    uint32_t n = p->n - skip;
    if (tl_write(ex->seg, pos, x, n, now) != TL_OK) {
        ex->c.refused_writes++;
        return;
    }
    if (ex->rec_dir)
        stem_add(ex, s, &ctl->song, pos, now);
    if (flags & SEG_UF_MONITORED)
        tl_write_monitor(ex->seg, pos, x, n, now);
    int64_t copies[TEMPO_REPEATS_MAX];
    uint32_t nc = tempo_round_copies(pos, n, ctl->song.bpm, ctl->song.bpr, ctl->song.repeats, now,
                                     copies, TEMPO_REPEATS_MAX);
    for (uint32_t i = 0; i < nc; i++)
        if (tl_write(ex->seg, copies[i], x, n, now) != TL_OK)
            ex->c.refused_writes++;
}

void ex_handle(ex_t *ex, const ex_request_t *req, ex_response_t *res, int64_t now)
{
    int64_t t0 = prof_now_ns(), tstart = t0;
    ex->c.requests++;
    if (parse(ex, req, res, now) != 0)
        goto done;
    parsed_t *p = &ex->p;
    seg_ctl_t ctl;
    snap_ctl_read(ex->seg, &ctl);
    refresh_blobs(ex);

    /* The singer. */
    sg_t *s = sg_find(ex->singers, p->userid);
    bool created = false;
    if (!s) {
        s = sg_insert(ex->singers, p->userid);
        if (!s) {
            fail(ex, res, 503, "this server's worker is full: no room for another singer");
            goto done;
        }
        created = true;
        ex->c.singers_created++;
        s->public_id = seg_public_id(ex->seg, p->userid);
        s->chat_cursor = chat_head(ex->seg);
        s->tracks_pending = true;
        s->tempo_pending = true;
        s->settings_gen = ctl.settings_gen;
        s->tracks_gen = ex->tracks_gen;
        s->epoch = ctl.epoch;
        s->spectator = p->spectator;
        snprintf(s->name, sizeof s->name, "%s", p->name);
    }
    s->last_active = now;
    if (p->reset) {
        drop_codecs(ex, s);
        s->have_read = s->have_write = false;
        /* A new connection may be a reloaded page: tell it everything the
         * first response of a singer carries. */
        s->tracks_pending = s->tempo_pending = true;
        s->summary_sent = 0;
    }
    int64_t slot = singer_slot(ex, s);

    /* Continuity and bounds of both clocks, before anything changes. */
    if (p->has_write) {
        if (s->have_write && p->write_clock - p->n != s->last_seen_write) {
            ex->c.desyncs++;
            fail(ex, res, 500, "Client write clock desync (%" PRId64 " - %" PRId64 " = %" PRId64 ")",
                 p->write_clock - p->n, s->last_seen_write, p->write_clock - p->n - s->last_seen_write);
            drop_codecs(ex, s);
            goto done;
        }
        int rc = tl_check_write(ex->seg, p->write_clock - p->n, p->n, now);
        if (rc == TL_EPAST) {
            fail(ex, res, 500, "Client's write clock is too far in the past");
            drop_codecs(ex, s);
            goto done;
        }
        if (rc != TL_OK && song_upload_active(&ctl.song, p->write_clock, p->n)) {
            /* Writing at or past the watermark: the daemon is not keeping
             * up (or is down).  Refuse rather than wrap. */
            fail(ex, res, 503, "the timeline is not ready for this write (%s); retrying helps",
                 tl_strerror(rc));
            drop_codecs(ex, s);
            goto done;
        }
    }
    if (s->have_read && p->read_clock - p->n != s->last_seen_read) {
        ex->c.desyncs++;
        fail(ex, res, 500, "Client read clock desync (%" PRId64 " - %" PRId64 " = %" PRId64 ")",
             p->read_clock - p->n, s->last_seen_read, p->read_clock - p->n - s->last_seen_read);
        drop_codecs(ex, s);
        goto done;
    }
    stage(ex, PROF_PARSE, &t0);

    /* Decode the upload. */
    if (p->npk > 0) {
        OpusDecoder *dec = decoder_of(s);
        if (!dec) {
            fail(ex, res, 503, "out of memory for the decoder");
            goto done;
        }
        for (int i = 0; i < p->npk; i++) {
            int got = opus_decode_float(dec, ex->pk[i].data, ex->pk[i].len,
                                        ex->in + (size_t)i * RING_OPUS_FRAME, RING_OPUS_FRAME, 0);
            if (got != RING_OPUS_FRAME) {
                fail(ex, res, 400, got < 0 ? "invalid Opus packet %d: %s"
                                           : "Opus packet %d is not 60 ms%s",
                     i, got < 0 ? opus_strerror(got) : "");
                drop_codecs(ex, s);
                goto done;
            }
        }
    } else {
        memset(ex->in, 0, (size_t)p->n * sizeof(float));
    }
    stage(ex, PROF_DECODE, &t0);

    /* Reserve the command lane for every control action of this request. */
    uint32_t ncmd = count_cmds(p, s);
    uint32_t room = cq_room(ex->seg, ex->worker);
    if (ncmd > room) {
        fail(ex, res, 503, "the server is busy (control queue full); please retry");
        drop_codecs(ex, s);
        goto done;
    }
    /* A singer without a place in the user table asks for one (again each
     * second until the daemon has made it), holding a ticket that promises
     * the place: a crowd for the last places is decided here and now, one
     * newcomer per place.  The join only takes lane room that is left over:
     * a singer whose join cannot be queued this time is served and asks
     * again on the next request. */
    bool need_join = slot < 0 && room > ncmd &&
                     (s->join_sent == 0 || now - s->join_sent > JOIN_RETRY);
    if (need_join && !join_ticket(ex)) {
        fail(ex, res, 503, "the server is full: no room for another singer (%u in the room)",
             ctl.n_users);
        drop_codecs(ex, s);
        goto done;
    }

    /* From here on, state changes. */
    if (need_join) {
        seg_cmd_t *c = cmd_new(ex, CMD_JOIN, now);
        snprintf(c->name, sizeof c->name, "%s", p->name);
        c->a = p->spectator;
        cmd_send(ex);
        s->join_sent = now;
    }
    send_cmds(ex, s, now);
    if (slot >= 0)
        users_touch(ex->seg, (uint32_t)slot, now, now - p->read_clock, (int32_t)ex->worker);

    /* What changed for this singer since the last response. */
    if (ctl.settings_gen != s->settings_gen || ctl.epoch != s->epoch) {
        s->tempo_pending = true;
        s->settings_gen = ctl.settings_gen;
        s->epoch = ctl.epoch;
    }
    if (ex->tracks_gen != s->tracks_gen) {
        s->tracks_pending = true;
        s->tracks_gen = ex->tracks_gen;
    }
    if (slot >= 0) {
        uint32_t m = users_delay_msg(ex->seg, (uint32_t)slot);
        if ((m >> 16) != 0 && (m >> 16) != s->delay_seen) {
            s->delay_seen = m >> 16;
            s->pending_delay = (int32_t)(m & 0xffff);
        }
    }
    uint32_t flags = slot >= 0 ? users_flags(ex->seg, (uint32_t)slot) : 0;

    /* The upload. */
    ex->c.samples_in += p->n;
    if (p->has_write) {
        store_upload(ex, s, &ctl, slot, flags, now);
        /* Its writes are done (or there were none): the recorder may pass
         * this upload's end (timeline.h, W4). */
        if (slot >= 0)
            users_mix_done(ex->seg, (uint32_t)slot, s->last_write_clock);
        /* An upload that went into no stem may be the pre-roll of the next
         * song's (a stem of the last song stays open a while). */
        if (ex->rec_dir && !(s->stem && s->stem_last == now))
            keep_preroll(ex, s);
    }
    s->last_seen_read = p->read_clock;
    s->have_read = true;

    /* The output: shared when the read sits on whole Opus frames of the
     * server clock and the singer hears the common mix; private otherwise. */
    size_t at;
    bool shared = !ex->no_sharing && !s->priv && p->read_clock % RING_OPUS_FRAME == 0 && !p->loopback &&
                  !(flags & SEG_UF_MONITORING);
    int rc = shared ? output_shared(ex, s, &ctl, now, &at, &t0)
                    : output_private(ex, s, &ctl, flags, &at, &t0);
    if (rc < 0) {
        fail(ex, res, 500, "Opus encoder failed: %s", opus_strerror(rc));
        drop_codecs(ex, s);
        goto done;
    }
    ex->c.samples_out += p->n;

    /* Metadata. */
    bool send_summary = !p->no_summary &&
                        (created || s->summary_sent == 0 ||
                         (s->summary_gen != ex->summary_gen && now - s->summary_sent >= SUMMARY_EVERY));
    if (send_summary) {
        s->summary_gen = ex->summary_gen;
        s->summary_sent = now;
    }
    int64_t prev = ex->last_request_clock;
    ex->last_request_clock = now;
    build_meta(ex, s, &ctl, now, prev, send_summary);
    res->status = 200;
    res->meta = ex->meta;
    res->body = ex->body;
    res->body_len = at;
    res->content_type = "application/octet-stream";
    ex->c.ok++;
    stage(ex, PROF_META, &t0);
done:
    prof_add(&ex->life, PROF_REQUEST, prof_now_ns() - tstart);
    prof_add(&ex->demand, PROF_REQUEST, prof_now_ns() - tstart);
}

void ex_housekeeping(ex_t *ex, int64_t now)
{
    if (now - ex->last_sweep < RING_SAMPLE_RATE * 10)
        return;
    ex->last_sweep = now;
    sg_close_idle_stems(ex->singers, now, 10 * RING_SAMPLE_RATE);
    /* About 60 KB of Opus state per singer: a worker whose choir comes and
     * goes would otherwise hold an hour of departed singers' codecs. */
    sg_drop_idle_codecs(ex->singers, now, 30 * RING_SAMPLE_RATE, singer_gone, ex);
    uint32_t n = sg_sweep(ex->singers, now, USERS_FORGET_SAMPLES, singer_gone, ex);
    if (n) {
        ex->c.singers_swept += n;
        LOG(ex, "freed %u singers silent for an hour", n);
    }
}

int ex_reset_events(ex_t *ex, int64_t now)
{
    seg_cmd_t *c = &ex->cmd;
    memset(c, 0, sizeof *c);
    c->type = CMD_RESET_EVENTS;
    c->clock = now;
    return cq_push(ex->seg, ex->worker, c) == CQ_OK ? 0 : -1;
}

int ex_rescan_tracks(ex_t *ex, int64_t now)
{
    seg_cmd_t *c = &ex->cmd;
    memset(c, 0, sizeof *c);
    c->type = CMD_RESCAN_TRACKS;
    c->clock = now;
    return cq_push(ex->seg, ex->worker, c) == CQ_OK ? 0 : -1;
}
