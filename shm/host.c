/*
 * host.c - the host segment and its room directory (host.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <openssl/crypto.h>

#include "host.h"
#include "rooms/roomkey.h"
#include "shmfile.h"

struct hs {
    shf_map_t m;
    hs_shared_t *sh;
    char name[128];
};

static hs_t *wrap(const shf_map_t *m)
{
    hs_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->m = *m;
    h->sh = m->base;
    return h;
}

int hs_claim_daemon(hs_t *h, seg_err_t *err)
{
    return shf_lock(&h->m, h->name, 0, "the daemon role", err);
}

_Atomic uint32_t *hs_wake(hs_t *h) { return &h->sh->wake; }

static void name_it(hs_t *h, const char *name)
{
    snprintf(h->name, sizeof h->name, "%s", name);
}

/* Checks an attached host segment; 0 or a SEG_E* code with *err filled. */
static int validate(const char *name, const hs_t *h, seg_err_t *err)
{
    const hs_shared_t *s = h->sh;
    if (s->magic != HS_MAGIC) {
        shf_err(err, SEG_EMAGIC, 0, "host segment %s: magic is 0x%016llx, expected 0x%016llx", name,
               (unsigned long long)s->magic, (unsigned long long)HS_MAGIC);
        return SEG_EMAGIC;
    }
    if (s->version != HS_VERSION || s->size != sizeof(hs_shared_t) || h->m.size != sizeof(hs_shared_t)) {
        shf_err(err, SEG_EVERSION, 0,
               "host segment %s: version %u of %u bytes, file %zu bytes; this build expects version "
               "%u of %zu bytes (stop everything and remove /dev/shm%s)",
               name, s->version, s->size, h->m.size, HS_VERSION, sizeof(hs_shared_t), name);
        return SEG_EVERSION;
    }
    /* acquire; pairs with the release at the end of creation */
    if (load_acquire(&s->ready) != 1) {
        shf_err(err, SEG_ENOTREADY, 0, "host segment %s: creation never finished", name);
        return SEG_ENOTREADY;
    }
    return 0;
}

hs_t *hs_attach(const char *name, seg_err_t *err)
{
    shf_map_t m = {.fd = -1};
    if (shf_open(name, sizeof(hs_shared_t), &m, err) != SEG_OK)
        return NULL;
    hs_t *h = wrap(&m);
    if (!h) {
        shf_close(&m);
        shf_err(err, SEG_ESYS, ENOMEM, "out of memory");
        return NULL;
    }
    name_it(h, name);
    /* A daemon creating it may still be filling the header. */
    int rc = 0;
    for (int tries = 0; tries < 100; tries++) {
        if ((rc = validate(name, h, err)) != SEG_ENOTREADY && !(rc == SEG_EMAGIC && h->sh->magic == 0))
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc) {
        hs_detach(h);
        return NULL;
    }
    return h;
}

hs_t *hs_open_or_create(const char *name, bool *created, seg_err_t *err)
{
    *created = false;
    shf_map_t m = {.fd = -1};
    int rc = shf_create(name, sizeof(hs_shared_t), &m, err);
    if (rc == SEG_EBUSY)
        return hs_attach(name, err);
    if (rc != SEG_OK)
        return NULL;
    hs_t *h = wrap(&m);
    if (!h) {
        shf_close(&m);
        hs_unlink(name);
        shf_err(err, SEG_ESYS, ENOMEM, "out of memory");
        return NULL;
    }
    name_it(h, name);
    h->sh->magic = HS_MAGIC;
    h->sh->version = HS_VERSION;
    h->sh->size = sizeof(hs_shared_t);
    /* release; pairs with the acquire in validate() */
    store_release(&h->sh->ready, 1);
    *created = true;
    return h;
}

void hs_detach(hs_t *h)
{
    if (!h)
        return;
    shf_close(&h->m);
    free(h);
}

int hs_unlink(const char *name) { return shm_unlink(name) == 0 ? 0 : SEG_ESYS; }

