#!/usr/bin/env bash
# bench/run.sh - what `./bb bench` runs: the request microbenchmark and the
# end-to-end load through nginx, then one table and the lines
# `singers_per_core: N` (the end-to-end figure), `of_decode_alone: R`
# (that figure over decoding alone, measured in the same run) and
# `original_clocks_per_core: N` (the original client's unaligned clocks
# through nginx: a private encode per singer), with the quality and CPU of
# each Opus complexity for those private streams (bench_complexity), and
# `singers_per_core_with_rests: N`: the same song with every voice resting
# 30% of its time at the ends of its phrases (bb-load --rests 30, DTX as
# our client sends it), beside the song without rests of the same run,
# with `decode_alone_with_rests_per_core: N` (what a server that did
# nothing but decode would carry on that voice: its ceiling), and
# `worker_memory_per_singer_kib: N`.  Each load of our client runs in
# a keyed room of its own; the original client's clocks in the default
# room.  BB_PRIVATE_COMPLEXITY sets the workers' --private-complexity,
# BB_ENCODE_BANK=off turns the workers' encode bank off.
#
#   bench/run.sh [--quick]
#
# Figures, not pass/fail: a benchmark never fails on time.  The machine may
# be shared and noisy, so every figure is a ratio measured in one run
# (CPU seconds of the server processes per singer-second, read from /proc).
#
# End to end: the local stack (deploy/local-run.sh: daemon, one worker per
# core, nginx) on a private port and run directory, a backing track, and
# bb-load through nginx over HTTP/1.1 keep-alive: a leader who leads and
# starts a song over six buckets, singers joining and leaving, pre-encoded
# real Opus, 600 ms batches paced in real time.  Singers per core = the
# singers carried / the cores the workers and the daemon used.  nginx's own
# CPU is reported beside it.
set -euo pipefail

BB_ROOT=${BB_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BB_BUILD_DIR:-$BB_ROOT/build}
OUT=$BB_ROOT/bench/out
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
# Each run measures after a warm-up (the song starting, every stem
# opening): the steady state of a song in progress.
if [ "$QUICK" = 1 ]; then DUR=30; WARM=15; IV=5; else DUR=60; WARM=20; IV=10; fi
# Decoding alone is measured in passes of about half a second before and
# after each load, and the median taken: one pass each side swung the floor
# by a fifth between runs of the same code while the loads' own figures
# held within a twentieth, the host's speed wandering.
FLOOR_PASSES=${BB_FLOOR_PASSES:-5}
PORT=${BB_BENCH_PORT:-18680}
mkdir -p "$OUT"
RUN=$OUT/run
rm -rf "$RUN"
mkdir -p "$RUN" "$OUT/audio"

say() { printf '%s\n' "$*" >&2; }
field() { sed -n "s/^$1: //p" "$2" | tail -n 1; }

# ---- the request microbenchmark ----------------------------------------
say "== request microbenchmark (bench_exchange: one worker, no HTTP)"
"$BUILD/bench/bench_exchange" --singers 120 --rounds 12 >"$OUT/micro-aligned.txt" 2>/dev/null
"$BUILD/bench/bench_exchange" --singers 120 --rounds 12 --unaligned >"$OUT/micro-unaligned.txt" 2>/dev/null
"$BUILD/bench/bench_exchange" --singers 6 --spectators 1000 --rounds 8 >"$OUT/micro-spectators.txt" 2>/dev/null
# The same song without rests and with them, alternated in one process.
"$BUILD/bench/bench_exchange" --singers 120 --rounds 12 --rests 30 >"$OUT/micro-rests.txt" 2>/dev/null
grep -E "^(parse|decode|mix|encode|metadata|request) " "$OUT/micro-aligned.txt" >&2 || true
say "== private streams: SNR and encode CPU per Opus complexity (bench_complexity)"
"$BUILD/bench/bench_complexity" --passes "$([ "$QUICK" = 1 ] && echo 3 || echo 7)" >"$OUT/complexity.txt" 2>/dev/null

# ---- the end-to-end stack ------------------------------------------------
# A backing track of two minutes (a chord, so that it is not silence).
TRACK=$OUT/audio/bench-track.wav
if [ ! -f "$TRACK" ]; then
    if command -v sox >/dev/null 2>&1; then
        sox -n -r 48000 -c 1 -b 16 "$TRACK" synth 120 sine 220 sine 277 sine 330 gain -12 2>/dev/null
    fi
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
BB_PORT=$PORT BB_DEV_PORT=0 BB_RUN_DIR=$RUN BB_AUDIO_DIR=$OUT/audio BB_DEPTH=7 \
    BB_ROOMS_DB=$RUN/rooms.db BB_BUILD_DIR=$BUILD "$BB_ROOT/deploy/local-run.sh" >"$OUT/stack.log" 2>&1 &
