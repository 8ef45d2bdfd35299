/* roomdb: the durable list of a host's rooms, in one SQLite file.
 *
 * One host serves many choirs, each in its own room. This file is the
 * source of truth for which rooms exist: their public id, name, the hashes
 * of their two keys (singers and organiser), their size limit, and whether
 * they are still open. The daemon reads it at start and when it changes
 * (rdb_data_version()); the operator's command bb-room writes it. Keys
 * are never stored: rdb_create() and rdb_rekey() hand a new key to their
 * caller once and keep only its hash (rooms/roomkey.h).
 *
 * Durability: WAL journal with synchronous=FULL, so a function that
 * returned RDB_OK has its change on disk, also across a power cut; a crash
 * mid-call leaves the file as it was before the call (every change is one
 * transaction). Several processes may open the same file: writers wait up
 * to 5 s for each other (busy_timeout) before RDB_ERR_BUSY.
 *
 * The file says it is ours through PRAGMA application_id (RDB_APP_ID) and
 * carries its schema version in PRAGMA user_version. rdb_open() turns an
 * empty or new file into a rooms database and refuses anything else (a
 * text file, another program's SQLite database, a schema newer than this
 * code) with RDB_ERR_NOT_OURS and a message that says which, leaving the
 * file untouched.
 *
 * A room is open until rdb_close_room(); a closed room's keys stop
 * working (rdb_check_key()) and nothing about it can be changed, but its
 * record stays, so the listing still shows it and its id is never handed
 * out again.
 *
 * Errors: every function returns 0 (RDB_OK) or a negative rdb_error_t
 * (rdb_strerror() names the kind); the handle keeps an English message
 * about the last failure with the details (which field, which file, what
 * SQLite said), rdb_errmsg(). Messages name room ids and names, never a
 * key. The module never prints.
 *
 * Thread safety: a handle is used by one thread at a time; separate
 * handles (in one process or several) may be used concurrently.
 */
#ifndef BB_ROOMS_ROOMDB_H
#define BB_ROOMS_ROOMDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roomkey.h"

/* The most open rooms one host holds; rdb_create() and rdb_import() refuse
 * more with RDB_ERR_FULL. Closed rooms do not count. Sized for a host's
 * shared-memory room directory; a build may set another value. */
#ifndef RDB_MAX_ROOMS
#define RDB_MAX_ROOMS 256
#endif

#define RDB_NAME_MAX 64          /* bytes of a room name (UTF-8) */
#define RDB_MAX_SINGERS 10000    /* the largest per-room singer limit */
#define RDB_MSG_MAX 256          /* bytes of an error message, NUL included */
#define RDB_APP_ID 0x42427231    /* PRAGMA application_id: "BBr1" */
#define RDB_SCHEMA_VERSION 1     /* PRAGMA user_version this code writes */
#define RDB_EXPORT_VERSION 1     /* "version" of rdb_export()'s JSON */

typedef enum {
    RDB_OK = 0,
    RDB_ERR_ARG = -1,         /* NULL or malformed argument (id, hash, which) */
    RDB_ERR_NAME = -2,        /* name not 1..64 bytes of UTF-8 without controls */
    RDB_ERR_MAX_SINGERS = -3, /* max_singers not 0 and not 1..RDB_MAX_SINGERS */
    RDB_ERR_NOT_FOUND = -4,   /* no room with that id */
    RDB_ERR_CLOSED = -5,      /* the room is closed */
    RDB_ERR_FULL = -6,        /* RDB_MAX_ROOMS rooms are open */
    RDB_ERR_EXISTS = -7,      /* import: an open room has that id */
    RDB_ERR_JSON = -8,        /* import: malformed JSON or a bad field */
    RDB_ERR_NOT_OURS = -9,    /* the file is not a rooms database we can use */
    RDB_ERR_BUSY = -10,       /* another process held the database for 5 s */
    RDB_ERR_SQL = -11,        /* SQLite failed otherwise (I/O, disk full...) */
    RDB_ERR_CRYPTO = -12,     /* no random bytes, or hashing failed */
    RDB_ERR_NOMEM = -13,      /* out of memory */
    RDB_ERR_KEY = -14         /* rdb_check_key(): the key is neither room key */
} rdb_error_t;

/* Which of a room's two keys. */
typedef enum {
    RDB_SINGERS = 1,
    RDB_ORGANISER = 2
} rdb_which_t;

/* One room's record. Plain data: copy it freely. */
typedef struct {
    char id[RK_ID_LEN + 1];             /* public id, rk_id_valid() */
    char name[RDB_NAME_MAX + 1];        /* rdb_name_valid() */
    uint8_t singer_hash[RK_HASH_LEN];   /* rk_hash() of the singers' key */
    uint8_t organiser_hash[RK_HASH_LEN];/* rk_hash() of the organiser's key */
    int max_singers;    /* 0: the host's default; else 1..RDB_MAX_SINGERS */
    int64_t created;    /* unix seconds, > 0 */
    int64_t closed;     /* unix seconds when closed (> 0); 0 while open */
    int64_t key_gen;    /* >= 0; +1 on every change of either key */
    bool allow_uploads; /* may singers upload backing tracks (default true) */
} rdb_room_t;

