/*
 * party.c - members of rooms sung in lockstep, and views of everything
 * their answers said (party.h).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"
#include "media/recname.h"
#include "party.h"
#include "urlenc.h"

int pt_room_add(pt_party_t *p, const fs_room_t *keyed)
{
    if (p->n_rooms >= PT_ROOMS)
        return -1;
    pt_room_t *r = &p->rooms[p->n_rooms];
    memset(r, 0, sizeof *r);
    const char *id = HS_DEFAULT_ID;
    if (keyed) {
        snprintf(r->id, sizeof r->id, "%s", keyed->id);
        snprintf(r->singer_key, sizeof r->singer_key, "%s", keyed->singer_key);
        snprintf(r->organiser_key, sizeof r->organiser_key, "%s", keyed->organiser_key);
        snprintf(r->rec_dir, sizeof r->rec_dir, "%s/%s", fs_rec_dir(p->fs), keyed->id);
        id = keyed->id;
    } else {
        snprintf(r->rec_dir, sizeof r->rec_dir, "%s", fs_rec_dir(p->fs));
    }
    char name[128];
    seg_err_t err;
    if (hs_room_segment(fs_segment(p->fs), id, name, sizeof name) != 0 ||
        !(r->seg = seg_attach(name, &err))) {
        fprintf(stderr, "%s: the timeline of room %s cannot be attached\n", p->tname, id);
        return -1;
    }
    return p->n_rooms++;
}

/* What the member sings: its tone wherever the test wants it, at exact
 * timeline clocks, silence elsewhere. */
static void source(bbc_singer_t *s, float *out, int n, int64_t write_clock, void *user)
{
    (void)s;
    const pt_member_t *m = user;
    for (int i = 0; i < n; i++) {
        int64_t t = write_clock - n + i;
        int hz = 0;
        if ((t >= m->solo[0].from && t < m->solo[0].to) || (t >= m->solo[1].from && t < m->solo[1].to))
            hz = m->solo_hz;
        else if (m->sings && !(t >= m->hush_from && t < m->hush_to))
            hz = m->hz;
        /* Every tone is a multiple of 50 Hz: periodic over a second. */
        out[i] = hz ? (float)(PT_AMP * sin(2 * M_PI * hz * (double)(t % 48000) / 48000.0)) : 0.0f;
    }
}

/* A singer for m (its room, role and tone already set), holding `key`. */
static int member_init(pt_party_t *p, pt_member_t *m, const char *key, int worker, unsigned seed)
{
    m->sings = true;
    if (fs_userid_for(p->fs, worker, seed, m->userid, sizeof m->userid) != 0) {
        fprintf(stderr, "%s: no userid found for worker %d\n", p->tname, worker);
        return -1;
    }
    const pt_room_t *r = &p->rooms[m->room];
    bbc_config_t c;
    bbc_config_init(&c);
    c.addr = fs_http(p->fs);
    c.transport = BBC_HTTP;
    c.userid = m->userid;
    c.username = m->name;
    c.room = r->id;
    c.key = key;
    c.spectator = m->listener;
    c.no_pace = m->stranger;    /* refused whenever it asks */
    c.source = source;
    c.user = m;
    c.seed = seed;
    int err;
    m->s = bbc_singer_new(&c, &err);
    if (!m->s) {
        fprintf(stderr, "%s: %s: %s\n", p->tname, m->name, bbc_strerror(err));
        return -1;
    }
    return 0;
}

pt_member_t *pt_member_add(pt_party_t *p, const char *name, int room, bool organiser, bool listener,
                           int hz, int worker, unsigned seed)
{
    if (p->n >= PT_MAX || room < 0 || room >= p->n_rooms)
        return NULL;
    pt_member_t *m = &p->m[p->n];
    memset(m, 0, sizeof *m);
    m->name = name;
    m->room = room;
    m->organiser = organiser;
    m->listener = listener;
    m->hz = hz;
    const pt_room_t *r = &p->rooms[room];
    if (member_init(p, m, organiser ? r->organiser_key : r->singer_key, worker, seed) != 0)
        return NULL;
    p->n++;
    return m;
}

