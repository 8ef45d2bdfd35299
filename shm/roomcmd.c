/*
 * roomcmd.c - a room's commands from the workers, applied in order, and
 * who may give them (roles.h): the daemon decides on the state it alone
 * writes, whatever a worker let through.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat.h"
#include "cmdq.h"
#include "delay.h"
#include "gain.h"
#include "removed.h"
#include "ring.h"
#include "roles.h"
#include "room_impl.h"
#include "strutil.h"
#include "tempo.h"
#include "timeline.h"
#include "utf8.h"

/* Someone other than the leader takes the lead while a song is sung (a
 * singer once the leader is gone, or the organiser): the song, its
 * recording and everyone's bucket go on; only the leader changes. */
static void take_over(rm_t *r, const seg_cmd_t *c)
{
    seg_ctl_t *ctl = &r->ctl;
    uint64_t old = ctl->song.has_leader ? ctl->leader_public : 0;
    ctl->song.leader = c->userid;
    ctl->song.has_leader = 1;
    ctl->leader_public = seg_public_id(r->seg, c->userid);
    str_copy(ctl->leader_name, sizeof ctl->leader_name, c->name);
    LOG(r, "lead taken over mid-song by user %" PRIu64 " (%s)%s%s from user %" PRIu64,
        ctl->leader_public, c->name, c->role & CMD_ROLE_ORGANISER ? ", the organiser," : "",
        old ? "" : " (the leader had left)", old);
}

static void cmd_lead(rm_t *r, const seg_cmd_t *c, int64_t now)
{
    seg_ctl_t *ctl = &r->ctl;
    if (song_phase(&ctl->song) == SONG_SINGING &&
        !(ctl->song.has_leader && ctl->song.leader == c->userid)) {
        take_over(r, c);
        return;
    }
    song_request_lead(&ctl->song, c->userid);
    ctl->song_track[0] = '\0';
    uint32_t n = rm_collect_active(r, now);
    int64_t leader = -1;
    for (uint32_t i = 0; i < n; i++) {
        r->spect[i] = (r->views[i].flags & SEG_UF_SPECTATOR) != 0;
        if (r->views[i].userid == c->userid)
            leader = i;
    }
    int32_t p0 = tempo_rounds_pad(ctl->song.bpm, ctl->song.bpr, ctl->song.repeats);
    int32_t maxp = dly_assign(n, leader, r->spect, p0, ctl->song.depth, &r->rng, r->scratch,
                              r->delays);
    for (uint32_t i = 0; i < n; i++)
        users_send_delay(r->seg, r->active_idx[i], r->delays[i]);
    int64_t li = users_find(r->seg, c->userid);
    if (leader < 0 && li >= 0)
        users_send_delay(r->seg, (uint32_t)li, p0 + DELAY_INTERVAL);
    ctl->song.max_position = maxp;
    ctl->song.first_bucket = p0 + DELAY_INTERVAL;
    ctl->n_buckets = dly_buckets(p0, ctl->song.depth, ctl->buckets);
    rm_rec_stop(r, REC_END_NEW_LEAD);
    ctl->leader_public = seg_public_id(r->seg, c->userid);
    str_copy(ctl->leader_name, sizeof ctl->leader_name, c->name);
    /* A new lead starts from silence (no stale audio reaches the song). */
    tl_zero_all(r->seg);
    rm_rerender_backing(r, now - TL_MARGIN, tl_watermark(r->seg));
    LOG(r, "lead by user %" PRIu64 " (%s): %u singers over buckets %d..%d s", ctl->leader_public,
        c->name, n, p0 + DELAY_INTERVAL, maxp);
}

_Static_assert(TRK_NAME_MAX < SEG_TRACK_NAME_MAX, "a track's name fits the control state");

