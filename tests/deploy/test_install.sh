#!/usr/bin/env bash
# test_install.sh: deploy/install.sh, staged into a directory (DESTDIR).
#
#   test_install.sh SOURCE_DIR BUILD_DIR
#
# Installs into a temporary root as on a server (three shards), then:
#
#   - the programs, client, units and nginx site are where the units and
#     the site say they are;
#   - `systemd-analyze --root verify` is clean on the installed target, the
#     daemon and every worker instance with its socket, so the units point
#     at the installed programs;
#   - the site's upstream has one server per shard on the sockets of the
#     socket units, and the certificate paths are certbot's;
#   - installing again with two shards rewrites the upstream;
#   - the recordings' limits (--keep, --keep-days, --recordings-bytes)
#     reach the daemon's unit, and a value the daemon refuses stops the
#     install before it writes anything;
#   - --host-name names the host in the API answers' X-BB-Host, and
#     --front installs the site of a host behind a front instead: plain
#     HTTP, the client's address taken from that front alone;
#   - nginx's own limits are raised in a Debian nginx.conf (worker_connections,
#     worker_rlimit_nofile), once, with the original kept; the site's error
#     log goes to a directory only root enters, rotated by logrotate;
#   - deploy/front-install.sh writes the front's site: one upstream server
#     per --host, hashed on the room, a header buffer sized from this
#     build's worker, certbot's certificate; run again, the new host list.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2; exit 2; }
SRC=$1 BUILD=$2
need_exe "$BUILD/shm/bb-shmd" "$BUILD/fcgi/bb-worker" "$BUILD/rooms/bb-room"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (apt-get install systemd)"

R=$TMP/root
DOMAIN=choir.test
# Debian's nginx.conf as the nginx package installs it (its limits part).
mkdir -p "$R/etc/nginx"
cat >"$R/etc/nginx/nginx.conf" <<'NGX'
user www-data;
worker_processes auto;
pid /run/nginx.pid;
include /etc/nginx/modules-enabled/*.conf;

events {
	worker_connections 768;
	# multi_accept on;
}

http {
	include /etc/nginx/sites-enabled/*;
}
NGX
install_with() {
    DESTDIR=$R BB_BUILD_DIR=$BUILD "$SRC/deploy/install.sh" --domain "$DOMAIN" "$@" \
        >"$TMP/logs/install.log" 2>&1 || { cat "$TMP/logs/install.log" >&2; fail "install.sh $* failed"; }
}
install_with --shards 3

for f in usr/local/lib/bucket-brigade/bb-shmd usr/local/lib/bucket-brigade/bb-worker \
    usr/local/lib/bucket-brigade/bb-room usr/local/sbin/bucket-brigade-room \
    etc/systemd/system/bucket-brigade-upload.service etc/systemd/system/bucket-brigade-upload.socket \
    usr/local/share/bucket-brigade/html/index.html usr/local/share/doc/bucket-brigade/README.md \
    etc/systemd/system/bucket-brigade.target etc/systemd/system/bucket-brigade-shmd.service \
    etc/systemd/system/bucket-brigade-worker@.service etc/systemd/system/bucket-brigade-worker@.socket \
    etc/nginx/sites-available/bucket-brigade etc/nginx/bucket-brigade/bb-http.conf \
    etc/nginx/bucket-brigade/bb-locations.conf etc/nginx/bucket-brigade/bb-fastcgi.conf; do
    [ -e "$R/$f" ] || fail "install.sh did not install /$f"
done
for d in var/lib/bucket-brigade/audio var/lib/bucket-brigade/recordings var/lib/bucket-brigade/rooms; do
    [ -d "$R/$d" ] || fail "install.sh did not create /$d"
done
note "programs, client, units and nginx site installed"

ngx=$R/etc/nginx/nginx.conf
[ "$(grep -c 'worker_connections 16384;' "$ngx")" = 1 ] || fail "nginx.conf: worker_connections not raised: $(grep worker_ "$ngx")"
[ "$(grep -c '^worker_rlimit_nofile 65536;' "$ngx")" = 1 ] || fail "nginx.conf: no worker_rlimit_nofile"
grep -q 'worker_connections 768;' "$ngx.bucket-brigade-orig" || fail "the original nginx.conf was not kept"
elog=$(sed -n 's/^[[:space:]]*error_log \([^ ]*\) .*/\1/p' "$R/etc/nginx/sites-available/bucket-brigade" | sort -u)
[ "$elog" = /var/log/bucket-brigade/nginx-error.log ] || fail "the site's error log is '$elog'"
[ "$(stat -c %a "$R/var/log/bucket-brigade")" = 700 ] || fail "the error log's directory is not root's alone"
lr=$R/etc/logrotate.d/bucket-brigade
grep -q '^/var/log/bucket-brigade/\*.log {' "$lr" && grep -q 'create 0600 root root' "$lr" \
    || fail "no logrotate for the site's error log"
