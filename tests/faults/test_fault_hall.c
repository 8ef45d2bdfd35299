/*
 * test_fault_hall.c - a choir behind one address.
 *
 * A rehearsal hall or a mobile carrier's NAT puts a whole choir behind one
 * public address, and every per-address limit counts them together:
 * nginx's requests and connections, and each worker's bucket of new
 * singers (fcgi/newcomers.h).  127.0.0.1 is exempt from all of them, so
 * here everybody comes from other loopback addresses.
 *
 * Forty singers connect through real nginx and two workers from 127.0.0.2,
 * all at once: ten in each of the buckets 3, 4, 5 and 6 s, half of each
 * bucket on each worker, each singing a tone of its own (300 to 2250 Hz in
 * steps of 50); the first leads and starts a song.  A listener sits at
 * 12 s, behind the same address: six seconds after the last bucket, more
 * than a request may take (5 s), so that every singer's write is in before
 * the listener reads it even on a busy machine.  Asserted:
 *
 *   - every request of the forty and of the listener is answered 200: no
 *     429 from nginx or from a worker, no 503, not one reconnect;
 *   - all forty are in the room: the listener's answers count 41 users,
 *     and a newcomer from the same address finds each singer's name once
 *     in its summary;
 *   - the listener hears each singer's tone in every frame where it was
 *     written, at the level of the mix, and nowhere else.
 *
 * Meanwhile the limit is real: from a second address, 127.0.0.3, a script
 * makes FLOOD fresh userids in quick succession, KNOCKERS at a time, each
 * a probe and one POST, all sharded to worker 1.  NC_BURST of them get in;
 * then worker 1 answers a new userid from that address 429 with "too many
 * new singers from your network ...", unless the bucket has refilled one
 * place meanwhile (NC_PER_MINUTE).  The forty sing through
 * the flood unaffected (the checks above cover its time, and each of them
 * is seen answered during it).
 *
 * Lost: nothing of the choir.  The flood's extra userids are refused,
 * visibly.
 *
 * usage: test_fault_hall BB_SHMD BB_WORKER SOURCE_DIR
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ftest.h"
#include "newcomers.h"

#define TNAME "fault_hall_one_address"
#define NSING 40
#define PER_BUCKET 10
#define FLOOD 100
#define KNOCKERS 8
#define HALL "127.0.0.2"
#define SCRIPT "127.0.0.3"
#define LISTEN_AT 12

typedef struct {
    check_t *c;
    fs_t *fs;
    ch_choir_t *ch;
    ch_voice_t *v[NSING + 1];     /* the singers, then the listener */
    char names[NSING + 1][16];
    char flood_ids[FLOOD][24];
    int64_t start, t_end;
    long long flood_t0, flood_t1; /* CLOCK_MONOTONIC ns */
} hall_t;

static int bucket_of(int i) { return 3 + i / PER_BUCKET; }

/* The singers (alternately on worker 1 and 2) and the listener, all from
 * the hall's address.  0 or -1. */
static int add_choir(hall_t *h)
{
    h->ch = ch_choir_new(fs_http(h->fs));
    if (!h->ch)
        return -1;
    for (int i = 0; i <= NSING; i++) {
        char uid[24];
        ch_voice_cfg_t vc = {.name = h->names[i], .userid = uid, .from_addr = HALL};
        if (i < NSING) {
            snprintf(h->names[i], sizeof h->names[i], "hall%02d", i);
            vc.offset_s = bucket_of(i);
            vc.hz = 300 + 50 * i;
            vc.deaf = true;   /* the listener hears them all; forty decoders would only cost CPU */
            if (fs_userid_for(h->fs, 1 + i % 2, 1000u + 37u * (unsigned)i, uid, sizeof uid) != 0) {
                fprintf(stderr, "no userid found for worker %d\n", 1 + i % 2);
                return -1;
            }
        } else {
            snprintf(h->names[i], sizeof h->names[i], "listener");
            vc.offset_s = LISTEN_AT;
            vc.spectator = true;
            vc.userid = NULL;
        }
        h->v[i] = ch_voice_add(h->ch, &vc);
        if (!h->v[i])
            return -1;
    }
    return 0;
}

