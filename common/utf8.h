/*
 * utf8.h - decoding and cutting UTF-8, the one set of rules for every text
 * the server takes from users (names, chat, track names) and writes out
 * (JSON, file names).
 *
 * A valid sequence is the shortest encoding of a code point in
 * U+0000..U+10FFFF outside the surrogates U+D800..U+DFFF; anything else
 * (a stray continuation byte, an overlong form, a sequence cut by the end
 * of the input) is invalid.  Nothing allocates; no globals.
 */
#ifndef BB_UTF8_H
#define BB_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s (avail >= 1 bytes): returns its length (1..4)
 * and puts the code point in *cp, or returns -1 (and leaves *cp alone)
 * when it is invalid. */
int utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp);

/* The longest prefix of s (n bytes) of at most max bytes that does not end
 * inside a character: n when n <= max, else max backed up over
 * continuation bytes (so it may be 0). */
size_t utf8_cut(const char *s, size_t n, size_t max);

/* True for the code points that can disguise a text shown to others:
 * controls (C0, DEL, C1), the zero-width characters and marks
 * (U+200B..U+200F), the bidirectional embeddings, overrides and isolates
 * (U+202A..U+202E, U+2066..U+2069), the invisible operators (U+2060..U+2065)
 * and U+FEFF. */
int utf8_is_hidden(uint32_t cp);

/* Removes every hidden code point (utf8_is_hidden()) from the valid UTF-8
 * s of n bytes, in place, and NUL-terminates it; returns the new length.
 * Text that is not valid UTF-8 is left as it is. */
size_t utf8_strip_hidden(char *s, size_t n);

#endif
