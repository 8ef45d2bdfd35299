#!/bin/sh
# test_bbroom.sh BB_ROOM - the operator's command end to end on real
# database files in a temporary directory: create prints exactly the two
# documented links, list shows the room, close by name (an ambiguous name
# is refused with the matching ids), rekey changes the key, set-max,
# export | import into another database, usage errors exit 2, refusals
# exit 1, create --front refused when the front cannot be asked, four
# processes racing to create rooms past the limit (exactly
# 256 succeed), and no key ever appears on stderr.
set -u
BBROOM=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bbroom-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
DB=$TMP/rooms.db
DB2=$TMP/other.db
ERRS=$TMP/all-stderr
: >"$ERRS"
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # DESCRIPTION COMMAND...: passes when the command succeeds
    d=$1; shift
    if "$@"; then ok; else bad "$d"; fi
}
line() { sed -n "${1}p" "$2"; } # line N FILE
matches() { printf '%s\n' "$2" | grep -qx -- "$1"; } # matches REGEX TEXT
differ() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; } # both set, not equal

# run EXPECTED_STATUS ARGS...: runs bb-room, output in $TMP/out and
# $TMP/err (also appended to $ERRS), and checks the exit status.
run() {
    want=$1; shift
    "$BBROOM" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    st=$?
    cat "$TMP/err" >>"$ERRS"
    if [ "$st" -eq "$want" ]; then ok; else
        bad "bb-room $* exited $st, not $want"; sed 's/^/    /' "$TMP/out" "$TMP/err"
    fi
}

ID_RE='[0-9abcdefghjkmnpqrstvwxyz]\{10\}'
KEY_RE='[A-Za-z0-9_-]\{21\}[AQgw]'

# The links of create, and what they carry.
run 0 --db "$DB" create "Tuesday Choir"
check "create prints two lines" [ "$(wc -l <"$TMP/out")" -eq 2 ]
check "create prints nothing on stderr" [ ! -s "$TMP/err" ]
check "first line: singers link" \
    matches "singers: http://localhost:8080/r/$ID_RE#$KEY_RE" "$(line 1 "$TMP/out")"
check "second line: organiser link" \
    matches "organiser: http://localhost:8080/r/$ID_RE#$KEY_RE" "$(line 2 "$TMP/out")"
ID=$(sed -n '1s|.*/r/\([^#]*\)#.*|\1|p' "$TMP/out")
ID_O=$(sed -n '2s|.*/r/\([^#]*\)#.*|\1|p' "$TMP/out")
SKEY=$(sed -n '1s|.*#||p' "$TMP/out")
OKEY=$(sed -n '2s|.*#||p' "$TMP/out")
KEYS="$SKEY $OKEY"
check "both links name the same room" [ "$ID" = "$ID_O" ]
check "the two keys differ" differ "$SKEY" "$OKEY"

# list shows it: id, name, state, max singers, created (UTC), by tabs.
run 0 --db "$DB" list
TAB=$(printf '\t')
check "list shows the room" \
    grep -q "^$ID${TAB}Tuesday Choir${TAB}open${TAB}default${TAB}[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] UTC\$" "$TMP/out"
check "list: one line" [ "$(wc -l <"$TMP/out")" -eq 1 ]

# A base URL (its trailing slash dropped) and a limit.
run 0 --db "$DB" --base-url https://choir.example.org/ create Altos --max-singers 40
check "base URL without a doubled slash" \
    grep -qx "singers: https://choir.example.org/r/$ID_RE#$KEY_RE" "$TMP/out"
ALTOS=$(sed -n '1s|.*/r/\([^#]*\)#.*|\1|p' "$TMP/out")
ALTOS_OKEY=$(sed -n '2s|.*#||p' "$TMP/out")
KEYS="$KEYS $(sed -n 's|.*#||p' "$TMP/out" | tr '\n' ' ')"
run 0 --db "$DB" list
check "list shows max singers" grep -q "^$ALTOS${TAB}Altos${TAB}open${TAB}40${TAB}" "$TMP/out"
run 0 --db "$DB" list
check "list: two lines" [ "$(wc -l <"$TMP/out")" -eq 2 ]

