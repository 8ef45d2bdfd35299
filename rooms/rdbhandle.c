/* rdbhandle: opening, closing and speaking to the rooms database file.
 *
 * The handle (rdbhandle.h) and what it is opened with: the schema of the
 * one table, rooms, one row per room ever created on this host. Its CHECK
 * constraints repeat the rules roomdb.c and roomrec.c enforce (id and hash
 * lengths, name length, the max_singers range, closed either NULL or a
 * time), so a row that a hand-edit or a bug made invalid is refused by
 * SQLite itself instead of surfacing later in a worker. Open rooms are
 * those with closed IS NULL; a partial index on their names serves
 * rdb_find_name().
 *
 * rdb_open() looks at a file before it writes anything (check_ours()), so
 * another program's file stays as it was; it then sets the WAL journal and
 * synchronous=FULL that roomdb.h's durability promise rests on, and
 * creates the schema in a file that is new or empty.
 *
 * Statements are prepared per call: the database is written by an
 * operator and read by the daemon when it changes, a few times a minute at
 * most, and a handle without cached statements has nothing to go stale.
 */
#include "rdbhandle.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 5000

static const char schema_sql[] =
    "CREATE TABLE rooms ("
    " id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = " RDBH_XSTR(RK_ID_LEN) "),"
    " name TEXT NOT NULL"
    "  CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND " RDBH_XSTR(RDB_NAME_MAX) "),"
    " singer_hash BLOB NOT NULL CHECK (length(singer_hash) = " RDBH_XSTR(RK_HASH_LEN) "),"
    " organiser_hash BLOB NOT NULL CHECK (length(organiser_hash) = " RDBH_XSTR(RK_HASH_LEN) "),"
    " max_singers INTEGER NOT NULL"
    "  CHECK (max_singers BETWEEN 0 AND " RDBH_XSTR(RDB_MAX_SINGERS) "),"
    " created INTEGER NOT NULL CHECK (created > 0),"
    " closed INTEGER CHECK (closed IS NULL OR closed > 0),"
    " key_gen INTEGER NOT NULL DEFAULT 0 CHECK (key_gen >= 0),"
    " allow_uploads INTEGER NOT NULL DEFAULT 1 CHECK (allow_uploads IN (0, 1))"
    ") STRICT;"
    "CREATE INDEX rooms_open_name ON rooms (name) WHERE closed IS NULL;"
    "PRAGMA user_version = " RDBH_XSTR(RDB_SCHEMA_VERSION) ";";

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

int rdbh_fail(rdb_t *db, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(db->msg, sizeof db->msg, fmt, ap);
    va_end(ap);
    return err;
}

int rdbh_sql_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return RDB_ERR_BUSY;
    case SQLITE_NOMEM: return RDB_ERR_NOMEM;
    case SQLITE_NOTADB: return RDB_ERR_NOT_OURS;
    default: return RDB_ERR_SQL;
    }
}

int rdbh_sql_fail(rdb_t *db, int rc, const char *what)
{
    return rdbh_fail(db, rdbh_sql_err(rc), "%s: %s", what, sqlite3_errmsg(db->h));
}

int rdbh_crypto_fail(rdb_t *db, int rk)
{
    return rdbh_fail(db, RDB_ERR_CRYPTO, "%s (%s)", rk_strerror(rk),
                     rk == RK_ERR_RANDOM ? strerror(errno) : "libcrypto");
}

/* ---- statements and transactions -------------------------------------- */

int rdbh_exec(rdb_t *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? RDB_OK : rdbh_sql_fail(db, rc, what);
}

int rdbh_prepare(rdb_t *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db->h, sql, -1, st, NULL);
    return rc == SQLITE_OK ? RDB_OK : rdbh_sql_fail(db, rc, "prepare");
}

/* Takes the write lock now (waiting up to the busy timeout), so what the
 * transaction reads stays true until it commits. */
int rdbh_begin(rdb_t *db)
{
    return rdbh_exec(db, "BEGIN IMMEDIATE", "begin transaction");
}