STACK_PID=$!
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api" 2>/dev/null && break
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api" || { say "the stack did not come up"; tail -20 "$OUT/stack.log" >&2; exit 1; }
sleep 1   # the daemon prepares the track

server_pids() { awk '$1 ~ /^(shmd|worker-)/ {print $2}' "$RUN/pids" | paste -sd, -; }
nginx_pids() {  # the master (its command line names the run directory) and its workers
    local m
    m=$(pgrep -f "nginx.*$RUN" | paste -sd' ' -)
    { for p in $m; do echo "$p"; pgrep -P "$p"; done; } | sort -u | paste -sd, -
}
cpu_of() {  # total user+system seconds of the given pids (and their children)
    local total=0 p t
    for p in ${1//,/ }; do
        t=$(awk '{print ($14 + $15)}' "/proc/$p/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    echo "$total"
}

# room NAME: a keyed room of its own for one load ("ID KEY" in
# $OUT/room-NAME.txt, as bb-load's --rooms-file reads), so that every load
# starts as an evening does, with no song, leader or singers of the load
# before it (a leader still there for 5 s kept the next load's leader from
# starting its song), and measures what a keyed room costs.
room() {
    "$BUILD/rooms/bb-room" --db "$RUN/rooms.db" --base-url "http://127.0.0.1:$PORT" create "bench $1" |
        sed -n 's|^singers: .*/r/\([^#]*\)#\(.*\)$|\1 \2|p' >"$OUT/room-$1.txt"
    [ -s "$OUT/room-$1.txt" ] || { say "could not create a room for $1"; exit 1; }
    sleep 1   # the daemon opens it within half a second
}

# load NAME ARGS...: one bb-load run through nginx; its key: value lines go
# to $OUT/NAME.txt.  In a room of its own, but for the original client's
# clocks (`unaligned`), which the original client only has in the default
# room.
load() {
    local name=$1
    shift
    local ng0 ng1 hz rooms=()
    if [ "$name" != unaligned ]; then
        room "$name"
        rooms=(--rooms-file "$OUT/room-$name.txt")
    fi
    hz=$(getconf CLK_TCK)
    ng0=$(cpu_of "$(nginx_pids)")
    "$BUILD/tools/bb-load" --http "127.0.0.1:$PORT" --pids "$(server_pids)" --quiet \
        --floor-passes "$FLOOR_PASSES" --offsets 3,6,9,12,15,18 --track bench-track.wav "${rooms[@]}" "$@" >"$OUT/$name.txt" \
        2>"$OUT/$name.err" || true
    ng1=$(cpu_of "$(nginx_pids)")
    echo "nginx_cpu_seconds: $(awk -v a="$ng0" -v b="$ng1" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')" >>"$OUT/$name.txt"
}

# The singers' workers' private memory (RssAnon: heap, codecs, tables,
# stems' buffers; the segments are shared and counted per room), in KiB.
worker_rss_kib() {
    local t=0 p v
    for p in $(awk '$1 ~ /^worker-/ {print $2}' "$RUN/pids"); do
        v=$(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

if [ "$QUICK" = 1 ]; then
    SINGERS=150; SPECT=600
else
    SINGERS=400; SPECT=2000
fi
say "== end to end: $SINGERS singers, a song over six buckets with a backing track, churn (${DUR}s)"
rss_idle=$(worker_rss_kib)
(sleep "$((WARM + DUR / 2))" && worker_rss_kib >"$OUT/rss-singing.txt") &
rss_pid=$!
load singers --singers "$SINGERS" --churn 20 --duration "$DUR" --interval "$IV" --warmup "$WARM"
wait "$rss_pid" || true
rss_singing=$(cat "$OUT/rss-singing.txt" 2>/dev/null || echo 0)
say "== end to end: the same song, every voice resting 30% of the time at phrase ends (${DUR}s)"
load rests --singers "$SINGERS" --churn 20 --duration "$DUR" --interval "$IV" --warmup "$WARM" --rests 30
say "== end to end: 6 singers and $SPECT listeners (${DUR}s)"
load spectators --singers 6 --spectators "$SPECT" --duration "$DUR" --interval "$IV" --warmup "$WARM"
say "== end to end: $((SINGERS / 2)) singers on unaligned clocks, as the original client (${DUR}s)"
load unaligned --singers "$((SINGERS / 2))" --unaligned --duration "$DUR" --interval "$IV" --warmup "$WARM"

# ---- the table -------------------------------------------------------------
{
    printf '\n%-44s %12s %10s %10s %8s\n' "measurement" "per core" "p50 ms" "p99 ms" "errors"
    printf '%-44s %12s %10s %10s %8s\n' "exchange inside a worker, aligned clocks" \
        "$(field exchange_singers_per_core "$OUT/micro-aligned.txt")" - - -
    printf '%-44s %12s %10s %10s %8s\n' "exchange inside a worker, unaligned clocks" \
        "$(field exchange_singers_per_core "$OUT/micro-unaligned.txt")" - - -
    printf '%-44s %12s %10s %10s %8s\n' "exchange inside a worker, 1000 listeners" \
        "$(field exchange_singers_per_core "$OUT/micro-spectators.txt")" - - -
    printf '%-44s %12s %10s %10s %8s\n' "exchange inside a worker, 30% rests" \
        "$(field exchange_singers_per_core_with_rests "$OUT/micro-rests.txt")" - - -
    printf '%-44s %12s %10s %10s %8s\n' "  the same song without rests, alternated" \
        "$(field exchange_singers_per_core "$OUT/micro-rests.txt")" - - -
    for n in singers rests unaligned spectators; do
        case $n in
            singers) what="$SINGERS singers, 6 buckets, track, churn" ;;
            rests) what="the same, resting 30% at phrase ends" ;;
            unaligned) what="$((SINGERS / 2)) singers, unaligned clocks" ;;
            spectators) what="6 singers + $SPECT listeners" ;;
        esac
        printf '%-44s %12s %10s %10s %8s\n' "through nginx: $what" \
            "$(field singers_per_core "$OUT/$n.txt")" "$(field p50_ms "$OUT/$n.txt")" \
            "$(field p99_ms "$OUT/$n.txt")" "$(field errors "$OUT/$n.txt")"
    done
    floor=$(field decode_alone_singers_per_core "$OUT/singers.txt")
    share=$(field of_decode_alone "$OUT/singers.txt")
    printf '\nDecoding alone (the floor), measured in this run: %s singers per core\n' "${floor:-n/a}"
    printf '  the median of %s passes before and as many after the load; lowest and highest: %s\n' \
        "$FLOOR_PASSES" "$(field decode_alone_range "$OUT/singers.txt")"
    printf '  inside a worker (bench_exchange): %s\n' "$(field decode_alone_singers_per_core "$OUT/micro-aligned.txt")"
    if [ -n "$share" ]; then
        printf 'Singers through nginx as a share of decoding alone: %s\n' "$share"
        printf '  at the anchor machine (decoding alone 1,260 per core): %s singers per core\n' \
            "$(awk -v r="$share" 'BEGIN {printf "%.0f", r * 1260}')"
    fi
    printf 'CPU per request inside a worker: %s us (aligned), %s us (unaligned)\n' \
        "$(field cpu_us_per_request "$OUT/micro-aligned.txt")" "$(field cpu_us_per_request "$OUT/micro-unaligned.txt")"
    printf 'nginx CPU during the singers run: %s s over %s s\n' \
        "$(field nginx_cpu_seconds "$OUT/singers.txt")" "$DUR"
    printf 'workers'"'"' private memory: %s KiB before the song, %s KiB with %s singers singing\n' \
        "$rss_idle" "$rss_singing" "$SINGERS"
    printf 'machine: %s, %s cores; load average %s\n' \
        "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)" "$(nproc)" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '\nPrivate streams (the original client): workers at --private-complexity %s\n' \
        "${BB_PRIVATE_COMPLEXITY:-default}"
    sed -n '/^complexity /,/^0 /p' "$OUT/complexity.txt"
    grep -E '^(chosen_|worker_private_complexity|auto_voices_within_1db|worker_auto_voices)' "$OUT/complexity.txt" || true
    printf 'spectators_per_core: %s\n' "$(field singers_per_core "$OUT/spectators.txt")"
    printf 'singers_per_core: %s\n' "$(field singers_per_core "$OUT/singers.txt")"
    printf 'singers_per_core_with_rests: %s\n' "$(field singers_per_core "$OUT/rests.txt")"
    grep -E '^rests: ' "$OUT/micro-rests.txt" || true
    printf 'exchange_rests_over_no_rests: %s\n' "$(field exchange_rests_over_no_rests "$OUT/micro-rests.txt")"
    # What a server that did nothing but decode would carry with rests
    # (bench_exchange: the phrased voice by the worker's rule for rests).
    printf 'decode_alone_with_rests_per_core: %s\n' \
        "$(field decode_alone_with_rests_singers_per_core "$OUT/micro-rests.txt")"
    printf 'rests_over_no_rests: %s\n' "$(awk -v a="$(field singers_per_core "$OUT/rests.txt")" \
        -v b="$(field singers_per_core "$OUT/singers.txt")" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a"}')"
    printf 'of_decode_alone: %s\n' "${share:-n/a}"
    printf 'original_clocks_per_core: %s\n' "$(field singers_per_core "$OUT/unaligned.txt")"
    printf 'worker_memory_per_singer_kib: %s\n' "$(awk -v a="$rss_idle" -v b="$rss_singing" -v n="$SINGERS" \
        'BEGIN {if (b > a && n > 0) printf "%.0f", (b - a) / n; else print "n/a"}')"
}
