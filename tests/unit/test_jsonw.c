/*
 * test_jsonw.c - the bounded JSON writer (common/jsonw.h): every string it
 * writes is one line of pure ASCII JSON whatever it is given.
 *
 * Asserted, with exact output: control characters (named escapes for
 * \n \r \t, \u00XX for the others and for DEL and C1), '"' and '\', UTF-8
 * as \uXXXX with surrogate pairs above U+FFFF, invalid UTF-8 (stray
 * continuation bytes, overlong forms, surrogates, code points past
 * U+10FFFF, sequences cut by the end) as one U+FFFD per bad byte; the
 * structure (commas, keys, nesting, numbers, null for NaN); overflow at
 * every buffer size (the text stays NUL-terminated, never past the buffer,
 * and jw_ok() says so); jw_str_len() exact; jw_escape()'s exact room
 * rule; jw_utf8_clean() and the cut of long strings at character
 * boundaries.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "jsonw.h"

/* The string s (n bytes) as jw_strn() writes it, into out. */
static const char *quoted(const char *s, size_t n, char *out, size_t cap)
{
    jw_t w;
    jw_init(&w, out, cap);
    jw_strn(&w, s, n);
    return jw_ok(&w) ? out : "(overflow)";
}

#define Q(lit) quoted(lit, sizeof lit - 1, buf, sizeof buf)

static void test_error(check_t *c)
{
    char buf[64];
    jw_error(buf, sizeof buf, "no \"such\" room");
    CHECK_EQ_S(*c, buf, "{\"error\":\"no \\\"such\\\" room\"}");
}

