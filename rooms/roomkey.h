/* roomkey: the names and secrets of a room.
 *
 * A room has a public id and two keys. The id appears in the room's URL
 * path (/r/<id>) and so in every server log; it only has to be unguessable
 * enough that nobody finds rooms by counting, and short enough to read
 * aloud: 10 characters of lower-case Crockford base32 (the digits and the
 * letters without i, l, o and u), 50 random bits.
 *
 * A key is what lets a person in: one for the singers, one for the
 * organiser. It is 128 random bits written as 22 characters of base64url
 * without padding, and travels only in the URL fragment (#<key>), which
 * browsers never send to a server. Hosts keep keys only as hashes: rk_hash()
 * is SHA-256 of the key's 22 characters of text, computed by OpenSSL's
 * libcrypto, and rk_hash_equal() compares two hashes in constant time so a
 * mismatch reveals nothing through its timing. A key has 128 bits of
 * entropy, so an unsalted fast hash is enough: nobody can search that space.
 *
 * Randomness comes from getrandom(2) (the kernel's CSPRNG), never from a
 * seeded generator.
 *
 * Validation is exact: rk_id_valid() and rk_key_valid() accept only what
 * rk_id_new() and rk_key_new() can produce, so every id and key has one
 * spelling (a key's last character carries 2 bits; the 4 unused bits must
 * be zero, as in the canonical encoding).
 *
 * Thread safety: no state; every function may be called from any thread.
 * Nothing here logs.
 */
#ifndef BB_ROOMS_ROOMKEY_H
#define BB_ROOMS_ROOMKEY_H

#include <stddef.h>
#include <stdint.h>

#define RK_ID_LEN 10       /* characters of a room id (50 bits) */
#define RK_KEY_LEN 22      /* characters of a key (128 bits) */
#define RK_KEY_BYTES 16    /* random bytes behind a key */
#define RK_HASH_LEN 32     /* bytes of a key's hash (SHA-256) */
#define RK_HASH_HEX_LEN 64 /* characters of a hash in hex */

typedef enum {
    RK_OK = 0,
    RK_ERR_ARG = -1,    /* NULL argument, or text that is not a valid key/hex */
    RK_ERR_RANDOM = -2, /* getrandom() failed */
    RK_ERR_CRYPTO = -3  /* libcrypto's digest failed */
} rk_error_t;

/* Returns a static English description of an rk_error_t value; never NULL,
 * also for unknown values. */
const char *rk_strerror(int err);

/* Writes a new random room id into out (RK_ID_LEN characters and a NUL, so
 * out holds at least RK_ID_LEN + 1 bytes). Returns RK_OK, RK_ERR_ARG for a
 * NULL out, or RK_ERR_RANDOM (errno set by getrandom) with out set to "". */
int rk_id_new(char *out);

/* Returns 1 if s is a room id: exactly RK_ID_LEN characters, each one of
 * "0123456789abcdefghjkmnpqrstvwxyz", then the NUL. Otherwise (upper case,
 * i/l/o/u, another length, NULL) 0. */
int rk_id_valid(const char *s);

/* Writes a new random key into out (RK_KEY_LEN characters and a NUL: at
 * least RK_KEY_LEN + 1 bytes). Returns RK_OK, RK_ERR_ARG for a NULL out,
 * or RK_ERR_RANDOM with out set to "". */
int rk_key_new(char *out);

/* Returns 1 if s is a key as rk_key_new() writes it: exactly RK_KEY_LEN
 * characters of A-Z a-z 0-9 '-' '_', the last one of "AQgw" (the
 * canonical end of 16 bytes), then the NUL. Otherwise (padding '=', '+' or
 * '/', another length, NULL) 0. */
int rk_key_valid(const char *s);

/* Writes SHA-256 of the key's RK_KEY_LEN bytes of text into out
 * (RK_HASH_LEN bytes). The key must pass rk_key_valid(), so a caller
 * cannot hash what a client sent without checking it first. Returns RK_OK,
 * RK_ERR_ARG (NULL or invalid key; out untouched) or RK_ERR_CRYPTO. */
int rk_hash(const char *key, uint8_t *out);

/* Returns 1 if the two RK_HASH_LEN-byte hashes are equal, else 0. Takes
 * the same time whichever bytes differ (OpenSSL's CRYPTO_memcmp). Both
 * must be non-NULL. */
int rk_hash_equal(const uint8_t *a, const uint8_t *b);

/* Writes the hash as RK_HASH_HEX_LEN lower-case hex digits and a NUL into
 * out (at least RK_HASH_HEX_LEN + 1 bytes). */
void rk_hash_to_hex(const uint8_t *hash, char *out);

/* Reads exactly RK_HASH_HEX_LEN hex digits (either case) followed by the
 * NUL into out (RK_HASH_LEN bytes). Returns RK_OK, or RK_ERR_ARG for a
 * NULL argument, another length or a non-hex character (out untouched). */
int rk_hash_from_hex(const char *hex, uint8_t *out);

#endif
