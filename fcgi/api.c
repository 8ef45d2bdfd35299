/*
 * api.c - routing and answering the worker's public API (api.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "jsonw.h"
#include "media/recdir.h"
#include "query.h"
#include "removed.h"
#include "request.h"
#include "respond.h"
#include "ring.h"
#include "roles.h"
#include "rooms/roomkey.h"
#include "segment.h"
#include "slides.h"
#include "users.h"
#include "wordsapi.h"

typedef enum {
    R_NONE = 0, R_EXCHANGE, R_RESET, R_UPLOAD, R_ROOM, R_ROOM_LINK, R_ROOM_CAP, R_RECORDINGS,
    R_RECORDING, R_RECORDING_DELETE, R_WORDS, R_WORDS_CUE, R_SLIDES, R_SLIDE, R_SLIDE_DELETE,
} route_t;

/* The handler of an exact path, or R_NONE. */
static route_t route_of(const char *path)
{
    static const struct { const char *path; route_t r; } routes[] = {
        {"/api", R_EXCHANGE}, {"/", R_EXCHANGE},
        {"/api/reset_events", R_RESET}, {"/apireset_events", R_RESET}, {"/reset_events", R_RESET},
        {"/api/upload", R_UPLOAD}, {"/api/room", R_ROOM}, {"/api/room/link", R_ROOM_LINK},
        {"/api/room/cap", R_ROOM_CAP}, {"/api/recordings", R_RECORDINGS},
        {"/api/recording", R_RECORDING}, {"/api/recording/delete", R_RECORDING_DELETE},
        {"/api/words", R_WORDS}, {"/api/words/cue", R_WORDS_CUE},
        {"/api/slides", R_SLIDES}, {"/api/slide", R_SLIDE}, {"/api/slide/delete", R_SLIDE_DELETE},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(path, routes[i].path) == 0)
            return routes[i].r;
    return R_NONE;
}

/* A refusal the audio client can show: an error status with the message in
 * X-Audio-Metadata too, as the protocol's errors carry it (PROTOCOL.md
 * 2.7). */
static void refuse_audio(api_t *a, FCGX_Request *r, int status, const char *msg)
{
    char meta[512];
    jw_t j;
    jw_init(&j, meta, sizeof meta);
    jw_obj_begin(&j);
    jw_key(&j, "kill_client");
    jw_bool(&j, true);
    jw_key(&j, "message");
    jw_str(&j, msg);
    jw_obj_end(&j);
    size_t n = strlen(msg);
    rs_head(r, a->worker_id, status, "text/plain; charset=utf-8", meta, NULL, n);
    FCGX_PutStr(msg, (int)n, r->out);
    a->refused++;
}

/* What a singer the organiser removed is told, on every endpoint. */
#define API_REMOVED "The organiser removed you from this room"

/* Whether the request's userid is one the organiser removed from the room
 * (removed.h); the organiser's key always opens. */
static bool removed_from(wr_room_t *room, hs_role_t role, const char *qs)
{
    char uid[32] = "";
    uint64_t userid;
    return role != HS_ROLE_ORGANISER && q_peek(qs, "userid", uid, sizeof uid) &&
           rq_parse_userid(uid, &userid) && rmv_has(ex_segment(wr_ex(room)), userid);
}

/* The room and role of a request, from its room= and key= fields.  On
 * failure answers it (403 or 503) and returns NULL: also a 403 for a
 * singer removed from the room. */
static wr_room_t *enter(api_t *a, FCGX_Request *r, const char *qs, hs_role_t *role, bool audio)
{
    char id[HS_ID_MAX] = "", key[RK_KEY_LEN + 8] = "";
    q_peek(qs, "room", id, sizeof id);
    q_peek(qs, "key", key, sizeof key);
    wr_room_t *room;
    const char *why;
    int rc = wr_enter(a->rooms, id, key, &room, role, &why);
    if (rc == WR_OK && !removed_from(room, *role, qs))
        return room;
    if (rc == WR_OK) {
        rc = WR_NOROOM;
        why = API_REMOVED;
    }
    int status = rc == WR_NOROOM ? 403 : 503;
    if (audio)
        refuse_audio(a, r, status, why);
    else
        rs_json_error(r, a->worker_id, status, why);
    if (rc == WR_NOROOM)
        a->refused++;
    return NULL;
}

