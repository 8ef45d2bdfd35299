/*
 * test_urlenc.c - URL encoding as URLSearchParams does it (urlenc.h):
 * unreserved bytes, space as '+', UTF-8 percent-encoded, JSON values, and
 * decoding back every byte.
 */
#include <string.h>

#include "check.h"
#include "urlenc.h"

/* The checks of this test (check.h). */
static check_t ck;

static int enc_is(const char *in, const char *want)
{
    bbuf_t b = { 0 };
    urlenc_append(&b, in, strlen(in));
    int ok = b.len == strlen(want) && memcmp(b.data, want, b.len) == 0;
    if (!ok)
        fprintf(stderr, "  encode(\"%s\") = \"%s\", want \"%s\"\n", in, b.data ? (char *)b.data : "", want);
    bbuf_free(&b);
    return ok;
}

static void test_encode(void)
{
    CHECK(ck, enc_is("", ""));
    CHECK(ck, enc_is("abcXYZ019", "abcXYZ019"));
    CHECK(ck, enc_is("*-._", "*-._"));
    CHECK(ck, enc_is("a b", "a+b"));
    CHECK(ck, enc_is("~!'()", "%7E%21%27%28%29"));
    CHECK(ck, enc_is("&=+%/?#", "%26%3D%2B%25%2F%3F%23"));
    CHECK(ck, enc_is("J\xc3\xbcrgen M", "J%C3%BCrgen+M"));           /* ü */
    CHECK(ck, enc_is("\xf0\x9f\x8e\xb5", "%F0%9F%8E%B5"));             /* U+1F3B5 */
    CHECK(ck, enc_is("[\"hi\",\"all\"]", "%5B%22hi%22%2C%22all%22%5D"));
    CHECK(ck, enc_is("[[\"48213371202\",1.5]]", "%5B%5B%2248213371202%22%2C1.5%5D%5D"));
}

static void test_params(void)
{
    bbuf_t q = { 0 };
    urlenc_param(&q, "read_clock", "77040003312000");
    urlenc_param(&q, "username", "J\xc3\xbcrgen M");
    urlenc_param(&q, "reset_user_state", "true");
    CHECK(ck, strcmp((char *)q.data, "read_clock=77040003312000&username=J%C3%BCrgen+M&reset_user_state=true") == 0);
    char v[64];
    CHECK(ck, urlenc_get((char *)q.data, "username", v, sizeof v) == 9 && strcmp(v, "J\xc3\xbcrgen M") == 0);
    CHECK(ck, urlenc_get((char *)q.data, "read_clock", v, sizeof v) == 14);
    CHECK(ck, urlenc_get((char *)q.data, "read", v, sizeof v) == -1);
    CHECK(ck, urlenc_get((char *)q.data, "missing", v, sizeof v) == -1);
    CHECK(ck, urlenc_get("a=1&flag&b=", "flag", v, sizeof v) == 0);
    CHECK(ck, urlenc_get("a=1&flag&b=", "b", v, sizeof v) == 0);
    bbuf_free(&q);
}

static void test_decode(void)
{
    /* Every byte 1..255 survives encode then decode. */
    char all[255];
    for (int i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    bbuf_t b = { 0 };
    urlenc_append(&b, all, sizeof all);
    char back[300];
    CHECK(ck, urlenc_decode(back, sizeof back, (char *)b.data, b.len) == 255);
    CHECK(ck, memcmp(back, all, 255) == 0);
    bbuf_free(&b);
    /* Malformed escapes stay as they are. */
    CHECK(ck, urlenc_decode(back, sizeof back, "%zz%4", 5) == 5 && strcmp(back, "%zz%4") == 0);
    CHECK(ck, urlenc_decode(back, sizeof back, "a+%41%c3%A9", 11) == 5 && strcmp(back, "a A\xc3\xa9") == 0);
    /* Too small an output is an error, never an overflow. */
    CHECK(ck, urlenc_decode(back, 3, "abcd", 4) == URLENC_ESPACE);
}

int main(void)
{
    test_encode();
    test_params();
    test_decode();
    return check_done(&ck, "test_tools_urlenc");
}
