/*
 * test_segment.c - creating, attaching and refusing segments.
 *
 * A segment with a wrong magic, version or size is refused with an error
 * that says what was found, and is left untouched; an existing valid segment
 * is re-attached as it is, never cleared; roles are exclusive and die with
 * their holder.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "shm_test.h"
#include "ring.h"
#include "timeline.h"

/* Reads the whole segment file into memory (to prove it was not touched). */
static unsigned char *snapshot(const char *name, size_t *len)
{
    int fd = shm_open(name, O_RDONLY, 0);
    if (fd < 0)
        return NULL;
    struct stat st;
    fstat(fd, &st);
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    memcpy(buf, p, (size_t)st.st_size);
    munmap(p, (size_t)st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

static void poke(const char *name, size_t off, const void *bytes, size_t n)
{
    int fd = shm_open(name, O_RDWR, 0);
    struct stat st;
    fstat(fd, &st);
    unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(p + off, bytes, n);
    munmap(p, (size_t)st.st_size);
    close(fd);
}

static void refused(check_t *c, const char *name, int code, const char *expect_in_msg)
{
    size_t before_len, after_len;
    unsigned char *before = snapshot(name, &before_len);
    seg_err_t err;
    seg_t *s = seg_attach(name, &err);
    CHECK(*c, s == NULL);
    CHECK_EQ_I(*c, err.code, code);
    CHECK(*c, strstr(err.msg, expect_in_msg) != NULL);
    printf("  refused as expected: %s\n", err.msg);
    /* The daemon's create-or-attach refuses it the same way. */
    seg_params_t p = {SEG_RING_SECONDS_MIN, 16};
    bool created = true;
    s = seg_open_or_create(name, &p, &created, &err);
    CHECK(*c, s == NULL && !created);
    CHECK_EQ_I(*c, err.code, code);
    unsigned char *after = snapshot(name, &after_len);
    CHECK(*c, before && after && before_len == after_len && memcmp(before, after, before_len) == 0);
    free(before);
    free(after);
}

int main(void)
{
    CHECK_INIT(c);
    char name[64];
    shm_test_name(name, sizeof name, "segment");

    /* Creation and a valid re-attach that keeps the contents. */
    seg_t *s = shm_test_create(name, SEG_RING_SECONDS_MIN, 16);
    CHECK(c, s != NULL);
    CHECK_EQ_I(c, seg_ring_len(s), SEG_RING_SECONDS_MIN * 48000 / RING_ALIGN * RING_ALIGN);
    CHECK_EQ_I(c, seg_ring_len(s) % 2880, 0);
    float x[256];
    for (int i = 0; i < 256; i++)
        x[i] = 0.25f;
    int64_t now = seg_now();
    tl_advance(s, 48000, NULL);
    CHECK_EQ_I(c, tl_write(s, now - 10000, x, 256, now), TL_OK);
    seg_detach(s);
    seg_params_t p = {SEG_RING_SECONDS_MIN, 16};
    bool created = true;
    seg_err_t err;
    s = seg_open_or_create(name, &p, &created, &err);
    CHECK(c, s && !created);
    int64_t cells[256];
    tl_read_cells(s, now - 10000, 256, cells);
    CHECK_EQ_I(c, acc_count(cells[17]), 1);
    CHECK_EQ_I(c, acc_sum(cells[17]), acc_quantise(0.25f));
    /* Other parameters are a mismatch, not a reason to clear. */
    seg_params_t p2 = {SEG_RING_SECONDS_MIN + 1, 16};
    seg_t *s2 = seg_open_or_create(name, &p2, &created, &err);
    CHECK(c, s2 == NULL && err.code == SEG_EMISMATCH);
    printf("  mismatch: %s\n", err.msg);

    /* Roles: exclusive while held, free again when the holder is gone. */
    CHECK_EQ_I(c, seg_claim_daemon(s, &err), 0);
    seg_t *other = seg_attach(name, &err);
    CHECK(c, other != NULL);
    CHECK_EQ_I(c, seg_claim_daemon(other, &err), SEG_EBUSY);
    CHECK_EQ_I(c, seg_claim_lane(s, 3, &err), 0);
    CHECK_EQ_I(c, seg_claim_lane(other, 3, &err), SEG_EBUSY);
    CHECK_EQ_I(c, seg_claim_lane(other, 4, &err), 0);
    CHECK_EQ_I(c, seg_claim_lane(other, SEG_LANES, &err), SEG_EPARAM);
    pid_t pid = fork();
    if (pid == 0) {
        seg_t *mine = seg_attach(name, &err);
        _exit(mine && seg_claim_lane(mine, 9, &err) == 0 ? 0 : 1);  /* dies holding it */
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(c, WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ_I(c, seg_claim_lane(other, 9, &err), 0);
    seg_detach(other);
    seg_detach(s);

    /* Wrong magic, version and size: refused, untouched. */
    uint64_t bad_magic = 0x1122334455667788ull;
    uint64_t good_magic = SEG_MAGIC;
    poke(name, offsetof(seg_header_shared_t, magic), &bad_magic, 8);
    refused(&c, name, SEG_EMAGIC, "magic is 0x1122334455667788");
    poke(name, offsetof(seg_header_shared_t, magic), &good_magic, 8);
    uint32_t bad_version = 99, good_version = SEG_VERSION;
    poke(name, offsetof(seg_header_shared_t, version), &bad_version, 4);
    refused(&c, name, SEG_EVERSION, "layout version is 99");
    poke(name, offsetof(seg_header_shared_t, version), &good_version, 4);
    uint64_t bad_size = 12345;
    poke(name, offsetof(seg_header_shared_t, total_size), &bad_size, 8);
    refused(&c, name, SEG_ESIZE, "header says 12345 bytes");
    seg_unlink(name);

    /* A file too short for a header. */
    int fd = shm_open(name, O_RDWR | O_CREAT, 0600);
    CHECK(c, ftruncate(fd, 100) == 0);
    close(fd);
    refused(&c, name, SEG_ESIZE, "smaller than a header");
    seg_unlink(name);

    /* Attaching to nothing says the daemon is missing. */
    s = seg_attach(name, &err);
    CHECK(c, s == NULL && err.code == SEG_ENOENT && strstr(err.msg, "bb-shmd"));
    /* Bad parameters. */
    seg_params_t bad = {5, 16};
    CHECK(c, seg_open_or_create(name, &bad, &created, &err) == NULL && err.code == SEG_EPARAM);

    /* Public ids: stable, never the userid, 50 bits. */
    s = shm_test_create(name, SEG_RING_SECONDS_MIN, 16);
    uint64_t a = seg_public_id(s, 12345678901ull), b = seg_public_id(s, 12345678901ull);
    CHECK(c, a == b && a != 12345678901ull && a < (1ull << 50) && a != 0);
    CHECK(c, seg_public_id(s, 12345678902ull) != a);
    seg_detach(s);
    seg_unlink(name);
    return check_done(&c, "test_segment");
}
