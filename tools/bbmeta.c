/*
 * bbmeta.c - parsing X-Audio-Metadata (bbmeta.h).  Integers must be JSON
 * numbers with integral values; text fields take strings or integers.
 */
#include "bbmeta.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* An integer field: a JSON number with an integral value. */
static bool get_i64(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= -9.0e18 && d <= 9.0e18) || d != floor(d))
        return false;
    *out = (int64_t)d;
    return true;
}

static bool get_int(const cJSON *o, const char *key, int *out, bool null_is_zero)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (null_is_zero && cJSON_IsNull(v)) {
        *out = 0;
        return true;
    }
    int64_t x;
    if (!get_i64(o, key, &x) || x < INT32_MIN || x > INT32_MAX)
        return false;
    *out = (int)x;
    return true;
}

/* A string or integer field as text. */
static bool get_text(const cJSON *o, const char *key, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring);
        return true;
    }
    int64_t x;
    if (get_i64(o, key, &x)) {
        snprintf(out, cap, "%lld", (long long)x);
        return true;
    }
    return false;
}

static const cJSON *get_array(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsArray(v) ? v : NULL;
}

void bbc_meta_free(bbc_meta_t *m)
{
    if (!m)
        return;
    cJSON_Delete(m->root);
    memset(m, 0, sizeof *m);
}

int bbc_meta_parse(bbc_meta_t *m, const char *json)
{
    bbc_meta_free(m);
    if (!json)
        return BBC_EMETA;
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return BBC_EMETA;
    }
    m->root = root;
    m->have_server_clock = get_i64(root, "server_clock", &m->server_clock);
    get_int(root, "server_sample_rate", &m->server_sample_rate, false);
    m->have_client_read_clock = get_i64(root, "client_read_clock", &m->client_read_clock);
    m->have_client_write_clock = get_i64(root, "client_write_clock", &m->client_write_clock);
    m->have_n_samples = get_i64(root, "n_samples", &m->n_samples);
    m->have_leader = get_text(root, "leader", m->leader, sizeof m->leader);
    get_text(root, "leader_name", m->leader_name, sizeof m->leader_name);
    get_text(root, "public_id", m->public_id, sizeof m->public_id);
    m->have_song_start = get_i64(root, "song_start_clock", &m->song_start_clock);
    m->have_song_end = get_i64(root, "song_end_clock", &m->song_end_clock);
    m->have_delay = get_int(root, "delay_seconds", &m->delay_seconds, false);
    m->have_bpm = get_int(root, "bpm", &m->bpm, true);
    m->have_repeats = get_int(root, "repeats", &m->repeats, true);
    m->have_bpr = get_int(root, "bpr", &m->bpr, true);
    m->kill_client = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "kill_client"));
    get_text(root, "message", m->message, sizeof m->message);
    m->have_n_users = get_int(root, "n_users", &m->n_users, false);
    get_text(root, "worker", m->worker, sizeof m->worker);
    get_text(root, "role", m->role, sizeof m->role);
    m->refused = get_array(root, "refused");
    m->chats = get_array(root, "chats");
    m->user_summary = get_array(root, "user_summary");
    m->events = get_array(root, "events");
    m->tracks = get_array(root, "tracks");
    m->buckets = get_array(root, "buckets");
    return BBC_OK;
}

int bbc_meta_chat_count(const bbc_meta_t *m)
{
    return m->chats ? cJSON_GetArraySize(m->chats) : 0;
}

int bbc_meta_chat(const bbc_meta_t *m, int i, const char **name, const char **text)
{
    if (!m->chats || i < 0 || i >= cJSON_GetArraySize(m->chats))
        return BBC_EPARAM;
    const cJSON *row = cJSON_GetArrayItem(m->chats, i);
    const cJSON *a = cJSON_GetArrayItem(row, 0), *b = cJSON_GetArrayItem(row, 1);
    if (!cJSON_IsArray(row) || !cJSON_IsString(a) || !cJSON_IsString(b))
        return BBC_EPARAM;
    *name = a->valuestring;
    *text = b->valuestring;
    return BBC_OK;
}

int bbc_meta_refused_count(const bbc_meta_t *m)
{
    return m->refused ? cJSON_GetArraySize(m->refused) : 0;
}

const char *bbc_meta_refused(const bbc_meta_t *m, int i)
{
    const cJSON *v = m->refused && i >= 0 ? cJSON_GetArrayItem(m->refused, i) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool bbc_meta_was_refused(const bbc_meta_t *m, const char *sentence)
{
    for (int i = 0; i < bbc_meta_refused_count(m); i++) {
        const char *r = bbc_meta_refused(m, i);
        if (r && sentence && strcmp(r, sentence) == 0)
            return true;
    }
    return false;
}

int bbc_meta_user_count(const bbc_meta_t *m)
{
    return m->user_summary ? cJSON_GetArraySize(m->user_summary) : 0;
}

int bbc_meta_user(const bbc_meta_t *m, int i, bbc_user_t *u)
{
    if (!m->user_summary || i < 0 || i >= cJSON_GetArraySize(m->user_summary))
        return BBC_EPARAM;
    const cJSON *row = cJSON_GetArrayItem(m->user_summary, i);
    if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) < 6)
        return BBC_EPARAM;
    const cJSON *d = cJSON_GetArrayItem(row, 0), *n = cJSON_GetArrayItem(row, 1),
                *v = cJSON_GetArrayItem(row, 2), *id = cJSON_GetArrayItem(row, 3),
                *f1 = cJSON_GetArrayItem(row, 4), *f2 = cJSON_GetArrayItem(row, 5);
    if (!cJSON_IsNumber(d) || !cJSON_IsString(n) || !cJSON_IsNumber(v) || !cJSON_IsString(id) ||
        !cJSON_IsBool(f1) || !cJSON_IsBool(f2))
        return BBC_EPARAM;
    u->delay_s = (int)d->valuedouble;
    u->name = n->valuestring;
    u->mic_volume = v->valuedouble;
    u->id = id->valuestring;
    u->is_monitoring = cJSON_IsTrue(f1);
    u->is_monitored = cJSON_IsTrue(f2);
    return BBC_OK;
}
