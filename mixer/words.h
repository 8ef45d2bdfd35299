/*
 * words.h - a song's words and the cues that say which line is sung when:
 * parsing and bounding a words file, the cue list, and their JSON.
 *
 * A words file is plain UTF-8 text, one line a line, blank lines between
 * verses.  A line may begin with its time in the song, so that it follows
 * the song by itself: "[1:05.5] text" (minutes and seconds from the song's
 * start, or "[65.5]"), or "[b17] text" (the 17th beat of the metronome,
 * "[b1]" being the start; needs the song's bpm).  A bracket that does not
 * open with a digit or "b" and a digit ("[Chorus]") is text.  After its
 * time, if any, a line may name a slide: "[slide 3] text" shows the room's
 * slide 3 (fcgi/slides.h) from this line on, until a line names another;
 * "[slide 0]" shows none from there.  A line may be a slide alone, with no
 * text ("[slide 1]" before the first verse: a title), and then is cued like
 * any other; a time alone is refused.  It is bounded (WORDS_TEXT_MAX bytes, WORDS_LINES_MAX lines of
 * at most WORDS_LINE_MAX bytes) and checked whole before anything uses it:
 * invalid UTF-8 and control characters other than a tab (read as a space)
 * and CR before LF are refused, characters that hide or disguise text
 * (utf8_is_hidden()) are taken out, spaces at either end of a line are cut.
 * A file with no line left is refused.
 *
 * A cue says that line L is current from timeline clock C on: the clock of
 * the audio the leader was hearing when they advanced.  Every singer hears
 * clock C at their own moment (their bucket's delay later), so the page of
 * each singer switches when its own playback reaches C.  The cue list keeps
 * the last WORDS_CUES_MAX cues in clock order; the line current at any
 * clock is that of the last cue at or before it, so a singer who joins
 * mid-song finds the line of its own position.
 *
 * Pure: no I/O, no shared state, nothing allocates.
 */
#ifndef BB_WORDS_H
#define BB_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"

#define WORDS_TEXT_MAX 8192      /* bytes of a words file */
#define WORDS_LINES_MAX 200      /* lines, blank lines not counted */
#define WORDS_LINE_MAX 160       /* bytes of one line, after cutting spaces */
#define WORDS_CUES_MAX 256       /* cues kept per song: every line timed, and more */
#define WORDS_TIME_MAX_MS (6LL * 3600 * 1000)   /* a line's time: at most 6 h in */
#define WORDS_BEAT_MAX 100000
#define WORDS_SLIDE_MAX 32       /* the highest slide a line may name (SL_MAX) */
/* A cue's clock is what the leader hears: behind the server clock by the
 * leader's delay (at most the ring, 124 s by default), never ahead of it
 * (one second of slack for clocks read a moment apart). */
#define WORDS_CUE_BEHIND_MAX (120LL * 48000)
#define WORDS_CUE_AHEAD_MAX (1LL * 48000)
/* The largest JSON words_json() writes: every byte of text escaped as
 * \uXXXX costs at most three times its UTF-8 bytes (a two-byte character
 * becomes six), plus punctuation and numbers per line (at most 24: quotes
 * and comma 3, a verse 4, a time 12, a slide 5). */
#define WORDS_JSON_MAX (3 * WORDS_TEXT_MAX + 40 * WORDS_LINES_MAX + 128)
/* The largest JSON words_cues_json() writes. */
#define WORDS_CUES_JSON_MAX (WORDS_CUES_MAX * 32 + 128)

/* Error codes: 0 for success, negative values below. */
enum {
    WORDS_OK = 0,
    WORDS_EEMPTY = -1,      /* no line with text */
    WORDS_ETOOBIG = -2,     /* more than WORDS_TEXT_MAX bytes */
    WORDS_ELINES = -3,      /* more than WORDS_LINES_MAX lines */
    WORDS_ELINE = -4,       /* a line longer than WORDS_LINE_MAX bytes */
    WORDS_EUTF8 = -5,       /* not valid UTF-8 (a binary file, another encoding) */
    WORDS_ECONTROL = -6,    /* a control character (a binary file) */
    WORDS_ETIME = -7,       /* a line's time that is not [m:ss.s], [s.s] or [bN] */
    WORDS_ESLIDE = -8,      /* a "[slide N" that is not [slide 0] .. [slide 32] */
};

