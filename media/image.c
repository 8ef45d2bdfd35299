/*
 * image.c - decoding a slide image whole and encoding it anew (image.h).
 *
 * The setjmp() discipline: png_decode_run(), jpeg_decode_run() and the two
 * encoders are the only functions that call setjmp(); each takes a pointer
 * to a state struct that lives in its caller's frame, changes no local of
 * its own after setjmp(), and on a jump only returns an error.  The caller
 * then frees what the struct holds (the libraries' objects, our buffers),
 * so a jump from any point of decoding leaks nothing and frees nothing
 * twice.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "image.h"

static const uint8_t PNG_SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

img_kind_t img_sniff(const uint8_t *in, size_t len)
{
    if (!in)
        return IMG_NONE;
    if (len >= 8 && memcmp(in, PNG_SIG, 8) == 0)
        return IMG_PNG;
    if (len >= 3 && in[0] == 0xff && in[1] == 0xd8 && in[2] == 0xff)
        return IMG_JPEG;
    return IMG_NONE;
}

static void set_detail(char *detail, size_t cap, const char *s)
{
    if (detail && cap)
        snprintf(detail, cap, "%s", s);
}

/* True if the dimensions are within the bounds (and not 0). */
static bool dims_ok(uint64_t w, uint64_t h)
{
    return w >= 1 && h >= 1 && w <= IMG_MAX_SIDE && h <= IMG_MAX_SIDE && w * h <= IMG_MAX_PIXELS;
}

void img_pixels_free(img_pixels_t *p)
{
    if (!p)
        return;
    free(p->px);
    memset(p, 0, sizeof *p);
}

void img_file_free(img_file_t *f)
{
    if (!f)
        return;
    free(f->data);
    memset(f, 0, sizeof *f);
}

/* ---- PNG ---------------------------------------------------------------- */

typedef struct {
    const uint8_t *in;
    size_t len, pos;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    img_pixels_t *out;
    char msg[160];
} png_dec_t;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_dec_t *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;   /* ancillary trouble: the chunk is dropped, as we drop them all */
}

static void png_read_mem(png_structp png, png_bytep buf, size_t n)
{
    png_dec_t *d = png_get_io_ptr(png);
    if (n > d->len - d->pos)
        png_error(png, "the file ends before the image does");
    memcpy(buf, d->in + d->pos, n);
    d->pos += n;
}

/* Width and height from the IHDR chunk, which a PNG must begin with. */
static bool png_peek_dims(const uint8_t *in, size_t len, uint32_t *w, uint32_t *h)
{
    if (len < 24 || memcmp(in + 12, "IHDR", 4) != 0)
        return false;
    *w = (uint32_t)in[16] << 24 | (uint32_t)in[17] << 16 | (uint32_t)in[18] << 8 | in[19];
    *h = (uint32_t)in[20] << 24 | (uint32_t)in[21] << 16 | (uint32_t)in[22] << 8 | in[23];
    return true;
}

/* The jumping part: returns IMG_OK or IMG_EDECODE (d->msg says why). */
static int png_decode_run(png_dec_t *d)
{
    if (setjmp(png_jmpbuf(d->png)))
        return IMG_EDECODE;
    png_set_read_fn(d->png, d, png_read_mem);
    png_set_user_limits(d->png, IMG_MAX_SIDE, IMG_MAX_SIDE);
    png_set_chunk_cache_max(d->png, 64);
    png_set_chunk_malloc_max(d->png, 1u << 20);
    png_read_info(d->png, d->info);
    png_uint_32 w = png_get_image_width(d->png, d->info), h = png_get_image_height(d->png, d->info);
    if (!dims_ok(w, h))
        png_error(d->png, "the image is larger than allowed");
    png_set_expand(d->png);          /* palette, low-bit grey, tRNS: 8-bit, alpha */
    png_set_scale_16(d->png);
    png_set_gray_to_rgb(d->png);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    uint32_t ch = png_get_channels(d->png, d->info);
    if ((ch != 3 && ch != 4) || png_get_rowbytes(d->png, d->info) != (size_t)w * ch)
        png_error(d->png, "an unexpected pixel layout");
    d->out->px = malloc((size_t)w * h * ch);
    d->rows = malloc(sizeof *d->rows * h);
    if (!d->out->px || !d->rows)
        png_error(d->png, "out of memory");
    for (uint32_t y = 0; y < h; y++)
        d->rows[y] = d->out->px + (size_t)y * w * ch;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL);      /* the chunks after the image, checked too */
    d->out->width = w;
    d->out->height = h;
    d->out->channels = ch;
    return IMG_OK;
}

