#!/bin/sh
# smoke_load.sh BB_LOAD BUILD_DIR - a short bb-load run against the real
# daemon and worker: bb-shmd on a private segment, one bb-worker on a free
# loopback port, a few singers for a few seconds, straight over FastCGI.
# Passes when bb-load reports no errors and no desyncs.  Skips (exit 77)
# when the daemon or the worker has not been built.  Bounded in time;
# the trap stops both processes and removes the segment /dev/shm/<name>.
set -u
BBLOAD=$1
BUILD=$2
SHMD=$BUILD/shm/bb-shmd
WORKER=$BUILD/fcgi/bb-worker
if [ ! -x "$SHMD" ] || [ ! -x "$WORKER" ]; then
    echo "smoke_load: $SHMD or $WORKER not built: skipped"
    exit 77
fi
TMP=$(mktemp -d /tmp/bb-smoke.XXXXXX)
SEG=/bbtest-load-$$
mkdir -p "$TMP/audio" "$TMP/rec" "$TMP/cache"
SHMD_PID=
WORKER_PID=

stop() { # PID: TERM, then KILL after 3 s
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || return 0
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
cleanup() {
    stop "$WORKER_PID"
    stop "$SHMD_PID"
    rm -f "/dev/shm${SEG}" "/dev/shm${SEG}"-*
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# A loopback TCP port nobody listens on (from /proc/net/tcp{,6}).
free_port() {
    used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk 'NR > 1 {split($2, a, ":"); print a[2]}')
    for _ in $(seq 1 200); do
        p=$(( ( $(od -An -N2 -tu2 /dev/urandom) % 20000 ) + 30000 ))
        hex=$(printf '%04X' "$p")
        echo "$used" | grep -qx "$hex" || { echo "$p"; return 0; }
    done
    return 1
}

wait_log() { # FILE PATTERN PID
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        if ! kill -0 "$3" 2>/dev/null || [ $i -gt 100 ]; then
            echo "smoke_load: '$2' never appeared in $1:"
            cat "$1"
            exit 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
}

PORT=$(free_port) || { echo "smoke_load: no free port"; exit 1; }

"$SHMD" --segment "$SEG" --ring-seconds 124 --audio-dir "$TMP/audio" \
    --recordings-dir "$TMP/rec" --cache-dir "$TMP/cache" >"$TMP/shmd.log" 2>&1 &
SHMD_PID=$!
wait_log "$TMP/shmd.log" "running on" "$SHMD_PID"

"$WORKER" --listen "127.0.0.1:$PORT" --segment "$SEG" --worker-id 0 >"$TMP/worker.log" 2>&1 &
WORKER_PID=$!
wait_log "$TMP/worker.log" "serving" "$WORKER_PID"

fail=0
echo "== aligned clocks, leader starts a song, one spectator, answers decoded"
timeout 60 "$BBLOAD" --fcgi "127.0.0.1:$PORT" --singers 6 --spectators 1 --duration 6 --interval 3 \
    --decode --pids "$WORKER_PID,$SHMD_PID" >"$TMP/run1" 2>&1
rc=$?
cat "$TMP/run1"
[ $rc = 0 ] || { echo "FAIL: bb-load exit status $rc"; fail=1; }
grep -qx 'errors: 0' "$TMP/run1" || { echo "FAIL: errors"; fail=1; }
grep -qx 'desyncs: 0' "$TMP/run1" || { echo "FAIL: desyncs"; fail=1; }

echo "== unaligned clocks (the original client), no leader"
timeout 60 "$BBLOAD" --fcgi "127.0.0.1:$PORT" --singers 4 --no-leader --unaligned --duration 3 \
    --interval 3 --decode >"$TMP/run2" 2>&1
rc=$?
tail -5 "$TMP/run2"
[ $rc = 0 ] || { echo "FAIL: bb-load exit status $rc (unaligned)"; fail=1; }

if [ $fail != 0 ]; then
    echo "--- bb-shmd log"; tail -20 "$TMP/shmd.log"
    echo "--- bb-worker log"; tail -20 "$TMP/worker.log"
fi
exit $fail
