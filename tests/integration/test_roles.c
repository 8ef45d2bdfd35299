/*
 * test_roles.c - every role against every control, through the real stack
 * (the daemon with a rooms database, two workers, nginx), in a keyed room
 * and in the default room, before a song and during one.
 *
 * The keyed room has Olga (who holds its organiser link), Lena (who
 * leads), Sam and Tom (singers) and Liv (a listener, spectator=1); the
 * default room, which the original client uses, has Dee (who leads), Dai
 * and Dot.  Nia knows the keyed room's id but holds no key, Wes holds a
 * wrong key.  All of them are protocol clients through nginx, the members
 * sung in lockstep by this thread (party.h), each with a tone of its own.
 *
 * For each control - request_lead, mark_start_singing, mark_stop_singing,
 * the tempo, the track, the volumes, one's own and another's mic volume,
 * monitoring another, cue events (X-Event-Data) and reset_events, chat,
 * an upload, and the organiser's room controls (POST /api/room/link and
 * /api/room/cap) - a role that may not use it is told so (the control's
 * sentence in the answer's "refused", or a 403 with it from an endpoint;
 * a stranger a 403 "this link is not valid or the room was closed", with
 * kill_client on the audio POST) and nothing changes for anyone: leader,
 * song clocks, tempo, volumes, track, cues, chat, the number of singers,
 * everyone's mic volume, monitoring and bucket, and the song's recording
 * goes on growing.  A role that may use it sees it applied (a chat
 * reaches everyone else in its room, under its sender's name and public
 * id, and nobody in the other room).  Then, mid-song: the organiser takes
 * the lead back and the song goes on (same start, one recording, nobody
 * moved); a leader silent for 5 s no longer leads and a singer takes the
 * lead without wiping the song; once a song is stopped, the first singer
 * to start the next leads it; a listener's tone never reaches a later
 * singer (below -90 dBFS, while a singer's tone at the same level is
 * heard) and leaves the others' level as it was.
 *
 * Every clock is the server's (the answers' server_clock); every wait is a
 * bounded number of 600 ms rounds.  The test prints the role x control
 * table it verified.
 *
 * usage: test_roles_stack BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fstack.h"
#include "host.h"
#include "party.h"
#include "roles.h"

#define TNAME "test_roles"
#define RATE 48000
#define MINUS_90_DBFS 3.1623e-5    /* 10^(-90/20), amplitude */

enum { KEYED = 0, DEFLT = 1 };

static check_t ck;
static fs_t *fs;
static pt_party_t P;
static fs_room_t room;
static pt_member_t *olga, *lena, *sam, *liv, *tom, *dee, *dai, *dot;
/* Strangers to the keyed room: Nia knows its id but holds no key, Wes a
 * key the room does not have. */
static pt_member_t nia, wes;
static char wrong_key[32];
static char metronome[96];          /* the metronome pseudo-track's name */
static int64_t song[2];             /* start clock of each room's song */

/* ---- the controls -------------------------------------------------------- */

typedef enum {
    C_LEAD, C_START, C_STOP, C_TEMPO, C_TRACK, C_VOLUME, C_MIC_SELF, C_MIC_OTHER, C_MONITOR,
    C_EVENTS, C_RESET, C_CHAT, C_UPLOAD, C_LINK, C_CAP, NCTL
} ctl_t;

/* Who may use each control while someone leads (ROOMS.md): O the
 * organiser, L the leader, S a singer, l a listener; in the keyed room and
 * in the default room (no organiser there; its leader may upload because
 * the stack runs with --default-uploads; reset_events is anyone's there,
 * as the original client sends it without a userid). */
static const struct {
    const char *name;
    role_act_t act;
    bool endpoint;             /* an endpoint of its own, not a parameter of the POST */
    const char *keyed_may;
    const char *default_may;
} CTL[NCTL] = {
    {"request_lead", ROLE_ACT_LEAD, false, "OL", "L"},
    {"mark_start_singing", ROLE_ACT_START, false, "OL", "L"},
    {"mark_stop_singing", ROLE_ACT_STOP, false, "OL", "L"},
    {"bpm/repeats/bpr", ROLE_ACT_TEMPO, false, "OL", "L"},
    {"track", ROLE_ACT_TRACK, false, "OL", "L"},
    {"volume/backing_volume", ROLE_ACT_VOLUME, false, "OL", "L"},
    {"own mic_volume", ROLE_ACT_MIC_SELF, false, "OLSl", "LS"},
    {"another's mic_volume", ROLE_ACT_MIC_OTHER, false, "OL", "L"},
    {"monitor another", ROLE_ACT_MONITOR, false, "OL", "L"},
    {"X-Event-Data", ROLE_ACT_EVENTS, false, "OL", "L"},
    {"reset_events", ROLE_ACT_EVENTS, true, "OL", "LS"},
    {"chat", ROLE_ACT_CHAT, false, "OLSl", "LS"},
    {"upload", ROLE_ACT_UPLOAD, true, "OL", "L"},
    {"room/link", ROLE_ACT_ROOM, true, "O", ""},
    {"room/cap", ROLE_ACT_ROOM, true, "O", ""},
};

/* The role letter of m now; a stranger's: N without a key, W with a
 * wrong one. */
static char role_of(const pt_member_t *m)
{
    if (m->stranger)
        return m == &nia ? 'N' : 'W';
    return m->organiser ? 'O' : pt_leads(m) ? 'L' : m->listener ? 'l' : 'S';
}

static bool may(const pt_member_t *m, ctl_t c)
{
    if (m->stranger)
        return false;
    return strchr(m->room == KEYED ? CTL[c].keyed_may : CTL[c].default_may, role_of(m)) != NULL;
}

/* What a request without the room's key is told (fcgi/rooms.c). */
#define NOT_VALID "this link is not valid or the room was closed"

/* The sentence the server owes m for control c (roles.h). */
static const char *refusal(const pt_member_t *m, ctl_t c)
{
    if (m->stranger)
        return NOT_VALID;
    role_who_t who = {.organiser = m->organiser, .listener = m->listener, .leads = pt_leads(m),
                      .room_has_leader = true, .uploads = true};
    return role_refusal(&who, CTL[c].act);
}

/* What was verified, for the table: per phase, control and role (the
 * keyed room's organiser, leader, singer and listener, then the default
 * room's leader and singer, then the strangers to the keyed room without
 * a key and with a wrong one), A applied, R refused with nothing changed, X
 * failed; bits, since a singer's lead is refused while someone leads and
 * applied in a room nobody leads. */
enum { BEFORE = 0, DURING = 1 };
enum { V_A = 1, V_R = 2, V_X = 4 };
#define NCOLS 8
static unsigned verified[2][NCTL][NCOLS];

static int column(char role, int r)
{
    if (r == DEFLT)
        return role == 'L' ? 4 : 5;
    return role == 'O' ? 0 : role == 'L' ? 1 : role == 'S' ? 2 : role == 'l' ? 3 : role == 'N' ? 6 : 7;
}

/* Notes what m, in role `role` when it acted, saw of control c. */
static void note_as(int phase, ctl_t c, const pt_member_t *m, char role, char what)
{
    verified[phase][c][column(role, m->room)] |= what == 'A' ? V_A : what == 'R' ? V_R : V_X;
}

/* The same, in the role m has now. */
static void note(int phase, ctl_t c, const pt_member_t *m, char what)
{
    note_as(phase, c, m, role_of(m), what);
}

/* Someone else in m's room to set the mic volume of, or monitor: not the
 * leader. */
static pt_member_t *target_for(const pt_member_t *m)
{
    if (m->room == KEYED)
        return m == sam ? tom : sam;
    return m == dai ? dot : dai;
}

/* ---- requests ------------------------------------------------------------ */

/* A short WAV to upload: 0.3 s of 440 Hz, mono 16-bit 48 kHz. */
#define WAV_N 14400
static uint8_t wav[44 + 2 * WAV_N];

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void make_wav(void)
{
    memcpy(wav, "RIFF\0\0\0\0WAVEfmt ", 16);
    put32(wav + 4, 36 + 2 * WAV_N);
    put32(wav + 16, 16);
    put32(wav + 20, 1 | (1u << 16));     /* PCM, mono */
    put32(wav + 24, RATE);
    put32(wav + 28, RATE * 2);
    put32(wav + 32, 2 | (16u << 16));    /* block align 2, 16 bits */
    memcpy(wav + 36, "data", 4);
    put32(wav + 40, 2 * WAV_N);
    for (int i = 0; i < WAV_N; i++) {
        int16_t s = (int16_t)lrint(8000 * sin(2 * M_PI * 440.0 * i / RATE));
        wav[44 + 2 * i] = (uint8_t)s;
        wav[45 + 2 * i] = (uint8_t)((uint16_t)s >> 8);
    }
}

