#!/bin/bash
# driftwatchd's live sources and leak response on a real single-node
# swarm: tokens written to a followed log, a container's stdout, a Slack
# export and a mail drop are found as they arrive, attributed, and a live
# one is rotated (policy auto) so that it is no longer current; foreign and
# stale ones are reported, not rotated. Log rotation by rename and by
# truncation, rotated .gz files, and a restart resuming where it was.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
db="$tmp/dw.db"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	dw_docker_rm dws-talk
	dw_docker_rm dws-key
	docker swarm leave --force >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
docker swarm leave --force >/dev/null 2>&1
timeout 120 docker swarm init --advertise-addr 127.0.0.1:12378 --listen-addr 127.0.0.1:12378 >/dev/null ||
	{ fail "swarm init"; finish; exit 1; }
id=$(docker info -f '{{.Swarm.Cluster.ID}}')
mkdir -p "$tmp/logs" "$tmp/drop/slack/general" "$tmp/drop/mail"
cat >"$tmp/cfg.yaml" <<EOF
rotate: auto
logs: ["$tmp/logs/*.log", "$tmp/logs/*.gz"]
drop_dirs:
  - path: $tmp/drop/slack
    kind: slack
  - path: $tmp/drop/mail
    kind: mail
command: [sh, -c, 'cat >>"\$0"; echo >>"\$0"', $tmp/cmd.out]
EOF
# Written before the daemon starts: found on start-up.
echo "boot ok" >"$tmp/logs/app.log"

start() { dw_daemon_start "$tmp/cfg.yaml" "$db" "$tmp/log"; }
q() { sqlite3 -readonly "$db" "$1"; }
# Wait for a finding at path $1 with fingerprint of rule $2 (count >= $3).
wait_finding() {
	for _ in $(seq 1 100); do
		[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) LIKE '$1'")" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}
start || { fail "daemon start"; finish; exit 1; }

# A live worker token appended to a followed log: found, rotated.
W=$(docker swarm join-token -q worker)
echo "docker swarm join --token $W 127.0.0.1:2377" >>"$tmp/logs/app.log"
wait_finding "$tmp/logs/app.log" && pass "token appended to a followed log: found" || fail "log finding"
[ "$(q "SELECT line || ' ' || role || ' ' || status || ' ' || (cluster = '$id') FROM findings WHERE CAST(path AS TEXT) = '$tmp/logs/app.log'")" = "2 worker live 1" ] &&
	pass "attributed: line 2, live worker token of this swarm" || fail "attribution: $(q 'SELECT line, role, status, cluster FROM findings')"
for _ in $(seq 1 50); do [ "$(docker swarm join-token -q worker)" != "$W" ] && break; sleep 0.1; done
[ "$(docker swarm join-token -q worker)" != "$W" ] && pass "policy auto: the worker token was rotated" || fail "not rotated"
[ "$(q "SELECT what FROM rotations")" = "worker token" ] && pass "rotation recorded" || fail "rotation record"
[ "$(q "SELECT count(*) FROM alerts WHERE kind IN ('leak', 'rotation')")" = 2 ] && pass "leak and rotation alerts" || fail "alerts"

# The old token again (now stale), and a foreign one: reported, not rotated.
W2=$(docker swarm join-token -q worker)
foreign=$("$G" swarm-worker srcs1)
printf 'again %s\nother %s\n' "$W" "$foreign" >>"$tmp/logs/app.log"
wait_finding "$tmp/logs/app.log" 2 && sleep 0.5
[ "$(q "SELECT status || ' ' || cluster FROM findings WHERE line = 4")" = "stale foreign" ] &&
	pass "foreign token: reported as foreign" || fail "foreign: $(q 'SELECT line, status, cluster FROM findings')"
[ "$(q "SELECT count(*) FROM findings WHERE line = 3")" = 0 ] && pass "the same secret again: once per source" || fail "duplicate"
[ "$(docker swarm join-token -q worker)" = "$W2" ] && [ "$(q 'SELECT count(*) FROM rotations')" = 1 ] &&
	pass "stale and foreign tokens not rotated" || fail "rotated again"
