#!/bin/sh
# run.sh BUILD_DIR SECS [TARGET...] - fuzz each target for SECS seconds.
#
# BUILD_DIR is a tree configured with -DBB_FUZZ=ON -DCMAKE_C_COMPILER=clang
# (./bb fuzz uses build-fuzz).  Without TARGETs every target that has a
# corpus in fuzz/corpus/ runs, one after the other.  Each starts from a
# scratch copy of its seed corpus and regression inputs, so the repository
# stays as it is; what it learns is thrown away at the end.
#
# Prints per target the executions, the corpus growth, the peak memory and
# any crash with its report and, when small, its input in base64.  A
# crash's input is kept in BUILD_DIR/fuzz-crashes/<target>/; to keep it as a
# regression test, copy it to fuzz/regressions/<target>/ under a name that
# says what it broke.  Exits non-zero if any target crashed, timed out,
# leaked or could not run.  The last line reads "N passed, N failed".
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECS [TARGET...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
    targets="$*"
else
    targets=$(ls "$here/corpus")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bbfuzz.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT INT TERM
# Leaks inside third-party decoders that no caller can free (see the file).
LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

passed=0
failed=0
for t in $targets; do
    bin=$build/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $t: $bin is not built (configure with -DBB_FUZZ=ON -DCMAKE_C_COMPILER=clang)"
        failed=$((failed + 1))
        continue
    fi
    # Per-target limits: the longest input worth trying, and the time one
    # input may take before it counts as a hang.
    timeout=10
    case $t in
        query) maxlen=17000 ;;             # past Q_MAX_LEN
        packet) maxlen=8192 ;;
        exchange) maxlen=16384 ;;
        exchange_opus) maxlen=8192 ;;
        exchange_json) maxlen=12288 ;;     # past EX_EVENT_HEADER_MAX
        daemon) maxlen=5200 ;;             # 8 commands
        track) maxlen=16384; timeout=30 ;; # decoding and resampling
        trackname) maxlen=1024 ;;
        *) maxlen=4096 ;;
    esac
    dict=""
    case $t in
        exchange_json) dict=$here/dict/json.dict ;;
        *) [ -f "$here/dict/$t.dict" ] && dict=$here/dict/$t.dict ;;
    esac
    dir=$work/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    for src in "$here/corpus/$t" "$here/regressions/$t"; do
        [ -d "$src" ] && find "$src" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$dir/corpus/" \;
    done
    seeds=$(ls "$dir/corpus" | wc -l)
    # close_fd_mask=3: the daemon and worker log lines would flood the
    # output; libFuzzer keeps its own messages and the sanitizer reports.
    mkdir -p "$dir/tmp"
    TMPDIR=$dir/tmp "$bin" -max_total_time="$secs" -timeout="$timeout" -max_len="$maxlen" \
        -rss_limit_mb=2560 -print_final_stats=1 -close_fd_mask=3 \
        ${dict:+-dict="$dict"} -artifact_prefix="$dir/artifacts/" \
        "$dir/corpus" >"$dir/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$dir/log" | tail -n 1)
    grown=$(ls "$dir/corpus" | wc -l)
    crashes=$(ls "$dir/artifacts" | wc -l)
    if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
        printf 'fuzz: %-14s ok      %10s runs in %ss, corpus %s -> %s, peak RSS %s MB\n' \
            "$t" "${execs:-?}" "$secs" "$seeds" "$grown" "${rss:-?}"
        passed=$((passed + 1))
    else
        printf 'fuzz: %-14s FAILED  %10s runs, exit %s, %s crash input(s)\n' \
            "$t" "${execs:-?}" "$rc" "$crashes"
        # The report: from the sanitizer's or libFuzzer's first error line on.
        # The report (without ASan's shadow-memory dump) up to the input's
        # bytes, which libFuzzer prints for small inputs ("Base64:"), so a
        # crash seen only in CI can still be reproduced.
        awk '/^==[0-9]+==ERROR|^SUMMARY|runtime error|invariant broken|ALARM|out-of-memory|leak/ {p=1}
             /^Shadow byte/ {s=1} /^==[0-9]+==ABORTING/ {s=0}
             p && !s && !/^ *(=>)?0x[0-9a-f]+:/' "$dir/log" | head -n 100 | sed 's/^/    /'
        if [ "$crashes" -gt 0 ]; then
            keep=$build/fuzz-crashes/$t
            mkdir -p "$keep"
            cp "$dir/artifacts/"* "$keep/"
            for f in "$dir/artifacts/"*; do
                echo "    input kept: $keep/$(basename "$f")"
                echo "    replay it:  $build/fuzz/replay_$t $keep/$(basename "$f")"
                # In CI the build tree is gone afterwards: print small inputs.
                if [ "$(wc -c <"$f")" -le 8192 ]; then
                    echo "    input (base64): $(base64 -w0 "$f")"
                fi
            done
        fi
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
