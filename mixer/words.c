/*
 * words.c - a song's words and cues (words.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tempo.h"
#include "utf8.h"
#include "words.h"

const char *words_strerror(int code)
{
    switch (code) {
    case WORDS_OK: return "ok";
    case WORDS_EEMPTY: return "the words are empty: give one line of text a line";
    case WORDS_ETOOBIG: return "the words are too long: at most 8192 bytes";
    case WORDS_ELINES: return "too many lines: at most 200";
    case WORDS_ELINE: return "a line is too long: at most 160 bytes a line";
    case WORDS_EUTF8: return "the words are not plain text in UTF-8";
    case WORDS_ECONTROL: return "the words hold control characters: give plain text";
    case WORDS_ETIME: return "a line's time must be [m:ss], [m:ss.s], [seconds] or [bN] (a beat), then its text";
    case WORDS_ESLIDE: return "a slide must be named [slide N], N from 1 to 32 ([slide 0]: none)";
    }
    return "invalid words";
}

/* Reads whole digits at *p (at most 9); false if none. */
static bool digits(const char **p, const char *end, int64_t *v, int *n)
{
    *v = 0;
    *n = 0;
    while (*p < end && **p >= '0' && **p <= '9' && *n < 9) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        (*n)++;
    }
    return *n > 0;
}

/* Parses a time tag's inside [p, end): "bN", "m:ss(.f)", "s(.f)".  Returns
 * WORDS_AT_MS or WORDS_AT_BEAT with *v, or -1. */
static int parse_time(const char *p, const char *end, int64_t *v)
{
    int64_t a, b = -1, frac = 0;
    int n, fn = 0;
    if (p < end && (*p == 'b' || *p == 'B')) {
        p++;
        if (!digits(&p, end, &a, &n) || p != end || a < 1 || a > WORDS_BEAT_MAX)
            return -1;
        *v = a;
        return WORDS_AT_BEAT;
    }
    if (!digits(&p, end, &a, &n))
        return -1;
    if (p < end && *p == ':') {
        p++;
        if (!digits(&p, end, &b, &n) || n != 2 || b > 59)
            return -1;
    }
    if (p < end && *p == '.') {
        p++;
        if (!digits(&p, end, &frac, &fn))
            return -1;
    }
    if (p != end)
        return -1;
    while (fn > 3) {
        frac /= 10;
        fn--;
    }
    while (fn < 3) {
        frac *= 10;
        fn++;
    }
    int64_t ms = (b >= 0 ? a * 60 + b : a) * 1000 + frac;
    if (ms > WORDS_TIME_MAX_MS)
        return -1;
    *v = ms;
    return WORDS_AT_MS;
}

/* A slide tag at buf[*a] ("[slide N]", "slide" in any case): *slide gets
 * N and *a moves past it and the spaces after.  Returns WORDS_OK (also
 * when there is no tag: *slide stays -1) or WORDS_ESLIDE. */
static int parse_slide(const char *buf, size_t *a, size_t n, int8_t *slide)
{
    static const char tag[] = "[slide ";
    size_t k = sizeof tag - 1;
    if (n - *a <= k || strncasecmp(buf + *a, tag, k) != 0 || buf[*a + k] < '0' || buf[*a + k] > '9')
        return WORDS_OK;
    const char *p = buf + *a + k, *end = buf + n;
    int64_t v;
    int nd;
    if (!digits(&p, end, &v, &nd) || p == end || *p != ']' || v > WORDS_SLIDE_MAX)
        return WORDS_ESLIDE;
    *slide = (int8_t)v;
    *a = (size_t)(p - buf) + 1;
    while (*a < n && buf[*a] == ' ')
        (*a)++;
    return WORDS_OK;
}

/* Adds line s (n bytes, valid, without its end of line) to out, cut of
 * spaces and hidden characters.  A blank line marks the next as a verse
 * start.  Returns WORDS_OK or an error code. */
