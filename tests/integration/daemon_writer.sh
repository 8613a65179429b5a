#!/bin/bash
# Who made each change (writer attribution, fanotify): real containers
# and a real driftwatchd. Before, every change was recorded without the
# process that made it (the writer facet said "not-built").
#   - a write by a process that stays alive: its pid, nspid, comm, exe,
#     command line (a secret in it redacted) and cgroup, in the event
#     and in the drift alert; the directory it changed too;
#   - an image file removed and one chmod'ed: who did it;
#   - a change nobody was seen to make (made while driftwatchd was
#     stopped): process null, and why;
#   - the host's own writes on the same filesystem: seen, never noted;
#   - a flood past a small kernel queue: the writer facet degraded
#     (queue-overflow), alerted, not silent;
#   - writer_attribution: false: the facet says disabled;
#   - an allow rule by process: an image binary's write allowed, a
#     drifted copy put at the same path not;
#   - allow suggest: rules from what every container of an image wrote.
# And what two adversarial reviews broke (each failed before its fix):
# a name chosen to collide with another path's note; a token at the
# command line's 1 KiB cut, and at its 8 KiB read after JWTs that
# redaction shrinks; a secret in an exe's path (writer and exec alert);
# a change nested past PATH_MAX (the container's degrades, the host's
# does not); a rewrite through a shared mapping (no IN_MODIFY); 8 MiB
# of notes (driftwatchd hung); a write laundered by an allowed
# process's later touch; a drifted program that writes and execs the
# allowed one; the same laundering while the write waits turns to be
# recorded (notes forgotten each turn), after its note was dropped,
# after its turn was thrown away, and when it was made before
# driftwatchd watched the container.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
cfg="$tmp/driftwatch.yaml"
pid=
qmax=$(cat /proc/sys/fs/fanotify/max_queued_events)
cleanup() {
	echo "$qmax" >/proc/sys/fs/fanotify/max_queued_events
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	dw_docker_rm dwwr-a dwwr-flood dwwr-s1 dwwr-s2 dwwr-t dwwr-u
	rm -rf "$tmp"
}
trap cleanup EXIT
printf 'debounce_ms: 20\nsigning_key: ""\n' >"$cfg"
dw_docker_rm dwwr-a dwwr-flood dwwr-s1 dwwr-s2 dwwr-t dwwr-u
docker run -d --network none --name dwwr-a dwtest:busybox sleep 3600 >/dev/null
a=$(docker inspect -f '{{.Id}}' dwwr-a)
dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT state FROM coverage WHERE facet='writer' AND container_id='$a'\")\" = monitored ]" &&
	pass "the writer facet: monitored" ||
	fail "writer facet: $(sqlite3 -readonly "$db" "SELECT state, reason, detail FROM coverage WHERE facet='writer'")"

# ev PATH: the JSON of the newest event of dwwr-a at PATH.
ev() { "$DW" events --db "$db" --container dwwr-a --format jsonl 2>/dev/null | jq -c --arg p "$1" 'select(.path == $p)' | tail -1; }
has() { [ -n "$(ev "$1")" ]; }

# 1. A process that stays alive writes: it is named.
tok=$("$DW_BUILD/tests/gentoken" github writer1)
docker exec -d dwwr-a sh -c "echo x >/tmp/w; sleep 20; : $tok"
dw_wait 10 has /tmp/w
e=$(ev /tmp/w)
hp=$(jq -r '.process.pid' <<<"$e")
[ "$(jq -r '.process.comm' <<<"$e")" = sh ] && [ "$hp" -gt 1 ] &&
	[ "$(jq -r '.process.nspid' <<<"$e")" -ge 1 ] && [ "$(jq -r '.process.nspid' <<<"$e")" != "$hp" ] &&
	grep -q 'echo x >/tmp/w' "/proc/$hp/cmdline" 2>/dev/null &&
	[ "$(jq -r '.process.exe' <<<"$e")" = /bin/busybox ] &&
	jq -e --arg a "$a" '.process.cgroup | contains($a)' <<<"$e" >/dev/null &&
	pass "a write by sh: its host pid, pid in the container, comm, exe and cgroup" ||
	fail "write by sh: $e"
jq -e '.process.cmdline | startswith("sh -c echo x >/tmp/w; sleep 20; : ")' <<<"$e" >/dev/null &&
	! grep -qF "$tok" <<<"$e" && ! sqlite3 -readonly "$db" "SELECT detail FROM events" | grep -qF "$tok" &&
	pass "its command line, the secret in it redacted (event and store)" ||
	fail "cmdline: $(jq -c '.process.cmdline' <<<"$e")"
