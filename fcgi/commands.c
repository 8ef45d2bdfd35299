/*
 * commands.c - a request's controls, as commands to the daemon (commands.h).
 */
#include <stdio.h>
#include <string.h>

#include "cmdq.h"
#include "commands.h"
#include "media/track.h"
#include "futex.h"
#include "prof.h"
#include "removed.h"
#include "ring.h"
#include "snap.h"
#include "users.h"

/* One command being filled in, and where it goes. */
typedef struct {
    const cm_lane_t *l;
    seg_t *seg;
    uint32_t lane;
    uint64_t userid;
    uint32_t role;
    int64_t now;
    uint32_t pushed;
    seg_cmd_t c;
} out_t;

static seg_cmd_t *cmd_new(out_t *o, seg_cmd_type_t type)
{
    seg_cmd_t *c = &o->c;
    memset(c, 0, offsetof(seg_cmd_t, name));
    c->name[0] = '\0';
    c->text[0] = '\0';
    c->type = type;
    c->clock = o->now;
    c->userid = o->userid;
    c->role = o->role;
    return c;
}

/* Queues c in the lane, then bumps the room segment's wake word: a
 * sleeping room's daemon looks at that word, not at every lane, to know
 * whether anything came (shm/room.c rm_tick()). */
static int lane_push(seg_t *seg, uint32_t lane, seg_cmd_t *c)
{
    int rc = cq_push(seg, lane, c);
    if (rc == CQ_OK)
        /* release; pairs with the acquire in rm_tick(): the command is in
         * the lane before the bump is seen */
        atomic_fetch_add_explicit(&seg_header(seg)->wake, 1, memory_order_release);
    return rc;
}

static void cmd_push(out_t *o)
{
    /* Room was reserved before any state changed (cm_count()). */
    if (lane_push(o->seg, o->lane, &o->c) != CQ_OK)
        fprintf(stderr, "bb-worker[%u]: command lane full after reservation (type %u)\n", o->lane,
                o->c.type);
    else
        o->pushed++;
}

/* After pushing: the singer waits for these next time; the daemon wakes. */
static void sent(out_t *o, sg_t *s)
{
    if (!o->pushed)
        return;
    /* relaxed: this worker is the lane's only producer */
    s->cmd_seq = load_relaxed(&seg_lane(o->seg, o->lane)->tail);
    _Atomic uint32_t *wake = o->l->wake;
    /* release; pairs with the acquire in dmn_wake_word(): the commands are
     * in the lane before the daemon sees the bump */
    atomic_fetch_add_explicit(wake, 1, memory_order_release);
    fx_wake(wake);
}

bool cm_wait(const cm_lane_t *l, uint64_t seq, int64_t now, int64_t max_ns)
{
    seg_lane_t *ln = seg_lane(l->seg, l->lane);
    uint32_t want = (uint32_t)seq;
    /* relaxed: status only; a daemon a second silent is not waited for */
    int64_t beat = load_relaxed(&seg_header(l->seg)->heartbeat);
    int64_t deadline = prof_now_ns() + max_ns;
    while (max_ns > 0 && now - beat < RING_SAMPLE_RATE) {
        /* acquire; pairs with the release in dmn_tick() after publishing */
        uint32_t got = load_acquire(&ln->applied);
        if ((int32_t)(got - want) >= 0)
            return true;
        int64_t left = deadline - prof_now_ns();
        if (left <= 0)
            break;
        fx_wait(&ln->applied, got, left);
    }
    return false;
}

void cm_sync(const cm_lane_t *l, sg_t *s, int64_t now, int64_t max_ns)
{
    if (!s->cmd_seq)
        return;
    cm_wait(l, s->cmd_seq, now, max_ns);
    s->cmd_seq = 0;
}

static void refuse(cm_refusals_t *out, const role_who_t *who, role_act_t act)
{
    const char *why = role_refusal(who, act);
    for (uint32_t i = 0; i < out->n; i++)
        if (out->why[i] == why)
            return;
    if (out->n < CM_REFUSALS_MAX)
        out->why[out->n++] = why;
}

/* True if `who` may do act; else notes why. */
static bool may(cm_refusals_t *out, const role_who_t *who, role_act_t act)
{
    if (role_may(who, act))
        return true;
    refuse(out, who, act);
    return false;
}

_Static_assert(SEG_SOLO_MAX == 8, "the refusal sentences say 8");

