/* test_newcomers.c - new singers per client address: the keys (IPv4 as
 * is, IPv6 by its /64, the operator's loopback not limited), the bucket
 * (a burst, then a trickle), and a table crowded by many addresses, in
 * which one address's empty bucket does not come back full. */
#include "check.h"
#include "newcomers.h"

#define SEC 48000

int main(void)
{
    CHECK_INIT(c);

    /* Keys. */
    CHECK_EQ_I(c, nc_key("127.0.0.1"), 0);
    CHECK_EQ_I(c, nc_key("::1"), 0);
    CHECK_EQ_I(c, nc_key(NULL), 0);
    CHECK_EQ_I(c, nc_key("not an address"), 0);
    CHECK_EQ_I(c, nc_key(""), 0);
    CHECK(c, nc_key("127.0.0.2") != 0);
    CHECK(c, nc_key("198.51.100.7") != 0);
    CHECK(c, nc_key("198.51.100.7") != nc_key("198.51.100.8"));
    CHECK(c, nc_key("::ffff:198.51.100.7") == nc_key("198.51.100.7"));
    /* One /64 is one key: a household's devices, a subscriber's addresses. */
    CHECK(c, nc_key("2001:db8:1:2::1") == nc_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
    CHECK(c, nc_key("2001:db8:1:2::1") != nc_key("2001:db8:1:3::1"));
    CHECK(c, nc_key("2001:db8:1:2::1") != 0);
    /* An IPv6 /64 never shares a key with an IPv4 address of the same bits. */
    CHECK(c, nc_key("::c633:6407") != nc_key("198.51.100.7"));

    nc_t *t = nc_create();
    CHECK(c, t != NULL);
    if (!t)
        return check_done(&c, "test_newcomers");
    int64_t now = 1000 * (int64_t)SEC;

    /* The operator's loopback: never limited. */
    int ok = 0;
    for (int i = 0; i < 10 * NC_BURST; i++)
        ok += nc_admit(t, nc_key("127.0.0.1"), now);
    CHECK_EQ_I(c, ok, 10 * NC_BURST);

    /* A burst of NC_BURST (a choir behind one address, 40 and more), then
     * one per 60 / NC_PER_MINUTE seconds. */
    uint64_t hall = nc_key("203.0.113.5");
    ok = 0;
    for (int i = 0; i < 2 * NC_BURST; i++)
        ok += nc_admit(t, hall, now);
    CHECK_EQ_I(c, ok, NC_BURST);
    CHECK(c, NC_BURST >= 40);
    int64_t refill = (int64_t)SEC * 60 / NC_PER_MINUTE;
    CHECK(c, !nc_admit(t, hall, now + refill / 2));
    CHECK(c, nc_admit(t, hall, now + refill + 1));
    CHECK(c, !nc_admit(t, hall, now + refill + 2));
    /* Over ten minutes: the burst spent, then about NC_PER_MINUTE a minute. */
    ok = 0;
    for (int64_t k = 0; k < 600; k++)
        ok += nc_admit(t, hall, now + refill + 2 + k * SEC);
    CHECK_NEAR(c, ok, 10 * NC_PER_MINUTE, 2);
    /* Another address is not touched by the hall's. */
    CHECK(c, nc_admit(t, nc_key("203.0.113.6"), now));
    /* A clock that goes back does not refill. */
    CHECK(c, !nc_admit(t, hall, now));

    /* Twenty thousand other addresses pass through the table; the hall's
     * bucket, still empty, is not the one that gives way. */
    int64_t later = now + refill + 2 + 600 * SEC;
    for (int i = 0; i < 2 && nc_admit(t, hall, later); i++)
        ;
    CHECK(c, !nc_admit(t, hall, later));
    for (int i = 0; i < 20000; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        nc_admit(t, nc_key(a), later);
    }
    CHECK(c, !nc_admit(t, hall, later));
    /* Given time, it refills to the burst, no further. */
    int64_t much_later = later + 3600 * (int64_t)SEC;
    ok = 0;
    for (int i = 0; i < 2 * NC_BURST; i++)
        ok += nc_admit(t, hall, much_later);
    CHECK_EQ_I(c, ok, NC_BURST);
    nc_destroy(t);
    nc_destroy(NULL);
    return check_done(&c, "test_newcomers");
}
