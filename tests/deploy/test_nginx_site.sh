#!/usr/bin/env bash
# test_nginx_site.sh: the production nginx site, rendered with test paths.
#
#   test_nginx_site.sh SOURCE_DIR BB_WORKER
#
# Renders deploy/nginx/bucket-brigade.conf and its includes as
# deploy/install.sh does, but with a self-signed certificate, paths in a
# temporary directory and free ports instead of 80 and 443, and includes it
# in an nginx.conf like Debian's. Then:
#
#   - `nginx -t` passes on it;
#   - run for real (on loopback), it redirects HTTP to HTTPS except for
#     certbot's challenge, serves the client over HTTPS, and no recording
#     without a worker's word (X-Accel-Redirect to an internal location),
#     passes /api to the workers, limits request bodies (1 MiB for audio,
#     32 MiB for uploads), limits the request rate per address but not for
#     loopback, serves a room's page (/r/ID), and has no route of its own
#     to metrics and profiling (they are on the workers' operator sockets);
#   - its API answers name the host (X-BB-Host), errors too;
#   - the site of a host behind a front (bb-host.conf, install.sh --front)
#     passes `nginx -t`, answers 403 to a request that comes neither from
#     the front nor from the machine itself, and takes the client's address
#     from X-Forwarded-For from the front only (the log and the rate limit
#     see the singer);
#   - its FastCGI header buffer holds the largest response header the
#     worker writes (`bb-worker --header-max`), so no response is ever a
#     502 "upstream sent too big header".
#
# No worker runs here: a request that reaches the upstream answers 502.
# To stand for a remote client without leaving loopback, the test's
# nginx.conf (not the site) trusts X-Forwarded-For from 127.0.0.1.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || { echo "usage: $0 SOURCE_DIR BB_WORKER" >&2; exit 2; }
SRC=$1 WORKER=$2
need_exe "$WORKER"
HEADER_MAX=$("$WORKER" --header-max)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need_exe "$NGINX"
command -v openssl >/dev/null || fail "openssl is not installed"

DOMAIN=bb.test
HTTP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
CONF=$TMP/etc/bucket-brigade
CERT=$TMP/letsencrypt/live/$DOMAIN
mkdir -p "$CONF" "$CERT" "$TMP/acme/.well-known/acme-challenge" "$TMP/rec" "$TMP/var/log/bb" \
    "$TMP/html" "$TMP/nginx/tmp" "$TMP/var/log"

# A client to serve: the real one if it is there, else a stand-in page.
if [ -f "$SRC/html/index.html" ]; then HTML=$SRC/html; else HTML=$TMP/html; echo '<!doctype html>' >"$HTML/index.html"; fi

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$DOMAIN" \
    -keyout "$CERT/privkey.pem" -out "$CERT/fullchain.pem" 2>"$TMP/logs/openssl.log" \
    || fail "openssl could not make a test certificate"

servers=
for i in 1 2 3; do servers="$servers    server unix:$TMP/run/worker-$i.sock max_fails=0;
"; done
"$SRC/deploy/render.sh" -o "$CONF" \
    DOMAIN="$DOMAIN" CONF_DIR="$CONF" CERT_DIR="$CERT" ACME_ROOT="$TMP/acme" \
    HTTP_PORT="$HTTP_PORT" HTTPS_PORT="$HTTPS_PORT" \
    UPSTREAM_SERVERS="$servers" UPLOAD_SERVER="    server unix:$TMP/run/upload.sock;" \
    HTML_DIR="$HTML" RECORDINGS_DIR="$TMP/rec" \
    ACCESS_LOG="$TMP/var/log/access.log" ERROR_LOG="$TMP/var/log/bb/nginx-error.log" \
    FASTCGI_BUFFER="$HEADER_MAX" HOST_NAME=site-test \
    "$SRC"/deploy/nginx/bb-http.conf.in "$SRC"/deploy/nginx/bb-locations.conf.in \
    "$SRC"/deploy/nginx/bb-fastcgi.conf.in "$SRC"/deploy/nginx/bucket-brigade.conf.in
# Where this machine has no IPv6, drop the [::] listeners (production keeps them).
have_ipv6_loopback || sed -i '/listen \[::\]/d' "$CONF/bucket-brigade.conf"

# Debian's nginx.conf around the site, in the foreground, so that the test
# can stop the nginx it started. Test only: a request from loopback may
# stand for a remote client.
site_nginx "$TMP/nginx" 2 "$CONF/bucket-brigade.conf" \
    'set_real_ip_from 127.0.0.1;' 'real_ip_header X-Forwarded-For;'
