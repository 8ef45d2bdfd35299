/*
 * bbmeta.h - the X-Audio-Metadata header of an answer (PROTOCOL.md 5.2),
 * parsed with cJSON into the fields a singer checks and reports.
 *
 * Only the JSON shape is checked here: a field of the wrong type reads as
 * absent, and what the values mean is the singer's business (bbsinger.h).
 */
#ifndef BB_BBMETA_H
#define BB_BBMETA_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bbcore.h"

/* A parsed X-Audio-Metadata header.  The cJSON pointers point into `root`
 * and live until the next bbc_meta_parse() or bbc_meta_free() on it. */
typedef struct {
    cJSON *root;                  /* the whole object (owned) */
    bool have_server_clock;
    int64_t server_clock;
    int server_sample_rate;       /* 0 when absent */
    bool have_client_read_clock;
    int64_t client_read_clock;
    bool have_client_write_clock; /* false when absent or null */
    int64_t client_write_clock;
    bool have_n_samples;
    int64_t n_samples;
    bool have_leader;             /* false when absent or null */
    char leader[64];              /* as text (a number is printed as an integer) */
    char leader_name[128];
    char public_id[64];
    bool have_song_start;
    int64_t song_start_clock;
    bool have_song_end;
    int64_t song_end_clock;
    bool have_delay;              /* delay_seconds present */
    int delay_seconds;
    bool have_bpm, have_repeats, have_bpr;
    int bpm, repeats, bpr;        /* a JSON null reads as 0 with have_* true */
    bool kill_client;
    char message[512];            /* kill_client message */
    bool have_n_users;
    int n_users;
    char worker[32];              /* "worker" field, else the X-Worker-Id header */
    char role[16];                /* "role": organiser, leader, singer or listener; "" if absent */
    const cJSON *refused;         /* "refused": array of sentences, or NULL when absent */
    const cJSON *chats;           /* array of [name, message], or NULL */
    const cJSON *user_summary;    /* array of 6-element rows, or NULL when absent */
    const cJSON *events;          /* array of {evid, clock}, or NULL */
    const cJSON *tracks;          /* array of strings, or NULL */
    const cJSON *buckets;         /* array of seconds, or NULL */
} bbc_meta_t;

/* One user_summary row. */
typedef struct {
    int delay_s;
    const char *name;
    double mic_volume;
    const char *id;               /* the row's id as text (public id) */
    bool is_monitoring;
    bool is_monitored;
} bbc_user_t;

/* Parses json into m, replacing what m held (m must be zeroed before its
 * first use).  Only the JSON shape is checked here: a field of the wrong
 * type reads as absent.  Returns 0, or BBC_EMETA if json is not an object
 * (m is then empty). */
int bbc_meta_parse(bbc_meta_t *m, const char *json);

/* Frees what m holds and zeroes it.  Accepts NULL. */
void bbc_meta_free(bbc_meta_t *m);

/* Number of chats, and chat i as (name, text); returns 0 or BBC_EPARAM. */
int bbc_meta_chat_count(const bbc_meta_t *m);
int bbc_meta_chat(const bbc_meta_t *m, int i, const char **name, const char **text);

/* Number of sentences in "refused" (0 when absent), and sentence i (NULL
 * when i is out of range or the entry is not a string). */
int bbc_meta_refused_count(const bbc_meta_t *m);
const char *bbc_meta_refused(const bbc_meta_t *m, int i);

/* True if "refused" holds exactly this sentence. */
bool bbc_meta_was_refused(const bbc_meta_t *m, const char *sentence);

/* Number of user_summary rows (0 when absent), and row i; returns 0 or
 * BBC_EPARAM (index out of range or a malformed row). */
int bbc_meta_user_count(const bbc_meta_t *m);
int bbc_meta_user(const bbc_meta_t *m, int i, bbc_user_t *u);

#endif
