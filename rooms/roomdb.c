/* roomdb: the operations on a host's rooms, each one transaction.
 *
 * Creating, reading, listing, closing, rekeying, changing, checking the
 * key of, exporting and importing rooms (roomdb.h), over the handle and
 * the one table that rdbhandle.c opens; the JSON of export and import is
 * roomrec.c's.
 *
 * Every change is one transaction begun with BEGIN IMMEDIATE: it takes the
 * write lock before reading, so the checks inside it (the room is open, the
 * host has room for one more) still hold when the change commits, whatever
 * other processes do meanwhile. A failure rolls back, so callers see all of
 * a change or none of it.
 */
#include "roomdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "rdbhandle.h"
#include "roomrec.h"

/* Tries at drawing an unused id: with 2^50 ids and at most a few thousand
 * rooms, a second draw is already rare beyond measure. */
#define ID_TRIES 16

/* The columns every SELECT of whole rooms reads, in read_room()'s order. */
#define ROOM_COLS \
    "id, name, singer_hash, organiser_hash, max_singers, created, closed, key_gen, allow_uploads"

static int max_singers_valid(int n)
{
    return n >= 0 && n <= RDB_MAX_SINGERS;
}

/* Reads the ROOM_COLS of the current row into *out. The schema's CHECKs
 * make every row fit; one that does not (a damaged file) is an error, not
 * a truncated record. */
static int read_room(rdb_t *db, sqlite3_stmt *st, rdb_room_t *out)
{
    const unsigned char *id = sqlite3_column_text(st, 0);
    const unsigned char *name = sqlite3_column_text(st, 1);
    int idlen = sqlite3_column_bytes(st, 0);
    int namelen = sqlite3_column_bytes(st, 1);
    const void *sh = sqlite3_column_blob(st, 2);
    int shlen = sqlite3_column_bytes(st, 2);
    const void *oh = sqlite3_column_blob(st, 3);
    int ohlen = sqlite3_column_bytes(st, 3);

    if (id == NULL || idlen != RK_ID_LEN || name == NULL || namelen < 1 ||
        namelen > RDB_NAME_MAX || sh == NULL || shlen != RK_HASH_LEN || oh == NULL ||
        ohlen != RK_HASH_LEN)
        return rdbh_fail(db, RDB_ERR_SQL, "a stored room record is damaged");
    memset(out, 0, sizeof *out);
    memcpy(out->id, id, RK_ID_LEN);
    memcpy(out->name, name, (size_t)namelen);
    memcpy(out->singer_hash, sh, RK_HASH_LEN);
    memcpy(out->organiser_hash, oh, RK_HASH_LEN);
    out->max_singers = sqlite3_column_int(st, 4);
    out->created = sqlite3_column_int64(st, 5);
    out->closed = sqlite3_column_type(st, 6) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 6);
    out->key_gen = sqlite3_column_int64(st, 7);
    out->allow_uploads = sqlite3_column_int(st, 8) != 0;
    return RDB_OK;
}

/* Checks an id argument; the message names it only when it is an id. */
static int check_id(rdb_t *db, const char *id)
{
    if (!rk_id_valid(id))
        return rdbh_fail(db, RDB_ERR_ARG,
                         "not a room id (10 characters of 0-9, a-z without i l o u)");
    return RDB_OK;
}

/* Whether the room exists and is open: RDB_OK, RDB_ERR_NOT_FOUND or
 * RDB_ERR_CLOSED (with a message), or an SQL error. */
static int room_state(rdb_t *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    int err = rdbh_prepare(db, "SELECT closed IS NULL FROM rooms WHERE id = ?1", &st);
    if (err != RDB_OK)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = sqlite3_column_int(st, 0) ? RDB_OK
                                         : rdbh_fail(db, RDB_ERR_CLOSED, "room %s is closed", id);
    else if (rc == SQLITE_DONE)
        err = rdbh_fail(db, RDB_ERR_NOT_FOUND, "no room %s", id);
    else
        err = rdbh_sql_fail(db, rc, "look up room");
    sqlite3_finalize(st);
    return err;
}

