#!/bin/bash
# Benchmark: `driftwatch commit` (full archive and --layer-only) against
# `docker commit` + `docker save` and against `tar -cf` of the upper dir,
# on a container with 100,000 new files (~100 MB) in 200 dirs. Medians of
# RUNS, all measured in this one run. Root; starts the test dockerd.
#   DW_BUILD=build tests/bench/commit_bench.sh [RUNS]
# DW_BENCH_TMPFS=1 puts Docker's data and the outputs on tmpfs (a fast
# disk: the fixed costs weigh more when tar is fast); it starts its own
# dockerd, so stop the test one first.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_BUILD=${DW_BUILD:-$here/../../build}
DW_BUILD=$(cd "$DW_BUILD" && pwd)
. "$here/../lib/common.sh"
runs=${1:-3}
if [ -n "${DW_BENCH_TMPFS:-}" ]; then
	if [ -r "$DW_DOCKER_ENV" ]; then
		echo "DW_BENCH_TMPFS: stop the test dockerd first" >&2
		exit 1
	fi
	export DW_DOCKER_TMPFS=3g
fi
dw_bench_docker
out=$(mktemp -d /var/tmp/dwcommit.XXXXXX)
[ -n "${DW_BENCH_TMPFS:-}" ] && mount -t tmpfs -o size=3g dwcommit "$out"
cleanup() {
	docker rm -f dwcb >/dev/null 2>&1
	docker rmi -f dwcb:img >/dev/null 2>&1
	[ -n "${DW_BENCH_TMPFS:-}" ] && umount "$out"
	rm -rf "$out"
	dw_bench_docker_done
}
trap cleanup EXIT
docker rm -f dwcb >/dev/null 2>&1
docker run -d --network none --name dwcb dwtest:busybox sh -c '
	head -c 1000 /dev/urandom >/tmp/blob
	d=1
	while [ $d -le 200 ]; do
		mkdir -p /bench/d$d && cd /bench/d$d
		for f in $(seq 1 500); do cp /tmp/blob f$f; done
		d=$((d + 1))
	done
	rm /tmp/blob; sleep 3600' >/dev/null
for _ in $(seq 1 600); do
	[ "$(find "$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' dwcb)" -type f | wc -l)" -ge 100000 ] && break
	sleep 1
done
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' dwcb)
echo "upper dir: $(find "$upper" -type f | wc -l) files, $(du -sm "$upper" | cut -f1) MB on $(stat -f -c %T "$upper")"

. "$here/timing.sh"
commit_save() {
	docker commit dwcb dwcb:img >/dev/null && docker save -o "$out/save.tar" dwcb:img
	docker rmi -f dwcb:img >/dev/null
}
dw_full() { rm -f "$out"/dw.tar*; "$DW" commit -o "$out/dw.tar" --db "$out/db" dwcb; }
dw_layer() { rm -f "$out"/dwl.tar*; "$DW" commit --layer-only -o "$out/dwl.tar" --db "$out/db" dwcb; }
tar_upper() { tar -C "$upper" -cf "$out/plain.tar" .; }
tf=$(for _ in $(seq 1 "$runs"); do time_ms tar_upper; done | median)
df=$(for _ in $(seq 1 "$runs"); do time_ms dw_full; done | median)
dl=$(for _ in $(seq 1 "$runs"); do time_ms dw_layer; done | median)
dc=$(for _ in $(seq 1 "$runs"); do time_ms commit_save; done | median)
"$DW" verify "$out/dw.tar" >/dev/null && echo "archive verifies ($(du -m "$out/dw.tar" | cut -f1) MB)"
awk -v df="$df" -v dl="$dl" -v dc="$dc" -v tf="$tf" 'BEGIN {
	printf "driftwatch commit (image):    %6d ms\n", df
	printf "driftwatch commit --layer-only: %4d ms\n", dl
	printf "docker commit + docker save:  %6d ms\n", dc
	printf "tar -cf UPPER:                %6d ms\n", tf
	printf "docker / driftwatch: %.1fx (target >= 10x)\n", dc / df
	printf "layer-only / tar: %.2fx (target <= 1.5x); image / tar: %.2fx (target <= 2x)\n", dl / tf, df / tf
}'