# A second room of the same name: closing by that name is refused and
# names both ids; nothing is closed.
run 0 --db "$DB" create "Tuesday Choir"
SECOND=$(sed -n '1s|.*/r/\([^#]*\)#.*|\1|p' "$TMP/out")
KEYS="$KEYS $(sed -n 's|.*#||p' "$TMP/out" | tr '\n' ' ')"
run 1 --db "$DB" close "Tuesday Choir"
check "ambiguous name: says so" grep -q '2 open rooms are named "Tuesday Choir"' "$TMP/err"
check "ambiguous name: lists the first id" grep -q "$ID" "$TMP/err"
check "ambiguous name: lists the second id" grep -q "$SECOND" "$TMP/err"
run 0 --db "$DB" list
check "ambiguous name: nothing closed" [ "$(grep -c "${TAB}open${TAB}" "$TMP/out")" -eq 3 ]

# Close by id, then the name is unique and closes by name.
run 0 --db "$DB" close "$SECOND"
run 0 --db "$DB" close "Tuesday Choir"
check "close by name closes the one left" grep -qx "closed $ID" "$TMP/out"
run 0 --db "$DB" list
check "closed rooms leave the list" [ "$(wc -l <"$TMP/out")" -eq 1 ]
run 0 --db "$DB" list --all
check "list --all shows closed rooms" [ "$(grep -c "${TAB}closed${TAB}" "$TMP/out")" -eq 2 ]
run 1 --db "$DB" close "$ID"
check "closing twice: says closed" grep -q "closed" "$TMP/err"
run 1 --db "$DB" close "Sopranos"
check "unknown name: says so" grep -q 'no open room is named "Sopranos"' "$TMP/err"
run 1 --db "$DB" rekey "$ID" singers
check "a closed room is not rekeyed" [ ! -s "$TMP/out" ]

# rekey: one new link, another key (and hash).
run 0 --db "$DB" export Altos
OLD_HASH=$(sed 's/.*"organiser_hash":"\([0-9a-f]*\)".*/\1/' "$TMP/out")
run 0 --db "$DB" rekey Altos organiser
check "rekey prints one line" [ "$(wc -l <"$TMP/out")" -eq 1 ]
check "rekey prints the organiser link" \
    grep -qx "organiser: http://localhost:8080/r/$ALTOS#$KEY_RE" "$TMP/out"
NEWKEY=$(sed -n 's|.*#||p' "$TMP/out")
KEYS="$KEYS $NEWKEY"
check "rekey changes the key" differ "$NEWKEY" "$ALTOS_OKEY"
run 0 --db "$DB" export Altos
NEW_HASH=$(sed 's/.*"organiser_hash":"\([0-9a-f]*\)".*/\1/' "$TMP/out")
check "export holds a hash" matches '[0-9a-f]\{64\}' "$NEW_HASH"
check "rekey changes the stored hash" differ "$OLD_HASH" "$NEW_HASH"
check "export holds key_gen 1" grep -q '"key_gen":1' "$TMP/out"
run 0 --db "$DB" rekey "$ALTOS" singers
check "rekey singers by id" grep -qx "singers: http://localhost:8080/r/$ALTOS#$KEY_RE" "$TMP/out"
KEYS="$KEYS $(sed -n 's|.*#||p' "$TMP/out")"

# set-max
run 0 --db "$DB" set-max Altos 12
run 0 --db "$DB" list
check "set-max shows in list" grep -q "^$ALTOS${TAB}Altos${TAB}open${TAB}12${TAB}" "$TMP/out"
run 1 --db "$DB" set-max Altos 10001
run 2 --db "$DB" set-max Altos many
run 0 --db "$DB" list
check "refused set-max changes nothing" grep -q "^$ALTOS${TAB}Altos${TAB}open${TAB}12${TAB}" "$TMP/out"

# export | import into another database: the same room there.
run 0 --db "$DB" export Altos
cp "$TMP/out" "$TMP/altos.json"
check "export is one line" [ "$(wc -l <"$TMP/altos.json")" -eq 1 ]
check "export holds the id" grep -q "\"id\":\"$ALTOS\"" "$TMP/altos.json"
"$BBROOM" --db "$DB" export Altos | "$BBROOM" --db "$DB2" import >"$TMP/out" 2>>"$ERRS"
check "export | import succeeds" [ $? -eq 0 ]
check "import names the room" grep -qx "imported $ALTOS" "$TMP/out"
run 0 --db "$DB" list
grep "^$ALTOS" "$TMP/out" >"$TMP/line1"
run 0 --db "$DB2" list
check "the imported room lists the same" cmp -s "$TMP/line1" "$TMP/out"
run 0 --db "$DB2" export "$ALTOS"
check "it exports the same" cmp -s "$TMP/altos.json" "$TMP/out"
"$BBROOM" --db "$DB2" import <"$TMP/altos.json" >"$TMP/out" 2>"$TMP/err"
check "a duplicate import exits 1" [ $? -eq 1 ]
check "a duplicate import says why" grep -q "exists" "$TMP/err"
cat "$TMP/err" >>"$ERRS"
sed 's/"id":"[^"]*"/"id":"abc"/' "$TMP/altos.json" | "$BBROOM" --db "$DB2" import >"$TMP/out" 2>"$TMP/err"
check "a bad record exits 1" [ $? -eq 1 ]
check "a bad record names the field" grep -q '"id"' "$TMP/err"
cat "$TMP/err" >>"$ERRS"
run 0 --db "$DB2" list
check "refused imports change nothing" [ "$(wc -l <"$TMP/out")" -eq 1 ]