/* The "error" sentence of a JSON error body into out ("" if none). */
static void error_of(const char *body, char *out, size_t cap)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    snprintf(out, cap, "%s", cJSON_IsString(e) ? e->valuestring : "");
    cJSON_Delete(j);
}

/* A string field of a JSON body into out ("" if none). */
static void field_of(const char *body, const char *key, char *out, size_t cap)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, key);
    if (cJSON_IsString(e))
        snprintf(out, cap, "%s", e->valuestring);
    else if (cJSON_IsNumber(e))
        snprintf(out, cap, "%lld", (long long)e->valuedouble);
    else
        snprintf(out, cap, "%s", "");
    cJSON_Delete(j);
}

/* GET /api/room with this key (NULL: the default room; "": the keyed
 * room without a key): the status, and the answer in out. */
static int room_info(const char *key, char *out, size_t cap)
{
    char q[160] = "";
    if (key)
        snprintf(q, sizeof q, *key ? "room=%s&key=%s" : "room=%s", room.id, key);
    int status = -1;
    fs_request(fs, "GET", "/api/room", key ? q : NULL, NULL, 0, &status, out, cap);
    return status;
}

/* Uses an endpoint control as m: reset_events over m's own connection,
 * the others through nginx with m's room, key and userid.  Returns the
 * status; the answer's body goes to body. */
static int endpoint(pt_member_t *m, ctl_t c, const char *upload_name, const char *arg, char *body,
                    size_t cap)
{
    int status = -1;
    body[0] = '\0';
    switch (c) {
    case C_RESET: {
        int rc = bbc_reset_events(m->s);
        const resp_t *r = bbc_singer_response(m->s);
        if (rc == BBC_OK || rc == BBC_ESTATUS) {
            status = r->status;
            snprintf(body, cap, "%.*s", (int)r->body.len, r->body.data ? (const char *)r->body.data : "");
        }
        break;
    }
    case C_UPLOAD:
        fs_request(fs, "POST", "/api/upload", pt_query(&P, m, "name", upload_name), wav, sizeof wav, &status,
                   body, cap);
        break;
    case C_LINK:
        fs_request(fs, "POST", "/api/room/link", pt_query(&P, m, "which", arg), NULL, 0, &status, body, cap);
        break;
    case C_CAP:
        fs_request(fs, "POST", "/api/room/cap", pt_query(&P, m, "max_singers", arg), NULL, 0, &status, body,
                   cap);
        break;
    default:
        break;
    }
    return status;
}

/* Queues control c (a POST parameter) on m, with values nobody has set. */
static void queue(pt_member_t *m, ctl_t c, const char *tag)
{
    char ev[96];
    switch (c) {
    case C_LEAD: bbc_singer_request_lead(m->s); break;
    case C_START: bbc_singer_mark_start(m->s); break;
    case C_STOP: bbc_singer_mark_stop(m->s); break;
    case C_TEMPO: bbc_singer_set_tempo(m->s, 177, 5, 0); break;
    case C_TRACK: bbc_singer_set_track(m->s, metronome); break;
    case C_VOLUME:
        bbc_singer_set_volume(m->s, 0.3);
        bbc_singer_set_backing_volume(m->s, 0.4);
        break;
    case C_MIC_SELF:    /* a stranger, never answered, has no public id: any will do */
        bbc_singer_mic_volume(m->s, m->pub[0] ? m->pub : "1", 0.8);
        break;
    case C_MIC_OTHER: bbc_singer_mic_volume(m->s, target_for(m)->pub, 1.35); break;
    case C_MONITOR: bbc_singer_monitor(m->s, target_for(m)->pub); break;
    case C_EVENTS:
        snprintf(ev, sizeof ev, "\"%s-%s\"", tag, m->name);
        bbc_singer_event(m->s, ev, pt_now(&P));
        break;
    case C_CHAT:
        snprintf(ev, sizeof ev, "%s-%s", tag, m->name);
        bbc_singer_chat(m->s, ev);
        break;
    default: break;
    }
}

/* The sentence a listener's every answer carries while it sends audio. */
static const char *not_sung(void)
{
    return role_refusal(&(role_who_t){.listener = true}, ROLE_ACT_SING);
}

/* m's last answer refused nothing (but, to a listener, its singing). */
static bool refused_nothing(const pt_member_t *m)
{
    const bbc_meta_t *x = bbc_singer_meta(m->s);
    int bad = 0;
    for (int i = 0; i < bbc_meta_refused_count(x); i++) {
        const char *r = bbc_meta_refused(x, i);
        if (m->listener && r && strcmp(r, not_sung()) == 0)
            continue;
        fprintf(stderr, "%s: %s was refused: %s\n", TNAME, m->name, r ? r : "(not a string)");
        bad++;
    }
    return bad == 0;
}

/* The key a stranger holds. */
static const char *key_of(const pt_member_t *m) { return m == &nia ? "" : wrong_key; }

/* A stranger's POST carrying control c.  The client sends a POST only
 * once a probe has told it the clock, and only a key of the room gets a
 * probe answered, so the stranger probes with the singers' key (a probe
 * changes nothing) and then sends the POST with its own.  Returns whether
 * it was refused as it must be: 403, kill_client and the sentence. */
static bool stranger_post(pt_member_t *m, ctl_t c, const char *what)
{
    bbc_singer_set_room(m->s, room.id, room.singer_key);
    int rc = bbc_connect(m->s);
    bbc_singer_set_room(m->s, room.id, key_of(m));
    if (rc != BBC_OK) {
        CHECK_MSG(ck, rc == BBC_OK, "%s: %s's probe with the singers' key: %s", what, m->name,
                  bbc_singer_error(m->s));
        return false;
    }
    queue(m, c, "stranger");
    rc = bbc_exchange_batch(m->s, NULL, m->rx);
    const bbc_meta_t *x = bbc_singer_meta(m->s);
    const resp_t *r = bbc_singer_response(m->s);
    bool ok = rc == BBC_EKILL && r->status == 403 && x->kill_client && strcmp(x->message, NOT_VALID) == 0;
    CHECK_MSG(ck, ok, "%s: %s got %s (HTTP %d, \"%s\"), not 403 with kill_client \"%s\"", what, m->name,
              bbc_strerror(rc), r->status, x->message, NOT_VALID);
    return ok;
}

/* ---- conditions to wait for ------------------------------------------------ */

/* Everyone in room r (who is sending) sees `who` lead; NULL: nobody. */
typedef struct {
    int room;
    const pt_member_t *who;
} lead_arg_t;

static bool leads_everywhere(pt_party_t *p, void *arg)
{
    const lead_arg_t *a = arg;
    for (int i = 0; i < p->n; i++) {
        const pt_member_t *m = &p->m[i];
        if (m->paused || !pt_in(m, a->room))
            continue;
        if (strcmp(m->leader, a->who ? a->who->pub : "") != 0)
            return false;
    }
    return true;
}

static bool both_lead(pt_party_t *p, void *arg)
{
    lead_arg_t *a = arg;
    return leads_everywhere(p, &a[0]) && leads_everywhere(p, &a[1]);
}

/* Rounds until everyone sees k lead the keyed room and d the default one
 * (NULL: nobody), at most max. */
static bool leaders(const pt_member_t *k, const pt_member_t *d, int max)
{
    lead_arg_t a[2] = {{KEYED, k}, {DEFLT, d}};
    return pt_until(&P, both_lead, a, max);
}

typedef struct {
    bool (*test)(const pt_member_t *viewer, const void *arg);
    const void *arg[PT_ROOMS];
} all_arg_t;

static bool all_see(pt_party_t *p, void *arg)
{
    const all_arg_t *a = arg;
    for (int i = 0; i < p->n; i++) {
        const pt_member_t *m = &p->m[i];
        if (!m->paused && a->arg[m->room] && !a->test(m, a->arg[m->room]))
            return false;
    }
    return true;
}

/* Rounds until every member sending in room r passes test(member,
 * arg[r]) (a NULL arg: that room is not asked), at most max. */
static bool until_all(bool (*test)(const pt_member_t *, const void *), const void *keyed,
                      const void *deflt, int max)
{
    all_arg_t a = {test, {keyed, deflt}};
    return pt_until(&P, all_see, &a, max);
}

typedef struct {
    const pt_member_t *who;
    double v;
} mic_arg_t;

static bool sees_mic(const pt_member_t *m, const void *arg)
{
    const mic_arg_t *a = arg;
    return fabs(pt_mic_seen(m, a->who) - a->v) < 1e-6;
}

static bool sees_bpm(const pt_member_t *m, const void *arg) { return m->bpm == *(const int *)arg; }
static bool sees_event(const pt_member_t *m, const void *arg) { return pt_events_have(m, arg); }
static bool sees_no_events(const pt_member_t *m, const void *arg)
{
    (void)arg;
    return strcmp(m->events, "[]") == 0;
}
static bool sees_track(const pt_member_t *m, const void *arg) { return pt_tracks_have(m, arg); }

