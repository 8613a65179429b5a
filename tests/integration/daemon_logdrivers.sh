#!/bin/bash
# Container logs of every log driver Docker keeps a copy of. Before, a
# container on the `local` driver (Docker's recommended one) printed a
# join token and nothing was ever reported; every other driver but
# json-file was blind the same way. Now: the `local` driver's frames, and
# for other drivers (syslog here, to a loopback port nobody reads) the
# dual-logging cache Docker keeps, are followed like json-file logs: live,
# across rotation, a line split at 16 KiB joined, and resumed after a
# restart without repeats. `none` is said (coverage.sh).
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
db="$tmp/dw.db"
pid=
names="dwl-local dwl-long dwl-json dwl-rot dwl-syslog"
spid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	# shellcheck disable=SC2086
	dw_docker_rm $names
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck disable=SC2086
dw_docker_rm $names
printf 'debounce_ms: 20\n' >"$tmp/cfg.yaml"
q() { sqlite3 -readonly "$db" "$1"; }
# wait_rule CONTAINER RULE [COUNT]: a finding of RULE in CONTAINER's log.
wait_rule() {
	local cid
	cid=$(docker inspect -f '{{.Id}}' "$1")
	for _ in $(seq 1 150); do
		[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) LIKE '%$cid%' AND rule = '$2'")" -ge "${3:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}
dw_daemon_start "$tmp/cfg.yaml" "$db" "$tmp/log" || { fail "daemon start"; finish; exit 1; }

a=$($G github dwl-a)
b=$($G npm dwl-b)
# It prints what the test drops in /ctl/say (a bind mount), later on.
mkdir -p "$tmp/ctl"
docker run -d --network none --name dwl-local --log-driver local -v "$tmp/ctl:/ctl" dwtest:busybox \
	sh -c "echo 'boot ok'; echo 'token $a'; sleep 1; echo 'npm $b' >&2
		while true; do [ -f /ctl/say ] && cat /ctl/say && rm /ctl/say; sleep 0.1; done" >/dev/null
wait_rule dwl-local github-token && pass "local driver: a token on stdout found" || fail "local: $(q 'SELECT path, rule FROM findings')"
wait_rule dwl-local npm-token && pass "local driver: a later one on stderr too" || fail "local stderr"
cid=$(docker inspect -f '{{.Id}}' dwl-local)
[ "$(q "SELECT source || ' ' || line FROM findings WHERE rule = 'github-token' AND CAST(path AS TEXT) LIKE '%$cid/local-logs/container.log'")" = "docker-local-log 2" ] &&
	pass "source docker-local-log, entry 2" || fail "source/line: $(q "SELECT source, line, CAST(path AS TEXT) FROM findings")"
[ "$(dw_coverage "$db" "$cid" logs)" = "monitored " ] && pass "its logs: monitored" || fail "coverage: $(dw_coverage "$db" "$cid" logs)"

# A token across Docker's 16 KiB split of a long line.
c=$($G gitlab dwl-c)
docker run -d --network none --name dwl-long --log-driver local dwtest:busybox \
	sh -c "head -c 16370 /dev/zero | tr '\\0' x; echo ' $c'; sleep 600" >/dev/null
wait_rule dwl-long gitlab-token && pass "a token split at 16 KiB: joined, found" || fail "long line"
# The same in a json-file log (Docker's default driver): before, each
# 16 KiB piece was scanned on its own and the token was never found.
j=$($G gitlab dwl-j)
docker run -d --network none --name dwl-json dwtest:busybox \
	sh -c "head -c 16370 /dev/zero | tr '\\0' x; echo ' $j'; echo 'after' >&2; sleep 600" >/dev/null
wait_rule dwl-json gitlab-token && pass "json-file: a token split at 16 KiB: joined, found" || fail "json-file long line"
# (Docker's stdout and stderr are written by two goroutines: the stderr
# line may come first; the piece is the first stdout line.)
jl=$(grep -n '"stream":"stdout"' "$(docker inspect -f '{{.LogPath}}' dwl-json)" | head -1 | cut -d: -f1)
[ "$(q "SELECT source || ' ' || line FROM findings WHERE rule = 'gitlab-token' AND CAST(path AS TEXT) LIKE '%-json.log'")" = "docker-json-log $jl" ] &&
	pass "json-file: told at the piece where it starts" || fail "json-file join: $(q "SELECT source, line, CAST(path AS TEXT) FROM findings WHERE rule = 'gitlab-token'")"

# A line left open: its first 16 KiB piece holds a token and no end
# follows (before, pieces waited unscanned for the line's end).
o=$($G github dwl-o)
docker run -d --network none --name dwl-open --log-driver local dwtest:busybox \
	sh -c "printf 'tok $o '; head -c 20000 /dev/zero | tr '\\0' y; sleep 600" >/dev/null
names="$names dwl-open"
wait_rule dwl-open github-token && pass "a token in a line left open: found" || fail "open line"

# A stdout line left open (16 KiB and one byte: Docker holds the byte
# for a newline that never comes), then megabytes on stderr, then a
# token: before, the open line held every later entry back (the daemon's
# buffer grew, nothing after 8 MiB was scanned); now the pieces are let
# go past 3 MiB, said, and the rest is read.
t=$($G github dwl-t)
docker run -d --network none --name dwl-hold --log-driver local dwtest:busybox \
	sh -c "head -c 16385 /dev/zero | tr '\\0' a; yes filler | head -n 250000 >&2; echo 'tok $t' >&2; sleep 600" >/dev/null
names="$names dwl-hold"
hid=$(docker inspect -f '{{.Id}}' dwl-hold)
for _ in $(seq 1 300); do
	[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) LIKE '%$hid%' AND rule = 'github-token'")" -ge 1 ] && break
	sleep 0.1
