/*
 * roomsolo.c - the room's solos, held by its daemon (PROTOCOL.md 9.12).
 *
 * A listener who may solo (the organiser, the leader) names up to
 * SEG_SOLO_MAX singers with CMD_SOLO; the daemon gives them one of the
 * segment's SEG_SOLO_RINGS solo rings and publishes the selection in the
 * control state (seg_ctl_t.solo[k]).  From then on the workers of the
 * named singers add their uploads into ring k as well as into the mix, and
 * the listener's worker renders ring k instead of the mix for clocks from
 * the selection's `since` on (before it, the ring does not hold them, so
 * the listener hears the mix).  `since` is where the chosen singers'
 * uploads have got to when the selection is made: the ring is zeroed and
 * filled from there.  At a change, a request already under way when the
 * selection was published may miss the ring (a chosen singer's, about
 * 600 ms missing once) or reach it (a singer just taken out, as long).  Everyone else is untouched: the mix,
 * its frame generations and the shared encoding never see a solo.
 *
 * A ring is cleared ahead of the clock only while a listener holds it, and
 * its pages are given back when it is given to another listener or left,
 * so a room where nobody solos never touches them.  A selection ends when
 * its listener asks for none, has not been heard for USERS_ACTIVE_SAMPLES,
 * or no longer may solo (a leader who lost the lead).  A third listener
 * while both rings are held is refused by the worker from the control
 * state it read; one that slips through (both asked within a tick) is
 * logged and dropped here.
 */
#include <inttypes.h>
#include <string.h>

#include "room_impl.h"
#include "timeline.h"

/* The ring listener `userid` holds, or -1. */
static int ring_of(const seg_ctl_t *c, uint64_t userid)
{
    for (int k = 0; k < SEG_SOLO_RINGS; k++)
        if (c->solo[k].listener == userid && userid)
            return k;
    return -1;
}

static void solo_end(rm_t *r, int k, const char *why)
{
    seg_solo_t *so = &r->ctl.solo[k];
    LOG(r, "solo of user %" PRIu64 " ends (%s)", so->listener_public, why);
    memset(so, 0, sizeof *so);
    tl_release_solo(r->seg, (uint32_t)k);
    r->ctl_dirty = true;
}

void rm_solo_cmd(rm_t *r, const seg_cmd_t *c, int64_t now)
{
    seg_ctl_t *ctl = &r->ctl;
    int k = ring_of(ctl, c->userid);
    uint32_t n = c->a < 0 ? 0 : c->a > SEG_SOLO_MAX ? SEG_SOLO_MAX : (uint32_t)c->a;
    if (n == 0) {
        if (k >= 0)
            solo_end(r, k, "hears everyone again");
        return;
    }
    if (k < 0) {
        for (int i = 0; i < SEG_SOLO_RINGS && k < 0; i++)
            if (!ctl->solo[i].listener)
                k = i;
        if (k < 0) {
            LOG(r, "solo of user %" PRIu64 " refused: %d listeners solo already",
                seg_public_id(r->seg, c->userid), SEG_SOLO_RINGS);
            r->n_refused++;
            return;
        }
    }
    /* The ring starts empty (it may hold another listener's singers, or
     * this one's former choice), and holds the chosen singers from where
     * their uploads have got to: the furthest of their last write clocks
     * (now if none sang yet), so that the listener hears the solo as soon
     * as the chosen singers' next uploads reach them, and the mix before. */
    tl_release_solo(r->seg, (uint32_t)k);
    seg_solo_t *so = &ctl->solo[k];
    int64_t since = 0;
    memcpy(so->ids, c->text, (size_t)n * sizeof so->ids[0]);
    for (uint32_t i = 0; i < n; i++) {
        int64_t u = users_find_public(r->seg, so->ids[i]);
        users_view_t v;
        if (u >= 0 && users_read(r->seg, (uint32_t)u, &v) && v.last_write_clock > since)
            since = v.last_write_clock;
    }
    so->listener = c->userid;
    so->listener_public = seg_public_id(r->seg, c->userid);
    so->organiser = (c->role & CMD_ROLE_ORGANISER) != 0;
    so->since = since && since < now ? since : now;
    so->n = n;
    r->ctl_dirty = true;
    char ids[SEG_SOLO_MAX * 21 + 1];
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++)
        at += (size_t)snprintf(ids + at, sizeof ids - at, "%s%" PRIu64, i ? "," : "", so->ids[i]);
    LOG(r, "user %" PRIu64 "%s solos %s", so->listener_public, so->organiser ? " (the organiser)" : "",
        ids);
}

void rm_solo_clear_ahead(rm_t *r, uint32_t n)
{
    for (uint32_t k = 0; k < SEG_SOLO_RINGS; k++)
        if (r->ctl.solo[k].listener)
            tl_clear_solo(r->seg, k, n);
}

void rm_solo_expire(rm_t *r, int64_t now)
{
    for (int k = 0; k < SEG_SOLO_RINGS; k++) {
        seg_solo_t *so = &r->ctl.solo[k];
        if (!so->listener)
            continue;
        int64_t i = users_find(r->seg, so->listener);
        users_view_t v;
        if (i < 0 || !users_read(r->seg, (uint32_t)i, &v) ||
            now - v.last_heard > USERS_ACTIVE_SAMPLES)
            solo_end(r, k, "the listener left");
        else if (!so->organiser &&
                 !(r->ctl.song.has_leader && r->ctl.song.leader == so->listener))
            solo_end(r, k, "no longer the leader");
    }
}
