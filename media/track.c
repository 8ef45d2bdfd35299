/* track: preparing backing tracks (decode, mono, 48 kHz, loudness), playing
 * prepared ones (mmap), scanning the audio directory and accepting uploads.
 *
 * Everything decodes through one pipeline: libsndfile float frames ->
 * trk_clean_sample() per sample -> average of the channels -> optional
 * libsamplerate -> a sink, with the loudness statistics taken on the way
 * out. Memory per call is bounded by the block sizes below (about 1 MB at
 * 64 channels), whatever the length of the source.
 *
 * Preparing writes the unscaled 48 kHz samples to a temporary file first,
 * because the gain is only known once the whole track has been measured;
 * a second pass scales the file in place, the header is written last, and
 * only then is the file renamed over the cache name. So a cache name always
 * holds a complete, consistent file, and a crash leaves at worst a
 * ".bbtmp-" file that a later scan deletes.
 *
 * The cache stores native floats and the header is encoded explicitly as
 * little-endian; the build refuses a big-endian host rather than writing a
 * file another host would misread.
 */
#include "track.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "track.c writes cache samples as native floats: little-endian hosts only"
#endif

#define BLOCK_FRAMES 4096          /* source frames per libsndfile read */
#define OUT_FRAMES 8192            /* resampler output frames per call */
#define GATE_BLOCK 4800            /* 100 ms at 48 kHz */
#define GATE_MEAN_SQ 1e-6          /* -60 dBFS, as a mean square */
#define SILENT_PEAK (1.0 / 32768.0)
#define CLEAN_LIMIT 16.0f
#define HDR_SIZE 64
#define HDR_VERSION 1u
#define TMP_MAX_AGE_S 3600

static const char HDR_MAGIC[8] = { 'B', 'B', 'T', 'R', 'A', 'C', 'K', 0 };

const char *trk_strerror(int err)
{
    switch (err) {
    case TRK_OK: return "success";
    case TRK_ERR_ARG: return "invalid argument";
    case TRK_ERR_NOMEM: return "out of memory";
    case TRK_ERR_IO: return "file system call failed";
    case TRK_ERR_FORMAT: return "not an audio file that can be decoded";
    case TRK_ERR_DECODE: return "audio data is damaged (decoding failed)";
    case TRK_ERR_EMPTY: return "file holds no audio";
    case TRK_ERR_SILENT: return "audio is silent";
    case TRK_ERR_TOO_LONG: return "longer than 30 minutes";
    case TRK_ERR_CHANNELS: return "unsupported number of channels";
    case TRK_ERR_RATE: return "unsupported sample rate";
    case TRK_ERR_RESAMPLE: return "resampling failed";
    case TRK_ERR_CACHE: return "prepared track missing or damaged";
    case TRK_ERR_STALE: return "prepared track is out of date";
    case TRK_ERR_NAME: return "unsafe track name";
    case TRK_ERR_EXISTS: return "no free track name";
    case TRK_ERR_TOO_BIG: return "file larger than 32 MiB";
    case TRK_ERR_CANCELLED: return "cancelled";
    case TRK_ERR_NOT_FOUND: return "no such track";
    default: return "unknown track error";
    }
}

float trk_clean_sample(float x)
{
    if (!isfinite(x))
        return 0.0f;
    if (x > CLEAN_LIMIT)
        return CLEAN_LIMIT;
    if (x < -CLEAN_LIMIT)
        return -CLEAN_LIMIT;
    return x;
}

double trk_gain_for(double gated_rms, double peak)
{
    double by_rms, by_peak;

    if (!isfinite(gated_rms) || !isfinite(peak) || gated_rms <= 0.0
        || peak < SILENT_PEAK)
        return 0.0;
    by_rms = pow(10.0, TRK_TARGET_RMS_DBFS / 20.0) / gated_rms;
    by_peak = TRK_PEAK_LIMIT / peak;
    return by_rms < by_peak ? by_rms : by_peak;
}

/* ---- names ---------------------------------------------------------- */

/* Decodes one UTF-8 sequence at s (avail bytes). Returns its length and
 * the code point, or -1 for an invalid, overlong or surrogate sequence. */
static int utf8_next(const unsigned char *s, size_t avail, uint32_t *cp)
{
    uint32_t v, min;
    int len, i;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2; v = s[0] & 0x1F; min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3; v = s[0] & 0x0F; min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4; v = s[0] & 0x07; min = 0x10000;
    } else {
        return -1;
    }
    if ((size_t)len > avail)
        return -1;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    *cp = v;
    return len;
}

/* Control characters and the invisible ones that can disguise a name. */
static int cp_is_hidden(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)
        || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E)
        || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

int trk_name_is_safe(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t len, i = 0;

    if (name == NULL)
        return 0;
    len = strlen(name);
    if (len == 0 || len > TRK_NAME_MAX || name[0] == '.')
        return 0;
    while (i < len) {
        uint32_t cp;
        int n = utf8_next(s + i, len - i, &cp);
        if (n < 0 || cp == '/' || cp_is_hidden(cp))
            return 0;
        i += (size_t)n;
    }
    return 1;
}

/* Writes `name` into out with bytes that are unsafe in a log line shown as
 * \xNN, so a hostile file name cannot forge log lines or terminal codes. */
