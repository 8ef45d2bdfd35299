/*
 * ftest.h - what every fault test does the same way: its command line and
 * stack (ft_start()), a song led and started by a leader, waiting in real
 * time, and the common verdicts on a voice (no failure, never moved, heard
 * everything).  Clocks are the server's (srvclock.h).
 */
#ifndef BB_FTEST_H
#define BB_FTEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "choir.h"
#include "fstack.h"
#include "srvclock.h"

#define FT_RATE SRVCLOCK_RATE
#define FT_MAX_RECS 4096

/* The stack a fault test runs on, beyond the three paths of its command
 * line.  Give it with designated initialisers; what is left out takes the
 * value every fault test uses. */
typedef struct {
    const char *name;          /* test name, for the directory and segment */
    int workers;               /* 1 .. FS_MAX_WORKERS; 0: 2 */
    int users;                 /* bb-shmd --users; 0: its default */
    int depth;                 /* bb-shmd --depth; 0: 4 */
    bool recordings;           /* recordings and stems on */
    fs_sockets_t sockets;      /* FS_LISTEN (the default) or FS_HELD */
    bool rooms;                /* a rooms database (fs_room_create()) */
    bool no_default_room;      /* no room for the original client */
    bool default_uploads;      /* the default room's leader may upload */
    const char *modes;         /* the test's variants, "a|b": a fourth
                                  argument naming one of them; NULL: none */
} ft_setup_t;

/* The fourth argument, when the command line has one that is one of
 * `modes` ("a|b"); else NULL. */
static inline const char *ft_mode(int argc, char **argv, const char *modes)
{
    if (argc != 5 || modes == NULL)
        return NULL;
    size_t n = strlen(argv[4]);
    for (const char *m = modes; *m;) {
        const char *bar = strchr(m, '|');
        size_t len = bar ? (size_t)(bar - m) : strlen(m);
        if (len == n && strncmp(m, argv[4], n) == 0)
            return argv[4];
        m += len + (bar != NULL);
    }
    return NULL;
}

/* What every fault test does first: checks its command line
 * (BB_SHMD BB_WORKER SOURCE_DIR, then one of setup->modes when it has
 * some) and starts the stack.  Returns the stack, or NULL with *status set
 * to the exit status: 2 after printing the usage, 1 when the stack did not
 * start (fs_start() said why). */
static inline fs_t *ft_start(int argc, char **argv, const ft_setup_t *setup, int *status)
{
    if (argc != (setup->modes ? 5 : 4) || (setup->modes && !ft_mode(argc, argv, setup->modes))) {
        fprintf(stderr, "usage: %s BB_SHMD BB_WORKER SOURCE_DIR%s%s\n", argv[0],
                setup->modes ? " " : "", setup->modes ? setup->modes : "");
        *status = 2;
        return NULL;
    }
    fs_config_t fc = {
        .shmd = argv[1], .worker = argv[2], .src = argv[3],
        .n_workers = setup->workers ? setup->workers : 2,
        .users = setup->users,
        .depth = setup->depth ? setup->depth : 4,
        .recordings = setup->recordings,
        .sockets = setup->sockets,
        .name = setup->name,
        .rooms = setup->rooms,
        .no_default_room = setup->no_default_room,
        .default_uploads = setup->default_uploads,
    };
    fs_t *fs = fs_start(&fc);
    *status = 1;
    return fs;
}

/* Seconds from clock a to clock b. */
static inline double ft_secs(int64_t a, int64_t b) { return (double)(b - a) / FT_RATE; }

/* A singing voice of a fault test: its bucket (seconds), its pitch and the
 * worker nginx must send it to. */
typedef struct {
    const char *name;
    int offset, hz, worker;
} ft_spec_t;

/* Adds a voice per spec to ch, each with a userid that nginx shards to the
 * spec's worker (searched from seed + i * step).  Returns 0, or -1 having
 * said why on stderr. */
static inline int ft_add_voices(fs_t *fs, ch_choir_t *ch, const ft_spec_t *spec, int n,
                                unsigned seed, unsigned step, ch_voice_t **v)
{
    for (int i = 0; i < n; i++) {
        char uid[24];
        if (fs_userid_for(fs, spec[i].worker, seed + (unsigned)i * step, uid, sizeof uid) != 0) {
            fprintf(stderr, "no userid found for worker %d\n", spec[i].worker);
            return -1;
        }
        ch_voice_cfg_t vc = {.name = spec[i].name, .userid = uid, .offset_s = spec[i].offset, .hz = spec[i].hz};
        v[i] = ch_voice_add(ch, &vc);
        if (!v[i])
            return -1;
    }
    return 0;
}

