#!/bin/bash
# Privilege separation: files written in containers are scanned for
# secrets by a scanner process that can do nothing else (no uid 0, no
# capabilities, no new privileges, a seccomp filter). A scanner that
# dies is restarted; a file that kills it is named, with its hash, in the
# container's coverage and one alert; driftwatchd goes on.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
G="$DW_BUILD/tests/gentoken"
dw_scratch dw-sbx
q() { sqlite3 "$db" "$1"; }
scanner_pid() { # 0 while there is none (or no status yet)
	local p
	p=$("$DW" status --db "$db" --format json 2>/dev/null | jq -r '.scanner.pid // 0')
	echo "${p:-0}"
}
# Predicates for dw_wait: an SQL count is at least one; the status
# document satisfies a jq filter.
some() { [ "$(q "$1")" -ge 1 ]; }
status_has() { "$DW" status --db "$db" --format json 2>/dev/null | jq -en "input | $1" 2>/dev/null; }
status_has_db() { "$DW" status --db "$1" --format json 2>/dev/null | jq -en "input | $2" 2>/dev/null; }
found() { # PATH: a finding for it, within 10 s
	dw_wait 10 some "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) = '$1'"
}

start_daemon() {
	DW_TEST_SANDBOX_HOOK=$1 dw_daemon_start "$cfg" "$db" "$tmp/dwd.log" || exit 1
}

start_daemon "segv:crashme.env"
docker run -d --network none --name dw-sbx dwtest:busybox sleep 600 >/dev/null
# A slow start (sanitizer builds compile the rules twice) takes seconds.
# A scanner restarted meanwhile (the status is written between two
# loop turns) has a new pid: the one read is checked while it lives.
spid=0
for _ in $(seq 1 300); do
	spid=$(scanner_pid)
	[ "$spid" -gt 0 ] && [ -r "/proc/$spid/status" ] && break
	sleep 0.1
done
st=/proc/$spid/status
if [ "$spid" -gt 0 ] && [ -r "$st" ]; then
	grep -q '^CapEff:[[:space:]]*0000000000000000$' "$st" && pass "scanner: CapEff 0" || fail "scanner: $(grep CapEff "$st")"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" && pass "scanner: NoNewPrivs 1" || fail "scanner: $(grep NoNewPrivs "$st")"
	grep -q '^Seccomp:[[:space:]]*2$' "$st" && pass "scanner: Seccomp 2 (filter)" || fail "scanner: $(grep '^Seccomp:' "$st")"
	uid=$(awk '/^Uid:/ { print $2 }' "$st")
	[ "$uid" != 0 ] && pass "scanner: uid $uid ($(getent passwd "$uid" | cut -d: -f1))" || fail "scanner runs as root"
	[ "$(awk '/^PPid:/ { print $2 }' "$st")" = "$pid" ] && pass "scanner: a child of driftwatchd" || fail "scanner's parent"
	# A program of its own (exec'd): none of the daemon's mappings,
	# such as its store's WAL index, which it could write to.
	grep -q 'driftwatch.db' /proc/$spid/maps && fail "scanner maps the store: $(grep driftwatch.db /proc/$spid/maps)" ||
		pass "scanner: maps nothing of the store"
	n=$(ls /proc/$spid/fd | wc -l)
	[ "$n" -le 1 ] && pass "scanner: holds $n descriptor (its socket)" || fail "scanner holds $n descriptors: $(ls -l /proc/$spid/fd)"
else
	fail "no scanner process (status says pid $spid)"
	"$DW" status --db "$db" --format json | jq -c .scanner
	tail -5 "$tmp/dwd.log"
fi

# A secret written in the container is found through the scanner.
docker exec dw-sbx sh -c "echo 'GITHUB_TOKEN=$($G github sbx1)' >/tmp/one.env"
found /tmp/one.env && pass "a secret in a container file: found by the scanner" ||
	{ fail "no finding for /tmp/one.env"; tail -5 "$tmp/dwd.log"; }