static void handle_probe(api_t *a, FCGX_Request *r, const char *qs)
{
    hs_role_t role;
    if (!enter(a, r, qs, &role, true))
        return;
    char meta[128];
    snprintf(meta, sizeof meta, "{\"server_clock\": %" PRId64 ", \"server_sample_rate\": %d}",
             seg_now(), RING_SAMPLE_RATE);
    rs_head(r, a->worker_id, 200, "application/octet-stream", meta, NULL, 2);
    FCGX_PutStr("ok", 2, r->out);
    a->probes++;
}

static void handle_audio(api_t *a, FCGX_Request *r, const char *qs)
{
    long len = rs_read_body(r, a->body, EX_MAX_BODY);
    if (len < 0) {
        refuse_audio(a, r, len == -1 ? 413 : 400,
                     len == -1 ? "request body too large" : "request body ended early");
        return;
    }
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, true);
    if (!room)
        return;
    ex_request_t req = {
        .query = qs,
        .query_len = strlen(qs),
        .body = a->body,
        .body_len = (size_t)len,
        .event_data = FCGX_GetParam("HTTP_X_EVENT_DATA", r->envp),
        .organiser = role == HS_ROLE_ORGANISER,
        .uploads = (wr_info(room)->flags & HS_UPLOADS) != 0,
        .max_singers = wr_info(room)->max_singers,
        .newcomers = a->newcomers,
        .addr = nc_key(FCGX_GetParam("REMOTE_ADDR", r->envp)),
    };
    ex_response_t res;
    ex_handle(wr_ex(room), &req, &res, seg_now());
    rs_head(r, a->worker_id, res.status, res.content_type, res.meta, NULL, res.body_len);
    FCGX_PutStr((const char *)res.body, (int)res.body_len, r->out);
}

/* The role of the request's singer (userid=) in the room, from the key and
 * the room's state. */
static role_who_t who_of(wr_room_t *room, hs_role_t role, const char *qs)
{
    char uid[32] = "";
    uint64_t userid = 0;
    bool known = q_peek(qs, "userid", uid, sizeof uid) && rq_parse_userid(uid, &userid);
    role_who_t who = {
        .organiser = role == HS_ROLE_ORGANISER,
        .uploads = (wr_info(room)->flags & HS_UPLOADS) != 0,
    };
    ex_leader(wr_ex(room), known ? userid : UINT64_MAX, &who.leads, &who.room_has_leader);
    return who;
}

static void handle_reset(api_t *a, FCGX_Request *r, const char *qs)
{
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, false);
    if (!room)
        return;
    /* The original client asks without a userid, in the default room: the
     * room's cue table is what its "test event" debug button clears. */
    role_who_t who = who_of(room, role, qs);
    if (!(wr_info(room)->flags & HS_DEFAULT) && !role_may(&who, ROLE_ACT_EVENTS)) {
        rs_json_error(r, a->worker_id, 403, role_refusal(&who, ROLE_ACT_EVENTS));
        a->refused++;
        return;
    }
    if (ex_reset_events(wr_ex(room), seg_now()) != 0)
        rs_text(r, a->worker_id, 503, "the server is busy; retry\n");
    else
        rs_head(r, a->worker_id, 204, NULL, NULL, NULL, 0);
}

