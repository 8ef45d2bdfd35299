/*
 * daemon.c - the host daemon: the directory of rooms and their room
 * daemons (daemon.h).
 *
 * The directory's slots are kept stable: a room keeps the slot it had (a
 * restarted daemon finds each open room's id in the slot it was in), so a
 * worker's cached room stays valid across a daemon restart.  Bringing the
 * directory in step with the database touches only what changed: a room
 * still open keeps its room daemon and its song; a closed one leaves the
 * directory before its segment is removed, so no worker is sent to a
 * timeline that is going away.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "futex.h"
#include "host.h"
#include "retain.h"
#include "rooms/roomdb.h"
#include "strutil.h"

/* How often the database is asked whether another process changed it. */
#define DMN_DB_EVERY (48000 / 2)
/* How long the tick waits for a database another process holds: the rings
 * are a second ahead, so never long.  An organiser's change that found the
 * database busy waits in a queue, in order, and is tried again at the next
 * look (every DMN_DB_EVERY). */
#define DMN_DB_BUSY_MS 50
#define DMN_PENDING_MAX 64

typedef struct {
    rm_t *room;            /* NULL: the slot is free */
    char id[HS_ID_MAX];
    bool seen;             /* still wanted by the last sync */
    int64_t recording;     /* the song it records, as the keeper was last told */
} slot_t;

struct dmn {
    dmn_config_t cfg;
    hs_t *host;
    rt_t *keeper;          /* the recordings' keeper; NULL without recordings */
    rdb_t *db;
    uint64_t db_version;
    int64_t last_db;
    uint32_t n_open;
    slot_t slots[HS_ROOMS_MAX];
    /* Organisers' changes the database was too busy for, oldest first. */
    struct {
        char room[HS_ID_MAX];
        uint32_t type;
        int64_t a;
        char hash_hex[2 * HS_HASH_LEN + 1];
    } pending[DMN_PENDING_MAX];
    uint32_t n_pending;
};

#define LOG(fmt, ...) fprintf(stderr, "bb-shmd: " fmt "\n", ##__VA_ARGS__)

void dmn_config_defaults(dmn_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->segment = "/bb";
    c->default_room = true;
    c->ring_seconds = SEG_RING_SECONDS_DEFAULT;
    c->user_cap = SEG_USERS_DEFAULT;
    c->keep = 20;
    c->keep_days = DMN_KEEP_DAYS;
    c->rec_sweep_ms = 10000;
    c->depth = 5;
}

/* ---- the rooms ----------------------------------------------------------- */

static int find_slot(const dmn_t *d, const char *id)
{
    for (int i = 0; i < HS_ROOMS_MAX; i++)
        if (d->slots[i].room && strcmp(d->slots[i].id, id) == 0)
            return i;
    return -1;
}

/* A free slot: the one the directory still names this id in (a restart),
 * else the first free one; -1 when the host is full. */
static int free_slot(const dmn_t *d, const char *id)
{
    int first = -1;
    for (int i = 0; i < HS_ROOMS_MAX; i++) {
        if (d->slots[i].room)
            continue;
        hs_room_t info;
        if (hs_read(d->host, (uint32_t)i, &info) && strcmp(info.id, id) == 0)
            return i;
        if (first < 0 && hs_is_free(d->host, (uint32_t)i))
            first = i;
    }
    return first;
}

/* The host's answer to a room's organiser controls: the database first,
 * then the directory, so the old key stops working as the daemon ticks. */
static void room_control(void *user, const char *room_id, const seg_cmd_t *c);

static rm_t *start_room(dmn_t *d, const char *id)
{
    char seg[128], rec[512];
    if (hs_room_segment(d->cfg.segment, id, seg, sizeof seg) != 0) {
        LOG("room %s: its segment name does not fit", id);
        return NULL;
    }
    bool is_default = strcmp(id, HS_DEFAULT_ID) == 0;
    const char *recdir = d->cfg.recordings_dir;
    if (recdir && !is_default) {
        snprintf(rec, sizeof rec, "%s/%s", d->cfg.recordings_dir, id);
        if (mkdir(rec, 0755) != 0 && errno != EEXIST) {
            LOG("room %s: mkdir %s: %s; it records nothing", id, rec, strerror(errno));
            recdir = NULL;
        } else {
            recdir = rec;
        }
    }
    /* A room's uploads: AUDIO_DIR/rooms/ID (the upload worker makes it
     * when the first one comes). */
    char uploads[512];
    const char *updir = NULL;
    if (d->cfg.audio_dir && snprintf(uploads, sizeof uploads, "%s/rooms/%s", d->cfg.audio_dir, id) <
                                (int)sizeof uploads)
        updir = uploads;
    rm_config_t rc;
    rm_config_defaults(&rc);
    rc.segment = seg;
    rc.id = id;
    rc.is_default = is_default;
    rc.ring_seconds = d->cfg.ring_seconds;
    rc.user_cap = d->cfg.user_cap;
    rc.audio_dir = d->cfg.audio_dir;
    rc.uploads_dir = updir;
    rc.recordings_dir = recdir;
    rc.cache_dir = d->cfg.cache_dir;
    rc.depth = d->cfg.depth;
    rc.seed = d->cfg.seed;
    rc.host = room_control;
    rc.host_user = d;
    char why[512];
    rm_t *r = rm_create(&rc, why, sizeof why);
    if (!r)
        LOG("room %s cannot start: %s", id, why);
    return r;
}

