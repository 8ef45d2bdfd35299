/*
 * mkcorpus.c - writes the seed corpora of the fuzz targets (fuzz/corpus/).
 *
 * The seeds are what real clients send: queries as the browser's
 * URLSearchParams builds them, pack_multi bodies of real Opus packets
 * (encoded here with libopus from a sung-like tone, in several Opus modes),
 * X-Event-Data as the client sends it (including "undefined"), commands as
 * the worker queues them, small audio files written with libsndfile, and
 * room records as `bb-room export` writes them.
 * Every file stays a few KB.  Run by hand after changing a harness's input
 * format (fuzz/mkcorpus.sh does it); the output is committed.
 *
 * usage: fuzz_mkcorpus OUTDIR   (writes OUTDIR/<target>/<seed>)
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opus.h>
#include <sndfile.h>

#include "imgmake.h"
#include "packet.h"
#include "segment.h"

#define RATE 48000
#define FRAME 2880

static const char *out_dir;

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void put_str(const char *target, const char *name, const char *s)
{
    put(target, name, s, strlen(s));
}

/* ---- Opus bodies ------------------------------------------------------- */

/* A sung vowel: 220 Hz with vibrato and a few harmonics. */
static void voice(float *x, int n, int64_t t0)
{
    double ph = 0;
    for (int i = 0; i < n; i++) {
        double t = (double)(t0 + i) / RATE;
        ph += 2 * M_PI * 220.0 * (1.0 + 0.01 * sin(2 * M_PI * 5.0 * t)) / RATE;
        double s = 0;
        for (int h = 1; h <= 4; h++)
            s += sin(h * ph) / (h * h);
        x[i] = (float)(0.3 * s);
    }
}

/* Encodes `packets` frames of `frame` samples (channels 1 or 2) with the
 * given application and bitrate into a pack_multi body; returns its
 * length. */
static size_t opus_body(uint8_t *body, size_t cap, int packets, int frame, int channels, int app,
                        int bitrate, bool silent)
{
    int err;
    OpusEncoder *enc = opus_encoder_create(RATE, channels, app, &err);
    if (!enc) {
        fprintf(stderr, "opus_encoder_create: %s\n", opus_strerror(err));
        exit(1);
    }
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
    static float mono[FRAME], pcm[2 * FRAME];
    size_t at = 1;
    body[0] = (uint8_t)packets;
    for (int p = 0; p < packets; p++) {
        voice(mono, frame, (int64_t)p * frame);
        for (int i = 0; i < frame; i++)
            for (int c = 0; c < channels; c++)
                pcm[i * channels + c] = silent ? 0.0f : mono[i] * (c ? 0.5f : 1.0f);
        int k = opus_encode_float(enc, pcm, frame, body + at + 2, (opus_int32)(cap - at - 2));
        if (k <= 0) {
            fprintf(stderr, "opus_encode_float: %s\n", opus_strerror(k));
            exit(1);
        }
        pk_put_len(body + at, (uint16_t)k);
        at += 2 + (size_t)k;
    }
    opus_encoder_destroy(enc);
    return at;
}

typedef struct {
    const char *name;
    uint8_t data[8192];
    size_t len;
} body_t;

static body_t bodies[8];
static int nbodies;

static void make_bodies(void)
{
    static const struct {
        const char *name;
        int packets, frame, channels, app, bitrate;
        bool silent;
    } spec[] = {
        {"celt10", 10, FRAME, 1, OPUS_APPLICATION_AUDIO, 12000, false},
        {"silk3", 3, FRAME, 1, OPUS_APPLICATION_VOIP, 8000, false},
        {"hybrid2", 2, FRAME, 1, OPUS_APPLICATION_VOIP, 20000, false},
        {"stereo2", 2, FRAME, 2, OPUS_APPLICATION_AUDIO, 24000, false},
        {"silence10", 10, FRAME, 1, OPUS_APPLICATION_AUDIO, 12000, true},
        {"lowdelay1", 1, FRAME, 1, OPUS_APPLICATION_RESTRICTED_LOWDELAY, 16000, false},
        {"frame20ms", 3, 960, 1, OPUS_APPLICATION_AUDIO, 16000, false},
    };
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        body_t *b = &bodies[nbodies++];
        b->name = spec[i].name;
        b->len = opus_body(b->data, sizeof b->data, spec[i].packets, spec[i].frame,
                           spec[i].channels, spec[i].app, spec[i].bitrate, spec[i].silent);
    }
}

