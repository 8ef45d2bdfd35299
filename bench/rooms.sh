#!/usr/bin/env bash
# bench/rooms.sh - what rooms cost: the same singers in one room and spread
# over many, through the local stack (daemon, one worker per core, nginx),
# measured in one run, and the memory a room takes.
#
#   bench/rooms.sh [--quick]
#
# Figures, not pass/fail.  Each load is bb-load through nginx: every room's
# first singer leads and starts a song over six buckets; the others sing
# pre-encoded Opus in 600 ms batches, paced in real time.  Singers per core
# = the singers carried / the cores the workers and the daemon used (CPU
# seconds from /proc), so a shared machine moves both figures alike; the
# ratio of the two is the cost of rooms.  Then every room but the default
# sits idle for a while, and the daemon's CPU over that time is the cost of
# idle rooms.  Prints `rooms_singers_per_core: N`, `one_room_singers_per_core:
# N`, `rooms_ratio: R`, `idle_rooms_daemon_cpu_percent: P` and the memory of
# a room's segment (`room_segment_mib`, `room_segment_resident_mib`).
# Beside each load, from the workers' metrics: the encoding's share of
# their request time (`one_room_encode_share`, `rooms_encode_share`) and
# the share of the packets sent that had to be encoded: each (room, bucket)
# has its own mix, and each worker its own encoder chain for it, which one
# room of many singers shares among all of a bucket's singers.
set -euo pipefail

BB_ROOT=${BB_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BB_BUILD_DIR:-$BB_ROOT/build}
OUT=$BB_ROOT/bench/out/rooms
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
if [ "$QUICK" = 1 ]; then
    ROOMS=10; PER=20; DUR=30; WARM=12; IV=6; IDLE=20
else
    ROOMS=20; PER=30; DUR=60; WARM=20; IV=10; IDLE=60
fi
TOTAL=$((ROOMS * PER))
PORT=${BB_BENCH_PORT:-18690}
RUN=$OUT/run
rm -rf "$RUN"
mkdir -p "$RUN" "$OUT/audio"

say() { printf '%s\n' "$*" >&2; }
field() { sed -n "s/^$1: //p" "$2" | tail -n 1; }