/* solo= that asks for no solo. */
static bool solo_none(const char *s) { return s[0] == '\0' || strcmp(s, "none") == 0; }

static void note(cm_refusals_t *out, const char *why)
{
    if (out->n < CM_REFUSALS_MAX)
        out->why[out->n++] = why;
}

void cm_check_solo(rq_t *p, const seg_t *seg, const seg_ctl_t *ctl, cm_refusals_t *out)
{
    if (!p->solo)
        return;
    p->n_solo = 0;
    if (solo_none(p->solo)) {
        p->has_solo = true;
        return;
    }
    char buf[SEG_SOLO_MAX * 21 + 1];
    if (strlen(p->solo) >= sizeof buf) {
        note(out, "solo: at most 8 singers can be heard alone at once");
        return;
    }
    strcpy(buf, p->solo);
    uint32_t n = 0, named = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t id;
        if (named++ == SEG_SOLO_MAX) {
            note(out, "solo: at most 8 singers can be heard alone at once");
            return;
        }
        if (!rq_parse_public(t, &id) || users_find_public(seg, id) < 0) {
            note(out, "solo: that singer is not in this room (any more)");
            return;
        }
        bool dup = false;
        for (uint32_t i = 0; i < n; i++)
            dup |= p->solo_ids[i] == id;
        if (!dup)
            p->solo_ids[n++] = id;
    }
    if (n == 0) {
        note(out, "solo: name the singers to hear alone, or none");
        return;
    }
    uint32_t held = 0;
    bool mine = false;
    for (int k = 0; k < SEG_SOLO_RINGS; k++) {
        held += ctl->solo[k].listener != 0;
        mine |= ctl->solo[k].listener == p->userid;
    }
    if (!mine && held == SEG_SOLO_RINGS) {
        note(out, "solo: two people are hearing solos already; try again when one of them hears everyone");
        return;
    }
    p->n_solo = n;
    p->has_solo = true;
}

void cm_permit(rq_t *p, const role_who_t *who, uint64_t self, cm_refusals_t *out)
{
    out->n = 0;
    if (p->lead && !may(out, who, ROLE_ACT_LEAD))
        p->lead = false;
    if (p->start && !may(out, who, ROLE_ACT_START))
        p->start = false;
    if (p->stop && !may(out, who, ROLE_ACT_STOP))
        p->stop = false;
    if ((p->bpm >= 0 || p->repeats >= 0 || p->bpr >= 0) && !may(out, who, ROLE_ACT_TEMPO))
        p->bpm = p->repeats = p->bpr = -1;
    if (p->track && !may(out, who, ROLE_ACT_TRACK))
        p->track = NULL;
    if ((p->has_volume || p->has_backing_volume) && !may(out, who, ROLE_ACT_VOLUME))
        p->has_volume = p->has_backing_volume = false;
    /* Stopping one's own monitoring is always allowed. */
    uint64_t t;
    if (p->monitor && rq_parse_public(p->monitor, &t) && !may(out, who, ROLE_ACT_MONITOR))
        p->monitor = NULL;
    if (p->n_ev && !may(out, who, ROLE_ACT_EVENTS))
        p->n_ev = 0;
    /* Hearing everyone again is always allowed. */
    if (p->solo && !solo_none(p->solo) && !may(out, who, ROLE_ACT_SOLO))
        p->solo = NULL;
    if (p->n_chat && !may(out, who, ROLE_ACT_CHAT))
        p->n_chat = 0;
    if (p->timing_apply &&
        !may(out, who, p->timing_apply == self ? ROLE_ACT_TIMING_SELF : ROLE_ACT_TIMING_OTHER))
        p->timing_apply = 0;
    if ((p->remove || p->let_back) && !may(out, who, ROLE_ACT_REMOVE))
        p->remove = p->let_back = 0;
    if (p->appoint && !may(out, who, ROLE_ACT_APPOINT))
        p->appoint = 0;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < p->n_mic; i++)
        if (may(out, who, p->mic[i].id == self ? ROLE_ACT_MIC_SELF : ROLE_ACT_MIC_OTHER))
            p->mic[kept++] = p->mic[i];
    p->n_mic = kept;
    if (p->npk > 0)
        may(out, who, ROLE_ACT_SING);
}

/* Whether `public_id` is a user present in the room now (heard within
 * USERS_ACTIVE_SAMPLES); *spectator says whether they only listen. */
