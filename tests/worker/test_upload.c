/*
 * test_upload.c - a room's uploads: where they go, and their bounds.
 *
 * Real files made with sox: a short tone lands in AUDIO/rooms/ROOM/ under
 * the name asked for, and only there; a 30-minute FLAC of DC (a few
 * hundred KB that would prepare into 346 MB) is refused by its length
 * before it is decoded; a room at its track count or its bytes is refused
 * with 507 and a sentence; garbage is a 415.  The bounds of the prepared
 * audio are read from the daemon's cache of the room.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "upload.h"

static char g_dir[128];

/* Reads a whole file into a new buffer; *len its size. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)(n > 0 ? n : 1));
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

/* A file made by sox: 48 kHz mono 16-bit, with sox's `effects`. */
static uint8_t *made(const char *name, const char *effects, size_t *len)
{
    char path[300], cmd[700];
    *len = 0;
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    snprintf(cmd, sizeof cmd, "sox -D -n -r 48000 -c 1 -b 16 %s %s 2>/dev/null", path, effects);
    if (system(cmd) != 0)
        return NULL;
    return slurp(path, len);
}

static int count_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

int main(void)
{
    CHECK_INIT(c);
    snprintf(g_dir, sizeof g_dir, "/tmp/bbtest-upload-%d", (int)getpid());
    char audio[200], cache[200], cmd[600];
    snprintf(audio, sizeof audio, "%s/audio", g_dir);
    snprintf(cache, sizeof cache, "%s/cache", g_dir);
    mkdir(g_dir, 0755);
    mkdir(audio, 0755);
    mkdir(cache, 0755);
    char why[256], name[TRK_NAME_MAX + 1], msg[512];
    upl_t *u = upl_create(audio, cache, why, sizeof why);
    CHECK(c, u != NULL);
    if (!u)
        return check_done(&c, "test_upload");

    size_t len;
    uint8_t *tone = made("tone.wav", "synth 2 sine 440", &len);
    CHECK(c, tone != NULL);
    CHECK_EQ_I(c, upl_accept(u, "room1", "name=Hymn", tone, len, name, sizeof name, msg, sizeof msg), 200);
    char path[400];
    snprintf(path, sizeof path, "%s/rooms/room1/%s", audio, name);
    CHECK(c, access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/rooms/room2", audio);
    CHECK(c, access(path, F_OK) != 0);   /* another room has none */
    printf("test_upload: room1 got \"%s\"\n", name);

    /* 30 minutes of DC as FLAC: small, but it would prepare into 346 MB. */
    size_t dlen;
    uint8_t *dc = made("dc.flac", "synth 1800 sine 0 dcshift 0.5", &dlen);
    CHECK(c, dc != NULL && dlen < 4 * 1024 * 1024);
    int st = upl_accept(u, "room1", "name=Drone", dc, dlen, name, sizeof name, msg, sizeof msg);
    printf("test_upload: a %zu-byte FLAC of 30 min: %d %s\n", dlen, st, msg);
    CHECK_EQ_I(c, st, 413);
    CHECK(c, strstr(msg, "15 minutes") != NULL);

    /* Not audio. */
    static const uint8_t junk[] = "<html>this is not a backing track</html>";
    CHECK_EQ_I(c, upl_accept(u, "room1", "name=x", junk, sizeof junk, name, sizeof name, msg, sizeof msg), 415);

    /* The room's track count: the 21st is refused, another room is not. */
    for (int i = 1; i < UPL_ROOM_TRACKS; i++)
        CHECK_EQ_I(c, upl_accept(u, "room1", "name=Song", tone, len, name, sizeof name, msg, sizeof msg), 200);
    snprintf(path, sizeof path, "%s/rooms/room1", audio);
    CHECK_EQ_I(c, count_files(path), UPL_ROOM_TRACKS);
    st = upl_accept(u, "room1", "name=Song", tone, len, name, sizeof name, msg, sizeof msg);
    CHECK_EQ_I(c, st, 507);
    printf("test_upload: the %dth track: %d %s\n", UPL_ROOM_TRACKS + 1, st, msg);
    CHECK_EQ_I(c, upl_accept(u, "room2", "name=Song", tone, len, name, sizeof name, msg, sizeof msg), 200);

    /* The room's prepared audio: a cache holding nearly the bound leaves no
     * room for the longest upload. */
    snprintf(path, sizeof path, "%s/room3", cache);
    mkdir(path, 0755);
    snprintf(cmd, sizeof cmd, "truncate -s %llu %s/big.bbtrk", (unsigned long long)(UPL_ROOM_PREPARED - (64ull << 20)), path);
    CHECK_EQ_I(c, system(cmd), 0);
    st = upl_accept(u, "room3", "name=One", tone, len, name, sizeof name, msg, sizeof msg);
    CHECK_EQ_I(c, st, 507);
    printf("test_upload: a room with %llu MiB prepared: %d %s\n",
           (unsigned long long)((UPL_ROOM_PREPARED - (64ull << 20)) >> 20), st, msg);

    /* The room's bytes: one more file past the bound is refused. */
    size_t blen;
    uint8_t *big = made("big.wav", "synth 300 whitenoise", &blen);   /* 28 MiB */
    CHECK(c, big != NULL);
    int took = 0;
    for (int i = 0; i < 12; i++) {
        st = upl_accept(u, "room4", "name=Noise", big, blen, name, sizeof name, msg, sizeof msg);
        if (st != 200)
            break;
        took++;
    }
    printf("test_upload: %d uploads of %zu MiB, then %d %s\n", took, blen >> 20, st, msg);
    CHECK_EQ_I(c, st, 507);
    CHECK(c, (uint64_t)took * blen <= UPL_ROOM_BYTES && (uint64_t)(took + 1) * blen > UPL_ROOM_BYTES);

    free(tone);
    free(dc);
    free(big);
    upl_destroy(u);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_upload: could not remove %s\n", g_dir);
    return check_done(&c, "test_upload");
}
