#!/bin/sh
# install.sh: install or upgrade Bucket Brigade on a Debian or Ubuntu server.
#
#   sudo deploy/install.sh --domain choir.example.org [OPTIONS]
#
# Run it from a checkout after `./bb build`. It installs the daemon, the
# workers and the web client, renders the systemd units and the nginx site
# from deploy/ with deploy/render.sh, enables one worker per shard, and
# starts what is not running yet. Run it again to upgrade (then switch the
# running processes over with deploy/rolling-restart.sh) or to change the
# number of shards. README.md walks through the whole setup.
#
# Options:
#   --domain NAME      DNS name of the site (required)
#   --shards N         number of workers (default: one per core)
#   --prefix DIR       programs in DIR/lib/bucket-brigade, client in
#                      DIR/share/bucket-brigade (default /usr/local)
#   --data-dir DIR     backing tracks in DIR/audio, recordings in
#                      DIR/recordings (default /var/lib/bucket-brigade)
#   --user NAME        system user of the daemon and workers
#                      (default bucket-brigade; created if missing)
#   --acme-root DIR    certbot's --webroot directory (default /var/www/html,
#                      which Debian's default nginx site serves)
#   --default-room     serve the default room, where the original client
#                      (which knows no room links) sings (default: off:
#                      only rooms made with bucket-brigade-room)
#   --default-uploads  in the default room, its leader may upload tracks
#   --keep N           songs' recordings kept per room, the newest (default 20)
#   --keep-days D      recordings deleted D days after their song (default 30;
#                      0: no age limit)
#   --recordings-bytes SIZE
#                      all rooms' recordings together take at most SIZE (for
#                      example 50G; default: no cap); the oldest songs go
#                      first, and when only the song being recorded is left
#                      its recording stops while the song goes on
#   --host-name NAME   this host's name in the X-BB-Host header of every API
#                      answer (default: the machine's hostname); with several
#                      hosts behind a front, `bb-room create --front` needs it
#   --front ADDR       this host is one of several behind a front nginx
#                      (deploy/front-install.sh) at address ADDR (repeat for
#                      each address the front connects from): the site is
#                      served over plain HTTP on port 80 to the front only,
#                      which terminates TLS, and takes the client's address
#                      from the front's X-Forwarded-For. No certificate here.
#   --no-start         install and enable, but start and reload nothing
#
# With DESTDIR=DIR in the environment every file is written under DIR
# instead (paths inside the files stay the final ones), and no user,
# service or nginx is touched: for packaging, and for the tests.
set -eu

BB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BB_BUILD_DIR:-$BB_ROOT/build}

DOMAIN=
SHARDS=$(nproc 2>/dev/null || echo 2)
PREFIX=/usr/local
DATA_DIR=/var/lib/bucket-brigade
BB_USER=bucket-brigade
ACME_ROOT=/var/www/html
HOST_NAME=$(hostname 2>/dev/null || uname -n)
FRONTS=
START=1
DEFAULT_ROOM=0
DEFAULT_UPLOADS=0
KEEP=
KEEP_DAYS=
RECORDINGS_BYTES=

SEGMENT=/bucket-brigade
SOCKET_DIR=/run/bucket-brigade
NGINX_GROUP=www-data
SYSTEMD_DIR=/etc/systemd/system
NGINX_CONF_DIR=/etc/nginx/bucket-brigade
NGINX_SITE=/etc/nginx/sites-available/bucket-brigade
NGINX_MAIN=/etc/nginx/nginx.conf
LOG_DIR=/var/log/bucket-brigade
LOGROTATE=/etc/logrotate.d/bucket-brigade
# nginx: each singer keeps a connection open and each request in flight
# holds a second one to a worker; descriptors to match.
NGINX_CONNECTIONS=16384
NGINX_NOFILE=65536

say() { echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case $1 in
        --domain) DOMAIN=${2:?}; shift 2 ;;
        --shards) SHARDS=${2:?}; shift 2 ;;
        --prefix) PREFIX=${2:?}; shift 2 ;;
        --data-dir) DATA_DIR=${2:?}; shift 2 ;;
        --user) BB_USER=${2:?}; shift 2 ;;
        --acme-root) ACME_ROOT=${2:?}; shift 2 ;;
        --host-name) HOST_NAME=${2:?}; shift 2 ;;
        --front)
            # An address or a network, as nginx's geo and set_real_ip_from read it.
            case ${2:?} in
                *[!0-9A-Fa-f.:/]*) die "--front '$2': want an IP address or network (10.0.0.5, fd00::5, 10.0.0.0/24)" ;;
            esac
            FRONTS="$FRONTS $2"; shift 2 ;;
        --no-start) START=0; shift ;;
        --default-room) DEFAULT_ROOM=1; shift ;;
        --default-uploads) DEFAULT_UPLOADS=1; shift ;;
        --keep) KEEP=${2:?}; shift 2 ;;
        --keep-days) KEEP_DAYS=${2:?}; shift 2 ;;
        --recordings-bytes) RECORDINGS_BYTES=${2:?}; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "install: unknown option '$1'" >&2; usage 2 >&2 ;;
    esac
done

[ -n "$DOMAIN" ] || die "--domain is required (the DNS name singers will use)"
case $SHARDS in ''|*[!0-9]*|0) die "--shards wants a positive number" ;; esac
[ "$SHARDS" -le 63 ] || die "--shards: at most 63 (worker ids are 1..63)"
# It goes into a quoted nginx string and an HTTP header: keep it plain.
case $HOST_NAME in
    ''|*[!A-Za-z0-9._-]*) die "--host-name '$HOST_NAME': use letters, digits, '.', '-' and '_'" ;;
esac
[ "${#HOST_NAME}" -le 64 ] || die "--host-name: at most 64 characters"
D=${DESTDIR:-}
if [ -z "$D" ]; then
    [ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...)"
    command -v systemctl >/dev/null || die "systemctl not found: this needs a systemd host"
    [ -x /usr/sbin/nginx ] || die "nginx is not installed (apt-get install nginx)"
fi
SHMD_SRC=$BUILD_DIR/shm/bb-shmd
WORKER_SRC=$BUILD_DIR/fcgi/bb-worker
ROOM_SRC=$BUILD_DIR/rooms/bb-room
if [ ! -x "$SHMD_SRC" ] || [ ! -x "$WORKER_SRC" ] || [ ! -x "$ROOM_SRC" ]; then
    die "build first: ./bb build ($SHMD_SRC, $WORKER_SRC, $ROOM_SRC)"
fi
[ -f "$BB_ROOT/html/index.html" ] || die "$BB_ROOT/html/index.html is missing"

# The daemon itself judges its options (it stops at --help once they
# parsed), so a unit is never written with options it would refuse.
for opt in "--keep $KEEP" "--keep-days $KEEP_DAYS" "--recordings-bytes $RECORDINGS_BYTES"; do
    case $opt in *" ") continue ;; esac
    # shellcheck disable=SC2086  # an option and its value
    err=$("$SHMD_SRC" $opt --help 2>&1 >/dev/null) || die "$err"
done

