/* bb-room: the operator's command for a host's rooms.
 *
 *   bb-room --db PATH [--base-url URL] COMMAND [ARGS]
 *
 * Creates rooms and prints their two links, lists, closes and rekeys
 * them, changes their size limit, and moves them between hosts as JSON
 * (export on one, import on the other). It works on the rooms database
 * (rooms/roomdb.h) directly; the daemon notices the change through the
 * database's data_version.
 *
 * A link is BASE/r/ID#KEY: the key rides in the URL fragment, which a
 * browser never sends, so it reaches no server log. Keys appear only in
 * the links a command was asked to print (create, rekey), on stdout; what
 * goes to stderr (errors) never holds one.
 *
 * With several hosts behind a front nginx (deploy/nginx/front.conf), the
 * front picks a room's host from its id, so `create --front URL` creates
 * the room only under an id the front sends to this host: it draws ids and
 * asks the front about each (rooms/roomfront.h) until one comes back with
 * this host's name. Moving a room to another host is export there, import
 * here, close there (README.md, "Several hosts").
 *
 * A room is named on the command line by its id or by its name; a name
 * must belong to exactly one open room (rooms may share names), otherwise
 * the command lists the ids that match and does nothing. An argument that
 * is the id of an existing room is taken as that id.
 *
 * Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 the
 * command line is wrong.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rooms/roomdb.h"
#include "rooms/roomfront.h"
#include "rooms/roomkey.h"

#define DEFAULT_BASE_URL "http://localhost:8080"
#define BASE_URL_MAX 512
#define IMPORT_MAX 65536 /* bytes of JSON read by import (a record is ~400) */
#define AMBIGUOUS_SHOWN 16
/* Ids drawn by create --front before giving up. Each goes to this host
 * with a chance of about 1 in the number of hosts: with 20 hosts, 100
 * draws all miss with a chance under 1%; with 2, never in practice. */
#define FRONT_TRIES 100
#define OTHER_HOSTS_SHOWN 8

static const char usage_text[] =
    "usage: bb-room --db PATH [--base-url URL] COMMAND [ARGS]\n"
    "\n"
    "Manages the rooms of this host in the rooms database PATH (created if\n"
    "missing). A room is named by its id or, if exactly one open room has it,\n"
    "by its name.\n"
    "\n"
    "Commands:\n"
    "  create NAME [--max-singers N] [--front URL [--host-name HOST]]\n"
    "        create a room and print its two links:\n"
    "          singers: URL/r/ID#SINGERKEY\n"
    "          organiser: URL/r/ID#ORGANISERKEY\n"
    "        NAME: 1 to 64 bytes of UTF-8 text, no control characters;\n"
    "        N: 1 to 10000 singers, or 0 (default) for the host's limit.\n"
    "        With --front, this host is one of several behind the front nginx\n"
    "        at URL: the room gets an id the front sends to this host, found by\n"
    "        asking the front (curl, GET URL/api?room=ID) which host answers\n"
    "        (its X-BB-Host header) until it is HOST (default: this machine's\n"
    "        hostname, as for install.sh --host-name); the links then start\n"
    "        with URL unless --base-url says otherwise\n"
    "  list [--all]\n"
    "        one line per open room (with --all, closed ones too), fields\n"
    "        separated by tabs: id, name, open|closed, max singers, created (UTC)\n"
    "  close ID-OR-NAME\n"
    "        close the room: its links stop working; it stays in list --all\n"
    "  rekey ID-OR-NAME singers|organiser\n"
    "        give the room a new singers' or organiser's key (the old link\n"
    "        stops working) and print the new link\n"
    "  set-max ID-OR-NAME N\n"
    "        set the room's singer limit (0: the host's default)\n"
    "  export ID-OR-NAME\n"
    "        print the room's record as JSON (its keys only as hashes), to\n"
    "        move it to another host with import\n"
    "  import\n"
    "        read a record written by export from stdin and add the room; its\n"
    "        old links work here once the base URL points at this host\n"
    "\n"
    "Options:\n"
    "  --db PATH        the rooms database (required)\n"
    "  --base-url URL   the start of printed links, http:// or https://\n"
    "                   (default " DEFAULT_BASE_URL ", or the front's URL)\n"
    "  --help           this text\n"
    "  --               what follows is not an option (a name starting with -)\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed (why, on stderr), 2 bad usage.\n";

typedef struct {
    const char *db_path;
    char base[BASE_URL_MAX];
    int all;
    const char *max_singers; /* --max-singers text, or NULL */
    int base_given;          /* --base-url was given */
    char front[BASE_URL_MAX]; /* --front URL, or "" */
    const char *host_name;   /* --host-name, or NULL */
    const char *pos[4];      /* COMMAND and its arguments */
    int npos;
} args_t;

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "bb-room: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nbb-room: see bb-room --help\n");
    return 2;
}

