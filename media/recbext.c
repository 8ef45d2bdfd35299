/* recbext: writing and reading the placement of a recording WAV in its
 * 'bext' chunk (see recbext.h).  The parser accepts only our own
 * description, with both clocks, song start first and origin not before
 * it: anything else is some other file's chunk.
 */
#include "recbext.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_SAMPLES ((int64_t)86400 * REC_SAMPLE_RATE)
#define DESC_PREFIX "Bucket Brigade recording;"

void rec_bext_fill(SF_BROADCAST_INFO *bi, int64_t song_start, int64_t origin,
                   const char *stem)
{
    char date[40], tod[40];
    uint64_t tref = (uint64_t)(origin % DAY_SAMPLES);
    struct tm tm;

    memset(bi, 0, sizeof *bi);
    snprintf(bi->description, sizeof bi->description,
             DESC_PREFIX " song_start=%" PRId64 " origin=%" PRId64, song_start,
             origin);
    snprintf(bi->originator, sizeof bi->originator, "Bucket Brigade");
    snprintf(bi->originator_reference, sizeof bi->originator_reference,
             "%s%.24s", stem ? "stem-" : "mix", stem ? stem : "");
    if (rec_clock_utc(origin, &tm) == REC_OK) {
        /* Exactly 10 and 8 characters, not NUL-terminated in the chunk. */
        snprintf(date, sizeof date, "%04d-%02d-%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday);
        snprintf(tod, sizeof tod, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        memcpy(bi->origination_date, date, sizeof bi->origination_date);
        memcpy(bi->origination_time, tod, sizeof bi->origination_time);
    }
    /* BWF time reference: samples since midnight (here UTC). */
    bi->time_reference_low = (uint32_t)tref;
    bi->time_reference_high = (uint32_t)(tref >> 32);
    bi->version = 1;
}

int rec_bext_parse(SNDFILE *sf, int64_t *song_start, int64_t *origin)
{
    SF_BROADCAST_INFO bi;
    char desc[sizeof bi.description + 1];
    const char *a, *b;
    char *end;
    long long v1, v2;

    memset(&bi, 0, sizeof bi);
    if (sf_command(sf, SFC_GET_BROADCAST_INFO, &bi, sizeof bi) != SF_TRUE)
        return -1;
    memcpy(desc, bi.description, sizeof bi.description);
    desc[sizeof bi.description] = '\0';
    if (strncmp(desc, DESC_PREFIX, sizeof DESC_PREFIX - 1) != 0)
        return -1;
    a = strstr(desc, " song_start=");
    b = strstr(desc, " origin=");
    if (a == NULL || b == NULL)
        return -1;
    errno = 0;
    v1 = strtoll(a + 12, &end, 10);
    if (errno != 0 || end == a + 12 || (*end != ' ' && *end != '\0'))
        return -1;
    v2 = strtoll(b + 8, &end, 10);
    if (errno != 0 || end == b + 8 || (*end != ' ' && *end != '\0'))
        return -1;
    if (v1 < 0 || v2 < v1)
        return -1;
    *song_start = v1;
    *origin = v2;
    return 0;
}

int rec_bext_read(const char *path, int64_t *song_start, int64_t *origin, const char **why)
{
    SF_INFO info;
    SNDFILE *sf;
    int rc;

    memset(&info, 0, sizeof info);
    sf = sf_open(path, SFM_READ, &info);
    if (sf == NULL) {
        if (why != NULL)
            *why = sf_strerror(NULL);
        return -1;
    }
    rc = rec_bext_parse(sf, song_start, origin);
    sf_close(sf);
    if (rc != 0 && why != NULL)
        *why = "no recording origin";
    return rc;
}
