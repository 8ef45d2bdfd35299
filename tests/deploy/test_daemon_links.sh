#!/usr/bin/env bash
# test_daemon_links.sh: the daemon binary links no Opus.
#
#   test_daemon_links.sh BB_SHMD
#
# bb-shmd never encodes or decodes: it mixes samples, writes WAV recordings
# and reads stems only to place them in the Audacity project (oggpage.h, no
# codec).  Only the worker links the stem writer (bbstem) and with it
# libopus.  Asserted: `readelf -d` of the built daemon lists its shared
# libraries (it is a dynamic executable), and libopus is not one of them,
# so a host can run the daemon without the codec installed.
set -euo pipefail
export LC_ALL=C
name=deploy_daemon_links
shmd=${1:?usage: test_daemon_links.sh BB_SHMD}
passed=0 failed=0
check() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); printf '%s: FAIL: %s\n' "$name" "$*" >&2; fi
}
needed=$(readelf -d "$shmd" | awk '/\(NEEDED\)/ { print $NF }' | tr -d '[]')
printf '%s: %s needs: %s\n' "$name" "$(basename "$shmd")" "$(echo $needed)"
check test -n "$needed"
check bash -c '! grep -q "^libopus" <<<"$1"' _ "$needed"
printf '%s: %d passed, %d failed\n' "$name" "$passed" "$failed"
[ "$failed" -eq 0 ]
