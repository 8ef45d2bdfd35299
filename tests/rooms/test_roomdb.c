/*
 * test_roomdb.c - the rooms database (rooms/roomdb.h) on real files.
 *
 * Every part of the API against SQLite files in a private temporary
 * directory: create, get, list, find by name, close, rekey, set_hash,
 * set-max, key checks (a closed room's keys stop matching), name rules
 * (bad UTF-8 and control characters refused), the RDB_MAX_ROOMS limit,
 * export -> import into a second file, imports of malformed or duplicate
 * records refused with the database unchanged, data_version moving when
 * another connection writes, files that are not ours refused with a clear
 * message and left untouched, and everything surviving close and reopen.
 * The file itself is read back to show the keys are not in it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "rooms/roomdb.h"
#include "rooms/roomkey.h"

static char dir[256];

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static rdb_t *open_ok(check_t *c, const char *name)
{
    char path[512], msg[RDB_MSG_MAX];
    int err = 12345;
    path_in(path, sizeof path, name);
    rdb_t *db = rdb_open(path, &err, msg, sizeof msg);
    CHECK(*c, db != NULL);
    CHECK_EQ_I(*c, err, RDB_OK);
    if (db == NULL) {
        fprintf(stderr, "rdb_open %s: %s\n", path, msg);
        exit(1);
    }
    return db;
}

/* Reads a whole file into a malloc'd buffer (NULL if missing). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- a snapshot of every row, to show that a refusal changed nothing -- */

typedef struct {
    char text[RDB_MAX_ROOMS * 8 * 256];
    size_t len;
    int count;
} snap_t;

static int snap_room(void *user, const rdb_room_t *r)
{
    snap_t *s = user;
    char sh[RK_HASH_HEX_LEN + 1], oh[RK_HASH_HEX_LEN + 1];
    rk_hash_to_hex(r->singer_hash, sh);
    rk_hash_to_hex(r->organiser_hash, oh);
    int n = snprintf(s->text + s->len, sizeof s->text - s->len,
                     "%s|%s|%s|%s|%d|%lld|%lld|%lld|%d\n", r->id, r->name, sh, oh,
                     r->max_singers, (long long)r->created, (long long)r->closed,
                     (long long)r->key_gen, r->allow_uploads);
    if (n > 0 && (size_t)n < sizeof s->text - s->len)
        s->len += (size_t)n;
    s->count++;
    return 0;
}

static void snapshot(rdb_t *db, snap_t *s)
{
    s->len = 0;
    s->count = 0;
    s->text[0] = '\0';
    if (rdb_list(db, 1, snap_room, s) != RDB_OK)
        s->count = -1;
}