# A .pgpass line is a credential in a file of that name only: the
# scanner process is told the name (the same line elsewhere is not).
pgline='db1.corp.internal:5432:billing:svc_billing:Kq8vX3mTz9wL'
docker exec dw-sbx sh -c "mkdir -p /root && echo '$pgline' >/root/.pgpass && echo '$pgline' >/tmp/pg-notes.txt && echo 'GITHUB_TOKEN=$($G github sbxpg)' >/tmp/pg-after.env"
found /root/.pgpass && [ "$(q "SELECT rule FROM findings WHERE CAST(path AS TEXT) = '/root/.pgpass'")" = pgpass-password ] &&
	pass "a password in a container's .pgpass: found by the scanner" ||
	{ fail ".pgpass in the scanner process: $(q "SELECT rule, CAST(path AS TEXT) FROM findings")"; tail -5 "$tmp/dwd.log"; }
found /tmp/pg-after.env && [ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) = '/tmp/pg-notes.txt'")" = 0 ] &&
	pass "the same line in another file: no finding" || fail "pgpass line outside .pgpass reported (or pg-after.env not scanned)"

# Ordinary content with many candidate hits (the engine sorts them: the
# first large sort asked the kernel something the filter forbids) is
# scanned, its secret found, and the scanner not killed.
docker exec dw-sbx sh -c "i=0; while [ \$i -lt 200 ]; do echo \"password = x\$i\"; i=\$((i+1)); done >/tmp/many.env; echo 'GITHUB_TOKEN=$($G github sbxm)' >>/tmp/many.env"
found /tmp/many.env && pass "a file with 200 candidate hits: scanned, its secret found" ||
	{ fail "many hits: not found"; tail -3 "$tmp/dwd.log"; }
"$DW" status --db "$db" --format json | jq -en 'input | [.coverage[] | select(.reason == "scanner-killed" and (.detail | contains("many.env")))] | length == 0' >/dev/null &&
	pass "and the scanner was not killed by it" || fail "the scanner died on ordinary hits"

# A container's file of more findings than the scanner is believed for
# (256): 300 decoys after a token. The findings up to there are kept and
# the file is named, scanned in part; before, all of them were thrown
# away with the token ("not scanned for secrets: ... too many findings").
{ echo "GITHUB_TOKEN=$($G github sbxdecoy)"; "$G" aws-id sbxdecoy 300 | sed 's/^/key = /'; } >"$tmp/decoys"
docker exec -i dw-sbx sh -c 'cat >/tmp/decoys.env' <"$tmp/decoys"
dw_wait 10 some "SELECT count(*) FROM alerts WHERE kind = 'evasion' AND summary LIKE '%scanned in part for secrets: /tmp/decoys.env%more than 256 findings%'" &&
	[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) = '/tmp/decoys.env' AND rule = 'github-token'")" = 1 ] &&
	pass "301 findings in a container's file: the first 256 kept, an alert says scanned in part" ||
	fail "decoys: $(q "SELECT rule, count(*) FROM findings WHERE CAST(path AS TEXT) = '/tmp/decoys.env' GROUP BY rule") $(q "SELECT summary FROM alerts WHERE summary LIKE '%decoys%'")"

# Each file handed to the scanner is closed again in the daemon: 100
# written files leave its descriptors as they were (a leak would blind
# it once they run out).
before=$(ls /proc/$pid/fd | wc -l)
docker exec dw-sbx sh -c 'mkdir -p /tmp/fds && i=0; while [ $i -lt 100 ]; do echo "x $i" >/tmp/fds/f$i; i=$((i+1)); done; echo "GITHUB_TOKEN='"$($G github sbxf)"'" >/tmp/fds/last.env'
found /tmp/fds/last.env || fail "fd test: the last file was not scanned"
after=$(ls /proc/$pid/fd | wc -l)
[ "$after" -le $((before + 10)) ] && pass "daemon descriptors: $before before 101 files, $after after" ||
	fail "the daemon leaks descriptors: $before before 101 files, $after after"

# Killed mid-file (SIGSEGV): restarted, and the next change is recorded.
old=$(scanner_pid)
# Never "kill 0": that would signal this whole process group.
[ "$old" -gt 0 ] && kill -SEGV "$old"
docker exec dw-sbx sh -c "echo 'GITHUB_TOKEN=$($G github sbx2)' >/tmp/two.env"
found /tmp/two.env && pass "scanner killed (SIGSEGV): the next file is still scanned" ||
	{ fail "no finding after the scanner was killed"; tail -5 "$tmp/dwd.log"; }
