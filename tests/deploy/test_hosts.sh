#!/usr/bin/env bash
# test_hosts.sh: rooms spread over two hosts behind one front nginx.
#
#   test_hosts.sh SOURCE_DIR BUILD_DIR
#
# Two complete local stacks (deploy/local-run.sh, one worker each, their
# own ports, run directories, rooms databases and host names host-a and
# host-b) and one front nginx rendered from deploy/nginx/front.conf.in (its
# HTTPS with a throwaway certificate), all on loopback. Then:
#
#   1. `bb-room create --front` makes 8 rooms on each host, alternately;
#      the front sends 200 random room ids to both hosts;
#   2. through the front, every request of a room's singers (clock probes
#      and audio POSTs of several userids, GET /api/room, the list of its
#      recordings) reaches the host the room was created on (X-BB-Host),
#      and is answered 200;
#   3. `bb-room create --front` for a host the front does not know gives up
#      with an error that names the hosts it saw, and makes no room;
#   4. with host B taken out of the front's upstream (re-rendered, nginx
#      -s reload), A's rooms still reach A, and B's rooms now reach A,
#      which does not have them yet (403);
#   5. after `bb-room export` on B, `bb-room import` on A and `bb-room
#      close` on B, every moved room works on A through the front with its
#      old links (GET /api/room 200 for both keys, an audio exchange 200),
#      and B keeps the room's recordings directory;
#   6. host A's rooms database, backed up with sqlite3's .backup while A
#      runs, brings every room back after the database is lost: A stopped,
#      the backup put in its place, A started again (README.md, "Backing
#      up the rooms database").
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2; exit 2; }
SRC=$1 BUILD=$2
BBROOM=$BUILD/rooms/bb-room
WORKER=$BUILD/fcgi/bb-worker
need_exe "$BUILD/shm/bb-shmd" "$WORKER" "$BBROOM"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need_exe "$NGINX"
command -v openssl >/dev/null || fail "openssl is not installed"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (apt-get install sqlite3)"

N_ROOMS=8      # per host
N_SINGERS=4    # userids per room
N_IDS=200      # random ids for the spread

PORT_A=$(free_port)
PORT_B=$(free_port)
t_exit() {
    local st=$?
    rm -f "/dev/shm/bb-$PORT_A" "/dev/shm/bb-$PORT_A"-* "/dev/shm/bb-$PORT_B" "/dev/shm/bb-$PORT_B"-*
    (exit "$st"); t_cleanup
}
trap t_exit EXIT

# ------------------------------------------------------------ two hosts

mkdir -p "$TMP/audio"
# start_host NAME PORT: one whole stack, as `./bb run` starts it.
start_host() {
    local name=$1 port=$2
    spawn "$name" env BB_ROOT="$SRC" BB_BUILD_DIR="$BUILD" BB_RUN_DIR="$TMP/$name" \
        BB_PORT="$port" BB_DEV_PORT=0 BB_WORKERS=1 BB_AUDIO_DIR="$TMP/audio" BB_STEMS=0 \
        BB_HOST_NAME="$name" "$SRC/deploy/local-run.sh"
}
start_host host-a "$PORT_A"
start_host host-b "$PORT_B"
running() { grep -qF "is running at http://localhost:$2/" "$TMP/logs/$1.log"; }
wait_until 30 "host-a to run" running host-a "$PORT_A"
wait_until 30 "host-b to run" running host-b "$PORT_B"
DB_A=$TMP/host-a/rooms.db DB_B=$TMP/host-b/rooms.db
note "hosts: host-a on port $PORT_A, host-b on port $PORT_B (one worker each)"

# ------------------------------------------------------------ the front

# A certificate for 127.0.0.1, which curl (the test's, and bb-room's)
# trusts through CURL_CA_BUNDLE.
F=$TMP/front
CERT=$F/cert
mkdir -p "$CERT" "$F/acme"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$CERT/privkey.pem" -out "$CERT/fullchain.pem" 2>"$TMP/logs/openssl.log" \
    || fail "openssl could not make a test certificate"
export CURL_CA_BUNDLE=$CERT/fullchain.pem

F_HTTP=$(free_port)
F_HTTPS=$(free_port)
FRONT=https://127.0.0.1:$F_HTTPS
# The front's header buffer, as front-install.sh sizes it: the workers'
# largest header and 8k for what the host's nginx adds.
hm=$("$WORKER" --header-max)
case $hm in *k) hm=$(( ${hm%k} * 1024 )) ;; *m) hm=$(( ${hm%m} * 1048576 )) ;; esac
PROXY_BUFFER=$(( (hm + 8192 + 1023) / 1024 ))k

