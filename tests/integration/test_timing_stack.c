/*
 * test_timing_stack.c - the timing watch through the real stack (daemon,
 * two workers, nginx), spoken by the protocol test client.
 *
 * The leader (on worker 2) starts a metronome song at 100 bpm and sings on
 * time; B (worker 2) sings on time; L (worker 1) sings the same song 80 ms
 * late.  Each sings a synthetic voice with soft onsets (tests/unit/sung.h:
 * 20-50 ms raised-cosine attacks, vibrato, breaths, rests, a +-10 ms human
 * spread per note, breath noise) through its own Opus encoder, uploading
 * 1.2 s behind what it reads, and sends its voice ahead by its encoder's
 * lookahead, as the browser client does (html/js/clock.js), so that an
 * on-time voice decodes on time.  Requests go as fast as the stack answers
 * (no waiting for real time), 70 s behind the server clock.
 *
 * Checked: L is told "timing" {offset_ms 80 +- 10, basis "beat"}; the
 * leader and B are never told, not in one response; the leader, served by
 * the other worker, lists L (and only L) in "timing_flags" with the same
 * offset, B never gets a list.  The leader then sends timing_apply=L's
 * public id: L's next responses carry "timing_apply" once, with the offset;
 * L's client moves its voice by it, and for the rest of the song (15 s)
 * nobody is told and the leader's list empties.  The list is rebuilt every
 * 0.5 s of the server's clock, which a song sung this fast can outrun: each
 * phase goes on in 200 ms steps until the list has caught up, for at most
 * 4 s.
 *
 * usage: test_timing_stack BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <opus.h>

#include "bbclient.h"
#include "check.h"
#include "fstack.h"
#include "unit/sung.h"

#define TNAME "test_timing_stack"
#define RATE 48000
#define N BBC_BATCH
#define OFFSET_S 70
#define SONG_S 72             /* of voice rendered per singer */
#define BEFORE_S 4            /* of silence rendered before the first beat */

/* A singer's voice, rendered before the song, placed once its first beat is known. */
typedef struct {
    sung_t v;
    int64_t beat0;            /* 0: no song yet */
    int lookahead;            /* samples its encoder delays the voice by */
    int64_t shift;            /* samples its client moved its voice by (an applied offset) */
    float *x;                 /* clocks [beat0 - BEFORE_S s, beat0 + SONG_S s) */
} voice_t;

static void source(bbc_singer_t *s, float *out, int n, int64_t write_clock, void *user)
{
    (void)s;
    voice_t *v = user;
    if (!v->beat0)
        return;   /* out is zeros */
    const int64_t from = v->beat0 - (int64_t)BEFORE_S * RATE, len = (int64_t)(BEFORE_S + SONG_S) * RATE;
    /* What decodes at the server at clock t was sung at t: the encoder
     * gets the voice of t + lookahead; a singer whose client applied d ms
     * sings what was late by d ms d ms earlier. */
    int64_t t0 = write_clock - n + v->lookahead + v->shift - from;
    for (int i = 0; i < n; i++)
        out[i] = t0 + i >= 0 && t0 + i < len ? v->x[t0 + i] : 0.0f;
}

/* Renders the voice before the stack starts (it takes seconds, and a
 * singer who sends nothing for 5 s is no longer active): a song sung from
 * clock 0 with its first beat at BEFORE_S s, which the source moves to the
 * real first beat (sung.h depends on clocks relative to the first beat
 * only). */
static void render(voice_t *v)
{
    const int64_t len = (int64_t)(BEFORE_S + SONG_S) * RATE;
    v->x = calloc((size_t)len, sizeof *v->x);
    if (v->x)
        sung_render(&v->v, v->x, (uint32_t)len, 0, (int64_t)BEFORE_S * RATE);
}

static bbc_singer_t *singer(fs_t *fs, const char *uid, const char *name, voice_t *v)
{
    bbc_config_t bc;
    bbc_config_init(&bc);
    bc.addr = fs_http(fs);
    bc.transport = BBC_HTTP;
    bc.userid = uid;
    bc.username = name;
    bc.offset_s = OFFSET_S;
    bc.ignore_delay = true;
    bc.no_pace = true;
    bc.write_lag = 2 * N;
    bc.mode = BBC_SEND_ENCODE;
    bc.source = source;
    bc.user = v;
    int err;
    return bbc_singer_new(&bc, &err);
}

/* "timing" or "timing_apply" of the last answer: its offset and basis. */
static bool told(const bbc_singer_t *s, const char *key, int *ms, char *basis, size_t cap)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(bbc_singer_meta(s)->root, key);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(t, "offset_ms");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "basis");
    if (!cJSON_IsNumber(o) || !cJSON_IsString(b))
        return false;
    *ms = (int)o->valuedouble;
    snprintf(basis, cap, "%s", b->valuestring);
    return true;
}

/* The "timing_flags" list of the last answer: its length (-1: absent),
 * and in *ms the offset of public id `id` (unchanged if not listed). */
