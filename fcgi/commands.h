/*
 * commands.h - a request's controls, as commands to the daemon.
 *
 * A worker never changes control state itself: every control a request
 * carries (chat, lead, start, stop, tempo, volumes, track, monitoring,
 * events, a new name, applying a singer's measured timing) becomes one command in the worker's lane (cmdq.h),
 * which the daemon applies in order.  The exchange first counts what a
 * request will push (cm_count()) and refuses the request with a 503 if the
 * lane lacks room, so that a request is applied whole or not at all.
 * Before that, the controls the singer's role does not allow are taken out
 * of the request, each with a sentence for the page (cm_permit()); every
 * command says whether it comes with the organiser's key, so that the
 * daemon decides on its own state.
 *
 * A singer's own commands take effect in order and before that singer's
 * next request is handled, as the original server applied them at once:
 * after pushing, the worker wakes the daemon (which otherwise sleeps until
 * its next tick) and notes the lane position in the singer's entry; the
 * singer's next request first waits, at most a bounded time, until the
 * daemon says it applied and published everything up to there
 * (cm_sync()).  A daemon that is down makes nobody wait long.
 *
 * A newcomer's place in the user table is promised by a join ticket
 * (segment.h, join_tickets) before its JOIN is queued, so that a crowd for
 * the last places gets exactly one place each.
 */
#ifndef BB_COMMANDS_H
#define BB_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "request.h"
#include "roles.h"
#include "segment.h"
#include "singers.h"
#include "snap.h"

/* Where a worker's commands go: its lane in the room's segment, and the
 * word that wakes the daemon (the host segment's, or the room segment's
 * own when a room runs alone). */
typedef struct {
    seg_t *seg;
    uint32_t lane;
    _Atomic uint32_t *wake;
} cm_lane_t;

/* Refusals of one request: a sentence per control that was taken out.
 * A request can draw at most one sentence per role action (roles.h; some
 * actions share one) and one from its chat's pace (cm_pace_chat()), so
 * there is room for every action's. */
#define CM_REFUSALS_MAX (ROLE_NACTS + 1)
typedef struct {
    uint32_t n;
    const char *why[CM_REFUSALS_MAX];
} cm_refusals_t;

/* Takes out of the request every control `who` may not use (roles.h),
 * noting a sentence for each in *out; a mic volume is the singer's own
 * when its id is `self` (the singer's public id).  What is left is what
 * the daemon will be asked for, and it checks again on the state it
 * holds.  A listener's audio stays in the request (its clocks are the
 * singer's stream) but never reaches the mix (voice.c): the sentence for
 * that is noted too, so the page knows why nobody hears it. */
void cm_permit(rq_t *rq, const role_who_t *who, uint64_t self, cm_refusals_t *out);

/* The organiser's moderation (remove=, let_back=, appoint=), judged on
 * the room as the worker sees it, after cm_permit(): taken out of the
 * request, with a sentence in *out, when it could not do what it asks:
 * removing oneself or someone not in the room, removing with the list of
 * removed singers full (removed.h: SEG_REMOVED_MAX), letting back someone
 * not removed, appointing someone not present or a listener.  `self` is
 * the sender's public id.  The daemon checks again when it applies it. */
void cm_check_moderate(rq_t *rq, const seg_t *seg, uint64_t self, int64_t now, cm_refusals_t *out);

/* Takes a start out of the request, with song_start_refusal()'s sentence
 * in *out, when the song it would start cannot be (a metronome with no
 * tempo), judged on the track and tempo the request itself sets, else on
 * the control state `ctl`.  The daemon checks again when it applies it. */
void cm_check_start(rq_t *rq, const seg_ctl_t *ctl, cm_refusals_t *out);

