#!/bin/bash
# Benchmark: driftwatchd with 50 containers. Prints the daemon's CPU and
# RSS while idle and while 10 of the containers each write a new file
# every 20 ms, and the change-to-store latency of those files (from the
# file's mtime to the event's time in the store: p50, p99, max). For
# scale, the same-run cost of one `docker diff` of such a container (what
# a poller pays per look). Root; starts the test dockerd when needed.
#   DW_BUILD=build tests/bench/daemon_bench.sh [SECONDS]
#   (DW_BENCH_HUNG_SINK=1: with a webhook sink that never answers)
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_BUILD=${DW_BUILD:-$here/../../build}
DW_BUILD=$(cd "$DW_BUILD" && pwd)
. "$here/../lib/common.sh"
. "$here/timing.sh"
secs=${1:-20}
dw_bench_docker
tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	docker ps -aq --filter label=dwbench | xargs -r /usr/bin/docker rm -f >/dev/null 2>&1
	rm -rf "$tmp"
	dw_bench_docker_done
}
trap cleanup EXIT
docker ps -aq --filter label=dwbench | xargs -r /usr/bin/docker rm -f >/dev/null 2>&1

for i in $(seq 1 50); do
	docker run -d --network none --label dwbench=1 --name "dwbn$i" dwtest:busybox sleep 3600 >/dev/null
done
printf '%s\n' "${DW_BENCH_CONFIG:-}" >"$tmp/cfg.yaml"
# DW_BENCH_HUNG_SINK=1: every alert also goes to a sink that accepts and
# never answers (the monitoring loop must not wait on it).
if [ -n "${DW_BENCH_HUNG_SINK:-}" ]; then
	hport=$((20000 + RANDOM % 20000))
	(while :; do busybox nc -l -p "$hport" >/dev/null 2>&1; done) &
	hung=$!
	trap 'kill $hung 2>/dev/null; cleanup' EXIT
	printf 'webhooks: ["http://127.0.0.1:%s/hook"]\n' "$hport" >>"$tmp/cfg.yaml"
	echo "alerts also go to a sink that never answers (127.0.0.1:$hport)"
fi
"$DWD" --foreground --config "$tmp/cfg.yaml" --db "$db" --no-mounts 2>"$tmp/log" &
pid=$!
for _ in $(seq 1 100); do
	[ "$("$DW" status --db "$db" --format json 2>/dev/null | jq .containers)" = 50 ] && break
	sleep 0.2
done
hz=$(getconf CLK_TCK)
# Both processes: driftwatchd and its scanner (its children). Memory as
# PSS, so the pages the scanner shares with the daemon (the compiled
# rules, forked) are counted once; RSS summed would count them twice.
procs() { echo "$pid" $(pgrep -P "$pid"); }
cpu_ticks() { local p; for p in $(procs); do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
rss_kb() { local p; for p in $(procs); do awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"; done | awk '{s += $1} END {print s}'; }
measure() { # seconds -> "cpu% rss_kB"
	local t0 t1
	t0=$(cpu_ticks)
	sleep "$1"
	t1=$(cpu_ticks)
	echo "$(awk -v a="$t0" -v b="$t1" -v s="$1" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) * 100 / hz / s}') $(rss_kb)"
}
sleep 2
read -r idle_cpu idle_rss <<<"$(measure 10)"

for i in $(seq 1 10); do
	docker exec -d "dwbn$i" sh -c 'mkdir -p /data; i=0; while :; do echo x >/data/f$i; i=$((i+1)); sleep 0.02; done'
done
read -r load_cpu load_rss <<<"$(measure "$secs")"
for i in $(seq 1 10); do docker exec "dwbn$i" sh -c 'pkill sh' >/dev/null 2>&1; done
sleep 1
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
lat=$(sqlite3 -readonly "$db" "
	SELECT e.time_us - c.st_mtime_ns / 1000 FROM events e JOIN changes c
	ON c.container_id = e.container_id AND c.path = e.path
	WHERE e.kind = 'A' AND c.type = 'file' AND e.source = 'watch'
	AND CAST(e.path AS TEXT) LIKE '/data/f%' ORDER BY 1")
n=$(grep -c . <<<"$lat")
pct() { sed -n "$(( ($1 * n + 99) / 100 ))p" <<<"$lat"; }
p50=$(pct 50); p99=$(pct 99); max=$(tail -1 <<<"$lat")
dd_ms=$(time_ms docker diff dwbn1)

printf 'containers watched:        50 (10 writing a file every 20 ms for %ss)\n' "$secs"
printf 'files stored:              %s\n' "$n"
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
printf 'latency file->store:       p50 %s ms, p99 %s ms, max %s ms\n' \
	"$(ms "$p50")" "$(ms "$p99")" "$(ms "$max")"
printf 'one docker diff (same run): %s ms  (p99 / docker diff = %s)\n' "$dd_ms" \
	"$(awk -v a="$p99" -v b="$dd_ms" 'BEGIN {printf "%.2f", a / 1000 / b}')"
printf 'daemon+scanner idle:       CPU %s%%, PSS %s kB (%s processes)\n' "$idle_cpu" "$idle_rss" "$(procs | wc -w)"
printf 'daemon+scanner under load: CPU %s%%, PSS %s kB (daemon peak RSS %s kB)\n' "$load_cpu" "$load_rss" "$hwm"