static void handle_upload(api_t *a, FCGX_Request *r, const char *qs)
{
    /* Who asks first: a refused upload's body is only read to be dropped. */
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, false);
    if (!room) {
        rs_read_body(r, a->body, 0);
        return;
    }
    role_who_t who = who_of(room, role, qs);
    if (!role_may(&who, ROLE_ACT_UPLOAD) || !a->upl) {
        rs_read_body(r, a->body, 0);
        if (a->upl)
            rs_json_error(r, a->worker_id, 403, role_refusal(&who, ROLE_ACT_UPLOAD));
        else
            rs_json_error(r, a->worker_id, 404, "uploads are not enabled on this server");
        a->refused++;
        return;
    }
    long len = rs_read_body(r, a->body, a->body_cap);
    if (len == -1) {
        rs_json_error(r, a->worker_id, 413, "the file is larger than 32 MiB");
        return;
    }
    if (len < 0) {
        rs_json_error(r, a->worker_id, 400, "the upload ended early");
        return;
    }
    char name[256], msg[512];
    int code = upl_accept(a->upl, wr_info(room)->id, qs, a->body, (size_t)len, name, sizeof name, msg,
                          sizeof msg);
    if (code != 200) {
        rs_json_error(r, a->worker_id, code, msg);
        return;
    }
    ex_rescan_tracks(wr_ex(room), seg_now());
    char buf[512];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    jw_obj_begin(&j);
    jw_key(&j, "track");
    jw_str(&j, name);
    jw_obj_end(&j);
    rs_json(r, a->worker_id, 200, buf);
}

/* GET /api/room: what the page asks first.  403 with the sentence to show
 * for a link that opens nothing. */
static void handle_room(api_t *a, FCGX_Request *r, const char *qs)
{
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, false);
    if (!room)
        return;
    const hs_room_t *info = wr_info(room);
    role_who_t who = who_of(room, role, qs);
    char buf[1024];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    jw_obj_begin(&j);
    jw_key(&j, "room");
    jw_str(&j, info->id);
    jw_key(&j, "name");
    jw_str(&j, info->name);
    jw_key(&j, "role");
    jw_str(&j, role_name(&who));
    jw_key(&j, "default");
    jw_bool(&j, info->flags & HS_DEFAULT);
    jw_key(&j, "uploads");
    jw_bool(&j, info->flags & HS_UPLOADS);
    jw_key(&j, "max_singers");
    jw_int(&j, info->max_singers);
    jw_obj_end(&j);
    rs_json(r, a->worker_id, 200, buf);
}

/* The room of an organiser's action `act` (the room controls, deleting a
 * recording).  Returns the room, or NULL after answering 403: also in the
 * default room, which has no organiser. */
static wr_room_t *organiser_room(api_t *a, FCGX_Request *r, const char *qs, role_act_t act)
{
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, false);
    if (!room)
        return NULL;
    role_who_t who = who_of(room, role, qs);
    if (!role_may(&who, act) || (wr_info(room)->flags & HS_DEFAULT)) {
        rs_json_error(r, a->worker_id, 403, role_refusal(&who, act));
        a->refused++;
        return NULL;
    }
    return room;
}

/* POST /api/room/link?which=singers|organiser: a new key replaces the old
 * one, which stops working as soon as the daemon has it (a tick); the new
 * key is in the answer, once, and nowhere else. */
static void handle_room_link(api_t *a, FCGX_Request *r, const char *qs)
{
    wr_room_t *room = organiser_room(a, r, qs, ROLE_ACT_ROOM);
    if (!room)
        return;
    char which[16] = "";
    q_peek(qs, "which", which, sizeof which);
    bool organiser = strcmp(which, "organiser") == 0;
    if (!organiser && strcmp(which, "singers") != 0) {
        rs_json_error(r, a->worker_id, 400, "which must be singers or organiser");
        return;
    }
    char key[RK_KEY_LEN + 1];
    uint8_t hash[RK_HASH_LEN];
    if (rk_key_new(key) != RK_OK || rk_hash(key, hash) != RK_OK) {
        rs_json_error(r, a->worker_id, 503, "no new key could be made; retry");
        return;
    }
    if (ex_room_key(wr_ex(room), organiser, hash, seg_now()) != 0) {
        rs_json_error(r, a->worker_id, 503, "the server is busy; retry");
        return;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "{\"which\":\"%s\",\"key\":\"%s\"}", organiser ? "organiser" : "singers",
             key);
    rs_json(r, a->worker_id, 200, buf);
}

