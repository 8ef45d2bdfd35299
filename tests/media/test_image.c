/* test_image.c - the slide image check (media/image.h): every kind of
 * malformed upload refused with its own code (empty, too many bytes, not an
 * image, dimensions over each bound in the header, a bad CRC, a PNG and a
 * JPEG cut short, a JPEG whose header claims a decompression bomb), and
 * good images re-encoded: a PNG's pixels come back exactly, a JPEG's
 * within what one more JPEG pass costs, and nothing but the pixels
 * survives (bytes appended to the upload are gone); a JPEG's EXIF
 * orientation turns its pixels upright, each of the eight.  The inputs are made
 * here with libpng's and libjpeg's own encoders, not with ours. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "imgmake.h"
#include "media/image.h"

static check_t ck;

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A copy of a PNG whose IHDR says w x h, with its CRC made right again:
 * only the dimensions are wrong. */
static uint8_t *png_with_dims(const uint8_t *png, size_t len, uint32_t w, uint32_t h)
{
    uint8_t *p = malloc(len);
    memcpy(p, png, len);
    put_be32(p + 16, w);
    put_be32(p + 20, h);
    put_be32(p + 29, crc32_of(p + 12, 17));   /* "IHDR" and its 13 bytes */
    return p;
}

/* The offset of the first chunk of this type, or 0. */
static size_t png_chunk(const uint8_t *p, size_t len, const char *type)
{
    for (size_t off = 8; off + 12 <= len;) {
        uint32_t n = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | (uint32_t)p[off + 2] << 8 | p[off + 3];
        if (memcmp(p + off + 4, type, 4) == 0)
            return off;
        off += 12 + n;
    }
    return 0;
}

/* A copy of a JPEG whose SOF header says w x h. */
static uint8_t *jpeg_with_dims(const uint8_t *jpg, size_t len, uint32_t w, uint32_t h)
{
    uint8_t *p = malloc(len);
    memcpy(p, jpg, len);
    for (size_t i = 2; i + 9 < len; i++)
        if (p[i] == 0xff && (p[i + 1] == 0xc0 || p[i + 1] == 0xc2)) {
            p[i + 5] = (uint8_t)(h >> 8);
            p[i + 6] = (uint8_t)h;
            p[i + 7] = (uint8_t)(w >> 8);
            p[i + 8] = (uint8_t)w;
            return p;
        }
    fprintf(stderr, "no SOF marker\n");
    exit(2);
}

static int sanitize(const uint8_t *in, size_t len)
{
    img_file_t f;
    char detail[256];
    int rc = img_sanitize(in, len, &f, detail, sizeof detail);
    if (rc != IMG_OK) {
        CHECK(ck, f.data == NULL && f.len == 0);
        CHECK(ck, img_strerror(rc)[0] != '\0');
    }
    img_file_free(&f);
    return rc;
}

