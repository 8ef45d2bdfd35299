/* test_words.c - words files parsed and bounded (every refusal, at and
 * past every bound), the cue list (order, replacement, the oldest making
 * room, the line current at a clock), the cue clock bounds and the JSON. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "words.h"

static words_t w;   /* 10 KB: not on the stack */

static int parse(const char *s, uint32_t *line) { return words_parse(s, strlen(s), &w, line); }

static void test_parse(check_t *c)
{
    uint32_t line;
    CHECK_EQ_I(*c, parse("Amazing grace\r\n  how sweet\tthe sound  \n\n\nThat saved\n", &line), WORDS_OK);
    CHECK_EQ_I(*c, w.n_lines, 3);
    CHECK_EQ_S(*c, words_line(&w, 0), "Amazing grace");
    CHECK_EQ_S(*c, words_line(&w, 1), "how sweet the sound");
    CHECK_EQ_S(*c, words_line(&w, 2), "That saved");
    CHECK(*c, w.verse_start[0] && !w.verse_start[1] && w.verse_start[2]);
    /* No end of line at the end; a leading blank line starts no verse. */
    CHECK_EQ_I(*c, parse("\n\nOne\nTwo", &line), WORDS_OK);
    CHECK_EQ_I(*c, w.n_lines, 2);
    CHECK(*c, w.verse_start[0] && !w.verse_start[1]);
    /* Hidden characters are taken out: a right-to-left override, a zero
     * width space. */
    CHECK_EQ_I(*c, parse("a\xe2\x80\xae" "b\xe2\x80\x8b" "c", &line), WORDS_OK);
    CHECK_EQ_S(*c, words_line(&w, 0), "abc");
    /* Accents stay. */
    CHECK_EQ_I(*c, parse("\xc3\xa9t\xc3\xa9", &line), WORDS_OK);
    CHECK_EQ_S(*c, words_line(&w, 0), "\xc3\xa9t\xc3\xa9");

    /* Refusals, with the line they were found on. */
    CHECK_EQ_I(*c, parse("", &line), WORDS_EEMPTY);
    CHECK_EQ_I(*c, parse(" \n\t\n\r\n", &line), WORDS_EEMPTY);
    CHECK_EQ_I(*c, parse("\xe2\x80\x8b", &line), WORDS_EEMPTY);
    CHECK_EQ_I(*c, parse("ok\nbad \xff here\n", &line), WORDS_EUTF8);
    CHECK_EQ_I(*c, line, 2);
    CHECK_EQ_I(*c, parse("ok\n\xc0\xaf overlong\n", &line), WORDS_EUTF8);
    CHECK_EQ_I(*c, parse("a\n\nb\x01", &line), WORDS_ECONTROL);
    CHECK_EQ_I(*c, line, 3);
    CHECK_EQ_I(*c, parse("lone\rreturn", &line), WORDS_ECONTROL);
    CHECK_EQ_I(*c, words_parse("nul\0inside", 10, &w, &line), WORDS_ECONTROL);
    CHECK_EQ_I(*c, w.n_lines, 0);
    /* A PNG header is not words. */
    CHECK_EQ_I(*c, words_parse("\x89PNG\r\n\x1a\n", 8, &w, NULL), WORDS_EUTF8);

    /* Bounds: a line of exactly WORDS_LINE_MAX bytes, and one more. */
    char *big = malloc(WORDS_TEXT_MAX + 2);
    memset(big, 'x', WORDS_LINE_MAX);
    big[WORDS_LINE_MAX] = '\0';
    CHECK_EQ_I(*c, parse(big, &line), WORDS_OK);
    big[WORDS_LINE_MAX] = 'x';
    big[WORDS_LINE_MAX + 1] = '\0';
    CHECK_EQ_I(*c, parse(big, &line), WORDS_ELINE);
    CHECK_EQ_I(*c, line, 1);
    /* WORDS_LINES_MAX lines, and one more. */
    size_t n = 0;
    for (int i = 0; i < WORDS_LINES_MAX; i++) {
        memcpy(big + n, "la\n", 3);
        n += 3;
    }
    CHECK_EQ_I(*c, words_parse(big, n, &w, &line), WORDS_OK);
    CHECK_EQ_I(*c, w.n_lines, WORDS_LINES_MAX);
    memcpy(big + n, "la", 2);
    CHECK_EQ_I(*c, words_parse(big, n + 2, &w, &line), WORDS_ELINES);
    CHECK_EQ_I(*c, line, WORDS_LINES_MAX + 1);
    /* WORDS_TEXT_MAX bytes (spaces count), and one more. */
    memset(big, ' ', WORDS_TEXT_MAX + 1);
    big[0] = 'a';
    CHECK_EQ_I(*c, words_parse(big, WORDS_TEXT_MAX, &w, &line), WORDS_OK);
    CHECK_EQ_I(*c, words_parse(big, WORDS_TEXT_MAX + 1, &w, &line), WORDS_ETOOBIG);
    free(big);
    for (int e = WORDS_ECONTROL; e <= WORDS_OK; e++)
        CHECK(*c, strlen(words_strerror(e)) > 1);
    CHECK(*c, strstr(words_strerror(WORDS_ELINE), "160") != NULL);
}