dw_wait 3 status_has ".scanner.pid > 0 and .scanner.pid != $old"
new=$(scanner_pid)
[ "$new" -gt 0 ] && [ "$new" != "$old" ] && pass "scanner restarted (pid $old -> $new)" ||
	fail "scanner not restarted ($old -> $new)"

# A file the scanner dies on every time (the test hook makes crashme.env
# such a file): given up on, named with its hash, and the daemon goes on.
docker exec dw-sbx sh -c "echo 'GITHUB_TOKEN=$($G github sbx3)' >/tmp/crashme.env"
sum=$(docker exec dw-sbx sha256sum /tmp/crashme.env | cut -d' ' -f1)
# The daemon may see the file while it is still empty (a first input
# the scanner dies on); the coverage names the input that killed it last.
dw_wait 10 status_has ".coverage[] | select(.facet == \"secrets\" and .reason == \"scanner-killed\" and (.detail | contains(\"$sum\")))"
ok=$((!$?))
detail=$("$DW" status --db "$db" --format json | jq -r '.coverage[] | select(.facet == "secrets" and .reason == "scanner-killed") | .detail')
[ $ok -eq 1 ] && grep -q "/tmp/crashme.env (sha256:$sum" <<<"$detail" && grep -q "killed by signal" <<<"$detail" &&
	pass "the input that killed it: $detail" || fail "killer input not recorded: '$detail'"
[ "$(q "SELECT count(*) FROM alerts WHERE summary LIKE '%scanner-killed%crashme.env%'")" = 1 ] &&
	pass "and one alert" || fail "alerts: $(q 'SELECT kind, summary FROM alerts')"
docker exec dw-sbx sh -c "echo 'GITHUB_TOKEN=$($G github sbx4)' >/tmp/four.env"
found /tmp/four.env && pass "the daemon goes on scanning" || fail "nothing scanned after the killer file"
# Its logs are read in the scanner too: a line it dies on (the hook's
# name in a log line) is said, lines and all, and the log is read on.
dw_docker_rm dw-sbx-log
docker run -d --network none --name dw-sbx-log dwtest:busybox sh -c \
	"sleep 1; echo 'boom crashme.env'; sleep 1; echo 'GITHUB_TOKEN=$($G github sbx6)'; exec sleep 600" >/dev/null
lid=$(docker inspect -f '{{.Id}}' dw-sbx-log)
dw_wait 10 some "SELECT count(*) FROM alerts WHERE kind = 'evasion' AND summary LIKE '%lines from%not scanned%'" &&
	dw_wait 10 some "SELECT count(*) FROM findings WHERE source = 'docker-json-log' AND container_id = '$lid'"
ok=$((!$?))
[ $ok -eq 1 ] && pass "a log line that kills the scanner: said ($(q "SELECT summary FROM alerts WHERE summary LIKE '%lines from%' LIMIT 1" | cut -c1-90)...), the log read on" ||
	{ fail "log line in the scanner"; q "SELECT kind, summary FROM alerts" | tail -3; q "SELECT container_id, source, rule FROM findings" | tail -3; }
dw_docker_rm dw-sbx-log
# The same with the local driver: its frames are decoded in the scanner.
dw_docker_rm dw-sbx-local
docker run -d --network none --name dw-sbx-local --log-driver local dwtest:busybox sh -c \
	"sleep 1; echo 'boom crashme.env'; sleep 1; echo 'GITHUB_TOKEN=$($G github sbx7)'; exec sleep 600" >/dev/null
lid=$(docker inspect -f '{{.Id}}' dw-sbx-local)
dw_wait 10 some "SELECT count(*) FROM alerts WHERE kind = 'evasion' AND summary LIKE '%local-logs%entries from%not scanned%'" &&
	dw_wait 10 some "SELECT count(*) FROM findings WHERE source = 'docker-local-log' AND container_id = '$lid'"
