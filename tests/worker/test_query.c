/* test_query.c - the query string parser: decoding, empties, malformed
 * input, repeats and bounds. */
#include <string.h>

#include "check.h"
#include "query.h"

static q_t q;

static int parse(const char *s) { return q_parse(&q, s, strlen(s)); }

int main(void)
{
    CHECK_INIT(c);
    CHECK_EQ_I(c, parse("read_clock=123&username=Jos%C3%A9+Mar%C3%ADa&userid=42"), Q_OK);
    CHECK(c, strcmp(q_get(&q, "username"), "Jos\xC3\xA9 Mar\xC3\xAD" "a") == 0);
    CHECK(c, strcmp(q_get(&q, "read_clock"), "123") == 0);
    CHECK(c, q_get(&q, "write_clock") == NULL);
    /* An empty value is absent. */
    CHECK_EQ_I(c, parse("a=&b=2"), Q_OK);
    CHECK(c, q_get(&q, "a") == NULL && strcmp(q_get(&q, "b"), "2") == 0);
    /* JSON through URLSearchParams. */
    CHECK_EQ_I(c, parse("chat=%5B%22hi%22%2C%22all%22%5D"), Q_OK);
    CHECK(c, strcmp(q_get(&q, "chat"), "[\"hi\",\"all\"]") == 0);
    CHECK_EQ_I(c, parse(""), Q_OK);
    CHECK_EQ_I(c, q.n, 0);
    /* Malformed. */
    CHECK_EQ_I(c, parse("a=1&&b=2"), Q_EFIELD);
    CHECK_EQ_I(c, parse("a=1&b"), Q_EFIELD);
    CHECK_EQ_I(c, parse("a=1&"), Q_EFIELD);
    CHECK_EQ_I(c, parse("&a=1"), Q_EFIELD);
    CHECK_EQ_I(c, parse("a=%zz"), Q_EESCAPE);
    CHECK_EQ_I(c, parse("a=%4"), Q_EESCAPE);
    CHECK_EQ_I(c, parse("a=%"), Q_EESCAPE);
    CHECK_EQ_I(c, parse("a=%00"), Q_EESCAPE);
    CHECK_EQ_I(c, parse("a=1&b=2&a=3"), Q_EREPEAT);
    CHECK(c, strcmp(q.bad, "a") == 0);
    static char big[Q_MAX_LEN + 10];
    memset(big, 'x', sizeof big - 1);
    big[0] = 'a';
    big[1] = '=';
    CHECK_EQ_I(c, q_parse(&q, big, sizeof big - 1), Q_ETOOLONG);
    char many[Q_MAX_PARAMS * 8 + 16] = "";
    for (int i = 0; i <= Q_MAX_PARAMS; i++) {
        char f[16];
        snprintf(f, sizeof f, "%sk%d=1", i ? "&" : "", i);
        strcat(many, f);
    }
    CHECK_EQ_I(c, parse(many), Q_ETOOMANY);
    /* Numbers. */
    int64_t v;
    CHECK(c, q_int64("86183808038743", &v) && v == 86183808038743LL);
    CHECK(c, q_int64("-5", &v) && v == -5);
    CHECK(c, !q_int64("1e5", &v));
    CHECK(c, !q_int64("12a", &v));
    CHECK(c, !q_int64("", &v));
    CHECK(c, !q_int64("99999999999999999999", &v));
    CHECK(c, !q_int64("NaN", &v));
    CHECK(c, !q_int64(" 5", &v));
    double d;
    CHECK(c, q_double("1.25", &d) && d == 1.25);
    CHECK(c, q_double("-0.5", &d) && d == -0.5);
    CHECK(c, !q_double("NaN", &d));
    CHECK(c, !q_double("Infinity", &d));
    CHECK(c, !q_double("0x10", &d));
    CHECK(c, !q_double("1.5x", &d));
    CHECK(c, !q_double("", &d));
    return check_done(&c, "test_query");
}
