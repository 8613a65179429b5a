#!/bin/bash
# What a snapshot keeps of what no file holds. Before, an executable that
# a process ran and then deleted, or ran from a memfd, existed nowhere
# after the incident, and the processes' open files, maps, namespaces
# and capabilities were not kept. Now each process has them (its
# environment by name only: values may be secrets), and such an
# executable is copied into the archive from /proc/PID/exe.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
dw_scratch dwv-vol
docker run -d --network none --name "$c" -e DWV_TOKEN=hunter2-not-kept dwtest:busybox sh -c '
	cp /bin/busybox /tmp/sleep && /tmp/sleep 602 & sleep 0.3; rm -f /tmp/sleep
	/bin/dwctr memfd-exec /bin/busybox sleep 601 &
	sleep 600' >/dev/null
sleep 1.5
"$DW" commit -o "$tmp/v.tar" --db "$db" "$c" >"$tmp/out" 2>&1 || { fail "commit: $(cat "$tmp/out")"; finish; exit 1; }
ev="$tmp/v.tar.evidence.json"
bb=$(docker exec "$c" sha256sum /bin/busybox | cut -d' ' -f1)
del=$(jq -r '.processes[] | select(.exe_volatile == "deleted") | .exe_copy.blob' "$ev")
mem=$(jq -r '.processes[] | select(.exe_volatile == "memfd") | .exe_copy.blob' "$ev")
[ "$del" = "sha256:$bb" ] && pass "a deleted executable: copied, its SHA-256 the binary's" || fail "deleted: $(jq -c '[.processes[] | {exe, exe_volatile, exe_copy}]' "$ev")"
[ "$mem" = "sha256:$bb" ] && pass "a memfd-executed one: copied too" || fail "memfd: $(jq -c '[.processes[] | {exe, exe_volatile, exe_copy}]' "$ev")"
[ "$(tar -xOf "$tmp/v.tar" "blobs/sha256/$bb" | sha256sum | cut -d' ' -f1)" = "$bb" ] &&
	pass "the copy is in the archive, whole" || fail "blob not in the archive"
"$DW" verify "$tmp/v.tar" >/dev/null 2>"$tmp/verr" && pass "and the snapshot verifies (the copies listed as blobs)" || fail "verify: $(cat "$tmp/verr")"
jq -e '[.processes[] | select(.exe_volatile == "memfd")][0] | (.fds | length) >= 1 and (.maps | test("busybox|memfd"))
	and (.namespaces.mnt | test("^mnt:")) and (.status.CapEff | length) > 0 and (.status | has("Seccomp")) and (.root == "/")' "$ev" >/dev/null &&
	pass "each process: fds, maps, namespaces, capabilities, seccomp, root" || fail "volatile: $(jq -c '.processes[0] | del(.maps)' "$ev" | head -c 600)"
jq -e '[.processes[].environ_names[]] | index("DWV_TOKEN") != null' "$ev" >/dev/null && ! jq -c .processes "$ev" | grep -q "hunter2" &&
	pass "the environment by name, never its values" || fail "environ: $(grep -o 'hunter2' "$ev" | head -1)"
docker load -i "$tmp/v.tar" >/dev/null 2>&1 && pass "docker load still takes the archive" || fail "docker load"

# Many such processes, alike and not (a container chooses): one copy per
# executable, and the copies within the snapshot's budget (--max-size),
# the rest said. Before, each process's executable was copied again, and
# with no bound: a container could fill the disk of the snapshots.
dw_docker_rm dwv-many
docker run -d --network none --name dwv-many dwtest:busybox sh -c '
	cp /bin/busybox /tmp/sleep; /tmp/sleep 600 & /tmp/sleep 601 & sleep 0.3
	for x in b c d; do mkdir -p /tmp/$x && cp /bin/busybox /tmp/$x/sleep && echo $x >>/tmp/$x/sleep && /tmp/$x/sleep 600 & done
	sleep 0.5; rm -rf /tmp/sleep /tmp/b /tmp/c /tmp/d; sleep 600' >/dev/null
sleep 2
"$DW" commit -o "$tmp/m.tar" --db "$db" --max-size 6MiB dwv-many >"$tmp/mout" 2>&1 || fail "commit many: $(cat "$tmp/mout")"
ev="$tmp/m.tar.evidence.json"
copies=$(jq '[.processes[] | select(.exe_copy.blob)] | length' "$ev")
distinct=$(jq '[.processes[] | .exe_copy.blob // empty] | unique | length' "$ev")
over=$(jq '[.processes[] | select(.exe_copy.error | tostring | test("budget"))] | length' "$ev")
[ "$copies" = 4 ] && [ "$distinct" = 3 ] && [ "$over" = 1 ] &&
	pass "two processes of one executable share a copy; past --max-size the rest is said, not copied" ||
	fail "many: $copies copies, $distinct distinct, $over over: $(jq -c '[.processes[] | {exe, exe_copy}]' "$ev")"
# config, manifest, two layers and the three distinct copies
nblobs=$(tar -tf "$tmp/m.tar" | grep -c '^blobs/sha256/.')
[ "$nblobs" -le 7 ] && "$DW" verify "$tmp/m.tar" >"$tmp/mver" 2>&1 &&
	pass "and the archive verifies" || fail "many: $nblobs blobs; verify: $(cat "$tmp/mver")"
dw_docker_rm dwv-many

# More processes than a snapshot lists: the first SNAP_PROCS_MAX (4096)
# and a word that the rest were left out. Before, every one was read.
docker run -d --network none --name dwv-lots dwtest:busybox sh -c '
	i=0; while [ $i -lt 4200 ]; do sleep 600 & i=$((i + 1)); done; sleep 600' >/dev/null
for _ in $(seq 100); do
	[ "$(docker top dwv-lots 2>/dev/null | wc -l)" -gt 4200 ] && break
	sleep 0.2
done
t0=$EPOCHREALTIME
"$DW" commit -o "$tmp/l.tar" --db "$db" dwv-lots >"$tmp/lout" 2>&1 || fail "commit lots: $(cat "$tmp/lout")"
echo "# commit of 4201 processes: $(echo "$EPOCHREALTIME - $t0" | bc) s"
ev="$tmp/l.tar.evidence.json"
jq -e '(.processes | length) == 4097 and (.processes[-1].truncated | type) == "string"' "$ev" >/dev/null &&
	pass "past 4096 processes: listed that far, and said" ||
	fail "lots: $(jq -c '{n: (.processes | length), last: .processes[-1]}' "$ev")"
dw_docker_rm dwv-lots
finish
