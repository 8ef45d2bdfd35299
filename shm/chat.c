/*
 * chat.c - the chat log.
 */
#include "chat.h"

int64_t chat_head(const seg_t *seg)
{
    /* acquire; pairs with the release in chat_post() */
    return load_acquire(&seg_header(seg)->chat_head);
}

void chat_post(seg_t *seg, uint64_t sender, const char *name, const char *text)
{
    seg_header_shared_t *h = seg_header(seg);
    int64_t seq = load_relaxed(&h->chat_head) + 1;  /* relaxed: single writer */
    seg_chat_t *e = &seg_chat(seg)[seq % SEG_CHAT_CAP];
    uint64_t l = load_relaxed(&e->lock);
    store_relaxed(&e->lock, l | 1);
    fence_release();
    store_relaxed(&e->seq, (uint64_t)seq);
    store_relaxed(&e->sender, sender);
    seg_str_store(e->name, SEG_NAME_MAX, name);
    seg_str_store(e->text, SEG_TEXT_MAX, text);
    /* release; pairs with the acquire of lock in chat_read() */
    store_release(&e->lock, (l | 1) + 1);
    /* release; pairs with the acquire in chat_head() */
    store_release(&h->chat_head, seq);
}

int chat_read(const seg_t *seg, int64_t seq, chat_msg_t *out)
{
    if (seq <= 0)
        return -1;
    const seg_chat_t *e = &seg_chat(seg)[seq % SEG_CHAT_CAP];
    for (int tries = 0; tries < 4; tries++) {
        uint64_t l = load_acquire(&e->lock);
        if (l & 1)
            continue;
        out->seq = load_relaxed(&e->seq);  /* relaxed: checked by the lock */
        out->sender = load_relaxed(&e->sender);
        seg_str_load(e->name, SEG_NAME_MAX, out->name);
        seg_str_load(e->text, SEG_TEXT_MAX, out->text);
        fence_acquire();
        if (load_relaxed(&e->lock) != l)
            continue;
        return out->seq == (uint64_t)seq ? 0 : -1;
    }
    return -1;
}
