#!/bin/bash
# A container nests directories deeper than the walk goes. Before, every
# rescan of it failed (logged once, no alert), a binary dropped later was
# never recorded, a restarted daemon did not monitor it at all, and
# `driftwatch diff` printed nothing. Now: the rest of the container is
# complete, the fs facet is degraded (depth-limit) with one evasion alert,
# and diff prints what it saw and says what it did not.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

dw_scratch dwh-deep

# 8300 levels: deeper than DW_DIFF_MAX_DEPTH (4096), than the 8192 that
# blinded the daemon before, and than PATH_MAX
# (docker diff itself fails on it: "file name too long").
docker run -d --network none --name "$c" dwtest:busybox sh -c \
	'dwctr deep /tmp 8300 && touch /tmp/deep-done && sleep 3600' >/dev/null
id=$(docker inspect -f '{{.Id}}' "$c")
dw_wait 60 docker exec "$c" test -e /tmp/deep-done ||
	fail "the container did not build its tree"

dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
q() { sqlite3 -readonly "$db" "$1"; }
dw_wait 20 sh -c "sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/deep-done'\" | grep -q 1" &&
	pass "the rest of the container is recorded" || fail "nothing recorded: $(tail -3 "$tmp/log")"
[ "$(dw_coverage "$db" "$id" fs)" = "degraded depth-limit" ] &&
	pass "fs facet degraded: depth-limit" || fail "fs coverage: $(dw_coverage "$db" "$id" fs)"
[ "$(q "SELECT count(*) FROM alerts WHERE kind='evasion' AND payload LIKE '%$id%'")" = 1 ] &&
	pass "one evasion alert" || fail "evasion alerts: $(q "SELECT count(*) FROM alerts WHERE kind='evasion'")"

# A binary dropped afterwards is seen, and critical.
docker exec "$c" cp /bin/busybox /usr/lib/implant
dw_wait 10 sh -c "sqlite3 -readonly '$db' \"SELECT severity FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/usr/lib/implant'\" | grep -q critical" &&
	pass "an ELF dropped later: recorded, critical" || fail "implant not recorded"
[ "$(q "SELECT count(*) FROM alerts WHERE kind='evasion' AND payload LIKE '%$id%'")" = 1 ] &&
	pass "still one evasion alert (no repeat per rescan)" || fail "evasion alert repeated"
"$DW" status --db "$db" | grep -q "$c.*fs.*degraded.*depth-limit" &&
	pass "status shows it" || fail "status: $("$DW" status --db "$db" | tail -5)"

# After a restart: monitored at once, the alert not raised again.
kill "$pid"
wait "$pid" 2>/dev/null
pid=
docker exec "$c" sh -c 'echo x >/etc/after-restart'
dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon restart"
dw_wait 20 sh -c "sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/etc/after-restart'\" | grep -q 1" &&
	pass "after a restart, monitored" || fail "not monitored after a restart"
[ "$(q "SELECT count(*) FROM alerts WHERE kind='evasion' AND payload LIKE '%$id%'")" = 1 ] &&
	pass "no second alert after the restart" || fail "alert repeated after restart"

# driftwatch diff: everything outside the deep part, and a loud note.
out=$("$DW" diff "$c" 2>"$tmp/err")
rc=$?
grep -q '^A /usr/lib/implant$' <<<"$out" && grep -q '^A /etc/after-restart$' <<<"$out" &&
	pass "diff prints the rest" || fail "diff output: $(head -3 <<<"$out")"
[ "$rc" -eq 1 ] && grep -q 'incomplete: 1 directory nested deeper than' "$tmp/err" &&
	pass "diff exits 1 and says what it did not compare" || fail "diff rc $rc: $(cat "$tmp/err")"
# A snapshot of it: the capture recursed 14.5 KB a level and crashed
# (leaving the container paused). Now it completes all it can, says
# what it did not enter, and always unpauses.
"$DW" commit -o "$tmp/deep.tar" --db "$db" "$c" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && grep -q 'incomplete: 1 directory nested too deep' "$tmp/err" &&
	pass "commit: written, and says it is incomplete (rc 1)" ||
	fail "commit rc $rc: $(cat "$tmp/err")"
[ "$(docker inspect -f '{{.State.Paused}}' "$c")" = false ] && pass "commit: unpaused" ||
	fail "left paused"
jq -e '.incomplete.reason == "depth-limit"' "$tmp/deep.tar.evidence.json" >/dev/null &&
	pass "the evidence says what is missing" || fail "evidence: no incomplete"
"$DW" verify "$tmp/deep.tar" >/dev/null && pass "and it verifies" || fail "verify"
finish
