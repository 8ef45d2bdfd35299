/*
 * test_packet_pack.c - packing pack_multi bodies (packet.h): what pk_pack()
 * writes pk_parse() reads back, byte for byte; the limits are the ones
 * pk_parse() enforces (1..PK_MAX_PACKET bytes, at most PK_MAX_PACKETS); and
 * every truncated prefix and trailing byte of a packed body is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "packet.h"

static void test_round_trip(check_t *c)
{
    uint8_t a[1] = { 0x42 }, b[300], out[1 + 2 + 1 + 2 + 300 + 1];
    for (int i = 0; i < 300; i++)
        b[i] = (uint8_t)(i * 7);
    const uint8_t *p[2] = { a, b };
    size_t l[2] = { 1, 300 };
    int n = pk_pack(out, sizeof out, p, l, 2);
    CHECK_EQ_I(*c, n, 1 + 2 + 1 + 2 + 300);
    CHECK_EQ_I(*c, pk_size(l, 2), n);
    CHECK_EQ_I(*c, out[0], 2);
    CHECK(*c, out[1] == 0 && out[2] == 1 && out[3] == 0x42);
    CHECK(*c, out[4] == 0x01 && out[5] == 0x2c); /* 300 big-endian */
    pk_packet_t pk[8];
    CHECK_EQ_I(*c, pk_parse(out, (size_t)n, pk, 8), 2);
    CHECK(*c, pk[0].len == 1 && pk[0].data[0] == 0x42);
    CHECK(*c, pk[1].len == 300 && memcmp(pk[1].data, b, 300) == 0);
    CHECK_EQ_I(*c, pk_parse(out, (size_t)n, pk, 1), PK_ECOUNT);

    /* Every strict prefix is truncated (an empty body is zero packets). */
    int wrong = 0;
    for (int cut = 1; cut < n; cut++)
        wrong += pk_parse(out, (size_t)cut, pk, 8) != PK_ETRUNC;
    CHECK_EQ_I(*c, wrong, 0);
    CHECK_EQ_I(*c, pk_parse(out, 0, pk, 8), 0);
    out[n] = 0;
    CHECK_EQ_I(*c, pk_parse(out, (size_t)n + 1, pk, 8), PK_ETRAIL);

    /* Zero packets: the count byte alone. */
    CHECK_EQ_I(*c, pk_pack(out, sizeof out, p, l, 0), 1);
    CHECK_EQ_I(*c, out[0], 0);
    CHECK_EQ_I(*c, pk_parse(out, 1, pk, 8), 0);
}

static void test_limits(check_t *c)
{
    static const uint8_t byte = 1;
    static uint8_t out[1 + PK_MAX_PACKETS * (2 + PK_MAX_PACKET) + 1];
    const uint8_t *p[PK_MAX_PACKETS + 1];
    size_t l[PK_MAX_PACKETS + 1];
    for (int i = 0; i <= PK_MAX_PACKETS; i++) {
        p[i] = &byte;
        l[i] = 1;
    }
    pk_packet_t pk[PK_MAX_PACKETS];
    int n = pk_pack(out, sizeof out, p, l, PK_MAX_PACKETS);
    CHECK_EQ_I(*c, n, 1 + PK_MAX_PACKETS * 3);
    CHECK_EQ_I(*c, pk_parse(out, (size_t)n, pk, PK_MAX_PACKETS), PK_MAX_PACKETS);
    CHECK_EQ_I(*c, pk_pack(out, sizeof out, p, l, PK_MAX_PACKETS + 1), PK_ECOUNT);
    CHECK_EQ_I(*c, pk_size(l, -1), PK_ECOUNT);

    /* The worker's rules: no empty packet, none over PK_MAX_PACKET. */
    uint8_t *big = calloc(PK_MAX_PACKET + 1, 1);
    const uint8_t *bp[1] = { big };
    size_t bl[1] = { 0 };
    out[0] = 0x77;
    CHECK_EQ_I(*c, pk_pack(out, sizeof out, bp, bl, 1), PK_EEMPTY);
    CHECK_EQ_I(*c, out[0], 0x77);   /* untouched on error */
    bl[0] = PK_MAX_PACKET + 1;
    CHECK_EQ_I(*c, pk_pack(out, sizeof out, bp, bl, 1), PK_ELONG);
    bl[0] = PK_MAX_PACKET;
    n = pk_pack(out, sizeof out, bp, bl, 1);
    CHECK_EQ_I(*c, n, 1 + 2 + PK_MAX_PACKET);
    CHECK_EQ_I(*c, pk_parse(out, (size_t)n, pk, 1), 1);
    CHECK_EQ_I(*c, pk[0].len, PK_MAX_PACKET);
    /* Too small an output buffer, by one byte. */
    CHECK_EQ_I(*c, pk_pack(out, (size_t)n - 1, bp, bl, 1), PK_ESPACE);
    free(big);

    /* A count larger than the packets present. */
    uint8_t lie[] = { 2, 0, 1, 9 };
    CHECK_EQ_I(*c, pk_parse(lie, sizeof lie, pk, 8), PK_ETRUNC);
}

int main(void)
{
    CHECK_INIT(c);
    test_round_trip(&c);
    test_limits(&c);
    return check_done(&c, "test_packet_pack");
}
