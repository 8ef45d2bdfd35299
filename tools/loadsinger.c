/*
 * loadsinger.c - bb-load's singers: their lives and their schedule
 * (loadsinger.h).
 *
 * Every singer has its own 600 ms schedule (start times spread over the
 * first batch) kept in a binary heap of timers; at each due time it builds
 * its next request from pre-encoded Opus packets and hands it to its pool.
 * After an answer the next batch is due one period after the last, so a
 * late answer is caught up at once, up to --max-lag batches; a singer
 * further behind reconnects, as the browser would.
 */
#include "loadsinger.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadpool.h"

static int heap_push(loop_t *L, int64_t t, int idx, uint64_t gen)
{
    if (L->hlen == L->hcap) {
        int cap = L->hcap ? L->hcap * 2 : 1024;
        load_timer_t *h = realloc(L->heap, (size_t)cap * sizeof *h);
        if (!h)
            return -1;
        L->heap = h;
        L->hcap = cap;
    }
    int i = L->hlen++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (L->heap[p].t <= t)
            break;
        L->heap[i] = L->heap[p];
        i = p;
    }
    L->heap[i] = (load_timer_t){ t, idx, gen };
    return 0;
}

static load_timer_t timer_pop(loop_t *L)
{
    load_timer_t top = L->heap[0];
    load_timer_t last = L->heap[--L->hlen];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= L->hlen)
            break;
        if (c + 1 < L->hlen && L->heap[c + 1].t < L->heap[c].t)
            c++;
        if (L->heap[c].t >= last.t)
            break;
        L->heap[i] = L->heap[c];
        i = c;
    }
    if (L->hlen)
        L->heap[i] = last;
    return top;
}

static void arm(loop_t *L, lsinger_t *ls, int64_t t)
{
    ls->timer_gen++;
    ls->due = t;
    ls->state = ls->state == S_GONE ? S_GONE : S_WAIT;
    if (heap_push(L, t, ls->idx, ls->timer_gen) < 0) {
        fprintf(stderr, "bb-load: out of memory for timers\n");
        L->stop = true;
    }
}

/* FNV-1a of a string: which worker socket a userid goes to. */
static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Counts a failed exchange of ls by its bbclient error code. */
static void account_error(loop_t *L, lsinger_t *ls, int rc)
{
    ls->err_in_interval = true;
    lrep_error(&L->rep, lrep_kind_of(rc));
    if (rc == BBC_EKILL)
        lrep_kill(&L->rep, bbc_singer_meta(ls->s)->message);
    if (!L->o.quiet && lrep_err_total(&L->rep.total) <= 5)
        fprintf(stderr, "bb-load: singer %d (%s): %s\n", ls->idx, bbc_singer_userid(ls->s),
                bbc_singer_error(ls->s));
}

static int singer_offset(loop_t *L, lsinger_t *ls)
{
    if (ls->role == R_LEADER)
        return L->o.offsets[0];
    if (ls->role == R_SPECTATOR)
        return L->o.offsets[L->o.noffsets - 1];
    return L->o.offsets[ls->idx % L->o.noffsets];
}

/* Creates the bbclient singer of a slot (a fresh userid each time). */
static int singer_join(loop_t *L, lsinger_t *ls)
{
    bbc_config_t cfg;
    bbc_config_init(&cfg);
    cfg.path = L->o.path;
    cfg.offset_s = singer_offset(L, ls);
    cfg.n_samples = L->o.batch;
    cfg.unaligned = L->o.unaligned;
    cfg.ignore_delay = L->o.ignore_delay;
    cfg.skip_decode = !L->o.decode;
    cfg.no_summary = L->o.no_summary;
    cfg.placeholder_batches = L->o.placeholders;
    cfg.write_lag = L->o.write_lag_ms * (BBC_RATE / 1000);
    cfg.mode = ls->role == R_SPECTATOR ? BBC_SEND_SPECTATOR : BBC_SEND_PREENCODED;
    cfg.preenc = L->pre;
    cfg.seed = rng_next(&L->rng) | 1;
    char name[64];
    snprintf(name, sizeof name, "%s %d.%u", ls->role == R_LEADER ? "leader" : ls->role == R_SPECTATOR ? "listener" : "singer",
             ls->idx, ls->generation);
    cfg.username = name;
    if (L->o.nrooms) {
        const load_room_t *room = &L->o.rooms[ls->idx % L->o.nrooms];
        cfg.room = room->id;
        cfg.key = room->key;
    }
    int err;
    ls->s = bbc_singer_new(&cfg, &err);
    if (!ls->s) {
        fprintf(stderr, "bb-load: cannot make singer %d: %s\n", ls->idx, bbc_strerror(err));
        return -1;
    }
    ls->generation++;
    ls->lead_step = 0;
    ls->lead_posts = 0;
    ls->consecutive_errors = 0;
    if (L->o.transport == BBC_FCGI) {
        ls->pool = &L->pools[hash_str(bbc_singer_userid(ls->s)) % (uint32_t)L->o.naddrs];
    } else {
        ls->pool = &ls->own_pool;
        if (ls->own_pool.nconns == 0 && load_pool_add_conn(L, &ls->own_pool, &L->addrs[0]) < 0)
            return -1;
    }
    ls->leave_at = 0;
    if (L->o.churn_s > 0 && ls->role == R_SINGER) {
        double life = -log(1.0 - rng_unit(&L->rng)) * L->o.churn_s;
        ls->leave_at = bbc_now_ns() + (int64_t)(life * 1e9);
    }
    return 0;
}

