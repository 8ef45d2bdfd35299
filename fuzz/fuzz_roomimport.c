/*
 * fuzz_roomimport.c - rdb_import() (rooms/roomdb.h), the JSON record a
 * room moves between hosts in: whatever an operator pipes into
 * `bb-room import`.
 *
 * Input: the record's text (cut at the first NUL, as the command refuses
 * NUL bytes). Each input meets an in-memory rooms database holding one
 * open room (SEED_ID) and nothing else: a refused input changes nothing
 * (checked below), so the database is reused until an input is accepted,
 * and then replaced by a fresh one. Opening one costs about a
 * millisecond (pragmas and the schema), many times an import.
 * Invariants beyond memory safety:
 *   - a refusal is RDB_ERR_JSON or RDB_ERR_EXISTS with a message, leaves no
 *     id behind, and changes nothing (one open room, its export as before);
 *   - an accepted record is a valid open room (id, name, ranges) beside the
 *     seed, importing it again is refused as a duplicate, and its export
 *     imports into another database and exports there to the same text
 *     and the same record.
 */
#include <string.h>

#include "fuzz.h"
#include "rooms/roomdb.h"

#define SEED_ID "0123456789"

static const char seed_record[] =
    "{\"version\":1,\"id\":\"" SEED_ID "\",\"name\":\"Seed choir\","
    "\"singer_hash\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
    "\"organiser_hash\":\"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\","
    "\"max_singers\":0,\"created\":1700000000,\"allow_uploads\":true,\"key_gen\":0}";

static rdb_t *fresh_db(void)
{
    int err = 0;
    char msg[RDB_MSG_MAX];
    rdb_t *db = rdb_open(":memory:", &err, msg, sizeof msg);
    if (db == NULL) {
        fprintf(stderr, "fuzz_roomimport: %s\n", msg);
        abort();
    }
    return db;
}

static int count_open(rdb_t *db)
{
    int n = -1;
    FZ_ASSERT(rdb_count_open(db, &n) == RDB_OK);
    return n;
}

/* The database each input meets, with only the seed room, and that
 * room's export. */
static rdb_t *db;
static char *seed_export;

static void ensure_db(void)
{
    if (db != NULL)
        return;
    db = fresh_db();
    FZ_ASSERT(rdb_import(db, seed_record, NULL) == RDB_OK);
    free(seed_export);
    seed_export = NULL;
    FZ_ASSERT(rdb_export(db, SEED_ID, &seed_export) == RDB_OK);
}

/* The seed room is still there, unchanged. */
static void check_seed(void)
{
    char *now = NULL;
    FZ_ASSERT(rdb_export(db, SEED_ID, &now) == RDB_OK);
    FZ_ASSERT(strcmp(now, seed_export) == 0);
    free(now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[65536];
    char id[RK_ID_LEN + 1];

    size_t len = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, len);
    text[len] = '\0';

    ensure_db();
    memset(id, 'x', sizeof id);
    int rc = rdb_import(db, text, id);
    if (rc != RDB_OK) {
        FZ_ASSERT(rc == RDB_ERR_JSON || rc == RDB_ERR_EXISTS);
        FZ_ASSERT(rdb_errmsg(db)[0] != '\0');
        FZ_ASSERT(id[0] == '\0');
        FZ_ASSERT(count_open(db) == 1);
        check_seed();
        return 0;
    }

    rdb_room_t r, r2;
    FZ_ASSERT(rk_id_valid(id));
    FZ_ASSERT(strcmp(id, SEED_ID) != 0);
    FZ_ASSERT(count_open(db) == 2);
    FZ_ASSERT(rdb_get(db, id, &r) == RDB_OK);
    FZ_ASSERT(r.closed == 0 && rdb_name_valid(r.name));
    FZ_ASSERT(r.max_singers >= 0 && r.max_singers <= RDB_MAX_SINGERS);
    FZ_ASSERT(r.created > 0 && r.key_gen >= 0);
    FZ_ASSERT(rdb_import(db, text, NULL) == RDB_ERR_EXISTS);
    check_seed();

    char *json = NULL, *json2 = NULL;
    FZ_ASSERT(rdb_export(db, id, &json) == RDB_OK);
    rdb_t *other = fresh_db();
    FZ_ASSERT(rdb_import(other, json, NULL) == RDB_OK);
    FZ_ASSERT(rdb_get(other, id, &r2) == RDB_OK);
    FZ_ASSERT(memcmp(&r, &r2, sizeof r) == 0);
    FZ_ASSERT(rdb_export(other, id, &json2) == RDB_OK);
    FZ_ASSERT(strcmp(json, json2) == 0);
    free(json);
    free(json2);
    rdb_close(other);

    /* This database now holds two rooms: the next input gets a new one. */
    rdb_close(db);
    db = NULL;
    return 0;
}
