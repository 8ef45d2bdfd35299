/*
 * test_slides.c - a room's slide store (fcgi/slides.h) over a real
 * directory.
 *
 * Each malformed upload (empty, not an image, a PNG with a bad CRC, a PNG
 * and a JPEG cut short, a JPEG whose header claims a decompression bomb,
 * a file over 4 MiB) gets a 4xx and a JSON sentence, and the room's
 * folder is byte for byte what it was.  A good PNG is stored as a PNG
 * made here (appended bytes gone) whose pixels are the upload's; a JPEG
 * under the same number replaces it; numbers are bounded, the 33rd slide
 * is refused with 507; the listing, reading back and deleting agree; rooms
 * do not see each other's slides.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "imgmake.h"
#include "slides.h"

static check_t ck;
static char g_dir[128];

/* The room's folder as one string: names, sizes and contents' sums. */
static void snapshot(const char *room, char *out, size_t cap)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/rooms/%s/slides", g_dir, room);
    out[0] = '\0';
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        unsigned long sum = 0;
        long n = 0;
        for (int ch; f && (ch = fgetc(f)) != EOF; n++)
            sum = sum * 31 + (unsigned)ch;
        if (f)
            fclose(f);
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s:%ld:%lx;", e->d_name, n, sum);
    }
    if (d)
        closedir(d);
}

/* Whether the answer is a JSON object with an "error" sentence. */
static bool is_error(const sl_answer_t *a)
{
    return strncmp(a->body, "{\"error\":\"", 10) == 0 && strlen(a->body) > 20;
}

static void refused(sl_t *s, const uint8_t *in, size_t len, int status, const char *what)
{
    char before[4096], after[4096];
    snapshot("r1", before, sizeof before);
    sl_answer_t a;
    sl_put(s, "r1", 0, in, len, "organiser", &a);
    CHECK_MSG(ck, a.status == status, "%s: status %d, not %d (%s)", what, a.status, status, a.body);
    CHECK_MSG(ck, is_error(&a), "%s: %s", what, a.body);
    snapshot("r1", after, sizeof after);
    CHECK_MSG(ck, strcmp(before, after) == 0, "%s changed the folder", what);
}

static void test_refusals(sl_t *s)
{
    uint8_t *px = picture(80, 60, 3);
    size_t plen, jlen;
    uint8_t *png = make_png(px, 80, 60, 3, &plen);
    uint8_t *jpg = make_jpeg(px, 80, 60, &jlen);
    sl_answer_t a;
    /* One slide there already, so that "nothing changed" is about it. */
    sl_put(s, "r1", 1, png, plen, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 200);

    refused(s, png, 0, 400, "empty");
    refused(s, (const uint8_t *)"GIF89a\x10\x00\x10\x00", 10, 415, "a GIF");
    refused(s, (const uint8_t *)"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", 40, 415, "an SVG");
    uint8_t *bad = malloc(plen);
    memcpy(bad, png, plen);
    bad[plen - 20] ^= 0x40;   /* inside the image data or its CRC */
    refused(s, bad, plen, 415, "a PNG with a bad CRC");
    free(bad);
    refused(s, png, plen / 2, 415, "a PNG cut short");
    refused(s, jpg, jlen * 2 / 3, 415, "a JPEG cut short");
    bad = malloc(jlen);
    memcpy(bad, jpg, jlen);
    for (size_t i = 2; i + 9 < jlen; i++)
        if (bad[i] == 0xff && bad[i + 1] == 0xc0) {
            bad[i + 5] = bad[i + 7] = 0xea;   /* 60000 x 60000 */
            bad[i + 6] = bad[i + 8] = 0x60;
            break;
        }
    refused(s, bad, jlen, 413, "a JPEG claiming 60000x60000");
    free(bad);
    uint8_t *huge = calloc(1, IMG_MAX_BYTES + 1);
    memcpy(huge, png, plen);
    refused(s, huge, IMG_MAX_BYTES + 1, 413, "over 4 MiB");
    free(huge);
    /* Numbers out of range. */
    sl_put(s, "r1", SL_MAX + 1, png, plen, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 400);
    sl_put(s, "r1", -1, png, plen, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 400);
    sl_delete(s, "r1", 7, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 404);
    sl_delete(s, "r1", 1, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 200);
    free(png);
    free(jpg);
    free(px);
}

