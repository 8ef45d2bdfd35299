/*
 * loadopts.c - bb-load's command line (loadopts.h).
 */
#include "loadopts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
"usage: bb-load (--http HOST:PORT | --fcgi ADDR[,ADDR...]) [options]\n"
"\n"
"Simulated Bucket Brigade singers speaking the real protocol: pre-encoded\n"
"Opus uploads in 600 ms batches, paced in real time, checked answers.\n"
"Traffic goes only to loopback addresses (127.0.0.0/8, ::1) or unix sockets;\n"
"any other address is refused.  Runs for at most --duration seconds.\n"
"\n"
"Target (one of):\n"
"  --http HOST:PORT         nginx, HTTP/1.1 keep-alive, one connection per singer\n"
"  --fcgi ADDR[,ADDR...]    worker FastCGI sockets: HOST:PORT, [::1]:PORT or\n"
"                           unix:/path; each singer is tied to one socket\n"
"                           (hash of its userid modulo the count)\n"
"Population:\n"
"  --singers N              simulated singers, 1..%d (default 10)\n"
"  --spectators N           listeners that upload nothing (default 0)\n"
"  --offsets LIST           bucket delays in seconds singers are spread over\n"
"                           (default 3,6,9,12; leader in the first, spectators\n"
"                           in the last)\n"
"  --no-leader              no leader (by default singer 0 takes the lead and\n"
"                           starts a song, which moves everyone to new buckets)\n"
"  --track NAME             the leader picks this backing track before starting\n"
"  --rooms-file FILE        spread the singers over these rooms, one per line as\n"
"                           \"ID KEY\" (a room's id and its singers' key, as its link\n"
"                           carries them; at most 256); singer i goes to room\n"
"                           i mod N and each room's first singer leads (default:\n"
"                           the default room, no key)\n"
"  --churn SECONDS          singers leave after a random lifetime of this mean and\n"
"                           someone new (a new userid) joins 1-3 s later\n"
"  --ignore-delay           do not follow delay_seconds moves\n"
"Timing:\n"
"  --duration SECONDS       total run time, 1..86400 (default 10)\n"
"  --interval SECONDS       report interval (default 5)\n"
"  --warmup SECONDS         leave intervals that end within this many seconds\n"
"                           out of the CPU figures (default: the first interval)\n"
"  --batch N                samples per POST, a multiple of 2880 (default 28800)\n"
"  --timeout-ms MS          per request, queueing included (default 5000)\n"
"  --max-lag N              batches a singer may fall behind before it gives up\n"
"                           and reconnects, as a browser would (default 4)\n"
"Protocol details:\n"
"  --path PATH              API path (default /api)\n"
"  --unaligned              clocks not on 2880-sample frames (the original client)\n"
"  --placeholders N         empty batches after each connect before singing\n"
"                           (default 2, like the browser's lead-in)\n"
"  --write-lag-ms MS        how far behind its read clock a singer's voice\n"
"                           lands: a batch, the browser's 1 s playback lead-in\n"
"                           and its audio latency (default 1800; 0 writes where\n"
"                           it reads, into frames its bucket is still hearing)\n"
"  --decode                 decode every answer with Opus (default: check packet\n"
"                           framing and lengths only, which costs no CPU)\n"
"  --no-summary             send summary=0 (extension; smaller answers)\n"
"  --voice-hz HZ            pitch of the pre-encoded voice (default 220)\n"
"  --bitrate BPS            bit rate of the pre-encoded voice (default 64000)\n"
"  --rests PCT              the voice sings in phrases of 6 s, each ending in a\n"
"                           rest of PCT%% of it (0..90; default 0: no rests),\n"
"                           encoded with DTX as the browser client does; the\n"
"                           singers start at random places of the voice, so\n"
"                           their rests are staggered\n"
"  --fcgi-conns N           kept-alive connections per worker socket, opened as\n"
"                           requests overlap, as nginx does (default 4; use 1\n"
"                           for a responder that reads only one kept-alive\n"
"                           connection at a time, a plain FCGX_Accept_r loop)\n"
"  --no-keep                close the connection after every request\n"
"  --seed N                 random seed (userids, phases); printed at start\n"
"Measurement:\n"
"  --pids PID[,PID...]      processes whose CPU time is measured (server side)\n"
"  --pidfile-glob PATTERN   files holding pids (one or more each), e.g.\n"
"                           'run/*.pid'\n"
"  --ramp START:STEP:MAX    start with START singers, add STEP every\n"
"                           --step-seconds until MAX, p99 above the bound or any\n"
"                           error; reports the last level that held\n"
"  --step-seconds S         length of a ramp step (default 10)\n"
"  --p99-bound-ms MS        ramp bound on the p99 latency counted from when a\n"
"                           batch is due (default 50)\n"
"  --floor-passes N         measure decoding alone N times before the run and N\n"
"                           times after (about half a second each; 1..%d,\n"
"                           default 1) and take the median: the host's speed\n"
"                           wanders, and the floor should average it as the\n"
"                           run does\n"
"  --quiet                  no per-error lines on stderr\n"
"  --help                   this text\n"
"\n"
"Output: a line per interval, then 'key: value' lines ending with\n"
"singers, p50_ms, p99_ms, errors, desyncs, decode_alone_singers_per_core (the\n"
"floor: the same voice decoded alone in this process, before and after the\n"
"run: the median of its passes, and decode_alone_range the lowest and highest\n"
"pass), of_decode_alone (singers_per_core over that floor, comparable across\n"
"machines and moments) and singers_per_core (CPU of the watched processes per\n"
"sustained singer-second, inverted; n/a without --pids). p50_ms / p99_ms / max_ms run from sending a POST to receiving its\n"
"whole answer; the *_due_ms variants from when the batch was due, which\n"
"adds any wait for a connection or for the previous answer. Exit status 0\n"
"when the run had no errors, 1 otherwise, 2 on bad usage.\n",
            LOAD_MAX_SINGERS, LOAD_MAX_FLOOR_PASSES);
}

