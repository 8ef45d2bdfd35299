/*
 * loadopts.h - bb-load's command line: what to load (addresses, singers,
 * spectators, offsets, a leader, churn), for how long, with which protocol
 * details, and what to measure (pids, a ramp and its bound).  `bb-load
 * --help` prints the whole list.
 */
#ifndef BB_LOADOPTS_H
#define BB_LOADOPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "bbconn.h"

#define LOAD_MAX_SINGERS 20000
#define LOAD_MAX_ADDRS 64
#define LOAD_MAX_OFFSETS 16
#define LOAD_MAX_ROOMS 256          /* a host's rooms (HS_ROOMS_MAX) */
#define LOAD_MAX_FLOOR_PASSES 20    /* --floor-passes: at most 20 s of decoding alone */

/* A room singers are sent to: its id and the singers' (or organiser's)
 * key, as the room's link carries them. */
typedef struct {
    char id[16];
    char key[48];
} load_room_t;

typedef struct {
    bbc_transport_t transport;
    char *addrs[LOAD_MAX_ADDRS];
    int naddrs;
    const char *path;
    int singers;
    int spectators;
    int offsets[LOAD_MAX_OFFSETS];
    int noffsets;
    int leader;             /* 1: singer 0 leads and starts a song */
    const char *track;
    double churn_s;         /* mean singer lifetime, 0 = no churn */
    double duration_s;
    double interval_s;
    double warmup_s;
    int batch;              /* n_samples */
    bool unaligned;
    bool decode;
    bool ignore_delay;
    bool no_summary;
    int placeholders;
    int write_lag_ms;       /* how far behind its read clock a singer writes */
    double voice_hz;
    int rests_pct;          /* --rests: the share of each phrase rested, 0: none */
    int bitrate;
    int fcgi_conns;
    bool no_keep;
    int timeout_ms;
    int max_lag;
    uint64_t seed;
    const char *pids_arg;
    const char *pid_glob;
    bool ramp;
    int ramp_start, ramp_step, ramp_max;
    double step_s;
    double p99_bound_ms;
    bool quiet;
    int floor_passes;       /* --floor-passes: decode-alone passes before and after */
    const char *rooms_file; /* --rooms-file; NULL: the default room */
    int nrooms;
    load_room_t rooms[LOAD_MAX_ROOMS];
} load_opts_t;

/* Parses argv into *o (defaults first).  Addresses point into *addr_store,
 * a copy of the target list the caller frees.  Prints the usage and exits 0
 * on --help.  Returns 0, or -1 having said why on stderr (bad usage). */
int load_opts_parse(int argc, char **argv, load_opts_t *o, char **addr_store);

#endif
