#!/usr/bin/env bash
# test_bad_input.sh: bad requests through real nginx, while a song goes on.
#
#   test_bad_input.sh SOURCE_DIR BB_SHMD BB_WORKER BB_LOAD
#
# Starts the real daemon, two workers and nginx from the deploy templates
# (as tests/deploy/test_sharding.sh does), and bb-load with three singers
# who lead, start a song and sing through nginx the whole time.  Then sends
# every kind of bad request of the reliability issue, each carrying
# request_lead=1 and a chat "evil" as well, so that any leak into the state
# would show:
#
#   bodies     over nginx's 1 MiB (413 from nginx), over the worker's bound
#              (413, kill_client), truncated, with trailing bytes, an empty
#              packet, invalid Opus, Opus that is not 60 ms, n_samples that
#              disagree with the body (400 each, with the reason)
#   chats      thousands in one request (the URL is over nginx's 8 KiB
#              request-line buffer: 414), eleven (400: at most 10), one of
#              501 bytes (400), not JSON (400), control characters (400)
#   names      2000 bytes (400: at most 1024), control characters (400)
#   userids    missing, not a number, 20 digits, a leading zero, negative
#              (400 each)
#   clocks     missing, NaN, a fraction, negative, 10^20, a minute in the
#              future, two hours back (400 each); a write clock three minutes
#              back, older than the 123 s ring (500 with kill_client, as
#              PROTOCOL.md 2.7 says); a read clock that jumps (500 desync)
#   query      a repeated parameter, an empty field, a bad %-escape, 49
#              parameters (400 each); unknown parameters (ignored: 200, as
#              the protocol's later clients send parameters this server does
#              not know); an unknown method (405)
#   slow       twenty clients that send their bodies at one byte a second,
#              and twenty that send their headers that slowly
#
# Each gets its expected status and a message (X-Audio-Metadata's
# "message" for the worker's answers, nginx's page for nginx's).  Nothing
# else changes: the leader and the song's start are the same before and
# after, no "evil" chat reaches anyone, no "evil" singer appears in the
# room, and the singers see no error and no desync.  While the slow clients
# dribble (nginx buffers a request body before it passes it on), other
# requests are answered as fast as before: an observer's requests take
# well under 0.5 s each.
#
# Known to fail (Nov 2026): a body over the worker's bound (326 026 bytes)
# and under nginx's 1 MiB gets, about one time in three, 502 from nginx
# instead of the worker's 413: the worker answers without reading the body
# and drops the connection while nginx is still sending it ("writev()
# failed (32: Broken pipe) while sending request to upstream", or "readv()
# failed (104: Connection reset by peer)" in nginx's log).  Nothing else is
# affected; the case is sent ten times so that the failure shows.
#
# Not covered here: a client that stops sending altogether is cut off by
# nginx's client_body_timeout / client_header_timeout (60 s by default),
# too long for this test.  The per-address rate limit (429) is tested by
# tests/deploy/test_nginx_site.sh (loopback is exempt, so it cannot be
# tested from here).
set -euo pipefail
SRC=${1:?usage: $0 SOURCE_DIR BB_SHMD BB_WORKER BB_LOAD}
SHMD=$2 WORKER=$3 BBLOAD=$4
# shellcheck source=../deploy/lib.sh
. "$SRC/tests/deploy/lib.sh"
need_exe "$SHMD" "$WORKER" "$BBLOAD"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need_exe "$NGINX"
command -v curl >/dev/null || fail "curl is not installed"

PORT=$(free_port)
SEG=/bb-test-bad-input-$$
SOCK=$TMP/sock
mkdir -p "$SOCK" "$TMP/audio" "$TMP/rec" "$TMP/cache" "$TMP/nginx/tmp" "$TMP/nginx/conf.d" "$TMP/out"
# t_cleanup reads the exit status from $?: keep it across the rm (and
# without errexit, or a failing status would end the trap before the
# clean-up).
t_exit() { local st=$?; set +e; rm -f "/dev/shm$SEG" "/dev/shm$SEG"-*; (exit "$st"); t_cleanup; }
trap t_exit EXIT