# The rotated token again, elsewhere: told by its history (role worker,
# until when, rotated by driftwatch), not "unknown".
# (Another source: the .gz glob; the .log one has seen it.)
printf 'old %s\n' "$W" | gzip >"$tmp/logs/hist.gz"
wait_finding "%hist.gz" 1
[ "$(q "SELECT role || ' ' || status || ' ' || rotated_by || ' ' || (valid_until > 0) FROM findings WHERE CAST(path AS TEXT) LIKE '%hist.gz'")" = "worker stale driftwatch 1" ] &&
	pass "the rotated token elsewhere: worker, stale, rotated by driftwatch, with its end" ||
	fail "history: $(q "SELECT role, status, rotated_by, valid_until, CAST(path AS TEXT) FROM findings WHERE CAST(path AS TEXT) LIKE '%hist%'")"

# Rotation by rename, then by truncation.
mv "$tmp/logs/app.log" "$tmp/logs/app.log.1"
f2=$("$G" swarm-worker srcs2)
echo "new file $f2" >"$tmp/logs/app.log"
for _ in $(seq 1 50); do [ "$(q "SELECT count(*) FROM findings WHERE line = 1 AND CAST(path AS TEXT) = '$tmp/logs/app.log'")" = 1 ] && break; sleep 0.1; done
[ "$(q "SELECT count(*) FROM findings WHERE line = 1 AND CAST(path AS TEXT) = '$tmp/logs/app.log'")" = 1 ] &&
	pass "log rotated by rename: the new file is followed" || fail "rename rotation"
n=$(q "SELECT count(*) FROM findings")
: >"$tmp/logs/app.log"
f3=$("$G" swarm-worker srcs3)
echo "after truncate $f3" >>"$tmp/logs/app.log"
for _ in $(seq 1 50); do [ "$(q "SELECT count(*) FROM findings")" -gt "$n" ] && break; sleep 0.1; done
[ "$(q "SELECT count(*) FROM findings")" -gt "$n" ] && pass "log truncated: read from the start" || fail "truncate"

# A followed log deleted while its writer still writes: what is written
# after the delete is still read, and the file is closed 10 s later
# (before, its descriptor stayed open for ever).
# And logrotate's create: renamed away, a new file made under its name,
# the writer still writing the old one until it is told to reopen (before,
# the old one was closed as the new one came: its last lines never read).
exec 7>>"$tmp/logs/gone.log" 8>>"$tmp/logs/rot.log"
echo "first line" >&7
echo "first line" >&8
sleep 0.5
rm "$tmp/logs/gone.log"
mv "$tmp/logs/rot.log" "$tmp/logs/rot.log.1"
echo "the new file" >"$tmp/logs/rot.log"
sleep 0.5
f9=$("$G" swarm-worker srcs9)
echo "late $f9" >&7
sleep 1
f12=$("$G" github srcs12)
echo "late $f12" >&8
dw_wait 12 sh -c "[ \$(sqlite3 -readonly '$db' \"SELECT count(*) FROM findings WHERE CAST(path AS TEXT) = '$tmp/logs/gone.log'\") -ge 1 ]" &&
	pass "a deleted log: what its writer still writes is read" ||
	fail "deleted log: $(q "SELECT path, line FROM findings" | tail -3)"
dw_wait 12 sh -c "[ \$(sqlite3 -readonly '$db' \"SELECT count(*) FROM findings WHERE CAST(path AS TEXT) = '$tmp/logs/rot.log' AND line = 2\") -ge 1 ]" &&
	pass "a log renamed away and made anew: what its writer still writes to the old one is read" ||
	fail "rotated log's late line: $(q "SELECT CAST(path AS TEXT), line FROM findings" | tail -3)"
