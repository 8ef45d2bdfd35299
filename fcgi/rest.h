/*
 * rest.h - a resting voice costs nothing: telling the Opus packets of a
 * rest, and decoding an upload without running the decoder over them.
 *
 * A singer who rests sends silence.  Our client's encoder (WebCodecs Opus
 * with usedtx, libopus underneath) sends, some 200 ms into a silence, DTX
 * packets whose frames are empty (RFC 6716 3.2; a frame of 0 or 1 byte is
 * one the decoder conceals, as libopus does), and every 400 ms or so one
 * with CELT frames whose silence flag is set (RFC 6716 4.3, the frame's
 * first symbol: two bytes a frame).  A packet whose every frame is one of
 * these is a rest (rs_is_rest()).
 *
 * DTX alone is never decoded.  A decoder would conceal it, and libopus'
 * concealment after a note makes up a ghost of that note (test_rests: up
 * to -19 dBFS for 400 ms, until the next silence frames) that the singer
 * never sang; the worker adds silence instead.  A rest with silence frames
 * is decoded until the decoder is quiet: it gave nothing above half a step
 * of the mix (2^-24 full scale, mixer/accum.h), so skipping the rests
 * after it adds what decoding them would have added.  When the voice
 * comes back, the decoder goes on from the state it had: silence leaves
 * CELT's state where it found it, and the voice comes back as a decoder
 * fed every frame gives it, to 334 dB (135 dB in the mix: its fixed
 * point), with the same onset (test_rests, six placings of the notes
 * against the frames); over a microphone's noise floor (-60 dBFS, where
 * the encoder refreshes DTX with small frames of noise) to 82 dB at
 * least.  A decoder reset at the return instead matched to 334 dB at some
 * placings and to -0.4 dB at others, and to 3 to 8 dB over the noise:
 * not a state to trust.
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
 * writes 2880 zeros without decoding when the packet is DTX alone, or a
 * rest and *quiet says the decoder is quiet (see the top of this file).  *quiet is
 * the decoder's: false for a new decoder or after an error, kept up to
 * date here.  Sets *skipped when the decoder did not run.  Returns the
 * samples written (2880), or what opus_decode_float() returned when it
 * gave anything else (a negative error, or another frame size). */
int rs_decode(OpusDecoder *dec, bool *quiet, const uint8_t *p, int32_t len, float *out,
              bool *skipped);

#endif
