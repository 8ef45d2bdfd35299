/*
 * test_security.c - no one can learn another singer's userid, take over
 * another singer, or put markup or unbounded text in front of others.
 *
 * A song through real nginx and two workers: Lea (3 s) leads, Ann (6 s)
 * and Bob (9 s) sing; three listeners have names chosen to hurt: markup
 * with quotes, 100 ASCII characters, 40 accented characters (80 bytes of
 * UTF-8); one has a name of exactly 40 characters.  Asserted:
 *
 *   - userids stay secret: no answer to any voice (headers or body, probes
 *     and POSTs) ever carries another voice's userid; the summary and the
 *     leader field show public ids; metrics and the profile (each worker's
 *     operator socket, not the site) and everything in the recordings directory (listing,
 *     project, file names and contents) carry no userid;
 *   - a public id is no key: Mal, who uses Lea's public id as a userid, is
 *     a different singer with a public id of its own; as a non-leader, Mal's
 *     stop is ignored and the song goes on; Lea never sees an error;
 *   - names are bounded for display: 63 bytes at the most, cut on a
 *     character boundary (100 ASCII characters show as 63, 40 accented ones
 *     as 31); a 40-character name shows whole; markup comes back as the same
 *     text, as JSON data in an ASCII-only header (non-ASCII as \uXXXX);
 *   - chats arrive as sent, markup included, as data; 500 bytes pass.
 *
 * Covered elsewhere, not repeated here: longer names (2000 bytes) and chats
 * (501 bytes) are refused with a 400 (tests/faults/test_bad_input.sh); the
 * web client renders names and chats as text, never markup
 * (tests/browser/e2e.test.js, the NASTY chat and name); the site has no
 * location for metrics and profiling, and the per-address rate limit
 * answers 429 (tests/deploy/test_nginx_site.sh);
 * the systemd units' sandboxing (tests/deploy/test_systemd_units.sh,
 * scores in README.md).
 *
 * usage: test_security BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftest.h"

#define NV 7
#define TNAME "security"

static const char *NASTY = "<img src=x onerror=\"window.__xss=1\"><b>bold</b> & \"quotes\"";

/* Whether file `path` contains any of the n strings. */
static const char *file_has(const char *path, char ids[][24], int n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t len, carry = 0;
    const char *hit = NULL;
    while (!hit && (len = fread(buf + carry, 1, sizeof buf - carry, f)) > 0) {
        len += carry;
        for (int i = 0; i < n && !hit; i++)
            if (memmem(buf, len, ids[i], strlen(ids[i])))
                hit = ids[i];
        carry = len > 32 ? 32 : len;
        memmove(buf, buf + len - carry, carry);
    }
    fclose(f);
    return hit;
}

/* GET path through nginx from loopback; the body into out (cap). */
static int get_text(const char *http, const char *path, char *out, size_t cap)
{
    bbc_addr_t a;
    if (bbc_addr_parse(http, BBC_HTTP, &a) != 0)
        return -1;
    bbc_conn_t *cn = bbc_conn_new(&a, NULL);
    bbc_request_t rq = {"GET", path, NULL, NULL, NULL, NULL, 0};
    resp_t r;
    resp_init(&r);
    int st = -1;
    if (cn && bbc_exchange(cn, &rq, &r, 5000) == 0) {
        st = r.status;
        size_t n = r.body.len < cap - 1 ? r.body.len : cap - 1;
        memcpy(out, r.body.data, n);
        out[n] = '\0';
    }
    resp_free(&r);
    bbc_conn_destroy(cn);
    return st;
}

/* The names of the voices: markup, 100 'L's, 40 accented letters (80
 * bytes), exactly 40 characters; and a chat of the longest size. */
static char long_name[101], accents[81], forty[41], c500[501];

static void make_names(void)
{
    memset(long_name, 'L', 100);
    long_name[100] = '\0';
    for (int i = 0; i < 40; i++)
        memcpy(accents + 2 * i, "\xc3\xa9", 2);   /* U+00E9 */
    accents[80] = '\0';
    memcpy(forty, "Forty-character-name-exactly-forty-chars", 40);
    forty[40] = '\0';
    memset(c500, 'c', 500);
    c500[500] = '\0';
}

