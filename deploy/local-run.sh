#!/usr/bin/env bash
# local-run.sh: the whole system on this machine, unprivileged, in the
# foreground. `./bb run` builds and then runs this.
#
# It renders the production nginx templates (deploy/nginx/) into a private
# run directory, then starts and supervises, as the invoking user:
#
#   the shm daemon     bb-shmd, segment /bb-PORT (one per port, so two runs
#                      on different ports do not share a timeline)
#   N workers          bb-worker, one per core, on unix sockets in the run dir
#   nginx              http://localhost:PORT/ : the client at /, the API at
#                      /api (recordings through it); and the original
#                      client's API convention http://localhost:PORT+1/
#
# Each log line is prefixed with the name of the process that wrote it. A
# daemon or worker that dies is restarted after a short backoff, as systemd
# does in production. Ctrl-C or SIGTERM stops everything this script
# started, and nothing else. A lock in the run directory keeps a second run
# from starting on top of this one.
#
# Environment (all optional):
#   BB_PORT            main port (default 8080)
#   BB_DEV_PORT        port of the original client's API convention
#                      (default BB_PORT+1, i.e. 8081; 0 turns it off)
#   BB_WORKERS         number of workers (default: one per core)
#   BB_AUDIO_DIR       backing tracks (default: audio/ of the repository)
#   BB_RECORDINGS_DIR  recordings (default: RUN_DIR/recordings)
#   BB_ROOMS_DB        the rooms database that `./bb room` writes (default:
#                      RUN_DIR/rooms.db)
#   BB_RUN_DIR         run directory (default: run/ of the repository, or
#                      run/port-PORT/ when BB_PORT is not 8080)
#   BB_BUILD_DIR       where bb-shmd and bb-worker were built (default build/)
#   BB_HTML_DIR        the web client (default: html/ of the repository)
#   BB_HOST_NAME       this host's name in the X-BB-Host header of every API
#                      answer (default: local)
#   BB_RING_SECONDS    length of the audio ring (default: the daemon's)
#   BB_DEPTH           layering depth: the song has BB_DEPTH - 1 buckets
#                      (default: the daemon's, 5)
#   BB_STEMS           1 (default): workers write each singer's stem of every
#                      song beside the recordings; 0: the mix only
#   BB_PRIVATE_COMPLEXITY  the workers' --private-complexity, 0..10 or auto (default: the
#                      worker's); the benchmark compares settings with it
#   BB_ENCODE_BANK     on (default) or off: off, each worker encodes the frames
#                      its own singers hear (--no-encode-bank); for comparisons
#   BB_KEEP, BB_KEEP_DAYS, BB_RECORDINGS_BYTES
#                      the daemon's --keep, --keep-days and
#                      --recordings-bytes (default: the daemon's)
set -euo pipefail

BB_ROOT=${BB_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
DEPLOY=$BB_ROOT/deploy

PORT=${BB_PORT:-8080}
DEV_PORT=${BB_DEV_PORT:-$((PORT + 1))}
WORKERS=${BB_WORKERS:-$(nproc 2>/dev/null || echo 2)}
BUILD_DIR=${BB_BUILD_DIR:-$BB_ROOT/build}
HTML_DIR=${BB_HTML_DIR:-$BB_ROOT/html}
AUDIO_DIR=${BB_AUDIO_DIR:-$BB_ROOT/audio}
RING_SECONDS=${BB_RING_SECONDS:-}
DEPTH=${BB_DEPTH:-}
PRIVATE_COMPLEXITY=${BB_PRIVATE_COMPLEXITY:-}
case ${BB_ENCODE_BANK:-on} in
on) BANK_ARGS=() ;;
off) BANK_ARGS=(--no-encode-bank) ;;
*) echo "local-run.sh: BB_ENCODE_BANK=$BB_ENCODE_BANK: want on or off" >&2; exit 2 ;;
esac
STEMS=${BB_STEMS:-1}
HOST_NAME=${BB_HOST_NAME:-local}
STEM_ARGS=()
REC_ARGS=()
[ -n "${BB_KEEP:-}" ] && REC_ARGS+=(--keep "$BB_KEEP")
[ -n "${BB_KEEP_DAYS:-}" ] && REC_ARGS+=(--keep-days "$BB_KEEP_DAYS")
[ -n "${BB_RECORDINGS_BYTES:-}" ] && REC_ARGS+=(--recordings-bytes "$BB_RECORDINGS_BYTES")
if [ -n "${BB_RUN_DIR:-}" ]; then
    RUN_DIR=$BB_RUN_DIR