int hs_unlink_all(const char *name)
{
    int n = shm_unlink(name) == 0;
    const char *base = name[0] == '/' ? name + 1 : name;
    size_t bl = strlen(base);
    DIR *d = opendir("/dev/shm");
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, base, bl) != 0 || e->d_name[bl] != '-')
            continue;
        char room[300];
        snprintf(room, sizeof room, "/%s", e->d_name);
        n += shm_unlink(room) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

int hs_room_segment(const char *host, const char *id, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s-%s", host, id);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* ---- readers ------------------------------------------------------------ */

uint64_t hs_dir_gen(const hs_t *h)
{
    /* acquire; pairs with the release in hs_publish() */
    return load_acquire(&h->sh->dir_gen);
}

static void words_load(const _Atomic uint64_t *w, size_t n, void *out)
{
    uint64_t v[8];
    for (size_t i = 0; i < n / 8; i++)
        v[i] = load_relaxed(&w[i]);  /* relaxed: under the slot's seq */
    memcpy(out, v, n);
}

static void words_store(_Atomic uint64_t *w, size_t n, const void *in)
{
    uint64_t v[8];
    memcpy(v, in, n);
    for (size_t i = 0; i < n / 8; i++)
        store_relaxed(&w[i], v[i]);  /* relaxed: under the slot's seq */
}

bool hs_read(const hs_t *h, uint32_t i, hs_room_t *out)
{
    if (i >= HS_ROOMS_MAX)
        return false;
    const hs_room_shared_t *r = &h->sh->rooms[i];
    for (int tries = 0; tries < 4; tries++) {
        /* acquire; pairs with the release that ends a rewrite in hs_put() */
        uint64_t s0 = load_acquire(&r->seq);
        if (s0 & 1)
            continue;
        if (load_relaxed(&r->state) != HS_OPEN)
            return false;
        out->gen = load_relaxed(&r->gen);
        out->slot = i;
        out->flags = load_relaxed(&r->flags);
        out->max_singers = load_relaxed(&r->max_singers);
        seg_str_load(r->id, HS_ID_MAX, out->id);
        seg_str_load(r->name, HS_NAME_MAX, out->name);
        words_load(r->singer_hash, HS_HASH_LEN, out->singer_hash);
        words_load(r->organiser_hash, HS_HASH_LEN, out->organiser_hash);
        atomic_thread_fence(memory_order_acquire);  /* the copies before the re-check */
        if (load_relaxed(&r->seq) == s0)
            return true;
    }
    return false;
}

bool hs_is_free(const hs_t *h, uint32_t i)
{
    const hs_room_shared_t *r = &h->sh->rooms[i];
    /* acquire; pairs with the release that ends a rewrite in hs_clear() */
    uint64_t s0 = load_acquire(&r->seq);
    return !(s0 & 1) && load_relaxed(&r->state) == HS_FREE;
}

bool hs_find(const hs_t *h, const char *id, hs_room_t *out)
{
    for (uint32_t i = 0; i < HS_ROOMS_MAX; i++) {
        /* relaxed: a quick filter; hs_read() takes the slot under its seq */
        if (load_relaxed(&h->sh->rooms[i].state) != HS_OPEN)
            continue;
        if (hs_read(h, i, out) && strcmp(out->id, id) == 0)
            return true;
    }
    return false;
}

hs_role_t hs_check_key(const hs_room_t *r, const char *key)
{
    if (r->flags & HS_DEFAULT)
        return HS_ROLE_SINGER;
    uint8_t hash[HS_HASH_LEN];
    if (!key || rk_hash(key, hash) != RK_OK)
        return HS_ROLE_NONE;
    if (CRYPTO_memcmp(hash, r->organiser_hash, HS_HASH_LEN) == 0)
        return HS_ROLE_ORGANISER;
    if (CRYPTO_memcmp(hash, r->singer_hash, HS_HASH_LEN) == 0)
        return HS_ROLE_SINGER;
    return HS_ROLE_NONE;
}

int64_t hs_heartbeat(const hs_t *h) { return load_relaxed(&h->sh->heartbeat); /* relaxed: status */ }

void hs_rec_stats(const hs_t *h, hs_rec_stats_t *out)
{
    const hs_shared_t *s = h->sh;
    /* relaxed: each a figure on its own (host.h) */
    for (int i = 0; i < HS_REC_REASONS; i++)
        out->deleted[i] = load_relaxed(&s->rec_deleted[i]);
    out->stopped = load_relaxed(&s->rec_stopped);
    out->sealed = load_relaxed(&s->rec_sealed);
    out->bytes = load_relaxed(&s->rec_bytes);
    out->max_bytes = load_relaxed(&s->rec_max_bytes);
}

/* ---- the writer ----------------------------------------------------------- */

static void begin(hs_room_shared_t *r)
{
    /* relaxed: the daemon is the only writer of seq */
    store_relaxed(&r->seq, load_relaxed(&r->seq) + 1);
    atomic_thread_fence(memory_order_release);  /* the odd seq before the fields */
}

static void end(hs_room_shared_t *r)
{
    /* release; pairs with the acquire in hs_read() */
    store_release(&r->seq, load_relaxed(&r->seq) + 1);
}

void hs_put(hs_t *h, uint32_t i, const hs_room_t *in)
{
    hs_room_shared_t *r = &h->sh->rooms[i];
    begin(r);
    store_relaxed(&r->gen, load_relaxed(&r->gen) + 1);
    store_relaxed(&r->flags, in->flags);
    store_relaxed(&r->max_singers, in->max_singers);
    seg_str_store(r->id, HS_ID_MAX, in->id);
    seg_str_store(r->name, HS_NAME_MAX, in->name);
    words_store(r->singer_hash, HS_HASH_LEN, in->singer_hash);
    words_store(r->organiser_hash, HS_HASH_LEN, in->organiser_hash);
    store_relaxed(&r->state, HS_OPEN);
    end(r);
}

void hs_clear(hs_t *h, uint32_t i)
{
    hs_room_shared_t *r = &h->sh->rooms[i];
    begin(r);
    store_relaxed(&r->gen, load_relaxed(&r->gen) + 1);
    store_relaxed(&r->state, HS_FREE);
    end(r);
}

void hs_publish(hs_t *h, uint32_t n_open)
{
    store_relaxed(&h->sh->n_open, n_open);  /* relaxed: status */
    /* release; pairs with the acquire in hs_dir_gen() */
    store_release(&h->sh->dir_gen, load_relaxed(&h->sh->dir_gen) + 1);
}

void hs_rec_report(hs_t *h, const hs_rec_stats_t *in)
{
    hs_shared_t *s = h->sh;
    /* relaxed: one writer (the retention thread), figures on their own;
     * a load and a store, not an atomic add, as nobody else writes them */
    for (int i = 0; i < HS_REC_REASONS; i++)
        store_relaxed(&s->rec_deleted[i], load_relaxed(&s->rec_deleted[i]) + in->deleted[i]);
    store_relaxed(&s->rec_stopped, load_relaxed(&s->rec_stopped) + in->stopped);
    store_relaxed(&s->rec_sealed, load_relaxed(&s->rec_sealed) + in->sealed);
    store_relaxed(&s->rec_bytes, in->bytes);
    store_relaxed(&s->rec_max_bytes, in->max_bytes);
}

void hs_set_heartbeat(hs_t *h, int64_t now) { store_relaxed(&h->sh->heartbeat, now); /* status */ }
void hs_set_default_max(hs_t *h, uint32_t n) { store_relaxed(&h->sh->max_singers, n); /* status */ }
uint32_t hs_default_max(const hs_t *h) { return load_relaxed(&h->sh->max_singers); }

void hs_repair(hs_t *h)
{
    for (uint32_t i = 0; i < HS_ROOMS_MAX; i++) {
        hs_room_shared_t *r = &h->sh->rooms[i];
        uint64_t s = load_relaxed(&r->seq);  /* relaxed: the daemon is the only writer */
        if (s & 1) {
            /* A rewrite a dead daemon left half done: out of the directory
             * until it is written again from the database. */
            store_relaxed(&r->state, HS_FREE);
            store_release(&r->seq, s + 1);  /* release; pairs with the acquire in hs_read() */
        }
    }
}
