/* trkplay: a prepared track as a read-only mapping (see trkplay.h).
 *
 * The whole file is mapped, header included, and the samples start
 * TRK_CACHE_HEADER bytes in; the descriptor is closed at once, the mapping
 * keeps the file's pages alive.
 */
#include "trkplay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trkcache.h"

struct trk_play {
    void *map;
    size_t map_len;
    const float *samples;
    uint64_t frames;
};

trk_play_t *trk_play_create(const char *cache_path, int *err)
{
    trk_play_t *t = NULL;
    struct stat st;
    uint64_t frames;
    int fd = -1, rc;

    if (cache_path == NULL) {
        rc = TRK_ERR_ARG;
        goto err;
    }
    fd = open(cache_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? TRK_ERR_CACHE : TRK_ERR_IO;
        goto err;
    }
    if (fstat(fd, &st) != 0) {
        rc = TRK_ERR_IO;
        goto err;
    }
    rc = trk_cache_read_header(fd, (uint64_t)st.st_size, &frames);
    if (rc != TRK_OK)
        goto err;
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        rc = TRK_ERR_NOMEM;
        goto err;
    }
    t->map_len = (size_t)st.st_size;
    t->map = mmap(NULL, t->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (t->map == MAP_FAILED) {
        t->map = NULL;
        rc = errno == ENOMEM ? TRK_ERR_NOMEM : TRK_ERR_IO;
        goto err;
    }
    /* Start reading ahead now, asynchronously, so the daemon's tick rarely
     * meets a page that is not resident. Only a hint: failure is fine. */
    (void)madvise(t->map, t->map_len, MADV_SEQUENTIAL);
    (void)madvise(t->map, t->map_len, MADV_WILLNEED);
    close(fd);
    t->samples = (const float *)((const unsigned char *)t->map + TRK_CACHE_HEADER);
    t->frames = frames;
    return t;
err:
    if (fd >= 0)
        close(fd);
    free(t);
    if (err != NULL)
        *err = rc;
    return NULL;
}

const float *trk_play_get_samples(const trk_play_t *t)
{
    return t != NULL ? t->samples : NULL;
}

uint64_t trk_play_get_frames(const trk_play_t *t)
{
    return t != NULL ? t->frames : 0;
}

void trk_play_destroy(trk_play_t *t)
{
    if (t == NULL)
        return;
    if (t->map != NULL)
        munmap(t->map, t->map_len);
    free(t);
}