done
[ "$(q "SELECT count(*) FROM findings WHERE CAST(path AS TEXT) LIKE '%$hid%' AND rule = 'github-token'")" -ge 1 ] &&
	pass "a line held open with megabytes of another stream after it: the token after them is found" ||
	fail "held open: $(q "SELECT summary FROM alerts WHERE summary LIKE '%dwl-hold%'" | tail -2)"
[ "$(q "SELECT count(*) FROM alerts WHERE summary LIKE '%dwl-hold%scanned in pieces%'")" -ge 1 ] &&
	pass "and the unjoined pieces are said" || fail "not said: $(q "SELECT summary FROM alerts WHERE summary LIKE '%dwl-hold%'" | tail -2)"

# A private key printed a line an entry, its END line two seconds after
# the rest (the daemon reads between): before, each entry was scanned
# alone and the key never found.
openssl genpkey -algorithm ed25519 -out "$tmp/k.pem" 2>/dev/null || fail "openssl genpkey"
docker run -d --network none --name dwl-key --log-driver local -e KEY="$(cat "$tmp/k.pem")" dwtest:busybox \
	sh -c 'echo starting; printf "%s\n" "$KEY" | head -n 2; sleep 2; printf "%s\n" "$KEY" | tail -n +3; sleep 600' >/dev/null
names="$names dwl-key"
kid=$(docker inspect -f '{{.Id}}' dwl-key)
wait_rule dwl-key private-key &&
	[ "$(q "SELECT source || ' ' || line FROM findings WHERE rule = 'private-key' AND CAST(path AS TEXT) LIKE '%$kid%'")" = "docker-local-log 2" ] &&
	pass "local driver: a key printed an entry a line, over two reads: found, at its BEGIN entry" ||
	fail "local key: $(q "SELECT rule, source, line FROM findings WHERE CAST(path AS TEXT) LIKE '%$kid%'")"

# A BEGIN line on stdout, then 200 KB on stderr (review of 2f8ce17: the
# frames from that BEGIN were given to the scanner again with every
# later read, up to 3 MiB each time, for as long as stdout stayed quiet).
# A BEGIN further back than the rules' 64 KiB window holds nothing: the
# offset kept moves on to the log's end.
docker run -d --network none --name dwl-begin --log-driver local dwtest:busybox \
	sh -c 'echo "-----BEGIN RSA PRIVATE KEY-----"; yes stderr-filler-line | head -c 200000 >&2; sleep 600' >/dev/null