static bool present(const seg_t *seg, uint64_t public_id, int64_t now, bool *spectator)
{
    int64_t i = users_find_public(seg, public_id);
    users_view_t v;
    if (i < 0 || !users_read(seg, (uint32_t)i, &v) || v.public_id != public_id ||
        now - v.last_heard > USERS_ACTIVE_SAMPLES)
        return false;
    *spectator = (v.flags & SEG_UF_SPECTATOR) != 0;
    return true;
}

_Static_assert(SEG_REMOVED_MAX == 32, "the sentence of a full list names its bound");

void cm_check_moderate(rq_t *p, const seg_t *seg, uint64_t self, int64_t now, cm_refusals_t *out)
{
    bool spectator = false;
    if (p->remove) {
        const char *why = NULL;
        if (p->remove == self)
            why = "you cannot remove yourself from the room";
        else if (rmv_count(seg) >= SEG_REMOVED_MAX)
            why = "the list of removed singers is full (32): let someone back in first, or replace the "
                  "singers' link";
        else if (users_find_public(seg, p->remove) < 0)
            why = "that singer is not in the room";
        if (why) {
            note(out, why);
            p->remove = 0;
        }
    }
    if (p->appoint && !(present(seg, p->appoint, now, &spectator) && !spectator)) {
        note(out, spectator ? "a listener cannot lead: only a singer can be appointed the leader"
                            : "that singer is not in the room: only a singer who is here can be appointed");
        p->appoint = 0;
    }
}

void cm_check_start(rq_t *p, const seg_ctl_t *ctl, cm_refusals_t *out)
{
    if (!p->start)
        return;
    int32_t track = ctl->song.requested_track;
    /* A track named in the same request is asked for before the start (the
     * order cm_send() pushes them in); a name the daemon does not know
     * changes nothing, and only the metronome matters here. */
    if (p->track && strcmp(p->track, TRK_METRONOME_NAME) == 0)
        track = SONG_TRACK_METRONOME;
    int32_t bpm = p->bpm >= 1 ? p->bpm : ctl->song.bpm;
    const char *why = song_start_refusal(track, bpm);
    if (!why)
        return;
    p->start = false;
    if (out->n < CM_REFUSALS_MAX)
        out->why[out->n++] = why;
}

void cm_pace_chat(rq_t *p, sg_t *s, int64_t now, cm_refusals_t *out)
{
    if (!p->n_chat)
        return;
    double t = s->chat_at ? s->chat_tokens + (double)(now - s->chat_at) * CM_CHAT_PER_MINUTE / (60.0 * 48000)
                          : CM_CHAT_BURST;
    if (now < s->chat_at)
        t = s->chat_tokens;
    if (t > CM_CHAT_BURST)
        t = CM_CHAT_BURST;
    uint32_t may_send = t >= p->n_chat ? p->n_chat : (uint32_t)t;
    if (may_send < p->n_chat && out->n < CM_REFUSALS_MAX)
        out->why[out->n++] = "chat: too many messages at once; wait a moment, then send again";
    p->n_chat = may_send;
    s->chat_tokens = t - may_send;
    s->chat_at = now > s->chat_at ? now : s->chat_at;
}

uint32_t cm_count(const rq_t *p, const sg_t *s)
{
    uint32_t n = 0;
    n += p->n_chat + p->n_mic + p->n_ev;
    n += p->has_volume + p->has_backing_volume;
    n += (p->bpm >= 0 || p->repeats >= 0 || p->bpr >= 0);
    n += p->track != NULL;
    n += p->lead + p->start + p->stop + (p->monitor != NULL) + (p->timing_apply != 0);
    n += p->has_solo;
    n += (p->remove != 0) + (p->let_back != 0) + (p->appoint != 0);
    n += (s && s->slot >= 0 && strcmp(s->name, p->name) != 0);
    n += (s && s->spectator != p->spectator);
    return n;
}

