/* roomrec: a room's record as JSON, and the rules of a room's name.
 *
 * The record (roomdb.h, rdb_export()) is a flat object of nine fields that
 * must all be present once each: a refusal names the field and what is
 * wrong with it, for the operator who piped the record into bb-room. Only
 * the fields' text comes from outside, so every check is on the parsed
 * value, before anything is copied into the rdb_room_t.
 *
 * Nothing here touches the database or the clock: roomdb.c gives the time
 * and turns the message into the handle's, so the parser can be run and
 * fuzzed on its own.
 */
#include "roomrec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define XSTR(x) STR(x)
#define STR(x) #x

/* How far ahead of this host's clock an imported room's creation time may
 * lie (the clocks of two hosts differ). */
#define IMPORT_CLOCK_SLACK 86400
/* The largest integer JSON carries exactly (a double's 53 bits). */
#define JSON_INT_MAX 9007199254740992.0

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

/* The fields of the JSON record, in the order rdb_export() writes them. */
enum { F_VERSION, F_ID, F_NAME, F_SINGER_HASH, F_ORGANISER_HASH, F_MAX_SINGERS, F_CREATED,
       F_ALLOW_UPLOADS, F_KEY_GEN, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "version", "id", "name", "singer_hash", "organiser_hash",
    "max_singers", "created", "allow_uploads", "key_gen",
};

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

/* The caller's message buffer and where to write the next failure. */
typedef struct {
    char *buf;
    size_t cap;
} msg_t;

/* Writes the message for a refusal and returns RDB_ERR_JSON. */
__attribute__((format(printf, 2, 3)))
static int refuse(msg_t *m, const char *fmt, ...)
{
    va_list ap;

    if (m->buf != NULL && m->cap > 0) {
        va_start(ap, fmt);
        vsnprintf(m->buf, m->cap, fmt, ap);
        va_end(ap);
    }
    return RDB_ERR_JSON;
}

static int bad_field(msg_t *m, int f, const char *why)
{
    return refuse(m, "field \"%s\": %s", field_names[f], why);
}

/* Finds each known field of root once: unknown, repeated and missing
 * fields are refused. */
static int find_fields(msg_t *m, const cJSON *root, const cJSON *field[F_COUNT])
{
    const cJSON *c;
    char buf[40];

    if (!cJSON_IsObject(root))
        return refuse(m, "the room record is not a JSON object");
    cJSON_ArrayForEach(c, root) {
        int f;
        for (f = 0; f < F_COUNT; f++)
            if (c->string != NULL && strcmp(c->string, field_names[f]) == 0)
                break;
        if (f == F_COUNT)
            return refuse(m, "unknown field \"%s\"", printable(c->string, buf, 33));
        if (field[f] != NULL)
            return bad_field(m, f, "appears twice");
        field[f] = c;
    }
    for (int f = 0; f < F_COUNT; f++)
        if (field[f] == NULL)
            return bad_field(m, f, "missing");
    return RDB_OK;
}