/* Puts the room's directory entry. */
static void put_entry(dmn_t *d, int slot, const char *id, const rdb_room_t *rec)
{
    hs_room_t e;
    memset(&e, 0, sizeof e);
    str_copy(e.id, sizeof e.id, id);
    if (rec) {
        str_copy(e.name, sizeof e.name, rec->name);
        memcpy(e.singer_hash, rec->singer_hash, HS_HASH_LEN);
        memcpy(e.organiser_hash, rec->organiser_hash, HS_HASH_LEN);
        e.max_singers = rec->max_singers > 0 ? (uint32_t)rec->max_singers : d->cfg.max_singers;
        if (rec->allow_uploads)
            e.flags |= HS_UPLOADS;
    } else {
        e.flags = HS_DEFAULT | (d->cfg.default_uploads ? HS_UPLOADS : 0);
        e.max_singers = d->cfg.max_singers;
    }
    hs_put(d->host, (uint32_t)slot, &e);
}

/* Makes room `id` (rec: its record; NULL for the default room) open in
 * the directory, starting its room daemon if it has none. */
static void want_room(dmn_t *d, const char *id, const rdb_room_t *rec)
{
    int i = find_slot(d, id);
    if (i < 0) {
        i = free_slot(d, id);
        if (i < 0) {
            LOG("room %s not served: the host holds %d rooms already", id, HS_ROOMS_MAX);
            return;
        }
        rm_t *r = start_room(d, id);
        if (!r)
            return;
        d->slots[i].room = r;
        str_copy(d->slots[i].id, sizeof d->slots[i].id, id);
        LOG("room %s open (slot %d)%s", id, i, rec ? "" : ": the default room");
    }
    d->slots[i].seen = true;
    put_entry(d, i, id, rec);
}

static int list_room(void *user, const rdb_room_t *room)
{
    want_room(user, room->id, room);
    return 0;
}

/* Brings the directory and the room daemons in step with the database. */
static void sync_rooms(dmn_t *d)
{
    for (int i = 0; i < HS_ROOMS_MAX; i++)
        d->slots[i].seen = false;
    if (d->cfg.default_room)
        want_room(d, HS_DEFAULT_ID, NULL);
    if (d->db) {
        int rc = rdb_list(d->db, 0, list_room, d);
        if (rc != RDB_OK) {
            /* The database cannot be read now: change nothing. */
            LOG("rooms database: %s (%s); rooms kept as they are", rdb_strerror(rc), rdb_errmsg(d->db));
            for (int i = 0; i < HS_ROOMS_MAX; i++)
                if (d->slots[i].room)
                    d->slots[i].seen = true;
        }
    }
    uint32_t n = 0;
    for (int i = 0; i < HS_ROOMS_MAX; i++) {
        slot_t *s = &d->slots[i];
        if (!s->room) {
            /* A slot a previous daemon filled that nothing wants now. */
            if (!hs_is_free(d->host, (uint32_t)i))
                hs_clear(d->host, (uint32_t)i);
            continue;
        }
        if (s->seen) {
            n++;
            continue;
        }
        /* Closed: out of the directory first, then the timeline goes. */
        hs_clear(d->host, (uint32_t)i);
        hs_publish(d->host, n);
        rm_destroy(s->room);
        s->room = NULL;
        if (d->keeper && s->recording)
            rt_protect(d->keeper, (uint32_t)i, "", 0);
        s->recording = 0;
        char seg[128];
        if (hs_room_segment(d->cfg.segment, s->id, seg, sizeof seg) == 0)
            seg_unlink(seg);
        LOG("room %s closed", s->id);
    }
    d->n_open = n;
    hs_publish(d->host, n);
}