/* Runs sql (an UPDATE of room ?1 with up to two more parameters, bound by
 * the caller through bind) on an open room, in one transaction. */
typedef void (*bind_fn)(sqlite3_stmt *st, const void *arg);

static int update_open_room(rdb_t *db, const char *id, const char *sql, bind_fn bind,
                            const void *arg)
{
    int err = rdbh_begin(db);
    if (err != RDB_OK)
        return err;
    err = room_state(db, id);
    if (err != RDB_OK)
        return rdbh_rollback(db, err);
    sqlite3_stmt *st = NULL;
    err = rdbh_prepare(db, sql, &st);
    if (err != RDB_OK)
        return rdbh_rollback(db, err);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (bind != NULL)
        bind(st, arg);
    int rc = sqlite3_step(st);
    err = rc == SQLITE_DONE ? RDB_OK : rdbh_sql_fail(db, rc, "update room");
    sqlite3_finalize(st);
    if (err != RDB_OK)
        return rdbh_rollback(db, err);
    return rdbh_commit(db);
}

int rdb_count_open(rdb_t *db, int *n)
{
    int64_t v = 0;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (n == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "no output for the count");
    int err = rdbh_query_int(db, "SELECT count(*) FROM rooms WHERE closed IS NULL", &v);
    if (err == RDB_OK)
        *n = (int)v;
    return err;
}

/* Inside a transaction: RDB_ERR_FULL unless there is room for one more. */
static int check_room_for_one(rdb_t *db)
{
    int n = 0;
    int err = rdb_count_open(db, &n);
    if (err != RDB_OK)
        return err;
    if (n >= RDB_MAX_ROOMS)
        return rdbh_fail(db, RDB_ERR_FULL,
                         "this host already holds %d open rooms, the most it takes", n);
    return RDB_OK;
}

static const char insert_sql[] =
    "INSERT INTO rooms (" ROOM_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8)";

/* Binds a room's fields (but the id) to insert_sql. */
static void bind_insert(sqlite3_stmt *st, const rdb_room_t *r)
{
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, r->singer_hash, RK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, r->organiser_hash, RK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, r->max_singers);
    sqlite3_bind_int64(st, 6, r->created);
    sqlite3_bind_int64(st, 7, r->key_gen);
    sqlite3_bind_int(st, 8, r->allow_uploads ? 1 : 0);
}

/* Inserts r, inside a transaction. With drawn set, under a newly drawn id
 * (written into r->id), drawing again while the id is taken; otherwise
 * under r->id as it is, RDB_ERR_EXISTS when a room has it. */
