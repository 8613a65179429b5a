#!/bin/bash
# Benchmark: one container whose upper dir holds DIRS x FILES drifted
# files (a build or cache container, or an attacker), an overlay mount
# driftwatchd follows from mountinfo. Prints each figure next to its
# target (the scaling issue):
#   - `driftwatch diff --upper --lower` of it, and sha256sum of its files
#     (the baseline: the first record should take ~5x their sum at most);
#   - the daemon's first full record of it;
#   - one change reaching the store: p50/p99 of 100 changes spread over
#     the tree (target p99 < 100 ms), from the file's mtime to the event;
#   - the daemon's PSS at rest (all its processes; target < 64 MB);
#   - after a restart: how long until its watches are in place (target
#     < 5 s), and whether a file written meanwhile is recorded;
#   - `driftwatch events` and `events --current` (target < 1 s each).
# Root (mount). Run it for both shapes of "big":
#   DW_BUILD=build tests/bench/big_bench.sh 1000 1000
#   DW_BUILD=build tests/bench/big_bench.sh 100000 10
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_BUILD=${DW_BUILD:-$here/../../build}
DW_BUILD=$(cd "$DW_BUILD" && pwd)
. "$here/../lib/common.sh"
. "$here/timing.sh"
dirs=${1:-1000}
files=${2:-1000}
tmp=$(mktemp -d /var/tmp/dwbig.XXXXXX)
db="$tmp/driftwatch.db"
root="$tmp/run/containerd/io.containerd.runtime.v2.task/k8s.io/big"
merged="$root/rootfs"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	umount "$merged" 2>/dev/null
	cp "$tmp/log" /tmp/big_bench.log 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/lower/etc" "$tmp/lower/usr/bin" "$root/upper" "$root/work" "$merged"