NGX=("${SITE_NGX[@]}")
note "nginx -t passes on the production site"

# The directives the site is about, as nginx reads them.
"${NGX[@]}" -T 2>/dev/null >"$TMP/full.conf"
# shellcheck disable=SC2016  # nginx variables, not shell ones
for want in 'hash $arg_userid consistent' 'fastcgi_keep_conn' 'keepalive 32' \
    'zone bb_workers' "ssl_certificate     $CERT/fullchain.pem" \
    "ssl_certificate_key $CERT/privkey.pem" 'return 301 https://$host$request_uri' \
    'limit_req zone=bb_api'; do
    grep -qF -- "$want" "$TMP/full.conf" || fail "the rendered site lacks '$want'"
done
# Every FastCGI header buffer the site sets holds the worker's largest
# response header, in bytes (nginx sizes: N, Nk, Nm).
bytes() { case $1 in *k) echo $(( ${1%k} * 1024 )) ;; *m) echo $(( ${1%m} * 1048576 )) ;; *) echo "$1" ;; esac; }
need=$(bytes "$HEADER_MAX")
[ "$need" -gt 40960 ] || fail "bb-worker --header-max says $HEADER_MAX, less than its metadata alone"
sizes=$(sed -n 's/^[[:space:]]*fastcgi_buffer_size[[:space:]]\{1,\}\([0-9]*[km]\{0,1\}\);.*/\1/p' "$TMP/full.conf")
[ -n "$sizes" ] || fail "the rendered site sets no fastcgi_buffer_size"
for sz in $sizes; do
    [ "$(bytes "$sz")" -ge "$need" ] || fail "fastcgi_buffer_size $sz is smaller than the worker's largest header ($HEADER_MAX)"
done
note "fastcgi_buffer_size $(echo $sizes | tr ' ' ',') holds the worker's largest response header ($HEADER_MAX)"

# ------------------------------------------------------------ for real

spawn nginx "${NGX[@]}"
wait_until 10 "nginx on port $HTTPS_PORT" port_busy "$HTTPS_PORT"

# get URL [CURL ARGS...]: prints "status content-type location".
H=http://$DOMAIN:$HTTP_PORT
S=https://$DOMAIN:$HTTPS_PORT
get() {
    local url=$1; shift
    curl -sS -k -m 10 -o "$TMP/body" --resolve "$DOMAIN:$HTTP_PORT:127.0.0.1" \
        --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" \
        -w '%{http_code} %{content_type} %{redirect_url}' "$@" "$url" 2>>"$TMP/logs/curl.log" || true
}
expect() {   # expect WHAT WANT GOT
    [ "$3" = "$2" ] || fail "$1: got '$3', want '$2'"
}

expect "HTTP redirects to HTTPS" "301 text/html https://$DOMAIN/recordings/?x=1" "$(get "$H/recordings/?x=1")"
echo challenge-token >"$TMP/acme/.well-known/acme-challenge/tok"
expect "certbot's challenge over HTTP" "200 application/octet-stream " "$(get "$H/.well-known/acme-challenge/tok")"
[ "$(cat "$TMP/body")" = challenge-token ] || fail "certbot's challenge file came back wrong"

