#!/bin/bash
# Drifted binaries caught when they run (fanotify FAN_OPEN_EXEC_PERM on
# each container's overlay superblock). Before, a binary copied into a
# container and run was one more "A" path at the next rescan, and nothing
# said it ran; the exec facet was "unmonitored not-built".
#   - audit: `cp /bin/busybox /tmp/x; /tmp/x` runs, and an X event says
#     who ran what (pid, pid in the container, comm, the file's SHA-256);
#   - a script with #! the same;
#   - enforce (exec_immutable, an immutable container): /tmp/x is denied
#     (EPERM) while /bin/sh of the image still runs;
#   - an image binary changed in place (copied up) is no longer image
#     content;
#   - the X events are chained: their detail edited is found by verify.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
cfg="$tmp/driftwatch.yaml"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	dw_docker_rm dwexec-audit dwexec-enforce
	rm -rf "$tmp"
}
trap cleanup EXIT
cat >"$cfg" <<EOF
debounce_ms: 20
signing_key: ""
immutable_label: dw.immutable
exec: audit
exec_immutable: enforce
exec_sweep_interval: 1
EOF
dw_docker_rm dwexec-audit dwexec-enforce
docker run -d --network none --name dwexec-audit --tmpfs /scratch:exec \
	dwtest:busybox sleep 3600 >/dev/null
# --init: Docker's docker-init (the host's tini, bind-mounted) is pid 1,
# and runs from another filesystem without being drift.
docker run -d --network none --name dwexec-enforce --label dw.immutable=1 \
	--init dwtest:busybox sleep 3600 >/dev/null
# Started while no driftwatchd ran: only the sweep can see it.
docker exec -d dwexec-audit sh -c 'mkdir -p /tmp/pre && cp /bin/busybox /tmp/pre/sleep && exec /tmp/pre/sleep 3600'
dw_wait 5 sh -c "docker top dwexec-audit | grep -q /tmp/pre/sleep" || fail "the process started before"

id() { docker inspect -f '{{.Id}}' "$1"; }
a=$(id dwexec-audit)
e=$(id dwexec-enforce)

dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM coverage WHERE facet='exec' AND state='monitored'\")\" = 2 ]" ||
	fail "exec facets: $(sqlite3 -readonly "$db" "SELECT container_id, state, reason, detail FROM coverage WHERE facet='exec'")"
[ "$(sqlite3 -readonly "$db" "SELECT detail FROM coverage WHERE facet='exec' AND container_id='$a'")" = audit ] &&
	[ "$(sqlite3 -readonly "$db" "SELECT detail FROM coverage WHERE facet='exec' AND container_id='$e'")" = enforce ] &&
	pass "exec facet monitored: audit, and enforce for the immutable container" ||
	fail "exec facet details"

xcount() { sqlite3 -readonly "$db" "SELECT count(*) FROM events WHERE kind='X' AND container_id='$1' AND CAST(path AS TEXT)='$2'"; }
bb=$(sha256sum /bin/busybox | cut -d' ' -f1)

# audit: it runs, and is reported
# (busybox takes its applet from its name: the copy is named echo)
out=$(docker exec dwexec-audit sh -c 'mkdir /tmp/x && cp /bin/busybox /tmp/x/echo && /tmp/x/echo ran-x')
[ "$out" = ran-x ] && pass "audit: the drifted binary runs" || fail "audit run: $out"
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND CAST(path AS TEXT)='/tmp/x/echo' AND sha256 IS NOT NULL\")\" -ge 1 ]" &&
	pass "audit: an X event for /tmp/x/echo" || fail "no X event: $(tail -5 "$tmp/log")"
"$DW" events --db "$db" --kind X --format jsonl >"$tmp/x.jsonl"
[ "$(jq -s 'map(select(.path == "/tmp/x/echo")) | length' "$tmp/x.jsonl")" = 1 ] &&
	jq -s -e --arg bb "$bb" 'map(select(.path == "/tmp/x/echo")) | length == 1 and all(.[]; .kind == "X" and .severity == "critical" and .action == "allowed"
	and .sha256 == $bb and .process.comm == "sh" and (.process.pid > 1) and (.process.nspid >= 1)
	and .process.pid != .process.nspid and .file.elf == true and .file.script == false)' \
	"$tmp/x.jsonl" >/dev/null &&
	pass "events --kind X: the process (pid, nspid, comm), the file's SHA-256, ELF, allowed" ||
	fail "X event json: $(cat "$tmp/x.jsonl")"
"$DW" events --db "$db" --kind X | grep -q "X /tmp/x/echo  critical (fanotify)  exec by sh\[[0-9]*\] allowed" &&
	pass "events text: who ran it" || fail "events text: $("$DW" events --db "$db" --kind X)"
[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM alerts WHERE kind='exec'")" -ge 1 ] &&
	pass "an exec alert" || fail "no exec alert"

# a script with #!
docker exec dwexec-audit sh -c 'printf "#!/bin/sh\necho ran-s\n" >/tmp/s.sh && chmod +x /tmp/s.sh && /tmp/s.sh' |
	grep -q ran-s || fail "script did not run"
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND CAST(path AS TEXT)='/tmp/s.sh' AND sha256 IS NOT NULL\")\" -ge 1 ]" &&
	"$DW" events --db "$db" --kind X --format jsonl | jq -se 'map(select(.path == "/tmp/s.sh")) | length == 1 and .[0].file.script == true' >/dev/null &&
	pass "a #! script: an X event, script true" || fail "script X event"