/* Called once per room by rdb_list(); a non-zero return stops the listing.
 * It must not call rdb functions on the same handle. */
typedef int (*rdb_room_fn)(void *user, const rdb_room_t *room);

typedef struct rdb rdb_t;

/* Returns a static English description of an rdb_error_t value; never
 * NULL, also for unknown values. */
const char *rdb_strerror(int err);

/* Returns 1 if name is 1..RDB_NAME_MAX bytes of well-formed UTF-8 (no
 * overlong forms, surrogates or code points past U+10FFFF) without a
 * control character (U+0000..U+001F, U+007F..U+009F), else 0 (also NULL). */
int rdb_name_valid(const char *name);

/* Opens the rooms database at path, creating the file (and its schema) if
 * it does not exist or is empty. path may be ":memory:" for a private
 * in-memory database (tests, fuzzing). Returns the handle, or NULL with
 * *err set to a negative rdb_error_t (RDB_ERR_NOT_OURS for a file that is
 * not a rooms database or has a newer schema, RDB_ERR_BUSY, RDB_ERR_SQL,
 * RDB_ERR_NOMEM, RDB_ERR_ARG for a NULL path) and, when msg is not NULL,
 * an English message with the path and the cause in msg (msgcap bytes,
 * RDB_MSG_MAX is enough). err may be NULL. */
rdb_t *rdb_open(const char *path, int *err, char *msg, size_t msgcap);

/* Closes the handle and frees it. Accepts NULL. */
void rdb_close(rdb_t *db);

/* How long calls wait for another process that holds the database
 * before they give RDB_ERR_BUSY (default 5,000 ms).  The daemon, which
 * writes from its tick, waits far less and tries again later. */
void rdb_set_busy_ms(rdb_t *db, int ms);

/* The message about the last failure on this handle ("" if none yet).
 * Valid until the next call on the handle. Never NULL (also for NULL). */
const char *rdb_errmsg(const rdb_t *db);

/* Creates an open room named name with the given max_singers (0 for the
 * host's default, or 1..RDB_MAX_SINGERS), a new unguessable id and two new
 * keys, created now, key_gen 0, uploads allowed. Writes the id into id_out
 * (RK_ID_LEN + 1 bytes) and the keys into singer_key and organiser_key
 * (RK_KEY_LEN + 1 bytes each): this is the only time the keys exist; the
 * database keeps their hashes. An id that is already taken (by an open or
 * closed room) is drawn again. Returns RDB_OK, RDB_ERR_NAME,
 * RDB_ERR_MAX_SINGERS, RDB_ERR_FULL when RDB_MAX_ROOMS rooms are open,
 * RDB_ERR_ARG for a NULL argument, RDB_ERR_CRYPTO, RDB_ERR_BUSY or
 * RDB_ERR_SQL. On failure nothing is stored and the outputs are "". */
int rdb_create(rdb_t *db, const char *name, int max_singers, char *id_out,
               char *singer_key, char *organiser_key);

/* As rdb_create(), but under the id the caller chose (drawn with
 * rk_id_new(), and found good by whatever the caller asks of an id: with
 * several hosts, that the front sends it to this host). Returns as
 * rdb_create(), and also RDB_ERR_EXISTS when a room, open or closed, has
 * that id (ids are never handed out twice: draw another), RDB_ERR_ARG for
 * a NULL or invalid id. */
int rdb_create_id(rdb_t *db, const char *id, const char *name, int max_singers, char *id_out,
                  char *singer_key, char *organiser_key);

/* Reads the room with this id, open or closed, into *out. Returns RDB_OK,
 * RDB_ERR_NOT_FOUND, RDB_ERR_ARG (NULL or not an rk_id_valid() id) or an
 * SQL error. */
int rdb_get(rdb_t *db, const char *id, rdb_room_t *out);

/* Finds the open rooms whose name is exactly name (byte for byte; names
 * need not be unique). Writes the first min(count, cap) of them, oldest
 * first, into out (which may be NULL when cap is 0). Returns the count of
 * all matches (>= 0, possibly more than cap) or a negative rdb_error_t. */
int rdb_find_name(rdb_t *db, const char *name, rdb_room_t *out, int cap);

/* Calls fn(user, room) for every open room, and also every closed room
 * when include_closed is non-zero, oldest first (by created; rooms of the
 * same second in the order they were added to this database).
 * Returns RDB_OK (also when fn stopped the listing early) or an SQL
 * error. */
int rdb_list(rdb_t *db, int include_closed, rdb_room_fn fn, void *user);