# render_front HOST_PORT...: the front's site for these hosts.
render_front() {
    local servers='' p
    for p in "$@"; do servers="$servers    server 127.0.0.1:$p max_fails=0;
"; done
    "$SRC/deploy/render.sh" -o "$F" \
        DOMAIN=front.test CERT_DIR="$CERT" ACME_ROOT="$F/acme" HTTP_PORT="$F_HTTP" \
        HTTPS_PORT="$F_HTTPS" HOST_SERVERS="$servers" PROXY_BUFFER="$PROXY_BUFFER" \
        ACCESS_LOG="$TMP/logs/front-access.log" ERROR_LOG="$TMP/logs/front-error.log" \
        "$SRC/deploy/nginx/front.conf.in"
    have_ipv6_loopback || sed -i '/listen \[::\]/d' "$F/front.conf"
}
render_front "$PORT_A" "$PORT_B"
site_nginx "$F" 1 "$F/front.conf"
FNGX=("${SITE_NGX[@]}")
spawn front "${FNGX[@]}"
wait_until 10 "the front on port $F_HTTPS" port_busy "$F_HTTPS"
note "front: $FRONT (TLS, proxy_buffer_size $PROXY_BUFFER) over both hosts"

# ------------------------------------------------------------ helpers

# ask OUT METHOD URL...: one request per URL through one kept-alive
# connection; OUT gets "url status host" lines in order. An audio POST has
# an empty body.
ask() {
    local out=$1 method=$2 cfg=$TMP/ask.cfg u
    shift 2
    : >"$cfg"
    for u in "$@"; do printf 'url = "%s"\noutput = "/dev/null"\n' "$u" >>"$cfg"; done
    local post=()
    [ "$method" = POST ] && post=(-X POST -H 'Content-Length: 0')
    timeout 60 curl -sS -m 10 "${post[@]}" -w '%{url} %{http_code} %header{x-bb-host}\n' -K "$cfg" \
        >"$out" 2>>"$TMP/logs/curl.log" || true
    [ "$(wc -l <"$out")" = "$#" ] || fail "only $(wc -l <"$out") answers to $# requests"
}

# check_hosts OUT STATUS HOST WHAT: every answer in OUT has STATUS and
# came from HOST.
check_hosts() {
    local bad
    bad=$(awk -v s="$2" -v h="$3" '$2 != s || $3 != h' "$1" | head -3)
    [ -z "$bad" ] || fail "$4: want $2 from $3, got (url status host): $bad"
}

# Each room's links: ROOM_ID, SINGER_KEY, ORGANISER_KEY, OWNER.
declare -a ROOM_ID=() SINGER_KEY=() ORGANISER_KEY=() OWNER=()
# create_on NAME DB ROOMNAME: bb-room create --front on host NAME.
create_on() {
    local name=$1 db=$2 room=$3 out=$TMP/create.out id ok
    "$BBROOM" --db "$db" create "$room" --front "$FRONT" --host-name "$name" \
        >"$out" 2>"$TMP/logs/bb-room.log" || { cat "$TMP/logs/bb-room.log" >&2; fail "bb-room create --front on $name failed"; }
    id=$(sed -n "s|^singers: $FRONT/r/\([0-9a-z]\{10\}\)#.*|\1|p" "$out")
    ok=$(sed -n "s|^organiser: $FRONT/r/$id#\(.*\)|\1|p" "$out")
    if [ -z "$id" ] || [ -z "$ok" ]; then fail "bb-room create --front printed: $(cat "$out")"; fi
    ROOM_ID+=("$id")
    SINGER_KEY+=("$(sed -n 's|^singers: .*#||p' "$out")")
    ORGANISER_KEY+=("$ok")
    OWNER+=("$name")
}

# The read clock of a singer's first audio request: ten seconds back.
RC=$(( $(now_clock) - 10 * 48000 ))
NEXT_USER=700000
# singers_of I: the URLs of room I's singers (new userids): a probe, an
# audio POST and GET /api/room each, in PROBES, POSTS and ROOMS; and the
# room's list of recordings, in ROOMS too.
singers_of() {
    local i=$1 s u q="room=${ROOM_ID[$1]}&key=${SINGER_KEY[$1]}"
    for ((s = 0; s < N_SINGERS; s++)); do
        u=$((NEXT_USER += 1))
        PROBES+=("$FRONT/api?$q&userid=$u")
        POSTS+=("$FRONT/api?read_clock=$RC&n_samples=2880&userid=$u&username=s$u&$q")
        ROOMS+=("$FRONT/api/room?$q&userid=$u")
    done
    ROOMS+=("$FRONT/api/recordings?$q")
}

