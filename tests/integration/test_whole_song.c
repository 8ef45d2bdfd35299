/*
 * test_whole_song.c - a whole song through the real daemon and worker, spoken by
 * the protocol test client over FastCGI.
 *
 * Ann and Ben connect; Ann's chat reaches Ben and not Ann; Ann leads (the
 * server moves her to the first bucket, Ben to the next), picks the backing
 * track and starts; both sing gated tones at exact write clocks.  Then:
 *   - Ben's browser stalls for 4.8 s once his voice is in the song, while
 *     Ann sings on, then sends what it held back at once: his voice reaches
 *     the server later than the recorder's usual lag allows for;
 *   - Ben hears Ann's tone exactly where Ann wrote it: two Opus lookaheads
 *     later and nothing else, at the normalised level;
 *   - a desynced write clock gets kill_client, a malformed body a 400, and
 *     neither disturbs Ben;
 *   - after Ann stops, the daemon writes the recording: the WAV starts at
 *     the song's start clock, holds Ann's tone at her write clock and the
 *     backing track from the clock of the start request, and equals, sample
 *     for sample, (stems + backing) x 3 / (singers + 2) x volume, with the
 *     stems placed at the offsets the Audacity project gives: Ben's late
 *     voice is in the recording as it is in his stem.
 *
 * The whole test runs beside two CPU-bound processes of its own (a busy
 * 2-core machine, as CI's is); ctest runs it alone (RUN_SERIAL).
 *
 * usage: test_whole_song BB_SHMD BB_WORKER
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "bbclient.h"
#include "check.h"
#include "host.h"
#include "recheck.h"

#define RATE 48000
#define N 28800
/* 3.3 s: the track, and with it the song, ends inside a batch of Ann's
 * (she sits 3 s behind the clock and her batches are 0.6 s), never within
 * milliseconds of the edge of one, where which of her uploads is the last
 * in the song would turn on the latency of the start request. */
#define TRACK_FRAMES (33 * RATE / 10)

static char g_dir[256], g_seg[64], g_sock[320];
static pid_t g_daemon, g_worker;
static pid_t g_busy[2];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Gated tones: on and off in irregular 10 ms blocks, so that only one lag
 * lines them up.  Ann sings 440 Hz, Ben 660 Hz, the track is 880 Hz. */
static float gated(int64_t t, double hz, uint64_t salt)
{
    uint64_t h = ((uint64_t)(t / 480) ^ salt) * 0x9E3779B97F4A7C15ull;
    if ((h >> 61) < 3)
        return 0.0f;
    return 0.3f * (float)sin(2 * M_PI * hz * (double)(t % RATE) / RATE);
}

typedef struct {
    double hz;
    uint64_t salt;
    bool on;
    int64_t first, last;   /* write clocks (END) of the tone's uploads */
} voice_t;

static void source(bbc_singer_t *s, float *out, int n, int64_t write_clock, void *user)
{
    (void)s;
    voice_t *v = user;
    for (int i = 0; i < n; i++)
        out[i] = v->on ? gated(write_clock - n + i, v->hz, v->salt) : 0.0f;
    if (v->on) {
        if (!v->first)
            v->first = write_clock;
        v->last = write_clock;
    }
}

/* True if the last response of s listed the track. */
static bool lists_track(const bbc_singer_t *s)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, bbc_singer_meta(s)->tracks)
        if (cJSON_IsString(it) && strcmp(it->valuestring, "track.wav") == 0)
            return true;
    return false;
}

/* Starts two processes that only burn CPU until killed (or until this one
 * dies: they are killed with it). */
static void busy_start(void)
{
    pid_t parent = getpid();
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
                _exit(0);
            for (volatile unsigned long spin = 0;; spin++)
                ;
        }
        g_busy[i] = pid;
    }
}

static void busy_stop(void)
{
    for (int i = 0; i < 2; i++)
        if (g_busy[i] > 0) {
            kill(g_busy[i], SIGKILL);
            waitpid(g_busy[i], NULL, 0);
            g_busy[i] = 0;
        }
}