typedef struct {
    const pt_member_t *monitor, *target;
    bool on;
} mon_arg_t;

static bool sees_monitoring(const pt_member_t *m, const void *arg)
{
    const mon_arg_t *a = arg;
    return pt_flags_seen(m, a->monitor) == (a->on ? 1 : 0) && pt_flags_seen(m, a->target) == (a->on ? 2 : 0);
}

static bool sees_start(const pt_member_t *m, const void *arg)
{
    return m->song_start == *(const int64_t *)arg && m->song_end == 0;
}

static bool sees_end(const pt_member_t *m, const void *arg)
{
    (void)arg;
    return m->song_end != 0 && m->leader[0] == '\0';
}

/* Everyone sees every member of their room at mic volume v[member]. */
static bool all_mics(pt_party_t *p, void *arg)
{
    const double *v = arg;
    for (int i = 0; i < p->n; i++)
        for (int j = 0; j < p->n; j++)
            if (p->m[i].room == p->m[j].room && fabs(pt_mic_seen(&p->m[i], &p->m[j]) - v[j]) > 1e-6)
                return false;
    return true;
}

/* ---- steps ------------------------------------------------------------- */

/* The stack with a rooms database, the keyed room, and everyone singing. */
static int step_setup(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s BB_SHMD BB_WORKER SOURCE_DIR\n", argv[0]);
        return 2;
    }
    fs_config_t fc = {.shmd = argv[1], .worker = argv[2], .src = argv[3], .n_workers = 2, .depth = 4,
                      .recordings = true, .sockets = FS_LISTEN, .name = "roles", .rooms = true,
                      .default_uploads = true};
    fs = fs_start(&fc);
    if (!fs)
        return 1;
    make_wav();
    P.fs = fs;
    P.ck = &ck;
    P.tname = TNAME;
    if (fs_room_create(fs, "Roles choir", 0, &room) != 0 || pt_room_add(&P, &room) != KEYED ||
        pt_room_add(&P, NULL) != DEFLT)
        return 1;
    /* Spread over both workers: each worker judges roles on its own copy
     * of the room's state. */
    olga = pt_member_add(&P, "Olga", KEYED, true, false, 250, 1, 1001);
    lena = pt_member_add(&P, "Lena", KEYED, false, false, 350, 2, 1002);
    sam = pt_member_add(&P, "Sam", KEYED, false, false, 450, 1, 1003);
    liv = pt_member_add(&P, "Liv", KEYED, false, true, 550, 2, 1004);
    tom = pt_member_add(&P, "Tom", KEYED, false, false, 650, 1, 1005);
    dee = pt_member_add(&P, "Dee", DEFLT, false, false, 300, 2, 2001);
    dai = pt_member_add(&P, "Dai", DEFLT, false, false, 400, 1, 2002);
    dot = pt_member_add(&P, "Dot", DEFLT, false, false, 500, 2, 2003);
    if (!olga || !lena || !sam || !liv || !tom || !dee || !dai || !dot)
        return 1;
    /* A wrong key: the singers' key with its first character changed. */
    snprintf(wrong_key, sizeof wrong_key, "%s", room.singer_key);
    wrong_key[0] = wrong_key[0] == 'A' ? 'B' : 'A';
    if (strcmp(wrong_key, room.organiser_key) == 0)
        wrong_key[1] = wrong_key[1] == 'A' ? 'B' : 'A';
    if (pt_stranger_init(&P, &nia, "Nia", KEYED, "", 750, 1, 3001) != 0 ||
        pt_stranger_init(&P, &wes, "Wes", KEYED, wrong_key, 850, 2, 3002) != 0)
        return 1;
    return 0;
}

/* Everyone joins; the key decides the role, the room's page says so. */
static void step_join(void)
{
    pt_rounds(&P, 3);
    for (int i = 0; i < P.n; i++) {
        const pt_member_t *m = &P.m[i];
        const char *want = m->organiser ? "organiser" : m->listener ? "listener" : "singer";
        CHECK_MSG(ck, m->failures == 0 && strcmp(m->role, want) == 0 && m->leader[0] == '\0',
                  "%s: %d failures, role %s (want %s), leader \"%s\"", m->name, m->failures, m->role, want,
                  m->leader);
        /* A listener's voice is kept out of the mix, and she is told so. */
        CHECK_MSG(ck, bbc_meta_was_refused(bbc_singer_meta(m->s), not_sung()) == m->listener,
                  "%s: \"%s\" %s", m->name, not_sung(), m->listener ? "missing" : "given to a singer");
    }
    /* Everyone sees everyone of their room, and nobody of the other. */
    double ones[PT_MAX];
    for (int i = 0; i < P.n; i++)
        ones[i] = 1.0;
    CHECK(ck, pt_until(&P, all_mics, ones, 4));
    CHECK(ck, pt_mic_seen(lena, dee) < 0 && pt_mic_seen(dee, lena) < 0);
    char body[1024], role[128], dflt[16];
    CHECK_EQ_I(ck, room_info(room.organiser_key, body, sizeof body), 200);
    field_of(body, "role", role, sizeof role);
    CHECK_EQ_S(ck, role, "organiser");
    CHECK_EQ_I(ck, room_info(room.singer_key, body, sizeof body), 200);
    field_of(body, "role", role, sizeof role);
    CHECK_EQ_S(ck, role, "singer");
    CHECK(ck, strstr(body, "\"default\":false") != NULL);
    CHECK_EQ_I(ck, room_info(NULL, body, sizeof body), 200);
    field_of(body, "room", dflt, sizeof dflt);
    CHECK_EQ_S(ck, dflt, "default");
    CHECK_EQ_I(ck, room_info("AAAAAAAAAAAAAAAAAAAAAA", body, sizeof body), 403);
    error_of(body, role, sizeof role);
    CHECK_EQ_S(ck, role, NOT_VALID);
    /* The metronome is the last name of the track list. */
    cJSON *t = cJSON_Parse(lena->tracks);
    const cJSON *last = cJSON_GetArrayItem(t, cJSON_GetArraySize(t) - 1);
    snprintf(metronome, sizeof metronome, "%s", cJSON_IsString(last) ? last->valuestring : "");
    cJSON_Delete(t);
    CHECK(ck, metronome[0] != '\0');
    printf("%s: joined: 5 in the keyed room (organiser, 3 singers, a listener), 3 in the default room\n",
           TNAME);
}

/* Strangers knock: the probe, and the room's page, without a key or with
 * a wrong one, are refused with the same sentence, and the page is told
 * to stop (kill_client). */
static void step_strangers_knock(void)
{
    for (int k = 0; k < 2; k++) {
        pt_member_t *x = k ? &wes : &nia;
        int rc = bbc_connect(x->s);
        const bbc_meta_t *m = bbc_singer_meta(x->s);
        int status = bbc_singer_response(x->s)->status;
        bool ok = rc == BBC_ESTATUS && status == 403 && m->kill_client && strcmp(m->message, NOT_VALID) == 0;
        CHECK_MSG(ck, ok, "%s's probe: %s (HTTP %d, kill_client %d, \"%s\")", x->name, bbc_strerror(rc), status,
                  m->kill_client, m->message);
        char body[1024], err[256];
        int st = room_info(key_of(x), body, sizeof body);
        error_of(body, err, sizeof err);
        CHECK_MSG(ck, st == 403 && strcmp(err, NOT_VALID) == 0, "%s's GET /api/room: %d \"%s\"", x->name, st, err);
    }
    printf("%s: strangers without a key and with a wrong one were turned away at the door\n", TNAME);
}

/* Nobody leads: a singer may take the lead, in either room. */
static void step_singers_lead_free_rooms(void)
{
    bbc_singer_request_lead(lena->s);
    bbc_singer_request_lead(dee->s);
    pt_round(&P);
    CHECK(ck, refused_nothing(lena) && refused_nothing(dee));
    CHECK(ck, leaders(lena, dee, 6));
    pt_rounds(&P, 2);    /* everyone has moved to the bucket the lead gave */
    CHECK_EQ_S(ck, lena->role, "leader");
    CHECK_EQ_S(ck, dee->role, "leader");
    CHECK_EQ_S(ck, olga->role, "organiser");
    CHECK_EQ_I(ck, bbc_singer_offset(lena->s), 3);
    note_as(BEFORE, C_LEAD, lena, 'S', 'A');
    note_as(BEFORE, C_LEAD, dee, 'S', 'A');
    printf("%s: Lena and Dee each took the lead of a room nobody led\n", TNAME);
}

/* Rounds until both songs' recordings have begun (once the last bucket
 * has sung the start), at most 36 s after the start. */
