#!/bin/bash
# Benchmark: what writer attribution costs the host. Its fanotify mark
# covers the whole filesystem that holds the containers' upper dirs, so
# every write on the host's filesystem makes an event for driftwatchd to
# read and drop. A workload outside containers on that filesystem
# (untar 100,000 small files, then delete them) is timed with
# driftwatchd watching one container, writer_attribution off and on, in
# alternate runs (median of N each, the page cache warm for both);
# prints the ratios of wall time and of the workload's own CPU time
# (target: at most 1.05; the kernel makes each event in the writer's
# context, so that is where the host pays; wall time on this machine's
# disk varies by 10 % between runs), driftwatchd's CPU time, and how
# many events the group read. Root; starts the test dockerd when needed.
#   DW_BUILD=build tests/bench/writer_bench.sh [N] [FILES]
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_BUILD=${DW_BUILD:-$here/../../build}
DW_BUILD=$(cd "$DW_BUILD" && pwd)
. "$here/../lib/common.sh"
. "$here/timing.sh"
n=${1:-5}
files=${2:-100000}
dw_bench_docker
# On the filesystem of the test dockerd's layers (the one marked).
tmp=$(mktemp -d "$(dirname "$DW_DOCKER_ROOT")/dwbw.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	/usr/bin/docker rm -f dwbwriter >/dev/null 2>&1
	rm -rf "$tmp"
	dw_bench_docker_done
}
trap cleanup EXIT
[ "$(stat -c %d "$tmp")" = "$(stat -c %d "$DW_DOCKER_ROOT")" ] ||
	{ echo "$tmp is not on the filesystem of $DW_DOCKER_ROOT"; exit 1; }
docker rm -f dwbwriter >/dev/null 2>&1
docker run -d --network none --name dwbwriter dwtest:busybox sleep 3600 >/dev/null
# The tree: FILES files of 100 bytes in 100 directories.
mkdir -p "$tmp/src"
(cd "$tmp/src" && for d in $(seq 1 100); do
	mkdir "d$d"
	for f in $(seq 1 $((files / 100))); do printf '%100s' "$f" >"d$d/f$f"; done
done)
tar -C "$tmp/src" -cf "$tmp/tree.tar" .
rm -rf "$tmp/src"
work() { mkdir "$tmp/x" && tar -C "$tmp/x" -xf "$tmp/tree.tar" && rm -rf "$tmp/x"; }
work # warm: the tar file and the directories' blocks
hz=$(getconf CLK_TCK)
# dcpu: driftwatchd's CPU time so far (ms).
dcpu() { awk -v hz="$hz" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$pid/stat"; }
# measure SIDE: one timed run: its wall time, the workload's own CPU time
# (user + system: the kernel's work for each event is the writer's) and
# driftwatchd's, in ms, appended to $tmp/SIDE.
measure() {
	local TIMEFORMAT='%3R %3U %3S' d0 d1 r u sy
	d0=$(dcpu)
	read -r r u sy < <({ time work; } 2>&1)
	d1=$(dcpu)
	echo "$r $u $sy $((d1 - d0))" | awk '{ printf "%d %d %d\n", $1 * 1000, ($2 + $3) * 1000, $4 }' >>"$tmp/$1"
}

# daemon on|off: driftwatchd watching the container, attribution on|off.
daemon() {
	[ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null; pid=; }
	rm -f "$tmp"/dw.db*
	printf 'signing_key: ""\nwriter_attribution: %s\n' \
		"$([ "$1" = on ] && echo true || echo false)" >"$tmp/cfg.yaml"
	dw_daemon_start "$tmp/cfg.yaml" "$tmp/dw.db" "$tmp/log" || exit 1
	want=$([ "$1" = on ] && echo monitored || echo unmonitored)
	dw_wait 10 sh -c "sqlite3 -readonly '$tmp/dw.db' \"SELECT state FROM coverage WHERE facet='writer'\" | grep -qx $want" ||
		{ echo "writer facet not $want:"; tail -5 "$tmp/log"; exit 1; }
}
: >"$tmp/off"
: >"$tmp/on"
for i in $(seq 1 "$n"); do
	daemon off
	measure off
	daemon on
	measure on
	sleep 6 # the status is rewritten at least every 5 s
	ev=$("$DW" status --db "$tmp/dw.db" --format json | jq -r '.writer.events')
done
col() { awk -v c="$2" '{ print $c }' "$tmp/$1" | median; }
echo "untar and delete $files files on the layers' filesystem, median of $n (ms):"
printf '  %-36s %8s %13s %13s\n' "" wall "workload CPU" "driftwatchd CPU"
for side in off on; do
	printf '  %-36s %8d %13d %13d\n' "driftwatchd, writer_attribution $side" \
		"$(col $side 1)" "$(col $side 2)" "$(col $side 3)"
done
awk -v a="$(col on 1)" -v b="$(col off 1)" -v c="$(col on 2)" -v d="$(col off 2)" 'BEGIN {
	printf "  ratio on/off: wall %.3f, the workload'"'"'s CPU %.3f (target: at most 1.05)\n", a / b, c / d }'
echo "  events read by the attribution group in the last run: $ev"
