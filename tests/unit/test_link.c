/* test_link.c - the request pace tracker: a steady singer is ok whatever
 * their bucket, a request 400 ms behind their pace is late for LK_HOLD,
 * a stall is dropping, a reconnect to another bucket is not late. */
#include "check.h"
#include "link.h"

#define BATCH 28800   /* 600 ms requests */

/* Sends `count` steady requests of BATCH from *now / *rc; returns the last
 * verdict. */
static lk_state_t steady(lk_t *l, int64_t *now, int64_t *rc, int count)
{
    lk_state_t s = LK_OK;
    for (int i = 0; i < count; i++) {
        *now += BATCH;
        *rc += BATCH;
        s = lk_note(l, *now, *rc, BATCH, false);
    }
    return s;
}

int main(void)
{
    CHECK_INIT(c);
    lk_t l = {0};
    int64_t now = 1000000000, rc = now - 5 * 48000;   /* a bucket 5 s back */
    CHECK(c, lk_state(&l, now) == LK_OK);
    CHECK(c, lk_note(&l, now, rc, BATCH, true) == LK_OK);
    CHECK(c, steady(&l, &now, &rc, 30) == LK_OK);
    /* Jitter of 100 ms either way is the network's: still ok. */
    now += BATCH + 4800;
    rc += BATCH;
    CHECK(c, lk_note(&l, now, rc, BATCH, false) == LK_OK);
    now += BATCH - 4800;
    rc += BATCH;
    CHECK(c, lk_note(&l, now, rc, BATCH, false) == LK_OK);
    /* One request 400 ms behind the pace: late, for LK_HOLD. */
    now += BATCH + 19200;
    rc += BATCH;
    CHECK(c, lk_note(&l, now, rc, BATCH, false) == LK_LATE_STATE);
    CHECK_EQ_S(c, lk_name(LK_LATE_STATE), "late");
    /* The next requests catch up (the client sends its backlog). */
    now += BATCH - 19200;
    rc += BATCH;
    CHECK(c, lk_note(&l, now, rc, BATCH, false) == LK_LATE_STATE);
    CHECK(c, steady(&l, &now, &rc, 4) == LK_LATE_STATE);
    CHECK(c, steady(&l, &now, &rc, 6) == LK_OK);
    /* A singer whose requests stop is dropping once one is 1 s overdue. */
    CHECK(c, lk_state(&l, now + BATCH + LK_GAP / 2) == LK_OK);
    CHECK(c, lk_state(&l, now + BATCH + LK_GAP + 1) == LK_DROPPING);
    /* Requests resume after a 3 s stall, their clocks going on: a gap,
     * shown for LK_HOLD, and the late offset counts too. */
    now += 3 * 48000;
    rc += BATCH;
    CHECK(c, lk_note(&l, now, rc, BATCH, false) == LK_DROPPING);
    CHECK_EQ_S(c, lk_name(LK_DROPPING), "dropping");
    /* A reconnect at another bucket (10 s further back) learns the new
     * pace: not late, and the gap still shows until it is old. */
    now += BATCH;
    rc = now - 15 * 48000;
    CHECK(c, lk_note(&l, now, rc, BATCH, true) == LK_DROPPING);
    CHECK(c, steady(&l, &now, &rc, 10) == LK_OK);
    CHECK_EQ_S(c, lk_name(LK_OK), "ok");
    /* An upload the server could not use (its clocks already past) shows
     * late for LK_HOLD, however steady the requests. */
    lk_refused(&l, now);
    CHECK(c, lk_state(&l, now) == LK_LATE_STATE);
    CHECK(c, steady(&l, &now, &rc, 4) == LK_LATE_STATE);
    CHECK(c, steady(&l, &now, &rc, 6) == LK_OK);
    /* A reconnect after 4 s without requests (the network dropped): a gap. */
    now += 4 * 48000;
    rc = now - 9 * 48000;
    CHECK(c, lk_note(&l, now, rc, BATCH, true) == LK_DROPPING);
    CHECK(c, steady(&l, &now, &rc, 10) == LK_OK);
    /* A pace that improves is the new pace; worse again later is late. */
    lk_t m = {0};
    now = 2000000000;
    rc = now - 48000;
    lk_note(&m, now, rc, BATCH, true);
    steady(&m, &now, &rc, 40);
    now += BATCH + LK_LATE + 480;
    rc += BATCH;
    CHECK(c, lk_note(&m, now, rc, BATCH, false) == LK_LATE_STATE);
    return check_done(&c, "test_link");
}
