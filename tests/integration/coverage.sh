#!/bin/bash
# What driftwatch cannot see is never silent: each blind class is a
# coverage state with a reason, in the store and `driftwatch status`, with
# one alert. Before, a container logging through the `local` driver had
# its logs silently unread (now read: daemon_logdrivers.sh; `none` is
# the driver that leaves nothing), a container on the vfs storage driver was
# one log line, and writes to volumes were not mentioned anywhere.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

tmp=$(mktemp -d)
db="$tmp/state/driftwatch.db"
cfg="$tmp/driftwatch.yaml"
vfs=$(mktemp -d /tmp/dwvfs.XXXXXX)
pid=
main_host=$DOCKER_HOST # DOCKER_HOST names the vfs dockerd further down
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	DOCKER_HOST=$main_host dw_docker_rm dwcov-local dwcov-vol dwcov-plain dwcov-nocache
	DOCKER_HOST="unix://$vfs/docker.sock" dw_docker_rm dwcov-vfs
	dw_dockerd_stop "$vfs" 2>/dev/null
	umount -R "$vfs/data" 2>/dev/null
	rm -rf "$tmp" "$vfs"
}
trap cleanup EXIT
printf 'debounce_ms: 20\n' >"$cfg"
dw_docker_rm dwcov-local dwcov-vol dwcov-plain
docker run -d --network none --name dwcov-local --log-driver none dwtest:busybox sleep 3600 >/dev/null
docker run -d --network none --name dwcov-vol -v "$tmp:/data" --tmpfs /scratch \
	--tmpfs "$(printf '/scr\nFAKE LINE')" dwtest:busybox sleep 3600 >/dev/null
docker run -d --network none --name dwcov-plain dwtest:busybox sleep 3600 >/dev/null
# A driver with no dual-logging cache (as journald has none): its file is
# removed here, since no journald runs on these machines.
dw_docker_rm dwcov-nocache
docker run -d --network none --name dwcov-nocache --log-driver syslog --log-opt syslog-address=udp://127.0.0.1:9 \
	dwtest:busybox sleep 3600 >/dev/null
rm -f "$(dirname "$(docker inspect -f '{{.HostnamePath}}' dwcov-nocache)")/container-cached.log"
id() { docker inspect -f '{{.Id}}' "$1"; }

dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
dw_wait 10 sh -c "[ -n \"\$(sqlite3 -readonly '$db' \"SELECT 1 FROM coverage WHERE container_id='$(id dwcov-vol)' AND facet='fs' AND state='degraded'\")\" ]"
[ "$(dw_coverage "$db" "$(id dwcov-local)" logs)" = "unmonitored log-driver" ] &&
	pass "--log-driver none: logs unmonitored (log-driver)" ||
	fail "local: $(dw_coverage "$db" "$(id dwcov-local)" logs)"
[ "$(dw_coverage "$db" "$(id dwcov-nocache)" logs)" = "unmonitored log-driver" ] &&
	pass "a driver without a dual-logging cache: logs unmonitored, not a path that never fills" ||
	fail "nocache: $(dw_coverage "$db" "$(id dwcov-nocache)" logs)"
[ "$(dw_coverage "$db" "$(id dwcov-vol)" fs)" = "degraded mounts" ] &&
	pass "a volume and a tmpfs: fs degraded (mounts)" || fail "vol: $(dw_coverage "$db" "$(id dwcov-vol)" fs)"
sqlite3 -readonly "$db" "SELECT replace(detail, char(10), '|') FROM coverage WHERE container_id='$(id dwcov-vol)' AND facet='fs'" |
	grep -q '/data (bind).*/scratch (tmpfs)' && pass "which mounts, named" || fail "mounts detail"
[ "$(dw_coverage "$db" "$(id dwcov-plain)" fs)" = "monitored " ] &&
	[ "$(dw_coverage "$db" "$(id dwcov-plain)" logs)" = "monitored " ] &&
	pass "a plain container: monitored" || fail "plain container"
[ "$(dw_coverage "$db" "$(id dwcov-plain)" writer)" = "monitored " ] &&
	pass "writer: monitored (fanotify)" || fail "writer facet: $(dw_coverage "$db" "$(id dwcov-plain)" writer)"
[ "$(dw_coverage "$db" "$(id dwcov-plain)" exec)" = "monitored " ] &&
	pass "exec: monitored (fanotify)" || fail "exec facet: $(dw_coverage "$db" "$(id dwcov-plain)" exec)"
[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM alerts WHERE kind='unmonitored'")" = 3 ] &&
	pass "one unmonitored alert each" ||
	fail "alerts: $(sqlite3 -readonly "$db" "SELECT summary FROM alerts WHERE kind='unmonitored'")"
"$DW" status --db "$db" >"$tmp/status"
grep -q 'dwcov-local.*logs.*unmonitored.*log-driver' "$tmp/status" &&
	! grep 'not monitored on this host:' "$tmp/status" | grep -q 'writer' &&
	grep -q 'full rescan: every 900s' "$tmp/status" &&
	! grep -q '^FAKE LINE' "$tmp/status" && grep -q 'scr\\nFAKE LINE' "$tmp/status" &&
	pass "driftwatch status says it all" || { fail "status"; cat "$tmp/status"; }
kill "$pid"
wait "$pid" 2>/dev/null
pid=

# A Docker on the vfs storage driver: not watchable, and said so.
mkdir -p "$vfs/data"
dockerd --bridge=none --iptables=false --ip6tables=false --storage-driver=vfs \
	--data-root "$vfs/data" --exec-root "$vfs/exec" --pidfile "$vfs/dockerd.pid" \
	-H "unix://$vfs/docker.sock" >>"$vfs/dockerd.log" 2>&1 &
dw_dockerd_wait "$vfs" || fail "the vfs dockerd did not start"
export DOCKER_HOST="unix://$vfs/docker.sock"
tar -C / -cf - bin/busybox | docker import - dwcov:vfs >/dev/null
docker run -d --network none --name dwcov-vfs --entrypoint /bin/busybox dwcov:vfs sleep 3600 >/dev/null
vid=$(docker inspect -f '{{.Id}}' dwcov-vfs)
db2="$tmp/state/vfs.db"
dw_daemon_start "$cfg" "$db2" "$tmp/log2" --host "$DOCKER_HOST" || fail "daemon on vfs"
dw_wait 10 sh -c "[ -n \"\$(sqlite3 -readonly '$db2' \"SELECT 1 FROM coverage WHERE container_id='$vid'\")\" ]"
[ "$(dw_coverage "$db2" "$vid" fs)" = "unmonitored storage-driver" ] &&
	pass "vfs storage driver: fs unmonitored (storage-driver)" || fail "vfs: $(dw_coverage "$db2" "$vid" fs)"
[ "$(sqlite3 -readonly "$db2" "SELECT count(*) FROM alerts WHERE kind='unmonitored' AND payload LIKE '%$vid%'")" = 1 ] &&
	pass "with one alert" || fail "vfs alert"
"$DW" status --db "$db2" | grep -q 'dwcov-vfs.*unmonitored.*storage-driver' &&
	pass "and in status, by name" || fail "vfs status: $("$DW" status --db "$db2" | tail -3)"
finish
