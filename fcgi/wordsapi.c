/*
 * wordsapi.c - the song's words through the API (wordsapi.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "query.h"
#include "snap.h"
#include "wordsapi.h"

static void answer(wa_answer_t *out, int status, const char *fmt_json)
{
    out->status = status;
    snprintf(out->body, sizeof out->body, "%s", fmt_json);
}

static void refuse(wa_answer_t *out, int status, const char *why)
{
    jw_t j;
    out->status = status;
    jw_init(&j, out->body, sizeof out->body);
    jw_obj_begin(&j);
    jw_key(&j, "error");
    jw_str(&j, why);
    jw_obj_end(&j);
}

void wa_current(const seg_t *seg, uint64_t *id, uint32_t *n_lines)
{
    char buf[SEG_BLOB_CUES_MAX];
    uint64_t gen = 0;
    size_t len = 0;
    *id = 0;
    *n_lines = 0;
    snap_blob_read(seg, SEG_BLOB_CUES, &gen, buf, sizeof buf, &len);
    /* The daemon writes it (words_cues_json()): {"words":ID,"n":N,... */
    uint64_t i;
    uint32_t n;
    if (len && sscanf(buf, "{\"words\":%" SCNu64 ",\"n\":%" SCNu32, &i, &n) == 2) {
        *id = i;
        *n_lines = n;
    }
}

void wa_load(const cm_lane_t *l, uint64_t userid, bool organiser, const char *text, size_t len,
             int64_t now, wa_answer_t *out)
{
    static words_t w;   /* 10 KB; one request at a time per worker */
    uint32_t line;
    int rc = words_parse(text, len, &w, &line);
    if (rc != WORDS_OK) {
        char why[200];
        if (line && rc != WORDS_EEMPTY && rc != WORDS_ETOOBIG)
            snprintf(why, sizeof why, "line %u: %s; the words were not changed", line, words_strerror(rc));
        else
            snprintf(why, sizeof why, "%s; the words were not changed", words_strerror(rc));
        refuse(out, 400, why);
        return;
    }
    uint64_t before, after, seq;
    uint32_t n;
    wa_current(l->seg, &before, &n);
    if (cm_push_words(l, userid, organiser, text, len, now, &seq) != 0) {
        refuse(out, 503, "the server is busy; send the words again in a moment");
        return;
    }
    cm_wait(l, seq, now, WA_WAIT_NS);
    wa_current(l->seg, &after, &n);
    if (after == before) {
        refuse(out, 503, "the words did not reach the room in time; send them again");
        return;
    }
    char buf[96];
    snprintf(buf, sizeof buf, "{\"words\":%" PRIu64 ",\"lines\":%u}", after, n);
    answer(out, 200, buf);
}

void wa_cue(const cm_lane_t *l, uint64_t userid, bool organiser, const char *query, int64_t now,
            wa_answer_t *out)
{
    char v[32];
    int64_t line, clock, words;
    if (!q_peek(query, "line", v, sizeof v) || !q_int64(v, &line) || line < 0 || line >= WORDS_LINES_MAX) {
        refuse(out, 400, "line must be the number of a line of the words, from 0");
        return;
    }
    if (!q_peek(query, "clock", v, sizeof v) || !q_int64(v, &clock)) {
        refuse(out, 400, "clock must be the timeline clock of the audio heard when the line began");
        return;
    }
    if (!words_cue_clock_ok(clock, now)) {
        refuse(out, 400, clock > now ? "clock is ahead of the server clock: a line cannot begin in audio not yet heard"
                                     : "clock is older than the song can be: at most 120 s behind the server clock");
        return;
    }
    if (!q_peek(query, "words", v, sizeof v) || !q_int64(v, &words) || words < 1) {
        refuse(out, 400, "words must be the id of the words the line is of");
        return;
    }
    uint64_t id;
    uint32_t n;
    wa_current(l->seg, &id, &n);
    if ((uint64_t)words != id) {
        refuse(out, 409, id ? "these words were replaced: load the page's words again"
                            : "the room has no words yet: load them first");
        return;
    }
    if (line >= n) {
        refuse(out, 400, "there is no such line in the words");
        return;
    }
    uint64_t seq;
    if (cm_push_cue(l, userid, organiser, clock, (int32_t)line, id, now, &seq) != 0) {
        refuse(out, 503, "the server is busy; press again");
        return;
    }
    cm_wait(l, seq, now, WA_WAIT_NS);
    char buf[128];
    snprintf(buf, sizeof buf, "{\"words\":%" PRIu64 ",\"line\":%" PRId64 ",\"clock\":%" PRId64 "}", id, line,
             clock);
    answer(out, 200, buf);
}

size_t wa_get(const seg_t *seg, char *buf, size_t cap)
{
    uint64_t gen = 0;
    size_t len = 0;
    snap_blob_read(seg, SEG_BLOB_WORDS, &gen, buf, cap, &len);
    if (len == 0)
        len = (size_t)snprintf(buf, cap, "{\"id\":0,\"lines\":[],\"verses\":[],\"at\":[],\"slides\":[]}");
    return len;
}