static int png_decode(const uint8_t *in, size_t len, img_pixels_t *out, char *detail, size_t cap)
{
    uint32_t w, h;
    if (!png_peek_dims(in, len, &w, &h)) {
        set_detail(detail, cap, "no PNG header");
        return IMG_EDECODE;
    }
    if (!dims_ok(w, h)) {
        set_detail(detail, cap, "");
        return IMG_EDIMS;
    }
    png_dec_t d = {.in = in, .len = len, .out = out};
    d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, png_on_error, png_on_warning);
    if (!d.png || !(d.info = png_create_info_struct(d.png))) {
        png_destroy_read_struct(&d.png, NULL, NULL);
        return IMG_ENOMEM;
    }
    int rc = png_decode_run(&d);
    png_destroy_read_struct(&d.png, &d.info, NULL);
    free(d.rows);
    if (rc != IMG_OK) {
        set_detail(detail, cap, d.msg);
        img_pixels_free(out);
        return strcmp(d.msg, "out of memory") == 0 ? IMG_ENOMEM : rc;
    }
    out->kind = IMG_PNG;
    return IMG_OK;
}

typedef struct {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    const img_pixels_t *p;
    img_file_t *out;
    size_t cap;
    bool too_big;
} png_enc_t;

static void png_write_mem(png_structp png, png_bytep buf, size_t n)
{
    png_enc_t *e = png_get_io_ptr(png);
    if (n > IMG_OUT_MAX - e->out->len) {
        e->too_big = true;
        png_error(png, "too big");
    }
    if (e->out->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 64 * 1024;
        while (cap < e->out->len + n)
            cap *= 2;
        uint8_t *grown = realloc(e->out->data, cap);
        if (!grown)
            png_error(png, "out of memory");
        e->out->data = grown;
        e->cap = cap;
    }
    memcpy(e->out->data + e->out->len, buf, n);
    e->out->len += n;
}

static void png_flush_mem(png_structp png) { (void)png; }

static void png_enc_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static int png_encode_run(png_enc_t *e)
{
    if (setjmp(png_jmpbuf(e->png)))
        return e->too_big ? IMG_EOUT : IMG_ENOMEM;
    const img_pixels_t *p = e->p;
    png_set_write_fn(e->png, e, png_write_mem, png_flush_mem);
    png_set_IHDR(e->png, e->info, p->width, p->height, 8, p->channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    e->rows = malloc(sizeof *e->rows * p->height);
    if (!e->rows)
        png_error(e->png, "out of memory");
    for (uint32_t y = 0; y < p->height; y++)
        e->rows[y] = p->px + (size_t)y * p->width * p->channels;
    png_write_info(e->png, e->info);
    png_write_image(e->png, e->rows);
    png_write_end(e->png, NULL);
    return IMG_OK;
}

static int png_encode(const img_pixels_t *p, img_file_t *out)
{
    if (p->channels != 3 && p->channels != 4)
        return IMG_EARG;
    png_enc_t e = {.p = p, .out = out};
    e.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e, png_enc_error, png_on_warning);
    if (!e.png || !(e.info = png_create_info_struct(e.png))) {
        png_destroy_write_struct(&e.png, NULL);
        return IMG_ENOMEM;
    }
    int rc = png_encode_run(&e);
    png_destroy_write_struct(&e.png, &e.info);
    free(e.rows);
    if (rc != IMG_OK)
        img_file_free(out);
    return rc;
}

