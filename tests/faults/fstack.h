/*
 * fstack.h - a whole Bucket Brigade stack started and stopped by one fault
 * test: the real daemon (bb-shmd), 1 to FS_MAX_WORKERS real workers
 * (bb-worker) and real nginx, configured from the deploy templates (the same
 * bb-*.conf files as production and the local run), on a free loopback port
 * and unix sockets in a temporary directory.
 *
 * The test plays systemd: it starts each process itself, so it can kill one
 * (kill -9, SIGSTOP) and restart it at the moment it chooses.  Workers run
 * in one of two ways:
 *
 *   FS_LISTEN   each worker makes its own socket (--listen unix:...), as the
 *               local run does.  A dead worker's socket refuses connections,
 *               so nginx skips it (fastcgi_next_upstream) and its singers
 *               move to the next worker on the hash ring.
 *   FS_HELD     the test holds each worker's listening socket and hands it
 *               to the worker as descriptor 0, as systemd's
 *               bucket-brigade-worker@N.socket does in production
 *               (StandardInput=socket).  The socket outlives the worker:
 *               requests wait in its backlog until the worker is back.
 *
 * Rooms: with `rooms` set the daemon keeps its rooms in DIR/rooms.db
 * (bb-shmd --db), and fs_room_create() adds one there, as bb-room does,
 * and waits until the workers serve it.  Without it the stack has only the
 * default room, as before rooms existed.
 *
 * Every process's output goes to DIR/logs/NAME.log (appended across
 * restarts).  Children die with the test (PR_SET_PDEATHSIG), and fs_stop()
 * (also run at exit and on SIGINT / SIGTERM) stops them, removes the
 * shared-memory segment and the temporary directory (kept with
 * BB_KEEP_TMP=1).  Call everything from the main thread: the children's
 * death signal is tied to the thread that forked them.
 */
#ifndef BB_FSTACK_H
#define BB_FSTACK_H

#include <stdbool.h>
#include <sys/types.h>

#define FS_MAX_WORKERS 4

typedef enum { FS_LISTEN = 0, FS_HELD = 1 } fs_sockets_t;

typedef struct {
    const char *shmd;        /* path of bb-shmd */
    const char *worker;      /* path of bb-worker */
    const char *src;         /* the source tree (deploy/ templates) */
    int n_workers;           /* 1 .. FS_MAX_WORKERS; worker ids are 1 .. n */
    int users;               /* bb-shmd --users; 0: its default */
    int depth;               /* bb-shmd --depth; 0: its default */
    bool recordings;         /* recordings (daemon) and stems (workers) */
    fs_sockets_t sockets;
    const char *name;        /* test name, for the directory and segment */
    bool rooms;              /* a rooms database: bb-shmd --db DIR/rooms.db */
    bool no_default_room;    /* bb-shmd --no-default-room (needs rooms) */
    bool default_uploads;    /* bb-shmd --default-uploads: the default room's
                                leader may upload tracks */
} fs_config_t;

/* The most rooms one stack creates with fs_room_create(). */
#define FS_MAX_ROOMS 8

/* A room made by fs_room_create(): its id and the keys of its two links
 * (secrets: a test never prints them). */
typedef struct {
    char id[16];
    char singer_key[32];
    char organiser_key[32];
} fs_room_t;

typedef struct fs fs_t;

/* Starts the daemon, the workers and nginx, and waits until nginx answers
 * the clock probe.  Returns NULL (having said why on stderr and cleaned up)
 * on failure.  One stack per process. */
fs_t *fs_start(const fs_config_t *cfg);

/* Stops nginx, the workers and the daemon (TERM, then KILL after 5 s),
 * removes the segment and the directory.  Accepts NULL; runs once. */
void fs_stop(fs_t *fs);

/* "unix:/PATH" of worker `id`'s operator socket (metrics, profiling), for
 * bbclient's BBC_HTTP transport; valid until the next call. */
const char *fs_ops(fs_t *fs, int id);

/* Creates a room named `name` (max_singers: 0 for the host's default) in
 * the stack's rooms database, with rdb_create() as bb-room does, and waits
 * at most 10 s until a GET /api/room with its singers' key answers 200
 * through nginx (the daemon polls the database twice a second).  Fills
 * *out.  Returns 0, or -1 having said why on stderr (no rooms database,
 * FS_MAX_ROOMS rooms made already, the database refused, not served in
 * time). */
int fs_room_create(fs_t *fs, const char *name, int max_singers, fs_room_t *out);

/* One request through nginx on the stack's own kept-alive connection:
 * method and path ("/api/room"), query (no '?'; NULL for none), body (len
 * bytes; NULL for none).  Writes the HTTP status to *status and the body,
 * NUL-terminated and cut to fit, to out (cap bytes; out may be NULL).
 * Returns 0, or -1 when no answer came within 10 s. */
int fs_request(fs_t *fs, const char *method, const char *path, const char *query, const void *body,
               size_t len, int *status, char *out, size_t cap);

/* The host segment's name ("/bb-fault-NAME-PID"); a room's timeline is
 * NAME-ROOMID (hs_room_segment()). */
const char *fs_segment(const fs_t *fs);

/* "127.0.0.1:PORT" of nginx, for bbclient's BBC_HTTP transport. */
const char *fs_http(const fs_t *fs);
/* The temporary directory, and the recordings directory in it. */
const char *fs_dir(const fs_t *fs);
const char *fs_rec_dir(const fs_t *fs);

/* Process ids (0 when not running). */
pid_t fs_daemon_pid(const fs_t *fs);
pid_t fs_worker_pid(const fs_t *fs, int id);
pid_t fs_nginx_pid(const fs_t *fs);

/* Sends sig to the daemon / worker `id`.  After SIGKILL it also reaps the
 * process.  Returns 0 or -1. */
int fs_signal_daemon(fs_t *fs, int sig);
int fs_signal_worker(fs_t *fs, int id, int sig);

/* (Re)starts the daemon and waits until it has logged that it runs (on a
 * live segment it re-attaches).  Returns 0 or -1. */
int fs_start_daemon(fs_t *fs);

/* (Re)starts worker `id` and waits until it serves.  Returns 0 or -1. */
int fs_start_worker(fs_t *fs, int id);

/* `nginx -s reload` on the running nginx; waits until the reload is done
 * (the new configuration's worker processes run).  Returns 0 or -1. */
int fs_reload_nginx(fs_t *fs);

/* The worker id nginx sends `userid` to, asked with a clock probe carrying
 * the userid (the upstream hashes $arg_userid); -1 on failure. */
int fs_worker_of(fs_t *fs, const char *userid);

/* Finds a userid (11 digits, from `seed` upward) that nginx sends to worker
 * `id`; writes it to out (cap >= 24).  Returns 0 or -1. */
int fs_userid_for(fs_t *fs, int id, unsigned long long seed, char *out, size_t cap);

/* Resident set size in KiB of pid (VmRSS of /proc/PID/status), or -1. */
long fs_rss_kib(pid_t pid);

/* Number of lines of the log of `name` ("shmd", "worker-2", "nginx")
 * that contain `needle`. */
int fs_log_count(const fs_t *fs, const char *name, const char *needle);

/* Prints the last lines of every log to stderr (after a failure). */
void fs_dump_logs(const fs_t *fs, int lines);

/* Milliseconds of sleep. */
void fs_sleep_ms(int ms);

/* CLOCK_MONOTONIC in nanoseconds. */
long long fs_now_ns(void);

#endif
