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

#endif
