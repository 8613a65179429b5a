#!/bin/bash
# driftwatchd's /metrics endpoint (metrics_listen), scraped by Debian's
# real prometheus on loopback, its values checked against the store; and
# held against a hostile client: one that connects and says nothing, one
# that sends a huge request, neither stops the endpoint for long nor the
# monitoring at all. An address that is not loopback is refused.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
command -v prometheus >/dev/null || dw_skip "prometheus is not installed (Debian's prometheus)"

tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
cfg="$tmp/driftwatch.yaml"
pid=
ppid_=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$ppid_" ] && kill -9 "$ppid_" 2>/dev/null
	[ -n "${slow:-}" ] && kill -9 "$slow" 2>/dev/null
	dw_docker_rm dwmet-a dwmet-b
	rm -rf "$tmp"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
pport=$((port + 1))

# Not loopback, not a socket path: refused at start, said.
mkdir -m 1777 "$tmp/open"
for bad in 0.0.0.0:$port 10.1.2.3:$port "[::ffff:10.0.0.1]:$port" unix:relative/path "127.0.0.1" \
	127.0.0.1:0 127.0.0.1:65536 "127.0.0.1: $port" "unix:$tmp/open/m.sock"; do
	printf 'signing_key: ""\nmetrics_listen: "%s"\n' "$bad" >"$tmp/bad.yaml"
	timeout 20 "$DWD" --foreground --config "$tmp/bad.yaml" --db "$tmp/bad.db" --no-mounts >"$tmp/bad.out" 2>&1
	rc=$?
	[ $rc = 1 ] && grep -q "metrics_listen" "$tmp/bad.out" && pass "metrics_listen $bad: refused, said" ||
		fail "metrics_listen $bad: rc $rc $(tail -2 "$tmp/bad.out")"
done

dw_docker_rm dwmet-a dwmet-b
docker run -d --network none --name dwmet-a dwtest:busybox sh -c 'echo x >/tmp/a; sleep 3600' >/dev/null
docker run -d --network none --name dwmet-b dwtest:busybox sleep 3600 >/dev/null
printf 'debounce_ms: 20\nsigning_key: ""\nmetrics_listen: "127.0.0.1:%s"\n' "$port" >"$cfg"
dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
m() { curl -s --max-time 10 "http://127.0.0.1:$port/metrics"; }
dw_wait 10 sh -c "curl -s http://127.0.0.1:$port/metrics | grep -q '^driftwatch_containers{mode=\"inotify\"} 2$'" &&
	pass "GET /metrics: two containers watched" || fail "metrics: $(m | grep -v '^#' | head -20)"
m >"$tmp/m1"
grep -q '^# TYPE driftwatch_rescan_duration_seconds histogram$' "$tmp/m1" &&
	grep -q '^driftwatch_rescan_duration_seconds_bucket{le="+Inf"} [1-9]' "$tmp/m1" &&
	grep -q '^driftwatch_coverage{facet="exec",state="monitored"} 2$' "$tmp/m1" &&
	pass "a rescan histogram, coverage by facet" || fail "m1: $(grep -v '^#' "$tmp/m1" | head -30)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other")" = 404 ] &&
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")" = 405 ] &&
	pass "another path: 404; another method: 405" || fail "404/405"

# 40 clients that connect and say nothing, and one that drips a byte
# every half second: a scrape meanwhile still answers at once.
for i in $(seq 1 40); do
	exec {fdv}<>"/dev/tcp/127.0.0.1/$port"
	eval "exec 20$((i % 10))>&$fdv" 2>/dev/null