static int same_snap(const snap_t *a, const snap_t *b)
{
    return a->count == b->count && a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static int count_open(rdb_t *db)
{
    int n = -1;
    return rdb_count_open(db, &n) == RDB_OK ? n : -1;
}

/* ---- create, get, keys ------------------------------------------------- */

static void test_create_get(check_t *c)
{
    rdb_t *db = open_ok(c, "basic.db");
    char id[RK_ID_LEN + 1], sk[RK_KEY_LEN + 1], ok[RK_KEY_LEN + 1];
    rdb_room_t r;
    rdb_which_t which = 0;
    uint8_t h[RK_HASH_LEN];
    int64_t t0 = (int64_t)time(NULL);

    CHECK_EQ_I(*c, rdb_create(db, "Tuesday Choir", 0, id, sk, ok), RDB_OK);
    int64_t t1 = (int64_t)time(NULL);
    CHECK(*c, rk_id_valid(id));
    CHECK(*c, rk_key_valid(sk));
    CHECK(*c, rk_key_valid(ok));
    CHECK(*c, strcmp(sk, ok) != 0);

    CHECK_EQ_I(*c, rdb_get(db, id, &r), RDB_OK);
    CHECK(*c, strcmp(r.id, id) == 0);
    CHECK(*c, strcmp(r.name, "Tuesday Choir") == 0);
    CHECK_EQ_I(*c, r.max_singers, 0);
    CHECK(*c, r.created >= t0 && r.created <= t1);
    CHECK_EQ_I(*c, r.closed, 0);
    CHECK_EQ_I(*c, r.key_gen, 0);
    CHECK(*c, r.allow_uploads);
    CHECK_EQ_I(*c, rk_hash(sk, h), RK_OK);
    CHECK(*c, rk_hash_equal(h, r.singer_hash));
    CHECK_EQ_I(*c, rk_hash(ok, h), RK_OK);
    CHECK(*c, rk_hash_equal(h, r.organiser_hash));

    /* The keys open the room as what they are; nothing else does. */
    CHECK_EQ_I(*c, rdb_check_key(db, id, sk, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_SINGERS);
    CHECK_EQ_I(*c, rdb_check_key(db, id, ok, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_ORGANISER);
    char other[RK_KEY_LEN + 1];
    CHECK_EQ_I(*c, rk_key_new(other), RK_OK);
    CHECK_EQ_I(*c, rdb_check_key(db, id, other, &which), RDB_ERR_KEY);
    CHECK_EQ_I(*c, rdb_check_key(db, id, "not a key", &which), RDB_ERR_KEY);
    CHECK_EQ_I(*c, rdb_check_key(db, id, other, &which), RDB_ERR_KEY);
    CHECK(*c, strstr(rdb_errmsg(db), id) != NULL && strstr(rdb_errmsg(db), other) == NULL);
    CHECK_EQ_I(*c, rdb_check_key(db, id, NULL, &which), RDB_ERR_KEY);

    /* A second room with the same name and a limit. */
    char id2[RK_ID_LEN + 1], sk2[RK_KEY_LEN + 1], ok2[RK_KEY_LEN + 1];
    CHECK_EQ_I(*c, rdb_create(db, "Tuesday Choir", 40, id2, sk2, ok2), RDB_OK);
    CHECK(*c, strcmp(id, id2) != 0);
    CHECK_EQ_I(*c, rdb_get(db, id2, &r), RDB_OK);
    CHECK_EQ_I(*c, r.max_singers, 40);
    /* One room's key does not open the other. */
    CHECK_EQ_I(*c, rdb_check_key(db, id2, sk, &which), RDB_ERR_KEY);

    /* max_singers range. */
    CHECK_EQ_I(*c, rdb_create(db, "x", -1, id2, sk2, ok2), RDB_ERR_MAX_SINGERS);
    CHECK_EQ_I(*c, id2[0], '\0');
    CHECK_EQ_I(*c, sk2[0], '\0');
    CHECK_EQ_I(*c, rdb_create(db, "x", RDB_MAX_SINGERS + 1, id2, sk2, ok2), RDB_ERR_MAX_SINGERS);
    CHECK_EQ_I(*c, rdb_create(db, "one", 1, id2, sk2, ok2), RDB_OK);
    CHECK_EQ_I(*c, rdb_create(db, "most", RDB_MAX_SINGERS, id2, sk2, ok2), RDB_OK);
    CHECK_EQ_I(*c, count_open(db), 4);

    /* Arguments. */
    CHECK_EQ_I(*c, rdb_create(db, NULL, 0, id2, sk2, ok2), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rdb_create(db, "x", 0, NULL, sk2, ok2), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rdb_create(NULL, "x", 0, id2, sk2, ok2), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rdb_get(db, "nosuchroom", &r), RDB_ERR_ARG); /* o and u */
    CHECK_EQ_I(*c, rdb_get(db, "0000000000", &r), RDB_ERR_NOT_FOUND);
    CHECK(*c, strstr(rdb_errmsg(db), "0000000000") != NULL);
    CHECK_EQ_I(*c, rdb_get(db, NULL, &r), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rdb_check_key(db, "0000000000", sk, &which), RDB_ERR_NOT_FOUND);
    CHECK_EQ_I(*c, count_open(db), 4);
    rdb_close(db);
}

/* A room under an id the caller drew (bb-room create --front): stored as
 * given, never under an id any room, open or closed, ever had. */
static void test_create_id(check_t *c)
{
    rdb_t *db = open_ok(c, "chosen.db");
    char want[RK_ID_LEN + 1], id[RK_ID_LEN + 1], sk[RK_KEY_LEN + 1], ok[RK_KEY_LEN + 1];
    rdb_room_t r;
    rdb_which_t which = 0;

    CHECK_EQ_I(*c, rk_id_new(want), RK_OK);
    CHECK_EQ_I(*c, rdb_create_id(db, want, "Chosen", 12, id, sk, ok), RDB_OK);
    CHECK(*c, strcmp(id, want) == 0);
    CHECK_EQ_I(*c, rdb_get(db, want, &r), RDB_OK);
    CHECK(*c, strcmp(r.name, "Chosen") == 0);
    CHECK_EQ_I(*c, r.max_singers, 12);
    CHECK_EQ_I(*c, r.closed, 0);
    CHECK(*c, r.allow_uploads);
    CHECK_EQ_I(*c, rdb_check_key(db, want, sk, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_SINGERS);
    CHECK_EQ_I(*c, rdb_check_key(db, want, ok, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_ORGANISER);

    /* Taken while open, and still once closed; nothing changes. */
    char sk2[RK_KEY_LEN + 1], ok2[RK_KEY_LEN + 1];
    CHECK_EQ_I(*c, rdb_create_id(db, want, "Again", 0, id, sk2, ok2), RDB_ERR_EXISTS);
    CHECK(*c, strstr(rdb_errmsg(db), want) != NULL);
    CHECK_EQ_I(*c, id[0], '\0');
    CHECK_EQ_I(*c, sk2[0], '\0');
    CHECK_EQ_I(*c, rdb_close_room(db, want), RDB_OK);
    CHECK_EQ_I(*c, rdb_create_id(db, want, "Again", 0, id, sk2, ok2), RDB_ERR_EXISTS);
    CHECK_EQ_I(*c, rdb_get(db, want, &r), RDB_OK);
    CHECK(*c, strcmp(r.name, "Chosen") == 0 && r.closed != 0);
    CHECK_EQ_I(*c, count_open(db), 0);

    /* Not an id, NULL, a bad name or limit: refused, nothing stored. */
    CHECK_EQ_I(*c, rdb_create_id(db, "nosuchroom", "x", 0, id, sk2, ok2), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rdb_create_id(db, "ABCDEFGHJK", "x", 0, id, sk2, ok2), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rdb_create_id(db, NULL, "x", 0, id, sk2, ok2), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rdb_create_id(NULL, want, "x", 0, id, sk2, ok2), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rk_id_new(want), RK_OK);
    CHECK_EQ_I(*c, rdb_create_id(db, want, "", 0, id, sk2, ok2), RDB_ERR_NAME);
    CHECK_EQ_I(*c, rdb_create_id(db, want, "x", -1, id, sk2, ok2), RDB_ERR_MAX_SINGERS);
    CHECK_EQ_I(*c, rdb_get(db, want, &r), RDB_ERR_NOT_FOUND);
    CHECK_EQ_I(*c, count_open(db), 0);
    rdb_close(db);
}

static void test_names(check_t *c)
{
    static const char *const good[] = {
        "a",
        "Tuesday Choir",
        "Ch\xc5\x93ur de l'\xc3\xa9glise",              /* Chœur de l'église */
        "\xe6\x97\xa5\xe6\x9c\xac\xe3\x81\xae\xe5\x90\x88\xe5\x94\xb1", /* 日本の合唱 */
        "\xf0\x9f\x8e\xb5 singers",                        /* U+1F3B5 */
        "\xf4\x8f\xbf\xbf",                                /* U+10FFFF */
        "\xef\xbf\xbd",                                    /* U+FFFD */
        "\xc2\xa0nbsp",                                    /* U+00A0, past C1 */
        "1234567890123456789012345678901234567890123456789012345678901234", /* 64 */
    };
    static const char *const bad[] = {
        "",
        "12345678901234567890123456789012345678901234567890123456789012345", /* 65 */
        "tab\there",
        "new\nline",
        "cr\r",
        "\x01",
        "esc\x1b[31m",
        "del\x7f",
        "c1 \xc2\x85 next line",   /* U+0085 */
        "c1 \xc2\x9b csi",         /* U+009B */
        "\xc0\xaf",                /* overlong '/' */
        "\xc1\xbf",                /* overlong */
        "\xe0\x80\xaf",            /* overlong, 3 bytes */
        "\xf0\x80\x80\xaf",        /* overlong, 4 bytes */
        "\xed\xa0\x80",            /* surrogate U+D800 */
        "\xed\xbf\xbf",            /* surrogate U+DFFF */
        "\xf4\x90\x80\x80",        /* U+110000 */
        "\xf5\x80\x80\x80",
        "\xe2\x82",                /* truncated */
        "abc\xe2",
        "\x80",                    /* lone continuation */
        "\xff",
        "\xfe",
        "latin1 \xe9t\xe9",
    };
    char n64[RDB_NAME_MAX + 8];
    rdb_t *db = open_ok(c, "names.db");
    char id[RK_ID_LEN + 1], sk[RK_KEY_LEN + 1], ok[RK_KEY_LEN + 1];
    rdb_room_t r;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int e = rdb_create(db, good[i], 0, id, sk, ok);
        CHECK_EQ_I(*c, e, RDB_OK);
        if (e != RDB_OK)
            fprintf(stderr, "good name %zu refused: %s\n", i, rdb_errmsg(db));
        CHECK(*c, rdb_get(db, id, &r) == RDB_OK && strcmp(r.name, good[i]) == 0);
    }
    int before = count_open(db);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int e = rdb_create(db, bad[i], 0, id, sk, ok);
        CHECK_EQ_I(*c, e, RDB_ERR_NAME);
        if (e != RDB_ERR_NAME)
            fprintf(stderr, "bad name %zu accepted\n", i);
        CHECK(*c, !rdb_name_valid(bad[i]));
    }
    CHECK(*c, !rdb_name_valid(NULL));
    CHECK_EQ_I(*c, count_open(db), before);

    /* 64 bytes of two-byte characters fit; one byte more does not, and a
     * character cut by the limit is not a shorter name. */
    for (int i = 0; i < 32; i++)
        memcpy(n64 + 2 * i, "\xc3\xa9", 2);
    n64[64] = '\0';
    CHECK(*c, rdb_name_valid(n64));
    n64[64] = 'a';
    n64[65] = '\0';
    CHECK(*c, !rdb_name_valid(n64));
    memcpy(n64, "a", 1); /* 'a' + 31.5 characters: the last é is cut */
    n64[64] = '\0';
    CHECK(*c, !rdb_name_valid(n64));
    rdb_close(db);
}

/* ---- list, find, close, rekey, set_hash, set-max ----------------------- */

typedef struct {
    int n;
    char ids[8][RK_ID_LEN + 1];
    int closed[8];
    int stop_after;
} listing_t;

static int collect(void *user, const rdb_room_t *r)
{
    listing_t *l = user;
    if (l->n < 8) {
        memcpy(l->ids[l->n], r->id, sizeof r->id);
        l->closed[l->n] = r->closed != 0;
    }
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

static int listed(const listing_t *l, const char *id)
{
    for (int i = 0; i < l->n && i < 8; i++)
        if (strcmp(l->ids[i], id) == 0)
            return 1;
    return 0;
}

static void test_lifecycle(check_t *c)
{
    rdb_t *db = open_ok(c, "life.db");
    char a[RK_ID_LEN + 1], ask[RK_KEY_LEN + 1], aok[RK_KEY_LEN + 1];
    char b[RK_ID_LEN + 1], bsk[RK_KEY_LEN + 1], bok[RK_KEY_LEN + 1];
    char d[RK_ID_LEN + 1], dsk[RK_KEY_LEN + 1], dok[RK_KEY_LEN + 1];
    rdb_room_t r, found[4];
    rdb_which_t which;
    listing_t l;

    CHECK_EQ_I(*c, rdb_create(db, "Altos", 0, a, ask, aok), RDB_OK);
    CHECK_EQ_I(*c, rdb_create(db, "Basses", 12, b, bsk, bok), RDB_OK);
    CHECK_EQ_I(*c, rdb_create(db, "Basses", 0, d, dsk, dok), RDB_OK);

    memset(&l, 0, sizeof l);
    CHECK_EQ_I(*c, rdb_list(db, 0, collect, &l), RDB_OK);
    CHECK_EQ_I(*c, l.n, 3);
    CHECK(*c, listed(&l, a) && listed(&l, b) && listed(&l, d));
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    CHECK_EQ_I(*c, rdb_list(db, 1, collect, &l), RDB_OK);
    CHECK_EQ_I(*c, l.n, 2);
    CHECK_EQ_I(*c, rdb_list(db, 0, NULL, NULL), RDB_ERR_ARG);

    /* Names are shared: all open rooms of the name, oldest first. */
    CHECK_EQ_I(*c, rdb_find_name(db, "Basses", found, 4), 2);
    CHECK(*c, strcmp(found[0].id, b) == 0 && strcmp(found[1].id, d) == 0);
    CHECK_EQ_I(*c, rdb_find_name(db, "Basses", found, 1), 2);
    CHECK_EQ_I(*c, rdb_find_name(db, "Basses", NULL, 0), 2);
    CHECK_EQ_I(*c, rdb_find_name(db, "Altos", found, 4), 1);
    CHECK_EQ_I(*c, rdb_find_name(db, "altos", found, 4), 0);
    CHECK_EQ_I(*c, rdb_find_name(db, "Sopranos", found, 4), 0);
    CHECK_EQ_I(*c, rdb_find_name(db, NULL, found, 4), RDB_ERR_ARG);

    /* set-max */
    CHECK_EQ_I(*c, rdb_set_max_singers(db, b, 30), RDB_OK);
    CHECK(*c, rdb_get(db, b, &r) == RDB_OK && r.max_singers == 30);
    CHECK_EQ_I(*c, rdb_set_max_singers(db, b, 0), RDB_OK);
    CHECK(*c, rdb_get(db, b, &r) == RDB_OK && r.max_singers == 0);
    CHECK_EQ_I(*c, rdb_set_max_singers(db, b, RDB_MAX_SINGERS + 1), RDB_ERR_MAX_SINGERS);
    CHECK_EQ_I(*c, rdb_set_max_singers(db, b, -5), RDB_ERR_MAX_SINGERS);
    CHECK(*c, rdb_get(db, b, &r) == RDB_OK && r.max_singers == 0);
    CHECK_EQ_I(*c, rdb_set_max_singers(db, "0000000000", 5), RDB_ERR_NOT_FOUND);

    /* uploads */
    CHECK_EQ_I(*c, rdb_set_allow_uploads(db, b, 0), RDB_OK);
    CHECK(*c, rdb_get(db, b, &r) == RDB_OK && !r.allow_uploads);
    CHECK_EQ_I(*c, rdb_set_allow_uploads(db, b, 1), RDB_OK);
    CHECK(*c, rdb_get(db, b, &r) == RDB_OK && r.allow_uploads);

    /* rekey: the old key stops, the new one works, the other key stays. */
    char nk[RK_KEY_LEN + 1];
    CHECK_EQ_I(*c, rdb_rekey(db, a, RDB_SINGERS, nk), RDB_OK);
    CHECK(*c, rk_key_valid(nk) && strcmp(nk, ask) != 0);
    CHECK_EQ_I(*c, rdb_check_key(db, a, ask, &which), RDB_ERR_KEY);
    CHECK_EQ_I(*c, rdb_check_key(db, a, nk, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_SINGERS);
    CHECK_EQ_I(*c, rdb_check_key(db, a, aok, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_ORGANISER);
    CHECK(*c, rdb_get(db, a, &r) == RDB_OK && r.key_gen == 1);
    char nok[RK_KEY_LEN + 1];
    CHECK_EQ_I(*c, rdb_rekey(db, a, RDB_ORGANISER, nok), RDB_OK);
    CHECK_EQ_I(*c, rdb_check_key(db, a, aok, &which), RDB_ERR_KEY);
    CHECK_EQ_I(*c, rdb_check_key(db, a, nok, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_ORGANISER);
    CHECK_EQ_I(*c, rdb_check_key(db, a, nk, &which), RDB_OK);
    CHECK(*c, rdb_get(db, a, &r) == RDB_OK && r.key_gen == 2);
    char a_singers[RK_KEY_LEN + 1];
    memcpy(a_singers, nk, sizeof nk);
    CHECK_EQ_I(*c, rdb_rekey(db, a, (rdb_which_t)3, nk), RDB_ERR_ARG);
    CHECK_EQ_I(*c, nk[0], '\0');
    CHECK_EQ_I(*c, rdb_rekey(db, "0000000000", RDB_SINGERS, nk), RDB_ERR_NOT_FOUND);
    CHECK_EQ_I(*c, nk[0], '\0');
    CHECK(*c, rdb_get(db, a, &r) == RDB_OK && r.key_gen == 2);

    /* set_hash: a hash made elsewhere (as a worker would). */
    char wk[RK_KEY_LEN + 1];
    uint8_t wh[RK_HASH_LEN];
    CHECK_EQ_I(*c, rk_key_new(wk), RK_OK);
    CHECK_EQ_I(*c, rk_hash(wk, wh), RK_OK);
    CHECK_EQ_I(*c, rdb_set_hash(db, d, RDB_SINGERS, wh), RDB_OK);
    CHECK_EQ_I(*c, rdb_check_key(db, d, wk, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_SINGERS);
    CHECK_EQ_I(*c, rdb_check_key(db, d, dsk, &which), RDB_ERR_KEY);
    CHECK(*c, rdb_get(db, d, &r) == RDB_OK && r.key_gen == 1 &&
                  memcmp(r.singer_hash, wh, RK_HASH_LEN) == 0);
    CHECK_EQ_I(*c, rdb_set_hash(db, d, RDB_ORGANISER, wh), RDB_OK);
    CHECK(*c, rdb_get(db, d, &r) == RDB_OK && r.key_gen == 2 &&
                  memcmp(r.organiser_hash, wh, RK_HASH_LEN) == 0);
    CHECK_EQ_I(*c, rdb_set_hash(db, d, (rdb_which_t)0, wh), RDB_ERR_ARG);
    CHECK_EQ_I(*c, rdb_set_hash(db, d, RDB_SINGERS, NULL), RDB_ERR_ARG);
    CHECK(*c, rdb_get(db, d, &r) == RDB_OK && r.key_gen == 2);

    /* close: the keys stop, the record stays, nothing changes it. */
    int64_t t0 = (int64_t)time(NULL);
    CHECK_EQ_I(*c, rdb_check_key(db, b, bsk, &which), RDB_OK);
    CHECK_EQ_I(*c, rdb_close_room(db, b), RDB_OK);
    CHECK_EQ_I(*c, rdb_check_key(db, b, bsk, &which), RDB_ERR_CLOSED);
    CHECK_EQ_I(*c, rdb_check_key(db, b, bok, &which), RDB_ERR_CLOSED);
    CHECK_EQ_I(*c, rdb_get(db, b, &r), RDB_OK);
    CHECK(*c, r.closed >= t0 && r.closed <= (int64_t)time(NULL));
    CHECK_EQ_I(*c, rdb_close_room(db, b), RDB_ERR_CLOSED);
    CHECK_EQ_I(*c, rdb_rekey(db, b, RDB_SINGERS, nk), RDB_ERR_CLOSED);
    CHECK_EQ_I(*c, nk[0], '\0');
    CHECK_EQ_I(*c, rdb_set_hash(db, b, RDB_SINGERS, wh), RDB_ERR_CLOSED);
    CHECK_EQ_I(*c, rdb_set_max_singers(db, b, 5), RDB_ERR_CLOSED);
    CHECK_EQ_I(*c, rdb_set_allow_uploads(db, b, 0), RDB_ERR_CLOSED);
    char *json = (char *)1;
    CHECK_EQ_I(*c, rdb_export(db, b, &json), RDB_ERR_CLOSED);
    CHECK(*c, json == NULL);
    rdb_room_t after;
    CHECK(*c, rdb_get(db, b, &after) == RDB_OK && memcmp(&r, &after, sizeof r) == 0);
    CHECK_EQ_I(*c, rdb_close_room(db, "0000000000"), RDB_ERR_NOT_FOUND);
    CHECK_EQ_I(*c, rdb_close_room(db, "bad"), RDB_ERR_ARG);

    CHECK_EQ_I(*c, rdb_find_name(db, "Basses", found, 4), 1);
    CHECK(*c, strcmp(found[0].id, d) == 0);
    memset(&l, 0, sizeof l);
    CHECK_EQ_I(*c, rdb_list(db, 0, collect, &l), RDB_OK);
    CHECK(*c, l.n == 2 && !listed(&l, b));
    memset(&l, 0, sizeof l);
    CHECK_EQ_I(*c, rdb_list(db, 1, collect, &l), RDB_OK);
    CHECK(*c, l.n == 3 && listed(&l, b));
    CHECK_EQ_I(*c, count_open(db), 2);
    rdb_close(db);

    /* Survives close and reopen: the same records, the same keys. */
    db = open_ok(c, "life.db");
    CHECK_EQ_I(*c, count_open(db), 2);
    CHECK(*c, rdb_get(db, b, &after) == RDB_OK && memcmp(&r, &after, sizeof r) == 0);
    CHECK_EQ_I(*c, rdb_check_key(db, a, a_singers, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_SINGERS);
    CHECK_EQ_I(*c, rdb_check_key(db, a, nok, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_ORGANISER);
    CHECK_EQ_I(*c, rdb_check_key(db, d, wk, &which), RDB_OK);
    CHECK_EQ_I(*c, rdb_check_key(db, b, bsk, &which), RDB_ERR_CLOSED);
    rdb_close(db);

    /* The keys are nowhere in the file; their hashes are. */
    char path[512];
    size_t len = 0;
    path_in(path, sizeof path, "life.db");
    char *bytes = slurp(path, &len);
    CHECK(*c, bytes != NULL && len > 0);
    if (bytes != NULL) {
        CHECK(*c, memmem(bytes, len, aok, RK_KEY_LEN) == NULL);
        CHECK(*c, memmem(bytes, len, nok, RK_KEY_LEN) == NULL);
        CHECK(*c, memmem(bytes, len, a_singers, RK_KEY_LEN) == NULL);
        CHECK(*c, memmem(bytes, len, dok, RK_KEY_LEN) == NULL);
        CHECK(*c, memmem(bytes, len, wk, RK_KEY_LEN) == NULL);
        CHECK(*c, memmem(bytes, len, wh, RK_HASH_LEN) != NULL);
    }
    free(bytes);
}

/* ---- the limit --------------------------------------------------------- */

static void test_limit(check_t *c)
{
    rdb_t *db = open_ok(c, "limit.db");
    char id[RK_ID_LEN + 1], sk[RK_KEY_LEN + 1], ok[RK_KEY_LEN + 1];
    char first[RK_ID_LEN + 1] = "";
    char *json = NULL;
    snap_t *s1 = malloc(sizeof *s1), *s2 = malloc(sizeof *s2);
    int created = 0;

    for (int i = 0; i < RDB_MAX_ROOMS; i++) {
        char name[32];
        snprintf(name, sizeof name, "room %d", i);
        if (rdb_create(db, name, 0, id, sk, ok) == RDB_OK)
            created++;
        if (i == 0)
            memcpy(first, id, sizeof id);
    }
    CHECK_EQ_I(*c, created, RDB_MAX_ROOMS);
    CHECK_EQ_I(*c, count_open(db), RDB_MAX_ROOMS);
    CHECK_EQ_I(*c, rdb_export(db, first, &json), RDB_OK);

    snapshot(db, s1);
    CHECK_EQ_I(*c, rdb_create(db, "one too many", 0, id, sk, ok), RDB_ERR_FULL);
    char most[32];
    snprintf(most, sizeof most, "%d open rooms", RDB_MAX_ROOMS);
    CHECK(*c, strstr(rdb_errmsg(db), most) != NULL);
    CHECK_EQ_I(*c, id[0], '\0');
    CHECK_EQ_I(*c, sk[0], '\0');
    snapshot(db, s2);
    CHECK(*c, same_snap(s1, s2) && s2->count == RDB_MAX_ROOMS);
    /* An import counts too: close the room, then fill its place. */
    CHECK_EQ_I(*c, rdb_close_room(db, first), RDB_OK);
    CHECK_EQ_I(*c, rdb_create(db, "in its place", 0, id, sk, ok), RDB_OK);
    snapshot(db, s1);
    CHECK_EQ_I(*c, rdb_import(db, json, NULL), RDB_ERR_FULL);
    snapshot(db, s2);
    CHECK(*c, same_snap(s1, s2));
    /* Closing one makes room for the import (which replaces the closed
     * record of the same id). */
    CHECK_EQ_I(*c, rdb_close_room(db, id), RDB_OK);
    char got[RK_ID_LEN + 1];
    CHECK_EQ_I(*c, rdb_import(db, json, got), RDB_OK);
    CHECK(*c, strcmp(got, first) == 0);
    CHECK_EQ_I(*c, count_open(db), RDB_MAX_ROOMS);
    rdb_room_t r;
    CHECK(*c, rdb_get(db, first, &r) == RDB_OK && r.closed == 0);
    free(json);
    free(s1);
    free(s2);
    rdb_close(db);
}

/* ---- export and import ------------------------------------------------- */

/* A record as text, with one field left out, one field's value replaced
 * and extra text after the last field, for the refusals. */
typedef struct {
    const char *skip;
    const char *field;
    const char *value;
    const char *extra;
    int unnamed; /* refused before the field is known: not named */
} edit_t;

static const char *const rec_fields[] = {"version", "id", "name", "singer_hash",
                                         "organiser_hash", "max_singers", "created",
                                         "allow_uploads", "key_gen"};

static void make_record(char *out, size_t cap, const char *const values[9], const edit_t *e)
{
    size_t o = 0;
    int first = 1;
    o += (size_t)snprintf(out + o, cap - o, "{");
    for (int i = 0; i < 9; i++) {
        if (e->skip && strcmp(e->skip, rec_fields[i]) == 0)
            continue;
        const char *v = (e->field && strcmp(e->field, rec_fields[i]) == 0) ? e->value : values[i];
        o += (size_t)snprintf(out + o, cap - o, "%s\"%s\":%s", first ? "" : ",", rec_fields[i], v);
        first = 0;
    }
    snprintf(out + o, cap - o, "%s}", e->extra ? e->extra : "");
}

static void test_export_import(check_t *c)
{
    rdb_t *src = open_ok(c, "src.db");
    rdb_t *dst = open_ok(c, "dst.db");
    char id[RK_ID_LEN + 1], sk[RK_KEY_LEN + 1], ok[RK_KEY_LEN + 1], nk[RK_KEY_LEN + 1];
    char got[RK_ID_LEN + 1];
    rdb_room_t r1, r2;
    rdb_which_t which;
    char *json = NULL;
    snap_t *s1 = malloc(sizeof *s1), *s2 = malloc(sizeof *s2);

    CHECK_EQ_I(*c, rdb_create(src, "Sopranos \xe2\x99\xaa \"quoted\" \\ slash", 25, id, sk, ok),
               RDB_OK);
    CHECK_EQ_I(*c, rdb_rekey(src, id, RDB_SINGERS, nk), RDB_OK);
    CHECK_EQ_I(*c, rdb_set_allow_uploads(src, id, 0), RDB_OK);
    CHECK_EQ_I(*c, rdb_get(src, id, &r1), RDB_OK);
    CHECK_EQ_I(*c, rdb_export(src, id, &json), RDB_OK);
    CHECK(*c, json != NULL && strchr(json, '\n') == NULL);
    if (json == NULL)
        exit(1);
    /* The keys are not in the export; their hashes are. */
    char hex[RK_HASH_HEX_LEN + 1];
    CHECK(*c, strstr(json, sk) == NULL && strstr(json, nk) == NULL && strstr(json, ok) == NULL);
    rk_hash_to_hex(r1.organiser_hash, hex);
    CHECK(*c, strstr(json, hex) != NULL);

    /* Round trip into another database: the same record, the same links. */
    CHECK_EQ_I(*c, rdb_import(dst, json, got), RDB_OK);
    CHECK(*c, strcmp(got, id) == 0);
    CHECK_EQ_I(*c, rdb_get(dst, id, &r2), RDB_OK);
    CHECK(*c, memcmp(&r1, &r2, sizeof r1) == 0);
    CHECK(*c, strcmp(r2.name, r1.name) == 0 && r2.max_singers == 25 && !r2.allow_uploads &&
                  r2.key_gen == 1 && r2.created == r1.created && r2.closed == 0);
    CHECK_EQ_I(*c, rdb_check_key(dst, id, nk, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_SINGERS);
    CHECK_EQ_I(*c, rdb_check_key(dst, id, ok, &which), RDB_OK);
    CHECK_EQ_I(*c, which, RDB_ORGANISER);
    CHECK_EQ_I(*c, rdb_check_key(dst, id, sk, &which), RDB_ERR_KEY);
    char *json2 = NULL;
    CHECK_EQ_I(*c, rdb_export(dst, id, &json2), RDB_OK);
    CHECK(*c, json2 != NULL && strcmp(json, json2) == 0);
    free(json2);

    /* A duplicate of an open room is refused, on either side. */
    snapshot(dst, s1);
    CHECK_EQ_I(*c, rdb_import(dst, json, got), RDB_ERR_EXISTS);
    CHECK(*c, strstr(rdb_errmsg(dst), id) != NULL);
    CHECK_EQ_I(*c, got[0], '\0');
    snapshot(dst, s2);
    CHECK(*c, same_snap(s1, s2));
    CHECK_EQ_I(*c, rdb_import(src, json, NULL), RDB_ERR_EXISTS);

    /* Moving back: the source closed the room; importing it there again
     * replaces the closed record with the open one. */
    CHECK_EQ_I(*c, rdb_close_room(src, id), RDB_OK);
    CHECK_EQ_I(*c, rdb_import(src, json, NULL), RDB_OK);
    CHECK(*c, rdb_get(src, id, &r2) == RDB_OK && r2.closed == 0 &&
                  memcmp(&r1, &r2, sizeof r1) == 0);

    /* Refusals: each leaves dst exactly as it was. */
    char idq[RK_ID_LEN + 3], sh[RK_HASH_HEX_LEN + 3], oh[RK_HASH_HEX_LEN + 3];
    snprintf(idq, sizeof idq, "\"%s\"", "abcdefghjk"); /* a new id: only the edit is wrong */
    rk_hash_to_hex(r1.singer_hash, hex);
    snprintf(sh, sizeof sh, "\"%s\"", hex);
    rk_hash_to_hex(r1.organiser_hash, hex);
    snprintf(oh, sizeof oh, "\"%s\"", hex);
    const char *values[9] = {"1", idq, "\"Tenors\"", sh, oh, "0", "1700000000", "true", "3"};
    char far_future[32];
    snprintf(far_future, sizeof far_future, "%lld", (long long)time(NULL) + 3 * 86400);
    static const char *const not_json[] = {
        "", " ", "{", "}", "[]", "null", "42", "\"room\"", "{\"id\":}", "{'id':'x'}",
        "{\"version\":1,}",
    };
    const edit_t edits[] = {
        {.skip = "version"}, {.skip = "id"}, {.skip = "name"}, {.skip = "singer_hash"},
        {.skip = "organiser_hash"}, {.skip = "max_singers"}, {.skip = "created"},
        {.skip = "allow_uploads"}, {.skip = "key_gen"},
        {.extra = ",\"closed\":null"},        /* unknown field */
        {.extra = ",\"name\":\"Tenors\""},   /* repeated field */
        {.extra = ",\"\":1"},
        {.field = "version", .value = "2"},
        {.field = "version", .value = "\"1\""},
        {.field = "id", .value = "\"ABCDEFGHJK\""},
        {.field = "id", .value = "\"abcdefghji\""},
        {.field = "id", .value = "\"abcdefghj\""},
        {.field = "id", .value = "7"},
        {.field = "id", .value = "null"},
        {.field = "name", .value = "\"\""},
        {.field = "name", .value = "\"tab\\there\""},
        {.field = "name", .value = "\"nul\\u0000cut\"", .unnamed = 1},
        {.field = "name", .value = "\"c1\\u0085\""},
        {.field = "name", .value = "\"surrogate\\ud800\"", .unnamed = 1},
        {.field = "name", .value = "\"\xff\""},
        {.field = "name",
         .value = "\"12345678901234567890123456789012345678901234567890123456789012345\""},
        {.field = "name", .value = "[\"Tenors\"]"},
        {.field = "singer_hash", .value = "\"00\""},
        {.field = "singer_hash",
         .value = "\"000000000000000000000000000000000000000000000000000000000000000g\""},
        {.field = "organiser_hash",
         .value = "\"00000000000000000000000000000000000000000000000000000000000000000\""},
        {.field = "organiser_hash", .value = "0"},
        {.field = "max_singers", .value = "-1"},
        {.field = "max_singers", .value = "10001"},
        {.field = "max_singers", .value = "1.5"},
        {.field = "max_singers", .value = "\"5\""},
        {.field = "max_singers", .value = "1e999"},
        {.field = "created", .value = "0"},
        {.field = "created", .value = "-1"},
        {.field = "created", .value = far_future},
        {.field = "created", .value = "1e300"},
        {.field = "created", .value = "null"},
        {.field = "allow_uploads", .value = "1"},
        {.field = "allow_uploads", .value = "\"true\""},
        {.field = "key_gen", .value = "-1"},
        {.field = "key_gen", .value = "1152921504606846976"}, /* 2^60 */
        {.field = "key_gen", .value = "0.5"},
    };
    char buf[1024];
    snapshot(dst, s1);
    for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++) {
        int e = rdb_import(dst, not_json[i], got);
        CHECK_EQ_I(*c, e, RDB_ERR_JSON);
        CHECK(*c, strlen(rdb_errmsg(dst)) > 0);
    }
    CHECK_EQ_I(*c, rdb_import(dst, NULL, got), RDB_ERR_ARG);
    /* Trailing text after the object. */
    snprintf(buf, sizeof buf, "%s x", json);
    CHECK_EQ_I(*c, rdb_import(dst, buf, got), RDB_ERR_JSON);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        make_record(buf, sizeof buf, values, &edits[i]);
        int e = rdb_import(dst, buf, got);
        CHECK_EQ_I(*c, e, RDB_ERR_JSON);
        if (e != RDB_ERR_JSON)
            fprintf(stderr, "accepted: %s\n", buf);
        /* The message names the field at fault. */
        const char *f = edits[i].unnamed ? NULL : edits[i].skip ? edits[i].skip : edits[i].field;
        if (f != NULL && strstr(rdb_errmsg(dst), f) == NULL)
            fprintf(stderr, "message for %s: %s\n", buf, rdb_errmsg(dst));
        CHECK(*c, f == NULL || strstr(rdb_errmsg(dst), f) != NULL);
        CHECK_EQ_I(*c, got[0], '\0');
    }
    snapshot(dst, s2);
    CHECK(*c, same_snap(s1, s2));

    /* The unedited record is fine, as are an escaped backslash before
     * "u0000" and a clock a little ahead. */
    edit_t none = {0};
    make_record(buf, sizeof buf, values, &none);
    CHECK_EQ_I(*c, rdb_import(dst, buf, got), RDB_OK);
    CHECK(*c, strcmp(got, "abcdefghjk") == 0);
    CHECK(*c, rdb_get(dst, got, &r2) == RDB_OK && strcmp(r2.name, "Tenors") == 0 &&
                  r2.created == 1700000000 && r2.key_gen == 3 && r2.allow_uploads);
    values[1] = "\"abcdefghjm\"";
    char soon[32];
    snprintf(soon, sizeof soon, "%lld", (long long)time(NULL) + 3600);
    edit_t name_edit = {.field = "name", .value = "\"back\\\\u0000slash\""};
    make_record(buf, sizeof buf, values, &name_edit);
    CHECK_EQ_I(*c, rdb_import(dst, buf, got), RDB_OK);
    CHECK(*c, rdb_get(dst, got, &r2) == RDB_OK && strcmp(r2.name, "back\\u0000slash") == 0);
    values[1] = "\"abcdefghjn\"";
    edit_t soon_edit = {.field = "created", .value = soon};
    make_record(buf, sizeof buf, values, &soon_edit);
    CHECK_EQ_I(*c, rdb_import(dst, buf, got), RDB_OK);
    /* Whitespace as a person might format it. */
    values[1] = "\"abcdefghjp\"";
    make_record(buf, sizeof buf, values, &none);
    char spaced[1100];
    size_t o = 0;
    for (const char *p = buf; *p && o + 3 < sizeof spaced; p++) {
        spaced[o++] = *p;
        if (*p == ',' || *p == '{')
            spaced[o++] = '\n';
    }
    spaced[o] = '\0';
    CHECK_EQ_I(*c, rdb_import(dst, spaced, got), RDB_OK);

    free(json);
    free(s1);
    free(s2);
    rdb_close(src);
    rdb_close(dst);
}

/* ---- two connections --------------------------------------------------- */

static void test_data_version(check_t *c)
{
    rdb_t *a = open_ok(c, "shared.db");
    rdb_t *b = open_ok(c, "shared.db");
    char id[RK_ID_LEN + 1], sk[RK_KEY_LEN + 1], ok[RK_KEY_LEN + 1];
    uint64_t v0 = 0, v1 = 0, v2 = 0, v3 = 0;
    rdb_room_t r;

    CHECK_EQ_I(*c, rdb_data_version(a, &v0), RDB_OK);
    CHECK_EQ_I(*c, rdb_data_version(a, &v1), RDB_OK);
    CHECK(*c, v0 == v1);
    /* a's own change does not move a's number... */
    CHECK_EQ_I(*c, rdb_create(a, "mine", 0, id, sk, ok), RDB_OK);
    CHECK_EQ_I(*c, rdb_data_version(a, &v1), RDB_OK);
    CHECK(*c, v0 == v1);
    /* ...another connection's does, and a then sees it. */
    CHECK_EQ_I(*c, rdb_data_version(b, &v2), RDB_OK);
    CHECK_EQ_I(*c, rdb_close_room(b, id), RDB_OK);
    CHECK_EQ_I(*c, rdb_data_version(a, &v2), RDB_OK);
    CHECK(*c, v2 != v1);
    CHECK(*c, rdb_get(a, id, &r) == RDB_OK && r.closed != 0);
    CHECK_EQ_I(*c, rdb_data_version(a, &v3), RDB_OK);
    CHECK(*c, v3 == v2);
    CHECK_EQ_I(*c, rdb_data_version(a, NULL), RDB_ERR_ARG);
    rdb_close(a);
    rdb_close(b);
}

/* ---- files that are not ours ------------------------------------------- */

static void test_not_ours(check_t *c)
{
    char path[512], msg[RDB_MSG_MAX];
    int err = 0;
    size_t len = 0;

    /* A text file. */
    path_in(path, sizeof path, "notes.txt");
    const char *text = "These are my notes, not a database.\n";
    write_file(path, text);
    CHECK(*c, rdb_open(path, &err, msg, sizeof msg) == NULL);
    CHECK_EQ_I(*c, err, RDB_ERR_NOT_OURS);
    CHECK(*c, strstr(msg, path) != NULL && strstr(msg, "not a rooms database") != NULL);
    char *back = slurp(path, &len);
    CHECK(*c, back != NULL && len == strlen(text) && memcmp(back, text, len) == 0);
    free(back);

    /* Another program's SQLite database. */
    path_in(path, sizeof path, "other.sqlite");
    sqlite3 *h = NULL;
    CHECK_EQ_I(*c, sqlite3_open(path, &h), SQLITE_OK);
    CHECK_EQ_I(*c, sqlite3_exec(h, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL,
                                NULL),
               SQLITE_OK);
    sqlite3_close(h);
    struct stat st0, st1;
    CHECK_EQ_I(*c, stat(path, &st0), 0);
    CHECK(*c, rdb_open(path, &err, msg, sizeof msg) == NULL);
    CHECK_EQ_I(*c, err, RDB_ERR_NOT_OURS);
    CHECK(*c, strstr(msg, "another program") != NULL);
    CHECK_EQ_I(*c, stat(path, &st1), 0);
    CHECK(*c, st0.st_size == st1.st_size && st0.st_mtime == st1.st_mtime);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", path);
    CHECK(*c, access(wal, F_OK) != 0); /* not switched to WAL */

    /* Ours, but a newer schema. */
    rdb_t *db = open_ok(c, "future.db");
    rdb_close(db);
    path_in(path, sizeof path, "future.db");
    CHECK_EQ_I(*c, sqlite3_open(path, &h), SQLITE_OK);
    CHECK_EQ_I(*c, sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    CHECK(*c, rdb_open(path, &err, msg, sizeof msg) == NULL);
    CHECK_EQ_I(*c, err, RDB_ERR_NOT_OURS);
    CHECK(*c, strstr(msg, "newer") != NULL && strstr(msg, "99") != NULL);

    /* A file we made is set up as promised. */
    path_in(path, sizeof path, "basic.db");
    CHECK_EQ_I(*c, sqlite3_open(path, &h), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK_EQ_I(*c, sqlite3_prepare_v2(h, "SELECT * FROM pragma_journal_mode, pragma_user_version,"
                                         " pragma_application_id", -1, &q, NULL),
               SQLITE_OK);
    CHECK_EQ_I(*c, sqlite3_step(q), SQLITE_ROW);
    CHECK(*c, strcmp((const char *)sqlite3_column_text(q, 0), "wal") == 0);
    CHECK_EQ_I(*c, sqlite3_column_int(q, 1), RDB_SCHEMA_VERSION);
    CHECK_EQ_I(*c, sqlite3_column_int(q, 2), RDB_APP_ID);
    sqlite3_finalize(q);
    sqlite3_close(h);

    /* An empty file becomes a rooms database; a missing directory fails. */
    path_in(path, sizeof path, "empty.db");
    write_file(path, "");
    db = open_ok(c, "empty.db");
    CHECK_EQ_I(*c, count_open(db), 0);
    rdb_close(db);
    path_in(path, sizeof path, "no/such/dir/rooms.db");
    CHECK(*c, rdb_open(path, &err, msg, sizeof msg) == NULL);
    CHECK_EQ_I(*c, err, RDB_ERR_SQL);
    CHECK(*c, strstr(msg, path) != NULL);
    CHECK(*c, rdb_open(NULL, &err, msg, sizeof msg) == NULL);
    CHECK_EQ_I(*c, err, RDB_ERR_ARG);
    CHECK(*c, rdb_open(NULL, NULL, NULL, 0) == NULL);

    /* In memory, for tests and fuzzing. */
    db = rdb_open(":memory:", &err, msg, sizeof msg);
    CHECK(*c, db != NULL);
    char id[RK_ID_LEN + 1], sk[RK_KEY_LEN + 1], ok[RK_KEY_LEN + 1];
    CHECK_EQ_I(*c, rdb_create(db, "ephemeral", 0, id, sk, ok), RDB_OK);
    rdb_close(db);

    rdb_close(NULL);
    CHECK(*c, rdb_errmsg(NULL) != NULL);
    for (int e = 0; e >= -15; e--)
        CHECK(*c, rdb_strerror(e) != NULL && strlen(rdb_strerror(e)) > 0);
}

/* Removes the temporary directory and everything in it. */
static void cleanup(void)
{
    char cmd[600];
    if (dir[0] == '\0' || getenv("BB_KEEP_TMP") != NULL)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    CHECK_INIT(c);
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/bbroomdb.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);

    test_create_get(&c);
    test_create_id(&c);
    test_names(&c);
    test_lifecycle(&c);
    test_limit(&c);
    test_export_import(&c);
    test_data_version(&c);
    test_not_ours(&c);
    return check_done(&c, "test_roomdb");
}