/* ---- JPEG --------------------------------------------------------------- */

/* libjpeg's error manager, with the jump target beside it. */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void jpeg_on_error(j_common_ptr c)
{
    jerr_t *e = (jerr_t *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

/* Level -1 is a warning: libjpeg would go on with grey for what it could
 * not read (a file cut short, corrupt data).  Such an image is refused. */
static void jpeg_on_message(j_common_ptr c, int level)
{
    if (level < 0)
        jpeg_on_error(c);
}

/* A progressive JPEG of very many scans costs decoding time far beyond
 * its size: stop it. */
static void jpeg_on_progress(j_common_ptr c)
{
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (c->is_decompressor && (unsigned)d->input_scan_number > IMG_JPEG_SCANS_MAX) {
        jerr_t *e = (jerr_t *)c->err;
        snprintf(e->msg, sizeof e->msg, "more than %u scans", IMG_JPEG_SCANS_MAX);
        longjmp(e->jump, 1);
    }
}

/* The EXIF orientation (1..8) of a JPEG's APP1 markers, or 1: the TIFF
 * header, IFD0, and its tag 0x0112, every offset checked against the
 * marker's length. */
static int exif_orientation(j_decompress_ptr c)
{
    for (jpeg_saved_marker_ptr m = c->marker_list; m; m = m->next) {
        const uint8_t *p = m->data;
        size_t n = m->data_length;
        if (m->marker != JPEG_APP0 + 1 || n < 14 || memcmp(p, "Exif\0\0", 6) != 0)
            continue;
        const uint8_t *t = p + 6;
        size_t tn = n - 6;
        bool le = t[0] == 'I' && t[1] == 'I';
        if (!le && !(t[0] == 'M' && t[1] == 'M'))
            return 1;
#define U16(q) (le ? (uint32_t)(q)[0] | (uint32_t)(q)[1] << 8 : (uint32_t)(q)[0] << 8 | (uint32_t)(q)[1])
#define U32(q) (le ? U16(q) | U16((q) + 2) << 16 : U16(q) << 16 | U16((q) + 2))
        if (U16(t + 2) != 42)
            return 1;
        uint32_t ifd = U32(t + 4);
        if (ifd > tn || tn - ifd < 2)
            return 1;
        uint32_t count = U16(t + ifd);
        for (uint32_t i = 0; i < count; i++) {
            size_t e = (size_t)ifd + 2 + (size_t)i * 12;
            if (e + 12 > tn)
                return 1;
            if (U16(t + e) == 0x0112 && U16(t + e + 2) == 3) {
                uint32_t v = U16(t + e + 8);
                return v >= 1 && v <= 8 ? (int)v : 1;
            }
        }
#undef U32
#undef U16
        return 1;
    }
    return 1;
}

/* Turns p to how its EXIF orientation says it is seen (2..8: flips and
 * quarter turns; 5..8 swap width and height), into a new buffer.
 * Returns IMG_OK or IMG_ENOMEM (p unchanged). */
static int orient(img_pixels_t *p, int o)
{
    if (o <= 1 || o > 8)
        return IMG_OK;
    uint32_t w = p->width, h = p->height, ch = p->channels;
    bool swap = o >= 5;
    uint32_t ow = swap ? h : w;
    uint8_t *out = malloc((size_t)w * h * ch);
    if (!out)
        return IMG_ENOMEM;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint32_t dx, dy;
            switch (o) {
            case 2: dx = w - 1 - x; dy = y; break;
            case 3: dx = w - 1 - x; dy = h - 1 - y; break;
            case 4: dx = x; dy = h - 1 - y; break;
            case 5: dx = y; dy = x; break;
            case 6: dx = h - 1 - y; dy = x; break;
            case 7: dx = h - 1 - y; dy = w - 1 - x; break;
            default: dx = y; dy = w - 1 - x; break;   /* 8 */
            }
            memcpy(out + ((size_t)dy * ow + dx) * ch, p->px + ((size_t)y * w + x) * ch, ch);
        }
    free(p->px);
    p->px = out;
    p->width = ow;
    p->height = swap ? w : h;
    return IMG_OK;
}

typedef struct {
    struct jpeg_decompress_struct c;
    struct jpeg_progress_mgr progress;
    int orientation;          /* EXIF, 1..8 */
    jerr_t err;
    img_pixels_t *out;
    bool dims;       /* refused for its dimensions */
    bool nomem;
} jpeg_dec_t;

static int jpeg_decode_run(jpeg_dec_t *d, const uint8_t *in, size_t len)
{
    if (setjmp(d->err.jump))
        return IMG_EDECODE;
    jpeg_create_decompress(&d->c);
    d->progress.progress_monitor = jpeg_on_progress;
    d->c.progress = &d->progress;
    jpeg_mem_src(&d->c, in, (unsigned long)len);
    /* The EXIF block, for its orientation alone: a phone's photo is stored
     * sideways and says how to turn it, which the new file cannot say. */
    jpeg_save_markers(&d->c, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&d->c, TRUE);
    d->orientation = exif_orientation(&d->c);
    /* Before anything is allocated for the pixels. */
    if (!dims_ok(d->c.image_width, d->c.image_height)) {
        d->dims = true;
        return IMG_EDIMS;
    }
    d->c.out_color_space = d->c.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&d->c);
    uint32_t w = d->c.output_width, h = d->c.output_height, ch = (uint32_t)d->c.output_components;
    if (!dims_ok(w, h) || (ch != 1 && ch != 3)) {
        d->dims = true;
        return IMG_EDIMS;
    }
    d->out->px = malloc((size_t)w * h * ch);
    if (!d->out->px) {
        d->nomem = true;
        return IMG_ENOMEM;
    }
    while (d->c.output_scanline < h) {
        JSAMPROW row = d->out->px + (size_t)d->c.output_scanline * w * ch;
        jpeg_read_scanlines(&d->c, &row, 1);
    }
    jpeg_finish_decompress(&d->c);
    d->out->width = w;
    d->out->height = h;
    d->out->channels = ch;
    return IMG_OK;
}