exec 7>&- 8>&-
dw_wait 15 sh -c "! ls -l /proc/$pid/fd 2>/dev/null | grep -q 'gone.log\|rot.log.1'" &&
	grep -q "gone.log: rotated away or deleted .* closed" "$tmp/log" &&
	grep -q "rot.log: rotated away or deleted .* closed" "$tmp/log" &&
	pass "and both closed after their grace time, said in the log" ||
	fail "rotated logs still open: $(ls -l /proc/$pid/fd | grep 'gone.log\|rot.log')"

# A writer that renames its log and writes on, again and again (review
# of bae951d: each file renamed away and still written was kept open, so
# the daemon ran out of descriptors and stopped following new logs
# silently). At most 64 are kept; past that the one idle longest is read
# out and closed, said in the log.
python3 - "$tmp/logs" <<'PY' &
import os, sys, time
d = sys.argv[1]
fds = []
for i in range(80):
    f = open(os.path.join(d, "churn.log"), "a")
    f.write("line %d\n" % i)
    f.flush()
    time.sleep(0.03)
    os.rename(os.path.join(d, "churn.log"), os.path.join(d, "churn.log.%d" % i))
    fds.append(f)
    time.sleep(0.03)
for f in fds:
    f.write("still\n")
    f.flush()
time.sleep(2)
PY
cpid=$!
wait $cpid
n=$(ls -l /proc/$pid/fd 2>/dev/null | grep -c 'churn.log')
[ "$n" -le 64 ] && grep -q "churn.log: over 64 logs rotated away or deleted are still written to" "$tmp/log" &&
	pass "80 logs renamed away and still written: at most 64 kept open ($n), the rest said" ||
	fail "rotated kept: $n open, $(grep -c 'over 64 logs' "$tmp/log") said"

# Secrets across the cuts of over-long lines in a followed log: the
# scanner's 160 KiB pieces, and the 1 MiB a line may hold before it is
# scanned as it is (before, both cuts hid a secret that straddled them).
s1=$("$G" github srcs10)
s2=$("$G" github srcs11)
{ head -c $((163840 - 10)) /dev/zero | tr '\0' ' '; printf '%s\n' "$s1"
  head -c $((1048576 - 10)) /dev/zero | tr '\0' ' '; printf '%s ' "$s2"; head -c 70000 /dev/zero | tr '\0' ' '; echo; } >"$tmp/long.tmp"
n=$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) = '$tmp/logs/app.log'")
cat "$tmp/long.tmp" >>"$tmp/logs/app.log"
wait_finding "$tmp/logs/app.log" $((n + 2)) &&
	pass "secrets across the 160 KiB and 1 MiB cuts of long log lines: found" ||
	fail "long lines: $((n + 2)) wanted, $(q "SELECT line, rule FROM findings WHERE CAST(path AS TEXT) = '$tmp/logs/app.log'" | tr '\n' ' ')"

# A private key appended to a followed log in two writes, the daemon
# reading between them: the lines from its BEGIN are read again with the
# rest (before: each read was scanned alone and the key never found).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$tmp/k1.pem" 2>/dev/null || fail "openssl genpkey"
at=$(($(wc -l <"$tmp/logs/app.log") + 2))
{ echo "dumping the key"; head -6 "$tmp/k1.pem"; } >>"$tmp/logs/app.log"
sleep 1
tail -n +7 "$tmp/k1.pem" >>"$tmp/logs/app.log"
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM findings WHERE rule = 'private-key' AND CAST(path AS TEXT) = '$tmp/logs/app.log'")" -ge 1 ] && break
	sleep 0.1
done
[ "$(q "SELECT line FROM findings WHERE rule = 'private-key' AND CAST(path AS TEXT) = '$tmp/logs/app.log'")" = "$at" ] &&
	pass "a key appended to a followed log in two writes: found, at its BEGIN line" ||
	fail "key over two reads: $(q "SELECT rule, line, CAST(path AS TEXT) FROM findings WHERE rule = 'private-key'")"

