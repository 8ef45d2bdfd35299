#!/usr/bin/env bash
# test_sharding.sh: nginx shards singers over the workers by userid.
#
#   test_sharding.sh SOURCE_DIR BB_SHMD BB_WORKER
#
# Starts the real daemon, three real workers and real nginx, configured from
# the deploy templates (the same bb-*.conf files as production and the
# local run), with two nginx worker processes, and the FastCGI settings of
# production (if they keep connections alive, a worker must serve several
# at once). Then, with audio POSTs from many userids:
#
#   1. every worker gets singers, and each userid lands on one worker;
#   2. asked again, many at once, every userid lands on the same worker;
#   3. with worker 2 stopped, its singers (and only they) move, and every
#      request still succeeds;
#   4. with worker 2 back, every singer is back on their first worker.
#
# Worker 3 is started the way systemd starts it in production: socket
# activation (systemd-socket-activate holds the socket and starts the
# worker on the first connection), with the listening socket as its
# standard input (StandardInput=socket of the unit) and no --listen.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 3 ] || { echo "usage: $0 SOURCE_DIR BB_SHMD BB_WORKER" >&2; exit 2; }
SRC=$1 SHMD=$2 WORKER=$3
need_exe "$SHMD" "$WORKER"
command -v systemd-socket-activate >/dev/null || fail "systemd-socket-activate is not installed (apt-get install systemd)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need_exe "$NGINX"

N_USERS=${N_USERS:-300}
PORT=$(free_port)
SEG=/bb-test-sharding-$$
SOCK=$TMP/sock
mkdir -p "$SOCK" "$TMP/audio" "$TMP/rec" "$TMP/cache" "$TMP/nginx/tmp" "$TMP/nginx/conf.d"
t_exit() { local st=$?; rm -f "/dev/shm$SEG" "/dev/shm$SEG"-*; (exit "$st"); t_cleanup; }  # keep the status for t_cleanup
trap t_exit EXIT

# ------------------------------------------------------------ the processes

spawn shmd "$SHMD" --segment "$SEG" --audio-dir "$TMP/audio" \
    --recordings-dir "$TMP/rec" --cache-dir "$TMP/cache"
wait_until 10 "the daemon's segment" test -e "/dev/shm$SEG"

start_worker() {
    local i=$1
    rm -f "$SOCK/w$i.sock"
    if [ "$i" = 3 ]; then
        # The socket comes as descriptor 3 (sd_listen_fds); the unit's
        # StandardInput=socket makes it descriptor 0, and so does this.
        # shellcheck disable=SC2016
        spawn "worker-$i" systemd-socket-activate -l "$SOCK/w$i.sock" -- \
            sh -c 'exec "$0" "$@" 0<&3 3<&-' \
            "$WORKER" --segment "$SEG" --worker-id "$i" --audio-dir "$TMP/audio" --recordings-dir "$TMP/rec"
    else
        spawn "worker-$i" "$WORKER" --listen "unix:$SOCK/w$i.sock" --segment "$SEG" \
            --worker-id "$i" --audio-dir "$TMP/audio" --recordings-dir "$TMP/rec"
    fi
    wait_until 10 "worker $i's socket" test -S "$SOCK/w$i.sock"
}
for i in 1 2 3; do start_worker "$i"; done

start_local_nginx 3

# ------------------------------------------------------------ helpers

# The clock probe: GET with no query.
probe=$(curl -sS -m 5 -D "$TMP/probe.h" "$API") || fail "GET $API failed"
[ "$probe" = ok ] || fail "GET $API answered '$probe', want 'ok'"
grep -qi '^x-worker-id:' "$TMP/probe.h" || fail "the clock probe has no X-Worker-Id header"