# Image binaries are not reported.
docker exec dwexec-audit /bin/busybox true
docker exec dwexec-audit sh -c 'ls / >/dev/null; cat /etc/hostname >/dev/null'
sleep 0.5
[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM events WHERE kind='X' AND CAST(path AS TEXT) NOT IN ('/tmp/x/echo', '/tmp/s.sh', '/tmp/pre/sleep')")" = 0 ] &&
	pass "image binaries run unreported" ||
	fail "false X: $(sqlite3 -readonly "$db" "SELECT CAST(path AS TEXT) FROM events WHERE kind='X'")"

# enforce: denied, while the image's own binaries run
out=$(docker exec dwexec-enforce sh -c 'mkdir /tmp/x; cp /bin/busybox /tmp/x/echo; /tmp/x/echo ran-x; echo rc=$?' 2>&1)
case $out in
*ran-x*) fail "enforce: the drifted binary ran: $out" ;;
*rc=126*) pass "enforce: the drifted binary is denied (EPERM)" ;;
*) fail "enforce: $out" ;;
esac
[ "$(docker exec dwexec-enforce /bin/sh -c 'echo image-ok')" = image-ok ] &&
	pass "enforce: /bin/sh of the image still runs" || fail "enforce broke the image's binaries"
out=$(docker exec dwexec-enforce sh -c 'printf "#!/bin/sh\necho ran-s\n" >/tmp/s.sh; chmod +x /tmp/s.sh; /tmp/s.sh; echo rc=$?' 2>&1)
case $out in
*ran-s*) fail "enforce: the script ran: $out" ;;
*rc=126*) pass "enforce: a drifted #! script is denied" ;;
*) fail "enforce script: $out" ;;
esac
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND container_id='$e' AND detail LIKE '%\\\"denied\\\"%'\")\" -ge 2 ]" &&
	pass "enforce: the denials recorded" || fail "denials: $(sqlite3 -readonly "$db" "SELECT path, detail FROM events WHERE kind='X' AND container_id='$e'")"

# An image binary changed in place is copied up: no longer image content
# (its contents cannot be rewritten while sh runs from it: ETXTBSY; a
# change of mode copies it up the same).
docker exec dwexec-audit chmod 4755 /bin/busybox
docker exec dwexec-audit /bin/busybox true
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND container_id='$a' AND CAST(path AS TEXT)='/bin/busybox'\")\" -ge 1 ]" &&
	pass "an image binary rewritten in the container: reported when run" ||
	fail "copied-up binary not reported"

# The daemon reports what it held.
# (the status is written at most once a second)
dw_wait 5 sh -c "[ \"\$('$DW' status --db '$db' --format json | jq -r '.exec.watching and .exec.marked == 2 and .exec.denied >= 2')\" = true ]" &&
	pass "status: exec watching, marked, denied" || fail "status: $("$DW" status --db "$db" --format json | jq -c .exec)"

"$DW" status --db "$db" | grep -q "^exec: *2 containers marked; [0-9]* execs held" &&
	pass "status text: the exec line" || fail "status text: $("$DW" status --db "$db" | grep exec)"

# The sweep: what no exec mark saw start.
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND CAST(path AS TEXT)='/tmp/pre/sleep' AND detail LIKE '%started before%'\")\" = 1 ]" &&
	pass "sweep: a drifted binary started while driftwatchd was down, reported once" ||
	fail "sweep, started before: $(sqlite3 -readonly "$db" "SELECT CAST(path AS TEXT), detail FROM events WHERE kind='X'")"
docker exec -d dwexec-audit sh -c 'cp /bin/busybox /scratch/sleep && exec /scratch/sleep 3600'
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT count(*) FROM events WHERE kind='X' AND CAST(path AS TEXT)='/scratch/sleep' AND detail LIKE '%another filesystem%' AND detail LIKE '%running%'\")\" = 1 ]" &&
	pass "sweep: a binary run from a tmpfs, reported once (running)" ||
	fail "sweep, tmpfs: $(sqlite3 -readonly "$db" "SELECT CAST(path AS TEXT), detail FROM events WHERE kind='X'")"
sleep 2.5
[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM events WHERE kind='X' AND CAST(path AS TEXT) IN ('/tmp/pre/sleep', '/scratch/sleep')")" = 2 ] &&
	[ "$(sqlite3 -readonly "$db" "SELECT count(*) FROM events WHERE kind='X' AND container_id='$e' AND detail LIKE '%running%'")" = 0 ] &&
	pass "sweep: each once, and docker-init (--init) not reported" ||
	fail "sweep repeats: $(sqlite3 -readonly "$db" "SELECT CAST(path AS TEXT), detail FROM events WHERE kind='X' AND detail LIKE '%running%'")"

# Tamper evidence covers an X event's detail.
kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=
"$DW" verify --store --db "$db" --allow-unsigned >"$tmp/v1" 2>&1 && pass "verify --store: the X events chain" ||
	fail "verify: $(cat "$tmp/v1")"
sqlite3 "$db" "UPDATE events SET detail = replace(detail, '\"denied\"', '\"allowed\"') WHERE kind='X' AND container_id='$e'"
"$DW" verify --store --db "$db" --allow-unsigned >"$tmp/v2" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "events" "$tmp/v2" && pass "a denial rewritten as allowed: verify fails (exit 1)" ||
	fail "tampered detail not found (rc $rc): $(cat "$tmp/v2")"
finish
