#!/bin/bash
# The exec watch against a container that attacks it (an adversarial
# review found each of these in the first version):
#   - a flood of execs past the kernel's fanotify queue: the kernel let
#     permission events past a full queue through unanswered, so drifted
#     binaries ran in enforce, unreported (FAN_UNLIMITED_QUEUE now);
#   - a loop of drifted execs grew the store by a row each, without end
#     (now at most 60 a minute a container, the rest one summary);
#   - a script rewritten right after it ran was recorded with the hash of
#     the harmless rewrite (now: changed after it ran, not hashed);
#   - the sweep of /proc (a second review): a memfd named runc_cloned
#     passed as runc's own; a process that chroot'ed into a volume was no
#     longer the container's; a drifted process from before the mark that
#     re-forks itself (its start time after the mark) was never decided;
#   - a container that dockerd restarted under the same id (kill -9 of
#     dockerd, --restart=always) had a new overlay superblock that was
#     never marked: its execs ran unwatched while its coverage said
#     monitored (a private dockerd here).
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
cfg="$tmp/driftwatch.yaml"
own=$(mktemp -d /tmp/dwexr.XXXXXX)
pid=
qmax=$(cat /proc/sys/fs/fanotify/max_queued_events)
cleanup() {
	echo "$qmax" >/proc/sys/fs/fanotify/max_queued_events
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	dw_docker_rm dwexh-flood dwexh-audit dwexh-sweep
	DOCKER_HOST="unix://$own/docker.sock" dw_docker_rm dwexh-restart
	dw_dockerd_stop "$own" 2>/dev/null
	pkill -9 -f "$own" 2>/dev/null
	for m in $(awk -v o="$own" '$2 ~ "^" o { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$tmp" "$own"
}
trap cleanup EXIT
cat >"$cfg" <<EOF
debounce_ms: 20
signing_key: ""
immutable_label: dw.immutable
exec: audit
exec_immutable: enforce
EOF
dw_docker_rm dwexh-flood dwexh-audit dwexh-sweep
docker run -d --network none --name dwexh-flood --label dw.immutable=1 \
	dwtest:busybox sleep 3600 >/dev/null
docker run -d --network none --name dwexh-audit dwtest:busybox sleep 3600 >/dev/null
e=$(docker inspect -f '{{.Id}}' dwexh-flood)
a=$(docker inspect -f '{{.Id}}' dwexh-audit)

# A small kernel queue while driftwatchd's group is made (read then).
echo 32 >/proc/sys/fs/fanotify/max_queued_events
dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
echo "$qmax" >/proc/sys/fs/fanotify/max_queued_events
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM coverage WHERE facet='exec' AND state='monitored'\")\" = 2 ]" ||
	fail "exec facets: $(sqlite3 -readonly "$db" "SELECT container_id, state, reason, detail FROM coverage WHERE facet='exec'")"

# 1. The flood: 100 loops of 20 drifted execs at once, in enforce.
docker exec dwexh-flood sh -c 'mkdir -p /tmp/f && cp /bin/busybox /tmp/f/echo
	for i in $(seq 1 100); do (for j in $(seq 1 20); do /tmp/f/echo RAN; done) 2>/dev/null & done; wait' >"$tmp/flood"
ran=$(grep -c RAN "$tmp/flood")
# (and they were tried: the daemon denied them, 2000 of them)
dw_wait 10 sh -c "[ \"\$('$DW' status --db '$db' --format json | jq -r '.exec.denied >= 2000')\" = true ]"
denied=$("$DW" status --db "$db" --format json | jq -r '.exec.denied')
[ "$ran" = 0 ] && [ "$denied" -ge 2000 ] &&
	pass "a flood past the kernel's queue: no drifted exec ran in enforce ($denied denied)" ||
	fail "a flood past the kernel's queue: $ran of 2000 drifted execs ran in enforce, $denied denied"

# 2. The store: at most 60 rows a minute from a container, one summary.
# Each distinct file (path and hash) is recorded once whatever the count,
# and a report the hash queue was too full to hash (no sha256) is such a
# file of its own: the repeats are what the 60 bound.
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND container_id='$e'\")\" -ge 60 ]"
q="FROM events WHERE kind='X' AND container_id='$e' AND CAST(path AS TEXT)='/tmp/f/echo'"
rows=$(sqlite3 -readonly "$db" "SELECT count(*) $q")
files=$(sqlite3 -readonly "$db" "SELECT count(DISTINCT coalesce(sha256, '-')) $q")
[ "$((rows - files))" -lt 60 ] && [ "$files" -le 2 ] &&
	pass "2000 denied execs: $rows rows ($files distinct files), not 2000: $(sqlite3 -readonly "$db" "SELECT count(*) || ' ' || coalesce(json_extract(detail, '$.file.hashed'), 'hashed') $q GROUP BY coalesce(sha256, '-')" | paste -sd,)" ||
	fail "store rows: $rows, $files distinct: $(sqlite3 -readonly "$db" "SELECT coalesce(sha256, '-'), count(*), group_concat(DISTINCT json_extract(detail, '$.file.hashed')) $q GROUP BY 1")"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=
held=$(sqlite3 -readonly "$db" "SELECT sum(json_extract(detail, '$.held_back')) FROM events WHERE kind='X' AND container_id='$e' AND json_extract(detail, '$.action')='summary'")
[ -n "$held" ] && [ $((held + rows)) -ge 2000 ] &&
	pass "the rest counted in a summary row ($held), none lost" ||
	fail "summary: rows $rows held back '$held'"
[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM alerts WHERE kind='exec-lost'")" = 0 ] &&
	pass "no report lost" || fail "lost: $(sqlite3 -readonly "$db" "SELECT summary FROM alerts WHERE kind='exec-lost'")"

# 3. A script rewritten right after it ran: never the rewrite's hash.
# (Big drifted files queued for hashing first make the gap wide.)
dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon restart"
docker exec dwexh-audit sh -c 'mkdir -p /tmp/big; for i in $(seq 1 12); do
	cat /bin/busybox >/tmp/big/true$i; head -c 8000000 /dev/zero >>/tmp/big/true$i; chmod 755 /tmp/big/true$i; done'
printf '#!/bin/sh\necho EVIL\n' >"$tmp/evil"
printf '#!/bin/sh\necho fine\n' >"$tmp/fine"
docker cp "$tmp/evil" dwexh-audit:/tmp/e.sh
docker exec dwexh-audit sh -c 'chmod 755 /tmp/e.sh; for i in $(seq 1 12); do /tmp/big/true$i; done; /tmp/e.sh;
	printf "#!/bin/sh\necho fine\n" >/tmp/e.sh' >/dev/null
dw_wait 20 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND container_id='$a' AND CAST(path AS TEXT)='/tmp/e.sh'\")\" = 1 ]" ||
	fail "no X event for the script"
got=$(sqlite3 -readonly "$db" "SELECT coalesce(sha256, '') || '|' || coalesce(json_extract(detail, '$.file.hashed'), '') FROM events WHERE kind='X' AND CAST(path AS TEXT)='/tmp/e.sh'")
evil=$(sha256sum "$tmp/evil" | cut -d' ' -f1)
fine=$(sha256sum "$tmp/fine" | cut -d' ' -f1)
case $got in
"$fine|"*) fail "the script that ran was recorded with the hash of its rewrite" ;;
"$evil|") pass "the script's hash is of what ran" ;;
"|changed after it ran: not hashed") pass "the script rewritten after it ran: not hashed, and said" ;;
*) fail "script hash: $got (evil $evil, fine $fine)" ;;
esac
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=

