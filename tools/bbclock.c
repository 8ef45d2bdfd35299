/*
 * bbclock.c - client clock state machine (bbclock.h).
 */
#include "bbclock.h"

const char *bbclock_strerror(int code)
{
    switch (code) {
    case BBCLOCK_OK: return "success";
    case BBCLOCK_EPARAM: return "invalid clock parameter";
    case BBCLOCK_ESTATE: return "clock used in the wrong state";
    case BBCLOCK_EECHO: return "response did not echo the read clock or length sent";
    case BBCLOCK_ECONTINUITY: return "response interval does not follow the previous one";
    default: return "unknown clock error";
    }
}

static int64_t floor_mod(int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

int64_t bbclock_estimate(int64_t server_clock, int64_t rtt_ns)
{
    if (rtt_ns < 0)
        rtt_ns = 0;
    /* half the trip in samples: rtt_ns/2 * 48000 / 1e9, rounded */
    int64_t half = (rtt_ns * 3 + 62500) / 125000; /* = rtt_ns * 48000 / 2e9 */
    return server_clock + half;
}

int64_t bbclock_align_nearest(int64_t c)
{
    int64_t r = floor_mod(c, BBCLOCK_FRAME);
    return r * 2 < BBCLOCK_FRAME ? c - r : c + (BBCLOCK_FRAME - r);
}

int bbclock_start(bbclock_t *c, int64_t estimated_server_clock, int offset_s, bool aligned,
                  int32_t write_lag)
{
    if (offset_s < 1 || offset_s > 1000 || write_lag < 0)
        return BBCLOCK_EPARAM;
    int64_t base = estimated_server_clock - (int64_t)offset_s * BBCLOCK_RATE;
    if (aligned) {
        base = bbclock_align_nearest(base);
        write_lag = (int32_t)((write_lag + BBCLOCK_FRAME - 1) / BBCLOCK_FRAME * BBCLOCK_FRAME);
    }
    c->read_clock = base;
    c->write_clock = 0;
    c->last_rx = 0;
    c->write_lag = write_lag;
    c->offset_s = offset_s;
    c->aligned = aligned;
    c->started = true;
    c->writing = false;
    c->reset_pending = true;
    c->have_rx = false;
    return BBCLOCK_OK;
}

int bbclock_next(bbclock_t *c, int32_t n, bool real_audio, bbclock_post_t *out)
{
    if (n <= 0 || n % BBCLOCK_FRAME != 0)
        return BBCLOCK_EPARAM;
    if (!c->started || (c->writing && !real_audio))
        return BBCLOCK_ESTATE;
    c->read_clock += n;
    if (real_audio) {
        if (!c->writing) {
            c->writing = true;
            c->write_clock = c->read_clock - c->write_lag;
        } else {
            c->write_clock += n;
        }
    }
    out->read_clock = c->read_clock;
    out->n = n;
    out->has_write = c->writing;
    out->write_clock = c->writing ? c->write_clock : 0;
    out->reset = c->reset_pending;
    c->reset_pending = false;
    return BBCLOCK_OK;
}

int bbclock_check_response(bbclock_t *c, const bbclock_post_t *sent, int64_t client_read_clock,
                           int64_t n_samples)
{
    if (client_read_clock != sent->read_clock || n_samples != sent->n)
        return BBCLOCK_EECHO;
    if (c->have_rx && client_read_clock - n_samples != c->last_rx)
        return BBCLOCK_ECONTINUITY;
    c->last_rx = client_read_clock;
    c->have_rx = true;
    return BBCLOCK_OK;
}