static void wait_recordings(void)
{
    int rounds = 0;
    while (rounds++ < 60 && pt_now(&P) - song[KEYED] < 36 * RATE &&
           (pt_wav_size(&P, KEYED, song[KEYED]) <= 44 || pt_wav_size(&P, DEFLT, song[DEFLT]) <= 44))
        pt_round(&P);
    bool ok = pt_wav_size(&P, KEYED, song[KEYED]) > 44 && pt_wav_size(&P, DEFLT, song[DEFLT]) > 44;
    CHECK_MSG(ck, ok, "no recording within 36 s of the start");
    printf("%s: recordings there %.1f s after the start\n", TNAME, (double)(pt_now(&P) - song[KEYED]) / RATE);
}

/* Every control from every role that may not use it, and from both
 * strangers: refused with its sentence, and nothing changes for anyone. */
static void step_refused(int phase)
{
    static pt_view_t a, b;
    const char *ph = phase == BEFORE ? "before the song" : "during the song";
    /* During the song, its recording must go on too. */
    if (phase == DURING)
        wait_recordings();
    for (int c = 0; c < NCTL; c++) {
        pt_member_t *who[PT_MAX + 2];
        int n = 0;
        for (int i = 0; i < P.n; i++)
            if (!may(&P.m[i], (ctl_t)c))
                who[n++] = &P.m[i];
        who[n++] = &nia;
        who[n++] = &wes;
        char what[128], names[128] = "";
        snprintf(what, sizeof what, "%s: %s refused", ph, CTL[c].name);
        pt_view_take(&P, &a);
        if (!CTL[c].endpoint) {
            for (int k = 0; k < n; k++)
                if (!who[k]->stranger)
                    queue(who[k], (ctl_t)c, "refused");
            pt_round(&P);
        }
        for (int k = 0; k < n; k++) {
            const char *want = refusal(who[k], (ctl_t)c);
            bool ok;
            if (!CTL[c].endpoint && who[k]->stranger) {
                ok = stranger_post(who[k], (ctl_t)c, what);
            } else if (!CTL[c].endpoint) {
                ok = bbc_meta_was_refused(bbc_singer_meta(who[k]->s), want);
                CHECK_MSG(ck, ok, "%s: %s was not told \"%s\"", what, who[k]->name, want);
            } else {
                char body[1024], err[256], name[64];
                snprintf(name, sizeof name, "refused-%s", who[k]->name);
                int status = endpoint(who[k], (ctl_t)c, name, c == C_LINK ? "singers" : "2", body, sizeof body);
                error_of(body, err, sizeof err);
                ok = status == 403 && strcmp(err, want) == 0;
                CHECK_MSG(ck, ok, "%s: %s got %d \"%s\", not 403 \"%s\"", what, who[k]->name, status, err, want);
            }
            note(phase, (ctl_t)c, who[k], ok ? 'R' : 'X');
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", who[k]->name);
        }
        /* Two rounds between the views, as for the POST's controls: the
         * recording moves on a round's worth once the last voice of the
         * round is in, so one round may fall between two of its steps. */
        if (CTL[c].endpoint)
            pt_round(&P);
        pt_round(&P);
        pt_view_take(&P, &b);
        if (pt_view_same(&P, &a, &b, what))
            for (int k = 0; k < n; k++)
                note(phase, (ctl_t)c, who[k], 'X');
        if (c == C_CHAT)
            for (int i = 0; i < P.n; i++)
                CHECK_MSG(ck, !strstr(P.m[i].chats, "|stranger-"), "%s: %s got a stranger's chat", what,
                          P.m[i].name);
        if (c == C_UPLOAD)
            for (int i = 0; i < P.n; i++)
                CHECK_MSG(ck, !pt_tracks_have(&P.m[i], "refused-"), "%s: %s got a refused upload's track", what,
                          P.m[i].name);
        if (c == C_LINK || c == C_CAP) {
            char body[1024], cap[16];
            CHECK_EQ_I(ck, room_info(room.singer_key, body, sizeof body), 200);
            field_of(body, "max_singers", cap, sizeof cap);
            CHECK_EQ_S(ck, cap, "0");
            CHECK_EQ_I(ck, room_info(room.organiser_key, body, sizeof body), 200);
        }
        printf("%s: %s: %s refused to %s; nothing changed\n", TNAME, ph, CTL[c].name, names);
    }
}


/* Everyone in a room has the chat text[j] of everyone else j there. */
static bool all_chats(pt_party_t *p, void *arg)
{
    char(*text)[48] = arg;
    for (int i = 0; i < p->n; i++)
        for (int j = 0; j < p->n; j++)
            if (i != j && p->m[i].room == p->m[j].room && !pt_chat_heard(&p->m[i], &p->m[j], text[j]))
                return false;
    return true;
}

/* What every role may do: chat, and set its own mic volume (and stop a
 * monitoring, which is never refused). */
static void step_everyone(int phase)
{
    double want[PT_MAX];
    char text[PT_MAX][48];
    for (int i = 0; i < P.n; i++) {
        pt_member_t *m = &P.m[i];
        want[i] = 0.55 + 0.05 * i;
        bbc_singer_mic_volume(m->s, m->pub, want[i]);
        bbc_singer_monitor(m->s, "end");
        snprintf(text[i], sizeof text[i], "%s from %s", phase == BEFORE ? "hello" : "singing", m->name);
        bbc_singer_chat(m->s, text[i]);
    }
    pt_round(&P);
    bool mine[PT_MAX];
    for (int i = 0; i < P.n; i++) {
        mine[i] = refused_nothing(&P.m[i]);
        CHECK_MSG(ck, mine[i], "%s's own mic volume and chat", P.m[i].name);
    }
    bool ok = pt_until(&P, all_mics, want, 4);
    CHECK_MSG(ck, ok, "the own mic volumes were not seen by everyone");
    for (int i = 0; i < P.n; i++)
        note(phase, C_MIC_SELF, &P.m[i], ok && mine[i] ? 'A' : 'X');
    /* Each message reaches everyone else in its room, under its sender's
     * name and public id, and nobody in the other room. */
    ok = pt_until(&P, all_chats, text, 4);
    CHECK_MSG(ck, ok, "the chats did not reach everyone in their room");
    for (int i = 0; i < P.n; i++) {
        bool apart = true;
        for (int j = 0; j < P.n; j++)
            if (P.m[j].room != P.m[i].room && strstr(P.m[j].chats, text[i])) {
                CHECK_MSG(ck, false, "%s got %s's chat from the other room", P.m[j].name, P.m[i].name);
                apart = false;
            }
        note(phase, C_CHAT, &P.m[i], ok && mine[i] && apart ? 'A' : 'X');
    }
    for (int i = 0; i < P.n; i++) {
        want[i] = 1.0;
        bbc_singer_mic_volume(P.m[i].s, P.m[i].pub, 1.0);
    }
    pt_round(&P);
    CHECK(ck, pt_until(&P, all_mics, want, 4));
    printf("%s: %s: everyone chatted and set their own mic volume\n", TNAME,
           phase == BEFORE ? "before the song" : "during the song");
}

/* The controls a leader (or the organiser) may use, applied: `k` in the
 * keyed room and `d` in the default room (NULL: none), together. */