r=$(get "$S/" -D "$TMP/h")
expect "the client over HTTPS" "200 text/html " "$r"
grep -qi '^cache-control: no-cache' "$TMP/h" || fail "the client page is not revalidated (Cache-Control: no-cache)"
js=$(cd "$HTML" && find . -name '*.js' | head -1)
if [ -n "$js" ]; then
    expect "a JavaScript module" "200 application/javascript " "$(get "$S/${js#./}")"
fi
note "HTTP redirects to HTTPS except certbot's challenge; client served over TLS"
# Recordings have no public URL: only a worker's X-Accel-Redirect, after it
# checked the room's key, reaches the internal location.
printf 'RIFF' >"$TMP/rec/2024-01-02-030405.wav"
expect "a recording by its old public path" "404 text/html " "$(get "$S/recordings/2024-01-02-030405.wav")"
expect "a recording by the internal location" "404 text/html " "$(get "$S/bb-recordings/2024-01-02-030405.wav")"
note "recordings: no public URL, the internal location refuses a direct request"

# No workers: what reaches the upstream is a 502.
expect "GET /api reaches the workers" "502 text/html " "$(get "$S/api" -D "$TMP/h")"
# Every API answer names the host, a failure too (the front and
# `bb-room create --front` rely on it).
grep -qi '^x-bb-host: site-test' "$TMP/h" || fail "an API answer does not name the host (X-BB-Host: site-test)"
expect "the original client's reset_events URL reaches the workers" "502 text/html " "$(get "$S/apireset_events" -X POST)"

head -c $((2 * 1024 * 1024)) /dev/zero >"$TMP/2m"
head -c $((33 * 1024 * 1024)) /dev/zero >"$TMP/33m"
expect "a 2 MiB audio POST" "413 text/html " "$(get "$S/api?userid=1" --data-binary "@$TMP/2m")"
expect "a 2 MiB upload" "502 text/html " "$(get "$S/api/upload?name=t" --data-binary "@$TMP/2m")"
expect "a 33 MiB upload" "413 text/html " "$(get "$S/api/upload?name=t" --data-binary "@$TMP/33m")"
note "request bodies: 1 MiB for audio, 32 MiB for uploads"

REMOTE=(-H 'X-Forwarded-For: 198.51.100.7')
# Metrics and profiling have no location of their own: they are not on
# the API at all (each worker's operator socket), so /api/metrics is an
# ordinary API path that reaches the workers (which answer 404).
for p in metrics start_profile stop_profile get_profile; do
    expect "/api/$p from elsewhere" "502 text/html " "$(get "$S/api/$p" "${REMOTE[@]}")"
done
! grep -qE 'location .*(metrics|profile)' "$TMP/full.conf" || fail "the site still routes metrics or profiling"
note "metrics and profiling: not part of the site"
expect "a room's page" "200 text/html " "$(get "$S/r/k7q2m9x4ad")"
# A spelling of the upload path with a trailing slash gets the general API
# location's 1 MiB limit, not the upload's 32 MiB (and a worker would
# answer 404: it routes on the exact path).
expect "an upload path with a trailing slash, 2 MiB" "413 text/html " \
    "$(get "$S/api/upload/?name=t" --data-binary "@$TMP/2m")"

# Rate limit: 400 requests at once from one address get some 429s; from
# loopback none. (The limit is 120 r/s with a burst of 240.)
burst() {
    local cfg=$TMP/burst.cfg i
    : >"$cfg"
    for ((i = 0; i < 400; i++)); do printf 'url = "%s/api?userid=%s"\noutput = "/dev/null"\n' "$S" "$i" >>"$cfg"; done
    curl -sS -k -m 20 -Z --parallel-max 50 --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" "$@" -w '%{http_code}\n' \
        -K "$cfg" 2>>"$TMP/logs/curl.log" | sort | uniq -c
}
burst -H 'X-Forwarded-For: 198.51.100.8' >"$TMP/burst-remote"
burst >"$TMP/burst-local"
grep -q ' 429$' "$TMP/burst-remote" || fail "400 requests at once from one address were not rate limited: $(cat "$TMP/burst-remote")"
n502=$(awk '$2 == 502 {print $1}' "$TMP/burst-remote")
[ "${n502:-0}" -ge 240 ] || fail "the rate limit let only ${n502:-0} of 400 requests through, want the burst of 240 at least"
if grep -q ' 429$' "$TMP/burst-local"; then fail "loopback was rate limited: $(cat "$TMP/burst-local")"; fi
note "rate limit: ${n502} of 400 requests at once from one address passed, the rest 429; loopback not limited"

# IPv6 clients are counted by their /64: 400 requests at once from two
# addresses of one /64 are limited like one address's, 400 from two /64s
# (200 each, within the burst) are not.
v6burst() {   # v6burst ADDR_A ADDR_B
    local cfg=$TMP/v6.cfg i
    : >"$cfg"
    for ((i = 0; i < 400; i++)); do
        # `next` starts each request's options afresh: each has them all.
        [ "$i" = 0 ] || echo next >>"$cfg"
        printf 'insecure\nmax-time = 20\nresolve = "%s"\nwrite-out = "%%{http_code}\\n"\n' \
            "$DOMAIN:$HTTPS_PORT:127.0.0.1" >>"$cfg"
        printf 'header = "X-Forwarded-For: %s"\nurl = "%s/api?userid=v%s"\noutput = "/dev/null"\n' \
            "$([ $((i % 2)) = 0 ] && echo "$1" || echo "$2")" "$S" "$i" >>"$cfg"
    done
    curl -sS -Z --parallel-max 50 -K "$cfg" 2>>"$TMP/logs/curl.log" | sort | uniq -c
}
v6burst 2001:db8:7:1::a 2001:db8:7:1:ffff:1:2:3 >"$TMP/v6-same"
grep -q ' 429$' "$TMP/v6-same" || fail "two addresses of one /64 were not limited together: $(cat "$TMP/v6-same")"
v6burst 2001:db8:7:2::a 2001:db8:7:3::a >"$TMP/v6-two"
if grep -q ' 429$' "$TMP/v6-two"; then fail "two /64s were limited together: $(cat "$TMP/v6-two")"; fi
note "IPv6: counted by the /64"

# A choir behind one address: 60 requests a second from it for two seconds
# (what 36 singers send) are all passed on.
: >"$TMP/choir.cfg"
for ((i = 0; i < 60; i++)); do printf 'url = "%s/api?userid=%s"\noutput = "/dev/null"\n' "$S" "$i" >>"$TMP/choir.cfg"; done
choir() {
    curl -sS -k -m 20 --http1.1 -Z --parallel-max 60 --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" \
        -H 'X-Forwarded-For: 198.51.100.40' -w '%{http_code}\n' -K "$TMP/choir.cfg" 2>>"$TMP/logs/curl.log"
}
{ choir; sleep 1; choir; } | sort | uniq -c >"$TMP/choir"
if grep -q ' 429$' "$TMP/choir"; then fail "a choir's 60 requests a second from one address were limited: $(cat "$TMP/choir")"; fi
note "a choir behind one address: 120 requests in two seconds, none limited"

# Connections per address: 300 at once from one address, each sending its
# body slowly, in three waves (within the request rate): 256 are served,
# the rest refused at once with 429, by the connection limit.
head -c 6000 /dev/zero >"$TMP/6k"
: >"$TMP/conn.cfg"
for ((i = 0; i < 100; i++)); do printf 'url = "%s/api?userid=c%s"\noutput = "/dev/null"\n' "$S" "$i" >>"$TMP/conn.cfg"; done
wave() {
    curl -sS -k -m 30 --http1.1 -Z --parallel-max 100 --limit-rate 1k --data-binary "@$TMP/6k" \
        --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" -H 'X-Forwarded-For: 198.51.100.41' \
        -w '%{http_code}\n' -K "$TMP/conn.cfg" 2>>"$TMP/logs/curl.log"
}
{ wave & sleep 1; wave & sleep 1; wave; wait; } | sort | uniq -c >"$TMP/conns"
n429=$(awk '$2 == 429 {print $1}' "$TMP/conns")
[ "${n429:-0}" -ge 30 ] || fail "300 connections at once from one address: only ${n429:-0} refused: $(cat "$TMP/conns")"
grep -q 'limiting connections by zone "bb_conn"' "$TMP/var/log/bb/nginx-error.log" \
    || fail "the refusals were not the connection limit's: $(grep -c limiting "$TMP/var/log/bb/nginx-error.log") limiting lines"
note "connections: 300 at once from one address, ${n429} refused by the limit of 256"

# A client that does not finish its request header within 10 s is dropped.
t0=$(date +%s)
exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT"
printf 'GET / HTTP/1.1\r\nHost: %s\r\n' "$DOMAIN" >&3
timeout 30 cat <&3 >/dev/null || true
exec 3<&-
dt=$(( $(date +%s) - t0 ))
[ "$dt" -ge 9 ] && [ "$dt" -le 20 ] || fail "a half-sent request header was held for ${dt} s, want about 10"
note "a half-sent request header: dropped after ${dt} s"

# The access log holds no query string: a failed API request's would carry
# the singer's userid and the room's key.
get "$S/api?userid=81726354&room=r00m1d&key=s3cr3tk3y" >/dev/null
grep -q '"GET /api HTTP/' "$TMP/var/log/access.log" || fail "the failed API request is not in the access log"
if grep -qE '81726354|s3cr3tk3y' "$TMP/var/log/access.log"; then fail "a userid or room key is in the access log"; fi
note "access log: failed API requests logged without their query string"

# The page's headers: HSTS, a Content-Security-Policy that lets it run
# its own code and its WebAssembly codec and nothing looser, no framing.
for p in / /r/k7q2m9x4ad; do
    get "$S$p" -D "$TMP/h" >/dev/null
    csp=$(sed -n 's/^content-security-policy: //Ip' "$TMP/h" | tr -d '\r')
    case $csp in *"frame-ancestors 'none'"*"" ) ;; *) fail "$p: no frame-ancestors in the CSP: '$csp'" ;; esac
    case $csp in *"script-src 'self' 'wasm-unsafe-eval';"*) ;; *) fail "$p: script-src is not 'self' 'wasm-unsafe-eval': '$csp'" ;; esac
    case $csp in *unsafe-inline*|*"'unsafe-eval'"*|*"*"*) fail "$p: the CSP is looser than it must be: '$csp'" ;; esac
    grep -qi '^strict-transport-security: max-age=31536000' "$TMP/h" || fail "$p: no HSTS"
    grep -qi '^x-content-type-options: nosniff' "$TMP/h" || fail "$p: no nosniff"