static void cmd_start(rm_t *r, const seg_cmd_t *c, int64_t now)
{
    seg_ctl_t *ctl = &r->ctl;
    /* A worker refused this already, on a snapshot; a start that slipped
     * through (the tempo changed meanwhile) changes nothing here either. */
    const char *no = song_start_refusal(ctl->song.requested_track, ctl->song.bpm);
    if (no) {
        LOG(r, "song start by user %" PRIu64 " refused: %s", seg_public_id(r->seg, c->userid), no);
        return;
    }
    /* The first to start a song in a room without a leader leads it; the
     * organiser starting takes the lead too. */
    if (!(ctl->song.has_leader && ctl->song.leader == c->userid))
        cmd_lead(r, c, now);
    song_start_action_t a = song_start(&ctl->song, c->a);
    ctl->song_track[0] = '\0';
    if (a == SONG_START_TRACK)
        str_copy(ctl->song_track, sizeof ctl->song_track, tset_name(r->tracks, ctl->song.playing_track));
    int64_t w = tl_watermark(r->seg);
    if (a == SONG_START_METRONOME) {
        rm_rerender_backing(r, ctl->song.start, w);
    } else if (a == SONG_START_TRACK) {
        if (tset_open(r->tracks, ctl->song.playing_track) != 0) {
            LOG(r, "track %d cannot be opened; starting without it", ctl->song.playing_track);
            ctl->song.playing_track = SONG_TRACK_NONE;
            ctl->song_track[0] = '\0';
        } else {
            /* The track starts at the clock of the start request, as in the
             * original (not at the song start, which lies in the past). */
            ctl->track_started = c->clock;
            rm_rerender_backing(r, c->clock, w);
        }
    }
    LOG(r, "song start at clock %" PRId64 " (%s)", ctl->song.start,
        a == SONG_START_METRONOME ? "metronome" : a == SONG_START_TRACK ? "backing track" : "a cappella");
    (void)now;
}

static void cmd_stop(rm_t *r, const seg_cmd_t *c)
{
    seg_ctl_t *ctl = &r->ctl;
    if (ctl->song.start == 0 && !ctl->song.has_leader)
        return;
    bool led = ctl->song.has_leader && ctl->song.leader == c->userid;
    song_stop(&ctl->song, c->a);
    ctl->leader_public = 0;
    ctl->leader_name[0] = '\0';
    /* Whoever else stops the song hears the rest of it from the back; the
     * leader stays in the leader's bucket. */
    int64_t li = users_find(r->seg, c->userid);
    if (li >= 0 && !led)
        users_send_delay(r->seg, (uint32_t)li, ctl->song.max_position);
    /* The track or metronome stops now: rewrite what lies ahead. */
    int64_t w = tl_watermark(r->seg);
    rm_rerender_backing(r, c->clock, w);
    LOG(r, "song stop at clock %" PRId64 " by user %" PRIu64 "%s", ctl->song.end,
        seg_public_id(r->seg, c->userid), c->role & CMD_ROLE_ORGANISER ? " (the organiser)" : "");
}

static void cmd_monitor(rm_t *r, const seg_cmd_t *c)
{
    uint32_t cap = seg_user_cap(r->seg);
    for (uint32_t i = 0; i < cap; i++) {
        uint32_t f = users_flags(r->seg, i);
        if (f & (SEG_UF_MONITORING | SEG_UF_MONITORED))
            users_set_flags(r->seg, i, f & ~(SEG_UF_MONITORING | SEG_UF_MONITORED));
    }
    r->ctl.monitored_public = 0;
    r->ctl_dirty = true;
    int64_t m = users_find(r->seg, c->userid);
    int64_t t = c->target ? users_find_public(r->seg, c->target) : -1;
    if (m < 0 || t < 0 || m == t)
        return;
    users_set_flags(r->seg, (uint32_t)m, users_flags(r->seg, (uint32_t)m) | SEG_UF_MONITORING);
    users_set_flags(r->seg, (uint32_t)t, users_flags(r->seg, (uint32_t)t) | SEG_UF_MONITORED);
    r->ctl.monitored_public = c->target;
    users_view_t v;
    if (users_read(r->seg, (uint32_t)t, &v))
        users_send_delay(r->seg, (uint32_t)m,
                         (int32_t)nearbyint((double)v.delay_samples / RING_SAMPLE_RATE) + DELAY_INTERVAL);
}

