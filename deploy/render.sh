#!/bin/sh
# render.sh: fill in the @NAME@ placeholders of the deploy templates.
#
#   deploy/render.sh -o OUTDIR [NAME=VALUE ...] TEMPLATE.in ...
#
# Every template named on the command line is written to OUTDIR under its
# own name without the `.in` suffix. Each @NAME@ (upper case letters, digits
# and underscores) is replaced by the VALUE given for NAME, literally: values
# may hold slashes, ampersands, backslashes and newlines. A placeholder with
# no value is an error that names it, and then nothing is written, so a
# half-rendered config never reaches nginx or systemd. Values that no
# template uses are fine: callers pass one set of names for all templates.
# Comments are templates too: name a placeholder there without its @s.
#
# This one script renders both the production install (deploy/install.sh)
# and the local run (deploy/local-run.sh), so both run the same templates.
set -eu

usage() {
    echo "usage: $0 -o OUTDIR [NAME=VALUE ...] TEMPLATE.in ..." >&2
    exit 2
}

outdir=
while [ $# -gt 0 ]; do
    case $1 in
        -o) [ $# -ge 2 ] || usage; outdir=$2; shift 2 ;;
        -h|--help) usage ;;
        *=*)
            name=${1%%=*}
            case $name in
                ''|[!A-Z]*|*[!A-Z0-9_]*)
                    echo "render: bad variable name '$name' (want [A-Z][A-Z0-9_]*)" >&2
                    exit 2 ;;
            esac
            export "BBR_$1"
            shift ;;
        *) break ;;
    esac
done
if [ -z "$outdir" ] || [ $# -eq 0 ]; then usage; fi
mkdir -p "$outdir"

# The substitution itself: awk reads values from the environment, which
# passes them through untouched (awk -v would interpret backslashes).
render_one() {
    awk '
    {
        line = $0; out = ""
        while ((i = index(line, "@")) > 0) {
            rest = substr(line, i + 1)
            j = index(rest, "@")
            if (j == 0) break
            name = substr(rest, 1, j - 1)
            if (name ~ /^[A-Z][A-Z0-9_]*$/) {
                if (("BBR_" name) in ENVIRON) {
                    out = out substr(line, 1, i - 1) ENVIRON["BBR_" name]
                } else {
                    missing[name] = 1; bad = 1
                    out = out substr(line, 1, i + j)
                }
                line = substr(rest, j + 1)
            } else {
                # A lone "@" (for example in "worker@%i.socket"): keep it
                # and look for a placeholder after it.
                out = out substr(line, 1, i)
                line = rest
            }
        }
        print out line
    }
    END {
        if (bad) {
            for (m in missing) printf "render: %s: no value for @%s@\n", FILENAME, m > "/dev/stderr"
            exit 1
        }
    }' "$1"
}

for tpl in "$@"; do
    case $tpl in
        *.in) ;;
        *) echo "render: $tpl: templates end in .in" >&2; exit 2 ;;
    esac
    base=$(basename "$tpl" .in)
    tmp="$outdir/.$base.tmp.$$"
    if ! render_one "$tpl" >"$tmp"; then
        rm -f "$tmp"
        exit 1
    fi
    mv -f "$tmp" "$outdir/$base"
done