static void test_store(sl_t *s)
{
    const uint32_t w = 50, h = 40;
    uint8_t *px = picture(w, h, 4);
    size_t plen, jlen;
    uint8_t *png = make_png(px, w, h, 4, &plen);
    uint8_t *in = malloc(plen + 16);
    memcpy(in, png, plen);
    memcpy(in + plen, "TRAILING-PAYLOAD", 16);
    sl_answer_t a;
    sl_put(s, "r2", 0, in, plen + 16, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 200);
    CHECK_MSG(ck, strstr(a.body, "\"slide\":1,\"type\":\"png\",\"width\":50,\"height\":40") != NULL, "%s", a.body);
    /* Read back: a PNG whose pixels are the upload's, without the tail. */
    uint8_t *buf = malloc(IMG_OUT_MAX);
    sl_file_t f;
    CHECK_EQ_I(ck, sl_read(s, "r2", 1, buf, IMG_OUT_MAX, &f), 0);
    CHECK_EQ_I(ck, f.kind, IMG_PNG);
    CHECK(ck, memmem(buf, f.len, "TRAILING", 8) == NULL);
    img_pixels_t p;
    CHECK_EQ_I(ck, img_decode(buf, f.len, &p, NULL, 0), IMG_OK);
    CHECK(ck, p.width == w && p.height == h && p.channels == 4 && memcmp(p.px, px, (size_t)w * h * 4) == 0);
    img_pixels_free(&p);
    char v1[40];
    snprintf(v1, sizeof v1, "%s", f.v);
    CHECK(ck, strstr(a.body, v1) != NULL);

    /* A JPEG under the same number replaces the PNG, with a new version. */
    uint8_t *rgb = picture(w, h, 3);
    uint8_t *jpg = make_jpeg(rgb, w, h, &jlen);
    sl_put(s, "r2", 1, jpg, jlen, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 200);
    CHECK_EQ_I(ck, sl_read(s, "r2", 1, buf, IMG_OUT_MAX, &f), 0);
    CHECK_EQ_I(ck, f.kind, IMG_JPEG);
    CHECK(ck, strcmp(f.v, v1) != 0);
    char snap[4096];
    snapshot("r2", snap, sizeof snap);
    CHECK_MSG(ck, strstr(snap, "1.png") == NULL && strstr(snap, "1.jpg") != NULL, "%s", snap);
    /* Both kinds under one number (a crash between publishing the new
     * and removing the old): the newer is the slide. */
    char older[256];
    snprintf(older, sizeof older, "%s/rooms/r2/slides/1.png", g_dir);
    FILE *o = fopen(older, "wb");
    CHECK(ck, o && fwrite(png, 1, plen, o) == plen);
    if (o)
        fclose(o);
    struct timespec old_times[2] = {{1000000000, 0}, {1000000000, 0}};
    CHECK_EQ_I(ck, utimensat(AT_FDCWD, older, old_times, 0), 0);
    CHECK_EQ_I(ck, sl_read(s, "r2", 1, buf, IMG_OUT_MAX, &f), 0);
    CHECK_EQ_I(ck, f.kind, IMG_JPEG);
    unlink(older);
    /* Another room sees none of it. */
    CHECK_EQ_I(ck, sl_read(s, "r3", 1, buf, IMG_OUT_MAX, &f), -1);
    char list[SL_LIST_JSON_MAX];
    sl_list(s, "r3", list, sizeof list);
    CHECK_EQ_S(ck, list, "{\"slides\":[]}");

    /* Fill the room: the lowest free numbers, then 507. */
    for (int i = 2; i <= SL_MAX; i++) {
        sl_put(s, "r2", 0, png, plen, "organiser", &a);
        CHECK_MSG(ck, a.status == 200, "slide %d: %s", i, a.body);
    }
    sl_list(s, "r2", list, sizeof list);
    CHECK(ck, strstr(list, "{\"slide\":1,\"type\":\"jpg\"") != NULL);
    CHECK(ck, strstr(list, "{\"slide\":32,\"type\":\"png\"") != NULL);
    char before[4096], after[4096];
    snapshot("r2", before, sizeof before);
    sl_put(s, "r2", 0, png, plen, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 507);
    CHECK(ck, is_error(&a));
    snapshot("r2", after, sizeof after);
    CHECK(ck, strcmp(before, after) == 0);
    /* Replacing one at the bound is allowed; deleting frees its number. */
    sl_put(s, "r2", 5, png, plen, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 200);
    sl_delete(s, "r2", 7, "organiser", &a);
    CHECK_EQ_I(ck, a.status, 200);
    sl_put(s, "r2", 0, png, plen, "organiser", &a);
    CHECK_MSG(ck, a.status == 200 && strncmp(a.body, "{\"slide\":7,", 11) == 0, "%s", a.body);
    free(buf);
    free(in);
    free(png);
    free(jpg);
    free(rgb);
    free(px);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/bbtest-slides-%d", (int)getpid());
    mkdir(g_dir, 0755);
    char why[256];
    sl_t *s = sl_create(g_dir, why, sizeof why);
    CHECK(ck, s != NULL);
    CHECK(ck, sl_create("/nonexistent/dir", why, sizeof why) == NULL);
    if (s) {
        test_refusals(s);
        test_store(s);
    }
    sl_destroy(s);
    sl_destroy(NULL);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_slides: could not remove %s\n", g_dir);
    return check_done(&ck, "test_slides");
}
