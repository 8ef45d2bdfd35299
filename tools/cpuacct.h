/*
 * cpuacct.h - where the load generator's CPU figures come from: the CPU
 * time of the server processes it watches (from /proc/PID/stat), its own,
 * and the decode floor it compares them with.
 *
 * A cpuacct_t holds the watched pids and what each had used at the last
 * reading; a zeroed one watches nothing.  Linux only (/proc).
 */
#ifndef BB_CPUACCT_H
#define BB_CPUACCT_H

#include "bbpreenc.h"

#define CPUACCT_MAX_PIDS 64

typedef struct {
    int pids[CPUACCT_MAX_PIDS];
    double last[CPUACCT_MAX_PIDS];   /* CPU seconds at the last reading, -1: gone */
    int n;
} cpuacct_t;

/* Watches the pids listed in pids_arg ("PID[,PID...]", may be NULL) and
 * those in the files matching pid_glob (each holding one or more pids; may
 * be NULL).  Unreadable files, duplicates and pids beyond
 * CPUACCT_MAX_PIDS are skipped. */
void cpuacct_watch(cpuacct_t *c, const char *pids_arg, const char *pid_glob);

/* CPU seconds the watched processes used since the last call (or since
 * they were watched); a process that went away counts no more. */
double cpuacct_delta(cpuacct_t *c);

/* This process's user + system CPU seconds so far. */
double cpuacct_self(void);

/* The floor a server cannot go below: the CPU of decoding the voice the
 * singers send, alone, with a decoder per singer (64 here) each taking its
 * 600 ms batch in turn at its own place in the voice, as a worker does.
 * Measured in this process, at the time of the run, so that a figure can be
 * read against it on a shared machine.  Returns singers per core, 0 when it
 * could not be measured. */
double cpuacct_decode_floor(const bbc_preenc_t *pre);

#endif