[ "$(ev /tmp | jq -r '.process.comm')" = sh ] &&
	pass "the directory it changed (C /tmp): the same process" || fail "C /tmp: $(ev /tmp)"
"$DW" events --db "$db" --container dwwr-a | grep -q "A /tmp/w  .*  by sh\[$hp\]" &&
	pass "events (text): by sh[PID]" || fail "text: $("$DW" events --db "$db" --container dwwr-a)"
dw_wait 10 sh -c "sqlite3 -readonly '$db' \"SELECT payload FROM alerts WHERE kind='drift'\" | grep -q '\"comm\": *\"sh\"'" &&
	pass "the drift alert carries the process" ||
	fail "alert: $(sqlite3 -readonly "$db" "SELECT payload FROM alerts WHERE kind='drift'" | head -3)"

# 1b. A file named so that, in the first version, its note took the slot
#     of /etc/group's (an unkeyed hash, one note a slot): /etc/group's
#     writer was lost, and nothing said so. Now keyed and probed.
col=$("$DW_BUILD/tests/fnv_collide" "$a" /etc/group /tmp)
docker exec -d dwwr-a sh -c "echo 'g1:x:4242:' >>/etc/group; : >$col; sleep 20; :"
dw_wait 10 has "$col"
[ "$(ev /etc/group | jq -r '.process.comm')" = sh ] && [ "$(ev "$col" | jq -r '.process.comm')" = sh ] &&
	pass "a name chosen to collide with /etc/group's note: both writers named" ||
	fail "collision: $(ev /etc/group) $(ev "$col")"

