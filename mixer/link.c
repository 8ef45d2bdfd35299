/*
 * link.c - the request pace tracker (link.h).
 */
#include "link.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

lk_state_t lk_note(lk_t *l, int64_t now, int64_t read_clock, uint32_t n, bool reset)
{
    int64_t off = now - read_clock;
    /* A reconnect counts too: one after a stall is a dropped link, one
     * that follows at once (a move to another bucket) is not. */
    if (l->known && now - l->last_at > (int64_t)l->last_n + LK_GAP)
        l->gap_at = now;
    if (!l->known || reset) {
        /* A new stream: its pace is learnt afresh. */
        l->known = true;
        l->half_at = now;
        l->min_cur = l->min_prev = off;
    } else if (now - l->half_at >= LK_WINDOW / 2) {
        l->min_prev = l->min_cur;
        l->min_cur = off;
        l->half_at = now;
    }
    l->min_cur = min64(l->min_cur, off);
    if (off - min64(l->min_cur, l->min_prev) > LK_LATE)
        l->late_at = now;
    l->last_at = now;
    l->last_n = n;
    return lk_state(l, now);
}

void lk_refused(lk_t *l, int64_t now) { l->late_at = now; }

lk_state_t lk_state(const lk_t *l, int64_t now)
{
    if (!l->known)
        return LK_OK;
    if (now - l->last_at > (int64_t)l->last_n + LK_GAP)
        return LK_DROPPING;
    if (l->gap_at && now - l->gap_at < LK_HOLD)
        return LK_DROPPING;
    if (l->late_at && now - l->late_at < LK_HOLD)
        return LK_LATE_STATE;
    return LK_OK;
}

const char *lk_name(lk_state_t s)
{
    switch (s) {
    case LK_LATE_STATE: return "late";
    case LK_DROPPING: return "dropping";
    case LK_OK: break;
    }
    return "ok";
}
