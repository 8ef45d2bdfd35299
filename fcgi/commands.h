/*
 * commands.h - a request's controls, as commands to the daemon.
 *
 * A worker never changes control state itself: every control a request
 * carries (chat, lead, start, stop, tempo, volumes, track, monitoring,
 * events, a new name) becomes one command in the worker's lane (cmdq.h),
 * which the daemon applies in order.  The exchange first counts what a
 * request will push (cm_count()) and refuses the request with a 503 if the
 * lane lacks room, so that a request is applied whole or not at all.
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
#include "segment.h"
#include "singers.h"

/* The number of commands cm_send() pushes for this request and singer. */
uint32_t cm_count(const rq_t *rq, const sg_t *s);

/* Pushes the commands of the request into lane `lane`, in the order the
 * daemon is to apply them, and records what was sent in the singer's entry
 * (its name, whether it listens only, the lane position to wait for).
 * Room must have been checked with cm_count(); a command that finds the
 * lane full after all is logged.  Wakes the daemon if anything was sent. */
void cm_send(seg_t *seg, uint32_t lane, const rq_t *rq, sg_t *s, int64_t now);

/* Waits until the daemon applied the commands singer s sent before, or
 * max_ns passed (0: never waits).  Returns at once when nothing is
 * pending or the daemon's heartbeat is more than a second old at `now`. */
void cm_sync(seg_t *seg, uint32_t lane, sg_t *s, int64_t now, int64_t max_ns);

/* Takes a ticket for a place in the user table: false when every place is
 * taken or promised (the caller refuses the newcomer). */
bool cm_join_ticket(seg_t *seg);

/* Queues the JOIN of the request's singer (holding a ticket), to be waited
 * for like the singer's other commands. */
void cm_join(seg_t *seg, uint32_t lane, const rq_t *rq, sg_t *s, int64_t now);

/* Pushes a command without arguments (CMD_RESET_EVENTS,
 * CMD_RESCAN_TRACKS).  Returns 0, or -1 if the lane is full. */
int cm_push_plain(seg_t *seg, uint32_t lane, seg_cmd_type_t type, int64_t now);

#endif