/* The largest JSON there is fits in WORDS_JSON_MAX: the longest text of
 * the characters that cost most to escape. */
static void test_json(check_t *c)
{
    uint32_t line;
    CHECK_EQ_I(*c, parse("He said \"hi\"\n\nback\\slash", &line), WORDS_OK);
    char buf[WORDS_JSON_MAX];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    words_json(&w, 7, &j);
    CHECK(*c, jw_ok(&j));
    CHECK_EQ_S(*c, buf, "{\"id\":7,\"lines\":[\"He said \\\"hi\\\"\",\"back\\\\slash\"],\"verses\":[0,1],\"at\":[null,null],\"slides\":[null,null]}");
    /* 200 lines of 80 two-byte characters: 32,000 bytes of text is beyond
     * the bound, so as many as fit in WORDS_TEXT_MAX. */
    static char big[WORDS_TEXT_MAX];
    size_t n = 0;
    while (n + 3 <= WORDS_TEXT_MAX) {
        size_t in_line = 0;
        while (n + 3 <= WORDS_TEXT_MAX && in_line + 2 <= WORDS_LINE_MAX) {
            big[n++] = '\xc3';
            big[n++] = '\xa9';
            in_line += 2;
        }
        big[n++] = '\n';
    }
    CHECK_EQ_I(*c, words_parse(big, n, &w, &line), WORDS_OK);
    jw_init(&j, buf, sizeof buf);
    words_json(&w, UINT32_MAX, &j);
    CHECK(*c, jw_ok(&j));
}

static void test_cues(check_t *c)
{
    words_cues_t q;
    words_cues_clear(&q);
    CHECK_EQ_I(*c, words_cues_at(&q, 1000), -1);
    CHECK(*c, words_cues_add(&q, 1000, 0));
    CHECK(*c, words_cues_add(&q, 3000, 2));
    CHECK(*c, words_cues_add(&q, 2000, 1));       /* out of order: put in place */
    CHECK(*c, !words_cues_add(&q, 2000, 1));      /* the same again: no change */
    CHECK_EQ_I(*c, q.n, 3);
    CHECK_EQ_I(*c, words_cues_at(&q, 999), -1);
    CHECK_EQ_I(*c, words_cues_at(&q, 1000), 0);
    CHECK_EQ_I(*c, words_cues_at(&q, 1999), 0);
    CHECK_EQ_I(*c, words_cues_at(&q, 2000), 1);
    CHECK_EQ_I(*c, words_cues_at(&q, 1 << 30), 2);
    CHECK(*c, words_cues_add(&q, 2000, 5));       /* a cue at the same clock replaces */
    CHECK_EQ_I(*c, words_cues_at(&q, 2500), 5);
    CHECK_EQ_I(*c, q.n, 3);
    /* Full: the oldest makes room; one older than all is dropped. */
    words_cues_clear(&q);
    for (int i = 0; i < WORDS_CUES_MAX; i++)
        CHECK(*c, words_cues_add(&q, 100 + i, i));
    CHECK(*c, !words_cues_add(&q, 50, 99));
    CHECK(*c, words_cues_add(&q, 1000, 64));
    CHECK_EQ_I(*c, q.n, WORDS_CUES_MAX);
    CHECK_EQ_I(*c, q.c[0].clock, 101);
    CHECK_EQ_I(*c, q.c[WORDS_CUES_MAX - 1].line, 64);
    CHECK(*c, words_cues_add(&q, 500, 77));       /* full, in the middle */
    CHECK_EQ_I(*c, q.c[0].clock, 102);
    CHECK_EQ_I(*c, words_cues_at(&q, 499), WORDS_CUES_MAX - 1);
    CHECK_EQ_I(*c, words_cues_at(&q, 500), 77);
    for (uint32_t i = 1; i < q.n; i++)
        CHECK(*c, q.c[i - 1].clock < q.c[i].clock);
    /* JSON of the fullest list fits its bound. */
    for (uint32_t i = 0; i < q.n; i++)
        q.c[i].clock = INT64_MAX - (int64_t)(q.n - i);
    char buf[WORDS_CUES_JSON_MAX];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    words_cues_json(&q, UINT32_MAX, WORDS_LINES_MAX, &j);
    CHECK(*c, jw_ok(&j));
    words_cues_clear(&q);
    words_cues_add(&q, 48000, 3);
    jw_init(&j, buf, sizeof buf);
    words_cues_json(&q, 2, 10, &j);
    CHECK_EQ_S(*c, buf, "{\"words\":2,\"n\":10,\"cues\":[[48000,3]]}");
}

