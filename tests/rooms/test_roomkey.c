/*
 * test_roomkey.c - room ids, keys and their hashes (rooms/roomkey.h).
 *
 * Draws many ids and keys and checks their exact shape, that they differ
 * and that every character of the alphabet turns up (so all the random
 * bits are used); the validity checks against near-misses of each rule;
 * rk_hash() against SHA-256 digests computed independently with coreutils'
 * sha256sum; rk_hash_equal() on equal hashes and on hashes differing in any
 * single byte or bit; hex encoding both ways.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rooms/roomkey.h"

#define DRAWS 2000

static const char id_alpha[] = "0123456789abcdefghjkmnpqrstvwxyz";
static const char key_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Sorts n strings of size bytes each (rows of a char array) and says
 * whether no two are equal. */
static int all_distinct(void *rows, size_t n, size_t size)
{
    const char *r = rows;
    int distinct = 1;
    qsort(rows, n, size, cmp_str);
    for (size_t i = 1; i < n; i++)
        distinct &= strcmp(r + (i - 1) * size, r + i * size) != 0;
    return distinct;
}

static void test_ids(check_t *c)
{
    static char ids[DRAWS][RK_ID_LEN + 1];
    int seen[256] = {0};
    int first_seen[256] = {0};
    int shape_ok = 1;

    for (int i = 0; i < DRAWS; i++) {
        memset(ids[i], 'X', sizeof ids[i]);
        CHECK_EQ_I(*c, rk_id_new(ids[i]), RK_OK);
        if (strlen(ids[i]) != RK_ID_LEN || !rk_id_valid(ids[i]))
            shape_ok = 0;
        for (int k = 0; k < RK_ID_LEN; k++) {
            if (strchr(id_alpha, ids[i][k]) == NULL)
                shape_ok = 0;
            seen[(unsigned char)ids[i][k]]++;
        }
        first_seen[(unsigned char)ids[i][0]]++;
    }
    CHECK(*c, shape_ok);
    /* Every character of the alphabet, also in the first position (the
     * top 5 of the 50 bits). */
    int all = 1, all_first = 1;
    for (const char *p = id_alpha; *p; p++) {
        all &= seen[(unsigned char)*p] > 0;
        all_first &= first_seen[(unsigned char)*p] > 0;
    }
    CHECK(*c, all);
    CHECK(*c, all_first);
    CHECK(*c, all_distinct(ids, DRAWS, sizeof ids[0]));
    CHECK_EQ_I(*c, rk_id_new(NULL), RK_ERR_ARG);

    /* Near-misses. */
    CHECK(*c, rk_id_valid("0123456789"));
    CHECK(*c, rk_id_valid("abcdefghjk"));
    CHECK(*c, rk_id_valid("mnpqrstvwx"));
    CHECK(*c, rk_id_valid("yzyzyzyzyz"));
    CHECK(*c, !rk_id_valid(NULL));
    CHECK(*c, !rk_id_valid(""));
    CHECK(*c, !rk_id_valid("012345678"));   /* 9 */
    CHECK(*c, !rk_id_valid("0123456789a")); /* 11 */
    CHECK(*c, !rk_id_valid("0123456789 "));
    CHECK(*c, !rk_id_valid("ABCDEFGHJK")); /* upper case */
    CHECK(*c, !rk_id_valid("abcdefghjK"));
    CHECK(*c, !rk_id_valid("abcdefghji")); /* i */
    CHECK(*c, !rk_id_valid("abcdefghjl")); /* l */
    CHECK(*c, !rk_id_valid("abcdefghjo")); /* o */
    CHECK(*c, !rk_id_valid("abcdefghju")); /* u */
    CHECK(*c, !rk_id_valid("abcd-fghjk"));
    CHECK(*c, !rk_id_valid("abcd\0fghjk"));
    CHECK(*c, !rk_id_valid("abcd\xc3\xa9ghjk"));
}