done
get "$S/api" -D "$TMP/h" >/dev/null
grep -qi '^strict-transport-security: max-age=' "$TMP/h" || fail "an API answer has no HSTS"
note "page: HSTS, nosniff, CSP with 'wasm-unsafe-eval' and frame-ancestors 'none', nothing looser"

# TLS: 1.3, and 1.2 with forward-secret AEAD suites only.
tls() { openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -servername "$DOMAIN" "$@" </dev/null >/dev/null 2>&1; }
tls -tls1_3 || fail "TLS 1.3 was refused"
tls -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 || fail "TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256 was refused"
tls -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305 || fail "TLS 1.2 with ECDHE-RSA-CHACHA20-POLY1305 was refused"
if tls -tls1_2 -cipher 'AES128-GCM-SHA256:AES256-SHA'; then fail "TLS 1.2 without forward secrecy was accepted"; fi
if tls -tls1_2 -cipher 'ECDHE-RSA-AES128-SHA'; then fail "TLS 1.2 with a CBC suite was accepted"; fi
if tls -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'; then fail "TLS 1.1 was accepted"; fi
note "TLS: 1.3; 1.2 with ECDHE and AEAD only; no TLS 1.1, no RSA key exchange, no CBC"

# ------------------------------------------------------------ behind a front