# ------------------------------------------------------------ the stack

spawn shmd "$SHMD" --segment "$SEG" --audio-dir "$TMP/audio" --recordings-dir "$TMP/rec" \
    --cache-dir "$TMP/cache" --depth 4
wait_until 10 "the daemon's segment" test -e "/dev/shm$SEG"
for i in 1 2; do
    spawn "worker-$i" "$WORKER" --listen "unix:$SOCK/w$i.sock" --segment "$SEG" --worker-id "$i" \
        --audio-dir "$TMP/audio" --recordings-dir "$TMP/rec"
    wait_until 10 "worker $i's socket" test -S "$SOCK/w$i.sock"
done
start_local_nginx 2

# The singers: a leader who leads and starts a song, two followers.
spawn load "$BBLOAD" --http "127.0.0.1:$PORT" --singers 3 --offsets 3,6,9 --duration 300 \
    --interval 5 --decode --seed 7
LOAD_PID=${T_PID[load]}

# ------------------------------------------------------------ helpers

urlenc() {   # urlenc STRING: percent-encodes everything but [A-Za-z0-9._~-]
    local s=$1 out= c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            [A-Za-z0-9._~-]) out+=$c ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

clock() { local c; c=$(now_clock); echo $((c - c % 2880)); }

# meta FILE: the X-Audio-Metadata value in a header dump.
meta() { sed -n 's/^[Xx]-[Aa]udio-[Mm]etadata: //p' "$1" | tr -d '\r'; }

# A request that would be well-formed: evil's, 20 s back, with a lead and
# a chat that must never take effect.
EVIL=31337000001
base_q() { printf 'read_clock=%s&n_samples=28800&userid=%s&username=evil&request_lead=1&chat=%s' \
    "$(( $(clock) - 20 * 48000 ))" "$EVIL" "$(urlenc '["evil"]')"; }

N_CASES=0 N_BAD=0
# wrong WHAT: a case that did not get its answer; the test goes on with the
# others and fails at the end.
wrong() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; N_BAD=$((N_BAD + 1)); }
# expect NAME STATUS MESSAGE [CURL ARGS...] -- URL: one request; its status
# must be STATUS and MESSAGE must appear in its X-Audio-Metadata message
# (answers of the worker) or its body (answers of nginx).
expect() {
    local name=$1 want=$2 msg=$3; shift 3
    local h=$TMP/out/h b=$TMP/out/b st m
    : >"$h"; : >"$b"
    st=$(curl -sS -m 20 -o "$b" -D "$h" -w '%{http_code}' "$@" 2>>"$TMP/logs/curl.log") || st=000
    m=$(meta "$h")
    N_CASES=$((N_CASES + 1))
    if [ "$st" != "$want" ]; then
        wrong "$name: HTTP $st, want $want (metadata: ${m:-none}; body: $(head -c 120 "$b" | tr '\n' ' '))"
        return 0
    fi
    if [ -n "$m" ]; then
        case $m in *"\"message\""*) ;; *) wrong "$name: no message in X-Audio-Metadata: $m"; return 0 ;; esac
        case $m in *"$msg"*) ;; *) wrong "$name: message is $m, want one containing '$msg'"; return 0 ;; esac
        case $m in *'"kill_client": true'* | *'"kill_client":true'*) ;; *) wrong "$name: no kill_client in $m"; return 0 ;; esac
        printf '  %-42s %s %s\n' "$name" "$st" "$(printf '%s' "$m" | sed 's/.*"message": *//; s/}$//')"
    else
        grep -qF -- "$msg" "$b" || { wrong "$name: body does not contain '$msg': $(head -c 200 "$b")"; return 0; }
        printf '  %-42s %s (nginx) %s\n' "$name" "$st" "$msg"
    fi
}

POST=(-X POST -H 'Content-Type: application/octet-stream' -H 'X-Event-Data: undefined')