/* CMD_REMOVE: the organiser removes a singer who is in the room.  The
 * singer goes on the list (removed.h), so that every request of theirs is
 * refused from now on, and out of the room at once: their slot is freed
 * (out of the people list, the levels and the mix), their lead and
 * monitoring end.  Their voice already in the rings stays where it is; no
 * more comes. */
static void cmd_remove(rm_t *r, const seg_cmd_t *c)
{
    uint64_t by = seg_public_id(r->seg, c->userid);
    int64_t i = users_find_public(r->seg, c->target);
    users_view_t v;
    if (i < 0 || !users_read(r->seg, (uint32_t)i, &v)) {
        LOG(r, "remove of user %" PRIu64 " by the organiser (user %" PRIu64 ") changed nothing: not in the room",
            c->target, by);
        return;
    }
    if (v.userid == c->userid) {
        LOG(r, "remove of user %" PRIu64 " refused: the organiser cannot remove themselves", c->target);
        r->n_refused++;
        return;
    }
    int rc = rmv_add(&r->removed, v.userid, v.public_id, v.name);
    if (rc == RMV_FULL) {
        LOG(r, "remove of user %" PRIu64 " by the organiser (user %" PRIu64 ") refused: %d singers are "
            "removed already, the most the room keeps", c->target, by, SEG_REMOVED_MAX);
        r->n_refused++;
        return;
    }
    if (rc == RMV_ADDED)
        rmv_publish(r->seg, &r->removed);
    seg_ctl_t *ctl = &r->ctl;
    if (ctl->song.has_leader && ctl->song.leader == v.userid)
        rm_drop_leader(r);
    if (v.flags & (SEG_UF_MONITORING | SEG_UF_MONITORED)) {
        seg_cmd_t stop = {.type = CMD_MONITOR};
        cmd_monitor(r, &stop);
    }
    users_free(r->seg, (uint32_t)i);
    if (ctl->n_users)
        ctl->n_users--;
    ctl->users_full = 0;
    r->ctl_dirty = true;
    r->summary_dirty = true;
    LOG(r, "user %" PRIu64 " removed from the room by the organiser (user %" PRIu64 "); %u removed now",
        v.public_id, by, r->removed.n);
}

/* CMD_LET_BACK: the organiser lets a removed singer back in. */
static void cmd_let_back(rm_t *r, const seg_cmd_t *c)
{
    uint64_t by = seg_public_id(r->seg, c->userid);
    if (!rmv_drop(&r->removed, c->target)) {
        LOG(r, "let back of user %" PRIu64 " by the organiser (user %" PRIu64 ") changed nothing: not removed",
            c->target, by);
        return;
    }
    rmv_publish(r->seg, &r->removed);
    LOG(r, "user %" PRIu64 " let back into the room by the organiser (user %" PRIu64 "); %u removed now",
        c->target, by, r->removed.n);
}

/* CMD_APPOINT: the organiser makes a present singer (not a listener) the
 * leader, as if they had taken the lead themselves: mid-song only the
 * leader changes (the song, its recording and every bucket go on), before
 * a song they lead it from the leader's bucket. */
static void cmd_appoint(rm_t *r, const seg_cmd_t *c, int64_t now)
{
    uint64_t by = seg_public_id(r->seg, c->userid);
    int64_t i = users_find_public(r->seg, c->target);
    users_view_t v;
    if (i < 0 || !users_read(r->seg, (uint32_t)i, &v) || (v.flags & SEG_UF_SPECTATOR) ||
        now - v.last_heard > USERS_ACTIVE_SAMPLES) {
        LOG(r, "appointing user %" PRIu64 " by the organiser (user %" PRIu64 ") refused: not a singer present "
            "in the room", c->target, by);
        r->n_refused++;
        return;
    }
    if (r->ctl.song.has_leader && r->ctl.song.leader == v.userid)
        return;
    seg_cmd_t as = *c;
    as.userid = v.userid;
    as.role = 0;
    str_copy(as.name, sizeof as.name, v.name);
    cmd_lead(r, &as, now);
    r->ctl_dirty = true;
    LOG(r, "user %" PRIu64 " appointed the leader by the organiser (user %" PRIu64 ")", v.public_id, by);
}

