#!/usr/bin/env bash
# test_recordings.sh: a room's recordings through the whole local stack
# (deploy/local-run.sh: nginx, the workers, the daemon), as an organiser,
# a singer and the default room's anyone reach them with curl.
#
#   test_recordings.sh SOURCE_DIR BUILD_DIR
#
# With the recordings capped at 1.5 MB (BB_RECORDINGS_BYTES) it checks:
#
#   - deleting a song (POST /api/recording/delete): the organiser may (204,
#     every file of the song gone, one log line naming the room), a singer
#     may not (403, with the reason), nobody may in the default room (403),
#     a song that is not there is a 404 and a name that is not a song's a
#     400; the song being recorded is a 409, and stays;
#   - the bytes cap: as the room records, the oldest songs of any room go
#     (a log line each), then, with only the song being recorded left, its
#     recording stops ("disk" in its project and the listing) while the
#     song goes on; the workers' metrics count both.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2; exit 2; }
SRC=$1 BUILD=$2
need_exe "$BUILD/shm/bb-shmd" "$BUILD/fcgi/bb-worker" "$BUILD/rooms/bb-room"
command -v jq >/dev/null || fail "jq is not installed (apt-get install jq)"

PORT=$(free_port)
RUN=$TMP/run
REC=$TMP/rec
SEG_FILE=/dev/shm/bb-$PORT
mkdir -p "$TMP/audio" "$REC"
t_exit() { local st=$?; rm -f "$SEG_FILE" "$SEG_FILE"-*; (exit "$st"); t_cleanup; }  # keep the status for t_cleanup
trap t_exit EXIT

export BB_ROOT=$SRC BB_BUILD_DIR=$BUILD BB_RUN_DIR=$RUN BB_PORT=$PORT BB_DEV_PORT=0 \
    BB_WORKERS=1 BB_AUDIO_DIR=$TMP/audio BB_RECORDINGS_DIR=$REC BB_RECORDINGS_BYTES=1500000
LOG=$TMP/logs/bb-run.log
spawn bb-run "$SRC/deploy/local-run.sh"
logged() { grep -qF -- "$1" "$LOG"; }
wait_until 30 "the local run to print its URL" logged "is running at http://localhost:$PORT/"
logged "at most 1.4 MiB in all" || fail "the daemon did not take --recordings-bytes: $(grep shmd "$LOG" | head -5)"
BASE=http://127.0.0.1:$PORT