static void test_refusals(void)
{
    const uint32_t w = 64, h = 48;
    uint8_t *px = picture(w, h, 3);
    size_t plen, jlen;
    uint8_t *png = make_png(px, w, h, 3, &plen);
    uint8_t *jpg = make_jpeg(px, w, h, &jlen);

    CHECK_EQ_I(ck, sanitize(png, 0), IMG_EEMPTY);
    CHECK_EQ_I(ck, sanitize(NULL, 10), IMG_EEMPTY);
    uint8_t *huge = calloc(1, IMG_MAX_BYTES + 1);
    memcpy(huge, png, plen);
    CHECK_EQ_I(ck, sanitize(huge, IMG_MAX_BYTES + 1), IMG_ETOOBIG);
    free(huge);
    CHECK_EQ_I(ck, sanitize((const uint8_t *)"GIF89a\x01\x00\x01\x00", 10), IMG_ETYPE);
    CHECK_EQ_I(ck, sanitize((const uint8_t *)"Amazing grace", 13), IMG_ETYPE);
    /* Only the signature of a PNG, or of a JPEG. */
    CHECK_EQ_I(ck, sanitize(png, 8), IMG_EDECODE);
    CHECK_EQ_I(ck, sanitize(jpg, 3), IMG_EDECODE);

    /* Dimensions over each bound, in a header that is otherwise right. */
    uint32_t dims[][2] = {{IMG_MAX_SIDE + 1, 10}, {10, IMG_MAX_SIDE + 1}, {4096, 4096}, {0, 10},
                          {100000, 100000}, {0x7fffffff, 0x7fffffff}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        uint8_t *bad = png_with_dims(png, plen, dims[i][0], dims[i][1]);
        CHECK_MSG(ck, sanitize(bad, plen) == IMG_EDIMS, "PNG %ux%u", dims[i][0], dims[i][1]);
        free(bad);
    }
    /* The decompression bomb: a small JPEG whose header claims 60000 x
     * 60000 (3.6 gigapixels), and one just over the pixel count. */
    uint32_t jdims[][2] = {{60000, 60000}, {4000, 4001}, {4097, 8}};
    for (size_t i = 0; i < sizeof jdims / sizeof jdims[0]; i++) {
        uint8_t *bad = jpeg_with_dims(jpg, jlen, jdims[i][0], jdims[i][1]);
        CHECK_MSG(ck, sanitize(bad, jlen) == IMG_EDIMS, "JPEG %ux%u", jdims[i][0], jdims[i][1]);
        free(bad);
    }

    /* A bad CRC in the image data, and in the header. */
    size_t idat = png_chunk(png, plen, "IDAT");
    CHECK(ck, idat > 0);
    uint8_t *bad = malloc(plen);
    memcpy(bad, png, plen);
    bad[idat + 8] ^= 0x01;
    CHECK_EQ_I(ck, sanitize(bad, plen), IMG_EDECODE);
    memcpy(bad, png, plen);
    bad[29] ^= 0x55;
    CHECK_EQ_I(ck, sanitize(bad, plen), IMG_EDECODE);
    /* Cut short: in the image data, before the end chunk. */
    CHECK_EQ_I(ck, sanitize(png, idat + 20), IMG_EDECODE);
    CHECK_EQ_I(ck, sanitize(png, plen - 12), IMG_EDECODE);
    free(bad);
    /* A JPEG cut short, and one cut just before its end marker. */
    CHECK_EQ_I(ck, sanitize(jpg, jlen / 2), IMG_EDECODE);
    CHECK_EQ_I(ck, sanitize(jpg, jlen - 2), IMG_EDECODE);
    /* A JPEG's bytes under a PNG's signature. */
    uint8_t *mixed = malloc(jlen + 8);
    memcpy(mixed, png, 8);
    memcpy(mixed + 8, jpg, jlen);
    CHECK_EQ_I(ck, sanitize(mixed, jlen + 8), IMG_EDECODE);
    free(mixed);

    free(png);
    free(jpg);
    free(px);
}

/* A PNG's pixels survive exactly; bytes after its end do not. */
static void test_png_roundtrip(uint32_t ch)
{
    const uint32_t w = 97, h = 61;
    uint8_t *px = picture(w, h, ch);
    size_t plen;
    uint8_t *png = make_png(px, w, h, ch, &plen);
    uint8_t *in = malloc(plen + 32);
    memcpy(in, png, plen);
    memcpy(in + plen, "<script>alert(1)</script>......", 32);
    img_file_t f;
    char detail[256];
    CHECK_EQ_I(ck, img_sanitize(in, plen + 32, &f, detail, sizeof detail), IMG_OK);
    CHECK_EQ_I(ck, f.kind, IMG_PNG);
    CHECK(ck, f.width == w && f.height == h);
    CHECK(ck, f.len > 8 && memmem(f.data, f.len, "script", 6) == NULL);
    img_pixels_t p;
    CHECK_EQ_I(ck, img_decode(f.data, f.len, &p, detail, sizeof detail), IMG_OK);
    CHECK(ck, p.width == w && p.height == h && p.channels == ch);
    CHECK(ck, p.px && memcmp(p.px, px, (size_t)w * h * ch) == 0);
    img_pixels_free(&p);
    img_file_free(&f);
    free(in);
    free(png);
    free(px);
}

/* A JPEG stays a JPEG, its pixels within one more pass of quality 90. */
static void test_jpeg_roundtrip(void)
{
    const uint32_t w = 120, h = 80;
    uint8_t *px = picture(w, h, 3);
    size_t jlen;
    uint8_t *jpg = make_jpeg(px, w, h, &jlen);
    img_pixels_t before, after;
    img_file_t f;
    char detail[256];
    CHECK_EQ_I(ck, img_decode(jpg, jlen, &before, detail, sizeof detail), IMG_OK);
    CHECK_EQ_I(ck, img_sanitize(jpg, jlen, &f, detail, sizeof detail), IMG_OK);
    CHECK_EQ_I(ck, f.kind, IMG_JPEG);
    CHECK_EQ_I(ck, img_decode(f.data, f.len, &after, detail, sizeof detail), IMG_OK);
    CHECK(ck, after.width == w && after.height == h && after.channels == 3);
    /* The peak signal-to-noise ratio of the second pass against the
     * first: 35 dB and more is a copy no eye tells apart. */
    double se = 0;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        double d = (double)before.px[i] - (double)after.px[i];
        se += d * d;
    }
    double psnr = 10 * log10(255.0 * 255.0 / (se / ((double)w * h * 3) + 1e-9));
    CHECK_MSG(ck, psnr >= 35.0, "PSNR %.1f dB", psnr);
    printf("test_image: a JPEG re-encoded at quality %d: PSNR %.1f dB\n", IMG_JPEG_QUALITY, psnr);
    img_pixels_free(&before);
    img_pixels_free(&after);
    img_file_free(&f);
    free(jpg);
    free(px);
}

