#!/usr/bin/env bash
# soak.sh: a long evening of a big choir, watching every process's memory.
#
#   bench/soak.sh [MINUTES]        (what `./bb soak [MINUTES]` runs; default 30)
#
# Starts the local stack (deploy/local-run.sh: the daemon, one worker per
# core, nginx) in a private run directory on a free loopback port, then runs
# bb-load through nginx for MINUTES: 200 simulated singers (SOAK_SINGERS),
# one of whom leads and starts a song, the others coming and going (each
# stays SOAK_CHURN = 300 s on average, then someone new joins; 0: nobody
# leaves).  Every 30 s
# (every 10 s for runs under 5 minutes) it samples the resident memory of
# the daemon, of every worker and of nginx (master and worker processes)
# from /proc/PID/status, and the number of singers each worker holds (from
# its /api/metrics), and prints a table.  It ends with bb-load's summary
# (latency, errors, desyncs) and a verdict.
#
# The verdict, and why these bounds.  Resident memory is counted in two
# parts: the shared-memory segment (RssShmem: the timeline rings; every
# process maps it and touches its pages during the first lap of the ring,
# about two minutes, after which it cannot grow: it is the segment's size,
# printed) and the process's own memory (RssAnon: heap and stacks).  Only
# the second can leak.  The first 150 s are warm-up: besides the ring, the
# workers' caches of rendered frames and encoded packets and their singer
# table are allocated whole at start, and their pages are touched as they
# fill (measured: a worker's own memory climbs to about 40 MiB in the first
# two minutes, then stays within 2 MiB of it).  For each process, its growth
# from the sample at the end of the first third of the run (or at 150 s, if
# that is later) to the last sample must stay within
#
#   4 MiB  +  16 KiB for every singer the process took on meanwhile
#
# 4 MiB absorbs what still settles after the warm-up (glibc keeps freed
# memory for reuse and grows its arenas in steps).  A singer who leaves
# keeps only its entry in the worker's table for the hour the protocol
# asks; its Opus decoder and encoder (about 60 KiB) are freed after 30 s of
# silence (fcgi/singers.h), so churn costs at most the table page a
# newcomer's entry first touches (4 KiB) and the allocator's slack: 16 KiB.
# Over a 30-minute run with the default churn (about 400 newcomers per
# worker after the first third) that hides a leak of at most about 20 bytes
# per request; run without churn (SOAK_CHURN=0) to hunt smaller ones.  A
# run that ends less than a minute after the warm-up (`./bb soak 1`, the
# quick check) shows the growth but does not judge it.  Always: no process
# may die or be restarted, and bb-load must see no error and no desync.
# Exit status 0 when the verdict is PASS, 1 otherwise.
#
# Environment: SOAK_SINGERS (200), SOAK_CHURN (300), SOAK_INTERVAL (seconds
# between samples), BB_WORKERS (one per core), BB_BUILD_DIR (build/),
# SOAK_KEEP=1 keeps the run directory and logs.
set -euo pipefail
export LC_ALL=C
BB_ROOT=${BB_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
MINUTES=${1:-30}
case $MINUTES in ''|*[!0-9]*) echo "soak: MINUTES must be a whole number" >&2; exit 2 ;; esac
[ "$MINUTES" -ge 1 ] || { echo "soak: MINUTES must be at least 1" >&2; exit 2; }
SINGERS=${SOAK_SINGERS:-200}
CHURN=${SOAK_CHURN:-300}
WORKERS=${BB_WORKERS:-$(nproc 2>/dev/null || echo 2)}
BUILD=${BB_BUILD_DIR:-$BB_ROOT/build}
if [ -n "${SOAK_INTERVAL:-}" ]; then INTERVAL=$SOAK_INTERVAL
elif [ "$MINUTES" -lt 5 ]; then INTERVAL=10
else INTERVAL=30; fi
DURATION=$((MINUTES * 60))
# See the verdict above.
WARMUP=150
PER_NEWCOMER_KIB=16
BBLOAD=$BUILD/tools/bb-load
for f in "$BBLOAD" "$BUILD/shm/bb-shmd" "$BUILD/fcgi/bb-worker"; do
    [ -x "$f" ] || { echo "soak: $f is not built (./bb build)" >&2; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bb-soak.XXXXXX")
RUN=$TMP/run
STACK_PID= LOAD_PID=
cleanup() {
    local st=$?
    trap - EXIT INT TERM
    if [ -n "$LOAD_PID" ]; then kill -TERM "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; fi
    if [ -n "$STACK_PID" ] && kill -0 "$STACK_PID" 2>/dev/null; then
        kill -TERM "$STACK_PID" 2>/dev/null || true
        wait "$STACK_PID" 2>/dev/null || true
    fi
    if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: kept $TMP"; else rm -rf "$TMP"; fi
    exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 12000))
    port_busy "$p" || { PORT=$p; break; }
