#!/bin/bash
# A container makes a 1 TiB file that is one hole. Before, a snapshot read
# and wrote every zero of it: 2 TiB written to the snapshot directory
# while the container stayed paused. Now holes are archived as sparse
# entries (GNU sparse 1.0 in pax), found with SEEK_DATA/SEEK_HOLE, never
# read; a budget bounds what one snapshot may write, and the free space
# of the output's filesystem is checked before anything is written.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
c=dwh-sparse
cleanup() {
	dw_docker_rm "$c" dwh-sparse-run
	docker rmi -f dwtest:sparse >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
dw_docker_rm "$c"
tib=1099511627776
docker run -d --network none --name "$c" dwtest:busybox sh -c \
	"dwctr sparse /tmp/huge $tib && dwctr sparse /tmp/mid 104857600 &&
	 dd if=/dev/urandom of=/tmp/dense bs=1M count=4 2>/dev/null &&
	 touch /tmp/ready && sleep 3600" >/dev/null
dw_wait 20 docker exec "$c" test -e /tmp/ready || fail "the container did not make its files"

t0=$EPOCHREALTIME
timeout 120 "$DW" commit --layer-only -o "$tmp/l.tar" --db "$db" "$c" >/dev/null 2>"$tmp/err"
rc=$?
secs=$(echo "$EPOCHREALTIME - $t0" | bc)
[ "$rc" -eq 0 ] && pass "a 1 TiB hole: captured in ${secs}s" || fail "commit rc $rc: $(cat "$tmp/err")"
size=$(stat -c %s "$tmp/l.tar" 2>/dev/null || echo 0)
[ "$size" -lt $((16 << 20)) ] && pass "the archive is $size bytes" || fail "archive is $size bytes"
tar -tvf "$tmp/l.tar" | grep -q " $tib .*tmp/huge$" && pass "tar lists tmp/huge at 1 TiB" ||
	fail "tar listing: $(tar -tvf "$tmp/l.tar" | grep huge)"
jq -e --argjson s "$tib" '.upper_entries[] | select(.path == "/tmp/huge") |
	.sparse.size == $s and (.sha256_data | startswith("sha256:"))' \
	"$tmp/l.tar.evidence.json" >/dev/null && pass "the evidence has its sparse map and data digest" ||
	fail "evidence for /tmp/huge"
"$DW" verify "$tmp/l.tar" >/dev/null && pass "it verifies" || fail "verify"
[ "$(docker inspect -f '{{.State.Paused}}' "$c")" = false ] && pass "unpaused" || fail "left paused"

# A full archive with a 100 MiB hole loads into Docker with its content.
docker exec "$c" rm /tmp/huge
"$DW" commit -o "$tmp/full.tar" --tag dwtest:sparse --db "$db" "$c" >/dev/null 2>"$tmp/err" ||
	fail "full commit: $(cat "$tmp/err")"
docker load -i "$tmp/full.tar" >/dev/null 2>&1 && pass "docker load accepts it" || fail "docker load"
out=$(docker run --rm --network none --name dwh-sparse-run dwtest:sparse sh -c 'wc -c </tmp/mid; tail -c 4 /tmp/mid')
[ "$out" = "$(printf '104857600\nend')" ] && pass "the loaded file has its size and data" ||
	fail "loaded: $out"

# The budget: 4 MiB of data against --max-size 1MiB.
"$DW" commit --layer-only --max-size 1MiB -o "$tmp/b.tar" --db "$db" "$c" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -ne 0 ] && grep -q 'more than 1048576 bytes to store' "$tmp/err" &&
	pass "over --max-size: a clear error" || fail "budget: rc $rc $(cat "$tmp/err")"
[ ! -e "$tmp/b.tar" ] && pass "and no archive that looks complete" || fail "archive left"
[ "$(docker inspect -f '{{.State.Paused}}' "$c")" = false ] && pass "unpaused after the error" ||
	fail "left paused"
finish
