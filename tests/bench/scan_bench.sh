#!/bin/bash
# Benchmark: `driftwatch scan` with every rule against one regex in grep,
# on a generated corpus of about SIZE_MB (default 500) MB: real source text
# (the C headers under /usr/include, repeated) with real-format tokens
# planted every 4 MiB. Prints MB/s, the ratio to
#   grep -cE 'SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}'
# on the same file in the same run (median of RUNS), and peak RSS.
#   DW_BUILD=build tests/bench/scan_bench.sh [SIZE_MB] [RUNS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${DW_BUILD:-$here/../../build}" && pwd)
size_mb=${1:-500}
runs=${2:-3}
G="$build/tests/gentoken"
tmp=$(mktemp -d /var/tmp/dwbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

find /usr/include -name '*.h' -type f -print0 | sort -z | xargs -0 cat >"$tmp/base" 2>/dev/null
corpus="$tmp/corpus.txt"
planted=0
while [ "$(stat -c %s "$corpus" 2>/dev/null || echo 0)" -lt $((size_mb << 20)) ]; do
	split -b 4M -a 4 "$tmp/base" "$tmp/piece."
	for p in "$tmp"/piece.*; do
		cat "$p" >>"$corpus"
		planted=$((planted + 1))
		printf '\n# deploy: docker swarm join --token %s\n' \
			"$($G swarm-worker "p$planted")" >>"$corpus"
		[ "$(stat -c %s "$corpus")" -ge $((size_mb << 20)) ] && break
	done
	rm -f "$tmp"/piece.*
done
bytes=$(stat -c %s "$corpus")
echo "corpus: $((bytes >> 20)) MiB, $planted tokens planted"

. "$here/timing.sh"
bench_out=$tmp/out
cat "$corpus" >/dev/null	# warm the page cache
found=$("$build/driftwatch" scan --format jsonl --max-file-size 4GiB "$corpus" |
	jq -r 'select(.rule == "docker-swarm-join-token") | .line' | wc -l) || true
grepped=$(grep -cE 'SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}' "$corpus")
echo "join tokens: driftwatch $found, grep $grepped (planted $planted)"
dw=$(for _ in $(seq 1 "$runs"); do time_ms "$build/driftwatch" scan --format jsonl --max-file-size 4GiB "$corpus"; done | median)
gr=$(for _ in $(seq 1 "$runs"); do time_ms grep -cE 'SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}' "$corpus"; done | median)
/usr/bin/time -f '%M' -o "$tmp/rss" "$build/driftwatch" scan --format jsonl --max-file-size 4GiB "$corpus" >/dev/null || true
rss=$(tail -1 "$tmp/rss")
awk -v b="$bytes" -v dw="$dw" -v gr="$gr" -v rss="$rss" 'BEGIN {
	printf "driftwatch scan (all rules): %6d ms  %7.0f MB/s\n", dw, b / 1e6 / (dw / 1000)
	printf "grep -cE (one regex):        %6d ms  %7.0f MB/s\n", gr, b / 1e6 / (gr / 1000)
	printf "ratio driftwatch / grep: %.2fx (target <= 3x); target >= 1000 MB/s\n", dw / gr
	printf "peak RSS: %d KiB\n", rss
}'