static int flags_of(const bbc_singer_t *s, const char *id, int *ms, bool *found)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(bbc_singer_meta(s)->root, "timing_flags");
    *found = false;
    if (!cJSON_IsArray(l))
        return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, l) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "offset_ms");
        if (cJSON_IsString(i) && strcmp(i->valuestring, id) == 0 && cJSON_IsNumber(o)) {
            *ms = (int)o->valuedouble;
            *found = true;
        }
    }
    return cJSON_GetArraySize(l);
}

static long long last_ns, max_gap_ns;

/* How long past its song time a phase goes on for the leader's list to
 * catch up (a few of its rebuilds on a loaded machine), in steps that
 * keep the song within the voice rendered (SONG_S). */
#define WAIT_NS 4000000000LL
#define WAIT_STEP_MS 200

static bool waiting(long long since_ns)
{
    return fs_now_ns() - since_ns < WAIT_NS;
}

static int batch(check_t *c, bbc_singer_t *s)
{
    int rc = bbc_exchange_batch(s, NULL, NULL);
    long long t = fs_now_ns();
    if (last_ns && t - last_ns > max_gap_ns)
        max_gap_ns = t - last_ns;
    last_ns = t;
    const resp_t *r = bbc_singer_response(s);
    if (rc != 0 || r->status != 200)
        fprintf(stderr, "%s: %s got %d (%s)\n", TNAME, bbc_singer_username(s), r->status,
                bbc_singer_error(s));
    CHECK_EQ_I(*c, rc, 0);
    return rc;
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    if (argc != 4) {
        fprintf(stderr, "usage: %s BB_SHMD BB_WORKER SOURCE_DIR\n", argv[0]);
        return 2;
    }
    static voice_t va, vb, vl;
    const sung_t base = {.score_seed = 9, .bpm = 100, .attack_lo = 20, .attack_hi = 50,
                         .jitter_ms = 10, .level_db = -12, .noise_db = -60, .rest_share = 0.15};
    va.v = base, va.v.voice_seed = 1;
    vb.v = base, vb.v.voice_seed = 2;
    vl.v = base, vl.v.voice_seed = 3, vl.v.offset_ms = 80;
    render(&va);
    render(&vb);
    render(&vl);
    if (!va.x || !vb.x || !vl.x)
        return 1;
    fs_config_t fc = {.shmd = argv[1], .worker = argv[2], .src = argv[3], .n_workers = 2,
                      .depth = 4, .sockets = FS_LISTEN, .name = "timing"};
    fs_t *fs = fs_start(&fc);
    if (!fs)
        return 1;
    char auid[32], buid[32], luid[32];
    if (fs_userid_for(fs, 2, 11000000000ull, auid, sizeof auid) != 0 ||
        fs_userid_for(fs, 2, 22000000000ull, buid, sizeof buid) != 0 ||
        fs_userid_for(fs, 1, 33000000000ull, luid, sizeof luid) != 0) {
        fs_stop(fs);
        return 1;
    }
    int err, la = 0;
    OpusEncoder *probe = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &err);
    if (!probe || opus_encoder_ctl(probe, OPUS_GET_LOOKAHEAD(&la)) != OPUS_OK) {
        fs_stop(fs);
        return 1;
    }
    opus_encoder_destroy(probe);
    va.lookahead = vb.lookahead = vl.lookahead = la;
    bbc_singer_t *a = singer(fs, auid, "Ann", &va), *b = singer(fs, buid, "Bob", &vb),
                 *l = singer(fs, luid, "Lou", &vl);
    CHECK(c, a && b && l);
    if (!a || !b || !l || bbc_connect(a) || bbc_connect(b) || bbc_connect(l)) {
        fs_stop(fs);
        return 1;
    }

    /* The leader leads, sets a metronome at 100 bpm and starts. */
    bbc_singer_request_lead(a);
    batch(&c, a);
    bbc_singer_set_tempo(a, 100, -1, -1);
    bbc_singer_set_track(a, "metronome -- set BPM below");
    batch(&c, a);
    bbc_singer_mark_start(a);
    batch(&c, a);
    int64_t beat0 = 0;
    for (int k = 0; k < 50 && !beat0; k++) {
        batch(&c, a);
        batch(&c, b);
        batch(&c, l);
        const bbc_meta_t *m = bbc_singer_meta(a);
        if (m->have_song_start && m->song_start_clock > 0)
            beat0 = m->song_start_clock;
        else
            fs_sleep_ms(20);
    }
    CHECK(c, beat0 > 0);
    if (!beat0) {
        fs_stop(fs);
        return check_done(&c, TNAME);
    }
    va.beat0 = vb.beat0 = vl.beat0 = beat0;
    char lpub[64];
    snprintf(lpub, sizeof lpub, "%s", bbc_singer_meta(l)->public_id);
    CHECK(c, lpub[0] != '\0');

    /* 1. Sing until L's write clock is 24 s into the song, and on until
     * the leader's list shows what L was told: the list is rebuilt every
     * WT_FLAGS_EVERY of the server's clock, which the song, sung as fast
     * as the stack answers, can outrun. */
    bbc_singer_t *all[] = {a, b, l};
    int l_ms = 0, list_ms = 0, list_len = -1, first = -1, others = 0, b_lists = 0, rounds = 0;
    char l_basis[16] = "";
    bool listed = false;
    long long told_ns = 0, listed_ns = 0;
    for (;;) {
        bool sung = bbc_singer_last_post(l)->write_clock >= beat0 + 24 * RATE;
        if (rounds >= 80 || (sung && (listed || first < 0 || !waiting(told_ns))))
            break;
        if (sung)
            fs_sleep_ms(WAIT_STEP_MS);
        for (int i = 0; i < 3; i++)
            batch(&c, all[i]);
        int ms;
        char basis[16];
        if (told(l, "timing", &ms, basis, sizeof basis)) {
            l_ms = ms;
            snprintf(l_basis, sizeof l_basis, "%s", basis);
            if (first < 0) {
                first = rounds;
                told_ns = fs_now_ns();
            }
        }
        others += told(a, "timing", &ms, basis, sizeof basis) + told(b, "timing", &ms, basis, sizeof basis);
        bool f;
        int n = flags_of(a, lpub, &ms, &f);
        if (f) {
            if (!listed)
                listed_ns = fs_now_ns();
            listed = true;
            list_ms = ms;
            list_len = n;
        }
        b_lists += flags_of(b, lpub, &ms, &f) >= 0;
        rounds++;
    }
    printf("%s: L told %+d ms (%s) from round %d on; the leader (another worker) lists %d "
           "singer(s), L at %+d ms, %.0f ms after L was told; the leader or B told %d times, B given "
           "a list %d times\n",
           TNAME, l_ms, l_basis, first, list_len, list_ms,
           listed && told_ns ? (double)(listed_ns - told_ns) / 1e6 : -1.0, others, b_lists);
    CHECK(c, first >= 0);
    CHECK_NEAR(c, l_ms, 80, 10);
    CHECK(c, strcmp(l_basis, "beat") == 0);
    CHECK(c, listed);
    CHECK_EQ_I(c, list_len, 1);
    CHECK_NEAR(c, list_ms, 80, 10);
    CHECK_EQ_I(c, others, 0);
    CHECK_EQ_I(c, b_lists, 0);

    /* 2. The leader applies L's offset in one click; then 15 s of the
     * song, and on until the leader's list is rebuilt without L. */
    bbc_singer_param(a, "timing_apply", lpub);
    batch(&c, a);
    CHECK(c, cJSON_GetObjectItemCaseSensitive(bbc_singer_meta(a)->root, "refused") == NULL);
    int applied = 0, applies = 0, after = 0, end_len = -1;
    rounds = 0;
    int64_t until = bbc_singer_last_post(l)->write_clock + 15 * RATE;
    long long applied_ns = 0, emptied_ns = 0;
    for (;;) {
        bool sung = bbc_singer_last_post(l)->write_clock >= until;
        if (rounds >= 60 || (sung && (end_len < 0 || !applies || !waiting(applied_ns))))
            break;
        if (sung)
            fs_sleep_ms(WAIT_STEP_MS);
        for (int i = 0; i < 3; i++)
            batch(&c, all[i]);
        int ms;
        char basis[16];
        if (told(l, "timing_apply", &ms, basis, sizeof basis)) {
            applied = ms;
            if (applies++ == 0)
                applied_ns = fs_now_ns();
            /* L's client moves its voice earlier by the offset. */
            vl.shift += (int64_t)ms * RATE / 1000;
        }
        if (applies)
            after += told(l, "timing", &ms, basis, sizeof basis) + told(a, "timing", &ms, basis, sizeof basis) +
                     told(b, "timing", &ms, basis, sizeof basis);
        bool f;
        end_len = flags_of(a, lpub, &ms, &f);
        if (applies && end_len < 0 && !emptied_ns)
            emptied_ns = fs_now_ns();
        if (!applies)
            fs_sleep_ms(20);   /* the daemon's tick */
        rounds++;
    }
    printf("%s: applied %+d ms (%d times); then told %d times in 15 s; the leader's list at the "
           "end: %s (emptied %.0f ms after L applied)\n", TNAME, applied, applies, after,
           end_len < 0 ? "none" : "NOT EMPTY", emptied_ns ? (double)(emptied_ns - applied_ns) / 1e6 : -1.0);
    CHECK_EQ_I(c, applies, 1);
    CHECK_NEAR(c, applied, 80, 10);
    CHECK_EQ_I(c, after, 0);
    CHECK_EQ_I(c, end_len, -1);
    CHECK_EQ_I(c, fs_log_count(fs, "shmd", "is to apply their measured timing"), 1);

    /* More than 5 s would make the daemon forget the singers. */
    printf("%s: the longest wait between two answers: %.0f ms\n", TNAME, (double)max_gap_ns / 1e6);
    bbc_singer_destroy(a);
    bbc_singer_destroy(b);
    bbc_singer_destroy(l);
    free(va.x);
    free(vb.x);
    free(vl.x);
    fs_stop(fs);
    return check_done(&c, TNAME);
}
