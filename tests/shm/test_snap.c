/*
 * test_snap.c - control-state latch, published texts, command lanes, the
 * user table and the chat log, with readers and writers on threads (so
 * ThreadSanitizer watches every access).
 *
 * The latch test publishes states whose fields all carry the same number
 * while readers copy them: a reader must never see a mix of two states.
 */
#include <pthread.h>
#include <string.h>

#include "chat.h"
#include "check.h"
#include "cmdq.h"
#include "shm_test.h"
#include "snap.h"
#include "users.h"

enum { PUBLISHES = 20000, READERS = 3 };

typedef struct {
    seg_t *seg;
    atomic_int *stop;
    long torn;
    long reads;
} reader_t;

static void *ctl_reader(void *arg)
{
    reader_t *r = arg;
    while (!atomic_load(r->stop)) {
        seg_ctl_t c;
        snap_ctl_read(r->seg, &c);
        int64_t v = c.song.start;
        if (c.song.end != v || (int64_t)c.epoch != (v & 0xffffffff) || c.track_started != v ||
            c.recorded_song != v)
            r->torn++;
        r->reads++;
    }
    return NULL;
}

static void *blob_reader(void *arg)
{
    reader_t *r = arg;
    uint64_t gen = 0;
    char buf[SEG_BLOB_SUMMARY_MAX];
    while (!atomic_load(r->stop)) {
        size_t len;
        if (snap_blob_read(r->seg, SEG_BLOB_SUMMARY, &gen, buf, sizeof buf, &len)) {
            /* Every published text is one digit repeated. */
            for (size_t i = 1; i < len; i++)
                if (buf[i] != buf[0]) {
                    r->torn++;
                    break;
                }
            r->reads++;
        }
    }
    return NULL;
}

typedef struct {
    seg_t *seg;
    int n;
    int pushed;
} producer_t;

static void *producer(void *arg)
{
    producer_t *p = arg;
    for (int i = 0; i < p->n;) {
        seg_cmd_t c;
        memset(&c, 0, sizeof c);
        c.type = CMD_CHAT;
        c.a = i;
        snprintf(c.text, sizeof c.text, "message %d", i);
        if (cq_push(p->seg, 5, &c) == CQ_OK) {
            i++;
            p->pushed++;
        }
    }
    return NULL;
}

/* The latch: no torn control state while it is published over and over. */
static void test_latch(check_t *c, seg_t *s)
{
    atomic_int stop;
    atomic_init(&stop, 0);
    reader_t rs[READERS];
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++) {
        rs[i] = (reader_t){s, &stop, 0, 0};
        pthread_create(&th[i], NULL, ctl_reader, &rs[i]);
    }
    seg_ctl_t w;
    memset(&w, 0, sizeof w);
    for (int64_t v = 1; v <= PUBLISHES; v++) {
        w.song.start = w.song.end = w.track_started = w.recorded_song = v;
        w.epoch = (uint32_t)v;
        snap_ctl_publish(s, &w);
    }
    atomic_store(&stop, 1);
    long torn = 0, reads = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        torn += rs[i].torn;
        reads += rs[i].reads;
    }
    printf("  latch: %ld reads during %d publishes, %ld torn\n", reads, PUBLISHES, torn);
    CHECK_EQ_I(*c, torn, 0);
    seg_ctl_t last;
    snap_ctl_read(s, &last);
    CHECK_EQ_I(*c, last.song.start, PUBLISHES);
}

/* Published texts: no torn text; an unchanged text keeps its generation. */
static void test_texts(check_t *c, seg_t *s)
{
    atomic_int stop;
    atomic_init(&stop, 0);
    reader_t rs[READERS];
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++) {
        rs[i] = (reader_t){s, &stop, 0, 0};
        pthread_create(&th[i], NULL, blob_reader, &rs[i]);
    }
    char text[4000];
    for (int k = 0; k < 5000; k++) {
        size_t len = 100 + (size_t)(k * 7) % 3800;
        memset(text, '0' + k % 10, len);
        snap_blob_publish(s, SEG_BLOB_SUMMARY, text, len);
    }
    atomic_store(&stop, 1);
    long torn = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        torn += rs[i].torn;
    }
    CHECK_EQ_I(*c, torn, 0);
    uint64_t gen = 0;
    size_t len;
    char buf[SEG_BLOB_SUMMARY_MAX];
    CHECK_EQ_I(*c, snap_blob_read(s, SEG_BLOB_SUMMARY, &gen, buf, sizeof buf, &len), 1);
    CHECK_EQ_I(*c, snap_blob_read(s, SEG_BLOB_SUMMARY, &gen, buf, sizeof buf, &len), 0);
    CHECK_EQ_I(*c, snap_blob_publish(s, SEG_BLOB_SUMMARY, buf, len), 0);   /* same text */
    CHECK_EQ_I(*c, snap_blob_read(s, SEG_BLOB_SUMMARY, &gen, buf, sizeof buf, &len), 0);
    CHECK_EQ_I(*c, snap_blob_publish(s, SEG_BLOB_SUMMARY, "[1]", 3), 1);
    CHECK_EQ_I(*c, snap_blob_read(s, SEG_BLOB_SUMMARY, &gen, buf, sizeof buf, &len), 1);
    CHECK(*c, len == 3 && strcmp(buf, "[1]") == 0);
    CHECK_EQ_I(*c, snap_blob_publish(s, SEG_BLOB_EVENTS, buf, SEG_BLOB_EVENTS_MAX + 1), -1);
}