void cm_send(const cm_lane_t *l, const rq_t *p, sg_t *s, bool organiser, int64_t now)
{
    out_t o = { .l = l, .seg = l->seg, .lane = l->lane, .userid = p->userid,
                .role = organiser ? CMD_ROLE_ORGANISER : 0, .now = now };
    seg_cmd_t *c;
    if (s->slot >= 0 && strcmp(s->name, p->name) != 0) {
        c = cmd_new(&o, CMD_RENAME);
        snprintf(c->name, sizeof c->name, "%s", p->name);
        cmd_push(&o);
        snprintf(s->name, sizeof s->name, "%s", p->name);
    }
    if (s->spectator != p->spectator) {
        c = cmd_new(&o, CMD_SPECTATOR);
        c->a = p->spectator;
        cmd_push(&o);
        s->spectator = p->spectator;
    }
    if (p->has_volume) {
        c = cmd_new(&o, CMD_VOLUME);
        c->f = p->volume;
        cmd_push(&o);
    }
    if (p->has_backing_volume) {
        c = cmd_new(&o, CMD_BACKING_VOLUME);
        c->f = p->backing_volume;
        cmd_push(&o);
    }
    for (uint32_t i = 0; i < p->n_chat; i++) {
        c = cmd_new(&o, CMD_CHAT);   /* posted under the sender's name in the room */
        snprintf(c->text, sizeof c->text, "%s", p->chat[i]);
        cmd_push(&o);
    }
    if (p->bpm >= 0 || p->repeats >= 0 || p->bpr >= 0) {
        c = cmd_new(&o, CMD_TEMPO);
        c->a = p->bpm;
        c->b = p->repeats;
        c->c = p->bpr;
        cmd_push(&o);
    }
    for (uint32_t i = 0; i < p->n_mic; i++) {
        c = cmd_new(&o, CMD_MIC_VOLUME);
        c->target = p->mic[i].id;
        c->f = p->mic[i].v;
        cmd_push(&o);
    }
    if (p->track) {
        c = cmd_new(&o, CMD_TRACK);
        snprintf(c->text, sizeof c->text, "%s", p->track);
        cmd_push(&o);
    }
    if (p->lead) {
        c = cmd_new(&o, CMD_LEAD);
        snprintf(c->name, sizeof c->name, "%s", p->name);
        cmd_push(&o);
    }
    if (p->start) {
        c = cmd_new(&o, CMD_START);
        c->a = p->read_clock;
        cmd_push(&o);
    }
    if (p->stop) {
        c = cmd_new(&o, CMD_STOP);
        /* The END of the singer's previous upload; the read clock when they
         * never uploaded (PROTOCOL.md quirk 10, fixed). */
        c->a = s->last_write_clock ? s->last_write_clock : p->read_clock;
        cmd_push(&o);
    }
    if (p->monitor) {
        c = cmd_new(&o, CMD_MONITOR);
        uint64_t t;
        c->target = rq_parse_public(p->monitor, &t) ? t : 0;
        cmd_push(&o);
    }
    if (p->has_solo) {
        c = cmd_new(&o, CMD_SOLO);
        c->a = p->n_solo;
        _Static_assert(SEG_SOLO_MAX * sizeof(uint64_t) <= sizeof c->text, "solo ids fit a command");
        memcpy(c->text, p->solo_ids, (size_t)p->n_solo * sizeof(uint64_t));
        cmd_push(&o);
    }
    if (p->timing_apply) {
        c = cmd_new(&o, CMD_TIMING_APPLY);
        c->target = p->timing_apply;
        cmd_push(&o);
    }
    /* Let back before remove: a request that does both for one singer
     * leaves them removed. */
    if (p->let_back) {
        c = cmd_new(&o, CMD_LET_BACK);
        c->target = p->let_back;
        cmd_push(&o);
    }
    if (p->remove) {
        c = cmd_new(&o, CMD_REMOVE);
        c->target = p->remove;
        cmd_push(&o);
    }
    if (p->appoint) {
        c = cmd_new(&o, CMD_APPOINT);
        c->target = p->appoint;
        cmd_push(&o);
    }
    for (uint32_t i = 0; i < p->n_ev; i++) {
        c = cmd_new(&o, CMD_EVENT);
        snprintf(c->text, sizeof c->text, "%s", p->ev[i].evid);
        snprintf(c->name, sizeof c->name, "%s", p->ev[i].clock);
        cmd_push(&o);
    }
    sent(&o, s);
}

bool cm_join_ticket(seg_t *seg)
{
    _Atomic int32_t *t = &seg_header(seg)->join_tickets;
    /* acq_rel; pairs with the daemon's release when it takes joins off: the
     * control state read next counts every join whose ticket is gone */
    int32_t promised = atomic_fetch_add_explicit(t, 1, memory_order_acq_rel) + 1;
    seg_ctl_t ctl;
    snap_ctl_read(seg, &ctl);
    /* Silent users give their places to newcomers (the daemon's join):
     * only the users still here count. */
    if ((int64_t)ctl.n_active + promised > (int64_t)seg_user_cap(seg)) {
        atomic_fetch_sub_explicit(t, 1, memory_order_relaxed);  /* relaxed: nothing was promised */
        return false;
    }
    return true;
}