/* Lines that follow the song by themselves: by seconds, by beats, and
 * what is not a time. */
static void test_timed(check_t *c)
{
    uint32_t line;
    CHECK_EQ_I(*c, parse("[0:02] one\n[1:05.5]two\n  [b6] three\n[Chorus] four\n[7.25] five\nsix\n", &line), WORDS_OK);
    CHECK_EQ_I(*c, w.n_lines, 6);
    CHECK_EQ_S(*c, words_line(&w, 0), "one");
    CHECK_EQ_S(*c, words_line(&w, 1), "two");
    CHECK_EQ_S(*c, words_line(&w, 2), "three");
    CHECK_EQ_S(*c, words_line(&w, 3), "[Chorus] four");
    CHECK_EQ_I(*c, w.at_kind[0], WORDS_AT_MS);
    CHECK_EQ_I(*c, w.at[0], 2000);
    CHECK_EQ_I(*c, w.at[1], 65500);
    CHECK_EQ_I(*c, w.at_kind[2], WORDS_AT_BEAT);
    CHECK_EQ_I(*c, w.at[2], 6);
    CHECK_EQ_I(*c, w.at_kind[3], WORDS_AT_NONE);
    CHECK_EQ_I(*c, w.at[4], 7250);
    CHECK_EQ_I(*c, w.at_kind[5], WORDS_AT_NONE);
    /* Cues from a start clock: by seconds always, by beats with a bpm
     * (120: 24000 samples a beat, [b1] on the start). */
    words_cues_t q;
    int64_t start = INT64_C(85000000000000);
    CHECK_EQ_I(*c, words_timed_cues(&w, start, 120, &q), 4);
    CHECK_EQ_I(*c, q.c[0].clock, start + 2 * 48000);
    CHECK_EQ_I(*c, q.c[0].line, 0);
    CHECK_EQ_I(*c, q.c[1].clock, start + 5 * 24000);
    CHECK_EQ_I(*c, q.c[1].line, 2);
    CHECK_EQ_I(*c, q.c[2].clock, start + 7 * 48000 + 12000);
    CHECK_EQ_I(*c, q.c[3].clock, start + 65 * 48000 + 24000);
    CHECK_EQ_I(*c, words_timed_cues(&w, start, 0, &q), 3);   /* no metronome: no beats */
    CHECK_EQ_I(*c, words_cues_at(&q, start + 5 * 48000), 0);
    /* The JSON keeps the times, to be parsed again after a restart. */
    char buf[WORDS_JSON_MAX];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    words_json(&w, 1, &j);
    CHECK(*c, strstr(buf, "\"at\":[\"2\",\"65.5\",\"b6\",null,\"7.25\",null]") != NULL);
    CHECK_EQ_I(*c, parse("[65.500]again", &line), WORDS_OK);
    CHECK_EQ_I(*c, w.at[0], 65500);
    /* Malformed times are refused with their line. */
    static const char *bad[] = {"ok\n[1:5] x", "ok\n[b0] x", "ok\n[1:60] x", "ok\n[0:05]", "ok\n[0:05 x",
                                "ok\n[6:00:00] x", "ok\n[99999999] x", "ok\n[b1x] x", "ok\n[1.] x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(*c, parse(bad[i], &line) == WORDS_ETIME, "%s", bad[i]);
        CHECK_EQ_I(*c, line, 2);
    }
    /* What is not a time stays text. */
    CHECK_EQ_I(*c, parse("[b] x\n[] y\n[bx] z", &line), WORDS_OK);
    CHECK_EQ_S(*c, words_line(&w, 0), "[b] x");
    CHECK_EQ_I(*c, w.at_kind[0], WORDS_AT_NONE);
}