/* POST /api/room/cap?max_singers=N (0: the host's default). */
static void handle_room_cap(api_t *a, FCGX_Request *r, const char *qs)
{
    wr_room_t *room = organiser_room(a, r, qs, ROLE_ACT_ROOM);
    if (!room)
        return;
    char v[16] = "";
    int64_t n;
    if (!q_peek(qs, "max_singers", v, sizeof v) || !q_int64(v, &n) || n < 0 || n > 10000) {
        rs_json_error(r, a->worker_id, 400, "max_singers must be 0 (the server's default) to 10000");
        return;
    }
    if (ex_room_cap(wr_ex(room), (uint32_t)n, seg_now()) != 0) {
        rs_json_error(r, a->worker_id, 503, "the server is busy; retry");
        return;
    }
    rs_head(r, a->worker_id, 204, NULL, NULL, NULL, 0);
}

/* GET /api/words: the room's words, for holders of its links. */
static void handle_words_get(api_t *a, FCGX_Request *r, const char *qs)
{
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, false);
    if (!room)
        return;
    wa_get(ex_segment(wr_ex(room)), a->text, a->text_cap);
    rs_json(r, a->worker_id, 200, a->text);
}

/* POST /api/words (the file is the body) and POST /api/words/cue: the
 * leader's and the organiser's (wordsapi.h). */
static void handle_words_post(api_t *a, FCGX_Request *r, const char *qs, bool cue)
{
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, false);
    if (!room) {
        rs_read_body(r, a->body, 0);
        return;
    }
    role_who_t who = who_of(room, role, qs);
    char uid[32] = "";
    uint64_t userid = 0;
    if (!role_may(&who, ROLE_ACT_WORDS)) {
        rs_read_body(r, a->body, 0);
        rs_json_error(r, a->worker_id, 403, role_refusal(&who, ROLE_ACT_WORDS));
        a->refused++;
        return;
    }
    /* The daemon checks again who the sender is: the organiser's key
     * alone, without a singer, is enough for it. */
    if (q_peek(qs, "userid", uid, sizeof uid))
        rq_parse_userid(uid, &userid);
    wa_answer_t ans;
    const cm_lane_t *lane = ex_lane(wr_ex(room));
    if (cue) {
        rs_read_body(r, a->body, 0);
        wa_cue(lane, userid, role == HS_ROLE_ORGANISER, qs, seg_now(), &ans);
    } else {
        long len = rs_read_body(r, a->body, WORDS_TEXT_MAX);
        if (len < 0) {
            rs_json_error(r, a->worker_id, len == -1 ? 413 : 400,
                          len == -1 ? words_strerror(WORDS_ETOOBIG) : "the words ended early");
            return;
        }
        wa_load(lane, userid, role == HS_ROLE_ORGANISER, (const char *)a->body, (size_t)len, seg_now(), &ans);
    }
    rs_json(r, a->worker_id, ans.status, ans.body);
}

/* Who a request is for the log: its role and the singer's public id
 * (never the secret userid), 0 when it names no singer of the room. */
static void who_for_log(wr_room_t *room, const role_who_t *who, const char *qs, char *out, size_t cap)
{
    char uid[32] = "";
    uint64_t userid = 0, pub = 0;
    users_view_t v;
    int64_t idx;
    if (q_peek(qs, "userid", uid, sizeof uid) && rq_parse_userid(uid, &userid) &&
        (idx = users_find(ex_segment(wr_ex(room)), userid)) >= 0 &&
        users_read(ex_segment(wr_ex(room)), (uint32_t)idx, &v))
        pub = v.public_id;
    snprintf(out, cap, "%s (public id %" PRIu64 ")", role_name(who), pub);
}

/* The room of a slides request, or NULL after answering: slides live
 * on the upload worker alone (slides.h), and storing or deleting one is
 * the leader's or the organiser's, as the words are (ROLE_ACT_WORDS).
 * `by` (cap bytes) gets who it was, for the log. */
