/* test_stem: the Ogg Opus stem writer (media/stem.h).
 *
 * A tone is encoded into 60 ms packets as a singer's client would; one
 * decoder that follows the whole stream is what the worker heard.  The
 * stem is written as the worker writes it (pre-roll from the upload before,
 * the song's start inside a packet, a lost upload, a repeated one, a
 * restart that continues the file, a torn last page) and read back two
 * ways: page by page here (checking every CRC, the sequence numbers, the
 * granule positions and the end-of-stream flag) and with libsndfile, the
 * reader the tests and many tools use.  Decoded and placed by the pre-skip
 * at its origin, the stem must equal what the worker decoded.
 */
#include <fcntl.h>
#include <math.h>
#include <opus.h>
#include <sndfile.h>
#include <stdint.h>

#include "media/oggpage.h"
#include "media/recdir.h"
#include "media/stem.h"
#include "media_test.h"

#define FR 2880
#define SONG_START ((int64_t)1764000000 * 48000)   /* a clock in 2025 */
#define NPK 200                                    /* 12 s of packets */

typedef struct {
    uint8_t data[NPK][1500];
    uint32_t len[NPK];
    float ref[NPK * FR];       /* one decoder over the whole stream */
    int64_t clock0;            /* clock of packet 0 */
} stream_t;

static void make_stream(stream_t *s)
{
    int e;
    OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &e);
    OpusDecoder *dec = opus_decoder_create(48000, 1, &e);
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(64000));
    float x[FR];
    for (int p = 0; p < NPK; p++) {
        for (int i = 0; i < FR; i++) {
            double t = (double)(p * FR + i) / 48000;
            x[i] = (float)(0.3 * sin(2 * M_PI * 440 * t) * (0.6 + 0.4 * sin(2 * M_PI * 0.7 * t)));
        }
        int k = opus_encode_float(enc, x, FR, s->data[p], sizeof s->data[p]);
        CHECK(ck, k > 0);
        s->len[p] = (uint32_t)k;
        CHECK_EQ_I(ck, opus_decode_float(dec, s->data[p], k, s->ref + p * FR, FR, 0), FR);
    }
    opus_encoder_destroy(enc);
    opus_decoder_destroy(dec);
    /* The song starts 1000 samples into packet 20. */
    s->clock0 = SONG_START - 20 * FR - 1000;
}

/* Writes packets [from, to) of the stream. */
static int put(stem_writer_t *w, const stream_t *s, int from, int to)
{
    stem_packet_t pk[NPK];
    for (int i = from; i < to; i++)
        pk[i - from] = (stem_packet_t){ s->data[i], s->len[i], FR };
    return stem_write(w, s->clock0 + (int64_t)from * FR, pk, (uint32_t)(to - from));
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t ogg_crc(const uint8_t *p, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c ^= (uint32_t)p[i] << 24;
        for (int k = 0; k < 8; k++)
            c = (c & 0x80000000u) ? (c << 1) ^ 0x04c11db7u : c << 1;
    }
    return c;
}

typedef struct {
    float *pcm;            /* after the pre-skip */
    long n;
    int pages, eos_pages, eos_last, bad;
    uint32_t pre_skip;
} decoded_t;

/* Reads an Ogg Opus file page by page, checking its framing, and decodes it
 * the way RFC 7845 asks a player to. */