static void log_safe_name(const char *name, char *out, size_t cap)
{
    size_t o = 0;

    for (; *name != '\0' && o + 5 < cap; name++) {
        unsigned char c = (unsigned char)*name;
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

static int is_ext_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9');
}

/* Cuts s (a NUL-terminated UTF-8 string) to at most max bytes without
 * splitting a character. */
static void utf8_cut(char *s, size_t max)
{
    size_t len = strlen(s);

    if (len <= max)
        return;
    while (max > 0 && (((unsigned char)s[max]) & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

static void trim_trailing(char *s)
{
    size_t len = strlen(s);

    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '.'))
        s[--len] = '\0';
}

int trk_upload_name(const char *requested, const char *ext, int n, char *out,
                    size_t cap)
{
    char base[4 * TRK_NAME_MAX + 8];
    char suffix[16] = "";
    const char *start, *end, *p;
    size_t o = 0, ext_len, room, i;
    int w;

    if (ext == NULL || out == NULL || n < 1 || n > 999)
        return TRK_ERR_ARG;
    ext_len = strlen(ext);
    if (ext_len == 0 || ext_len > 8)
        return TRK_ERR_ARG;
    for (i = 0; i < ext_len; i++)
        if (!is_ext_char(ext[i]))
            return TRK_ERR_ARG;
    if (requested == NULL)
        requested = "";

    /* Last path component: browsers may send "C:\fakepath\song.mp3". */
    start = requested;
    for (p = requested; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            start = p + 1;
    end = start + strlen(start);
    /* Drop the user's own extension: ours follows the detected format. */
    p = strrchr(start, '.');
    if (p != NULL && p > start && end - p >= 2 && end - p <= 6) {
        const char *q;
        for (q = p + 1; q < end && is_ext_char(*q); q++)
            ;
        if (q == end)
            end = p;
    }

    /* Leave room for one more character (4 bytes), the "track " prefix a
     * README-like name gets below (6) and the NUL. */
    for (p = start; p < end && o < sizeof base - 12;) {
        uint32_t cp;
        int len = utf8_next((const unsigned char *)p, (size_t)(end - p), &cp);
        if (len < 0) {
            base[o++] = '_';
            p++;
            continue;
        }
        if (cp == ' ' || cp == '\t') {
            if (o > 0 && base[o - 1] != ' ')
                base[o++] = ' ';
        } else if (cp_is_hidden(cp) || strchr("/\\:*?\"<>|", (int)cp) != NULL) {
            base[o++] = '_';
        } else {
            memcpy(base + o, p, (size_t)len);
            o += (size_t)len;
        }
        p += len;
    }
    base[o] = '\0';

    /* Leading spaces, dots (hidden files) and '-' (option-like names). */
    for (p = base; *p == ' ' || *p == '.' || *p == '-'; p++)
        ;
    memmove(base, p, strlen(p) + 1);
    trim_trailing(base);
    if (strncasecmp(base, "readme", 6) == 0) {
        memmove(base + 6, base, strlen(base) + 1);
        memcpy(base, "track ", 6);
    }
    if (base[0] == '\0')
        strcpy(base, "upload");

    if (n >= 2)
        snprintf(suffix, sizeof suffix, " (%d)", n);
    room = TRK_NAME_MAX - strlen(suffix) - 1 - ext_len;
    utf8_cut(base, room);
    trim_trailing(base);
    if (base[0] == '\0')
        strcpy(base, "upload");

    w = snprintf(out, cap, "%s%s.%s", base, suffix, ext);
    if (w < 0 || (size_t)w >= cap)
        return TRK_ERR_ARG;
    return trk_name_is_safe(out) ? TRK_OK : TRK_ERR_ARG;
}

/* ---- the decoding pipeline ---------------------------------------------- */

typedef struct {
    double sum_sq;         /* over all output samples */
    uint64_t n;
    double gated_sum_sq;   /* over the 100 ms blocks above the gate */
    uint64_t gated_n;
    double blk_sum_sq;     /* the block in progress */
    uint32_t blk_n;
    float peak;
} loudness_t;

static void loud_close_block(loudness_t *l)
{
    if (l->blk_n > 0 && l->blk_sum_sq / l->blk_n > GATE_MEAN_SQ) {
        l->gated_sum_sq += l->blk_sum_sq;
        l->gated_n += l->blk_n;
    }
    l->blk_sum_sq = 0.0;
    l->blk_n = 0;
}

static void loud_add(loudness_t *l, const float *x, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        double v = x[i];
        float a = fabsf(x[i]);
        if (a > l->peak)
            l->peak = a;
        l->sum_sq += v * v;
        l->blk_sum_sq += v * v;
        if (++l->blk_n == GATE_BLOCK)
            loud_close_block(l);
    }
    l->n += n;
}

static double loud_gated_rms(loudness_t *l)
{
    loud_close_block(l);
    if (l->gated_n > 0)
        return sqrt(l->gated_sum_sq / (double)l->gated_n);
    return l->n > 0 ? sqrt(l->sum_sq / (double)l->n) : 0.0;
}

typedef int (*sink_fn)(void *ctx, const float *x, size_t n);

typedef struct {
    SNDFILE *sf;
    SF_INFO info;
    int resample;              /* 1: convert to 48 kHz; 0: decode only */
    const trk_env_t *env;
    sink_fn sink;              /* may be NULL */
    void *sink_ctx;
    loudness_t loud;
    uint64_t src_frames;       /* decoded source frames */
    uint64_t out_frames;       /* frames handed to the sink */
    SRC_STATE *src;
    float *out;                /* OUT_FRAMES, when resampling */
} pipe_t;

static int cancelled(const trk_env_t *env)
{
    /* Relaxed: the flag carries no data, it only asks us to stop soon. */
    return env != NULL && env->cancel != NULL
        && atomic_load_explicit(env->cancel, memory_order_relaxed) != 0;
}

static int pipe_emit(pipe_t *p, const float *x, size_t n)
{
    /* The resampler may round one sample past the length limit. */
    if (p->out_frames + n > TRK_MAX_FRAMES)
        n = (size_t)(TRK_MAX_FRAMES - p->out_frames);
    if (n == 0)
        return TRK_OK;
    loud_add(&p->loud, x, n);
    p->out_frames += n;
    return p->sink != NULL ? p->sink(p->sink_ctx, x, n) : TRK_OK;
}

static int pipe_feed(pipe_t *p, const float *in, long n, int end)
{
    SRC_DATA d;

    memset(&d, 0, sizeof d);
    d.data_in = in;
    d.input_frames = n;
    d.end_of_input = end;
    d.src_ratio = (double)TRK_SAMPLE_RATE / p->info.samplerate;
    for (;;) {
        int e, rc;
        d.data_out = p->out;
        d.output_frames = OUT_FRAMES;
        e = src_process(p->src, &d);
        if (e != 0) {
            mfile_logf(p->env ? p->env->log : NULL,
                       p->env ? p->env->log_user : NULL,
                       "src_process: %s", src_strerror(e));
            return TRK_ERR_RESAMPLE;
        }
        rc = pipe_emit(p, p->out, (size_t)d.output_frames_gen);
        if (rc != TRK_OK)
            return rc;
        d.data_in += d.input_frames_used;
        d.input_frames -= d.input_frames_used;
        /* More to do while input remains, while the output buffer came back
         * full (the converter may hold more), and, at the end, until the
         * converter's tail is drained. */
        if (d.input_frames > 0 || d.output_frames_gen == OUT_FRAMES)
            continue;
        if (end && d.output_frames_gen > 0)
            continue;
        return TRK_OK;
    }
}

/* Checks the bounds a source must meet before any decoding. */
static int check_source_info(const SF_INFO *info)
{
    if (info->channels < 1 || info->channels > TRK_MAX_CHANNELS)
        return TRK_ERR_CHANNELS;
    if (info->samplerate < TRK_MIN_SOURCE_RATE
        || info->samplerate > TRK_MAX_SOURCE_RATE)
        return TRK_ERR_RATE;
    if (info->frames == 0)
        return TRK_ERR_EMPTY;
    /* SF_COUNT_MAX means "unknown"; the decode loop enforces the limits.
     * Divide rather than multiply: frames may be anything up to 2^63. */
    if (info->frames != SF_COUNT_MAX
        && ((uint64_t)info->frames > (uint64_t)TRK_MAX_SECONDS * (uint64_t)info->samplerate
            || (uint64_t)info->frames > TRK_MAX_SOURCE_SAMPLES / (uint64_t)info->channels))
        return TRK_ERR_TOO_LONG;
    return TRK_OK;
}

/* Decodes the whole of p->sf through the pipeline. Fills p->loud,
 * p->src_frames, p->out_frames. */
static int pipe_run(pipe_t *p)
{
    const int ch = p->info.channels;
    const uint64_t by_time = (uint64_t)TRK_MAX_SECONDS * (uint64_t)p->info.samplerate;
    const uint64_t by_work = TRK_MAX_SOURCE_SAMPLES / (uint64_t)(ch > 0 ? ch : 1);
    const uint64_t max_src = by_time < by_work ? by_time : by_work;
    float *buf = NULL, *mono = NULL;
    int rc, err;

    rc = check_source_info(&p->info);
    if (rc != TRK_OK)
        return rc;
    buf = malloc(sizeof(float) * BLOCK_FRAMES * (size_t)ch);
    mono = malloc(sizeof(float) * BLOCK_FRAMES);
    if (buf == NULL || mono == NULL) {
        rc = TRK_ERR_NOMEM;
        goto out;
    }
    if (p->resample && p->info.samplerate != TRK_SAMPLE_RATE) {
        p->out = malloc(sizeof(float) * OUT_FRAMES);
        if (p->out == NULL) {
            rc = TRK_ERR_NOMEM;
            goto out;
        }
        p->src = src_new(SRC_SINC_MEDIUM_QUALITY, 1, &err);
        if (p->src == NULL) {
            mfile_logf(p->env ? p->env->log : NULL,
                       p->env ? p->env->log_user : NULL,
                       "src_new: %s", src_strerror(err));
            rc = TRK_ERR_RESAMPLE;
            goto out;
        }
    }

    for (;;) {
        sf_count_t got, f;
        int c;

        if (cancelled(p->env)) {
            rc = TRK_ERR_CANCELLED;
            goto out;
        }
        got = sf_readf_float(p->sf, buf, BLOCK_FRAMES);
        if (got <= 0)
            break;
        p->src_frames += (uint64_t)got;
        if (p->src_frames > max_src) {
            rc = TRK_ERR_TOO_LONG;
            goto out;
        }
        for (f = 0; f < got; f++) {
            float s = 0.0f;
            for (c = 0; c < ch; c++)
                s += trk_clean_sample(buf[f * ch + c]);
            mono[f] = s / (float)ch;
        }
        rc = p->src != NULL ? pipe_feed(p, mono, (long)got, 0)
                            : pipe_emit(p, mono, (size_t)got);
        if (rc != TRK_OK)
            goto out;
    }
    if (sf_error(p->sf) != SF_ERR_NO_ERROR) {
        mfile_logf(p->env ? p->env->log : NULL,
                   p->env ? p->env->log_user : NULL,
                   "sf_readf_float: %s", sf_strerror(p->sf));
        rc = TRK_ERR_DECODE;
        goto out;
    }
    if (p->src != NULL) {
        rc = pipe_feed(p, mono, 0, 1);
        if (rc != TRK_OK)
            goto out;
    }
    if (p->src_frames == 0 || p->out_frames == 0) {
        rc = TRK_ERR_EMPTY;
        goto out;
    }
    /* A container that announced its length and delivered clearly less
     * is damaged. MPEG streams are exempt: libsndfile estimates their
     * length from the bit rate. */
    if ((p->info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_MPEG
        && p->info.frames != SF_COUNT_MAX
        && p->src_frames + (uint64_t)p->info.samplerate / 10 < (uint64_t)p->info.frames) {
        rc = TRK_ERR_DECODE;
        goto out;
    }
    rc = TRK_OK;
out:
    free(buf);
    free(mono);
    free(p->out);
    p->out = NULL;
    if (p->src != NULL)
        p->src = src_delete(p->src);
    return rc;
}

/* ---- cache files -------------------------------------------------------- */

typedef struct {
    uint64_t frames;
    uint64_t src_size;
    int64_t src_mtime_s;
    int64_t src_mtime_ns;
    float gain;
    float rms_dbfs;
} cache_hdr_t;

static void put_u32(unsigned char *p, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    int i;
    for (i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_f32(unsigned char *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put_u32(p, v);
}

static float get_f32(const unsigned char *p)
{
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

static void hdr_encode(const cache_hdr_t *h, unsigned char b[HDR_SIZE])
{
    memset(b, 0, HDR_SIZE);
    memcpy(b, HDR_MAGIC, sizeof HDR_MAGIC);
    put_u32(b + 8, HDR_VERSION);
    put_u32(b + 12, TRK_SAMPLE_RATE);
    put_u64(b + 16, h->frames);
    put_u64(b + 24, h->src_size);
    put_u64(b + 32, (uint64_t)h->src_mtime_s);
    put_u64(b + 40, (uint64_t)h->src_mtime_ns);
    put_f32(b + 48, h->gain);
    put_f32(b + 52, h->rms_dbfs);
    put_u32(b + 56, HDR_SIZE);
}

/* Decodes and validates a header against the file length. */
static int hdr_decode(const unsigned char b[HDR_SIZE], uint64_t file_len,
                      cache_hdr_t *h)
{
    if (memcmp(b, HDR_MAGIC, sizeof HDR_MAGIC) != 0 || get_u32(b + 8) != HDR_VERSION
        || get_u32(b + 12) != TRK_SAMPLE_RATE || get_u32(b + 56) != HDR_SIZE)
        return TRK_ERR_CACHE;
    h->frames = get_u64(b + 16);
    h->src_size = get_u64(b + 24);
    h->src_mtime_s = (int64_t)get_u64(b + 32);
    h->src_mtime_ns = (int64_t)get_u64(b + 40);
    h->gain = get_f32(b + 48);
    h->rms_dbfs = get_f32(b + 52);
    if (h->frames == 0 || h->frames > TRK_MAX_FRAMES
        || file_len != HDR_SIZE + h->frames * sizeof(float))
        return TRK_ERR_CACHE;
    return TRK_OK;
}

static int read_full_at(int fd, void *buf, size_t len, off_t off)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t r = pread(fd, p, len, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
        off += r;
    }
    return 0;
}

static int write_full_at(int fd, const void *buf, size_t len, off_t off)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

int trk_cache_check(const char *src_path, const char *cache_path,
                    trk_info_t *info)
{
    unsigned char b[HDR_SIZE];
    struct stat src_st, st;
    cache_hdr_t h;
    int fd, rc;

    if (src_path == NULL || cache_path == NULL)
        return TRK_ERR_ARG;
    if (stat(src_path, &src_st) != 0)
        return TRK_ERR_IO;
    fd = open(cache_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TRK_ERR_CACHE;
    if (fstat(fd, &st) != 0 || read_full_at(fd, b, HDR_SIZE, 0) != 0) {
        close(fd);
        return TRK_ERR_CACHE;
    }
    close(fd);
    rc = hdr_decode(b, (uint64_t)st.st_size, &h);
    if (rc != TRK_OK)
        return rc;
    if (h.src_size != (uint64_t)src_st.st_size
        || h.src_mtime_s != (int64_t)src_st.st_mtim.tv_sec
        || h.src_mtime_ns != (int64_t)src_st.st_mtim.tv_nsec)
        return TRK_ERR_STALE;
    if (info != NULL) {
        memset(info, 0, sizeof *info);
        info->frames = h.frames;
        info->gain = h.gain;
        info->source_rms_dbfs = h.rms_dbfs;
    }
    return TRK_OK;
}

typedef struct {
    int fd;
    off_t pos;
    const char *path;
    const trk_env_t *env;
} file_sink_t;

static int file_sink(void *ctx, const float *x, size_t n)
{
    file_sink_t *fs = ctx;

    if (write_full_at(fs->fd, x, n * sizeof(float), fs->pos) != 0) {
        mfile_log_errno(fs->env ? fs->env->log : NULL,
                        fs->env ? fs->env->log_user : NULL, "pwrite", fs->path,
                        errno);
        return TRK_ERR_IO;
    }
    fs->pos += (off_t)(n * sizeof(float));
    return TRK_OK;
}

/* Multiplies every sample of the temporary cache file by gain, in place. */
static int scale_in_place(int fd, uint64_t frames, float gain, const char *path,
                          const trk_env_t *env)
{
    float buf[16384];
    uint64_t done = 0;

    while (done < frames) {
        size_t n = frames - done < 16384 ? (size_t)(frames - done) : 16384;
        off_t off = (off_t)(HDR_SIZE + done * sizeof(float));
        size_t i;
        if (read_full_at(fd, buf, n * sizeof(float), off) != 0) {
            mfile_log_errno(env ? env->log : NULL, env ? env->log_user : NULL,
                            "pread", path, errno);
            return TRK_ERR_IO;
        }
        for (i = 0; i < n; i++)
            buf[i] *= gain;
        if (write_full_at(fd, buf, n * sizeof(float), off) != 0) {
            mfile_log_errno(env ? env->log : NULL, env ? env->log_user : NULL,
                            "pwrite", path, errno);
            return TRK_ERR_IO;
        }
        done += n;
    }
    return TRK_OK;
}

/* Splits path into its directory (written to dir) and its last component. */
static int split_path(const char *path, char *dir, size_t cap, const char **base)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        if (cap < 2)
            return TRK_ERR_ARG;
        strcpy(dir, ".");
        *base = path;
    } else {
        size_t len = (size_t)(slash - path);
        if (len == 0)
            len = 1;  /* "/name": the root */
        if (len >= cap)
            return TRK_ERR_ARG;
        memcpy(dir, path, len);
        dir[len] = '\0';
        *base = slash + 1;
    }
    return **base != '\0' ? TRK_OK : TRK_ERR_ARG;
}

int trk_convert(const char *src_path, const char *cache_path,
                const trk_env_t *env, trk_info_t *info)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    char dir[4096], tmp[4096];
    const char *base;
    unsigned char hb[HDR_SIZE];
    struct stat st;
    cache_hdr_t h;
    file_sink_t fs;
    pipe_t p;
    double rms, gain;
    int src_fd = -1, tmp_fd = -1, rc;

    memset(&p, 0, sizeof p);
    if (src_path == NULL || cache_path == NULL
        || split_path(cache_path, dir, sizeof dir, &base) != TRK_OK)
        return TRK_ERR_ARG;

    src_fd = open(src_path, O_RDONLY | O_CLOEXEC);
    if (src_fd < 0) {
        mfile_log_errno(log, lu, "open", src_path, errno);
        return TRK_ERR_IO;
    }
    /* fstat of the descriptor we decode: the size and mtime recorded are
     * those of the very bytes we read, even if the file is replaced now. */
    if (fstat(src_fd, &st) != 0) {
        mfile_log_errno(log, lu, "fstat", src_path, errno);
        rc = TRK_ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = TRK_ERR_FORMAT;
        goto out;
    }
    if (st.st_size == 0) {
        rc = TRK_ERR_EMPTY;
        goto out;
    }
    p.sf = sf_open_fd(src_fd, SFM_READ, &p.info, SF_FALSE);
    if (p.sf == NULL) {
        rc = TRK_ERR_FORMAT;
        goto out;
    }
    rc = check_source_info(&p.info);
    if (rc != TRK_OK)
        goto out;

    tmp_fd = mfile_tmp_create(dir, base, tmp, sizeof tmp, log, lu);
    if (tmp_fd < 0) {
        rc = tmp_fd == MFILE_ERR_ARG ? TRK_ERR_ARG : TRK_ERR_IO;
        goto out;
    }
    fs.fd = tmp_fd;
    fs.pos = HDR_SIZE;
    fs.path = tmp;
    fs.env = env;
    p.resample = 1;
    p.env = env;
    p.sink = file_sink;
    p.sink_ctx = &fs;
    rc = pipe_run(&p);
    if (rc != TRK_OK)
        goto out;

    rms = loud_gated_rms(&p.loud);
    gain = trk_gain_for(rms, p.loud.peak);
    if (gain <= 0.0) {
        rc = TRK_ERR_SILENT;
        goto out;
    }
    rc = scale_in_place(tmp_fd, p.out_frames, (float)gain, tmp, env);
    if (rc != TRK_OK)
        goto out;

    memset(&h, 0, sizeof h);
    h.frames = p.out_frames;
    h.src_size = (uint64_t)st.st_size;
    h.src_mtime_s = (int64_t)st.st_mtim.tv_sec;
    h.src_mtime_ns = (int64_t)st.st_mtim.tv_nsec;
    h.gain = (float)gain;
    h.rms_dbfs = (float)(20.0 * log10(rms));
    hdr_encode(&h, hb);
    if (write_full_at(tmp_fd, hb, HDR_SIZE, 0) != 0) {
        mfile_log_errno(log, lu, "pwrite", tmp, errno);
        rc = TRK_ERR_IO;
        goto out;
    }
    if (mfile_publish(tmp_fd, tmp, dir, base, 1, log, lu) != MFILE_OK) {
        rc = TRK_ERR_IO;
        goto out;
    }
    if (info != NULL) {
        info->frames = h.frames;
        info->gain = h.gain;
        info->source_rms_dbfs = h.rms_dbfs;
        info->source_rate = p.info.samplerate;
        info->source_channels = p.info.channels;
    }
    rc = TRK_OK;
out:
    if (p.sf != NULL)
        sf_close(p.sf);
    if (src_fd >= 0)
        close(src_fd);
    if (tmp_fd >= 0) {
        close(tmp_fd);
        if (rc != TRK_OK)
            unlink(tmp);
    }
    return rc;
}

/* ---- playback ----------------------------------------------------------- */

struct trk_track {
    void *map;
    size_t map_len;
    const float *samples;
    uint64_t frames;
};

trk_track_t *trk_track_create(const char *cache_path, int *err)
{
    unsigned char b[HDR_SIZE];
    trk_track_t *t = NULL;
    struct stat st;
    cache_hdr_t h;
    int fd = -1, rc;

    if (cache_path == NULL) {
        rc = TRK_ERR_ARG;
        goto err;
    }
    fd = open(cache_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? TRK_ERR_CACHE : TRK_ERR_IO;
        goto err;
    }
    if (fstat(fd, &st) != 0) {
        rc = TRK_ERR_IO;
        goto err;
    }
    if (read_full_at(fd, b, HDR_SIZE, 0) != 0
        || hdr_decode(b, (uint64_t)st.st_size, &h) != TRK_OK) {
        rc = TRK_ERR_CACHE;
        goto err;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        rc = TRK_ERR_NOMEM;
        goto err;
    }
    t->map_len = (size_t)st.st_size;
    t->map = mmap(NULL, t->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (t->map == MAP_FAILED) {
        t->map = NULL;
        rc = errno == ENOMEM ? TRK_ERR_NOMEM : TRK_ERR_IO;
        goto err;
    }
    /* Start reading ahead now, asynchronously, so the daemon's tick rarely
     * meets a page that is not resident. Only a hint: failure is fine. */
    (void)madvise(t->map, t->map_len, MADV_SEQUENTIAL);
    (void)madvise(t->map, t->map_len, MADV_WILLNEED);
    close(fd);
    t->samples = (const float *)((const unsigned char *)t->map + HDR_SIZE);
    t->frames = h.frames;
    return t;
err:
    if (fd >= 0)
        close(fd);
    free(t);
    if (err != NULL)
        *err = rc;
    return NULL;
}

const float *trk_track_get_samples(const trk_track_t *t)
{
    return t != NULL ? t->samples : NULL;
}

uint64_t trk_track_get_frames(const trk_track_t *t)
{
    return t != NULL ? t->frames : 0;
}

void trk_track_destroy(trk_track_t *t)
{
    if (t == NULL)
        return;
    if (t->map != NULL)
        munmap(t->map, t->map_len);
    free(t);
}

/* ---- scanning ----------------------------------------------------------- */

typedef struct {
    char *name;
    char *cache_path;
    trk_info_t info;
} scan_entry_t;

struct trk_scan {
    scan_entry_t *v;
    size_t n;
};

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Names the scanner passes over without a word: not meant to be tracks. */
static int scan_ignores(const char *name)
{
    return name[0] == '.' || strncasecmp(name, "README", 6) == 0
        || ends_with(name, ".tmp") || ends_with(name, ".part")
        || ends_with(name, "~") || ends_with(name, TRK_CACHE_SUFFIX);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the candidate names of `dir` (sorted), logging unsafe ones. */
static int list_candidates(const char *dir, const trk_env_t *env, char ***out,
                           size_t *out_n)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL) {
        mfile_log_errno(log, lu, "opendir", dir, errno);
        return TRK_ERR_IO;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        char shown[4 * TRK_NAME_MAX + 64];
        if (scan_ignores(de->d_name))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!trk_name_is_safe(de->d_name) || strcmp(de->d_name, TRK_METRONOME_NAME) == 0) {
            log_safe_name(de->d_name, shown, sizeof shown);
            mfile_logf(log, lu, "track \"%s\": skipped: %s", shown,
                       trk_strerror(TRK_ERR_NAME));
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL)
                goto nomem;
            v = nv;
            cap = ncap;
        }
        v[n] = strdup(de->d_name);
        if (v[n] == NULL)
            goto nomem;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *out_n = n;
    return TRK_OK;
nomem:
    closedir(d);
    while (n > 0)
        free(v[--n]);
    free(v);
    return TRK_ERR_NOMEM;
}

/* Removes caches of tracks not in s, and temporary files older than an
 * hour (a crashed conversion's leftovers; a younger one may be another
 * process's conversion in progress). */
static void prune_cache_dir(const char *cache_dir, const trk_scan_t *s,
                            const trk_env_t *env)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    time_t now = time(NULL);
    struct dirent *de;
    DIR *d = opendir(cache_dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char track[NAME_MAX + 1];
        struct stat st;
        int drop = 0;
        if (mfile_is_temp_name(de->d_name)) {
            drop = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
                && S_ISREG(st.st_mode) && now - st.st_mtim.tv_sec > TMP_MAX_AGE_S;
        } else if (ends_with(de->d_name, TRK_CACHE_SUFFIX)) {
            size_t len = strlen(de->d_name) - strlen(TRK_CACHE_SUFFIX);
            memcpy(track, de->d_name, len);
            track[len] = '\0';
            drop = trk_scan_find(s, track) < 0;
        }
        if (drop && unlinkat(dirfd(d), de->d_name, 0) != 0)
            mfile_log_errno(log, lu, "unlink", de->d_name, errno);
    }
    closedir(d);
}

trk_scan_t *trk_scan_create(const char *audio_dir, const char *cache_dir,
                            const trk_env_t *env, int *err)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    trk_scan_t *s = NULL;
    char **names = NULL;
    size_t n_names = 0, i;
    int rc;

    if (audio_dir == NULL || cache_dir == NULL) {
        rc = TRK_ERR_ARG;
        goto err;
    }
    if (mkdir(cache_dir, 0755) != 0 && errno != EEXIST) {
        mfile_log_errno(log, lu, "mkdir", cache_dir, errno);
        rc = TRK_ERR_IO;
        goto err;
    }
    rc = list_candidates(audio_dir, env, &names, &n_names);
    if (rc != TRK_OK)
        goto err;
    s = calloc(1, sizeof *s);
    if (s == NULL || (n_names > 0 && (s->v = calloc(n_names, sizeof *s->v)) == NULL)) {
        rc = TRK_ERR_NOMEM;
        goto err;
    }
    for (i = 0; i < n_names; i++) {
        char src[4096], cache[4096], cache_name[TRK_NAME_MAX + 16];
        char shown[4 * TRK_NAME_MAX + 64];
        scan_entry_t *e = &s->v[s->n];
        trk_info_t info;

        log_safe_name(names[i], shown, sizeof shown);
        if (s->n == TRK_MAX_TRACKS) {
            mfile_logf(log, lu, "track \"%s\": skipped: more than %d tracks",
                       shown, TRK_MAX_TRACKS);
            continue;
        }
        snprintf(cache_name, sizeof cache_name, "%s%s", names[i], TRK_CACHE_SUFFIX);
        if (mfile_join(src, sizeof src, audio_dir, names[i]) != MFILE_OK
            || mfile_join(cache, sizeof cache, cache_dir, cache_name) != MFILE_OK) {
            mfile_logf(log, lu, "track \"%s\": skipped: path too long", shown);
            continue;
        }
        rc = trk_cache_check(src, cache, &info);
        if (rc != TRK_OK) {
            rc = trk_convert(src, cache, env, &info);
            if (rc == TRK_ERR_CANCELLED || rc == TRK_ERR_NOMEM)
                goto err;
            if (rc != TRK_OK) {
                mfile_logf(log, lu, "track \"%s\": skipped: %s", shown,
                           trk_strerror(rc));
                continue;
            }
            mfile_logf(log, lu,
                       "track \"%s\": prepared: %.1f s, from %d Hz %d ch, gain %+.1f dB",
                       shown, (double)info.frames / TRK_SAMPLE_RATE,
                       info.source_rate, info.source_channels,
                       20.0 * log10((double)info.gain));
        }
        e->name = names[i];
        names[i] = NULL;
        e->cache_path = strdup(cache);
        if (e->cache_path == NULL) {
            free(e->name);
            rc = TRK_ERR_NOMEM;
            goto err;
        }
        e->info = info;
        s->n++;
    }
    prune_cache_dir(cache_dir, s, env);
    for (i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    return s;
err:
    for (i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    trk_scan_destroy(s);
    if (err != NULL)
        *err = rc;
    return NULL;
}

size_t trk_scan_get_count(const trk_scan_t *s)
{
    return s != NULL ? s->n : 0;
}

const char *trk_scan_get_name(const trk_scan_t *s, size_t i)
{
    return s != NULL && i < s->n ? s->v[i].name : NULL;
}

const char *trk_scan_get_cache_path(const trk_scan_t *s, size_t i)
{
    return s != NULL && i < s->n ? s->v[i].cache_path : NULL;
}

const trk_info_t *trk_scan_get_info(const trk_scan_t *s, size_t i)
{
    return s != NULL && i < s->n ? &s->v[i].info : NULL;
}

int trk_scan_find(const trk_scan_t *s, const char *name)
{
    size_t lo = 0, hi;

    if (s == NULL || name == NULL)
        return TRK_ERR_NOT_FOUND;
    hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, s->v[mid].name);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return TRK_ERR_NOT_FOUND;
}

void trk_scan_destroy(trk_scan_t *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].cache_path);
    }
    free(s->v);
    free(s);
}