names="$names dwl-begin"
blog=$(dirname "$(docker inspect -f '{{.HostnamePath}}' dwl-begin)")/local-logs/container.log
dw_wait 20 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT offset FROM follow_offsets WHERE CAST(path AS TEXT) = '$blog'\" 2>/dev/null)\" = \"\$(stat -c %s '$blog')\" ]" &&
	pass "a BEGIN line with 200 KB of the other stream after it: not held (the offset is at the log's end)" ||
	fail "BEGIN held: offset $(q "SELECT offset FROM follow_offsets WHERE CAST(path AS TEXT) = '$blog'") of $(stat -c %s "$blog")"

# Rotation: the token's file is rotated and compressed under us.
d=$($G github dwl-d)
docker run -d --network none --name dwl-rot --log-driver local --log-opt max-size=20k --log-opt max-file=3 \
	dwtest:busybox sh -c "echo 'token $d'; i=0; while [ \$i -lt 600 ]; do echo \"filler line \$i of the rotation test\"; i=\$((i+1)); done; sleep 600" >/dev/null
wait_rule dwl-rot github-token && pass "rotated away: still found" || fail "rotation: $(ls -R "$(dirname "$(docker inspect -f '{{.HostnamePath}}' dwl-rot)")/local-logs")"

# Another driver: Docker's dual-logging cache is read.
e=$($G stripe dwl-e)
# (Its receiver reads and drops: a receiver that does not read wedges
# the container in dockerd when it stops, daemon_wedged.sh.)
python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
sys.stdout.close()
while True:
    s.recv(65536)' >"$tmp/syslog.port" &
spid=$!
for _ in $(seq 1 50); do [ -s "$tmp/syslog.port" ] && break; sleep 0.1; done
docker run -d --network none --name dwl-syslog --log-driver syslog --log-opt "syslog-address=udp://127.0.0.1:$(cat "$tmp/syslog.port")" \
	dwtest:busybox sh -c "echo 'key $e'; sleep 600" >/dev/null
wait_rule dwl-syslog stripe-secret-key && pass "syslog driver: its dual-logging cache read" ||
	fail "syslog: $(ls "$(dirname "$(docker inspect -f '{{.HostnamePath}}' dwl-syslog)")")"

# A restart mid-file: what came meanwhile is read, nothing twice.
kill -TERM "$pid"; wait "$pid"; pid=
n=$(q "SELECT count(*) FROM findings")
f=$($G npm dwl-f)
# Printed while the daemon is down, into a log it was following.
printf 'npm %s\n' "$f" >"$tmp/ctl/say"
for _ in $(seq 1 50); do [ -f "$tmp/ctl/say" ] || break; sleep 0.1; done
dw_daemon_start "$tmp/cfg.yaml" "$db" "$tmp/log" || fail "restart"
wait_rule dwl-local npm-token 2 && pass "restart: what was printed meanwhile is read" || fail "restart read"
sleep 1
[ "$(q "SELECT count(*) FROM findings")" = $((n + 1)) ] && pass "restart: nothing reported twice" ||
	fail "restart: $(q "SELECT count(*) FROM findings") findings, had $n: $(q "SELECT rule, line, CAST(path AS TEXT) FROM findings ORDER BY id DESC LIMIT 3")"
[ "$(q "SELECT count(*) FROM alerts WHERE kind = 'leak'")" = $((n + 1)) ] && pass "one leak alert each" || fail "alerts"
! grep -qF "$a" "$tmp/log" && pass "no secret in the log" || fail "secret in the log"
kill -TERM "$pid"; wait "$pid"; pid=

# The decoder on a file cut inside a frame and on garbage: what it could
# not decode is scanned raw and said (scan exit 3), never dropped.
mkdir -p "$tmp/x/local-logs"
logf=$(dirname "$(docker inspect -f '{{.HostnamePath}}' dwl-local)")/local-logs/container.log
head -c 20 "$logf" >"$tmp/x/local-logs/container.log"
printf 'npm %s\n' "$($G npm dwl-g)" >>"$tmp/x/local-logs/container.log"
"$DW" scan --format jsonl "$tmp/x/local-logs/container.log" >"$tmp/cut.jsonl" 2>"$tmp/cut.err"
rc=$?
[ $rc -eq 3 ] && grep -q 'ends inside a frame\|not Docker.s local log format' "$tmp/cut.err" && [ "$(jq -r .rule "$tmp/cut.jsonl")" = npm-token ] &&
	pass "a damaged local log: scanned raw, said, exit 3" || fail "damaged: rc $rc $(cat "$tmp/cut.err") $(cat "$tmp/cut.jsonl")"
