/*
 * test_moderate.c - the organiser removes a singer from the room, lets
 * them back in, and appoints the leader, through the real stack (the
 * daemon with a rooms database, two workers, nginx).
 *
 * In a keyed room: Olga holds the organiser link, Lena, Sam and Tom sing,
 * Liv listens; all of them protocol clients through nginx, sung in
 * lockstep by this thread (party.h), each with a tone of its own.
 *
 *   1. A singer and a listener asking to remove, let back or appoint are
 *      refused with the role's sentence, and nothing changes.
 *   2. Olga starts a song (voices go into the mix during a song), then
 *      removes Sam: his next POST is a 403 with kill_client and "The
 *      organiser removed you from this room", and so is every other
 *      endpoint asked with his userid (probe, reset_events, upload, room,
 *      room/link, room/cap, recordings, recording, recording/delete, words,
 *      words/cue); he leaves Olga's people list and levels at once, and his
 *      voice leaves the mix (the count of voices in the mix ring after the
 *      removal is one less than before, Sam's being the one gone).  Olga's
 *      answers list him under "removed".
 *   3. The daemon is killed with -9 and restarted: Sam is still removed.
 *   4. Olga lets him back in: he sings again, in the mix again.
 *   5. Olga appoints Lena (on the other worker) mid-song: Lena
 *      leads, the song goes on from the same start; appointing a listener
 *      is refused with a sentence.
 *      Olga then removes Lena: nobody leads, the song goes on; she lets
 *      her back in.
 *   6. A flood of removes: 33 more singers join and Olga removes them one
 *      a round; the list holds 32 (SEG_REMOVED_MAX) and the 33rd remove is
 *      refused with the sentence saying the list is full, that singer
 *      still getting in.
 *
 * Every wait is a bounded number of 600 ms rounds.
 *
 * usage: test_moderate BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accum.h"
#include "check.h"
#include "fstack.h"
#include "party.h"
#include "removed.h"
#include "roles.h"
#include "timeline.h"

#define TNAME "test_moderate"
#define RATE 48000
#define REMOVED "The organiser removed you from this room"
#define FLOOD (SEG_REMOVED_MAX + 1)

enum { KEYED = 0 };

static check_t ck;
static fs_t *fs;
static pt_party_t P;
static fs_room_t room;
static pt_member_t *olga, *lena, *sam, *tom, *liv;

/* ---- helpers ------------------------------------------------------------- */

/* Whether m's last answer refused with exactly this sentence. */
static bool refused_with(const pt_member_t *m, const char *why)
{
    return bbc_meta_was_refused(bbc_singer_meta(m->s), why);
}

/* Whether the organiser's last answer lists public id `pub` under
 * "removed", and how many it lists (*n). */
static bool listed_removed(const pt_member_t *o, const char *pub, int *n)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(bbc_singer_meta(o->s)->root, "removed");
    if (n)
        *n = cJSON_IsArray(r) ? cJSON_GetArraySize(r) : -1;
    const cJSON *row;
    cJSON_ArrayForEach(row, r)
    {
        const cJSON *id = cJSON_GetArrayItem(row, 0);
        if (cJSON_IsString(id) && strcmp(id->valuestring, pub) == 0)
            return true;
    }
    return false;
}

/* Whether o's last answer has a level row for public id `pub`. */
static bool has_level(const pt_member_t *o, const char *pub)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(bbc_singer_meta(o->s)->root, "levels");
    const cJSON *row;
    cJSON_ArrayForEach(row, l)
    {
        const cJSON *id = cJSON_GetArrayItem(row, 0);
        if (cJSON_IsString(id) && strcmp(id->valuestring, pub) == 0)
            return true;
    }
    return false;
}

/* The most voices counted in the mix ring over one second from clock c. */
static int voices_at(int64_t c)
{
    static int64_t cells[RATE];
    tl_read_cells(P.rooms[KEYED].seg, c, RATE, cells);
    int most = 0;
    for (int i = 0; i < RATE; i++) {
        int k = acc_count(cells[i]);
        most = k > most ? k : most;
    }
    return most;
}

/* Rounds until every singer has written past clock c (their offsets are
 * a few seconds; 20 s is plenty). */