static void singer_leave(loop_t *L, lsinger_t *ls, bool rejoin)
{
    bbc_singer_destroy(ls->s);
    ls->s = NULL;
    ls->state = S_GONE;
    /* Its own HTTP connection closes with it: a browser tab went away. */
    for (int i = 0; i < ls->own_pool.nconns; i++)
        if (ls->own_pool.conns[i]->state != C_BUSY)
            load_conn_close(L, ls->own_pool.conns[i]);
    if (rejoin) {
        /* Someone else takes the place after 1 to 3 s. */
        arm(L, ls, bbc_now_ns() + (int64_t)((1.0 + 2.0 * rng_unit(&L->rng)) * 1e9));
    } else {
        ls->timer_gen++;
        ls->state = S_OFF;
    }
}

/* The leader's script: lead, then start the song (with a track if asked). */
static void leader_script(loop_t *L, lsinger_t *ls)
{
    const bbc_meta_t *m = bbc_singer_meta(ls->s);
    if (ls->lead_step == 0) {
        bbc_singer_request_lead(ls->s);
        ls->lead_step = 1;
        ls->lead_posts = 0;
        return;
    }
    if (ls->lead_step == 1) {
        bool me = m->have_leader && strcmp(m->leader, bbc_singer_userid(ls->s)) == 0;
        if (me) {
            if (L->o.track)
                bbc_singer_set_track(ls->s, L->o.track);
            bbc_singer_mark_start(ls->s);
            ls->lead_step = 2;
            if (!L->o.quiet)
                printf("# leader %s leads; song started%s%s\n", bbc_singer_userid(ls->s),
                       L->o.track ? " with track " : "", L->o.track ? L->o.track : "");
        } else if (++ls->lead_posts > 20) {
            ls->lead_step = 0; /* ask again */
        }
    }
}

/* A singer's batch is due: build the request and hand it to its pool. */
static void singer_due(loop_t *L, lsinger_t *ls)
{
    int64_t now = bbc_now_ns();
    if (ls->state == S_GONE) {
        if (L->stop)
            return;
        if (singer_join(L, ls) < 0) {
            ls->state = S_OFF;
            return;
        }
        ls->state = S_WAIT;
    }
    if (ls->leave_at && now >= ls->leave_at) {
        singer_leave(L, ls, true);
        return;
    }
    if (ls->role == R_LEADER && !bbc_singer_needs_probe(ls->s) && ls->lead_step < 2 &&
        bbc_singer_meta(ls->s)->have_client_read_clock)
        leader_script(L, ls);
    ls->req_is_probe = bbc_singer_needs_probe(ls->s);
    int rc = bbc_singer_next_request(ls->s, NULL, &ls->req);
    if (rc != BBC_OK) {
        fprintf(stderr, "bb-load: singer %d: cannot build a request: %s %s\n", ls->idx, bbc_strerror(rc),
                bbc_singer_error(ls->s));
        L->stop = true;
        return;
    }
    ls->t_ready = ls->due < now ? ls->due : now;
    load_pool_submit(L, ls);
}

/* Schedules what a singer does after an answer (or a failure). */
static void singer_next(loop_t *L, lsinger_t *ls, bool failed)
{
    int64_t now = bbc_now_ns();
    int64_t period = (int64_t)L->o.batch * 1000000000 / BBC_RATE;
    if (L->stop)
        return;
    if (ls->leave_at && now >= ls->leave_at) {
        singer_leave(L, ls, true);
        return;
    }
    if (failed) {
        /* The browser reconnects at once; repeated failures back off so a
         * dead server does not make this loop spin. */
        ls->consecutive_errors++;
        int64_t back = ls->consecutive_errors <= 1 ? 0 : (int64_t)100000000 << (ls->consecutive_errors - 2);
        if (back > 1000000000)
            back = 1000000000;
        arm(L, ls, now + back);
        return;
    }
    ls->consecutive_errors = 0;
    if (bbc_singer_needs_probe(ls->s)) {
        arm(L, ls, now); /* a move: reconnect at once */
        return;
    }
    if (ls->req_is_probe) {
        arm(L, ls, now + period); /* the first batch is captured for 600 ms */
        return;
    }
    int64_t due = ls->due + period;
    if (now - due > (int64_t)L->o.max_lag * period) {
        /* Too far behind to catch up: the browser would drop the batch and
         * reconnect. */
        ls->err_in_interval = true;
        lrep_error(&L->rep, LREP_LAG);
        bbc_singer_set_offset(ls->s, bbc_singer_offset(ls->s));
        arm(L, ls, now);
        return;
    }
    arm(L, ls, due);
    if (due <= now) {
        /* Late: send right away (the timer entry becomes stale). */
        ls->timer_gen++;
        singer_due(L, ls);
    }
}

