/*
 * test_host.c - the host segment's room directory.
 *
 * Creation and attaching (a second creator attaches; a file of the wrong
 * kind is refused with a sentence); slots put, read, found by id and
 * cleared, each change moving the slot's and the directory's generation;
 * keys: the organiser key opens the organiser, the singers' key a singer,
 * a wrong, missing or malformed key nothing, and the default room anyone;
 * a slot a dead daemon left half written is out of the directory after
 * repair; and readers on threads never see a slot torn between two rooms
 * while the writer rewrites it (ThreadSanitizer watches every access).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "host.h"
#include "rooms/roomkey.h"
#include "segment.h"

enum { REWRITES = 20000, READERS = 3 };

static void room(hs_room_t *r, const char *id, const char *name, const char *skey, const char *okey)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->name, sizeof r->name, "%s", name);
    if (skey)
        rk_hash(skey, r->singer_hash);
    if (okey)
        rk_hash(okey, r->organiser_hash);
}

typedef struct {
    hs_t *h;
    atomic_int *stop;
    long torn;
    atomic_long reads;
} reader_t;

/* The writer alternates slot 3 between two rooms whose every field says
 * which one it is; a reader must see one or the other whole. */
static void *reader(void *arg)
{
    reader_t *r = arg;
    while (!atomic_load(r->stop)) {
        hs_room_t got;
        if (!hs_read(r->h, 3, &got))
            continue;
        atomic_fetch_add(&r->reads, 1);
        char want = got.id[0];
        if ((want != 'a' && want != 'b') || got.name[0] != want || got.singer_hash[0] != (uint8_t)want ||
            got.organiser_hash[31] != (uint8_t)want || got.max_singers != (uint32_t)want)
            r->torn++;
    }
    return NULL;
}

