#!/usr/bin/env bash
# test_local_run.sh: `./bb run` (deploy/local-run.sh) end to end.
#
#   test_local_run.sh SOURCE_DIR BUILD_DIR
#
# Runs the local stack from BUILD_DIR on free ports (BB_PORT, BB_DEV_PORT)
# with two workers and a private run directory, and checks that:
#
#   - it prints its URL, and serves the client at /, the API at /api (on
#     the segment named after the port, naming the host "local" in
#     X-BB-Host), a room's recordings through the API to holders of its key
#     only, and the API again on the development port;
#   - nginx's worker processes do not run as root;
#   - a second run on the same run directory refuses, saying where the first
#     one runs, and leaves the first one alone;
#   - a worker, and then the daemon, killed with SIGKILL are restarted and
#     the API works again;
#   - SIGTERM stops it: exit status 0, every process it started gone, the
#     segment removed, the ports free; and so does Ctrl-C in a terminal.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2; exit 2; }
SRC=$1 BUILD=$2
need_exe "$BUILD/shm/bb-shmd" "$BUILD/fcgi/bb-worker"

PORT=$(free_port)
DEV_PORT=$(free_port)
RUN=$TMP/run
SEG_FILE=/dev/shm/bb-$PORT
mkdir -p "$TMP/audio" "$TMP/rec"
t_exit() { local st=$?; rm -f "$SEG_FILE" "$SEG_FILE"-*; (exit "$st"); t_cleanup; }  # keep the status for t_cleanup
trap t_exit EXIT

export BB_ROOT=$SRC BB_BUILD_DIR=$BUILD BB_RUN_DIR=$RUN BB_PORT=$PORT BB_DEV_PORT=$DEV_PORT \
    BB_WORKERS=2 BB_AUDIO_DIR=$TMP/audio BB_RECORDINGS_DIR=$TMP/rec
LOG=$TMP/logs/bb-run.log
spawn bb-run "$SRC/deploy/local-run.sh"
RUN_PID=${T_PID[bb-run]}

logged() { grep -qF -- "$1" "$LOG"; }
wait_until 30 "the local run to print its URL" logged "is running at http://localhost:$PORT/"
[ -e "$SEG_FILE" ] || fail "no segment $SEG_FILE: the segment should be named after BB_PORT"
note "running at http://localhost:$PORT/ with segment /bb-$PORT"

BASE=http://127.0.0.1:$PORT
# post_ok N: the first audio POST of N new singers, all 200 with a worker
# id. (New singers each time: a singer's next request would have to carry
# the next read clock.)
NEXT_USER=5000
post_ok() {
    local n=$1 i u rc out
    rc=$(( $(now_clock) - 10 * 48000 ))
    for ((i = 0; i < n; i++)); do
        u=$((NEXT_USER += 1))
        out=$(curl -sS -m 5 -o /dev/null -X POST -H 'Content-Length: 0' -w '%{http_code} %header{x-worker-id}' \
            "$BASE/api?read_clock=$rc&n_samples=2880&userid=$u&username=t$u" 2>&1) || true
        case $out in
            "200 1"|"200 2") ;;
            *) fail "audio POST for userid $u answered '$out', want 200 from worker 1 or 2" ;;
        esac
    done
}

body=$(curl -sS -m 5 -D "$TMP/h" "$BASE/api") || fail "GET /api failed"
[ "$body" = ok ] || fail "GET /api answered '$body', want 'ok'"
grep -qiE '^x-worker-id: [12]' "$TMP/h" || fail "GET /api has no X-Worker-Id of worker 1 or 2"
grep -qi '^x-bb-host: local' "$TMP/h" || fail "GET /api does not name the host (X-BB-Host: local, the default of BB_HOST_NAME)"
post_ok 10
if [ -f "$SRC/html/index.html" ]; then
    st=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$BASE/")
    [ "$st" = 200 ] || fail "GET / answered $st, want the client"
