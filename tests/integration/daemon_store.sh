#!/bin/bash
# driftwatchd --once records each running container's changes in SQLite:
# the store's current changes equal docker diff, history grows with
# each change, and the files are private.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dw_docker_rm dwd-a' EXIT
db="$tmp/state/driftwatch.db"
c=dwd-a
dw_docker_rm "$c"
docker run -d --network none --name "$c" dwtest:busybox sleep 600 >/dev/null
docker exec "$c" sh -c 'echo x >/tmp/x && rm /etc/group'

"$DWD" --foreground --no-mounts --once --db "$db" 2>"$tmp/log" && pass "daemon pass exits 0" ||
	{ fail "daemon pass"; cat "$tmp/log"; }
id=$(docker inspect -f '{{.Id}}' "$c")
q() { sqlite3 -readonly "$db" "$1"; }
stored=$(q "SELECT kind || ' ' || CAST(path AS TEXT) FROM changes WHERE container_id='$id' ORDER BY path")
[ "$stored" == "$(docker diff "$c" | LC_ALL=C sort -k2)" ] && pass "store equals docker diff" ||
	{ fail "store differs"; echo "$stored"; }
[ "$(stat -c %a "$db")" = 600 ] && pass "db is 0600" || fail "db mode $(stat -c %a "$db")"
[ "$(stat -c %a "$tmp/state")" = 700 ] && pass "db dir is 0700" || fail "dir mode"
grep -q "$c" "$tmp/log" && pass "drift logged" || fail "no log line"

docker exec "$c" sh -c 'rm /tmp/x && echo y >/tmp/y'
"$DWD" --foreground --no-mounts --once --db "$db" 2>>"$tmp/log"
[ "$(q "SELECT count(*) FROM events WHERE container_id='$id' AND kind='R' AND CAST(path AS TEXT)='/tmp/x'")" = 1 ] &&
	pass "reverted path recorded" || fail "revert event"
[ "$(q "SELECT count(*) FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/y'")" = 1 ] &&
	pass "new path stored" || fail "new path"
n1=$(q "SELECT count(*) FROM events")
"$DWD" --foreground --no-mounts --once --db "$db" 2>>"$tmp/log"
[ "$(q "SELECT count(*) FROM events")" = "$n1" ] && pass "no change, no new events" ||
	fail "events grew without change"
[ "$(q "PRAGMA user_version")" = 16 ] && pass "schema version 16" || fail "schema version $(q "PRAGMA user_version")"

# driftwatch events reads the store (read-only).
[ "$("$DW" events --db "$db" --container "$c" --current)" == "$(docker diff "$c" | LC_ALL=C sort -k2)" ] &&
	pass "events --current equals docker diff" || fail "events --current: $("$DW" events --db "$db" --container "$c" --current)"
[ "$("$DW" events --db "$db" --container "${id:0:12}" --kind R --format jsonl | jq -r '[.kind, .path, .container] | join(" ")')" = "R /tmp/x $c" ] &&
	pass "events --kind R by id prefix, jsonl" || fail "events --kind R"
[ "$("$DW" events --db "$db" --since 1h --format json | jq 'length')" -ge 4 ] && pass "events --since 1h, json" || fail "events --since"
[ -z "$("$DW" events --db "$db" --since "$(date -u -d '+1 day' +%Y-%m-%d)")" ] && pass "events --since tomorrow: none" || fail "events future"
"$DW" events --db "$db" --container nosuch >/dev/null 2>&1; [ $? -eq 3 ] && pass "events: unknown container exit 3" || fail "events unknown"
"$DW" events --db "$db" --since yesterdayish >/dev/null 2>&1; [ $? -eq 2 ] && pass "events: bad time exit 2" || fail "events bad time"
# The history as a timeline: a bodyfile mactime reads, Timesketch JSONL.
n=$("$DW" events --db "$db" --container "$c" --format jsonl | wc -l)
"$DW" events --db "$db" --container "$c" --format bodyfile >"$tmp/body"
[ "$(wc -l <"$tmp/body")" = "$n" ] && [ "$(awk -F'|' 'NF != 11' "$tmp/body" | wc -l)" = 0 ] &&
	pass "events --format bodyfile: a TSK row per event" || fail "bodyfile: $(head -3 "$tmp/body")"
if command -v mactime >/dev/null; then
	mactime -b "$tmp/body" -d -y 2>/dev/null | grep -q ',"/tmp/x (R ' && pass "mactime reads it" || fail "mactime: $(mactime -b "$tmp/body" -d -y 2>&1 | head -3)"
fi
"$DW" events --db "$db" --container "$c" --format timesketch >"$tmp/ts"
[ "$(jq -c 'select((.message | type) == "string" and (.datetime | test("^[0-9]{4}-")) and .timestamp_desc == "Drift Recorded")' "$tmp/ts" | wc -l)" = "$n" ] &&
	pass "events --format timesketch: message, datetime, timestamp_desc on every line" || fail "timesketch: $(head -2 "$tmp/ts")"
"$DW" events --db "$db" --container "$c" --current --format bodyfile >/dev/null 2>&1; [ $? -eq 2 ] &&
	pass "--current as a timeline: a usage error" || fail "current timeline"

"$DWD" --foreground --no-mounts --once --db "$db" --host unix:///nonexistent.sock 2>"$tmp/log2"
[ $? -eq 3 ] && grep -q 'cannot reach' "$tmp/log2" && pass "unreachable docker: exit 3, logged" ||
	fail "unreachable docker"
"$DWD" --interval 0 2>/dev/null
[ $? -eq 2 ] && pass "bad --interval is a usage error" || fail "--interval 0 accepted"

# The loop stops cleanly on SIGTERM.
"$DWD" --foreground --no-mounts --db "$db" --interval 1 2>"$tmp/log3" &
pid=$!
sleep 2
"$DW" events --db "$db" --container "$c" --current >/dev/null && pass "events while the daemon runs" || fail "events during daemon"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ $rc -eq 0 ] && grep -q stopped "$tmp/log3" && pass "SIGTERM stops cleanly" ||
	{ fail "SIGTERM exit $rc"; cat "$tmp/log3"; }
finish
