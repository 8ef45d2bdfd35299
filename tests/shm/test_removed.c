/*
 * test_removed.c - the room's list of removed singers (removed.h): its
 * bound and order, what a second process's mapping reads, and a writer
 * publishing while readers copy and look userids up on threads (so
 * ThreadSanitizer watches every access): a reader never sees a mix of two
 * lists.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "removed.h"
#include "shm_test.h"

enum { PUBLISHES = 20000, READERS = 3 };

typedef struct {
    seg_t *seg;
    atomic_int *stop;
    uint64_t base;   /* the generation before the writer thread's lists */
    long torn;
    long reads;
} reader_t;

/* List k holds k % (SEG_REMOVED_MAX + 1) entries, entry i with userid
 * k * 100 + i, public id k and the name "k". */
static void make_list(rmv_list_t *l, uint64_t k)
{
    uint64_t gen = l->gen;
    memset(l, 0, sizeof *l);
    l->gen = gen;
    char name[24];
    snprintf(name, sizeof name, "%llu", (unsigned long long)k);
    uint32_t n = (uint32_t)(k % (SEG_REMOVED_MAX + 1));
    for (uint32_t i = 0; i < n; i++)
        rmv_add(l, k * 100 + i, k, name);
}

static void *reader(void *arg)
{
    reader_t *r = arg;
    uint64_t gen = r->base;
    static _Thread_local rmv_list_t l;
    while (!atomic_load(r->stop)) {
        if (!rmv_read(r->seg, &gen, &l))
            continue;
        r->reads++;
        uint64_t k = l.n ? l.e[0].public_id : 0;
        if (l.n != k % (SEG_REMOVED_MAX + 1) && l.n != 0)
            r->torn++;
        char name[24];
        snprintf(name, sizeof name, "%llu", (unsigned long long)k);
        for (uint32_t i = 0; i < l.n; i++)
            if (l.e[i].userid != k * 100 + i || l.e[i].public_id != k || strcmp(l.e[i].name, name) != 0) {
                r->torn++;
                break;
            }
        /* A lookup is answered from one list or the next, never garbage:
         * a userid no list ever holds is never found. */
        if (rmv_has(r->seg, 99))
            r->torn++;
    }
    return NULL;
}

int main(void)
{
    CHECK_INIT(c);
    char name[64];
    shm_test_name(name, sizeof name, "removed");
    seg_t *seg = shm_test_create(name, SEG_RING_SECONDS_MIN, 16);
    CHECK(c, seg != NULL);
    if (!seg)
        return check_done(&c, "test_removed");

    /* A fresh segment is an empty list of generation 0. */
    rmv_list_t l = {0}, got = {0};
    uint64_t gen = 0;
    CHECK(c, rmv_read(seg, &gen, &got) == 0 && rmv_count(seg) == 0 && !rmv_has(seg, 7));

    /* The bound: SEG_REMOVED_MAX, then full; a userid twice is once. */
    for (uint32_t i = 0; i < SEG_REMOVED_MAX; i++)
        CHECK_EQ_I(c, rmv_add(&l, 1000 + i, 2000 + i, "Sam"), RMV_ADDED);
    CHECK_EQ_I(c, rmv_add(&l, 1000, 2000, "Sam"), RMV_ALREADY);
    CHECK_EQ_I(c, rmv_add(&l, 5000, 6000, "Tom"), RMV_FULL);
    CHECK_EQ_I(c, l.n, SEG_REMOVED_MAX);
    rmv_publish(seg, &l);
    CHECK(c, rmv_count(seg) == SEG_REMOVED_MAX && rmv_has(seg, 1031) && !rmv_has(seg, 5000));

    /* Letting one back keeps the others in order. */
    CHECK(c, rmv_drop(&l, 2005) && !rmv_drop(&l, 2005) && l.n == SEG_REMOVED_MAX - 1);
    CHECK(c, l.e[5].public_id == 2006 && l.e[4].public_id == 2004);
    rmv_publish(seg, &l);

    /* Another mapping (a worker) reads the same list; an unchanged
     * generation copies nothing. */
    seg_err_t err;
    seg_t *other = seg_attach(name, &err);
    CHECK(c, other != NULL);
    if (other) {
        CHECK(c, rmv_read(other, &gen, &got) == 1 && got.n == SEG_REMOVED_MAX - 1 && gen == l.gen);
        CHECK(c, got.e[0].userid == 1000 && strcmp(got.e[0].name, "Sam") == 0);
        CHECK(c, !rmv_has(other, 1005) && rmv_has(other, 1006));
        CHECK(c, rmv_read(other, &gen, &got) == 0);
        /* The organiser's JSON: public ids as strings and names, no userid. */
        char js[RMV_JSON_MAX];
        size_t n = rmv_json(&got, js, sizeof js);
        CHECK(c, n > 0 && strncmp(js, "[[\"2000\",\"Sam\"],[\"2001\",\"Sam\"]", 30) == 0);
        CHECK(c, strstr(js, "1000") == NULL);
        seg_detach(other);
    }
    /* A name of 63 bytes, each escaped, fits RMV_JSON_MAX at the bound. */
    rmv_list_t big = {0};
    char longname[SEG_NAME_MAX];
    memset(longname, 0x01, sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    for (uint32_t i = 0; i < SEG_REMOVED_MAX; i++)
        rmv_add(&big, i + 1, UINT64_C(1) << 49 | i, longname);
    char bigjs[RMV_JSON_MAX];
    CHECK(c, rmv_json(&big, bigjs, sizeof bigjs) > 0);

    /* A writer and readers on threads. */
    atomic_int stop = 0;
    reader_t rd[READERS];
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++) {
        rd[i] = (reader_t){.seg = seg, .stop = &stop, .base = l.gen};
        pthread_create(&th[i], NULL, reader, &rd[i]);
    }
    for (uint64_t k = 1; k <= PUBLISHES; k++) {
        make_list(&l, k);
        rmv_publish(seg, &l);
    }
    atomic_store(&stop, 1);
    long torn = 0, reads = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        torn += rd[i].torn;
        reads += rd[i].reads;
    }
    printf("test_removed: %d publishes, %ld reads, %ld torn\n", PUBLISHES, reads, torn);
    CHECK_EQ_I(c, torn, 0);
    CHECK(c, reads > 0);
    seg_detach(seg);
    seg_unlink(name);
    return check_done(&c, "test_removed");
}
