/* test_track: backing tracks. Every input is made here with libsndfile
 * (WAV 16/24-bit, FLAC, Ogg Vorbis, Ogg Opus, MP3 when this libsndfile
 * writes them): each format loads, 44.1 kHz stereo becomes 48 kHz mono of
 * the right duration and pitch, tracks come out at the same loudness, a
 * corrupt or empty file is skipped with one log line, caches are reused,
 * refreshed and cleaned, and uploads refuse garbage and never leave a
 * partial file behind. */
#include "media/trkcache.h"
#include "media/trkdecode.h"
#include "media/trkname.h"
#include "media/trkplay.h"
#include "media/trkscan.h"
#include "media/trkupload.h"
#include "media_test.h"

#include <dirent.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <sys/time.h>

#define FS 48000.0

/* ---- signal helpers ---------------------------------------------------- */

/* Writes `seconds` of a sine (same on every channel) with libsndfile.
 * Returns 0, or -1 if this libsndfile cannot write the format. */
static int write_sine(const char *path, int format, int rate, int channels,
                      double seconds, double freq, double amp)
{
    SF_INFO info;
    SNDFILE *sf;
    float buf[1024 * 8];
    sf_count_t total = (sf_count_t)(seconds * rate), done = 0;

    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    if (!sf_format_check(&info))
        return -1;
    sf = sf_open(path, SFM_WRITE, &info);
    if (sf == NULL)
        return -1;
    while (done < total) {
        sf_count_t n = total - done < 1024 ? total - done : 1024, i;
        int c;
        for (i = 0; i < n; i++) {
            float v = (float)(amp * sin(2.0 * M_PI * freq * (double)(done + i) / rate));
            for (c = 0; c < channels; c++)
                buf[i * channels + c] = v;
        }
        if (sf_writef_float(sf, buf, n) != n) {
            sf_close(sf);
            return -1;
        }
        done += n;
    }
    sf_close(sf);
    return 0;
}

/* Goertzel power of x at frequency f (Hz, sample rate FS). */
static double goertzel(const float *x, size_t n, double f)
{
    double c = 2.0 * cos(2.0 * M_PI * f / FS), s1 = 0.0, s2 = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - c * s1 * s2;
}

static double rms(const float *x, size_t n)
{
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s / (double)n);
}

/* Checks a prepared 1 kHz track: duration within tol samples of expect,
 * the tone still at 1 kHz, RMS at -20 dBFS and peak within the limit. */
static void check_tone_track(const char *label, const char *cache_path,
                             uint64_t expect, uint64_t tol)
{
    int err = 0;
    trk_play_t *t = trk_play_create(cache_path, &err);
    const float *x;
    uint64_t n, i, crossings = 0;
    double p1000, p950, p1050, r, peak = 0.0;

    CHECK(ck, t != NULL);
    if (t == NULL) {
        fprintf(stderr, "  %s: trk_play_create: %s\n", label, trk_strerror(err));
        return;
    }
    x = trk_play_get_samples(t);
    n = trk_play_get_frames(t);
    CHECK_MSG(ck, n + tol >= expect && n <= expect + tol, "%s: %llu frames, expected %llu +- %llu",
              label, (unsigned long long)n, (unsigned long long)expect, (unsigned long long)tol);
    /* Pitch, on one second in the middle (away from codec edges). */
    if (n >= 96000) {
        const float *mid = x + n / 2 - 24000;
        p1000 = goertzel(mid, 48000, 1000.0);
        p950 = goertzel(mid, 48000, 950.0);
        p1050 = goertzel(mid, 48000, 1050.0);
        CHECK(ck, p1000 > 1000.0 * p950);
        CHECK(ck, p1000 > 1000.0 * p1050);
        for (i = 1; i < 48000; i++)
            crossings += (mid[i - 1] < 0.0f) != (mid[i] < 0.0f);
        CHECK_MSG(ck, crossings >= 1998 && crossings <= 2002,
                  "%s: %llu zero crossings in 1 s, expected 2000", label,
                  (unsigned long long)crossings);
        r = 20.0 * log10(rms(mid, 48000));
        CHECK_MSG(ck, fabs(r - TRK_TARGET_RMS_DBFS) <= 0.5, "%s: RMS %.2f dBFS, expected %.1f",
                  label, r, TRK_TARGET_RMS_DBFS);
    }
    for (i = 0; i < n; i++)
        if (fabs(x[i]) > peak)
            peak = fabs(x[i]);
    CHECK(ck, peak <= TRK_PEAK_LIMIT + 1e-6);
    trk_play_destroy(t);
}

