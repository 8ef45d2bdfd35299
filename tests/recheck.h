/* recheck.h - reading a song's recording back, for the tests that check
 * the mix against the stems the Audacity project lays out.  Header-only;
 * the test links libsndfile (which decodes the Ogg Opus stems too).
 */
#ifndef BB_TESTS_RECHECK_H
#define BB_TESTS_RECHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sndfile.h>

#define RC_RATE 48000

/* The song's file name stem, "YYYY-MM-DD-HHMMSS" (UTC) of its start clock. */
static inline void rc_song_name(int64_t song_start, char *out, size_t cap)
{
    time_t st = (time_t)(song_start / RC_RATE);
    struct tm tmv;
    gmtime_r(&st, &tmv);
    strftime(out, cap, "%Y-%m-%d-%H%M%S", &tmv);
}

/* Reads a whole mono 48 kHz recording: a WAV as int16 / 32768, an Opus
 * stem decoded (its pre-skip applied).  NULL if it cannot. */
static inline float *rc_read(const char *path, sf_count_t *frames)
{
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f || info.channels != 1 || info.samplerate != RC_RATE) {
        if (f)
            sf_close(f);
        return NULL;
    }
    float *x = calloc((size_t)info.frames + 1, sizeof *x);
    *frames = x ? sf_readf_float(f, x, info.frames) : 0;
    sf_close(f);
    return x;
}

/* Adds every stem the project `lof` (in directory rec) lists into
 * pred[0..mix_n) at its offset, at the mix file's scale, and counts the
 * stems at each sample in k.  Returns the number of stems read, or -1 if
 * the project cannot be opened. */
static inline int rc_add_stems(const char *rec, const char *lof, int64_t mix_n, double *pred,
                               int *k)
{
    FILE *lf = fopen(lof, "r");
    if (!lf)
        return -1;
    char line[512];
    int stems = 0;
    while (fgets(line, sizeof line, lf)) {
        char fname[300], sp[720];
        double off;
        if (sscanf(line, "file \"%299[^\"]\" offset %lf", fname, &off) != 2 || !strstr(fname, "-stem-"))
            continue;
        snprintf(sp, sizeof sp, "%s/%s", rec, fname);
        sf_count_t sn = 0;
        float *stem = rc_read(sp, &sn);
        if (!stem)
            continue;
        /* Opus stems hold the voice as sent (1.0 full scale); the mix
         * file holds x / 2 (6 dB of headroom). */
        const float scale = strstr(fname, ".opus") ? 0.5f : 1.0f;
        stems++;
        int64_t o = (int64_t)llround(off * RC_RATE);
        for (sf_count_t i = 0; i < sn; i++)
            if (o + i >= 0 && o + i < mix_n) {
                pred[o + i] += stem[i] * scale;
                k[o + i]++;
            }
        free(stem);
    }
    fclose(lf);
    return stems;
}

#endif