static void test_keys(check_t *c)
{
    static char keys[DRAWS][RK_KEY_LEN + 1];
    int seen[256] = {0};
    int last_seen[256] = {0};
    int shape_ok = 1;

    for (int i = 0; i < DRAWS; i++) {
        memset(keys[i], 'X', sizeof keys[i]);
        CHECK_EQ_I(*c, rk_key_new(keys[i]), RK_OK);
        if (strlen(keys[i]) != RK_KEY_LEN || !rk_key_valid(keys[i]))
            shape_ok = 0;
        for (int k = 0; k < RK_KEY_LEN - 1; k++) {
            if (strchr(key_alpha, keys[i][k]) == NULL)
                shape_ok = 0;
            seen[(unsigned char)keys[i][k]]++;
        }
        last_seen[(unsigned char)keys[i][RK_KEY_LEN - 1]]++;
    }
    CHECK(*c, shape_ok);
    int all = 1;
    for (const char *p = key_alpha; *p; p++)
        all &= seen[(unsigned char)*p] > 0;
    CHECK(*c, all);
    /* The last character carries 2 bits: exactly A, Q, g and w occur. */
    int last_count = 0, last_ok = 1;
    for (int ch = 0; ch < 256; ch++) {
        if (last_seen[ch] == 0)
            continue;
        last_count++;
        last_ok &= ch == 'A' || ch == 'Q' || ch == 'g' || ch == 'w';
    }
    CHECK_EQ_I(*c, last_count, 4);
    CHECK(*c, last_ok);
    CHECK(*c, all_distinct(keys, DRAWS, sizeof keys[0]));
    CHECK_EQ_I(*c, rk_key_new(NULL), RK_ERR_ARG);

    /* Near-misses. */
    CHECK(*c, rk_key_valid("AAAAAAAAAAAAAAAAAAAAAA"));
    CHECK(*c, rk_key_valid("Bucket-Brigade_Choir0w"));
    CHECK(*c, rk_key_valid("zzzzzzzzzzzzzzzzzzzzzQ"));
    CHECK(*c, rk_key_valid("-_-_-_-_-_-_-_-_-_-_-g"));
    CHECK(*c, !rk_key_valid(NULL));
    CHECK(*c, !rk_key_valid(""));
    CHECK(*c, !rk_key_valid("AAAAAAAAAAAAAAAAAAAAA"));    /* 21 */
    CHECK(*c, !rk_key_valid("AAAAAAAAAAAAAAAAAAAAAAA"));  /* 23 */
    CHECK(*c, !rk_key_valid("AAAAAAAAAAAAAAAAAAAAAA==")); /* padded */
    CHECK(*c, !rk_key_valid("AAAAAAAAAAAAAAAAAAAAA="));
    CHECK(*c, !rk_key_valid("AAAAAAAAAAA+AAAAAAAAAA")); /* plain base64 */
    CHECK(*c, !rk_key_valid("AAAAAAAAAAA/AAAAAAAAAA"));
    CHECK(*c, !rk_key_valid("AAAAAAAAAAA AAAAAAAAAA"));
    CHECK(*c, !rk_key_valid("AAAAAAAAAAAAAAAAAAAAAB")); /* non-zero pad bits */
    CHECK(*c, !rk_key_valid("AAAAAAAAAAAAAAAAAAAAA_"));
    CHECK(*c, !rk_key_valid("AAAAAAAAAAAAAAAAAAAAAx"));
    CHECK(*c, !rk_key_valid("AAAAAAAAAA\xc3\xa9" "AAAAAAAAAQ"));
}

static void from_hex(const char *hex, uint8_t *out)
{
    if (rk_hash_from_hex(hex, out) != RK_OK)
        memset(out, 0, RK_HASH_LEN);
}

static void test_hash(check_t *c)
{
    uint8_t h[RK_HASH_LEN], want[RK_HASH_LEN], h2[RK_HASH_LEN];
    char hex[RK_HASH_HEX_LEN + 1];

    /* printf %s KEY | sha256sum */
    CHECK_EQ_I(*c, rk_hash("AAAAAAAAAAAAAAAAAAAAAA", h), RK_OK);
    from_hex("8a5bdb4cc15164126c6ef2668de9dd240d299ce6397a42c95a9411b93d080ed8", want);
    CHECK(*c, memcmp(h, want, RK_HASH_LEN) == 0);
    CHECK_EQ_I(*c, rk_hash("Bucket-Brigade_Choir0w", h), RK_OK);
    from_hex("641753fd55db885548ca56e592d1d84484c599f8697ab33aa151311b836c57ba", want);
    CHECK(*c, memcmp(h, want, RK_HASH_LEN) == 0);
    rk_hash_to_hex(h, hex);
    CHECK(*c, strcmp(hex, "641753fd55db885548ca56e592d1d84484c599f8697ab33aa151311b836c57ba") == 0);

    /* Invalid keys are refused and the output left alone. */
    memset(h2, 0x5a, sizeof h2);
    CHECK_EQ_I(*c, rk_hash("abc", h2), RK_ERR_ARG);
    CHECK_EQ_I(*c, rk_hash("AAAAAAAAAAAAAAAAAAAAAB", h2), RK_ERR_ARG);
    CHECK_EQ_I(*c, rk_hash(NULL, h2), RK_ERR_ARG);
    CHECK_EQ_I(*c, rk_hash("AAAAAAAAAAAAAAAAAAAAAA", NULL), RK_ERR_ARG);
    CHECK_EQ_I(*c, h2[0], 0x5a);

    /* A new key hashes the same twice, and differently from another. */
    char k1[RK_KEY_LEN + 1], k2[RK_KEY_LEN + 1];
    CHECK_EQ_I(*c, rk_key_new(k1), RK_OK);
    CHECK_EQ_I(*c, rk_key_new(k2), RK_OK);
    CHECK_EQ_I(*c, rk_hash(k1, h), RK_OK);
    CHECK_EQ_I(*c, rk_hash(k1, h2), RK_OK);
    CHECK(*c, rk_hash_equal(h, h2));
    CHECK_EQ_I(*c, rk_hash(k2, h2), RK_OK);
    CHECK(*c, !rk_hash_equal(h, h2));
}