# The observer: a fresh listener asking for the room's state.
OBS=31337000002
observe() {   # observe OUT: metadata of one request of the observer
    curl -sS -m 5 -o /dev/null -D "$TMP/out/obs.h" -X POST -H 'Content-Length: 0' \
        "$API?read_clock=$(( $(clock) - 15 * 48000 ))&n_samples=2880&userid=$OBS&username=observer&reset_user_state=true" \
        2>>"$TMP/logs/curl.log" || fail "the observer's request failed"
    meta "$TMP/out/obs.h" >"$1"
}
field() { grep -o "\"$2\": *[^,}]*" "$1" | head -1 | sed 's/^[^:]*: *//'; }

# ------------------------------------------------------------ before

# Wait until bb-load's leader has started the song.
for ((i = 0; i < 100; i++)); do
    observe "$TMP/out/before"
    [ -n "$(field "$TMP/out/before" song_start_clock)" ] && break
    sleep 0.2
done
START=$(field "$TMP/out/before" song_start_clock)
LEADER=$(field "$TMP/out/before" leader)
LEADER_NAME=$(field "$TMP/out/before" leader_name)
[ -n "$START" ] || fail "bb-load's leader did not start a song within 20 s"
note "song started at clock $START by $LEADER_NAME (public id $LEADER)"

# ------------------------------------------------------------ bodies

printf 'bad-input cases (status, message):\n'
head -c $((2 * 1024 * 1024)) /dev/zero >"$TMP/2m"
head -c 400000 /dev/zero >"$TMP/400k"
printf '\x0a\x00\x03abc' >"$TMP/trunc"                      # 10 packets announced, 1 there
printf '\x01\x00\x03abcXYZ' >"$TMP/trail"                   # 3 bytes after the packet
printf '\x01\x00\x00' >"$TMP/emptypk"                       # a packet of length 0
: >"$TMP/badopus"; for ((i = 0; i < 10; i++)); do printf '\x00\x02\xff\xff' >>"$TMP/badopus"; done
printf '\x0a' | cat - "$TMP/badopus" >"$TMP/badopus10"      # 10 packets, code 3 with 63 frames
: >"$TMP/short"; for ((i = 0; i < 10; i++)); do printf '\x00\x01\xf8' >>"$TMP/short"; done
printf '\x0a' | cat - "$TMP/short" >"$TMP/short10"          # 10 packets of 20 ms
printf '\x01\x00\x01\xf8' >"$TMP/one"                        # 1 packet

Q=$(base_q)
expect "body of 2 MiB (nginx's 1 MiB)" 413 "413 Request Entity Too Large" "${POST[@]}" --data-binary "@$TMP/2m" "$API?$Q"
# Over the worker's bound but under nginx's: the worker answers 413 without
# reading the rest of the body.  Ten times, since it races with nginx still
# sending the body (see the end of the file).
for ((k = 0; k < 10; k++)); do
    expect "body of 400 kB (the worker's bound) #$k" 413 "request body too large" "${POST[@]}" --data-binary "@$TMP/400k" "$API?$(base_q)"
done
expect "truncated body" 400 "truncated Opus packet in the body" "${POST[@]}" --data-binary "@$TMP/trunc" "$API?$Q"
expect "trailing bytes" 400 "trailing bytes after the last Opus packet" "${POST[@]}" --data-binary "@$TMP/trail" "$API?$Q"
expect "empty packet" 400 "empty Opus packet in the body" "${POST[@]}" --data-binary "@$TMP/emptypk" "$API?$Q"
expect "invalid Opus" 400 "invalid Opus packet 0" "${POST[@]}" --data-binary "@$TMP/badopus10" "$API?$Q"
expect "Opus packets of 20 ms" 400 "is not 60 ms" "${POST[@]}" --data-binary "@$TMP/short10" "$API?$Q"
expect "n_samples disagrees with the body" 400 "Client is confused about how many samples it sent" "${POST[@]}" --data-binary "@$TMP/one" "$API?$Q"
expect "no body and no n_samples" 400 "Must provide either n_samples or data" "${POST[@]}" -H 'Content-Length: 0' \
    "$API?read_clock=$(( $(clock) - 20 * 48000 ))&userid=$EVIL&username=evil&request_lead=1"
