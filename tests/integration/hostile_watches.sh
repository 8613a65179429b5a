#!/bin/bash
# inotify watches are the host's: one container with many directories
# could use them all up, leaving every other container unwatched, and the
# daemon doubled the host's limit with no ceiling and never put it back.
# Now each container has a watch budget; over it, it gives its watches
# back, is polled, and its fs facet is degraded (watch-budget, an evasion
# alert), while its neighbours stay watched. The host's limit is raised
# within max_watch_limit and restored when the daemon stops.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

knob=/proc/sys/fs/inotify/max_user_watches
orig=$(cat "$knob")
dw_scratch_extra() { echo "$orig" >"$knob"; }
dw_scratch dwh-many dwh-neighbour
cat >"$cfg" <<CFG
debounce_ms: 20
poll_interval: 1
watch_budget: 100
CFG
docker run -d --network none --name dwh-many dwtest:busybox sh -c \
	'for i in $(seq 1 300); do mkdir -p /srv/d$i; done; touch /srv/ready; sleep 3600' >/dev/null
docker run -d --network none --name dwh-neighbour dwtest:busybox sleep 3600 >/dev/null
many=$(docker inspect -f '{{.Id}}' dwh-many)
dw_wait 20 docker exec dwh-many test -e /srv/ready || fail "the container did not make its dirs"

dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
mode() {
	"$DW" status --db "$db" --format json | jq -r --arg n "$1" '.watched[] | select(.name == $n) | .mode + " " + (.watches | tostring)'
}
# The status document follows discovery by up to a second.
for _ in $(seq 1 50); do
	[ -n "$(mode dwh-many)" ] && [ -n "$(mode dwh-neighbour)" ] && break
	sleep 0.2
done
[ "$(mode dwh-many)" = "poll 0" ] && pass "over its budget: polled, its watches given back" ||
	fail "dwh-many: $(mode dwh-many)"
[ "$(mode dwh-neighbour | cut -d' ' -f1)" = inotify ] && pass "the neighbour stays watched" ||
	fail "dwh-neighbour: $(mode dwh-neighbour)"
[ "$(dw_coverage "$db" "$many" fs)" = "degraded watch-budget" ] &&
	pass "fs facet degraded: watch-budget" || fail "coverage: $(dw_coverage "$db" "$many" fs)"
[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM alerts WHERE kind='evasion' AND payload LIKE '%$many%'")" = 1 ] &&
	pass "one evasion alert" || fail "evasion alert"
docker exec dwh-many touch /srv/d7/late
dw_wait 10 sh -c "sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$many' AND CAST(path AS TEXT)='/srv/d7/late'\" | grep -q 1" &&
	pass "its changes are still recorded (polling)" || fail "polled change not recorded"
kill "$pid"
wait "$pid" 2>/dev/null
pid=

# The host's limit: raised within the ceiling, logged, restored.
echo 64 >"$knob"
cat >"$cfg" <<CFG
debounce_ms: 20
max_watch_limit: 8192
CFG
dw_daemon_start "$cfg" "$db" "$tmp/log2" || fail "daemon start (low limit)"
dw_wait 10 grep -q 'raised fs.inotify.max_user_watches' "$tmp/log2" ||
	fail "the limit was not raised: $(tail -3 "$tmp/log2")"
now=$(cat "$knob")
[ "$now" -gt 64 ] && [ "$now" -le 8192 ] && pass "raised within max_watch_limit ($now)" ||
	fail "limit is $now"
grep -q "the host's own value was 64" "$tmp/log2" && pass "the host's value is logged" ||
	fail "no mention of the host's value"
kill "$pid"
wait "$pid" 2>/dev/null
pid=
[ "$(cat "$knob")" = 64 ] && pass "restored at exit" || fail "not restored: $(cat "$knob")"
finish
