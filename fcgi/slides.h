/*
 * slides.h - a room's slide images on disk, without HTTP: storing an
 * upload once it was decoded and encoded anew, listing, reading, deleting.
 *
 * A room's slides are numbered 1..SL_MAX, the number an organiser writes
 * in the words ("[slide 3]", words.h), and live as AUDIO_DIR/rooms/ID/
 * slides/N.png or N.jpg: each written whole or not at all (mfile.h), so
 * they outlive any process and a reader never sees half a file.  Every
 * stored file was made by img_sanitize() (media/image.h) from the pixels
 * of the upload; nothing of the upload itself is kept.  A room holds at
 * most SL_MAX slides and SL_ROOM_BYTES of them.
 *
 * Only the upload worker (bb-worker --uploads) runs this: decoding a 4 MiB
 * image takes longer than a singer's exchange may wait.  Who may store or
 * delete is the caller's to check (roles.h, ROLE_ACT_WORDS: the leader or
 * the organiser, as for the words the slides go with).
 */
#ifndef BB_SLIDES_H
#define BB_SLIDES_H

#include <stddef.h>
#include <stdint.h>

#include "media/image.h"

#define SL_MAX 32                               /* slides a room has */
#define SL_ROOM_BYTES ((uint64_t)64 << 20)      /* their bytes, together */
#define SL_LIST_JSON_MAX (SL_MAX * 96 + 64)     /* sl_list()'s JSON */

/* What a request is answered: an HTTP status and a JSON body (an object;
 * {"error": sentence} for a refusal). */
typedef struct {
    int status;
    char body[512];
} sl_answer_t;

typedef struct sl sl_t;

/* Creates the store over audio_dir, which must exist and be writable.
 * Returns NULL and writes why otherwise. */
sl_t *sl_create(const char *audio_dir, char *why, size_t whylen);

/* Frees; accepts NULL. */
void sl_destroy(sl_t *s);

/* Stores the image body (len bytes) as slide n (1..SL_MAX, replacing the
 * slide of that number; 0: the lowest free number) of room `room_id`.
 * 200 with {"slide":N,"type":"png"|"jpg","width":W,"height":H,"bytes":B,
 * "v":"VERSION"}; 400 for a bad n, 413 / 415 / 422 for an image refused
 * (img_strerror()), 507 for the room's bounds, 500 for a disk failure.
 * A refusal changes nothing.  `by` names who asked, for the one log line
 * of the outcome (a role and a public id, never a secret). */
void sl_put(sl_t *s, const char *room_id, int64_t n, const uint8_t *body, size_t len, const char *by,
            sl_answer_t *out);

/* Deletes slide n: 200 {"slide":N,"deleted":true}, or 404. */
void sl_delete(sl_t *s, const char *room_id, int64_t n, const char *by, sl_answer_t *out);

/* Writes {"slides":[{"slide":N,"type":T,"bytes":B,"v":V},...]} (by
 * number) into buf (cap >= SL_LIST_JSON_MAX bytes). */
void sl_list(sl_t *s, const char *room_id, char *buf, size_t cap);

/* A stored slide read back. */
typedef struct {
    img_kind_t kind;
    size_t len;
    char v[40];              /* its version: changes whenever it is replaced */
} sl_file_t;

/* Reads slide n into buf (cap bytes).  Returns 0 and fills *f, or -1 when
 * there is no such slide (or it does not fit). */
int sl_read(sl_t *s, const char *room_id, int64_t n, uint8_t *buf, size_t cap, sl_file_t *f);

#endif