ok=$((!$?))
[ $ok -eq 1 ] && pass "local driver: an entry that kills the scanner is said, the log read on (in the scanner)" ||
	{ fail "local log in the scanner"; q "SELECT kind, summary FROM alerts" | tail -3; q "SELECT container_id, source, rule FROM findings" | tail -3; }
dw_docker_rm dw-sbx-local
# A secret Docker's JSON escapes ('&' is written \u0026): the daemon
# finds it in the raw line with JSON's escapes undone, and believes it.
docker run -d --network none --name dw-sbx-log dwtest:busybox sh -c \
	"echo 'db = https://admin:Xk9&qP2vL7mZ4rT8w@db.internal/app'; exec sleep 600" >/dev/null
lid=$(docker inspect -f '{{.Id}}' dw-sbx-log)
dw_wait 10 some "SELECT count(*) FROM findings WHERE source = 'docker-json-log' AND rule = 'url-credentials' AND container_id = '$lid'"
ok=$((!$?))
[ $ok -eq 1 ] && pass "a secret written JSON-escaped in the log: found, and believed" ||
	{ fail "escaped secret in a json-file log"; tail -3 "$tmp/dwd.log"; }
dw_docker_rm dw-sbx-log
kill "$pid"
wait "$pid" 2>/dev/null
pid=

# Whole files (mail, a Slack export, a rotated .gz log) are decoded in
# the scanner too: findings come back with their source; a file it dies
# on is named in the log and an alert, and the next one is still read.
mkdir -p "$tmp/drop/mail" "$tmp/drop/slack/ops" "$tmp/logs"
cp "$cfg" "$tmp/plain.yaml"
cat >>"$cfg" <<EOF
logs: ["$tmp/logs/*.gz"]
drop_dirs:
  - path: $tmp/drop/mail
    kind: mail
  - path: $tmp/drop/slack
    kind: slack
EOF
start_daemon "segv:boom.eml"
dw_wait 30 status_has '.scanner.pid > 0'
tok=$($G github sbxmail)
b64=$(printf 'token %s\n' "$tok" | base64 -w0)
printf 'From: a@example.com\nSubject: =?ISO-2022-JP?B?GyRCJDMkcxsoQg==?=\nMessage-ID: <m1@example.com>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-2022-jp\nContent-Transfer-Encoding: base64\n\n%s\n' "$b64" >"$tmp/m1.tmp"
mv "$tmp/m1.tmp" "$tmp/drop/mail/m1.eml"
found "$tmp/drop/mail/m1.eml" && [ "$(q "SELECT source FROM findings WHERE CAST(path AS TEXT) LIKE '%m1.eml'")" = mail ] &&
	pass "mail (base64, ISO-2022-JP): decoded in the scanner, found as mail" ||
	{ fail "mail in the scanner: $(q 'SELECT source, path FROM findings' | tail -3)"; grep -i "scanner\|m1.eml" "$tmp/dwd.log" | tail -3; }
# A charset the scanner has not loaded (KOI8-RU, IBM037): its
# converter is not loaded (that would kill it at its filter), the text
# stays as it is, and the mail is read.
printf 'From: a@example.com\nSubject: =?koi8-ru?B?8NLJ18XU?= =?IBM037?Q?x?=\nContent-Type: text/plain; charset=koi8-ru\n\nuse %s\n' "$($G github sbxkoi)" >"$tmp/k.tmp"
mv "$tmp/k.tmp" "$tmp/drop/mail/koi.eml"
found "$tmp/drop/mail/koi.eml" && pass "a mail in a charset the scanner has not loaded: read all the same" ||
	{ fail "rare charset: $(grep koi.eml "$tmp/dwd.log" | tail -2)"; }
printf '[{"type":"message","user":"U7","ts":"7.0","text":"deploy with %s"}]\n' "$($G github sbxslack)" >"$tmp/s.tmp"
mv "$tmp/s.tmp" "$tmp/drop/slack/ops/2026-11-30.json"
found "$tmp/drop/slack/ops/2026-11-30.json" &&
	[ "$(q "SELECT source FROM findings WHERE CAST(path AS TEXT) LIKE '%2026-11-30.json'")" = slack ] &&
	pass "a Slack export: decoded in the scanner, found as slack" || fail "slack in the scanner: $(q 'SELECT source, path FROM findings' | tail -3)"