static const body_t *body_named(const char *name)
{
    for (int i = 0; i < nbodies; i++)
        if (strcmp(bodies[i].name, name) == 0)
            return &bodies[i];
    fprintf(stderr, "no body %s\n", name);
    exit(1);
}

/* ---- targets ------------------------------------------------------------ */

static const char *const browser_queries[] = {
    /* First POST of a connection: no audio yet. */
    "read_clock=83155200000000&n_samples=28800&userid=48213371202&username=Ann&reset_user_state=true",
    "read_clock=83155200028800&write_clock=83155199884800&n_samples=28800&userid=48213371202"
    "&username=Ann",
    "read_clock=83155200057600&write_clock=83155199913600&n_samples=28800&userid=48213371202"
    "&username=J%C3%BCrgen+M%C3%BCller&chat=%5B%22hi%22%2C%22all+of+you%22%5D",
    "username=Bob&userid=7&n_samples=28800&read_clock=1&mic_volume=%5B%5B%2248213371202%22%2C1.5%5D%5D",
    "read_clock=2&userid=7&username=Bob&request_lead=1&mark_start_singing=1&bpm=120&repeats=2&bpr=8",
    "read_clock=2&userid=7&username=Bob&volume=1.25&backing_volume=0.5&mark_stop_singing=1",
    "read_clock=2&userid=7&username=Bob&track=%5Boptional%5D+backing+track&monitor=end&loopback=true",
    "read_clock=2&userid=7&username=%E6%97%A5%E6%9C%AC&spectator=1&summary=0&volume=1e-3",
    "name=My+Song+%281%29.mp3",
    "a=1&&b=2",
    "a=1&a=2",
    "a=%zz&b",
    "k=&v=-9223372036854775808&w=9223372036854775807&d=1.5e308",
};

static void seeds_query(void)
{
    char name[32];
    for (size_t i = 0; i < sizeof browser_queries / sizeof browser_queries[0]; i++) {
        snprintf(name, sizeof name, "q%02zu", i);
        put_str("query", name, browser_queries[i]);
    }
}

static void seeds_packet(void)
{
    uint8_t buf[8200];
    for (int i = 0; i < nbodies; i++) {
        buf[0] = 0;  /* limit: all 255 */
        memcpy(buf + 1, bodies[i].data, bodies[i].len);
        put("packet", bodies[i].name, buf, bodies[i].len + 1);
    }
    buf[0] = 128 + 2;  /* limit 2: too many packets */
    memcpy(buf + 1, body_named("celt10")->data, body_named("celt10")->len);
    put("packet", "limit2", buf, body_named("celt10")->len + 1);
    put("packet", "empty_body", "\0", 1);
    put("packet", "zero_packets", "\0\0", 2);
}

/* Raw exchange seeds: QUERY \0 EVENTS \0 BODY. */
static void raw_seed(const char *name, const char *query, const char *events, const body_t *b)
{
    static uint8_t buf[16384];
    size_t n = strlen(query);
    memcpy(buf, query, n);
    if (events) {
        buf[n++] = 0;
        size_t e = strlen(events);
        memcpy(buf + n, events, e);
        n += e;
        if (b) {
            buf[n++] = 0;
            memcpy(buf + n, b->data, b->len);
            n += b->len;
        }
    }
    put("exchange", name, buf, n);
}