int main(void)
{
    CHECK_INIT(c);
    char name[64];
    snprintf(name, sizeof name, "/bbtest-host-%d", (int)getpid());
    hs_unlink(name);
    seg_err_t err;
    bool created;
    hs_t *h = hs_open_or_create(name, &created, &err);
    CHECK(c, h && created);
    if (!h)
        return check_done(&c, "test_host");
    hs_t *w = hs_attach(name, &err);
    CHECK(c, w != NULL);
    bool again;
    hs_t *h2 = hs_open_or_create(name, &again, &err);
    CHECK(c, h2 && !again);   /* a restarted daemon attaches */
    hs_detach(h2);

    /* Slots. */
    char skey[RK_KEY_LEN + 1], okey[RK_KEY_LEN + 1], other[RK_KEY_LEN + 1], id[RK_ID_LEN + 1];
    rk_key_new(skey);
    rk_key_new(okey);
    rk_key_new(other);
    rk_id_new(id);
    hs_room_t r, got;
    room(&r, id, "Tuesday choir", skey, okey);
    r.max_singers = 30;
    uint64_t g0 = hs_dir_gen(w);
    hs_put(h, 7, &r);
    hs_publish(h, 1);
    CHECK(c, hs_dir_gen(w) != g0);
    CHECK(c, hs_find(w, id, &got));
    CHECK(c, got.slot == 7 && strcmp(got.name, "Tuesday choir") == 0 && got.max_singers == 30);
    CHECK(c, !hs_find(w, "zzzzzzzzzz", &got));
    CHECK(c, !hs_read(w, 6, &got) && !hs_read(w, HS_ROOMS_MAX, &got));
    hs_find(w, id, &got);
    CHECK_EQ_I(c, hs_check_key(&got, okey), HS_ROLE_ORGANISER);
    CHECK_EQ_I(c, hs_check_key(&got, skey), HS_ROLE_SINGER);
    CHECK_EQ_I(c, hs_check_key(&got, other), HS_ROLE_NONE);
    CHECK_EQ_I(c, hs_check_key(&got, NULL), HS_ROLE_NONE);
    CHECK_EQ_I(c, hs_check_key(&got, ""), HS_ROLE_NONE);
    CHECK_EQ_I(c, hs_check_key(&got, "not a key at all"), HS_ROLE_NONE);
    char cut[RK_KEY_LEN + 1];
    memcpy(cut, skey, RK_KEY_LEN - 1);
    cut[RK_KEY_LEN - 1] = '\0';
    CHECK_EQ_I(c, hs_check_key(&got, cut), HS_ROLE_NONE);
    /* A replaced singers' key: the old one stops working at once. */
    uint64_t gen = got.gen;
    char skey2[RK_KEY_LEN + 1];
    rk_key_new(skey2);
    rk_hash(skey2, r.singer_hash);
    hs_put(h, 7, &r);
    hs_publish(h, 1);
    CHECK(c, hs_find(w, id, &got) && got.gen != gen);
    CHECK_EQ_I(c, hs_check_key(&got, skey), HS_ROLE_NONE);
    CHECK_EQ_I(c, hs_check_key(&got, skey2), HS_ROLE_SINGER);
    /* The default room opens to anyone. */
    hs_room_t d;
    room(&d, HS_DEFAULT_ID, "", NULL, NULL);
    d.flags = HS_DEFAULT;
    hs_put(h, 0, &d);
    CHECK(c, hs_find(w, HS_DEFAULT_ID, &got));
    CHECK_EQ_I(c, hs_check_key(&got, NULL), HS_ROLE_SINGER);
    CHECK_EQ_I(c, hs_check_key(&got, okey), HS_ROLE_SINGER);
    /* Closed: gone. */
    hs_clear(h, 7);
    hs_publish(h, 1);
    CHECK(c, !hs_find(w, id, &got));
    char seg[128];
    CHECK_EQ_I(c, hs_room_segment("/bb-8080", id, seg, sizeof seg), 0);
    CHECK(c, strncmp(seg, "/bb-8080-", 9) == 0 && strcmp(seg + 9, id) == 0);
    CHECK_EQ_I(c, hs_room_segment("/bb-8080", id, seg, 12), -1);

    /* Torn reads under a writer. */
    atomic_int stop = 0;
    pthread_t th[READERS];
    reader_t rd[READERS];
    for (int i = 0; i < READERS; i++) {
        rd[i].h = w;
        rd[i].stop = &stop;
        rd[i].torn = 0;
        atomic_init(&rd[i].reads, 0);
        pthread_create(&th[i], NULL, reader, &rd[i]);
    }
    hs_room_t a, b;
    room(&a, "aaaaaaaaaa", "aaaa", NULL, NULL);
    room(&b, "bbbbbbbbbb", "bbbb", NULL, NULL);
    memset(a.singer_hash, 'a', HS_HASH_LEN);
    memset(a.organiser_hash, 'a', HS_HASH_LEN);
    memset(b.singer_hash, 'b', HS_HASH_LEN);
    memset(b.organiser_hash, 'b', HS_HASH_LEN);
    a.max_singers = 'a';
    b.max_singers = 'b';
    /* Rewrite until the readers got plenty of whole slots (or 5 s). */
    long rewrites = 0;
    for (int round = 0; round < 5000; round++) {
        for (int i = 0; i < REWRITES / 100; i++, rewrites++)
            hs_put(h, 3, rewrites & 1 ? &b : &a);
        long n = 0;
        for (int i = 0; i < READERS; i++)
            n += atomic_load(&rd[i].reads);
        if (n >= 30000 && rewrites >= REWRITES)
            break;
        usleep(1000);
    }
    atomic_store(&stop, 1);
    long torn = 0, reads = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        torn += rd[i].torn;
        reads += rd[i].reads;
    }
    printf("test_host: %ld reads during %ld rewrites, %ld torn\n", reads, rewrites, torn);
    CHECK(c, reads >= 1000);
    CHECK_EQ_I(c, torn, 0);

    /* A daemon that died mid-rewrite left slot 5's seq odd: readers skip it
     * (no wait), and after repair it is out of the directory. */
    hs_put(h, 5, &a);
    int fd = shm_open(name, O_RDWR, 0);
    hs_shared_t *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(c, sh != MAP_FAILED);
    atomic_fetch_add(&sh->rooms[5].seq, 1);
    CHECK(c, !hs_read(w, 5, &got));
    hs_repair(h);
    CHECK(c, !hs_read(w, 5, &got) && (atomic_load(&sh->rooms[5].seq) & 1) == 0);
    CHECK(c, hs_read(w, 3, &got));   /* the others stay */
    munmap(sh, sizeof *sh);
    close(fd);
    hs_detach(w);
    hs_detach(h);

    /* A file of another kind is refused with a sentence. */
    hs_unlink(name);
    seg_params_t p = {SEG_RING_SECONDS_MIN, 16};
    seg_t *s = seg_open_or_create(name, &p, &created, &err);
    CHECK(c, s != NULL);
    seg_detach(s);
    CHECK(c, hs_attach(name, &err) == NULL);
    CHECK(c, strstr(err.msg, "host segment") != NULL);
    printf("test_host: a timeline segment as the host segment: %s\n", err.msg);
    hs_unlink(name);
    return check_done(&c, "test_host");
}
