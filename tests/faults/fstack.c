/*
 * fstack.c - the stack of one fault test: daemon, workers, nginx (see
 * fstack.h).
 *
 * The nginx configuration is rendered by deploy/render.sh from the same
 * templates as the local run (bb-http.conf, bb-locations.conf,
 * bb-fastcgi.conf, local.conf), so the fault tests exercise the production
 * settings: the consistent hash, fastcgi_next_upstream, kept-alive FastCGI
 * connections, the body limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bbclient.h"
#include "fstack.h"
#include "host.h"
#include "rooms/roomdb.h"
#include "urlenc.h"

/* nginx: $BB_NGINX, else Debian's /usr/sbin/nginx, else the PATH's. */
static const char *nginx_bin(void)
{
    static char path[512];
    if (path[0])
        return path;
    const char *e = getenv("BB_NGINX");
    if (e && *e) {
        snprintf(path, sizeof path, "%s", e);
        return path;
    }
    snprintf(path, sizeof path, "/usr/sbin/nginx");
    if (access(path, X_OK) == 0)
        return path;
    const char *p = getenv("PATH");
    while (p && *p) {
        size_t n = strcspn(p, ":");
        snprintf(path, sizeof path, "%.*s/nginx", (int)n, p);
        if (n && access(path, X_OK) == 0)
            return path;
        p += n + (p[n] == ':');
    }
    snprintf(path, sizeof path, "nginx");
    return path;
}

struct fs {
    fs_config_t cfg;
    char dir[256];
    char seg[96];
    char rec[320];
    char sockdir[320];
    char ops_addr[400];
    char http[32];
    char db[300];                      /* the rooms database, "" without */
    char room_shm[FS_MAX_ROOMS][128];  /* /dev/shm/ paths of the rooms made, for on_signal */
    int n_rooms;
    int port;
    pid_t daemon;
    pid_t worker[FS_MAX_WORKERS + 1];
    int held[FS_MAX_WORKERS + 1];      /* FS_HELD: listening sockets, else -1 */
    pid_t nginx;
    bbc_conn_t *probe;                 /* main thread only */
    bool stopped;
};

static fs_t *g_fs;   /* for the exit and signal clean-up */

void fs_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

long long fs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- processes ----------------------------------------------------------- */

/* Forks and execs argv with its output appended to logs/NAME.log and
 * descriptor 0 from fd0 (or /dev/null).  The child dies with this
 * process. */
static pid_t spawn(fs_t *fs, const char *name, char *const argv[], int fd0)
{
    char log[400];
    snprintf(log, sizeof log, "%s/logs/%s.log", fs->dir, name);
    int lf = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int in = fd0 >= 0 ? fd0 : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (lf < 0 || in < 0) {
        fprintf(stderr, "fstack: open %s: %s\n", log, strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(in, 0);
        dup2(lf, 1);
        dup2(lf, 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], argv);
        _exit(127);
    }
    close(lf);
    if (fd0 < 0)
        close(in);
    if (pid < 0)
        fprintf(stderr, "fstack: fork: %s\n", strerror(errno));
    return pid;
}

/* Runs argv to completion; returns its exit status, or -1. */
static int run(fs_t *fs, const char *name, char *const argv[])
{
    pid_t pid = spawn(fs, name, argv, -1);
    if (pid < 0)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Signals pid, waits up to ms for it to exit, then kills it; reaps it. */
static void stop_pid(pid_t *pp, int sig, int ms)
{
    pid_t pid = *pp;
    if (pid <= 0)
        return;
    kill(pid, sig);
    for (int i = 0; i < ms / 20; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            *pp = 0;
            return;
        }
        fs_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    *pp = 0;
}

static bool alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    if (waitpid(pid, NULL, WNOHANG) == pid)
        return false;
    return kill(pid, 0) == 0;
}

int fs_log_count(const fs_t *fs, const char *name, const char *needle)
{
    char path[400], line[4096];
    snprintf(path, sizeof path, "%s/logs/%s.log", fs->dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

void fs_dump_logs(const fs_t *fs, int lines)
{
    if (!fs)
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "for f in '%s'/logs/*.log; do [ -s \"$f\" ] || continue; "
             "echo \"---- last lines of $(basename \"$f\")\"; tail -n %d \"$f\"; done >&2",
             fs->dir, lines);
    if (system(cmd) != 0)
        fprintf(stderr, "fstack: could not show the logs in %s/logs\n", fs->dir);
}

long fs_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* ---- ports and sockets ---------------------------------------------------- */

/* A loopback port nothing listens on and that can be bound now, below the
 * ephemeral range (where outgoing connections take their ports). */
static int free_port(void)
{
    srand((unsigned)(getpid() ^ (unsigned)time(NULL)));
    for (int i = 0; i < 200; i++) {
        int p = 20000 + rand() % 12000;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)p);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return p;
    }
    return -1;
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return -1;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "fstack: listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* ---- the parts ------------------------------------------------------------- */