if command -v logrotate >/dev/null; then
    logrotate -d "$lr" >"$TMP/logs/logrotate.log" 2>&1 || { cat "$TMP/logs/logrotate.log" >&2; fail "logrotate rejects $lr"; }
fi
note "nginx: 16384 connections, 65536 descriptors; error log root's alone, rotated"

# verify resolves everything under the root, the units systemd ships too.
mkdir -p "$R/usr/lib/systemd"
cp -R /usr/lib/systemd/system "$R/usr/lib/systemd/"
units=(bucket-brigade.target bucket-brigade-shmd.service bucket-brigade-upload.service
    bucket-brigade-upload.socket)
for i in 1 2 3; do units+=("bucket-brigade-worker@$i.service" "bucket-brigade-worker@$i.socket"); done
(cd "$TMP" && systemd-analyze --root="$R" verify --man=no "${units[@]}") >"$TMP/logs/verify.log" 2>&1 || true
if [ -s "$TMP/logs/verify.log" ]; then
    cat "$TMP/logs/verify.log" >&2
    fail "systemd-analyze verify has remarks on the installed units"
fi
note "systemd-analyze --root verify: the installed units are clean"

site=$R/etc/nginx/sites-available/bucket-brigade
grep -qF "ssl_certificate     /etc/letsencrypt/live/$DOMAIN/fullchain.pem;" "$site" || fail "the site does not use certbot's fullchain.pem"
grep -qF "ssl_certificate_key /etc/letsencrypt/live/$DOMAIN/privkey.pem;" "$site" || fail "the site does not use certbot's privkey.pem"
grep -qF "server_name $DOMAIN;" "$site" || fail "the site is not for $DOMAIN"
grep -q '^ *ListenStream=/run/bucket-brigade/worker-%i.sock$' "$R/etc/systemd/system/bucket-brigade-worker@.socket" \
    || fail "the socket unit does not listen on /run/bucket-brigade/worker-%i.sock"
servers() { grep -o 'server unix:[^ ;]*worker[^ ;]*' "$R/etc/nginx/bucket-brigade/bb-http.conf" | tr '\n' ' '; }
grep -q 'server unix:/run/bucket-brigade/upload.sock;' "$R/etc/nginx/bucket-brigade/bb-http.conf" \
    || fail "the upload upstream is not the upload worker's socket"
# A server install keeps the original client's default room off unless asked.
grep -q -- '--no-default-room' "$R/etc/systemd/system/bucket-brigade-shmd.service" \
    || fail "the daemon serves the default room although install.sh was not asked to"
grep -q -- "--db /var/lib/bucket-brigade/rooms/rooms.db" "$R/etc/systemd/system/bucket-brigade-shmd.service" \
    || fail "the daemon is not given the rooms database"
grep -q -- 'runuser -u bucket-brigade -- /usr/local/lib/bucket-brigade/bb-room --db /var/lib/bucket-brigade/rooms/rooms.db --base-url https://choir.test' \
    "$R/usr/local/sbin/bucket-brigade-room" || fail "bucket-brigade-room does not run bb-room as the service on its database"
want="server unix:/run/bucket-brigade/worker-1.sock server unix:/run/bucket-brigade/worker-2.sock server unix:/run/bucket-brigade/worker-3.sock "
[ "$(servers)" = "$want" ] || fail "upstream servers: '$(servers)', want '$want'"
note "the upstream has one server per shard, on the socket units' sockets"

install_with --shards 2 --default-room --default-uploads
grep -q -- '--default-uploads' "$R/etc/systemd/system/bucket-brigade-shmd.service" \
    && ! grep -q -- '--no-default-room' "$R/etc/systemd/system/bucket-brigade-shmd.service" \
    || fail "--default-room --default-uploads did not reach the daemon's unit"
want="server unix:/run/bucket-brigade/worker-1.sock server unix:/run/bucket-brigade/worker-2.sock "
[ "$(servers)" = "$want" ] || fail "after --shards 2, upstream servers: '$(servers)', want '$want'"
grep -q -- '--cache-dir %C/bucket-brigade *$' "$R/etc/systemd/system/bucket-brigade-shmd.service" \
    || fail "without retention options the daemon's unit should pass none (its defaults hold)"
[ -f "$R/usr/local/share/bucket-brigade/html/index.html" ] || fail "the client is gone after a second install"
[ "$(grep -c 'worker_connections' "$ngx")" = 1 ] && [ "$(grep -c 'worker_rlimit_nofile' "$ngx")" = 1 ] \
    || fail "a second install changed nginx.conf again: $(grep worker_ "$ngx")"
grep -q 'worker_connections 768;' "$ngx.bucket-brigade-orig" || fail "a second install lost the original nginx.conf"
note "installing again with --shards 2 rewrites the upstream"

