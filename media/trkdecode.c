/* trkdecode: one decoding pipeline for every source: libsndfile float
 * frames -> trk_dec_clean_sample() per sample -> average of the channels
 * -> optional libsamplerate -> a sink, with the loudness statistics taken
 * on the way out (see trkdecode.h).
 *
 * Memory per call is bounded by the block sizes below (about 1 MB at 64
 * channels), whatever the length of the source.
 */
#include "trkdecode.h"

#include <math.h>
#include <samplerate.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_FRAMES 4096          /* source frames per libsndfile read */
#define OUT_FRAMES 8192            /* resampler output frames per call */
#define GATE_BLOCK 4800            /* 100 ms at 48 kHz */
#define GATE_MEAN_SQ 1e-6          /* -60 dBFS, as a mean square */
#define SILENT_PEAK (1.0 / 32768.0)
#define CLEAN_LIMIT 16.0f

float trk_dec_clean_sample(float x)
{
    if (!isfinite(x))
        return 0.0f;
    if (x > CLEAN_LIMIT)
        return CLEAN_LIMIT;
    if (x < -CLEAN_LIMIT)
        return -CLEAN_LIMIT;
    return x;
}

double trk_dec_gain_for(double gated_rms, double peak)
{
    double by_rms, by_peak;

    if (!isfinite(gated_rms) || !isfinite(peak) || gated_rms <= 0.0
        || peak < SILENT_PEAK)
        return 0.0;
    by_rms = pow(10.0, TRK_TARGET_RMS_DBFS / 20.0) / gated_rms;
    by_peak = TRK_PEAK_LIMIT / peak;
    return by_rms < by_peak ? by_rms : by_peak;
}

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

typedef struct {
    SNDFILE *sf;
    SF_INFO info;
    int resample;              /* 1: convert to 48 kHz; 0: decode only */
    const trk_env_t *env;
    trk_dec_sink_fn sink;      /* may be NULL */
    void *sink_ctx;
    loudness_t loud;
    uint64_t src_frames;       /* decoded source frames */
    uint64_t out_frames;       /* frames handed to the sink */
    SRC_STATE *src;
    float *out;                /* OUT_FRAMES, when resampling */
} pipe_t;

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
            trk_env_logf(p->env, "src_process: %s", src_strerror(e));
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

int trk_dec_check_info(const SF_INFO *info)
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

/* The resampler and its output buffer, when the source is not at 48 kHz
 * and resampling was asked for. */
static int pipe_open_resampler(pipe_t *p)
{
    int err;

    if (!p->resample || p->info.samplerate == TRK_SAMPLE_RATE)
        return TRK_OK;
    p->out = malloc(sizeof(float) * OUT_FRAMES);
    if (p->out == NULL)
        return TRK_ERR_NOMEM;
    p->src = src_new(SRC_SINC_MEDIUM_QUALITY, 1, &err);
    if (p->src == NULL) {
        trk_env_logf(p->env, "src_new: %s", src_strerror(err));
        return TRK_ERR_RESAMPLE;
    }
    return TRK_OK;
}

/* Reads p->sf to its end in blocks, mixing each block down to mono into
 * the pipeline. buf holds BLOCK_FRAMES frames of every channel, mono
 * BLOCK_FRAMES samples. */
static int pipe_read_all(pipe_t *p, float *buf, float *mono)
{
    const int ch = p->info.channels;
    const uint64_t by_time = (uint64_t)TRK_MAX_SECONDS * (uint64_t)p->info.samplerate;
    const uint64_t by_work = TRK_MAX_SOURCE_SAMPLES / (uint64_t)ch;
    const uint64_t max_src = by_time < by_work ? by_time : by_work;

    for (;;) {
        sf_count_t got, f;
        int c, rc;

        if (trk_env_cancelled(p->env))
            return TRK_ERR_CANCELLED;
        got = sf_readf_float(p->sf, buf, BLOCK_FRAMES);
        if (got <= 0)
            break;
        p->src_frames += (uint64_t)got;
        if (p->src_frames > max_src)
            return TRK_ERR_TOO_LONG;
        for (f = 0; f < got; f++) {
            float s = 0.0f;
            for (c = 0; c < ch; c++)
                s += trk_dec_clean_sample(buf[f * ch + c]);
            mono[f] = s / (float)ch;
        }
        rc = p->src != NULL ? pipe_feed(p, mono, (long)got, 0)
                            : pipe_emit(p, mono, (size_t)got);
        if (rc != TRK_OK)
            return rc;
    }
    if (sf_error(p->sf) != SF_ERR_NO_ERROR) {
        trk_env_logf(p->env, "sf_readf_float: %s", sf_strerror(p->sf));
        return TRK_ERR_DECODE;
    }
    return p->src != NULL ? pipe_feed(p, mono, 0, 1) : TRK_OK;
}

int trk_dec_run(SNDFILE *sf, const SF_INFO *info, int resample, const trk_env_t *env,
                trk_dec_sink_fn sink, void *sink_ctx, trk_dec_result_t *res)
{
    float *buf = NULL, *mono = NULL;
    pipe_t p;
    int rc;

    memset(&p, 0, sizeof p);
    memset(res, 0, sizeof *res);
    rc = trk_dec_check_info(info);
    if (rc != TRK_OK)
        return rc;
    p.sf = sf;
    p.info = *info;
    p.resample = resample;
    p.env = env;
    p.sink = sink;
    p.sink_ctx = sink_ctx;
    buf = malloc(sizeof(float) * BLOCK_FRAMES * (size_t)info->channels);
    mono = malloc(sizeof(float) * BLOCK_FRAMES);
    rc = buf == NULL || mono == NULL ? TRK_ERR_NOMEM : pipe_open_resampler(&p);
    if (rc == TRK_OK)
        rc = pipe_read_all(&p, buf, mono);
    if (rc == TRK_OK && (p.src_frames == 0 || p.out_frames == 0))
        rc = TRK_ERR_EMPTY;
    /* A container that announced its length and delivered clearly less
     * is damaged. MPEG streams are exempt: libsndfile estimates their
     * length from the bit rate. */
    if (rc == TRK_OK && (info->format & SF_FORMAT_TYPEMASK) != SF_FORMAT_MPEG
        && info->frames != SF_COUNT_MAX
        && p.src_frames + (uint64_t)info->samplerate / 10 < (uint64_t)info->frames)
        rc = TRK_ERR_DECODE;
    if (rc == TRK_OK) {
        res->src_frames = p.src_frames;
        res->out_frames = p.out_frames;
        res->gated_rms = loud_gated_rms(&p.loud);
        res->peak = p.loud.peak;
    }
    free(buf);
    free(mono);
    free(p.out);
    if (p.src != NULL)
        src_delete(p.src);
    return rc;
}