int pt_stranger_init(pt_party_t *p, pt_member_t *m, const char *name, int room, const char *key, int hz,
                     int worker, unsigned seed)
{
    memset(m, 0, sizeof *m);
    if (room < 0 || room >= p->n_rooms || !p->rooms[room].id[0])
        return -1;
    m->name = name;
    m->room = room;
    m->stranger = true;
    m->hz = hz;
    return member_init(p, m, key, worker, seed);
}

void pt_stranger_free(pt_member_t *m)
{
    bbc_singer_destroy(m->s);
    m->s = NULL;
    cJSON_Delete(m->summary);
    m->summary = NULL;
}

static void copy_json(char *out, size_t cap, const cJSON *j)
{
    char *t = cJSON_PrintUnformatted(j);
    snprintf(out, cap, "%s", t ? t : "");
    cJSON_free(t);
}

static void meter(pt_member_t *m, int64_t read_clock)
{
    pt_meter_t *mt = m->meter;
    for (int f = 0; f < BBC_BATCH / BBC_FRAME && mt->n < PT_METER_MAX; f++) {
        const float *x = m->rx + f * BBC_FRAME;
        mt->clock[mt->n] = read_clock - BBC_BATCH + f * BBC_FRAME;
        for (int k = 0; k < 2; k++)
            mt->amp[mt->n][k] = mt->hz[k] ? tone_goertzel(x, BBC_FRAME, mt->hz[k]) : 0.0;
        mt->n++;
    }
}

/* Appends the answer's chats to m->chats, a line each, cutting the
 * oldest lines when it is full. */
static void keep_chats(pt_member_t *m, const cJSON *chats)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, chats)
    {
        const cJSON *name = cJSON_GetArrayItem(c, 0), *text = cJSON_GetArrayItem(c, 1),
                    *id = cJSON_GetArrayItem(c, 2);
        char line[PT_TEXT / 4];
        int n = snprintf(line, sizeof line, "%s|%s|%s\n", cJSON_IsString(name) ? name->valuestring : "?",
                         cJSON_IsString(id) ? id->valuestring : "?",
                         cJSON_IsString(text) ? text->valuestring : "?");
        if (n < 0 || (size_t)n >= sizeof line)
            continue;
        size_t have = strlen(m->chats);
        while (have + (size_t)n >= sizeof m->chats) {
            const char *nl = strchr(m->chats, '\n');
            size_t cut = nl ? (size_t)(nl - m->chats) + 1 : have;
            memmove(m->chats, m->chats + cut, have - cut + 1);
            have -= cut;
        }
        memcpy(m->chats + have, line, (size_t)n + 1);
    }
}

/* Keeps what the member's answer said. */
static void observe(pt_party_t *p, pt_member_t *m, int rc)
{
    m->answers++;
    if (rc != BBC_OK) {
        m->failures++;
        fprintf(stderr, "%s: round %d: %s: exchange failed: %s\n", p->tname, p->rounds, m->name,
                bbc_singer_error(m->s));
        return;
    }
    const bbc_meta_t *x = bbc_singer_meta(m->s);
    if (x->server_clock > p->now)
        p->now = x->server_clock;
    snprintf(m->pub, sizeof m->pub, "%s", x->public_id);
    snprintf(m->role, sizeof m->role, "%s", x->role);
    /* The leader sees its own userid there, everyone else its public id. */
    if (!x->have_leader)
        m->leader[0] = '\0';
    else
        snprintf(m->leader, sizeof m->leader, "%s", strcmp(x->leader, m->userid) == 0 ? m->pub : x->leader);
    m->song_start = x->have_song_start ? x->song_start_clock : 0;
    m->song_end = x->have_song_end ? x->song_end_clock : 0;
    if (x->have_bpm)
        m->bpm = x->bpm;
    if (x->have_repeats)
        m->repeats = x->repeats;
    if (x->have_bpr)
        m->bpr = x->bpr;
    copy_json(m->events, sizeof m->events, x->events);
    if (x->tracks)
        copy_json(m->tracks, sizeof m->tracks, x->tracks);
    if (x->user_summary) {
        cJSON_Delete(m->summary);
        m->summary = cJSON_Duplicate(x->user_summary, 1);
    }
    if (x->have_n_users)
        m->n_users = x->n_users;
    keep_chats(m, x->chats);
    if (x->have_delay && x->delay_seconds > 0)
        m->moves++;
    if (m->meter)
        meter(m, bbc_singer_last_post(m->s)->read_clock);
}

