/*
 * fuzz_track.c - an uploaded backing track (media/trkupload.h), from the bytes
 * a user posts to the file the daemon plays.
 *
 * Each input is one upload: trk_upload_accept() decodes it completely from
 * memory with libsndfile (WAV, AIFF, FLAC, Ogg Vorbis/Opus, MP3, ...) and
 * stores it in a private temporary audio directory.  When it is accepted,
 * the stored file goes through trk_cache_convert() (libsndfile from the file,
 * libsamplerate, the loudness rule) into a cache file, which is then opened
 * with trk_play_create() and read back.  Both files are removed before the
 * next input, so the directory stays empty between inputs.
 *
 * Invariants: an accepted upload has a safe name and exactly one file in
 * the directory, byte for byte the upload; a refused one leaves nothing;
 * a prepared track has 1..TRK_MAX_FRAMES finite samples within the peak
 * limit.  Both directories are removed at exit.
 */
#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "media/trkcache.h"
#include "media/trkname.h"
#include "media/trkplay.h"
#include "media/trkupload.h"

static char dir[256];
static char cache_dir[300];

static void fz_rmdir_files(const char *d)
{
    DIR *h = opendir(d);
    if (!h)
        return;
    struct dirent *e;
    char path[600];
    while ((e = readdir(h))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", d, e->d_name);
        unlink(path);
    }
    closedir(h);
}

static int fz_count_files(const char *d)
{
    DIR *h = opendir(d);
    int n = 0;
    struct dirent *e;
    while (h && (e = readdir(h)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;  /* dotfiles count */
    if (h)
        closedir(h);
    return n;
}

static void fz_cleanup(void)
{
    fz_rmdir_files(cache_dir);
    rmdir(cache_dir);
    fz_rmdir_files(dir);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/bbfuzz-track-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("fuzz_track: mkdtemp");
        abort();
    }
    /* The cache lives beside, never inside, the audio directory. */
    snprintf(cache_dir, sizeof cache_dir, "%s.cache", dir);
    if (mkdir(cache_dir, 0700) != 0) {
        perror("fuzz_track: mkdir");
        abort();
    }
    atexit(fz_cleanup);
    return 0;
}

static void prepare(const char *name, const uint8_t *data, size_t size)
{
    char src[600], cache[600];
    snprintf(src, sizeof src, "%s/%s", dir, name);
    snprintf(cache, sizeof cache, "%s/t%s", cache_dir, TRK_CACHE_SUFFIX);

    /* Stored byte for byte. */
    struct stat st;
    FZ_ASSERT(stat(src, &st) == 0 && (size_t)st.st_size == size);
    FILE *f = fopen(src, "rb");
    FZ_ASSERT(f != NULL);
    uint8_t *back = malloc(size);
    FZ_ASSERT(back && fread(back, 1, size, f) == size && memcmp(back, data, size) == 0);
    free(back);
    fclose(f);

    trk_info_t info;
    int rc = trk_cache_convert(src, cache, NULL, &info);
    FZ_ASSERT(trk_strerror(rc) != NULL);
    if (rc != TRK_OK) {
        FZ_ASSERT(fz_count_files(cache_dir) == 0);
        return;
    }
    FZ_ASSERT(info.frames >= 1 && info.frames <= TRK_MAX_FRAMES);
    FZ_ASSERT(trk_cache_check(src, cache, NULL) == TRK_OK);
    int err = 0;
    trk_play_t *t = trk_play_create(cache, &err);
    FZ_ASSERT(t != NULL);
    FZ_ASSERT(trk_play_get_frames(t) == info.frames);
    const float *x = trk_play_get_samples(t);
    for (uint64_t i = 0; i < info.frames; i++)
        FZ_ASSERT(isfinite(x[i]) && fabsf(x[i]) <= TRK_PEAK_LIMIT * 1.0001f);
    trk_play_destroy(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[TRK_NAME_MAX + 1];
    int rc = trk_upload_accept(data, size, "fuzzed upload.wav", dir, NULL, name, sizeof name);
    FZ_ASSERT(trk_strerror(rc) != NULL);
    if (rc == TRK_OK) {
        FZ_ASSERT(trk_name_is_safe(name));
        FZ_ASSERT(fz_count_files(dir) == 1);
        prepare(name, data, size);
    } else {
        FZ_ASSERT(rc < 0 && fz_count_files(dir) == 0);
    }
    fz_rmdir_files(cache_dir);
    fz_rmdir_files(dir);
    return 0;
}
