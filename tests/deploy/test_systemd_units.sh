#!/usr/bin/env bash
# test_systemd_units.sh: the systemd units, rendered with the real binaries.
#
#   test_systemd_units.sh SOURCE_DIR BB_SHMD BB_WORKER
#
# Renders deploy/systemd/*.in as deploy/install.sh does, but into a
# temporary directory and pointing at the binaries under test, then:
#
#   - `systemd-analyze verify` finds nothing to say about the target, the
#     daemon, and instance 1 of the worker service and socket templates
#     (syntax, dependencies, executables). It needs no running systemd,
#     so it works in a container; it does not check that User= exists.
#   - `systemd-analyze security --offline=yes` rates every service's
#     exposure at most 0.9, so the hardening cannot quietly erode;
#   - every service is bounded (MemoryMax, TasksMax, LimitNOFILE) and the
#     daemon is scheduled ahead of the workers (a lower Nice, more CPU
#     weight).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 3 ] || { echo "usage: $0 SOURCE_DIR BB_SHMD BB_WORKER" >&2; exit 2; }
SRC=$1 SHMD=$2 WORKER=$3
need_exe "$SHMD" "$WORKER"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (apt-get install systemd)"

U=$TMP/units
"$SRC/deploy/render.sh" -o "$U" \
    DOC_DIR="$SRC" USER=bucket-brigade NGINX_GROUP=www-data \
    SHMD="$SHMD" WORKER="$WORKER" SEGMENT=/bucket-brigade \
    AUDIO_DIR="$TMP/audio" RECORDINGS_DIR="$TMP/rec" SOCKET_DIR=/run/bucket-brigade \
    ROOMS_DIR="$TMP/rooms" SHMD_ROOM_ARGS=--no-default-room SHMD_REC_ARGS="--keep-days 14 --recordings-bytes 20G" \
    "$SRC"/deploy/systemd/*.in
ls "$U" >"$TMP/units.list"
for want in bucket-brigade.target bucket-brigade-shmd.service \
    bucket-brigade-worker@.service bucket-brigade-worker@.socket \
    bucket-brigade-upload.service bucket-brigade-upload.socket; do
    grep -qx -- "$want" "$TMP/units.list" || fail "$want was not rendered"
done

# Instances of the templates are found through the unit search path; the
# trailing colon keeps the system's directories for the units we refer to
# (network.target, sockets.target ...).
export SYSTEMD_UNIT_PATH=$U:
(cd "$TMP" && systemd-analyze verify --man=no \
    "$U/bucket-brigade.target" "$U/bucket-brigade-shmd.service" \
    bucket-brigade-worker@1.service bucket-brigade-worker@1.socket \
    "$U/bucket-brigade-upload.service" "$U/bucket-brigade-upload.socket") >"$TMP/logs/verify.log" 2>&1 \
    || { cat "$TMP/logs/verify.log" >&2; fail "systemd-analyze verify failed"; }
if [ -s "$TMP/logs/verify.log" ]; then
    cat "$TMP/logs/verify.log" >&2
    fail "systemd-analyze verify has remarks"
fi
note "systemd-analyze verify: the target, the daemon, the workers' and the upload worker's services and sockets are clean"

for unit in bucket-brigade-shmd.service bucket-brigade-worker@1.service bucket-brigade-upload.service; do
    if ! (cd "$U" && systemd-analyze security --offline=yes --threshold=9 --no-pager "$unit") \
        >"$TMP/logs/security.log" 2>&1; then
        grep -E '✗|Overall' "$TMP/logs/security.log" >&2 || cat "$TMP/logs/security.log" >&2
        fail "$unit: exposure above 0.9 in systemd-analyze security"
    fi
    note "$unit: $(grep -o 'Overall exposure level.*' "$TMP/logs/security.log" | sed 's/ for [^:]*//')"
done

# Bounds, and the daemon ahead of the workers.
value() { sed -n "s/^$2=//p" "$U/$1" | tail -1; }
for unit in bucket-brigade-shmd.service bucket-brigade-worker@.service bucket-brigade-upload.service; do
    for key in MemoryMax TasksMax LimitNOFILE; do
        [ -n "$(value "$unit" "$key")" ] || fail "$unit has no $key"
    done
done
# The daemon runs a thread per room (its track scanner) beside the tick:
# its task limit must hold a full host's rooms.
rooms_max=$(sed -n 's/^#define HS_ROOMS_MAX \([0-9]*\).*/\1/p' "$SRC/shm/host.h")
[ -n "$rooms_max" ] || fail "HS_ROOMS_MAX not found in shm/host.h"
[ "$(value bucket-brigade-shmd.service TasksMax)" -ge $((rooms_max + 2)) ] ||
    fail "the daemon's TasksMax $(value bucket-brigade-shmd.service TasksMax) cannot hold $rooms_max rooms' threads"
sn=$(value bucket-brigade-shmd.service Nice) wn=$(value bucket-brigade-worker@.service Nice)
[ "${sn:-0}" -lt "${wn:-0}" ] || fail "the daemon (Nice ${sn:-0}) is not scheduled ahead of the workers (Nice ${wn:-0})"
[ "$(value bucket-brigade-shmd.service CPUWeight)" -gt 100 ] || fail "the daemon's CPUWeight is not above the workers' default"
note "bounded: MemoryMax, TasksMax, LimitNOFILE on every service; daemon at Nice $(value bucket-brigade-shmd.service Nice), CPUWeight $(value bucket-brigade-shmd.service CPUWeight)"
note "PASS"
