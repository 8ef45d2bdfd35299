/* roomdb: the rooms table in SQLite, and the JSON a room moves in.
 *
 * One table, rooms, one row per room ever created on this host (see the
 * schema below). Its CHECK constraints repeat the rules this file enforces
 * (id and hash lengths, name length, the max_singers range, closed either
 * NULL or a time), so a row that a hand-edit or a bug made invalid is
 * refused by SQLite itself instead of surfacing later in a worker. Open
 * rooms are those with closed IS NULL; a partial index on their names
 * serves rdb_find_name().
 *
 * Every change is one transaction begun with BEGIN IMMEDIATE: it takes the
 * write lock before reading, so the checks inside it (the room is open, the
 * host has room for one more) still hold when the change commits, whatever
 * other processes do meanwhile. A failure rolls back, so callers see all of
 * a change or none of it.
 *
 * Statements are prepared per call: the database is written by an
 * operator and read by the daemon when it changes, a few times a minute at
 * most, and a handle without cached statements has nothing to go stale.
 */
#include "roomdb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

struct rdb {
    sqlite3 *h;
    char msg[RDB_MSG_MAX];
};

#define XSTR(x) STR(x)
#define STR(x) #x

#define BUSY_TIMEOUT_MS 5000
/* Tries at drawing an unused id: with 2^50 ids and at most a few thousand
 * rooms, a second draw is already rare beyond measure. */
#define ID_TRIES 16
/* How far ahead of this host's clock an imported room's creation time may
 * lie (the clocks of two hosts differ). */
#define IMPORT_CLOCK_SLACK 86400
/* The largest integer JSON carries exactly (a double's 53 bits). */
#define JSON_INT_MAX 9007199254740992.0

static const char schema_sql[] =
    "CREATE TABLE rooms ("
    " id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = " XSTR(RK_ID_LEN) "),"
    " name TEXT NOT NULL"
    "  CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND " XSTR(RDB_NAME_MAX) "),"
    " singer_hash BLOB NOT NULL CHECK (length(singer_hash) = " XSTR(RK_HASH_LEN) "),"
    " organiser_hash BLOB NOT NULL CHECK (length(organiser_hash) = " XSTR(RK_HASH_LEN) "),"
    " max_singers INTEGER NOT NULL"
    "  CHECK (max_singers BETWEEN 0 AND " XSTR(RDB_MAX_SINGERS) "),"
    " created INTEGER NOT NULL CHECK (created > 0),"
    " closed INTEGER CHECK (closed IS NULL OR closed > 0),"
    " key_gen INTEGER NOT NULL DEFAULT 0 CHECK (key_gen >= 0),"
    " allow_uploads INTEGER NOT NULL DEFAULT 1 CHECK (allow_uploads IN (0, 1))"
    ") STRICT;"
    "CREATE INDEX rooms_open_name ON rooms (name) WHERE closed IS NULL;"
    "PRAGMA user_version = " XSTR(RDB_SCHEMA_VERSION) ";";

/* The columns every SELECT of whole rooms reads, in read_room()'s order. */
#define ROOM_COLS \
    "id, name, singer_hash, organiser_hash, max_singers, created, closed, key_gen, allow_uploads"

const char *rdb_strerror(int err)
{
    switch (err) {
    case RDB_OK: return "success";
    case RDB_ERR_ARG: return "invalid argument";
    case RDB_ERR_NAME: return "invalid room name";
    case RDB_ERR_MAX_SINGERS: return "max singers out of range";
    case RDB_ERR_NOT_FOUND: return "no such room";
    case RDB_ERR_CLOSED: return "the room is closed";
    case RDB_ERR_FULL: return "too many open rooms on this host";
    case RDB_ERR_EXISTS: return "an open room has that id";
    case RDB_ERR_JSON: return "invalid room record";
    case RDB_ERR_NOT_OURS: return "not a rooms database";
    case RDB_ERR_BUSY: return "the rooms database is locked by another process";
    case RDB_ERR_SQL: return "rooms database error";
    case RDB_ERR_CRYPTO: return "random bytes or hashing failed";
    case RDB_ERR_NOMEM: return "out of memory";
    case RDB_ERR_KEY: return "the key does not match";
    default: return "unknown rooms database error";
    }
}

/* ---- messages ---------------------------------------------------------- */

static void vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
    if (buf == NULL || cap == 0)
        return;
    vsnprintf(buf, cap, fmt, ap);
}

