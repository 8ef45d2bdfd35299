#!/bin/sh
# bb: the one entry point of Bucket Brigade.
#
#   ./bb run     set up, build and run the whole system on http://localhost:8080
#   ./bb test    set up, build and run every test (what CI runs)
#
# Every command first makes sure the Debian packages it needs are present
# (installing them with apt-get when run as root, or printing the exact
# command otherwise), then configures and builds with CMake into build/.
set -eu

BB_ROOT=$(cd "$(dirname "$0")" && pwd)
export BB_ROOT
JOBS=$(nproc 2>/dev/null || echo 2)

# Packages every command needs: the toolchain and the libraries we link.
# libpng and libjpeg(-turbo) decode uploaded slide images: the reference
# decoders of their formats, fuzzed continuously (OSS-Fuzz) and patched
# promptly by Debian; libjpeg-dev is libjpeg62-turbo-dev on Debian and
# libjpeg-turbo8-dev on Ubuntu.
PKGS_BUILD="build-essential cmake pkg-config libfcgi-dev libopus-dev libsndfile1-dev libsamplerate0-dev libcjson-dev libsqlite3-dev libssl-dev libpng-dev libjpeg-dev"
# Packages the local stack needs to run.  The shared libraries we link
# (libopus, libpng16, libjpeg-turbo, ...) come with their -dev packages
# above, which every command installs; their runtime names differ between
# Debian 12 and Ubuntu (libpng16-16 / libpng16-16t64), so they are not
# listed twice here.
PKGS_RUN="nginx"
# Packages only the tests need: clang for libFuzzer and the sanitizers,
# sox for test signals, node and the three browser engines for the browser
# tests (chromium; firefox-esr; webkit2gtk-driver, whose WebKitWebDriver
# drives WebKitGTK's MiniBrowser under xvfb-run, which needs xauth), a
# private PulseAudio as the sound card of Firefox and WebKit (pulseaudio,
# pulseaudio-utils for pacat), systemd for `systemd-analyze verify`, curl
# for the smoke checks, sqlite3 and openssl for the rooms database's backup
# and the test certificates.
PKGS_TEST="clang libclang-rt-dev sox opus-tools chromium firefox-esr webkit2gtk-driver xvfb xauth pulseaudio pulseaudio-utils nodejs npm systemd curl procps sqlite3 openssl"

usage() {
    cat <<'EOF'
usage: ./bb COMMAND [ARGS]

  run          build and run the whole system on http://localhost:${BB_PORT:-8080}
               (daemon, one worker per core, nginx); Ctrl-C stops it all
  test         build and run every test: unit, component, integration,
               browser, fuzz smoke, and the ASan/UBSan and TSan builds
  test-quick   build and run the tests of the normal build only
  bench        run the request microbenchmark and the end-to-end load test
  fuzz [SECS]  run every fuzz target for SECS seconds each (default 300)
  soak [MIN]   200 simulated singers for MIN minutes (default 30)
  room create NAME [--max-singers N]
               a room of the local run: prints its singers' link and its
               organiser's link (the stack need not be running)
  room list | room close NAME-OR-ID | room rekey NAME-OR-ID singers|organiser
               the local run's rooms (bb-room --help says more)
  build        configure and build into build/
  deps         install the Debian packages (as root) or print the command
  help         this text

Environment: BB_PORT (default 8080), BB_AUDIO_DIR (default ./audio),
BB_WORKERS (default: one per core), BB_RUN_DIR (default ./run).
EOF
}

# The Debian packages of "$@" that are not installed.  Node.js and npm
# count as present when their commands are, whoever installed them (a
# node from NodeSource, for one, conflicts with Debian's npm package).
missing_pkgs() {
    out=""
    for p in "$@"; do
        case $p in
            nodejs) command -v node >/dev/null 2>&1 && continue ;;
            npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
    done
    echo "$out"
}

