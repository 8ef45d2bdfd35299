#!/bin/sh
# fetch.sh: copy the client's vendored third-party files out of node_modules.
#
# The web client is served as-is (no build step); the only third-party code
# it loads is libopus compiled to WebAssembly, from the npm package
# @evan/opus, used where the browser has no WebCodecs Opus. This script
# copies that file and its licenses into html/vendor/opus/. It is
# idempotent (a file is copied only when it differs) and succeeds without
# node_modules when the vendored copies are already there, so a checkout
# runs offline. Run `npm install` at the repository root first to update.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
nm="$root/node_modules"
dest="$here/opus"

# copy SRC DST: copy when missing or different.
copy() {
    if [ ! -f "$2" ] || ! cmp -s "$1" "$2"; then
        cp "$1" "$2"
        echo "vendor: $2"
    fi
}

if [ ! -d "$nm/@evan/opus" ]; then
    if [ -f "$dest/opus.wasm" ]; then
        exit 0
    fi
    echo "vendor: node_modules/@evan/opus is missing; run 'npm install' in $root" >&2
    exit 1
fi

mkdir -p "$dest"
copy "$nm/@evan/opus/wasm/opus.wasm" "$dest/opus.wasm"
copy "$nm/@evan/opus/LICENSE" "$dest/LICENSE"
# The wasm is libopus itself, whose BSD license travels with it. Debian's
# libopus package carries the text.
for f in /usr/share/doc/libopus0/copyright /usr/share/doc/libopus-dev/copyright; do
    if [ -f "$f" ]; then
        copy "$f" "$dest/LICENSE.libopus"
        break
    fi
done
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$nm/@evan/opus/package.json" | head -n 1)
printf '@evan/opus %s: wasm/opus.wasm (libopus in WebAssembly), MIT (LICENSE);\nlibopus: BSD-3-Clause (LICENSE.libopus).\n' "$version" > "$dest/VERSION.tmp"
copy "$dest/VERSION.tmp" "$dest/VERSION"
rm -f "$dest/VERSION.tmp"
