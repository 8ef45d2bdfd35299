/*
 * shmd.c - bb-shmd, the host's daemon (see daemon.h for what it does).
 *
 * The main loop runs a tick, looks at the signalfd (so SIGTERM and SIGINT
 * stop it between ticks without any global flag), and sleeps until a
 * worker wakes it or 5 ms passed (100 ms while every room sleeps).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "daemon.h"
#include "media/recretain.h"
#include "stopfd.h"

#define TICK_MS 5
#define SLEEP_TICK_MS 100    /* between ticks while every room sleeps */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bb-shmd [OPTIONS]\n"
            "\n"
            "The Bucket Brigade daemon: owns the host's rooms and their audio timelines in\n"
            "shared memory; exactly one runs per host.\n"
            "\n"
            "  -s, --segment NAME        the host's shared-memory name (default /bb); each\n"
            "                            room's timeline is NAME-ROOMID\n"
            "      --db PATH             the rooms database (bb-room writes it); without it,\n"
            "                            only the default room\n"
            "      --no-default-room     no room for the original client, which has no links\n"
            "      --default-uploads     in the default room, its leader may upload tracks\n"
            "      --max-singers N       the most singers a room may have, 1..10000 (default:\n"
            "                            no limit but the user table)\n"
            "  -r, --ring-seconds N      timeline length in seconds, %d..%d (default %d);\n"
            "                            fixed when a room's segment is created\n"
            "  -u, --users N             user table capacity of a room (default %d)\n"
            "  -a, --audio-dir DIR       backing tracks (any format libsndfile reads)\n"
            "  -c, --cache-dir DIR       where prepared tracks are kept (not public)\n"
            "  -R, --recordings-dir DIR  where song recordings go (a room's in DIR/ROOMID/)\n"
            "  -k, --keep N              songs' recordings kept per room, the newest (default 20)\n"
            "      --keep-days D         recordings deleted D days after their song (default %d;\n"
            "                            0: kept until --keep or --recordings-bytes removes them)\n"
            "      --recordings-bytes SIZE  all rooms' recordings together take at most SIZE\n"
            "                            bytes (suffix K, M, G or T; default: no cap); the\n"
            "                            oldest songs of any room go first, never one being\n"
            "                            recorded; when nothing else is left to delete, the\n"
            "                            recording in progress stops and the song goes on\n"
            "  -d, --depth N             layering depth: buckets = N - 1 (default 5)\n"
            "  -h, --help                this text\n"
            "\n"
            "Started on an existing valid segment it re-attaches and carries on; it never\n"
            "clears a live timeline.  SIGTERM or SIGINT stop it cleanly.  Logs go to stderr.\n",
            SEG_RING_SECONDS_MIN, SEG_RING_SECONDS_MAX, SEG_RING_SECONDS_DEFAULT, SEG_USERS_DEFAULT,
            DMN_KEEP_DAYS);
}