# How long and how much of the recordings are kept reaches the daemon;
# options the daemon would refuse stop the install before any unit.
install_with --shards 2 --keep 50 --keep-days 14 --recordings-bytes 20G
grep -q -- '--cache-dir %C/bucket-brigade --keep 50 --keep-days 14 --recordings-bytes 20G$' \
    "$R/etc/systemd/system/bucket-brigade-shmd.service" || fail "the retention options did not reach the daemon's unit"
(cd "$TMP" && systemd-analyze --root="$R" verify --man=no bucket-brigade-shmd.service) >"$TMP/logs/verify.log" 2>&1 || true
[ ! -s "$TMP/logs/verify.log" ] || { cat "$TMP/logs/verify.log" >&2; fail "the daemon's unit with retention options has remarks"; }
for bad in "--recordings-bytes 20Q" "--keep 0" "--keep-days -3"; do
    # shellcheck disable=SC2086  # an option and its value
    if DESTDIR=$TMP/bad BB_BUILD_DIR=$BUILD "$SRC/deploy/install.sh" --domain "$DOMAIN" $bad >"$TMP/logs/bad.log" 2>&1; then
        fail "install.sh accepted $bad"
    fi
    grep -q 'bb-shmd: --' "$TMP/logs/bad.log" || fail "install.sh $bad did not say why: $(cat "$TMP/logs/bad.log")"
    [ ! -e "$TMP/bad/etc/systemd/system/bucket-brigade-shmd.service" ] || fail "install.sh $bad wrote a unit"
done
grep -q -- '--ops unix:/run/bucket-brigade-ops-upload/ops.sock' "$R/etc/systemd/system/bucket-brigade-upload.service" \
    || fail "the upload worker has no operator's socket (its metrics)"
note "--keep, --keep-days and --recordings-bytes reach the daemon; a bad value stops the install"
install_with --shards 2 --host-name h2 --front 10.0.0.5 --front fd00::5
grep -qF 'add_header X-BB-Host "h2" always;' "$R/etc/nginx/bucket-brigade/bb-fastcgi.conf" \
    || fail "--host-name h2 does not name the host in the API answers"
for want in 'listen 80;' 'set_real_ip_from 10.0.0.5;' 'set_real_ip_from fd00::5;' '10.0.0.5 1;' \
    'include /etc/nginx/bucket-brigade/bb-locations.conf;'; do
    grep -qF -- "$want" "$site" || fail "with --front, the site lacks '$want'"
done
! grep -q 'ssl_certificate' "$site" || fail "with --front, the site still wants a certificate"
grep -qF -- '*" --front"*) set -- --host-name "h2" "$@" ;;' "$R/usr/local/sbin/bucket-brigade-room" \
    || fail "bucket-brigade-room create --front does not name the host as install.sh did"
note "--host-name names the host; --front installs the plain-HTTP site for a front, trusting its X-Forwarded-For"

FR=$TMP/front-root
front_with() {
    DESTDIR=$FR BB_BUILD_DIR=$BUILD "$SRC/deploy/front-install.sh" --domain "$DOMAIN" "$@" \
        >"$TMP/logs/front-install.log" 2>&1 || { cat "$TMP/logs/front-install.log" >&2; fail "front-install.sh $* failed"; }
}
front_with --host 10.0.0.11:80 --host 10.0.0.12:80
fsite=$FR/etc/nginx/sites-available/bb-front
[ -f "$fsite" ] || fail "front-install.sh did not install /etc/nginx/sites-available/bb-front"
fservers() { sed -n '/^upstream bb_hosts {/,/^}/s/^ *server \([^ ;]*\).*/\1/p' "$fsite" | tr '\n' ' '; }
[ "$(fservers)" = "10.0.0.11:80 10.0.0.12:80 " ] || fail "the front's upstream: '$(fservers)', want both hosts"
hm=$("$BUILD/fcgi/bb-worker" --header-max)
want_buf=$(( ${hm%k} + 8 ))k
# shellcheck disable=SC2016  # nginx variables, not shell ones
for want in 'hash $bb_room consistent;' "proxy_buffer_size $want_buf;" \
    "ssl_certificate     /etc/letsencrypt/live/$DOMAIN/fullchain.pem;" "server_name $DOMAIN;"; do
    grep -qF -- "$want" "$fsite" || fail "the front's site lacks '$want'"
done
front_with --host 10.0.0.11:80
[ "$(fservers)" = "10.0.0.11:80 " ] || fail "after removing a host, the front's upstream: '$(fservers)'"
if DESTDIR=$FR "$SRC/deploy/front-install.sh" --domain "$DOMAIN" --host '10.0.0.11' >/dev/null 2>&1; then
    fail "front-install.sh took a host without a port"
fi
note "front-install.sh: one upstream server per host, hashed on the room, proxy_buffer_size $want_buf for the workers' $hm; run again, the new list"
note "PASS"
