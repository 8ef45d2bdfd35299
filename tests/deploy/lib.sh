# shellcheck shell=bash
# shellcheck disable=SC2034  # STOPPED_STATUS is read by the tests
# lib.sh: helpers shared by the deploy tests (sourced, not run).
#
# Every test works in its own temporary directory, on loopback ports that
# were free when it started, and stops every process it started when it
# ends, however it ends (the EXIT trap). On failure it prints the last
# lines of each process's log. BB_KEEP_TMP=1 keeps the directory.
set -euo pipefail
export LC_ALL=C

T_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bb-$T_NAME.XXXXXX")
# Others may pass (not list): the local run's nginx workers, run as www-data when
# the tests run as root, reach its sockets and files under it.
chmod 0711 "$TMP"
mkdir -p "$TMP/logs"
declare -A T_PID=()

note() { printf '%s: %s\n' "$T_NAME" "$*"; }
fail() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; exit 1; }

# spawn NAME CMD...: run CMD in the background, output in $TMP/logs/NAME.log.
spawn() {
    local name=$1; shift
    "$@" </dev/null >"$TMP/logs/$name.log" 2>&1 &
    T_PID[$name]=$!
}

# stop NAME [SIGNAL]: signal NAME (TERM by default), wait up to 5 s for it
# to exit, then kill it. Its exit status is left in STOPPED_STATUS.
STOPPED_STATUS=
stop() {
    local name=$1 sig=${2:-TERM} pid=${T_PID[$1]:-} i st=0
    STOPPED_STATUS=
    [ -n "$pid" ] || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || st=$?
    unset "T_PID[$name]"
    STOPPED_STATUS=$st
}

t_cleanup() {
    local st=$? name
    trap - EXIT INT TERM
    for name in "${!T_PID[@]}"; do stop "$name"; done
    if [ "$st" != 0 ]; then
        for f in "$TMP"/logs/*.log; do
            [ -s "$f" ] || continue
            echo "---- last lines of $(basename "$f")" >&2
            tail -n 25 "$f" >&2
        done
    fi
    if [ "${BB_KEEP_TMP:-0}" = 1 ]; then note "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$st"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a loopback TCP port nothing listens on (best effort: another
# process may take it before we bind it, which then fails loudly). Below
# Linux's ephemeral range (32768 and up), where outgoing connections take
# their ports.
free_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 12000))
        port_busy "$p" || port_busy $((p + 1)) || { echo "$p"; return 0; }
    done
    fail "no free port found"
}

# wait_until SECONDS WHAT CMD...: poll CMD every 50 ms until it succeeds.
wait_until() {
    local secs=$1 what=$2 i; shift 2
    for ((i = 0; i < secs * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    fail "timed out after ${secs}s waiting for $what"
}

# need_exe PATH...: fail clearly when a binary under test was not built.
need_exe() {
    local f
    for f in "$@"; do
        [ -x "$f" ] || fail "$f does not exist or is not executable (build it first: ./bb build)"
    done
}

# now_clock: the server clock, in 48 kHz samples since the Unix epoch.
now_clock() {
    local us
    us=$(( $(date +%s%N) / 1000 ))   # microseconds: times 48 fits in 64 bits
    echo $(( us * 48 / 1000 ))
}

have_ipv6_loopback() { grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; }

# start_local_nginx N: renders the local nginx site (deploy/nginx/*.conf.in,
# as ./bb run does) for workers 1..N listening on $SOCK/wI.sock (worker 1
# also takes the uploads), starts
# nginx on 127.0.0.1:$PORT (as the invoking user) and waits for it; sets
# API to the site's API URL. Uses SRC, NGINX, WORKER (for its header
# size), SOCK, PORT and TMP.
start_local_nginx() {
    local n=$1 i servers= user_directive="# as the invoking user"
    for ((i = 1; i <= n; i++)); do
        servers="$servers    server unix:$SOCK/w$i.sock max_fails=0;
"
    done
    [ "$(id -u)" = 0 ] && user_directive="user $(id -un) $(id -gn);"
    "$SRC/deploy/render.sh" -o "$TMP/nginx" \
        UPSTREAM_SERVERS="$servers" UPLOAD_SERVER="    server unix:$SOCK/w1.sock;" \
        HTML_DIR="$SRC/html" RECORDINGS_DIR="$TMP/rec" \
        CONF_DIR="$TMP/nginx" NGINX_DIR="$TMP/nginx" ACCESS_LOG="$TMP/logs/access.log" \
        USER_DIRECTIVE="$user_directive" NGINX_WORKERS=2 MIME_TYPES=/etc/nginx/mime.types \
        LISTEN="        listen 127.0.0.1:$PORT;" FASTCGI_BUFFER="$("$WORKER" --header-max)" \
        HOST_NAME="$T_NAME" \
        "$SRC"/deploy/nginx/bb-http.conf.in "$SRC"/deploy/nginx/bb-locations.conf.in \
        "$SRC"/deploy/nginx/bb-fastcgi.conf.in "$SRC"/deploy/nginx/local.conf.in
    spawn nginx "$NGINX" -p "$TMP/nginx/" -c "$TMP/nginx/local.conf" -e stderr
    wait_until 10 "nginx on port $PORT" port_busy "$PORT"
    API=http://127.0.0.1:$PORT/api
}

# site_nginx DIR WORKERS SITE [HTTP_LINE...]: writes DIR/nginx.conf in the
# shape of Debian's /etc/nginx/nginx.conf (pid, temp paths and default
# access log under DIR, in the foreground, as the invoking user) with
# WORKERS worker processes, including the site SITE in the http context
# after the HTTP_LINEs, and checks it with nginx -t: an error or a warning
# fails the test. Sets SITE_NGX to the command that runs it. Uses NGINX.
SITE_NGX=()
site_nginx() {
    local dir=$1 workers=$2 site=$3 extra=''
    shift 3
    [ $# = 0 ] || extra=$(printf '    %s\n' "$@")
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes $workers;
pid $dir/nginx.pid;
error_log stderr warn;
$([ "$(id -u)" = 0 ] && echo "user $(id -un) $(id -gn);")
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $dir/tmp/body;
    fastcgi_temp_path $dir/tmp/fastcgi;
    proxy_temp_path $dir/tmp/proxy;
    scgi_temp_path $dir/tmp/scgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    access_log $dir/other.log;
$extra
    include $site;
}
EOF
    SITE_NGX=("$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e stderr)
    "${SITE_NGX[@]}" -t >"$dir/nginx-t.log" 2>&1 || { cat "$dir/nginx-t.log" >&2; fail "nginx -t fails on $site"; }
    if grep -q '\[warn\]' "$dir/nginx-t.log"; then cat "$dir/nginx-t.log" >&2; fail "nginx -t warns about $site"; fi
}
