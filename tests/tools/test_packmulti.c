/*
 * test_packmulti.c - pack_multi framing (packmulti.h): round trips, limits,
 * and rejection of every truncated prefix and of trailing bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "packmulti.h"

static int test_round_trip(void)
{
    int fails = 0;
    uint8_t a[1] = { 0x42 }, b[300];
    for (int i = 0; i < 300; i++)
        b[i] = (uint8_t)(i * 7);
    const uint8_t *p[3] = { NULL, a, b };
    size_t l[3] = { 0, 1, 300 };
    bbuf_t out = { 0 };
    CHECK(pm_pack(&out, p, l, 3) == PM_OK);
    CHECK(out.len == 1 + 2 + 0 + 2 + 1 + 2 + 300);
    CHECK(out.data[0] == 3);
    CHECK(out.data[1] == 0 && out.data[2] == 0);
    CHECK(out.data[3] == 0 && out.data[4] == 1 && out.data[5] == 0x42);
    CHECK(out.data[6] == 0x01 && out.data[7] == 0x2c); /* 300 big-endian */
    pm_packet_t pk[8];
    size_t n = 99;
    CHECK(pm_unpack(out.data, out.len, pk, 8, &n) == PM_OK && n == 3);
    CHECK(pk[0].len == 0 && pk[1].len == 1 && pk[1].data[0] == 0x42);
    CHECK(pk[2].len == 300 && memcmp(pk[2].data, b, 300) == 0);
    CHECK(pm_unpack(out.data, out.len, pk, 2, &n) == PM_ETOOMANY);

    /* Every strict prefix is truncated (an empty body is zero packets). */
    for (size_t cut = 1; cut < out.len; cut++) {
        int rc = pm_unpack(out.data, cut, pk, 8, &n);
        if (rc != PM_ETRUNC) {
            fprintf(stderr, "  prefix %zu: rc %d\n", cut, rc);
            fails++;
        }
    }
    CHECK(pm_unpack(out.data, 0, pk, 8, &n) == PM_OK && n == 0);
    bbuf_putc(&out, 0);
    CHECK(pm_unpack(out.data, out.len, pk, 8, &n) == PM_ETRAILING);
    bbuf_free(&out);
    return fails;
}

static int test_limits(void)
{
    int fails = 0;
    static const uint8_t byte = 1;
    const uint8_t *p[256];
    size_t l[256];
    for (int i = 0; i < 256; i++) {
        p[i] = &byte;
        l[i] = 1;
    }
    bbuf_t out = { 0 };
    CHECK(pm_pack(&out, p, l, 255) == PM_OK);
    pm_packet_t pk[255];
    size_t n;
    CHECK(pm_unpack(out.data, out.len, pk, 255, &n) == PM_OK && n == 255);
    bbuf_clear(&out);
    CHECK(pm_pack(&out, p, l, 256) == PM_ETOOMANY && out.len == 0);
    uint8_t *big = calloc(65536, 1);
    const uint8_t *bp[1] = { big };
    size_t bl[1] = { 65536 };
    CHECK(pm_pack(&out, bp, bl, 1) == PM_ETOOBIG && out.len == 0);
    bl[0] = 65535;
    CHECK(pm_pack(&out, bp, bl, 1) == PM_OK);
    CHECK(pm_unpack(out.data, out.len, pk, 1, &n) == PM_OK && n == 1 && pk[0].len == 65535);
    free(big);
    bbuf_free(&out);
    /* A count larger than the packets present. */
    uint8_t lie[] = { 2, 0, 1, 9 };
    CHECK(pm_unpack(lie, sizeof lie, pk, 8, &n) == PM_ETRUNC);
    return fails;
}

int main(void)
{
    int total = 0;
    RUN(test_round_trip);
    RUN(test_limits);
    return total ? 1 : 0;
}