/* Reads a whole decimal int (no sign games, no trailing text). */
static int parse_int(const char *s, int *out)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
        return 0;
    *out = (int)v;
    return 1;
}

/* Accepts http(s)://something without whitespace, controls, '?' or '#'
 * into base (BASE_URL_MAX bytes), and drops trailing slashes so links
 * read BASE/r/ID. */
static int set_url(char *base, const char *url)
{
    size_t n = strlen(url);
    const char *rest;

    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    else
        return 0;
    if (*rest == '\0' || *rest == '/' || n >= BASE_URL_MAX)
        return 0;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
            return 0;
    memcpy(base, url, n + 1);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    return 1;
}

/* Splits the command line. Returns 0, 2 for a usage error (reported), or
 * -1 for --help. */
static int parse_args(int argc, char **argv, args_t *a)
{
    int opts = 1;

    memset(a, 0, sizeof *a);
    snprintf(a->base, sizeof a->base, "%s", DEFAULT_BASE_URL);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *val = NULL;
        if (opts && strcmp(s, "--") == 0) {
            opts = 0;
            continue;
        }
        if (!opts || s[0] != '-' || s[1] == '\0') {
            if (a->npos == (int)(sizeof a->pos / sizeof a->pos[0]))
                return usage_error("too many arguments (from \"%s\" on)", s);
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)
            return -1;
        if (strcmp(s, "--all") == 0) {
            a->all = 1;
            continue;
        }
        /* Options with a value: "--opt VALUE" or "--opt=VALUE". */
        static const char *const with_value[] = {"--db", "--base-url", "--max-singers",
                                                 "--front", "--host-name"};
        enum { N_WITH_VALUE = sizeof with_value / sizeof with_value[0] };
        int k;
        for (k = 0; k < N_WITH_VALUE; k++) {
            size_t n = strlen(with_value[k]);
            if (strncmp(s, with_value[k], n) == 0 && (s[n] == '\0' || s[n] == '=')) {
                if (s[n] == '=')
                    val = s + n + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return usage_error("%s needs a value", with_value[k]);
                break;
            }
        }
        if (k == N_WITH_VALUE)
            return usage_error("unknown option %s", s);
        if (k == 0)
            a->db_path = val;
        else if (k == 1 && !set_url(a->base, val))
            return usage_error("--base-url %s: give http://HOST[:PORT][/PATH] or https://..., "
                               "without ? or #",
                               val);
        else if (k == 1)
            a->base_given = 1;
        else if (k == 2)
            a->max_singers = val;
        else if (k == 3 && (!set_url(a->front, val) || strlen(a->front) >= RF_URL_MAX))
            return usage_error("--front %s: give http://HOST[:PORT][/PATH] or https://..., "
                               "without ? or #",
                               val);
        else if (k == 4 && !rf_host_name_valid(val))
            return usage_error("--host-name %s: 1 to 64 letters, digits, '.', '-' or '_'", val);
        else if (k == 4)
            a->host_name = val;
    }
    if (a->front[0] != '\0' && !a->base_given)
        memcpy(a->base, a->front, sizeof a->base);
    if (a->npos == 0)
        return usage_error("%s", "no command");
    if (a->db_path == NULL || a->db_path[0] == '\0')
        return usage_error("%s", "--db PATH is required");
    return 0;
}

static void print_link(const char *base, const char *which, const char *id, const char *key)
{
    printf("%s: %s/r/%s#%s\n", which, base, id, key);
}

static int db_error(rdb_t *db)
{
    fprintf(stderr, "bb-room: %s\n", rdb_errmsg(db));
    return 1;
}

/* Finds the room arg names: an existing room's id, else the name of
 * exactly one open room. Returns 0 with *out filled, or 1 (reported). */
static int resolve(rdb_t *db, const char *arg, rdb_room_t *out)
{
    rdb_room_t found[AMBIGUOUS_SHOWN];
    int err;

    if (rk_id_valid(arg)) {
        err = rdb_get(db, arg, out);
        if (err == RDB_OK)
            return 0;
        if (err != RDB_ERR_NOT_FOUND)
            return db_error(db);
    }
    int n = rdb_find_name(db, arg, found, AMBIGUOUS_SHOWN);
    if (n < 0)
        return db_error(db);
    if (n == 0) {
        fprintf(stderr, "bb-room: no open room is named \"%s\"%s\n", arg,
                rk_id_valid(arg) ? " and no room has that id" : "");
        return 1;
    }
    if (n > 1) {
        fprintf(stderr, "bb-room: %d open rooms are named \"%s\"; give the id of one:", n, arg);
        for (int i = 0; i < n && i < AMBIGUOUS_SHOWN; i++)
            fprintf(stderr, " %s", found[i].id);
        fprintf(stderr, "%s\n", n > AMBIGUOUS_SHOWN ? " ..." : "");
        return 1;
    }
    *out = found[0];
    return 0;
}