# 5. The sweep, against what hides from it. All started while no
# driftwatchd runs; the sweep is what sees them.
cc -static -O2 -o "$tmp/memfd_run" "$DW_SRC_DIR/tests/tools/memfd_run.c" || fail "cc -static memfd_run"
mkdir -p "$tmp/vol"
docker run -d --network none --name dwexh-sweep -v "$tmp/vol:/vol" dwtest:busybox sleep 3600 >/dev/null
s=$(docker inspect -f '{{.Id}}' dwexh-sweep)
docker cp "$tmp/memfd_run" dwexh-sweep:/tmp/memfd_run
docker exec dwexh-sweep sh -c 'cp /bin/busybox /vol/busybox; cp /bin/busybox /tmp/sh; mkfifo /tmp/ff'
docker exec -d dwexh-sweep /tmp/memfd_run runc_cloned /bin/busybox sleep 3600
docker exec -d dwexh-sweep chroot /vol /busybox sleep 3600
docker exec -d dwexh-sweep /tmp/sh -c 'exec 3<>/tmp/ff; h() { read -t 1 x <&3; h & exit; }; h'
sleep 2
printf 'debounce_ms: 20\nsigning_key: ""\nexec_sweep_interval: 1\n' >"$tmp/sweep.yaml"
rm -f "$tmp/sweep.db"
dw_daemon_start "$tmp/sweep.yaml" "$tmp/sweep.db" "$tmp/log" || fail "daemon start (sweep)"
sw() { sqlite3 -readonly "$tmp/sweep.db" "SELECT count(*) FROM events WHERE kind='X' AND container_id='$s' AND $1"; }
dw_wait 15 sh -c "[ \"\$(sqlite3 -readonly '$tmp/sweep.db' \"SELECT count(*) FROM events WHERE kind='X' AND container_id='$s'\")\" -ge 3 ]"
sleep 3 # more sweeps: each still once
[ "$(sw "CAST(path AS TEXT) LIKE '/memfd:runc_cloned%' AND detail LIKE '%anonymous file%'")" = 1 ] &&
	pass "sweep: a memfd named runc_cloned that is not runc: reported once" ||
	fail "memfd runc_cloned: $(sqlite3 -readonly "$tmp/sweep.db" "SELECT CAST(path AS TEXT), json_extract(detail, '$.why') FROM events WHERE kind='X'")"