/* The userids of every voice, which nothing may show. */
static char ids[NV + 1][24];
static const int nids = NV;

/* Mal: Lea's public id as a userid.  Gets a public id of its own, sees Lea
 * lead, and cannot stop her song.  mc receives Mal's config. */
static bbc_singer_t *mal_impersonates(check_t *c, fs_t *fs, bbc_config_t *mc, const char *lea_pub,
                                      int64_t start)
{
    bbc_config_init(mc);
    mc->addr = fs_http(fs);
    mc->transport = BBC_HTTP;
    mc->userid = lea_pub;
    mc->username = "Mal";
    mc->offset_s = 9;
    mc->ignore_delay = true;
    mc->mode = BBC_SEND_SPECTATOR;
    int err;
    bbc_singer_t *mal = bbc_singer_new(mc, &err);
    CHECK(*c, mal != NULL);
    for (int i = 0; mal && i < 3; i++)
        CHECK_EQ_I(*c, bbc_exchange_batch(mal, NULL, NULL), 0);
    if (mal) {
        const bbc_meta_t *m = bbc_singer_meta(mal);
        printf(TNAME ": Mal, whose userid is Lea's public id %s, is public id %s; the leader it sees: %s\n",
               lea_pub, m->public_id, m->leader);
        CHECK(*c, strcmp(m->public_id, lea_pub) != 0);
        CHECK(*c, strcmp(m->leader, lea_pub) == 0);   /* Lea leads, shown by her public id */
        bbc_singer_mark_stop(mal);
        CHECK_EQ_I(*c, bbc_exchange_batch(mal, NULL, NULL), 0);
        /* Refused at once, with the reason the page can show. */
        const cJSON *refused = cJSON_GetObjectItemCaseSensitive(bbc_singer_meta(mal)->root, "refused");
        const cJSON *why = cJSON_GetArrayItem(refused, 0);
        CHECK(*c, cJSON_IsString(why) && strstr(why->valuestring, "only the leader or the organiser"));
        for (int i = 0; i < 3; i++)
            CHECK_EQ_I(*c, bbc_exchange_batch(mal, NULL, NULL), 0);
        m = bbc_singer_meta(mal);
        CHECK(*c, !m->have_song_end);
        CHECK(*c, m->have_song_start && m->song_start_clock == start);
    }
    CHECK_EQ_I(*c, fs_log_count(fs, "shmd", "song stop"), 0);
    return mal;
}

/* The room as a newcomer sees it: its first answer carries the summary,
 * copied into obs_meta (cap bytes). */
static bbc_singer_t *observe(check_t *c, const bbc_config_t *mc, char *obs_meta, size_t cap)
{
    bbc_config_t oc = *mc;
    oc.userid = NULL;
    oc.username = "Obs";
    int err;
    bbc_singer_t *obs = bbc_singer_new(&oc, &err);
    CHECK(*c, obs && bbc_exchange_batch(obs, NULL, NULL) == 0);
    /* A newcomer's first answer carries the summary. */
    const char *oh = obs ? resp_header(bbc_singer_response(obs), "X-Audio-Metadata") : NULL;
    snprintf(obs_meta, cap, "%s", oh ? oh : "");
    return obs;
}

/* Metrics and the profile, on each worker's operator socket (nginx has no
 * way to them: /api/metrics is a 404): no userid in them. */
