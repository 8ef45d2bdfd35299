/* trkname: the rules for track names (see trkname.h).
 *
 * Every name is checked as UTF-8 with common/utf8.h; a name is refused or
 * repaired for the same characters (utf8_is_hidden()), so whatever
 * trk_name_for_upload() makes passes trk_name_is_safe().
 */
#include "trkname.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

int trk_name_is_safe(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t len, i = 0;

    if (name == NULL)
        return 0;
    len = strlen(name);
    if (len == 0 || len > TRK_NAME_MAX || name[0] == '.')
        return 0;
    while (i < len) {
        uint32_t cp;
        int n = utf8_decode(s + i, len - i, &cp);
        if (n < 0 || cp == '/' || utf8_is_hidden(cp))
            return 0;
        i += (size_t)n;
    }
    return 1;
}

void trk_name_for_log(const char *name, char *out, size_t cap)
{
    size_t o = 0;

    for (; *name != '\0' && o + 5 < cap; name++) {
        unsigned char c = (unsigned char)*name;
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

static int is_ext_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9');
}

int trk_name_is_ext(const char *ext)
{
    size_t i;

    if (ext == NULL)
        return 0;
    for (i = 0; ext[i] != '\0'; i++)
        if (i >= 8 || !is_ext_char(ext[i]))
            return 0;
    return i > 0;
}

static void trim_trailing(char *s)
{
    size_t len = strlen(s);

    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '.'))
        s[--len] = '\0';
}

int trk_name_for_upload(const char *requested, const char *ext, int n, char *out,
                        size_t cap)
{
    char base[4 * TRK_NAME_MAX + 8];
    char suffix[16] = "";
    const char *start, *end, *p;
    size_t o = 0, ext_len, room;
    int w;

    if (!trk_name_is_ext(ext) || out == NULL || n < 1 || n > 999)
        return TRK_ERR_ARG;
    ext_len = strlen(ext);
    if (requested == NULL)
        requested = "";

    /* Last path component: browsers may send "C:\fakepath\song.mp3". */
    start = requested;
    for (p = requested; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            start = p + 1;
    end = start + strlen(start);
    /* Drop the user's own extension: ours follows the detected format. */
    p = strrchr(start, '.');
    if (p != NULL && p > start && end - p >= 2 && end - p <= 6) {
        const char *q;
        for (q = p + 1; q < end && is_ext_char(*q); q++)
            ;
        if (q == end)
            end = p;
    }

    /* Leave room for one more character (4 bytes), the "track " prefix a
     * README-like name gets below (6) and the NUL. */
    for (p = start; p < end && o < sizeof base - 12;) {
        uint32_t cp;
        int len = utf8_decode((const unsigned char *)p, (size_t)(end - p), &cp);
        if (len < 0) {
            base[o++] = '_';
            p++;
            continue;
        }
        if (cp == ' ' || cp == '\t') {
            if (o > 0 && base[o - 1] != ' ')
                base[o++] = ' ';
        } else if (utf8_is_hidden(cp) || strchr("/\\:*?\"<>|", (int)cp) != NULL) {
            base[o++] = '_';
        } else {
            memcpy(base + o, p, (size_t)len);
            o += (size_t)len;
        }
        p += len;
    }
    base[o] = '\0';

    /* Leading spaces, dots (hidden files) and '-' (option-like names). */
    for (p = base; *p == ' ' || *p == '.' || *p == '-'; p++)
        ;
    memmove(base, p, strlen(p) + 1);
    trim_trailing(base);
    if (strncasecmp(base, "readme", 6) == 0) {
        memmove(base + 6, base, strlen(base) + 1);
        memcpy(base, "track ", 6);
    }
    if (base[0] == '\0')
        strcpy(base, "upload");

    if (n >= 2)
        snprintf(suffix, sizeof suffix, " (%d)", n);
    room = TRK_NAME_MAX - strlen(suffix) - 1 - ext_len;
    base[utf8_cut(base, strlen(base), room)] = '\0';
    trim_trailing(base);
    if (base[0] == '\0')
        strcpy(base, "upload");

    w = snprintf(out, cap, "%s%s.%s", base, suffix, ext);
    if (w < 0 || (size_t)w >= cap)
        return TRK_ERR_ARG;
    return trk_name_is_safe(out) ? TRK_OK : TRK_ERR_ARG;
}