static void seeds_exchange(void)
{
    const char *q0 = "read_clock=$R&n_samples=28800&userid=1000000001&username=Ann&reset_user_state=true";
    raw_seed("first", q0, "undefined", NULL);
    raw_seed("query_only", q0, NULL, NULL);
    raw_seed("audio",
             "read_clock=$R&write_clock=$W&userid=1000000002&username=Bob&reset_user_state=true",
             "[{\"evid\":\"intro\",\"clock\":83155200000000}]", body_named("celt10"));
    raw_seed("lead_start",
             "read_clock=$R&write_clock=$W&n_samples=8640&userid=1000000001&username=Ann"
             "&reset_user_state=true&request_lead=1&mark_start_singing=1&bpm=100&repeats=2&bpr=8",
             "undefined", body_named("silk3"));
    raw_seed("metronome",
             "read_clock=$R&n_samples=28800&userid=1000000003&username=Cy&reset_user_state=true"
             "&track=metronome+--+set+BPM+below&bpm=90",
             "undefined", NULL);
    raw_seed("controls",
             "read_clock=$R&n_samples=8640&userid=1000000004&username=Dee&reset_user_state=true"
             "&volume=1.5&backing_volume=0.5&monitor=$P1&mic_volume=%5B%5B%22$P0%22%2C1.5%5D%5D"
             "&chat=%5B%22hello+%3Cb%3E%22%5D",
             "undefined", NULL);
    raw_seed("stop_loopback",
             "read_clock=$R&write_clock=$W&userid=1000000001&username=Ann&reset_user_state=true"
             "&mark_stop_singing=1&loopback=true&spectator=1&summary=0",
             "[]", body_named("stereo2"));
    raw_seed("bad_body",
             "read_clock=$R&write_clock=$W&n_samples=8640&userid=1000000006&username=Fay",
             "undefined", body_named("frame20ms"));
    raw_seed("monitor_end",
             "read_clock=$R&n_samples=28800&userid=1000000005&username=Eve&reset_user_state=true"
             "&monitor=end&track=%5Boptional%5D+backing+track",
             "{\"not\":\"an array\"}", NULL);
}

static void opus_seed(const char *name, uint8_t user, uint8_t flags, const body_t *b)
{
    static uint8_t buf[8200];
    buf[0] = user;
    buf[1] = flags;
    size_t n = 2;
    if (b) {
        memcpy(buf + 2, b->data, b->len);
        n += b->len;
    }
    put("exchange_opus", name, buf, n);
}

static void seeds_exchange_opus(void)
{
    opus_seed("lead_start_celt", 0, 1 | 2 | 4, body_named("celt10"));
    opus_seed("celt", 1, 0, body_named("celt10"));
    opus_seed("silk", 2, 0, body_named("silk3"));
    opus_seed("hybrid_offgrid", 3, 128, body_named("hybrid2"));
    opus_seed("stereo_loopback", 4, 8, body_named("stereo2"));
    opus_seed("silence", 5, 0, body_named("silence10"));
    opus_seed("lowdelay_spectator", 6, 16, body_named("lowdelay1"));
    opus_seed("frame20ms", 7, 0, body_named("frame20ms"));
    opus_seed("no_body", 1, 32, NULL);
}

static void json_seed(const char *name, uint8_t user, uint8_t flags, const char *chat,
                      const char *mic, const char *events)
{
    static uint8_t buf[8192];
    size_t n = 0;
    buf[n++] = user;
    buf[n++] = flags;
    n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "%s", chat);
    if (mic) {
        buf[n++] = 0;
        n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "%s", mic);
        if (events) {
            buf[n++] = 0;
            n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "%s", events);
        }
    }
    put("exchange_json", name, buf, n);
}