int fs_start_daemon(fs_t *fs)
{
    char audio[300], cache[300], users[16], depth[16];
    snprintf(audio, sizeof audio, "%s/audio", fs->dir);
    snprintf(cache, sizeof cache, "%s/cache", fs->dir);
    snprintf(users, sizeof users, "%d", fs->cfg.users);
    snprintf(depth, sizeof depth, "%d", fs->cfg.depth);
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)fs->cfg.shmd;
    argv[n++] = "--segment";
    argv[n++] = fs->seg;
    argv[n++] = "--audio-dir";
    argv[n++] = audio;
    argv[n++] = "--cache-dir";
    argv[n++] = cache;
    if (fs->cfg.recordings) {
        argv[n++] = "--recordings-dir";
        argv[n++] = fs->rec;
    }
    if (fs->cfg.users) {
        argv[n++] = "--users";
        argv[n++] = users;
    }
    if (fs->cfg.depth) {
        argv[n++] = "--depth";
        argv[n++] = depth;
    }
    if (fs->db[0]) {
        argv[n++] = "--db";
        argv[n++] = fs->db;
    }
    if (fs->cfg.no_default_room)
        argv[n++] = "--no-default-room";
    if (fs->cfg.default_uploads)
        argv[n++] = "--default-uploads";
    argv[n] = NULL;
    int before = fs_log_count(fs, "shmd", "bb-shmd: running on");
    fs->daemon = spawn(fs, "shmd", argv, -1);
    if (fs->daemon < 0)
        return -1;
    for (int i = 0; i < 200; i++) {
        if (fs_log_count(fs, "shmd", "bb-shmd: running on") > before)
            return 0;
        if (!alive(fs->daemon)) {
            fprintf(stderr, "fstack: the daemon exited while starting\n");
            fs->daemon = 0;
            return -1;
        }
        fs_sleep_ms(25);
    }
    fprintf(stderr, "fstack: the daemon did not start within 5 s\n");
    return -1;
}

const char *fs_ops(fs_t *fs, int id)
{
    snprintf(fs->ops_addr, sizeof fs->ops_addr, "unix:%s/ops%d.sock", fs->sockdir, id);
    return fs->ops_addr;
}

int fs_start_worker(fs_t *fs, int id)
{
    if (id < 1 || id > fs->cfg.n_workers)
        return -1;
    char name[32], sock[400], listen[420], wid[16], audio[300], ops[420];
    snprintf(name, sizeof name, "worker-%d", id);
    snprintf(sock, sizeof sock, "%s/w%d.sock", fs->sockdir, id);
    snprintf(listen, sizeof listen, "unix:%s", sock);
    snprintf(wid, sizeof wid, "%d", id);
    snprintf(audio, sizeof audio, "%s/audio", fs->dir);
    char *argv[20];
    int n = 0;
    argv[n++] = (char *)fs->cfg.worker;
    if (fs->cfg.sockets == FS_LISTEN) {
        argv[n++] = "--listen";
        argv[n++] = listen;
        unlink(sock);   /* a killed worker leaves its socket file behind */
    }
    snprintf(ops, sizeof ops, "%s", fs_ops(fs, id));
    argv[n++] = "--ops";
    argv[n++] = ops;
    argv[n++] = "--segment";
    argv[n++] = fs->seg;
    argv[n++] = "--worker-id";
    argv[n++] = wid;
    argv[n++] = "--audio-dir";
    argv[n++] = audio;
    if (fs->cfg.recordings) {
        argv[n++] = "--recordings-dir";
        argv[n++] = fs->rec;
    }
    argv[n] = NULL;
    int before = fs_log_count(fs, name, "serving");
    fs->worker[id] = spawn(fs, name, argv, fs->cfg.sockets == FS_HELD ? fs->held[id] : -1);
    if (fs->worker[id] < 0)
        return -1;
    for (int i = 0; i < 200; i++) {
        if (fs_log_count(fs, name, "serving") > before)
            return 0;
        if (!alive(fs->worker[id])) {
            fprintf(stderr, "fstack: worker %d exited while starting\n", id);
            fs->worker[id] = 0;
            return -1;
        }
        fs_sleep_ms(25);
    }
    fprintf(stderr, "fstack: worker %d did not start within 5 s\n", id);
    return -1;
}