# ask OUT [PARALLEL]: one audio POST per userid (empty body); writes
# "userid http_code worker_id" lines to OUT, sorted. Like a client, each
# singer's read clock advances by n_samples from one request to the next
# (the server refuses a jump); it starts ten seconds back.
RC0=$(( $(now_clock) - 10 * 48000 ))
PASS=0
ask() {
    local out=$1 par=${2:-} cfg=$TMP/curl.cfg rc u
    PASS=$((PASS + 1))
    rc=$((RC0 + PASS * 2880))
    : >"$cfg"
    for ((u = 1; u <= N_USERS; u++)); do
        printf 'url = "%s?read_clock=%s&n_samples=2880&userid=%s&username=s%s"\noutput = "/dev/null"\n' \
            "$API" "$rc" "$((100000 + u * 7919))" "$u" >>"$cfg"
    done
    # A worker that stalls on kept-alive connections makes requests time
    # out: bound each one, and the whole pass.
    timeout 60 stdbuf -oL curl -sS -m 5 -X POST -H 'Content-Length: 0' ${par:+--parallel --parallel-max 16} \
        -w '%{url} %{http_code} %header{x-worker-id}\n' -K "$cfg" >"$out.raw" 2>"$TMP/logs/curl.log" || true
    sed -E 's/.*userid=([0-9]+)&[^ ]* /\1 /' "$out.raw" | sort >"$out"
    [ "$(wc -l <"$out")" = "$N_USERS" ] || fail "only $(wc -l <"$out") answers to $N_USERS requests within 60 s"
}

# check_all_ok FILE: every request answered 200 with an X-Worker-Id.
check_all_ok() {
    local bad
    bad=$(awk '$2 != 200 || $3 == "" {print}' "$1" | head -5)
    [ -z "$bad" ] && return 0
    if awk '$2 == "000"' "$1" | grep -q .; then
        note "status 000 is a timeout: nginx keeps FastCGI connections open (fastcgi_keep_conn), so a worker must serve several connections at once, not only the one it accepted last"
    fi
    fail "requests failed or had no X-Worker-Id (userid status worker): $bad"
}

# ------------------------------------------------------------ 1. spread

ask "$TMP/pass1"
check_all_ok "$TMP/pass1"
awk '{print $3}' "$TMP/pass1" | sort | uniq -c | sort -k2 >"$TMP/spread"
note "singers per worker: $(awk '{printf "worker %s: %s  ", $2, $1}' "$TMP/spread")"
for i in 1 2 3; do
    grep -q " $i\$" "$TMP/spread" || fail "worker $i got no singers out of $N_USERS"
done
[ "$(wc -l <"$TMP/spread")" = 3 ] || fail "answers from unexpected workers: $(cat "$TMP/spread")"

# ------------------------------------------------------------ 2. stable

ask "$TMP/pass2" parallel
check_all_ok "$TMP/pass2"
if ! diff -q "$TMP/pass1" "$TMP/pass2" >/dev/null; then
    diff "$TMP/pass1" "$TMP/pass2" | head -10 >&2
    fail "a userid reached a different worker the second time"
fi
note "asked again ($N_USERS at once, 16 in parallel): every userid on the same worker"

# ------------------------------------------------------------ 3. one stops

stop worker-2
note "stopped worker 2 (exit status $STOPPED_STATUS)"
ask "$TMP/pass3" parallel
check_all_ok "$TMP/pass3"
join "$TMP/pass1" "$TMP/pass3" >"$TMP/moves"
# Columns: userid, status, worker before, status, worker after.
on2=$(awk '$3 == 2' "$TMP/moves" | wc -l)
wrong=$(awk '$3 != 2 && $3 != $5' "$TMP/moves" | wc -l)
stuck=$(awk '$5 == 2' "$TMP/moves" | wc -l)
[ "$stuck" = 0 ] || fail "$stuck answers still came from the stopped worker 2"
[ "$wrong" = 0 ] || { awk '$3 != 2 && $3 != $5' "$TMP/moves" | head -5 >&2; fail "$wrong singers of workers 1 and 3 moved"; }
note "worker 2 stopped: its $on2 singers moved to workers 1 and 3, nobody else moved"
ask "$TMP/pass3b"
diff -q "$TMP/pass3" "$TMP/pass3b" >/dev/null || fail "with worker 2 down, the moved singers did not stay put"

# ------------------------------------------------------------ 4. it returns

start_worker 2
ask "$TMP/pass4" parallel
check_all_ok "$TMP/pass4"
diff -q "$TMP/pass1" "$TMP/pass4" >/dev/null || { diff "$TMP/pass1" "$TMP/pass4" | head -10 >&2; fail "with worker 2 back, singers are not back on their first worker"; }
note "worker 2 back: every singer is back on their first worker"

for name in nginx worker-1 worker-2 worker-3; do stop "$name"; done
stop shmd
[ "$STOPPED_STATUS" = 0 ] || note "warning: the daemon exited with status $STOPPED_STATUS on SIGTERM"
note "PASS"
