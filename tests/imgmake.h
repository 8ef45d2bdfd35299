/*
 * imgmake.h - test images made with libpng's and libjpeg's own encoders
 * (not with media/image.c, the code under test): a picture with gradients,
 * edges and, for RGBA, changing transparency; header-only.
 */
#ifndef BB_TESTS_IMGMAKE_H
#define BB_TESTS_IMGMAKE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

/* A test picture: a gradient with a pattern, channels 3 or 4. */
static inline uint8_t *picture(uint32_t w, uint32_t h, uint32_t ch)
{
    uint8_t *px = malloc((size_t)w * h * ch);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * ch;
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = (uint8_t)((x / 8 + y / 8) % 2 ? 200 : 40);
            if (ch == 4)
                p[3] = (uint8_t)(x + y);
        }
    return px;
}

/* A PNG of the pixels, by libpng's simplified API. */
static inline uint8_t *make_png(const uint8_t *px, uint32_t w, uint32_t h, uint32_t ch, size_t *len)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = w;
    im.height = h;
    im.format = ch == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    png_alloc_size_t n = 0;
    png_image_write_to_memory(&im, NULL, &n, 0, px, 0, NULL);
    uint8_t *out = malloc(n);
    if (!png_image_write_to_memory(&im, out, &n, 0, px, 0, NULL)) {
        fprintf(stderr, "png_image_write_to_memory: %s\n", im.message);
        exit(2);
    }
    *len = n;
    return out;
}

/* A baseline JPEG of RGB pixels, by libjpeg. */
static inline uint8_t *make_jpeg(const uint8_t *px, uint32_t w, uint32_t h, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *buf = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < h) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = n;
    return buf;
}

/* Four quadrants of one colour each, w x h RGB: top left red, top right
 * green, bottom left blue, bottom right white; where a quadrant lands
 * shows how an image was turned. */
static inline uint8_t *quadrants(uint32_t w, uint32_t h)
{
    static const uint8_t c[4][3] = {{220, 20, 20}, {20, 200, 20}, {20, 20, 220}, {250, 250, 250}};
    uint8_t *px = malloc((size_t)w * h * 3);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            memcpy(px + ((size_t)y * w + x) * 3, c[(y >= h / 2) * 2 + (x >= w / 2)], 3);
    return px;
}

/* A baseline JPEG of RGB pixels whose APP1 holds an EXIF block of
 * `exif_len` bytes (written as given, "Exif\0\0" included). */
static inline uint8_t *make_jpeg_app1(const uint8_t *px, uint32_t w, uint32_t h, const uint8_t *exif,
                                      unsigned exif_len, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *buf = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    jpeg_write_marker(&c, JPEG_APP0 + 1, exif, exif_len);
    while (c.next_scanline < h) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = n;
    return buf;
}

/* An EXIF block with one tag, the orientation o, in big-endian ("MM") or
 * little-endian ("II") byte order: "Exif\0\0", the TIFF header, IFD0 of
 * one 12-byte entry, no next IFD; 32 bytes into out. */
static inline unsigned exif_orientation_block(uint8_t *out, int o, int little)
{
    static const uint8_t mm[32] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
                                   0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t ii[32] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
                                   0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(out, little ? ii : mm, 32);
    out[little ? 24 : 25] = (uint8_t)o;
    return 32;
}

#endif