# A room: its organiser's and singers' links.
"$BUILD/rooms/bb-room" --db "$RUN/rooms.db" --base-url "$BASE" create "Choir" >"$TMP/links"
link_of() { awk -v w="$1:" '$1 == w {print $2}' "$TMP/links"; }
ROOM=$(link_of singers) ROOM=${ROOM##*/r/} ROOM=${ROOM%%#*}
SKEY=$(link_of singers) SKEY=${SKEY##*#}
OKEY=$(link_of organiser) OKEY=${OKEY##*#}
[ -n "$ROOM" ] && [ -n "$SKEY" ] && [ -n "$OKEY" ] || fail "bb-room create printed no links: $(cat "$TMP/links")"
code() { curl -sS -m 5 -o "$TMP/body" -w '%{http_code}' "$@"; }
room_ok() { [ "$(code "$BASE/api/room?room=$ROOM&key=$OKEY")" = 200 ]; }
wait_until 10 "the new room to be served" room_ok
grep -q '"role":"organiser"' "$TMP/body" || fail "the organiser's key is not the organiser's: $(cat "$TMP/body")"

# Songs already there, an hour old: the room's two, the default room's one.
# stamp SECONDS_AGO: a song stamp of that many seconds ago.
stamp() { date -u -d "@$(( $(date +%s) - $1 ))" +%Y-%m-%d-%H%M%S; }
old_song() {   # old_song DIR STAMP BYTES
    mkdir -p "$1"
    head -c "$3" /dev/zero >"$1/$2.wav"
    printf 'x' >"$1/$2-stem-Ann_000001.opus"
    printf '# ended: ended (the song ended)\n' >"$1/$2.lof"
    touch -d '1 hour ago' "$1/$2".* "$1/$2"-*
}
OLD_ROOM=$(stamp 7200) OLD_DEFAULT=$(stamp 5400) GONE=$(stamp 3600)
old_song "$REC/$ROOM" "$OLD_ROOM" 500000
old_song "$REC" "$OLD_DEFAULT" 500000
old_song "$REC/$ROOM" "$GONE" 1000

# Deleting: who may.
del() { code -X POST "$BASE/api/recording/delete?$1"; }
[ "$(del "room=$ROOM&key=$SKEY&song=$GONE")" = 403 ] || fail "a singer deleted a recording: $(cat "$TMP/body")"
grep -q 'only the organiser can delete a recording' "$TMP/body" || fail "a singer's refusal says: $(cat "$TMP/body")"
[ "$(del "song=$OLD_DEFAULT")" = 403 ] || fail "a recording of the default room was deleted"
[ "$(del "room=$ROOM&key=x$OKEY&song=$GONE")" = 403 ] || fail "a wrong key deleted a recording"
[ -f "$REC/$ROOM/$GONE.wav" ] && [ -f "$REC/$OLD_DEFAULT.wav" ] || fail "a refused delete removed files"
[ "$(del "room=$ROOM&key=$OKEY&song=../../x")" = 400 ] || fail "a path was taken for a song"
[ "$(del "room=$ROOM&key=$OKEY&song=$GONE.wav")" = 400 ] || fail "a file name was taken for a song"
[ "$(code "$BASE/api/recording/delete?room=$ROOM&key=$OKEY&song=$GONE")" = 405 ] || fail "a GET deleted"
[ "$(del "room=$ROOM&key=$OKEY&song=$GONE")" = 204 ] || fail "the organiser could not delete: $(cat "$TMP/body")"
for f in "$GONE.wav" "$GONE.lof" "$GONE-stem-Ann_000001.opus"; do
    [ ! -e "$REC/$ROOM/$f" ] || fail "$f is still there after the delete"
done
[ "$(del "room=$ROOM&key=$OKEY&song=$GONE")" = 404 ] || fail "deleting it again is not a 404"
wait_until 5 "the delete's log line" logged "room $ROOM: recording $GONE deleted by the organiser (3 files"
note "delete: organiser 204 (files gone, logged), singer 403, default room 403, missing 404, not a song 400"

# The organiser leads and starts a song, and keeps coming (an empty body:
# no voice, the mix is silence), 600 ms of read clock a request.
UID_=40000000001
RC=$(( $(now_clock) - 3 * 48000 ))
post() {   # post EXTRA: one exchange; its metadata in $TMP/meta
    curl -sS -m 5 -o /dev/null -D "$TMP/h" -w '%{http_code}' -X POST -H 'Content-Length: 0' \
        "$BASE/api?room=$ROOM&key=$OKEY&userid=$UID_&username=Org&read_clock=$RC&n_samples=28800$1" \
        >"$TMP/status" 2>&1 || true
    RC=$((RC + 28800))
    grep -i '^x-audio-metadata:' "$TMP/h" | sed 's/^[^:]*: //' >"$TMP/meta" || true
}
post "&request_lead=1"
sleep 0.6
post "&mark_start_singing=1"
[ "$(cat "$TMP/status")" = 200 ] || fail "starting the song answered $(cat "$TMP/status")"
# The singer's last answer, kept whole for the test to read.
sing() {
    while :; do
        sleep 0.55
        post ""
        cp "$TMP/status" "$TMP/last.status.tmp" && mv "$TMP/last.status.tmp" "$TMP/last.status"
        cp "$TMP/meta" "$TMP/last.meta.tmp" && mv "$TMP/last.meta.tmp" "$TMP/last.meta"
    done
}
sing &
SINGER=$!
T_PID[singer]=$SINGER
listing() { curl -sS -m 5 "$BASE/api/recordings?room=$ROOM&key=$SKEY"; }
recording_now() { listing | jq -e '.recordings[] | select(.recording)' >/dev/null; }
wait_until 30 "the song to be recorded" recording_now
NOW=$(listing | jq -r '.recordings[] | select(.recording) | .song')
[ "$(del "room=$ROOM&key=$OKEY&song=$NOW")" = 409 ] || fail "the song being recorded was deleted: $(cat "$TMP/body")"
grep -q 'being recorded' "$TMP/body" || fail "the 409 says: $(cat "$TMP/body")"
[ -f "$REC/$ROOM/$NOW.wav" ] || fail "the song being recorded lost its mix"
note "delete of the song being recorded ($NOW): 409, and it stays"

# The cap: the room's old song goes first, then the default room's, then
# the recording stops while the song goes on.
stopped() { logged "the recording of song $NOW of room $ROOM stops; the song goes on"; }
wait_until 90 "the recording to stop at the cap" stopped
grep -n "recordings: deleted song" "$LOG" | sed 's/^/    /'
first=$(grep -n "deleted song $OLD_ROOM of room $ROOM" "$LOG" | cut -d: -f1)
second=$(grep -n "deleted song $OLD_DEFAULT of the default room" "$LOG" | cut -d: -f1)
[ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ] || fail "the oldest songs did not go first, oldest of all first"
[ ! -e "$REC/$ROOM/$OLD_ROOM.wav" ] && [ ! -e "$REC/$OLD_DEFAULT.wav" ] || fail "the old songs are still there"
closed() { grep -q '^# ended: disk' "$REC/$ROOM/$NOW.lof" 2>/dev/null; }
wait_until 10 "the stopped recording's project" closed
size0=$(stat -c %s "$REC/$ROOM/$NOW.wav")
sleep 3
[ "$(cat "$TMP/last.status")" = 200 ] || fail "the song did not go on: $(cat "$TMP/last.status")"
jq -e '.song_start_clock > 0' "$TMP/last.meta" >/dev/null || fail "the song ended with its recording: $(cat "$TMP/last.meta")"
[ "$(stat -c %s "$REC/$ROOM/$NOW.wav")" = "$size0" ] || fail "the stopped recording still grows"
listing | jq -e --arg s "$NOW" '.recordings[] | select(.song == $s) | select(.ended == "disk" and .normal == false and .recording == false and .complete)' \
    >/dev/null || fail "the listing does not say the recording stopped for space: $(listing)"
metric() { curl -sS -m 5 --unix-socket "$RUN/sock/ops-1.sock" http://ops/metrics | awk -v m="$1" '$1 == m {print $2}'; }
[ "$(metric 'bb_recordings_deleted_total{limit="bytes"}')" = 2 ] || fail "metrics: $(metric 'bb_recordings_deleted_total{limit="bytes"}') songs deleted for bytes, want 2"
[ "$(metric bb_recordings_stopped_total)" = 1 ] || fail "metrics: $(metric bb_recordings_stopped_total) recordings stopped, want 1"
[ "$(metric bb_recordings_max_bytes)" = 1500000 ] || fail "metrics: the cap is $(metric bb_recordings_max_bytes)"
[ "$(metric bb_worker_recordings_deleted_total)" = 1 ] || fail "metrics: $(metric bb_worker_recordings_deleted_total) deleted by organisers, want 1"
note "cap: $OLD_ROOM (room) then $OLD_DEFAULT (default room) deleted, then the recording stopped at $(( size0 / 1000 )) kB; the song goes on; metrics count it"
stop singer
note "PASS"
