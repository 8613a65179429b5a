#!/bin/bash
# Nothing lost under load: one container writes 100,000 files as fast as
# it can (in 100 new directories) while another deletes 50,000; the store
# must then equal docker diff exactly (a sanitizer build: a fifth of that,
# the same paths at a fifth of the cost; the normal build checks the
# full load). Again with the inotify queue made
# tiny so that it overflows, and with the watch limit made too small for
# a container, which must fall back to rescans and say so.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
pid=
old_q=$(cat /proc/sys/fs/inotify/max_queued_events)
old_w=$(cat /proc/sys/fs/inotify/max_user_watches)
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	echo "$old_q" >/proc/sys/fs/inotify/max_queued_events
	echo "$old_w" >/proc/sys/fs/inotify/max_user_watches
	docker ps -aq --filter label=dwburst | xargs -r docker rm -f >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
docker ps -aq --filter label=dwburst | xargs -r docker rm -f >/dev/null 2>&1

# An image with 50,000 files to delete.
if ! docker image inspect dwtest:many >/dev/null 2>&1; then
	docker run --network none --name dwb-mk dwtest:busybox sh -c \
		'mkdir /many && cd /many && seq 0 49999 | sed s/^/f/ | xargs touch' &&
		docker commit dwb-mk dwtest:many >/dev/null && docker rm dwb-mk >/dev/null
fi

dirs=100 dels=50000
if dw_sanitized; then
	dirs=20 dels=10000
	echo "# sanitizer build: $((dirs * 1000)) files written, $dels deleted"
fi

start_daemon() { dw_daemon_start "$tmp/cfg.yaml" "$db" "$tmp/log"; }
stop_daemon() { kill "$pid"; wait "$pid"; pid=; }

settled() {
	local want got
	want=$(docker diff "$1" | LC_ALL=C sort -k2)
	for _ in $(seq 1 $(($2 * 2))); do
		got=$("$DW" events --db "$db" --container "$1" --current 2>/dev/null)
		[ "$want" == "$got" ] && return 0
		sleep 0.5
	done
	echo "    want $(wc -l <<<"$want") changes, store has $(wc -l <<<"$got")"
	diff <(echo "$want") <(echo "$got") | head -5 | sed 's/^/    /'
	return 1
}

burst() { # tag
	docker run -d --network none --label dwburst=1 --name "dwb-w$1" dwtest:busybox sleep 600 >/dev/null
	docker run -d --network none --label dwburst=1 --name "dwb-d$1" dwtest:many sleep 600 >/dev/null
	sleep 0.3
	docker exec "dwb-w$1" sh -c 'mkdir /burst && cd /burst && for d in $(seq 1 '"$dirs"'); do
		mkdir d$d && (cd d$d && seq 0 999 | sed s/^/f/ | xargs touch); done' &
	local w=$!
	docker exec "dwb-d$1" sh -c 'cd /many && ls | head -n '"$dels"' | xargs rm'
	wait "$w"
}

echo "debounce_ms: 20" >"$tmp/cfg.yaml"
start_daemon || { fail "daemon start"; finish; exit 1; }
burst 1
settled dwb-w1 60 && pass "$((dirs * 1000)) files written: none lost" || fail "writer differs"
settled dwb-d1 60 && pass "$dels files deleted: none lost" || fail "deleter differs"
[ "$(docker diff dwb-w1 | wc -l)" -ge $((dirs * 1001 + 1)) ] && pass "the writer did write $((dirs * 1001)) paths" || fail "writer wrote too little"
stop_daemon

# A queue of 64 events overflows at once.
echo 64 >/proc/sys/fs/inotify/max_queued_events
start_daemon || fail "daemon restart"
burst 2
settled dwb-w2 90 && pass "overflowing queue: writer none lost" || fail "writer differs (overflow)"
settled dwb-d2 90 && pass "overflowing queue: deleter none lost" || fail "deleter differs (overflow)"
sleep 1.1	# the status is published at most once a second
ov=$("$DW" status --db "$db" --format json | jq .overflows)
[ "$ov" -gt 0 ] && pass "queue overflowed ($ov times) and was recovered" || fail "no overflow seen"
stop_daemon
echo "$old_q" >/proc/sys/fs/inotify/max_queued_events

# Too few watches, and not allowed to raise the limit: rescans instead.
printf 'debounce_ms: 20\nraise_watch_limit: false\npoll_interval: 1\n' >"$tmp/cfg.yaml"
docker run -d --network none --label dwburst=1 --name dwb-lim dwtest:busybox sleep 600 >/dev/null
docker exec dwb-lim sh -c 'for d in $(seq 0 299); do mkdir -p /lim/d$d; done'
used=$(find /proc/*/fdinfo -type f 2>/dev/null | xargs grep -h '^inotify' 2>/dev/null | wc -l)
echo $((used + 50)) >/proc/sys/fs/inotify/max_user_watches
start_daemon || fail "daemon start (watch limit)"
docker exec dwb-lim sh -c 'echo x >/lim/d299/new && echo y >/etc/lim'
settled dwb-lim 20 && pass "out of watches: changes still found" || fail "watch limit: changes missed"
echo "$old_w" >/proc/sys/fs/inotify/max_user_watches
sleep 1.1
"$DW" status --db "$db" --format json | jq -en 'input | .watched[] | select(.name == "dwb-lim") | .mode == "poll"' >/dev/null &&
	pass "status says the container is polled" || fail "status mode"
grep -q "out of inotify watches" "$tmp/log" && pass "the log says so" || fail "no log line"
stop_daemon
finish