static int parse_list_int(const char *s, int *out, int max, int lo, int hi)
{
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v < lo || v > hi || n >= max) {
            free(copy);
            return -1;
        }
        out[n++] = (int)v;
    }
    free(copy);
    return n;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || !*s || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static void set_defaults(load_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->path = "/api";
    o->singers = 10;
    o->leader = 1;
    o->duration_s = 10;
    o->interval_s = 5;
    o->warmup_s = -1;
    o->batch = BBC_BATCH;
    o->placeholders = 2;
    o->write_lag_ms = 1800;
    o->voice_hz = 220;
    o->bitrate = 64000;
    o->fcgi_conns = 4;
    o->floor_passes = 1;
    o->timeout_ms = 5000;
    o->max_lag = 4;
    o->step_s = 10;
    o->p99_bound_ms = 50;
    o->noffsets = parse_list_int("3,6,9,12", o->offsets, LOAD_MAX_OFFSETS, 1, 1000);
}

/* Reads the options into o; *target gets the --http/--fcgi value. */
static int read_options(int argc, char **argv, load_opts_t *o, const char **target)
{
    enum {
        O_HTTP = 256, O_FCGI, O_SINGERS, O_SPECT, O_OFFSETS, O_NOLEAD, O_TRACK, O_CHURN, O_IGNDELAY,
        O_DURATION, O_INTERVAL, O_WARMUP, O_BATCH, O_TIMEOUT, O_MAXLAG, O_PATH, O_UNALIGNED, O_PLACEHOLDERS, O_WRITELAG,
        O_DECODE, O_NOSUMMARY, O_VOICE, O_RESTS, O_BITRATE, O_FCONNS, O_NOKEEP, O_SEED, O_PIDS, O_PIDGLOB,
        O_RAMP, O_STEPS, O_P99, O_QUIET, O_ROOMS, O_FLOOR, O_HELP
    };
    static const struct option lo[] = {
        { "http", required_argument, 0, O_HTTP },
        { "fcgi", required_argument, 0, O_FCGI },
        { "singers", required_argument, 0, O_SINGERS },
        { "spectators", required_argument, 0, O_SPECT },
        { "offsets", required_argument, 0, O_OFFSETS },
        { "no-leader", no_argument, 0, O_NOLEAD },
        { "track", required_argument, 0, O_TRACK },
        { "churn", required_argument, 0, O_CHURN },
        { "ignore-delay", no_argument, 0, O_IGNDELAY },
        { "duration", required_argument, 0, O_DURATION },
        { "interval", required_argument, 0, O_INTERVAL },
        { "warmup", required_argument, 0, O_WARMUP },
        { "batch", required_argument, 0, O_BATCH },
        { "timeout-ms", required_argument, 0, O_TIMEOUT },
        { "max-lag", required_argument, 0, O_MAXLAG },
        { "path", required_argument, 0, O_PATH },
        { "unaligned", no_argument, 0, O_UNALIGNED },
        { "placeholders", required_argument, 0, O_PLACEHOLDERS },
        { "write-lag-ms", required_argument, 0, O_WRITELAG },
        { "decode", no_argument, 0, O_DECODE },
        { "no-summary", no_argument, 0, O_NOSUMMARY },
        { "voice-hz", required_argument, 0, O_VOICE },
        { "bitrate", required_argument, 0, O_BITRATE },
        { "rests", required_argument, 0, O_RESTS },
        { "fcgi-conns", required_argument, 0, O_FCONNS },
        { "no-keep", no_argument, 0, O_NOKEEP },
        { "seed", required_argument, 0, O_SEED },
        { "pids", required_argument, 0, O_PIDS },
        { "pidfile-glob", required_argument, 0, O_PIDGLOB },
        { "ramp", required_argument, 0, O_RAMP },
        { "step-seconds", required_argument, 0, O_STEPS },
        { "p99-bound-ms", required_argument, 0, O_P99 },
        { "quiet", no_argument, 0, O_QUIET },
        { "rooms-file", required_argument, 0, O_ROOMS },
        { "floor-passes", required_argument, 0, O_FLOOR },
        { "help", no_argument, 0, O_HELP },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case O_HTTP: o->transport = BBC_HTTP; *target = optarg; break;
        case O_FCGI: o->transport = BBC_FCGI; *target = optarg; break;
        case O_SINGERS: ok = parse_int(optarg, 1, LOAD_MAX_SINGERS, &o->singers); break;
        case O_SPECT: ok = parse_int(optarg, 0, LOAD_MAX_SINGERS / 2, &o->spectators); break;
        case O_OFFSETS:
            o->noffsets = parse_list_int(optarg, o->offsets, LOAD_MAX_OFFSETS, 1, 1000);
            ok = o->noffsets > 0;
            break;
        case O_NOLEAD: o->leader = 0; break;
        case O_TRACK: o->track = optarg; ok = *optarg != 0; break;
        case O_CHURN: ok = parse_double(optarg, 1, 1e6, &o->churn_s); break;
        case O_IGNDELAY: o->ignore_delay = true; break;
        case O_DURATION: ok = parse_double(optarg, 1, 86400, &o->duration_s); break;
        case O_INTERVAL: ok = parse_double(optarg, 0.5, 3600, &o->interval_s); break;
        case O_WARMUP: ok = parse_double(optarg, 0, 3600, &o->warmup_s); break;
        case O_BATCH: ok = parse_int(optarg, BBC_FRAME, BBC_MAX_BATCH, &o->batch) && o->batch % BBC_FRAME == 0; break;
        case O_TIMEOUT: ok = parse_int(optarg, 10, 600000, &o->timeout_ms); break;
        case O_MAXLAG: ok = parse_int(optarg, 1, 1000, &o->max_lag); break;
        case O_PATH: o->path = optarg; ok = optarg[0] == '/'; break;
        case O_UNALIGNED: o->unaligned = true; break;
        case O_PLACEHOLDERS: ok = parse_int(optarg, 0, 100, &o->placeholders); break;
        case O_WRITELAG: ok = parse_int(optarg, 0, 10000, &o->write_lag_ms); break;
        case O_DECODE: o->decode = true; break;
        case O_NOSUMMARY: o->no_summary = true; break;
        case O_VOICE: ok = parse_double(optarg, 50, 2000, &o->voice_hz); break;
        case O_RESTS: ok = parse_int(optarg, 0, 90, &o->rests_pct); break;
        case O_BITRATE: ok = parse_int(optarg, 6000, 510000, &o->bitrate); break;
        case O_FCONNS: ok = parse_int(optarg, 1, 1024, &o->fcgi_conns); break;
        case O_NOKEEP: o->no_keep = true; break;
        case O_SEED: o->seed = strtoull(optarg, NULL, 10); break;
        case O_PIDS: o->pids_arg = optarg; break;
        case O_PIDGLOB: o->pid_glob = optarg; break;
        case O_RAMP:
            o->ramp = true;
            ok = sscanf(optarg, "%d:%d:%d", &o->ramp_start, &o->ramp_step, &o->ramp_max) == 3 &&
                 o->ramp_start >= 1 && o->ramp_step >= 1 && o->ramp_max >= o->ramp_start &&
                 o->ramp_max <= LOAD_MAX_SINGERS;
            break;
        case O_STEPS: ok = parse_double(optarg, 1, 86400, &o->step_s); break;
        case O_P99: ok = parse_double(optarg, 0.01, 1e6, &o->p99_bound_ms); break;
        case O_QUIET: o->quiet = true; break;
        case O_ROOMS: o->rooms_file = optarg; break;
        case O_FLOOR: ok = parse_int(optarg, 1, LOAD_MAX_FLOOR_PASSES, &o->floor_passes); break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (!ok) {
            fprintf(stderr, "bb-load: bad value for --%s: %s\n", lo[c - O_HTTP].name, optarg ? optarg : "");
            return -1;
        }
    }
    return 0;
}