# A .netrc entry appended over two writes, the daemon reading between
# them: its lines from "machine" are read again with its password
# (before: each read was scanned alone and the password never found).
# Its host ends in the keyword "machine"; the second entry's line is
# 50 KB long and 20,000 empty lines follow it (the rule's window counts
# from the line's end).
netrc_two_reads() { # file-of-the-first-part what
	local pw n at
	pw=Q7$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 14)
	n=$(q "SELECT count(*) FROM findings WHERE rule = 'netrc-password'")
	cat "$1" >>"$tmp/logs/app.log"
	sleep 1
	at=$(($(wc -l <"$tmp/logs/app.log") + 1))
	printf 'password %s\ndone\n' "$pw" >>"$tmp/logs/app.log"
	for _ in $(seq 1 100); do
		[ "$(q "SELECT count(*) FROM findings WHERE rule = 'netrc-password'")" -gt "$n" ] && break
		sleep 0.1
	done
	[ "$(q "SELECT max(line) FROM findings WHERE rule = 'netrc-password' AND CAST(path AS TEXT) = '$tmp/logs/app.log'")" = "$at" ] &&
		pass "a .netrc entry appended to a followed log in two writes ($2): found, at its password" ||
		fail "netrc over two reads ($2): $(q "SELECT rule, line FROM findings WHERE rule = 'netrc-password'")"
}
printf 'fetching\nmachine build-machine\nlogin deploy\n' >"$tmp/netrc1"
netrc_two_reads "$tmp/netrc1" "a host named build-machine"
{ head -c 50000 /dev/zero | tr '\0' x; echo " machine git.example.com login deploy"
  head -c 20000 /dev/zero | tr '\0' '\n'; } >"$tmp/netrc2"
netrc_two_reads "$tmp/netrc2" "after a 50 KB line, 20,000 lines before its password"

# Held past the room kept (a 120 KB line, then 45,000 lines before the
# password, in one write), or begun on a line of over 96 KiB that the
# next write takes past the scanner process's 160 KiB piece: let go, and
# said (before: silently).
# (which of the two is said depends on how the daemon's reads fall)
said_n() {
	q "SELECT count(*) FROM alerts WHERE kind = 'evasion' AND summary LIKE '%app.log%scanned in pieces%' AND (summary LIKE '%left open for over 128 KiB%' OR summary LIKE '%open from the first line of one of the scanner%')"
}
netrc_said() { # file what
	local n0
	n0=$(said_n)
	dd if="$1" of="$tmp/logs/app.log" bs=1M oflag=append conv=notrunc status=none
	for _ in $(seq 1 100); do
		[ "$(said_n)" -gt "$n0" ] && break
		sleep 0.1
	done
	[ "$(said_n)" -gt "$n0" ] &&
		pass "a .netrc entry $2: said" || fail "netrc $2: not said: $(q "SELECT summary FROM alerts WHERE kind = 'evasion'" | tail -2)"
}
{ head -c 120000 /dev/zero | tr '\0' x; echo " machine git.example.com login deploy"
  head -c 45000 /dev/zero | tr '\0' '\n'; echo "password Q7heldTooLong11"; } >"$tmp/netrc3"
netrc_said "$tmp/netrc3" "held past 128 KiB"
{ head -c 101000 /dev/zero | tr '\0' x; echo " machine git.example.com login deploy"; } >"$tmp/netrc4"
dd if="$tmp/netrc4" of="$tmp/logs/app.log" bs=1M oflag=append conv=notrunc status=none
sleep 1
{ head -c 63000 /dev/zero | tr '\0' '\n'; echo "password Q7cutInPieces11"; } >"$tmp/netrc5"
netrc_said "$tmp/netrc5" "begun on a line of over 96 KiB, past the 160 KiB piece"

# A key just past the scanner process's 160 KiB piece of one read (a
# long line before it): its lines from the BEGIN go again with the next
# piece (review of d3cf887: plain text was cut there, missed silently).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/k3.pem" 2>/dev/null || fail "openssl genpkey"
at=$(($(wc -l <"$tmp/logs/app.log") + 2))
{ head -c $((160 * 1024 - 1000)) /dev/zero | tr '\0' A; echo; cat "$tmp/k3.pem"; echo after; } >"$tmp/chunk"
# (in one write, as a program writes it: the daemon reads it whole)
dd if="$tmp/chunk" of="$tmp/logs/app.log" bs=1M oflag=append conv=notrunc status=none
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM findings WHERE rule = 'private-key' AND CAST(path AS TEXT) = '$tmp/logs/app.log'")" -ge 2 ] && break
	sleep 0.1
