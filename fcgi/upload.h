/*
 * upload.h - the backing-track upload endpoint of a worker.
 *
 * POST .../upload?name=NAME with the file as the body.  The file is checked
 * by decoding it completely and written atomically into the audio directory
 * (media/trkupload.h, trk_upload_accept()); the daemon's next scan, which the
 * worker asks for at once, prepares it and adds it to the track list.
 */
#ifndef BB_UPLOAD_H
#define BB_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "media/trkupload.h"

#define UPL_MAX_BYTES TRK_UPLOAD_MAX
#define UPL_ROOM_TRACKS 20
#define UPL_ROOM_BYTES ((uint64_t)256 << 20)
#define UPL_ROOM_PREPARED ((uint64_t)1 << 30)

typedef struct upl upl_t;

/* Creates the endpoint for audio_dir, which must exist and be writable;
 * cache_dir is where the daemon prepares tracks (a room's in ROOMID/
 * there), read to bound what a room's uploads cost there (NULL: not
 * bounded by it).  Returns NULL and writes why otherwise. */
upl_t *upl_create(const char *audio_dir, const char *cache_dir, char *why, size_t whylen);

/* Frees; accepts NULL. */
void upl_destroy(upl_t *u);

/* Uploads refused because their room had reached its bounds (each also
 * one log line); 0 for NULL. */
uint64_t upl_refused_full(const upl_t *u);

/* Handles one upload for room `room_id`: query (its `name` parameter is
 * the requested track name), body of len bytes.  Returns an HTTP status:
 * 200 with the track name in name_out, or 400 / 409 / 413 / 415 / 500 /
 * 507 (the room's bounds) with a message for the client in msg. */
int upl_accept(upl_t *u, const char *room_id, const char *query, const uint8_t *body, size_t len,
               char *name_out, size_t name_cap, char *msg, size_t msg_cap);

#endif
