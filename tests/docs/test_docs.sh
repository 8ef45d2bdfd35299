#!/usr/bin/env bash
# test_docs.sh: the documentation in the repository stays true to its tree.
#
#   test_docs.sh SOURCE_DIR
#
#   - docs/ARCHITECTURE.md's module map (its section "Module map") has one
#     row per module, and names no module that is gone.  A module is a
#     .c/.h pair (or a lone .c or .h), a script or a template outside
#     tests/: every tracked *.c, *.h, *.js, *.sh and *.in file, `bb` and
#     `.ci/run`, with .c and .h of one name counted once;
#   - every relative link of the Markdown files outside tests/ and
#     node_modules/ points at a file or directory of the tree;
#   - nothing outside tests/ points at ../shared/, which a clone does not
#     have (tests may read the original client's seed from there).
set -euo pipefail

[ $# = 1 ] || { echo "usage: $0 SOURCE_DIR" >&2; exit 2; }
SRC=$(cd "$1" && pwd)
T_NAME=test_docs
fail() { printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2; FAILED=1; }
FAILED=0
cd "$SRC"

# The tree's files: git's list in a checkout, else what is on disk.
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files() { git -C "$SRC" ls-files; }
else
    files() { find . -path ./node_modules -prune -o -path './build*' -prune -o -type f -print | sed 's|^\./||'; }
fi

MAP=docs/ARCHITECTURE.md
[ -f "$MAP" ] || { fail "$MAP is missing"; exit 1; }

modules=$(files | grep -v '^tests/' | grep -v '^html/vendor/opus/' |
          grep -E '\.(c|h|js|sh|in)$|^bb$|^\.ci/run$' | sed -E 's/\.(c|h)$//' | sort -u)
# The map's rows: the first backquoted cell of each table row after the
# "Module map" heading; a lone .c or .h may be written with its suffix.
listed=$(awk '/^## [0-9]+\. Module map/ {on = 1; next} on && /^## / {on = 0}
              on && /^\| `/ {split($0, c, "`"); print c[2]}' "$MAP" |
         sed -E 's/\.(c|h)$//' | sort -u)
n_mod=$(printf '%s\n' "$modules" | wc -l)
n_map=$(printf '%s\n' "$listed" | wc -l)
missing=$(comm -23 <(printf '%s\n' "$modules") <(printf '%s\n' "$listed"))
stale=$(comm -13 <(printf '%s\n' "$modules") <(printf '%s\n' "$listed"))
[ -z "$missing" ] || fail "modules without a line in $MAP's module map: $(echo $missing)"
[ -z "$stale" ] || fail "$MAP's module map names what is not in the tree: $(echo $stale)"
echo "$T_NAME: $n_mod modules in the tree, $n_map in the module map"

# Relative links of the Markdown files.
n_links=0
while IFS= read -r md; do
    dir=$(dirname "$md")
    while IFS= read -r target; do
        target=${target%%#*}
        [ -n "$target" ] || continue
        n_links=$((n_links + 1))
        [ -e "$dir/$target" ] || fail "$md links to $target, which does not exist"
    done < <(grep -oE '\]\([^)]+\)' "$md" | sed -E 's/^\]\((.*)\)$/\1/' |
             grep -vE '^(https?:|mailto:|#)' || true)
done < <(files | grep -E '\.md$' | grep -v '^tests/' | grep -v '^node_modules/')
echo "$T_NAME: $n_links relative links checked"

# Nothing outside tests/ refers to ../shared/ or the old extensions file.
refs=$(files | grep -v '^tests/' | grep -v '^html/vendor/' |
       xargs grep -lE '\.\./shared/|PROTOCOL-EXTENSIONS' 2>/dev/null || true)
[ -z "$refs" ] || fail "files that point outside the repository or at PROTOCOL-EXTENSIONS.md: $(echo $refs)"

if [ "$FAILED" = 0 ]; then
    echo "$T_NAME: 3 passed, 0 failed"
else
    echo "$T_NAME: failed" >&2
    exit 1
fi
