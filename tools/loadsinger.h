/*
 * loadsinger.h - bb-load's simulated singers: each slot's life (join with a
 * fresh userid, churn, rejoin), its role (the leader who starts a song,
 * singers, spectators), its schedule of batches in real time, and what an
 * answer means for it.
 */
#ifndef BB_LOADSINGER_H
#define BB_LOADSINGER_H

#include <stdint.h>

#include "load.h"
#include "loadreport.h"

/* Makes this module the loop's done function (load.h); call once first. */
void load_singer_init(loop_t *L);

/* Adds a slot of `role` (R_*) with a fresh singer, its first batch due
 * within one batch from now.  0, or -1 (no slot left, no memory). */
int load_singer_add(loop_t *L, int role);

/* Brings the number of live singers (not spectators) to `want`, singer 0
 * taking the lead when the options ask for a leader.  0 or -1. */
int load_singer_population(loop_t *L, int want);

/* Sends every batch due at `now` (monotonic ns). */
void load_singer_fire(loop_t *L, int64_t now);

/* Fails, as timed out, the requests that waited for a connection longer
 * than the timeout, and offers the others a connection again. */
void load_singer_scan_queued(loop_t *L);

/* Counts the singers of the interval that ends now (lrep_tally_t) and
 * starts the next interval. */
void load_singer_tally(loop_t *L, lrep_tally_t *t);

#endif