static void rounds_past(int64_t c)
{
    int most = 0;
    for (int i = 0; i < P.n; i++) {
        int o = bbc_singer_offset(P.m[i].s);
        most = o > most ? o : most;
    }
    for (int i = 0; i < 60 && pt_now(&P) < c + (int64_t)(most + 4) * RATE; i++)
        pt_round(&P);
}

static bool sam_refused(pt_party_t *p, void *arg)
{
    (void)p;
    (void)arg;
    return strstr(bbc_singer_error(sam->s), REMOVED) != NULL;
}

static bool sam_gone_for_olga(pt_party_t *p, void *arg)
{
    (void)p;
    (void)arg;
    return pt_mic_seen(olga, sam) < 0 && !has_level(olga, sam->pub) && listed_removed(olga, sam->pub, NULL);
}

/* ---- steps --------------------------------------------------------------- */

static int step_setup(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s BB_SHMD BB_WORKER SOURCE_DIR\n", argv[0]);
        return 2;
    }
    fs_config_t fc = {.shmd = argv[1], .worker = argv[2], .src = argv[3], .n_workers = 2, .depth = 4,
                      .sockets = FS_LISTEN, .name = "moderate", .rooms = true};
    fs = fs_start(&fc);
    if (!fs)
        return 1;
    P.fs = fs;
    P.ck = &ck;
    P.tname = TNAME;
    if (fs_room_create(fs, "Moderated choir", 0, &room) != 0 || pt_room_add(&P, &room) != KEYED)
        return 1;
    olga = pt_member_add(&P, "Olga", KEYED, true, false, 250, 1, 1001);
    lena = pt_member_add(&P, "Lena", KEYED, false, false, 350, 2, 1002);
    sam = pt_member_add(&P, "Sam", KEYED, false, false, 450, 1, 1003);
    tom = pt_member_add(&P, "Tom", KEYED, false, false, 650, 2, 1004);
    liv = pt_member_add(&P, "Liv", KEYED, false, true, 550, 1, 1005);
    if (!olga || !lena || !sam || !tom || !liv)
        return 1;
    pt_rounds(&P, 4);
    for (int i = 0; i < P.n; i++)
        CHECK_MSG(ck, P.m[i].failures == 0 && P.m[i].pub[0], "%s: %d failures", P.m[i].name, P.m[i].failures);
    return 0;
}

/* 1. Nobody but the organiser removes, lets back or appoints. */
static void step_not_theirs(void)
{
    role_who_t singer = {.room_has_leader = false};
    const char *no_remove = role_refusal(&singer, ROLE_ACT_REMOVE);
    const char *no_appoint = role_refusal(&singer, ROLE_ACT_APPOINT);
    bbc_singer_param(lena->s, "remove", tom->pub);
    bbc_singer_param(tom->s, "appoint", tom->pub);
    bbc_singer_param(liv->s, "let_back", tom->pub);
    pt_round(&P);
    CHECK_MSG(ck, refused_with(lena, no_remove), "a singer's remove: not refused with \"%s\"", no_remove);
    CHECK_MSG(ck, refused_with(tom, no_appoint), "a singer's appoint: not refused with \"%s\"", no_appoint);
    CHECK_MSG(ck, refused_with(liv, no_remove), "a listener's let_back: not refused with \"%s\"", no_remove);
    pt_rounds(&P, 2);
    CHECK_MSG(ck, tom->failures == 0 && pt_mic_seen(olga, tom) >= 0 && tom->leader[0] == '\0',
              "Tom: %d failures, in Olga's list: %d, leader \"%s\"", tom->failures, pt_mic_seen(olga, tom) >= 0,
              tom->leader);
    int n = -1;
    listed_removed(olga, "", &n);
    CHECK_MSG(ck, n == 0, "Olga's removed list has %d singers", n);
    /* The organiser cannot remove herself. */
    bbc_singer_param(olga->s, "remove", olga->pub);
    pt_round(&P);
    CHECK(ck, refused_with(olga, "you cannot remove yourself from the room"));
}

/* Every endpoint, asked with Sam's userid and the singers' key, is a 403
 * with the removed sentence. */