int rdbh_commit(rdb_t *db)
{
    int err = rdbh_exec(db, "COMMIT", "commit");
    if (err != RDB_OK)
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* Rolls back and passes err through, keeping the message of the failure. */
int rdbh_rollback(rdb_t *db, int err)
{
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* Runs a statement that returns one integer. */
int rdbh_query_int(rdb_t *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int err = rdbh_prepare(db, sql, &st);
    if (err != RDB_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        err = RDB_OK;
    } else {
        err = rc == SQLITE_DONE ? rdbh_fail(db, RDB_ERR_SQL, "%s: no result", sql)
                                : rdbh_sql_fail(db, rc, sql);
    }
    sqlite3_finalize(st);
    return err;
}

int64_t rdbh_now(void)
{
    time_t t = time(NULL);
    return t > 0 ? (int64_t)t : 1; /* created and closed are > 0 */
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
    err = rdbh_query_int(db, "PRAGMA application_id", &app);
    if (err == RDB_ERR_NOT_OURS)
        return rdbh_fail(db, err, "%s is not a rooms database (not an SQLite file at all)", path);
    if (err != RDB_OK)
        return err;
    if ((err = rdbh_query_int(db, "PRAGMA user_version", &ver)) != RDB_OK ||
        (err = rdbh_query_int(db, "SELECT count(*) FROM sqlite_master", &tables)) != RDB_OK)
        return err;
    if (app == 0 && ver == 0 && tables == 0) {
        *fresh = 1;
        return RDB_OK;
    }
    if (app != RDB_APP_ID)
        return rdbh_fail(db, RDB_ERR_NOT_OURS,
                         "%s is not a rooms database: an SQLite database of another program "
                         "(application_id %#llx, not %#x)",
                         path, (unsigned long long)(uint32_t)app, RDB_APP_ID);
    if (ver > RDB_SCHEMA_VERSION)
        return rdbh_fail(db, RDB_ERR_NOT_OURS,
                         "%s has rooms schema version %lld, newer than this program's %d: "
                         "use a newer bb-room",
                         path, (long long)ver, RDB_SCHEMA_VERSION);
    if (ver < 1)
        return rdbh_fail(db, RDB_ERR_NOT_OURS,
                         "%s is marked as a rooms database but has no schema", path);
    return RDB_OK;
}

/* The journal mode in effect, into mode (cap bytes), or "" on failure. */
static void journal_mode(rdb_t *db, char *mode, size_t cap)
{
    sqlite3_stmt *st = NULL;
    mode[0] = '\0';
    if (rdbh_prepare(db, "PRAGMA journal_mode", &st) != RDB_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(mode, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* Sets the journal to WAL (persistent in the file) and commits to fsync
 * every commit. An in-memory database has no WAL and keeps "memory".
 * A file another process already switched is left as it is; switching
 * needs the file to itself, which SQLite does not wait for, so a busy
 * switch is tried again every 10 ms within the busy timeout. */
static int set_durability(rdb_t *db, const char *path)
{
    char mode[32];
    const char *file = sqlite3_db_filename(db->h, "main");
    int in_memory = file == NULL || file[0] == '\0';
    int err = RDB_OK;
    journal_mode(db, mode, sizeof mode);
    for (int waited = 0; strcmp(mode, "wal") != 0 && !in_memory; waited += 10) {
        sqlite3_stmt *st = NULL;
        if ((err = rdbh_prepare(db, "PRAGMA journal_mode = WAL", &st)) != RDB_OK)
            return err;
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW && strcmp(mode, "wal") != 0)
            return rdbh_fail(db, RDB_ERR_SQL, "%s: cannot use a WAL journal (journal_mode is %s)", path,
                             mode);
        if (rc == SQLITE_ROW)
            break;
        if (rdbh_sql_err(rc) != RDB_ERR_BUSY || waited >= BUSY_TIMEOUT_MS)
            return rdbh_sql_fail(db, rc, "set journal_mode=WAL");
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        journal_mode(db, mode, sizeof mode);
    }
    return rdbh_exec(db, "PRAGMA synchronous = FULL; PRAGMA trusted_schema = OFF", "set pragmas");
}

/* Creates the schema unless another process did since check_ours(). */
static int init_schema(rdb_t *db, const char *path)
{
    int fresh = 0;
    int err = rdbh_begin(db);
    if (err != RDB_OK)
        return err;
    err = check_ours(db, path, &fresh);
    if (err == RDB_OK && fresh) {
        char mark[64];
        snprintf(mark, sizeof mark, "PRAGMA application_id = %d", RDB_APP_ID);
        err = rdbh_exec(db, schema_sql, "create the rooms table");
        if (err == RDB_OK)
            err = rdbh_exec(db, mark, "mark the file as a rooms database");
    }
    if (err != RDB_OK)
        return rdbh_rollback(db, err);
    return rdbh_commit(db);
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
        e = db->h ? rdbh_fail(db, rdbh_sql_err(rc), "cannot open %s: %s", path,
                              sqlite3_errmsg(db->h))
                  : rdbh_fail(db, RDB_ERR_NOMEM, "cannot open %s: out of memory", path);
        goto err;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
    /* Look before writing anything: another program's file stays as it is.
     * One read transaction, so that the three looks see one state of a
     * file another process may be creating at this moment. */
    if ((e = rdbh_exec(db, "BEGIN", "begin")) != RDB_OK)
        goto err;
    e = check_ours(db, path, &fresh);
    if (e != RDB_OK) {
        rdbh_rollback(db, e);
        goto err;
    }
    if ((e = rdbh_commit(db)) != RDB_OK)
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

void rdb_set_busy_ms(rdb_t *db, int ms)
{
    if (db != NULL)
        sqlite3_busy_timeout(db->h, ms > 0 ? ms : 0);
}

const char *rdb_errmsg(const rdb_t *db)
{
    return db != NULL ? db->msg : "no database handle";
}
