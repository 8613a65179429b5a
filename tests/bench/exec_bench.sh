#!/bin/bash
# Benchmark: what the exec watch adds to an exec in a container. Runs an
# image binary (/bin/true) N times inside a container's mount namespace
# (nsenter from the host, each run timed with bash's clock), first with no
# driftwatchd, then with driftwatchd enforcing (exec: enforce: every exec
# there is held until it answers), and prints the median and p99 of each
# and the difference (nsenter's own cost and the machine's noise are in
# both: the hold itself, which driftwatchd measures, is printed last);
# then the same for the drifted copy (/tmp/t, denied
# under enforce: the time to the denial). Root; starts the test dockerd
# when needed.
#   DW_BUILD=build tests/bench/exec_bench.sh [N]
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_BUILD=${DW_BUILD:-$here/../../build}
DW_BUILD=$(cd "$DW_BUILD" && pwd)
. "$here/../lib/common.sh"
. "$here/timing.sh"
n=${1:-1000}
dw_bench_docker
tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	/usr/bin/docker rm -f dwbexec >/dev/null 2>&1
	rm -rf "$tmp"
	dw_bench_docker_done
}
trap cleanup EXIT
docker rm -f dwbexec >/dev/null 2>&1
docker run -d --network none --name dwbexec dwtest:busybox sleep 3600 >/dev/null
docker exec dwbexec sh -c 'mkdir -p /tmp/t && cp /bin/busybox /tmp/t/true'
cpid=$(docker inspect -f '{{.State.Pid}}' dwbexec)

# runs FILE: N timed execs of FILE in the container; prints "p50 p99" (us).
runs() {
	local i
	for i in $(seq 1 "$n"); do
		time_us nsenter -t "$cpid" -m -p -- "$1"
	done >"$tmp/times"
	sort -n "$tmp/times" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)], a[int(NR * 0.99)] }'
}

# Warm: the page cache and nsenter itself.
runs /bin/true >/dev/null
read -r base50 base99 < <(runs /bin/true)
read -r dbase50 dbase99 < <(runs /tmp/t/true)
printf 'exec: enforce\nsigning_key: ""\n' >"$tmp/cfg.yaml"
dw_daemon_start "$tmp/cfg.yaml" "$db" "$tmp/log" || exit 1
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT state FROM coverage WHERE facet='exec'\")\" = monitored ]" ||
	{ echo "the container's execs are not watched:"; tail -5 "$tmp/log"; exit 1; }
read -r with50 with99 < <(runs /bin/true)
read -r dwith50 dwith99 < <(runs /tmp/t/true)
sleep 1.5 # the status is written at most once a second
"$DW" status --db "$db" --format json >"$tmp/status.json"
held=$(jq '.exec.held' "$tmp/status.json")
echo "execs of an image binary in a container, $n each (microseconds, nsenter included):"
printf '  %-28s p50 %6d  p99 %6d\n' "no driftwatchd" "$base50" "$base99" \
	"driftwatchd, exec: enforce" "$with50" "$with99"
printf '  %-28s p50 %6d  p99 %6d   (target: < 1000 at p50)\n' "added" \
	$((with50 - base50)) $((with99 - base99))
echo "a drifted copy (/tmp/t/true): runs without driftwatchd, denied with it:"
printf '  %-28s p50 %6d  p99 %6d\n' "no driftwatchd (runs)" "$dbase50" "$dbase99" \
	"enforce (denied)" "$dwith50" "$dwith99"
echo "execs held and answered by driftwatchd: $held; the hold itself (event read to answer, last 1024):"
jq -r '.exec | "  p50 \(.hold_p50_us) us, p99 \(.hold_p99_us) us, max \(.hold_max_us) us"' "$tmp/status.json"