echo "zipped $($G github sbxgz)" | gzip >"$tmp/g.tmp" && mv "$tmp/g.tmp" "$tmp/logs/app.1.gz"
found "$tmp/logs/app.1.gz" && [ "$(q "SELECT source FROM findings WHERE CAST(path AS TEXT) LIKE '%app.1.gz'")" = gzip ] &&
	pass "a rotated .gz: decoded in the scanner" || fail "gz in the scanner: $(q 'SELECT source, path FROM findings' | tail -3)"
printf 'From: a@example.com\n\ntoken %s\n' "$($G github sbxboom)" >"$tmp/b.tmp" && mv "$tmp/b.tmp" "$tmp/drop/mail/boom.eml"
dw_wait 10 some "SELECT count(*) FROM alerts WHERE kind = 'evasion' AND summary LIKE '%boom.eml%not scanned for secrets%'" &&
	grep -q "boom.eml.*failed on it twice" "$tmp/dwd.log" &&
	pass "a mail the scanner dies on: named in the log and an alert" ||
	{ fail "whole file that kills the scanner: $(q 'SELECT kind, summary FROM alerts' | tail -2)"; tail -3 "$tmp/dwd.log"; }
printf 'From: a@example.com\n\ntoken %s\n' "$($G github sbxafter)" >"$tmp/a.tmp" && mv "$tmp/a.tmp" "$tmp/drop/mail/after.eml"
found "$tmp/drop/mail/after.eml" && pass "and the next mail is still read" || fail "nothing read after the killer mail"
kill "$pid"
wait "$pid" 2>/dev/null
pid=
# A scanner taken over by a file's content (the hook: it says it found a
# key "in gzip" in a plain-text file): a plain file's findings are only
# believed at their offset, so the made-up one is not recorded.
start_daemon "lie:liar.txt"
dw_wait 30 status_has '.scanner.pid > 0'
echo "nothing secret here" >"$tmp/l.tmp" && mv "$tmp/l.tmp" "$tmp/drop/mail/liar.txt"
dw_wait 10 some "SELECT count(*) FROM alerts WHERE summary LIKE '%liar.txt%not scanned%'"
[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) LIKE '%liar.txt'")" = 0 ] &&
	[ "$(q "SELECT count(*) FROM alerts WHERE summary LIKE '%liar.txt%not scanned%'")" = 1 ] &&
	pass "a made-up 'decoded' finding in a plain file: not believed, said" ||
	fail "liar: findings $(q "SELECT rule, source FROM findings WHERE CAST(path AS TEXT) LIKE '%liar.txt'"), alerts $(q "SELECT summary FROM alerts" | tail -2)"
kill "$pid"
wait "$pid" 2>/dev/null
pid=
# A whole file cut at its time budget: an alert, not only a log line.
start_daemon "timeout:slow.eml"
dw_wait 30 status_has '.scanner.pid > 0'
printf 'From: a@example.com\n\nhello\n' >"$tmp/t.tmp" && mv "$tmp/t.tmp" "$tmp/drop/mail/slow.eml"
dw_wait 10 some "SELECT count(*) FROM alerts WHERE kind = 'evasion' AND summary LIKE '%slow.eml%scanned in part%budget%'" &&
	pass "a whole file cut at its time budget: an alert" || fail "timeout: $(q "SELECT summary FROM alerts" | tail -2)"
kill "$pid"
wait "$pid" 2>/dev/null
pid=
# A file the scanner is stuck on: killed after its budget and 5 s, and
# not given again (that would hold the daemon up twice as long).
start_daemon "stall:stall.eml"
dw_wait 30 status_has '.scanner.pid > 0'
r0=$("$DW" status --db "$db" --format json | jq .scanner.restarts)
printf 'From: a@example.com\n\nhello\n' >"$tmp/s.tmp" && mv "$tmp/s.tmp" "$tmp/drop/mail/stall.eml"
dw_wait 20 some "SELECT count(*) FROM alerts WHERE summary LIKE '%stall.eml%not scanned%did not answer%'"
ok=$((!$?))
r1=$("$DW" status --db "$db" --format json | jq .scanner.restarts)
[ $ok -eq 1 ] && [ $((r1 - r0)) -eq 1 ] && ! grep -q "stall.eml.*twice" "$tmp/dwd.log" &&
	pass "a stuck scanner: killed once, the file not given again" || fail "stall: restarts $r0 -> $r1, $(grep stall.eml "$tmp/dwd.log" | tail -2)"