static void controls_applied(int phase, pt_member_t *k, pt_member_t *d, int base)
{
    pt_member_t *who[2] = {k, d};
    const char *tag = phase == BEFORE ? "before" : "during";
    seg_ctl_t ctl;

    /* The tempo: everyone in the room is told. */
    int bpm[2] = {base + 10 * phase, base + 5 + 10 * phase};
    for (int r = 0; r < 2; r++)
        if (who[r])
            bbc_singer_set_tempo(who[r]->s, bpm[r], 0, 4 + r);
    pt_round(&P);
    bool ok = (!k || refused_nothing(k)) && (!d || refused_nothing(d)) &&
              until_all(sees_bpm, k ? &bpm[0] : NULL, d ? &bpm[1] : NULL, 4);
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            pt_ctl(&P, r, &ctl);
            ok = ok && ctl.song.bpm == bpm[r] && ctl.song.repeats == 0;
            note(phase, C_TEMPO, who[r], ok ? 'A' : 'X');
        }
    CHECK_MSG(ck, ok, "%s: tempo not applied", tag);

    /* The volumes everyone hears, then back. */
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            bbc_singer_set_volume(who[r]->s, 0.9 - 0.05 * r);
            bbc_singer_set_backing_volume(who[r]->s, 0.8 - 0.05 * r);
        }
    pt_rounds(&P, 2);
    ok = true;
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            pt_ctl(&P, r, &ctl);
            bool v = fabs(ctl.global_volume - (0.9 - 0.05 * r)) < 1e-9 &&
                     fabs(ctl.backing_volume - (0.8 - 0.05 * r)) < 1e-9;
            CHECK_MSG(ck, v, "%s: volumes %.2f/%.2f", tag, ctl.global_volume, ctl.backing_volume);
            note(phase, C_VOLUME, who[r], v ? 'A' : 'X');
            bbc_singer_set_volume(who[r]->s, 1.0);
            bbc_singer_set_backing_volume(who[r]->s, 1.0);
        }
    pt_rounds(&P, 2);
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            pt_ctl(&P, r, &ctl);
            CHECK(ck, ctl.global_volume == 1.0 && ctl.backing_volume == 1.0);
        }

    /* Another singer's mic volume, then back. */
    mic_arg_t mic[2] = {{k ? target_for(k) : NULL, 1.3}, {d ? target_for(d) : NULL, 1.25}};
    for (int r = 0; r < 2; r++)
        if (who[r])
            bbc_singer_mic_volume(who[r]->s, mic[r].who->pub, mic[r].v);
    pt_round(&P);
    ok = (!k || refused_nothing(k)) && (!d || refused_nothing(d)) &&
         until_all(sees_mic, k ? &mic[0] : NULL, d ? &mic[1] : NULL, 4);
    CHECK_MSG(ck, ok, "%s: another's mic volume not applied", tag);
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            note(phase, C_MIC_OTHER, who[r], ok ? 'A' : 'X');
            mic[r].v = 1.0;
            bbc_singer_mic_volume(who[r]->s, mic[r].who->pub, 1.0);
        }
    CHECK(ck, until_all(sees_mic, k ? &mic[0] : NULL, d ? &mic[1] : NULL, 4));

    /* Monitoring another: everyone sees it, and the monitor is moved to
     * hear that singer; then it ends, and the monitor goes back. */
    mon_arg_t mon[2] = {{k, k ? target_for(k) : NULL, true}, {d, d ? target_for(d) : NULL, true}};
    int moves[2] = {k ? k->moves : 0, d ? d->moves : 0}, offset[2] = {0, 0};
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            offset[r] = bbc_singer_offset(who[r]->s);
            bbc_singer_monitor(who[r]->s, mon[r].target->pub);
        }
    pt_round(&P);
    ok = (!k || refused_nothing(k)) && (!d || refused_nothing(d)) &&
         until_all(sees_monitoring, k ? &mon[0] : NULL, d ? &mon[1] : NULL, 4);
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            bool moved = who[r]->moves > moves[r];
            CHECK_MSG(ck, moved, "%s: %s was not moved to hear the singer it monitors", tag, who[r]->name);
            note(phase, C_MONITOR, who[r], ok && moved ? 'A' : 'X');
            bbc_singer_monitor(who[r]->s, "end");
            mon[r].on = false;
        }
    CHECK_MSG(ck, ok, "%s: monitoring not applied", tag);
    CHECK(ck, until_all(sees_monitoring, k ? &mon[0] : NULL, d ? &mon[1] : NULL, 4));
    for (int r = 0; r < 2; r++)
        if (who[r])
            bbc_singer_set_offset(who[r]->s, offset[r]);

    /* A cue event, then reset_events: by the leader in the keyed room, by
     * a singer in the default room (the original client's way). */
    char ev[2][64];
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            snprintf(ev[r], sizeof ev[r], "\"cue-%s-%s\"", who[r]->name, tag);
            bbc_singer_event(who[r]->s, ev[r], pt_now(&P));
            snprintf(ev[r], sizeof ev[r], "cue-%s-%s", who[r]->name, tag);
        }
    pt_round(&P);
    ok = (!k || refused_nothing(k)) && (!d || refused_nothing(d)) &&
         until_all(sees_event, k ? ev[0] : NULL, d ? ev[1] : NULL, 4);
    CHECK_MSG(ck, ok, "%s: cue events not applied", tag);
    for (int r = 0; r < 2; r++)
        if (who[r])
            note(phase, C_EVENTS, who[r], ok ? 'A' : 'X');
    char body[1024];
    pt_member_t *resetter[2] = {k, d ? dai : NULL};
    ok = true;
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            int st = endpoint(resetter[r], C_RESET, NULL, NULL, body, sizeof body);
            CHECK_MSG(ck, st == 204, "%s: reset_events by %s: %d %s", tag, resetter[r]->name, st, body);
            ok = ok && st == 204;
        }
    ok = ok && until_all(sees_no_events, k ? "" : NULL, d ? "" : NULL, 4);
    CHECK_MSG(ck, ok, "%s: reset_events not applied", tag);
    for (int r = 0; r < 2; r++)
        if (who[r])
            note(phase, C_RESET, resetter[r], ok ? 'A' : 'X');
    if (d) {
        /* ... and by the default room's leader too. */
        bbc_singer_event(d->s, "\"cue-again\"", pt_now(&P));
        pt_round(&P);
        ok = until_all(sees_event, NULL, "cue-again", 4);
        int st = endpoint(d, C_RESET, NULL, NULL, body, sizeof body);
        ok = ok && st == 204 && until_all(sees_no_events, NULL, "", 4);
        CHECK_MSG(ck, ok, "%s: reset_events by the default room's leader: %d", tag, st);
        note(phase, C_RESET, d, ok ? 'A' : 'X');
    }

    /* An upload: the track reaches everyone's list. */
    char track[2][128] = {"", ""};
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            char name[64];
            snprintf(name, sizeof name, "%s-%s", who[r]->name, tag);
            int st = endpoint(who[r], C_UPLOAD, name, NULL, body, sizeof body);
            field_of(body, "track", track[r], sizeof track[r]);
            CHECK_MSG(ck, st == 200 && track[r][0], "%s: upload by %s: %d %s", tag, who[r]->name, st, body);
        }
    ok = until_all(sees_track, k ? track[0] : NULL, d ? track[1] : NULL, 10);
    CHECK_MSG(ck, ok, "%s: uploaded tracks did not reach everyone", tag);
    for (int r = 0; r < 2; r++)
        if (who[r])
            note(phase, C_UPLOAD, who[r], ok && track[r][0] ? 'A' : 'X');

    /* The track: before a song it is what the next start plays (the
     * keyed room the upload, the default room the metronome); during a
     * song it is accepted and, as the protocol keeps (PROTOCOL.md 16,
     * quirk 28), has no effect until the next song. */
    for (int r = 0; r < 2; r++)
        if (who[r])
            bbc_singer_set_track(who[r]->s, r == KEYED ? track[r] : metronome);
    pt_round(&P);
    ok = (!k || refused_nothing(k)) && (!d || refused_nothing(d));
    pt_round(&P);
    for (int r = 0; r < 2; r++)
        if (who[r]) {
            pt_ctl(&P, r, &ctl);
            bool v = phase == DURING ? ctl.song.requested_track == SONG_TRACK_NONE
                     : r == KEYED    ? ctl.song.requested_track >= 0
                                     : ctl.song.requested_track == SONG_TRACK_METRONOME;
            CHECK_MSG(ck, ok && v, "%s: %s's track: requested %d", tag, who[r]->name, ctl.song.requested_track);
            note(phase, C_TRACK, who[r], ok && v ? 'A' : 'X');
        }
}

/* The leaders' controls, in both rooms at once. */
static void step_leader_controls(int phase)
{
    controls_applied(phase, lena, dee, 100);
    printf("%s: %s: the leaders' tempo, volumes, mic volumes, monitoring, cues, uploads and track applied\n",
           TNAME, phase == BEFORE ? "before the song" : "during the song");
}