# Names: one starting with '-' after --, and a control character refused.
run 0 --db "$DB" create -- "-dash"
run 0 --db "$DB" list
check "a name after --" grep -q "${TAB}-dash${TAB}" "$TMP/out"
run 1 --db "$DB" create "$(printf 'bell\007')"
check "a control character in a name is refused" grep -q "control" "$TMP/err"

# Usage errors: 2. Help: 0, and it lists every command.
run 2 list
run 2 --db "$DB"
run 2 --db "$DB" frobnicate
run 2 --db "$DB" create
run 2 --db "$DB" create a b
run 2 --db "$DB" rekey Altos everyone
run 2 --db "$DB" list --max-singers 3
run 2 --db "$DB" create x --all
run 2 --db "$DB" --base-url ftp://example.org list
run 2 --db "$DB" --bogus list
run 2 --db "$DB" list --front http://127.0.0.1:1
run 2 --db "$DB" create x --host-name h1
run 2 --db "$DB" create x --front http://127.0.0.1:1 --host-name "two words"
run 2 --db "$DB" create x --front ftp://example.org --host-name h1
run 0 --help
for w in create list close rekey set-max export import --db --base-url --all --max-singers \
    --front --host-name; do
    check "help mentions $w" grep -q -- "$w" "$TMP/out"
done

# create --front with a front that does not answer: refused with curl's
# reason, and no room made. (tests/deploy/test_hosts.sh has real fronts.)
run 0 --db "$DB" list --all
before=$(wc -l <"$TMP/out")
run 1 --db "$DB" create "Nowhere" --front http://127.0.0.1:1 --host-name h1
check "an unreachable front: curl's reason" grep -q "asking the front.*curl: (7)" "$TMP/err"
check "an unreachable front: no link printed" [ ! -s "$TMP/out" ]
run 0 --db "$DB" list --all
check "an unreachable front: no room made" [ "$(wc -l <"$TMP/out")" -eq "$before" ]

# A file that is not a rooms database is refused and left alone.
echo "not a database" >"$TMP/notes.txt"
run 1 --db "$TMP/notes.txt" list
check "not ours: says so" grep -q "not a rooms database" "$TMP/err"
check "not ours: file untouched" [ "$(cat "$TMP/notes.txt")" = "not a database" ]

# Four processes create 70 rooms each at once in a new file: they set up
# the file together, wait for each other's locks, and exactly RDB_MAX_ROOMS
# (256) creations succeed; the others are refused as over the limit.
DB3=$TMP/race.db
for p in 1 2 3 4; do
    (
        i=0
        while [ $i -lt 70 ]; do
            i=$((i + 1))
            if "$BBROOM" --db "$DB3" create "p$p room $i" >/dev/null 2>"$TMP/race-err-$p-$i"; then
                echo ok
            else
                echo refused
            fi
        done
    ) >"$TMP/race-$p" &
done
wait
check "racing creates: 256 succeed" [ "$(cat "$TMP"/race-[1-4] | grep -c '^ok$')" -eq 256 ]
check "racing creates: 24 refused" [ "$(cat "$TMP"/race-[1-4] | grep -c '^refused$')" -eq 24 ]
check "racing creates: refused for the limit only" \
    [ "$(cat "$TMP"/race-err-* | grep -vc 'already holds 256 open rooms')" -eq 0 ]
run 0 --db "$DB3" list
check "racing creates: 256 distinct rooms" [ "$(cut -f1 "$TMP/out" | sort -u | wc -l)" -eq 256 ]

# No key was ever printed on stderr.
leaked=0
for k in $KEYS; do
    grep -q -- "$k" "$ERRS" && leaked=1
done
check "no key on stderr" [ "$leaked" -eq 0 ]
check "keys collected" [ "$(echo "$KEYS" | wc -w)" -ge 7 ]

echo "test_bbroom: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