/* Remembers a host the front named that is not this one, for the error
 * message when no draw comes back here. */
static void note_other(char seen[][RF_HOST_MAX + 1], int *n, const char *host)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(seen[i], host) == 0)
            return;
    if (*n < OTHER_HOSTS_SHOWN)
        memcpy(seen[(*n)++], host, strlen(host) + 1);
}

/* create --front: draws ids until the front sends one to this host (me),
 * then creates the room under it. Returns like rdb_create_id(), or 1
 * after reporting why no id was found. */
static int create_on_this_host(rdb_t *db, const args_t *a, const char *me, int max, char *id,
                               char *sk, char *ok)
{
    char seen[OTHER_HOSTS_SHOWN][RF_HOST_MAX + 1];
    int n_seen = 0;

    for (int i = 0; i < FRONT_TRIES; i++) {
        char draw[RK_ID_LEN + 1], host[RF_HOST_MAX + 1], msg[RF_MSG_MAX];
        int rk = rk_id_new(draw);
        if (rk != RK_OK) {
            fprintf(stderr, "bb-room: drawing a room id: %s\n", rk_strerror(rk));
            return 1;
        }
        int err = rf_host_of(a->front, draw, host, sizeof host, msg, sizeof msg);
        if (err != RF_OK) {
            fprintf(stderr, "bb-room: asking the front which host gets a room: %s\n", msg);
            return 1;
        }
        if (strcmp(host, me) != 0) {
            note_other(seen, &n_seen, host);
            continue;
        }
        err = rdb_create_id(db, draw, a->pos[1], max, id, sk, ok);
        if (err == RDB_ERR_EXISTS)
            continue; /* an id this host had before: draw another */
        return err == RDB_OK ? 0 : db_error(db);
    }
    fprintf(stderr,
            "bb-room: the front at %s sent none of %d new room ids to host %s; it named:", a->front,
            FRONT_TRIES, me);
    for (int i = 0; i < n_seen; i++)
        fprintf(stderr, " %s", seen[i]);
    fprintf(stderr, ". Is this host in the front's upstream, and is %s the name its nginx "
                    "gives (install.sh --host-name)? Give it with --host-name.\n",
            me);
    return 1;
}

static int cmd_create(rdb_t *db, const args_t *a)
{
    char id[RK_ID_LEN + 1], sk[RK_KEY_LEN + 1], ok[RK_KEY_LEN + 1];
    char me[256];
    int max = 0;

    if (a->max_singers != NULL && !parse_int(a->max_singers, &max))
        return usage_error("--max-singers %s: not a whole number", a->max_singers);
    if (a->front[0] == '\0') {
        if (rdb_create(db, a->pos[1], max, id, sk, ok) != RDB_OK)
            return db_error(db);
    } else {
        /* The same default as install.sh --host-name: hostname(1). */
        if (a->host_name != NULL)
            snprintf(me, sizeof me, "%s", a->host_name);
        else if (gethostname(me, sizeof me) != 0)
            me[0] = '\0';
        me[sizeof me - 1] = '\0';
        if (!rf_host_name_valid(me)) {
            fprintf(stderr, "bb-room: this machine's hostname is no host name; give --host-name\n");
            return 1;
        }
        int rc = create_on_this_host(db, a, me, max, id, sk, ok);
        if (rc != 0)
            return rc;
    }
    print_link(a->base, "singers", id, sk);
    print_link(a->base, "organiser", id, ok);
    return 0;
}

static int print_room(void *user, const rdb_room_t *r)
{
    char when[64] = "?";
    struct tm tm;
    time_t t = (time_t)r->created;
    char max[16];

    (void)user;
    if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (r->max_singers == 0)
        snprintf(max, sizeof max, "default");
    else
        snprintf(max, sizeof max, "%d", r->max_singers);
    printf("%s\t%s\t%s\t%s\t%s\n", r->id, r->name, r->closed ? "closed" : "open", max, when);
    return 0;
}

static int cmd_list(rdb_t *db, const args_t *a)
{
    return rdb_list(db, a->all, print_room, NULL) == RDB_OK ? 0 : db_error(db);
}

static int cmd_close(rdb_t *db, const args_t *a)
{
    rdb_room_t r;

    if (resolve(db, a->pos[1], &r) != 0)
        return 1;
    if (rdb_close_room(db, r.id) != RDB_OK)
        return db_error(db);
    printf("closed %s\n", r.id);
    return 0;
}

