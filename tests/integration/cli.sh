#!/bin/bash
# The CLI's plumbing, for every command: --help is generated from the
# option table (so every option parsed is listed), usage errors exit 2, a
# failed write to stdout is an error, and every command has a man page.
. "$(dirname "$0")/../lib/common.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmds=$("$DW" --help | awk '/^commands:/ { on = 1; next } on && !NF { exit } on { print $1 }')
[ "$(echo "$cmds" | wc -w)" -ge 9 ] && pass "the command table lists $(echo $cmds)" ||
	fail "command table: $cmds"

for c in $cmds; do
	out=$("$DW" "$c" --help 2>/dev/null)
	rc=$?
	[ "$rc" -eq 0 ] && [[ "$out" == usage:\ driftwatch\ "$c"* ]] &&
		pass "$c --help exits 0 on stdout" || fail "$c --help (rc $rc)"
	src="$DW_SRC_DIR/cli/cmd_$c.c"
	# Every long option the command's table parses is in its help.
	missing=""
	for o in $(grep -oE '\{ '"'"'.'"'"', "[a-z-]+", ' "$src" | sed -E 's/.*"([a-z-]+)".*/\1/'); do
		grep -q -- "--$o" <<<"$out" || missing="$missing --$o"
	done
	[ -z "$missing" ] && pass "$c --help lists every option" ||
		fail "$c --help misses$missing"
	[ "$c" = version ] && continue
	"$DW" "$c" --no-such-option >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 2 ] && pass "$c: an unknown option exits 2" || fail "$c: unknown option exits $rc"
	page="$DW_SRC_DIR/contrib/man/driftwatch-$c.1"
	[ -f "$page" ] && pass "$c has a man page" || fail "no man page $page"
done

"$DW" version >/dev/full 2>/dev/null
rc=$?
[ "$rc" -eq 1 ] && pass "a failed write to stdout exits 1" || fail "write to /dev/full exits $rc"
err=$("$DW" version 2>&1 >/dev/full)
[[ "$err" == *"cannot write the output"* ]] && pass "and says so" || fail "no message: $err"
# A closed pipe is a failed write too, not a silent death by SIGPIPE.
"$DW" --help | true
rc=${PIPESTATUS[0]}
[ "$rc" -le 1 ] && pass "a closed pipe is not a signal (rc $rc)" || fail "closed pipe: rc $rc"

# The rules a scan uses: built in, and a configuration's own.
"$DW" rules >"$tmp/rules" 2>&1 && grep -q '^docker-swarm-join-token  *critical  *built-in  *Docker Swarm join token$' "$tmp/rules" &&
	pass "rules: id, severity, source, description" || fail "rules: $(head -3 "$tmp/rules")"
printf 'disable: [jwt]\nrules:\n  - id: acme-token\n    regex: "acme_[a-z0-9]{32}"\n    severity: high\n    description: ACME API token\n' >"$tmp/rules.yaml"
"$DW" rules --config "$tmp/rules.yaml" --format json >"$tmp/rules.json" &&
	jq -e 'any(.[]; .id == "acme-token" and .source == "config" and .severity == "high")
		and all(.[]; .id != "jwt") and length == '"$(($(wc -l <"$tmp/rules") ))"'' "$tmp/rules.json" >/dev/null &&
	pass "rules --config FILE --format json: its rule in, the one it disables out" || fail "rules json: $(cat "$tmp/rules.json")"
printf 'rules:\n  - id: bad\n    regex: "a("\n' >"$tmp/bad.yaml"
"$DW" rules --config "$tmp/bad.yaml" >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] && grep -q bad "$tmp/err" &&
	pass "rules: a configuration that does not load: exit 2, named" || fail "bad rules config: $(cat "$tmp/err")"
"$DW" rules --format xml >/dev/null 2>&1; [ $? -eq 2 ] && pass "rules --format xml: exit 2" || fail "rules format"
# The user's own configuration, as scan takes it; a rule of the same id
# as a built-in one is told from it by where it comes.
mkdir -p "$tmp/xdg/driftwatch"
printf 'rules:\n  - id: jwt\n    regex: "acme_[a-z0-9]{32}"\n' >"$tmp/xdg/driftwatch/config.yaml"
XDG_CONFIG_HOME=$tmp/xdg "$DW" rules --format json >"$tmp/rules.json" &&
	[ "$(jq -r '[.[] | select(.id == "jwt") | .source] | join(",")' "$tmp/rules.json")" = "built-in,config" ] &&
	pass "rules: the user's configuration, as scan takes it; same ids told apart" || fail "user config: $(jq -c '.[] | select(.id == "jwt")' "$tmp/rules.json")"

"$DW" no-such-command >/dev/null 2>&1
[ $? -eq 2 ] && pass "an unknown command exits 2" || fail "unknown command"
finish