done
[ "$(q "SELECT max(line) FROM findings WHERE rule = 'private-key' AND CAST(path AS TEXT) = '$tmp/logs/app.log'")" = "$at" ] &&
	pass "a key across the scanner process's 160 KiB pieces: found" ||
	fail "key across pieces: $(q "SELECT rule, line FROM findings WHERE rule = 'private-key'")"

# A rotated .gz is scanned once.
f4=$("$G" swarm-worker srcs4)
echo "zipped $f4" | gzip >"$tmp/logs/old.gz.tmp" && mv "$tmp/logs/old.gz.tmp" "$tmp/logs/app.1.gz"
wait_finding "$tmp/logs/app.1.gz" && pass "rotated .gz scanned" || fail "gz"

# The manager token in a container's stdout (json-file log).
M=$(docker swarm join-token -q manager)
docker run -d --network none --name dws-talk dwtest:busybox sh -c "echo 'manager: $M'; sleep 600" >/dev/null
for _ in $(seq 1 100); do [ "$(docker swarm join-token -q manager)" != "$M" ] && break; sleep 0.1; done
[ "$(q "SELECT source || ' ' || role || ' ' || status FROM findings WHERE source = 'docker-json-log'")" = "docker-json-log manager live" ] &&
	pass "container log: live manager token found" || fail "docker log: $(q "SELECT source, role, status FROM findings")"
[ "$(docker swarm join-token -q manager)" != "$M" ] && pass "manager token rotated" || fail "manager not rotated"

# A private key a container prints: Docker writes each of its lines as
# a record of its own (before, each was scanned alone: never found);
# printed without a last newline, as printf '%s' does, its END line is a
# piece (Docker's record without "\n", written when the container exits),
# scanned with the key's lines.
openssl genpkey -algorithm ed25519 -out "$tmp/k.pem" 2>/dev/null || fail "openssl genpkey"
docker run -d --network none --name dws-key -e KEY="$(cat "$tmp/k.pem")" dwtest:busybox \
	sh -c 'echo starting; sleep 2; printf "%s" "$KEY"' >/dev/null
kid=$(docker inspect -f '{{.Id}}' dws-key)
# The findings of container $2 as "rule source line", once one of rule $1
# is there (10 s at most).
ctr_found() {
	for _ in $(seq 1 100); do
		[ "$(q "SELECT count(*) FROM findings WHERE rule = '$1' AND container_id = '$2'")" -ge 1 ] && break
		sleep 0.1
	done
	q "SELECT rule || ' ' || source || ' ' || line FROM findings WHERE container_id = '$2'"
}
[ "$(ctr_found private-key "$kid")" = "private-key docker-json-log 2" ] &&
	pass "a private key a container printed (a record a line): found, at its BEGIN line" ||
	fail "key in a container's stdout: $(q "SELECT rule, source, line, container_id FROM findings WHERE rule = 'private-key'")"
dw_docker_rm dws-key

# The same entry printed by a container over two reads of its json-file
# log, seconds apart, 1,000 empty lines between (more records than the
# 64 KiB once held; their text is 1,000 bytes).
pw2=Q7$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 14)
docker run -d --network none --name dws-netrc dwtest:busybox \
	sh -c "echo starting; printf 'machine git.example.com\nlogin deploy\n'; for i in \$(seq 1 1000); do echo; done; sleep 2; echo 'password $pw2'; sleep 600" >/dev/null
nid=$(docker inspect -f '{{.Id}}' dws-netrc)
[ "$(ctr_found netrc-password "$nid")" = "netrc-password docker-json-log 1004" ] &&
	pass "a .netrc entry a container printed over two reads, 1,000 empty lines between (75 KB of records): found, at its password" ||
	fail "container netrc: $(q "SELECT rule, source, line FROM findings WHERE container_id = '$nid'")"