/* Writes one organiser's change; RDB_ERR_BUSY leaves it for later. */
static int apply_control(dmn_t *d, const char *room_id, uint32_t type, int64_t a, const char *hash_hex)
{
    int rc;
    if (type == CMD_ROOM_KEY) {
        uint8_t hash[HS_HASH_LEN];
        if (rk_hash_from_hex(hash_hex, hash) != RK_OK)
            return RDB_OK;
        rc = rdb_set_hash(d->db, room_id, a ? RDB_ORGANISER : RDB_SINGERS, hash);
        if (rc == RDB_OK)
            LOG("room %s: the %s link was replaced by the organiser", room_id, a ? "organiser's" : "singers'");
    } else {
        rc = rdb_set_max_singers(d->db, room_id, (int)a);
        if (rc == RDB_OK)
            LOG("room %s: at most %" PRId64 " singers%s", room_id, a, a ? "" : " (the host's limit)");
    }
    if (rc == RDB_ERR_BUSY)
        return rc;
    if (rc != RDB_OK) {
        LOG("room %s: the organiser's change failed: %s", room_id, rdb_strerror(rc));
        return RDB_OK;
    }
    rdb_room_t rec;
    int i = find_slot(d, room_id);
    if (i >= 0 && rdb_get(d->db, room_id, &rec) == RDB_OK) {
        put_entry(d, i, room_id, &rec);
        hs_publish(d->host, d->n_open);
    }
    rdb_data_version(d->db, &d->db_version);
    return RDB_OK;
}

/* Tries the queued changes in order, up to the first still busy. */
static void retry_controls(dmn_t *d)
{
    uint32_t done = 0;
    while (done < d->n_pending &&
           apply_control(d, d->pending[done].room, d->pending[done].type, d->pending[done].a,
                         d->pending[done].hash_hex) == RDB_OK)
        done++;
    if (done) {
        memmove(d->pending, d->pending + done, (d->n_pending - done) * sizeof d->pending[0]);
        d->n_pending -= done;
    }
}

static void room_control(void *user, const char *room_id, const seg_cmd_t *c)
{
    dmn_t *d = user;
    if (!d->db || strcmp(room_id, HS_DEFAULT_ID) == 0 || (c->type != CMD_ROOM_KEY && c->type != CMD_ROOM_CAP))
        return;
    /* Behind changes still waiting, in order: a newer key never lands
     * before an older one. */
    if (d->n_pending == 0 && apply_control(d, room_id, c->type, c->a, c->text) == RDB_OK)
        return;
    if (d->n_pending == DMN_PENDING_MAX) {
        LOG("room %s: the organiser's change was lost: the rooms database has been busy for %u changes",
            room_id, DMN_PENDING_MAX);
        return;
    }
    LOG("room %s: the rooms database is busy; the organiser's change waits", room_id);
    __typeof__(d->pending[0]) *q = &d->pending[d->n_pending++];
    snprintf(q->room, sizeof q->room, "%s", room_id);
    q->type = c->type;
    q->a = c->a;
    snprintf(q->hash_hex, sizeof q->hash_hex, "%.*s", 2 * HS_HASH_LEN, c->type == CMD_ROOM_KEY ? c->text : "");
}

/* ---- the recordings' keeper ----------------------------------------------- */

/* Tells the keeper which song each room records now, and stops a
 * recording it asked to stop (the bytes cap is full with nothing else
 * left to delete). */
static void keep_recordings(dmn_t *d)
{
    if (!d->keeper)
        return;
    for (int i = 0; i < HS_ROOMS_MAX; i++) {
        slot_t *s = &d->slots[i];
        if (!s->room)
            continue;
        int64_t song, now_song = rm_recording_song(s->room);
        if (rt_take_stop(d->keeper, (uint32_t)i, &song) && song == now_song) {
            LOG("room %s: the recordings are over the host's cap: the song at %" PRId64
                " goes on unrecorded", s->id, song);
            rm_rec_stop(s->room, REC_END_DISK);
            now_song = rm_recording_song(s->room);
        }
        if (now_song != s->recording) {
            rt_protect(d->keeper, (uint32_t)i, s->id, now_song);
            s->recording = now_song;
        }
    }
}

uint64_t dmn_rec_sweeps(dmn_t *d) { return d->keeper ? rt_sweeps(d->keeper) : 0; }

void dmn_rec_kick(dmn_t *d)
{
    if (d->keeper)
        rt_kick(d->keeper);
}

/* ---- the tick ------------------------------------------------------------- */

