#!/bin/bash
# Benchmark of the git source, on a repository built here with
# git fast-import: COMMITS commits (default 30000) over 2000 files of
# source text (FILE_KB KiB each, default 8; one file rewritten per commit),
# real-format tokens planted every 1000 commits. FILE_KB=64 with 35000
# commits gives 2.4 GB (2.2 GiB) inflated, the size of docker/cli's
# history, for the memory target. Prints, measured in this one run:
#  - `driftwatch scan --git` (all cores) against
#    `git cat-file --batch-all-objects --batch >/dev/null`, the cost of
#    just inflating every object (median of RUNS);
#  - the pre-commit hook's median latency with 5 staged files (21 runs).
#   DW_BUILD=build tests/bench/git_bench.sh [COMMITS] [RUNS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${DW_BUILD:-$here/../../build}" && pwd)
commits=${1:-30000}
runs=${2:-3}
file_bytes=$((${FILE_KB:-8} * 1024))
G="$build/tests/gentoken"
tmp=$(mktemp -d /var/tmp/dwgit.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL="$tmp/gitconfig" GIT_CONFIG_NOSYSTEM=1
git config --global user.email bench@example.org
git config --global user.name Bench

find /usr/include -name '*.h' -type f -print0 | sort -z | xargs -0 cat 2>/dev/null |
	head -c 4000000 >"$tmp/text"
for i in $(seq 1 $((commits / 1000))); do $G github "b$i"; done >"$tmp/tokens"
git init -q -b main "$tmp/repo"
LC_ALL=C awk -v n="$commits" -v fb="$file_bytes" -v textfile="$tmp/text" -v tokfile="$tmp/tokens" 'BEGIN {
	RS = "^$"; getline text < textfile; RS = "\n"
	while ((getline t < tokfile) > 0) tok[++ntok] = t
	tl = length(text)
	for (c = 1; c <= n; c++) {
		f = c % 2000
		off = (c * 7919) % (tl - fb - 1000) + 1
		body = substr(text, off, fb) "\nrev " c "\n"
		if (c % 1000 == 0) body = body "token = " tok[c / 1000] "\n"
		msg = "change " c
		printf "commit refs/heads/main\ncommitter Bench <bench@example.org> %d +0000\n", 1700000000 + c
		printf "data %d\n%s\n", length(msg), msg
		printf "M 100644 inline src/d%d/f%d.h\ndata %d\n%s\n", f % 40, f, length(body), body
	}
}' | git -C "$tmp/repo" fast-import --quiet
git -C "$tmp/repo" repack -adq
git -C "$tmp/repo" checkout -q main
objs=$(git -C "$tmp/repo" count-objects -v | awk '/^in-pack/ { print $2 }')
size=$(git -C "$tmp/repo" cat-file --batch-all-objects --batch-check='%(objectsize)' | awk '{ s += $1 } END { printf "%.0f\n", s }')
echo "repository: $commits commits, $objs objects, $((size >> 20)) MiB inflated, $(nproc) cores"

. "$here/timing.sh"
bench_out=$tmp/out
cd "$tmp/repo"
found=$("$build/driftwatch" scan --git --format jsonl . | jq -r .rule | grep -c github-token || true)
echo "tokens found in history: $found of $((commits / 1000)) planted"
dw=$(for _ in $(seq 1 "$runs"); do time_ms "$build/driftwatch" scan --git .; done | median)
cf=$(for _ in $(seq 1 "$runs"); do time_ms git cat-file --batch-all-objects --batch; done | median)
# The same objects in pack order: the least inflating can cost.
cu=$(for _ in $(seq 1 "$runs"); do time_ms git cat-file --batch-all-objects --unordered --batch; done | median)
/usr/bin/time -f '%M' -o "$tmp/rss" "$build/driftwatch" scan --git . >/dev/null || true

# pre-commit latency: 5 files changed and staged, median of 21 runs.
for i in 1 2 3 4 5; do echo "edit $i" >>"src/d$i/f$i.h"; git add "src/d$i/f$i.h"; done
pc=$(for _ in $(seq 1 21); do time_us "$build/driftwatch" hook pre-commit; done | median)
awk -v dw="$dw" -v cf="$cf" -v cu="$cu" -v pc="$pc" -v rss="$(tail -1 "$tmp/rss")" 'BEGIN {
	printf "driftwatch scan --git:          %6d ms\n", dw
	printf "git cat-file --batch-all-objects: %4d ms\n", cf
	printf "  ... with --unordered:         %6d ms\n", cu
	printf "ratio: %.2fx (target <= 1.5x); to --unordered %.2fx; peak RSS %d KiB\n", dw / cf, dw / cu, rss
	printf "pre-commit, 5 staged files: median %.1f ms (target < 50 ms)\n", pc / 1000
}'