done
[ -n "$PORT" ] || { echo "soak: no free port" >&2; exit 1; }

# ------------------------------------------------------------ the stack

BB_PORT=$PORT BB_DEV_PORT=0 BB_RUN_DIR=$RUN BB_WORKERS=$WORKERS BB_BUILD_DIR=$BUILD \
    setsid "$BB_ROOT/deploy/local-run.sh" </dev/null >"$TMP/stack.log" 2>&1 &
STACK_PID=$!
for ((i = 0; i < 300; i++)); do
    grep -q 'is running at' "$TMP/stack.log" 2>/dev/null && break
    kill -0 "$STACK_PID" 2>/dev/null || { cat "$TMP/stack.log" >&2; echo "soak: the stack did not start" >&2; exit 1; }
    sleep 0.1
done
grep -q 'is running at' "$TMP/stack.log" || { cat "$TMP/stack.log" >&2; echo "soak: the stack did not start within 30 s" >&2; exit 1; }

# The processes, from local-run's pids file (a restarted one appends a line).
pid_of() { awk -v n="$1" '$1 == n {p = $2} END {print p}' "$RUN/pids"; }
NAMES=(shmd)
for ((w = 1; w <= WORKERS; w++)); do NAMES+=("worker-$w"); done
NAMES+=(nginx)
declare -A FIRST_PID=()
for n in "${NAMES[@]}"; do FIRST_PID[$n]=$(pid_of "$n"); done
# The host segment and the rooms' timelines (the default room's here).
SEG_BYTES=$(stat -c %s "/dev/shm/bb-$PORT" "/dev/shm/bb-$PORT"-* 2>/dev/null | awk '{t += $1} END {print t + 0}')

# status_kib PID FIELD: a field of /proc/PID/status in KiB (0 if absent).
status_kib() { awk -v f="$2:" '$1 == f {print $2; found = 1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0; }
# The pids of a process and its children (nginx's worker processes).
with_children() {
    echo "$1"
    cat "/proc/$1/task/$1/children" 2>/dev/null | tr ' ' '\n' | grep . || true
}
sum_kib() {   # sum_kib FIELD PID...
    local f=$1 t=0 p; shift
    for p in "$@"; do t=$((t + $(status_kib "$p" "$f"))); done
    echo "$t"
}

# Each worker's metrics, from its operator socket in the run directory.
singers_on() {
    curl -sS -m 3 --unix-socket "$RUN/sock/ops-$1.sock" http://worker/metrics 2>/dev/null |
        awk '$1 == "bb_worker_singers" {print $2; f = 1} END {if (!f) print "?"}'
}

# ------------------------------------------------------------ the load

watch=
for n in "${NAMES[@]}"; do [ "$n" = nginx ] || watch=${watch:+$watch,}${FIRST_PID[$n]}; done
echo "soak: $SINGERS singers ($([ "$CHURN" = 0 ] && echo 'no churn' || echo "mean stay ${CHURN} s, then a newcomer")) for $MINUTES min through nginx on" \
    "port $PORT; $WORKERS workers; sampling every $INTERVAL s; segment $((SEG_BYTES / 1048576)) MiB"
churn_args=()
[ "$CHURN" = 0 ] || churn_args=(--churn "$CHURN")
"$BBLOAD" --http "127.0.0.1:$PORT" --singers "$SINGERS" "${churn_args[@]}" --duration "$DURATION" \
    --interval "$INTERVAL" --pids "$watch" --quiet --seed "${SOAK_SEED:-1}" >"$TMP/load.log" 2>&1 &
LOAD_PID=$!

# ------------------------------------------------------------ sampling

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
header="  time  "
for n in "${NAMES[@]}"; do
    case $n in
        worker-*) header+=$(printf ' | %-25s' "$n rss/own MiB, singers") ;;
        *) header+=$(printf ' | %-17s' "$n rss/own MiB") ;;
    esac
done
echo "$header"
declare -a T_S=()
declare -A ANON=() RSS=() SING=()
k=0
t0=$(date +%s)
sample() {
    local t=$(( $(date +%s) - t0 )) row n p pids
    row=$(printf '%5ds ' "$t")
    T_S[$k]=$t
    for n in "${NAMES[@]}"; do
        p=$(pid_of "$n")
        if [ "$n" = nginx ]; then mapfile -t pids < <(with_children "$p"); else pids=("$p"); fi
        RSS[$k,$n]=$(sum_kib VmRSS "${pids[@]}")
        ANON[$k,$n]=$(sum_kib RssAnon "${pids[@]}")
        case $n in
            worker-*)
                SING[$k,$n]=$(singers_on "${n#worker-}")
                row+=$(printf ' | %7s / %-6s %9s' "$(mib "${RSS[$k,$n]}")" "$(mib "${ANON[$k,$n]}")" "${SING[$k,$n]}") ;;
            *) row+=$(printf ' | %7s / %-8s' "$(mib "${RSS[$k,$n]}")" "$(mib "${ANON[$k,$n]}")") ;;
        esac
    done
    echo "$row"
    k=$((k + 1))
}
sample
while kill -0 "$LOAD_PID" 2>/dev/null; do
    for ((s = 0; s < INTERVAL * 10; s++)); do
        kill -0 "$LOAD_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$LOAD_PID" 2>/dev/null || break
    sample
