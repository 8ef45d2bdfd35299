/*
 * cmdq.h - commands from workers to the daemon.
 *
 * The multi-producer queue of the architecture is built as one
 * single-producer, single-consumer lane per worker id.  A producer writes a
 * cell and then releases its tail; the daemon acquires the tail, reads the
 * cell and releases its head.  A producer killed at any instruction has
 * either published a whole command or nothing, and holds no index anyone
 * waits on, so it cannot wedge the queue.  The daemon drains every lane each
 * tick and applies the batch in order of the commands' clocks, so commands
 * from different workers keep the order in which they were issued.
 *
 * A full lane refuses the command (CQ_EFULL); the worker answers its client
 * with a clear 503 and changes nothing.
 */
#ifndef BB_CMDQ_H
#define BB_CMDQ_H

#include "segment.h"

enum { CQ_OK = 0, CQ_EFULL = -1, CQ_EPARAM = -2 };

/* Appends a copy of *cmd to lane `lane` (the caller holds the lane's
 * producer role).  Sets cmd->lane and cmd->seq. */
int cq_push(seg_t *seg, uint32_t lane, seg_cmd_t *cmd);

/* Commands that can still be pushed to the lane. */
uint32_t cq_room(const seg_t *seg, uint32_t lane);

/* Daemon only: takes the oldest command of a lane into *out.  Returns 1 if
 * one was taken, 0 if the lane is empty. */
int cq_pop(seg_t *seg, uint32_t lane, seg_cmd_t *out);

#endif