done
(exec 9<>"/dev/tcp/127.0.0.1/$port"; for i in $(seq 1 20); do printf G >&9; sleep 0.5; done) 2>/dev/null &
slow=$!
sleep 0.3
t0=${EPOCHREALTIME//[!0-9]/}
m >"$tmp/m3"
t1=${EPOCHREALTIME//[!0-9]/}
[ -s "$tmp/m3" ] && [ $(((t1 - t0) / 1000)) -lt 2500 ] &&
	pass "40 silent clients and a dripping one: a scrape answered in $(((t1 - t0) / 1000)) ms" ||
	fail "scrape among hostile clients: $(((t1 - t0) / 1000)) ms, $(wc -c <"$tmp/m3") bytes"

# A client that connects and says nothing, then one that never stops
# writing: each dropped within seconds, and the monitoring goes on.
exec 7<>"/dev/tcp/127.0.0.1/$port"
docker exec dwmet-b sh -c 'echo y >/tmp/b'
t0=${EPOCHREALTIME//[!0-9]/}
m >"$tmp/m2"
t1=${EPOCHREALTIME//[!0-9]/}
exec 7<&-
[ -s "$tmp/m2" ] && [ $(((t1 - t0) / 1000)) -lt 8000 ] &&
	pass "a silent client holds the endpoint for at most its timeout ($(((t1 - t0) / 1000)) ms)" ||
	fail "after a silent client: $(((t1 - t0) / 1000)) ms, $(wc -c <"$tmp/m2") bytes"
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM changes WHERE CAST(path AS TEXT)='/tmp/b'\")\" = 1 ]" &&
	pass "the monitoring went on meanwhile" || fail "change not recorded while a client hung"
code=$(head -c 100000 /dev/zero | tr '\0' 'a' | curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	-H "X-Big: $(head -c 20000 /dev/zero | tr '\0' 'b')" "http://127.0.0.1:$port/metrics")
[ "$code" = 431 ] || [ "$code" = 000 ] && pass "a huge request: refused ($code)" || fail "huge request: $code"
m | grep -q '^driftwatch_up 1$' && pass "and the endpoint answers after" || fail "endpoint dead after hostile clients"

# Debian's prometheus scrapes it (loopback only); its values against the store.
cat >"$tmp/prom.yml" <<EOF2
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: driftwatch
    static_configs:
      - targets: ["127.0.0.1:$port"]
EOF2
prometheus --config.file="$tmp/prom.yml" --storage.tsdb.path="$tmp/prom" \
	--web.listen-address="127.0.0.1:$pport" >"$tmp/prom.log" 2>&1 &
ppid_=$!
q() { curl -s -G --max-time 5 "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'; }
dw_wait 30 sh -c "[ \"\$(curl -s 'http://127.0.0.1:$pport/api/v1/query?query=up' | jq -r '.data.result[0].value[1]')\" = 1 ]" &&
	pass "prometheus scrapes driftwatchd (up 1)" || fail "prometheus: $(tail -5 "$tmp/prom.log")"
sleep 3
events=$(sqlite3 -readonly "$db" "SELECT count(*) FROM events")
containers=$(sqlite3 -readonly "$db" "SELECT count(*) FROM containers WHERE state = 'running'")
got_e=$(q 'sum(driftwatch_events_total)')
got_c=$(q 'sum(driftwatch_containers)')
[ "$got_e" = "$events" ] && [ "$got_c" = "$containers" ] &&
	pass "prometheus's values are the store's: $events events, $containers containers" ||
	fail "prometheus: events $got_e (store $events), containers $got_c (store $containers): $(curl -s -G "http://127.0.0.1:$pport/api/v1/query" --data-urlencode 'query=sum(driftwatch_events_total)') $(curl -s http://127.0.0.1:$pport/api/v1/targets | jq -c '.data.activeTargets[] | {health, lastError, scrapeUrl}') $(grep -i 'warn\|err' "$tmp/prom.log" | tail -3)"
[ "$(q 'driftwatch_exec_marked')" = 2 ] && pass "exec marked: 2" || fail "exec marked: $(q driftwatch_exec_marked)"
[ "$(q 'driftwatch_writer_watching')" = 1 ] && [ "$(q 'driftwatch_writer_noted_total > 0')" -gt 0 ] &&
	pass "writer attribution: watching, changes noted" ||
	fail "writer: $(q driftwatch_writer_watching) $(q driftwatch_writer_noted_total)"
kill "$ppid_"; wait "$ppid_" 2>/dev/null; ppid_=
# Stopping is not held by a client that drips.
(exec 9<>"/dev/tcp/127.0.0.1/$port"; for i in $(seq 1 40); do printf G >&9; sleep 0.5; done) 2>/dev/null &
slow=$!
sleep 0.5
t0=${EPOCHREALTIME//[!0-9]/}
kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
t1=${EPOCHREALTIME//[!0-9]/}
[ $(((t1 - t0) / 1000)) -lt 5000 ] && pass "SIGTERM with a dripping client: stopped in $(((t1 - t0) / 1000)) ms" ||
	fail "stop took $(((t1 - t0) / 1000)) ms"
kill "$slow" 2>/dev/null; slow=

# A unix socket, mode 0660, removed at exit.
printf 'debounce_ms: 20\nsigning_key: ""\nmetrics_listen: "unix:%s/m.sock"\n' "$tmp" >"$cfg"
dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start (unix)"
dw_wait 10 sh -c "curl -s --unix-socket '$tmp/m.sock' http://x/metrics | grep -q '^driftwatch_up 1$'" &&
	[ "$(stat -c %a "$tmp/m.sock")" = 660 ] && pass "unix:PATH: served, mode 0660" ||
	fail "unix socket: $(stat -c %a "$tmp/m.sock" 2>&1)"
kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
[ ! -e "$tmp/m.sock" ] && pass "the socket removed at exit" || fail "socket left"
finish