kill "$pid"
wait "$pid" 2>/dev/null
pid=
cp "$tmp/plain.yaml" "$cfg"

# A lying scanner (the hook reports a key that is not in the file): the
# daemon checks each finding against the file and does not believe it.
start_daemon "lie:lie.env"
docker exec dw-sbx sh -c "echo 'nothing secret here' >/tmp/lie.env"
dw_wait 10 status_has '.coverage[] | select(.facet == "secrets" and (.detail | contains("lie.env")))'
ok=$((!$?))
detail=$("$DW" status --db "$db" --format json | jq -r '[.coverage[] | select(.facet == "secrets" and (.detail | contains("lie.env")))][0].detail')
[ $ok -eq 1 ] && grep -q "not in the file" <<<"$detail" &&
	[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) = '/tmp/lie.env'")" = 0 ] &&
	pass "a made-up finding is not believed: $detail" || fail "lie: '$detail', findings $(q "SELECT rule FROM findings WHERE CAST(path AS TEXT) = '/tmp/lie.env'")"
kill "$pid"
wait "$pid" 2>/dev/null
pid=

# A forbidden system call (the hook opens a file by name): SIGSYS.
start_daemon "forbidden:forbidden.env"
docker exec dw-sbx sh -c "echo x >/tmp/forbidden.env"
dw_wait 10 status_has '.coverage[] | select(.facet == "secrets" and .reason == "scanner-killed" and (.detail | contains("forbidden.env")))'
ok=$((!$?))
detail=$("$DW" status --db "$db" --format json | jq -r '[.coverage[] | select(.facet == "secrets" and .reason == "scanner-killed")][0].detail')
[ $ok -eq 1 ] && grep -q "signal 31\|forbids" <<<"$detail" && pass "forbidden syscall: killed by its filter and reported ($detail)" ||
	fail "forbidden syscall: '$detail'"
kill "$pid"
wait "$pid" 2>/dev/null
pid=

# The window between the hash and the scan: the scanner (the hook) reads
# the file 3 s after driftwatchd hashed it, and meanwhile the file's
# bytes are changed through a shared mapping (no inotify event) to
# harmless ones, and changed back once the scan is done. Reading the
# container's file in place, the scanner saw only the harmless bytes, the
# record kept the secret's hash, and no rescan looked again: the secret
# was never found. The scanner reads a sealed copy of what was hashed.
start_daemon "slow:window.env"
dw_wait 30 status_has '.scanner.pid > 0'
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' dw-sbx)
wtok=$($G github sbxwindow)
docker exec dw-sbx sh -c "echo 'GITHUB_TOKEN=$wtok' >/tmp/window.env"
sleep 1
swap() { # FROM TO: the same number of bytes, through a shared mapping
	python3 -c 'import mmap, sys
f = open(sys.argv[1], "r+b"); m = mmap.mmap(f.fileno(), 0)
i = m.find(sys.argv[2].encode()); assert i >= 0, "not there"
m[i:i + len(sys.argv[3])] = sys.argv[3].encode(); m.flush()' "$upper/tmp/window.env" "$1" "$2"
}
swap "$wtok" "$(printf '%*s' ${#wtok} '' | tr ' ' x)" || fail "could not change the file through a mapping"
# The scan is done (3 s after the hash) before the secret is put back.
sleep 4
swap "$(printf '%*s' ${#wtok} '' | tr ' ' x)" "$wtok"
want=$(sha256sum "$upper/tmp/window.env" | cut -d' ' -f1)
[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) = '/tmp/window.env'")" -ge 1 ] &&
	pass "a file changed between its hash and its scan: the hashed bytes were scanned, the secret found" ||
	fail "a file changed under the scan: no finding (the record's hash $(q "SELECT sha256 FROM changes WHERE CAST(path AS TEXT) = '/tmp/window.env'" 2>&1 | head -1), the file's $want)"