static int add_line(words_t *out, const char *s, size_t n, size_t *used, bool *blank_before)
{
    char buf[WORDS_TEXT_MAX + 1];
    memcpy(buf, s, n);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\t')
            buf[i] = ' ';
    n = utf8_strip_hidden(buf, n);
    size_t a = 0;
    while (a < n && buf[a] == ' ')
        a++;
    while (n > a && buf[n - 1] == ' ')
        n--;
    if (n == a) {
        *blank_before = out->n_lines > 0;
        return WORDS_OK;
    }
    int kind = WORDS_AT_NONE;
    int64_t at = 0;
    /* A time tag: "[" then a digit, or "b" and a digit; any other bracket
     * ("[Chorus]") is text. */
    const char *in = buf + a + 1;
    if (buf[a] == '[' && n - a > 2 &&
        ((in[0] >= '0' && in[0] <= '9') || ((in[0] == 'b' || in[0] == 'B') && in[1] >= '0' && in[1] <= '9'))) {
        const char *close = memchr(buf + a, ']', n - a);
        if (!close || (kind = parse_time(in, close, &at)) < 0)
            return WORDS_ETIME;
        a = (size_t)(close - buf) + 1;
        while (a < n && buf[a] == ' ')
            a++;
    }
    int8_t slide = -1;
    if (parse_slide(buf, &a, n, &slide) != WORDS_OK)
        return WORDS_ESLIDE;
    if (a == n && slide < 0)
        return WORDS_ETIME;   /* a time, and nothing to show at it */
    if (n - a > WORDS_LINE_MAX)
        return WORDS_ELINE;
    if (out->n_lines == WORDS_LINES_MAX)
        return WORDS_ELINES;
    uint32_t i = out->n_lines++;
    out->off[i] = (uint32_t)*used;
    out->verse_start[i] = i == 0 || *blank_before;
    out->at_kind[i] = (uint8_t)kind;
    out->at[i] = at;
    out->slide[i] = slide;
    *blank_before = false;
    memcpy(out->text + *used, buf + a, n - a);
    out->text[*used + n - a] = '\0';
    *used += n - a + 1;
    return WORDS_OK;
}

int words_parse(const char *s, size_t n, words_t *out, uint32_t *line)
{
    out->n_lines = 0;
    if (line)
        *line = 0;
    if (n > WORDS_TEXT_MAX)
        return WORDS_ETOOBIG;
    /* The whole text first: a binary file is refused as one, whatever
     * line it breaks on. */
    uint32_t ln = 1;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k < 0) {
            if (line)
                *line = ln;
            return WORDS_EUTF8;
        }
        bool crlf = cp == '\r' && i + 1 < n && s[i + 1] == '\n';
        if ((cp < 0x20 && cp != '\n' && cp != '\t' && !crlf) || cp == 0x7f) {
            if (line)
                *line = ln;
            return WORDS_ECONTROL;
        }
        ln += cp == '\n';
        i += (size_t)k;
    }
    size_t used = 0;
    bool blank_before = false;
    ln = 1;
    for (size_t i = 0; i <= n; ln++) {
        const char *nl = i < n ? memchr(s + i, '\n', n - i) : NULL;
        size_t end = nl ? (size_t)(nl - s) : n;
        size_t len = end - i;
        if (len && s[i + len - 1] == '\r')
            len--;
        int rc = add_line(out, s + i, len, &used, &blank_before);
        if (rc) {
            out->n_lines = 0;
            if (line)
                *line = ln;
            return rc;
        }
        i = end + 1;
    }
    return out->n_lines ? WORDS_OK : WORDS_EEMPTY;
}