expect "n_samples not a multiple of 2880" 400 "n_samples must be a multiple of 2880" "${POST[@]}" -H 'Content-Length: 0' \
    "$API?read_clock=$(( $(clock) - 20 * 48000 ))&n_samples=2881&userid=$EVIL&username=evil&request_lead=1"

# ------------------------------------------------------------ chats

many='['; for ((i = 0; i < 3000; i++)); do many+="\"c$i\","; done; many+='"end"]'
eleven='["a","b","c","d","e","f","g","h","i","j","k"]'
long=$(printf '"%0501d"' 0)
cq() { printf 'read_clock=%s&n_samples=28800&userid=%s&username=evil&chat=%s' "$(( $(clock) - 20 * 48000 ))" "$EVIL" "$(urlenc "$1")"; }
expect "3000 chats in one request" 414 "414 Request-URI Too Large" "${POST[@]}" -H 'Content-Length: 0' "$API?$(cq "$many")"
expect "11 chats in one request" 400 "too many chat messages in one request (at most 10)" "${POST[@]}" -H 'Content-Length: 0' "$API?$(cq "$eleven")"
expect "a chat of 501 bytes" 400 "chat message too long (at most 500 bytes)" "${POST[@]}" -H 'Content-Length: 0' "$API?$(cq "[$long]")"
expect "chat that is not JSON" 400 "chat must be a JSON array of strings" "${POST[@]}" -H 'Content-Length: 0' "$API?$(cq 'evil')"
expect "chat with a control character" 400 "chat message must be text without control characters" "${POST[@]}" -H 'Content-Length: 0' \
    "$API?$(cq '["evil\u0007"]')"

# ------------------------------------------------------------ names and userids

bigname=$(head -c 2000 /dev/zero | tr '\0' 'n')
uq() { printf 'read_clock=%s&n_samples=28800&%s&request_lead=1' "$(( $(clock) - 20 * 48000 ))" "$1"; }
expect "a name of 2000 bytes" 400 "username too long (at most 1024 bytes)" "${POST[@]}" -H 'Content-Length: 0' "$API?$(uq "userid=$EVIL&username=$bigname")"
expect "a name with a control character" 400 "username must be text without control characters" "${POST[@]}" -H 'Content-Length: 0' "$API?$(uq "userid=$EVIL&username=ev%01il")"
expect "no userid" 400 "missing username/id" "${POST[@]}" -H 'Content-Length: 0' "$API?$(uq "username=evil")"
expect "no username" 400 "missing username/id" "${POST[@]}" -H 'Content-Length: 0' "$API?$(uq "userid=$EVIL")"
for u in abc 12ab 123456789012345678901 007 -5 1e5 '%20'; do
        expect "userid '$u'" 400 "userid must be a decimal number of at most 19 digits" "${POST[@]}" -H 'Content-Length: 0' "$API?$(uq "userid=$u&username=evil")"
done

# ------------------------------------------------------------ clocks

ck() { printf '%s&n_samples=28800&userid=%s&username=evil&request_lead=1' "$1" "$EVIL"; }
NOW=$(clock)
expect "no read clock" 400 "no client read clock" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "x_clock=1")"
for rc in NaN 1.5 Infinity 1e14 99999999999999999999 ''; do
    [ -z "$rc" ] && continue
        expect "read clock '$rc'" 400 "read_clock must be an integer" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$rc")"
done
expect "negative read clock" 400 "read clock is more than an hour in the past" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=-28800")"
expect "read clock a minute in the future" 400 "in the future of the server clock" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$((NOW + 60 * 48000))")"
expect "read clock two hours back" 400 "read clock is more than an hour in the past" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$((NOW - 7200 * 48000))")"
expect "write clock NaN" 400 "write_clock must be an integer" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$((NOW - 20 * 48000))&write_clock=NaN")"
expect "write clock a minute in the future" 400 "write clock is" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$((NOW - 20 * 48000))&write_clock=$((NOW + 60 * 48000))")"
expect "write clock three minutes back" 500 "Client's write clock is too far in the past" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$((NOW - 20 * 48000))&write_clock=$((NOW - 180 * 48000))")"