static wr_room_t *slides_room(api_t *a, FCGX_Request *r, const char *qs, bool change, char *by, size_t cap)
{
    hs_role_t role;
    wr_room_t *room = a->slides ? enter(a, r, qs, &role, false) : NULL;
    if (!room) {
        if (change)
            rs_read_body(r, a->body, 0);
        if (!a->slides)
            rs_json_error(r, a->worker_id, 404, "slides are served by the upload worker, not here");
        return NULL;
    }
    role_who_t who = who_of(room, role, qs);
    if (change)
        who_for_log(room, &who, qs, by, cap);
    if (change && !role_may(&who, ROLE_ACT_WORDS)) {
        rs_read_body(r, a->body, 0);
        rs_json_error(r, a->worker_id, 403, "only the leader or the organiser can change the slides");
        a->refused++;
        fprintf(stderr, "bb-worker[%d]: room %s: a %s was refused a change of the slides\n", a->worker_id,
                wr_info(room)->id, by);
        return NULL;
    }
    return room;
}

/* The slide number of a request: n=N, or 0 when absent (and allowed). */
static int64_t slide_number(const char *qs, bool absent_ok)
{
    char v[16];
    int64_t n;
    if (!q_peek(qs, "n", v, sizeof v))
        return absent_ok ? 0 : -1;
    return q_int64(v, &n) && n >= 1 && n <= SL_MAX ? n : -1;
}

/* GET /api/slides: the room's slides, for holders of its links. */
static void handle_slides(api_t *a, FCGX_Request *r, const char *qs)
{
    wr_room_t *room = slides_room(a, r, qs, false, NULL, 0);
    if (!room)
        return;
    sl_list(a->slides, wr_info(room)->id, a->text, a->text_cap);
    rs_json(r, a->worker_id, 200, a->text);
}

/* GET /api/slide?n=N[&v=VERSION]: one slide's image.  With v= the
 * version it has, the URL names these bytes for ever and may be cached
 * so; without, a browser asks again and gets a 304 while it is the same. */
static void handle_slide_get(api_t *a, FCGX_Request *r, const char *qs)
{
    wr_room_t *room = slides_room(a, r, qs, false, NULL, 0);
    if (!room)
        return;
    int64_t n = slide_number(qs, false);
    sl_file_t f;
    if (n < 0 || sl_read(a->slides, wr_info(room)->id, n, a->body, a->body_cap, &f) != 0) {
        rs_json_error(r, a->worker_id, 404, "this room has no slide of that number");
        return;
    }
    char v[48] = "", etag[48], extra[256];
    q_peek(qs, "v", v, sizeof v);
    snprintf(etag, sizeof etag, "\"%s\"", f.v);
    snprintf(extra, sizeof extra, "Cache-Control: %s\r\nETag: %s\r\n",
             strcmp(v, f.v) == 0 ? "private, max-age=31536000, immutable" : "private, no-cache", etag);
    const char *inm = FCGX_GetParam("HTTP_IF_NONE_MATCH", r->envp);
    if (inm && strcmp(inm, etag) == 0) {
        rs_head(r, a->worker_id, 304, NULL, NULL, extra, 0);
        return;
    }
    rs_head(r, a->worker_id, 200, img_content_type(f.kind), NULL, extra, f.len);
    FCGX_PutStr((const char *)a->body, (int)f.len, r->out);
}

/* POST /api/slide[?n=N] (the image is the body) and POST
 * /api/slide/delete?n=N. */
static void handle_slide_post(api_t *a, FCGX_Request *r, const char *qs, bool del)
{
    char by[96];
    wr_room_t *room = slides_room(a, r, qs, true, by, sizeof by);
    if (!room)
        return;
    int64_t n = slide_number(qs, !del);
    sl_answer_t ans;
    if (n < 0) {
        rs_read_body(r, a->body, 0);
        rs_json_error(r, a->worker_id, 400, "n must be a slide number from 1 to 32");
        return;
    }
    if (del) {
        rs_read_body(r, a->body, 0);
        sl_delete(a->slides, wr_info(room)->id, n, by, &ans);
    } else {
        long len = rs_read_body(r, a->body, IMG_MAX_BYTES);
        if (len < 0) {
            rs_json_error(r, a->worker_id, len == -1 ? 413 : 400,
                          len == -1 ? "the image file is larger than 4 MiB; nothing was changed"
                                    : "the upload ended early; nothing was changed");
            return;
        }
        sl_put(a->slides, wr_info(room)->id, n, a->body, (size_t)len, by, &ans);
    }
    rs_json(r, a->worker_id, ans.status, ans.body);
}

