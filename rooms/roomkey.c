/* roomkey: room ids and keys from the kernel's random bytes, and their
 * hashes through libcrypto.
 *
 * Encodings are written out by hand because they are a table lookup each;
 * SHA-256 and the constant-time comparison come from OpenSSL, which is
 * reviewed, tested against the standard's vectors and hardened far beyond
 * what a copy of the algorithm here would be.
 *
 * An id's 50 bits come from 7 random bytes (the top 6 bits of the last one
 * are dropped), read 5 bits at a time from the most significant end, so
 * every id is equally likely. A key is the standard base64url of 16 random
 * bytes, most significant bits first, without the two '=' of padding.
 */
#include "roomkey.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char id_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
static const char key_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *rk_strerror(int err)
{
    switch (err) {
    case RK_OK: return "success";
    case RK_ERR_ARG: return "invalid argument";
    case RK_ERR_RANDOM: return "no random bytes from getrandom()";
    case RK_ERR_CRYPTO: return "SHA-256 digest failed in libcrypto";
    default: return "unknown roomkey error";
    }
}

/* Fills buf with n bytes from the kernel's CSPRNG. Blocks only before the
 * pool is first initialised at boot; retries on EINTR and short reads. */
static int fill_random(uint8_t *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return RK_ERR_RANDOM;
        }
        got += (size_t)r;
    }
    return RK_OK;
}

int rk_id_new(char *out)
{
    uint8_t raw[7];
    uint64_t bits = 0;

    if (out == NULL)
        return RK_ERR_ARG;
    if (fill_random(raw, sizeof raw) != RK_OK) {
        out[0] = '\0';
        return RK_ERR_RANDOM;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        bits = bits << 8 | raw[i];
    bits >>= 56 - 5 * RK_ID_LEN; /* keep the top 50 of the 56 bits */
    for (int i = RK_ID_LEN - 1; i >= 0; i--) {
        out[i] = id_alphabet[bits & 31];
        bits >>= 5;
    }
    out[RK_ID_LEN] = '\0';
    return RK_OK;
}

static int in_id_alphabet(char c)
{
    return c != '\0' && memchr(id_alphabet, c, sizeof id_alphabet - 1) != NULL;
}

int rk_id_valid(const char *s)
{
    if (s == NULL)
        return 0;
    for (int i = 0; i < RK_ID_LEN; i++)
        if (!in_id_alphabet(s[i]))
            return 0;
    return s[RK_ID_LEN] == '\0';
}

int rk_key_new(char *out)
{
    uint8_t raw[RK_KEY_BYTES];
    int o = 0;

    if (out == NULL)
        return RK_ERR_ARG;
    if (fill_random(raw, sizeof raw) != RK_OK) {
        out[0] = '\0';
        return RK_ERR_RANDOM;
    }
    /* Five groups of 3 bytes give 20 characters; the 16th byte gives 2. */
    for (int i = 0; i + 3 <= RK_KEY_BYTES; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = key_alphabet[v >> 18 & 63];
        out[o++] = key_alphabet[v >> 12 & 63];
        out[o++] = key_alphabet[v >> 6 & 63];
        out[o++] = key_alphabet[v & 63];
    }
    out[o++] = key_alphabet[raw[15] >> 2];
    out[o++] = key_alphabet[(raw[15] & 3) << 4];
    out[o] = '\0';
    explicit_bzero(raw, sizeof raw);
    return RK_OK;
}

/* The value of a base64url character, or -1. */
static int key_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int rk_key_valid(const char *s)
{
    if (s == NULL)
        return 0;
    for (int i = 0; i < RK_KEY_LEN; i++) {
        int v = key_value(s[i]);
        if (v < 0)
            return 0;
        /* The last character holds the 16th byte's low 2 bits in its top
         * 2 bits; its low 4 bits are padding and must be zero. */
        if (i == RK_KEY_LEN - 1 && (v & 15) != 0)
            return 0;
    }
    return s[RK_KEY_LEN] == '\0';
}

int rk_hash(const char *key, uint8_t *out)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (out == NULL || !rk_key_valid(key))
        return RK_ERR_ARG;
    if (EVP_Digest(key, RK_KEY_LEN, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != RK_HASH_LEN)
        return RK_ERR_CRYPTO;
    memcpy(out, md, RK_HASH_LEN);
    return RK_OK;
}

int rk_hash_equal(const uint8_t *a, const uint8_t *b)
{
    return CRYPTO_memcmp(a, b, RK_HASH_LEN) == 0;
}

void rk_hash_to_hex(const uint8_t *hash, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < RK_HASH_LEN; i++) {
        out[2 * i] = hex[hash[i] >> 4];
        out[2 * i + 1] = hex[hash[i] & 15];
    }
    out[RK_HASH_HEX_LEN] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rk_hash_from_hex(const char *hex, uint8_t *out)
{
    uint8_t tmp[RK_HASH_LEN];

    if (hex == NULL || out == NULL)
        return RK_ERR_ARG;
    for (int i = 0; i < RK_HASH_LEN; i++) {
        int hi = hex_value(hex[2 * i]);
        if (hi < 0)
            return RK_ERR_ARG; /* also the NUL of a short string */
        int lo = hex_value(hex[2 * i + 1]);
        if (lo < 0)
            return RK_ERR_ARG;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[RK_HASH_HEX_LEN] != '\0')
        return RK_ERR_ARG;
    memcpy(out, tmp, RK_HASH_LEN);
    return RK_OK;
}
