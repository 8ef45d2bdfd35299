/*
 * test_singers.c - the worker's singer table (fcgi/singers.h): open
 * addressing with linear probing and backward-shift deletion, through its
 * public calls only.
 *
 * Where an entry sits is read from the pointers sg_insert() and sg_find()
 * return (the entries are the table's slots): a key's home is where it
 * lands in the empty table, so the test can build probe runs on purpose.
 * Asserted: every key inserted is found with its own data, absent keys are
 * not; the table refuses a singer past half its capacity and takes one
 * again after a removal; keys sharing a home sit one after the other;
 * removing from a run (also one that wraps past the last slot) shifts the
 * rest back, each found again with its data; and a seeded random mix of
 * inserts and sweeps agrees with a plain list.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "singers.h"

#define CAP 8              /* a table of 16 slots taking 8 singers */
#define SLOTS 16
#define NKEYS 400          /* candidate userids 1 .. NKEYS */
#define NOW 1000000
#define IDLE 10

typedef struct {
    sg_table_t *t;
    sg_t *base;            /* slot 0 */
    int home[NKEYS + 1];
} probe_t;

/* The data a key's entry carries in these tests. */
static int64_t mark(uint64_t key) { return (int64_t)key * 7 + 3; }

/* Removes the keys in gone[0..n) by making them idle and sweeping; every
 * other entry is made active first.  Returns what sg_sweep() removed. */
static uint32_t remove_keys(sg_table_t *t, const uint64_t *gone, int n)
{
    for (uint64_t k = 1; k <= NKEYS; k++) {
        sg_t *e = sg_find(t, k);
        if (e)
            e->last_active = NOW;
    }
    for (int i = 0; i < n; i++)
        sg_find(t, gone[i])->last_active = 0;
    return sg_sweep(t, NOW, IDLE);
}

static sg_t *put(sg_table_t *t, uint64_t key)
{
    sg_t *e = sg_insert(t, key);
    if (e) {
        e->slot = mark(key);
        e->last_active = NOW;
    }
    return e;
}

/* Finds every key's home: inserted alone into the empty table and swept
 * out again.  The lowest of the slots seen is slot 0. */
static void find_homes(check_t *c, probe_t *p)
{
    sg_t *at[NKEYS + 1];
    p->t = sg_table_create(CAP, NULL);
    p->base = NULL;
    for (uint64_t k = 1; k <= NKEYS; k++) {
        at[k] = put(p->t, k);
        uint64_t gone = k;
        remove_keys(p->t, &gone, 1);
        if (!p->base || at[k] < p->base)
            p->base = at[k];
    }
    int outside = 0, seen[SLOTS] = {0};
    for (uint64_t k = 1; k <= NKEYS; k++) {
        p->home[k] = (int)(at[k] - p->base);
        outside += p->home[k] < 0 || p->home[k] >= SLOTS;
        if (p->home[k] >= 0 && p->home[k] < SLOTS)
            seen[p->home[k]]++;
    }
    CHECK_EQ_I(*c, outside, 0);
    CHECK_EQ_I(*c, sg_count(p->t), 0);
    for (int h = 0; h < SLOTS; h++)
        CHECK_MSG(*c, seen[h] > 0, "no key of %d has home %d", NKEYS, h);
}

/* n keys (from `from` on) whose home is h, into out; how many found. */
static int keys_at(const probe_t *p, int h, uint64_t from, uint64_t *out, int n)
{
    int got = 0;
    for (uint64_t k = from; k <= NKEYS && got < n; k++)
        if (p->home[k] == h)
            out[got++] = k;
    return got;
}

static long slot(const probe_t *p, uint64_t key)
{
    sg_t *e = sg_find(p->t, key);
    return e ? (long)(e - p->base) : -1;
}

static void test_basic(check_t *c, probe_t *p)
{
    for (uint64_t k = 1; k <= CAP; k++)
        CHECK(*c, put(p->t, k) != NULL);
    CHECK_EQ_I(*c, sg_count(p->t), CAP);
    /* Full at half the slots: the next singer is refused, nothing moves. */
    CHECK(*c, put(p->t, CAP + 1) == NULL);
    CHECK_EQ_I(*c, sg_count(p->t), CAP);
    int wrong = 0;
    for (uint64_t k = 1; k <= CAP; k++) {
        sg_t *e = sg_find(p->t, k);
        wrong += !e || e->userid != k || e->slot != mark(k) || !e->used;
    }
    CHECK_EQ_I(*c, wrong, 0);
    CHECK(*c, sg_find(p->t, CAP + 1) == NULL);
    CHECK(*c, sg_find(p->t, 0) == NULL);
    /* A fresh entry is zeroed but for its key and its "none" markers. */
    sg_t *e = sg_find(p->t, 3);
    CHECK(*c, e->dec == NULL && e->enc == NULL && e->stem == NULL && e->pending_delay == -1);
    /* One leaves: the one refused gets in. */
    uint64_t gone = 5;
    CHECK_EQ_I(*c, remove_keys(p->t, &gone, 1), 1);
    CHECK(*c, sg_find(p->t, 5) == NULL);
    CHECK(*c, put(p->t, CAP + 1) != NULL);
    CHECK_EQ_I(*c, sg_count(p->t), CAP);
    /* Sweeping with nobody idle removes nobody. */
    CHECK_EQ_I(*c, remove_keys(p->t, NULL, 0), 0);
    uint64_t all[CAP] = {1, 2, 3, 4, 6, 7, 8, CAP + 1};
    CHECK_EQ_I(*c, remove_keys(p->t, all, CAP), CAP);
    CHECK_EQ_I(*c, sg_count(p->t), 0);
}

