/*
 * bbanswer.c - what an answer means to a singer (bbsinger.h,
 * bbc_singer_on_response()): a probe's clock starts the singer's clocks; a
 * POST's metadata, its continuity against what was sent and its packets,
 * decoded as the browser does; a delay move.  Any failure counts by kind
 * and makes the singer reconnect, as the browser would.
 */
#include <stdio.h>
#include <string.h>

#include <opus.h>

#include "bbsinger_impl.h"
#include "packet.h"

/* Marks a failed exchange: the browser reconnects after any failure. */
static int fail_with(bbc_singer_t *s, int code)
{
    s->connected = false;
    s->st.errors++;
    switch (code) {
    case BBC_ESTATUS: s->st.status_errors++; break;
    case BBC_EKILL: s->st.kills++; break;
    case BBC_EMETA: s->st.meta_errors++; break;
    case BBC_EBODY: s->st.body_errors++; break;
    case BBC_EDECODE: s->st.decode_errors++; break;
    case BBC_ECONTINUITY: s->st.continuity_errors++; break;
    default: break;
    }
    return code;
}

static void fill_worker(bbc_singer_t *s, const resp_t *resp)
{
    const char *w = resp_header(resp, "X-Worker-Id");
    if (!s->meta.worker[0] && w)
        snprintf(s->meta.worker, sizeof s->meta.worker, "%s", w);
}

static int on_probe(bbc_singer_t *s, const resp_t *resp)
{
    int64_t rtt = bbc_now_ns() - s->t_sent;
    const char *h = resp_header(resp, "X-Audio-Metadata");
    if (h)
        bbc_meta_parse(&s->meta, h);
    else
        bbc_meta_free(&s->meta);
    fill_worker(s, resp);
    if (resp->status != 200) {
        bbc_singer_set_err(s, "probe answered %d", resp->status);
        return fail_with(s, BBC_ESTATUS);
    }
    if (!s->meta.have_server_clock) {
        bbc_singer_set_err(s, "probe answer has no server_clock");
        return fail_with(s, BBC_EMETA);
    }
    int64_t est = bbclock_estimate(s->meta.server_clock, rtt);
    int rc = bbclock_start(&s->clock, est, s->offset_s, !s->cfg.unaligned, s->cfg.write_lag);
    if (rc != BBCLOCK_OK) {
        bbc_singer_set_err(s, "clock start: %s", bbclock_strerror(rc));
        return fail_with(s, BBC_EPARAM);
    }
    bbc_singer_reset_codecs(s);
    s->connected = true;
    s->ever_connected = true;
    s->t_connected = bbc_now_ns();
    s->batches = 0;
    s->st.probes++;
    return BBC_OK;
}

/* Checks the pack_multi body and decodes it into out (n floats, or NULL to
 * only check lengths). */
static int check_body(bbc_singer_t *s, const resp_t *resp, int64_t n, float *out)
{
    pk_packet_t pk[PK_MAX_PACKETS];
    int count = pk_parse(resp->body.data, resp->body.len, pk, PK_MAX_PACKETS);
    if (count < 0) {
        bbc_singer_set_err(s, "body: %s (%zu bytes)", pk_strerror(count), resp->body.len);
        return BBC_EBODY;
    }
    int64_t total = 0;
    for (int i = 0; i < count; i++) {
        int got;
        if (out) {
            /* The browser's decoder holds 2880 samples: a longer packet fails. */
            if (total + BBC_FRAME > n) {
                bbc_singer_set_err(s, "decode: more audio than n_samples=%lld", (long long)n);
                return BBC_EDECODE;
            }
            got = opus_decode_float(s->dec, pk[i].data, pk[i].len, out + total, BBC_FRAME, 0);
        } else {
            got = opus_packet_get_nb_samples(pk[i].data, pk[i].len, BBC_RATE);
            if (got > BBC_FRAME)
                got = OPUS_BUFFER_TOO_SMALL;
        }
        if (got < 0) {
            bbc_singer_set_err(s, "decode: packet %d: %s", i, opus_strerror(got));
            return BBC_EDECODE;
        }
        total += got;
    }
    if (total != n) {
        bbc_singer_set_err(s, "decode: %lld samples in %d packets, n_samples is %lld", (long long)total, count,
                (long long)n);
        return BBC_EDECODE;
    }
    return BBC_OK;
}

static int on_post(bbc_singer_t *s, const resp_t *resp, float *received)
{
    s->st.posts++;
    const char *h = resp_header(resp, "X-Audio-Metadata");
    int mrc = h ? bbc_meta_parse(&s->meta, h) : BBC_EMETA;
    if (!h)
        bbc_meta_free(&s->meta);
    fill_worker(s, resp);
    if (s->meta.kill_client) {
        bbc_singer_set_err(s, "kill_client (HTTP %d): %s", resp->status, s->meta.message);
        if (strstr(s->meta.message, "desync"))
            s->st.desyncs++;
        return fail_with(s, BBC_EKILL);
    }
    if (resp->status != 200) {
        bbc_singer_set_err(s, "POST answered %d", resp->status);
        return fail_with(s, BBC_ESTATUS);
    }
    if (mrc != BBC_OK || !s->meta.have_client_read_clock || !s->meta.have_n_samples || !s->meta.events) {
        bbc_singer_set_err(s, "metadata: %s", !h ? "no X-Audio-Metadata header"
                                   : mrc != BBC_OK ? "not a JSON object"
                                                   : "client_read_clock, n_samples or events missing");
        return fail_with(s, BBC_EMETA);
    }
    int rc = bbclock_check_response(&s->clock, &s->post, s->meta.client_read_clock, s->meta.n_samples);
    if (rc != BBCLOCK_OK) {
        bbc_singer_set_err(s, "%s: sent read_clock=%lld n=%d, got client_read_clock=%lld n_samples=%lld (previous %lld)",
                bbclock_strerror(rc), (long long)s->post.read_clock, s->post.n,
                (long long)s->meta.client_read_clock, (long long)s->meta.n_samples, (long long)s->clock.last_rx);
        return fail_with(s, BBC_ECONTINUITY);
    }
    float *out = s->cfg.skip_decode ? NULL : received ? received : s->scratch;
    rc = check_body(s, resp, s->meta.n_samples, out);
    if (rc != BBC_OK)
        return fail_with(s, rc);
    s->st.ok++;
    if (s->meta.have_delay && s->meta.delay_seconds > 0 && !s->cfg.ignore_delay) {
        int old = s->offset_s;
        s->offset_s = s->meta.delay_seconds > 1000 ? 1000 : s->meta.delay_seconds;
        s->connected = false; /* the browser reconnects even if unchanged */
        s->st.moves++;
        if (s->cfg.on_move)
            s->cfg.on_move(s, old, s->offset_s, s->cfg.user);
    }
    return BBC_OK;
}

int bbc_singer_on_response(bbc_singer_t *s, const resp_t *resp, float *received)
{
    int p = s->pending;
    s->pending = PEND_NONE;
    s->err[0] = 0;
    if (p == PEND_PROBE)
        return on_probe(s, resp);
    if (p == PEND_POST)
        return on_post(s, resp, received);
    return BBC_ESTATE;
}

