#!/bin/bash
# Benchmark: `driftwatch verify --store` on a store of ROWS chained events
# over 50 containers (written by tests/tools/store_fill through the
# store's own code, as driftwatchd writes them), against reading the same
# rows in the same order with sqlite3 (the baseline, in the same run, its
# output to a file; the page cache warm for both). Prints both times, the
# ratio, and the write rate of the chained rows.
#   DW_BUILD=build tests/bench/verify_bench.sh [ROWS] [RUNS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${DW_BUILD:-$here/../../build}" && pwd)
rows=${1:-1000000}
runs=${2:-3}
tmp=$(mktemp -d /var/tmp/dwbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/driftwatch.db"

t0=$EPOCHREALTIME
"$build/tests/store_fill" "$db" "$rows" 50
t1=$EPOCHREALTIME
fill=$(echo "$t1 - $t0" | bc -l)
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cat "$db" >/dev/null

base=() ver=()
for _ in $(seq 1 "$runs"); do
	t0=$EPOCHREALTIME
	sqlite3 -readonly "$db" "SELECT container_id, id, chain_seq, chain_prev,
		chain_hash, time, path, kind, source, time_us, severity, sha256
		FROM events ORDER BY CAST(container_id AS BLOB), id" >"$tmp/base.out"
	t1=$EPOCHREALTIME
	"$build/driftwatch" verify --store --db "$db" --allow-unsigned >"$tmp/verify.out"
	t2=$EPOCHREALTIME
	base+=("$(echo "$t1 - $t0" | bc -l)")
	ver+=("$(echo "$t2 - $t1" | bc -l)")
done
med() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
b=$(med "${base[@]}")
v=$(med "${ver[@]}")
head -1 "$tmp/verify.out"
printf 'rows:                        %d events, 50 chains\n' "$rows"
printf 'chained writes:              %.0f rows/s (%.2f s)\n' "$(echo "$rows / $fill" | bc -l)" "$fill"
printf 'sqlite3 reading them (base): %.2f s\n' "$b"
printf 'verify --store:              %.2f s (%.0f rows/s)\n' "$v" "$(echo "$rows / $v" | bc -l)"
printf 'verify / base:               %.2f\n' "$(echo "$v / $b" | bc -l)"