/* Starts every voice and waits until each has had two good exchanges. */
static inline int ft_start_voices(ch_voice_t **v, int n)
{
    for (int i = 0; i < n; i++)
        if (ch_voice_start(v[i]) != 0)
            return -1;
    for (int i = 0; i < n; i++)
        if (ch_wait_ok(v[i], 2, 10000) != 0) {
            fprintf(stderr, "voice %s did not get going\n", ch_name(v[i]));
            return -1;
        }
    return 0;
}

/* The leader leads and starts; returns the song's start clock once every
 * voice has been told it, or 0. */
static inline int64_t ft_song(ch_voice_t *leader, ch_voice_t **v, int n)
{
    ch_lead(leader);
    if (ch_wait_ok(leader, 2, 5000) != 0)
        return 0;
    ch_start_song(leader);
    int64_t start = 0;
    for (int tries = 0; tries < 100; tries++) {
        int told = 0;
        for (int i = 0; i < n; i++) {
            ch_rec_t r;
            if (ch_last(v[i], &r) && r.song_start) {
                start = r.song_start;
                told++;
            }
        }
        if (told == n)
            return start;
        fs_sleep_ms(100);
    }
    return 0;
}

/* What most fault tests do once the stack runs: a choir of n voices
 * placed on workers per spec (ft_add_voices(), from userid seed on in
 * steps of step), started, and a song led and started by the first.
 * Returns the choir with *start set to the song's start clock (0 if it did
 * not start), or NULL when the voices could not be made or did not get
 * going (having dumped the stack's logs). */
static inline ch_choir_t *ft_choir(fs_t *fs, const ft_spec_t *spec, int n, unsigned seed,
                                   unsigned step, ch_voice_t **v, int64_t *start)
{
    ch_choir_t *ch = ch_choir_new(fs_http(fs));
    if (!ch || ft_add_voices(fs, ch, spec, n, seed, step, v) != 0 || ft_start_voices(v, n) != 0) {
        fs_dump_logs(fs, 20);
        ch_choir_free(ch);
        return NULL;
    }
    *start = ft_song(v[0], v, n);
    return ch;
}

/* The exchanges of v as a fresh array (free it); *n their number. */
static inline ch_rec_t *ft_recs(ch_voice_t *v, int *n)
{
    ch_rec_t *r = calloc(FT_MAX_RECS, sizeof *r);
    int k = r ? ch_records(v, r, FT_MAX_RECS) : 0;
    *n = k < FT_MAX_RECS ? k : FT_MAX_RECS;
    return r;
}

/* Prints each failed exchange of v. */
static inline void ft_print_failures(ch_voice_t *v)
{
    int n;
    ch_rec_t *r = ft_recs(v, &n);
    for (int i = 0; r && i < n; i++)
        if (r[i].rc != 0)
            printf("  %s: exchange %d failed: HTTP %d, %s (read clock %" PRId64 ")\n", ch_name(v), i,
                   r[i].status, r[i].message, r[i].read_clock);
    free(r);
}

/* Clocks lost from v's voice during the song [start, end): the holes between
 * what it certainly wrote, from its first write to its last.  Prints them. */
static inline int64_t ft_lost(ch_voice_t *v, int64_t start, int64_t end, int *holes)
{
    static ch_span_t sure[1024], maybe[1024];
    int nm = 0;
    int ns = ch_written(v, start, end, sure, 1024, maybe, 1024, &nm);
    int64_t lost = 0;
    *holes = 0;
    for (int i = 1; i < ns && i < 1024; i++) {
        int64_t gap = sure[i].a - sure[i - 1].b;
        if (gap <= 0)
            continue;
        (*holes)++;
        lost += gap;
        printf("  %s: nothing certainly written over clocks [%" PRId64 ", %" PRId64 "): %.3f s%s\n",
               ch_name(v), sure[i - 1].b, sure[i].a, ft_secs(0, gap),
               nm ? " (a request that failed may have written part of it)" : "");
    }
    return lost;
}

/* Every judged frame of `listener` has `source` where it was written and
 * nowhere else, at the level of the mix. */
static inline void ft_check_heard_all(check_t *c, ch_choir_t *ch, ch_voice_t *listener,
                                      ch_voice_t *source, int64_t start, int64_t end, int64_t from,
                                      int64_t to, int max_gap_frames)
{
    ch_heard_t h;
    ch_heard(ch, listener, source, start, end, from, to, &h);
    ch_heard_print(listener, source, &h);
    CHECK(*c, h.expect_on > 0);
    if (max_gap_frames == 0)
        CHECK_EQ_I(*c, h.missing, 0);
    else
        CHECK(*c, h.longest_gap <= max_gap_frames);
    CHECK_EQ_I(*c, h.stray, 0);
    /* Opus keeps a steady tone's level within a few per cent; allow a few
     * frames out of range where a voice's own onset blurs the window. */
    CHECK(*c, h.level_bad * 100 <= h.level_checked);
}

#endif