static int jpeg_decode(const uint8_t *in, size_t len, img_pixels_t *out, char *detail, size_t cap)
{
    jpeg_dec_t *d = calloc(1, sizeof *d);
    if (!d)
        return IMG_ENOMEM;
    d->out = out;
    d->c.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = jpeg_on_error;
    d->err.pub.emit_message = jpeg_on_message;
    int rc = jpeg_decode_run(d, in, len);
    jpeg_destroy_decompress(&d->c);
    if (rc == IMG_OK)
        rc = orient(out, d->orientation);
    if (rc != IMG_OK) {
        set_detail(detail, cap, rc == IMG_EDECODE ? d->err.msg : "");
        img_pixels_free(out);
    } else {
        out->kind = IMG_JPEG;
    }
    free(d);
    return rc;
}

typedef struct {
    struct jpeg_compress_struct c;
    jerr_t err;
    unsigned char *buf;
    unsigned long len;
} jpeg_enc_t;

static int jpeg_encode_run(jpeg_enc_t *e, const img_pixels_t *p)
{
    if (setjmp(e->err.jump))
        return IMG_ENOMEM;
    jpeg_create_compress(&e->c);
    jpeg_mem_dest(&e->c, &e->buf, &e->len);
    e->c.image_width = p->width;
    e->c.image_height = p->height;
    e->c.input_components = (int)p->channels;
    e->c.in_color_space = p->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&e->c);
    jpeg_set_quality(&e->c, IMG_JPEG_QUALITY, TRUE);
    /* Full-resolution colour (4:4:4): a slide's coloured text stays sharp,
     * and a second pass over an already subsampled photo loses no more. */
    for (int i = 0; i < e->c.num_components; i++)
        e->c.comp_info[i].h_samp_factor = e->c.comp_info[i].v_samp_factor = 1;
    e->c.optimize_coding = TRUE;
    jpeg_start_compress(&e->c, TRUE);
    while (e->c.next_scanline < p->height) {
        JSAMPROW row = p->px + (size_t)e->c.next_scanline * p->width * p->channels;
        jpeg_write_scanlines(&e->c, &row, 1);
    }
    jpeg_finish_compress(&e->c);
    return IMG_OK;
}