# A host behind a front at 127.0.0.3; 127.0.0.2 stands for anyone else
# (both are loopback addresses, which Linux gives to lo).
FRONT_ADDR=127.0.0.3 OTHER_ADDR=127.0.0.2
HOST_PORT=$(free_port)
HN=$TMP/nginx-host
"$SRC/deploy/render.sh" -o "$CONF" \
    DOMAIN="$DOMAIN" CONF_DIR="$CONF" HTTP_PORT="$HOST_PORT" ERROR_LOG="$TMP/var/log/bb/nginx-host-error.log" \
    FRONT_GEO="    $FRONT_ADDR 1;" FRONT_REAL_IP="    set_real_ip_from $FRONT_ADDR;" \
    "$SRC"/deploy/nginx/bb-host.conf.in
have_ipv6_loopback || sed -i '/listen \[::\]/d' "$CONF/bb-host.conf"
site_nginx "$HN" 1 "$CONF/bb-host.conf"
HNGX=("${SITE_NGX[@]}")
spawn nginx-host "${HNGX[@]}"
wait_until 10 "nginx on port $HOST_PORT" port_busy "$HOST_PORT"
B=http://127.0.0.1:$HOST_PORT
last_addr() { tail -n 1 "$TMP/var/log/access.log" | cut -d' ' -f1; }
expect "the API from elsewhere" "403 text/html " "$(get "$B/api" --interface "$OTHER_ADDR" -H 'X-Forwarded-For: 198.51.100.20')"
expect "who asked from elsewhere, in the log" "$OTHER_ADDR" "$(last_addr)"
expect "the API from the machine itself" "502 text/html " "$(get "$B/api")"
expect "the API from the front" "502 text/html " "$(get "$B/api" --interface "$FRONT_ADDR" -H 'X-Forwarded-For: 198.51.100.21')"
expect "who asked through the front, in the log" "198.51.100.21" "$(last_addr)"
S=$B burst --interface "$FRONT_ADDR" -H 'X-Forwarded-For: 198.51.100.22' >"$TMP/burst-front"
grep -q ' 429$' "$TMP/burst-front" || fail "400 requests at once from one singer through the front were not rate limited: $(cat "$TMP/burst-front")"
note "a host behind a front: 403 from elsewhere; the front's X-Forwarded-For is the client's address (log, rate limit), nobody else's"

note "PASS"