dw_docker_rm dws-netrc

# The unlock key in a Slack export dropped in a channel directory.
docker swarm update --autolock=true >/dev/null
K=$(docker swarm unlock-key -q)
printf '[{"type":"message","user":"U1","ts":"1.0","text":"unlock with %s"}]\n' "$K" >"$tmp/drop/slack/general/.tmp"
mv "$tmp/drop/slack/general/.tmp" "$tmp/drop/slack/general/2026-11-23.json"
for _ in $(seq 1 100); do [ "$(docker swarm unlock-key -q)" != "$K" ] && break; sleep 0.1; done
[ "$(q "SELECT source || ' ' || role FROM findings WHERE CAST(path AS TEXT) LIKE '%2026-11-23.json'")" = "slack unlock-key" ] &&
	pass "Slack export: unlock key found" || fail "slack: $(q 'SELECT source, role, path FROM findings')"
[ "$(docker swarm unlock-key -q)" != "$K" ] && pass "unlock key rotated" || fail "unlock key not rotated"

# A channel "directory" that is a symlink out of the drop dir (before,
# glob's ONLYDIR followed it and a host file was read and reported), and
# a symlinked file in a real channel: neither is read.
mkdir -p "$tmp/outside"
printf '[{"type":"message","user":"U1","ts":"1.0","text":"%s"}]\n' "$("$G" github srcout)" >"$tmp/outside/x.json"
ln -s "$tmp/outside" "$tmp/drop/slack/evil"
ln -s "$tmp/outside/x.json" "$tmp/drop/slack/general/link.json"
sleep 1
[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) LIKE '%evil%' OR CAST(path AS TEXT) LIKE '%link.json' OR CAST(path AS TEXT) LIKE '%outside%'")" = 0 ] &&
	pass "symlinks in a drop dir are not followed" || fail "a symlink was followed: $(q 'SELECT path FROM findings')"
# A watched channel dir renamed and a symlink put in its place: the watch
# follows the inode, the daemon rebuilt the path by name and read the
# host file the symlink points to (reported by the review of 8f2cf60).
mkdir "$tmp/drop/slack/chanx"
sleep 0.5
printf '[{"type":"message","user":"U1","ts":"1.0","text":"%s"}]\n' "$("$G" npm srcout2)" >"$tmp/outside/y.json"
outfp=$("$DW" scan --format jsonl "$tmp/outside/y.json" | jq -r .fingerprint)
mv "$tmp/drop/slack/chanx" "$tmp/drop/slack/chanx2"
ln -s "$tmp/outside" "$tmp/drop/slack/chanx"
printf '[{"type":"message","user":"U1","ts":"1.0","text":"hello"}]\n' >"$tmp/drop/slack/chanx2/y.json"
sleep 1
[ -n "$outfp" ] && [ "$(q "SELECT count(*) FROM findings WHERE fingerprint = '$outfp'")" = 0 ] &&
	pass "a drop dir swapped for a symlink after it was watched is not followed" ||
	fail "the host file behind the swapped dir was read ($outfp): $(q 'SELECT CAST(path AS TEXT) FROM findings')"

# Mail dropped in a mail dir.
f5=$("$G" github srcs5)
printf 'From: a@example.com\nTo: b@example.com\nSubject: key\nMessage-ID: <m1@example.com>\n\nuse %s\n' "$f5" >"$tmp/drop/mail/m1.eml"
wait_finding "$tmp/drop/mail/m1.eml" && pass "mail drop: found" || fail "mail"
[ "$(q "SELECT source FROM findings WHERE CAST(path AS TEXT) LIKE '%m1.eml'")" = mail ] && pass "…as mail" || fail "mail kind"
# The command runs after the finding is stored, as a job of its own: wait
# for its line (the file already holds the lines of earlier findings).
cmd_mail() { jq -r 'select(.source == "mail") | .secret' "$tmp/cmd.out" 2>/dev/null; }
for _ in $(seq 1 100); do [ "$(cmd_mail)" = "$f5" ] && break; sleep 0.1; done
[ "$(cmd_mail)" = "$f5" ] &&
	pass "command: the other token's finding on its stdin" || fail "command: $(cat "$tmp/cmd.out" 2>&1)"
