/* roomfront: which host a front nginx sends a room to (roomfront.h).
 *
 * One probe is one curl process: started with posix_spawnp() and an argv
 * of fixed options plus the URL (no shell, so nothing in the URL is ever
 * interpreted), its stdout and stderr on one pipe. curl writes the headers
 * of every response it saw (-D -; the body goes to /dev/null), and on
 * failure one line "curl: (N) ...". The headers of the last response
 * decide: a redirect's headers come first and are forgotten at the next
 * status line.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "roomfront.h"
#include "roomkey.h"

extern char **environ;

#define OUT_MAX 16384 /* bytes of curl's output kept (headers); the rest is read and dropped */

const char *rf_strerror(int err)
{
    switch (err) {
    case RF_OK: return "success";
    case RF_ERR_ARG: return "bad argument";
    case RF_ERR_RUN: return "curl could not be started";
    case RF_ERR_FETCH: return "the front could not be reached";
    case RF_ERR_NO_HOST: return "the front's answer names no host";
    default: return "unknown error";
    }
}

int rf_host_name_valid(const char *name)
{
    size_t n = 0;

    if (name == NULL)
        return 0;
    for (const char *p = name; *p; p++, n++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == '_'))
            return 0;
    }
    return n >= 1 && n <= RF_HOST_MAX;
}

/* Writes the message (when msg is not NULL) and returns err. */
__attribute__((format(printf, 4, 5))) static int say(char *msg, size_t cap, int err,
                                                     const char *fmt, ...)
{
    va_list ap;

    if (msg != NULL && cap > 0) {
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* The probe's URL: front_url without trailing slashes, then /api?room=id.
 * Returns 0, or -1 when front_url is not one we accept. */
static int probe_url(const char *front_url, const char *id, char *out, size_t cap)
{
    const char *rest;
    size_t n = strlen(front_url);

    if (strncmp(front_url, "http://", 7) == 0)
        rest = front_url + 7;
    else if (strncmp(front_url, "https://", 8) == 0)
        rest = front_url + 8;
    else
        return -1;
    if (*rest == '\0' || *rest == '/')
        return -1;
    for (const char *p = front_url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
            return -1;
    while (n > 0 && front_url[n - 1] == '/')
        n--;
    int w = snprintf(out, cap, "%.*s/api?room=%s", (int)n, front_url, id);
    return w > 0 && (size_t)w < cap ? 0 : -1;
}

/* Runs curl on url; its output (headers, or its error line) into out.
 * Returns RF_OK when curl exited 0, RF_ERR_FETCH when it exited otherwise
 * (*status = its exit status or -signal), RF_ERR_RUN when it could not
 * run. */
static int run_curl(const char *url, char *out, size_t cap, size_t *len, int *status,
                    char *msg, size_t msgcap)
{
    char *const argv[] = {"curl", "-q", "--silent", "--show-error", "--max-time", "10",
                          "--connect-timeout", "5", "--location", "--max-redirs", "3",
                          "--proto", "=http,https", "--proto-redir", "=http,https",
                          "--output", "/dev/null", "--dump-header", "-", "--url",
                          (char *)url, NULL};
    int fd[2];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc, ws;

    *len = 0;
    if (pipe2(fd, O_CLOEXEC) != 0)
        return say(msg, msgcap, RF_ERR_RUN, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
    rc = posix_spawnp(&pid, "curl", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        return say(msg, msgcap, RF_ERR_RUN, "starting curl: %s (is curl installed?)",
                   strerror(rc));
    }
    for (;;) {
        char drop[4096];
        char *to = *len < cap - 1 ? out + *len : drop;
        size_t room = *len < cap - 1 ? cap - 1 - *len : sizeof drop;
        ssize_t got = read(fd[0], to, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (to != drop)
            *len += (size_t)got;
    }
    out[*len] = '\0';
    close(fd[0]);
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return say(msg, msgcap, RF_ERR_RUN, "waitpid: %s", strerror(errno));
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -WTERMSIG(ws);
    return *status == 0 ? RF_OK : RF_ERR_FETCH;
}

/* The X-BB-Host of the last response in curl's header dump, into host;
 * "" when it has none. */
static void last_host(char *dump, char *host, size_t cap)
{
    host[0] = '\0';
    for (char *line = dump, *next; line != NULL && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        if (strncmp(line, "HTTP/", 5) == 0) {
            host[0] = '\0'; /* a new response: a redirect's headers no longer count */
            continue;
        }
        if (strncasecmp(line, "x-bb-host:", 10) != 0)
            continue;
        const char *v = line + 10;
        while (*v == ' ' || *v == '\t')
            v++;
        if (rf_host_name_valid(v) && strlen(v) < cap)
            memcpy(host, v, strlen(v) + 1);
    }
}

int rf_host_of(const char *front_url, const char *id, char *host, size_t hostcap, char *msg,
               size_t msgcap)
{
    char out[OUT_MAX];
    char url[RF_URL_MAX + 32];
    size_t len;
    int status = 0, err;

    if (msg != NULL && msgcap > 0)
        msg[0] = '\0';
    if (front_url == NULL || id == NULL || host == NULL || hostcap == 0)
        return say(msg, msgcap, RF_ERR_ARG, "NULL argument");
    host[0] = '\0';
    if (!rk_id_valid(id))
        return say(msg, msgcap, RF_ERR_ARG, "%s is not a room id", id);
    if (strlen(front_url) >= RF_URL_MAX || probe_url(front_url, id, url, sizeof url) != 0)
        return say(msg, msgcap, RF_ERR_ARG,
                   "front URL %s: give http://HOST[:PORT] or https://..., without ? or #",
                   front_url);
    err = run_curl(url, out, sizeof out, &len, &status, msg, msgcap);
    if (err == RF_ERR_RUN)
        return err;
    if (err == RF_ERR_FETCH) {
        /* curl's own line says what went wrong ("curl: (7) Failed to
         * connect ..."); its exit status when it said nothing. */
        char *line = strstr(out, "curl: ");
        if (line != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            return say(msg, msgcap, err, "GET %s: %s", url, line);
        }
        return say(msg, msgcap, err, "GET %s: curl ended with status %d", url, status);
    }
    last_host(out, host, hostcap);
    if (host[0] == '\0')
        return say(msg, msgcap, RF_ERR_NO_HOST,
                   "GET %s: the answer names no host (no valid X-BB-Host header): is this the "
                   "front of hosts that name themselves (install.sh --host-name)?",
                   url);
    return RF_OK;
}