/* CMD_TIMING_APPLY: the singer's worker applies what it measured, if it
 * still flags them, on their next request (fcgi/watch.h). */
static void cmd_timing_apply(rm_t *r, const seg_cmd_t *c)
{
    int64_t i = users_find_public(r->seg, c->target);
    if (i < 0)
        return;
    users_send_timing_apply(r->seg, (uint32_t)i);
    LOG(r, "user %" PRIu64 " is to apply their measured timing (asked by user %" PRIu64 "%s)",
        c->target, seg_public_id(r->seg, c->userid),
        c->role & CMD_ROLE_ORGANISER ? ", the organiser" : "");
}

static void cmd_event(rm_t *r, const seg_cmd_t *c)
{
    /* Workers never send longer texts; a cut JSON text would not parse. */
    if (strlen(c->text) >= sizeof r->events[0].evid || strlen(c->name) >= sizeof r->events[0].clock)
        return;
    uint32_t i;
    for (i = 0; i < r->n_events; i++)
        if (strcmp(r->events[i].evid, c->text) == 0)
            break;
    if (i == r->n_events) {
        if (r->n_events == RM_EVENTS_MAX) {
            /* The table is full: the oldest entry makes room. */
            memmove(r->events, r->events + 1, (RM_EVENTS_MAX - 1) * sizeof r->events[0]);
            i = RM_EVENTS_MAX - 1;
        } else {
            r->n_events++;
        }
    }
    str_copy(r->events[i].evid, sizeof r->events[i].evid, c->text);
    str_copy(r->events[i].clock, sizeof r->events[i].clock, c->name);
    rm_publish_events(r);
}

/* The action of roles.h a command is, or ROLE_NACTS for those anyone may
 * give (joining, a name, listening only) and those the worker alone can
 * judge (reset_events and a rescan carry no singer). */
static role_act_t action_of(const rm_t *r, const seg_cmd_t *c)
{
    switch ((seg_cmd_type_t)c->type) {
    case CMD_LEAD: return ROLE_ACT_LEAD;
    case CMD_START: return ROLE_ACT_START;
    case CMD_STOP: return ROLE_ACT_STOP;
    case CMD_TEMPO: return ROLE_ACT_TEMPO;
    case CMD_TRACK: return ROLE_ACT_TRACK;
    case CMD_VOLUME:
    case CMD_BACKING_VOLUME: return ROLE_ACT_VOLUME;
    case CMD_MIC_VOLUME:
        return c->target == seg_public_id(r->seg, c->userid) ? ROLE_ACT_MIC_SELF : ROLE_ACT_MIC_OTHER;
    case CMD_MONITOR: return c->target ? ROLE_ACT_MONITOR : ROLE_NACTS;
    case CMD_EVENT: return ROLE_ACT_EVENTS;
    case CMD_CHAT: return ROLE_ACT_CHAT;
    case CMD_ROOM_KEY:
    case CMD_ROOM_CAP: return ROLE_ACT_ROOM;
    case CMD_TIMING_APPLY:
        return c->target == seg_public_id(r->seg, c->userid) ? ROLE_ACT_TIMING_SELF
                                                             : ROLE_ACT_TIMING_OTHER;
    case CMD_WORDS:
    case CMD_CUE: return ROLE_ACT_WORDS;
    case CMD_SOLO: return c->a > 0 ? ROLE_ACT_SOLO : ROLE_NACTS;
    case CMD_REMOVE:
    case CMD_LET_BACK: return ROLE_ACT_REMOVE;
    case CMD_APPOINT: return ROLE_ACT_APPOINT;
    default: return ROLE_NACTS;
    }
}