static void every_endpoint_refuses_sam(void)
{
    static const struct {
        const char *method, *path, *name, *value;
    } ep[] = {
        {"GET", "/api", NULL, NULL},
        {"POST", "/api/reset_events", NULL, NULL},
        {"POST", "/api/upload", "name", "x.wav"},
        {"GET", "/api/room", NULL, NULL},
        {"POST", "/api/room/link", "which", "singers"},
        {"POST", "/api/room/cap", "max_singers", "3"},
        {"GET", "/api/recordings", NULL, NULL},
        {"GET", "/api/recording", "file", "x.wav"},
        {"POST", "/api/recording/delete", "song", "2026-01-01-000000"},
        {"GET", "/api/words", NULL, NULL},
        {"POST", "/api/words", NULL, NULL},
        {"POST", "/api/words/cue", "line", "1"},
    };
    for (size_t i = 0; i < sizeof ep / sizeof ep[0]; i++) {
        char body[1024] = "";
        int status = -1;
        bool post = strcmp(ep[i].method, "POST") == 0;
        fs_request(fs, ep[i].method, ep[i].path, pt_query(&P, sam, ep[i].name, ep[i].value), post ? "x" : NULL,
                   post ? 1 : 0, &status, body, sizeof body);
        CHECK_MSG(ck, status == 403 && strstr(body, REMOVED), "%s %s for Sam: %d %s", ep[i].method, ep[i].path,
                  status, body);
    }
}

/* Olga leads and starts a song: voices go into the mix during a song. */
static int64_t the_start;
static void step_start_song(void)
{
    bbc_singer_request_lead(olga->s);
    pt_round(&P);
    bbc_singer_mark_start(olga->s);
    pt_rounds(&P, 3);
    the_start = lena->song_start;
    CHECK_MSG(ck, the_start != 0 && pt_leads(olga), "the song did not start (start %lld, Olga leads %d)",
              (long long)the_start, pt_leads(olga));
}

/* 2. Olga removes Sam. */
static int64_t removed_at;
static void step_remove(void)
{
    /* All four singers are in the mix now. */
    int64_t before = pt_now(&P) + RATE;
    rounds_past(before);
    int v_before = voices_at(before);
    CHECK_MSG(ck, v_before == 4, "voices in the mix before the removal: %d (want 4)", v_before);

    bbc_singer_param(olga->s, "remove", sam->pub);
    pt_round(&P);
    removed_at = pt_now(&P);
    CHECK_MSG(ck, pt_until(&P, sam_refused, NULL, 3), "Sam's POST was not refused: %s", bbc_singer_error(sam->s));
    const resp_t *r = bbc_singer_response(sam->s);
    CHECK_MSG(ck, r->status == 403 && bbc_singer_meta(sam->s)->kill_client, "Sam's POST: %d, kill_client %d",
              r->status, bbc_singer_meta(sam->s)->kill_client);
    CHECK_MSG(ck, pt_until(&P, sam_gone_for_olga, NULL, 2),
              "Olga still sees Sam (people %d, levels %d) or does not list him removed (%d)",
              pt_mic_seen(olga, sam) >= 0, has_level(olga, sam->pub), listed_removed(olga, sam->pub, NULL));
    every_endpoint_refuses_sam();
    /* The others are untouched. */
    CHECK_MSG(ck, pt_mic_seen(olga, lena) >= 0 && pt_mic_seen(olga, tom) >= 0, "Olga lost Lena or Tom");

    /* Sam's voice is out of the mix: one voice less after the removal. */
    int64_t after = removed_at + RATE;
    rounds_past(after);
    int v_after = voices_at(after);
    CHECK_MSG(ck, v_after == 3, "voices in the mix after the removal: %d (want 3)", v_after);
    /* The daemon logged it with public ids only. */
    CHECK(ck, fs_log_count(fs, "shmd", "removed from the room by the organiser") == 1);
    CHECK(ck, fs_log_count(fs, "shmd", sam->userid) == 0);
}