# A desync: a singer of our own ("Mallory", not bb-load's) jumps its clock.
MAL=31337000003
mq() { printf 'read_clock=%s&n_samples=28800&userid=%s&username=Mallory' "$1" "$MAL"; }
R0=$((NOW - 20 * 48000))
st=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Length: 0' "$API?$(mq "$R0")&reset_user_state=true") || st=000
[ "$st" = 200 ] || fail "Mallory's first request answered $st"
expect "read clock that jumps (desync)" 500 "Client read clock desync" "${POST[@]}" -H 'Content-Length: 0' "$API?$(mq $((R0 + 5 * 28800)))"

# ------------------------------------------------------------ query

RQ=$(( $(clock) - 20 * 48000 ))
expect "repeated parameter" 400 "repeated query parameter 'read_clock'" "${POST[@]}" -H 'Content-Length: 0' "$API?read_clock=$RQ&$(ck "read_clock=$RQ")"
expect "empty field" 400 "malformed query string" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$RQ")&&x=1"
expect "bad percent escape" 400 "malformed percent-escape" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$RQ")&x=%zz"
p49=; for ((i = 0; i < 49; i++)); do p49+="&p$i=1"; done
expect "49 parameters" 400 "too many query parameters" "${POST[@]}" -H 'Content-Length: 0' "$API?$(ck "read_clock=$RQ")$p49"
# Unknown parameters are ignored (the request is otherwise a good one, so
# this one is a real listener: it joins the room as "stranger").
st=$(curl -sS -m 5 -o /dev/null -D "$TMP/out/unk.h" -w '%{http_code}' -X POST -H 'Content-Length: 0' \
    "$API?read_clock=$RQ&n_samples=2880&userid=31337000004&username=stranger&reset_user_state=true&foo=bar&lyrics=la&user_summary=1") || st=000
[ "$st" = 200 ] || wrong "unknown parameters: HTTP $st, want 200 (they are ignored)"
printf '  %-42s %s (ignored)\n' "unknown parameters" "$st"
N_CASES=$((N_CASES + 1))
st=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -X PUT --data-binary x "$API?$(ck "read_clock=$RQ")") || st=000
[ "$st" = 405 ] || wrong "PUT: HTTP $st, want 405"
printf '  %-42s %s\n' "method PUT" "$st"
N_CASES=$((N_CASES + 1))

# ------------------------------------------------------------ slow clients

# slow_body N: a POST whose 8-byte body comes one byte a second; prints
# the status line nginx answers once the body is complete.
slow_body() {
    local fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /api?%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8\r\nConnection: close\r\n\r\n' \
        "$(ck "read_clock=$(( $(clock) - 20 * 48000 ))")" >&"$fd"
    for ((i = 0; i < 8; i++)); do sleep 1; printf 'x' >&"$fd"; done
    head -1 <&"$fd" | tr -d '\r'
    exec {fd}>&-
}
# slow_head: headers sent one line a second (no body, no n_samples: 400).
slow_head() {
    local fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /api?read_clock=%s&userid=%s&username=evil&request_lead=1 HTTP/1.1\r\n' \
        "$(( $(clock) - 20 * 48000 ))" "$EVIL" >&"$fd"
    for h in 'Host: localhost' 'X-A: 1' 'X-B: 2' 'X-C: 3' 'X-D: 4' 'X-E: 5' 'Content-Length: 0' 'Connection: close'; do
        sleep 1; printf '%s\r\n' "$h" >&"$fd"
    done
    printf '\r\n' >&"$fd"
    head -1 <&"$fd" | tr -d '\r'
    exec {fd}>&-
}
t0=$(date +%s%N)
for ((k = 0; k < 20; k++)); do
    (timeout 40 bash -c "$(declare -f slow_body ck clock now_clock); PORT=$PORT EVIL=$EVIL slow_body" >"$TMP/out/slow-b$k" 2>&1 &)
    (timeout 40 bash -c "$(declare -f slow_head ck clock now_clock); PORT=$PORT EVIL=$EVIL slow_head" >"$TMP/out/slow-h$k" 2>&1 &)
