/* recname: song and file names of recordings, and their error strings
 * (see recname.h).  Every name the writers make comes from
 * rec_file_name(), so the directory functions can recognise them.
 */
#include "recname.h"

#include <stdio.h>

const char *rec_strerror(int err)
{
    switch (err) {
    case REC_OK: return "success";
    case REC_ERR_ARG: return "invalid argument";
    case REC_ERR_NOMEM: return "out of memory";
    case REC_ERR_IO: return "file system call failed";
    case REC_ERR_SNDFILE: return "libsndfile could not open or write the file";
    case REC_ERR_BUSY: return "another writer holds this recording";
    case REC_ERR_FULL: return "recording reached its maximum length";
    case REC_ERR_PARTS: return "no part name left for this recording";
    default: return "unknown recording error";
    }
}

int rec_clock_utc(int64_t clock, struct tm *tm)
{
    time_t t;

    if (clock < 0 || clock / REC_SAMPLE_RATE > (int64_t)253402300799LL)
        return REC_ERR_ARG;   /* before 1970 or after 9999-12-31 */
    t = (time_t)(clock / REC_SAMPLE_RATE);
    return gmtime_r(&t, tm) != NULL ? REC_OK : REC_ERR_ARG;
}

int rec_song_name(int64_t song_start_clock, char *out, size_t cap)
{
    struct tm tm;

    if (out == NULL || cap < REC_SONG_NAME_LEN + 1
        || rec_clock_utc(song_start_clock, &tm) != REC_OK)
        return REC_ERR_ARG;
    if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return REC_ERR_ARG;
    /* Every field in its range (gmtime_r's), stated so that the compiler
     * sees the name fit at any optimisation level. */
    snprintf(out, cap, "%04u-%02u-%02u-%02u%02u%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
    return REC_OK;
}

int rec_stem_id(const char *id, char out[REC_STEM_ID_MAX + 1])
{
    size_t o = 0;
    int any = 0;

    if (id == NULL)
        return REC_ERR_ARG;
    for (; *id != '\0' && o < REC_STEM_ID_MAX; id++) {
        char c = *id;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_';
        out[o++] = ok ? c : '_';
        any |= ok;
    }
    out[o] = '\0';
    return any ? REC_OK : REC_ERR_ARG;
}

int rec_file_name(char *out, size_t cap, int64_t song_start_clock, const char *stem_id,
                  int part, const char *ext)
{
    char song[REC_SONG_NAME_LEN + 1], stem[REC_STEM_ID_MAX + 1], part_s[16] = "";
    int k;

    if (out == NULL || ext == NULL || part < 1 || part > REC_MAX_PART
        || rec_song_name(song_start_clock, song, sizeof song) != REC_OK
        || (stem_id != NULL && rec_stem_id(stem_id, stem) != REC_OK))
        return REC_ERR_ARG;
    if (part >= 2)
        snprintf(part_s, sizeof part_s, "-part%d", part);
    if (stem_id != NULL)
        k = snprintf(out, cap, "%s-stem-%s%s.%s", song, stem, part_s, ext);
    else
        k = snprintf(out, cap, "%s%s.%s", song, part_s, ext);
    return k > 0 && (size_t)k < cap ? REC_OK : REC_ERR_ARG;
}