kill "$pid"
wait "$pid" 2>/dev/null
pid=

# A host whose net.core.wmem_max is small: a piece of log lines (160 KiB)
# did not fit the socket's send buffer, every send failed (EMSGSIZE), and
# no followed line was scanned. Now the buffer is set past wmem_max (root)
# and pieces are cut to what fits.
wmem=$(cat /proc/sys/net/core/wmem_max)
trap 'echo "$wmem" >/proc/sys/net/core/wmem_max; dw_scratch_cleanup' EXIT
if echo 16384 >/proc/sys/net/core/wmem_max; then
	mkdir -p "$tmp/wlogs"
	cp "$tmp/plain.yaml" "$tmp/wmem.yaml"
	printf 'logs: ["%s/wlogs/*.log"]\n' "$tmp" >>"$tmp/wmem.yaml"
	# Without CAP_NET_ADMIN (the systemd unit gives none): the buffer
	# stays within wmem_max, and the pieces are cut to it.
	capsh --drop=cap_net_admin -- -c "exec $DWD --foreground --config $tmp/wmem.yaml --db $tmp/wmem.db --no-mounts" 2>>"$tmp/dwdw.log" &
	pid=$!
	dw_wait 10 status_has_db "$tmp/wmem.db" '.state == "running"' || fail "daemon without CAP_NET_ADMIN"
	w=$($G github wmem1)
	# (written whole, then moved in: read in 64 KiB pieces, not line by
	# line as a slow writer's)
	{ echo "token $w"; for i in $(seq 1 3000); do echo "filler line $i of a busy log, nothing in it"; done; } >"$tmp/app.tmp"
	mv "$tmp/app.tmp" "$tmp/wlogs/app.log"
	dw_wait 10 sh -c "[ \$(sqlite3 '$tmp/wmem.db' \"SELECT count(*) FROM findings WHERE rule = 'github-token' AND CAST(path AS TEXT) LIKE '%/wlogs/app.log'\") -ge 1 ]" &&
		pass "net.core.wmem_max 16 KiB: 140 KiB of log lines scanned, the token found" ||
		{ fail "small wmem_max: $(tail -3 "$tmp/dwdw.log")"; }
	echo "$wmem" >/proc/sys/net/core/wmem_max
	kill "$pid"; wait "$pid" 2>/dev/null; pid=
else
	fail "cannot set net.core.wmem_max for the test"
fi

# Without CAP_SETUID the scanner cannot confine itself: said loudly, and
# secrets are still scanned (in driftwatchd itself), never silently not.
capsh --drop=cap_setuid,cap_setgid -- -c "exec $DWD --foreground --config $cfg --db $db --no-mounts" 2>>"$tmp/dwd3.log" &
pid=$!
dw_wait 10 status_has '.state == "running" and .docker.connected'
"$DW" status --db "$db" --format json | jq -en 'input | .scanner.confined == false' >/dev/null &&
	grep -q "not in a confined scanner process.*could not confine" "$tmp/dwd3.log" &&
	[ "$(q "SELECT count(*) FROM alerts WHERE kind = 'scanner-unconfined'")" -ge 1 ] &&
	pass "no CAP_SETUID: status, log and an alert say the scanner is not confined" ||
	{ fail "unconfined scanner not reported"; tail -3 "$tmp/dwd3.log"; }
docker exec dw-sbx sh -c "echo 'GITHUB_TOKEN=$($G github sbx5)' >/tmp/five.env"
found /tmp/five.env && pass "and secrets are still found" || fail "nothing found unconfined"
docker exec dw-sbx sh -c "mkdir -p /home/u && echo '$pgline' >/home/u/.pgpass"
found /home/u/.pgpass && pass "and a .pgpass password too (in driftwatchd itself)" ||
	fail "no .pgpass finding unconfined: $(q "SELECT rule, CAST(path AS TEXT) FROM findings")"
finish