/* Whether s is 1..max-1 characters of [0-9A-Za-z_-] (ids and keys). */
static bool token_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

/* Reads --rooms-file: "ID KEY" per line; blank lines and # comments
 * skipped. */
static int read_rooms(load_opts_t *o)
{
    FILE *f = fopen(o->rooms_file, "r");
    if (!f) {
        fprintf(stderr, "bb-load: cannot read %s: %s\n", o->rooms_file, strerror(errno));
        return -1;
    }
    char line[256];
    int n = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        n++;
        char id[64], key[64], extra[8];
        int k = sscanf(line, "%63s %63s %7s", id, key, extra);
        if (k <= 0 || id[0] == '#')
            continue;
        if (k != 2 || !token_ok(id, sizeof o->rooms[0].id) || !token_ok(key, sizeof o->rooms[0].key)) {
            fprintf(stderr, "bb-load: %s line %d: want \"ID KEY\"\n", o->rooms_file, n);
            rc = -1;
        } else if (o->nrooms == LOAD_MAX_ROOMS) {
            fprintf(stderr, "bb-load: %s: at most %d rooms\n", o->rooms_file, LOAD_MAX_ROOMS);
            rc = -1;
        } else {
            snprintf(o->rooms[o->nrooms].id, sizeof o->rooms[0].id, "%s", id);
            snprintf(o->rooms[o->nrooms].key, sizeof o->rooms[0].key, "%s", key);
            o->nrooms++;
        }
    }
    fclose(f);
    if (rc == 0 && o->nrooms == 0) {
        fprintf(stderr, "bb-load: %s names no room\n", o->rooms_file);
        rc = -1;
    }
    return rc;
}

int load_opts_parse(int argc, char **argv, load_opts_t *o, char **addr_store)
{
    const char *target = NULL;

    set_defaults(o);
    if (read_options(argc, argv, o, &target) < 0)
        return -1;
    if (optind < argc) {
        fprintf(stderr, "bb-load: unexpected argument: %s\n", argv[optind]);
        return -1;
    }
    if (!target) {
        fprintf(stderr, "bb-load: give --http HOST:PORT or --fcgi ADDR[,ADDR...]\n");
        return -1;
    }
    *addr_store = strdup(target);
    if (!*addr_store)
        return -1;
    char *save = NULL;
    for (char *t = strtok_r(*addr_store, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->naddrs >= LOAD_MAX_ADDRS) {
            fprintf(stderr, "bb-load: at most %d addresses\n", LOAD_MAX_ADDRS);
            return -1;
        }
        o->addrs[o->naddrs++] = t;
    }
    if (o->transport == BBC_HTTP && o->naddrs != 1) {
        fprintf(stderr, "bb-load: --http takes one address\n");
        return -1;
    }
    if (o->ramp)
        o->singers = o->ramp_start;
    return o->rooms_file ? read_rooms(o) : 0;
}
