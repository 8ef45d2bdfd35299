/*
 * segment.c - creating, validating and attaching the timeline segment.
 *
 * Creation is O_CREAT|O_EXCL, so of two daemons racing exactly one creates;
 * ftruncate gives zeroed memory, which is a valid empty timeline; the header
 * is filled in and `ready` is released last.  Attaching checks the magic,
 * the version, every size against the file's real size, and `ready`, and
 * says exactly what it found when it refuses.  Nothing here ever clears an
 * existing segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "segment.h"
#include "encbank.h"
#include "shmfile.h"

struct seg {
    shf_map_t m;
    uint8_t *base;
    seg_header_shared_t *hdr;
    char name[256];
};

/* Byte offsets in the segment file used for role locks (OFD locks do not
 * touch the data; they only name a byte range). */
#define LOCK_DAEMON 0
#define LOCK_LANE0 1

const char *seg_strerror(int code)
{
    switch (code) {
    case SEG_OK: return "success";
    case SEG_ESYS: return "system call failed";
    case SEG_EMAGIC: return "not a Bucket Brigade timeline segment";
    case SEG_EVERSION: return "segment layout version differs";
    case SEG_ESIZE: return "segment size is inconsistent";
    case SEG_ENOTREADY: return "segment creation never finished";
    case SEG_EPARAM: return "invalid segment parameters";
    case SEG_ENOENT: return "no such segment";
    case SEG_EBUSY: return "role held by another live process";
    case SEG_EMISMATCH: return "segment created with other parameters";
    default: return "unknown error";
    }
}

int64_t seg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * RING_SAMPLE_RATE +
           (int64_t)ts.tv_nsec * RING_SAMPLE_RATE / 1000000000;
}

/* ---- layout ----------------------------------------------------------- */

typedef struct {
    uint64_t off_blobdata[SEG_NBLOBS];
    uint64_t off_mix, off_backing, off_monitor, off_users, off_lanes, off_chat;
    uint64_t off_fgen, off_solo, off_bank;
    uint64_t total;
} layout_t;

static const uint32_t blob_caps[SEG_NBLOBS] = {
    SEG_BLOB_SUMMARY_MAX, SEG_BLOB_EVENTS_MAX, SEG_BLOB_TRACKS_MAX, SEG_BLOB_WORDS_MAX,
    SEG_BLOB_CUES_MAX, SEG_BLOB_LEVELS_MAX,
};

static int add_region(uint64_t *cursor, uint64_t bytes, uint64_t *off)
{
    uint64_t start = (*cursor + 4095) & ~(uint64_t)4095;
    if (start < *cursor || start + bytes < start)
        return -1;
    *off = start;
    *cursor = start + bytes;
    return 0;
}

static size_t lane_stride(void)
{
    return sizeof(seg_lane_t) + (size_t)SEG_LANE_CAP * sizeof(seg_cmd_t);
}

/* Computes every offset for a ring of ring_len samples and user_cap users,
 * with overflow checks.  Returns 0 or -1. */
static int layout_compute(uint32_t ring_len, uint32_t user_cap, layout_t *l)
{
    uint64_t c = sizeof(seg_header_shared_t);
    for (int i = 0; i < SEG_NBLOBS; i++)
        if (add_region(&c, 2 * (uint64_t)blob_caps[i], &l->off_blobdata[i]))
            return -1;
    if (add_region(&c, (uint64_t)ring_len * sizeof(acc_cell_t), &l->off_mix) ||
        add_region(&c, (uint64_t)ring_len * sizeof(acc_cell32_t), &l->off_backing) ||
        add_region(&c, (uint64_t)ring_len * sizeof(acc_cell32_t), &l->off_monitor) ||
        add_region(&c, (uint64_t)SEG_SOLO_RINGS * ring_len * sizeof(acc_cell_t), &l->off_solo) ||
        add_region(&c, (uint64_t)(ring_len / RING_OPUS_FRAME) * sizeof(uint32_t), &l->off_fgen) ||
        add_region(&c, (uint64_t)user_cap * sizeof(seg_user_t), &l->off_users) ||
        add_region(&c, (uint64_t)SEG_LANES * lane_stride(), &l->off_lanes) ||
        add_region(&c, (uint64_t)SEG_CHAT_CAP * sizeof(seg_chat_t), &l->off_chat) ||
        add_region(&c, sizeof(seg_bank_t), &l->off_bank))
        return -1;
    l->total = (c + 4095) & ~(uint64_t)4095;
    return 0;
}