static int render_nginx(fs_t *fs)
{
    char servers[2048] = "", out[320], html[600], recv[400], conf[320], ngx[320], log[320],
         user[256], listen[80];
    size_t at = 0;
    for (int i = 1; i <= fs->cfg.n_workers; i++)
        at += (size_t)snprintf(servers + at, sizeof servers - at,
                               "    server unix:%s/w%d.sock max_fails=0;\n", fs->sockdir, i);
    snprintf(out, sizeof out, "%s/nginx", fs->dir);
    char s_up[2100], s_html[700], s_rec[500], s_conf[400], s_ngx[400], s_log[400], s_user[300],
        s_listen[120];
    snprintf(html, sizeof html, "%s/html", fs->cfg.src);
    snprintf(recv, sizeof recv, "%s", fs->rec);
    snprintf(conf, sizeof conf, "%s/nginx", fs->dir);
    snprintf(ngx, sizeof ngx, "%s/nginx", fs->dir);
    snprintf(log, sizeof log, "%s/logs/access.log", fs->dir);
    if (getuid() == 0)
        snprintf(user, sizeof user, "user root root;");
    else
        snprintf(user, sizeof user, "# nginx worker processes run as the invoking user");
    snprintf(listen, sizeof listen, "        listen 127.0.0.1:%d;", fs->port);
    snprintf(s_up, sizeof s_up, "UPSTREAM_SERVERS=%s", servers);
    snprintf(s_html, sizeof s_html, "HTML_DIR=%s", html);
    snprintf(s_rec, sizeof s_rec, "RECORDINGS_DIR=%s", recv);
    snprintf(s_conf, sizeof s_conf, "CONF_DIR=%s", conf);
    snprintf(s_ngx, sizeof s_ngx, "NGINX_DIR=%s", ngx);
    snprintf(s_log, sizeof s_log, "ACCESS_LOG=%s", log);
    snprintf(s_user, sizeof s_user, "USER_DIRECTIVE=%s", user);
    snprintf(s_listen, sizeof s_listen, "LISTEN=%s", listen);
    /* Worker 1 takes the uploads too (it has an audio directory). */
    char s_upl[500];
    snprintf(s_upl, sizeof s_upl, "UPLOAD_SERVER=    server unix:%s/w1.sock;", fs->sockdir);
    /* nginx's header buffer is the worker's own bound (--header-max). */
    char s_buf[64] = "FASTCGI_BUFFER=", cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' --header-max", fs->cfg.worker);
    FILE *hm = popen(cmd, "r");
    size_t got = hm ? fread(s_buf + 15, 1, sizeof s_buf - 16, hm) : 0;
    if (hm)
        pclose(hm);
    s_buf[15 + got] = '\0';
    s_buf[strcspn(s_buf, "\n")] = '\0';
    if (got == 0) {
        fprintf(stderr, "fstack: %s --header-max gave nothing\n", fs->cfg.worker);
        return -1;
    }
    char render[400], t1[400], t2[400], t3[400], t4[400];
    snprintf(render, sizeof render, "%s/deploy/render.sh", fs->cfg.src);
    snprintf(t1, sizeof t1, "%s/deploy/nginx/bb-http.conf.in", fs->cfg.src);
    snprintf(t2, sizeof t2, "%s/deploy/nginx/bb-locations.conf.in", fs->cfg.src);
    snprintf(t3, sizeof t3, "%s/deploy/nginx/bb-fastcgi.conf.in", fs->cfg.src);
    snprintf(t4, sizeof t4, "%s/deploy/nginx/local.conf.in", fs->cfg.src);
    char *argv[] = {"/bin/sh", render, "-o", out, s_up, s_html, s_rec, s_conf, s_ngx, s_log,
                    s_user, "NGINX_WORKERS=2", "MIME_TYPES=/etc/nginx/mime.types", s_listen,
                    s_buf, s_upl, "HOST_NAME=fstack", t1, t2, t3, t4, NULL};
    if (run(fs, "render", argv) != 0) {
        fprintf(stderr, "fstack: deploy/render.sh failed (logs/render.log)\n");
        return -1;
    }
    return 0;
}