elif [ "$PORT" = 8080 ]; then
    RUN_DIR=$BB_ROOT/run
else
    RUN_DIR=$BB_ROOT/run/port-$PORT
fi
RECORDINGS_DIR=${BB_RECORDINGS_DIR:-$RUN_DIR/recordings}
ROOMS_DB=${BB_ROOMS_DB:-$RUN_DIR/rooms.db}
[ "$STEMS" = 0 ] || STEM_ARGS=(--recordings-dir "$RECORDINGS_DIR")

SEGMENT=/bb-$PORT
SHMD=$BUILD_DIR/shm/bb-shmd
WORKER=$BUILD_DIR/fcgi/bb-worker

# ---------------------------------------------------------------- output

# One writer for the terminal: every line goes through `sed -u` with the
# process name in front. The prefixers ignore INT and TERM so that the last
# lines of a process that is stopping still get through.
log() { printf '%-9s| %s\n' bb-run "$*"; }
die() { log "error: $*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit "${1:-0}"
}
case ${1:-} in
    -h|--help) usage 0 ;;
    "") ;;
    *) echo "local-run: unknown argument '$1'" >&2; usage 2 >&2 ;;
esac

# ---------------------------------------------------------------- checks

is_uint() { case $1 in ''|*[!0-9]*) return 1 ;; esac; }
if ! { is_uint "$PORT" && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ]; }; then die "BB_PORT=$PORT is not a port number"; fi
if ! { is_uint "$DEV_PORT" && [ "$DEV_PORT" -le 65535 ]; }; then die "BB_DEV_PORT=$DEV_PORT is not a port number (0 turns it off)"; fi
[ "$DEV_PORT" != "$PORT" ] || die "BB_DEV_PORT must differ from BB_PORT"
# Worker ids are 1..63 (the worker takes 0..63).
if ! { is_uint "$WORKERS" && [ "$WORKERS" -ge 1 ] && [ "$WORKERS" -le 63 ]; }; then die "BB_WORKERS=$WORKERS: want 1 to 63"; fi
if [ -n "$RING_SECONDS" ] && ! is_uint "$RING_SECONDS"; then die "BB_RING_SECONDS=$RING_SECONDS is not a number"; fi
[ -x "$SHMD" ] || die "$SHMD not built (run ./bb build, or set BB_BUILD_DIR)"
[ -x "$WORKER" ] || die "$WORKER not built (run ./bb build, or set BB_BUILD_DIR)"
[ -d "$AUDIO_DIR" ] || die "BB_AUDIO_DIR=$AUDIO_DIR is not a directory"
case $HOST_NAME in
    ''|*[!A-Za-z0-9._-]*) die "BB_HOST_NAME='$HOST_NAME': use letters, digits, '.', '-' and '_'" ;;
esac

# nginx lives in /usr/sbin, which is not on an ordinary user's PATH.
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; }
[ -n "$NGINX" ] || die "nginx not found (sudo apt-get install nginx)"

mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
AUDIO_DIR=$(cd "$AUDIO_DIR" && pwd)
mkdir -p "$RECORDINGS_DIR"
RECORDINGS_DIR=$(cd "$RECORDINGS_DIR" && pwd)
HTML_DIR=$(cd "$(dirname "$HTML_DIR")" && pwd)/$(basename "$HTML_DIR")

URL=http://localhost:$PORT/

# ---------------------------------------------------------------- the lock

# flock(1) on a descriptor this shell keeps open: the lock lasts exactly as
# long as this script, however it ends. Children do not inherit it (9>&-).
LOCK=$RUN_DIR/lock
exec 9>>"$LOCK"
if ! flock -n 9; then
    read -r other_pid other_url <"$LOCK" || true
    echo "bb run: already running (pid ${other_pid:-?}) at ${other_url:-$URL} with run directory $RUN_DIR" >&2
    echo "bb run: stop it with Ctrl-C in its terminal or: kill ${other_pid:-PID}" >&2
    exit 1
fi
printf '%s %s\n' "$$" "$URL" >"$LOCK"