# 1c. A secret at the 1 KiB cut of the command line: redacted whole
#     first, then cut (before, the cut came first: 20 characters of the
#     token were stored as they were).
tok2=$("$DW_BUILD/tests/gentoken" github writer2)
pre="sh -c echo t >/tmp/trunc; sleep 20; : "
pad=$(printf '%*s' $((1024 - 20 - ${#pre} - 1)) '' | tr ' ' x)
docker exec -d dwwr-a sh -c "echo t >/tmp/trunc; sleep 20; : $pad $tok2"
dw_wait 10 has /tmp/trunc
ev /tmp/trunc | jq -e '.process.cmdline | contains("ghp_")' >/dev/null &&
	! sqlite3 -readonly "$db" "SELECT detail FROM events" | grep -qF "${tok2:0:20}" &&
	pass "a secret across the command line's cut: not stored, even in part" ||
	fail "cmdline cut: $(ev /tmp/trunc | jq -c '.process.cmdline' | tail -c 120)"

# 1d. A change deeper than a path can name on the host: no process, and
#     the writer facet degraded (before: 'no change seen', monitored).
#     The host's own directories that deep: not a container's, no
#     degrading (a review degraded every container from the host).
(cd "$tmp" && for i in $(seq 1 23); do n=$(printf "%0200d" "$i"); mkdir "$n" && cd "$n" || exit 1; done; echo h >host-deep)
sleep 3
[ "$(sqlite3 -readonly "$db" "SELECT state FROM coverage WHERE facet='writer' AND container_id='$a'")" = monitored ] &&
	pass "a host directory nested past PATH_MAX: the containers stay monitored" ||
	fail "host deep: $(sqlite3 -readonly "$db" "SELECT state, detail FROM coverage WHERE facet='writer' AND container_id='$a'")"
# (20 levels of 200: the container's path is under PATH_MAX, the host's
# over it.)
docker exec -d dwwr-a sh -c 'cd /tmp && for i in $(seq 1 20); do n=$(printf "%0200d" $i); mkdir $n && cd $n || exit 1; done; echo e >evil.sh; sleep 20; :'
# (jq 1.6's -e says the last input's result: select's hit must be
# counted, not exit-coded)
dw_wait 20 sh -c "'$DW' events --db '$db' --container dwwr-a --format jsonl | jq -c 'select(.path | endswith(\"/evil.sh\"))' | grep -q ."
deep=$("$DW" events --db "$db" --container dwwr-a --format jsonl | jq -c 'select(.path | endswith("/evil.sh"))' | tail -1)
dw_wait 10 sh -c "sqlite3 -readonly '$db' \"SELECT state || ' ' || reason || ' ' || detail FROM coverage WHERE facet='writer' AND container_id='$a'\" | grep -q '^degraded queue-overflow .*PATH_MAX'" &&
	[ -n "$deep" ] && jq -e '.process == null' <<<"$deep" >/dev/null &&
	pass "a change nested past PATH_MAX: no process, the writer facet degraded" ||
	fail "deep: $(sqlite3 -readonly "$db" "SELECT state, reason, detail FROM coverage WHERE facet='writer' AND container_id='$a'") $(jq -c '{process, attribution}' <<<"$deep")"

# 1f. A token across the 8 KiB read of a command line made of JWTs,
#     which redaction shrinks to under 1 KiB: the token's start came
#     into the 1 KiB kept (a review found it). What straddles the read's
#     end is dropped now.
tok3=$("$DW_BUILD/tests/gentoken" github writer3)
jw=" $("$DW_BUILD/tests/gentoken" jwt w 56 | tr '\n' ' ')"
jw=${jw% }
pre="sh -c echo j >/tmp/jwt; sleep 20; : "
fill=$((8192 - 20 - ${#pre} - ${#jw} - 1))
[ "$fill" -gt 0 ] || fail "the JWTs are too long for the test: $fill"
pad=$(printf '%*s' "$fill" '' | tr ' ' z)
docker exec -d dwwr-a sh -c "echo j >/tmp/jwt; sleep 20; :$jw $pad $tok3"
dw_wait 10 has /tmp/jwt
! sqlite3 -readonly "$db" "SELECT detail FROM events" | grep -qF "${tok3:0:20}" &&
	[ "$(ev /tmp/jwt | jq -r '.process.cmdline_truncated')" = true ] &&
	pass "a token across the 8 KiB read, after secrets that redaction shrinks: not stored" ||
	fail "read cut: $(ev /tmp/jwt | jq -c '.process.cmdline' | tail -c 200)"

# 1g. A program run from a directory named after a secret: its exe is
#     redacted like a path (it was stored whole).
tok4=$("$DW_BUILD/tests/gentoken" github writer4)
docker exec dwwr-a sh -c "mkdir -p /tmp/$tok4 /tmp/dr && cp /bin/busybox /tmp/$tok4/sh && cp /bin/busybox /tmp/dr/true"
docker exec -d dwwr-a "/tmp/$tok4/sh" -c 'echo e >/tmp/exe-secret; /tmp/dr/true; sleep 20; :'
dw_wait 10 has /tmp/exe-secret
[ "$(ev /tmp/exe-secret | jq -r '.process.comm')" = sh ] &&
	! ev /tmp/exe-secret | jq -r '.process.exe' | grep -qF "$tok4" &&
	pass "an exe path holding a secret: redacted" || fail "exe: $(ev /tmp/exe-secret | jq -c '.process.exe')"
dw_wait 10 sh -c "sqlite3 -readonly '$db' \"SELECT count(*) FROM alerts WHERE kind='exec' AND payload LIKE '%/tmp/dr/true%'\" | grep -qv '^0$'" &&
	! sqlite3 -readonly "$db" "SELECT payload FROM alerts" | grep -qF "$tok4" &&
	pass "and its exec's alert (X) names it redacted too" ||
	fail "exec alert: $(sqlite3 -readonly "$db" "SELECT payload FROM alerts WHERE kind='exec'" | grep -F "$tok4" | head -c 600)"

# 1e. More than the notes' 4 MiB taken in time by the rescans: the first
#     version lost the bytes of every note taken, and once they passed
#     4 MiB, spun for ever holding its lock: driftwatchd hung.
big=$(printf '%*s' 7000 '' | tr ' ' y)
docker exec dwwr-a sh -c "mkdir -p /tmp/h; i=0; while [ \$i -lt 1200 ]; do : >/tmp/h/f\$i; i=\$((i+1)); [ \$((i % 100)) = 0 ] && sleep 0.2; done; : $big"
docker exec dwwr-a sh -c 'echo after >/tmp/after-notes'
dw_wait 15 has /tmp/after-notes && dw_wait 10 has /tmp/h/f1199 &&
	pass "8 MiB of notes taken: driftwatchd goes on" ||
	fail "hung after many notes: $("$DW" status --db "$db" --format json | jq -c '.writer')"

# 1g. A file already changed, rewritten through a shared mapping: no
#     write(2), no IN_MODIFY. Before, nothing named it until the safety
#     rescan (15 minutes away): the rewrite went unrecorded, its
#     writer's note forgotten. Its close names it now.
docker exec dwwr-a sh -c 'echo aaaa >/tmp/mm'
dw_wait 10 has /tmp/mm
by_dwctr() { "$DW" events --db "$db" --container dwwr-a --format jsonl 2>/dev/null | jq -c 'select(.path == "/tmp/mm" and .process.comm == "dwctr")' | grep -q .; }
docker exec -d dwwr-a dwctr mmap-write /tmp/mm bbbb 20
dw_wait 10 by_dwctr &&
	pass "a rewrite through a shared mapping: recorded at its close, by its writer" ||
	fail "mmap rewrite: $("$DW" events --db "$db" --container dwwr-a --format jsonl | jq -c 'select(.path == "/tmp/mm")')"

# 2. An image file removed (a whiteout) and one chmod'ed, by a shell
#    that stays.
docker exec -d dwwr-a sh -c 'rm /bin/arp; chmod 600 /etc/passwd; sleep 20'
dw_wait 10 sh -c "'$DW' events --db '$db' --container dwwr-a --format jsonl | jq -c 'select(.path == \"/etc/passwd\" and .kind == \"C\")' | grep -q ."
# rm and chmod are processes of their own, gone at once: named, or said
# gone (never a wrong one).
who() { ev "$1" | jq -r '.kind + " " + (if .process then .process.comm else .attribution end)'; }
for x in "/bin/arp D rm" "/etc/passwd C chmod"; do
	set -- $x
	case "$(who "$1")" in
	"$2 $3" | "$2 the process (pid "*") exited before it was read") pass "$1: $2, by $3 or said gone ($(who "$1"))" ;;
	*) fail "$1: $(ev "$1")" ;;
	esac
done

# 3. The host's own writes on the same filesystem: seen, never noted.
# (The status is rewritten at least every 5 s: read after a quiet 6 s.)
sleep 6
st=$("$DW" status --db "$db" --format json)
n0=$(jq -r '.writer.noted' <<<"$st")
e0=$(jq -r '.writer.events' <<<"$st")
mkdir "$tmp/host"
for i in $(seq 1 200); do echo "$i" >"$tmp/host/f$i"; done
rm -r "$tmp/host"
dw_wait 10 sh -c "[ \"\$('$DW' status --db '$db' --format json | jq -r '.writer.events >= $e0 + 400')\" = true ]"
st=$("$DW" status --db "$db" --format json)
[ "$(jq -r '.writer.noted' <<<"$st")" = "$n0" ] && [ "$(jq -r '.writer.events' <<<"$st")" -ge 400 ] &&
	pass "host writes on the same filesystem: seen ($(jq -r '.writer.events' <<<"$st") events), none noted" ||
	fail "host writes: $(jq -c '.writer' <<<"$st") (noted before: $n0)"

# 4. A change made while driftwatchd was stopped: no process, and why.
kill -TERM "$pid"
wait "$pid"
pid=
docker exec dwwr-a sh -c 'echo y >/tmp/offline'
dw_daemon_start "$cfg" "$db" "$tmp/log2" || fail "daemon restart"
dw_wait 10 has /tmp/offline
e=$(ev /tmp/offline)
jq -e '.process == null and (.attribution | test("no change by a process was noted.*made before it was watched"))' <<<"$e" >/dev/null &&
	pass "a change made while stopped: process null, and why (notes lost: made before it was watched)" || fail "offline: $e"
kill -TERM "$pid"
wait "$pid"
pid=

# 5. A flood past a small kernel queue: degraded and alerted, not silent.
rm -f "$db"*
echo 16 >/proc/sys/fs/fanotify/max_queued_events
docker run -d --network none --name dwwr-flood dwtest:busybox sleep 3600 >/dev/null
f=$(docker inspect -f '{{.Id}}' dwwr-flood)
dw_daemon_start "$cfg" "$db" "$tmp/log3" || fail "daemon start (flood)"
echo "$qmax" >/proc/sys/fs/fanotify/max_queued_events
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT state FROM coverage WHERE facet='writer' AND container_id='$f'\")\" = monitored ]"
docker exec dwwr-flood sh -c 'mkdir /tmp/fl; i=0; while [ $i -lt 3000 ]; do : >/tmp/fl/$i; i=$((i+1)); done'
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT state || ' ' || reason FROM coverage WHERE facet='writer' AND container_id='$f'\")\" = 'degraded queue-overflow' ]" &&
	pass "a flood past the kernel's queue: writer degraded (queue-overflow)" ||
	fail "flood: $(sqlite3 -readonly "$db" "SELECT state, reason, detail FROM coverage WHERE facet='writer'") $("$DW" status --db "$db" --format json | jq -c .writer)"
dw_wait 5 sh -c "sqlite3 -readonly '$db' \"SELECT count(*) FROM alerts WHERE kind='unmonitored' AND payload LIKE '%queue-overflow%'\" | grep -qv '^0$'" &&
	pass "and alerted" || fail "no alert: $(sqlite3 -readonly "$db" "SELECT kind, summary FROM alerts")"
dw_wait 10 sh -c "[ \"\$('$DW' status --db '$db' --format json | jq -r '.writer.overflows > 0 and .writer.degraded')\" = true ]" &&
	pass "status: overflows counted, degraded" || fail "status: $("$DW" status --db "$db" --format json | jq -c .writer)"
# (gone before part 7: what of its flood a later daemon records would
# count as a third container's history there)
dw_docker_rm dwwr-flood
kill -TERM "$pid"
wait "$pid"
pid=

# 6. Turned off: said so.
printf 'writer_attribution: false\n' >>"$cfg"
dw_daemon_start "$cfg" "$db" "$tmp/log4" || fail "daemon start (off)"
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT state || ' ' || reason FROM coverage WHERE facet='writer' AND container_id='$a'\")\" = 'unmonitored disabled' ]" &&
	pass "writer_attribution: false: unmonitored (disabled)" ||
	fail "off: $(sqlite3 -readonly "$db" "SELECT state, reason FROM coverage WHERE facet='writer'")"
kill -TERM "$pid"
wait "$pid"
pid=

# 7. allow suggest: two containers of one image that write the same
#    cache on start: a rule by the image binary that wrote it, with a
#    glob for the directory; what drifted in one of them only is not
#    proposed; the output is a configuration driftwatchd takes.
kill -TERM "$pid"
wait "$pid"
pid=
printf 'debounce_ms: 20\nsigning_key: ""\n' >"$cfg"
dw_daemon_start "$cfg" "$db" "$tmp/log6" || fail "daemon start (suggest)"
since=$(($(date +%s) - 1))
for n in 1 2; do
	docker run -d --network none --name dwwr-s$n dwtest:busybox sh -c \
		"sleep 2; mkdir -p /srv/cache /root/.ssh; for i in 1 2 3 4; do echo \$i >/srv/cache/f\$i; done; echo k >/root/.ssh/authorized_keys; rm /bin/wget; [ $n = 1 ] && echo x >/srv/only-one; sleep 60; :" >/dev/null
done
dw_wait 15 sh -c "[ \"\$('$DW' events --db '$db' --since $since --format jsonl | jq -s '[.[] | select(.path == \"/srv/cache/f4\")] | length')\" = 2 ]"
"$DW" allow suggest --db "$db" --since "$since" >"$tmp/suggest.yaml" 2>&1
grep -q '^    process: "/bin/busybox"$' "$tmp/suggest.yaml" && grep -q '"/srv/cache/\*"' "$tmp/suggest.yaml" &&
	grep -q 'an interpreter or a shell' "$tmp/suggest.yaml" &&
	! grep -q 'only-one\|/root/\|wget' "$tmp/suggest.yaml" && grep -q 'removals not proposed' "$tmp/suggest.yaml" &&
	"$DWD" --once --no-mounts --no-docker --config "$tmp/suggest.yaml" --db "$tmp/check.db" 2>"$tmp/check.err" &&
	pass "allow suggest: a rule by process (said an interpreter) for what every container wrote; one only, /root/.ssh and a removed binary left out; driftwatchd takes it" ||
	fail "suggest: $(cat "$tmp/suggest.yaml" "$tmp/check.err" 2>/dev/null)"
"$DW" allow suggest --db "$db" --min-containers 0 >/dev/null 2>&1
[ $? = 2 ] && "$DW" allow nonsense >/dev/null 2>&1; [ $? = 2 ] && pass "allow: bad usage, exit 2" || fail "allow usage"
dw_docker_rm dwwr-s1 dwwr-s2
kill -TERM "$pid"
wait "$pid"
pid=

# 8. An allow rule by process: a write by the image's busybox under
#    /tmp/ok is allowed (its shell started a second before: no exec
#    around its change); the same by a drifted copy put in its place at
#    /bin/busybox is not (the exe's inode is not image content); nor a
#    drifted program that writes and at once execs the image's busybox
#    (it may be read as busybox: it exec'd after the change).
printf 'debounce_ms: 20\nsigning_key: ""\nallow:\n  - process: /bin/busybox\n    paths: ["/tmp/ok/**"]\n' >"$cfg"
dw_daemon_start "$cfg" "$db" "$tmp/log5" || fail "daemon start (allow process)"
docker exec dwwr-a mkdir -p /tmp/ok /tmp/x
docker exec -d dwwr-a sh -c 'sleep 2; echo a >/tmp/ok/image; sleep 20; :'
docker exec -d dwwr-a sh -c 'sleep 2; echo b >/tmp/notok; sleep 20; :'
dw_wait 10 sh -c "'$DW' events --db '$db' --container dwwr-a --format jsonl | grep -q '/tmp/notok'"
dw_wait 10 has /tmp/ok/image
[ "$(ev /tmp/ok/image | jq -r '.severity + " " + .process.exe + " " + (.process.exe_image | tostring)')" = "allowed /bin/busybox true" ] &&
	[ "$(ev /tmp/notok | jq -r '.severity')" = medium ] &&
	pass "allow process: /bin/busybox (image content): its write allowed, only under the rule's paths" ||
	fail "allow by process: $(ev /tmp/ok/image) $(ev /tmp/notok)"
docker exec dwwr-a cp /bin/busybox /tmp/x/busybox
docker exec -d dwwr-a /tmp/x/busybox sh -c 'echo s >/tmp/ok/spoof; exec /bin/busybox sleep 20'
dw_wait 10 has /tmp/ok/spoof
[ "$(ev /tmp/ok/spoof | jq -r '.severity')" = medium ] &&
	pass "a drifted program that writes, then execs the allowed one: not allowed ($(ev /tmp/ok/spoof | jq -c '.process | {exe, exe_uncertain}'))" ||
	fail "spoof by exec: $(ev /tmp/ok/spoof)"
# A drifted program writes, then an allowed one opens and closes the file
# unchanged (the last event was the allowed one's): more writers, no rule.
docker exec -d dwwr-a sh -c "sleep 2; /tmp/x/busybox sh -c 'echo L >/tmp/ok/laundered'; : >>/tmp/ok/laundered; sleep 20; :"
dw_wait 10 has /tmp/ok/laundered
[ "$(ev /tmp/ok/laundered | jq -r '.severity + " " + (.process.more_writers | tostring)')" = "medium true" ] &&
	pass "a drifted program's write, then the allowed one's touch: not allowed (more writers)" ||
	fail "laundered: $(ev /tmp/ok/laundered)"
docker exec dwwr-a sh -c '/tmp/x/busybox cp /tmp/x/busybox /bin/busybox.new && /tmp/x/busybox mv /bin/busybox.new /bin/busybox'
docker exec -d dwwr-a /bin/busybox sh -c 'sleep 2; echo c >/tmp/ok/drifted; sleep 20; :'
dw_wait 10 has /tmp/ok/drifted
[ "$(ev /tmp/ok/drifted | jq -r '.severity + " " + .process.exe + " " + (.process.exe_image | tostring)')" = "medium /bin/busybox false" ] &&
	pass "a drifted copy at /bin/busybox: not image content, not allowed" ||
	fail "drifted writer: $(ev /tmp/ok/drifted)"
# 9. A drifted program's write recorded turns later: its writer is kept
#    until then. With a 100 ms budget and 100 files of 16 MiB to analyse
#    before it in path order, /tmp/ok/zz is recorded some turns after it
#    was written; the image's busybox touches it every second meanwhile.
#    Before, each turn forgot the notes older than itself: the touch
#    became the only writer, and the drifted write was recorded allowed.
kill -TERM "$pid"
wait "$pid"
pid=
printf 'debounce_ms: 20\nsigning_key: ""\nrescan_budget_ms: 100\nallow:\n  - process: /bin/busybox\n    paths: ["/tmp/ok/**"]\n' >"$cfg"
docker run -d --network none --name dwwr-t dwtest:busybox sleep 3600 >/dev/null
docker exec dwwr-t sh -c 'mkdir -p /tmp/ok /tmp/x /tmp/a && cp /bin/busybox /tmp/x/busybox'
dw_daemon_start "$cfg" "$db" "$tmp/log7" || fail "daemon start (turns)"
t=$(docker inspect -f '{{.Id}}' dwwr-t)
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT state FROM coverage WHERE facet='writer' AND container_id='$t'\")\" = monitored ]" ||
	fail "writer facet (turns): $(sqlite3 -readonly "$db" "SELECT state, reason FROM coverage WHERE facet='writer' AND container_id='$t'")"
docker exec dwwr-t sh -c 'i=0; while [ $i -lt 100 ]; do truncate -s 16M /tmp/a/f$i; i=$((i+1)); done; /tmp/x/busybox sh -c "echo L >/tmp/ok/zz"'
docker exec -d dwwr-t sh -c 'i=0; while [ $i -lt 40 ]; do : >>/tmp/ok/zz; sleep 1; i=$((i+1)); done'
# evt PATH: the JSON of the oldest event of dwwr-t at PATH.
evt() { "$DW" events --db "$db" --container dwwr-t --format jsonl 2>/dev/null | jq -c --arg p "$1" 'select(.path == $p)' | head -1; }
zz_recorded() { [ -n "$(evt /tmp/ok/zz)" ]; }
dw_wait 60 zz_recorded
cutn() { "$DW" status --db "$db" --format json | jq -r --arg t "$t" '[.watched[] | select(.id == $t) | .rescans_cut] | first // 0'; }
for _ in $(seq 1 60); do cut=$(cutn); [ "${cut:-0}" -gt 0 ] && break; sleep 0.2; done
# (more writers: the allowed touch came before it was recorded, or the
# laundering was not tried)
[ "$(evt /tmp/ok/zz | jq -r '.severity + " " + (.process.more_writers | tostring)')" = "medium true" ] && [ "${cut:-0}" -gt 0 ] &&
	pass "a drifted write recorded $cut turns later, touched by the allowed one meanwhile: not allowed ($(evt /tmp/ok/zz | jq -c '.process | {exe, more_writers}'))" ||
	fail "across turns (cut $cut): $(evt /tmp/ok/zz)"
# 10. The notes full: a drifted program writes /tmp/ok/yy, then 2,000
#     files under /tmp/z (recorded after yy) with an 8 KiB command line
#     (16 MiB of notes, the table holds 4 MiB: its note of yy is dropped
#     untaken), then lets an image program, started long before (no
#     exec near its change), touch yy.
#     200 files of 16 MiB to analyse before yy keep it unrecorded until
#     then. Before, the touch was the only writer left, and the drifted
#     write was recorded allowed; now its note says notes were lost.
docker exec -d dwwr-t sh -c 'i=0; while [ $i -lt 600 ]; do [ -e /tmp/go ] && : >>/tmp/ok/yy; sleep 0.2; i=$((i+1)); done'
sleep 2
pad=$(printf '%8000s' '' | tr ' ' x)
docker exec -d dwwr-t sh -c 'mkdir -p /tmp/z; i=0; while [ $i -lt 200 ]; do truncate -s 16M /tmp/a/g$i; i=$((i+1)); done
/tmp/x/busybox sh -c '"'"'echo L >/tmp/ok/yy; i=0; while [ $i -lt 2000 ]; do echo >/tmp/z/f$i; i=$((i+1)); done; : >/tmp/go; sleep 20'"'"' "$1"' sh "$pad"
yy_recorded() { [ -n "$(evt /tmp/ok/yy)" ]; }
dw_wait 90 yy_recorded
dropped=$("$DW" status --db "$db" --format json | jq -r '.writer.dropped // 0')
got=$(evt /tmp/ok/yy | jq -r '[.severity, .process.exe, (.process.notes_lost | tostring)] | join(" ")')
case $got in
"medium /bin/busybox true")
	pass "a drifted write whose note was dropped (${dropped} notes), then the allowed one's touch: not allowed (notes lost)" ;;
"medium  null")
	fail "notes lost: the touch came after yy was recorded (the laundering was not tried): $(evt /tmp/ok/yy)" ;;
*)
	fail "notes lost (dropped ${dropped}): $(evt /tmp/ok/yy)" ;;
esac
# 11. A turn's rows thrown away: a drifted program writes /tmp/ok/ww,
#     then 200 files of 16 MiB in /tmp/v (after it in path order), all
#     in one burst (debounce 500 ms): the rescan of the entries named
#     takes ww's note, runs over its budget and keeps nothing; the image
#     program's touches after it leave a note of their own alone, which
#     the next turn took for ww's only writer (allowed). A review found
#     it; now the thrown-away rows mark the container's notes lost.
kill -TERM "$pid"
wait "$pid"
pid=
printf 'debounce_ms: 500\nmax_delay_ms: 5000\nsigning_key: ""\nrescan_budget_ms: 100\nallow:\n  - process: /bin/busybox\n    paths: ["/tmp/ok/**"]\n' >"$cfg"
docker exec dwwr-t mkdir -p /tmp/v
dw_daemon_start "$cfg" "$db" "$tmp/log8" || fail "daemon start (thrown-away rows)"
settled() { [ "$("$DW" status --db "$db" --format json | jq -r --arg t "$t" '[.watched[] | select(.id == $t) | .pending] | first // 1')" = 0 ]; }
dw_wait 60 settled || fail "dwwr-t did not settle: $("$DW" status --db "$db" --format json | jq -c --arg t "$t" '.watched[] | select(.id == $t)')"
sleep 1
docker exec -d dwwr-t sh -c 'i=0; while [ $i -lt 600 ]; do [ -e /tmp/go3 ] && : >>/tmp/ok/ww; sleep 0.2; i=$((i+1)); done'
sleep 2
docker exec -d dwwr-t /tmp/x/busybox sh -c 'echo L >/tmp/ok/ww; : >/tmp/go3; i=0; while [ $i -lt 200 ]; do truncate -s 16M /tmp/v/h$i; i=$((i+1)); done; sleep 30'
ww_recorded() { [ -n "$(evt /tmp/ok/ww)" ]; }
dw_wait 90 ww_recorded
got=$(evt /tmp/ok/ww | jq -r '[.severity, .process.exe, (.process.notes_lost | tostring), (.process.more_writers | tostring)] | join(" ")')
case $got in
"medium /bin/busybox true "*)
	pass "a drifted write whose turn was thrown away, then the allowed one's touch: not allowed (notes lost)" ;;
"medium /bin/busybox null true")
	fail "thrown-away rows: the touch's note was mixed, the turn was not thrown away (the attack was not tried): $(evt /tmp/ok/ww)" ;;