/* The organiser's: the leader's controls, and the room's link and cap. */
static void step_organiser_controls(int phase)
{
    controls_applied(phase, olga, NULL, 120);
    /* Before the song: the next start plays the metronome. */
    if (phase == BEFORE) {
        bbc_singer_set_track(olga->s, metronome);
        pt_rounds(&P, 2);
        seg_ctl_t ctl;
        pt_ctl(&P, KEYED, &ctl);
        CHECK_EQ_I(ck, ctl.song.requested_track, SONG_TRACK_METRONOME);
    }

    /* A new link (the organiser's before the song, the singers' during
     * it): the old key stops opening the room, the new one opens it, and
     * whoever holds it carries on with it. */
    const char *which = phase == BEFORE ? "organiser" : "singers";
    char body[1024], key[32], got[32], old[32];
    snprintf(old, sizeof old, "%s", phase == BEFORE ? room.organiser_key : room.singer_key);
    int st = endpoint(olga, C_LINK, NULL, which, body, sizeof body);
    field_of(body, "key", key, sizeof key);
    field_of(body, "which", got, sizeof got);
    bool ok = st == 200 && strlen(key) == strlen(old) && strcmp(got, which) == 0;
    CHECK_MSG(ck, ok, "room/link?which=%s: %d", which, st);
    int tries = 0;
    while (room_info(key, body, sizeof body) != 200 && ++tries < 100)
        fs_sleep_ms(20);
    CHECK_MSG(ck, tries < 100, "the new %s key did not open the room within 2 s", which);
    field_of(body, "role", got, sizeof got);
    CHECK_EQ_S(ck, got, phase == BEFORE ? "organiser" : "singer");
    CHECK_EQ_I(ck, room_info(old, body, sizeof body), 403);
    for (int i = 0; i < P.n; i++)
        if (P.m[i].room == KEYED && P.m[i].organiser == (phase == BEFORE))
            bbc_singer_set_room(P.m[i].s, room.id, key);
    snprintf(phase == BEFORE ? room.organiser_key : room.singer_key, sizeof room.singer_key, "%s", key);
    pt_rounds(&P, 2);
    for (int i = 0; i < P.n; i++)
        ok = ok && P.m[i].failures == 0;
    CHECK_MSG(ck, ok, "after the %s link changed", which);
    note(phase, C_LINK, olga, ok ? 'A' : 'X');

    /* The cap on singers, then back to the host's default. */
    st = endpoint(olga, C_CAP, NULL, "40", body, sizeof body);
    CHECK_EQ_I(ck, st, 204);
    ok = false;
    for (tries = 0; tries < 100 && !ok; tries++) {
        room_info(room.singer_key, body, sizeof body);
        field_of(body, "max_singers", got, sizeof got);
        ok = strcmp(got, "40") == 0;
        if (!ok)
            fs_sleep_ms(20);
    }
    CHECK_MSG(ck, ok && st == 204, "room/cap: max_singers %s", got);
    note(phase, C_CAP, olga, ok && st == 204 ? 'A' : 'X');
    CHECK_EQ_I(ck, endpoint(olga, C_CAP, NULL, "0", body, sizeof body), 204);
    for (tries = 0, ok = false; tries < 100 && !ok; tries++) {
        room_info(room.singer_key, body, sizeof body);
        field_of(body, "max_singers", got, sizeof got);
        ok = strcmp(got, "0") == 0;
        if (!ok)
            fs_sleep_ms(20);
    }
    CHECK(ck, ok);
    pt_round(&P);
    printf("%s: %s: the organiser's controls applied, and a new %s link\n", TNAME,
           phase == BEFORE ? "before the song" : "during the song", which);
}

/* Before the song: the organiser takes the lead and stops, the lead is
 * free for a singer, the leader's stop frees it too. */
static void step_lead_and_stop_before(void)
{
    bbc_singer_request_lead(olga->s);
    pt_round(&P);
    bool ok = refused_nothing(olga) && leaders(olga, dee, 6);
    CHECK_MSG(ck, ok, "the organiser's lead");
    CHECK_EQ_S(ck, olga->role, "organiser");
    note(BEFORE, C_LEAD, olga, ok ? 'A' : 'X');

    bbc_singer_mark_stop(olga->s);
    bbc_singer_mark_stop(dee->s);
    pt_round(&P);
    ok = refused_nothing(olga) && refused_nothing(dee) && leaders(NULL, NULL, 6);
    CHECK_MSG(ck, ok, "the stops before a song");
    note(BEFORE, C_STOP, olga, ok ? 'A' : 'X');
    note_as(BEFORE, C_STOP, dee, 'L', ok ? 'A' : 'X');

    /* The organiser starts a song in a room nobody leads: she leads it. */
    bbc_singer_mark_start(olga->s);
    pt_round(&P);
    int64_t start = bbc_singer_last_post(olga->s)->read_clock;
    ok = refused_nothing(olga) && leaders(olga, NULL, 6) && until_all(sees_start, &start, NULL, 4);
    CHECK_MSG(ck, ok, "the organiser's start before a song");
    note(BEFORE, C_START, olga, ok ? 'A' : 'X');
    bbc_singer_mark_stop(olga->s);
    pt_round(&P);
    CHECK(ck, leaders(NULL, NULL, 6));

    bbc_singer_request_lead(lena->s);
    pt_round(&P);
    ok = leaders(lena, NULL, 6);
    CHECK_MSG(ck, ok, "a singer's lead of a room nobody leads");
    note_as(BEFORE, C_LEAD, lena, 'S', ok ? 'A' : 'X');
    bbc_singer_mark_stop(lena->s);
    pt_round(&P);
    ok = refused_nothing(lena) && leaders(NULL, NULL, 6);
    CHECK_MSG(ck, ok, "the leader's stop before a song");
    note_as(BEFORE, C_STOP, lena, 'L', ok ? 'A' : 'X');

    bbc_singer_request_lead(lena->s);
    bbc_singer_request_lead(dee->s);
    pt_round(&P);
    CHECK(ck, leaders(lena, dee, 6));
    pt_rounds(&P, 3);

    /* A leader who leads again stays the leader and hands out the buckets
     * again: everyone is told a bucket. */
    int moves[PT_MAX];
    for (int i = 0; i < P.n; i++)
        moves[i] = P.m[i].moves;
    bbc_singer_request_lead(lena->s);
    bbc_singer_request_lead(dee->s);
    pt_round(&P);
    ok = refused_nothing(lena) && refused_nothing(dee) && leaders(lena, dee, 6);
    pt_rounds(&P, 2);
    for (int i = 0; i < P.n; i++)
        CHECK_MSG(ck, P.m[i].moves > moves[i], "%s was not given a bucket by the new lead", P.m[i].name);
    CHECK_MSG(ck, ok, "the leaders' lead again");
    note(BEFORE, C_LEAD, lena, ok ? 'A' : 'X');
    note(BEFORE, C_LEAD, dee, ok ? 'A' : 'X');
    pt_rounds(&P, 2);
    printf("%s: before the song: the organiser led, stopped, started and stopped; the leaders stopped, led and "
           "led again\n", TNAME);
}

/* The leaders start the songs. */

static void step_start_songs(void)
{
    /* The keyed room's leader picks the metronome with the start (the
     * organiser's choice went with her own song). */
    bbc_singer_set_track(lena->s, metronome);
    bbc_singer_mark_start(lena->s);
    bbc_singer_mark_start(dee->s);
    pt_round(&P);
    song[KEYED] = bbc_singer_last_post(lena->s)->read_clock;
    song[DEFLT] = bbc_singer_last_post(dee->s)->read_clock;
    bool ok = refused_nothing(lena) && refused_nothing(dee) &&
              until_all(sees_start, &song[KEYED], &song[DEFLT], 4);
    CHECK_MSG(ck, ok, "the songs did not start at the leaders' read clocks");
    note(BEFORE, C_START, lena, ok ? 'A' : 'X');
    note(BEFORE, C_START, dee, ok ? 'A' : 'X');
    seg_ctl_t ctl;
    for (int r = 0; r < 2; r++) {
        pt_ctl(&P, r, &ctl);
        CHECK_MSG(ck, ctl.song.metronome_on, "room %d: the requested metronome is not on", r);
    }
    printf("%s: the songs started, with the metronome the leaders chose\n", TNAME);
}


/* The organiser takes the lead mid-song: the song, its recording and
 * everyone's bucket go on. */
static void step_organiser_takes_lead(void)
{
    long wav0 = pt_wav_size(&P, KEYED, song[KEYED]);
    int files = pt_wav_count(&P, KEYED);
    int moves[PT_MAX];
    for (int i = 0; i < P.n; i++)
        moves[i] = P.m[i].moves;
    bbc_singer_request_lead(olga->s);
    pt_round(&P);
    bool ok = refused_nothing(olga) && leaders(olga, dee, 6);
    pt_round(&P);
    for (int i = 0; i < P.n; i++) {
        const pt_member_t *m = &P.m[i];
        CHECK_MSG(ck, m->song_start == song[m->room] && m->song_end == 0 && m->moves == moves[i],
                  "%s: song %lld..%lld (was %lld), %d moves (was %d)", m->name, (long long)m->song_start,
                  (long long)m->song_end, (long long)song[m->room], m->moves, moves[i]);
        ok = ok && m->song_start == song[m->room] && m->moves == moves[i];
    }
    long wav1 = pt_wav_size(&P, KEYED, song[KEYED]);
    CHECK_MSG(ck, wav1 > wav0 && pt_wav_count(&P, KEYED) == files, "recording %ld -> %ld bytes, %d -> %d files",
              wav0, wav1, files, pt_wav_count(&P, KEYED));
    note(DURING, C_LEAD, olga, ok && wav1 > wav0 ? 'A' : 'X');
    printf("%s: the organiser took the lead mid-song; the song, its recording and the buckets went on\n", TNAME);
}

/* A leader silent for 5 s no longer leads; a singer then takes the lead
 * mid-song, and the song goes on. */