static int cmd_rekey(rdb_t *db, const args_t *a)
{
    rdb_room_t r;
    char key[RK_KEY_LEN + 1];
    rdb_which_t which;

    if (strcmp(a->pos[2], "singers") == 0)
        which = RDB_SINGERS;
    else if (strcmp(a->pos[2], "organiser") == 0)
        which = RDB_ORGANISER;
    else
        return usage_error("rekey: \"%s\" is neither singers nor organiser", a->pos[2]);
    if (resolve(db, a->pos[1], &r) != 0)
        return 1;
    if (rdb_rekey(db, r.id, which, key) != RDB_OK)
        return db_error(db);
    print_link(a->base, a->pos[2], r.id, key);
    return 0;
}

static int cmd_set_max(rdb_t *db, const args_t *a)
{
    rdb_room_t r;
    int n;

    if (!parse_int(a->pos[2], &n))
        return usage_error("set-max: %s is not a whole number", a->pos[2]);
    if (resolve(db, a->pos[1], &r) != 0)
        return 1;
    if (rdb_set_max_singers(db, r.id, n) != RDB_OK)
        return db_error(db);
    printf("%s max singers %d%s\n", r.id, n, n == 0 ? " (the host's default)" : "");
    return 0;
}

static int cmd_export(rdb_t *db, const args_t *a)
{
    rdb_room_t r;
    char *json = NULL;

    if (resolve(db, a->pos[1], &r) != 0)
        return 1;
    if (rdb_export(db, r.id, &json) != RDB_OK)
        return db_error(db);
    printf("%s\n", json);
    free(json);
    return 0;
}

static int cmd_import(rdb_t *db, const args_t *a)
{
    static char buf[IMPORT_MAX + 1];
    char id[RK_ID_LEN + 1];
    size_t len = 0, got;

    (void)a;
    while (len < sizeof buf - 1 && (got = fread(buf + len, 1, sizeof buf - 1 - len, stdin)) > 0)
        len += got;
    if (ferror(stdin)) {
        fprintf(stderr, "bb-room: import: reading stdin: %s\n", strerror(errno));
        return 1;
    }
    if (len == sizeof buf - 1 && fgetc(stdin) != EOF) {
        fprintf(stderr, "bb-room: import: more than %d bytes on stdin; give one record\n",
                IMPORT_MAX);
        return 1;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL) {
        fprintf(stderr, "bb-room: import: stdin holds a NUL byte; give the JSON text\n");
        return 1;
    }
    if (rdb_import(db, buf, id) != RDB_OK) {
        fprintf(stderr, "bb-room: import: %s\n", rdb_errmsg(db));
        return 1;
    }
    printf("imported %s\n", id);
    return 0;
}

typedef struct {
    const char *name;
    int nargs; /* arguments after the command */
    const char *synopsis;
    int (*run)(rdb_t *db, const args_t *a);
} command_t;

static const command_t commands[] = {
    {"create", 1, "create NAME [--max-singers N] [--front URL [--host-name HOST]]", cmd_create},
    {"list", 0, "list [--all]", cmd_list},
    {"close", 1, "close ID-OR-NAME", cmd_close},
    {"rekey", 2, "rekey ID-OR-NAME singers|organiser", cmd_rekey},
    {"set-max", 2, "set-max ID-OR-NAME N", cmd_set_max},
    {"export", 1, "export ID-OR-NAME", cmd_export},
    {"import", 0, "import  (the JSON on stdin)", cmd_import},
};

int main(int argc, char **argv)
{
    args_t a;
    const command_t *cmd = NULL;
    int rc, err;
    char msg[RDB_MSG_MAX];

    rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(a.pos[0], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL)
        return usage_error("unknown command \"%s\"", a.pos[0]);
    if (a.npos - 1 != cmd->nargs)
        return usage_error("usage: bb-room --db PATH %s", cmd->synopsis);
    if (a.all && cmd->run != cmd_list)
        return usage_error("--all belongs to list, not %s", cmd->name);
    if (a.max_singers != NULL && cmd->run != cmd_create)
        return usage_error("--max-singers belongs to create, not %s (see set-max)", cmd->name);
    if ((a.front[0] != '\0' || a.host_name != NULL) && cmd->run != cmd_create)
        return usage_error("--front and --host-name belong to create, not %s", cmd->name);
    if (a.host_name != NULL && a.front[0] == '\0')
        return usage_error("%s", "--host-name goes with --front URL");

    rdb_t *db = rdb_open(a.db_path, &err, msg, sizeof msg);
    if (db == NULL) {
        fprintf(stderr, "bb-room: %s\n", msg);
        return 1;
    }
    rc = cmd->run(db, &a);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "bb-room: writing stdout: %s\n", strerror(errno));
        rc = 1;
    }
    rdb_close(db);
    return rc;
}
