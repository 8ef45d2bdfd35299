/*
 * api.h - the worker's public API: one FastCGI request, routed on its
 * exact path to its room and its handler.
 *
 * Paths (the decoded path nginx passes as DOCUMENT_URI; anything else is a
 * 404, and a path holding '?' is a 400, so that no spelling of a path
 * reaches a handler through another location's limits):
 *   /api, /                      GET: the clock probe; POST: the audio
 *                                exchange; OPTIONS: the CORS preflight
 *   /api/reset_events, /apireset_events, /reset_events
 *                                POST: clear the room's cue events (the
 *                                second is the URL the original client
 *                                really builds, the third its :8081 form)
 *   /api/upload                  POST: a backing track
 *   /api/room                    GET: the room a link opens, and the role
 *                                it gives (the page's first question)
 *   /api/room/link               POST (organiser): replace the singers' or
 *                                the organiser's link
 *   /api/room/cap                POST (organiser): the most singers
 *   /api/recordings              GET: the room's recordings (JSON)
 *   /api/recording?file=NAME     GET: one of them, which nginx sends from
 *                                its internal location API_REC_LOCATION
 *                                once the key was checked here: a file's
 *                                URL opens nothing without the room's key
 *   /api/slides                  GET: the room's slide images (slides.h)
 *   /api/slide?n=N               GET: one of them; POST (leader, organiser):
 *                                store one (the image is the body)
 *   /api/slide/delete?n=N        POST (leader, organiser): delete one
 *                                (the three on the upload worker alone)
 *   /api/recording/delete?song=STAMP
 *                                POST (organiser; none in the default
 *                                room): delete every file of one song;
 *                                409 for the song being recorded
 * Every request names its room with room=ID and its key with key=KEY;
 * without room= it is the default room's (the original client's).
 * Metrics and profiling are not here: they answer on the operator socket
 * alone (ops.h), which nginx does not reach.
 */
#ifndef BB_API_H
#define BB_API_H

#include <stdbool.h>
#include <stdint.h>

#include <fcgiapp.h>

#include "newcomers.h"
#include "rooms.h"
#include "slides.h"
#include "upload.h"

/* nginx's internal location of the recordings folder (bb-locations.conf). */
#define API_REC_LOCATION "/bb-recordings/"
/* Songs a listing names at most. */
#define API_RECORDINGS_MAX 100

/* The worker's state the API uses (owned by main()). */
typedef struct {
    int worker_id;
    wr_t *rooms;
    upl_t *upl;             /* NULL: uploads off */
    sl_t *slides;           /* NULL: not the upload worker */
    bool uploads_only;      /* the upload worker: /api/upload and nothing else */
    uint8_t *body;          /* request body buffer of body_cap bytes */
    size_t body_cap;
    char *text;             /* text_cap bytes for a listing */
    size_t text_cap;
    const char *recordings_dir;   /* NULL: no recordings here */
    nc_t *newcomers;        /* new singers per client address */
    uint64_t probes, options, refused, other;
    uint64_t deleted;       /* recordings the organisers deleted */
} api_t;

/* Answers one request. */
void api_handle(api_t *a, FCGX_Request *r);

#endif