/* FLOOD distinct userids that nginx sends to worker 1, found before the
 * flood (by probes from 127.0.0.1, which make no singer) so that the flood
 * itself is quick.  0 or -1. */
static int find_flood_ids(hall_t *h)
{
    unsigned seed = 500000;
    for (int i = 0; i < FLOOD; i++) {
        bool fresh;
        do {
            if (fs_userid_for(h->fs, 1, seed++, h->flood_ids[i], sizeof h->flood_ids[i]) != 0)
                return -1;
            fresh = true;
            for (int k = 0; k < i; k++)
                fresh &= strcmp(h->flood_ids[k], h->flood_ids[i]) != 0;
            for (int k = 0; k < NSING; k++)
                fresh &= strcmp(ch_userid(h->v[k]), h->flood_ids[i]) != 0;
        } while (!fresh);
    }
    return 0;
}

/* One of the flood: a fresh userid's probe and first POST from the
 * script's address.  Returns the HTTP status of the POST (0: none) and
 * its message in msg. */
static int knock(fs_t *fs, const char *uid, int i, char *msg, size_t cap)
{
    char name[16];
    snprintf(name, sizeof name, "script%02d", i);
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = fs_http(fs);
    cfg.transport = BBC_HTTP;
    cfg.from_addr = SCRIPT;
    cfg.userid = uid;
    cfg.username = name;
    cfg.offset_s = LISTEN_AT;
    cfg.n_samples = CH_FRAME;
    cfg.mode = BBC_SEND_SPECTATOR;
    cfg.skip_decode = true;
    cfg.no_pace = true;
    cfg.ignore_delay = true;
    int err, status = 0;
    bbc_singer_t *s = bbc_singer_new(&cfg, &err);
    msg[0] = '\0';
    if (!s) {
        snprintf(msg, cap, "%s", bbc_strerror(err));
        return 0;
    }
    int rc = bbc_exchange_batch(s, NULL, NULL);
    bbc_stats_t st;
    bbc_singer_stats(s, &st);
    if (st.posts > 0)
        status = bbc_singer_response(s)->status;
    if (rc != 0) {
        const char *why = bbc_singer_meta(s)->message[0] ? bbc_singer_meta(s)->message : bbc_singer_error(s);
        size_t n = strlen(why) < cap - 1 ? strlen(why) : cap - 1;
        memcpy(msg, why, n);
        msg[n] = '\0';
    }
    bbc_singer_destroy(s);
    return status;
}

/* The flood's knockers share the list of userids; each takes the next. */
typedef struct {
    hall_t *h;
    atomic_int next;
    int status[FLOOD];
    long long ns[FLOOD];          /* how long each knock took */
    char msg[FLOOD][200];
} flood_t;

static void *knocker(void *arg)
{
    flood_t *f = arg;
    for (int i; (i = atomic_fetch_add(&f->next, 1)) < FLOOD;) {
        long long t = fs_now_ns();
        f->status[i] = knock(f->h->fs, f->h->flood_ids[i], i, f->msg[i], sizeof f->msg[i]);
        f->ns[i] = fs_now_ns() - t;
    }
    return NULL;
}

/* The flood from the script's address, KNOCKERS connections at a time;
 * judges its answers. */
