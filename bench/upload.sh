#!/usr/bin/env bash
# bench/upload.sh - what a big upload costs the singers: the same room's
# singers through the local stack, once without and once while the
# organiser uploads a 32 MiB track (read and decoded by the upload worker,
# a process apart), latency percentiles of both in one run.
#
#   bench/upload.sh [--quick]
#
# Figures, not pass/fail.  Prints `p99_ms_without_upload: X`,
# `p99_ms_with_upload: Y` and `p99_difference_ms: Y - X`, and the time the
# upload took.
set -euo pipefail

BB_ROOT=${BB_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BB_BUILD_DIR:-$BB_ROOT/build}
OUT=$BB_ROOT/bench/out/upload
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
if [ "$QUICK" = 1 ]; then SINGERS=40; DUR=30; WARM=8; else SINGERS=100; DUR=40; WARM=10; fi
PORT=${BB_BENCH_PORT:-18700}
RUN=$OUT/run
rm -rf "$RUN"
mkdir -p "$RUN" "$OUT/audio"

say() { printf '%s\n' "$*" >&2; }
field() { sed -n "s/^$1: //p" "$2" | tail -n 1; }

# 32 MiB of 16-bit stereo WAV at 48 kHz (about 175 s of a chord), made
# once: the largest upload the site takes.
BIG=$OUT/big.wav
if [ ! -f "$BIG" ]; then
    command -v sox >/dev/null || { say "bench/upload.sh needs sox (apt-get install sox)"; exit 1; }
    sox -n -r 48000 -c 2 -b 16 "$BIG" synth 174 sine 220 sine 277 gain -12
fi

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

links=$("$BUILD/rooms/bb-room" --db "$RUN/rooms.db" --base-url "http://127.0.0.1:$PORT" create "upload bench")
room=$(sed -n 's|^singers: .*/r/\([^#]*\)#.*$|\1|p' <<<"$links")
skey=$(sed -n 's|^singers: .*#\(.*\)$|\1|p' <<<"$links")
okey=$(sed -n 's|^organiser: .*#\(.*\)$|\1|p' <<<"$links")
echo "$room $skey" >"$OUT/room.txt"
sleep 1

server_pids() { awk '$1 ~ /^worker-/ {print $2}' "$RUN/pids" | paste -sd, -; }
load() {   # load NAME: the singers, for DUR seconds
    "$BUILD/tools/bb-load" --http "127.0.0.1:$PORT" --pids "$(server_pids)" --quiet \
        --offsets 3,6,9,12 --duration "$DUR" --interval 5 --warmup "$WARM" --singers "$SINGERS" \
        --rooms-file "$OUT/room.txt" >"$OUT/$1.txt" 2>"$OUT/$1.err" || true
}

say "== $SINGERS singers, no upload (${DUR}s)"
load without
sleep 6
say "== $SINGERS singers, the organiser uploads 32 MiB ${WARM}s in (${DUR}s)"
load with &
LOAD_PID=$!
sleep "$((WARM + 2))"
t0=$(date +%s.%N)
code=$(curl -sS -o "$OUT/upload.json" -w '%{http_code}' --data-binary "@$BIG" \
    "http://127.0.0.1:$PORT/api/upload?room=$room&key=$okey&name=big.wav" || echo 000)
t1=$(date +%s.%N)
wait "$LOAD_PID"
[ "$code" = 200 ] || say "the upload was answered $code: $(cat "$OUT/upload.json")"

a=$(field p99_ms "$OUT/without.txt") b=$(field p99_ms "$OUT/with.txt")
{
    printf '\n%-44s %10s %10s %8s\n' "measurement" "p50 ms" "p99 ms" "errors"
    for n in without with; do
        printf '%-44s %10s %10s %8s\n' "$SINGERS singers, $n the upload" "$(field p50_ms "$OUT/$n.txt")" \
            "$(field p99_ms "$OUT/$n.txt")" "$(field errors "$OUT/$n.txt")"
    done
    printf 'upload: HTTP %s, %.1f s for 32 MiB\n' "$code" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
    printf 'machine: %s cores, load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'p99_ms_without_upload: %s\n' "${a:-n/a}"
    printf 'p99_ms_with_upload: %s\n' "${b:-n/a}"
    printf 'p99_difference_ms: %s\n' "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b - a}')"
}