static void seeds_exchange_json(void)
{
    json_seed("all", 0, 0, "[\"hello\",\"all\"]", "[[\"@1\",1.5]]",
              "[{\"evid\":\"intro\",\"clock\":83155200000000}]");
    json_seed("unicode", 1, 0, "[\"h\\u00e9llo <b>\",\"\xe6\x97\xa5\xe6\x9c\xac\"]",
              "[[@2,0.5],[\"@3\",null]]", "undefined");
    json_seed("empty", 2, 0, "[]", "[]", "[]");
    json_seed("too_many", 3, 0, "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"]",
              "", NULL);
    json_seed("events", 4, 0, "", "",
              "[{\"evid\":{\"a\":1},\"clock\":1},{\"evid\":7,\"clock\":2.5},"
              "{\"evid\":\"\\u00e9t\\u00e9\",\"clock\":-3},{\"evid\":null,\"clock\":\"x\"},5]");
    json_seed("mic_numbers", 5, 0, "", "[[1,2],[\"0\",1],[\"@4\",1e308],[\"@5\",-1]]", "undefined");
    json_seed("not_arrays", 6, 0, "{\"a\":1}", "\"x\"", "{\"evid\":1,\"clock\":1}");
    json_seed("long_chat", 7, 0,
              "[\"0123456789012345678901234567890123456789012345678901234567890123456789"
              "0123456789012345678901234567890123456789\"]",
              "", "");
}

static void cmd_seed(const char *name, uint8_t flags, const seg_cmd_t *cmds, int n)
{
    static uint8_t buf[1 + 16 * sizeof(seg_cmd_t)];
    buf[0] = flags;
    memcpy(buf + 1, cmds, (size_t)n * sizeof *cmds);
    put("daemon", name, buf, 1 + (size_t)n * sizeof *cmds);
}

static seg_cmd_t cmd(uint32_t type, uint64_t userid, int64_t a, const char *name, const char *text)
{
    seg_cmd_t c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.userid = userid;
    c.target = 2;
    c.a = a;
    c.b = 2;
    c.c = 8;
    c.f = 1.5;
    snprintf(c.name, sizeof c.name, "%s", name ? name : "");
    snprintf(c.text, sizeof c.text, "%s", text ? text : "");
    return c;
}

static void seeds_daemon(void)
{
    seg_cmd_t s1[] = {
        cmd(CMD_JOIN, 1, 0, "Ann", NULL), cmd(CMD_JOIN, 2, 0, "Bob", NULL),
        cmd(CMD_TEMPO, 1, 120, NULL, NULL), cmd(CMD_LEAD, 1, 0, "Ann", NULL),
        cmd(CMD_START, 1, 0, NULL, NULL), cmd(CMD_CHAT, 2, 0, "Bob", "hello"),
    };
    cmd_seed("song", 3, s1, 6);
    seg_cmd_t s2[] = {
        cmd(CMD_JOIN, 3, 1, "Cy", NULL), cmd(CMD_VOLUME, 3, 0, NULL, NULL),
        cmd(CMD_BACKING_VOLUME, 3, 0, NULL, NULL), cmd(CMD_MIC_VOLUME, 3, 0, NULL, NULL),
        cmd(CMD_MONITOR, 3, 0, NULL, NULL), cmd(CMD_EVENT, 3, 0, "83155200000000", "\"intro\""),
        cmd(CMD_RENAME, 3, 0, "Cyrus", NULL), cmd(CMD_SPECTATOR, 3, 0, NULL, NULL),
    };
    cmd_seed("controls", 3, s2, 8);
    seg_cmd_t s3[] = {
        cmd(CMD_JOIN, 1, 0, "Ann", NULL), cmd(CMD_TRACK, 1, 0, NULL, "metronome -- set BPM below"),
        cmd(CMD_LEAD, 1, 0, "Ann", NULL), cmd(CMD_START, 1, 0, NULL, NULL),
        cmd(CMD_STOP, 1, 0, NULL, NULL), cmd(CMD_RESET_EVENTS, 1, 0, NULL, NULL),
        cmd(CMD_RESCAN_TRACKS, 1, 0, NULL, NULL),
    };
    cmd_seed("metronome", 3, s3, 7);
    seg_cmd_t s4[] = {cmd(CMD_NTYPES, 1, 0, NULL, NULL), cmd(CMD_CHAT, 4, 0, "x", "raw")};
    cmd_seed("unknown_raw", 0, s4, 2);
}

