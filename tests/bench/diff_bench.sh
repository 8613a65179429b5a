#!/bin/bash
# Benchmark: `driftwatch diff` against `docker diff` and `find UPPER` on a
# container whose upper dir holds 100,000 new files in 200 dirs. Prints the
# median wall time of each (RUNS runs after a warm-up) and the ratios, all
# measured in this one run. Needs root; starts the test dockerd if needed.
#   DW_BUILD=build tests/bench/diff_bench.sh [RUNS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_BUILD=${DW_BUILD:-$here/../../build}
DW_BUILD=$(cd "$DW_BUILD" && pwd)
. "$here/../lib/common.sh"
runs=${1:-7}

dw_bench_docker
cleanup() {
	docker rm -f dwbench >/dev/null 2>&1
	dw_bench_docker_done
}
trap cleanup EXIT

docker rm -f dwbench >/dev/null 2>&1
docker run --network none --name dwbench dwtest:busybox sh -c '
	d=1
	while [ $d -le 200 ]; do
		mkdir -p /bench/d$d && cd /bench/d$d &&
		seq 1 500 | sed "s/^/file-/" | xargs touch
		d=$((d + 1))
	done' || exit 1
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' dwbench)
echo "files in upper dir: $(find "$upper" -type f | wc -l)"

. "$here/timing.sh"
# Median wall time in ms of RUNS runs of a command (output discarded).
median_ms() {
	local i
	"$@" >/dev/null 2>&1	# warm-up
	for i in $(seq 1 "$runs"); do time_us "$@"; done |
		median | awk '{ printf "%.1f", $1 / 1000 }'
}

if [ "$("$DW" diff dwbench | LC_ALL=C sort)" == "$(docker diff dwbench | LC_ALL=C sort)" ]; then
	echo "output: set-identical to docker diff ($(docker diff dwbench | wc -l) changes)"
else
	echo "output: DIFFERS from docker diff"
	exit 1
fi

dw=$(median_ms "$DW" diff dwbench)
dwj=$(median_ms "$DW" diff --format json dwbench)
dd=$(median_ms docker diff dwbench)
fd=$(median_ms find "$upper")
echo "median of $runs runs (ms):"
printf '  driftwatch diff           %8s\n' "$dw"
printf '  driftwatch diff --format json %4s\n' "$dwj"
printf '  docker diff               %8s\n' "$dd"
printf '  find UPPER                %8s\n' "$fd"
awk -v dw="$dw" -v dd="$dd" -v fd="$fd" -v dwj="$dwj" 'BEGIN {
	printf "ratios: docker diff / driftwatch = %.1fx (target >= 20x)\n", dd / dw
	printf "        driftwatch / find        = %.2fx (target <= 2x)\n", dw / fd
	printf "        driftwatch json / find   = %.2fx\n", dwj / fd
}'
