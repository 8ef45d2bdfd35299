/*
 * trackset.h - the daemon's list of backing tracks.
 *
 * Scanning the audio directory prepares new tracks (decoding and
 * resampling them can take seconds), so scans run on a background thread;
 * the daemon's tick only polls for a finished scan and swaps it in.  A track
 * is played from its prepared, memory-mapped cache file.  Until the first
 * scan is done the set is "not ready": a song that was playing a track
 * across a daemon restart then hears silence for that moment instead of
 * ending.
 */
#ifndef BB_TRACKSET_H
#define BB_TRACKSET_H

#include <stdbool.h>
#include <stdint.h>

#include "media/trkplay.h"
#include "media/trkscan.h"

#define TSET_METRONOME_NAME TRK_METRONOME_NAME

typedef struct {
    const float *pcm;    /* 48 kHz mono, final level */
    uint64_t frames;
} tset_pcm_t;

typedef struct tset tset_t;

/* Creates the set and starts the first scan of audio_dir, the host's
 * library (prepared tracks go to cache_dir), and of own_dir, a room's own
 * uploads (prepared into own_cache; both NULL for none), whose tracks join
 * the library's and hide any of the same name.  With audio_dir or
 * cache_dir NULL the set is empty and ready.  Returns NULL only when out
 * of memory. */
tset_t *tset_new(const char *audio_dir, const char *cache_dir, const char *own_dir,
                 const char *own_cache);

/* Stops the scanner and frees everything; accepts NULL. */
void tset_free(tset_t *t);

/* Asks for another scan (after an upload). */
void tset_rescan(tset_t *t);

/* Swaps in a finished scan, if any.  The track indices *a and *b (may be
 * NULL; values < 0 are left alone) are remapped from the old list to the
 * new one by name, becoming SONG_TRACK_NONE if the track is gone.  Returns
 * true if the list changed. */
bool tset_poll(tset_t *t, int32_t *a, int32_t *b);

/* True once a scan has completed. */
bool tset_ready(const tset_t *t);

uint32_t tset_count(const tset_t *t);
const char *tset_name(const tset_t *t, int32_t i);

/* Index of the track called name, or SONG_TRACK_NONE (-1). */
int32_t tset_find(const tset_t *t, const char *name);

/* Opens track i for playback (closing the one open before).  Returns 0 or
 * -1. */
int tset_open(tset_t *t, int32_t i);

/* The samples of track i if it is the open one, else NULL. */
const tset_pcm_t *tset_pcm(const tset_t *t, int32_t i);

#endif
