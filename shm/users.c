/*
 * users.c - the user table.
 */
#include <string.h>

#include "users.h"

static inline float bits_to_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t float_to_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

bool users_read(const seg_t *seg, uint32_t idx, users_view_t *out)
{
    const seg_user_t *u = &seg_users(seg)[idx];
    for (int tries = 0; tries < 4; tries++) {
        /* acquire; pairs with the release of gen in end_write() */
        uint64_t g = load_acquire(&u->gen);
        if (g & 1)
            continue;
        /* relaxed loads below are checked by re-reading gen */
        if (!load_relaxed(&u->live))
            return false;
        out->gen = g;
        out->userid = load_relaxed(&u->userid);
        out->public_id = load_relaxed(&u->public_id);
        out->flags = load_relaxed(&u->flags);
        out->mic_volume = bits_to_float(load_relaxed(&u->mic_volume));
        out->delay_msg = load_relaxed(&u->delay_msg);
        out->last_heard = load_relaxed(&u->last_heard);
        out->delay_samples = load_relaxed(&u->delay_samples);
        out->last_write_clock = load_relaxed(&u->last_write_clock);
        out->rms = bits_to_float(load_relaxed(&u->rms));
        out->worker = load_relaxed(&u->worker);
        out->timing = load_relaxed(&u->timing);
        out->calib = load_relaxed(&u->calib);
        out->link = load_relaxed(&u->link);
        seg_str_load(u->name, SEG_NAME_MAX, out->name);
        fence_acquire();
        if (load_relaxed(&u->gen) == g)
            return true;
    }
    return false;
}

int64_t users_find(const seg_t *seg, uint64_t userid)
{
    const seg_user_t *us = seg_users(seg);
    uint32_t cap = seg_user_cap(seg);
    for (uint32_t i = 0; i < cap; i++) {
        /* relaxed pre-filter; confirmed under gen by users_check() */
        if (load_relaxed(&us[i].live) && load_relaxed(&us[i].userid) == userid) {
            uint64_t g = load_acquire(&us[i].gen);
            if (users_check(seg, i, g, userid))
                return i;
        }
    }
    return -1;
}

int64_t users_find_public(const seg_t *seg, uint64_t public_id)
{
    const seg_user_t *us = seg_users(seg);
    uint32_t cap = seg_user_cap(seg);
    for (uint32_t i = 0; i < cap; i++) {
        /* relaxed pre-filter, then a consistent read */
        if (load_relaxed(&us[i].live) && load_relaxed(&us[i].public_id) == public_id) {
            users_view_t v;
            if (users_read(seg, i, &v) && v.public_id == public_id)
                return i;
        }
    }
    return -1;
}

bool users_check(const seg_t *seg, uint32_t idx, uint64_t gen, uint64_t userid)
{
    if (idx >= seg_user_cap(seg) || (gen & 1))
        return false;
    const seg_user_t *u = &seg_users(seg)[idx];
    /* acquire; pairs with the release of gen in end_write() */
    if (load_acquire(&u->gen) != gen)
        return false;
    bool ok = load_relaxed(&u->live) && load_relaxed(&u->userid) == userid;
    fence_acquire();
    return ok && load_relaxed(&u->gen) == gen;
}

void users_touch(seg_t *seg, uint32_t idx, int64_t now, int64_t delay_samples,
                 int32_t worker)
{
    seg_user_t *u = &seg_users(seg)[idx];
    /* relaxed: activity fields, one writer per user, read as hints */
    store_relaxed(&u->last_heard, now);
    store_relaxed(&u->delay_samples, delay_samples);
    store_relaxed(&u->worker, worker);
}

void users_set_write(seg_t *seg, uint32_t idx, int64_t write_clock, float rms)
{
    seg_user_t *u = &seg_users(seg)[idx];
    store_relaxed(&u->last_write_clock, write_clock);  /* relaxed: as above */
    store_relaxed(&u->rms, float_to_bits(rms));
}

/* A claimed clock carries this bit until the upload is done: clocks are
 * below 2^62 (samples at 48 kHz: three million years). */
#define MIX_BUSY (INT64_C(1) << 62)

void users_mix_claim(seg_t *seg, uint32_t idx, int64_t from)
{
    /* seq_cst: W1 of timeline.h; the gate load that follows must not be
     * ordered before this store, and pairs with the daemon's seq_cst loads
     * in users_mix_progress() */
    atomic_store_explicit(&seg_users(seg)[idx].mixed_to, from | MIX_BUSY, memory_order_seq_cst);
}

void users_mix_done(seg_t *seg, uint32_t idx, int64_t to)
{
    /* release; pairs with the acquire (seq_cst) load in users_mix_progress():
     * the recorder that sees `to` sees the upload's adds into the mix */
    store_release(&seg_users(seg)[idx].mixed_to, to);
}

int64_t users_mix_progress(const seg_t *seg, uint32_t idx, bool *busy, int64_t *raw)
{
    /* seq_cst: D2 of timeline.h (see users_mix_claim() and users_mix_done()) */
    int64_t v = atomic_load_explicit(&seg_users(seg)[idx].mixed_to, memory_order_seq_cst);
    *raw = v;
    *busy = (v & MIX_BUSY) != 0;
    return v & ~MIX_BUSY;
}

void users_set_timing(seg_t *seg, uint32_t idx, uint32_t word)
{
    /* relaxed: an activity field, one writer per user, read as a hint */
    store_relaxed(&seg_users(seg)[idx].timing, word);
}

void users_set_calib(seg_t *seg, uint32_t idx, uint32_t word)
{
    /* relaxed: an activity field, one writer per user, shown as status */
    store_relaxed(&seg_users(seg)[idx].calib, word);
}