ensure_pkgs() {
    miss=$(missing_pkgs "$@")
    [ -z "$miss" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "bb: installing Debian packages:$miss" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || true
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $miss >&2
    else
        echo "bb: missing Debian packages:$miss" >&2
        echo "bb: install them with: sudo apt-get install -y$miss" >&2
        exit 1
    fi
}

# build DIR [cmake args...]: configure (once) and build a tree; every
# target, or only BB_TARGET's when it is set (the TSan and fuzzing trees
# build just what they run).
build_tree() {
    dir=$1; shift
    if [ ! -f "$BB_ROOT/$dir/CMakeCache.txt" ]; then
        cmake -S "$BB_ROOT" -B "$BB_ROOT/$dir" "$@" >/dev/null
    fi
    cmake --build "$BB_ROOT/$dir" -j "$JOBS" ${BB_TARGET:+--target "$BB_TARGET"} \
        -- --no-print-directory >"$BB_ROOT/$dir/build.log" 2>&1 || {
        cat "$BB_ROOT/$dir/build.log" >&2
        echo "bb: build failed in $dir" >&2
        exit 1
    }
}

ensure_node_modules() {
    if [ ! -d "$BB_ROOT/node_modules/playwright-core" ] || [ ! -d "$BB_ROOT/node_modules/puppeteer-core" ]; then
        echo "bb: installing npm packages for the browser tests" >&2
        (cd "$BB_ROOT" && npm install --no-audit --no-fund --loglevel=error >&2)
    fi
    if [ -x "$BB_ROOT/html/vendor/fetch.sh" ]; then
        "$BB_ROOT/html/vendor/fetch.sh" >&2
    fi
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
    deps)
        ensure_pkgs $PKGS_BUILD $PKGS_RUN $PKGS_TEST
        ;;
    build)
        ensure_pkgs $PKGS_BUILD
        build_tree build
        ;;
    run)
        ensure_pkgs $PKGS_BUILD $PKGS_RUN
        build_tree build
        if [ -x "$BB_ROOT/html/vendor/fetch.sh" ]; then "$BB_ROOT/html/vendor/fetch.sh" >&2 || true; fi
        exec "$BB_ROOT/deploy/local-run.sh" "$@"
        ;;
    test|test-quick)
        ensure_pkgs $PKGS_BUILD $PKGS_RUN $PKGS_TEST
        ensure_node_modules
        build_tree build
        status=0
        echo "== tests: normal build"
        (cd "$BB_ROOT/build" && ctest --output-on-failure -j "$JOBS" "$@") || status=1
        if [ "$cmd" = test ]; then
            echo "== tests: ASan+UBSan build"
            build_tree build-asan -DBB_SANITIZE=address,undefined -DCMAKE_C_COMPILER=clang
            (cd "$BB_ROOT/build-asan" && ASAN_OPTIONS=detect_leaks=1 \
                ctest --output-on-failure -j "$JOBS" -LE 'browser|nosan' "$@") || status=1
            # Every fuzz target for BB_FUZZ_SMOKE_SECONDS (20 s), two at a
            # time, from its seed corpus and regressions (fuzz/README.md).
            echo "== tests: fuzz smoke (libFuzzer, ASan+UBSan)"
            BB_TARGET=fuzz-targets build_tree build-fuzz -DBB_FUZZ=ON -DCMAKE_C_COMPILER=clang
            (cd "$BB_ROOT/build-fuzz" && ctest --output-on-failure -j "$JOBS" -L '^fuzz$' "$@") || status=1
            echo "== tests: TSan build (shared-memory concurrency)"
            BB_TARGET=shm-tests build_tree build-tsan -DBB_SANITIZE=thread -DCMAKE_C_COMPILER=clang
            (cd "$BB_ROOT/build-tsan" && ctest --output-on-failure -j "$JOBS" -L shm "$@") || status=1
        fi
        exit $status
        ;;
    bench)
        ensure_pkgs $PKGS_BUILD $PKGS_RUN
        build_tree build -DCMAKE_BUILD_TYPE=Release
        exec "$BB_ROOT/bench/run.sh" "$@"
        ;;
    fuzz)
        ensure_pkgs $PKGS_BUILD clang libclang-rt-dev
        BB_TARGET=fuzz-targets build_tree build-fuzz -DBB_FUZZ=ON -DCMAKE_C_COMPILER=clang
        exec "$BB_ROOT/fuzz/run.sh" "$BB_ROOT/build-fuzz" "${1:-300}"
        ;;
    soak)
        ensure_pkgs $PKGS_BUILD $PKGS_RUN
        build_tree build
        exec "$BB_ROOT/bench/soak.sh" "${1:-30}"
        ;;
    room)
        # The local run's rooms database and address (deploy/local-run.sh
        # uses the same defaults); a server has its own command.
        ensure_pkgs $PKGS_BUILD
        build_tree build
        port=${BB_PORT:-8080}
        if [ "$port" = 8080 ]; then run_dir=${BB_RUN_DIR:-$BB_ROOT/run}; else run_dir=${BB_RUN_DIR:-$BB_ROOT/run/port-$port}; fi
        mkdir -p "$run_dir"
        # Behind a front (create --front URL), the links start with the
        # front's URL and the host is the one the local run names.
        case " $* " in
            *" --front"*) set -- --host-name "${BB_HOST_NAME:-local}" "$@" ;;
            *) set -- --base-url "http://localhost:$port" "$@" ;;
        esac
        exec "$BB_ROOT/build/rooms/bb-room" --db "${BB_ROOMS_DB:-$run_dir/rooms.db}" "$@"
        ;;
    help|-h|--help)
        usage
        ;;
    *)
        echo "bb: unknown command '$cmd'" >&2
        usage >&2
        exit 2
        ;;
esac
