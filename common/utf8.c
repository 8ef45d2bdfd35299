/*
 * utf8.c - UTF-8 decoding and cutting (utf8.h).
 */
#include <string.h>

#include "utf8.h"

int utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp)
{
    uint32_t v, min;
    int len;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2; v = s[0] & 0x1F; min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3; v = s[0] & 0x0F; min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4; v = s[0] & 0x07; min = 0x10000;
    } else {
        return -1;
    }
    if ((size_t)len > avail)
        return -1;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    *cp = v;
    return len;
}

size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

int utf8_is_hidden(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || (cp >= 0x200B && cp <= 0x200F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

size_t utf8_strip_hidden(char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t in = 0, out = 0;
    while (in < n) {
        uint32_t cp;
        int l = utf8_decode(u + in, n - in, &cp);
        if (l < 0)
            return n;   /* not ours to repair: the caller refuses it */
        if (!utf8_is_hidden(cp)) {
            memmove(s + out, s + in, (size_t)l);
            out += (size_t)l;
        }
        in += (size_t)l;
    }
    s[out] = '\0';
    return out;
}