/* 3. The list is in the segment: a daemon killed with -9 finds it. */
static void step_daemon_kill(void)
{
    CHECK(ck, fs_signal_daemon(fs, SIGKILL) == 0);
    CHECK(ck, fs_start_daemon(fs) == 0);
    pt_rounds(&P, 3);
    CHECK(ck, fs_log_count(fs, "shmd", "restored 1 removed singers") == 1);
    int status = -1;
    char body[512] = "";
    fs_request(fs, "GET", "/api", pt_query(&P, sam, NULL, NULL), NULL, 0, &status, body, sizeof body);
    CHECK_MSG(ck, status == 403 && strstr(body, REMOVED), "Sam's probe after the restart: %d %s", status, body);
    CHECK(ck, listed_removed(olga, sam->pub, NULL));
}

static bool sam_back(pt_party_t *p, void *arg)
{
    (void)p;
    (void)arg;
    return strcmp(bbc_singer_meta(sam->s)->public_id, sam->pub) == 0 &&
           bbc_singer_response(sam->s)->status == 200 && pt_mic_seen(olga, sam) >= 0;
}

/* 4. Olga lets him back in. */
static void step_let_back(void)
{
    bbc_singer_param(olga->s, "let_back", sam->pub);
    pt_round(&P);
    int64_t back = pt_now(&P);
    CHECK_MSG(ck, pt_until(&P, sam_back, NULL, 8), "Sam is not back: %s", bbc_singer_error(sam->s));
    int n = -1;
    CHECK(ck, !listed_removed(olga, sam->pub, &n) && n == 0);
    int64_t c = back + 2 * RATE;
    rounds_past(c);
    int v = voices_at(c);
    CHECK_MSG(ck, v == 4, "voices in the mix after letting Sam back: %d (want 4)", v);
}

static bool lena_leads(pt_party_t *p, void *arg)
{
    (void)p;
    (void)arg;
    return pt_leads(lena) && strcmp(lena->role, "leader") == 0;
}

/* 5. Olga appoints Lena mid-song. */
static void step_appoint(void)
{
    int64_t start = the_start;
    CHECK(ck, pt_leads(olga) && lena->song_start == start);
    int moves = lena->moves + sam->moves + tom->moves;
    bbc_singer_param(olga->s, "appoint", lena->pub);
    CHECK_MSG(ck, pt_until(&P, lena_leads, NULL, 3), "Lena does not lead: role %s, leader %s", lena->role,
              lena->leader);
    CHECK_MSG(ck, lena->song_start == start && tom->song_start == start && lena->song_end == 0,
              "the song did not go on: start %lld -> %lld, end %lld", (long long)start,
              (long long)lena->song_start, (long long)lena->song_end);
    CHECK_MSG(ck, lena->moves + sam->moves + tom->moves == moves, "someone was moved by the appointment");
    CHECK(ck, strcmp(olga->role, "organiser") == 0 && strcmp(tom->role, "singer") == 0);
    CHECK(ck, fs_log_count(fs, "shmd", "appointed the leader by the organiser") == 1);
    /* A listener cannot be appointed. */
    bbc_singer_param(olga->s, "appoint", liv->pub);
    pt_round(&P);
    CHECK(ck, refused_with(olga, "a listener cannot lead: only a singer can be appointed the leader"));
    pt_round(&P);
    CHECK(ck, pt_leads(lena));
}

static bool nobody_leads(pt_party_t *p, void *arg)
{
    (void)p;
    (void)arg;
    return tom->leader[0] == '\0' && olga->leader[0] == '\0' && strstr(bbc_singer_error(lena->s), REMOVED);
}

static bool lena_back(pt_party_t *p, void *arg)
{
    (void)p;
    (void)arg;
    return bbc_singer_response(lena->s)->status == 200 && pt_mic_seen(olga, lena) >= 0;
}

/* Removing the leader ends her lead; the song goes on without one. */
static void step_remove_leader(void)
{
    int64_t start = the_start;
    bbc_singer_param(olga->s, "remove", lena->pub);
    CHECK_MSG(ck, pt_until(&P, nobody_leads, NULL, 4), "after removing the leader: Tom sees leader \"%s\", Lena: %s",
              tom->leader, bbc_singer_error(lena->s));
    CHECK_MSG(ck, tom->song_start == start && tom->song_end == 0, "the song did not go on: start %lld, end %lld",
              (long long)tom->song_start, (long long)tom->song_end);
    bbc_singer_param(olga->s, "let_back", lena->pub);
    CHECK_MSG(ck, pt_until(&P, lena_back, NULL, 8), "Lena is not back: %s", bbc_singer_error(lena->s));
    CHECK(ck, !pt_leads(lena));
}

