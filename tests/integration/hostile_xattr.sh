#!/bin/bash
# A process in a container sets overlay xattrs in the user. namespace,
# which a rootful overlay ignores: a redirect of "../../../etc" on a
# directory it made, an opaque mark on /etc. Before, driftwatch honoured
# them: the host's /etc was walked as the container's drift (stored,
# alerted), the image's /etc showed as deleted, and the snapshot hid its
# files. Now they are ignored, the fs facet is degraded
# (forged-metadata) with one evasion alert, and diff warns.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

dw_scratch dwh-xattr

docker run -d --network none --name "$c" dwtest:busybox sh -c \
	'mkdir /tmp/x && touch /etc/newfile &&
	 dwctr setxattr /tmp/x user.overlay.redirect ../../../../../../../../etc &&
	 dwctr setxattr /etc user.overlay.opaque y && touch /tmp/ready &&
	 sleep 3600' >/dev/null
id=$(docker inspect -f '{{.Id}}' "$c")
dw_wait 20 docker exec "$c" test -e /tmp/ready || fail "the container did not set its xattrs"
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$c")
[ "$(getfattr --only-values -n user.overlay.redirect "$upper/tmp/x" 2>/dev/null)" = ../../../../../../../../etc ] &&
	pass "the container wrote user.overlay.redirect into its upper dir" ||
	fail "the attack did not reach the upper dir"

want=$(printf '%s\n' 'C /etc' 'A /etc/newfile' 'C /tmp' 'A /tmp/ready' 'A /tmp/x')
got=$("$DW" diff "$c" 2>"$tmp/err")
[ "$got" == "$want" ] && pass "diff: no host file, no fake deletion" ||
	{ fail "diff output ($(wc -l <<<"$got") lines)"; head -5 <<<"$got"; }
grep -q 'warning: 2 overlay xattrs that the kernel ignores were ignored' "$tmp/err" &&
	pass "diff warns" || fail "no warning: $(cat "$tmp/err")"
[ "$got" == "$(docker diff "$c" | LC_ALL=C sort -k2)" ] &&
	pass "the same as docker diff" || fail "differs from docker diff"

dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
q() { sqlite3 -readonly "$db" "$1"; }
dw_wait 20 sh -c "sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/ready'\" | grep -q 1" ||
	fail "nothing recorded"
[ "$(q "SELECT count(*) FROM changes WHERE container_id='$id'")" = 5 ] &&
	pass "the store holds the 5 real changes" ||
	fail "store: $(q "SELECT count(*) FROM changes WHERE container_id='$id'") changes"
[ "$(dw_coverage "$db" "$id" fs)" = "degraded forged-metadata" ] &&
	pass "fs facet degraded: forged-metadata" || fail "coverage: $(dw_coverage "$db" "$id" fs)"
[ "$(q "SELECT count(*) FROM alerts WHERE kind='evasion' AND payload LIKE '%$id%'")" = 1 ] &&
	pass "one evasion alert" || fail "evasion alerts"
! q "SELECT payload FROM alerts" | grep -q 'os-release\|/tmp/x/passwd' &&
	pass "no host file in any alert" || fail "host files in alerts"
docker exec "$c" touch /tmp/more
dw_wait 10 sh -c "sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/more'\" | grep -q 1" &&
	[ "$(q "SELECT count(*) FROM alerts WHERE kind='evasion' AND payload LIKE '%$id%'")" = 1 ] &&
	pass "later changes recorded, no repeated alert" || fail "after a change"
kill "$pid"
wait "$pid" 2>/dev/null
pid=

# The snapshot keeps the image's /etc: no opaque marker from the forgery.
"$DW" commit --layer-only -o "$tmp/l.tar" --db "$db" "$c" >/dev/null 2>&1 ||
	fail "commit"
tar -tf "$tmp/l.tar" | grep -q 'etc/newfile' && pass "snapshot: the layer has the new file" ||
	fail "snapshot content"
! tar -tf "$tmp/l.tar" | grep -q 'etc/.wh..wh..opq' &&
	pass "snapshot: no opaque marker from user.overlay.opaque" || fail "snapshot hides /etc"
finish