int load_singer_add(loop_t *L, int role)
{
    if (L->nsing >= LOAD_MAX_SINGERS + LOAD_MAX_SINGERS / 2)
        return -1;
    lsinger_t *ls = &L->sing[L->nsing];
    memset(ls, 0, sizeof *ls);
    ls->idx = L->nsing++;
    ls->role = role;
    if (singer_join(L, ls) < 0)
        return -1;
    /* Start times spread over one batch so requests do not arrive in step. */
    int64_t period = (int64_t)L->o.batch * 1000000000 / BBC_RATE;
    ls->state = S_WAIT;
    arm(L, ls, bbc_now_ns() + (int64_t)(rng_unit(&L->rng) * (double)period));
    return 0;
}

/* Brings the number of live singers (not spectators) to `want`. */
int load_singer_population(loop_t *L, int want)
{
    int have = 0;
    for (int i = 0; i < L->nsing; i++)
        if (L->sing[i].role != R_SPECTATOR)
            have++;
    while (have < want) {
        /* A leader per room: the first singer of each (singer i sings in
         * room i mod N). */
        int leaders = L->o.nrooms ? L->o.nrooms : 1;
        if (load_singer_add(L, have < leaders && L->o.leader ? R_LEADER : R_SINGER) < 0)
            return -1;
        have++;
    }
    L->active_target = want;
    return 0;
}

/* The loop's done function (load.h): what an ended exchange means for the
 * singer, counted, and its next step scheduled. */
static void on_done(loop_t *L, lsinger_t *ls, lconn_t *k, int rc)
{
    int64_t now = bbc_now_ns();
    bool failed = true;

    lrep_answer(&L->rep, rc == BBC_OK ? k->resp.status : 0);
    if (rc == BBC_OK) {
        bbc_stats_t st;
        bbc_singer_stats(ls->s, &st);
        uint64_t moves_before = st.moves;
        int r = bbc_singer_on_response(ls->s, &k->resp, NULL);
        failed = r != BBC_OK;
        if (failed) {
            account_error(L, ls, r);
        } else if (ls->req_is_probe) {
            lrep_probe(&L->rep);
        } else {
            bbc_singer_stats(ls->s, &st);
            lrep_post(&L->rep, (now - ls->t_sent) / 1000, (now - ls->t_ready) / 1000,
                      st.moves > moves_before);
            ls->ok_in_interval = true;
        }
    } else {
        char why[400];
        snprintf(why, sizeof why, "via %s%s%s", bbc_conn_addr(k->c)->text, rc == BBC_ESYS ? ": " : "",
                 rc == BBC_ESYS ? strerror(errno) : "");
        bbc_singer_fail(ls->s, rc, why);
        account_error(L, ls, rc);
    }
    ls->state = S_WAIT;
    singer_next(L, ls, failed);
}

void load_singer_init(loop_t *L)
{
    L->done = on_done;
}

void load_singer_scan_queued(loop_t *L)
{
    int64_t now = bbc_now_ns();
    int64_t limit = (int64_t)L->o.timeout_ms * 1000000;
    for (int i = 0; i < L->nsing; i++) {
        lsinger_t *ls = &L->sing[i];
        if (ls->state == S_QUEUED && now - ls->t_ready <= limit) {
            /* A connection may have become usable again (retry delay over). */
            load_pool_kick(L, ls->pool);
            continue;
        }
        if (ls->state == S_QUEUED) {
            ls->state = S_WAIT; /* its queue entry is skipped from now on */
            bbc_singer_fail(ls->s, BBC_ETIMEOUT, "queued too long for a connection");
            account_error(L, ls, BBC_ETIMEOUT);
            singer_next(L, ls, true);
        }
    }
}

void load_singer_fire(loop_t *L, int64_t now)
{
    while (L->hlen && L->heap[0].t <= now && !L->stop) {
        load_timer_t t = timer_pop(L);
        lsinger_t *ls = &L->sing[t.idx];
        if (t.gen != ls->timer_gen || (ls->state != S_WAIT && ls->state != S_GONE))
            continue;
        singer_due(L, ls);
    }
}

void load_singer_tally(loop_t *L, lrep_tally_t *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < L->nsing; i++) {
        lsinger_t *ls = &L->sing[i];
        if (!ls->s)
            continue;
        bool ok = ls->ok_in_interval && !ls->err_in_interval;
        if (ls->role == R_SPECTATOR) {
            t->spect++;
            t->spect_ok += ok;
        } else {
            t->live++;
            t->sustained += ok;
        }
        ls->ok_in_interval = ls->err_in_interval = false;
    }
}