/* Whether the command's sender may give it, on the state the daemon holds
 * now (a worker decided on a snapshot that may be a tick old). */
static bool permitted(rm_t *r, const seg_cmd_t *c)
{
    /* A removed singer's commands queued before the removal (a join, a
     * chat...) change nothing; the organiser's key always opens. */
    if (c->userid && !(c->role & CMD_ROLE_ORGANISER) && rmv_list_has(&r->removed, c->userid)) {
        LOG(r, "command %u from user %" PRIu64 " refused: removed from the room", c->type,
            seg_public_id(r->seg, c->userid));
        r->n_refused++;
        /* A refused join still gives back its worker's ticket. */
        if (c->type == CMD_JOIN)
            r->tickets_done++;
        return false;
    }
    role_act_t act = action_of(r, c);
    if (act == ROLE_NACTS)
        return true;
    const song_t *s = &r->ctl.song;
    int64_t i = c->userid ? users_find(r->seg, c->userid) : -1;
    role_who_t who = {
        .organiser = (c->role & CMD_ROLE_ORGANISER) != 0,
        .listener = i >= 0 && (users_flags(r->seg, (uint32_t)i) & SEG_UF_SPECTATOR),
        .leads = s->has_leader && s->leader == c->userid,
        .room_has_leader = s->has_leader,
        .uploads = true,
    };
    if (role_may(&who, act))
        return true;
    LOG(r, "command %u from user %" PRIu64 " refused: %s", c->type, seg_public_id(r->seg, c->userid),
        role_refusal(&who, act));
    r->n_refused++;
    return false;
}

/* The name user `self` (a slot, or -1 for a newcomer) gets when it asks
 * for `want`: `want` itself, or "want (2)", "want (3)"... (up to 99) if
 * someone else in the room goes by it, so that nobody appears under
 * another's name, in the people list or on a chat.  Names compare without
 * regard to ASCII case; one pass over the table.  The cut keeps the suffix
 * within SEG_NAME_MAX. */
static void unique_name(rm_t *r, int64_t self, const char *want, char *out)
{
    uint32_t cap = seg_user_cap(r->seg);
    size_t wl = strlen(want);
    bool taken[100] = {false};
    for (uint32_t i = 0; i < cap; i++) {
        users_view_t v;
        if ((int64_t)i == self || !users_read(r->seg, i, &v))
            continue;
        if (strcasecmp(v.name, want) == 0) {
            taken[1] = true;
            continue;
        }
        /* "want (k)", want perhaps cut to make room for the suffix */
        const char *open = strrchr(v.name, '(');
        char *end;
        long k = open ? strtol(open + 1, &end, 10) : 0;
        size_t bl = open && open > v.name ? (size_t)(open - v.name - 1) : 0;
        if (k >= 2 && k < 100 && *end == ')' && end[1] == '\0' && open[-1] == ' ' && bl <= wl &&
            strncasecmp(v.name, want, bl) == 0)
            taken[k] = true;
    }
    snprintf(out, SEG_NAME_MAX, "%s", want);
    if (!taken[1])
        return;
    int n = 2;
    while (n < 99 && taken[n])
        n++;
    char suffix[8];
    int sl = snprintf(suffix, sizeof suffix, " (%d)", n);
    size_t keep = utf8_cut(want, wl, SEG_NAME_MAX - 1 - (size_t)sl);
    snprintf(out, SEG_NAME_MAX, "%.*s%s", (int)keep, want, suffix);
}