/* Records the message for a failure and returns err. */
__attribute__((format(printf, 3, 4)))
static int fail(rdb_t *db, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(db->msg, sizeof db->msg, fmt, ap);
    va_end(ap);
    return err;
}

/* The rdb_error_t for an SQLite result code. */
static int sql_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return RDB_ERR_BUSY;
    case SQLITE_NOMEM: return RDB_ERR_NOMEM;
    case SQLITE_NOTADB: return RDB_ERR_NOT_OURS;
    default: return RDB_ERR_SQL;
    }
}

/* Records "what: SQLite's message" and returns the matching error. */
static int sql_fail(rdb_t *db, int rc, const char *what)
{
    return fail(db, sql_err(rc), "%s: %s", what, sqlite3_errmsg(db->h));
}

static int crypto_fail(rdb_t *db, int rk)
{
    return fail(db, RDB_ERR_CRYPTO, "%s (%s)", rk_strerror(rk),
                rk == RK_ERR_RANDOM ? strerror(errno) : "libcrypto");
}

/* ---- statements and transactions -------------------------------------- */

static int exec(rdb_t *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? RDB_OK : sql_fail(db, rc, what);
}

static int prepare(rdb_t *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db->h, sql, -1, st, NULL);
    return rc == SQLITE_OK ? RDB_OK : sql_fail(db, rc, "prepare");
}

/* Takes the write lock now (waiting up to the busy timeout), so what the
 * transaction reads stays true until it commits. */
static int begin(rdb_t *db)
{
    return exec(db, "BEGIN IMMEDIATE", "begin transaction");
}