done
# Meanwhile: the observer's requests, timed.
sleep 1
worst=0
for ((k = 0; k < 10; k++)); do
    t=$(curl -sS -m 5 -o /dev/null -w '%{time_total}' -X POST -H 'Content-Length: 0' \
        "$API?read_clock=$(( $(clock) - 15 * 48000 ))&n_samples=28800&userid=$OBS&username=observer&reset_user_state=true" 2>>"$TMP/logs/curl.log") || t=9
    ms=$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }')
    [ "$ms" -gt "$worst" ] && worst=$ms
    sleep 0.5
done
note "40 slow clients (20 bodies and 20 header blocks at one byte or line a second): the observer's requests meanwhile took at most $worst ms"
[ "$worst" -lt 500 ] || fail "a request took $worst ms while slow clients were sending: they block others"
for ((i = 0; i < 150; i++)); do
    done_n=$(cat "$TMP"/out/slow-* 2>/dev/null | grep -c '^HTTP/1.1' || true)
    [ "$done_n" -ge 40 ] && break
    sleep 0.2
done
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
b400=$(cat "$TMP"/out/slow-b* | grep -c '^HTTP/1.1 400' || true)
h400=$(cat "$TMP"/out/slow-h* | grep -c '^HTTP/1.1 400' || true)
note "the slow clients were answered once they had sent everything (after $elapsed ms): $b400 of 20 bodies and $h400 of 20 header blocks 400 (eight bytes of junk; no n_samples with an empty body)"
[ "$b400" = 20 ] || fail "slow bodies: $(cat "$TMP"/out/slow-b* | sort | uniq -c)"
[ "$h400" = 20 ] || fail "slow headers: $(cat "$TMP"/out/slow-h* | sort | uniq -c)"

# ------------------------------------------------------------ nothing else changed

observe "$TMP/out/after"
[ "$(field "$TMP/out/after" song_start_clock)" = "$START" ] || fail "the song's start changed: $(cat "$TMP/out/after")"
[ "$(field "$TMP/out/after" leader)" = "$LEADER" ] || fail "the leader changed: $(cat "$TMP/out/after")"
[ "$(field "$TMP/out/after" leader_name)" = "$LEADER_NAME" ] || fail "the leader's name changed: $(cat "$TMP/out/after")"
if grep -q '"evil"' "$TMP/out/before" "$TMP/out/after"; then fail "something of evil's reached the observer: $(cat "$TMP/out/after")"; fi
# The room: bb-load's three, the observer, Mallory and the stranger; evil
# never got in.
sleep 1.2
observe "$TMP/out/room"
grep -q '"user_summary"' "$TMP/out/room" || fail "no user_summary for the observer: $(cat "$TMP/out/room")"
if grep -q 'evil' "$TMP/out/room"; then fail "evil is in the room: $(cat "$TMP/out/room")"; fi
note "after $N_CASES bad requests: same song start ($START), same leader ($LEADER_NAME), no evil chat or singer anywhere"

kill -TERM "$LOAD_PID" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do grep -q '^desyncs:' "$TMP/logs/load.log" && break; sleep 0.1; done
grep -E '^(duration_s|requests|posts_ok|moves|p50_ms|p99_ms|max_ms|errors|desyncs):' "$TMP/logs/load.log" | tr '\n' ' ' | sed 's/^/bb-load: /'; echo
[ "$(sed -n 's/^errors: //p' "$TMP/logs/load.log")" = 0 ] || fail "the singers saw errors: $(grep -E '^errors|kill' "$TMP/logs/load.log")"
[ "$(sed -n 's/^desyncs: //p' "$TMP/logs/load.log")" = 0 ] || fail "the singers saw desyncs"
# bb-load's leader moved everyone once, at the lead; a lead taken by evil
# would have moved them again.
moves=$(sed -n 's/^moves: //p' "$TMP/logs/load.log")
[ "${moves:-99}" -le 3 ] || fail "the singers were moved $moves times: someone else took the lead"
[ "$N_BAD" = 0 ] || fail "$N_BAD of $N_CASES cases did not get their answer (FAIL lines above)"
note "PASS"