/* ---- audio files ------------------------------------------------------- */

/* Writes frames of a tone with libsndfile in `format` to a temporary file
 * and stores its bytes as a seed; false if libsndfile cannot write it. */
static bool audio_seed(const char *name, int format, int rate, int channels, int frames,
                       double amp)
{
    char tmp[] = "/tmp/bbmkcorpus-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        perror("mkstemp");
        exit(1);
    }
    close(fd);
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *sf = sf_open(tmp, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "mkcorpus: %s not written: %s\n", name, sf_strerror(NULL));
        unlink(tmp);
        return false;
    }
    float *x = calloc((size_t)frames * (size_t)channels, sizeof *x);
    for (int i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            x[i * channels + c] = (float)(amp * sin(2 * M_PI * 440.0 * i / rate) * (c ? 0.5 : 1.0));
    sf_writef_float(sf, x, frames);
    sf_close(sf);
    free(x);
    FILE *f = fopen(tmp, "rb");
    static uint8_t buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    unlink(tmp);
    if (n > 6144) {
        fprintf(stderr, "mkcorpus: %s is %zu bytes; left out\n", name, n);
        return false;
    }
    put("track", name, buf, n);
    return true;
}

static void seeds_track(void)
{
    audio_seed("pcm16_8k.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 800, 0.5);
    audio_seed("float_stereo_44k.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 2, 300, 0.5);
    audio_seed("pcm24_48k.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 48000, 1, 600, 0.5);
    audio_seed("ulaw_16k.au", SF_FORMAT_AU | SF_FORMAT_ULAW, 16000, 1, 1600, 0.5);
    audio_seed("pcm16_22k.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 1, 2205, 0.5);
    audio_seed("vorbis_8k.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 8000, 1, 800, 0.5);
    audio_seed("opus_48k.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1, 4800, 0.5);
    audio_seed("mp3_8k.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 8000, 1, 2304, 0.5);
    audio_seed("silent.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 400, 0.0);
    audio_seed("w64_3ch.w64", SF_FORMAT_W64 | SF_FORMAT_PCM_U8, 8000, 3, 200, 0.5);
    put("track", "empty", "", 0);
}

static void seeds_trackname(void)
{
    static const char *const names[] = {
        "My Song.mp3", "C:\\fakepath\\song.mp3", "README.md", "../../etc/passwd",
        "  ..hidden track", "\xe6\x97\xa5\xe6\x9c\xac\xe3\x81\xae\xe6\xad\x8c",
        "evil\xe2\x80\xae" "3pm.wav", "a\tb  c\x01\xff.flac", "-rf", "track.tmp", "",
        "0123456789012345678901234567890123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789012345678901234567890123456789",
    };
    char buf[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        buf[0] = (char)i;                   /* extension */
        buf[1] = (char)(i % 3 == 0 ? 1 : 0); /* n: 2 or 1 */
        buf[2] = (char)(i == 5 ? 128 + 20 : 0);
        size_t n = strlen(names[i]);
        memcpy(buf + 3, names[i], n);
        char name[16];
        snprintf(name, sizeof name, "n%02zu", i);
        put("trackname", name, buf, n + 3);
    }
}

/* Room records as rdb_export() writes them (one line, fields in its
 * order), with the variations a person editing one by hand makes, and a
 * few that must be refused. fuzz_roomimport's database already holds
 * 0123456789. */
static void seeds_roomimport(void)
{
#define RI_HASHES                                                                      \
    "\"singer_hash\":\"8a5bdb4cc15164126c6ef2668de9dd240d299ce6397a42c95a9411b93d080ed8\"," \
    "\"organiser_hash\":\"641753fd55db885548ca56e592d1d84484c599f8697ab33aa151311b836c57ba\","
    static const struct {
        const char *name;
        const char *text;
    } seeds[] = {
        {"export", "{\"version\":1,\"id\":\"g7g2jmgs9k\",\"name\":\"Tuesday Choir\"," RI_HASHES
                   "\"max_singers\":0,\"created\":1700000000,\"allow_uploads\":true,\"key_gen\":0}"},
        {"unicode", "{\"version\":1,\"id\":\"pzyvh1sbhw\",\"name\":\"Ch\\u0153ur \xe6\x97\xa5\xe6\x9c\xac "
                    "\\ud83c\\udfb5 \\\"q\\\" \\\\\"," RI_HASHES
                    "\"max_singers\":40,\"created\":1700000000,\"allow_uploads\":false,"
                    "\"key_gen\":7}"},
        {"pretty", "{\n  \"key_gen\": 2,\n  \"allow_uploads\": true,\n  \"created\": 1.7e9,\n"
                   "  \"max_singers\": 10000,\n  \"organiser_hash\": "
                   "\"641753FD55DB885548CA56E592D1D84484C599F8697AB33AA151311B836C57BA\",\n"
                   "  \"singer_hash\": "
                   "\"8a5bdb4cc15164126c6ef2668de9dd240d299ce6397a42c95a9411b93d080ed8\",\n"
                   "  \"name\": \"Altos\",\n  \"id\": \"9vjbjdftp9\",\n  \"version\": 1\n}\n"},
        {"duplicate", "{\"version\":1,\"id\":\"0123456789\",\"name\":\"Seed choir\"," RI_HASHES
                      "\"max_singers\":0,\"created\":1700000000,\"allow_uploads\":true,"
                      "\"key_gen\":0}"},
        {"bad_fields", "{\"version\":2,\"id\":\"ABCDEFGHIJ\",\"name\":\"tab\\there\"," RI_HASHES
                       "\"max_singers\":-1,\"created\":0,\"allow_uploads\":1,\"key_gen\":0.5,"
                       "\"closed\":null}"},
        {"escaped_nul", "{\"version\":1,\"id\":\"abcdefghjk\",\"name\":\"a\\u0000b\"," RI_HASHES
                        "\"max_singers\":0,\"created\":1700000000,\"allow_uploads\":true,"
                        "\"key_gen\":0}"},
        {"trailing", "{\"version\":1,\"id\":\"abcdefghjm\",\"name\":\"x\"," RI_HASHES
                     "\"max_singers\":0,\"created\":1700000000,\"allow_uploads\":true,"
                     "\"key_gen\":0} {}"},
    };
#undef RI_HASHES
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        put_str("roomimport", seeds[i].name, seeds[i].text);
}

/* Small PNGs and JPEGs made with libpng and libjpeg, whole and cut, one
 * with an EXIF orientation, and a PNG whose header claims more pixels than
 * allowed. */
static void seeds_image(void)
{
    uint8_t *rgb = picture(16, 12, 3), *rgba = picture(16, 12, 4);
    size_t n;
    uint8_t *p = make_png(rgb, 16, 12, 3, &n);
    put("image", "rgb.png", p, n);
    put("image", "cut.png", p, n / 2);
    p[16] = 0x7f;   /* width 2^31 - ...: the bound, before the CRC */
    put("image", "huge.png", p, n);
    free(p);
    p = make_png(rgba, 16, 12, 4, &n);
    put("image", "rgba.png", p, n);
    free(p);
    p = make_jpeg(rgb, 16, 12, &n);
    put("image", "rgb.jpg", p, n);
    put("image", "cut.jpg", p, n * 2 / 3);
    free(p);
    uint8_t exif[32];
    unsigned en = exif_orientation_block(exif, 6, 0);
    p = make_jpeg_app1(rgb, 16, 12, exif, en, &n);
    put("image", "exif6.jpg", p, n);
    free(p);
    put("image", "empty", "", 0);
    free(rgb);
    free(rgba);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    make_bodies();
    seeds_query();
    seeds_packet();
    seeds_exchange();
    seeds_exchange_opus();
    seeds_exchange_json();
    seeds_daemon();
    seeds_track();
    seeds_trackname();
    seeds_roomimport();
    seeds_image();
    return 0;
}
