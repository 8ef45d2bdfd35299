/*
 * rest.h - a resting voice costs nothing: telling the Opus packets of a
 * rest, and decoding an upload without running the decoder over them.
 *
 * A singer who rests sends silence.  Our client's encoder (WebCodecs Opus
 * with usedtx, libopus underneath) sends, after a moment of silence, CELT
 * frames with the silence flag set (RFC 6716 4.3, its first symbol: two
 * bytes a frame) and then DTX packets whose frames are empty (RFC 6716
 * 3.2; a frame of 0 or 1 byte is one the decoder conceals, as libopus
 * does).  A packet whose every frame is one of these is a rest
 * (rs_is_rest()).
 *
 * Skipping the decoder adds exactly what decoding would have added when
 * the decoder is quiet: it decoded a rest and gave nothing above half a
 * step of the mix (2^-24 full scale, mixer/accum.h), so the mix rounds
 * what it would give to zero.  The first rest after sound is therefore
 * decoded (it carries the tail of the last note: the overlap of CELT's
 * window, the de-emphasis), and the rests after it are not while the
 * decoder is quiet.  When the voice comes back, the decoder goes on from
 * the state it had after that decoded rest: a silent frame leaves CELT's
 * state where it found it, so the first packet back decodes almost as it
 * would have after every rest frame (tests/worker/test_rests.c measures
 * it against a decoder fed every frame).
 */
#ifndef BB_REST_H
#define BB_REST_H

#include <stdbool.h>
#include <stdint.h>

#include <opus.h>

/* True if the Opus packet p (len bytes) is a rest: a well-formed packet
 * of 60 ms at 48 kHz whose frames are all empty or single bytes (DTX), or
 * CELT-only frames with the silence flag.  False for anything else,
 * malformed packets included (the decoder judges those). */
bool rs_is_rest(const uint8_t *p, int32_t len);

/* Decodes one 60 ms packet (p, len bytes) into out[0..2880) with dec, or
 * writes 2880 zeros without decoding when the packet is a rest and
 * *quiet says the decoder is quiet (see the top of this file).  *quiet is
 * the decoder's: false for a new decoder or after an error, kept up to
 * date here.  Sets *skipped when the decoder did not run.  Returns the
 * samples written (2880), or what opus_decode_float() returned when it
 * gave anything else (a negative error, or another frame size). */
int rs_decode(OpusDecoder *dec, bool *quiet, const uint8_t *p, int32_t len, float *out,
              bool *skipped);

#endif