done
wait "$LOAD_PID" || true
LOAD_PID=
sample

# ------------------------------------------------------------ verdict

echo "--- bb-load (interval lines, then the summary)"
grep -E '^\[' "$TMP/load.log" | tail -n 4
grep -E '^(duration_s|requests|posts_ok|probes|moves|p50_ms|p99_ms|max_ms|errors|desyncs|sustained_min|cpu_s):' "$TMP/load.log" |
    tr '\n' ' '; echo
grep -A20 '^kill_client messages' "$TMP/load.log" | grep -B20 -- '--- summary' | grep -v -- '--- summary' || true
errors=$(sed -n 's/^errors: //p' "$TMP/load.log")
desyncs=$(sed -n 's/^desyncs: //p' "$TMP/load.log")
verdict=PASS
why=()
[ "${errors:-x}" = 0 ] || { verdict=FAIL; why+=("bb-load saw ${errors:-no summary of} errors"); }
[ "${desyncs:-x}" = 0 ] || { verdict=FAIL; why+=("bb-load saw ${desyncs:-?} desyncs"); }
for n in "${NAMES[@]}"; do
    if [ "$(pid_of "$n")" != "${FIRST_PID[$n]}" ]; then
        verdict=FAIL; why+=("$n was restarted (it died): see $TMP/stack.log")
    fi
done
grep -q 'restarting in' "$TMP/stack.log" && { verdict=FAIL; why+=("a process died and was restarted"); }

last=$((k - 1))
# The baseline: the last sample at the end of the first third, and not
# inside the warm-up.
base_t=$(( ${T_S[$last]} / 3 ))
[ "$base_t" -ge "$WARMUP" ] || base_t=$WARMUP
third=0
for ((i = 0; i <= last; i++)); do
    [ "${T_S[$i]}" -le "$base_t" ] && third=$i
done
judged=1
if [ $(( ${T_S[$last]} - ${T_S[$third]} )) -lt 60 ]; then
    judged=0
    third=$(( last / 3 ))
fi
echo "--- growth of each process's own memory (RssAnon) from ${T_S[$third]} s to ${T_S[$last]} s" \
    "(shared segment: $((SEG_BYTES / 1048576)) MiB, mapped by all)"
[ "$judged" = 1 ] || echo "    (not judged: the run ends less than a minute after the ${WARMUP} s warm-up; shown for information)"
for n in "${NAMES[@]}"; do
    a=${ANON[$third,$n]} b=${ANON[$last,$n]}
    grow=$((b - a))
    newcomers=0
    if [[ $n == worker-* ]]; then
        s0=${SING[$third,$n]} s1=${SING[$last,$n]}
        if [ "$s0" != '?' ] && [ "$s1" != '?' ] && [ "$s1" -gt "$s0" ]; then newcomers=$((s1 - s0)); fi
    fi
    bound=$((4096 + PER_NEWCOMER_KIB * newcomers))
    ok=ok
    if [ "$grow" -gt "$bound" ]; then
        if [ "$judged" = 1 ]; then ok="TOO MUCH"; verdict=FAIL; why+=("$n grew by $((grow / 1024)) MiB")
        else ok="(over, not judged)"; fi
    fi
    [ "$judged" = 1 ] || [ "$ok" != ok ] || ok="(not judged)"
    printf "  %-9s %8s -> %8s MiB: %+7.1f MiB (bound %.1f MiB: 4 + %d newcomers x $PER_NEWCOMER_KIB KiB)  %s\\n" "$n" \
        "$(mib "$a")" "$(mib "$b")" "$(awk -v g="$grow" 'BEGIN { print g / 1024 }')" \
        "$(awk -v x="$bound" 'BEGIN { print x / 1024 }')" "$newcomers" "$ok"
done
if [ "$verdict" = PASS ]; then
    if [ "$judged" = 1 ]; then
        echo "soak: PASS ($MINUTES min, $SINGERS singers: no error, no desync, no process died, no growth beyond its bound)"
    else
        echo "soak: PASS ($MINUTES min, $SINGERS singers: no error, no desync, no process died; too short to judge growth)"
    fi
    exit 0
fi
echo "soak: FAIL: ${why[*]}"
SOAK_KEEP=1
exit 1
