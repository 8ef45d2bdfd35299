/*
 * fuzz_image.c - an uploaded slide image (media/image.h): img_sanitize(),
 * the decode of a PNG or JPEG whole under its bounds and its encoding
 * anew.
 *
 * Input: the file.  Invariants: a refusal leaves no output; an image that
 * passes comes out of the kind it went in as, within the bounds
 * (IMG_MAX_SIDE, IMG_MAX_PIXELS, IMG_OUT_MAX), and decodes again to its
 * own dimensions; a PNG's pixels come back exactly (lossless).
 */
#include <string.h>

#include "fuzz.h"
#include "media/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    img_file_t f;
    char detail[256];
    int rc = img_sanitize(data, size, &f, detail, sizeof detail);
    if (rc != IMG_OK) {
        FZ_ASSERT(f.data == NULL && f.len == 0);
        FZ_ASSERT(img_strerror(rc)[0] != '\0');
        return 0;
    }
    FZ_ASSERT(f.kind == img_sniff(data, size));
    FZ_ASSERT(f.width >= 1 && f.height >= 1 && f.width <= IMG_MAX_SIDE && f.height <= IMG_MAX_SIDE);
    FZ_ASSERT((uint64_t)f.width * f.height <= IMG_MAX_PIXELS);
    FZ_ASSERT(f.len > 0 && f.len <= IMG_OUT_MAX);
    img_pixels_t again;
    FZ_ASSERT(img_decode(f.data, f.len, &again, NULL, 0) == IMG_OK);
    FZ_ASSERT(again.kind == f.kind && again.width == f.width && again.height == f.height);
    if (f.kind == IMG_PNG) {
        img_pixels_t first;
        FZ_ASSERT(img_decode(data, size, &first, NULL, 0) == IMG_OK);
        FZ_ASSERT(first.channels == again.channels);
        FZ_ASSERT(memcmp(first.px, again.px, (size_t)first.width * first.height * first.channels) == 0);
        img_pixels_free(&first);
    }
    img_pixels_free(&again);
    img_file_free(&f);
    return 0;
}
