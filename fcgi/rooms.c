/*
 * rooms.c - the rooms a worker serves (rooms.h).
 *
 * The worker's table of rooms is indexed by directory slot.  A slot's
 * entry holds the room's id as it was when attached; a slot that the
 * directory now gives to another room (or to none) is detached before it
 * is used again, so a request never reaches the timeline of a room other
 * than the one it named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms.h"
#include "segment.h"

struct wr_room {
    hs_room_t info;           /* the directory entry, as read at the last request */
    seg_t *seg;
    ex_t *ex;
};

struct wr {
    wr_config_t cfg;
    char *host_segment;
    char *recordings_dir;
    hs_t *host;
    wr_room_t *slot[HS_ROOMS_MAX];
    uint32_t n;
};

#define LOG(w, fmt, ...) fprintf(stderr, "bb-worker[%u]: " fmt "\n", (w)->cfg.worker_id, ##__VA_ARGS__)

wr_t *wr_create(const wr_config_t *cfg, hs_t *host)
{
    wr_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->cfg = *cfg;
    w->host = host;
    w->host_segment = strdup(cfg->host_segment);
    w->recordings_dir = cfg->recordings_dir ? strdup(cfg->recordings_dir) : NULL;
    if (!w->host_segment || (cfg->recordings_dir && !w->recordings_dir)) {
        wr_destroy(w);
        return NULL;
    }
    return w;
}

static void detach(wr_t *w, uint32_t i)
{
    wr_room_t *r = w->slot[i];
    if (!r)
        return;
    LOG(w, "room %s left (closed or moved)", r->info.id);
    ex_destroy(r->ex);
    seg_detach(r->seg);
    free(r);
    w->slot[i] = NULL;
    w->n--;
}

void wr_destroy(wr_t *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < HS_ROOMS_MAX; i++)
        detach(w, i);
    free(w->host_segment);
    free(w->recordings_dir);
    free(w);
}

/* Attaches the timeline of the room in `info` and makes its exchange. */
static int attach(wr_t *w, const hs_room_t *info, wr_room_t **out, const char **why)
{
    char name[128], rec[512];
    if (hs_room_segment(w->host_segment, info->id, name, sizeof name) != 0) {
        *why = "the room's name does not fit";
        return WR_NOMEM;
    }
    seg_err_t err;
    seg_t *seg = seg_attach(name, &err);
    if (!seg) {
        *why = "the room is starting; please retry in a moment";
        return WR_STARTING;
    }
    if (seg_claim_lane(seg, w->cfg.worker_id, &err) != 0) {
        LOG(w, "room %s: %s", info->id, err.msg);
        seg_detach(seg);
        *why = "the room is busy; please retry in a moment";
        return WR_STARTING;
    }
    /* The default room's stems go where its recordings go: the folder
     * itself; another room's into its own folder there (the daemon makes
     * it). */
    const char *stems = w->recordings_dir;
    if (stems && !(info->flags & HS_DEFAULT)) {
        snprintf(rec, sizeof rec, "%s/%s", w->recordings_dir, info->id);
        stems = rec;
    }
    char ewhy[256];
    wr_room_t *r = calloc(1, sizeof *r);
    ex_t *ex = r ? ex_create(seg, w->cfg.worker_id, w->cfg.max_singers, stems, ewhy, sizeof ewhy) : NULL;
    if (!ex) {
        LOG(w, "room %s: %s", info->id, r ? ewhy : "out of memory");
        free(r);
        seg_detach(seg);
        *why = "the server is out of memory for another room";
        return WR_NOMEM;
    }
    ex_set_sharing(ex, !w->cfg.no_sharing);
    ex_set_bank(ex, !w->cfg.no_bank);
    ex_set_timing_watch(ex, !w->cfg.no_timing_watch);
    ex_set_private_complexity(ex, w->cfg.private_complexity);
    ex_set_command_sync(ex, w->cfg.sync_ns);
    ex_set_wake(ex, hs_wake(w->host));
    if (w->cfg.life && w->cfg.demand)
        ex_set_profiles(ex, w->cfg.life, w->cfg.demand);
    r->info = *info;
    r->seg = seg;
    r->ex = ex;
    w->slot[info->slot] = r;
    w->n++;
    LOG(w, "room %s joined (slot %u)", info->id, info->slot);
    *out = r;
    return WR_OK;
}

int wr_enter(wr_t *w, const char *id, const char *key, wr_room_t **room, hs_role_t *role,
             const char **why)
{
    hs_room_t info;
    if (!id || !*id)
        id = HS_DEFAULT_ID;
    if (!hs_find(w->host, id, &info)) {
        *why = strcmp(id, HS_DEFAULT_ID) == 0
                   ? "this server needs a room's link: ask your choir's organiser for it"
                   : "this link is not valid or the room was closed";
        return WR_NOROOM;
    }
    *role = hs_check_key(&info, key);
    if (*role == HS_ROLE_NONE) {
        *why = "this link is not valid or the room was closed";
        return WR_NOROOM;
    }
    wr_room_t *r = w->slot[info.slot];
    if (r && strcmp(r->info.id, info.id) != 0) {
        detach(w, info.slot);   /* the slot holds another room now */
        r = NULL;
    }
    if (!r) {
        int rc = attach(w, &info, &r, why);
        if (rc != WR_OK)
            return rc;
    }
    r->info = info;
    *room = r;
    return WR_OK;
}

ex_t *wr_ex(wr_room_t *r) { return r->ex; }
const hs_room_t *wr_info(const wr_room_t *r) { return &r->info; }
uint32_t wr_count(const wr_t *w) { return w->n; }

void wr_housekeeping(wr_t *w, int64_t now)
{
    for (uint32_t i = 0; i < HS_ROOMS_MAX; i++) {
        wr_room_t *r = w->slot[i];
        if (!r)
            continue;
        hs_room_t info;
        bool read = hs_read(w->host, i, &info);
        if ((!read && hs_is_free(w->host, i)) || (read && strcmp(info.id, r->info.id) != 0)) {
            detach(w, i);
            continue;
        }
        ex_housekeeping(r->ex, now);
    }
}

void wr_each(wr_t *w, void (*fn)(void *user, wr_room_t *r), void *user)
{
    for (uint32_t i = 0; i < HS_ROOMS_MAX; i++)
        if (w->slot[i])
            fn(user, w->slot[i]);
}