static int commit(rdb_t *db)
{
    int err = exec(db, "COMMIT", "commit");
    if (err != RDB_OK)
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* Rolls back and passes err through, keeping the message of the failure. */
static int rollback(rdb_t *db, int err)
{
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* Runs a statement that returns one integer. */
static int query_int(rdb_t *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int err = prepare(db, sql, &st);
    if (err != RDB_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        err = RDB_OK;
    } else {
        err = rc == SQLITE_DONE ? fail(db, RDB_ERR_SQL, "%s: no result", sql)
                                : sql_fail(db, rc, sql);
    }
    sqlite3_finalize(st);
    return err;
}

/* ---- names and records ------------------------------------------------- */

int rdb_name_valid(const char *name)
{
    if (name == NULL)
        return 0;
    size_t len = strnlen(name, RDB_NAME_MAX + 1);
    if (len == 0 || len > RDB_NAME_MAX)
        return 0;
    const unsigned char *s = (const unsigned char *)name;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        uint32_t cp;
        size_t n;
        if (c < 0x80) {
            cp = c;
            n = 1;
        } else if (c >= 0xc2 && c <= 0xdf) { /* 0xc0, 0xc1: overlong */
            cp = c & 0x1f;
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            cp = c & 0x0f;
            n = 3;
        } else if (c >= 0xf0 && c <= 0xf4) { /* past 0xf4: beyond U+10FFFF */
            cp = c & 0x07;
            n = 4;
        } else {
            return 0;
        }
        if (i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0; /* overlong, or out of Unicode */
        if (cp >= 0xd800 && cp <= 0xdfff)
            return 0; /* a UTF-16 surrogate */
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return 0; /* C0, DEL, C1 */
        i += n;
    }
    return 1;
}

static int max_singers_valid(int n)
{
    return n >= 0 && n <= RDB_MAX_SINGERS;
}

static int64_t now_seconds(void)
{
    time_t t = time(NULL);
    return t > 0 ? (int64_t)t : 1; /* created and closed are > 0 */
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
        return fail(db, RDB_ERR_SQL, "a stored room record is damaged");
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
        return fail(db, RDB_ERR_ARG, "not a room id (10 characters of 0-9, a-z without i l o u)");
    return RDB_OK;
}

/* Whether the room exists and is open: RDB_OK, RDB_ERR_NOT_FOUND or
 * RDB_ERR_CLOSED (with a message), or an SQL error. */
static int room_state(rdb_t *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    int err = prepare(db, "SELECT closed IS NULL FROM rooms WHERE id = ?1", &st);
    if (err != RDB_OK)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = sqlite3_column_int(st, 0) ? RDB_OK
                                         : fail(db, RDB_ERR_CLOSED, "room %s is closed", id);
    else if (rc == SQLITE_DONE)
        err = fail(db, RDB_ERR_NOT_FOUND, "no room %s", id);
    else
        err = sql_fail(db, rc, "look up room");
    sqlite3_finalize(st);
    return err;
}

/* Runs sql (an UPDATE of room ?1 with up to two more parameters, bound by
 * the caller through bind) on an open room, in one transaction. */
typedef void (*bind_fn)(sqlite3_stmt *st, const void *arg);

static int update_open_room(rdb_t *db, const char *id, const char *sql, bind_fn bind,
                            const void *arg)
{
    int err = begin(db);
    if (err != RDB_OK)
        return err;
    err = room_state(db, id);
    if (err != RDB_OK)
        return rollback(db, err);
    sqlite3_stmt *st = NULL;
    err = prepare(db, sql, &st);
    if (err != RDB_OK)
        return rollback(db, err);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (bind != NULL)
        bind(st, arg);
    int rc = sqlite3_step(st);
    err = rc == SQLITE_DONE ? RDB_OK : sql_fail(db, rc, "update room");
    sqlite3_finalize(st);
    if (err != RDB_OK)
        return rollback(db, err);
    return commit(db);
}

/* ---- open and close ---------------------------------------------------- */

/* Decides from the file's header and tables whether it is ours (RDB_OK,
 * *fresh = 0), an empty database to set up (RDB_OK, *fresh = 1), or
 * something else (RDB_ERR_NOT_OURS and why). Reads only. */
static int check_ours(rdb_t *db, const char *path, int *fresh)
{
    int64_t app = 0, ver = 0, tables = 0;
    int err;

    *fresh = 0;
    err = query_int(db, "PRAGMA application_id", &app);
    if (err == RDB_ERR_NOT_OURS)
        return fail(db, err, "%s is not a rooms database (not an SQLite file at all)", path);
    if (err != RDB_OK)
        return err;
    if ((err = query_int(db, "PRAGMA user_version", &ver)) != RDB_OK ||
        (err = query_int(db, "SELECT count(*) FROM sqlite_master", &tables)) != RDB_OK)
        return err;
    if (app == 0 && ver == 0 && tables == 0) {
        *fresh = 1;
        return RDB_OK;
    }
    if (app != RDB_APP_ID)
        return fail(db, RDB_ERR_NOT_OURS,
                    "%s is not a rooms database: an SQLite database of another program "
                    "(application_id %#llx, not %#x)",
                    path, (unsigned long long)(uint32_t)app, RDB_APP_ID);
    if (ver > RDB_SCHEMA_VERSION)
        return fail(db, RDB_ERR_NOT_OURS,
                    "%s has rooms schema version %lld, newer than this program's %d: "
                    "use a newer bb-room",
                    path, (long long)ver, RDB_SCHEMA_VERSION);
    if (ver < 1)
        return fail(db, RDB_ERR_NOT_OURS, "%s is marked as a rooms database but has no schema",
                    path);
    return RDB_OK;
}

/* Sets the journal to WAL (persistent in the file) and commits to fsync
 * every commit. An in-memory database has no WAL and keeps "memory". */
static int set_durability(rdb_t *db, const char *path)
{
    sqlite3_stmt *st = NULL;
    int err = prepare(db, "PRAGMA journal_mode = WAL", &st);
    if (err != RDB_OK)
        return err;
    int rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    const char *file = sqlite3_db_filename(db->h, "main");
    int in_memory = file == NULL || file[0] == '\0';
    if (rc != SQLITE_ROW)
        err = sql_fail(db, rc, "set journal_mode=WAL");
    else if (mode == NULL || (strcmp(mode, "wal") != 0 && !in_memory))
        err = fail(db, RDB_ERR_SQL, "%s: cannot use a WAL journal (journal_mode is %s)", path,
                   mode ? mode : "unknown");
    sqlite3_finalize(st);
    if (err != RDB_OK)
        return err;
    return exec(db, "PRAGMA synchronous = FULL; PRAGMA trusted_schema = OFF", "set pragmas");
}

/* Creates the schema unless another process did since check_ours(). */
static int init_schema(rdb_t *db, const char *path)
{
    int fresh = 0;
    int err = begin(db);
    if (err != RDB_OK)
        return err;
    err = check_ours(db, path, &fresh);
    if (err == RDB_OK && fresh) {
        char mark[64];
        snprintf(mark, sizeof mark, "PRAGMA application_id = %d", RDB_APP_ID);
        err = exec(db, schema_sql, "create the rooms table");
        if (err == RDB_OK)
            err = exec(db, mark, "mark the file as a rooms database");
    }
    if (err != RDB_OK)
        return rollback(db, err);
    return commit(db);
}

rdb_t *rdb_open(const char *path, int *err, char *msg, size_t msgcap)
{
    rdb_t *db = NULL;
    int e = RDB_OK;
    int fresh = 0;

    if (msg != NULL && msgcap > 0)
        msg[0] = '\0';
    if (path == NULL) {
        if (msg != NULL && msgcap > 0)
            snprintf(msg, msgcap, "no database path");
        e = RDB_ERR_ARG;
        goto out;
    }
    db = calloc(1, sizeof *db);
    if (db == NULL) {
        if (msg != NULL && msgcap > 0)
            snprintf(msg, msgcap, "out of memory");
        e = RDB_ERR_NOMEM;
        goto out;
    }
    int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                               SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        e = db->h ? fail(db, sql_err(rc), "cannot open %s: %s", path, sqlite3_errmsg(db->h))
                  : fail(db, RDB_ERR_NOMEM, "cannot open %s: out of memory", path);
        goto err;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
    /* Look before writing anything: another program's file stays as it is. */
    if ((e = check_ours(db, path, &fresh)) != RDB_OK)
        goto err;
    if ((e = set_durability(db, path)) != RDB_OK)
        goto err;
    if (fresh && (e = init_schema(db, path)) != RDB_OK)
        goto err;
    db->msg[0] = '\0';
    goto out;

err:
    if (msg != NULL && msgcap > 0)
        snprintf(msg, msgcap, "%s", db->msg);
    rdb_close(db);
    db = NULL;
out:
    if (err != NULL)
        *err = e;
    return db;
}

void rdb_close(rdb_t *db)
{
    if (db == NULL)
        return;
    sqlite3_close_v2(db->h);
    free(db);
}

const char *rdb_errmsg(const rdb_t *db)
{
    return db != NULL ? db->msg : "no database handle";
}

/* ---- rooms ------------------------------------------------------------- */

int rdb_count_open(rdb_t *db, int *n)
{
    int64_t v = 0;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (n == NULL)
        return fail(db, RDB_ERR_ARG, "no output for the count");
    int err = query_int(db, "SELECT count(*) FROM rooms WHERE closed IS NULL", &v);
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
        return fail(db, RDB_ERR_FULL, "this host already holds %d open rooms, the most it takes",
                    n);
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
    int err = prepare(db, insert_sql, &st);
    if (err != RDB_OK)
        return err;
    bind_insert(st, r);
    for (int i = 0;; i++) {
        if (i == ID_TRIES) {
            err = fail(db, RDB_ERR_SQL, "no unused room id in %d draws", ID_TRIES);
            break;
        }
        int rk = drawn ? rk_id_new(r->id) : RK_OK;
        if (rk != RK_OK) {
            err = crypto_fail(db, rk);
            break;
        }
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break; /* err is RDB_OK */
        if (rc != SQLITE_CONSTRAINT_PRIMARYKEY) {
            err = sql_fail(db, rc, "insert room");
            break;
        }
        if (!drawn) {
            err = fail(db, RDB_ERR_EXISTS, "a room %s exists already (open or closed)", r->id);
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
        return fail(db, RDB_ERR_ARG, "create: NULL argument");
    id_out[0] = singer_key[0] = organiser_key[0] = '\0';
    if (!draw && (err = check_id(db, id)) != RDB_OK)
        return err;
    if (!rdb_name_valid(name))
        return fail(db, RDB_ERR_NAME,
                    "a room name is 1 to %d bytes of UTF-8 text without control characters",
                    RDB_NAME_MAX);
    if (!max_singers_valid(max_singers))
        return fail(db, RDB_ERR_MAX_SINGERS,
                    "max singers %d: give 0 for the host's default or 1 to %d", max_singers,
                    RDB_MAX_SINGERS);

    memset(&r, 0, sizeof r);
    if (!draw)
        memcpy(r.id, id, sizeof r.id);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.max_singers = max_singers;
    r.created = now_seconds();
    r.key_gen = 0;
    r.allow_uploads = true;
    if ((rk = rk_key_new(singer_key)) != RK_OK || (rk = rk_key_new(organiser_key)) != RK_OK ||
        (rk = rk_hash(singer_key, r.singer_hash)) != RK_OK ||
        (rk = rk_hash(organiser_key, r.organiser_hash)) != RK_OK) {
        err = crypto_fail(db, rk);
        goto err;
    }

    if ((err = begin(db)) != RDB_OK)
        goto err;
    if ((err = check_room_for_one(db)) != RDB_OK ||
        (err = insert_room(db, &r, draw)) != RDB_OK) {
        rollback(db, err);
        goto err;
    }
    if ((err = commit(db)) != RDB_OK)
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
        return fail(db, RDB_ERR_ARG, "get: NULL argument");
    if ((err = check_id(db, id)) != RDB_OK)
        return err;
    if ((err = prepare(db, "SELECT " ROOM_COLS " FROM rooms WHERE id = ?1", &st)) != RDB_OK)
        return err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = read_room(db, st, out);
    else if (rc == SQLITE_DONE)
        err = fail(db, RDB_ERR_NOT_FOUND, "no room %s", id);
    else
        err = sql_fail(db, rc, "read room");
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
        return fail(db, RDB_ERR_ARG, "find by name: NULL argument or negative capacity");
    err = prepare(db,
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
        err = sql_fail(db, rc, "find rooms by name");
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
        return fail(db, RDB_ERR_ARG, "list: no callback");
    err = prepare(db,
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
        err = sql_fail(db, rc, "list rooms");
    sqlite3_finalize(st);
    return err;
}

static void bind_now(sqlite3_stmt *st, const void *arg)
{
    (void)arg;
    sqlite3_bind_int64(st, 2, now_seconds());
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
        return fail(db, RDB_ERR_ARG, "set hash: which key is neither singers nor organiser, "
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
        return fail(db, RDB_ERR_ARG, "rekey: no output for the key");
    key_out[0] = '\0';
    if ((err = check_id(db, id)) != RDB_OK)
        return err;
    if (set_hash_sql(which) == NULL)
        return fail(db, RDB_ERR_ARG, "rekey: which key is neither singers nor organiser");
    if ((rk = rk_key_new(key_out)) != RK_OK || (rk = rk_hash(key_out, hash)) != RK_OK) {
        explicit_bzero(key_out, RK_KEY_LEN + 1);
        return crypto_fail(db, rk);
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
        return fail(db, RDB_ERR_MAX_SINGERS,
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
        return fail(db, RDB_ERR_CLOSED, "room %s is closed", id);
    if (!rk_key_valid(key))
        return fail(db, RDB_ERR_KEY, "not a room key");
    if ((err = rk_hash(key, hash)) != RK_OK)
        return crypto_fail(db, err);
    /* Both comparisons run whatever the first gives. */
    int singers = rk_hash_equal(hash, r.singer_hash);
    int organiser = rk_hash_equal(hash, r.organiser_hash);
    if (!singers && !organiser)
        return fail(db, RDB_ERR_KEY, "the key matches neither key of room %s", id);
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
        return fail(db, RDB_ERR_ARG, "data version: no output");
    int err = query_int(db, "PRAGMA data_version", &v);
    if (err == RDB_OK)
        *out = (uint64_t)v;
    return err;
}

/* ---- export and import ------------------------------------------------- */

/* The fields of the JSON record, in the order rdb_export() writes them. */
enum { F_VERSION, F_ID, F_NAME, F_SINGER_HASH, F_ORGANISER_HASH, F_MAX_SINGERS, F_CREATED,
       F_ALLOW_UPLOADS, F_KEY_GEN, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "version", "id", "name", "singer_hash", "organiser_hash",
    "max_singers", "created", "allow_uploads", "key_gen",
};

int rdb_export(rdb_t *db, const char *id, char **json_out)
{
    rdb_room_t r;
    char sh[RK_HASH_HEX_LEN + 1], oh[RK_HASH_HEX_LEN + 1];
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (json_out == NULL)
        return fail(db, RDB_ERR_ARG, "export: no output");
    *json_out = NULL;
    if ((err = rdb_get(db, id, &r)) != RDB_OK)
        return err;
    if (r.closed != 0)
        return fail(db, RDB_ERR_CLOSED, "room %s is closed: a closed room is not moved", id);
    rk_hash_to_hex(r.singer_hash, sh);
    rk_hash_to_hex(r.organiser_hash, oh);

    cJSON *o = cJSON_CreateObject();
    if (o == NULL ||
        !cJSON_AddNumberToObject(o, field_names[F_VERSION], RDB_EXPORT_VERSION) ||
        !cJSON_AddStringToObject(o, field_names[F_ID], r.id) ||
        !cJSON_AddStringToObject(o, field_names[F_NAME], r.name) ||
        !cJSON_AddStringToObject(o, field_names[F_SINGER_HASH], sh) ||
        !cJSON_AddStringToObject(o, field_names[F_ORGANISER_HASH], oh) ||
        !cJSON_AddNumberToObject(o, field_names[F_MAX_SINGERS], r.max_singers) ||
        !cJSON_AddNumberToObject(o, field_names[F_CREATED], (double)r.created) ||
        !cJSON_AddBoolToObject(o, field_names[F_ALLOW_UPLOADS], r.allow_uploads) ||
        !cJSON_AddNumberToObject(o, field_names[F_KEY_GEN], (double)r.key_gen)) {
        cJSON_Delete(o);
        return fail(db, RDB_ERR_NOMEM, "export: out of memory");
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    /* A copy from malloc, so the caller frees it with free() whatever
     * allocator cJSON was built with. */
    *json_out = text ? strdup(text) : NULL;
    cJSON_free(text);
    if (*json_out == NULL)
        return fail(db, RDB_ERR_NOMEM, "export: out of memory");
    return RDB_OK;
}

/* cJSON decodes "\u0000" into a NUL that silently cuts the string short;
 * such a string is refused instead. A backslash escapes "u0000" when an
 * odd number of backslashes precede it ("\\u0000" is a backslash and
 * "u0000"). Escapes outside strings make the JSON invalid anyway. */
static int has_escaped_nul(const char *json)
{
    for (const char *p = strstr(json, "u0000"); p != NULL; p = strstr(p + 1, "u0000")) {
        size_t backslashes = 0;
        for (const char *q = p; q > json && q[-1] == '\\'; q--)
            backslashes++;
        if (backslashes % 2 == 1)
            return 1;
    }
    return 0;
}

/* Writes a field name from the input into buf for a message: printable
 * ASCII only, cut at 32 characters. */
static const char *printable(const char *s, char *buf, size_t cap)
{
    size_t o = 0;

    for (; s != NULL && *s != '\0' && o + 1 < cap; s++)
        buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    buf[o] = '\0';
    return buf;
}

/* An integral JSON number in lo..hi into *out, else 0. */
static int json_int(const cJSON *v, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi)) /* also NaN and the infinities of 1e999 */
        return 0;
    int64_t i = (int64_t)d;
    if ((double)i != d)
        return 0;
    *out = i;
    return 1;
}

static int bad_field(rdb_t *db, int f, const char *why)
{
    return fail(db, RDB_ERR_JSON, "field \"%s\": %s", field_names[f], why);
}

/* Checks every field of a parsed record into *r. */
static int parse_record(rdb_t *db, const cJSON *root, rdb_room_t *r)
{
    const cJSON *field[F_COUNT] = {0};
    const cJSON *c;
    char buf[40];
    int64_t v;

    if (!cJSON_IsObject(root))
        return fail(db, RDB_ERR_JSON, "the room record is not a JSON object");
    cJSON_ArrayForEach(c, root) {
        int f;
        for (f = 0; f < F_COUNT; f++)
            if (c->string != NULL && strcmp(c->string, field_names[f]) == 0)
                break;
        if (f == F_COUNT)
            return fail(db, RDB_ERR_JSON, "unknown field \"%s\"",
                        printable(c->string, buf, 33));
        if (field[f] != NULL)
            return bad_field(db, f, "appears twice");
        field[f] = c;
    }
    for (int f = 0; f < F_COUNT; f++)
        if (field[f] == NULL)
            return bad_field(db, f, "missing");

    memset(r, 0, sizeof *r);
    if (!json_int(field[F_VERSION], RDB_EXPORT_VERSION, RDB_EXPORT_VERSION, &v))
        return fail(db, RDB_ERR_JSON, "field \"version\": this program reads version %d",
                    RDB_EXPORT_VERSION);
    if (!cJSON_IsString(field[F_ID]) || !rk_id_valid(field[F_ID]->valuestring))
        return bad_field(db, F_ID, "not a room id (10 characters of 0-9, a-z without i l o u)");
    memcpy(r->id, field[F_ID]->valuestring, RK_ID_LEN + 1);
    if (!cJSON_IsString(field[F_NAME]) || !rdb_name_valid(field[F_NAME]->valuestring))
        return bad_field(db, F_NAME, "not 1 to 64 bytes of UTF-8 text without control "
                                     "characters");
    snprintf(r->name, sizeof r->name, "%s", field[F_NAME]->valuestring);
    if (!cJSON_IsString(field[F_SINGER_HASH]) ||
        rk_hash_from_hex(field[F_SINGER_HASH]->valuestring, r->singer_hash) != RK_OK)
        return bad_field(db, F_SINGER_HASH, "not 64 hex digits");
    if (!cJSON_IsString(field[F_ORGANISER_HASH]) ||
        rk_hash_from_hex(field[F_ORGANISER_HASH]->valuestring, r->organiser_hash) != RK_OK)
        return bad_field(db, F_ORGANISER_HASH, "not 64 hex digits");
    if (!json_int(field[F_MAX_SINGERS], 0, RDB_MAX_SINGERS, &v))
        return bad_field(db, F_MAX_SINGERS, "not an integer from 0 to " XSTR(RDB_MAX_SINGERS));
    r->max_singers = (int)v;
    if (!json_int(field[F_CREATED], 1, (double)(now_seconds() + IMPORT_CLOCK_SLACK), &v))
        return bad_field(db, F_CREATED, "not unix seconds up to a day ahead of this host's clock");
    r->created = v;
    if (!json_int(field[F_KEY_GEN], 0, JSON_INT_MAX, &v))
        return bad_field(db, F_KEY_GEN, "not an integer from 0 to 2^53");
    r->key_gen = v;
    if (!cJSON_IsBool(field[F_ALLOW_UPLOADS]))
        return bad_field(db, F_ALLOW_UPLOADS, "not true or false");
    r->allow_uploads = cJSON_IsTrue(field[F_ALLOW_UPLOADS]);
    return RDB_OK;
}

/* Inside a transaction: stores r as an open room, replacing a closed room
 * of the same id. */
static int store_imported(rdb_t *db, const rdb_room_t *r)
{
    sqlite3_stmt *st = NULL;
    int err = room_state(db, r->id);
    if (err == RDB_OK)
        return fail(db, RDB_ERR_EXISTS, "an open room %s exists already", r->id);
    if (err != RDB_ERR_NOT_FOUND && err != RDB_ERR_CLOSED)
        return err;
    int replace = err == RDB_ERR_CLOSED;
    if ((err = check_room_for_one(db)) != RDB_OK)
        return err;
    if (replace) {
        if ((err = prepare(db, "DELETE FROM rooms WHERE id = ?1", &st)) != RDB_OK)
            return err;
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return sql_fail(db, rc, "replace closed room");
    }
    if ((err = prepare(db, insert_sql, &st)) != RDB_OK)
        return err;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    bind_insert(st, r);
    int rc = sqlite3_step(st);
    err = rc == SQLITE_DONE ? RDB_OK : sql_fail(db, rc, "insert room");
    sqlite3_finalize(st);
    return err;
}

int rdb_import(rdb_t *db, const char *json, char *id_out)
{
    rdb_room_t r;
    const char *end = NULL;
    int err;

    if (db == NULL)
        return RDB_ERR_ARG;
    if (id_out != NULL)
        id_out[0] = '\0';
    if (json == NULL)
        return fail(db, RDB_ERR_ARG, "import: no text");
    if (has_escaped_nul(json))
        return fail(db, RDB_ERR_JSON, "a string holds an escaped NUL character (\\u0000)");
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (root == NULL)
        return fail(db, RDB_ERR_JSON, "malformed JSON near byte %zu",
                    end != NULL && end >= json ? (size_t)(end - json) : (size_t)0);
    err = parse_record(db, root, &r);
    cJSON_Delete(root);
    if (err != RDB_OK)
        return err;

    if ((err = begin(db)) != RDB_OK)
        return err;
    if ((err = store_imported(db, &r)) != RDB_OK)
        return rollback(db, err);
    if ((err = commit(db)) != RDB_OK)
        return err;
    if (id_out != NULL)
        memcpy(id_out, r.id, RK_ID_LEN + 1);
    return RDB_OK;
}
