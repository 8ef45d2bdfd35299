/* roomrec: the record a room is written in when it moves between hosts,
 * and the rules a room's fields obey wherever they come from.
 *
 * Pure functions over rdb_room_t: no database, no clock of their own, no
 * output. roomdb.c uses them for rdb_export() and rdb_import() (the JSON
 * record is described there, in roomdb.h) and for the name check of
 * rdb_create(); rdb_name_valid() itself is declared in roomdb.h, the
 * public API.
 */
#ifndef BB_ROOMS_ROOMREC_H
#define BB_ROOMS_ROOMREC_H

#include <stddef.h>
#include <stdint.h>

#include "roomdb.h"

/* Writes r as one line of JSON (no newline), the object rdb_export()
 * promises, into a new string at *json_out that the caller frees with
 * free(). Writes every field of r but closed; does not check them.
 * Returns RDB_OK, or RDB_ERR_NOMEM with *json_out NULL. */
int rrec_print(const rdb_room_t *r, char **json_out);

/* Reads the NUL-terminated JSON record json into *r (closed 0), checking
 * it as rdb_import() promises; now is this host's clock in unix seconds,
 * against which "created" may lie at most a day ahead. Returns RDB_OK, or
 * RDB_ERR_JSON with an English message naming the field and the problem
 * written into msg (msgcap bytes, RDB_MSG_MAX is enough; msg may be NULL),
 * or RDB_ERR_ARG for a NULL json or r. *r is undefined on failure. */
int rrec_parse(const char *json, int64_t now, rdb_room_t *r, char *msg, size_t msgcap);

#endif