void cm_join(const cm_lane_t *l, const rq_t *p, sg_t *s, int64_t now)
{
    out_t o = { .l = l, .seg = l->seg, .lane = l->lane, .userid = p->userid, .now = now };
    seg_cmd_t *c = cmd_new(&o, CMD_JOIN);
    snprintf(c->name, sizeof c->name, "%s", p->name);
    c->a = p->spectator;
    cmd_push(&o);
    sent(&o, s);
}

/* After pushing outside a singer's request: the lane position to wait
 * for, and the daemon woken. */
static uint64_t pushed_outside(const cm_lane_t *l)
{
    /* relaxed: this worker is the lane's only producer */
    uint64_t seq = load_relaxed(&seg_lane(l->seg, l->lane)->tail);
    /* release; pairs with the acquire in dmn_wake_word() */
    atomic_fetch_add_explicit(l->wake, 1, memory_order_release);
    fx_wake(l->wake);
    return seq;
}

int cm_push_words(const cm_lane_t *l, uint64_t userid, bool organiser, const char *text, size_t len,
                  int64_t now, uint64_t *seq)
{
    /* Each load its own number, so the daemon never mixes two loads' parts. */
    static uint64_t loads;
    uint32_t parts = (uint32_t)((len + SEG_WORDS_PART - 1) / SEG_WORDS_PART);
    if (len == 0 || len > WORDS_TEXT_MAX || cq_room(l->seg, l->lane) < parts)
        return -1;
    out_t o = { .l = l, .seg = l->seg, .lane = l->lane, .userid = userid,
                .role = organiser ? CMD_ROLE_ORGANISER : 0, .now = now };
    uint64_t load = ++loads;
    for (size_t off = 0; off < len; off += SEG_WORDS_PART) {
        seg_cmd_t *c = cmd_new(&o, CMD_WORDS);
        size_t n = len - off < SEG_WORDS_PART ? len - off : SEG_WORDS_PART;
        c->a = (int64_t)len;
        c->b = (int64_t)off;
        c->c = (int64_t)load;
        memcpy(c->text, text + off, n);
        c->text[n] = '\0';
        cmd_push(&o);
    }
    *seq = pushed_outside(l);
    return o.pushed == parts ? 0 : -1;
}

int cm_push_cue(const cm_lane_t *l, uint64_t userid, bool organiser, int64_t clock, int32_t line,
                uint64_t words_id, int64_t now, uint64_t *seq)
{
    out_t o = { .l = l, .seg = l->seg, .lane = l->lane, .userid = userid,
                .role = organiser ? CMD_ROLE_ORGANISER : 0, .now = now };
    seg_cmd_t *c = cmd_new(&o, CMD_CUE);
    c->a = clock;
    c->b = line;
    c->c = (int64_t)words_id;
    if (lane_push(l->seg, l->lane, c) != CQ_OK)
        return -1;
    *seq = pushed_outside(l);
    return 0;
}

int cm_push_plain(const cm_lane_t *l, seg_cmd_type_t type, int64_t now)
{
    out_t o = { .l = l, .seg = l->seg, .lane = l->lane, .now = now };
    cmd_new(&o, type);
    return lane_push(l->seg, l->lane, &o.c) == CQ_OK ? 0 : -1;
}

int cm_push_room_key(const cm_lane_t *l, bool organiser, const uint8_t hash[32], int64_t now)
{
    out_t o = { .l = l, .seg = l->seg, .lane = l->lane, .role = CMD_ROLE_ORGANISER, .now = now };
    seg_cmd_t *c = cmd_new(&o, CMD_ROOM_KEY);
    c->a = organiser;
    for (int i = 0; i < 32; i++)
        snprintf(c->text + 2 * i, 3, "%02x", hash[i]);
    return lane_push(l->seg, l->lane, c) == CQ_OK ? 0 : -1;
}

int cm_push_room_cap(const cm_lane_t *l, uint32_t max_singers, int64_t now)
{
    out_t o = { .l = l, .seg = l->seg, .lane = l->lane, .role = CMD_ROLE_ORGANISER, .now = now };
    seg_cmd_t *c = cmd_new(&o, CMD_ROOM_CAP);
    c->a = max_singers;
    return lane_push(l->seg, l->lane, c) == CQ_OK ? 0 : -1;
}