static void judge_diagnostics(check_t *c, fs_t *fs)
{
    static char text[131072];
    const char *paths[] = {"/metrics", "/get_profile"};
    for (int p = 0; p < 2; p++) {
        for (int w = 1; w <= 2; w++) {
            int st = get_text(fs_ops(fs, w), paths[p], text, sizeof text);
            CHECK_EQ_I(*c, st, 200);
            for (int i = 0; i < nids; i++)
                CHECK(*c, strstr(text, ids[i]) == NULL);
        }
        char through[64];
        snprintf(through, sizeof through, "/api%s", paths[p]);
        CHECK_EQ_I(*c, get_text(fs_http(fs), through, text, sizeof text), 404);
    }
    printf(TNAME ": metrics and the profile (the operator sockets) name no userid; /api/metrics is a 404\n");

    /* Routing is on the exact decoded path: a '?' smuggled into the path
     * as %3F is refused, and a near spelling of a path is no path at all
     * (through nginx, which would pass these to the general API location
     * and its limits). */
    static const struct { const char *path; int status; } near[] = {
        {"/api/metrics%3F", 400},        {"/api/get_profile%3F", 400}, {"/api/start_profile%3Fx", 400},
        {"/api/upload%3F?name=t", 400},   {"/api/upload/?name=t", 404}, {"/api/recordings/", 404},
        {"/api/recordings%3Fx", 400},
    };
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
        int st = get_text(fs_http(fs), near[i].path, text, sizeof text);
        if (st != near[i].status)
            printf("  %s: HTTP %d, want %d\n", near[i].path, st, near[i].status);
        CHECK_EQ_I(*c, st, near[i].status);
        CHECK(*c, strstr(text, "{\"error\":\"") == text);
    }
    printf(TNAME ": paths with %%3F are a 400, near spellings of a path a 404, with a message\n");
}

/* The song ends and is recorded; then the recordings directory is
 * searched for userids. */
static void judge_recordings(check_t *c, fs_t *fs, ch_choir_t *ch, ch_voice_t *lea, int64_t start)
{
    ch_stop_song(lea);
    char song[32], lof[400];
    time_t stt = (time_t)(start / FT_RATE);
    struct tm tmv;
    gmtime_r(&stt, &tmv);
    strftime(song, sizeof song, "%Y-%m-%d-%H%M%S", &tmv);
    snprintf(lof, sizeof lof, "%s/%s.lof", fs_rec_dir(fs), song);
    for (int i = 0; i < 250 && access(lof, F_OK) != 0; i++)
        fs_sleep_ms(100);
    CHECK(*c, access(lof, F_OK) == 0);
    ch_stop_all(ch);
    DIR *d = opendir(fs_rec_dir(fs));
    int files = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        files++;
        char path[700];
        snprintf(path, sizeof path, "%s/%s", fs_rec_dir(fs), e->d_name);
        for (int i = 0; i < nids; i++)
            CHECK(*c, strstr(e->d_name, ids[i]) == NULL);
        const char *hit = file_has(path, ids, nids);
        if (hit)
            printf(TNAME ": %s contains the userid %s\n", e->d_name, hit);
        CHECK(*c, hit == NULL);
    }
    if (d)
        closedir(d);
    printf(TNAME ": the recordings directory (%d files: listing, project, mix, stems) names no userid\n", files);
    CHECK(*c, files >= 5);
}

/* Names in the summary, as the newcomer got it: ASCII, no userid, the
 * markup as text, long names cut between characters. */
static void judge_summary(check_t *c, const char *obs_meta)
{
    bbc_meta_t om;
    memset(&om, 0, sizeof om);
    CHECK_EQ_I(*c, bbc_meta_parse(&om, obs_meta), 0);
    {
        const bbc_meta_t *m = &om;
        const char *h = obs_meta;
        bool ascii = h[0] != '\0';
        for (const char *p = h; p && *p; p++)
            ascii &= (unsigned char)*p < 0x80;
        CHECK(*c, ascii);
        CHECK(*c, h && strstr(h, "\\u00e9") != NULL);
        int n = bbc_meta_user_count(m);
        bool saw_nasty = false, saw_long = false, saw_acc = false, saw_forty = false;
        for (int i = 0; i < n; i++) {
            bbc_user_t u;
            if (bbc_meta_user(m, i, &u) != 0)
                continue;
            for (int k = 0; k < nids; k++)
                CHECK(*c, strcmp(u.id, ids[k]) != 0);
            size_t len = strlen(u.name);
            CHECK(*c, len <= 63);
            if (strncmp(u.name, "<img", 4) == 0) {
                saw_nasty = strcmp(u.name, NASTY) == 0;
                printf(TNAME ": the markup name comes back as the same text: %s\n", u.name);
            } else if (u.name[0] == 'L' && len > 40) {
                saw_long = len == 63 && strspn(u.name, "L") == 63;
                printf(TNAME ": a name of 100 characters is shown as %zu\n", len);
            } else if ((unsigned char)u.name[0] == 0xc3) {
                saw_acc = len == 62 && memcmp(u.name, accents, 62) == 0;
                printf(TNAME ": a name of 40 accented characters (80 bytes) is shown as %zu bytes, "
                       "cut between characters\n", len);
            } else if (strcmp(u.name, forty) == 0) {
                saw_forty = true;
            }
        }
        CHECK(*c, saw_nasty && saw_long && saw_acc && saw_forty);
        printf(TNAME ": a name of 40 characters is shown whole: %s\n", saw_forty ? "yes" : "no");
        CHECK(*c, n >= NV + 1);
    }
    bbc_meta_free(&om);
}