static int jpeg_encode(const img_pixels_t *p, img_file_t *out)
{
    if (p->channels != 1 && p->channels != 3)
        return IMG_EARG;
    jpeg_enc_t *e = calloc(1, sizeof *e);
    if (!e)
        return IMG_ENOMEM;
    e->c.err = jpeg_std_error(&e->err.pub);
    e->err.pub.error_exit = jpeg_on_error;
    int rc = jpeg_encode_run(e, p);
    jpeg_destroy_compress(&e->c);
    if (rc == IMG_OK && e->len > IMG_OUT_MAX)
        rc = IMG_EOUT;
    if (rc == IMG_OK) {
        out->data = e->buf;
        out->len = e->len;
    } else {
        free(e->buf);
    }
    free(e);
    return rc;
}

/* ---- the API ------------------------------------------------------------ */

int img_decode(const uint8_t *in, size_t len, img_pixels_t *out, char *detail, size_t cap)
{
    set_detail(detail, cap, "");
    if (!out)
        return IMG_EARG;
    memset(out, 0, sizeof *out);
    if (!in || len == 0)
        return IMG_EEMPTY;
    if (len > IMG_MAX_BYTES)
        return IMG_ETOOBIG;
    switch (img_sniff(in, len)) {
    case IMG_PNG: return png_decode(in, len, out, detail, cap);
    case IMG_JPEG: return jpeg_decode(in, len, out, detail, cap);
    default: return IMG_ETYPE;
    }
}

int img_sanitize(const uint8_t *in, size_t len, img_file_t *out, char *detail, size_t cap)
{
    if (!out)
        return IMG_EARG;
    memset(out, 0, sizeof *out);
    img_pixels_t p;
    int rc = img_decode(in, len, &p, detail, cap);
    if (rc != IMG_OK)
        return rc;
    rc = p.kind == IMG_PNG ? png_encode(&p, out) : jpeg_encode(&p, out);
    if (rc == IMG_OK) {
        out->kind = p.kind;
        out->width = p.width;
        out->height = p.height;
    }
    img_pixels_free(&p);
    return rc;
}

const char *img_content_type(img_kind_t kind)
{
    return kind == IMG_PNG ? "image/png" : kind == IMG_JPEG ? "image/jpeg" : NULL;
}

const char *img_extension(img_kind_t kind)
{
    return kind == IMG_PNG ? "png" : kind == IMG_JPEG ? "jpg" : NULL;
}

const char *img_strerror(int code)
{
    switch (code) {
    case IMG_OK: return "no error";
    case IMG_EEMPTY: return "the image is empty";
    case IMG_ETOOBIG: return "the image file is larger than 4 MiB";
    case IMG_ETYPE: return "the file is not a PNG or JPEG image";
    case IMG_EDIMS: return "the image is larger than 4096 pixels a side or 16 megapixels";
    case IMG_EDECODE: return "the image is broken or cut short";
    case IMG_EOUT: return "the image is too detailed to store (more than 8 MiB once re-encoded)";
    case IMG_ENOMEM: return "the server ran out of memory for the image";
    case IMG_EARG: return "invalid argument";
    default: return "unknown image error";
    }
}
