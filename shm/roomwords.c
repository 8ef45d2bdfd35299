/*
 * roomwords.c - a room's words and cues, held by its daemon.
 *
 * A words file reaches the daemon in parts (CMD_WORDS, SEG_WORDS_PART
 * bytes each, all of one load carrying its number) from the worker that
 * took it; the parts are gathered in r->words.stage and, once all are
 * there, parsed again with the same rules the worker checked them by
 * (words.h): only words that parse replace the current ones.  A part that
 * does not follow the one before (another load began, a part was lost
 * with a full lane) throws the gathered parts away.
 *
 * The daemon publishes the words (SEG_BLOB_WORDS) and their cues
 * (SEG_BLOB_CUES) as blobs of the segment.  New words have the next
 * number and no cues; a cue names the words it is of, and one of words
 * replaced meanwhile is dropped.  A song's start clears the cues of the
 * song before and puts in those of the lines that carry their time (in
 * seconds, or in beats of the song's bpm).
 *
 * When a song's recording closes, its cues become the label track of its
 * Audacity project (reclabels.h): one label per line, from its cue to the
 * next (the last to the song's end).
 *
 * Lines name the room's slides ("[slide 3]", words.h): the slides
 * themselves are files of the upload worker (fcgi/slides.h); the words
 * carry only their numbers, published and restored with the lines.
 *
 * Across a restart (kill -9 included) the words and cues are what the
 * previous daemon published: both blobs are read back and parsed on
 * re-attach, as the events are.  Parts in flight are lost with the
 * daemon; the worker that sent them tells its client the load did not
 * take (it waits for the daemon to apply them).
 */
#include <inttypes.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "media/reclabels.h"
#include "room_impl.h"
#include "strutil.h"

static void publish_cues(rm_t *r)
{
    char buf[SEG_BLOB_CUES_MAX];
    jw_t j;
    jw_init(&j, buf, sizeof buf);
    words_cues_json(&r->words.cues, r->words.id, r->words.w.n_lines, &j);
    if (jw_ok(&j))
        snap_blob_publish(r->seg, SEG_BLOB_CUES, buf, j.len);
}

void rm_words_publish(rm_t *r)
{
    jw_t j;
    jw_init(&j, r->words.json, sizeof r->words.json);
    words_json(&r->words.w, r->words.id, &j);
    if (jw_ok(&j))
        snap_blob_publish(r->seg, SEG_BLOB_WORDS, r->words.json, j.len);
    publish_cues(r);
}

void rm_words_part(rm_t *r, const seg_cmd_t *c)
{
    rm_words_t *w = &r->words;
    int64_t total = c->a, off = c->b;
    if (total <= 0 || total > WORDS_TEXT_MAX || off < 0 || off >= total)
        return;   /* workers never send these: a damaged cell */
    size_t len = (size_t)(total - off < SEG_WORDS_PART ? total - off : SEG_WORDS_PART);
    if (off == 0) {
        w->staged = 0;
        w->stage_total = total;
        w->stage_load = c->c;
        w->stage_user = c->userid;
    } else if (c->c != w->stage_load || c->userid != w->stage_user || total != w->stage_total ||
               (size_t)off != w->staged) {
        LOG(r, "words: a part at byte %" PRId64 " does not follow the parts before; the load is dropped", off);
        w->staged = 0;
        w->stage_total = 0;
        return;
    }
    memcpy(w->stage + off, c->text, len);
    w->staged += len;
    if ((int64_t)w->staged < total)
        return;
    w->stage_total = 0;
    uint32_t line;
    int rc = words_parse(w->stage, w->staged, &w->parsed, &line);
    if (rc != WORDS_OK) {
        LOG(r, "words from user %" PRIu64 " refused: %s (line %u)", seg_public_id(r->seg, c->userid),
            words_strerror(rc), line);
        return;
    }
    w->w = w->parsed;
    w->id++;
    words_cues_clear(&w->cues);
    rm_words_publish(r);
    LOG(r, "words %" PRIu64 " loaded by user %" PRIu64 "%s: %u lines, %zu bytes", w->id,
        seg_public_id(r->seg, c->userid), c->role & CMD_ROLE_ORGANISER ? " (the organiser)" : "",
        w->w.n_lines, w->staged);
}

void rm_words_cue(rm_t *r, const seg_cmd_t *c)
{
    rm_words_t *w = &r->words;
    if ((uint64_t)c->c != w->id || c->b < 0 || c->b >= (int64_t)w->w.n_lines) {
        LOG(r, "words: cue of line %" PRId64 " of words %" PRId64 " ignored: the words are %" PRIu64
            " with %u lines", c->b, c->c, w->id, w->w.n_lines);
        return;
    }
    if (words_cues_add(&w->cues, c->a, (int32_t)c->b)) {
        publish_cues(r);
        LOG(r, "words: line %" PRId64 " from clock %" PRId64 " (user %" PRIu64 ")", c->b, c->a,
            seg_public_id(r->seg, c->userid));
    }
}

