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
finish