/* 6. A flood of removes: the list holds SEG_REMOVED_MAX. */
static void step_flood(void)
{
    static char pubs[FLOOD][64];
    static pt_member_t f;
    char name[16];
    for (int i = 0; i < FLOOD; i++) {
        snprintf(name, sizeof name, "F%02d", i);
        if (pt_stranger_init(&P, &f, name, KEYED, room.singer_key, 800, 1 + i % 2, 5000 + (unsigned)i) != 0) {
            CHECK_MSG(ck, false, "flood singer %d", i);
            return;
        }
        int rc = bbc_connect(f.s);
        if (rc == BBC_OK)
            rc = bbc_exchange_batch(f.s, NULL, f.rx);
        snprintf(pubs[i], sizeof pubs[i], "%s", rc == BBC_OK ? bbc_singer_meta(f.s)->public_id : "");
        CHECK_MSG(ck, rc == BBC_OK && pubs[i][0], "flood singer %d did not get in: %s", i, bbc_singer_error(f.s));
        pt_stranger_free(&f);
    }
    const char *full = "the list of removed singers is full (32): let someone back in first, or replace the "
                       "singers' link";
    for (int i = 0; i < FLOOD; i++) {
        bbc_singer_param(olga->s, "remove", pubs[i]);
        pt_round(&P);
        if (i < SEG_REMOVED_MAX)
            CHECK_MSG(ck, bbc_meta_refused_count(bbc_singer_meta(olga->s)) == 0, "remove %d refused: %s", i,
                      bbc_meta_refused(bbc_singer_meta(olga->s), 0));
    }
    CHECK_MSG(ck, refused_with(olga, full), "the remove beyond the bound was not refused with \"%s\"", full);
    pt_round(&P);
    int n = -1;
    listed_removed(olga, "", &n);
    uint32_t held = rmv_count(P.rooms[KEYED].seg);
    CHECK_MSG(ck, n == SEG_REMOVED_MAX && held == SEG_REMOVED_MAX, "list: %d in Olga's answer, %u in the segment",
              n, held);
    /* The last flood singer is still let in, the first is not. */
    char body[512];
    int status = -1;
    for (int k = 0; k < 2; k++) {
        int i = k == 0 ? FLOOD - 1 : 0;
        snprintf(name, sizeof name, "F%02d", i);
        if (pt_stranger_init(&P, &f, name, KEYED, room.singer_key, 800, 1 + i % 2, 5000 + (unsigned)i) != 0)
            continue;
        fs_request(fs, "GET", "/api/room", pt_query(&P, &f, NULL, NULL), NULL, 0, &status, body, sizeof body);
        CHECK_MSG(ck, k == 0 ? status == 200 : status == 403 && strstr(body, REMOVED) != NULL,
                  "flood singer %d after the flood: %d %s", i, status, body);
        pt_stranger_free(&f);
    }
}

#define STEP(call)                                                                                 \
    do {                                                                                           \
        long long t0_ = fs_now_ns();                                                               \
        int r0_ = P.rounds;                                                                        \
        call;                                                                                      \
        printf("%s: [%s: %d rounds, %.1f s]\n", TNAME, #call, P.rounds - r0_,                       \
               (double)(fs_now_ns() - t0_) / 1e9);                                                 \
        fflush(stdout);                                                                            \
    } while (0)

int main(int argc, char **argv)
{
    int rc = step_setup(argc, argv);
    if (rc != 0) {
        fs_dump_logs(fs, 30);
        pt_free(&P);
        fs_stop(fs);
        return rc;
    }
    STEP(step_not_theirs());
    STEP(step_start_song());
    STEP(step_remove());
    STEP(step_daemon_kill());
    STEP(step_let_back());
    STEP(step_appoint());
    STEP(step_remove_leader());
    STEP(step_flood());
    if (ck.failed)
        fs_dump_logs(fs, 40);
    pt_free(&P);
    fs_stop(fs);
    return check_done(&ck, TNAME);
}
