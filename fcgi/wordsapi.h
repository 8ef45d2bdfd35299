/*
 * wordsapi.h - the song's words through the API, without HTTP: loading a
 * words file, cueing a line, reading the words back.
 *
 *   GET  /api/words                        the room's words: words_json()
 *   POST /api/words            body=text   the leader or organiser loads
 *                                          words (words.h); 200 with
 *                                          {"words":ID,"lines":N}
 *   POST /api/words/cue?line=L&clock=C&words=ID
 *                                          line L of words ID is current
 *                                          from clock C (what the leader
 *                                          heard); 200 with
 *                                          {"words":ID,"line":L,"clock":C}
 *
 * Who may is the caller's to check (roles.h, ROLE_ACT_WORDS) before; these
 * check the input (a malformed file or cue is a 400 with a sentence and
 * changes nothing), hand it to the daemon as commands (commands.h) and
 * wait, at most WA_WAIT_NS, until it applied them, so that the answer says
 * whether they took and a page that asks next sees them.  Each singer's
 * page learns of new words and cues in its audio responses ("words_cues",
 * meta.h) and fetches the words with GET when their id changes.
 */
#ifndef BB_WORDSAPI_H
#define BB_WORDSAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commands.h"
#include "segment.h"

#define WA_WAIT_NS 1000000000LL

/* What a request is answered: an HTTP status and a JSON body (an object,
 * {"error": sentence} for a refusal). */
typedef struct {
    int status;
    char body[512];
} wa_answer_t;

/* Loads the words file text (len bytes; the caller refuses longer ones
 * than WORDS_TEXT_MAX with 413) from `userid` at server clock now. */
void wa_load(const cm_lane_t *l, uint64_t userid, bool organiser, const char *text, size_t len,
             int64_t now, wa_answer_t *out);

/* Cues a line; `query` holds line=, clock= and words=. */
void wa_cue(const cm_lane_t *l, uint64_t userid, bool organiser, const char *query, int64_t now,
            wa_answer_t *out);

/* Copies the room's words (JSON, words_json()) into buf (cap bytes,
 * at least SEG_BLOB_WORDS_MAX); returns its length. */
size_t wa_get(const seg_t *seg, char *buf, size_t cap);

/* The id and number of lines of the room's words now (0, 0: none). */
void wa_current(const seg_t *seg, uint64_t *id, uint32_t *n_lines);

#endif