/* ---- uploads ------------------------------------------------------------ */

typedef struct {
    const unsigned char *data;
    sf_count_t len;
    sf_count_t pos;
} memio_t;

static sf_count_t mem_get_filelen(void *user)
{
    return ((memio_t *)user)->len;
}

static sf_count_t mem_seek(sf_count_t offset, int whence, void *user)
{
    memio_t *m = user;
    sf_count_t to;

    switch (whence) {
    case SEEK_SET: to = offset; break;
    case SEEK_CUR: to = m->pos + offset; break;
    case SEEK_END: to = m->len + offset; break;
    default: return -1;
    }
    if (to < 0)
        return -1;
    m->pos = to > m->len ? m->len : to;
    return m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user)
{
    memio_t *m = user;
    sf_count_t n = m->len - m->pos;

    if (count < n)
        n = count;
    if (n <= 0)
        return 0;
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user)
{
    (void)ptr;
    (void)count;
    (void)user;
    return 0;
}

static sf_count_t mem_tell(void *user)
{
    return ((memio_t *)user)->pos;
}

/* The file extension for a detected libsndfile format, into buf. */
static void ext_for_format(int format, char *buf, size_t cap)
{
    const int major = format & SF_FORMAT_TYPEMASK;
    const int sub = format & SF_FORMAT_SUBMASK;
    const char *e = NULL;
    SF_FORMAT_INFO fi;
    size_t i;

    switch (major) {
    case SF_FORMAT_WAV: case SF_FORMAT_WAVEX: case SF_FORMAT_RF64: e = "wav"; break;
    case SF_FORMAT_AIFF: e = "aiff"; break;
    case SF_FORMAT_FLAC: e = "flac"; break;
    case SF_FORMAT_OGG:
        e = sub == SF_FORMAT_OPUS ? "opus" : sub == SF_FORMAT_VORBIS ? "ogg" : "oga";
        break;
    case SF_FORMAT_MPEG:
        e = sub == SF_FORMAT_MPEG_LAYER_I ? "mp1"
          : sub == SF_FORMAT_MPEG_LAYER_II ? "mp2" : "mp3";
        break;
    default:
        memset(&fi, 0, sizeof fi);
        fi.format = major;
        if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0
            && fi.extension != NULL)
            e = fi.extension;
        break;
    }
    snprintf(buf, cap, "%s", e != NULL ? e : "audio");
    for (i = 0; buf[i] != '\0'; i++)
        if (!is_ext_char(buf[i]) || i >= 8) {
            snprintf(buf, cap, "audio");
            break;
        }
}