static void test_equal(check_t *c)
{
    uint8_t a[RK_HASH_LEN], b[RK_HASH_LEN];
    int each_byte = 1, each_bit = 1;

    for (int i = 0; i < RK_HASH_LEN; i++)
        a[i] = (uint8_t)(i * 37 + 11);
    memcpy(b, a, sizeof a);
    CHECK(*c, rk_hash_equal(a, b));
    CHECK(*c, rk_hash_equal(a, a));
    for (int i = 0; i < RK_HASH_LEN; i++) {
        b[i] ^= 0xff;
        each_byte &= !rk_hash_equal(a, b) && !rk_hash_equal(b, a);
        b[i] = a[i];
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            each_bit &= !rk_hash_equal(a, b);
            b[i] = a[i];
        }
    }
    CHECK(*c, each_byte);
    CHECK(*c, each_bit);
    CHECK(*c, rk_hash_equal(a, b));
}

static void test_hex(check_t *c)
{
    uint8_t h[RK_HASH_LEN], back[RK_HASH_LEN];
    char hex[RK_HASH_HEX_LEN + 2];

    for (int i = 0; i < RK_HASH_LEN; i++)
        h[i] = (uint8_t)(i * 8 + (i & 7)); /* 00 09 12 1b ... */
    rk_hash_to_hex(h, hex);
    CHECK_EQ_I(*c, strlen(hex), RK_HASH_HEX_LEN);
    CHECK(*c, strncmp(hex, "0009121b242d363f", 16) == 0);
    CHECK_EQ_I(*c, rk_hash_from_hex(hex, back), RK_OK);
    CHECK(*c, memcmp(h, back, sizeof h) == 0);

    /* Upper case reads the same. */
    char up[RK_HASH_HEX_LEN + 1];
    for (int i = 0; i <= RK_HASH_HEX_LEN; i++)
        up[i] = (hex[i] >= 'a' && hex[i] <= 'f') ? (char)(hex[i] - 32) : hex[i];
    memset(back, 0, sizeof back);
    CHECK_EQ_I(*c, rk_hash_from_hex(up, back), RK_OK);
    CHECK(*c, memcmp(h, back, sizeof h) == 0);

    /* Refusals leave the output alone. */
    memset(back, 0x77, sizeof back);
    char bad[RK_HASH_HEX_LEN + 2];
    memcpy(bad, hex, sizeof hex);
    bad[RK_HASH_HEX_LEN - 1] = '\0'; /* 63 digits */
    CHECK_EQ_I(*c, rk_hash_from_hex(bad, back), RK_ERR_ARG);
    memcpy(bad, hex, RK_HASH_HEX_LEN);
    bad[RK_HASH_HEX_LEN] = '0'; /* 65 digits */
    bad[RK_HASH_HEX_LEN + 1] = '\0';
    CHECK_EQ_I(*c, rk_hash_from_hex(bad, back), RK_ERR_ARG);
    memcpy(bad, hex, sizeof hex);
    bad[10] = 'g';
    CHECK_EQ_I(*c, rk_hash_from_hex(bad, back), RK_ERR_ARG);
    bad[10] = ' ';
    CHECK_EQ_I(*c, rk_hash_from_hex(bad, back), RK_ERR_ARG);
    CHECK_EQ_I(*c, rk_hash_from_hex("", back), RK_ERR_ARG);
    CHECK_EQ_I(*c, rk_hash_from_hex(NULL, back), RK_ERR_ARG);
    CHECK_EQ_I(*c, back[0], 0x77);
}

int main(void)
{
    CHECK_INIT(c);

    test_ids(&c);
    test_keys(&c);
    test_hash(&c);
    test_equal(&c);
    test_hex(&c);
    CHECK(c, strlen(rk_strerror(RK_ERR_CRYPTO)) > 0);
    CHECK(c, strlen(rk_strerror(12345)) > 0);
    return check_done(&c, "test_roomkey");
}