static void nginx_argv(fs_t *fs, char *prefix, size_t pcap, char *conf, size_t ccap)
{
    snprintf(prefix, pcap, "%s/nginx/", fs->dir);
    snprintf(conf, ccap, "%s/nginx/local.conf", fs->dir);
}

/* One request through nginx on the stack's connection: returns the
 * status (-1 when no answer came within timeout_ms), puts the X-Worker-Id
 * in *worker (-1 if none; worker may be NULL) and the body in out. */
static int exchange(fs_t *fs, const bbc_request_t *rq, int timeout_ms, int *worker, char *out,
                    size_t cap)
{
    if (!fs->probe) {
        bbc_addr_t a;
        if (bbc_addr_parse(fs->http, BBC_HTTP, &a) != 0)
            return -1;
        fs->probe = bbc_conn_new(&a, NULL);
        if (!fs->probe)
            return -1;
    }
    resp_t r;
    resp_init(&r);
    int status = -1;
    if (out && cap)
        out[0] = '\0';
    if (bbc_exchange(fs->probe, rq, &r, timeout_ms) == 0) {
        status = r.status;
        const char *w = resp_header(&r, "X-Worker-Id");
        if (worker)
            *worker = w ? atoi(w) : -1;
        if (out && cap) {
            size_t n = r.body.len < cap - 1 ? r.body.len : cap - 1;
            if (n)
                memcpy(out, r.body.data, n);
            out[n] = '\0';
        }
    }
    resp_free(&r);
    return status;
}

/* A GET of /api (with an optional query) through nginx; returns the status
 * and puts the X-Worker-Id in *worker (-1 if none). */
static int probe(fs_t *fs, const char *query, int *worker)
{
    bbc_request_t rq = {"GET", "/api", query, NULL, NULL, NULL, 0};
    return exchange(fs, &rq, 3000, worker, NULL, 0);
}

int fs_request(fs_t *fs, const char *method, const char *path, const char *query, const void *body,
               size_t len, int *status, char *out, size_t cap)
{
    bbc_request_t rq = {method, path, query, NULL, NULL, body, body ? len : 0};
    *status = exchange(fs, &rq, 10000, NULL, out, cap);
    return *status < 0 ? -1 : 0;
}

int fs_room_create(fs_t *fs, const char *name, int max_singers, fs_room_t *out)
{
    memset(out, 0, sizeof *out);
    if (!fs->db[0] || fs->n_rooms >= FS_MAX_ROOMS) {
        fprintf(stderr, "fstack: %s\n", fs->db[0] ? "too many rooms" : "the stack has no rooms database");
        return -1;
    }
    char msg[RDB_MSG_MAX];
    int err;
    rdb_t *db = rdb_open(fs->db, &err, msg, sizeof msg);
    if (!db) {
        fprintf(stderr, "fstack: rooms database: %s\n", msg);
        return -1;
    }
    _Static_assert(sizeof out->id > RK_ID_LEN && sizeof out->singer_key > RK_KEY_LEN,
                   "fs_room_t holds an id and a key");
    err = rdb_create(db, name, max_singers, out->id, out->singer_key, out->organiser_key);
    if (err != RDB_OK)
        fprintf(stderr, "fstack: rdb_create: %s\n", rdb_errmsg(db));
    rdb_close(db);
    if (err != RDB_OK)
        return -1;
    /* What on_signal removes if the test is interrupted. */
    char seg[96];
    if (hs_room_segment(fs->seg, out->id, seg, sizeof seg) == 0)
        snprintf(fs->room_shm[fs->n_rooms++], sizeof fs->room_shm[0], "/dev/shm%s", seg);
    bbuf_t q = {0};
    int rc = urlenc_param(&q, "room", out->id) | urlenc_param(&q, "key", out->singer_key);
    for (int i = 0; rc == 0 && i < 400; i++) {
        int status;
        if (fs_request(fs, "GET", "/api/room", (const char *)q.data, NULL, 0, &status, NULL, 0) == 0 &&
            status == 200) {
            bbuf_free(&q);
            return 0;
        }
        fs_sleep_ms(25);
    }
    bbuf_free(&q);
    fprintf(stderr, "fstack: room %s was not served within 10 s\n", out->id);
    return -1;
}

int fs_worker_of(fs_t *fs, const char *userid)
{
    char q[64];
    int w = -1;
    snprintf(q, sizeof q, "userid=%s", userid);
    return probe(fs, q, &w) == 200 ? w : -1;
}