/* Counts the open rooms into *n. Returns RDB_OK or an SQL error. */
int rdb_count_open(rdb_t *db, int *n);

/* Closes the room: from now on its keys do not match (rdb_check_key())
 * and it cannot be changed or exported; the record stays, with closed set
 * to now. Returns RDB_OK, RDB_ERR_NOT_FOUND, RDB_ERR_CLOSED if it was
 * closed already, RDB_ERR_ARG or an SQL error. */
int rdb_close_room(rdb_t *db, const char *id);

/* Gives an open room a new key for `which`: writes it into key_out
 * (RK_KEY_LEN + 1 bytes; the only time it exists), stores its hash and
 * adds 1 to key_gen. The old key stops matching. Returns RDB_OK,
 * RDB_ERR_NOT_FOUND, RDB_ERR_CLOSED, RDB_ERR_ARG, RDB_ERR_CRYPTO or an
 * SQL error; on failure nothing changes and key_out is "". */
int rdb_rekey(rdb_t *db, const char *id, rdb_which_t which, char *key_out);

/* Stores hash (RK_HASH_LEN bytes, made by rk_hash() elsewhere, e.g. by a
 * worker) as an open room's `which` key hash and adds 1 to key_gen.
 * Returns RDB_OK, RDB_ERR_NOT_FOUND, RDB_ERR_CLOSED, RDB_ERR_ARG or an SQL
 * error. */
int rdb_set_hash(rdb_t *db, const char *id, rdb_which_t which, const uint8_t *hash);

/* Sets an open room's max_singers (0 for the host's default, or
 * 1..RDB_MAX_SINGERS). Returns RDB_OK, RDB_ERR_MAX_SINGERS,
 * RDB_ERR_NOT_FOUND, RDB_ERR_CLOSED, RDB_ERR_ARG or an SQL error. */
int rdb_set_max_singers(rdb_t *db, const char *id, int max_singers);

/* Allows (non-zero) or forbids (0) uploads of backing tracks in an open
 * room. Returns like rdb_set_max_singers() (without RDB_ERR_MAX_SINGERS). */
int rdb_set_allow_uploads(rdb_t *db, const char *id, int allow);

/* Checks a key someone presented for room id. On a match writes which key
 * it is into *which (may be NULL) and returns RDB_OK. Returns RDB_ERR_KEY
 * when it matches neither hash or is not a valid key at all, RDB_ERR_CLOSED
 * for a closed room whatever the key, RDB_ERR_NOT_FOUND, RDB_ERR_ARG for a
 * NULL or invalid id, or an SQL error. Both hashes are compared in
 * constant time. */
int rdb_check_key(rdb_t *db, const char *id, const char *key, rdb_which_t *which);

/* Writes an open room's record as one line of JSON (no newline) into a
 * new string at *json_out, which the caller frees with free(): the object
 * {"version":RDB_EXPORT_VERSION, "id", "name", "singer_hash",
 * "organiser_hash" (64 lower-case hex digits each), "max_singers",
 * "created", "allow_uploads", "key_gen"}: what another host needs to take
 * the room over with the same links (the keys stay hashed). Returns
 * RDB_OK, RDB_ERR_NOT_FOUND, RDB_ERR_CLOSED (a closed room is not moved),
 * RDB_ERR_ARG, RDB_ERR_NOMEM or an SQL error; *json_out is NULL on
 * failure. */
int rdb_export(rdb_t *db, const char *id, char **json_out);

/* Adds the room described by json (NUL-terminated text as rdb_export()
 * writes it) as an open room. Every field must be present, of the right
 * type and valid (id by rk_id_valid(), name by rdb_name_valid(), hashes as
 * 64 hex digits, max_singers as for rdb_create(), created a positive
 * integer not more than a day ahead of this host's clock, key_gen an
 * integer 0..2^53, allow_uploads a boolean, version RDB_EXPORT_VERSION);
 * unknown or repeated fields and anything after the object are refused.
 * A closed room with the same id is replaced (a room moving back);
 * an open one is not. Writes the room's id into id_out (RK_ID_LEN + 1
 * bytes) when it is not NULL. Returns RDB_OK, RDB_ERR_JSON (the message
 * names the field and the problem), RDB_ERR_EXISTS, RDB_ERR_FULL,
 * RDB_ERR_ARG, RDB_ERR_NOMEM or an SQL error; on any failure the database
 * is unchanged. */
int rdb_import(rdb_t *db, const char *json, char *id_out);

/* Writes SQLite's data_version of this handle into *out: a number that
 * changes whenever another connection (this process or another) has
 * committed a change to the file since the last call; this handle's own
 * changes do not move it. A process polls it to notice rdb_create() or
 * rdb_close_room() by bb-room. Returns RDB_OK or an SQL error. */
int rdb_data_version(rdb_t *db, uint64_t *out);

#endif
