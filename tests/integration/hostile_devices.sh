#!/bin/bash
# A container can mknod any device (Docker's device cgroup allows mknod,
# not opening) and make FIFOs. driftwatch runs as root on the host, where
# the cgroup does not apply: opening such a node has side effects (a
# watchdog arms, a tape rewinds), and a FIFO blocks. Before, the daemon's
# file analysis opened whatever the upper dir held with O_RDONLY. Now a
# node is recorded as drift and never opened: inotify on the host's view
# of the upper dir sees no open of it, by the daemon, `scan` or `commit`.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
command -v inotifywait >/dev/null || dw_skip "inotifywait is not installed (inotify-tools)"

ipid=
dw_scratch_extra() { [ -n "$ipid" ] && kill "$ipid" 2>/dev/null; }
dw_scratch dwh-dev
mkdir -p "$tmp/logs"
printf 'debounce_ms: 20\nlogs: ["%s/logs/*.log"]\n' "$tmp" >"$cfg"

# Its log directory is a volume of the container: the container chooses
# what the followed "log files" are.
docker run -d --network none --name "$c" -v "$tmp/logs:/logs" dwtest:busybox sleep 3600 >/dev/null
id=$(docker inspect -f '{{.Id}}' "$c")
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$c")
docker exec "$c" sh -c 'mkdir /tmp/n && echo x >/tmp/n/file'
inotifywait -q -m -e open "$upper/tmp/n" "$tmp/logs" >"$tmp/opens" 2>/dev/null &
ipid=$!
sleep 0.5
dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
# Nodes made while the daemon watches: each is a change it analyses.
docker exec "$c" sh -c 'mknod /tmp/n/null c 1 3 && mknod /tmp/n/zero c 1 5 &&
	mkfifo /tmp/n/fifo && chmod 755 /tmp/n/null &&
	echo y >>/tmp/n/file && mknod /logs/dev.log c 1 3 &&
	mkfifo /logs/fifo.log && echo hello >/logs/real.log && touch /tmp/n/done'
kind() {
	sqlite3 -readonly "$db" "SELECT kind FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='$1'"
}
dw_wait 10 sh -c "[ -n \"\$(sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/n/done'\")\" ]" ||
	fail "changes not recorded"
[ "$(kind /tmp/n/null)" = A ] && [ "$(kind /tmp/n/fifo)" = A ] &&
	pass "device and FIFO recorded as drift" || fail "nodes not recorded"
kill "$pid"
wait "$pid" 2>/dev/null
pid=
# scan of the upper dir and a snapshot of the running container too.
"$DW" scan "$upper/tmp" >/dev/null 2>&1
"$DW" commit --no-pause --layer-only -o "$tmp/l.tar" --db "$db" "$c" >/dev/null 2>&1 ||
	fail "commit"
sleep 0.5
kill "$ipid" 2>/dev/null
ipid=
grep -q 'OPEN file' "$tmp/opens" && pass "the regular file was opened (the watcher works)" ||
	fail "no open seen at all: $(cat "$tmp/opens")"
grep -q 'OPEN real.log' "$tmp/opens" && pass "the real log was followed" ||
	fail "real.log not opened"
! grep -qE 'OPEN (null|zero|fifo|dev.log|fifo.log)$' "$tmp/opens" &&
	pass "no device or FIFO was ever opened" ||
	fail "opened: $(grep -E 'null|zero|fifo|dev.log' "$tmp/opens")"
tar -tvf "$tmp/l.tar" | grep -q '^c.* tmp/n/null' && pass "the snapshot records the device node" ||
	fail "snapshot lacks the node"
finish