fi
# Recordings: listed and sent by the API, to holders of the room's link
# only; no public URL, no other file of the folder.
SONG=2024-01-02-030405
echo default-mix >"$TMP/rec/$SONG.wav"
echo secret >"$TMP/rec/notes.txt"
code() { curl -sS -m 5 -o "$TMP/body" -w '%{http_code}' "$@"; }
[ "$(code "$BASE/api/recording?file=$SONG.wav")" = 200 ] && [ "$(cat "$TMP/body")" = default-mix ] \
    || fail "the default room's recording was not sent: $(cat "$TMP/body")"
grep -q "\"song\":\"$SONG\"" <(curl -sS -m 5 "$BASE/api/recordings") || fail "the default room's listing lacks $SONG"
[ "$(code "$BASE/recordings/$SONG.wav")" = 404 ] || fail "a recording has a public URL"
[ "$(code "$BASE/bb-recordings/$SONG.wav")" = 404 ] || fail "the internal recordings location answers a client"
for f in notes.txt ../rec/$SONG.wav "$SONG.wav%0d%0aX-Evil:%201" index.html; do
    [ "$(code "$BASE/api/recording?file=$f")" = 400 ] || fail "file=$f was not refused with 400"
done
[ "$(code "$BASE/api/recording?file=2099-01-01-000000.wav")" = 404 ] || fail "a missing recording is not a 404"
link=$("$BUILD/rooms/bb-room" --db "$RUN/rooms.db" --base-url "$BASE" create "Test room" | awk '/^singers:/ {print $2}')
ROOM=${link##*/r/} ROOM=${ROOM%%#*} KEY=${link##*#}
[ -n "$ROOM" ] && [ -n "$KEY" ] || fail "bb-room create printed no singers' link"
mkdir -p "$TMP/rec/$ROOM"
echo room-mix >"$TMP/rec/$ROOM/$SONG.wav"
room_ok() { [ "$(code "$BASE/api/recording?room=$ROOM&key=$KEY&file=$SONG.wav")" = 200 ]; }
wait_until 10 "the new room to be served" room_ok
[ "$(cat "$TMP/body")" = room-mix ] || fail "the room's recording came back as: $(cat "$TMP/body")"
[ "$(code "$BASE/api/recording?room=$ROOM&file=$SONG.wav")" = 403 ] || fail "a room's recording was sent without its key"
[ "$(code "$BASE/api/recording?room=$ROOM&key=x$KEY&file=$SONG.wav")" = 403 ] || fail "a room's recording was sent for a wrong key"
[ "$(code "$BASE/api/recordings?room=$ROOM")" = 403 ] || fail "a room's listing was sent without its key"
note "recordings: sent by the API to the room's key holders only, no public URL, no other file"
body=$(curl -sS -m 5 -D "$TMP/h" "http://127.0.0.1:$DEV_PORT/") || fail "GET on the development port failed"
[ "$body" = ok ] || fail "GET http://127.0.0.1:$DEV_PORT/ answered '$body', want 'ok'"
grep -qi '^access-control-allow-origin: \*' "$TMP/h" || fail "the development port's answer has no CORS header"
note "client at /, API at /api, API on the development port $DEV_PORT with CORS"

# nginx's worker processes never run as root: run by root, the local run
# gives them to an unprivileged user.
master=$(cat "$RUN/nginx/nginx.pid")
users=$(ps -o user=,args= --ppid "$master" | awk '/nginx: worker/ {print $1}' | sort -u | tr '\n' ' ')
[ -n "$users" ] || fail "nginx (pid $master) has no worker processes"
case " $users" in *" root "*) fail "nginx worker processes run as root" ;; esac
note "nginx's workers run as: $users"

# A second run on the same run directory.
set +e
second=$(timeout 20 "$SRC/deploy/local-run.sh" 2>&1)
st=$?
set -e
[ "$st" != 0 ] || fail "a second run exited with status 0"
case $second in
    *"already running (pid $RUN_PID) at http://localhost:$PORT/"*) ;;
    *) fail "a second run said: $second" ;;