int fs_userid_for(fs_t *fs, int id, unsigned long long seed, char *out, size_t cap)
{
    for (unsigned long long k = 0; k < 400; k++) {
        snprintf(out, cap, "%llu", 10000000000ULL + (seed * 7919ULL + k * 104729ULL) % 89999999999ULL);
        if (fs_worker_of(fs, out) == id)
            return 0;
    }
    return -1;
}

/* The pids of nginx's worker processes (children of the master). */
static int nginx_children(pid_t master, pid_t *out, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)master, (int)master);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0, p;
    while (n < cap && fscanf(f, "%d", &p) == 1)
        out[n++] = p;
    fclose(f);
    return n;
}

int fs_reload_nginx(fs_t *fs)
{
    pid_t old[16];
    int nold = nginx_children(fs->nginx, old, 16);
    char prefix[320], conf[320];
    nginx_argv(fs, prefix, sizeof prefix, conf, sizeof conf);
    char *argv[] = {(char *)nginx_bin(), "-p", prefix, "-c", conf, "-e", "stderr", "-s", "reload", NULL};
    if (run(fs, "nginx-reload", argv) != 0) {
        fprintf(stderr, "fstack: nginx -s reload failed (logs/nginx-reload.log)\n");
        return -1;
    }
    /* Done when a worker process that was not there before runs. */
    for (int i = 0; i < 250; i++) {
        pid_t now[16];
        int n = nginx_children(fs->nginx, now, 16);
        for (int j = 0; j < n; j++) {
            bool is_old = false;
            for (int k = 0; k < nold; k++)
                is_old |= now[j] == old[k];
            if (!is_old)
                return 0;
        }
        fs_sleep_ms(20);
    }
    fprintf(stderr, "fstack: nginx started no new worker processes within 5 s of the reload\n");
    return -1;
}

static int start_nginx(fs_t *fs)
{
    char prefix[320], conf[320];
    nginx_argv(fs, prefix, sizeof prefix, conf, sizeof conf);
    char *argv[] = {(char *)nginx_bin(), "-p", prefix, "-c", conf, "-e", "stderr", NULL};
    if (access(argv[0], X_OK) != 0) {
        fprintf(stderr, "fstack: nginx not found (apt-get install nginx, or set BB_NGINX)\n");
        return -1;
    }
    fs->nginx = spawn(fs, "nginx", argv, -1);
    if (fs->nginx < 0)
        return -1;
    for (int i = 0; i < 200; i++) {
        int w;
        if (probe(fs, NULL, &w) == 200)
            return 0;
        if (!alive(fs->nginx)) {
            fprintf(stderr, "fstack: nginx exited while starting\n");
            fs->nginx = 0;
            return -1;
        }
        fs_sleep_ms(25);
    }
    fprintf(stderr, "fstack: nginx did not answer on port %d within 5 s\n", fs->port);
    return -1;
}

/* ---- life cycle ------------------------------------------------------------ */

static void on_signal(int sig)
{
    /* Only async-signal-safe calls: kill the children, drop the segment. */
    fs_t *fs = g_fs;
    if (fs) {
        if (fs->nginx > 0)
            kill(fs->nginx, SIGKILL);
        for (int i = 1; i <= FS_MAX_WORKERS; i++)
            if (fs->worker[i] > 0)
                kill(fs->worker[i], SIGKILL);
        if (fs->daemon > 0) {
            kill(fs->daemon, SIGCONT);
            kill(fs->daemon, SIGKILL);
        }
        /* The host segment and the default room's timeline (NAME-default),
         * with no call a signal handler may not make. */
        char path[128] = "/dev/shm";
        size_t l = strlen(path), s = 0;
        while (fs->seg[s] && l + 10 < sizeof path)
            path[l++] = fs->seg[s++];
        path[l] = '\0';
        unlink(path);
        const char *room = "-default";
        for (s = 0; room[s]; s++)
            path[l++] = room[s];
        path[l] = '\0';
        unlink(path);
        for (int i = 0; i < fs->n_rooms; i++)
            unlink(fs->room_shm[i]);
    }
    _exit(128 + sig);
}