echo base >"$tmp/lower/etc/base"
printf 'building %s dirs x %s files ... ' "$dirs" "$files"
t0=${EPOCHREALTIME//[!0-9]/}
# perl (in every Debian): a process per directory would take minutes.
perl -e 'my ($u, $nd, $nf) = @ARGV;
	for my $d (1 .. $nd) {
		mkdir "$u/d$d" or die "$u/d$d: $!";
		for my $f (1 .. $nf) {
			open(my $h, ">", "$u/d$d/f$f") or die "$u/d$d/f$f: $!";
			print $h "x";
			close($h);
		}
	}' "$root/upper" "$dirs" "$files"
echo "$(((${EPOCHREALTIME//[!0-9]/} - t0) / 1000000)) s"
mount -t overlay overlay -o "lowerdir=$tmp/lower,upperdir=$root/upper,workdir=$root/work" "$merged" ||
	{ echo "cannot mount overlayfs here" >&2; exit 1; }
total=$((dirs * files + dirs))
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
row() { printf '%-46s %12s   %s\n' "$1" "$2" "$3"; }

# The baselines, page cache warm for both sides.
find "$root/upper" >/dev/null
bench_out=$tmp/diff.out time_us "$DW" diff --upper "$root/upper" --lower "$tmp/lower" >/dev/null
diff_us=$(bench_out=$tmp/diff.out time_us "$DW" diff --upper "$root/upper" --lower "$tmp/lower")
hash_us=$(bench_out=$tmp/hash.out time_us sh -c "cd '$root/upper' && find . -type f -print0 | xargs -0 sha256sum")
ndiff=$(wc -l <"$tmp/diff.out")

printf 'docker: false\n' >"$tmp/cfg.yaml"
pss_kb() {
	local p
	for p in "$pid" $(pgrep -P "$pid"); do awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"; done |
		awk '{s += $1} END {print s}'
}
status() { "$DW" status --db "$db" --format json 2>/dev/null; }
watches() { status | jq -r --arg m "$merged" '[.watched[]? | select(.name == $m) | .watches][0] // 0'; }
stored() { sqlite3 -readonly "$db" "SELECT count(*) FROM changes" 2>/dev/null || echo 0; }
start() {
	"$DWD" --foreground --config "$tmp/cfg.yaml" --db "$db" 2>>"$tmp/log" &
	pid=$!
}

t0=${EPOCHREALTIME//[!0-9]/}
start
while [ "$(stored)" -lt "$ndiff" ]; do
	kill -0 "$pid" 2>/dev/null || { echo "driftwatchd died" >&2; tail "$tmp/log" >&2; exit 1; }
	sleep 0.2
done
first_us=$((${EPOCHREALTIME//[!0-9]/} - t0))
sleep 2

# 100 changes spread over the tree, one at a time.
for i in $(seq 1 100); do
	d=$(((i * dirs + 99) / 100))
	echo "$i" >"$merged/d$d/new$i"
	for _ in $(seq 1 400); do
		[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM changes WHERE path = CAST('/d$d/new$i' AS BLOB)" 2>/dev/null)" -gt 0 ] && break
		sleep 0.01
	done
done
lat=$(sqlite3 -readonly "$db" "
	SELECT e.time_us - c.st_mtime_ns / 1000 FROM events e JOIN changes c
	ON c.container_id = e.container_id AND c.path = e.path
	WHERE e.kind = 'A' AND CAST(e.path AS TEXT) LIKE '/d%/new%' ORDER BY 1")
n=$(grep -c . <<<"$lat")
pct() { sed -n "$((($1 * n + 99) / 100))p" <<<"$lat"; }
sleep 2
rest_kb=$(pss_kb)
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")

# A restart: how long until the container is watched again, and a file
# written in the meantime is recorded all the same.
kill -TERM "$pid"
wait "$pid" 2>/dev/null
t0=${EPOCHREALTIME//[!0-9]/}
start
echo late >"$merged/d1/during-restart"
while [ "$(watches)" -lt "$dirs" ]; do
	kill -0 "$pid" 2>/dev/null || { echo "driftwatchd died" >&2; tail "$tmp/log" >&2; exit 1; }
	sleep 0.05
done
watch_us=$((${EPOCHREALTIME//[!0-9]/} - t0))
for _ in $(seq 1 600); do
	[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM changes WHERE CAST(path AS TEXT) = '/d1/during-restart'")" -gt 0 ] && break
	sleep 0.1
done
during=$(sqlite3 -readonly "$db" "SELECT count(*) FROM changes WHERE CAST(path AS TEXT) = '/d1/during-restart'")
ready_us=$((${EPOCHREALTIME//[!0-9]/} - t0))
restart_kb=$(pss_kb)

# The history: every event, and the current set.
"$DW" events --db "$db" >"$tmp/ev.out" 2>&1
ev_us=$(bench_out=$tmp/ev.out time_us "$DW" events --db "$db")
cid=$(sqlite3 -readonly "$db" "SELECT id FROM containers LIMIT 1")
cur_us=$(bench_out=$tmp/cur.out time_us "$DW" events --db "$db" --container "$cid" --current)
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=

echo
row "container" "$dirs x $files" "$total paths; diff lists $ndiff"
row "driftwatch diff --upper/--lower" "$(ms "$diff_us") ms" "baseline"
row "sha256sum of its files" "$(ms "$hash_us") ms" "baseline (I/O of hashing)"
row "first full record" "$(ms "$first_us") ms" \
	"target ~5x (diff + hash): $(awk -v a="$first_us" -v b="$diff_us" -v c="$hash_us" 'BEGIN {printf "%.1fx", a / (b + c)}')"
row "one change -> store, p50 ($n changes)" "$(ms "$(pct 50)") ms" ""
row "one change -> store, p99" "$(ms "$(pct 99)") ms" "target < 100 ms"
row "PSS at rest, all processes" "$((rest_kb / 1024)) MB" "target < 64 MB (daemon peak RSS $((hwm / 1024)) MB)"
row "restart: watches in place" "$(ms "$watch_us") ms" "target < 5000 ms"
row "restart: file written meanwhile stored" "$(ms "$ready_us") ms" "$([ "$during" = 1 ] && echo recorded || echo LOST)"
row "PSS after restart" "$((restart_kb / 1024)) MB" "target < 64 MB"
row "driftwatch events ($(wc -l <"$tmp/ev.out") lines)" "$(ms "$ev_us") ms" "target < 1000 ms"
row "driftwatch events --current ($(wc -l <"$tmp/cur.out"))" "$(ms "$cur_us") ms" "target < 1000 ms"