static int insert_room(rdb_t *db, rdb_room_t *r, bool drawn)
{
    sqlite3_stmt *st = NULL;
    int err = rdbh_prepare(db, insert_sql, &st);
    if (err != RDB_OK)
        return err;
    bind_insert(st, r);
    for (int i = 0;; i++) {
        if (i == ID_TRIES) {
            err = rdbh_fail(db, RDB_ERR_SQL, "no unused room id in %d draws", ID_TRIES);
            break;
        }
        int rk = drawn ? rk_id_new(r->id) : RK_OK;
        if (rk != RK_OK) {
            err = rdbh_crypto_fail(db, rk);
            break;
        }
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break; /* err is RDB_OK */
        if (rc != SQLITE_CONSTRAINT_PRIMARYKEY) {
            err = rdbh_sql_fail(db, rc, "insert room");
            break;
        }
        if (!drawn) {
            err = rdbh_fail(db, RDB_ERR_EXISTS, "a room %s exists already (open or closed)", r->id);
            break;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return err;
}

/* rdb_create() (draw: the id is drawn here) and rdb_create_id(). */
static int create_room(rdb_t *db, bool draw, const char *id, const char *name, int max_singers,
                       char *id_out, char *singer_key, char *organiser_key)
{
    rdb_room_t r;
    int err, rk;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (name == NULL || id_out == NULL || singer_key == NULL || organiser_key == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "create: NULL argument");
    id_out[0] = singer_key[0] = organiser_key[0] = '\0';
    if (!draw && (err = check_id(db, id)) != RDB_OK)
        return err;
    if (!rdb_name_valid(name))
        return rdbh_fail(db, RDB_ERR_NAME,
                         "a room name is 1 to %d bytes of UTF-8 text without control characters",
                         RDB_NAME_MAX);
    if (!max_singers_valid(max_singers))
        return rdbh_fail(db, RDB_ERR_MAX_SINGERS,
                         "max singers %d: give 0 for the host's default or 1 to %d", max_singers,
                         RDB_MAX_SINGERS);

    memset(&r, 0, sizeof r);
    if (!draw)
        memcpy(r.id, id, sizeof r.id);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.max_singers = max_singers;
    r.created = rdbh_now();
    r.key_gen = 0;
    r.allow_uploads = true;
    if ((rk = rk_key_new(singer_key)) != RK_OK || (rk = rk_key_new(organiser_key)) != RK_OK ||
        (rk = rk_hash(singer_key, r.singer_hash)) != RK_OK ||
        (rk = rk_hash(organiser_key, r.organiser_hash)) != RK_OK) {
        err = rdbh_crypto_fail(db, rk);
        goto err;
    }

    if ((err = rdbh_begin(db)) != RDB_OK)
        goto err;
    if ((err = check_room_for_one(db)) != RDB_OK ||
        (err = insert_room(db, &r, draw)) != RDB_OK) {
        rdbh_rollback(db, err);
        goto err;
    }
    if ((err = rdbh_commit(db)) != RDB_OK)
        goto err;
    memcpy(id_out, r.id, sizeof r.id);
    return RDB_OK;

err:
    explicit_bzero(singer_key, RK_KEY_LEN + 1);
    explicit_bzero(organiser_key, RK_KEY_LEN + 1);
    return err;
}

int rdb_create(rdb_t *db, const char *name, int max_singers, char *id_out,
               char *singer_key, char *organiser_key)
{
    return create_room(db, true, NULL, name, max_singers, id_out, singer_key, organiser_key);
}

int rdb_create_id(rdb_t *db, const char *id, const char *name, int max_singers, char *id_out,
                  char *singer_key, char *organiser_key)
{
    return create_room(db, false, id, name, max_singers, id_out, singer_key, organiser_key);
}

int rdb_get(rdb_t *db, const char *id, rdb_room_t *out)
{
    sqlite3_stmt *st = NULL;
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (out == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "get: NULL argument");
    if ((err = check_id(db, id)) != RDB_OK)
        return err;
    if ((err = rdbh_prepare(db, "SELECT " ROOM_COLS " FROM rooms WHERE id = ?1", &st)) != RDB_OK)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = read_room(db, st, out);
    else if (rc == SQLITE_DONE)
        err = rdbh_fail(db, RDB_ERR_NOT_FOUND, "no room %s", id);
    else
        err = rdbh_sql_fail(db, rc, "read room");
    sqlite3_finalize(st);
    return err;
}

int rdb_find_name(rdb_t *db, const char *name, rdb_room_t *out, int cap)
{
    sqlite3_stmt *st = NULL;
    int err, n = 0, rc;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (name == NULL || cap < 0 || (out == NULL && cap > 0))
        return rdbh_fail(db, RDB_ERR_ARG, "find by name: NULL argument or negative capacity");
    err = rdbh_prepare(db,
                       "SELECT " ROOM_COLS " FROM rooms WHERE name = ?1 AND closed IS NULL"
                       " ORDER BY created, rowid",
                       &st);
    if (err != RDB_OK)
        return err;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n < cap && (err = read_room(db, st, &out[n])) != RDB_OK)
            break;
        n++;
    }
    if (err == RDB_OK && rc != SQLITE_DONE)
        err = rdbh_sql_fail(db, rc, "find rooms by name");
    sqlite3_finalize(st);
    return err != RDB_OK ? err : n;
}