/* How a line is timed. */
enum { WORDS_AT_NONE = 0, WORDS_AT_MS, WORDS_AT_BEAT };

/* Parsed words: the lines (NUL-terminated, in `text`) and where verses
 * begin.  Holds no pointers: it can be copied. */
typedef struct {
    uint32_t n_lines;
    uint32_t off[WORDS_LINES_MAX];          /* of each line in text */
    bool verse_start[WORDS_LINES_MAX];      /* the line follows a blank line */
    uint8_t at_kind[WORDS_LINES_MAX];       /* WORDS_AT_* */
    int64_t at[WORDS_LINES_MAX];            /* ms from the start, or the beat (1: the start) */
    int8_t slide[WORDS_LINES_MAX];          /* -1: names none; 0: no slide from here; 1..WORDS_SLIDE_MAX */
    char text[WORDS_TEXT_MAX + WORDS_LINES_MAX];
} words_t;

/* Parses the words file s of n bytes into *out.  Returns WORDS_OK, or an
 * error code (and *out holds nothing usable); *line (may be NULL) gets the
 * 1-based number of the offending line, or 0. */
int words_parse(const char *s, size_t n, words_t *out, uint32_t *line);

/* A sentence for an error code, for the page. */
const char *words_strerror(int code);

/* The slide to show while line i (< n_lines) is current: the one the
 * last line up to i names, 0 for none. */
int words_slide_at(const words_t *w, uint32_t i);

/* Line i (0-based, < n_lines) as a NUL-terminated string. */
static inline const char *words_line(const words_t *w, uint32_t i) { return w->text + w->off[i]; }

/* Writes {"id":ID,"lines":[...],"verses":[first line of each verse, ...],
 * "at":[time of each line: "65.5" (seconds), "b17" (a beat) or null],
 * "slides":[the slide each line names: 0..WORDS_SLIDE_MAX, or null]}
 * into j.  Fits in WORDS_JSON_MAX bytes for any parsed words. */
void words_json(const words_t *w, uint64_t id, jw_t *j);

/* ---- cues ------------------------------------------------------------- */

typedef struct {
    int64_t clock;     /* timeline clock, samples at 48 kHz */
    int32_t line;      /* 0-based line of the words */
} words_cue_t;

typedef struct {
    uint32_t n;
    words_cue_t c[WORDS_CUES_MAX];   /* in clock order */
} words_cues_t;

/* Empties the list. */
void words_cues_clear(words_cues_t *q);

/* Adds a cue in clock order.  A cue at the clock of one already there
 * replaces it; with the list full, the oldest cue makes room (or the new
 * one is dropped if it is older than all of them).  Returns true if the
 * list changed. */
bool words_cues_add(words_cues_t *q, int64_t clock, int32_t line);

/* The line current at `clock` (the last cue at or before it), or -1 when
 * no cue is that early. */
int32_t words_cues_at(const words_cues_t *q, int64_t clock);

/* True if a cue's clock is one the leader can have heard at server clock
 * `now`: within WORDS_CUE_BEHIND_MAX behind it and WORDS_CUE_AHEAD_MAX
 * ahead. */
bool words_cue_clock_ok(int64_t clock, int64_t now);

/* Fills q with the cues of the timed lines of w for a song that started
 * at clock `start` with `bpm` (0: no metronome; lines timed by beats are
 * then left out).  Returns the number of cues made. */
uint32_t words_timed_cues(const words_t *w, int64_t start, int32_t bpm, words_cues_t *q);

/* Writes {"words":ID,"n":N_LINES,"cues":[[clock,line],...]} into j; fits
 * in WORDS_CUES_JSON_MAX bytes. */
void words_cues_json(const words_cues_t *q, uint64_t id, uint32_t n_lines, jw_t *j);

#endif