STACK_PID=
cleanup() {
    if [ -n "$STACK_PID" ]; then
        kill -TERM "$STACK_PID" 2>/dev/null || true
        wait "$STACK_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

say "== starting the local stack on port $PORT"
BB_PORT=$PORT BB_DEV_PORT=0 BB_RUN_DIR=$RUN BB_AUDIO_DIR=$OUT/audio BB_ROOMS_DB=$RUN/rooms.db \
    BB_BUILD_DIR=$BUILD "$BB_ROOT/deploy/local-run.sh" >"$OUT/stack.log" 2>&1 &
STACK_PID=$!
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api" 2>/dev/null && break
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api" || { say "the stack did not come up"; tail -20 "$OUT/stack.log" >&2; exit 1; }

# The rooms, each with its singers' key: "ID KEY" per line, as bb-load reads.
: >"$OUT/rooms.txt"
for i in $(seq 1 "$ROOMS"); do
    "$BUILD/rooms/bb-room" --db "$RUN/rooms.db" --base-url "http://127.0.0.1:$PORT" create "bench $i" |
        sed -n 's|^singers: .*/r/\([^#]*\)#\(.*\)$|\1 \2|p' >>"$OUT/rooms.txt"
done
[ "$(wc -l <"$OUT/rooms.txt")" = "$ROOMS" ] || { say "could not create $ROOMS rooms"; exit 1; }
sleep 1   # the daemon opens them within half a second

server_pids() { awk '$1 ~ /^(shmd|worker-)/ {print $2}' "$RUN/pids" | paste -sd, -; }
shmd_pid() { awk '$1 == "shmd" {print $2}' "$RUN/pids"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The singers' workers' metrics, summed: a metric's value for one label
# (`metric 'stage_seconds_sum{stage="encode"}'`).
metric() {
    local s total=0 v
    for s in "$RUN"/sock/ops-[1-9]*.sock; do
        v=$(curl -fsS --unix-socket "$s" http://ops/metrics 2>/dev/null |
            awk -v k="bb_worker_$1" 'index($0, k " ") == 1 {print $2}')
        total=$(awk -v a="$total" -v b="${v:-0}" 'BEGIN {printf "%.6f", a + b}')
    done
    echo "$total"
}

# Where the workers' time went in a load: the encoding's share of their
# request time, and the share of the packets sent that had to be encoded
# (the rest were shared within a bucket): rooms multiply encoder chains.
load() {   # load NAME ARGS...
    local name=$1
    shift
    local e0 r0 p0 s0 e1 r1 p1 s1
    e0=$(metric 'stage_seconds_sum{stage="encode"}'); r0=$(metric 'stage_seconds_sum{stage="request"}')
    p0=$(metric 'packets_total{source="encoded"}'); s0=$(awk -v a="$(metric 'packets_total{source="shared"}')" -v b="$(metric 'packets_total{source="bank"}')" 'BEGIN {print a + b}')
    "$BUILD/tools/bb-load" --http "127.0.0.1:$PORT" --pids "$(server_pids)" --quiet \
        --offsets 3,6,9,12,15,18 --duration "$DUR" --interval "$IV" --warmup "$WARM" "$@" \
        >"$OUT/$name.txt" 2>"$OUT/$name.err" || true
    e1=$(metric 'stage_seconds_sum{stage="encode"}'); r1=$(metric 'stage_seconds_sum{stage="request"}')
    p1=$(metric 'packets_total{source="encoded"}'); s1=$(awk -v a="$(metric 'packets_total{source="shared"}')" -v b="$(metric 'packets_total{source="bank"}')" 'BEGIN {print a + b}')
    awk -v e="$e0" -v E="$e1" -v r="$r0" -v R="$r1" -v p="$p0" -v P="$p1" -v s="$s0" -v S="$s1" 'BEGIN {
        printf "encode_share_of_request_time: %.3f\n", (R > r) ? (E - e) / (R - r) : 0
        printf "packets_encoded_share: %.3f\n", (P + S > p + s) ? (P - p) / ((P - p) + (S - s)) : 0
    }' >>"$OUT/$name.txt"
}

say "== $TOTAL singers in one room (${DUR}s)"
load one --singers "$TOTAL" --rooms-file <(head -n 1 "$OUT/rooms.txt")
sleep 6    # everyone gone (5 s) before the next run
say "== $TOTAL singers over $ROOMS rooms of $PER (${DUR}s)"
load many --singers "$TOTAL" --rooms-file "$OUT/rooms.txt"

say "== $ROOMS rooms idle (${IDLE}s): the daemon's CPU"
sleep 8    # the singers are gone; the rooms fall asleep a minute after
hz=$(getconf CLK_TCK)
pid=$(shmd_pid)
sleep 60
t0=$(cpu_ticks "$pid")
sleep "$IDLE"
t1=$(cpu_ticks "$pid")
idle_pct=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$IDLE" 'BEGIN {printf "%.2f", 100 * (b - a) / hz / s}')

# A room's segment: its size, and what is resident once it sang and slept.
seg=$(ls -1 /dev/shm | grep -- "-$(head -n 1 "$OUT/rooms.txt" | cut -d' ' -f1)\$" | head -n 1)
seg_mib=$(du --apparent-size -m "/dev/shm/$seg" | cut -f1)
res_mib=$(du -m "/dev/shm/$seg" | cut -f1)

one=$(field singers_per_core "$OUT/one.txt")
many=$(field singers_per_core "$OUT/many.txt")
{
    printf '\n%-44s %9s %8s %8s %7s %8s %8s\n' "measurement" "per core" "p50 ms" "p99 ms" "errors" \
        "encode" "encoded"
    for n in one many; do
        case $n in
            one) what="$TOTAL singers in one room" ;;
            many) what="$TOTAL singers in $ROOMS rooms of $PER" ;;
        esac
        printf '%-44s %9s %8s %8s %7s %8s %8s\n' "$what" "$(field singers_per_core "$OUT/$n.txt")" \
            "$(field p50_ms "$OUT/$n.txt")" "$(field p99_ms "$OUT/$n.txt")" "$(field errors "$OUT/$n.txt")" \
            "$(field encode_share_of_request_time "$OUT/$n.txt")" "$(field packets_encoded_share "$OUT/$n.txt")"
    done
    printf 'machine: %s, %s cores, load average %s\n' "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)" \
        "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'one_room_singers_per_core: %s\n' "${one:-n/a}"
    printf 'rooms_singers_per_core: %s\n' "${many:-n/a}"
    printf 'rooms_ratio: %s\n' "$(awk -v a="$many" -v b="$one" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}')"
    printf 'one_room_encode_share: %s\n' "$(field encode_share_of_request_time "$OUT/one.txt")"
    printf 'rooms_encode_share: %s\n' "$(field encode_share_of_request_time "$OUT/many.txt")"
    printf 'idle_rooms_daemon_cpu_percent: %s\n' "$idle_pct"
    printf 'room_segment_mib: %s\n' "$seg_mib"
    printf 'room_segment_resident_mib: %s\n' "$res_mib"
}