int rdb_list(rdb_t *db, int include_closed, rdb_room_fn fn, void *user)
{
    sqlite3_stmt *st = NULL;
    int err, rc;
    rdb_room_t r;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (fn == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "list: no callback");
    err = rdbh_prepare(db,
                       include_closed ? "SELECT " ROOM_COLS " FROM rooms ORDER BY created, rowid"
                                      : "SELECT " ROOM_COLS " FROM rooms WHERE closed IS NULL"
                                        " ORDER BY created, rowid",
                       &st);
    if (err != RDB_OK)
        return err;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((err = read_room(db, st, &r)) != RDB_OK)
            break;
        if (fn(user, &r) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (err == RDB_OK && rc != SQLITE_DONE)
        err = rdbh_sql_fail(db, rc, "list rooms");
    sqlite3_finalize(st);
    return err;
}

static void bind_now(sqlite3_stmt *st, const void *arg)
{
    (void)arg;
    sqlite3_bind_int64(st, 2, rdbh_now());
}

int rdb_close_room(rdb_t *db, const char *id)
{
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if ((err = check_id(db, id)) != RDB_OK)
        return err;
    return update_open_room(db, id, "UPDATE rooms SET closed = ?2 WHERE id = ?1", bind_now,
                            NULL);
}

static void bind_hash(sqlite3_stmt *st, const void *arg)
{
    sqlite3_bind_blob(st, 2, arg, RK_HASH_LEN, SQLITE_TRANSIENT);
}

static const char *set_hash_sql(rdb_which_t which)
{
    switch (which) {
    case RDB_SINGERS:
        return "UPDATE rooms SET singer_hash = ?2, key_gen = key_gen + 1 WHERE id = ?1";
    case RDB_ORGANISER:
        return "UPDATE rooms SET organiser_hash = ?2, key_gen = key_gen + 1 WHERE id = ?1";
    default:
        return NULL;
    }
}

int rdb_set_hash(rdb_t *db, const char *id, rdb_which_t which, const uint8_t *hash)
{
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if ((err = check_id(db, id)) != RDB_OK)
        return err;
    if (set_hash_sql(which) == NULL || hash == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "set hash: which key is neither singers nor organiser, "
                                          "or no hash");
    return update_open_room(db, id, set_hash_sql(which), bind_hash, hash);
}

int rdb_rekey(rdb_t *db, const char *id, rdb_which_t which, char *key_out)
{
    uint8_t hash[RK_HASH_LEN];
    int err, rk;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (key_out == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "rekey: no output for the key");
    key_out[0] = '\0';
    if ((err = check_id(db, id)) != RDB_OK)
        return err;
    if (set_hash_sql(which) == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "rekey: which key is neither singers nor organiser");
    if ((rk = rk_key_new(key_out)) != RK_OK || (rk = rk_hash(key_out, hash)) != RK_OK) {
        explicit_bzero(key_out, RK_KEY_LEN + 1);
        return rdbh_crypto_fail(db, rk);
    }
    err = update_open_room(db, id, set_hash_sql(which), bind_hash, hash);
    if (err != RDB_OK)
        explicit_bzero(key_out, RK_KEY_LEN + 1);
    return err;
}

static void bind_int(sqlite3_stmt *st, const void *arg)
{
    sqlite3_bind_int(st, 2, *(const int *)arg);
}

int rdb_set_max_singers(rdb_t *db, const char *id, int max_singers)
{
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if ((err = check_id(db, id)) != RDB_OK)
        return err;
    if (!max_singers_valid(max_singers))
        return rdbh_fail(db, RDB_ERR_MAX_SINGERS,
                         "max singers %d: give 0 for the host's default or 1 to %d", max_singers,
                         RDB_MAX_SINGERS);
    return update_open_room(db, id, "UPDATE rooms SET max_singers = ?2 WHERE id = ?1", bind_int,
                            &max_singers);
}

int rdb_set_allow_uploads(rdb_t *db, const char *id, int allow)
{
    int err, v = allow ? 1 : 0;

    if (db == NULL)
        return RDB_ERR_ARG;
    if ((err = check_id(db, id)) != RDB_OK)
        return err;
    return update_open_room(db, id, "UPDATE rooms SET allow_uploads = ?2 WHERE id = ?1",
                            bind_int, &v);
}

int rdb_check_key(rdb_t *db, const char *id, const char *key, rdb_which_t *which)
{
    rdb_room_t r;
    uint8_t hash[RK_HASH_LEN];
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if ((err = rdb_get(db, id, &r)) != RDB_OK)
        return err;
    if (r.closed != 0)
        return rdbh_fail(db, RDB_ERR_CLOSED, "room %s is closed", id);
    if (!rk_key_valid(key))
        return rdbh_fail(db, RDB_ERR_KEY, "not a room key");
    if ((err = rk_hash(key, hash)) != RK_OK)
        return rdbh_crypto_fail(db, err);
    /* Both comparisons run whatever the first gives. */
    int singers = rk_hash_equal(hash, r.singer_hash);
    int organiser = rk_hash_equal(hash, r.organiser_hash);
    if (!singers && !organiser)
        return rdbh_fail(db, RDB_ERR_KEY, "the key matches neither key of room %s", id);
    if (which != NULL)
        *which = organiser ? RDB_ORGANISER : RDB_SINGERS;
    return RDB_OK;
}

int rdb_data_version(rdb_t *db, uint64_t *out)
{
    int64_t v = 0;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (out == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "data version: no output");
    int err = rdbh_query_int(db, "PRAGMA data_version", &v);
    if (err == RDB_OK)
        *out = (uint64_t)v;
    return err;
}

/* ---- export and import ------------------------------------------------- */

int rdb_export(rdb_t *db, const char *id, char **json_out)
{
    rdb_room_t r;
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (json_out == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "export: no output");
    *json_out = NULL;
    if ((err = rdb_get(db, id, &r)) != RDB_OK)
        return err;
    if (r.closed != 0)
        return rdbh_fail(db, RDB_ERR_CLOSED, "room %s is closed: a closed room is not moved", id);
    if (rrec_print(&r, json_out) != RDB_OK)
        return rdbh_fail(db, RDB_ERR_NOMEM, "export: out of memory");
    return RDB_OK;
}


/* Inside a transaction: stores r as an open room, replacing a closed room
 * of the same id. */
static int store_imported(rdb_t *db, const rdb_room_t *r)
{
    sqlite3_stmt *st = NULL;
    int err = room_state(db, r->id);
    if (err == RDB_OK)
        return rdbh_fail(db, RDB_ERR_EXISTS, "an open room %s exists already", r->id);
    if (err != RDB_ERR_NOT_FOUND && err != RDB_ERR_CLOSED)
        return err;
    int replace = err == RDB_ERR_CLOSED;
    if ((err = check_room_for_one(db)) != RDB_OK)
        return err;
    if (replace) {
        if ((err = rdbh_prepare(db, "DELETE FROM rooms WHERE id = ?1", &st)) != RDB_OK)
            return err;
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return rdbh_sql_fail(db, rc, "replace closed room");
    }
    if ((err = rdbh_prepare(db, insert_sql, &st)) != RDB_OK)
        return err;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    bind_insert(st, r);
    int rc = sqlite3_step(st);
    err = rc == SQLITE_DONE ? RDB_OK : rdbh_sql_fail(db, rc, "insert room");
    sqlite3_finalize(st);
    return err;
}

int rdb_import(rdb_t *db, const char *json, char *id_out)
{
    rdb_room_t r;
    char msg[RDB_MSG_MAX];
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (id_out != NULL)
        id_out[0] = '\0';
    if (json == NULL)
        return rdbh_fail(db, RDB_ERR_ARG, "import: no text");
    if ((err = rrec_parse(json, rdbh_now(), &r, msg, sizeof msg)) != RDB_OK)
        return rdbh_fail(db, err, "%s", msg);

    if ((err = rdbh_begin(db)) != RDB_OK)
        return err;
    if ((err = store_imported(db, &r)) != RDB_OK)
        return rdbh_rollback(db, err);
    if ((err = rdbh_commit(db)) != RDB_OK)
        return err;
    if (id_out != NULL)
        memcpy(id_out, r.id, RK_ID_LEN + 1);
    return RDB_OK;
}
