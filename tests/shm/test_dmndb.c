/*
 * test_dmndb.c - the host daemon and a rooms database another process
 * holds.
 *
 * The daemon writes an organiser's new link (or cap) to the database from
 * its tick, which must never stall for long: the rings are a second ahead
 * of the clock.  A room is made in a real database and served by a real
 * host daemon on a simulated clock; then another connection holds the
 * database's write lock (as bb-room does while it writes) while the
 * organiser replaces the singers' link.  Asserted:
 *
 *   - the tick that meets the busy database returns within a second (the
 *     database's own wait is 5 s; the daemon's is 50 ms);
 *   - the change is not lost: nothing changed while the lock is held, the
 *     old link still opens the room; once the lock is gone the change is
 *     written at the daemon's next look at the database, and the host's
 *     directory (what workers check keys against) has the new link only;
 *   - two changes made while busy land in order: the later key wins.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "cmdq.h"
#include "daemon.h"
#include "host.h"
#include "rooms/roomdb.h"
#include "rooms/roomkey.h"
#include "segment.h"

static check_t c = {0, 0};

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    dmn_t *d;
    int64_t now;
    double longest;        /* the longest single tick, wall seconds */
} host_t;

static void tick(host_t *h, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        h->now += 240;
        double t0 = wall();
        dmn_tick(h->d, h->now);
        double dt = wall() - t0;
        if (dt > h->longest)
            h->longest = dt;
    }
}

/* The organiser's command: a new singers' key for the room. */
static void new_key(seg_t *seg, const char *key, int64_t now)
{
    uint8_t hash[HS_HASH_LEN];
    seg_cmd_t m;
    memset(&m, 0, sizeof m);
    m.type = CMD_ROOM_KEY;
    m.role = CMD_ROLE_ORGANISER;
    m.userid = 4242;
    m.clock = now;
    m.a = 0;                                   /* the singers' link */
    rk_hash(key, hash);
    rk_hash_to_hex(hash, m.text);
    cq_push(seg, 1, &m);
}

static hs_role_t role_of(hs_t *hs, const char *id, const char *key)
{
    hs_room_t r;
    return hs_find(hs, id, &r) ? hs_check_key(&r, key) : HS_ROLE_NONE;
}

int main(void)
{
    char dir[] = "/tmp/bb-dmndb-XXXXXX", db_path[128], name[64], seg_name[128], why[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(db_path, sizeof db_path, "%s/rooms.db", dir);
    snprintf(name, sizeof name, "/bbtest-dmndb-%d", (int)getpid());
    hs_unlink_all(name);

    int e;
    char msg[256], id[RK_ID_LEN + 1], skey[RK_KEY_LEN + 1], okey[RK_KEY_LEN + 1];
    rdb_t *db = rdb_open(db_path, &e, msg, sizeof msg);
    CHECK(c, db && rdb_create(db, "Evening", 0, id, skey, okey) == RDB_OK);
    rdb_close(db);

    dmn_config_t cfg;
    dmn_config_defaults(&cfg);
    cfg.segment = name;
    cfg.ring_seconds = 64;
    cfg.user_cap = 16;
    cfg.db_path = db_path;
    cfg.default_room = false;
    cfg.seed = 9;
    dmn_t *d = dmn_create(&cfg, why, sizeof why);
    CHECK(c, d != NULL);
    if (!d) {
        fprintf(stderr, "dmn_create: %s\n", why);
        return check_done(&c, "test_dmndb");
    }
    host_t h = {d, seg_now(), 0};
    tick(&h, 20);
    seg_err_t err;
    hs_t *hs = hs_attach(name, &err);
    hs_room_segment(name, id, seg_name, sizeof seg_name);
    seg_t *seg = hs ? seg_attach(seg_name, &err) : NULL;
    CHECK(c, hs && seg);
    if (!hs || !seg)
        goto out;
    seg_claim_lane(seg, 1, &err);
    CHECK_EQ_I(c, role_of(hs, id, skey), HS_ROLE_SINGER);

    /* Another process holds the write lock. */
    sqlite3 *other = NULL;
    CHECK_EQ_I(c, sqlite3_open(db_path, &other), SQLITE_OK);
    CHECK_EQ_I(c, sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    char k1[RK_KEY_LEN + 1], k2[RK_KEY_LEN + 1];
    rk_key_new(k1);
    rk_key_new(k2);
    new_key(seg, k1, h.now);
    tick(&h, 1200);                            /* the command, and two looks at the database */
    new_key(seg, k2, h.now);
    tick(&h, 1200);
    printf("test_dmndb: with the database held elsewhere, the longest tick took %.0f ms\n", h.longest * 1e3);
    CHECK(c, h.longest < 1.0);
    CHECK_EQ_I(c, role_of(hs, id, skey), HS_ROLE_SINGER);    /* nothing changed yet */
    CHECK_EQ_I(c, role_of(hs, id, k1), HS_ROLE_NONE);

    /* The lock goes; the next look writes both, in order. */
    CHECK_EQ_I(c, sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    tick(&h, 1200);
    CHECK_EQ_I(c, role_of(hs, id, skey), HS_ROLE_NONE);
    CHECK_EQ_I(c, role_of(hs, id, k1), HS_ROLE_NONE);
    CHECK_EQ_I(c, role_of(hs, id, k2), HS_ROLE_SINGER);
    CHECK_EQ_I(c, role_of(hs, id, okey), HS_ROLE_ORGANISER);
    db = rdb_open(db_path, &e, msg, sizeof msg);
    rdb_which_t which;
    CHECK(c, db && rdb_check_key(db, id, k2, &which) == RDB_OK && which == RDB_SINGERS);
    CHECK(c, db && rdb_check_key(db, id, k1, &which) != RDB_OK);
    rdb_close(db);
    printf("test_dmndb: both changes landed in order once the database was free\n");

out:
    if (seg)
        seg_detach(seg);
    if (hs)
        hs_detach(hs);
    dmn_destroy(d);
    hs_unlink_all(name);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done(&c, "test_dmndb");
}