LIB_DIR=$PREFIX/lib/bucket-brigade
SHARE_DIR=$PREFIX/share/bucket-brigade
DOC_DIR=$PREFIX/share/doc/bucket-brigade
AUDIO_DIR=$DATA_DIR/audio
RECORDINGS_DIR=$DATA_DIR/recordings
ROOMS_DIR=$DATA_DIR/rooms
SBIN_DIR=$PREFIX/sbin
# What the daemon is told about the default room.
SHMD_ROOM_ARGS="--no-default-room"
[ "$DEFAULT_ROOM" = 1 ] && SHMD_ROOM_ARGS=
[ "$DEFAULT_ROOM" = 1 ] && [ "$DEFAULT_UPLOADS" = 1 ] && SHMD_ROOM_ARGS="--default-uploads"
# How long and how much of the recordings the daemon keeps (its defaults
# unless asked).
SHMD_REC_ARGS=
[ -n "$KEEP" ] && SHMD_REC_ARGS="$SHMD_REC_ARGS --keep $KEEP"
[ -n "$KEEP_DAYS" ] && SHMD_REC_ARGS="$SHMD_REC_ARGS --keep-days $KEEP_DAYS"
[ -n "$RECORDINGS_BYTES" ] && SHMD_REC_ARGS="$SHMD_REC_ARGS --recordings-bytes $RECORDINGS_BYTES"
SHMD_REC_ARGS=${SHMD_REC_ARGS# }
CERT_DIR=/etc/letsencrypt/live/$DOMAIN

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# ------------------------------------------------------------ user, data

OWN="-o $BB_USER -g $BB_USER"
if [ -n "$D" ]; then
    OWN=
elif ! id -u "$BB_USER" >/dev/null 2>&1; then
    say "creating system user $BB_USER"
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin "$BB_USER"
fi
# Readable by nginx (www-data), which sends a recording when a worker says
# so (X-Accel-Redirect), writable by the services.
# shellcheck disable=SC2086  # OWN is two options or none
install -d -m 0755 $OWN "$D$DATA_DIR" "$D$AUDIO_DIR" "$D$RECORDINGS_DIR"
# The rooms database: its keys are hashed, but it is the service's alone.
# shellcheck disable=SC2086
install -d -m 0700 $OWN "$D$ROOMS_DIR"
# The site's nginx error log (request lines, secrets in them): root's alone.
install -d -m 0700 "$D$LOG_DIR"
for f in "$BB_ROOT"/audio/*; do
    [ -f "$f" ] || continue
    case $f in *.md) continue ;; esac
    if [ ! -e "$D$AUDIO_DIR/$(basename "$f")" ]; then
        # shellcheck disable=SC2086
        install -m 0644 $OWN "$f" "$D$AUDIO_DIR/"
        say "added backing track $(basename "$f")"
    fi
done

# ------------------------------------------------------------ programs

# install(1) replaces a file by unlinking it first, so running processes
# keep the old program until they are restarted.
install -d -m 0755 "$D$LIB_DIR" "$D$SHARE_DIR" "$D$DOC_DIR"
install -m 0755 "$SHMD_SRC" "$D$LIB_DIR/bb-shmd"
install -m 0755 "$WORKER_SRC" "$D$LIB_DIR/bb-worker"
install -m 0755 "$ROOM_SRC" "$D$LIB_DIR/bb-room"
install -m 0644 "$BB_ROOT/README.md" "$D$DOC_DIR/README.md"

# The client is swapped in whole, so no singer loads half an old client.
H=$D$SHARE_DIR/html
rm -rf "$H.new" "$H.old"
cp -R "$BB_ROOT/html" "$H.new"
# What is there for developers (notes, fetch scripts) is not for the web.
find "$H.new" \( -name '*.sh' -o -name 'README*' \) -type f -exec rm -f {} +
chmod -R u=rwX,go=rX "$H.new"
if [ -d "$H" ]; then mv "$H" "$H.old"; fi
mv "$H.new" "$H"
rm -rf "$H.old"
say "installed programs in $LIB_DIR, the client in $SHARE_DIR/html"

# ------------------------------------------------------------ render

front_geo='' front_real_ip=''
for f in $FRONTS; do
    front_geo="$front_geo    $f 1;
"
    front_real_ip="$front_real_ip    set_real_ip_from $f;
"
done
# The site: HTTPS for the singers, or plain HTTP for a front.
SITE_TEMPLATE=bucket-brigade.conf.in
[ -z "$FRONTS" ] || SITE_TEMPLATE=bb-host.conf.in

i=1
servers=
while [ "$i" -le "$SHARDS" ]; do
    # max_fails=0: a worker is never taken out of the ring for a failure;
    # its socket (held by systemd) accepts even while the worker restarts.
    servers="$servers    server unix:$SOCKET_DIR/worker-$i.sock max_fails=0;
"
    i=$((i + 1))
done

"$BB_ROOT/deploy/render.sh" -o "$STAGE" \
    DOMAIN="$DOMAIN" CONF_DIR="$NGINX_CONF_DIR" CERT_DIR="$CERT_DIR" ACME_ROOT="$ACME_ROOT" \
    HTTP_PORT=80 HTTPS_PORT=443 UPSTREAM_SERVERS="$servers" \
    HTML_DIR="$SHARE_DIR/html" RECORDINGS_DIR="$RECORDINGS_DIR" \
    ACCESS_LOG=/var/log/nginx/bucket-brigade.access.log ERROR_LOG="$LOG_DIR/nginx-error.log" LOG_DIR="$LOG_DIR" \
    DOC_DIR="$DOC_DIR" USER="$BB_USER" NGINX_GROUP="$NGINX_GROUP" \
    SHMD="$LIB_DIR/bb-shmd" WORKER="$LIB_DIR/bb-worker" SEGMENT="$SEGMENT" \
    AUDIO_DIR="$AUDIO_DIR" SOCKET_DIR="$SOCKET_DIR" ROOMS_DIR="$ROOMS_DIR" \
    SHMD_ROOM_ARGS="$SHMD_ROOM_ARGS" SHMD_REC_ARGS="$SHMD_REC_ARGS" BB_ROOM="$LIB_DIR/bb-room" \
    UPLOAD_SERVER="    server unix:$SOCKET_DIR/upload.sock;" \
    FASTCGI_BUFFER="$("$WORKER_SRC" --header-max)" HOST_NAME="$HOST_NAME" \
    FRONT_GEO="$front_geo" FRONT_REAL_IP="$front_real_ip" \
    "$BB_ROOT"/deploy/nginx/bb-http.conf.in "$BB_ROOT"/deploy/nginx/bb-locations.conf.in \
    "$BB_ROOT"/deploy/nginx/bb-fastcgi.conf.in "$BB_ROOT/deploy/nginx/$SITE_TEMPLATE" \
    "$BB_ROOT"/deploy/systemd/*.in "$BB_ROOT"/deploy/bucket-brigade-room.in \
    "$BB_ROOT"/deploy/logrotate/bucket-brigade.in

install -d -m 0755 "$D$SYSTEMD_DIR" "$D$NGINX_CONF_DIR" "$D$(dirname "$NGINX_SITE")"
for u in bucket-brigade.target bucket-brigade-shmd.service \
    bucket-brigade-worker@.service bucket-brigade-worker@.socket \
    bucket-brigade-upload.service bucket-brigade-upload.socket; do
    install -m 0644 "$STAGE/$u" "$D$SYSTEMD_DIR/$u"
done
# The operator's command for the rooms: bb-room as the service user, on
# the service's database.
install -d -m 0755 "$D$SBIN_DIR"
install -m 0755 "$STAGE/bucket-brigade-room" "$D$SBIN_DIR/bucket-brigade-room"
for f in bb-http.conf bb-locations.conf bb-fastcgi.conf; do
    install -m 0644 "$STAGE/$f" "$D$NGINX_CONF_DIR/$f"
done
install -m 0644 "$STAGE/$(basename "$SITE_TEMPLATE" .in)" "$D$NGINX_SITE"
install -d -m 0755 "$D$(dirname "$LOGROTATE")"
install -m 0644 "$STAGE/bucket-brigade" "$D$LOGROTATE"

# nginx's own limits, in Debian's nginx.conf (the events block and the
# main context are not the site's to set): at least NGINX_CONNECTIONS
# connections per nginx process and NGINX_NOFILE descriptors.  Changed in
# place, once; the original is kept beside it.
tune_nginx() {
    local conf=$1 cur changed=0
    [ -f "$conf" ] || return 0
    [ -f "$conf.bucket-brigade-orig" ] || cp -p "$conf" "$conf.bucket-brigade-orig"
    cur=$(sed -n 's/^[[:space:]]*worker_connections[[:space:]]\{1,\}\([0-9]\{1,\}\);.*/\1/p' "$conf" | head -1)
    if [ -z "$cur" ]; then
        grep -q '^[[:space:]]*events[[:space:]]*{' "$conf" || die "$conf has no events block: set worker_connections $NGINX_CONNECTIONS; by hand"
        sed -i "s/^\([[:space:]]*events[[:space:]]*{\)/\1\n\tworker_connections $NGINX_CONNECTIONS;/" "$conf"
        changed=1
    elif [ "$cur" -lt "$NGINX_CONNECTIONS" ]; then
        sed -i "s/^\([[:space:]]*worker_connections[[:space:]]\{1,\}\)[0-9]\{1,\};/\1$NGINX_CONNECTIONS;/" "$conf"
        changed=1
    fi
    if ! grep -q '^[[:space:]]*worker_rlimit_nofile' "$conf"; then
        if grep -q '^[[:space:]]*worker_processes' "$conf"; then
            sed -i "0,/^[[:space:]]*worker_processes.*;/s//&\nworker_rlimit_nofile $NGINX_NOFILE;/" "$conf"
        else
            sed -i "1i worker_rlimit_nofile $NGINX_NOFILE;" "$conf"
        fi
        changed=1
    fi
    [ "$changed" = 0 ] || say "nginx: worker_connections $NGINX_CONNECTIONS and worker_rlimit_nofile $NGINX_NOFILE in $conf (the original: $conf.bucket-brigade-orig)"
}
tune_nginx "$D$NGINX_MAIN"
say "installed the systemd units in $SYSTEMD_DIR, the nginx site in $NGINX_SITE"

