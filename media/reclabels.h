/* reclabels: the song's words as an Audacity label track beside its
 * recording: SONG-words.txt, one label per line that was sung, in
 * Audacity's label format (start, end and text, separated by tabs,
 * times in seconds from the song's start, the time origin of SONG.lof).
 *
 * A .lof file lists audio (and MIDI) files only: Audacity's LOF importer
 * imports each "file" line as audio, and label files are imported with
 * File > Import > Labels.  So the labels are a file of their own, named
 * in a comment of SONG.lof, which is rewritten to carry it.
 *
 * Bounded: at most REC_LABELS_MAX labels of at most REC_LABEL_TEXT_MAX
 * bytes; a directory keeps the labels of the songs whose project (.lof)
 * is there and no others (recdir.h prunes the projects).  Files are
 * written atomically (mfile.h).  No globals. */
#ifndef BB_MEDIA_RECLABELS_H
#define BB_MEDIA_RECLABELS_H

#include <stdint.h>

#include "recname.h"

#define REC_LABELS_MAX 256
#define REC_LABEL_TEXT_MAX 200

typedef struct {
    int64_t start;        /* timeline clock where the line begins */
    int64_t end;          /* where it ends (>= start) */
    const char *text;     /* UTF-8; tabs and line ends become spaces */
} rec_label_t;

/* Writes dir/SONG-words.txt for the song that started at song_start_clock
 * with labels[0 .. n) (n <= REC_LABELS_MAX; clocks before the song start
 * are put at 0), adds a comment naming it to dir/SONG.lof when that
 * exists, and deletes every other "-words.txt" of a song whose .lof is
 * gone.  n == 0 writes nothing.  Returns REC_OK, REC_ERR_ARG,
 * REC_ERR_NOMEM or REC_ERR_IO. */
int rec_labels_write(const char *dir, int64_t song_start_clock, const rec_label_t *labels, uint32_t n,
                     rec_log_fn log, void *log_user);

#endif
