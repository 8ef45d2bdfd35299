/*
 * test_summary.c - made-up userids cannot push the choir out of sight.
 *
 * Three singers (A leads at 6 s, B and C sing behind) and sixty userids that
 * only read at the live edge, more than the summary's fifty rows.  Every
 * response's user_summary still lists A, B and C: real participants (the
 * leader, those sending audio) are kept first, the readers fill what is
 * left, and how many are left out is in user_summary_more, never in
 * user_summary (whose entries the original client reads one by one).  The
 * kept rows are in the original order (by delay), and with fewer users
 * than rows nobody is left out.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "exclient.h"

#define READERS 60

/* Rows of the user_summary array in meta (the array's top-level entries). */
static int summary_rows(const char *meta)
{
    const char *p = strstr(meta, "\"user_summary\":[");
    if (!p)
        return -1;
    p += strlen("\"user_summary\":[");
    int depth = 0, rows = 0;
    bool str = false;
    for (; *p; p++) {
        if (str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                str = false;
        } else if (*p == '"') {
            str = true;
        } else if (*p == '[') {
            if (depth++ == 0)
                rows++;
        } else if (*p == ']') {
            if (depth-- == 0)
                return rows;
        }
    }
    return -1;
}

/* The value of "user_summary_more", or -1. */
static long more_of(const char *meta)
{
    const char *p = strstr(meta, "\"user_summary_more\":");
    return p ? strtol(p + strlen("\"user_summary_more\":"), NULL, 10) : -1;
}

int main(void)
{
    CHECK_INIT(c);
    wr_t r;
    if (wr_open(&r, "test-summary", &(rig_opts_t){.ring_seconds = 32, .user_cap = 128, .seed = 11}, 2, 128) != 0)
        return 1;
    tick(&r, 50);
    static cl_t a, b, cc, rd[READERS];
    static char uid[READERS][24], name[READERS][24];
    a = (cl_t){.uid = "11111111111", .name = "Ann"};
    b = (cl_t){.uid = "22222222222", .name = "Bob"};
    cc = (cl_t){.uid = "33333333333", .name = "Cy"};
    connect_at(&a, &r, 6);
    connect_at(&b, &r, 9);
    connect_at(&cc, &r, 12);

    /* Before the readers: three users, three rows, none left out. */
    CHECK_EQ_I(c, post(&r, &a, "request_lead=1", NULL, NULL), 200);
    CHECK_EQ_I(c, post(&r, &b, NULL, NULL, NULL), 200);
    CHECK_EQ_I(c, post(&r, &cc, NULL, NULL, NULL), 200);
    tick(&r, 600);
    CHECK_EQ_I(c, post(&r, &a, "mark_start_singing=1", NULL, NULL), 200);
    CHECK_EQ_I(c, summary_rows(a.meta), 3);
    CHECK_EQ_I(c, more_of(a.meta), 0);

    for (int i = 0; i < READERS; i++) {
        snprintf(uid[i], sizeof uid[i], "9%010d", i);
        snprintf(name[i], sizeof name[i], "aaa%02d", i);
        rd[i] = (cl_t){.uid = uid[i], .name = name[i]};
        connect_at(&rd[i], &r, 1);
    }
    static float x[N];
    for (int i = 0; i < N; i++)
        x[i] = 0.1f;
    int rounds_checked = 0;
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < READERS; i++)
            CHECK_EQ_I(c, post(&r, &rd[i], NULL, NULL, NULL), 200);
        CHECK_EQ_I(c, post(&r, &a, NULL, x, NULL), 200);
        CHECK_EQ_I(c, post(&r, &b, NULL, x, NULL), 200);
        CHECK_EQ_I(c, post(&r, &cc, NULL, x, NULL), 200);
        tick(&r, 600);
        if (round < 2)
            continue;   /* the daemon's housekeeping has seen everyone */
        rounds_checked++;
        cl_t *seen[] = {&a, &b, &cc, &rd[0], &rd[READERS - 1]};
        for (size_t k = 0; k < sizeof seen / sizeof seen[0]; k++) {
            const char *m = seen[k]->meta;
            CHECK_EQ_I(c, summary_rows(m), 50);
            CHECK_EQ_I(c, more_of(m), READERS + 3 - 50);
            CHECK(c, has(m, "\"Ann\"") && has(m, "\"Bob\"") && has(m, "\"Cy\""));
            /* In the original order: by delay, so the readers at 1 s come
             * before Ann (6 s), Bob (9 s) and Cy (12 s), last. */
            const char *s = strstr(m, "\"user_summary\":[");
            CHECK(c, s && strstr(s, "\"aaa") < strstr(s, "\"Ann\"") && strstr(s, "\"Ann\"") < strstr(s, "\"Bob\"") &&
                         strstr(s, "\"Bob\"") < strstr(s, "\"Cy\""));
        }
    }
    CHECK_EQ_I(c, rounds_checked, 6);
    printf("test_summary: with %d readers and 3 singers, every summary kept the singers; %ld left out\n", READERS,
           more_of(a.meta));
    for (int i = 0; i < READERS; i++)
        cl_free(&rd[i]);
    cl_free(&a);
    cl_free(&b);
    cl_free(&cc);
    ex_destroy(r.ex);
    rig_close(&r.k);
    return check_done(&c, "test_summary");
}