/* True if the room takes one more newcomer now (RM_JOINS_BURST). */
static bool join_pace(rm_t *r, int64_t now)
{
    double t = r->join_tokens + (double)(now - r->join_at) * RM_JOINS_PER_SECOND / RING_SAMPLE_RATE;
    if (now < r->join_at)
        t = r->join_tokens;
    r->join_tokens = t > RM_JOINS_BURST ? RM_JOINS_BURST : t;
    r->join_at = now > r->join_at ? now : r->join_at;
    if (r->join_tokens >= 1.0) {
        r->join_tokens -= 1.0;
        return true;
    }
    r->n_join_waits++;
    if (now - r->join_wait_logged > 10 * RING_SAMPLE_RATE) {
        LOG(r, "newcomers arrive faster than %d a second: their places are made at that pace "
            "(%" PRIu64 " joins put off so far)", RM_JOINS_PER_SECOND, r->n_join_waits);
        r->join_wait_logged = now;
    }
    return false;
}

/* A full user table counts only the users still here: the one silent
 * longest, if silent for more than USERS_ACTIVE_SAMPLES, gives its slot to
 * a newcomer.  True if one was freed. */
static bool evict_silent(rm_t *r, int64_t now)
{
    uint32_t cap = seg_user_cap(r->seg);
    int64_t best = -1, oldest = now - USERS_ACTIVE_SAMPLES;
    uint64_t pub = 0;
    for (uint32_t i = 0; i < cap; i++) {
        users_view_t v;
        if (users_read(r->seg, i, &v) && v.last_heard < oldest) {
            best = i;
            oldest = v.last_heard;
            pub = v.public_id;
        }
    }
    if (best < 0)
        return false;
    LOG(r, "user %" PRIu64 " forgotten after %.0f s of silence: the table is full and a newcomer needs the place",
        pub, (double)(now - oldest) / RING_SAMPLE_RATE);
    users_free(r->seg, (uint32_t)best);
    r->n_evicted++;
    return true;
}

/* CMD_JOIN: a user's first command, or again after a reload. One already
 * in the table keeps its slot and may change its name; a newcomer takes a
 * slot at the room's joining pace, a silent user's when the table is full,
 * or is refused. */
static void cmd_join(rm_t *r, const seg_cmd_t *c, int64_t now)
{
    seg_ctl_t *ctl = &r->ctl;
    r->tickets_done++;
    int64_t i = users_find(r->seg, c->userid);
    char name[SEG_NAME_MAX];
    if (i >= 0) {
        users_view_t v;
        unique_name(r, i, c->name, name);
        if (users_read(r->seg, (uint32_t)i, &v) && strcmp(v.name, name) != 0)
            users_set_name(r->seg, (uint32_t)i, name);
        return;
    }
    if (!join_pace(r, now))
        return;
    unique_name(r, -1, c->name, name);
    i = users_alloc(r->seg, c->userid, name, c->a ? SEG_UF_SPECTATOR : 0, c->clock);
    if (i < 0 && evict_silent(r, c->clock)) {
        ctl->n_users--;
        i = users_alloc(r->seg, c->userid, name, c->a ? SEG_UF_SPECTATOR : 0, c->clock);
    }
    if (i < 0) {
        r->n_refused++;
        if (!ctl->users_full) {
            LOG(r, "user table full (%u slots): refusing new singers", seg_user_cap(r->seg));
            ctl->users_full = 1;
            r->ctl_dirty = true;
        }
        return;
    }
    r->n_joins++;
    r->summary_dirty = true;
    ctl->n_users++;
    ctl->n_active++;
    ctl->users_full = ctl->n_users >= seg_user_cap(r->seg);
    r->ctl_dirty = true;
    LOG(r, "user %" PRIu64 " joined (%s)%s", seg_public_id(r->seg, c->userid), name,
        c->a ? " as a spectator" : "");
}

/* CMD_RENAME and CMD_SPECTATOR: a singer changes its own entry (a user no
 * longer in the table changes nothing); the summary shows it. */
static void cmd_singer(rm_t *r, const seg_cmd_t *c)
{
    int64_t i = users_find(r->seg, c->userid);
    if (i >= 0 && c->type == CMD_RENAME) {
        char name[SEG_NAME_MAX];
        unique_name(r, i, c->name, name);
        users_set_name(r->seg, (uint32_t)i, name);
    } else if (i >= 0) {
        uint32_t f = users_flags(r->seg, (uint32_t)i);
        users_set_flags(r->seg, (uint32_t)i, c->a ? f | SEG_UF_SPECTATOR : f & ~SEG_UF_SPECTATOR);
    }
    r->summary_dirty = true;
}