void dmn_tick(dmn_t *d, int64_t now)
{
    if (d->db && now - d->last_db >= DMN_DB_EVERY) {
        retry_controls(d);
        uint64_t v;
        if (rdb_data_version(d->db, &v) == RDB_OK && v != d->db_version) {
            d->db_version = v;
            sync_rooms(d);
        }
        d->last_db = now;
    }
    for (int i = 0; i < HS_ROOMS_MAX; i++)
        if (d->slots[i].room)
            rm_tick(d->slots[i].room, now);
    keep_recordings(d);
    hs_set_heartbeat(d->host, now);
}

uint32_t dmn_wake_word(dmn_t *d)
{
    /* acquire; pairs with the release bump in a worker's commands */
    return load_acquire(hs_wake(d->host));
}

bool dmn_asleep(const dmn_t *d)
{
    if (d->n_pending)
        return false;
    for (int i = 0; i < HS_ROOMS_MAX; i++)
        if (d->slots[i].room && !rm_asleep(d->slots[i].room))
            return false;
    return true;
}

void dmn_wait(dmn_t *d, uint32_t seen, int64_t max_ns)
{
    fx_wait(hs_wake(d->host), seen, max_ns);
}

rm_t *dmn_room(dmn_t *d, const char *id)
{
    int i = find_slot(d, id);
    return i < 0 ? NULL : d->slots[i].room;
}

/* ---- life cycle ------------------------------------------------------------ */

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

dmn_t *dmn_create(const dmn_config_t *cfg, char *why, size_t whylen)
{
    dmn_t *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    d->cfg = *cfg;
    d->cfg.segment = dupstr(cfg->segment);
    d->cfg.db_path = dupstr(cfg->db_path);
    d->cfg.audio_dir = dupstr(cfg->audio_dir);
    d->cfg.recordings_dir = dupstr(cfg->recordings_dir);
    d->cfg.cache_dir = dupstr(cfg->cache_dir);
    seg_err_t err;
    bool created;
    d->host = hs_open_or_create(cfg->segment, &created, &err);
    if (!d->host) {
        snprintf(why, whylen, "%s", err.msg);
        goto err;
    }
    if (hs_claim_daemon(d->host, &err) != 0) {
        snprintf(why, whylen, "%s", err.msg);
        goto err;
    }
    if (!created)
        hs_repair(d->host);
    hs_set_default_max(d->host, cfg->max_singers);
    if (cfg->db_path) {
        int e;
        char msg[256];
        d->db = rdb_open(cfg->db_path, &e, msg, sizeof msg);
        if (!d->db) {
            snprintf(why, whylen, "rooms database %s: %s (%s)", cfg->db_path, rdb_strerror(e), msg);
            goto err;
        }
        rdb_set_busy_ms(d->db, DMN_DB_BUSY_MS);
        rdb_data_version(d->db, &d->db_version);
    }
    LOG("%s host segment %s; rooms from %s%s", created ? "created" : "re-attached to", cfg->segment,
        cfg->db_path ? cfg->db_path : "no database", cfg->default_room ? ", and the default room" : "");
    sync_rooms(d);
    if (cfg->recordings_dir) {
        rt_config_t kc = {cfg->recordings_dir, cfg->keep, cfg->keep_days, cfg->rec_max_bytes,
                          cfg->rec_sweep_ms, d->host};
        d->keeper = rt_create(&kc, why, whylen);
        if (!d->keeper)
            goto err;
        /* Before its first sweep has listed anything, it knows what each
         * room records (a restarted daemon resumes those). */
        keep_recordings(d);
        rt_kick(d->keeper);
        char cap[32] = "no cap";
        if (cfg->rec_max_bytes)
            snprintf(cap, sizeof cap, "at most %.1f MiB", (double)cfg->rec_max_bytes / (1 << 20));
        LOG("recordings in %s: %d songs a room, %d days%s, %s in all", cfg->recordings_dir, cfg->keep,
            cfg->keep_days, cfg->keep_days ? "" : " (no age limit)", cap);
    }
    hs_set_heartbeat(d->host, seg_now());
    return d;
err:
    dmn_destroy(d);
    return NULL;
}

void dmn_destroy(dmn_t *d)
{
    if (!d)
        return;
    rt_destroy(d->keeper);
    for (int i = 0; i < HS_ROOMS_MAX; i++)
        rm_destroy(d->slots[i].room);
    rdb_close(d->db);
    hs_detach(d->host);
    free((char *)d->cfg.segment);
    free((char *)d->cfg.db_path);
    free((char *)d->cfg.audio_dir);
    free((char *)d->cfg.recordings_dir);
    free((char *)d->cfg.cache_dir);
    free(d);
}