# Processes of an earlier run whose supervisor was killed outright
# (SIGKILL) would still hold the ports and the segment. They are recognised
# by their pid in the pids file and the run directory in their command line.
PIDS_FILE=$RUN_DIR/pids
if [ -s "$PIDS_FILE" ]; then
    leftovers=()
    while read -r name pid; do
        [ -r "/proc/$pid/cmdline" ] || continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$RUN_DIR"; then
            log "stopping $name (pid $pid), left over from an earlier run"
            kill -TERM "$pid" 2>/dev/null && leftovers+=("$pid")
        fi
    done <"$PIDS_FILE"
    for ((i = 0; i < 50 && ${#leftovers[@]}; i++)); do
        still=()
        for pid in "${leftovers[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
        leftovers=("${still[@]}")
        sleep 0.1
    done
    for pid in "${leftovers[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
fi
: >"$PIDS_FILE"

port_busy() {
    # A successful connect means something already listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
port_busy "$PORT" && die "port $PORT is already in use (another ./bb run with another BB_RUN_DIR, or another server); choose one with BB_PORT"
if [ "$DEV_PORT" != 0 ] && port_busy "$DEV_PORT"; then
    die "port $DEV_PORT (the original client's API port) is already in use; choose another with BB_DEV_PORT, or 0 to turn it off"
fi

# ---------------------------------------------------------------- run dir

SOCK_DIR=$RUN_DIR/sock
# A unix socket path must fit in 108 bytes; a deep checkout may not.
if [ $(( ${#SOCK_DIR} + 20 )) -gt 107 ]; then
    SOCK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bb-sock.XXXXXX")
    TEMP_SOCK_DIR=$SOCK_DIR
fi
NGINX_DIR=$RUN_DIR/nginx
mkdir -p "$SOCK_DIR" "$NGINX_DIR/tmp" "$NGINX_DIR/conf.d" "$RUN_DIR/logs" "$RUN_DIR/cache"

# Each run starts a fresh timeline: a segment left by an earlier run may
# come from an older build with another layout.
SHM_FILE=/dev/shm${SEGMENT}
rm -f "$SHM_FILE" "$SHM_FILE"-* "$SOCK_DIR"/worker-*.sock "$SOCK_DIR"/ops-*.sock "$SOCK_DIR"/upload.sock

# ---------------------------------------------------------------- render

have_ipv6_loopback() { grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; }
listen_lines() {
    printf '%s    listen 127.0.0.1:%s;' "$2" "$1"
    if have_ipv6_loopback; then printf '\n%s    listen [::1]:%s;' "$2" "$1"; fi
}

upstream_servers=
for i in $(seq 1 "$WORKERS"); do
    # max_fails=0: a worker that cannot be reached is skipped per request
    # (connecting to a missing unix socket fails at once), and its singers
    # return to it as soon as it listens again.
    upstream_servers="$upstream_servers    server unix:$SOCK_DIR/worker-$i.sock max_fails=0;
"
done

user_directive="# nginx worker processes run as the invoking user"
if [ "$(id -u)" = 0 ]; then
    # Run as root, nginx's worker processes (which parse every request)
    # become an unprivileged user, as on a server: www-data if there is
    # one. They need to read the client and the recordings and reach the
    # workers' sockets; say so if the checkout is where they cannot.
    NGINX_USER=www-data
    id -u "$NGINX_USER" >/dev/null 2>&1 || NGINX_USER=nobody
    [ -z "${TEMP_SOCK_DIR:-}" ] || chmod 0711 "$SOCK_DIR"
    for p in "-r $HTML_DIR/index.html" "-x $RECORDINGS_DIR" "-x $SOCK_DIR" "-x $NGINX_DIR"; do
        # shellcheck disable=SC2086  # the test and its path
        if ! runuser -u "$NGINX_USER" -- test $p; then
            die "nginx's workers run as $NGINX_USER, which cannot reach ${p#-? }: run ./bb run as a normal user, or let $NGINX_USER through the directories above it (chmod o+x)"
        fi
    done
    user_directive="user $NGINX_USER $(id -gn "$NGINX_USER");"
fi

"$DEPLOY/render.sh" -o "$NGINX_DIR" \
    UPSTREAM_SERVERS="$upstream_servers" UPLOAD_SERVER="    server unix:$SOCK_DIR/upload.sock;" \
    HTML_DIR="$HTML_DIR" RECORDINGS_DIR="$RECORDINGS_DIR" \
    CONF_DIR="$NGINX_DIR" NGINX_DIR="$NGINX_DIR" \
    ACCESS_LOG="$RUN_DIR/logs/access.log" \
    USER_DIRECTIVE="$user_directive" NGINX_WORKERS=auto \
    MIME_TYPES=/etc/nginx/mime.types FASTCGI_BUFFER="$("$WORKER" --header-max)" \
    HOST_NAME="$HOST_NAME" LISTEN="$(listen_lines "$PORT" "    ")" \
    "$DEPLOY"/nginx/bb-http.conf.in "$DEPLOY"/nginx/bb-locations.conf.in \
    "$DEPLOY"/nginx/bb-fastcgi.conf.in "$DEPLOY"/nginx/local.conf.in
rm -f "$NGINX_DIR"/conf.d/*.conf
if [ "$DEV_PORT" != 0 ]; then
    "$DEPLOY/render.sh" -o "$NGINX_DIR/conf.d" \
        DEV_LISTEN="$(listen_lines "$DEV_PORT" "")" CONF_DIR="$NGINX_DIR" \
        ACCESS_LOG="$RUN_DIR/logs/access.log" \
        "$DEPLOY"/nginx/local-dev.conf.in
fi
NGINX_CMD=("$NGINX" -p "$NGINX_DIR/" -c "$NGINX_DIR/local.conf" -e stderr)
"${NGINX_CMD[@]}" -t -q 2>&1 | sed -u 's/^/nginx    | /' >&2
[ "${PIPESTATUS[0]}" = 0 ] || die "the rendered nginx config does not pass nginx -t ($NGINX_DIR/local.conf)"

# ---------------------------------------------------------------- processes

declare -A PID_OF=() NAME_OF=() CMD_OF=() STARTED_AT=() BACKOFF=()

# start NAME: start (or restart) the process called NAME from its command
# line in CMD_OF. It gets its own session, so that Ctrl-C in the terminal
# reaches only this script, which then stops everything in order.
start() {
    local name=$1 pid
    if [[ $name == worker-* ]]; then rm -f "$SOCK_DIR/$name.sock"; fi
    child "$name" &
    pid=$!
    PID_OF[$name]=$pid
    NAME_OF[$pid]=$name
    STARTED_AT[$name]=$SECONDS
    printf '%s %s\n' "$name" "$pid" >>"$PIDS_FILE"
    log "started $name (pid $pid)"
}

# child NAME: become the process NAME (run in the background by start).
# setsid execs without forking here, so $! of `child` is the process itself.
child() {
    local name=$1
    eval "set -- ${CMD_OF[$name]}"
    exec setsid "$@" </dev/null 9>&- \
        > >(trap '' INT TERM; exec sed -u "s/^/$(printf '%-9s' "$name")| /" 9>&-) 2>&1
}

# cmd NAME ARGS...: remember the command line of NAME, quoted for eval.
cmd() {
    local name=$1; shift
    CMD_OF[$name]=$(printf '%q ' "$@")
}

alive() { [ -n "${PID_OF[$1]:-}" ] && kill -0 "${PID_OF[$1]}" 2>/dev/null; }

# wait_for WHAT SECONDS NAME TEST...: poll TEST until it succeeds; give up
# when NAME has died or the time is over.
wait_for() {
    local what=$1 secs=$2 name=$3; shift 3
    local i
    for ((i = 0; i < secs * 20; i++)); do
        "$@" && return 0
        alive "$name" || die "$name exited while starting (see its log above)"
        sleep 0.05
    done
    die "timed out after ${secs}s waiting for $what"
}

STOPPING=0
stop_all() {
    local name pid i
    trap '' INT TERM
    STOPPING=1
    log "stopping"
    # nginx first (no new requests), then the workers, the daemon last.
    for group in nginx worker shmd; do
        for name in "${!PID_OF[@]}"; do
            [[ $name == "$group"* ]] || continue
            alive "$name" && kill -TERM "${PID_OF[$name]}" 2>/dev/null
        done
        for ((i = 0; i < 100; i++)); do
            local left=0
            for name in "${!PID_OF[@]}"; do
                [[ $name == "$group"* ]] && alive "$name" && left=1
            done
            [ $left = 0 ] && break
            sleep 0.05
        done
        for name in "${!PID_OF[@]}"; do
            [[ $name == "$group"* ]] || continue
            if alive "$name"; then
                log "$name did not stop within 5s: killing it"
                kill -KILL "${PID_OF[$name]}" 2>/dev/null || true
            fi
        done
    done
    # Timers (the ticker, a restart backoff) need not run out; then wait
    # for the log prefixers, so that the last lines get out.
    # shellcheck disable=SC2046
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    rm -f "$SOCK_DIR"/worker-*.sock "$SOCK_DIR"/ops-*.sock "$SHM_FILE" "$SHM_FILE"-* "$PIDS_FILE"
    [ -n "${TEMP_SOCK_DIR:-}" ] && rm -rf "$TEMP_SOCK_DIR"
    : >"$LOCK"
    log "stopped"
}
on_signal() { [ "$STOPPING" = 1 ] || { stop_all; exit 0; }; }
trap on_signal INT TERM
trap '[ "$STOPPING" = 1 ] || stop_all' EXIT

# The rooms database outlives a run: rooms made with `./bb room create`
# keep their links across runs.
cmd shmd "$SHMD" --segment "$SEGMENT" ${RING_SECONDS:+--ring-seconds "$RING_SECONDS"} \
    ${DEPTH:+--depth "$DEPTH"} --db "$ROOMS_DB" --default-uploads \
    --audio-dir "$AUDIO_DIR" --recordings-dir "$RECORDINGS_DIR" \
    --cache-dir "$RUN_DIR/cache" "${REC_ARGS[@]}"
for i in $(seq 1 "$WORKERS"); do
    cmd "worker-$i" "$WORKER" --listen "unix:$SOCK_DIR/worker-$i.sock" \
        --ops "unix:$SOCK_DIR/ops-$i.sock" --segment "$SEGMENT" --worker-id "$i" \
        ${PRIVATE_COMPLEXITY:+--private-complexity "$PRIVATE_COMPLEXITY"} "${BANK_ARGS[@]}" \
        "${STEM_ARGS[@]}"
done
# The upload worker: uploads are read and decoded there, never in a
# singers' worker (worker id 0; the singers' workers are 1..N).
cmd upload "$WORKER" --uploads --listen "unix:$SOCK_DIR/upload.sock" --segment "$SEGMENT" \
    --worker-id 0 --audio-dir "$AUDIO_DIR" --cache-dir "$RUN_DIR/cache" --ops "unix:$SOCK_DIR/ops-0.sock"
cmd nginx "${NGINX_CMD[@]}"

[ -f "$HTML_DIR/index.html" ] || log "warning: $HTML_DIR/index.html does not exist yet: / will answer 404"

start shmd
wait_for "the segment $SEGMENT" 10 shmd test -e "$SHM_FILE"
for i in $(seq 1 "$WORKERS"); do start "worker-$i"; done
start upload
for i in $(seq 1 "$WORKERS"); do
    wait_for "worker-$i's socket" 10 "worker-$i" test -S "$SOCK_DIR/worker-$i.sock"
done
start nginx
wait_for "nginx on port $PORT" 10 nginx port_busy "$PORT"

log "Bucket Brigade is running at $URL"
log "  API $URL""api, recordings $URL""recordings.html"
[ "$DEV_PORT" != 0 ] && log "  the original client's API convention: http://localhost:$DEV_PORT/"
log "  $WORKERS workers, host name $HOST_NAME, run directory $RUN_DIR (access log in logs/)"
log "  Ctrl-C stops everything"

# ---------------------------------------------------------------- supervise

# describe STATUS: "status N" or "signal NAME" for a wait status.
describe() {
    if [ "$1" = '?' ]; then echo "an unknown status"
    elif [ "$1" -gt 128 ]; then echo "signal $(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
    else echo "status $1"; fi
}

# Restart whatever dies, with a backoff that grows while it keeps dying
# soon after starting (1, 2, 4, 5, 5 ... seconds) and resets once it has
# run for a minute.
#
# `wait -n` wakes up when a child ends, but bash may reap two children that
# end together in one go and report only one, so every wake-up checks all
# processes. A ticker (sleep 5) bounds how long a missed death can go
# unnoticed.
declare -A STATUS_OF=()
ticker=
while :; do
    if [ -z "$ticker" ] || ! kill -0 "$ticker" 2>/dev/null; then
        sleep 5 9>&- &
        ticker=$!
    fi
    dead='' status=0
    wait -n -p dead || status=$?
    [ "$STOPPING" = 1 ] && break
    if [ -n "$dead" ] && [ -n "${NAME_OF[$dead]:-}" ]; then STATUS_OF[$dead]=$status; fi
    for name in "${!PID_OF[@]}"; do
        alive "$name" && continue
        pid=${PID_OF[$name]}
        ran=$((SECONDS - STARTED_AT[$name]))
        if [ "$ran" -ge 60 ]; then BACKOFF[$name]=1; fi
        delay=${BACKOFF[$name]:-1}
        next=$((delay * 2)); [ $next -gt 5 ] && next=5
        BACKOFF[$name]=$next
        st=${STATUS_OF[$pid]:-}
        if [ -z "$st" ]; then
            # Reaped along with another child: bash still remembers it.
            st=0; wait "$pid" 2>/dev/null || st=$?
            [ "$st" = 127 ] && st='?'
        fi
        log "$name (pid $pid) exited with $(describe "$st") after ${ran}s; restarting in ${delay}s"
        unset "NAME_OF[$pid]" "STATUS_OF[$pid]"
        sleep "$delay" 9>&- &
        wait $! 2>/dev/null || true
        [ "$STOPPING" = 1 ] && break 2
        start "$name"
    done
done