static int write_all_fd(int fd, const void *data, size_t len)
{
    return write_full_at(fd, data, len, 0);
}

int trk_upload_accept(const void *data, size_t len, const char *requested_name,
                      const char *audio_dir, const trk_env_t *env,
                      char *name_out, size_t name_cap)
{
    trk_log_fn log = env ? env->log : NULL;
    void *lu = env ? env->log_user : NULL;
    SF_VIRTUAL_IO vio = { mem_get_filelen, mem_seek, mem_read, mem_write, mem_tell };
    memio_t m = { data, (sf_count_t)len, 0 };
    char ext[16], name[TRK_NAME_MAX + 1], tmp[4096];
    pipe_t p;
    int rc, n, fd = -1;

    memset(&p, 0, sizeof p);
    if (data == NULL || audio_dir == NULL || name_out == NULL
        || name_cap < TRK_NAME_MAX + 1)
        return TRK_ERR_ARG;
    if (len == 0)
        return TRK_ERR_EMPTY;
    if (len > TRK_UPLOAD_MAX)
        return TRK_ERR_TOO_BIG;

    p.sf = sf_open_virtual(&vio, SFM_READ, &p.info, &m);
    if (p.sf == NULL)
        return TRK_ERR_FORMAT;
    p.env = env;
    rc = pipe_run(&p);
    if (rc == TRK_OK && trk_gain_for(loud_gated_rms(&p.loud), p.loud.peak) <= 0.0)
        rc = TRK_ERR_SILENT;
    ext_for_format(p.info.format, ext, sizeof ext);
    sf_close(p.sf);
    if (rc != TRK_OK)
        return rc;

    rc = trk_upload_name(requested_name, ext, 1, name, sizeof name);
    if (rc != TRK_OK)
        return rc;
    fd = mfile_tmp_create(audio_dir, name, tmp, sizeof tmp, log, lu);
    if (fd < 0)
        return fd == MFILE_ERR_ARG ? TRK_ERR_ARG : TRK_ERR_IO;
    if (write_all_fd(fd, data, len) != 0) {
        mfile_log_errno(log, lu, "write", tmp, errno);
        rc = TRK_ERR_IO;
        goto out;
    }
    rc = TRK_ERR_EXISTS;
    for (n = 1; n <= 99; n++) {
        int pr;
        if (trk_upload_name(requested_name, ext, n, name, sizeof name) != TRK_OK) {
            rc = TRK_ERR_ARG;
            break;
        }
        pr = mfile_publish(fd, tmp, audio_dir, name, 0, log, lu);
        if (pr == MFILE_OK) {
            rc = TRK_OK;
            break;
        }
        if (pr != MFILE_ERR_EXISTS) {
            rc = TRK_ERR_IO;
            break;
        }
    }
    if (rc == TRK_OK)
        strcpy(name_out, name);
out:
    close(fd);
    if (rc != TRK_OK)
        unlink(tmp);
    return rc;
}
