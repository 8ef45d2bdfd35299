#!/usr/bin/env bash
# test_layout.sh: the shared layout keeps its own contract at compile time.
#
#   test_layout.sh SOURCE_DIR CC
#
# shm/segment.h and shm/host.h group each writer's fields of a shared
# structure on cache lines of their own and check it with _Static_assert
# (SEG_APART, SEG_IN).  This test compiles each header as it is (it must
# build), then copies of it with one field moved onto another writer's
# lines (each must fail to build, naming the contract).
set -euo pipefail
SRC=${1:?usage: $0 SOURCE_DIR CC}
CC=${2:?usage: $0 SOURCE_DIR CC}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0

echo '#include "segment.h"
#include "host.h"
int main(void) { return (int)(sizeof(seg_user_t) + sizeof(hs_shared_t)) & 0; }' >"$TMP/t.c"
build() { "$CC" -std=c11 -D_GNU_SOURCE -I"$TMP/inc" -I"$SRC/shm" -I"$SRC/mixer" -I"$SRC/common" -c "$TMP/t.c" -o "$TMP/t.o" 2>"$TMP/err"; }

mkdir -p "$TMP/inc"
HEADER=segment.h
cp "$SRC/shm/segment.h" "$TMP/inc/segment.h"
cp "$SRC/shm/host.h" "$TMP/inc/host.h"
if build; then echo "ok: segment.h and host.h as they are build"; else head -20 "$TMP/err"; echo "FAIL: the headers as they are do not build"; fails=$((fails + 1)); fi

# move NAME PERL-SUBSTITUTION: a copy of $HEADER with one field moved (the
# other header as it is).
move() {
    local name=$1 expr=$2
    cp "$SRC/shm/segment.h" "$TMP/inc/segment.h"
    cp "$SRC/shm/host.h" "$TMP/inc/host.h"
    perl -0pe "$expr" "$SRC/shm/$HEADER" >"$TMP/inc/$HEADER"
    if cmp -s "$SRC/shm/$HEADER" "$TMP/inc/$HEADER"; then
        echo "FAIL: $name: the edit did not apply (has $HEADER changed?)"; fails=$((fails + 1)); return
    fi
    if build; then
        echo "FAIL: $name: builds, but it puts a field on another writer's cache line"; fails=$((fails + 1))
    elif grep -Eq 'static (assertion|assert) failed|static_assert failed' "$TMP/err"; then
        echo "ok: $name: refused: $(grep -Eo '(static assertion|static_assert) failed.*' "$TMP/err" | head -1)"
    else
        head -5 "$TMP/err"; echo "FAIL: $name: fails for another reason"; fails=$((fails + 1))
    fi
}

# A worker-written activity field among the daemon's identity fields.
move "seg_user_t.rms into the daemon's lines" \
    's/(\n\s*_Atomic uint32_t rms;[^\n]*)//; s/(\n\s*_Atomic uint32_t delay_msg;)/\n    _Atomic uint32_t rms;$1/'
# A daemon-written identity field among the worker's activity fields.
move "seg_user_t.flags into the worker's lines" \
    's/(\n\s*_Atomic uint32_t flags;[^\n]*)//; s/(\n\s*_Atomic int32_t worker;)/$1\n    _Atomic uint32_t flags;/'
# The daemon's heartbeat onto the line every worker writes.
move "seg_header_shared_t.heartbeat beside join_tickets" \
    's/\n\s*_Atomic int64_t heartbeat;.*?\*\///s; s/(_Atomic int32_t join_tickets;)/$1\n    _Atomic int64_t heartbeat;/'
# The producer's drop counter onto the daemon's consumer line.
move "seg_lane_t.dropped beside head" \
    's/(\n\s*_Atomic uint64_t dropped;[^\n]*)//; s/(_Atomic uint64_t head;)/$1\n    _Atomic uint64_t dropped;/'

# The host segment: the retention thread's counters and the daemon's
# status, and the line every worker writes.
HEADER=host.h
# A counter of the recordings' keeper onto the line every worker bumps.
move "hs_shared_t.rec_bytes beside wake" \
    's/(\n\s*_Atomic uint64_t rec_bytes;[^\n]*)//; s/(_Atomic uint32_t wake;)/$1\n    _Atomic uint64_t rec_bytes;/'
# The main thread's heartbeat onto the keeper's line.
move "hs_shared_t.heartbeat among the keeper's counters" \
    's/\n\s*_Alignas\(SEG_LINE\) _Atomic int64_t heartbeat;[^\n]*//; s/(_Atomic uint64_t rec_stopped;)/$1\n    _Atomic int64_t heartbeat;/; s/(\n\s*)(_Atomic uint64_t dir_gen;)/$1_Alignas(SEG_LINE) $2/'

[ "$fails" = 0 ] && echo "test_layout: all moves refused" || { echo "test_layout: $fails failed"; exit 1; }