/* The request's solo= (PROTOCOL.md 9.12): "" or "none" hears everyone
 * again (always allowed, cm_permit() leaves it in); else up to
 * SEG_SOLO_MAX public ids of singers in the room, comma-separated, whom
 * the listener hears alone.  Fills rq->solo_ids / n_solo and sets
 * rq->has_solo when the list is usable; otherwise notes why in *out (too
 * many, not a singer of the room, or every solo ring held by other
 * listeners in the control state `ctl`) and changes nothing.  Looks the
 * ids up in the user table: only when solo= is given, which the page does
 * when its selection changes. */
void cm_check_solo(rq_t *rq, const seg_t *seg, const seg_ctl_t *ctl, cm_refusals_t *out);

/* Chat messages a singer may send at once, and per minute after that. */
#define CM_CHAT_BURST 5
#define CM_CHAT_PER_MINUTE 30

/* Keeps the singer's chat within CM_CHAT_BURST and CM_CHAT_PER_MINUTE at
 * server clock `now`: messages beyond it are taken out of the request,
 * with a sentence in *out (added to what cm_permit() noted). */
void cm_pace_chat(rq_t *rq, sg_t *s, int64_t now, cm_refusals_t *out);

/* The number of commands cm_send() pushes for this request and singer. */
uint32_t cm_count(const rq_t *rq, const sg_t *s);

/* Pushes the commands of the request into the lane, in the order the
 * daemon is to apply them, and records what was sent in the singer's entry
 * (its name, whether it listens only, the lane position to wait for).
 * Room must have been checked with cm_count(); a command that finds the
 * lane full after all is logged.  Wakes the daemon if anything was sent. */
void cm_send(const cm_lane_t *l, const rq_t *rq, sg_t *s, bool organiser, int64_t now);

/* Waits until the daemon applied the commands singer s sent before, or
 * max_ns passed (0: never waits).  Returns at once when nothing is
 * pending or the daemon's heartbeat is more than a second old at `now`. */
void cm_sync(const cm_lane_t *l, sg_t *s, int64_t now, int64_t max_ns);

/* Takes a ticket for a place in the room's user table: false when every
 * place is taken or promised (the caller refuses the newcomer). */
bool cm_join_ticket(seg_t *seg);

/* Queues the JOIN of the request's singer (holding a ticket), to be waited
 * for like the singer's other commands. */
void cm_join(const cm_lane_t *l, const rq_t *rq, sg_t *s, int64_t now);

/* The organiser's room controls (exchange.h).  Return 0, or -1 if the lane
 * is full. */
int cm_push_room_key(const cm_lane_t *l, bool organiser, const uint8_t hash[32], int64_t now);
int cm_push_room_cap(const cm_lane_t *l, uint32_t max_singers, int64_t now);

/* The song's words (words.h) from `userid`, checked already: the file
 * (len <= WORDS_TEXT_MAX bytes) in CMD_WORDS parts, all or none (-1 if
 * the lane lacks room for all).  On success *seq is the lane position to
 * wait for (cm_wait()).  Wakes the daemon. */
int cm_push_words(const cm_lane_t *l, uint64_t userid, bool organiser, const char *text, size_t len,
                  int64_t now, uint64_t *seq);

/* A cue: line `line` of words `words_id` is current from `clock` on (the
 * clock of the audio `userid` heard), as CMD_CUE.  Returns 0, or -1 if
 * the lane is full.  *seq as for cm_push_words(). */
int cm_push_cue(const cm_lane_t *l, uint64_t userid, bool organiser, int64_t clock, int32_t line,
                uint64_t words_id, int64_t now, uint64_t *seq);

/* Waits, at most max_ns, until the daemon applied and published the
 * lane's commands up to position seq; true if it did.  Returns false at
 * once when the daemon's heartbeat is more than a second old at `now`. */
bool cm_wait(const cm_lane_t *l, uint64_t seq, int64_t now, int64_t max_ns);

/* Pushes a command without arguments (CMD_RESET_EVENTS,
 * CMD_RESCAN_TRACKS).  Returns 0, or -1 if the lane is full. */
int cm_push_plain(const cm_lane_t *l, seg_cmd_type_t type, int64_t now);

#endif