void words_json(const words_t *w, uint64_t id, jw_t *j)
{
    jw_obj_begin(j);
    jw_key(j, "id");
    jw_int(j, (int64_t)id);
    jw_key(j, "lines");
    jw_arr_begin(j);
    for (uint32_t i = 0; i < w->n_lines; i++)
        jw_str(j, words_line(w, i));
    jw_arr_end(j);
    jw_key(j, "verses");
    jw_arr_begin(j);
    for (uint32_t i = 0; i < w->n_lines; i++)
        if (w->verse_start[i])
            jw_int(j, i);
    jw_arr_end(j);
    jw_key(j, "at");
    jw_arr_begin(j);
    for (uint32_t i = 0; i < w->n_lines; i++) {
        char t[32];
        if (w->at_kind[i] == WORDS_AT_MS) {
            /* Seconds, the fraction without trailing zeros: never longer
             * than the tag the line was written with, so that the words
             * written back with their tags fit WORDS_TEXT_MAX again. */
            int k = snprintf(t, sizeof t, "%lld.%03lld", (long long)(w->at[i] / 1000), (long long)(w->at[i] % 1000));
            while (t[k - 1] == '0')
                t[--k] = '\0';
            if (t[k - 1] == '.')
                t[--k] = '\0';
        }
        else if (w->at_kind[i] == WORDS_AT_BEAT)
            snprintf(t, sizeof t, "b%lld", (long long)w->at[i]);
        if (w->at_kind[i] == WORDS_AT_NONE)
            jw_null(j);
        else
            jw_str(j, t);
    }
    jw_arr_end(j);
    jw_key(j, "slides");
    jw_arr_begin(j);
    for (uint32_t i = 0; i < w->n_lines; i++) {
        if (w->slide[i] < 0)
            jw_null(j);
        else
            jw_int(j, w->slide[i]);
    }
    jw_arr_end(j);
    jw_obj_end(j);
}

int words_slide_at(const words_t *w, uint32_t i)
{
    for (uint32_t k = i + 1; k-- > 0;)
        if (k < w->n_lines && w->slide[k] >= 0)
            return w->slide[k];
    return 0;
}

uint32_t words_timed_cues(const words_t *w, int64_t start, int32_t bpm, words_cues_t *q)
{
    words_cues_clear(q);
    int64_t beat = bpm > 0 ? tempo_beat_period(bpm) : 0;
    for (uint32_t i = 0; i < w->n_lines; i++) {
        if (w->at_kind[i] == WORDS_AT_MS)
            words_cues_add(q, start + w->at[i] * 48, (int32_t)i);
        else if (w->at_kind[i] == WORDS_AT_BEAT && beat > 0)
            words_cues_add(q, start + (w->at[i] - 1) * beat, (int32_t)i);
    }
    return q->n;
}

void words_cues_clear(words_cues_t *q) { q->n = 0; }

bool words_cues_add(words_cues_t *q, int64_t clock, int32_t line)
{
    uint32_t i = q->n;
    while (i > 0 && q->c[i - 1].clock > clock)
        i--;
    if (i > 0 && q->c[i - 1].clock == clock) {
        bool changed = q->c[i - 1].line != line;
        q->c[i - 1].line = line;
        return changed;
    }
    if (q->n == WORDS_CUES_MAX) {
        if (i == 0)
            return false;   /* older than every cue kept */
        memmove(q->c, q->c + 1, (size_t)(i - 1) * sizeof q->c[0]);
        i--;
    } else {
        memmove(q->c + i + 1, q->c + i, (size_t)(q->n - i) * sizeof q->c[0]);
        q->n++;
    }
    q->c[i].clock = clock;
    q->c[i].line = line;
    return true;
}

int32_t words_cues_at(const words_cues_t *q, int64_t clock)
{
    int32_t line = -1;
    for (uint32_t i = 0; i < q->n && q->c[i].clock <= clock; i++)
        line = q->c[i].line;
    return line;
}

bool words_cue_clock_ok(int64_t clock, int64_t now)
{
    return clock >= now - WORDS_CUE_BEHIND_MAX && clock <= now + WORDS_CUE_AHEAD_MAX;
}

void words_cues_json(const words_cues_t *q, uint64_t id, uint32_t n_lines, jw_t *j)
{
    jw_obj_begin(j);
    jw_key(j, "words");
    jw_int(j, (int64_t)id);
    jw_key(j, "n");
    jw_int(j, n_lines);
    jw_key(j, "cues");
    jw_arr_begin(j);
    for (uint32_t i = 0; i < q->n; i++) {
        jw_arr_begin(j);
        jw_int(j, q->c[i].clock);
        jw_int(j, q->c[i].line);
        jw_arr_end(j);
    }
    jw_arr_end(j);
    jw_obj_end(j);
}
