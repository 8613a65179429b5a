#!/bin/bash
# A container Docker cannot answer for. A container's log driver blocked
# on a receiver that stopped reading (syslog here, over a unix socket
# nobody reads) wedges that container in dockerd once it is killed: every
# request about it waits forever, `docker kill` too. Before, driftwatchd
# asked about it from its loop and waited 120 s, at every start and every
# list, watching nothing else meanwhile (and then said only "cannot
# inspect"). Now it waits 10 s once, records the container as not
# monitored (runtime-unresponsive, named from the container list), asks
# again a minute later, and watches the others.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
dw_scratch dww-ok dww-wedge
lpid=
kpid=
dw_scratch_extra() {
	# The receiver gone, the blocked writes fail and dockerd lets go.
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null
	[ -n "$kpid" ] && kill "$kpid" 2>/dev/null
	sleep 1
}
cat >"$tmp/listen.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
held = []
while True:
    held.append(s.accept()[0])  # accepted, never read
PY
python3 "$tmp/listen.py" "$tmp/syslog.sock" &
lpid=$!
for _ in $(seq 1 50); do [ -S "$tmp/syslog.sock" ] && break; sleep 0.1; done

docker run -d --network none --name dww-ok dwtest:busybox sleep 600 >/dev/null
docker run -d --network none --name dww-wedge --log-driver syslog \
	--log-opt syslog-address="unix://$tmp/syslog.sock" dwtest:busybox \
	sh -c 'yes wedged-log-line | head -c 20000000; sleep 600' >/dev/null
wid=$(docker inspect -f '{{.Id}}' dww-wedge)
sleep 2
docker kill dww-wedge >/dev/null 2>&1 &
kpid=$!
wedged=0
for _ in $(seq 1 30); do
	timeout 2 docker inspect -f . dww-wedge >/dev/null 2>&1 || { wedged=1; break; }
	sleep 0.5
done
[ $wedged = 1 ] || dw_skip "could not wedge a container in this dockerd"
pass "a container dockerd cannot answer for"

"$DWD" --foreground --config "$cfg" --db "$db" --no-mounts 2>>"$tmp/log" &
pid=$!
t0=$EPOCHREALTIME
ok=0
for _ in $(seq 1 300); do
	"$DW" status --db "$db" --format json 2>/dev/null |
		jq -en 'input | .docker.connected and .state == "running"' >/dev/null 2>&1 && { ok=1; break; }
	sleep 0.1
done
t=$(printf '%.1f' "$(echo "$EPOCHREALTIME - $t0" | bc)")
[ $ok = 1 ] && pass "driftwatchd follows dockerd all the same (in $t s, not 120)" ||
	{ fail "not connected after 30 s"; tail -5 "$tmp/log"; }
oid=$(docker inspect -f '{{.Id}}' dww-ok)
"$DW" status --db "$db" --format json | jq -en --arg id "$oid" 'input | [.watched[] | select(.id == $id)] | length == 1' >/dev/null &&
	pass "the other container is watched" || fail "dww-ok not watched: $("$DW" status --db "$db" --format json | jq -c '.watched')"
[ "$(dw_coverage "$db" "$wid" fs)" = "unmonitored runtime-unresponsive" ] &&
	pass "the wedged one: fs unmonitored, runtime-unresponsive" || fail "coverage: $(dw_coverage "$db" "$wid" fs)"
q() { sqlite3 -readonly "$db" "$1"; }
[ "$(q "SELECT count(*) FROM alerts WHERE kind = 'unmonitored' AND summary LIKE '%dww-wedge%did not answer%'")" = 1 ] &&
	pass "one alert, naming it" || fail "alert: $(q "SELECT kind, summary FROM alerts")"
grep -q "dww-wedge.*is not monitored: docker did not answer" "$tmp/log" && pass "and said in the log" || fail "log: $(tail -5 "$tmp/log")"
"$DW" ps --db "$db" --format json | jq -e --arg id "$wid" '.[] | select(.id == $id and .name == "dww-wedge" and .state == "not watched")
	| .coverage[] | select(.facet == "fs" and .reason == "runtime-unresponsive")' >/dev/null &&
	pass "ps lists it: not watched, runtime-unresponsive" || fail "ps: $("$DW" ps --db "$db" --format json | jq -c .)"

# The loop is not held by it: a change in the other container is
# recorded at once (the wedged one is asked again only a minute later).
docker exec dww-ok sh -c 'echo x >/tmp/after' || fail "exec"
for _ in $(seq 1 50); do
	[ "$(q "SELECT count(*) FROM events WHERE container_id = '$oid' AND CAST(path AS TEXT) = '/tmp/after'")" -ge 1 ] && break
	sleep 0.1
done
[ "$(q "SELECT count(*) FROM events WHERE container_id = '$oid' AND CAST(path AS TEXT) = '/tmp/after'")" -ge 1 ] &&
	pass "drift in another container is recorded meanwhile" || fail "no event for /tmp/after"

# The receiver gone, dockerd lets go; the container's end is followed.
kill "$lpid"; lpid=
wait "$kpid" 2>/dev/null; kpid=
for _ in $(seq 1 100); do
	[ "$(timeout 2 docker inspect -f '{{.State.Running}}' dww-wedge 2>/dev/null)" = false ] && break
	sleep 0.1
done
for _ in $(seq 1 50); do [ -z "$(dw_coverage "$db" "$wid" fs)" ] && break; sleep 0.1; done
[ -z "$(dw_coverage "$db" "$wid" fs)" ] && pass "once it stopped, its runtime-unresponsive record goes" ||
	fail "stale coverage: $(dw_coverage "$db" "$wid" fs)"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc = 0 ] && pass "clean stop" || fail "stop: rc $rc"
finish