void users_set_link(seg_t *seg, uint32_t idx, uint32_t state)
{
    /* relaxed: as users_set_calib() */
    store_relaxed(&seg_users(seg)[idx].link, state);
}

uint32_t users_timing(const seg_t *seg, uint32_t idx, bool *live)
{
    const seg_user_t *u = &seg_users(seg)[idx];
    *live = load_relaxed(&u->live) != 0;   /* relaxed: hints, confirmed by users_read() */
    return load_relaxed(&u->timing);
}

uint32_t users_timing_msg(const seg_t *seg, uint32_t idx)
{
    return load_relaxed(&seg_users(seg)[idx].timing_msg);  /* relaxed: a message slot */
}

void users_send_timing_apply(seg_t *seg, uint32_t idx)
{
    seg_user_t *u = &seg_users(seg)[idx];
    uint32_t seq = load_relaxed(&u->timing_msg) + 1;   /* relaxed: the daemon alone writes it */
    /* relaxed: one word; the worker compares it with the last it saw */
    store_relaxed(&u->timing_msg, seq ? seq : 1);
}

uint32_t users_delay_msg(const seg_t *seg, uint32_t idx)
{
    return load_relaxed(&seg_users(seg)[idx].delay_msg);  /* relaxed: a message slot */
}

float users_mic_volume(const seg_t *seg, uint32_t idx)
{
    return bits_to_float(load_relaxed(&seg_users(seg)[idx].mic_volume));  /* relaxed */
}

uint32_t users_flags(const seg_t *seg, uint32_t idx)
{
    return load_relaxed(&seg_users(seg)[idx].flags);  /* relaxed: advisory */
}

/* The daemon's identity writes: gen odd while writing, even after. */
static void begin_write(seg_user_t *u)
{
    uint64_t g = load_relaxed(&u->gen);  /* relaxed: the daemon is the only writer */
    store_relaxed(&u->gen, g | 1);
    fence_release();
}

static void end_write(seg_user_t *u)
{
    uint64_t g = load_relaxed(&u->gen);
    /* release; pairs with the acquire loads of gen in users_read() / users_check() */
    store_release(&u->gen, (g | 1) + 1);
}

int64_t users_alloc(seg_t *seg, uint64_t userid, const char *name,
                    uint32_t flags, int64_t now)
{
    seg_user_t *us = seg_users(seg);
    uint32_t cap = seg_user_cap(seg);
    for (uint32_t i = 0; i < cap; i++) {
        seg_user_t *u = &us[i];
        if (load_relaxed(&u->live))
            continue;
        begin_write(u);
        store_relaxed(&u->userid, userid);
        store_relaxed(&u->public_id, seg_public_id(seg, userid));
        store_relaxed(&u->flags, flags);
        store_relaxed(&u->mic_volume, float_to_bits(1.0f));
        store_relaxed(&u->delay_msg, 0);
        store_relaxed(&u->timing_msg, 0);
        seg_str_store(u->name, SEG_NAME_MAX, name);
        store_relaxed(&u->last_heard, now);
        store_relaxed(&u->delay_samples, 0);
        store_relaxed(&u->last_write_clock, 0);
        /* relaxed: under gen like the fields around it; a new user has no
         * voice in the mix yet */
        store_relaxed(&u->mixed_to, 0);
        store_relaxed(&u->rms, 0);
        store_relaxed(&u->worker, -1);
        store_relaxed(&u->timing, 0);
        store_relaxed(&u->calib, 0);
        store_relaxed(&u->link, USERS_LINK_OK);
        store_relaxed(&u->live, 1);
        end_write(u);
        return i;
    }
    return -1;
}

void users_free(seg_t *seg, uint32_t idx)
{
    seg_user_t *u = &seg_users(seg)[idx];
    begin_write(u);
    store_relaxed(&u->live, 0);
    store_relaxed(&u->userid, 0);
    end_write(u);
}

void users_set_name(seg_t *seg, uint32_t idx, const char *name)
{
    seg_user_t *u = &seg_users(seg)[idx];
    begin_write(u);
    seg_str_store(u->name, SEG_NAME_MAX, name);
    end_write(u);
}

void users_set_flags(seg_t *seg, uint32_t idx, uint32_t flags)
{
    store_relaxed(&seg_users(seg)[idx].flags, flags);  /* relaxed: advisory */
}

void users_set_mic_volume(seg_t *seg, uint32_t idx, float friendly)
{
    /* relaxed: a single word; the worker applies it from its next request */
    store_relaxed(&seg_users(seg)[idx].mic_volume, float_to_bits(friendly));
}

void users_send_delay(seg_t *seg, uint32_t idx, int32_t seconds)
{
    seg_user_t *u = &seg_users(seg)[idx];
    if (seconds < 0)
        seconds = 0;
    if (seconds > 4095)
        seconds = 4095;
    uint32_t m = load_relaxed(&u->delay_msg);
    uint32_t seq = ((m >> 16) + 1) & 0xffff;
    if (seq == 0)
        seq = 1;
    /* relaxed: one word carries both the sequence and the value */
    store_relaxed(&u->delay_msg, (seq << 16) | (uint32_t)seconds);
}

void users_repair(seg_t *seg)
{
    seg_user_t *us = seg_users(seg);
    uint32_t cap = seg_user_cap(seg);
    for (uint32_t i = 0; i < cap; i++) {
        if (load_relaxed(&us[i].gen) & 1) {
            /* A daemon died mid-write: the slot's identity is suspect. */
            store_relaxed(&us[i].live, 0);
            end_write(&us[i]);
        }
    }
}
