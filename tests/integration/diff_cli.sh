#!/bin/bash
# driftwatch diff as a user meets it: names, ids, prefixes, --host and
# DOCKER_HOST, output formats, escaping and exit codes.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

c=dwc-cli
dw_docker_rm "$c"
docker run --network none --name "$c" dwtest:busybox sh -c \
	'echo x >/tmp/new && chmod 600 /etc/passwd && rm /etc/group &&
	 touch "$(printf "/tmp/a\nb")" && ln -s /etc/shadow /tmp/link' >/dev/null
id=$(docker inspect -f '{{.Id}}' "$c")

want=$(printf '%s\n' 'C /etc' 'D /etc/group' 'C /etc/passwd' 'C /tmp' \
	'A /tmp/a\nb' 'A /tmp/link' 'A /tmp/new')
got=$("$DW" diff "$c")
[ "$got" == "$want" ] && pass "text output sorted, newline escaped" ||
	{ fail "text output"; diff <(echo "$want") <(echo "$got"); }

[ "$("$DW" diff "$id")" == "$want" ] && pass "full id" || fail "full id"
[ "$("$DW" diff "${id:0:12}")" == "$want" ] && pass "id prefix" || fail "id prefix"
[ "$("$DW" --host "$DOCKER_HOST" diff "$c")" == "$want" ] && pass "global --host" || fail "global --host"
[ "$(env -u DOCKER_HOST "$DW" diff --host "$DOCKER_HOST" "$c")" == "$want" ] &&
	pass "diff --host" || fail "diff --host"

json=$("$DW" diff --format json "$c")
jq -e 'length == 7' <<<"$json" >/dev/null && pass "json: one object per change" || fail "json length"
jq -e '.[] | select(.path == "/etc/passwd") | .kind == "C" and .mode == "0600"
	and .type == "file" and .uid == 0 and .gid == 0 and (.size | type) == "number"
	and (.mtime | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z$"))' \
	<<<"$json" >/dev/null && pass "json: stat fields of a changed file" || fail "json stat fields"
jq -e '.[] | select(.path == "/etc/group") | .kind == "D" and .type == "file" and (has("mode") | not)' \
	<<<"$json" >/dev/null && pass "json: deleted entry has type, no stat" || fail "json deleted entry"
jq -e '.[] | select(.path == "/tmp/link") | .type == "symlink"' <<<"$json" >/dev/null &&
	pass "json: symlink reported as symlink" || fail "json symlink"
jq -e '.[] | select(.path == "/tmp/a\nb") | .kind == "A"' <<<"$json" >/dev/null &&
	pass "json: newline name exact" || fail "json newline name"

# Raw mode on the same container's dirs gives the same answer.
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$c")
lower=$(docker inspect -f '{{.GraphDriver.Data.LowerDir}}' "$c")
[ "$("$DW" diff --upper "$upper" --lower "$lower")" == "$want" ] &&
	pass "--upper/--lower equals container mode" || fail "raw mode"
first=${lower%%:*}
rest=${lower#*:}
[ "$("$DW" diff --upper "$upper" --lower "$first" --lower "$rest")" == "$want" ] &&
	pass "--lower repeated" || fail "--lower repeated"

expect_exit() {
	local want_rc=$1 what=$2
	shift 2
	local err rc
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq "$want_rc" ] && [ "$(grep -c . <<<"$err")" -ge 1 ]; then
		pass "$what: exit $rc ($err)"
	else
		fail "$what: exit $rc, wanted $want_rc ($err)"
	fi
}
expect_exit 3 "unknown container" "$DW" diff no-such-container
expect_exit 3 "daemon unreachable" "$DW" --host unix:///nonexistent/docker.sock diff "$c"
expect_exit 3 "DOCKER_HOST unreachable" env DOCKER_HOST=unix:///nonexistent.sock "$DW" diff "$c"
if [ ! -S /var/run/docker.sock ]; then
	err=$(env -u DOCKER_HOST "$DW" diff "$c" 2>&1)
	[ $? -eq 3 ] && grep -q /var/run/docker.sock <<<"$err" &&
		pass "default socket is /var/run/docker.sock" || fail "default socket ($err)"
fi
expect_exit 2 "tcp host" "$DW" --host tcp://127.0.0.1:2375 diff "$c"
expect_exit 2 "no container" "$DW" diff
expect_exit 2 "two containers" "$DW" diff a b
expect_exit 2 "bad format" "$DW" diff --format xml "$c"
expect_exit 2 "--lower without --upper" "$DW" diff --lower /tmp
expect_exit 2 "unknown command" "$DW" frobnicate
expect_exit 1 "upper is not a directory" "$DW" diff --upper /etc/passwd --lower /tmp
expect_exit 1 "missing lower" "$DW" diff --upper /tmp --lower /nonexistent

docker rm -f "$c" >/dev/null
finish