/* Chats: as sent. */
static void judge_chats(check_t *c, ch_voice_t *ann)
{
    int nch = ch_chats(ann, -1, NULL, 0, NULL, 0), good = 0;
    for (int i = 0; i < nch; i++) {
        char name[128], t[600];
        ch_chats(ann, i, name, sizeof name, t, sizeof t);
        good += strcmp(name, NASTY) == 0 && (strcmp(t, NASTY) == 0 || strcmp(t, c500) == 0);
    }
    printf(TNAME ": Ann received %d chats, %d of them exactly as sent (markup and 500 bytes)\n", nch, good);
    CHECK_EQ_I(*c, good, 2);
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "security", .recordings = true}, &exit_code);
    if (!fs)
        return exit_code;
    make_names();
    const ch_voice_cfg_t spec[NV] = {
        {.name = "Lea", .offset_s = 3, .hz = 400},       {.name = "Ann", .offset_s = 6, .hz = 500},
        {.name = "Bob", .offset_s = 9, .hz = 600},       {.name = NASTY, .offset_s = 9, .spectator = true},
        {.name = long_name, .offset_s = 9, .spectator = true},
        {.name = accents, .offset_s = 9, .spectator = true},
        {.name = forty, .offset_s = 9, .spectator = true},
    };
    ch_choir_t *ch = ch_choir_new(fs_http(fs));
    ch_voice_t *v[NV];
    for (int i = 0; i < NV; i++) {
        v[i] = ch_voice_add(ch, &spec[i]);
        if (!v[i])
            return 1;
    }
    if (ft_start_voices(v, NV) != 0) {
        fs_dump_logs(fs, 20);
        return 1;
    }
    for (int i = 0; i < NV; i++)
        snprintf(ids[i], sizeof ids[i], "%s", ch_userid(v[i]));
    int64_t start = ft_song(v[0], v, NV);
    CHECK(c, start != 0);
    char lea_pub[64];
    ch_public_id(v[0], lea_pub, sizeof lea_pub);

    /* Chats with markup, and one of the longest size. */
    ch_chat(v[3], NASTY);
    ch_chat(v[3], c500);
    bbc_config_t mc;
    bbc_singer_t *mal = mal_impersonates(&c, fs, &mc, lea_pub, start);
    static char obs_meta[65536];
    bbc_singer_t *obs = observe(&c, &mc, obs_meta, sizeof obs_meta);
    fs_sleep_ms(4000);
    judge_diagnostics(&c, fs);
    judge_recordings(&c, fs, ch, v[0], start);

    /* Every answer to every voice: no other voice's userid. */
    int leaks = 0;
    for (int i = 0; i < NV; i++)
        leaks += ch_leaks(v[i]);
    printf(TNAME ": answers carrying another voice's userid: %d\n", leaks);
    CHECK_EQ_I(c, leaks, 0);
    CHECK_EQ_I(c, ch_failures(v[0]), 0);

    judge_summary(&c, obs_meta);
    judge_chats(&c, v[1]);
    int rc = check_done(&c, TNAME);
    if (rc)
        fs_dump_logs(fs, 30);
    bbc_singer_destroy(mal);
    bbc_singer_destroy(obs);
    ch_choir_free(ch);
    fs_stop(fs);
    return rc;
}