! grep -q SWMTKN "$tmp/cmd.out" && pass "command not run for swarm secrets" || fail "command got a swarm secret"

# Evasions of whole files: a NUL byte in a mail's header (before, the
# mail was skipped as binary, said at info level only), and a dropped
# file rewritten in place with the same size (before, never read again:
# the store knew it by device, inode and size).
f7=$("$G" github srcs7)
printf 'From: a@example.com\nX-Pad: \0\nSubject: k\n\nuse %s\n' "$f7" >"$tmp/m.tmp" && mv "$tmp/m.tmp" "$tmp/drop/mail/nul.eml"
wait_finding "$tmp/drop/mail/nul.eml" && pass "a mail with a NUL byte in a header: still read" || fail "NUL mail: $(grep nul.eml "$tmp/log" | tail -2)"
printf 'From: a@example.com\n\nnothing here, nothing at all: %040d\n' 0 >"$tmp/m.tmp" && mv "$tmp/m.tmp" "$tmp/drop/mail/same.eml"
sleep 1
f8=$("$G" github srcs8)
size=$(stat -c %s "$tmp/drop/mail/same.eml")
body="use $f8"
printf 'From: a@example.com\n\n%-*s\n' $((size - 22)) "$body" >"$tmp/new.txt"
[ "$(stat -c %s "$tmp/new.txt")" = "$size" ] || fail "test: sizes differ"
dd if="$tmp/new.txt" of="$tmp/drop/mail/same.eml" conv=notrunc status=none
wait_finding "$tmp/drop/mail/same.eml" && pass "a dropped file rewritten in place, same size: read again" ||
	fail "in-place rewrite: $(stat -c %s "$tmp/drop/mail/same.eml") bytes, $(grep same.eml "$tmp/log" | tail -2)"

# Stopped: what is written meanwhile is read on restart, nothing twice.
kill -TERM "$pid"; wait "$pid"; pid=
f6=$("$G" swarm-worker srcs6)
echo "while down $f6" >>"$tmp/logs/app.log"
n=$(q "SELECT count(*) FROM findings")
a=$(q "SELECT count(*) FROM alerts WHERE kind = 'leak'")
start || fail "restart"
for _ in $(seq 1 50); do [ "$(q "SELECT count(*) FROM findings")" -gt "$n" ] && break; sleep 0.1; done
[ "$(q "SELECT count(*) FROM findings")" = $((n + 1)) ] && pass "restart: resumed at the saved offset" ||
	fail "restart: $(q 'SELECT count(*) FROM findings') findings, had $n"
[ "$(q "SELECT count(*) FROM alerts WHERE kind = 'leak'")" = $((a + 1)) ] && pass "restart: no alert twice" || fail "alerts after restart"
# A file name with a newline cannot forge a log line (before: the
# finding's log line carried the name raw, a second line included).
forged=$'x\n2026-01-01T00:00:00Z driftwatchd[warn]: FORGED.log'
echo "key $("$G" github srcs7)" >"$tmp/logs/$forged"
for _ in $(seq 1 50); do [ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) LIKE '%FORGED%'")" = 1 ] && break; sleep 0.1; done
grep -q 'x\\n2026-01-01T00:00:00Z driftwatchd\[warn\]: FORGED' "$tmp/log" && ! grep -q '^2026-01-01T00:00:00Z' "$tmp/log" &&
	pass "a newline in a path is escaped in the log" || fail "log: $(grep -a -B1 FORGED "$tmp/log")"
! grep -qF "$W" "$db"* && ! grep -qF "$K" "$db"* && pass "no secret in clear in the store" || fail "secret in store"
grep -qF "$W" "$tmp/log" && fail "secret in the log" || pass "no secret in the log"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] && pass "clean stop" || fail "exit $rc"
finish