if [ -n "$D" ]; then
    say "staged under DESTDIR=$D; no user, service or nginx was touched"
    exit 0
fi

# ------------------------------------------------------------ enable

systemctl daemon-reload
systemctl enable --quiet bucket-brigade.target bucket-brigade-shmd.service \
    bucket-brigade-upload.socket bucket-brigade-upload.service
i=1
while [ "$i" -le "$SHARDS" ]; do
    systemctl enable --quiet "bucket-brigade-worker@$i.socket" "bucket-brigade-worker@$i.service"
    i=$((i + 1))
done
# Fewer shards than before: retire the extra workers and their sockets.
for unit in $(systemctl list-unit-files --no-legend 'bucket-brigade-worker@*.service' | awk '{print $1}') \
    $(systemctl list-units --all --no-legend --plain 'bucket-brigade-worker@*.service' | awk '{print $1}'); do
    n=${unit#bucket-brigade-worker@}; n=${n%.service}
    case $n in ''|*[!0-9]*) continue ;; esac
    if [ "$n" -gt "$SHARDS" ]; then
        say "retiring worker $n"
        systemctl disable --now --quiet "bucket-brigade-worker@$n.service" "bucket-brigade-worker@$n.socket" || true
    fi
done

site_ok=0
if [ -n "$FRONTS" ] || { [ -f "$CERT_DIR/fullchain.pem" ] && [ -f "$CERT_DIR/privkey.pem" ]; }; then
    ln -sf "$NGINX_SITE" /etc/nginx/sites-enabled/bucket-brigade
    site_ok=1
else
    rm -f /etc/nginx/sites-enabled/bucket-brigade
    say "no certificate for $DOMAIN yet: the site is installed but not enabled."
    say "get one (Debian's default site answers the challenge from $ACME_ROOT), then run this again:"
    say "  certbot certonly --webroot -w $ACME_ROOT -d $DOMAIN --deploy-hook 'systemctl reload nginx'"
fi
/usr/sbin/nginx -t -q || die "nginx -t fails (see above); nothing reloaded"

[ "$START" = 1 ] || { say "installed; --no-start: nothing started or reloaded"; exit 0; }

systemctl start bucket-brigade.target
[ "$site_ok" = 1 ] && systemctl reload nginx
if [ -n "$FRONTS" ]; then
    say "running: $SHARDS workers as host $HOST_NAME, behind the front at$FRONTS (port 80)"
else
    say "running: $SHARDS workers as host $HOST_NAME; https://$DOMAIN/"
fi
say "if this was an upgrade, switch the running processes to it: deploy/rolling-restart.sh"
