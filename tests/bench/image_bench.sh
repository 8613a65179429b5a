#!/bin/bash
# Benchmark: `driftwatch scan --image` of an image Docker has (its
# archive fetched through GET /images/{name}/get, then read) against
# `driftwatch scan` of the same image's layer dirs (the same files read
# in place: what reading overlay2 layers directly would cost), and the
# two halves apart: `docker save` alone, `scan --image` of the saved
# archive. The image: this machine's /usr/include and /usr/lib/python3
# (text, ~15,000 files) imported, plus a layer that deletes a part of
# it. Medians of RUNS, all measured in this one run, page cache warm.
# Root; starts the test dockerd.
#   DW_BUILD=build tests/bench/image_bench.sh [RUNS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_BUILD=${DW_BUILD:-$here/../../build}
DW_BUILD=$(cd "$DW_BUILD" && pwd)
. "$here/../lib/common.sh"
runs=${1:-3}
dw_bench_docker
out=$(mktemp -d /var/tmp/dwimage.XXXXXX)
cleanup() {
	docker rm -f dwib >/dev/null 2>&1
	docker rmi -f dwib:img dwib:base >/dev/null 2>&1
	rm -rf "$out"
	dw_bench_docker_done
}
trap cleanup EXIT
tar -C / -cf - usr/include usr/lib/python3 2>/dev/null | docker import - dwib:base >/dev/null || exit 1
docker rm -f dwib >/dev/null 2>&1
# The second layer, made in the container's upper dir (the imported tree
# has no shell): a whiteout of /usr/include/linux.
docker create --network none --name dwib dwib:base x >/dev/null
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' dwib)
mkdir -p "$upper/usr/include"
mknod "$upper/usr/include/linux" c 0 0
docker commit dwib dwib:img >/dev/null
docker rm -f dwib >/dev/null
dirs=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}:{{.GraphDriver.Data.LowerDir}}' dwib:img | tr : ' ')
echo "image: $(docker inspect -f '{{len .RootFS.Layers}} layers, {{.Size}} bytes' dwib:img); layer dirs: $dirs" | sed 's/ \/var[^ ]*//g'

. "$here/timing.sh"
bench_out="$out/res"
by_name() { "$DW" scan --image -f jsonl dwib:img; }
in_place() { "$DW" scan -f jsonl $dirs; }
save() { docker save -o "$out/img.tar" dwib:img; }
archive() { "$DW" scan --image -f jsonl "$out/img.tar"; }
save
# Warm: each side once.
by_name >"$out/a" 2>"$out/ae"; in_place >"$out/b" 2>"$out/be"; archive >"$out/c" 2>"$out/ce"; cp "$out"/[abc] "$out"/[abc]e /tmp/img/
echo "findings: by name $(wc -l <"$out/a"), in place $(wc -l <"$out/b"), archive $(wc -l <"$out/c")"
n=$(for _ in $(seq 1 "$runs"); do time_ms by_name; done | median)
p=$(for _ in $(seq 1 "$runs"); do time_ms in_place; done | median)
s=$(for _ in $(seq 1 "$runs"); do time_ms save; done | median)
a=$(for _ in $(seq 1 "$runs"); do time_ms archive; done | median)
awk -v n="$n" -v p="$p" -v s="$s" -v a="$a" 'BEGIN {
	printf "scan --image NAME (fetch + read): %6d ms\n", n
	printf "scan LAYER-DIRS (in place):       %6d ms\n", p
	printf "docker save alone:                %6d ms\n", s
	printf "scan --image ARCHIVE alone:       %6d ms\n", a
	printf "by name / in place: %.2fx; archive / in place: %.2fx\n", n / p, a / p
}'