esac
kill -0 "$RUN_PID" 2>/dev/null || fail "the first run died when a second one was tried"
post_ok 2
note "a second run refuses: ${second%%$'\n'*}"

# pid_of NAME: the current pid of NAME from the run directory's pids file.
pid_of() { awk -v n="$1" '$1 == n {p = $2} END {print p}' "$RUN/pids"; }

restarted() {   # restarted NAME OLD_PID
    local pid
    pid=$(pid_of "$1")
    [ -n "$pid" ] && [ "$pid" != "$2" ] && kill -0 "$pid" 2>/dev/null
}
for name in worker-1 shmd; do
    old=$(pid_of "$name")
    [ -n "$old" ] || fail "no pid of $name in $RUN/pids"
    kill -KILL "$old"
    wait_until 20 "$name to be restarted" restarted "$name" "$old"
    logged "$name (pid $old) exited with signal KILL" || fail "the restart of $name was not logged"
    [ "$name" = worker-1 ] && wait_until 10 "worker-1's socket" test -S "$RUN/sock/worker-1.sock"
    sleep 0.5
    post_ok 10
    note "$name killed: restarted (pid $old -> $(pid_of "$name")), the API works"
done

# SIGTERM stops everything it started.
mapfile -t pids < <(awk '{print $2}' "$RUN/pids")
nginx_master=$(cat "$RUN/nginx/nginx.pid")
stop bb-run
[ "$STOPPED_STATUS" = 0 ] || fail "the local run exited with status $STOPPED_STATUS on SIGTERM"
for pid in "${pids[@]}" "$nginx_master"; do
    if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        fail "process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline")) outlived the local run"
    fi
done
[ ! -e "$SEG_FILE" ] || fail "the segment $SEG_FILE is still there after the run stopped"
for f in "$SEG_FILE"-*; do [ ! -e "$f" ] || fail "the room timeline $f is still there after the run stopped"; done
if port_busy "$PORT" || port_busy "$DEV_PORT"; then fail "a port is still in use after the run stopped"; fi
logged "bb-run   | stopped" || fail "the local run did not log that it stopped"
note "SIGTERM: exit status 0, all ${#pids[@]} processes and nginx gone, segment removed, ports free"

# Ctrl-C typed in a terminal: script(1) gives the run a terminal of its own,
# and ^C written to it reaches the run as SIGINT, from the terminal driver.
# (Job control on while starting it: without it, bash starts background
# commands with SIGINT ignored, as if no terminal could reach them.)
mkfifo "$TMP/tty.in"
set -m
script -qfec "$SRC/deploy/local-run.sh" /dev/null <"$TMP/tty.in" >"$TMP/logs/ctrl-c.log" 2>&1 &
T_PID[ctrl-c]=$!
set +m
exec 7>"$TMP/tty.in"
LOG=$TMP/logs/ctrl-c.log
wait_until 30 "the run in a terminal to print its URL" logged "is running at http://localhost:$PORT/"
mapfile -t pids < <(awk '{print $2}' "$RUN/pids")
nginx_master=$(cat "$RUN/nginx/nginx.pid")
printf '\003' >&7
gone() { ! kill -0 "${T_PID[ctrl-c]}" 2>/dev/null; }
wait_until 20 "Ctrl-C to stop the run" gone
exec 7>&-
for pid in "${pids[@]}" "$nginx_master"; do
    if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        fail "process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline")) outlived Ctrl-C"
    fi
done
[ ! -e "$SEG_FILE" ] || fail "the segment $SEG_FILE is still there after Ctrl-C"
logged "bb-run   | stopped" || fail "the run did not log that it stopped on Ctrl-C"
note "Ctrl-C in its terminal: all ${#pids[@]} processes and nginx gone, segment removed"
note "PASS"
