#!/bin/bash
# Kubernetes-shaped containers on a real containerd (its own root, state
# and socket, started here; ctr runs them with the CRI plugin's
# annotations, as the kubelet's containerd would). Before, such a
# container was named by its mount path (.../k8s.io/<id>/rootfs), with no
# pod, image or namespace; the directories runc makes for its mounts
# (/dev, /proc, /sys, /run) were reported as drift; a pod's pause
# container was watched as a workload; its logs were "not tied" to it.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
command -v containerd >/dev/null && command -v ctr >/dev/null ||
	dw_skip "no containerd and ctr (Debian's containerd package)"
tmp=$(mktemp -d)
db="$tmp/dw.db"
pid=
cpid=
sock="$tmp/c.sock"
uid=0b6f2a1c-1111-4222-8333-944455556666
fz=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	# A failed check may have left it frozen: thawed, so it can die.
	[ -n "$fz" ] && [ -w "$fz" ] && { echo THAWED >"$fz" || echo 0 >"$fz"; } 2>/dev/null
	for t in app1 pause1 slow1; do ctr --address "$sock" -n k8s.io tasks kill -s 9 "$t" >/dev/null 2>&1; done
	sleep 0.5
	for t in app1 pause1 slow1; do
		ctr --address "$sock" -n k8s.io tasks rm "$t" >/dev/null 2>&1
		ctr --address "$sock" -n k8s.io containers rm "$t" >/dev/null 2>&1
	done
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	grep -F "$tmp" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cat >"$tmp/containerd.toml" <<EOF
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
EOF
containerd -c "$tmp/containerd.toml" >"$tmp/containerd.log" 2>&1 &
cpid=$!
for _ in $(seq 1 50); do [ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
ctr --address "$sock" version >/dev/null 2>&1 || { cat "$tmp/containerd.log"; dw_skip "containerd did not start"; }
docker save dwtest:busybox -o "$tmp/bb.tar" &&
	ctr --address "$sock" -n k8s.io image import "$tmp/bb.tar" >/dev/null ||
	{ fail "image import"; finish; exit 1; }
img=docker.io/library/dwtest:busybox
# run NAME TYPE SCRIPT: a task with the CRI plugin's annotations.
run() {
	ctr --address "$sock" -n k8s.io run -d --snapshotter overlayfs \
		--annotation io.kubernetes.cri.container-type="$2" \
		--annotation io.kubernetes.cri.container-name=app \
		--annotation io.kubernetes.cri.sandbox-name=web-7d9 \
		--annotation io.kubernetes.cri.sandbox-namespace=shop \
		--annotation io.kubernetes.cri.sandbox-uid=$uid \
		--annotation io.kubernetes.cri.image-name=dwtest:busybox \
		"$img" "$1" sh -c "$3" >/dev/null
}
mkdir -p "$tmp/pods/shop_web-7d9_$uid/app"
printf 'docker: false\ndebounce_ms: 20\npod_logs: %s\n' "$tmp/pods" >"$tmp/cfg.yaml"
"$DWD" --foreground --config "$tmp/cfg.yaml" --db "$db" 2>"$tmp/log" &
pid=$!
run pause1 sandbox 'echo p >/etc/pause-was-here; sleep 600' || fail "ctr run (sandbox)"
run app1 container 'sleep 1; echo x >/etc/drift; sleep 600' || fail "ctr run"
# (Overlay mounts of other runtimes on this host, such as the test
# dockerd's containers other tests left running, or another run's, are
# watched too, as bare mounts named by their path: not this test's
# business. A bare mount of this test's containerd, under $tmp, is.)
mine='select((.name | startswith("/") | not) or (.name | startswith($t)))'
watched() {
	"$DW" status --db "$db" --format json 2>/dev/null |
		jq -c --arg t "$tmp/" "[.watched[] | $mine | {name, runtime, image}]"
}
# (containerd's own short-lived mount of the snapshot, /tmp/containerd-
# mountN, is a mount like any: the status may show it for a moment.)
expect='[{"name":"shop/web-7d9/app","runtime":"containerd","image":"dwtest:busybox"}]'
for _ in $(seq 1 50); do [ "$(watched)" = "$expect" ] && break; sleep 0.1; done
[ "$(watched)" = "$expect" ] &&
	pass "named by its pod (shop/web-7d9/app) with its image; the pause container not watched" ||
	{ fail "watched: $(watched)"; tail -5 "$tmp/log"; }
want=$(printf 'C /etc\nA /etc/drift')
for _ in $(seq 1 50); do
	got=$("$DW" events --db "$db" --container shop/web-7d9/app --current 2>&1)
	[ "$got" = "$want" ] && break
	sleep 0.1
done
[ "$got" = "$want" ] && pass "events by pod name: its drift, not runc's /dev, /proc, /sys, /run" ||
	fail "events: $got"
[ "$(sqlite3 "$db" "SELECT json_extract(labels, '$.\"io.kubernetes.pod.namespace\"') || ' ' || json_extract(labels, '$.\"io.kubernetes.pod.uid\"') FROM containers WHERE name = 'shop/web-7d9/app'")" = "shop $uid" ] &&
	pass "the store records the pod's namespace and uid as labels" || fail "labels: $(sqlite3 "$db" 'SELECT labels FROM containers')"
id=$(sqlite3 "$db" "SELECT id FROM containers WHERE name = 'shop/web-7d9/app'")
[ "$(dw_coverage "$db" "$id" logs)" = "monitored " ] &&
	pass "its logs: monitored, its pod's log dir found" || fail "logs coverage: $(dw_coverage "$db" "$id" logs)"
kill -TERM "$pid"; wait "$pid"; pid=

# By pod and namespace: ps, and events --pod / --namespace (before, only
# --container, and no command listed the containers of every runtime).
ps=$("$DW" ps --db "$db" --format json)
[ "$(jq -c --arg t "$tmp/" "[.[] | $mine | {name, runtime, image, namespace, pod, container, drift: (.drift > 0)}]" <<<"$ps")" = \
	'[{"name":"shop/web-7d9/app","runtime":"containerd","image":"dwtest:busybox","namespace":"shop","pod":"web-7d9","container":"app","drift":true}]' ] &&
	pass "ps: the pod's container with its runtime, image, pod and drift" || fail "ps: $ps"
jq -e '.[] | select(.name == "shop/web-7d9/app") | .coverage[] | select(.facet == "logs" and .state == "monitored")' <<<"$ps" >/dev/null &&
	pass "ps: and its coverage" || fail "ps coverage: $ps"
"$DW" ps --db "$db" | grep -q '^shop/web-7d9/app  .* containerd  dwtest:busybox  running ' &&
	pass "ps: text" || fail "ps text: $("$DW" ps --db "$db")"
[ "$("$DW" ps --db "$db" --namespace shop --format json | jq -r '[.[].name] | join(" ")')" = "shop/web-7d9/app" ] &&
	pass "ps --namespace shop: only its containers" || fail "ps --namespace"
[ "$("$DW" ps --db "$db" --namespace nosuch --format json)" = "[]" ] && pass "ps --namespace of none: empty" || fail "ps nosuch"
ev() { "$DW" events --db "$db" "$@" --format jsonl 2>&1 | jq -r '.container + " " + .kind + " " + .path' | sort -u | tr '\n' ';'; }
want_ev="shop/web-7d9/app A /etc/drift;shop/web-7d9/app C /etc;"
[ "$(ev --pod shop/web-7d9)" = "$want_ev" ] && pass "events --pod shop/web-7d9" || fail "events --pod: $(ev --pod shop/web-7d9)"
[ "$(ev --pod web-7d9)" = "$want_ev" ] && pass "events --pod web-7d9 (any namespace)" || fail "events --pod POD: $(ev --pod web-7d9)"
[ "$(ev --namespace shop)" = "$want_ev" ] && pass "events --namespace shop" || fail "events --namespace: $(ev --namespace shop)"
"$DW" events --db "$db" --namespace nosuch >/dev/null 2>"$tmp/e.err"
[ $? -eq 3 ] && grep -q "no container in Kubernetes namespace nosuch" "$tmp/e.err" &&
	pass "events --namespace of none: exit 3, said" || fail "events nosuch: $(cat "$tmp/e.err")"
"$DW" events --db "$db" --pod shop/web-7d9 --container x >/dev/null 2>&1
[ $? -eq 2 ] && pass "--pod with --container: a usage error" || fail "--pod --container"

# driftwatch diff of it, with no daemon and no Docker container of that
# name: by NS/POD/CONTAINER and by containerd://ID. Before, diff took
# Docker containers only.
[ "$("$DW" diff shop/web-7d9/app 2>"$tmp/d.err")" = "$want" ] &&
	pass "diff shop/web-7d9/app: from its mount, as driftwatchd sees it" || fail "diff by pod: $(cat "$tmp/d.err")"
[ "$("$DW" diff containerd://app1 2>"$tmp/d.err")" = "$want" ] &&
	pass "diff containerd://app1" || fail "diff by containerd id: $(cat "$tmp/d.err")"
# The same commands in a Docker container of the same image: the same
# changes (each runtime's own files left out by both).
docker rm -f dwcd-twin >/dev/null 2>&1
docker run -d --network none --name dwcd-twin dwtest:busybox sh -c 'echo x >/etc/drift; sleep 600' >/dev/null
for _ in $(seq 1 50); do docker diff dwcd-twin | grep -q drift && break; sleep 0.1; done
[ "$("$DW" diff shop/web-7d9/app)" = "$(docker diff dwcd-twin)" ] &&
	pass "diff of the pod's container equals docker diff of a Docker twin" ||
	fail "twin: $(docker diff dwcd-twin | tr '\n' ' ')"
dw_docker_rm dwcd-twin
"$DW" diff shop/web-7d9/nothere >/dev/null 2>"$tmp/d.err"
[ $? -ne 0 ] && [ -s "$tmp/d.err" ] && pass "a name nothing has: an error, said" || fail "unknown name: $(cat "$tmp/d.err")"

# ignore_runtime_mounts: false shows what runc made.
printf 'docker: false\ndebounce_ms: 20\nexec_sweep_interval: 1\nignore_runtime_mounts: false\nimmutable:\n  - namespace: "sh*"\n    pod: web-*\nsnapshot_on_critical: true\nsnapshot_dir: %s\nsigning_key: %s\n' "$tmp/snaps" "$DRIFTWATCH_SIGNING_KEY" >"$tmp/cfg2.yaml"
"$DWD" --foreground --config "$tmp/cfg2.yaml" --db "$tmp/dw2.db" 2>"$tmp/log2" &
pid=$!
for _ in $(seq 1 50); do
	got=$("$DW" events --db "$tmp/dw2.db" --container shop/web-7d9/app --current 2>/dev/null)
	grep -qx 'A /proc' <<<"$got" && break
	sleep 0.1
done
grep -qx 'A /proc' <<<"$got" && grep -qx 'A /etc/drift' <<<"$got" &&
	pass "ignore_runtime_mounts: false: runc's mount points shown too" || fail "not ignored: $got"
sev=$("$DW" events --db "$tmp/dw2.db" --pod shop/web-7d9 --format jsonl | jq -r 'select(.path == "/etc/drift") | .severity' | head -1)
[ "$sev" = critical ] && pass "immutable by namespace and pod glob: its drift is critical" || fail "immutable: $sev"
# Its first critical drift: a snapshot by the daemon, frozen (before,
# containers of other runtimes were never snapshotted).
for _ in $(seq 1 100); do ls "$tmp"/snaps/shop_web-7d9_app-*.tar.evidence.json >/dev/null 2>&1 && break; sleep 0.2; done
snap=$(ls "$tmp"/snaps/shop_web-7d9_app-*.tar 2>/dev/null | head -1)
[ -n "$snap" ] && "$DW" verify "$snap" >/dev/null && jq -e '.paused == true' "$snap.evidence.json" >/dev/null &&
	[ "$(sqlite3 "$tmp/dw2.db" "SELECT operator FROM snapshots")" = driftwatchd ] &&
	pass "snapshot_on_critical: the pod's container snapshotted, frozen, verified, in the chain of custody" ||
	fail "auto snapshot: $(ls "$tmp/snaps" 2>&1) $(grep -i snapshot "$tmp/log2" | tail -3)"
# Its execs: watched on its containerd overlay, a drifted one reported
# (here, after the diffs above, which it would change).
id2=$(sqlite3 "$tmp/dw2.db" "SELECT id FROM containers WHERE name = 'shop/web-7d9/app'")
[ "$(dw_coverage "$tmp/dw2.db" "$id2" exec)" = "monitored " ] &&
	pass "its execs: monitored (the mark on its rootfs overlay)" || fail "exec coverage: $(dw_coverage "$tmp/dw2.db" "$id2" exec)"
ctr --address "$sock" -n k8s.io tasks exec --exec-id dwx1 app1 \
	sh -c 'mkdir -p /tmp/k && cp /bin/busybox /tmp/k/echo && /tmp/k/echo hi' >/dev/null 2>&1
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$tmp/dw2.db' \"SELECT count(*) FROM events WHERE kind='X' AND container_id='$id2' AND CAST(path AS TEXT)='/tmp/k/echo'\")\" = 1 ]" &&
	pass "a drifted binary run in the pod's container: an X event" ||
	fail "no X event in the pod's container: $(sqlite3 -readonly "$tmp/dw2.db" "SELECT CAST(path AS TEXT) FROM events WHERE kind='X'")"
# runc's init, waiting for its container's start, has its root on the
# container's overlay and runs from a detached read-only bind mount of the
# host's runc: the host's own file, not drift (before, a sweep at that
# moment reported "runs from another filesystem", path "/"). A runc that
# waits 3 s before it starts: sweeps (each second) see it waiting.
printf '#!/bin/sh\nfor a; do [ "$a" = start ] && sleep 3; done\nexec runc "$@"\n' >"$tmp/slow-runc"
chmod +x "$tmp/slow-runc"
ctr --address "$sock" -n k8s.io run -d --snapshotter overlayfs --runc-binary "$tmp/slow-runc" \
	--annotation io.kubernetes.cri.container-type=container \
	--annotation io.kubernetes.cri.container-name=slow \
	--annotation io.kubernetes.cri.sandbox-name=web-7d9 \
	--annotation io.kubernetes.cri.sandbox-namespace=shop \
	--annotation io.kubernetes.cri.sandbox-uid=$uid \
	--annotation io.kubernetes.cri.image-name=dwtest:busybox \
	"$img" slow1 sleep 600 >/dev/null 2>"$tmp/slow.err" &
slowrun=$!
waiting() { pgrep -f 'runc init' >/dev/null && "$DW" status --db "$tmp/dw2.db" --format json | jq -e '.watched[] | select(.name == "shop/web-7d9/slow")'; }
dw_wait 10 waiting && w=1 || w=0
sleep 2.5
wait "$slowrun"
sid=$(sqlite3 -readonly "$tmp/dw2.db" "SELECT id FROM containers WHERE name = 'shop/web-7d9/slow'")
[ "$w" = 1 ] && [ -n "$sid" ] && [ "$(dw_coverage "$tmp/dw2.db" "$sid" exec)" = "monitored " ] &&
	[ "$(sqlite3 -readonly "$tmp/dw2.db" "SELECT count(*) FROM events WHERE kind='X' AND container_id='$sid'")" = 0 ] &&
	pass "runc init waiting for its start (from a bind mount of the host's runc): watched, not drift" ||
	fail "runc init: waited=$w $(cat "$tmp/slow.err") $("$DW" events --db "$tmp/dw2.db" --container shop/web-7d9/slow --format jsonl 2>&1 | grep '"X"')"
kill -TERM "$pid"; wait "$pid"; pid=

# commit of a containerd container (before, Docker's only): its cgroup
# frozen while captured and thawed after, the same archive and evidence,
# accepted by ctr image import, and a container run from it has the
# drift.
fz=/sys/fs/cgroup/freezer/k8s.io/app1/freezer.state
[ -r "$fz" ] || fz=$(ls /sys/fs/cgroup/k8s.io/app1/cgroup.freeze 2>/dev/null)
"$DW" commit -o "$tmp/app.tar" --db "$db" --reason "incident 7" shop/web-7d9/app >"$tmp/c.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "frozen while captured" "$tmp/c.out" && pass "commit shop/web-7d9/app: frozen while captured" ||
	fail "commit: rc $rc $(cat "$tmp/c.out")"
[ "$(cat "$fz")" = THAWED ] || [ "$(cat "$fz")" = 0 ] && pass "thawed after" || fail "freezer: $(cat "$fz")"
ctr --address "$sock" -n k8s.io tasks ls | grep -q '^app1 .*RUNNING' && pass "and running" || fail "task: $(ctr --address "$sock" -n k8s.io tasks ls)"
"$DW" verify "$tmp/app.tar" >/dev/null && pass "verify: ok" || fail "verify"
apid=$(ctr --address "$sock" -n k8s.io tasks ls | awk '$1 == "app1" { print $2 }')
jq -e --argjson p "$apid" '.paused == true and .container.name == "shop/web-7d9/app" and .container.image == "dwtest:busybox"
	and ([.processes[].pid] | index($p)) != null and .inspect.Runtime == "containerd"
	and (.inspect.Config.Cmd | join(" ")) == "sh -c sleep 1; echo x >/etc/drift; sleep 600"' "$tmp/app.tar.evidence.json" >/dev/null &&
	pass "evidence: frozen, its name, image, processes (from its cgroup) and command" ||
	fail "evidence: $(jq -c '{paused, container, processes, inspect}' "$tmp/app.tar.evidence.json" | head -c 600)"
ctr --address "$sock" -n k8s.io image import "$tmp/app.tar" >"$tmp/imp.out" 2>&1 &&
	ref=$(grep -o 'docker.io/driftwatch/[^ ]*' "$tmp/imp.out" | head -1) && [ -n "$ref" ] &&
	pass "ctr image import takes it ($ref)" || fail "import: $(cat "$tmp/imp.out")"
[ "$(ctr --address "$sock" -n k8s.io run --rm --snapshotter overlayfs "$ref" chk1 cat /etc/drift 2>&1)" = x ] &&
	pass "a container run from it has the drift" || fail "run from it"

# The capturer killed while it is frozen: the watchdog thaws it.
ctr --address "$sock" -n k8s.io tasks exec --exec-id big app1 sh -c 'dd if=/dev/zero of=/big bs=1M count=600 2>/dev/null' ||
	fail "big file"
# (No store to open: the freezer file is the capturer's fd 3, where the
# watchdog puts its pipe; it once lost the freezer so.)
"$DW" commit -o "$tmp/kill.tar" --db "$tmp/no-store.db" shop/web-7d9/app >/dev/null 2>&1 &
cp=$!
for _ in $(seq 1 200); do grep -qx 'FROZEN\|1' "$fz" 2>/dev/null && break; sleep 0.01; done
seen=0
grep -qx 'FROZEN\|1' "$fz" && kill -9 "$cp" && seen=1
wait "$cp" 2>/dev/null
[ $seen = 1 ] || fail "the capture was never seen freezing it: nothing killed"
for _ in $(seq 1 50); do [ "$(cat "$fz")" = THAWED ] || [ "$(cat "$fz")" = 0 ] && break; sleep 0.1; done
[ "$(cat "$fz")" = THAWED ] || [ "$(cat "$fz")" = 0 ] && pass "commit killed while it froze the container: thawed by its watchdog" ||
	fail "left frozen: $(cat "$fz")"
[ ! -e "$tmp/kill.tar" ] && pass "and no half archive" || fail "half archive left"
# A pause bounded by --max-pause: past it, the capture says so.
"$DW" commit -o "$tmp/mp.tar" --db "$db" --max-pause 1 shop/web-7d9/app >/dev/null 2>"$tmp/mp.err"
jq -e '.pause_deadline_passed == true' "$tmp/mp.tar.evidence.json" >/dev/null && grep -q "outlasted its pause (1 s)" "$tmp/mp.err" &&
	pass "--max-pause 1: the capture outlasted it, said in the evidence and on stderr" ||
	fail "max-pause: $(cat "$tmp/mp.err")"
[ "$(cat "$fz")" = THAWED ] || [ "$(cat "$fz")" = 0 ] && pass "thawed" || fail "not thawed"
# Paused by someone else (a responder): captured, and left paused.
ctr --address "$sock" -n k8s.io tasks pause app1
"$DW" commit -o "$tmp/paused.tar" --db "$db" shop/web-7d9/app >/dev/null 2>"$tmp/p.err" || fail "commit of a paused one: $(cat "$tmp/p.err")"
grep -qx 'FROZEN\|1' "$fz" && pass "a container paused before: still paused after" || fail "thawed what a responder paused: $(cat "$fz")"
ctr --address "$sock" -n k8s.io tasks resume app1
finish
