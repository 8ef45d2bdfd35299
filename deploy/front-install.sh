#!/bin/sh
# front-install.sh: install or change the front nginx of several hosts.
#
#   sudo deploy/front-install.sh --domain choir.example.org \
#        --host 10.0.0.11:80 --host 10.0.0.12:80 [OPTIONS]
#
# Run it on the front machine from a checkout (no build needed there). It
# renders deploy/nginx/front.conf.in with deploy/render.sh into
# /etc/nginx/sites-available/bb-front, enables it once certbot's
# certificate for the domain exists, checks the config with `nginx -t` and
# reloads nginx. Run it again with another list of hosts to add or remove
# one: only the rooms of that host move (README.md, "Several hosts", says
# what to do with them). Each host is installed with
# `install.sh --front ADDR`, which serves the site to the front over plain
# HTTP.
#
# Options:
#   --domain NAME      DNS name of the site (required)
#   --host ADDR:PORT   a host's plain-HTTP site, as the front reaches it;
#                      once per host (at least one). Write each host the same
#                      way every time: its place on the ring is this text
#   --header-max SIZE  the hosts' `bb-worker --header-max` (default: that of
#                      this checkout's build, if there is one)
#   --acme-root DIR    certbot's --webroot directory (default /var/www/html)
#   --no-reload        install, but reload nothing
#
# With DESTDIR=DIR in the environment the site is written under DIR and
# nginx is not touched.
set -eu

BB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BB_BUILD_DIR:-$BB_ROOT/build}
NGINX_SITE=/etc/nginx/sites-available/bb-front

DOMAIN=
HOSTS=
HEADER_MAX=
ACME_ROOT=/var/www/html
RELOAD=1

say() { echo "front-install: $*"; }
die() { echo "front-install: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case $1 in
        --domain) DOMAIN=${2:?}; shift 2 ;;
        --host)
            # It becomes an nginx `server` line: nothing but an address.
            case ${2:?} in
                *[!A-Za-z0-9.:_\[\]-]*|-*) die "--host '$2': want ADDR:PORT (a name, an IPv4 address or [IPv6])" ;;
                *:*) port=${2##*:} ;;
                *) die "--host '$2': give the port too (ADDR:PORT)" ;;
            esac
            case $port in ''|*[!0-9]*) die "--host '$2': give the port too (ADDR:PORT)" ;; esac
            HOSTS="$HOSTS $2"; shift 2 ;;
        --header-max) HEADER_MAX=${2:?}; shift 2 ;;
        --acme-root) ACME_ROOT=${2:?}; shift 2 ;;
        --no-reload) RELOAD=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "front-install: unknown option '$1'" >&2; usage 2 >&2 ;;
    esac
done

[ -n "$DOMAIN" ] || die "--domain is required (the DNS name singers will use)"
[ -n "$HOSTS" ] || die "give at least one --host ADDR:PORT"
if [ -z "$HEADER_MAX" ]; then
    [ -x "$BUILD_DIR/fcgi/bb-worker" ] || die "--header-max is required without a build here: run \`bb-worker --header-max\` on a host"
    HEADER_MAX=$("$BUILD_DIR/fcgi/bb-worker" --header-max)
fi

# The front's header buffer: the workers' largest header and room for what
# the host's nginx adds (Server, Date, X-BB-Host...).
case $HEADER_MAX in
    *[!0-9km]*|[!0-9]*|*[km]?*) die "--header-max '$HEADER_MAX': want bytes, Nk or Nm" ;;
    *k) bytes=$(( ${HEADER_MAX%k} * 1024 )) ;;
    *m) bytes=$(( ${HEADER_MAX%m} * 1048576 )) ;;
    *) bytes=$HEADER_MAX ;;
esac
PROXY_BUFFER=$(( (bytes + 8192 + 1023) / 1024 ))k

servers=
dup=
for h in $HOSTS; do
    case " $dup " in *" $h "*) die "--host $h is given twice" ;; esac
    dup="$dup $h"
    # max_fails=0: a host is never taken out of the ring (its rooms cannot
    # go anywhere else); front.conf says more.
    servers="$servers    server $h max_fails=0;
"
done

D=${DESTDIR:-}
if [ -z "$D" ]; then
    [ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...)"
    [ -x /usr/sbin/nginx ] || die "nginx is not installed (apt-get install nginx)"
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
CERT_DIR=/etc/letsencrypt/live/$DOMAIN
"$BB_ROOT/deploy/render.sh" -o "$STAGE" \
    DOMAIN="$DOMAIN" CERT_DIR="$CERT_DIR" ACME_ROOT="$ACME_ROOT" \
    HTTP_PORT=80 HTTPS_PORT=443 HOST_SERVERS="$servers" PROXY_BUFFER="$PROXY_BUFFER" \
    ACCESS_LOG=/var/log/nginx/bb-front.access.log ERROR_LOG=/var/log/bucket-brigade/nginx-error.log \
    "$BB_ROOT/deploy/nginx/front.conf.in"
install -d -m 0755 "$D$(dirname "$NGINX_SITE")"
install -m 0644 "$STAGE/front.conf" "$D$NGINX_SITE"
# The site's error log holds request lines (query strings: userids, keys):
# root's alone, rotated as on a host.
install -d -m 0700 "$D/var/log/bucket-brigade"
"$BB_ROOT/deploy/render.sh" -o "$STAGE" LOG_DIR=/var/log/bucket-brigade "$BB_ROOT/deploy/logrotate/bucket-brigade.in"
install -d -m 0755 "$D/etc/logrotate.d"
install -m 0644 "$STAGE/bucket-brigade" "$D/etc/logrotate.d/bucket-brigade"
say "installed the front site in $NGINX_SITE for hosts:$HOSTS"

if [ -n "$D" ]; then
    say "staged under DESTDIR=$D; nginx was not touched"
    exit 0
fi

if [ -f "$CERT_DIR/fullchain.pem" ] && [ -f "$CERT_DIR/privkey.pem" ]; then
    ln -sf "$NGINX_SITE" /etc/nginx/sites-enabled/bb-front
else
    rm -f /etc/nginx/sites-enabled/bb-front
    say "no certificate for $DOMAIN yet: the site is installed but not enabled."
    say "get one (Debian's default site answers the challenge from $ACME_ROOT), then run this again:"
    say "  certbot certonly --webroot -w $ACME_ROOT -d $DOMAIN --deploy-hook 'systemctl reload nginx'"
    exit 0
fi
/usr/sbin/nginx -t -q || die "nginx -t fails (see above); nothing reloaded"
[ "$RELOAD" = 1 ] || { say "installed; --no-reload: nginx not reloaded"; exit 0; }
systemctl reload nginx
say "running: https://$DOMAIN/ in front of$HOSTS"