static void flood(hall_t *h)
{
    check_t *c = h->c;
    static flood_t f;
    f.h = h;
    atomic_init(&f.next, 0);
    pthread_t th[KNOCKERS];
    h->flood_t0 = fs_now_ns();
    int started = 0;
    while (started < KNOCKERS && pthread_create(&th[started], NULL, knocker, &f) == 0)
        started++;
    CHECK(*c, started > 0);
    for (int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    h->flood_t1 = fs_now_ns();
    double secs = (double)(h->flood_t1 - h->flood_t0) / 1e9;
    int in = 0, refused = 0, other = 0;
    long long in_ns = 0, refused_ns = 0;
    const char *told_msg = "none";
    for (int i = 0; i < FLOOD; i++) {
        bool told = f.status[i] == 429 && strstr(f.msg[i], "too many new singers from your network") != NULL;
        in += f.status[i] == 200;
        refused += told;
        in_ns += f.status[i] == 200 ? f.ns[i] : 0;
        refused_ns += told ? f.ns[i] : 0;
        if (told)
            told_msg = f.msg[i];
        other += f.status[i] != 200 && !told;
        if (f.status[i] != 200 && !told)
            printf("  script%02d: HTTP %d, %s\n", i, f.status[i], f.msg[i]);
    }
    /* Places the bucket can have refilled while the flood ran. */
    int refill = (int)(secs * NC_PER_MINUTE / 60.0) + 1;
    printf(TNAME ": %d fresh userids from %s, %d at a time, in %.1f s: %d let in (a burst of %d, %d a "
           "minute after), %d refused 429 (\"%s\"), %d otherwise\n",
           FLOOD, SCRIPT, KNOCKERS, secs, in, NC_BURST, NC_PER_MINUTE, refused, told_msg, other);
    printf(TNAME ": a knock let in took %.0f ms on average, a refused one %.0f ms\n",
           in ? (double)in_ns / in / 1e6 : 0.0, refused ? (double)refused_ns / refused / 1e6 : 0.0);
    CHECK(*c, in >= NC_BURST);
    CHECK(*c, in <= NC_BURST + refill);
    CHECK_EQ_I(*c, in + refused, FLOOD);
    CHECK_EQ_I(*c, other, 0);
}

/* The room as a newcomer from the hall sees it: each singer's name once in
 * its first answer's summary. */
static void judge_summary(hall_t *h)
{
    check_t *c = h->c;
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.addr = fs_http(h->fs);
    cfg.transport = BBC_HTTP;
    cfg.from_addr = HALL;
    cfg.username = "latecomer";
    cfg.offset_s = LISTEN_AT;
    cfg.mode = BBC_SEND_SPECTATOR;
    cfg.skip_decode = true;
    cfg.ignore_delay = true;
    int err;
    bbc_singer_t *s = bbc_singer_new(&cfg, &err);
    CHECK(*c, s != NULL);
    if (!s)
        return;
    CHECK_EQ_I(*c, bbc_exchange_batch(s, NULL, NULL), 0);
    const bbc_meta_t *m = bbc_singer_meta(s);
    int rows = bbc_meta_user_count(m), seen[NSING] = {0}, all = 0;
    for (int r = 0; r < rows; r++) {
        bbc_user_t u;
        if (bbc_meta_user(m, r, &u) != 0)
            continue;
        for (int i = 0; i < NSING; i++)
            seen[i] += strcmp(u.name, h->names[i]) == 0;
    }
    for (int i = 0; i < NSING; i++) {
        all += seen[i] == 1;
        if (seen[i] != 1)
            printf("  %s is in the summary %d times\n", h->names[i], seen[i]);
    }
    printf(TNAME ": a newcomer from %s: %d rows in its summary, %d of the %d singers once each\n", HALL, rows,
           all, NSING);
    CHECK_EQ_I(*c, all, NSING);
    bbc_singer_destroy(s);
}

/* Waits until the listener's answers count everyone; 0 or -1. */
static int wait_room(hall_t *h, int want)
{
    ch_rec_t last = {0};
    for (int i = 0; i < 100; i++) {
        if (ch_last(h->v[NSING], &last) && last.n_users == want)
            return 0;
        fs_sleep_ms(100);
    }
    printf(TNAME ": the listener counts %d in the room, not %d\n", last.n_users, want);
    return -1;
}

/* Every exchange of every voice answered 200, the voice never reconnected,
 * and each was answered during the flood (or, for a flood quicker than a
 * batch, within the next 1.2 s). */
static void judge_answers(hall_t *h)
{
    check_t *c = h->c;
    int bad = 0, during = 0, posts = 0, latest = 0;
    int64_t lag = 0;   /* in the song, the longest a singer's write took to be in */
    /* A voice asks every 600 ms: a flood over sooner than that is judged
     * over the next two batches (the newcomers it let in are still there). */
    long long flood_end = h->flood_t1 > h->flood_t0 + 1200000000LL ? h->flood_t1 : h->flood_t0 + 1200000000LL;
    for (int i = 0; i <= NSING; i++) {
        int n, in_flood = 0, early = 0;
        ch_rec_t *r = ft_recs(h->v[i], &n);
        for (int k = 0; r && k < n; k++) {
            posts++;
            bad += r[k].status != 200 || r[k].rc != 0;
            /* Clocks after the start, taken by a worker that did not know
             * the song yet (choir.h, ch_written()): not in the song. */
            early += r[k].status == 200 && r[k].has_write && r[k].write_clock > h->start &&
                     r[k].song_start != h->start;
            in_flood += r[k].t_ns > h->flood_t0 && r[k].t_ns < flood_end && r[k].status == 200;
            if (i < NSING && r[k].has_write && r[k].server_clock && r[k].write_clock > h->start &&
                r[k].server_clock - r[k].write_clock > lag) {
                lag = r[k].server_clock - r[k].write_clock;
                latest = i;
            }
        }
        during += in_flood > 0;
        if (early)
            printf(TNAME ": %s (%d s): %d upload(s) after the start clock answered before the song had "
                   "started\n", h->names[i], bucket_of(i), early);
        bbc_stats_t st;
        ch_stats(h->v[i], &st);
        CHECK_EQ_I(*c, ch_failures(h->v[i]), 0);
        CHECK_EQ_I(*c, st.reconnects, 0);
        CHECK_EQ_I(*c, st.probes, 1);
        CHECK_EQ_I(*c, ch_leaks(h->v[i]), 0);
        if (ch_failures(h->v[i]))
            ft_print_failures(h->v[i]);
        free(r);
    }
    printf(TNAME ": the %d from %s: %d requests, %d not answered 200; %d of them answered during the flood\n",
           NSING + 1, HALL, posts, bad, during);
    printf(TNAME ": the latest write was in %.2f s after its clock (%s, %d s); the listener reads %d s after\n",
           ft_secs(0, lag), h->names[latest], bucket_of(latest), LISTEN_AT);
    CHECK_EQ_I(*c, bad, 0);
    CHECK_EQ_I(*c, during, NSING + 1);
}

int main(int argc, char **argv)
{
    CHECK_INIT(c);
    int exit_code;
    fs_t *fs = ft_start(argc, argv, &(ft_setup_t){.name = "hall"}, &exit_code);
    if (!fs)
        return exit_code;
    /* Line by line: a run that times out on a busy machine shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    static hall_t h;
    h.c = &c;
    h.fs = fs;
    long long t0 = fs_now_ns();
    if (add_choir(&h) != 0 || find_flood_ids(&h) != 0) {
        fs_dump_logs(fs, 20);
        return 1;
    }
    printf(TNAME ": userids for the choir and the flood found in %.1f s\n", (double)(fs_now_ns() - t0) / 1e9);
    if (ft_start_voices(h.v, NSING + 1) != 0) {
        fs_dump_logs(fs, 20);
        return 1;
    }
    h.start = ft_song(h.v[0], h.v, NSING + 1);
    CHECK(c, h.start != 0);
    CHECK_EQ_I(c, wait_room(&h, NSING + 1), 0);
    printf(TNAME ": %d singers and a listener from %s in the room, the song from clock %" PRId64 "\n", NSING,
           HALL, h.start);
    fs_sleep_ms(3000);
    flood(&h);
    judge_summary(&h);
    /* The listener, LISTEN_AT s behind, hears 8 s of the song at least,
     * however quickly the flood went. */
    int64_t want_end = h.start + (int64_t)(LISTEN_AT + 8) * FT_RATE;
    fs_sleep_ms(4000);
    while (srvclock_now() < want_end)
        fs_sleep_ms(100);
    h.t_end = srvclock_now();
    ch_stop_all(h.ch);

    judge_answers(&h);
    for (int i = 0; i < NSING; i++)
        ft_check_heard_all(&c, h.ch, h.v[NSING], h.v[i], h.start, 0, h.start, h.t_end, 0);
    int rc = check_done(&c, TNAME);
    if (rc)
        fs_dump_logs(fs, 30);
    ch_choir_free(h.ch);
    fs_stop(fs);
    return rc;
}
