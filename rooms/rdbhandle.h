/* rdbhandle: the rooms database's handle, inside the rooms module only.
 *
 * What every rooms operation (roomdb.c) stands on: the handle itself (the
 * SQLite connection and the message about the last failure), the way a
 * failure is recorded (rdbh_fail() and its SQLite and libcrypto forms),
 * statements and transactions, and the clock rooms are stamped with. The
 * public side of the handle, rdb_open(), rdb_close(), rdb_errmsg() and
 * rdb_strerror(), is declared in roomdb.h and defined in rdbhandle.c with
 * the schema and the durability settings it opens a file with.
 *
 * Not for callers outside rooms/: they see rdb_t as opaque (roomdb.h).
 *
 * Every function here returns RDB_OK or a negative rdb_error_t and, on
 * failure, leaves its message in db->msg; none of them prints.
 */
#ifndef BB_ROOMS_RDBHANDLE_H
#define BB_ROOMS_RDBHANDLE_H

#include <stdint.h>

#include <sqlite3.h>

#include "roomdb.h"

#define RDBH_XSTR(x) RDBH_STR(x)
#define RDBH_STR(x) #x

struct rdb {
    sqlite3 *h;
    char msg[RDB_MSG_MAX]; /* the last failure's message, "" if none */
};

/* Writes the printf-style message into db->msg (cut at RDB_MSG_MAX bytes)
 * and returns err, so a caller can `return rdbh_fail(db, ...)`. */
__attribute__((format(printf, 3, 4)))
int rdbh_fail(rdb_t *db, int err, const char *fmt, ...);

/* The rdb_error_t for an SQLite result code (primary or extended):
 * BUSY and LOCKED are RDB_ERR_BUSY, NOMEM RDB_ERR_NOMEM, NOTADB
 * RDB_ERR_NOT_OURS, anything else RDB_ERR_SQL. */
int rdbh_sql_err(int rc);

/* Records "what: SQLite's message" and returns rdbh_sql_err(rc). */
int rdbh_sql_fail(rdb_t *db, int rc, const char *what);

/* Records why a roomkey call failed (rk, a negative rk_error_t; errno for
 * RK_ERR_RANDOM) and returns RDB_ERR_CRYPTO. */
int rdbh_crypto_fail(rdb_t *db, int rk);

/* Runs sql (one or more statements without results); on failure records
 * "what: SQLite's message". */
int rdbh_exec(rdb_t *db, const char *sql, const char *what);

/* Prepares sql into *st; the caller finalizes it (also NULL is fine). */
int rdbh_prepare(rdb_t *db, const char *sql, sqlite3_stmt **st);

/* BEGIN IMMEDIATE: takes the write lock now (waiting up to the busy
 * timeout), so what the transaction reads stays true until it commits. */
int rdbh_begin(rdb_t *db);

/* Commits; on failure rolls back, so the transaction is over either way. */
int rdbh_commit(rdb_t *db);

/* Rolls back and passes err through, keeping the message of the failure. */
int rdbh_rollback(rdb_t *db, int err);

/* Runs a statement that returns one integer into *out. */
int rdbh_query_int(rdb_t *db, const char *sql, int64_t *out);

/* Unix seconds now, at least 1 (created and closed are > 0). */
int64_t rdbh_now(void);

#endif