static int num(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* The number optarg gives option --name into *out, or -1 after saying
 * what the option takes. */
static int num_opt(const char *name, long lo, long hi, long *out)
{
    if (num(optarg, lo, hi, out) == 0)
        return 0;
    fprintf(stderr, "bb-shmd: --%s must be %ld..%ld\n", name, lo, hi);
    return -1;
}

/* Reads the command line into *cfg (on top of its defaults). Returns -1
 * to go on, else the exit status: 0 after --help, 2 for a bad option. */
static int parse_args(int argc, char **argv, dmn_config_t *cfg)
{
    static const struct option opts[] = {
        {"segment", required_argument, 0, 's'},
        {"db", required_argument, 0, 'D'},
        {"no-default-room", no_argument, 0, 'n'},
        {"default-uploads", no_argument, 0, 'U'},
        {"max-singers", required_argument, 0, 'M'},
        {"ring-seconds", required_argument, 0, 'r'},
        {"users", required_argument, 0, 'u'},
        {"audio-dir", required_argument, 0, 'a'},
        {"cache-dir", required_argument, 0, 'c'},
        {"recordings-dir", required_argument, 0, 'R'},
        {"keep", required_argument, 0, 'k'},
        {"keep-days", required_argument, 0, 'K'},
        {"recordings-bytes", required_argument, 0, 'B'},
        {"depth", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int o;
    long v;
    while ((o = getopt_long(argc, argv, "s:r:u:a:c:R:k:d:h", opts, NULL)) != -1) {
        switch (o) {
        case 's': cfg->segment = optarg; break;
        case 'D': cfg->db_path = optarg; break;
        case 'n': cfg->default_room = false; break;
        case 'U': cfg->default_uploads = true; break;
        case 'M':
            if (num_opt("max-singers", 1, 10000, &v))
                return 2;
            cfg->max_singers = (uint32_t)v;
            break;
        case 'a': cfg->audio_dir = optarg; break;
        case 'c': cfg->cache_dir = optarg; break;
        case 'R': cfg->recordings_dir = optarg; break;
        case 'r':
            if (num_opt("ring-seconds", SEG_RING_SECONDS_MIN, SEG_RING_SECONDS_MAX, &v))
                return 2;
            cfg->ring_seconds = (uint32_t)v;
            break;
        case 'u':
            if (num_opt("users", 16, SEG_USERS_MAX, &v))
                return 2;
            cfg->user_cap = (uint32_t)v;
            break;
        case 'k':
            if (num_opt("keep", 1, 100000, &v))
                return 2;
            cfg->keep = (int32_t)v;
            break;
        case 'K':
            if (num_opt("keep-days", 0, 36500, &v))
                return 2;
            cfg->keep_days = (int32_t)v;
            break;
        case 'B':
            if (rec_parse_size(optarg, &cfg->rec_max_bytes) != 0) {
                fprintf(stderr, "bb-shmd: --recordings-bytes wants a size such as 500M or 20G\n");
                return 2;
            }
            break;
        case 'd':
            if (num_opt("depth", 3, 16, &v))
                return 2;
            cfg->depth = (int32_t)v;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bb-shmd: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* Options that are each fine but do not go together. Returns 0, or 2
 * (the exit status) after saying why. */
static int check_config(const dmn_config_t *cfg)
{
    if (cfg->segment[0] != '/' || strchr(cfg->segment + 1, '/')) {
        fprintf(stderr, "bb-shmd: --segment must look like /NAME\n");
        return 2;
    }
    if (!cfg->default_room && !cfg->db_path) {
        fprintf(stderr, "bb-shmd: --no-default-room needs --db: there would be no room at all\n");
        return 2;
    }
    if (cfg->audio_dir && !cfg->cache_dir) {
        fprintf(stderr, "bb-shmd: --audio-dir needs --cache-dir (prepared tracks are kept there)\n");
        return 2;
    }
    return 0;
}

/* The daemon until SIGTERM or SIGINT (or a failed poll). Returns the exit
 * status: 0 after a clean stop, 1 if it could not start. */
static int run(const dmn_config_t *cfg)
{
    int sfd = stopfd_open();
    if (sfd < 0) {
        fprintf(stderr, "bb-shmd: signalfd: %s\n", strerror(errno));
        return 1;
    }
    char why[512];
    dmn_t *d = dmn_create(cfg, why, sizeof why);
    if (!d) {
        fprintf(stderr, "bb-shmd: %s\n", why);
        return 1;
    }
    fprintf(stderr, "bb-shmd: running on %s (pid %d)\n", cfg->segment, (int)getpid());
    for (;;) {
        uint32_t seen = dmn_wake_word(d);
        dmn_tick(d, seg_now());
        struct pollfd p = {sfd, POLLIN, 0};
        int n = poll(&p, 1, 0);
        if (n > 0) {
            int sig = stopfd_read(sfd);
            if (sig) {
                fprintf(stderr, "bb-shmd: signal %d: stopping\n", sig);
                break;
            }
        } else if (n < 0 && errno != EINTR) {
            fprintf(stderr, "bb-shmd: poll: %s\n", strerror(errno));
            break;
        }
        /* Until the next tick, or sooner when a worker queued commands: a
         * singer's commands take effect before that singer's next request.
         * With every room asleep nothing needs the clock kept ahead, and
         * the ticks thin out (a worker's command still wakes at once). */
        dmn_wait(d, seen, (dmn_asleep(d) ? SLEEP_TICK_MS : TICK_MS) * 1000000LL);
    }
    dmn_destroy(d);
    close(sfd);
    fprintf(stderr, "bb-shmd: stopped; the segment stays for the next start\n");
    return 0;
}

int main(int argc, char **argv)
{
    dmn_config_t cfg;
    dmn_config_defaults(&cfg);
    int status = parse_args(argc, argv, &cfg);
    if (status >= 0)
        return status;
    if ((status = check_config(&cfg)) != 0)
        return status;
    return run(&cfg);
}