/* Three keys of home h and one of home h + 1: a run of four from h.
 * Removing from it shifts the followers back, wherever the run lies. */
static void test_run(check_t *c, probe_t *p, int h)
{
    uint64_t a[3] = {0}, d = 0;
    int h1 = (h + 1) % SLOTS;
    CHECK_EQ_I(*c, keys_at(p, h, 1, a, 3), 3);
    CHECK_EQ_I(*c, keys_at(p, h1, 1, &d, 1), 1);
    if (a[2] == 0 || d == 0)
        return;
    for (int i = 0; i < 3; i++)
        put(p->t, a[i]);
    put(p->t, d);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_I(*c, slot(p, a[i]), (h + i) % SLOTS);
    CHECK_EQ_I(*c, slot(p, d), (h + 3) % SLOTS);   /* its home was taken */

    /* The first leaves: everyone moves back one, d too (home h+1 <= h+2). */
    CHECK_EQ_I(*c, remove_keys(p->t, &a[0], 1), 1);
    CHECK(*c, sg_find(p->t, a[0]) == NULL);
    CHECK_EQ_I(*c, slot(p, a[1]), h);
    CHECK_EQ_I(*c, slot(p, a[2]), (h + 1) % SLOTS);
    CHECK_EQ_I(*c, slot(p, d), (h + 2) % SLOTS);
    /* The middle one leaves: d may not move before its home h+1. */
    CHECK_EQ_I(*c, remove_keys(p->t, &a[2], 1), 1);
    CHECK_EQ_I(*c, slot(p, a[1]), h);
    CHECK_EQ_I(*c, slot(p, d), h1);
    /* Each one still carries its own data after the moves. */
    CHECK_EQ_I(*c, sg_find(p->t, a[1])->slot, mark(a[1]));
    CHECK_EQ_I(*c, sg_find(p->t, d)->slot, mark(d));
    uint64_t rest[2] = {a[1], d};
    CHECK_EQ_I(*c, remove_keys(p->t, rest, 2), 2);
    CHECK_EQ_I(*c, sg_count(p->t), 0);
}

/* A seeded mix of inserts and removals against a plain list. */
static void test_random(check_t *c, probe_t *p)
{
    enum { POOL = 40, OPS = 3000 };
    uint64_t seed = check_seed("test_singers");
    rng_t r;
    rng_seed(&r, seed);
    bool in[POOL + 1] = {false};
    int n = 0, mismatches = 0, refused_wrongly = 0;
    for (int op = 0; op < OPS; op++) {
        uint64_t k = 1 + rng_below(&r, POOL);
        if (!in[k]) {
            sg_t *e = put(p->t, k);
            refused_wrongly += (e == NULL) != (n >= CAP);
            if (e) {
                in[k] = true;
                n++;
            }
        } else {
            remove_keys(p->t, &k, 1);
            in[k] = false;
            n--;
        }
        for (uint64_t q = 1; q <= POOL; q++) {
            sg_t *e = sg_find(p->t, q);
            mismatches += in[q] ? !e || e->userid != q || e->slot != mark(q) : e != NULL;
        }
        mismatches += sg_count(p->t) != (uint32_t)n;
    }
    CHECK_EQ_I(*c, refused_wrongly, 0);
    CHECK_EQ_I(*c, mismatches, 0);
}

int main(void)
{
    CHECK_INIT(c);
    probe_t p;
    find_homes(&c, &p);
    test_basic(&c, &p);
    test_run(&c, &p, 5);              /* inside the table */
    test_run(&c, &p, SLOTS - 2);      /* a run that wraps past the last slot */
    test_run(&c, &p, SLOTS - 1);      /* one whose first key is in the last slot */
    test_random(&c, &p);
    sg_table_destroy(p.t);
    return check_done(&c, "test_singers");
}