[ "$(sw "detail LIKE '%chroot%'")" = 1 ] &&
	pass "sweep: a process that chroot'ed into a volume: still the container's, reported once" ||
	fail "chroot: $(sqlite3 -readonly "$tmp/sweep.db" "SELECT CAST(path AS TEXT), json_extract(detail, '$.why') FROM events WHERE kind='X'")"
[ "$(sw "CAST(path AS TEXT) = '/tmp/sh' AND detail LIKE '%never seen executed%'")" = 1 ] &&
	pass "sweep: a drifted process from before the mark that re-forks itself: reported once" ||
	fail "hopping: $(sqlite3 -readonly "$tmp/sweep.db" "SELECT CAST(path AS TEXT), json_extract(detail, '$.why') FROM events WHERE kind='X'")"
[ "$(sw "CAST(path AS TEXT) = '/bin/busybox'")" = 0 ] &&
	pass "sweep: the image's own sleep is not reported" || fail "image sleep reported"
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=
dw_docker_rm dwexh-sweep

# 4. A container restarted by dockerd under the same id: marked anew.
mkdir -p "$own/data"
dw_dockerd_start "$own"
dw_dockerd_wait "$own" || fail "private dockerd"
main_host=$DOCKER_HOST
export DOCKER_HOST="unix://$own/docker.sock"
dw_busybox_rootfs "$own"
docker import "$own/rootfs.tar" dwtest:busybox >/dev/null
docker run -d --network none --restart=always --name dwexh-restart dwtest:busybox sleep 3600 >/dev/null
r=$(docker inspect -f '{{.Id}}' dwexh-restart)
rm -f "$db"
dw_daemon_start "$cfg" "$db" "$tmp/log" --host "$DOCKER_HOST" || fail "daemon on the private dockerd"
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT state FROM coverage WHERE container_id='$r' AND facet='exec'\")\" = monitored ]" ||
	fail "restart: not marked at first"
before=$(docker inspect -f '{{.State.Pid}}' dwexh-restart)
kill -9 "$(cat "$own/dockerd.pid")"
# Its containerd too (dockerd waits on its pid file), as a crash of the
# host's Docker would leave things.
kill -9 "$(cat "$own/exec/containerd/containerd.pid" 2>/dev/null)" 2>/dev/null
rm -f "$own/exec/containerd/containerd.pid"
sleep 1
dw_dockerd_start "$own"
dw_dockerd_wait "$own" || fail "private dockerd again"
dw_wait 20 sh -c "[ \"\$(docker inspect -f '{{.State.Pid}}' dwexh-restart)\" != '$before' ] && [ \"\$(docker inspect -f '{{.State.Running}}' dwexh-restart)\" = true ]" ||
	fail "dockerd did not restart the container"
# Until driftwatchd has reconciled with the new dockerd.
dw_wait 30 sh -c "[ \$(grep -c 'following the docker daemon' '$tmp/log') -ge 3 ]" ||
	fail "driftwatchd did not reconnect: $(tail -3 "$tmp/log")"
sleep 2
docker exec dwexh-restart sh -c 'mkdir -p /tmp/r && cp /bin/busybox /tmp/r/echo && /tmp/r/echo ran' >/dev/null
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND container_id='$r' AND CAST(path AS TEXT)='/tmp/r/echo'\")\" = 1 ]" &&
	pass "a container dockerd restarted under the same id: its execs watched again" ||
	fail "restarted container: exec unwatched ($(dw_coverage "$db" "$r" exec); $(grep -c . "$tmp/log") log lines)"
export DOCKER_HOST=$main_host
finish