static void step_silent_leader(void)
{
    /* Each was last heard at the server clock of its last answer. */
    int64_t lo = bbc_singer_meta(olga->s)->server_clock, ld = bbc_singer_meta(dee->s)->server_clock;
    int64_t last = lo > ld ? lo : ld;
    long wav0[2] = {pt_wav_size(&P, KEYED, song[KEYED]), pt_wav_size(&P, DEFLT, song[DEFLT])};
    int files[2] = {pt_wav_count(&P, KEYED), pt_wav_count(&P, DEFLT)};
    olga->paused = dee->paused = true;
    bool freed = leaders(NULL, NULL, 25);
    double after = (double)(pt_now(&P) - last) / RATE;
    CHECK_MSG(ck, freed && after >= 5.0, "the silent leaders' lead was freed after %.1f s (freed %d)", after, freed);
    int moves[PT_MAX];
    for (int i = 0; i < P.n; i++)
        moves[i] = P.m[i].moves;
    bbc_singer_request_lead(sam->s);
    bbc_singer_request_lead(dai->s);
    pt_round(&P);
    bool ok = refused_nothing(sam) && refused_nothing(dai) && leaders(sam, dai, 6);
    pt_round(&P);
    for (int i = 0; i < P.n; i++) {
        const pt_member_t *m = &P.m[i];
        if (m->paused)
            continue;
        bool same = m->song_start == song[m->room] && m->song_end == 0 && m->moves == moves[i];
        CHECK_MSG(ck, same, "%s: song %lld..%lld, %d moves (was %d)", m->name, (long long)m->song_start,
                  (long long)m->song_end, m->moves, moves[i]);
        ok = ok && same;
    }
    for (int r = 0; r < 2; r++) {
        long w = pt_wav_size(&P, r, song[r]);
        CHECK_MSG(ck, w > wav0[r] && pt_wav_count(&P, r) == files[r], "room %d: recording %ld -> %ld bytes, %d -> %d files",
                  r, wav0[r], w, files[r], pt_wav_count(&P, r));
    }
    note_as(DURING, C_LEAD, sam, 'S', ok ? 'A' : 'X');
    note_as(DURING, C_LEAD, dai, 'S', ok ? 'A' : 'X');
    /* Back after the silence: a new connection, as a page reconnects. */
    olga->paused = dee->paused = false;
    bbc_singer_set_offset(olga->s, bbc_singer_offset(olga->s));
    bbc_singer_set_offset(dee->s, bbc_singer_offset(dee->s));
    pt_rounds(&P, 2);
    CHECK_EQ_S(ck, olga->role, "organiser");
    CHECK_EQ_S(ck, dee->role, "singer");
    CHECK(ck, strcmp(olga->leader, sam->pub) == 0 && strcmp(dee->leader, dai->pub) == 0);
    printf("%s: silent for %.1f s, the leaders no longer led; Sam and Dai took the lead mid-song\n", TNAME, after);
}

/* The leaders stop the songs. */
static void step_stop_songs(void)
{
    bbc_singer_mark_stop(sam->s);
    bbc_singer_mark_stop(dai->s);
    pt_round(&P);
    bool ok = refused_nothing(sam) && refused_nothing(dai) && until_all(sees_end, "", "", 4);
    CHECK_MSG(ck, ok, "the songs did not stop");
    note_as(DURING, C_STOP, sam, 'L', ok ? 'A' : 'X');
    note_as(DURING, C_STOP, dai, 'L', ok ? 'A' : 'X');
    pt_rounds(&P, 3);
    printf("%s: the leaders stopped the songs\n", TNAME);
}

/* In a room nobody leads, the first singer to start a song leads it. */
static void step_first_starter_leads(void)
{
    bbc_singer_mark_start(tom->s);
    bbc_singer_mark_start(dot->s);
    pt_round(&P);
    int64_t start[2] = {bbc_singer_last_post(tom->s)->read_clock, bbc_singer_last_post(dot->s)->read_clock};
    bool ok = refused_nothing(tom) && refused_nothing(dot) && leaders(tom, dot, 6) &&
              until_all(sees_start, &start[KEYED], &start[DEFLT], 4);
    CHECK_MSG(ck, ok, "the first starters did not lead the new songs");
    note_as(DURING, C_START, tom, 'S', ok ? 'A' : 'X');
    note_as(DURING, C_START, dot, 'S', ok ? 'A' : 'X');
    CHECK(ck, start[KEYED] > song[KEYED] && start[DEFLT] > song[DEFLT]);
    song[KEYED] = start[KEYED];
    song[DEFLT] = start[DEFLT];
    pt_rounds(&P, 3);    /* the new lead's buckets */
    printf("%s: Tom and Dot started songs in rooms nobody led, and lead them\n", TNAME);
}

/* Mean (or max) of a metered tone over the frames heard in [from, to). */
static double heard(const pt_meter_t *mt, int k, int64_t from, int64_t to, bool max, int *frames)
{
    double sum = 0, top = 0;
    int n = 0;
    for (int i = 0; i < mt->n; i++)
        if (mt->clock[i] >= from && mt->clock[i] + BBC_FRAME <= to) {
            sum += mt->amp[i][k];
            top = mt->amp[i][k] > top ? mt->amp[i][k] : top;
            n++;
        }
    *frames = n;
    return max ? top : n ? sum / n : 0;
}

/* A listener's voice does not reach a later singer, and leaves the
 * others' level as it was; a singer's voice at the same pitch and level
 * does reach it. */
static void step_listener_not_in_mix(void)
{
    const int64_t W = 2 * RATE;     /* each window */
    const int FX = 700;             /* the pitch both Liv and Olga sing */
    /* Everyone in the keyed room starts over at its own bucket, as a page
     * reconnects, so that all write at their bucket's distance from the
     * server's clock of now.  On a busy machine the rounds may have fallen
     * behind real time, and each singer's writes with them (a reconnected
     * one's less); a singer whose writes trail by more than 3 s behind its
     * bucket would write after Sam had already heard that moment. */
    char trail[256] = "";
    for (int i = 0; i < P.n; i++) {
        pt_member_t *m = &P.m[i];
        if (m->room != KEYED || m == sam)
            continue;
        int64_t wrote = bbc_singer_last_post(m->s)->write_clock;
        double behind = (double)(bbc_singer_meta(m->s)->server_clock - wrote) / RATE;
        snprintf(trail + strlen(trail), sizeof trail - strlen(trail), "%s%s %.1f s (bucket %d s)",
                 trail[0] ? ", " : "", m->name, behind, bbc_singer_offset(m->s));
        bbc_singer_set_offset(m->s, bbc_singer_offset(m->s));
    }
    printf("%s: the keyed room's singers wrote behind the server's clock by: %s; they start over\n", TNAME, trail);
    /* Sam listens behind the last bucket, where everyone has sung. */
    bbc_singer_set_offset(sam->s, 12);
    pt_meter_t *mt = calloc(1, sizeof *mt);
    if (!mt) {
        CHECK(ck, mt != NULL);
        return;
    }
    mt->hz[0] = FX;
    mt->hz[1] = lena->hz;
    sam->meter = mt;
    /* Timeline windows everyone will write later: [T, T+W) Liv alone,
     * [T+W, T+2W) Olga alone at Liv's pitch, [T+2W, T+4W) Lena, joined by
     * Liv over the last W. */
    int64_t T = (pt_now(&P) + RATE) / BBC_FRAME * BBC_FRAME + BBC_FRAME;
    for (int i = 0; i < P.n; i++)
        if (P.m[i].room == KEYED)
            P.m[i].sings = false;
    liv->solo_hz = olga->solo_hz = FX;
    lena->solo_hz = lena->hz;
    liv->solo[0].from = T;
    liv->solo[0].to = T + W;
    liv->solo[1].from = T + 3 * W;
    liv->solo[1].to = T + 4 * W;
    olga->solo[0].from = T + W;
    olga->solo[0].to = T + 2 * W;
    lena->solo[0].from = T + 2 * W;
    lena->solo[0].to = T + 4 * W;
    int rounds = 0;
    while (rounds++ < 60 && (mt->n == 0 || mt->clock[mt->n - 1] < T + 4 * W + 2 * BBC_FRAME))
        pt_round(&P);
    CHECK_MSG(ck, rounds < 60, "Sam did not hear the whole test within 36 s");
    /* What a write [a, b) sounds like at a later listener: the tone over
     * [a + 624, b + 312) (two Opus lookaheads); a frame of margin. */
    const int64_t m0 = 624 + BBC_FRAME, m1 = BBC_FRAME;
    int n1, n2, n3, n4, n5;
    double liv_alone = heard(mt, 0, T + m0, T + W - m1, true, &n1);
    double olga_alone = heard(mt, 0, T + W + m0, T + 2 * W - m1, false, &n2);
    double lena_only = heard(mt, 1, T + 2 * W + m0, T + 3 * W - m1, false, &n3);
    double lena_with_liv = heard(mt, 1, T + 3 * W + m0, T + 4 * W - m1, false, &n4);
    double liv_with_lena = heard(mt, 0, T + 3 * W + m0, T + 4 * W - m1, true, &n5);
    int n6;
    double codec_noise = heard(mt, 0, T + 2 * W + m0, T + 3 * W - m1, true, &n6);
    printf("%s: a later singer heard: the listener's tone alone %.2g (%.1f dBFS, %d frames); a singer's at the "
           "same pitch %.3f (%d frames); the leader's %.4f without the listener and %.4f with her (%d/%d "
           "frames), the listener's tone then %.2g (at her pitch without her: %.2g)\n",
           TNAME, liv_alone, 20 * log10(liv_alone > 1e-12 ? liv_alone : 1e-12), n1, olga_alone, n2, lena_only,
           lena_with_liv, n3, n4, liv_with_lena, codec_noise);
    CHECK(ck, n1 >= 20 && n2 >= 20 && n3 >= 20 && n4 >= 20);
    CHECK_MSG(ck, liv_alone < MINUS_90_DBFS, "the listener's tone reached the mix: %.3g", liv_alone);
    /* Beside the leader's tone, the codec's own noise at the listener's
     * pitch is about -85 dBFS whether she sings or not; her tone in the
     * mix would be near -18 dBFS.  -60 dBFS tells the two apart. */
    CHECK_MSG(ck, liv_with_lena < 1e-3 && codec_noise < 1e-3, "the listener's tone beside the leader's: %.3g",
              liv_with_lena);
    CHECK(ck, bbc_meta_was_refused(bbc_singer_meta(liv->s), not_sung()));
    CHECK_MSG(ck, olga_alone > 0.05, "a singer's tone at the listener's pitch was not heard: %.3g", olga_alone);
    CHECK_MSG(ck, lena_only > 0.05 && fabs(lena_with_liv / lena_only - 1) < 0.03,
              "the leader's level changed with the listener singing: %.4f -> %.4f", lena_only, lena_with_liv);
}