void pt_round(pt_party_t *p)
{
    /* Probes first, all together, so that one member's probe does not hold
     * the others' POSTs back by a whole batch. */
    for (int i = 0; i < p->n; i++) {
        pt_member_t *m = &p->m[i];
        if (!m->paused && bbc_singer_needs_probe(m->s) && bbc_connect(m->s) != BBC_OK) {
            m->failures++;
            fprintf(stderr, "%s: round %d: %s: probe failed: %s\n", p->tname, p->rounds, m->name,
                    bbc_singer_error(m->s));
        }
    }
    for (int i = 0; i < p->n; i++) {
        pt_member_t *m = &p->m[i];
        if (!m->paused)
            observe(p, m, bbc_exchange_batch(m->s, NULL, m->rx));
    }
    p->rounds++;
}

void pt_rounds(pt_party_t *p, int k)
{
    while (k-- > 0)
        pt_round(p);
}

bool pt_until(pt_party_t *p, bool (*cond)(pt_party_t *p, void *arg), void *arg, int max)
{
    for (int i = 0; i < max; i++) {
        if (cond(p, arg))
            return true;
        pt_round(p);
    }
    return cond(p, arg);
}

bool pt_in(const pt_member_t *m, int r) { return m->room == r; }
bool pt_leads(const pt_member_t *m) { return m->pub[0] && strcmp(m->leader, m->pub) == 0; }

/* viewer's summary row of target, or NULL. */
static const cJSON *row_of(const pt_member_t *viewer, const pt_member_t *target)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, viewer->summary)
    {
        const cJSON *id = cJSON_GetArrayItem(row, 3);
        if (cJSON_IsString(id) && strcmp(id->valuestring, target->pub) == 0)
            return row;
    }
    return NULL;
}