static void test_escapes(check_t *c)
{
    char buf[256];
    CHECK_EQ_S(*c, Q("plain"), "\"plain\"");
    CHECK_EQ_S(*c, Q(""), "\"\"");
    CHECK_EQ_S(*c, Q("a\"b"), "\"a\\\"b\"");
    CHECK_EQ_S(*c, Q("a\\b"), "\"a\\\\b\"");
    CHECK_EQ_S(*c, Q("\n\r\t"), "\"\\n\\r\\t\"");
    CHECK_EQ_S(*c, Q("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
    /* A NUL inside the given length is a control character like any other. */
    CHECK_EQ_S(*c, quoted("a\0b", 3, buf, sizeof buf), "\"a\\u0000b\"");
    CHECK_EQ_S(*c, Q("/<>&'"), "\"/<>&'\"");
    /* UTF-8: two, three and four bytes; C1 controls are escaped too. */
    CHECK_EQ_S(*c, Q("\xc3\xa9"), "\"\\u00e9\"");
    CHECK_EQ_S(*c, Q("\xc2\x85"), "\"\\u0085\"");
    CHECK_EQ_S(*c, Q("\xe2\x82\xac"), "\"\\u20ac\"");
    CHECK_EQ_S(*c, Q("\xef\xbf\xbf"), "\"\\uffff\"");
    CHECK_EQ_S(*c, Q("\xf0\x9f\x8e\xb5"), "\"\\ud83c\\udfb5\"");       /* U+1F3B5 */
    CHECK_EQ_S(*c, Q("\xf4\x8f\xbf\xbf"), "\"\\udbff\\udfff\"");       /* U+10FFFF */
}

/* jw_str_len() says exactly how many bytes jw_str() writes. */
static void test_str_len(check_t *c)
{
    static const char *const inputs[] = {
        "", "plain", "a\"b\\c", "\n\r\t\x01\x7f", "\xc3\xa9\xe2\x82\xac", "\xf0\x9f\x8e\xb5",
        "\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80", "ok\xe2\x82",
    };
    char buf[256];
    int wrong = 0;
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        wrong += jw_str_len(inputs[i], n) != strlen(quoted(inputs[i], n, buf, sizeof buf));
    }
    CHECK_EQ_I(*c, wrong, 0);
    CHECK_EQ_I(*c, (long long)jw_str_len("a\0b", 3), 10);   /* "a\u0000b" */
}

static void test_invalid_utf8(check_t *c)
{
    char buf[256];
    /* Each bad byte is one U+FFFD, and decoding goes on after it. */
    CHECK_EQ_S(*c, Q("a\x80z"), "\"a\\ufffdz\"");                      /* stray continuation */
    CHECK_EQ_S(*c, Q("\xc0\xaf"), "\"\\ufffd\\ufffd\"");               /* overlong '/' */
    CHECK_EQ_S(*c, Q("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"");    /* overlong, 3 bytes */
    CHECK_EQ_S(*c, Q("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");    /* surrogate U+D800 */
    CHECK_EQ_S(*c, Q("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
    CHECK_EQ_S(*c, Q("\xff\xfe"), "\"\\ufffd\\ufffd\"");
    CHECK_EQ_S(*c, Q("ok\xe2\x82"), "\"ok\\ufffd\\ufffd\"");           /* cut by the end */
    CHECK_EQ_S(*c, Q("\xc3" "A"), "\"\\ufffdA\"");                     /* lead byte, no follower */
    /* jw_escape alone: the exact room rule (no quotes, no NUL). */
    char out[16];
    CHECK_EQ_I(*c, (long long)jw_escape("\xc3\xa9", 2, out, 6), 6);
    CHECK(*c, memcmp(out, "\\u00e9", 6) == 0);
    CHECK_EQ_I(*c, (long long)jw_escape("\xc3\xa9", 2, out, 5), (long long)(size_t)-1);
    CHECK_EQ_I(*c, (long long)jw_escape("", 0, out, 0), 0);
}

static void test_structure(check_t *c)
{
    char buf[512];
    jw_t w;
    jw_init(&w, buf, sizeof buf);
    jw_obj_begin(&w);
    jw_key(&w, "clock");
    jw_int(&w, INT64_C(86233745842560));
    jw_key(&w, "neg");
    jw_int(&w, INT64_MIN);
    jw_key(&w, "id");
    jw_uint_str(&w, UINT64_MAX);
    jw_key(&w, "v");
    jw_num(&w, 0.1);
    jw_key(&w, "nan");
    jw_num(&w, NAN);
    jw_key(&w, "inf");
    jw_num(&w, -INFINITY);
    jw_key(&w, "list");
    jw_arr_begin(&w);
    jw_bool(&w, true);
    jw_bool(&w, false);
    jw_null(&w);
    jw_arr_begin(&w);
    jw_arr_end(&w);
    jw_obj_begin(&w);
    jw_obj_end(&w);
    jw_raw(&w, "{\"x\":1}", 7);
    jw_arr_end(&w);
    jw_key(&w, "k\"ey");
    jw_str(&w, "v");
    jw_obj_end(&w);
    CHECK(*c, jw_ok(&w));
    CHECK_EQ_S(*c, buf,
               "{\"clock\":86233745842560,\"neg\":-9223372036854775808,"
               "\"id\":\"18446744073709551615\",\"v\":0.1,\"nan\":null,\"inf\":null,"
               "\"list\":[true,false,null,[],{},{\"x\":1}],\"k\\\"ey\":\"v\"}");
    CHECK_EQ_I(*c, (long long)w.len, (long long)strlen(buf));
}

/* A document with every kind of value, written into a buffer of `cap`
 * bytes followed by guard bytes. */
static bool write_doc(char *mem, size_t cap, size_t *len)
{
    jw_t w;
    jw_init(&w, mem, cap);
    jw_obj_begin(&w);
    jw_key(&w, "name");
    jw_str(&w, "Zo\xc3\xab \xf0\x9f\x8e\xb5 \"q\"");
    jw_key(&w, "n");
    jw_int(&w, 1234567);
    jw_key(&w, "a");
    jw_arr_begin(&w);
    jw_num(&w, 2.5);
    jw_raw(&w, "[1,2]", 5);
    jw_arr_end(&w);
    jw_obj_end(&w);
    *len = w.len;
    return jw_ok(&w);
}

static void test_overflow(check_t *c)
{
    enum { GUARD = 16 };
    char full[256], mem[256 + GUARD];
    size_t n_full;
    CHECK(*c, write_doc(full, sizeof full, &n_full));
    int bad_ok = 0, bad_nul = 0, bad_guard = 0, bad_prefix = 0;
    /* Every buffer size from 1 to one past what the document needs. */
    for (size_t cap = 1; cap <= n_full + 1; cap++) {
        size_t len;
        memset(mem, 0x5a, sizeof mem);
        bool ok = write_doc(mem, cap, &len);
        bad_ok += ok != (cap > n_full);
        bad_nul += len >= cap || mem[len] != '\0';
        for (size_t g = cap; g < cap + GUARD; g++)
            bad_guard += (unsigned char)mem[g] != 0x5a;
        /* What was written before running out is a prefix of the whole. */
        bad_prefix += memcmp(mem, full, len) != 0;
    }
    CHECK_EQ_I(*c, bad_ok, 0);
    CHECK_EQ_I(*c, bad_nul, 0);
    CHECK_EQ_I(*c, bad_guard, 0);
    CHECK_EQ_I(*c, bad_prefix, 0);
    /* Once overflowed, nothing more is written, even what would fit. */
    char small[8];
    jw_t w;
    jw_init(&w, small, sizeof small);
    jw_str(&w, "far too long for eight bytes");
    jw_null(&w);
    CHECK(*c, !jw_ok(&w));
    CHECK_EQ_I(*c, (long long)w.len, 1);     /* the opening quote */
    CHECK_EQ_S(*c, small, "\"");
}

static void test_clean_and_cut(check_t *c)
{
    CHECK(*c, jw_utf8_clean("Zo\xc3\xab", 4));
    CHECK(*c, jw_utf8_clean("", 0));
    CHECK(*c, !jw_utf8_clean("a\nb", 3));
    CHECK(*c, !jw_utf8_clean("a\x7f", 2));
    CHECK(*c, !jw_utf8_clean("\xc3", 1));
    CHECK(*c, !jw_utf8_clean("\xed\xa0\x80", 3));
    CHECK(*c, jw_utf8_clean("\xc2\x85", 2));   /* C1 is not refused here: only C0 and DEL */
    /* The cut of long strings: never inside a character. */
    const char *s = "ab\xc3\xa9" "\xe2\x82\xac" "\xf0\x9f\x8e\xb5";   /* 2 + 2 + 3 + 4 bytes */
    size_t n = strlen(s);
    CHECK_EQ_I(*c, (long long)jw_utf8_cut(s, n, 100), (long long)n);
    CHECK_EQ_I(*c, (long long)jw_utf8_cut(s, n, n), (long long)n);
    CHECK_EQ_I(*c, (long long)jw_utf8_cut(s, n, 10), 7);   /* inside the 4-byte one */
    CHECK_EQ_I(*c, (long long)jw_utf8_cut(s, n, 7), 7);
    CHECK_EQ_I(*c, (long long)jw_utf8_cut(s, n, 6), 4);    /* inside the euro sign */
    CHECK_EQ_I(*c, (long long)jw_utf8_cut(s, n, 3), 2);    /* inside e-acute */
    CHECK_EQ_I(*c, (long long)jw_utf8_cut(s, n, 0), 0);
    /* Every cut of it is clean UTF-8 again. */
    int unclean = 0;
    for (size_t max = 0; max <= n; max++)
        unclean += !jw_utf8_clean(s, jw_utf8_cut(s, n, max));
    CHECK_EQ_I(*c, unclean, 0);
}

int main(void)
{
    CHECK_INIT(c);
    test_escapes(&c);
    test_error(&c);
    test_invalid_utf8(&c);
    test_str_len(&c);
    test_structure(&c);
    test_overflow(&c);
    test_clean_and_cut(&c);
    return check_done(&c, "test_jsonw");
}