/* Slides named by lines: after a time, alone on a line, until the next;
 * [slide 0] shows none; the bounds; what stays text. */
static void test_slides(check_t *c)
{
    uint32_t line;
    CHECK_EQ_I(*c, parse("[slide 1]\n[0:02] [SLIDE 2] one\ntwo\n\n[slide 0] three\n[Slide show] four\n[slide 32]",
                         &line), WORDS_OK);
    CHECK_EQ_I(*c, w.n_lines, 6);
    CHECK_EQ_S(*c, words_line(&w, 0), "");              /* a title slide, no text */
    CHECK_EQ_S(*c, words_line(&w, 1), "one");
    CHECK_EQ_I(*c, w.at_kind[1], WORDS_AT_MS);
    CHECK_EQ_I(*c, w.at[1], 2000);
    CHECK_EQ_S(*c, words_line(&w, 3), "three");
    CHECK_EQ_S(*c, words_line(&w, 4), "[Slide show] four");   /* not "[slide N]": text */
    int8_t want[] = {1, 2, -1, 0, -1, 32};
    int at[] = {1, 2, 2, 0, 0, 32};
    for (uint32_t i = 0; i < 6; i++) {
        CHECK_MSG(*c, w.slide[i] == want[i], "line %u names %d", i, w.slide[i]);
        CHECK_MSG(*c, words_slide_at(&w, i) == at[i], "line %u shows %d", i, words_slide_at(&w, i));
    }
    char buf[WORDS_JSON_MAX];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    words_json(&w, 3, &j);
    CHECK_MSG(*c, strstr(buf, "\"slides\":[1,2,null,0,null,32]") != NULL, "%s", buf);
    /* No slide named: none shown. */
    CHECK_EQ_I(*c, parse("a\nb", &line), WORDS_OK);
    CHECK_EQ_I(*c, words_slide_at(&w, 1), 0);
    /* Refused, with their line: over the bound, unclosed, not a number. */
    static const char *bad[] = {"ok\n[slide 33] x", "ok\n[slide 1 x", "ok\n[slide 1x] x", "ok\n[slide 999999999999]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(*c, parse(bad[i], &line) == WORDS_ESLIDE, "%s", bad[i]);
        CHECK_EQ_I(*c, line, 2);
    }
    CHECK(*c, strstr(words_strerror(WORDS_ESLIDE), "[slide N]") != NULL);
    /* A time alone is still refused; a time and a slide alone are not. */
    CHECK_EQ_I(*c, parse("[0:05]", &line), WORDS_ETIME);
    CHECK_EQ_I(*c, parse("[0:05] [slide 4]", &line), WORDS_OK);
    CHECK_EQ_I(*c, w.slide[0], 4);
}

static void test_cue_clock(check_t *c)
{
    int64_t now = INT64_C(85000000000000);
    CHECK(*c, words_cue_clock_ok(now, now));
    CHECK(*c, words_cue_clock_ok(now - WORDS_CUE_BEHIND_MAX, now));
    CHECK(*c, !words_cue_clock_ok(now - WORDS_CUE_BEHIND_MAX - 1, now));
    CHECK(*c, words_cue_clock_ok(now + WORDS_CUE_AHEAD_MAX, now));
    CHECK(*c, !words_cue_clock_ok(now + WORDS_CUE_AHEAD_MAX + 1, now));
    CHECK(*c, !words_cue_clock_ok(0, now));
}

int main(void)
{
    CHECK_INIT(c);
    test_parse(&c);
    test_json(&c);
    test_cues(&c);
    test_timed(&c);
    test_slides(&c);
    test_cue_clock(&c);
    return check_done(&c, "test_words");
}