/* The room's recordings folder: the default room's is the folder itself,
 * another room's is ROOMID/ in it.  False when recordings are off. */
static bool rec_dir_of(const api_t *a, const wr_room_t *room, char *out, size_t cap)
{
    if (!a->recordings_dir)
        return false;
    const hs_room_t *info = wr_info(room);
    if (info->flags & HS_DEFAULT)
        snprintf(out, cap, "%s", a->recordings_dir);
    else
        snprintf(out, cap, "%s/%s", a->recordings_dir, info->id);
    return true;
}

/* GET /api/recordings: the room's recordings, for holders of its links. */
static void handle_recordings(api_t *a, FCGX_Request *r, const char *qs)
{
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, false);
    if (!room)
        return;
    char dir[4096];
    jw_t j;
    jw_init(&j, a->text, a->text_cap);
    jw_obj_begin(&j);
    jw_key(&j, "room");
    jw_str(&j, wr_info(room)->id);
    jw_key(&j, "recordings");
    if (!rec_dir_of(a, room, dir, sizeof dir) ||
        rec_listing_json(dir, API_RECORDINGS_MAX, ex_recording_song(wr_ex(room)), &j, NULL, NULL) != REC_OK)
        jw_raw(&j, "[]", 2);   /* none yet (the folder comes with the first song) */
    jw_obj_end(&j);
    if (!jw_ok(&j)) {
        rs_json_error(r, a->worker_id, 500, "the listing is too long");
        return;
    }
    rs_json(r, a->worker_id, 200, a->text);
}

/* GET /api/recording?file=NAME: one file of the room's recordings, sent
 * by nginx from its internal location once the key was checked here. */
static void handle_recording(api_t *a, FCGX_Request *r, const char *qs)
{
    hs_role_t role;
    wr_room_t *room = enter(a, r, qs, &role, false);
    if (!room)
        return;
    char file[256] = "", dir[4096], path[4400];
    if (!q_peek(qs, "file", file, sizeof file) || !rec_file_known(file)) {
        rs_json_error(r, a->worker_id, 400, "file must name one of the room's recordings");
        return;
    }
    struct stat st;
    if (!rec_dir_of(a, room, dir, sizeof dir) || snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        rs_json_error(r, a->worker_id, 404, "no such recording in this room");
        return;
    }
    const hs_room_t *info = wr_info(room);
    char extra[600];
    snprintf(extra, sizeof extra, "X-Accel-Redirect: " API_REC_LOCATION "%s%s%s\r\n",
             info->flags & HS_DEFAULT ? "" : info->id, info->flags & HS_DEFAULT ? "" : "/", file);
    rs_head(r, a->worker_id, 200, NULL, NULL, extra, 0);
}

static void delete_log(void *user, const char *line)
{
    const api_t *a = user;
    fprintf(stderr, "bb-worker[%d]: recordings: %s\n", a->worker_id, line);
}

/* POST /api/recording/delete?song=STAMP: the organiser deletes every file
 * of one song of the room; never the song being recorded (409). */