/* Mid-song: the leader may start again (the song restarts at its read
 * clock) or lead again (a new lead: the song is over, everyone gets a
 * bucket); the organiser may start, taking the lead with it, and stop. */
static void step_leaders_mid_song(void)
{
    bbc_singer_mark_start(tom->s);
    bbc_singer_mark_start(dot->s);
    pt_round(&P);
    int64_t s1[2] = {bbc_singer_last_post(tom->s)->read_clock, bbc_singer_last_post(dot->s)->read_clock};
    bool ok = refused_nothing(tom) && refused_nothing(dot) && until_all(sees_start, &s1[KEYED], &s1[DEFLT], 4) &&
              leaders(tom, dot, 2);
    CHECK_MSG(ck, ok, "the leaders' start mid-song");
    note(DURING, C_START, tom, ok ? 'A' : 'X');
    note(DURING, C_START, dot, ok ? 'A' : 'X');

    int moves[PT_MAX];
    for (int i = 0; i < P.n; i++)
        moves[i] = P.m[i].moves;
    bbc_singer_request_lead(tom->s);
    bbc_singer_request_lead(dot->s);
    pt_round(&P);
    int64_t none = 0;
    ok = refused_nothing(tom) && refused_nothing(dot) && until_all(sees_start, &none, &none, 4) &&
         leaders(tom, dot, 2);
    pt_rounds(&P, 2);
    for (int i = 0; i < P.n; i++)
        CHECK_MSG(ck, P.m[i].moves > moves[i], "%s was not given a bucket by the new lead", P.m[i].name);
    CHECK_MSG(ck, ok, "the leaders' lead mid-song");
    note(DURING, C_LEAD, tom, ok ? 'A' : 'X');
    note(DURING, C_LEAD, dot, ok ? 'A' : 'X');

    bbc_singer_mark_start(tom->s);
    pt_round(&P);
    int64_t s2 = bbc_singer_last_post(tom->s)->read_clock;
    CHECK(ck, until_all(sees_start, &s2, NULL, 4));
    bbc_singer_mark_start(olga->s);
    pt_round(&P);
    int64_t s3 = bbc_singer_last_post(olga->s)->read_clock;
    ok = refused_nothing(olga) && until_all(sees_start, &s3, NULL, 4) && leaders(olga, dot, 2);
    CHECK_MSG(ck, ok, "the organiser's start mid-song");
    note(DURING, C_START, olga, ok ? 'A' : 'X');
    bbc_singer_mark_stop(olga->s);
    pt_round(&P);
    ok = refused_nothing(olga) && until_all(sees_end, "", NULL, 4);
    CHECK_MSG(ck, ok, "the organiser's stop mid-song");
    note(DURING, C_STOP, olga, ok ? 'A' : 'X');
    printf("%s: mid-song, the leaders started again and led again; the organiser started and stopped\n", TNAME);
}

/* Nobody's exchange failed, and the table of what was verified. */
static void step_report(void)
{
    for (int i = 0; i < P.n; i++)
        CHECK_MSG(ck, P.m[i].failures == 0, "%s: %d failed exchanges", P.m[i].name, P.m[i].failures);
    /* No refused upload left a file behind, which a later scan (after the
     * uploads that were allowed) would have listed: each room's folder
     * holds exactly the uploads that were allowed, the organiser's and
     * the leader's in the keyed room, the leader's in the default room,
     * before the song and during it. */
    for (int r = 0; r < 2; r++) {
        char audio[400];
        snprintf(audio, sizeof audio, "%s/audio/rooms/%s", fs_dir(fs), r == KEYED ? room.id : HS_DEFAULT_ID);
        DIR *d = opendir(audio);
        int uploaded = 0, refused = 0;
        struct dirent *e;
        while (d && (e = readdir(d))) {
            uploaded += e->d_name[0] != '.';
            refused += strncmp(e->d_name, "refused-", 8) == 0;
        }
        if (d)
            closedir(d);
        CHECK_MSG(ck, d && uploaded == (r == KEYED ? 4 : 2) && refused == 0,
                  "%s: %d files uploaded, %d of them refused", audio, uploaded, refused);
    }
    for (int i = 0; i < P.n; i++)
        CHECK_MSG(ck, !pt_tracks_have(&P.m[i], "refused-"), "%s lists a refused upload", P.m[i].name);
    const char *heads[NCOLS] = {"organiser", "leader", "singer",      "listener",
                                "dflt leader", "dflt singer", "no key", "wrong key"};
    printf("%s: A applied, R refused and nothing changed, X failed, . not asked.  A singer's lead\n"
           "  and start apply in a room nobody leads; a track during a song is accepted and waits for\n"
           "  the next song (PROTOCOL.md quirk 28); reset_events in the default room is anyone's (the\n"
           "  original client sends it without a userid).\n", TNAME);
    for (int ph = 0; ph < 2; ph++) {
        printf("%-23s", ph == BEFORE ? "before a song" : "during a song");
        for (int j = 0; j < NCOLS; j++)
            printf(" %11s", heads[j]);
        printf("\n");
        for (int c = 0; c < NCTL; c++) {
            printf("  %-21s", CTL[c].name);
            for (int j = 0; j < NCOLS; j++) {
                unsigned v = verified[ph][c][j];
                char cell[8];
                snprintf(cell, sizeof cell, "%s%s%s%s", v & V_X ? "X" : "", v & V_R ? "R" : "",
                         (v & V_R) && (v & V_A) ? "," : "", v & V_A ? "A" : "");
                printf(" %11s", v ? cell : ".");
            }
            printf("\n");
        }
    }
}

/* Runs one step and says how long it took. */
#define STEP(call)                                                                                 \
    do {                                                                                           \
        long long t0_ = fs_now_ns();                                                               \
        int r0_ = P.rounds;                                                                        \
        call;                                                                                      \
        printf("%s: [%s: %d rounds, %.1f s]\n", TNAME, #call, P.rounds - r0_,                       \
               (double)(fs_now_ns() - t0_) / 1e9);                                                 \
    } while (0)

int main(int argc, char **argv)
{
    int rc = step_setup(argc, argv);
    if (rc != 0) {
        fs_dump_logs(fs, 30);
        pt_stranger_free(&nia);
        pt_stranger_free(&wes);
        pt_free(&P);
        fs_stop(fs);
        return rc;
    }
    STEP(step_join());
    STEP(step_strangers_knock());
    STEP(step_singers_lead_free_rooms());
    STEP(step_refused(BEFORE));
    STEP(step_everyone(BEFORE));
    STEP(step_leader_controls(BEFORE));
    STEP(step_organiser_controls(BEFORE));
    STEP(step_lead_and_stop_before());
    STEP(step_start_songs());
    STEP(step_everyone(DURING));
    STEP(step_leader_controls(DURING));
    STEP(step_refused(DURING));
    STEP(step_organiser_controls(DURING));
    STEP(step_organiser_takes_lead());
    STEP(step_silent_leader());
    STEP(step_stop_songs());
    STEP(step_first_starter_leads());
    STEP(step_listener_not_in_mix());
    STEP(step_leaders_mid_song());
    STEP(step_report());
    if (ck.failed)
        fs_dump_logs(fs, 40);
    pt_stranger_free(&nia);
    pt_stranger_free(&wes);
    pt_free(&P);
    fs_stop(fs);
    return check_done(&ck, TNAME);
}
