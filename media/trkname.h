/* trkname: what a backing track may be called. A track's public name is
 * its file name in the audio directory, shown to every singer and passed
 * back in requests, so it must be plain, visible UTF-8 that no other name
 * can imitate; an upload's name is made from whatever the browser sent.
 *
 * Pure string functions: no I/O, no allocation, no globals.
 */
#ifndef BB_MEDIA_TRKNAME_H
#define BB_MEDIA_TRKNAME_H

#include <stddef.h>

#include "track.h"

/* Returns 1 if `name` may be a track name: 1..TRK_NAME_MAX bytes of valid
 * UTF-8, not starting with '.', without '/', without control characters
 * (C0, DEL, C1) and without invisible format characters that could make one
 * name look like another (zero-width and bidirectional controls, U+FEFF).
 * Returns 0 otherwise, also for NULL. */
int trk_name_is_safe(const char *name);

/* Returns 1 if `ext` is a file extension we write: 1..8 ASCII letters or
 * digits (no dot). 0 otherwise, also for NULL. */
int trk_name_is_ext(const char *ext);

/* Builds an upload's file name from the name the user asked for, into out
 * (capacity cap): the last path component (after '/' or '\'), its own
 * extension removed (a final '.' followed by 1..5 ASCII letters or
 * digits), invalid UTF-8, control and invisible characters and any of
 * / \ : * ? " < > | replaced by '_', runs of spaces collapsed, leading
 * spaces, dots and '-' and trailing spaces and dots trimmed, "track "
 * prefixed to a name the scanner would skip as a README, "upload" if
 * nothing is left; then " (n)" when n >= 2, then "." and `ext`; cut at a
 * character boundary so the whole stays within TRK_NAME_MAX bytes.
 * `requested` may be NULL. `ext` must pass trk_name_is_ext(); n is
 * 1..999. Returns TRK_OK (the result passes trk_name_is_safe()) or
 * TRK_ERR_ARG. */
int trk_name_for_upload(const char *requested, const char *ext, int n, char *out,
                        size_t cap);

/* Writes `name` into out (capacity cap >= 6, always NUL-terminated) with
 * the bytes that are unsafe in a log line (controls, DEL, '"', '\') shown
 * as \xNN, so a hostile file name cannot forge log lines or terminal
 * codes; cut when out is full. */
void trk_name_for_log(const char *name, char *out, size_t cap);

#endif
