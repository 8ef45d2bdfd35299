/*
 * bbpreenc.h - a voice encoded once into Opus packets that load-generating
 * singers send in a loop, so that generating load costs no encoding.
 */
#ifndef BB_BBPREENC_H
#define BB_BBPREENC_H

#include <stddef.h>
#include <stdint.h>

#include "bbcore.h"

typedef struct bbc_preenc bbc_preenc_t;

/* Encodes x[0..n) (n a positive multiple of 2880, 48 kHz mono) once into
 * Opus packets that singers in BBC_SEND_PREENCODED mode then send in a
 * loop, so that generating load costs no encoding.  bitrate in bit/s, 0 for
 * the library default. */
bbc_preenc_t *bbc_preenc_new(const float *x, size_t n, int bitrate, int *err);

/* The same from `seconds` (0.6 .. 60) of a sung-like voice at f0 Hz. */
bbc_preenc_t *bbc_preenc_new_voice(double f0, double seconds, int bitrate, int *err);

/* Length of a phrase of bbc_preenc_new_phrases(), in seconds. */
#define BBC_PHRASE_S 6.0

/* A sung-like voice at f0 Hz in phrases of BBC_PHRASE_S seconds, each
 * ending in a rest that takes `rest` (0 .. 0.9) of it, with 30 ms fades
 * at the ends of each phrase; `seconds` (a whole number of phrases, at
 * most 60) long.  Encoded as our browser client encodes (libopus with
 * DTX), so that the rests go out as the client's rests do. */
bbc_preenc_t *bbc_preenc_new_phrases(double f0, double seconds, double rest, int bitrate, int *err);

void bbc_preenc_destroy(bbc_preenc_t *p);

/* Number of packets, and their mean size in bytes. */
size_t bbc_preenc_count(const bbc_preenc_t *p);
double bbc_preenc_mean_bytes(const bbc_preenc_t *p);

/* Packet i (i < count) and its length in bytes. */
const uint8_t *bbc_preenc_packet(const bbc_preenc_t *p, size_t i, size_t *len);

#endif