/* Checks every field of a parsed record into *r. */
static int read_fields(msg_t *m, const cJSON *root, int64_t now, rdb_room_t *r)
{
    const cJSON *field[F_COUNT] = {0};
    int64_t v;
    int err = find_fields(m, root, field);

    if (err != RDB_OK)
        return err;
    memset(r, 0, sizeof *r);
    if (!json_int(field[F_VERSION], RDB_EXPORT_VERSION, RDB_EXPORT_VERSION, &v))
        return refuse(m, "field \"version\": this program reads version %d", RDB_EXPORT_VERSION);
    if (!cJSON_IsString(field[F_ID]) || !rk_id_valid(field[F_ID]->valuestring))
        return bad_field(m, F_ID, "not a room id (10 characters of 0-9, a-z without i l o u)");
    memcpy(r->id, field[F_ID]->valuestring, RK_ID_LEN + 1);
    if (!cJSON_IsString(field[F_NAME]) || !rdb_name_valid(field[F_NAME]->valuestring))
        return bad_field(m, F_NAME, "not 1 to 64 bytes of UTF-8 text without control "
                                    "characters");
    snprintf(r->name, sizeof r->name, "%s", field[F_NAME]->valuestring);
    if (!cJSON_IsString(field[F_SINGER_HASH]) ||
        rk_hash_from_hex(field[F_SINGER_HASH]->valuestring, r->singer_hash) != RK_OK)
        return bad_field(m, F_SINGER_HASH, "not 64 hex digits");
    if (!cJSON_IsString(field[F_ORGANISER_HASH]) ||
        rk_hash_from_hex(field[F_ORGANISER_HASH]->valuestring, r->organiser_hash) != RK_OK)
        return bad_field(m, F_ORGANISER_HASH, "not 64 hex digits");
    if (!json_int(field[F_MAX_SINGERS], 0, RDB_MAX_SINGERS, &v))
        return bad_field(m, F_MAX_SINGERS, "not an integer from 0 to " XSTR(RDB_MAX_SINGERS));
    r->max_singers = (int)v;
    if (!json_int(field[F_CREATED], 1, (double)(now + IMPORT_CLOCK_SLACK), &v))
        return bad_field(m, F_CREATED, "not unix seconds up to a day ahead of this host's clock");
    r->created = v;
    if (!json_int(field[F_KEY_GEN], 0, JSON_INT_MAX, &v))
        return bad_field(m, F_KEY_GEN, "not an integer from 0 to 2^53");
    r->key_gen = v;
    if (!cJSON_IsBool(field[F_ALLOW_UPLOADS]))
        return bad_field(m, F_ALLOW_UPLOADS, "not true or false");
    r->allow_uploads = cJSON_IsTrue(field[F_ALLOW_UPLOADS]);
    return RDB_OK;
}

int rrec_parse(const char *json, int64_t now, rdb_room_t *r, char *msg, size_t msgcap)
{
    msg_t m = {msg, msgcap};
    const char *end = NULL;

    if (json == NULL || r == NULL)
        return RDB_ERR_ARG;
    if (has_escaped_nul(json))
        return refuse(&m, "a string holds an escaped NUL character (\\u0000)");
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (root == NULL)
        return refuse(&m, "malformed JSON near byte %zu",
                      end != NULL && end >= json ? (size_t)(end - json) : (size_t)0);
    int err = read_fields(&m, root, now, r);
    cJSON_Delete(root);
    return err;
}

int rrec_print(const rdb_room_t *r, char **json_out)
{
    char sh[RK_HASH_HEX_LEN + 1], oh[RK_HASH_HEX_LEN + 1];

    *json_out = NULL;
    rk_hash_to_hex(r->singer_hash, sh);
    rk_hash_to_hex(r->organiser_hash, oh);
    cJSON *o = cJSON_CreateObject();
    if (o == NULL ||
        !cJSON_AddNumberToObject(o, field_names[F_VERSION], RDB_EXPORT_VERSION) ||
        !cJSON_AddStringToObject(o, field_names[F_ID], r->id) ||
        !cJSON_AddStringToObject(o, field_names[F_NAME], r->name) ||
        !cJSON_AddStringToObject(o, field_names[F_SINGER_HASH], sh) ||
        !cJSON_AddStringToObject(o, field_names[F_ORGANISER_HASH], oh) ||
        !cJSON_AddNumberToObject(o, field_names[F_MAX_SINGERS], r->max_singers) ||
        !cJSON_AddNumberToObject(o, field_names[F_CREATED], (double)r->created) ||
        !cJSON_AddBoolToObject(o, field_names[F_ALLOW_UPLOADS], r->allow_uploads) ||
        !cJSON_AddNumberToObject(o, field_names[F_KEY_GEN], (double)r->key_gen)) {
        cJSON_Delete(o);
        return RDB_ERR_NOMEM;
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    /* A copy from malloc, so the caller frees it with free() whatever
     * allocator cJSON was built with. */
    *json_out = text ? strdup(text) : NULL;
    cJSON_free(text);
    return *json_out != NULL ? RDB_OK : RDB_ERR_NOMEM;
}