double pt_mic_seen(const pt_member_t *viewer, const pt_member_t *target)
{
    const cJSON *v = cJSON_GetArrayItem(row_of(viewer, target), 2);
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

int pt_flags_seen(const pt_member_t *viewer, const pt_member_t *target)
{
    const cJSON *row = row_of(viewer, target);
    return (cJSON_IsTrue(cJSON_GetArrayItem(row, 4)) ? 1 : 0) |
           (cJSON_IsTrue(cJSON_GetArrayItem(row, 5)) ? 2 : 0);
}

bool pt_events_have(const pt_member_t *m, const char *what) { return strstr(m->events, what) != NULL; }
bool pt_tracks_have(const pt_member_t *m, const char *what) { return strstr(m->tracks, what) != NULL; }

bool pt_chat_heard(const pt_member_t *m, const pt_member_t *from, const char *text)
{
    char line[PT_TEXT / 4];
    snprintf(line, sizeof line, "%s|%s|%s\n", from->name, from->pub, text);
    return from->pub[0] && strstr(m->chats, line) != NULL;
}

void pt_ctl(const pt_party_t *p, int r, seg_ctl_t *out) { snap_ctl_read(p->rooms[r].seg, out); }

long pt_wav_size(const pt_party_t *p, int r, int64_t start)
{
    char name[64], path[512];
    struct stat st;
    if (!start || rec_file_name(name, sizeof name, start, NULL, 1, "wav") != REC_OK)
        return -1;
    snprintf(path, sizeof path, "%s/%s", p->rooms[r].rec_dir, name);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int pt_wav_count(const pt_party_t *p, int r)
{
    DIR *d = opendir(p->rooms[r].rec_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        n += e->d_name[0] != '.' && l > 4 && strcmp(e->d_name + l - 4, ".wav") == 0 &&
             !strstr(e->d_name, "-stem-");
    }
    if (d)
        closedir(d);
    return n;
}

const char *pt_query(pt_party_t *p, const pt_member_t *m, const char *name, const char *value)
{
    bbuf_t *q = &p->query;
    bbuf_clear(q);
    int rc = 0;
    if (name)
        rc |= urlenc_param(q, name, value);
    if (*bbc_singer_room(m->s))
        rc |= urlenc_param(q, "room", bbc_singer_room(m->s));
    if (*bbc_singer_key(m->s))
        rc |= urlenc_param(q, "key", bbc_singer_key(m->s));
    rc |= urlenc_param(q, "userid", m->userid);
    return rc ? "" : (const char *)q->data;
}

void pt_view_take(const pt_party_t *p, pt_view_t *v)
{
    memset(v, 0, sizeof *v);
    for (int i = 0; i < p->n; i++) {
        const pt_member_t *m = &p->m[i];
        v->m[i].on = !m->paused;
        snprintf(v->m[i].leader, sizeof v->m[i].leader, "%s", m->leader);
        v->m[i].start = m->song_start;
        v->m[i].end = m->song_end;
        v->m[i].bpm = m->bpm;
        v->m[i].repeats = m->repeats;
        v->m[i].bpr = m->bpr;
        snprintf(v->m[i].events, sizeof v->m[i].events, "%s", m->events);
        v->m[i].n_users = m->n_users;
        snprintf(v->m[i].chats, sizeof v->m[i].chats, "%s", m->chats);
        v->m[i].moves = m->moves;
        v->m[i].offset = bbc_singer_offset(m->s);
        snprintf(v->m[i].role, sizeof v->m[i].role, "%s", m->role);
        for (int j = 0; j < p->n; j++) {
            v->m[i].mic[j] = pt_mic_seen(m, &p->m[j]);
            v->m[i].flags[j] = pt_flags_seen(m, &p->m[j]);
        }
    }
    for (int r = 0; r < p->n_rooms; r++) {
        pt_ctl(p, r, &v->ctl[r]);
        v->wav[r] = v->ctl[r].song.start && !v->ctl[r].song.end ? pt_wav_size(p, r, v->ctl[r].song.start) : -1;
    }
}

/* Notes a difference (printed); pt_view_same() makes it one check. */
#define SAME(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: changed: ", p->tname);                                            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            diffs++;                                                                               \
        }                                                                                          \
    } while (0)

