/*
 * chat.h - the chat log: the last SEG_CHAT_CAP messages, written by the
 * daemon, read by every worker.
 *
 * Each message has a number (1, 2, ...); chat_head is the newest.  A worker
 * remembers, per singer, the number of the last message it delivered and
 * sends the newer ones (except the singer's own).  A singer who falls more
 * than SEG_CHAT_CAP messages behind misses the oldest; a singer who joins
 * starts at the head and never sees earlier messages (as the original).
 * Each entry has its own seqlock; the daemon dying mid-write leaves that one
 * entry unreadable, nothing else.
 */
#ifndef BB_CHAT_H
#define BB_CHAT_H

#include <stdint.h>

#include "segment.h"

typedef struct {
    uint64_t seq;
    uint64_t sender;            /* public id */
    char name[SEG_NAME_MAX];
    char text[SEG_TEXT_MAX];
} chat_msg_t;

/* Number of the newest message (0 if none).  Acquire; pairs with the
 * release in chat_post(). */
int64_t chat_head(const seg_t *seg);

/* Daemon only: appends a message. */
void chat_post(seg_t *seg, uint64_t sender, const char *name, const char *text);

/* Reads message number seq.  Returns 0, or -1 if it has been overwritten,
 * is not written yet or is being written. */
int chat_read(const seg_t *seg, int64_t seq, chat_msg_t *out);

#endif
