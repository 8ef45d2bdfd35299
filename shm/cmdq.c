/*
 * cmdq.c - single-producer lanes.
 */
#include <string.h>

#include "cmdq.h"

int cq_push(seg_t *seg, uint32_t lane, seg_cmd_t *cmd)
{
    if (lane >= SEG_LANES)
        return CQ_EPARAM;
    seg_lane_t *l = seg_lane(seg, lane);
    /* relaxed: the producer is the only writer of tail */
    uint64_t tail = load_relaxed(&l->tail);
    /* acquire; pairs with the release of head in cq_pop(): the daemon has
     * finished reading the cell we are about to reuse */
    uint64_t head = load_acquire(&l->head);
    if (tail - head >= SEG_LANE_CAP) {
        fetch_add_relaxed(&l->dropped, 1);  /* relaxed: a statistic */
        return CQ_EFULL;
    }
    cmd->lane = lane;
    cmd->seq = tail;
    memcpy(&seg_lane_cells(seg, lane)[tail % SEG_LANE_CAP], cmd, sizeof *cmd);
    /* release; pairs with the acquire of tail in cq_pop() */
    store_release(&l->tail, tail + 1);
    return CQ_OK;
}

uint32_t cq_room(const seg_t *seg, uint32_t lane)
{
    seg_lane_t *l = seg_lane(seg, lane);
    uint64_t used = load_relaxed(&l->tail) - load_acquire(&l->head);
    return used >= SEG_LANE_CAP ? 0 : (uint32_t)(SEG_LANE_CAP - used);
}

int cq_pop(seg_t *seg, uint32_t lane, seg_cmd_t *out)
{
    seg_lane_t *l = seg_lane(seg, lane);
    /* relaxed: the daemon is the only writer of head */
    uint64_t head = load_relaxed(&l->head);
    /* acquire; pairs with the release of tail in cq_push() */
    uint64_t tail = load_acquire(&l->tail);
    if (head == tail)
        return 0;
    if (tail - head > SEG_LANE_CAP) {
        /* Impossible with a well-behaved producer; a corrupt tail must not
         * make the daemon read garbage forever.  Skip to the tail. */
        store_release(&l->head, tail);
        return 0;
    }
    memcpy(out, &seg_lane_cells(seg, lane)[head % SEG_LANE_CAP], sizeof *out);
    out->name[SEG_NAME_MAX - 1] = '\0';
    out->text[SEG_TEXT_MAX - 1] = '\0';
    /* release; pairs with the acquire of head in cq_push() */
    store_release(&l->head, head + 1);
    return 1;
}