void rm_words_song_start(rm_t *r)
{
    rm_words_t *w = &r->words;
    uint32_t had = w->cues.n;
    const song_t *s = &r->ctl.song;
    uint32_t n = s->start ? words_timed_cues(&w->w, s->start, s->bpm, &w->cues) : (words_cues_clear(&w->cues), 0);
    if (had || n)
        publish_cues(r);
    if (n)
        LOG(r, "words: %u timed lines follow the song from clock %" PRId64 "%s", n, s->start,
            s->bpm ? "" : " (no bpm: lines timed by beats wait for the leader)");
}

void rm_words_labels(rm_t *r)
{
    rm_words_t *w = &r->words;
    const song_t *s = &r->ctl.song;
    rec_label_t labels[WORDS_CUES_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->cues.n; i++) {
        const words_cue_t *c = &w->cues.c[i];
        if (c->clock < r->rec_song || c->line < 0 || (uint32_t)c->line >= w->w.n_lines)
            continue;
        int64_t end = i + 1 < w->cues.n ? w->cues.c[i + 1].clock : s->end > c->clock ? s->end : c->clock;
        labels[n++] = (rec_label_t){c->clock, end, words_line(&w->w, (uint32_t)c->line)};
    }
    if (n == 0)
        return;
    if (rec_labels_write(r->cfg.recordings_dir, r->rec_song, labels, n, rm_rec_log, r) == REC_OK)
        LOG(r, "words: %u labels written beside the recording", n);
}

/* The words of the blob the previous daemon published, parsed again from
 * their lines (a blank line before each verse).  False if none. */
static bool restore_words(rm_t *r)
{
    rm_words_t *w = &r->words;
    uint64_t gen = 0;
    size_t len = 0;
    snap_blob_read(r->seg, SEG_BLOB_WORDS, &gen, w->json, sizeof w->json, &len);
    cJSON *j = len ? cJSON_ParseWithLength(w->json, len) : NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *lines = cJSON_GetObjectItemCaseSensitive(j, "lines");
    const cJSON *verses = cJSON_GetObjectItemCaseSensitive(j, "verses");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "at");
    const cJSON *slides = cJSON_GetObjectItemCaseSensitive(j, "slides");
    bool ok = cJSON_IsNumber(id) && id->valuedouble >= 1 && cJSON_IsArray(lines);
    size_t n = 0;
    int i = 0;
    const cJSON *it;
    const cJSON *each = ok ? lines : NULL;
    cJSON_ArrayForEach(it, each) {
        bool verse = false;
        const cJSON *v;
        cJSON_ArrayForEach(v, verses)
            verse |= cJSON_IsNumber(v) && v->valueint == i && i > 0;
        size_t l = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
        /* A line may be a slide alone, without text (words.h). */
        const cJSON *sl = cJSON_GetArrayItem(slides, i);
        bool slide = cJSON_IsNumber(sl) && sl->valueint >= 0 && sl->valueint <= WORDS_SLIDE_MAX;
        if ((!l && !slide) || n + l + 2 > sizeof w->stage) {
            ok = false;
            break;
        }
        if (verse)
            w->stage[n++] = '\n';
        /* A timed line, as it was written: "[65.5]text" (words_json()
         * writes a tag no longer than the one it was given). */
        const cJSON *t = cJSON_GetArrayItem(at, i);
        if (cJSON_IsString(t) && strlen(t->valuestring) < 16 && n + l + 20 < sizeof w->stage)
            n += (size_t)snprintf(w->stage + n, 20, "[%s]", t->valuestring);
        /* Its slide, as short as it can be written: "[slide 3]". */
        if (slide && n + l + 12 < sizeof w->stage)
            n += (size_t)snprintf(w->stage + n, 12, "[slide %d]", sl->valueint);
        memcpy(w->stage + n, it->valuestring, l);
        n += l;
        w->stage[n++] = '\n';
        i++;
    }
    ok = ok && words_parse(w->stage, n, &w->parsed, NULL) == WORDS_OK;
    if (ok) {
        w->w = w->parsed;
        w->id = (uint64_t)id->valuedouble;
    }
    cJSON_Delete(j);
    return ok;
}

/* The cues of the blob, if they are of the words restored. */
static void restore_cues(rm_t *r)
{
    char buf[SEG_BLOB_CUES_MAX];
    uint64_t gen = 0;
    size_t len = 0;
    snap_blob_read(r->seg, SEG_BLOB_CUES, &gen, buf, sizeof buf, &len);
    cJSON *j = len ? cJSON_ParseWithLength(buf, len) : NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "words");
    const cJSON *cues = cJSON_GetObjectItemCaseSensitive(j, "cues");
    if (cJSON_IsNumber(id) && (uint64_t)id->valuedouble == r->words.id) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cues) {
            const cJSON *clock = cJSON_GetArrayItem(it, 0), *line = cJSON_GetArrayItem(it, 1);
            if (cJSON_IsNumber(clock) && cJSON_IsNumber(line) && line->valueint >= 0 &&
                line->valueint < (int)r->words.w.n_lines)
                words_cues_add(&r->words.cues, (int64_t)clock->valuedouble, line->valueint);
        }
    }
    cJSON_Delete(j);
}

void rm_words_restore(rm_t *r)
{
    if (!restore_words(r))
        return;
    restore_cues(r);
    LOG(r, "restored words %" PRIu64 " (%u lines) and %u cues", r->words.id, r->words.w.n_lines,
        r->words.cues.n);
}
