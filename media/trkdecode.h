/* trkdecode: decoding a backing track's source to 48 kHz mono, and the
 * loudness rule that sets its level.
 *
 * A source is anything libsndfile decodes (WAV, AIFF, FLAC, Ogg Vorbis,
 * Ogg Opus, MP3, ...). Every source goes through one pipeline:
 *
 *   - each sample through trk_dec_clean_sample() (non-finite samples of
 *     float files count as 0, values are clamped to +-16);
 *   - mono: the average of all channels;
 *   - 48 000 Hz: libsamplerate, SRC_SINC_MEDIUM_QUALITY, fed in blocks of
 *     4096 source frames so memory stays bounded whatever the length; a
 *     48 kHz source is copied unchanged (and nothing is resampled when the
 *     caller only checks a file);
 *   - loudness measured on the output: the gated RMS (mean square over the
 *     100 ms blocks of the 48 kHz mono signal whose own RMS is above
 *     -60 dBFS, so leading and trailing silence do not count; the plain
 *     RMS if no block passes) and the peak. The gain that sets a track's
 *     level is then
 *         gain = min(10^(-20/20) / gated_rms, 0.8 / peak)
 *     (trk_dec_gain_for()): RMS -20 dBFS unless that would put the peak
 *     above 0.8 full scale (-1.9 dBFS). The original multiplied every
 *     16-bit track by 0.8; ours gives the same peak ceiling with comparable
 *     levels. A source whose peak stays below 2^-15 (one 16-bit step) is
 *     silent.
 *
 * Cost: one full decode (see track.h); cancellable between blocks through
 * the caller's trk_env_t. No globals.
 */
#ifndef BB_MEDIA_TRKDECODE_H
#define BB_MEDIA_TRKDECODE_H

#include <sndfile.h>
#include <stddef.h>
#include <stdint.h>

#include "track.h"

/* Receives n decoded samples (mono, at the output rate); returns TRK_OK to
 * go on, or an error that stops the decode and is returned by it. */
typedef int (*trk_dec_sink_fn)(void *ctx, const float *x, size_t n);

/* What a whole decode measured. */
typedef struct {
    uint64_t src_frames;    /* source frames decoded */
    uint64_t out_frames;    /* samples handed to the sink, <= TRK_MAX_FRAMES */
    double gated_rms;       /* of the output, linear (full scale 1.0) */
    float peak;             /* largest |sample| of the output */
} trk_dec_result_t;

/* The source-sample rule: NaN and infinities become 0, everything else is
 * clamped to [-16, 16] (a float file 24 dB over full scale is broken, not
 * loud). */
float trk_dec_clean_sample(float x);

/* The loudness rule: the linear gain for a track whose gated RMS is
 * `gated_rms` and whose peak is `peak` (both linear, full scale 1.0):
 * min(10^(TRK_TARGET_RMS_DBFS/20) / gated_rms, TRK_PEAK_LIMIT / peak).
 * Returns 0 when peak < 2^-15 (silent) or either argument is not a
 * positive finite number. */
double trk_dec_gain_for(double gated_rms, double peak);

/* Checks the bounds a source must meet before any decoding, from what
 * libsndfile announced: TRK_OK, TRK_ERR_CHANNELS, _RATE, _EMPTY (0 frames)
 * or _TOO_LONG (an announced length over the limits). */
int trk_dec_check_info(const SF_INFO *info);

/* Decodes the whole of sf (opened for reading, described by *info) through
 * the pipeline, to 48 kHz when `resample` is set (else at the source
 * rate), handing the samples to sink (may be NULL: measure only). On
 * success fills *res and returns TRK_OK. Errors: those of
 * trk_dec_check_info(), TRK_ERR_TOO_LONG (more decoded than the limits
 * allow), _DECODE (a read error, or clearly fewer frames than the
 * container announced; MPEG is exempt, its length is an estimate), _EMPTY,
 * _RESAMPLE, _NOMEM, _CANCELLED, or the sink's error. Does not close sf. */
int trk_dec_run(SNDFILE *sf, const SF_INFO *info, int resample, const trk_env_t *env,
                trk_dec_sink_fn sink, void *sink_ctx, trk_dec_result_t *res);

#endif