static void at_exit(void)
{
    fs_stop(g_fs);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

fs_t *fs_start(const fs_config_t *cfg)
{
    if (g_fs || cfg->n_workers < 1 || cfg->n_workers > FS_MAX_WORKERS) {
        fprintf(stderr, "fstack: one stack of 1..%d workers per process\n", FS_MAX_WORKERS);
        return NULL;
    }
    if (cfg->no_default_room && !cfg->rooms) {
        fprintf(stderr, "fstack: no default room and no rooms database: no room at all\n");
        return NULL;
    }
    fs_t *fs = calloc(1, sizeof *fs);
    if (!fs)
        return NULL;
    fs->cfg = *cfg;
    for (int i = 0; i <= FS_MAX_WORKERS; i++)
        fs->held[i] = -1;
    snprintf(fs->dir, sizeof fs->dir, "/tmp/bb-fault-%s.XXXXXX", cfg->name ? cfg->name : "test");
    if (!mkdtemp(fs->dir)) {
        fprintf(stderr, "fstack: mkdtemp: %s\n", strerror(errno));
        free(fs);
        return NULL;
    }
    g_fs = fs;
    atexit(at_exit);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    snprintf(fs->seg, sizeof fs->seg, "/bb-fault-%s-%d", cfg->name ? cfg->name : "test", (int)getpid());
    snprintf(fs->rec, sizeof fs->rec, "%s/rec", fs->dir);
    if (cfg->rooms)
        snprintf(fs->db, sizeof fs->db, "%s/rooms.db", fs->dir);
    snprintf(fs->sockdir, sizeof fs->sockdir, "%s/sock", fs->dir);
    const char *sub[] = {"logs", "sock", "audio", "rec", "cache", "nginx", "nginx/tmp", "nginx/conf.d"};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", fs->dir, sub[i]);
        mkdir(p, 0755);
    }
    fs->port = free_port();
    snprintf(fs->http, sizeof fs->http, "127.0.0.1:%d", fs->port);
    if (fs->port < 0 || fs_start_daemon(fs) != 0)
        goto err;
    for (int i = 1; i <= cfg->n_workers; i++) {
        if (cfg->sockets == FS_HELD) {
            char sock[400];
            snprintf(sock, sizeof sock, "%s/w%d.sock", fs->sockdir, i);
            fs->held[i] = listen_unix(sock);
            if (fs->held[i] < 0)
                goto err;
        }
        if (fs_start_worker(fs, i) != 0)
            goto err;
    }
    if (render_nginx(fs) != 0 || start_nginx(fs) != 0)
        goto err;
    return fs;
err:
    fs_dump_logs(fs, 20);
    fs_stop(fs);
    return NULL;
}

void fs_stop(fs_t *fs)
{
    if (!fs || fs->stopped)
        return;
    fs->stopped = true;
    stop_pid(&fs->nginx, SIGTERM, 5000);
    for (int i = 1; i <= FS_MAX_WORKERS; i++) {
        if (fs->worker[i] > 0)
            kill(fs->worker[i], SIGCONT);
        stop_pid(&fs->worker[i], SIGTERM, 5000);
        if (fs->held[i] >= 0)
            close(fs->held[i]);
        fs->held[i] = -1;
    }
    if (fs->daemon > 0)
        kill(fs->daemon, SIGCONT);
    stop_pid(&fs->daemon, SIGTERM, 5000);
    bbc_conn_destroy(fs->probe);
    fs->probe = NULL;
    hs_unlink_all(fs->seg);
    if (getenv("BB_KEEP_TMP") && strcmp(getenv("BB_KEEP_TMP"), "1") == 0)
        fprintf(stderr, "fstack: kept %s\n", fs->dir);
    else
        nftw(fs->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fs_http(const fs_t *fs) { return fs->http; }
const char *fs_segment(const fs_t *fs) { return fs->seg; }
const char *fs_dir(const fs_t *fs) { return fs->dir; }
const char *fs_rec_dir(const fs_t *fs) { return fs->rec; }
pid_t fs_daemon_pid(const fs_t *fs) { return fs->daemon; }
pid_t fs_nginx_pid(const fs_t *fs) { return fs->nginx; }
pid_t fs_worker_pid(const fs_t *fs, int id)
{
    return id >= 1 && id <= FS_MAX_WORKERS ? fs->worker[id] : 0;
}

static int signal_pid(pid_t *pp, int sig)
{
    if (*pp <= 0)
        return -1;
    if (kill(*pp, sig) != 0)
        return -1;
    if (sig == SIGKILL) {
        waitpid(*pp, NULL, 0);
        *pp = 0;
    }
    return 0;
}

int fs_signal_daemon(fs_t *fs, int sig) { return signal_pid(&fs->daemon, sig); }

int fs_signal_worker(fs_t *fs, int id, int sig)
{
    if (id < 1 || id > FS_MAX_WORKERS)
        return -1;
    return signal_pid(&fs->worker[id], sig);
}