# check_rooms WHAT STATUS HOST I...: every request of the singers of
# rooms I... has STATUS and reaches HOST.
CHECKED=0
check_rooms() {
    local what=$1 status=$2 host=$3 i
    shift 3
    PROBES=() POSTS=() ROOMS=()
    for i in "$@"; do singers_of "$i"; done
    ask "$TMP/probes" GET "${PROBES[@]}"
    ask "$TMP/posts" POST "${POSTS[@]}"
    ask "$TMP/rooms" GET "${ROOMS[@]}"
    check_hosts "$TMP/probes" "$status" "$host" "$what: clock probes"
    check_hosts "$TMP/posts" "$status" "$host" "$what: audio POSTs"
    check_hosts "$TMP/rooms" "$status" "$host" "$what: GET /api/room and /api/recordings"
    CHECKED=$((CHECKED + ${#PROBES[@]} + ${#POSTS[@]} + ${#ROOMS[@]}))
}

# ------------------------------------------------------------ 1. create

for ((i = 1; i <= N_ROOMS; i++)); do
    create_on host-a "$DB_A" "Choir A$i"
    create_on host-b "$DB_B" "Choir B$i"
done
[ "$("$BBROOM" --db "$DB_A" list | wc -l)" = "$N_ROOMS" ] || fail "host-a's database does not hold its $N_ROOMS rooms"
[ "$("$BBROOM" --db "$DB_B" list | wc -l)" = "$N_ROOMS" ] || fail "host-b's database does not hold its $N_ROOMS rooms"
ROOMS_A=() ROOMS_B=()
for ((i = 0; i < ${#ROOM_ID[@]}; i++)); do
    if [ "${OWNER[$i]}" = host-a ]; then ROOMS_A+=("$i"); else ROOMS_B+=("$i"); fi
done

# Where the front sends random ids (bb-room's own draws are biased: it
# keeps only the ones that come back to its host).
mapfile -t IDS < <(tr -dc '0-9a-hjkmnp-tv-z' </dev/urandom | head -c $((N_IDS * 10)) | fold -w 10 \
    | sed "s|^|$FRONT/api?room=|")
ask "$TMP/spread" GET "${IDS[@]}"
to_a=$(awk '$3 == "host-a"' "$TMP/spread" | wc -l)
to_b=$(awk '$3 == "host-b"' "$TMP/spread" | wc -l)
[ $((to_a + to_b)) = "$N_IDS" ] || fail "some of $N_IDS random room ids reached neither host: $(awk '$3 != "host-a" && $3 != "host-b"' "$TMP/spread" | head -3)"
# Each host's share of the ring is about half: far from none.
if [ "$to_a" -lt $((N_IDS / 5)) ] || [ "$to_b" -lt $((N_IDS / 5)) ]; then
    fail "the front sends $to_a of $N_IDS room ids to host-a and $to_b to host-b: not spread"
fi
note "rooms: $N_ROOMS created on each host through bb-room --front; of $N_IDS random room ids the front sends $to_a to host-a and $to_b to host-b"

# A room is served once the host's daemon has read its database (it looks
# twice a second).
served() {
    local i
    for i in "$@"; do
        [ "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$FRONT/api/room?room=${ROOM_ID[$i]}&key=${SINGER_KEY[$i]}")" = 200 ] || return 1
    done
}
wait_until 10 "the hosts to serve their new rooms" served "${ROOMS_A[@]}" "${ROOMS_B[@]}"

# ------------------------------------------------------------ 2. sticky

check_rooms "host-a's rooms" 200 host-a "${ROOMS_A[@]}"
check_rooms "host-b's rooms" 200 host-b "${ROOMS_B[@]}"
note "every request of every room's singers reached its room's host: $CHECKED requests ($N_SINGERS singers a room, each a probe, an audio POST and GET /api/room; the room's recordings), all 200"

# ------------------------------------------------------------ 3. unknown host

before=$("$BBROOM" --db "$DB_A" list --all | wc -l)
if "$BBROOM" --db "$DB_A" create "Lost" --front "$FRONT" --host-name host-z \
    >"$TMP/lost.out" 2>"$TMP/lost.err"; then
    fail "bb-room create --front for a host the front does not know succeeded: $(cat "$TMP/lost.out")"
fi
grep -q "sent none of .* to host host-z; it named: host-[ab] host-[ab]\." "$TMP/lost.err" \
    || fail "bb-room's refusal does not name the hosts it saw: $(cat "$TMP/lost.err")"
[ ! -s "$TMP/lost.out" ] || fail "a refused create printed links"
[ "$("$BBROOM" --db "$DB_A" list --all | wc -l)" = "$before" ] || fail "a refused create made a room"
note "a host the front does not send to: bb-room gives up ($(sed 's/^bb-room: //; s/\. Is this.*//' "$TMP/lost.err"))"

# ------------------------------------------------------------ 4. remove B

# The front's worker processes (children of its master).
front_workers() { cat "/proc/${T_PID[front]}/task/${T_PID[front]}/children" 2>/dev/null || true; }
# old_gone PID...: none of these is still one of the front's workers.
old_gone() {
    local now p
    now=" $(front_workers) "
    for p in "$@"; do [[ $now != *" $p "* ]] || return 1; done
}
old_workers=$(front_workers)
[ -n "$old_workers" ] || fail "the front's master has no worker processes"
render_front "$PORT_A"
"${FNGX[@]}" -s reload 2>>"$TMP/logs/front.log" || fail "nginx -s reload of the front failed"
# nginx lets the old workers accept for a while after the new ones start
# (its master sleeps before telling them to quit) and then closes what
# they accepted and had not read a request from: a client connecting then
# gets no answer. That is the reload's own edge, not the routing this step
# checks, which starts once the old workers are gone.
# shellcheck disable=SC2086
wait_until 20 "the front's old worker processes to exit after the reload" old_gone $old_workers
b0=${ROOMS_B[0]}
on_a() {
    [ "$(curl -sS -m 5 -o /dev/null -w '%header{x-bb-host}' "$FRONT/api?room=${ROOM_ID[$b0]}")" = host-a ]
}
wait_until 10 "the front to reload without host-b" on_a
check_rooms "host-a's rooms with host-b gone" 200 host-a "${ROOMS_A[@]}"
check_rooms "host-b's rooms before they moved" 403 host-a "${ROOMS_B[@]}"
note "host-b out of the front: host-a's rooms still on host-a, host-b's rooms reach host-a, which does not have them yet (403)"

# ------------------------------------------------------------ 5. move

for i in "${ROOMS_B[@]}"; do
    id=${ROOM_ID[$i]}
    [ -d "$TMP/host-b/recordings/$id" ] || fail "host-b never made room $id's recordings directory"
    "$BBROOM" --db "$DB_B" export "$id" >"$TMP/room.json" 2>>"$TMP/logs/bb-room.log" || fail "bb-room export $id on host-b failed"
    "$BBROOM" --db "$DB_A" import <"$TMP/room.json" >>"$TMP/logs/bb-room.log" 2>&1 || fail "bb-room import of $id on host-a failed"
    "$BBROOM" --db "$DB_B" close "$id" >>"$TMP/logs/bb-room.log" 2>&1 || fail "bb-room close $id on host-b failed"
done
wait_until 10 "host-a to serve the moved rooms" served "${ROOMS_B[@]}"
check_rooms "moved rooms on host-a" 200 host-a "${ROOMS_B[@]}"
# The organiser's link moved too.
ORGS=()
for i in "${ROOMS_B[@]}"; do ORGS+=("$FRONT/api/room?room=${ROOM_ID[$i]}&key=${ORGANISER_KEY[$i]}"); done
ask "$TMP/orgs" GET "${ORGS[@]}"
check_hosts "$TMP/orgs" 200 host-a "moved rooms' organiser links"
body=$(curl -sS -m 5 "${ORGS[0]}")
case $body in *'"role":"organiser"'*|*'"role": "organiser"'*) ;; *) fail "a moved room's organiser link gives: $body" ;; esac
for i in "${ROOMS_B[@]}"; do
    [ -d "$TMP/host-b/recordings/${ROOM_ID[$i]}" ] || fail "host-b lost room ${ROOM_ID[$i]}'s recordings directory"
done
[ "$("$BBROOM" --db "$DB_B" list | wc -l)" = 0 ] || fail "host-b still lists open rooms after the move"
note "moved ${#ROOMS_B[@]} rooms from host-b to host-a (export, import, close): their singers' and organiser's links work on host-a; host-b keeps their recordings directories"

# ------------------------------------------------------------ 6. backup

sqlite3 "$DB_A" ".backup '$TMP/rooms-backup.db'" 2>>"$TMP/logs/sqlite3.log" || fail "sqlite3 .backup of host-a's rooms database failed while it ran"
stop host-a
[ "$STOPPED_STATUS" = 0 ] || fail "host-a's local run exited with status $STOPPED_STATUS"
rm -f "$DB_A" "$DB_A-wal" "$DB_A-shm"
cp "$TMP/rooms-backup.db" "$DB_A"
start_host host-a "$PORT_A"
wait_until 30 "host-a to run again" running host-a "$PORT_A"
wait_until 10 "host-a to serve its rooms again" served "${ROOMS_A[@]}" "${ROOMS_B[@]}"
check_rooms "every room after host-a's database was restored" 200 host-a "${ROOMS_A[@]}" "${ROOMS_B[@]}"
note "host-a's rooms database backed up while it ran (.backup), lost, restored: all $(( ${#ROOMS_A[@]} + ${#ROOMS_B[@]} )) rooms work again"
note "$CHECKED requests checked in all"
note "PASS"