static int count_dir(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d != NULL && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' || strncmp(prefix, ".", 1) == 0)
            n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    if (d != NULL)
        closedir(d);
    return n;
}

/* ---- pure functions ---------------------------------------------------- */

static void test_rules(void)
{
    char s[256], name[TRK_NAME_MAX + 1], big[400];
    int i;

    CHECK(ck, trk_dec_clean_sample(NAN) == 0.0f);
    CHECK(ck, trk_dec_clean_sample(INFINITY) == 0.0f);
    CHECK(ck, trk_dec_clean_sample(-INFINITY) == 0.0f);
    CHECK(ck, trk_dec_clean_sample(20.0f) == 16.0f);
    CHECK(ck, trk_dec_clean_sample(-20.0f) == -16.0f);
    CHECK(ck, trk_dec_clean_sample(0.25f) == 0.25f);

    /* RMS rule when the peak allows it, peak rule when not. */
    CHECK(ck, fabs(trk_dec_gain_for(0.1, 0.2) - 1.0) < 1e-12);
    CHECK(ck, fabs(trk_dec_gain_for(0.01, 0.5) - 1.6) < 1e-12);
    CHECK(ck, fabs(trk_dec_gain_for(0.5, 1.0) - 0.2) < 1e-12);
    CHECK(ck, trk_dec_gain_for(0.1, 1.0 / 65536.0) == 0.0);   /* silent */
    CHECK(ck, trk_dec_gain_for(0.0, 0.5) == 0.0);
    CHECK(ck, trk_dec_gain_for(NAN, 0.5) == 0.0);
    CHECK(ck, trk_dec_gain_for(0.1, INFINITY) == 0.0);

    CHECK(ck, trk_name_is_safe("Song.wav"));
    CHECK(ck, trk_name_is_safe("Ch\xc5\x93ur d'\xc3\xa9t\xc3\xa9 (2).flac"));
    CHECK(ck, !trk_name_is_safe(NULL));
    CHECK(ck, !trk_name_is_safe(""));
    CHECK(ck, !trk_name_is_safe(".hidden.wav"));
    CHECK(ck, !trk_name_is_safe("a/b.wav"));
    CHECK(ck, !trk_name_is_safe("a\x01.wav"));
    CHECK(ck, !trk_name_is_safe("a\x7f.wav"));
    CHECK(ck, !trk_name_is_safe("a\xc2\x85.wav"));        /* C1 control */
    CHECK(ck, !trk_name_is_safe("a\xe2\x80\xae.wav"));    /* right-to-left override */
    CHECK(ck, !trk_name_is_safe("a\xef\xbb\xbf.wav"));    /* BOM */
    CHECK(ck, !trk_name_is_safe("a\xff.wav"));            /* invalid byte */
    CHECK(ck, !trk_name_is_safe("a\xc0\xaf.wav"));        /* overlong '/' */
    CHECK(ck, !trk_name_is_safe("a\xed\xa0\x80.wav"));    /* surrogate */
    CHECK(ck, !trk_name_is_safe("a\xe2\x80"));            /* truncated */
    memset(s, 'a', 100);
    s[100] = '\0';
    CHECK(ck, trk_name_is_safe(s));
    s[100] = 'a';
    s[101] = '\0';
    CHECK(ck, !trk_name_is_safe(s));

    CHECK_EQ_I(ck, trk_name_for_upload("C:\\fakepath\\My Song.mp3", "mp3", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "My Song.mp3");
    CHECK_EQ_I(ck, trk_name_for_upload("../../etc/passwd", "wav", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "passwd.wav");
    CHECK_EQ_I(ck, trk_name_for_upload(".hidden", "wav", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "hidden.wav");
    CHECK_EQ_I(ck, trk_name_for_upload("README", "wav", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "track README.wav");
    CHECK_EQ_I(ck, trk_name_for_upload(NULL, "ogg", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "upload.ogg");
    CHECK_EQ_I(ck, trk_name_for_upload("...", "ogg", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "upload.ogg");
    CHECK_EQ_I(ck, trk_name_for_upload("a\x01" "b<c>", "wav", 2, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "a_b_c_ (2).wav");
    CHECK_EQ_I(ck, trk_name_for_upload("  spaced \t  out  .flac", "flac", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "spaced out.flac");
    CHECK_EQ_I(ck, trk_name_for_upload("bad\xff" "utf", "wav", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "bad_utf.wav");
    CHECK_EQ_I(ck, trk_name_for_upload("take.five.final", "wav", 1, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "take.five.wav");
    CHECK_EQ_I(ck, trk_name_for_upload("x", "w/v", 1, name, sizeof name), TRK_ERR_ARG);
    CHECK_EQ_I(ck, trk_name_for_upload("x", "wav", 0, name, sizeof name), TRK_ERR_ARG);
    /* 150 two-byte characters: cut on a character boundary, within 100. */
    for (i = 0; i < 150; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2);
    big[300] = '\0';
    CHECK_EQ_I(ck, trk_name_for_upload(big, "flac", 12, name, sizeof name), TRK_OK);
    CHECK(ck, strlen(name) <= TRK_NAME_MAX);
    CHECK(ck, trk_name_is_safe(name));
    CHECK(ck, strstr(name, " (12).flac") != NULL);

    CHECK(ck, strcmp(trk_strerror(TRK_ERR_SILENT), "audio is silent") == 0);
    CHECK(ck, trk_strerror(-999) != NULL);
}

/* ---- conversion -------------------------------------------------------- */

static void test_resample(const char *dir)
{
    char src[4096], cache[4096];
    trk_info_t info;
    int rc;

    /* 2 s of 1 kHz at 44.1 kHz stereo, 16-bit: 96000 frames at 48 kHz. */
    snprintf(src, sizeof src, "%s/tone44.wav", dir);
    snprintf(cache, sizeof cache, "%s/tone44.bbtrk", dir);
    CHECK_EQ_I(ck, write_sine(src, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 2.0, 1000.0, 0.5), 0);
    rc = trk_cache_convert(src, cache, NULL, &info);
    CHECK_EQ_I(ck, rc, TRK_OK);
    CHECK_EQ_I(ck, info.source_rate, 44100);
    CHECK_EQ_I(ck, info.source_channels, 2);
    CHECK(ck, info.frames + 4 >= 96000 && info.frames <= 96000 + 4);
    /* A 0.5 sine is -9 dBFS RMS, so the gain is about -11 dB. */
    CHECK(ck, fabs(info.source_rms_dbfs - (20.0 * log10(0.5 / sqrt(2.0)))) < 0.05);
    check_tone_track("44.1k stereo wav", cache, 96000, 4);
    CHECK_EQ_I(ck, trk_cache_check(src, cache, NULL), TRK_OK);
}

static void test_bounds(const char *dir)
{
    char src[4096], cache[4096];
    atomic_int cancel = 1;
    trk_env_t env = { NULL, NULL, &cancel };

    snprintf(cache, sizeof cache, "%s/b.bbtrk", dir);

    /* Too low a sample rate. */
    snprintf(src, sizeof src, "%s/low.wav", dir);
    CHECK_EQ_I(ck, write_sine(src, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 4000, 1, 1.0, 500.0, 0.5), 0);
    CHECK_EQ_I(ck, trk_cache_convert(src, cache, NULL, NULL), TRK_ERR_RATE);

    /* Silence only. */
    snprintf(src, sizeof src, "%s/silent.wav", dir);
    CHECK_EQ_I(ck, write_sine(src, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 1.0, 500.0, 0.0), 0);
    CHECK_EQ_I(ck, trk_cache_convert(src, cache, NULL, NULL), TRK_ERR_SILENT);

    /* Longer than 30 minutes (8 kHz 8-bit keeps the file at 14 MB; refused
     * from the header, before decoding). */
    snprintf(src, sizeof src, "%s/long.wav", dir);
    {
        SF_INFO info = { .samplerate = 8000, .channels = 1,
                         .format = SF_FORMAT_WAV | SF_FORMAT_PCM_U8 };
        SNDFILE *sf = sf_open(src, SFM_WRITE, &info);
        static short zeros[8000];
        int s;
        CHECK(ck, sf != NULL);
        for (s = 0; sf != NULL && s < TRK_MAX_SECONDS + 1; s++)
            sf_write_short(sf, zeros, 8000);
        sf_close(sf);
    }
    CHECK_EQ_I(ck, trk_cache_convert(src, cache, NULL, NULL), TRK_ERR_TOO_LONG);
    unlink(src);

    /* A raised cancel flag stops the conversion and leaves no temp file. */
    snprintf(src, sizeof src, "%s/cancel.wav", dir);
    CHECK_EQ_I(ck, write_sine(src, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, 1.0, 500.0, 0.5), 0);
    CHECK_EQ_I(ck, trk_cache_convert(src, cache, &env, NULL), TRK_ERR_CANCELLED);
    CHECK_EQ_I(ck, count_dir(dir, ".bbtmp-"), 0);
    CHECK(ck, !mt_exists(cache));

    /* Missing source, not a file, bad arguments. */
    snprintf(src, sizeof src, "%s/missing.wav", dir);
    CHECK_EQ_I(ck, trk_cache_convert(src, cache, NULL, NULL), TRK_ERR_IO);
    CHECK_EQ_I(ck, trk_cache_convert(dir, cache, NULL, NULL), TRK_ERR_FORMAT);
    CHECK_EQ_I(ck, trk_cache_convert(NULL, cache, NULL, NULL), TRK_ERR_ARG);
    CHECK(ck, trk_play_create(NULL, NULL) == NULL);
    trk_play_destroy(NULL);
    trk_scan_destroy(NULL);
    CHECK_EQ_I(ck, trk_scan_get_count(NULL), 0);
    CHECK(ck, trk_scan_get_name(NULL, 0) == NULL);
}

/* ---- scanning ---------------------------------------------------------- */

typedef struct {
    const char *name;
    int format;
    int rate;
    int channels;
    uint64_t tol;       /* frames of tolerance on the duration */
} fmt_case_t;

/* Files in the audio directory that are not tracks, or not usable ones:
 * damaged, empty, text, READMEs, hidden, in progress, a directory, an
 * unsafe name. */
static void write_non_tracks(const char *audio)
{
    char path[4096];
    size_t i;

    snprintf(path, sizeof path, "%s/corrupt.wav", audio);
    {
        unsigned char junk[4096];
        uint32_t x = 12345;
        for (i = 0; i < sizeof junk; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (unsigned char)(x >> 24);
        }
        memcpy(junk, "RIFF\x10\x00\x00\x00WAVEjunk", 16);  /* a lying header */
        mt_write_file(path, junk, sizeof junk);
    }
    snprintf(path, sizeof path, "%s/empty.flac", audio);
    mt_write_file(path, "", 0);
    snprintf(path, sizeof path, "%s/notes.txt", audio);
    mt_write_file(path, "These are the lyrics.\n", 22);
    snprintf(path, sizeof path, "%s/README", audio);
    mt_write_file(path, "readme", 6);
    snprintf(path, sizeof path, "%s/Readme.md", audio);
    mt_write_file(path, "readme", 6);
    snprintf(path, sizeof path, "%s/.hidden.wav", audio);
    mt_write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/.bbtmp-upload.wav-123456", audio);
    mt_write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/half.wav.part", audio);
    mt_write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/subdir", audio);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/bad\x1b[31mname.wav", audio);
    mt_write_file(path, "x", 1);

}

/* Later scans of the same directory: caches reused, a changed source
 * prepared again, a removed one's cache deleted, a damaged cache rebuilt;
 * an unreadable directory is an error. */
static void test_rescan(const char *dir, const char *audio, const char *cachedir, int n_written)
{
    char path[4096];
    mt_log_t log = { .n = 0 };
    trk_env_t env = { mt_log, &log, NULL };
    struct timeval tv[2];
    trk_scan_t *s;
    int err = 0;

    /* A second scan reuses every cache: nothing is prepared again. */
    s = trk_scan_create(audio, cachedir, &env, &err);
    CHECK(ck, s != NULL);
    CHECK_EQ_I(ck, trk_scan_get_count(s), n_written);
    CHECK_EQ_I(ck, mt_log_count(&log, "prepared", NULL), 0);
    trk_scan_destroy(s);

    /* A changed source (new mtime) is prepared again; a removed one loses
     * its cache; a damaged cache is rebuilt. */
    snprintf(path, sizeof path, "%s/a-pcm16.wav", audio);
    gettimeofday(&tv[0], NULL);
    tv[1] = tv[0];
    tv[1].tv_sec += 10;
    utimes(path, tv);
    snprintf(path, sizeof path, "%s/b-pcm24.wav", audio);
    unlink(path);
    snprintf(path, sizeof path, "%s/c-lossless.flac%s", cachedir, TRK_CACHE_SUFFIX);
    CHECK(ck, truncate(path, 100) == 0);
    CHECK(ck, trk_play_create(path, &err) == NULL);
    CHECK_EQ_I(ck, err, TRK_ERR_CACHE);
    log.n = 0;
    s = trk_scan_create(audio, cachedir, &env, &err);
    CHECK(ck, s != NULL);
    CHECK_EQ_I(ck, trk_scan_get_count(s), n_written - 1);
    CHECK_EQ_I(ck, mt_log_count(&log, "prepared", NULL), 2);
    CHECK_EQ_I(ck, mt_log_count(&log, "\"a-pcm16.wav\": prepared", NULL), 1);
    CHECK_EQ_I(ck, mt_log_count(&log, "\"c-lossless.flac\": prepared", NULL), 1);
    snprintf(path, sizeof path, "%s/b-pcm24.wav%s", cachedir, TRK_CACHE_SUFFIX);
    CHECK(ck, !mt_exists(path));
    CHECK_EQ_I(ck, count_dir(cachedir, ".bbtmp-"), 0);
    trk_scan_destroy(s);

    /* An unreadable audio directory is an error, not a crash. */
    snprintf(path, sizeof path, "%s/no-such-dir", dir);
    CHECK(ck, trk_scan_create(path, cachedir, &env, &err) == NULL);
    CHECK_EQ_I(ck, err, TRK_ERR_IO);
}

static void test_scan(const char *dir)
{
    static const fmt_case_t cases[] = {
        { "a-pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 0 },
        { "b-pcm24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 44100, 2, 4 },
        { "c-lossless.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 4 },
        { "d-vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, 4 },
        { "e-opus.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 2, 960 },
        { "f-layer3.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2, 2400 },
        { "g-float.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 96000, 6, 4 },
    };
    const size_t n_cases = sizeof cases / sizeof cases[0];
    char audio[2048], cachedir[2048], path[4096];
    mt_log_t log = { .n = 0 };
    trk_env_t env = { mt_log, &log, NULL };
    int written[16] = { 0 }, n_written = 0, err = 0;
    size_t i;
    trk_scan_t *s;

    snprintf(audio, sizeof audio, "%s/audio", dir);
    snprintf(cachedir, sizeof cachedir, "%s/cache", dir);
    mkdir(audio, 0755);

    for (i = 0; i < n_cases; i++) {
        snprintf(path, sizeof path, "%s/%s", audio, cases[i].name);
        written[i] = write_sine(path, cases[i].format, cases[i].rate, cases[i].channels,
                                3.0, 1000.0, 0.25) == 0;
        if (!written[i]) {
            printf("  note: this libsndfile cannot write %s; not tested\n", cases[i].name);
            unlink(path);
        }
        n_written += written[i];
    }
    write_non_tracks(audio);
    s = trk_scan_create(audio, cachedir, &env, &err);
    CHECK(ck, s != NULL);
    if (s == NULL) {
        fprintf(stderr, "  scan: %s\n", trk_strerror(err));
        return;
    }
    CHECK_EQ_I(ck, trk_scan_get_count(s), n_written);
    /* Sorted names, exactly the usable ones. */
    {
        size_t k = 0;
        for (i = 0; i < n_cases; i++) {
            if (!written[i])
                continue;
            CHECK_EQ_S(ck, trk_scan_get_name(s, k), cases[i].name);
            CHECK_EQ_I(ck, trk_scan_find(s, cases[i].name), k);
            check_tone_track(cases[i].name, trk_scan_get_cache_path(s, k), 144000,
                             cases[i].tol);
            k++;
        }
    }
    CHECK_EQ_I(ck, trk_scan_find(s, "corrupt.wav"), TRK_ERR_NOT_FOUND);
    CHECK_EQ_I(ck, trk_scan_find(s, "notes.txt"), TRK_ERR_NOT_FOUND);
    CHECK_EQ_I(ck, trk_scan_find(s, "README"), TRK_ERR_NOT_FOUND);
    /* One line for each unusable file, naming it and saying why; nothing
     * about the files that are not meant to be tracks. */
    CHECK_EQ_I(ck, mt_log_count(&log, "\"corrupt.wav\": skipped", NULL), 1);
    CHECK_EQ_I(ck, mt_log_count(&log, "\"empty.flac\": skipped", "no audio"), 1);
    CHECK_EQ_I(ck, mt_log_count(&log, "\"notes.txt\": skipped", NULL), 1);
    CHECK_EQ_I(ck, mt_log_count(&log, "bad\\x1b[31mname.wav\": skipped", "unsafe"), 1);
    CHECK_EQ_I(ck, mt_log_count(&log, "README", NULL), 0);
    CHECK_EQ_I(ck, mt_log_count(&log, "Readme", NULL), 0);
    CHECK_EQ_I(ck, mt_log_count(&log, "hidden", NULL), 0);
    CHECK_EQ_I(ck, mt_log_count(&log, "subdir", NULL), 0);
    CHECK_EQ_I(ck, mt_log_count(&log, "part", NULL), 0);
    CHECK_EQ_I(ck, mt_log_count(&log, "prepared", NULL), n_written);
    trk_scan_destroy(s);

    test_rescan(dir, audio, cachedir, n_written);
}

/* ---- uploads ----------------------------------------------------------- */

static void test_upload(const char *dir)
{
    char audio[2048], path[4096], name[TRK_NAME_MAX + 1];
    mt_log_t log = { .n = 0 };
    trk_env_t env = { mt_log, &log, NULL };
    char *wav, *flac, *silent, *back;
    size_t wav_len, flac_len, silent_len, back_len;
    unsigned char *big;
    int entries_before;

    snprintf(audio, sizeof audio, "%s/uploads", dir);
    mkdir(audio, 0755);

    snprintf(path, sizeof path, "%s/src.wav", dir);
    CHECK_EQ_I(ck, write_sine(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 1.0, 440.0, 0.5), 0);
    wav = mt_read_file(path, &wav_len);
    snprintf(path, sizeof path, "%s/src.flac", dir);
    CHECK_EQ_I(ck, write_sine(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 1, 1.0, 440.0, 0.5), 0);
    flac = mt_read_file(path, &flac_len);
    snprintf(path, sizeof path, "%s/silent.wav", dir);
    CHECK_EQ_I(ck, write_sine(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 1.0, 440.0, 0.0), 0);
    silent = mt_read_file(path, &silent_len);

    /* Refusals leave nothing behind. */
    CHECK_EQ_I(ck, trk_upload_accept("hello, this is not audio", 24, "x", audio, &env, name, sizeof name),
              TRK_ERR_FORMAT);
    big = calloc(1, TRK_UPLOAD_MAX + 1);
    CHECK_EQ_I(ck, trk_upload_accept(big, TRK_UPLOAD_MAX + 1, "x", audio, &env, name, sizeof name),
              TRK_ERR_TOO_BIG);
    {
        uint32_t x = 99;
        size_t i;
        for (i = 0; i < 65536; i++) {
            x = x * 1664525u + 1013904223u;
            big[i] = (unsigned char)(x >> 24);
        }
        CHECK(ck, trk_upload_accept(big, 65536, "noise", audio, &env, name, sizeof name) < 0);
    }
    free(big);
    CHECK_EQ_I(ck, trk_upload_accept(wav, 0, "x", audio, &env, name, sizeof name), TRK_ERR_EMPTY);
    CHECK_EQ_I(ck, trk_upload_accept(wav, 44, "x", audio, &env, name, sizeof name), TRK_ERR_EMPTY);
    CHECK_EQ_I(ck, trk_upload_accept(silent, silent_len, "x", audio, &env, name, sizeof name),
              TRK_ERR_SILENT);
    CHECK_EQ_I(ck, trk_upload_accept(wav, wav_len, "x", audio, &env, name, 10), TRK_ERR_ARG);
    CHECK_EQ_I(ck, count_dir(audio, ""), 0);
    CHECK_EQ_I(ck, count_dir(audio, "."), 2);   /* only "." and ".." */

    /* Accepted: stored byte for byte under a safe name with the detected
     * format's extension; a second upload of the same name gets " (2)". */
    CHECK_EQ_I(ck, trk_upload_accept(wav, wav_len, "My Song.mp3", audio, &env, name, sizeof name),
              TRK_OK);
    CHECK_EQ_S(ck, name, "My Song.wav");
    snprintf(path, sizeof path, "%s/%s", audio, name);
    back = mt_read_file(path, &back_len);
    CHECK(ck, back != NULL && back_len == wav_len && memcmp(back, wav, wav_len) == 0);
    free(back);
    CHECK_EQ_I(ck, trk_upload_accept(wav, wav_len, "My Song", audio, &env, name, sizeof name), TRK_OK);
    CHECK_EQ_S(ck, name, "My Song (2).wav");
    CHECK_EQ_I(ck, trk_upload_accept(flac, flac_len, "../../Hymn", audio, &env, name, sizeof name),
              TRK_OK);
    CHECK_EQ_S(ck, name, "Hymn.flac");
    entries_before = count_dir(audio, "");
    CHECK_EQ_I(ck, entries_before, 3);
    CHECK_EQ_I(ck, count_dir(audio, ".bbtmp-"), 0);

    /* And the scanner takes the uploads as tracks. */
    {
        char cachedir[4096];
        int err = 0;
        trk_scan_t *s;
        snprintf(cachedir, sizeof cachedir, "%s/upload-cache", dir);
        s = trk_scan_create(audio, cachedir, &env, &err);
        CHECK(ck, s != NULL);
        CHECK_EQ_I(ck, trk_scan_get_count(s), 3);
        CHECK_EQ_I(ck, trk_scan_find(s, "My Song (2).wav"), 1);
        trk_scan_destroy(s);
    }

    /* No writable directory: an I/O error, logged, nothing created. */
    log.n = 0;
    snprintf(path, sizeof path, "%s/missing-dir", dir);
    CHECK_EQ_I(ck, trk_upload_accept(wav, wav_len, "x", path, &env, name, sizeof name), TRK_ERR_IO);
    CHECK_EQ_I(ck, mt_log_count(&log, "mkostemp", NULL), 1);

    free(wav);
    free(flac);
    free(silent);
}

int main(void)
{
    char *dir = mt_tmpdir();

    test_rules();
    test_resample(dir);
    test_bounds(dir);
    test_scan(dir);
    test_upload(dir);
    mt_rmrf(dir);
    free(dir);
    return check_done(&ck, "test_media_track");
}
