/*
 * image.h - checking an uploaded slide image by decoding it whole, and
 * re-encoding it, so that what anyone is served was made here.
 *
 * A slide arrives as PNG or JPEG bytes from a room's organiser or leader.
 * Its first bytes say which it claims to be; that claim is only where
 * checking starts: the image is decoded completely (libpng, libjpeg-turbo)
 * into 8-bit pixels, and a new file of the same kind is encoded from those
 * pixels alone.  Nothing of the upload but its pixels survives: no
 * ancillary chunks, no EXIF or comments, no bytes after the image.  A
 * JPEG's EXIF orientation is read first and applied to the pixels (a
 * phone's photo is stored sideways), so the new file shows it upright
 * without saying so.  A PNG
 * stays a lossless PNG (RGB, or RGBA when it had transparency); a JPEG
 * stays a JPEG (quality IMG_JPEG_QUALITY, grey or RGB), because a photo
 * re-encoded as PNG grows several times over.
 *
 * Bounds, all checked before the pixels are allocated: IMG_MAX_BYTES of
 * input, IMG_MAX_SIDE pixels a side and IMG_MAX_PIXELS in all (read from
 * the header, so a small file that claims a huge image costs nothing),
 * IMG_JPEG_SCANS_MAX scans of a progressive JPEG, and IMG_OUT_MAX bytes of
 * output.  libpng keeps its own user limits at the same side, so a header
 * our peek missed is still refused inside the decoder.  Any warning of
 * libjpeg (a JPEG cut short, corrupt data it would paint over in grey) and
 * any error of libpng (a bad CRC in a critical chunk, image data that ends
 * early) refuses the image.
 *
 * Both libraries report errors by longjmp(): every jump lands in the
 * function that called setjmp(), whose own locals are not changed after
 * it; everything that must be freed lives in a state struct the caller
 * owns, so one clean-up path frees it whichever way decoding ended.
 *
 * No globals, no I/O, nothing printed: safe from any thread.
 */
#ifndef BB_MEDIA_IMAGE_H
#define BB_MEDIA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMG_MAX_BYTES ((size_t)4 << 20)      /* an upload */
#define IMG_MAX_SIDE 4096u                   /* pixels, width and height */
#define IMG_MAX_PIXELS (16u * 1000 * 1000)   /* width x height */
#define IMG_OUT_MAX ((size_t)8 << 20)        /* a re-encoded image */
#define IMG_JPEG_SCANS_MAX 100u              /* a progressive JPEG's scans */
#define IMG_JPEG_QUALITY 90

/* Error codes: 0 for success, negative values below. */
enum {
    IMG_OK = 0,
    IMG_EEMPTY = -1,     /* no bytes */
    IMG_ETOOBIG = -2,    /* more than IMG_MAX_BYTES */
    IMG_ETYPE = -3,      /* neither PNG nor JPEG */
    IMG_EDIMS = -4,      /* wider, taller or more pixels than allowed, or 0 */
    IMG_EDECODE = -5,    /* the decoder refused it (broken, cut short) */
    IMG_EOUT = -6,       /* re-encoded, more than IMG_OUT_MAX */
    IMG_ENOMEM = -7,     /* out of memory */
    IMG_EARG = -8,       /* a NULL argument */
};

typedef enum { IMG_NONE = 0, IMG_PNG = 1, IMG_JPEG = 2 } img_kind_t;

/* Decoded pixels: rows top to bottom, `channels` bytes a pixel (1 grey,
 * 3 RGB, 4 RGBA), no padding. */
typedef struct {
    img_kind_t kind;          /* what they were decoded from */
    uint32_t width, height;
    uint32_t channels;
    uint8_t *px;              /* width * height * channels bytes, malloc'd */
} img_pixels_t;

/* An encoded image, made here. */
typedef struct {
    img_kind_t kind;
    uint32_t width, height;
    uint8_t *data;            /* len bytes, malloc'd */
    size_t len;
} img_file_t;

/* The kind the first bytes claim (a claim only), or IMG_NONE. */
img_kind_t img_sniff(const uint8_t *in, size_t len);

/* Decodes in (len bytes) completely into *out, within the bounds above,
 * a JPEG turned upright by its EXIF orientation.
 * Returns IMG_OK, or an error code and *out empty; `detail` (cap bytes,
 * may be NULL) gets the decoder's own words, or "". */
int img_decode(const uint8_t *in, size_t len, img_pixels_t *out, char *detail, size_t cap);

/* Decodes in and encodes its pixels anew into *out (the kind of the
 * input).  Returns IMG_OK, or an error code (img_decode()'s, IMG_EOUT,
 * IMG_ENOMEM) and *out empty. */
int img_sanitize(const uint8_t *in, size_t len, img_file_t *out, char *detail, size_t cap);

/* Frees what the struct holds and empties it; accepts NULL. */
void img_pixels_free(img_pixels_t *p);
void img_file_free(img_file_t *f);

/* "image/png", "image/jpeg", or NULL for IMG_NONE. */
const char *img_content_type(img_kind_t kind);

/* "png", "jpg", or NULL for IMG_NONE: a stored slide's extension. */
const char *img_extension(img_kind_t kind);

/* A sentence for an error code. */
const char *img_strerror(int code);

#endif
