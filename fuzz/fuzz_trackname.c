/*
 * fuzz_trackname.c - the names users give their uploads (media/trkname.h):
 * trk_name_for_upload(), which turns any requested name into a file name, and
 * trk_name_is_safe(), the check every track name passes.
 *
 * Input: byte 0 picks the extension, byte 1 the collision number n
 * (1..256), byte 2 the output capacity (a small one exercises the refusal
 * of names that do not fit); the rest is the requested name (cut at a NUL,
 * as it arrives through the query string).  Invariants: a name that comes
 * out is safe, fits in the capacity and TRK_NAME_MAX, ends in "." ext, and
 * carries " (n)" when n >= 2.
 */
#include <string.h>

#include "fuzz.h"
#include "media/trkname.h"

static const char *const exts[] = {"wav", "flac", "ogg", "opus", "mp3", "aiff", "w64", "x", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char req[4096];
    if (size < 3)
        return 0;
    const char *ext = exts[data[0] % (sizeof exts / sizeof exts[0])];
    int n = 1 + data[1];
    size_t cap = data[2] < 128 ? TRK_NAME_MAX + 1 : (size_t)(data[2] - 128);
    size_t len = size - 3 < sizeof req - 1 ? size - 3 : sizeof req - 1;
    memcpy(req, data + 3, len);
    req[len] = '\0';

    /* The check alone, on the raw text. */
    (void)trk_name_is_safe(req);

    char out[TRK_NAME_MAX + 1 + 64];
    memset(out, 0x5a, sizeof out);
    int rc = trk_name_for_upload(req, ext, n, out, cap ? cap : 1);
    if (rc != TRK_OK) {
        FZ_ASSERT(rc == TRK_ERR_ARG);
        return 0;
    }
    size_t olen = strlen(out);
    FZ_ASSERT(olen < cap && olen <= TRK_NAME_MAX);
    FZ_ASSERT(trk_name_is_safe(out));
    size_t el = strlen(ext);
    FZ_ASSERT(olen > el && out[olen - el - 1] == '.' && strcmp(out + olen - el, ext) == 0);
    if (n >= 2) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, " (%d).", n);
        FZ_ASSERT(strstr(out, suffix) != NULL);
    }
    return 0;
}
