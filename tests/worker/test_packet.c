/* test_packet.c - pack_multi framing: parsing with every bound. */
#include <string.h>

#include "check.h"
#include "packet.h"

int main(void)
{
    CHECK_INIT(c);
    pk_packet_t p[PK_MAX_PACKETS];
    uint8_t b[64] = {2, 0, 3, 'a', 'b', 'c', 0, 1, 'z'};
    CHECK_EQ_I(c, pk_parse(b, 9, p, PK_MAX_PACKETS), 2);
    CHECK(c, p[0].len == 3 && memcmp(p[0].data, "abc", 3) == 0);
    CHECK(c, p[1].len == 1 && p[1].data[0] == 'z');
    CHECK_EQ_I(c, pk_parse(b, 0, p, PK_MAX_PACKETS), 0);
    CHECK_EQ_I(c, pk_parse(b, 8, p, PK_MAX_PACKETS), PK_ETRUNC);   /* last byte missing */
    CHECK_EQ_I(c, pk_parse(b, 7, p, PK_MAX_PACKETS), PK_ETRUNC);   /* half a length */
    CHECK_EQ_I(c, pk_parse(b, 10, p, PK_MAX_PACKETS), PK_ETRAIL);  /* a byte too many */
    CHECK_EQ_I(c, pk_parse(b, 1, p, PK_MAX_PACKETS), PK_ETRUNC);   /* count only */
    CHECK_EQ_I(c, pk_parse(b, 9, p, 1), PK_ECOUNT);
    uint8_t z[4] = {1, 0, 0, 0};
    CHECK_EQ_I(c, pk_parse(z, 3, p, PK_MAX_PACKETS), PK_EEMPTY);
    uint8_t zero[1] = {0};
    CHECK_EQ_I(c, pk_parse(zero, 1, p, PK_MAX_PACKETS), 0);
    static uint8_t big[1 + 2 + 4000];
    big[0] = 1;
    pk_put_len(big + 1, 3833);
    CHECK_EQ_I(c, pk_parse(big, 1 + 2 + 3833, p, PK_MAX_PACKETS), PK_ELONG);
    pk_put_len(big + 1, 3832);
    CHECK_EQ_I(c, pk_parse(big, 1 + 2 + 3832, p, PK_MAX_PACKETS), 1);
    uint8_t l[2];
    pk_put_len(l, 0x1234);
    CHECK(c, l[0] == 0x12 && l[1] == 0x34);
    return check_done(&c, "test_packet");
}