*)
	fail "thrown-away rows: $(evt /tmp/ok/ww)" ;;
esac
grep -q "more changed than 100 ms can analyse" "$tmp/log8" ||
	fail "thrown-away rows: no turn was over its budget (the attack was not tried)"
# 12. Written before driftwatchd watched: while it is stopped, a new
#     container's drifted program writes /tmp/ok/pre after 100 files of
#     16 MiB (its first round takes turns to reach it); an image
#     program, started before, touches it every 0.2 s. Nothing noted the
#     write (no watch then); the touches after the start were the only
#     note, and the first round, which takes every note since the
#     start, recorded the drifted write allowed. A review found it; now
#     a container's notes count as lost up to when its writer watch
#     began.
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
# (debounce 20 ms: the touches' events every 0.2 s do not hold each turn
# to max_delay_ms)
printf 'debounce_ms: 20\nsigning_key: ""\nrescan_budget_ms: 100\nallow:\n  - process: /bin/busybox\n    paths: ["/tmp/ok/**"]\n' >"$cfg"
docker run -d --network none --name dwwr-u dwtest:busybox sleep 3600 >/dev/null
docker exec dwwr-u sh -c 'mkdir -p /tmp/ok /tmp/x /tmp/a && cp /bin/busybox /tmp/x/busybox'
docker exec -d dwwr-u sh -c 'i=0; while [ $i -lt 600 ]; do [ -e /tmp/ok/pre ] && : >>/tmp/ok/pre; sleep 0.2; i=$((i+1)); done'
docker exec dwwr-u sh -c 'i=0; while [ $i -lt 100 ]; do truncate -s 16M /tmp/a/k$i; i=$((i+1)); done; /tmp/x/busybox sh -c "echo L >/tmp/ok/pre"'
dw_daemon_start "$cfg" "$db" "$tmp/log9" || fail "daemon start (written unwatched)"
# evu PATH: the JSON of the oldest event of dwwr-u at PATH.
evu() { "$DW" events --db "$db" --container dwwr-u --format jsonl 2>/dev/null | jq -c --arg p "$1" 'select(.path == $p)' | head -1; }
pre_recorded() { [ -n "$(evu /tmp/ok/pre)" ]; }
dw_wait 90 pre_recorded
got=$(evu /tmp/ok/pre | jq -r '[.severity, .process.exe, (.process.notes_lost | tostring)] | join(" ")')
case $got in
"medium /bin/busybox true")
	pass "a drifted write made unwatched, then the allowed one's touch: not allowed (notes lost)" ;;
"medium  null")
	fail "written unwatched: recorded before a touch (the attack was not tried): $(evu /tmp/ok/pre)" ;;
*)
	fail "written unwatched: $(evu /tmp/ok/pre)" ;;
esac
grep -q "left for the next turn" "$tmp/log9" ||
	fail "written unwatched: the first round took no turns (the attack may not have been tried)"
dw_docker_rm dwwr-t dwwr-u
finish