/* CMD_CHAT: under the name the sender has in the room, whatever the
 * request said: nobody posts as someone else. */
static void cmd_chat(rm_t *r, const seg_cmd_t *c)
{
    int64_t i = users_find(r->seg, c->userid);
    users_view_t v;
    if (i < 0 || !users_read(r->seg, (uint32_t)i, &v))
        return;   /* not in the room (yet): nobody to speak for */
    chat_post(r->seg, v.public_id, v.name, c->text);
}

/* CMD_VOLUME, CMD_BACKING_VOLUME and CMD_MIC_VOLUME: the mix's volumes,
 * each clamped to its range; a value that cannot be clamped (not a
 * number) changes nothing. */
static void cmd_volume(rm_t *r, const seg_cmd_t *c)
{
    seg_ctl_t *ctl = &r->ctl;
    double v;
    if (c->type == CMD_MIC_VOLUME) {
        int64_t i = users_find_public(r->seg, c->target);
        if (i >= 0 && gain_clamp_mic(c->f, &v))
            users_set_mic_volume(r->seg, (uint32_t)i, (float)v);
        r->summary_dirty = true;
        return;
    }
    if (!gain_clamp_everyone(c->f, &v))
        return;
    if (c->type == CMD_VOLUME) {
        ctl->global_volume = v;
        ctl->global_gain = (float)gain_volume(v);
    } else {
        ctl->backing_volume = v;
        ctl->backing_gain = (float)gain_volume(v);
    }
    r->ctl_dirty = true;
}

/* CMD_TEMPO and CMD_TRACK: what the next song is sung to. */
static void cmd_song_settings(rm_t *r, const seg_cmd_t *c)
{
    seg_ctl_t *ctl = &r->ctl;
    if (c->type == CMD_TEMPO) {
        if (song_set_tempo(&ctl->song, (int32_t)c->a, (int32_t)c->b, (int32_t)c->c)) {
            ctl->settings_gen++;
            r->ctl_dirty = true;
        }
        return;
    }
    int32_t t = strcmp(c->text, TSET_METRONOME_NAME) == 0 ? SONG_TRACK_METRONOME
                                                          : tset_find(r->tracks, c->text);
    if (t != SONG_TRACK_NONE) {
        song_request_track(&ctl->song, t);
        r->ctl_dirty = true;
    }
}

/* CMD_WORDS and CMD_CUE: the song's words, a part at a time, and the line
 * the leader moved to (roomwords.c). */
static void cmd_words(rm_t *r, const seg_cmd_t *c)
{
    if (c->type == CMD_WORDS)
        rm_words_part(r, c);
    else
        rm_words_cue(r, c);
}