static void stop_all(void)
{
    busy_stop();
    if (g_worker > 0) {
        kill(g_worker, SIGTERM);
        waitpid(g_worker, NULL, 0);
    }
    if (g_daemon > 0) {
        kill(g_daemon, SIGTERM);
        waitpid(g_daemon, NULL, 0);
    }
    hs_unlink_all(g_seg);
    if (!getenv("BB_KEEP_TMP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_dir);
    }
}

static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Stopped with this process however it ends (a ctest timeout too). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Writes the backing track: gated 880 Hz, 16-bit mono 48 kHz. */
static int write_track(const char *path)
{
    SF_INFO info = {0};
    info.samplerate = RATE;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f)
        return -1;
    static float x[TRACK_FRAMES];
    for (int i = 0; i < TRACK_FRAMES; i++)
        x[i] = gated(i, 880, 77);
    sf_writef_float(f, x, TRACK_FRAMES);
    sf_close(f);
    return 0;
}

/* Reads the prepared track from the daemon's cache (64-byte header, then
 * float32 samples at their final level). */
static float *read_prepared(const char *cache_dir, uint64_t *frames)
{
    char path[400];
    snprintf(path, sizeof path, "%s/track.wav.bbtrk", cache_dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char h[64];
    if (fread(h, 1, 64, f) != 64) {
        fclose(f);
        return NULL;
    }
    uint64_t n;
    memcpy(&n, h + 16, 8);
    float *x = calloc(n, sizeof *x);
    *frames = fread(x, sizeof *x, n, f);
    fclose(f);
    return x;
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    if (argc < 3) {
        fprintf(stderr, "usage: %s BB_SHMD BB_WORKER\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/bbtest-song-XXXXXX");
    if (!mkdtemp(g_dir))
        return 2;
    snprintf(g_seg, sizeof g_seg, "/bbtest-song-%d", (int)getpid());
    busy_start();
    char audio[300], rec[300], cache[300], dlog[300], wlog[300];
    snprintf(audio, sizeof audio, "%s/audio", g_dir);
    snprintf(rec, sizeof rec, "%s/rec", g_dir);
    snprintf(cache, sizeof cache, "%s/cache", g_dir);
    snprintf(dlog, sizeof dlog, "%s/daemon.log", g_dir);
    snprintf(wlog, sizeof wlog, "%s/worker.log", g_dir);
    snprintf(g_sock, sizeof g_sock, "%s/w.sock", g_dir);
    mkdir(audio, 0755);
    mkdir(rec, 0755);
    mkdir(cache, 0755);
    char track[320];
    snprintf(track, sizeof track, "%s/track.wav", audio);
    CHECK_EQ_I(c, write_track(track), 0);

    char *dargv[] = {argv[1], "--segment", g_seg, "--audio-dir", audio, "--cache-dir", cache,
                     "--recordings-dir", rec, "--depth", "3", NULL};
    g_daemon = spawn(dargv, dlog);
    sleep_ms(300);
    char listen[340];
    snprintf(listen, sizeof listen, "unix:%s", g_sock);
    char *wargv[] = {argv[2], "--listen", listen, "--segment", g_seg, "--worker-id", "1",
                     "--recordings-dir", rec, NULL};
    g_worker = spawn(wargv, wlog);
    for (int i = 0; i < 100 && access(g_sock, F_OK) != 0; i++)
        sleep_ms(50);
    CHECK(c, access(g_sock, F_OK) == 0);

    voice_t va = {440, 1, false, 0, 0}, vb = {660, 2, false, 0, 0};
    bbc_config_t ca, cb;
    bbc_config_init(&ca);
    bbc_config_init(&cb);
    ca.addr = cb.addr = listen;
    ca.transport = cb.transport = BBC_FCGI;
    ca.userid = "31415926535";
    ca.username = "Ann";
    cb.userid = "27182818284";
    cb.username = "Ben";
    ca.offset_s = cb.offset_s = 15;
    ca.source = source;
    ca.user = &va;
    cb.source = source;
    cb.user = &vb;
    cb.write_lag = 57600;   /* Ben writes 1.2 s behind what he hears, as a browser does */
    int err;
    bbc_singer_t *a = bbc_singer_new(&ca, &err), *b = bbc_singer_new(&cb, &err);
    CHECK(c, a && b);
    if (!a || !b) {
        stop_all();
        return check_done(&c, "test_whole_song");
    }
    static float got_a[N], got_b[N];
    CHECK_EQ_I(c, bbc_exchange_batch(a, NULL, got_a), 0);
    bool have_track = lists_track(a);
    CHECK_EQ_I(c, bbc_exchange_batch(b, NULL, got_b), 0);

    /* Chat: to Ben, not back to Ann. */
    bbc_singer_chat(a, "hello <b>Ben</b>");
    CHECK_EQ_I(c, bbc_exchange_batch(a, NULL, got_a), 0);
    sleep_ms(50);
    CHECK_EQ_I(c, bbc_exchange_batch(b, NULL, got_b), 0);
    const char *nm = NULL, *tx = NULL;
    CHECK(c, bbc_meta_chat_count(bbc_singer_meta(b)) == 1 &&
                 bbc_meta_chat(bbc_singer_meta(b), 0, &nm, &tx) == 0 && strcmp(nm, "Ann") == 0 &&
                 strcmp(tx, "hello <b>Ben</b>") == 0);
    CHECK_EQ_I(c, bbc_exchange_batch(a, NULL, got_a), 0);
    CHECK_EQ_I(c, bbc_meta_chat_count(bbc_singer_meta(a)), 0);

    /* The track list (sent on a singer's first response and whenever it
     * changes) names the track once the daemon has prepared it. */
    for (int i = 0; i < 10 && !have_track; i++) {
        bbc_exchange_batch(a, NULL, got_a);
        bbc_exchange_batch(b, NULL, got_b);
        have_track = lists_track(a);
    }
    CHECK(c, have_track);

    /* Ann leads: she goes to 3 s, Ben to 6 s. */
    bbc_singer_request_lead(a);
    CHECK_EQ_I(c, bbc_exchange_batch(a, NULL, got_a), 0);
    sleep_ms(50);
    for (int i = 0; i < 3; i++) {
        bbc_exchange_batch(a, NULL, got_a);
        bbc_exchange_batch(b, NULL, got_b);
    }
    CHECK_EQ_I(c, bbc_singer_offset(a), 3);
    CHECK_EQ_I(c, bbc_singer_offset(b), 6);
    CHECK(c, strcmp(bbc_singer_meta(a)->leader, "31415926535") == 0);
    CHECK(c, strcmp(bbc_singer_meta(b)->leader, bbc_singer_meta(a)->public_id) == 0);
    CHECK(c, strstr(bbc_singer_meta(b)->leader, "31415926535") == NULL);

    bbc_singer_set_track(a, "track.wav");
    CHECK_EQ_I(c, bbc_exchange_batch(a, NULL, got_a), 0);
    bbc_singer_mark_start(a);
    va.on = vb.on = true;
    CHECK_EQ_I(c, bbc_exchange_batch(a, NULL, got_a), 0);
    int64_t song_start = bbc_singer_meta(a)->client_read_clock;
    int64_t track_start = bbc_singer_meta(a)->server_clock;

    /* Sing for 6 s (ten batches each); collect what Ben hears, by clock.
     * Once Ben's next upload is in the song (he writes 6 s + 1.2 s behind
     * the clock, so about eight batches in), his browser stalls for eight
     * batches while Ann sings on, then sends the batches it held back at
     * once: they reach the server 4.8 s late, when the recorder, at its
     * usual lag (last bucket + 5 s, about 3 s more than Ben's), has passed
     * the first of them.  The singing stops there: Ben's next uploads
     * reach the track's end, which ends the song until Ann's stop moves
     * the end to her last write (PROTOCOL.md 10.4), so they must come
     * after the stop (one that began past the track's end before it would
     * be outside the song and leave a gap of silence in his stem, which
     * the comparison below would count as singing). */
    enum { ROUNDS = 20, STALL = 8 };
    static float heard[ROUNDS * N];
    int64_t heard_from = 0;
    int heard_n = 0, stalled = -1;
    for (int k = 0; k < ROUNDS; k++) {
        va.on = k < 10;
        CHECK_EQ_I(c, bbc_exchange_batch(a, NULL, got_a), 0);
        if (stalled < 0 && bbc_singer_last_post(b)->write_clock >= song_start)
            stalled = k;
        if (stalled >= 0 && k < stalled + STALL)
            continue;
        int batches = stalled >= 0 && k == stalled + STALL ? STALL + 1 : 1;
        for (int j = 0; j < batches && heard_n < ROUNDS; j++) {
            vb.on = heard_n < 10;
            CHECK_EQ_I(c, bbc_exchange_batch(b, NULL, got_b), 0);
            if (heard_n == 0)
                heard_from = bbc_singer_meta(b)->client_read_clock - N;
            memcpy(heard + (size_t)heard_n++ * N, got_b, sizeof got_b);
        }
        if (batches > 1)
            break;
    }
    printf("  Ben stalled from batch %d for %d batches\n", stalled, STALL);
    CHECK(c, stalled > 0 && stalled + STALL < ROUNDS);
    va.on = vb.on = false;
    /* Ben hears Ann two Opus lookaheads after she wrote (each of them is
     * 312 samples at 48 kHz); the track at 880 Hz does not line up with her.
     * Ann's tone is computed once: the search takes a fraction of a second
     * even on a busy machine, so the singers are not left silent for long
     * (with nobody heard for 5 s the daemon would end the song). */
    const int64_t ref_from = va.first - N, ref_n = va.last - ref_from;
    float *ref = calloc((size_t)ref_n, sizeof *ref);
    CHECK(c, ref != NULL);
    for (int64_t t = ref_from; ref && t < va.last; t++)
        ref[t - ref_from] = gated(t, 440, 1);
    int best_lag = -1;
    double best = -1;
    int64_t total = (int64_t)heard_n * N;
    for (int lag = 0; ref && lag < 2000; lag++) {
        double acc = 0;
        for (int64_t t = ref_from; t < va.last; t += 3) {
            int64_t i = t + lag - heard_from;
            if (i >= 0 && i < total)
                acc += (double)ref[t - ref_from] * heard[i];
        }
        if (acc > best) {
            best = acc;
            best_lag = lag;
        }
    }
    printf("  Ben hears Ann %d samples after her write clock\n", best_lag);
    CHECK_EQ_I(c, best_lag, 624);

    /* Bad input from Ann disturbs nobody else. */
    bbc_conn_t *conn = bbc_singer_conn(a);
    char q[512];
    const bbclock_post_t *lp = bbc_singer_last_post(a);
    snprintf(q, sizeof q, "read_clock=%lld&n_samples=28800&userid=31415926535&username=Ann&write_clock=%lld",
             (long long)(lp->read_clock + N), (long long)(lp->write_clock + N + 2880));
    static uint8_t body[1 + 10 * 4];
    body[0] = 10;
    for (int i = 0; i < 10; i++) {
        body[1 + 4 * i] = 0;
        body[2 + 4 * i] = 2;
        body[3 + 4 * i] = 0xfc;   /* a valid 1-byte-ish Opus TOC + padding */
        body[4 + 4 * i] = 0xff;
    }
    bbc_request_t rq = {"POST", "/api", q, "undefined", NULL, body, sizeof body};
    resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp_init(&resp);
    CHECK_EQ_I(c, bbc_exchange(conn, &rq, &resp, 5000), 0);
    CHECK(c, resp.status == 500 || resp.status == 400);
    bbc_meta_t m;
    memset(&m, 0, sizeof m);
    const char *meta = resp_header(&resp, "X-Audio-Metadata");
    if (meta)
        bbc_meta_parse(&m, meta);
    printf("  desynced write clock: %d %s\n", resp.status, m.message);
    CHECK(c, m.kill_client);
    bbc_meta_free(&m);
    uint8_t trunc[3] = {1, 0, 9};
    rq.body = trunc;
    rq.body_len = sizeof trunc;
    resp_reset(&resp);
    CHECK_EQ_I(c, bbc_exchange(conn, &rq, &resp, 5000), 0);
    CHECK_EQ_I(c, resp.status, 400);
    resp_free(&resp);
    CHECK_EQ_I(c, bbc_exchange_batch(b, NULL, got_b), 0);
    bbc_stats_t sb;
    bbc_singer_stats(b, &sb);
    CHECK_EQ_I(c, sb.errors, 0);

    /* Stop; the daemon writes the recording once the last bucket has sung
     * (max position 6 s + 2 s behind the clock). */
    bbc_connect(a);
    bbc_exchange_batch(a, NULL, got_a);
    bbc_singer_mark_stop(a);
    CHECK_EQ_I(c, bbc_exchange_batch(a, NULL, got_a), 0);
    char song[32];
    rc_song_name(song_start, song, sizeof song);
    char lof[400], mixpath[400];
    snprintf(lof, sizeof lof, "%s/%s.lof", rec, song);
    snprintf(mixpath, sizeof mixpath, "%s/%s.wav", rec, song);
    /* Both keep singing (silence) in real time meanwhile, as browsers do:
     * a singer that fell seconds behind would write after the recorder has
     * passed (its voice would then be in its stem only). */
    for (int i = 0; i < 60 && access(lof, F_OK) != 0; i++) {
        bbc_exchange_batch(a, NULL, got_a);
        bbc_exchange_batch(b, NULL, got_b);
    }
    CHECK(c, access(lof, F_OK) == 0);

    /* The project file: the mix at 0, each stem at its offset. */
    sf_count_t mix_n = 0;
    float *mix = rc_read(mixpath, &mix_n);
    CHECK(c, mix != NULL && mix_n > 4 * RATE);
    double *pred = calloc((size_t)mix_n + 1, sizeof *pred);
    int *k = calloc((size_t)mix_n + 1, sizeof *k);
    int stems = rc_add_stems(rec, lof, mix_n, pred, k);
    CHECK_EQ_I(c, stems, 2);
    /* The backing track, at its final level, from the start request's clock. */
    uint64_t tn = 0;
    float *tr = read_prepared(cache, &tn);
    CHECK(c, tr != NULL && tn == TRACK_FRAMES);
    const double gv = exp(6.908) / 1000.0;   /* volume 1 and backing volume 1 */
    int64_t toff = track_start - song_start;
    for (uint64_t i = 0; tr && i < tn; i++)
        if (toff + (int64_t)i >= 0 && toff + (int64_t)i < mix_n)
            pred[toff + i] += tr[i] * (float)gv / 2;   /* files hold x / 2 (1.0 -> 16384) */
    /* (stems + backing) x 3 / (k + 2) x volume, sample for sample; the
     * file's 16-bit steps allow one step of each part's rounding. */
    int64_t worst_i = 0;
    double worst = 0;
    for (sf_count_t i = 0; mix && i < mix_n; i++) {
        double want = pred[i] * 3.0 / (k[i] + 2) * gv;
        double d = fabs(mix[i] - want);
        if (d > worst) {
            worst = d;
            worst_i = i;
        }
    }
    if (getenv("BB_DEBUG_SONG") && mix)
        for (int64_t i = worst_i - 5; i < worst_i + 5; i++)
            if (i >= 0 && i < mix_n)
                fprintf(stderr, "  [%lld] mix %.6f pred %.6f k %d toff %lld\n", (long long)i, mix[i],
                        pred[i] * 3.0 / (k[i] + 2) * gv, k[i], (long long)toff);
    printf("  recording: %.2f s, %d stems, largest difference from (stems + track) x 3/(k+2) x volume:"
           " %.1f steps of 16 bits (at %lld)\n", (double)mix_n / RATE, stems, worst * 32768,
           (long long)worst_i);
    CHECK(c, worst * 32768 <= 4.0);
    /* Ann's tone in the mix: where she wrote it, one Opus lookahead (her
     * encoder's) later. */
    best = -1;
    best_lag = -1;
    for (int lag = 0; mix && ref && lag < 1000; lag++) {
        double acc = 0;
        for (int64_t t = ref_from; t < va.last; t += 3) {
            int64_t i = t + lag - song_start;
            if (i >= 0 && i < mix_n)
                acc += (double)ref[t - ref_from] * mix[i];
        }
        if (acc > best) {
            best = acc;
            best_lag = lag;
        }
    }
    printf("  Ann's tone is in the recording %d samples after her write clock\n", best_lag);
    CHECK_EQ_I(c, best_lag, 312);
    /* The track began at the start request's clock, which the comparison
     * above placed it at, sample for sample: Ann's offset after her read,
     * plus the request's round trip (which a loaded machine stretches: the
     * exactness is the comparison's, this only says it is the right song). */
    printf("  the track began %.3f s after Ann's read clock (her bucket is 3 s)\n", (double)toff / RATE);
    CHECK(c, toff > 3 * RATE - N && toff < 4 * RATE);

    free(ref);
    free(mix);
    free(pred);
    free(k);
    free(tr);
    bbc_singer_destroy(a);
    bbc_singer_destroy(b);
    stop_all();
    return check_done(&c, "test_whole_song");
}
