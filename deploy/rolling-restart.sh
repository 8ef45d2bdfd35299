#!/bin/sh
# rolling-restart.sh: switch a running server to newly installed programs
# without ending the session.
#
#   sudo deploy/rolling-restart.sh [--pause SECONDS] [--workers-only]
#
# First the daemon: it re-attaches to the live segment and the song goes
# on. Then the workers, one at a time, PAUSE seconds apart (default 5).
# While a worker restarts, its socket (held by systemd) keeps nginx's
# requests waiting for a moment; its singers' clients then start a fresh
# codec stream, which they do by themselves. Only one shard is affected at
# any time. If a restarted unit does not stay up, the roll stops there, so
# a broken build takes down one shard, not all of them.
#
# Not for releases that change the segment layout: the new daemon refuses
# the old segment. Those need a full restart (see README.md, Upgrading).
set -eu

PAUSE=5
DAEMON=1
while [ $# -gt 0 ]; do
    case $1 in
        --pause) PAUSE=${2:?}; shift 2 ;;
        --workers-only) DAEMON=0; shift ;;
        -h|--help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "rolling-restart: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "rolling-restart: run as root" >&2; exit 1; }

# restart UNIT: restart it and make sure it is still running PAUSE seconds
# later (a process that dies at start is restarted by systemd meanwhile,
# so also look at how often systemd had to do that).
restart() {
    echo "rolling-restart: restarting $1"
    before=$(systemctl show -P NRestarts "$1")
    systemctl restart "$1"
    sleep "$PAUSE"
    if ! systemctl is-active --quiet "$1" || [ "$(systemctl show -P NRestarts "$1")" -gt "$before" ]; then
        echo "rolling-restart: $1 did not stay up; stopping here. See: journalctl -u $1" >&2
        exit 1
    fi
}

[ "$DAEMON" = 1 ] && restart bucket-brigade-shmd.service
workers=$(systemctl list-units --no-legend --plain --state=active 'bucket-brigade-worker@*.service' \
    | awk '{print $1}' | sort -t@ -k2 -n)
[ -n "$workers" ] || { echo "rolling-restart: no worker is running" >&2; exit 1; }
for w in $workers; do restart "$w"; done
echo "rolling-restart: done"