static void apply(rm_t *r, const seg_cmd_t *c, int64_t now)
{
    r->n_cmds++;
    if (!permitted(r, c))
        return;
    switch ((seg_cmd_type_t)c->type) {
    case CMD_JOIN:
        cmd_join(r, c, now);
        break;
    case CMD_RENAME:
    case CMD_SPECTATOR:
        cmd_singer(r, c);
        break;
    case CMD_CHAT:
        cmd_chat(r, c);
        break;
    case CMD_VOLUME:
    case CMD_BACKING_VOLUME:
    case CMD_MIC_VOLUME:
        cmd_volume(r, c);
        break;
    case CMD_TEMPO:
    case CMD_TRACK:
        cmd_song_settings(r, c);
        break;
    case CMD_LEAD:
        cmd_lead(r, c, now);
        r->ctl_dirty = true;
        break;
    case CMD_START:
        cmd_start(r, c, now);
        rm_words_song_start(r);
        r->ctl_dirty = true;
        break;
    case CMD_STOP:
        cmd_stop(r, c);
        r->ctl_dirty = true;
        break;
    case CMD_MONITOR:
        cmd_monitor(r, c);
        r->summary_dirty = true;
        break;
    case CMD_EVENT:
        cmd_event(r, c);
        break;
    case CMD_RESET_EVENTS:
        r->n_events = 0;
        rm_publish_events(r);
        break;
    case CMD_RESCAN_TRACKS:
        tset_rescan(r->tracks);
        break;
    case CMD_WORDS:
    case CMD_CUE:
        cmd_words(r, c);
        break;
    case CMD_ROOM_KEY:
    case CMD_ROOM_CAP:
        if (r->cfg.host)
            r->cfg.host(r->cfg.host_user, r->cfg.id, c);
        break;
    case CMD_TIMING_APPLY:
        cmd_timing_apply(r, c);
        break;
    case CMD_SOLO:
        rm_solo_cmd(r, c, now);
        break;
    case CMD_REMOVE:
        cmd_remove(r, c);
        break;
    case CMD_LET_BACK:
        cmd_let_back(r, c);
        break;
    case CMD_APPOINT:
        cmd_appoint(r, c, now);
        break;
    default:
        LOG(r, "unknown command type %u from lane %u ignored", c->type, c->lane);
        break;
    }
}

static int cmd_cmp(const void *a, const void *b)
{
    const seg_cmd_t *x = a, *y = b;
    if (x->clock != y->clock)
        return x->clock < y->clock ? -1 : 1;
    if (x->lane != y->lane)
        return x->lane < y->lane ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A command's clocks (when it was issued; the leader's read clock of a
 * start or stop; the clock a cue was heard at) come from a worker reading
 * the same server clock: never ahead of ours by more than a second, never
 * older than the ring (a daemon that was down longer than that).  A lane
 * cell outside those bounds is damaged; its issue clock is taken as now
 * and a start, stop or cue at an impossible read clock is dropped, so no
 * clock arithmetic on command values can overflow.  Returns false to drop
 * the command. */
static bool bound_clocks(rm_t *r, seg_cmd_t *c, int64_t now)
{
    int64_t oldest = now - (int64_t)seg_ring_len(r->seg), newest = now + RING_SAMPLE_RATE;
    bool ok = true;
    if (c->clock < oldest || c->clock > newest) {
        LOG(r, "command %u from lane %u: clock %" PRId64 " is %s; taken as now", c->type, c->lane,
            c->clock, c->clock > newest ? "ahead of the server clock" : "older than the ring");
        c->clock = now;
    }
    if ((c->type == CMD_START || c->type == CMD_STOP || c->type == CMD_CUE) &&
        (c->a < oldest || c->a > newest)) {
        LOG(r, "%s from lane %u at read clock %" PRId64 " ignored: outside the ring",
            c->type == CMD_START ? "start" : c->type == CMD_STOP ? "stop" : "cue", c->lane, c->a);
        ok = false;
    }
    return ok;
}

void rm_drain(rm_t *r, int64_t now)
{
    uint32_t n = 0;
    /* Round-robin over the lanes so a flooding worker cannot starve the
     * others of this tick's budget. */
    bool more = true;
    while (more && n < RM_CMDS_PER_TICK) {
        more = false;
        for (uint32_t l = 0; l < SEG_LANES && n < RM_CMDS_PER_TICK; l++)
            if (cq_pop(r->seg, l, &r->cmds[n])) {
                more = true;
                r->lanes_drained |= UINT64_C(1) << l;
                if (bound_clocks(r, &r->cmds[n], now))
                    n++;
            }
    }
    if (n == 0)
        return;
    qsort(r->cmds, n, sizeof r->cmds[0], cmd_cmp);
    for (uint32_t i = 0; i < n; i++)
        apply(r, &r->cmds[i], now);
    /* What a singer changed (a name, a mic volume, monitoring) shows in the
     * summary that singer's next response carries, not 100 ms later. */
    if (r->summary_dirty) {
        rm_publish_summary(r, rm_collect_active(r, now), now);
        r->summary_dirty = false;
    }
}

