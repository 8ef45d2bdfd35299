/*
 * fuzz_packet.c - the pack_multi framing (common/packet.h) and the Opus
 * decoder behind it, as a worker runs them on a request body.
 *
 * The first byte picks the packet limit handed to pk_parse() (so the
 * PK_ECOUNT path is reached as well as the full 255); the rest is the body.
 * Invariants: a successful parse covers the body exactly (re-framing the
 * packets with pk_put_len() gives back the same bytes), every packet lies
 * inside the body and is 1..PK_MAX_PACKET bytes; a failure is one of the
 * documented codes.  Each packet is then decoded as the exchange does, into
 * a 60 ms buffer, which must never be overrun whatever the packet says.
 */
#include <string.h>

#include <opus.h>

#include "fuzz.h"
#include "packet.h"

#define FRAME 2880

static OpusDecoder *dec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int err;
    dec = opus_decoder_create(48000, 1, &err);
    if (!dec) {
        fprintf(stderr, "fuzz_packet: opus_decoder_create: %s\n", opus_strerror(err));
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pk_packet_t pk[PK_MAX_PACKETS];
    static uint8_t again[1 + PK_MAX_PACKETS * (2 + PK_MAX_PACKET)];
    static float pcm[FRAME];
    if (size == 0)
        return 0;
    int max = data[0] < 128 ? PK_MAX_PACKETS : data[0] - 128;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    int n = pk_parse(body, len, pk, max);
    FZ_ASSERT(pk_strerror(n) != NULL);
    if (n < 0) {
        FZ_ASSERT(n >= PK_ESPACE);
        return 0;
    }
    FZ_ASSERT(n <= max && n <= PK_MAX_PACKETS);
    FZ_ASSERT(len == 0 ? n == 0 : n == body[0]);
    if (len == 0)
        return 0;
    size_t at = 1;
    again[0] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        FZ_ASSERT(pk[i].len >= 1 && pk[i].len <= PK_MAX_PACKET);
        FZ_ASSERT(pk[i].data >= body && pk[i].data + pk[i].len <= body + len);
        pk_put_len(again + at, pk[i].len);
        memcpy(again + at + 2, pk[i].data, pk[i].len);
        at += 2 + (size_t)pk[i].len;
    }
    FZ_ASSERT(at == len && memcmp(again, body, len) == 0);

    /* The decoder, with fresh state for every input so a crash replays. */
    opus_decoder_ctl(dec, OPUS_RESET_STATE);
    for (int i = 0; i < n; i++) {
        int got = opus_decode_float(dec, pk[i].data, pk[i].len, pcm, FRAME, 0);
        FZ_ASSERT(got <= FRAME);
    }
    return 0;
}