/* The colour of pixel (x, y), as the nearest of the four quadrants'
 * (0 red, 1 green, 2 blue, 3 white): JPEG moves colours a little. */
static int quadrant_at(const img_pixels_t *p, uint32_t x, uint32_t y)
{
    const uint8_t *c = p->px + ((size_t)y * p->width + x) * p->channels;
    if (c[0] > 200 && c[1] > 200)
        return 3;
    return c[0] > 150 ? 0 : c[1] > 150 ? 1 : c[2] > 150 ? 2 : -1;
}

/* A JPEG's EXIF orientation turns its pixels upright; the new file has
 * no EXIF and is upright by itself.  A broken EXIF block turns nothing. */
static void test_orientation(void)
{
    const uint32_t w = 64, h = 32;
    uint8_t *px = quadrants(w, h);
    /* Orientation, byte order, and the quadrants then seen at the top
     * left and the bottom right. */
    const struct { int o, little, tl, br; } cases[] = {
        {1, 0, 0, 3}, {2, 0, 1, 2}, {3, 1, 3, 0}, {4, 0, 2, 1}, {5, 1, 0, 3}, {6, 0, 2, 1}, {7, 1, 3, 0}, {8, 1, 1, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t exif[32];
        unsigned n = exif_orientation_block(exif, cases[i].o, cases[i].little);
        size_t jlen;
        uint8_t *jpg = make_jpeg_app1(px, w, h, exif, n, &jlen);
        img_file_t f;
        img_pixels_t p;
        CHECK_EQ_I(ck, img_sanitize(jpg, jlen, &f, NULL, 0), IMG_OK);
        CHECK(ck, memmem(f.data, f.len, "Exif", 4) == NULL);
        CHECK_EQ_I(ck, img_decode(f.data, f.len, &p, NULL, 0), IMG_OK);
        bool swap = cases[i].o >= 5;
        CHECK_MSG(ck, p.width == (swap ? h : w) && p.height == (swap ? w : h), "orientation %d: %ux%u", cases[i].o,
                  p.width, p.height);
        int tl = quadrant_at(&p, 4, 4), br = quadrant_at(&p, p.width - 5, p.height - 5);
        CHECK_MSG(ck, tl == cases[i].tl && br == cases[i].br, "orientation %d: top left %d, bottom right %d",
                  cases[i].o, tl, br);
        img_pixels_free(&p);
        img_file_free(&f);
        free(jpg);
    }
    /* Broken EXIF: an IFD past the end, an IFD of no entries, a bad byte
     * order, an orientation of 9, another tag: decoded as stored. */
    uint8_t bad[32];
    unsigned n = exif_orientation_block(bad, 6, 0);
    const struct { size_t at; uint8_t v; } breaks[] = {{13, 200}, {15, 0}, {6, 'X'}, {25, 9}, {16, 0x02}};
    for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
        uint8_t e[32];
        memcpy(e, bad, n);
        e[breaks[i].at] = breaks[i].v;
        size_t jlen;
        uint8_t *jpg = make_jpeg_app1(px, w, h, e, n, &jlen);
        img_pixels_t p;
        CHECK_EQ_I(ck, img_decode(jpg, jlen, &p, NULL, 0), IMG_OK);
        CHECK_MSG(ck, p.width == w && p.height == h && quadrant_at(&p, 4, 4) == 0, "break %zu", i);
        img_pixels_free(&p);
        free(jpg);
    }
    free(px);
}

/* The largest image allowed passes. */
static void test_at_bounds(void)
{
    const uint32_t w = IMG_MAX_SIDE, h = 8;
    uint8_t *px = picture(w, h, 3);
    size_t plen;
    uint8_t *png = make_png(px, w, h, 3, &plen);
    CHECK_EQ_I(ck, sanitize(png, plen), IMG_OK);
    free(png);
    free(px);
    CHECK_EQ_S(ck, img_content_type(IMG_PNG), "image/png");
    CHECK_EQ_S(ck, img_extension(IMG_JPEG), "jpg");
    CHECK(ck, img_content_type(IMG_NONE) == NULL);
}

int main(void)
{
    test_refusals();
    test_png_roundtrip(3);
    test_png_roundtrip(4);
    test_jpeg_roundtrip();
    test_orientation();
    test_at_bounds();
    return check_done(&ck, "test_image");
}