static int params_check(const seg_params_t *p, uint32_t *ring_len, seg_err_t *err)
{
    if (p->ring_seconds < SEG_RING_SECONDS_MIN || p->ring_seconds > SEG_RING_SECONDS_MAX) {
        shf_err(err, SEG_EPARAM, 0, "ring seconds %u outside %d..%d",
                p->ring_seconds, SEG_RING_SECONDS_MIN, SEG_RING_SECONDS_MAX);
        return SEG_EPARAM;
    }
    if (p->user_cap < 16 || p->user_cap > SEG_USERS_MAX) {
        shf_err(err, SEG_EPARAM, 0, "user capacity %u outside 16..%d",
                p->user_cap, SEG_USERS_MAX);
        return SEG_EPARAM;
    }
    *ring_len = ring_align_floor((uint64_t)p->ring_seconds * RING_SAMPLE_RATE);
    return 0;
}

/* ---- attach ----------------------------------------------------------- */

/* The handle of a mapped segment; NULL (and *err) when out of memory, the
 * mapping then closed. */
static seg_t *wrap(shf_map_t *m, const char *name, seg_err_t *err)
{
    seg_t *s = calloc(1, sizeof *s);
    if (!s) {
        shf_close(m);
        shf_err(err, SEG_ESYS, ENOMEM, "out of memory");
        return NULL;
    }
    s->m = *m;
    s->base = m->base;
    s->hdr = m->base;
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

/* Checks the header of a mapped segment against the file size. */
static int validate(seg_t *s, seg_err_t *err)
{
    const seg_header_shared_t *h = s->hdr;
    if (h->magic != SEG_MAGIC) {
        shf_err(err, SEG_EMAGIC, 0, "segment %s: magic is 0x%016llx, expected 0x%016llx",
                s->name, (unsigned long long)h->magic, (unsigned long long)SEG_MAGIC);
        return SEG_EMAGIC;
    }
    if (h->version != SEG_VERSION) {
        shf_err(err, SEG_EVERSION, 0, "segment %s: layout version is %u, expected %u",
                s->name, h->version, SEG_VERSION);
        return SEG_EVERSION;
    }
    layout_t l;
    if (h->header_size != sizeof(seg_header_shared_t) || h->ring_len == 0 ||
        h->ring_len % RING_ALIGN != 0 || h->user_cap < 16 || h->user_cap > SEG_USERS_MAX ||
        h->lanes != SEG_LANES || h->lane_cap != SEG_LANE_CAP || h->chat_cap != SEG_CHAT_CAP ||
        h->sample_rate != RING_SAMPLE_RATE ||
        layout_compute(h->ring_len, h->user_cap, &l) || l.total != h->total_size ||
        h->total_size != s->m.size || l.off_mix != h->off_mix || l.off_chat != h->off_chat ||
        l.off_fgen != h->off_fgen || l.off_solo != h->off_solo || l.off_bank != h->off_bank) {
        shf_err(err, SEG_ESIZE, 0,
                "segment %s: header says %llu bytes (ring %u samples, %u users, header %u), "
                "file has %zu, this build expects header %zu",
                s->name, (unsigned long long)h->total_size, h->ring_len, h->user_cap,
                h->header_size, s->m.size, sizeof(seg_header_shared_t));
        return SEG_ESIZE;
    }
    /* acquire; pairs with the release at the end of init_header() */
    if (load_acquire(&s->hdr->ready) != 1) {
        shf_err(err, SEG_ENOTREADY, 0,
                "segment %s: creation never finished (remove /dev/shm%s to start afresh)",
                s->name, s->name);
        return SEG_ENOTREADY;
    }
    return 0;
}

static int open_existing(const char *name, seg_t **out, seg_err_t *err)
{
    shf_map_t m = {.fd = -1};
    int rc = shf_open(name, sizeof(seg_header_shared_t), &m, err);
    if (rc != SEG_OK)
        return rc;
    seg_t *s = wrap(&m, name, err);
    if (!s)
        return SEG_ESYS;
    /* A creator may still be filling the header: give it a moment. */
    for (int tries = 0; tries < 100; tries++) {
        rc = validate(s, err);
        if (rc != SEG_ENOTREADY && rc != SEG_EMAGIC)
            break;
        if (s->hdr->magic != 0 && rc == SEG_EMAGIC)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc) {
        seg_detach(s);
        return rc;
    }
    *out = s;
    return 0;
}

seg_t *seg_attach(const char *name, seg_err_t *err)
{
    seg_t *s = NULL;
    if (open_existing(name, &s, err))
        return NULL;
    return s;
}

static void init_header(seg_t *s, uint32_t ring_len, uint32_t user_cap, const layout_t *l)
{
    seg_header_shared_t *h = s->hdr;
    h->magic = SEG_MAGIC;
    h->version = SEG_VERSION;
    h->header_size = sizeof(seg_header_shared_t);
    h->total_size = l->total;
    h->sample_rate = RING_SAMPLE_RATE;
    h->ring_len = ring_len;
    h->user_cap = user_cap;
    h->lanes = SEG_LANES;
    h->lane_cap = SEG_LANE_CAP;
    h->chat_cap = SEG_CHAT_CAP;
    h->off_mix = l->off_mix;
    h->off_backing = l->off_backing;
    h->off_monitor = l->off_monitor;
    h->off_users = l->off_users;
    h->off_lanes = l->off_lanes;
    h->off_chat = l->off_chat;
    h->off_fgen = l->off_fgen;
    h->off_solo = l->off_solo;
    h->off_bank = l->off_bank;
    if (getrandom(h->id_key, sizeof h->id_key, 0) != (ssize_t)sizeof h->id_key) {
        /* getrandom on Linux >= 3.17 does not fail for 16 bytes; fall back
         * to time and pid rather than refuse to start. */
        h->id_key[0] = (uint64_t)seg_now() ^ ((uint64_t)getpid() << 32);
        h->id_key[1] = (uint64_t)(uintptr_t)s ^ 0x9E3779B97F4A7C15ull;
    }
    h->created_clock = seg_now();
    for (int i = 0; i < SEG_NBLOBS; i++) {
        h->blobs[i].cap = blob_caps[i];
        h->blobs[i].off = (uint32_t)l->off_blobdata[i];
    }
    /* The watermark starts at "now": the zeroed ring is a valid silent past. */
    int64_t now = seg_now();
    store_relaxed(&h->cleared_to, now - now % RING_FRAME);
    /* release; pairs with the acquire in validate() */
    store_release(&h->ready, 1);
}

seg_t *seg_open_or_create(const char *name, const seg_params_t *params,
                          bool *created, seg_err_t *err)
{
    uint32_t ring_len;
    layout_t l;
    *created = false;
    if (params_check(params, &ring_len, err))
        return NULL;
    if (layout_compute(ring_len, params->user_cap, &l)) {
        shf_err(err, SEG_EPARAM, 0, "segment size overflows");
        return NULL;
    }
    shf_map_t m = {.fd = -1};
    int rc = shf_create(name, (size_t)l.total, &m, err);
    if (rc == SEG_EBUSY) {
        seg_t *s = NULL;
        if (open_existing(name, &s, err))
            return NULL;
        if (s->hdr->ring_len != ring_len || s->hdr->user_cap != params->user_cap) {
            shf_err(err, SEG_EMISMATCH, 0,
                   "segment %s holds a live timeline of %u samples and %u users; asked for "
                   "%u samples and %u users (stop everything and remove /dev/shm%s to change it)",
                   name, s->hdr->ring_len, s->hdr->user_cap, ring_len, params->user_cap, name);
            seg_detach(s);
            return NULL;
        }
        return s;
    }
    if (rc != SEG_OK)
        return NULL;
    seg_t *s = wrap(&m, name, err);
    if (!s) {
        shm_unlink(name);
        return NULL;
    }
    init_header(s, ring_len, params->user_cap, &l);
    *created = true;
    return s;
}

void seg_detach(seg_t *seg)
{
    if (!seg)
        return;
    shf_close(&seg->m);
    free(seg);
}

int seg_unlink(const char *name)
{
    return shm_unlink(name) == 0 ? 0 : SEG_ESYS;
}

static int lock_byte(seg_t *seg, off_t at, const char *role, seg_err_t *err)
{
    return shf_lock(&seg->m, seg->name, at, role, err);
}

int seg_claim_daemon(seg_t *seg, seg_err_t *err)
{
    int rc = lock_byte(seg, LOCK_DAEMON, "the daemon role", err);
    if (rc == 0) {
        /* relaxed: status fields, read only for display */
        store_relaxed(&seg->hdr->daemon_pid, (int64_t)getpid());
        fetch_add_relaxed(&seg->hdr->daemon_starts, 1);
    }
    return rc;
}

int seg_claim_lane(seg_t *seg, uint32_t lane, seg_err_t *err)
{
    if (lane >= SEG_LANES) {
        shf_err(err, SEG_EPARAM, 0, "worker id %u outside 0..%d", lane, SEG_LANES - 1);
        return SEG_EPARAM;
    }
    char role[64];
    snprintf(role, sizeof role, "command lane %u (worker id %u)", lane, lane);
    return lock_byte(seg, LOCK_LANE0 + lane, role, err);
}

/* ---- accessors -------------------------------------------------------- */

seg_header_shared_t *seg_header(const seg_t *seg) { return seg->hdr; }
uint8_t *seg_base(const seg_t *seg) { return seg->base; }

int seg_release(seg_t *seg, const void *start, size_t bytes)
{
    const uint8_t *p = start;
    if (p < seg->base || p + bytes > seg->base + seg->m.size || bytes == 0)
        return SEG_EPARAM;
    if (fallocate(seg->m.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(p - seg->base),
                  (off_t)bytes) != 0)
        return SEG_ESYS;
    return SEG_OK;
}
acc_cell_t *seg_mix(const seg_t *seg) { return (acc_cell_t *)(seg->base + seg->hdr->off_mix); }
acc_cell32_t *seg_backing(const seg_t *seg) { return (acc_cell32_t *)(seg->base + seg->hdr->off_backing); }
acc_cell32_t *seg_monitor(const seg_t *seg) { return (acc_cell32_t *)(seg->base + seg->hdr->off_monitor); }
acc_cell_t *seg_solo(const seg_t *seg, uint32_t k)
{
    return (acc_cell_t *)(seg->base + seg->hdr->off_solo) + (size_t)k * seg->hdr->ring_len;
}
_Atomic uint32_t *seg_fgen(const seg_t *seg) { return (_Atomic uint32_t *)(seg->base + seg->hdr->off_fgen); }
seg_bank_t *seg_bank(const seg_t *seg) { return (seg_bank_t *)(seg->base + seg->hdr->off_bank); }
seg_user_t *seg_users(const seg_t *seg) { return (seg_user_t *)(seg->base + seg->hdr->off_users); }
seg_chat_t *seg_chat(const seg_t *seg) { return (seg_chat_t *)(seg->base + seg->hdr->off_chat); }
uint32_t seg_ring_len(const seg_t *seg) { return seg->hdr->ring_len; }
uint32_t seg_user_cap(const seg_t *seg) { return seg->hdr->user_cap; }
const char *seg_name(const seg_t *seg) { return seg->name; }

seg_lane_t *seg_lane(const seg_t *seg, uint32_t lane)
{
    return (seg_lane_t *)(seg->base + seg->hdr->off_lanes + (uint64_t)lane * lane_stride());
}

seg_cmd_t *seg_lane_cells(const seg_t *seg, uint32_t lane)
{
    return (seg_cmd_t *)((uint8_t *)seg_lane(seg, lane) + sizeof(seg_lane_t));
}

/* ---- strings in atomic words ------------------------------------------ */

void seg_str_store(_Atomic uint64_t *w, size_t cap, const char *s)
{
    char buf[SEG_TEXT_MAX];
    size_t n = cap < sizeof buf ? cap : sizeof buf;
    memset(buf, 0, n);
    size_t len = strnlen(s, n - 1);
    memcpy(buf, s, len);
    for (size_t i = 0; i < n / 8; i++) {
        uint64_t v;
        memcpy(&v, buf + 8 * i, 8);
        store_relaxed(&w[i], v);  /* relaxed: published by the caller's seqlock */
    }
}

void seg_str_load(const _Atomic uint64_t *w, size_t cap, char *out)
{
    for (size_t i = 0; i < cap / 8; i++) {
        uint64_t v = load_relaxed(&w[i]);  /* relaxed: checked by the caller's seqlock */
        memcpy(out + 8 * i, &v, 8);
    }
    out[cap - 1] = '\0';
}

/* ---- public ids -------------------------------------------------------- */

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

/* SipHash-2-4 of one 64-bit message word under a 128-bit key. */
static uint64_t siphash_u64(const uint64_t key[2], uint64_t m)
{
    uint64_t v0 = 0x736f6d6570736575ull ^ key[0];
    uint64_t v1 = 0x646f72616e646f6dull ^ key[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ key[0];
    uint64_t v3 = 0x7465646279746573ull ^ key[1];
#define SIPROUND                                                         \
    do {                                                                 \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);        \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                           \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                           \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);        \
    } while (0)
    uint64_t b = (uint64_t)8 << 56;
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
#undef SIPROUND
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t seg_public_id(const seg_t *seg, uint64_t userid)
{
    uint64_t h = siphash_u64(seg->hdr->id_key, userid) & ((UINT64_C(1) << 50) - 1);
    return h ? h : 1;
}