"$DW" scan --format jsonl "$logf" >"$tmp/whole.jsonl" 2>&1
[ "$(jq -r '.rule + " " + .stream' "$tmp/whole.jsonl" | sort | tr '\n' ' ')" = "github-token stdout npm-token stderr npm-token stdout " ] &&
	pass "driftwatch scan reads local logs too, with the stream" || fail "scan local: $(cat "$tmp/whole.jsonl")"

# The same key, read by driftwatchd itself (no CAP_SETUID: no confined
# scanner process), which keeps an open key's lines between its reads;
# stopped and started again between the key's BEGIN and its END (review
# of 2f8ce17: the offset stored was past the key's first lines, kept only
# in memory: after a restart the key was never found).
indwd() {
	capsh --drop=cap_setuid,cap_setgid -- -c "exec $DWD --foreground --config $tmp/cfg.yaml --db $tmp/in.db --no-mounts" 2>>"$tmp/in.log" &
	pid=$!
}
indb() { sqlite3 -readonly "$tmp/in.db" "$1" 2>/dev/null; }
indwd
docker rm -f dwl-key >/dev/null 2>&1
rm -f "$tmp/ctl/rest"
docker run -d --network none --name dwl-key --log-driver local -v "$tmp/ctl:/ctl" -e KEY="$(cat "$tmp/k.pem")" dwtest:busybox \
	sh -c 'echo starting; sleep 1; printf "%s\n" "$KEY" | head -n 2; while [ ! -f /ctl/rest ]; do sleep 0.1; done; printf "%s\n" "$KEY" | tail -n +3; sleep 600' >/dev/null
kid=$(docker inspect -f '{{.Id}}' dwl-key)
dw_wait 20 sh -c "[ \"\$(sqlite3 -readonly '$tmp/in.db' \"SELECT count(*) FROM follow_offsets WHERE CAST(path AS TEXT) LIKE '%$kid%' AND offset > 0\" 2>/dev/null)\" = 1 ]" || fail "in-process: its log not followed"
sleep 2
kill -TERM "$pid"; wait "$pid"
indwd
touch "$tmp/ctl/rest"
dw_wait 20 sh -c "[ \"\$(sqlite3 -readonly '$tmp/in.db' \"SELECT source || ' ' || line FROM findings WHERE rule = 'private-key' AND CAST(path AS TEXT) LIKE '%$kid%'\" 2>/dev/null)\" = 'docker-local-log 2' ]" &&
	grep -q "not in a confined scanner process" "$tmp/in.log" &&
	pass "and by driftwatchd unconfined, restarted between the key's BEGIN and END: found" ||
	fail "unconfined local key: $(indb "SELECT rule, source, line FROM findings") $(tail -3 "$tmp/in.log")"
# ... and with 80 KB of stderr between its BEGIN and its END (second
# review of fe193bd: the window was counted in raw bytes, both streams':
# the key was let go, silently). In memory, its stream's text counts.
docker rm -f dwl-key2 >/dev/null 2>&1
docker run -d --network none --name dwl-key2 --log-driver local -v "$tmp/ctl:/ctl" -e KEY="$(cat "$tmp/k.pem")" dwtest:busybox \
	sh -c 'echo starting; printf "%s\n" "$KEY" | head -n 2; yes stderr-filler-line | head -c 80000 >&2; while [ ! -f /ctl/rest2 ]; do sleep 0.1; done; printf "%s\n" "$KEY" | tail -n +3; sleep 600' >/dev/null
names="$names dwl-key2"
kid2=$(docker inspect -f '{{.Id}}' dwl-key2)
sleep 2
touch "$tmp/ctl/rest2"
dw_wait 20 sh -c "[ \"\$(sqlite3 -readonly '$tmp/in.db' \"SELECT source || ' ' || line FROM findings WHERE rule = 'private-key' AND CAST(path AS TEXT) LIKE '%$kid2%'\" 2>/dev/null)\" = 'docker-local-log 2' ]" &&
	pass "unconfined: a key with 80 KB of stderr between its BEGIN and END: found" ||
	fail "unconfined key over stderr: $(indb "SELECT rule, source, line, CAST(path AS TEXT) FROM findings" | tail -3)"
kill -TERM "$pid"; wait "$pid"; pid=
finish