/* A command lane: every command arrives once, in order, while the
 * producer runs into a full lane again and again. */
static void test_lane(check_t *c, seg_t *s)
{
    producer_t pr = {s, 5000, 0};
    pthread_t pt;
    pthread_create(&pt, NULL, producer, &pr);
    int got = 0, in_order = 1;
    while (got < 5000) {
        seg_cmd_t cmd;
        if (cq_pop(s, 5, &cmd)) {
            in_order &= cmd.a == got && cmd.lane == 5;
            got++;
        }
    }
    pthread_join(pt, NULL);
    CHECK_EQ_I(*c, got, 5000);
    CHECK(*c, in_order);
    seg_cmd_t cmd;
    CHECK_EQ_I(*c, cq_pop(s, 5, &cmd), 0);
    for (int i = 0; i < SEG_LANE_CAP; i++) {
        memset(&cmd, 0, sizeof cmd);
        CHECK_EQ_I(*c, cq_push(s, 6, &cmd), CQ_OK);
    }
    CHECK_EQ_I(*c, cq_room(s, 6), 0);
    CHECK_EQ_I(*c, cq_push(s, 6, &cmd), CQ_EFULL);
    CHECK_EQ_I(*c, cq_pop(s, 6, &cmd), 1);
    CHECK_EQ_I(*c, cq_room(s, 6), 1);
}

/* The user table. */
static void test_users(check_t *c, seg_t *s)
{
    int64_t now = seg_now();
    int64_t a = users_alloc(s, 111, "Alice", 0, now);
    int64_t b = users_alloc(s, 222, "Bob", SEG_UF_SPECTATOR, now);
    CHECK(*c, a >= 0 && b >= 0 && a != b);
    CHECK_EQ_I(*c, users_find(s, 111), a);
    CHECK_EQ_I(*c, users_find(s, 333), -1);
    CHECK_EQ_I(*c, users_find_public(s, seg_public_id(s, 222)), b);
    users_view_t v;
    CHECK(*c, users_read(s, (uint32_t)a, &v) && strcmp(v.name, "Alice") == 0 && v.mic_volume == 1.0f);
    uint64_t g = v.gen;
    CHECK(*c, users_check(s, (uint32_t)a, g, 111));
    users_set_name(s, (uint32_t)a, "Alicia");
    CHECK(*c, !users_check(s, (uint32_t)a, g, 111));   /* identity rewritten: re-read */
    CHECK(*c, users_read(s, (uint32_t)a, &v) && strcmp(v.name, "Alicia") == 0);
    users_send_delay(s, (uint32_t)a, 9);
    uint32_t m1 = users_delay_msg(s, (uint32_t)a);
    users_send_delay(s, (uint32_t)a, 9);
    uint32_t m2 = users_delay_msg(s, (uint32_t)a);
    CHECK(*c, (m1 & 0xffff) == 9 && (m2 & 0xffff) == 9 && (m1 >> 16) != (m2 >> 16));
    users_free(s, (uint32_t)a);
    CHECK_EQ_I(*c, users_find(s, 111), -1);
    for (int i = 0; i < 64; i++)
        users_alloc(s, 1000 + (uint64_t)i, "x", 0, now);
    CHECK_EQ_I(*c, users_alloc(s, 5000, "full", 0, now), -1);
}

/* The chat log. */
static void test_chat(check_t *c, seg_t *s)
{
    CHECK_EQ_I(*c, chat_head(s), 0);
    chat_post(s, 77, "Ann", "hello");
    chat_msg_t msg;
    CHECK_EQ_I(*c, chat_head(s), 1);
    CHECK(*c, chat_read(s, 1, &msg) == 0 && strcmp(msg.text, "hello") == 0 && msg.sender == 77);
    for (int i = 0; i < SEG_CHAT_CAP + 5; i++)
        chat_post(s, 78, "Ben", "flood");
    CHECK_EQ_I(*c, chat_read(s, 1, &msg), -1);   /* overwritten */
    CHECK_EQ_I(*c, chat_read(s, chat_head(s), &msg), 0);
    CHECK_EQ_I(*c, chat_read(s, chat_head(s) + 1, &msg), -1);
}

int main(void)
{
    CHECK_INIT(c);
    char name[64];
    shm_test_name(name, sizeof name, "snap");
    seg_t *s = shm_test_create(name, SEG_RING_SECONDS_MIN, 64);
    if (!s)
        return 1;
    test_latch(&c, s);
    test_texts(&c, s);
    test_lane(&c, s);
    test_users(&c, s);
    test_chat(&c, s);
    seg_detach(s);
    seg_unlink(name);
    return check_done(&c, "test_snap");
}
