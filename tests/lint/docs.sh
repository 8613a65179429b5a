#!/bin/bash
# The documentation stays true to the code: every man page renders
# without a warning, every configuration key driftwatchd knows is in
# driftwatch.yaml(5) and the example configuration, the example loads,
# and the README stays short (the reference lives in the man pages).
. "$(dirname "$0")/../lib/common.sh"
src=$DW_SRC_DIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for page in "$src"/contrib/man/*.[0-9]; do
	out=$(groff -man -ww -z "$page" 2>&1)
	[ -z "$out" ] && pass "$(basename "$page") renders cleanly" ||
		fail "$(basename "$page"): $out"
done

keys=$("$DWD" --config-keys | awk '/^[a-z_]+ \(/ { print $1 }')
[ "$(echo "$keys" | wc -l)" -ge 20 ] && pass "driftwatchd --config-keys lists $(echo "$keys" | wc -l) keys" ||
	fail "--config-keys: $keys"
for k in $keys; do
	grep -qw -- "$k" "$src/contrib/man/driftwatch.yaml.5" ||
		{ fail "driftwatch.yaml(5) does not document $k"; continue; }
	grep -qE "^#? ?$k:" "$src/contrib/driftwatch.yaml" ||
		{ fail "contrib/driftwatch.yaml has no $k"; continue; }
	pass "$k documented and exemplified"
done

"$DWD" --foreground --once --no-docker --no-mounts \
	--config "$src/contrib/driftwatch.yaml" --db "$tmp/db" 2>"$tmp/log" &&
	pass "the example configuration loads" ||
	{ fail "the example configuration"; cat "$tmp/log"; }
printf 'debounce_ms: many\n' >"$tmp/bad.yaml"
"$DWD" --foreground --once --no-docker --no-mounts --config "$tmp/bad.yaml" \
	--db "$tmp/db" 2>"$tmp/log"
[ $? -ne 0 ] && grep -q 'bad.yaml:1' "$tmp/log" && pass "a bad value names file and line" ||
	{ fail "bad value"; cat "$tmp/log"; }

n=$(wc -l <"$src/README.md")
[ "$n" -le 350 ] && pass "README.md is $n lines" || fail "README.md is $n lines (> 350)"
grep -q '<!-- test-command -->' "$src/README.md" && grep -q '<!-- main-command -->' "$src/README.md" &&
	pass "README has both set-up commands" || fail "README set-up markers"
finish