static decoded_t decode_file(const char *path)
{
    decoded_t d = { 0 };
    FILE *f = fopen(path, "rb");
    if (!f) {
        d.bad = 1;
        return d;
    }
    static uint8_t file[4 << 20];
    size_t size = fread(file, 1, sizeof file, f);
    fclose(f);
    int e;
    OpusDecoder *dec = opus_decoder_create(48000, 1, &e);
    size_t cap = 48000 * 60;
    float *all = calloc(cap, sizeof *all);
    long got = 0;
    uint8_t pkt[8192];
    size_t plen = 0;
    uint64_t last_gp = 0;
    int npackets = 0;
    for (size_t at = 0; at < size;) {
        const uint8_t *pg = file + at;
        if (size - at < 27 || memcmp(pg, "OggS", 4) != 0) {
            d.bad = 1;
            break;
        }
        size_t nseg = pg[26], body = 0;
        for (size_t i = 0; i < nseg; i++)
            body += pg[27 + i];
        size_t len = 27 + nseg + body;
        if (at + len > size) {
            d.bad = 1;
            break;
        }
        uint8_t tmp[27];
        memcpy(tmp, pg, 27);
        memset(tmp + 22, 0, 4);
        uint32_t c = ogg_crc(tmp, 27);
        for (size_t i = 27; i < len; i++) {
            c ^= (uint32_t)pg[i] << 24;
            for (int k = 0; k < 8; k++)
                c = (c & 0x80000000u) ? (c << 1) ^ 0x04c11db7u : c << 1;
        }
        if (c != le32(pg + 22) || le32(pg + 18) != (uint32_t)d.pages)
            d.bad = 1;
        if (pg[5] & 4) {
            d.eos_pages++;
            d.eos_last = at + len == size;
        }
        const uint8_t *b = pg + 27 + nseg;
        for (size_t i = 0; i < nseg; i++) {
            memcpy(pkt + plen, b, pg[27 + i]);
            plen += pg[27 + i];
            b += pg[27 + i];
            if (pg[27 + i] == 255)
                continue;
            if (npackets == 0)
                d.pre_skip = (uint32_t)(pkt[10] | pkt[11] << 8);
            else if (npackets >= 2) {
                int k = opus_decode_float(dec, pkt, (int)plen, all + got, 5760, 0);
                if (k < 0)
                    d.bad = 1;
                else
                    got += k;
            }
            npackets++;
            plen = 0;
        }
        uint64_t gp = (uint64_t)le32(pg + 6) | (uint64_t)le32(pg + 10) << 32;
        if (d.pages >= 2 && (gp != (uint64_t)got || gp < last_gp))
            d.bad = 1;
        last_gp = gp;
        d.pages++;
        at += len;
    }
    opus_decoder_destroy(dec);
    d.n = got - (long)d.pre_skip;
    d.pcm = all;
    if (d.n > 0)
        memmove(all, all + d.pre_skip, (size_t)d.n * sizeof *all);
    return d;
}

/* Largest difference between the decoded stem at clocks [a, b) and the
 * reference. */
static double diff_ref(const stream_t *s, const float *pcm, int64_t origin, int64_t a, int64_t b)
{
    double worst = 0;
    for (int64_t c = a; c < b; c++) {
        double d = fabs(pcm[c - origin] - s->ref[c - s->clock0]);
        if (d > worst)
            worst = d;
    }
    return worst;
}

