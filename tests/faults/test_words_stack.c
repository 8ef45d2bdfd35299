/*
 * test_words_stack.c - the song's words through the whole stack (nginx,
 * workers, the daemon), and across a daemon kill -9.
 *
 * A leader (bucket 3 s) and a singer (6 s) sing in the default room.
 * Asserted, in order:
 *   - the singer may not load words nor cue a line (403, the sentence of
 *     roles.h);
 *   - malformed words (empty, binary, a control character, a line too
 *     long, a file too big) are refused with a 400 / 413 saying why, and
 *     the room's words stay as they were;
 *   - the leader's words are taken (200 with their id and lines) and GET
 *     /api/words gives the lines back; malformed cues (a clock ahead of the
 *     server, one too old, a line past the end, words replaced) are
 *     refused;
 *   - after the song starts, two cues at the clocks the leader heard reach
 *     the singer in its audio responses ("words_cues"), in clock order;
 *   - the daemon is killed with SIGKILL and restarted: the words and the
 *     cues are still the room's, and a singer joining after the restart (in
 *     the middle of the song) gets both cues in its first response, so its
 *     page shows the line current at its own position;
 *   - when the song ends, its recording gets SONG-words.txt, a label per
 *     line at the line's time in the song (read back here), named in
 *     SONG.lof;
 *   - words whose lines carry their time ("[0:02]", a beat "[b6]") and
 *     name slides ("[slide 2]", a title slide alone on its line) survive
 *     another kill -9 with their slides, and follow the next song by
 *     themselves: its start puts their cues at those times of the song
 *     (120 bpm).
 *
 * usage: test_words_stack BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <signal.h>
#include <stdlib.h>

#include "ftest.h"
#include "media/recname.h"
#include "words.h"

#define TNAME "words_stack"

static float quiet[BBC_BATCH];

/* One request through nginx; the status, and the body into out (cap). */
static int http(const fs_t *fs, const char *method, const char *path, const char *query,
                const char *body, size_t body_len, char *out, size_t cap)
{
    bbc_addr_t a;
    if (bbc_addr_parse(fs_http(fs), BBC_HTTP, &a) != 0)
        return -1;
    bbc_conn_t *cn = bbc_conn_new(&a, NULL);
    bbc_request_t rq = {method, path, query, NULL, body ? "text/plain; charset=utf-8" : NULL,
                        (const uint8_t *)body, body_len};
    resp_t r;
    resp_init(&r);
    int st = -1;
    out[0] = '\0';
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

static int post_words(const fs_t *fs, const bbc_singer_t *s, const char *text, size_t len, char *out,
                      size_t cap)
{
    char q[64];
    snprintf(q, sizeof q, "userid=%s", bbc_singer_userid(s));
    return http(fs, "POST", "/api/words", q, text, len, out, cap);
}

static int post_cue(const fs_t *fs, const bbc_singer_t *s, int line, int64_t clock, int words, char *out,
                    size_t cap)
{
    char q[160];
    snprintf(q, sizeof q, "userid=%s&line=%d&clock=%" PRId64 "&words=%d", bbc_singer_userid(s), line, clock,
             words);
    return http(fs, "POST", "/api/words/cue", q, NULL, 0, out, cap);
}

static bbc_singer_t *singer(fs_t *fs, const char *name, int offset)
{
    bbc_config_t bc;
    bbc_config_init(&bc);
    bc.addr = fs_http(fs);
    bc.transport = BBC_HTTP;
    bc.username = name;
    bc.offset_s = offset;
    bc.ignore_delay = true;
    int err;
    return bbc_singer_new(&bc, &err);
}

/* Both singers send a batch each (keeping them active); 0 if both were
 * answered. */
static int sing(bbc_singer_t *a, bbc_singer_t *b)
{
    int ra = bbc_exchange_batch(a, quiet, NULL);
    int rb = b ? bbc_exchange_batch(b, quiet, NULL) : 0;
    return ra || rb;
}

/* The cues of the singer's last response as "line@clock,..." relative to
 * base; out is left as it was when the response carried none (they come
 * only when they changed). */
static void cues_of(const bbc_singer_t *s, int64_t base, char *out, size_t cap)
{
    const cJSON *wc = cJSON_GetObjectItemCaseSensitive(bbc_singer_meta(s)->root, "words_cues");
    if (!wc)
        return;
    out[0] = '\0';
    const cJSON *cues = cJSON_GetObjectItemCaseSensitive(wc, "cues"), *it;
    size_t n = 0;
    cJSON_ArrayForEach(it, cues) {
        int64_t clock = (int64_t)cJSON_GetArrayItem(it, 0)->valuedouble;
        n += (size_t)snprintf(out + n, cap - n, "%s%d@%" PRId64, n ? "," : "",
                              cJSON_GetArrayItem(it, 1)->valueint, clock - base);
        if (n >= cap)
            break;
    }
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "words", .workers = 2, .recordings = true}, &exit_code);
    if (!fs)
        return exit_code;
    static char out[40000];
    bbc_singer_t *lea = singer(fs, "Lea", 3), *sam = singer(fs, "Sam", 6), *joe = NULL;
    CHECK(c, lea && sam);
    if (!lea || !sam)
        goto done;
    for (int i = 0; i < 2; i++)
        CHECK_EQ_I(c, sing(lea, sam), 0);
    bbc_singer_request_lead(lea);
    CHECK_EQ_I(c, sing(lea, sam), 0);

    const char *song = "Amazing grace, how sweet the sound\nThat saved a wretch like me\n\n"
                       "I once was lost, but now am found\n";
    /* A singer may not. */
    int st = post_words(fs, sam, song, strlen(song), out, sizeof out);
    printf(TNAME ": a singer loading words: %d %s\n", st, out);
    CHECK_EQ_I(c, st, 403);
    CHECK(c, strstr(out, "only the leader or the organiser") != NULL);

    /* Malformed words change nothing. */
    static char big[WORDS_TEXT_MAX + 100];
    memset(big, 'a', sizeof big);
    char longline[WORDS_LINE_MAX + 2];
    memset(longline, 'x', sizeof longline);
    static const struct { const char *what, *text; size_t len; int status; const char *says; } bad[] = {
        {"empty", "", 0, 400, "empty"},
        {"blank lines", "\n \n\t\n", 5, 400, "empty"},
        {"a PNG", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, 400, "not plain text"},
        {"Latin-1", "caf\xe9 au lait\n", 13, 400, "line 1: the words are not plain text in UTF-8"},
        {"a control character", "one\ntwo\x07\n", 9, 400, "line 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = post_words(fs, lea, bad[i].text, bad[i].len, out, sizeof out);
        printf(TNAME ": %s: %d %s\n", bad[i].what, st, out);
        CHECK_EQ_I(c, st, bad[i].status);
        CHECK_MSG(c, strstr(out, bad[i].says) != NULL, "%s", out);
    }
    st = post_words(fs, lea, longline, sizeof longline, out, sizeof out);
    printf(TNAME ": a line too long: %d %s\n", st, out);
    CHECK_EQ_I(c, st, 400);
    CHECK(c, strstr(out, "line 1: a line is too long") != NULL);
    st = post_words(fs, lea, big, sizeof big, out, sizeof out);
    printf(TNAME ": too big: %d %s\n", st, out);
    CHECK_EQ_I(c, st, 413);
    CHECK_EQ_I(c, http(fs, "GET", "/api/words", NULL, NULL, 0, out, sizeof out), 200);
    CHECK_EQ_S(c, out, "{\"id\":0,\"lines\":[],\"verses\":[],\"at\":[],\"slides\":[]}");
    CHECK_EQ_I(c, sing(lea, sam), 0);

    /* The leader's words. */
    st = post_words(fs, lea, song, strlen(song), out, sizeof out);
    printf(TNAME ": the leader's words: %d %s\n", st, out);
    CHECK_EQ_I(c, st, 200);
    CHECK_EQ_S(c, out, "{\"words\":1,\"lines\":3}");
    CHECK_EQ_I(c, http(fs, "GET", "/api/words", NULL, NULL, 0, out, sizeof out), 200);
    CHECK_EQ_S(c, out, "{\"id\":1,\"lines\":[\"Amazing grace, how sweet the sound\",\"That saved a wretch like me\","
                       "\"I once was lost, but now am found\"],\"verses\":[0,2],\"at\":[null,null,null],\"slides\":[null,null,null]}");

    bbc_singer_mark_start(lea);
    CHECK_EQ_I(c, sing(lea, sam), 0);
    int64_t now = srvclock_now();
    int64_t heard = now - 3 * FT_RATE;   /* what the leader hears: 3 s behind */
    /* Malformed cues. */
    st = post_cue(fs, lea, 0, now + 2 * FT_RATE, 1, out, sizeof out);
    CHECK_EQ_I(c, st, 400);
    CHECK_MSG(c, strstr(out, "ahead of the server clock") != NULL, "%s", out);
    st = post_cue(fs, lea, 0, now - 200 * FT_RATE, 1, out, sizeof out);
    CHECK_EQ_I(c, st, 400);
    CHECK_MSG(c, strstr(out, "older") != NULL, "%s", out);
    st = post_cue(fs, lea, 3, heard, 1, out, sizeof out);
    CHECK_EQ_I(c, st, 400);
    CHECK_MSG(c, strstr(out, "no such line") != NULL, "%s", out);
    st = post_cue(fs, lea, 0, heard, 2, out, sizeof out);
    CHECK_EQ_I(c, st, 409);
    st = post_cue(fs, sam, 0, heard, 1, out, sizeof out);
    CHECK_EQ_I(c, st, 403);
    /* Two good ones. */
    st = post_cue(fs, lea, 0, heard, 1, out, sizeof out);
    printf(TNAME ": cue line 0: %d %s\n", st, out);
    CHECK_EQ_I(c, st, 200);
    st = post_cue(fs, lea, 1, heard + 2 * FT_RATE, 1, out, sizeof out);
    CHECK_EQ_I(c, st, 200);
    char cues[256] = "", want[64];
    snprintf(want, sizeof want, "0@0,1@%d", 2 * FT_RATE);
    for (int i = 0; i < 4 && strcmp(cues, want) != 0; i++) {
        CHECK_EQ_I(c, sing(lea, sam), 0);
        cues_of(sam, heard, cues, sizeof cues);
    }
    printf(TNAME ": the singer's responses carry the cues: %s\n", cues);
    CHECK_EQ_S(c, cues, want);

    /* The daemon killed and restarted. */
    CHECK_EQ_I(c, fs_signal_daemon(fs, SIGKILL), 0);
    fs_sleep_ms(500);
    CHECK_EQ_I(c, fs_start_daemon(fs), 0);
    CHECK_EQ_I(c, sing(lea, sam), 0);
    CHECK_EQ_I(c, http(fs, "GET", "/api/words", NULL, NULL, 0, out, sizeof out), 200);
    printf(TNAME ": after the restart: %s\n", out);
    CHECK(c, strncmp(out, "{\"id\":1,\"lines\":[\"Amazing grace", 31) == 0);
    CHECK_EQ_I(c, fs_log_count(fs, "shmd", "restored words 1 (3 lines) and 2 cues"), 1);
    /* A singer who joins now, mid-song. */
    joe = singer(fs, "Joe", 9);
    CHECK(c, joe != NULL);
    if (joe) {
        CHECK_EQ_I(c, sing(joe, lea), 0);
        cues_of(joe, heard, cues, sizeof cues);
        printf(TNAME ": a singer joining after the restart gets: %s\n", cues);
        CHECK_EQ_S(c, cues, want);
    }
    /* The words go on: the next line cued after the restart reaches them. */
    st = post_cue(fs, lea, 2, heard + 4 * FT_RATE, 1, out, sizeof out);
    CHECK_EQ_I(c, st, 200);
    snprintf(want, sizeof want, "0@0,1@%d,2@%d", 2 * FT_RATE, 4 * FT_RATE);
    for (int i = 0; i < 4 && strcmp(cues, want) != 0; i++) {
        CHECK_EQ_I(c, sing(lea, sam), 0);
        cues_of(sam, heard, cues, sizeof cues);
    }
    CHECK_EQ_S(c, cues, want);

    /* The song ends: its recording's project gets the words as labels. */
    int64_t start = bbc_singer_meta(lea)->song_start_clock;
    bbc_singer_mark_stop(lea);
    for (int i = 0; i < 80 && fs_log_count(fs, "shmd", "labels written beside the recording") == 0; i++)
        sing(lea, sam);
    char name[32], path[4400], lof_path[4400];
    rec_song_name(start, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s-words.txt", fs_rec_dir(fs), name);
    snprintf(lof_path, sizeof lof_path, "%s/%s.lof", fs_rec_dir(fs), name);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    printf(TNAME ": %s:\n%s", path, out);
    char labels[1024];
    /* Each time from its own clock, as the writer computes it: t0 + 2 in
     * doubles can round the other way when a time lands on half a
     * microsecond. */
    double t0 = (double)(heard - start) / FT_RATE;
    double t2 = (double)(heard + 2 * FT_RATE - start) / FT_RATE;
    double t4 = (double)(heard + 4 * FT_RATE - start) / FT_RATE;
    snprintf(labels, sizeof labels,
             "%.6f\t%.6f\tAmazing grace, how sweet the sound\n"
             "%.6f\t%.6f\tThat saved a wretch like me\n"
             "%.6f\t",
             t0, t2, t2, t4, t4);
    CHECK_MSG(c, strncmp(out, labels, strlen(labels)) == 0, "want %s", labels);
    CHECK(c, strstr(out, "\tI once was lost, but now am found\n") != NULL);
    f = fopen(lof_path, "r");
    n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    snprintf(labels, sizeof labels, "# The words: import %s-words.txt with File > Import > Labels.\n", name);
    CHECK_MSG(c, strstr(out, labels) != NULL, "%s", out);

    /* Lines that follow the song by themselves, kept across a kill -9. */
    bbc_singer_request_lead(lea);
    CHECK_EQ_I(c, sing(lea, sam), 0);
    bbc_singer_set_tempo(lea, 120, -1, -1);
    CHECK_EQ_I(c, sing(lea, sam), 0);
    const char *timed = "[slide 1]\n[0:02] [slide 2] Amazing grace\nhow sweet the sound\n[b6][slide 0]That saved a wretch\n"
                        "[Chorus] like me\n";
    st = post_words(fs, lea, timed, strlen(timed), out, sizeof out);
    printf(TNAME ": timed words: %d %s\n", st, out);
    CHECK_EQ_I(c, st, 200);
    CHECK_EQ_I(c, fs_signal_daemon(fs, SIGKILL), 0);
    fs_sleep_ms(300);
    CHECK_EQ_I(c, fs_start_daemon(fs), 0);
    CHECK_EQ_I(c, sing(lea, sam), 0);
    /* The slides the lines name came through the kill -9 with them: a
     * title slide alone on its line, one after a time, none from a beat. */
    CHECK_EQ_I(c, http(fs, "GET", "/api/words", NULL, NULL, 0, out, sizeof out), 200);
    printf(TNAME ": timed words with slides after the restart: %s\n", out);
    CHECK_MSG(c, strstr(out, "\"lines\":[\"\",\"Amazing grace\",") != NULL, "%s", out);
    CHECK_MSG(c, strstr(out, "\"at\":[null,\"2\",null,\"b6\",null],\"slides\":[1,2,null,0,null]}") != NULL, "%s", out);
    bbc_singer_mark_start(lea);
    /* 2 s, and beat 6 at 120 bpm: 5 beats of 24000 samples (lines 1 and
     * 3: line 0 is the title slide). */
    snprintf(want, sizeof want, "1@%d,3@%d", 2 * FT_RATE, 5 * 24000);
    cues[0] = '\0';
    static char raw[2048] = "";
    /* The cues may come in the very answer that starts the song, before
     * the leader's answers carry its start: keep them, judge at the end. */
    start = 0;
    for (int i = 0; i < 6 && (!start || !raw[0]); i++) {
        CHECK_EQ_I(c, sing(lea, sam), 0);
        const cJSON *wc = cJSON_GetObjectItemCaseSensitive(bbc_singer_meta(sam)->root, "words_cues");
        char *p = wc ? cJSON_PrintUnformatted(wc) : NULL;
        if (p)
            snprintf(raw, sizeof raw, "%s", p);
        free(p);
        start = bbc_singer_meta(lea)->song_start_clock;
    }
    cJSON *got = cJSON_Parse(raw);
    const cJSON *it;
    size_t k = 0;
    cues[0] = '\0';
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(got, "cues"))
        k += (size_t)snprintf(cues + k, sizeof cues - k, "%s%d@%" PRId64, k ? "," : "",
                              cJSON_GetArrayItem(it, 1)->valueint,
                              (int64_t)cJSON_GetArrayItem(it, 0)->valuedouble - start);
    cJSON_Delete(got);
    printf(TNAME ": song start %" PRId64 ", the singer's last words_cues %s\n", start, raw);
    printf(TNAME ": the timed lines' cues from the song's start: %s\n", cues);
    CHECK_EQ_S(c, cues, want);
done:;
    int rc = check_done(&c, TNAME);
    if (rc)
        fs_dump_logs(fs, 30);
    bbc_singer_destroy(joe);
    bbc_singer_destroy(lea);
    bbc_singer_destroy(sam);
    fs_stop(fs);
    return rc;
}