int pt_view_same(pt_party_t *p, const pt_view_t *a, const pt_view_t *b, const char *what)
{
    int diffs = 0;
    for (int i = 0; i < p->n; i++) {
        const char *n = p->m[i].name;
        if (!a->m[i].on || !b->m[i].on)
            continue;
        SAME(strcmp(a->m[i].leader, b->m[i].leader) == 0, "%s: %s: leader %s -> %s", what, n,
             a->m[i].leader, b->m[i].leader);
        SAME(a->m[i].start == b->m[i].start && a->m[i].end == b->m[i].end,
             "%s: %s: song %lld..%lld -> %lld..%lld", what, n, (long long)a->m[i].start,
             (long long)a->m[i].end, (long long)b->m[i].start, (long long)b->m[i].end);
        SAME(a->m[i].bpm == b->m[i].bpm && a->m[i].repeats == b->m[i].repeats && a->m[i].bpr == b->m[i].bpr,
             "%s: %s: tempo %d/%d/%d -> %d/%d/%d", what, n, a->m[i].bpm, a->m[i].repeats, a->m[i].bpr,
             b->m[i].bpm, b->m[i].repeats, b->m[i].bpr);
        SAME(strcmp(a->m[i].events, b->m[i].events) == 0, "%s: %s: events %s -> %s", what, n,
             a->m[i].events, b->m[i].events);
        SAME(strcmp(a->m[i].chats, b->m[i].chats) == 0, "%s: %s: chats received now: %s", what, n,
             b->m[i].chats);
        SAME(a->m[i].n_users == b->m[i].n_users, "%s: %s: %d singers -> %d", what, n, a->m[i].n_users,
             b->m[i].n_users);
        SAME(a->m[i].moves == b->m[i].moves && a->m[i].offset == b->m[i].offset,
             "%s: %s: moved (%d moves, offset %d s -> %d moves, %d s)", what, n, a->m[i].moves,
             a->m[i].offset, b->m[i].moves, b->m[i].offset);
        SAME(strcmp(a->m[i].role, b->m[i].role) == 0, "%s: %s: role %s -> %s", what, n, a->m[i].role,
             b->m[i].role);
        for (int j = 0; j < p->n; j++) {
            SAME(a->m[i].mic[j] == b->m[i].mic[j], "%s: %s sees %s's mic volume %.2f -> %.2f", what, n,
                 p->m[j].name, a->m[i].mic[j], b->m[i].mic[j]);
            SAME(a->m[i].flags[j] == b->m[i].flags[j], "%s: %s sees %s's monitoring flags %d -> %d", what,
                 n, p->m[j].name, a->m[i].flags[j], b->m[i].flags[j]);
        }
    }
    for (int r = 0; r < p->n_rooms; r++) {
        const seg_ctl_t *x = &a->ctl[r], *y = &b->ctl[r];
        const char *rn = p->rooms[r].id[0] ? "keyed room" : "default room";
        SAME(x->global_volume == y->global_volume && x->backing_volume == y->backing_volume,
             "%s: %s: volumes %.2f/%.2f -> %.2f/%.2f", what, rn, x->global_volume, x->backing_volume,
             y->global_volume, y->backing_volume);
        SAME(memcmp(&x->song, &y->song, sizeof x->song) == 0,
             "%s: %s: song state changed (leader %d:%llu -> %d:%llu, start %lld -> %lld, end %lld -> "
             "%lld, track %d -> %d, bpm %d -> %d)",
             what, rn, x->song.has_leader, (unsigned long long)x->song.leader, y->song.has_leader,
             (unsigned long long)y->song.leader, (long long)x->song.start, (long long)y->song.start,
             (long long)x->song.end, (long long)y->song.end, x->song.requested_track,
             y->song.requested_track, x->song.bpm, y->song.bpm);
        SAME(x->leader_public == y->leader_public && x->monitored_public == y->monitored_public,
             "%s: %s: leader or monitored singer changed", what, rn);
        SAME(x->n_buckets == y->n_buckets &&
                 memcmp(x->buckets, y->buckets, sizeof x->buckets[0] * x->n_buckets) == 0,
             "%s: %s: buckets changed", what, rn);
        if (a->wav[r] >= 0)
            SAME(b->wav[r] > a->wav[r], "%s: %s: the recording stopped growing (%ld -> %ld bytes)", what,
                 rn, a->wav[r], b->wav[r]);
    }
    CHECK_MSG(*p->ck, diffs == 0, "%s: %d things changed that must not", what, diffs);
    return diffs;
}

void pt_free(pt_party_t *p)
{
    for (int i = 0; i < p->n; i++) {
        bbc_singer_destroy(p->m[i].s);
        cJSON_Delete(p->m[i].summary);
        free(p->m[i].meter);
    }
    p->n = 0;
    for (int r = 0; r < p->n_rooms; r++)
        seg_detach(p->rooms[r].seg);
    p->n_rooms = 0;
    bbuf_free(&p->query);
}