static void test_write_read(const char *dir, stream_t *s)
{
    mt_log_t log = { .n = 0 };
    int err = 0;
    char path[600];
    /* The singer's first mix write of the song: packets 20..29 (the song
     * starts inside packet 20), with packets 10..19 before as pre-roll. */
    stem_writer_t *w = stem_create(dir, SONG_START, "42", SONG_START, REC_NO_SYNC, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    if (!w)
        return;
    CHECK_EQ_S(ck, stem_get_file_name(w), "2025-11-24-160000-stem-42.opus");
    snprintf(path, sizeof path, "%s/%s", dir, stem_get_file_name(w));
    CHECK(ck, access(path, F_OK) != 0);        /* appears with its first audio */
    CHECK_EQ_I(ck, put(w, s, 10, 30), REC_OK);
    CHECK(ck, access(path, F_OK) == 0);
    CHECK_EQ_I(ck, stem_get_end_clock(w), s->clock0 + 30 * FR);
    CHECK_EQ_I(ck, put(w, s, 30, 40), REC_OK);
    CHECK_EQ_I(ck, put(w, s, 35, 40), REC_OK);  /* a repeat: held already */
    /* Packets 40..49 are lost; 50.. arrive. */
    CHECK_EQ_I(ck, put(w, s, 50, 60), REC_OK);
    CHECK_EQ_I(ck, put(w, s, 60, 70), REC_OK);
    CHECK_EQ_I(ck, stem_get_end_clock(w), s->clock0 + 70 * FR);
    CHECK_EQ_I(ck, stem_destroy(w), REC_OK);

    decoded_t d = decode_file(path);
    CHECK(ck, !d.bad);
    CHECK_EQ_I(ck, d.pre_skip, 10 * FR + 1000);
    CHECK_EQ_I(ck, d.eos_pages, 1);
    CHECK(ck, d.eos_last);
    CHECK_EQ_I(ck, d.n, s->clock0 + 70 * FR - SONG_START);
    /* After ten packets of pre-roll the stem decodes as the worker did. */
    double before_gap = diff_ref(s, d.pcm, SONG_START, SONG_START, s->clock0 + 40 * FR);
    printf("  stem vs the worker's decoder before the gap: %.3g\n", before_gap);
    CHECK(ck, before_gap < 1e-6);
    /* The gap is silence after the last frame's tail (5 ms). */
    double gap = 0;
    int64_t gap_at = 0;
    for (int64_t c = s->clock0 + 40 * FR + 240; c < s->clock0 + 50 * FR; c++)
        if (fabs(d.pcm[c - SONG_START]) > gap) {
            gap = fabs(d.pcm[c - SONG_START]);
            gap_at = c - s->clock0 - 40 * FR;
        }
    printf("  the gap: largest %.3g at %lld\n", gap, (long long)gap_at);
    CHECK(ck, gap < 1e-3);
    /* After the gap the decoder converges again on the singer's stream. */
    double after = diff_ref(s, d.pcm, SONG_START, s->clock0 + 60 * FR, s->clock0 + 70 * FR);
    printf("  after the lost upload (from 600 ms on): %.3g\n", after);
    CHECK(ck, after < 1e-6);

    /* libsndfile reads the same samples at the same places. */
    SF_INFO info = { 0 };
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    CHECK(ck, sf != NULL);
    if (sf) {
        CHECK_EQ_I(ck, info.samplerate, 48000);
        CHECK_EQ_I(ck, info.channels, 1);
        float *x = calloc((size_t)d.n + 48000, sizeof *x);
        sf_count_t n = sf_readf_float(sf, x, d.n + 48000);
        sf_close(sf);
        CHECK_EQ_I(ck, n, d.n);
        double worst = 0;
        for (long i = 0; i < d.n && i < n; i++)
            worst = fmax(worst, fabs(x[i] - d.pcm[i]));
        printf("  libsndfile vs this reader: %lld samples, largest difference %.3g\n", (long long)n,
               worst);
        CHECK(ck, worst < 1e-6);
        free(x);
    }
    int64_t ss = 0, origin = 0;
    CHECK_EQ_I(ck, oggp_stem_info(path, &ss, &origin), 0);
    CHECK_EQ_I(ck, ss, SONG_START);
    CHECK_EQ_I(ck, origin, SONG_START);
    free(d.pcm);

    /* A restart continues the file: the old end-of-stream flag goes, the
     * stream goes on with the next page. */
    w = stem_create(dir, SONG_START, "42", SONG_START + 99 * FR, REC_NO_SYNC, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    if (!w)
        return;
    CHECK_EQ_I(ck, stem_get_resumed(w), 1);
    CHECK_EQ_I(ck, stem_get_origin_clock(w), SONG_START);
    CHECK_EQ_I(ck, stem_get_end_clock(w), s->clock0 + 70 * FR);
    CHECK_EQ_I(ck, put(w, s, 70, 80), REC_OK);
    CHECK_EQ_I(ck, stem_destroy(w), REC_OK);
    d = decode_file(path);
    CHECK(ck, !d.bad);
    CHECK_EQ_I(ck, d.eos_pages, 1);
    CHECK(ck, d.eos_last);
    CHECK_EQ_I(ck, d.n, s->clock0 + 80 * FR - SONG_START);
    CHECK(ck, diff_ref(s, d.pcm, SONG_START, s->clock0 + 60 * FR, s->clock0 + 80 * FR) < 1e-6);
    free(d.pcm);

    /* A crash in the middle of a page (the restart's one page, 70..79):
     * the torn page is cut off. */
    struct stat st;
    CHECK(ck, stat(path, &st) == 0);
    CHECK(ck, truncate(path, st.st_size - 100) == 0);
    w = stem_create(dir, SONG_START, "42", SONG_START, REC_NO_SYNC, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    if (!w)
        return;
    CHECK_EQ_I(ck, mt_log_count(&log, "torn page", NULL), 1);
    CHECK_EQ_I(ck, stem_get_end_clock(w), s->clock0 + 70 * FR);
    CHECK_EQ_I(ck, put(w, s, 66, 90), REC_OK);
    CHECK_EQ_I(ck, stem_destroy(w), REC_OK);
    d = decode_file(path);
    CHECK(ck, !d.bad);
    CHECK_EQ_I(ck, d.n, s->clock0 + 90 * FR - SONG_START);
    CHECK(ck, diff_ref(s, d.pcm, SONG_START, s->clock0 + 71 * FR, s->clock0 + 90 * FR) < 1e-6);
    free(d.pcm);

    /* opus-tools' own checker, when it is installed, agrees. */
    if (system("command -v opusinfo >/dev/null 2>&1") == 0) {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "opusinfo '%s' 2>&1 | grep -E -i 'warning|error|corrupt'", path);
        CHECK(ck, system(cmd) != 0);
    }
}

static void test_late_start_and_parts(const char *dir, stream_t *s)
{
    mt_log_t log = { .n = 0 };
    int err = 0;
    char path[600];
    /* A singer who joins late: origin at their first mix write (packet
     * 100, 1000 samples in, as an unaligned client's), no pre-roll. */
    int64_t origin = s->clock0 + 100 * FR;
    stem_writer_t *w = stem_create(dir, SONG_START, "late", origin + 1000, REC_NO_SYNC, mt_log, &log,
                                   &err);
    CHECK(ck, w != NULL);
    if (!w)
        return;
    CHECK_EQ_I(ck, put(w, s, 100, 120), REC_OK);
    /* An unaligned reconnect: a gap that is not a whole 2.5 ms. */
    stem_packet_t pk[10];
    for (int i = 0; i < 10; i++)
        pk[i] = (stem_packet_t){ s->data[130 + i], s->len[130 + i], FR };
    CHECK_EQ_I(ck, stem_write(w, s->clock0 + 130 * FR + 50, pk, 10), REC_OK);
    CHECK_EQ_I(ck, mt_log_count(&log, "not a whole 2.5 ms", "50 samples off"), 1);
    snprintf(path, sizeof path, "%s/%s", dir, stem_get_file_name(w));
    CHECK_EQ_I(ck, stem_destroy(w), REC_OK);
    decoded_t d = decode_file(path);
    CHECK(ck, !d.bad);
    CHECK_EQ_I(ck, d.pre_skip, 1000);
    /* No pre-roll here: the first frames differ, then the stem converges. */
    double late = diff_ref(s, d.pcm, origin + 1000, s->clock0 + 110 * FR, s->clock0 + 120 * FR);
    printf("  a late starter without pre-roll, from 600 ms on: %.3g\n", late);
    CHECK(ck, late < 1e-6);
    free(d.pcm);
    int64_t ss, o;
    CHECK_EQ_I(ck, oggp_stem_info(path, &ss, &o), 0);
    CHECK_EQ_I(ck, o, origin + 1000);

    /* Audio that begins after the origin: silence first, exactly. */
    w = stem_create(dir, SONG_START, "quiet", SONG_START, REC_NO_SYNC, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    if (!w)
        return;
    stem_set_singer(w, "Zoë \"the quiet one\"");
    CHECK_EQ_I(ck, put(w, s, 25, 35), REC_OK);
    snprintf(path, sizeof path, "%s/%s", dir, stem_get_file_name(w));
    CHECK_EQ_I(ck, stem_destroy(w), REC_OK);
    d = decode_file(path);
    CHECK(ck, !d.bad);
    CHECK_EQ_I(ck, d.n, s->clock0 + 35 * FR - SONG_START);
    double lead = 0;
    for (int64_t c = SONG_START; c < s->clock0 + 25 * FR; c++)
        lead = fmax(lead, fabs(d.pcm[c - SONG_START]));
    CHECK(ck, lead < 1e-3);
    free(d.pcm);

    /* A file of that name that is not ours: the stem goes on in part 2. */
    char other[600];
    snprintf(other, sizeof other, "%s/2025-11-24-160000-stem-7.opus", dir);
    FILE *f = fopen(other, "w");
    fputs("not an ogg file", f);
    fclose(f);
    w = stem_create(dir, SONG_START, "7", SONG_START, REC_NO_SYNC, mt_log, &log, &err);
    CHECK(ck, w != NULL);
    if (w) {
        CHECK_EQ_S(ck, stem_get_file_name(w), "2025-11-24-160000-stem-7-part2.opus");
        /* A second writer for the same stem is refused while one holds it. */
        CHECK_EQ_I(ck, put(w, s, 20, 30), REC_OK);
        int e2 = 0;
        CHECK(ck, stem_create(dir, SONG_START, "7", SONG_START, REC_NO_SYNC, mt_log, &log, &e2) == NULL);
        CHECK_EQ_I(ck, e2, REC_ERR_BUSY);
        stem_destroy(w);
    }

    /* The project puts each stem at its origin. */
    CHECK_EQ_I(ck, rec_lof_write(dir, SONG_START, REC_END_SONG, 0, mt_log, &log), REC_OK);
    char lof[600], buf[4096] = "";
    snprintf(lof, sizeof lof, "%s/2025-11-24-160000.lof", dir);
    f = fopen(lof, "r");
    CHECK(ck, f != NULL);
    if (f) {
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        buf[k] = '\0';
        fclose(f);
    }
    CHECK(ck, strstr(buf, "file \"2025-11-24-160000-stem-42.opus\" offset 0.000000000") != NULL);
    char want[200];
    snprintf(want, sizeof want, "file \"2025-11-24-160000-stem-late.opus\" offset %.9f",
             (double)(origin + 1000 - SONG_START) / 48000);
    CHECK(ck, strstr(buf, want) != NULL);
    CHECK(ck, strstr(buf, "stem-7.opus") == NULL);   /* not ours: left out */
    CHECK(ck, strstr(buf, "stem-7-part2.opus") != NULL);
    /* The listing names each stem's singer: its ARTIST tag, else its id. */
    static char list[16384];
    jw_t jw;
    jw_init(&jw, list, sizeof list);
    CHECK_EQ_I(ck, rec_listing_json(dir, 5, 0, &jw, mt_log, &log), REC_OK);
    CHECK(ck, jw_ok(&jw));
    CHECK(ck, strstr(list, "{\"file\":\"2025-11-24-160000-stem-quiet.opus\",\"bytes\":") != NULL);
    CHECK(ck, strstr(list, "\"singer\":\"Zo\\u00eb \\\"the quiet one\\\"\"}") != NULL);
    CHECK(ck, strstr(list, "\"singer\":\"42\"}") != NULL);
    CHECK(ck, strstr(list, "\"singer\":\"late\"}") != NULL);
}

static void test_bad_arguments(const char *dir, stream_t *s)
{
    int err = 0;
    CHECK(ck, stem_create(dir, SONG_START, "x", SONG_START - 1, 0, NULL, NULL, &err) == NULL);
    CHECK_EQ_I(ck, err, REC_ERR_ARG);
    CHECK(ck, stem_create(dir, SONG_START, "???", SONG_START, 0, NULL, NULL, &err) == NULL);
    CHECK_EQ_I(ck, err, REC_ERR_ARG);
    stem_writer_t *w = stem_create(dir, SONG_START, "args", SONG_START, REC_NO_SYNC, NULL, NULL, &err);
    CHECK(ck, w != NULL);
    if (!w)
        return;
    stem_packet_t bad = { s->data[0], 0, FR };
    CHECK_EQ_I(ck, stem_write(w, SONG_START, &bad, 1), REC_ERR_ARG);
    bad = (stem_packet_t){ s->data[0], s->len[0], 7 };
    CHECK_EQ_I(ck, stem_write(w, SONG_START, &bad, 1), REC_ERR_ARG);
    /* A gap past an hour is refused, not filled. */
    stem_packet_t ok = { s->data[0], s->len[0], FR };
    CHECK_EQ_I(ck, stem_write(w, SONG_START, &ok, 1), REC_OK);
    CHECK_EQ_I(ck, stem_write(w, SONG_START + (int64_t)2 * 3600 * 48000, &ok, 1), REC_ERR_FULL);
    stem_destroy(w);
}

int main(void)
{
    char *dir = mt_tmpdir();
    static stream_t s;
    make_stream(&s);
    test_write_read(dir, &s);
    test_late_start_and_parts(dir, &s);
    test_bad_arguments(dir, &s);
    mt_rmrf(dir);
    free(dir);
    return check_done(&ck, "test_media_stem");
}
