#!/bin/sh
# bbload_mock.sh BB_LOAD MOCK_WORKER - bb-load end to end against the
# stand-in worker (mockworker.c): FastCGI over a unix socket, HTTP/1.1 with
# chunked answers over 127.0.0.1, churn, injected desyncs (which must be
# counted and fail the run), a ramp, and refusal of a non-loopback address.
# Every run is bounded by --duration and by timeout(1); the trap stops the
# stand-ins and removes the temporary directory whatever happens.
set -u
BBLOAD=$1
MOCK=$2
TMP=$(mktemp -d /tmp/bbload-mock.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
fail=0

# start_mock NAME ARGS...: starts a stand-in, waits until it listens, and
# sets PORT (0 for unix sockets).
start_mock() {
    name=$1; shift
    "$MOCK" --duration 60 "$@" >"$TMP/$name.out" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    while ! grep -q '^listening' "$TMP/$name.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 50 ]; then echo "mock $name did not start"; cat "$TMP/$name.out"; exit 1; fi
        sleep 0.1
    done
    PORT=$(awk '/^listening/ {print $NF}' "$TMP/$name.out")
}

# value FILE KEY: the value of a "key: value" summary line.
value() { awk -v k="$2:" '$1 == k {print $2}' "$1" | tail -1; }

expect() { # FILE KEY WANT
    got=$(value "$1" "$2")
    if [ "$got" != "$3" ]; then
        echo "FAIL: $1: $2 is '$got', want '$3'"
        fail=1
    fi
}

echo "== FastCGI over a unix socket"
start_mock fcgi --listen "unix:$TMP/w.sock"
timeout 40 "$BBLOAD" --fcgi "unix:$TMP/w.sock" --singers 20 --spectators 2 --duration 4 --interval 2 \
    --seed 11 --floor-passes 2 --pids "$(echo $PIDS | awk '{print $NF}')" >"$TMP/r1" 2>&1
rc=$?
cat "$TMP/r1"
[ $rc = 0 ] || { echo "FAIL: exit status $rc"; fail=1; }
expect "$TMP/r1" singers 20
expect "$TMP/r1" errors 0
expect "$TMP/r1" desyncs 0
expect "$TMP/r1" sustained_last 20
grep -q '^# leader .* leads; song started' "$TMP/r1" || { echo "FAIL: the leader did not start a song"; fail=1; }
[ "$(value "$TMP/r1" moves)" -ge 20 ] || { echo "FAIL: request_lead moved nobody"; fail=1; }
# Decoding alone in two passes before and two after: the median lies
# within the lowest and highest pass, which the report names.
floor=$(value "$TMP/r1" decode_alone_singers_per_core)
lo=$(awk '$1 == "decode_alone_range:" {print $2}' "$TMP/r1")
hi=$(awk '$1 == "decode_alone_range:" {print $3}' "$TMP/r1")
if [ -z "$floor" ] || [ -z "$lo" ] || [ -z "$hi" ] ||
    ! awk -v f="$floor" -v lo="$lo" -v hi="$hi" 'BEGIN {exit !(lo > 0 && lo <= f && f <= hi)}'; then
    echo "FAIL: decode_alone_singers_per_core '$floor' not within decode_alone_range '$lo $hi'"
    fail=1
fi

echo "== HTTP/1.1, chunked answers, churn, unaligned clocks, decoding"
start_mock http --listen 127.0.0.1:0 --http --chunked
timeout 30 "$BBLOAD" --http "127.0.0.1:$PORT" --singers 15 --duration 4 --interval 2 --churn 3 \
    --unaligned --decode --seed 12 >"$TMP/r2" 2>&1
rc=$?
cat "$TMP/r2"
[ $rc = 0 ] || { echo "FAIL: exit status $rc"; fail=1; }
expect "$TMP/r2" errors 0
expect "$TMP/r2" transport http

echo "== injected desyncs are counted and fail the run"
start_mock fault --listen "unix:$TMP/f.sock" --fault-every 20
timeout 30 "$BBLOAD" --fcgi "unix:$TMP/f.sock" --singers 10 --duration 3 --interval 3 --quiet \
    --seed 13 >"$TMP/r3" 2>&1
rc=$?
tail -3 "$TMP/r3"
[ $rc = 1 ] || { echo "FAIL: exit status $rc, want 1"; fail=1; }
d=$(value "$TMP/r3" desyncs)
[ "${d:-0}" -ge 1 ] || { echo "FAIL: no desync counted"; fail=1; }
grep -q 'Client read clock desync (injected fault)' "$TMP/r3" || { echo "FAIL: kill message not listed"; fail=1; }

echo "== ramp"
start_mock ramp --listen "unix:$TMP/r.sock"
timeout 30 "$BBLOAD" --fcgi "unix:$TMP/r.sock" --ramp 4:4:12 --step-seconds 1.5 --p99-bound-ms 1000 \
    --duration 10 --interval 1.5 --seed 14 >"$TMP/r4" 2>&1
rc=$?
grep -E '^# ramp|^ramp_|^singers:' "$TMP/r4"
[ $rc = 0 ] || { echo "FAIL: exit status $rc"; fail=1; }
expect "$TMP/r4" singers 12
expect "$TMP/r4" ramp_broke_at 0

echo "== refuses addresses off this machine"
timeout 10 "$BBLOAD" --http 192.0.2.1:80 --duration 1 >"$TMP/r5" 2>&1
rc=$?
[ $rc = 2 ] || { echo "FAIL: exit status $rc for a non-loopback address, want 2"; fail=1; }
grep -q refusing "$TMP/r5" || { echo "FAIL: no refusal message"; fail=1; }
timeout 10 "$BBLOAD" --fcgi 127.0.0.1:9,10.1.2.3:9000 --duration 1 >"$TMP/r6" 2>&1
[ $? = 2 ] || { echo "FAIL: a non-loopback address in a list was accepted"; fail=1; }

[ $fail = 0 ] && echo "bbload_mock: all passed"
exit $fail