static void handle_recording_delete(api_t *a, FCGX_Request *r, const char *qs)
{
    wr_room_t *room = organiser_room(a, r, qs, ROLE_ACT_DELETE_RECORDING);
    if (!room)
        return;
    char song[32] = "", dir[4096], now_song[REC_SONG_NAME_LEN + 1] = "";
    if (!q_peek(qs, "song", song, sizeof song) || strlen(song) != REC_SONG_NAME_LEN || !rec_is_song_stamp(song)) {
        rs_json_error(r, a->worker_id, 400, "song must be a recording's YYYY-MM-DD-HHMMSS");
        return;
    }
    int64_t recording = ex_recording_song(wr_ex(room));
    if (recording && rec_song_name(recording, now_song, sizeof now_song) == REC_OK && strcmp(now_song, song) == 0) {
        rs_json_error(r, a->worker_id, 409, "this song is being recorded now; delete it once it has ended");
        return;
    }
    uint64_t bytes = 0;
    int n = rec_dir_of(a, room, dir, sizeof dir) ? rec_song_delete(dir, song, &bytes, delete_log, a) : 0;
    if (n == 0) {
        rs_json_error(r, a->worker_id, 404, "no such recording in this room");
        return;
    }
    if (n < 0) {
        rs_json_error(r, a->worker_id, 500, "the recording could not be deleted");
        return;
    }
    a->deleted++;
    fprintf(stderr, "bb-worker[%d]: room %s: recording %s deleted by the organiser (%d files, %.1f MiB)\n",
            a->worker_id, wr_info(room)->id, song, n, (double)bytes / (1 << 20));
    rs_head(r, a->worker_id, 204, NULL, NULL, NULL, 0);
}

void api_handle(api_t *a, FCGX_Request *r)
{
    const char *method = FCGX_GetParam("REQUEST_METHOD", r->envp);
    const char *path = FCGX_GetParam("DOCUMENT_URI", r->envp);
    const char *qs = FCGX_GetParam("QUERY_STRING", r->envp);
    if (!method)
        method = "GET";
    if (!path)
        path = "/";
    if (!qs)
        qs = "";
    if (strcmp(method, "OPTIONS") == 0) {
        rs_head(r, a->worker_id, 200, NULL, NULL, NULL, 0);
        a->options++;
        return;
    }
    if (strchr(path, '?')) {
        rs_json_error(r, a->worker_id, 400, "a '?' inside the path (a %3F) is not a path of this API");
        a->other++;
        return;
    }
    route_t route = route_of(path);
    if (a->uploads_only && route != R_UPLOAD && route != R_SLIDES && route != R_SLIDE && route != R_SLIDE_DELETE) {
        a->other++;
        rs_json_error(r, a->worker_id, 404, "this is the upload worker: it serves /api/upload and the slides alone");
        return;
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    switch (route) {
    case R_EXCHANGE:
        if (get) {
            handle_probe(a, r, qs);
            return;
        }
        if (post) {
            handle_audio(a, r, qs);
            return;
        }
        break;
    case R_RESET:
        if (post) {
            handle_reset(a, r, qs);
            return;
        }
        break;
    case R_UPLOAD:
        if (post) {
            handle_upload(a, r, qs);
            return;
        }
        break;
    case R_ROOM:
        if (get) {
            handle_room(a, r, qs);
            return;
        }
        break;
    case R_ROOM_LINK:
        if (post) {
            handle_room_link(a, r, qs);
            return;
        }
        break;
    case R_ROOM_CAP:
        if (post) {
            handle_room_cap(a, r, qs);
            return;
        }
        break;
    case R_RECORDINGS:
        if (get) {
            handle_recordings(a, r, qs);
            return;
        }
        break;
    case R_RECORDING:
        if (get) {
            handle_recording(a, r, qs);
            return;
        }
        break;
    case R_RECORDING_DELETE:
        if (post) {
            handle_recording_delete(a, r, qs);
            return;
        }
        break;
    case R_WORDS:
        if (get) {
            handle_words_get(a, r, qs);
            return;
        }
        if (post) {
            handle_words_post(a, r, qs, false);
            return;
        }
        break;
    case R_WORDS_CUE:
        if (post) {
            handle_words_post(a, r, qs, true);
            return;
        }
        break;
    case R_SLIDES:
        if (get) {
            handle_slides(a, r, qs);
            return;
        }
        break;
    case R_SLIDE:
        if (get) {
            handle_slide_get(a, r, qs);
            return;
        }
        if (post) {
            handle_slide_post(a, r, qs, false);
            return;
        }
        break;
    case R_SLIDE_DELETE:
        if (post) {
            handle_slide_post(a, r, qs, true);
            return;
        }
        break;
    case R_NONE:
        a->other++;
        rs_json_error(r, a->worker_id, 404, "no such API path");
        return;
    }
    a->other++;
    rs_text(r, a->worker_id, 405, "method not allowed\n");
}
