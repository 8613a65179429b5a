#!/bin/bash
# Containers on Docker's journald log driver. Before, their logs were
# never read (journald keeps no dual-logging cache): coverage said
# "unmonitored", and a token a container printed was not found. Now the
# entries are read through sd_journal (CONTAINER_ID_FULL), scanned in the
# scanner process with stream (PRIORITY) and time, pieces of a long line
# (CONTAINER_PARTIAL_MESSAGE) joined, and a restart goes on from the
# cursor kept in the store: each secret found once. No systemd runs
# here: the test starts systemd-journald itself when no journal socket is
# there (Debian's systemd package), and stops it again.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
JD=/lib/systemd/systemd-journald
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
db="$tmp/dw.db"
pid=
jd=
names="dwj-a dwj-long dwj-none dwj-slow dwj-exit dwj-key dwj-key2 dwj-key3 dwj-key4"
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	# shellcheck disable=SC2086
	dw_docker_rm $names
	if [ -n "$jd" ]; then
		kill "$jd" 2>/dev/null
		wait "$jd" 2>/dev/null
		rm -rf /run/systemd/journal /run/log/journal
	fi
	[ -d /run/log/journal.dwtest ] && mv /run/log/journal.dwtest /run/log/journal
	rm -rf "$tmp"
}
trap cleanup EXIT
# A journald answers at the socket (a socket file left by a journald that
# was killed is no journal: docker then refuses the driver).
journal_up() {
	/usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])' /run/systemd/journal/socket 2>/dev/null
}
if ! journal_up; then
	[ -e /run/systemd/journal/socket ] && echo "# a stale journal socket (no journald behind it): removed" >&2
	rm -f /run/systemd/journal/socket /run/systemd/journal/stdout /run/systemd/journal/dev-log /run/systemd/journal/io.systemd.journal
	[ -x "$JD" ] || dw_skip "no $JD (Debian's systemd package) to start a journal with"
	[ -s /etc/machine-id ] || systemd-machine-id-setup >/dev/null 2>&1 ||
		dw_skip "no /etc/machine-id for the journal"
	"$JD" >"$tmp/journald.log" 2>&1 &
	jd=$!
	for _ in $(seq 1 50); do journal_up && break; sleep 0.1; done
	journal_up || { cat "$tmp/journald.log"; dw_skip "systemd-journald did not start"; }
fi
# shellcheck disable=SC2086
dw_docker_rm $names
printf 'debounce_ms: 20\n' >"$tmp/cfg.yaml"
q() { sqlite3 -readonly "$db" "$1" 2>/dev/null; }
# wait_rule CONTAINER RULE [COUNT]: a finding of RULE in CONTAINER's log.
wait_rule() {
	for _ in $(seq 1 150); do
		[ "$(q "SELECT count(*) FROM findings WHERE container_id = '$1' AND rule = '$2'")" -ge "${3:-1}" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

a=$($G github dwj-a)
b=$($G npm dwj-b)
mkdir -p "$tmp/ctl"
docker run -d --network none --name dwj-a --log-driver journald -v "$tmp/ctl:/ctl" dwtest:busybox \
	sh -c "echo 'boot ok'; echo 'token $a'; echo 'npm $b' >&2
		while true; do [ -f /ctl/say ] && cat /ctl/say && rm /ctl/say; sleep 0.1; done" >/dev/null ||
	{ fail "docker run --log-driver journald"; finish; exit 1; }
ida=$(docker inspect -f '{{.Id}}' dwj-a)
# Printed before the daemon starts: read from the journal's start.
sleep 0.5
dw_daemon_start "$tmp/cfg.yaml" "$db" "$tmp/log" || { fail "daemon start"; finish; exit 1; }
wait_rule "$ida" github-token && pass "journald driver: a token on stdout found" || fail "journald: $(q 'SELECT container_id, rule FROM findings'); $(tail -3 "$tmp/log")"
wait_rule "$ida" npm-token && pass "journald driver: one on stderr too" || fail "journald stderr"
# Entries are numbered in the journal's order (Docker's two streams may
# come in either order).
want=$(journalctl -D /run/log/journal -o cat --no-pager "CONTAINER_ID_FULL=$ida" 2>/dev/null | grep -n "^token " | cut -d: -f1)
[ "$(q "SELECT source || ' ' || line || ' ' || CAST(path AS TEXT) FROM findings WHERE rule = 'github-token'")" = "journald ${want:-2} journal:CONTAINER_ID_FULL=$ida" ] &&
	pass "source journald, its entry number, the container's journal match" || fail "source/line (want ${want:-?}): $(q "SELECT rule, source, line, CAST(path AS TEXT) FROM findings")"
[ "$(dw_coverage "$db" "$ida" logs)" = "monitored " ] && pass "its logs: monitored" || fail "coverage: $(dw_coverage "$db" "$ida" logs)"

# A token across Docker's 16 KiB cut (CONTAINER_PARTIAL_MESSAGE).
c=$($G gitlab dwj-c)
docker run -d --network none --name dwj-long --log-driver journald dwtest:busybox \
	sh -c "head -c 16370 /dev/zero | tr '\\0' x; echo ' $c'; sleep 600" >/dev/null
idl=$(docker inspect -f '{{.Id}}' dwj-long)
wait_rule "$idl" gitlab-token && pass "a token split at 16 KiB: joined, found" || fail "long line: $(tail -3 "$tmp/log")"

# A piece left open across the daemon's read turns (1 s), another
# stream's line between: still joined. Before, the second turn forgot the
# piece was open, let it go at the stderr line, and the rest came alone.
e=$($G github dwj-e)
docker run -d --network none --name dwj-slow --log-driver journald dwtest:busybox \
	sh -c "head -c 16380 /dev/zero | tr '\\0' x; printf ' %s' '${e:0:10}'; sleep 2; echo other >&2; sleep 1.5; echo '${e:10}'; sleep 600" >/dev/null
ids=$(docker inspect -f '{{.Id}}' dwj-slow)
sleep 5
wait_rule "$ids" github-token && pass "a piece open across read turns, a stderr line between: joined" ||
	fail "open across turns: $(q "SELECT rule FROM findings WHERE container_id = '$ids'")"

# A container that prints a backlog larger than one read turn (4 MiB)
# and exits: read to its end. Before, one turn was read, the rest never.
f=$($G npm dwj-f)
docker run -d --network none --name dwj-exit --log-driver journald dwtest:busybox \
	sh -c "sleep 2; i=0; while [ \$i -lt 300 ]; do head -c 15000 /dev/zero | tr '\\0' y; echo; i=\$((i+1)); done; echo 'npm $f'" >/dev/null
idx=$(docker inspect -f '{{.Id}}' dwj-exit)
wait_rule "$idx" npm-token && pass "a container that exits after a 4.5 MiB backlog: read to its end" ||
	fail "backlog at exit: $(tail -3 "$tmp/log")"

# A private key printed an entry a line, its END line after the daemon
# has read the rest. Before, each read turn was scanned alone: the key
# was never found, and nothing said so.
openssl genpkey -algorithm ed25519 -out "$tmp/k.pem" 2>/dev/null || fail "openssl genpkey"
docker run -d --network none --name dwj-key --log-driver journald -v "$tmp/ctl:/ctl" -e KEY="$(cat "$tmp/k.pem")" dwtest:busybox \
	sh -c 'echo starting; printf "%s\n" "$KEY" | head -n 2; while [ ! -f /ctl/rest ]; do sleep 0.1; done; printf "%s\n" "$KEY" | tail -n +3; sleep 600' >/dev/null
idk=$(docker inspect -f '{{.Id}}' dwj-key)
sleep 2.5
touch "$tmp/ctl/rest"
wait_rule "$idk" private-key &&
	[ "$(q "SELECT source || ' ' || line FROM findings WHERE rule = 'private-key' AND container_id = '$idk'")" = "journald 2" ] &&
	pass "a key printed an entry a line, its END after a read turn: found, at its BEGIN entry" ||
	fail "key over two turns: $(q "SELECT rule, source, line FROM findings WHERE container_id = '$idk'")"
# Held at most 128 KiB of entries (4,000 short entries are 150 KiB,
# little text: within the rules' window): past that, let go and said.
docker run -d --network none --name dwj-key3 --log-driver journald -e KEY="$(cat "$tmp/k.pem")" dwtest:busybox \
	sh -c 'echo starting; printf "%s\n" "$KEY" | head -n 2; i=0; while [ $i -lt 4000 ]; do echo .; i=$((i+1)); done; sleep 2; printf "%s\n" "$KEY" | tail -n +3; sleep 600' >/dev/null
idk3=$(docker inspect -f '{{.Id}}' dwj-key3)
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM alerts WHERE kind = 'evasion' AND summary LIKE '%$idk3%left open for over 128 KiB%'")" -ge 1 ] 2>/dev/null && break
	sleep 0.1
done
[ "$(q "SELECT count(*) FROM alerts WHERE kind = 'evasion' AND summary LIKE '%$idk3%left open for over 128 KiB%'")" -ge 1 ] &&
	pass "a key held open past 128 KiB of entries: let go, said" ||
	fail "key held too long: $(q "SELECT summary FROM alerts WHERE summary LIKE '%$idk3%'")"
# ... and the daemon stopped between its BEGIN and its END: the cursor
# kept is before the BEGIN entry, so the restart reads it again.
docker run -d --network none --name dwj-key2 --log-driver journald -v "$tmp/ctl:/ctl" -e KEY="$(cat "$tmp/k.pem")" dwtest:busybox \
	sh -c 'echo starting; echo more; printf "%s\n" "$KEY" | head -n 2; while [ ! -f /ctl/rest2 ]; do sleep 0.1; done; printf "%s\n" "$KEY" | tail -n +3; sleep 600' >/dev/null
idk2=$(docker inspect -f '{{.Id}}' dwj-key2)
# A key's BEGIN at the end of a 4 MB line (256 pieces, none of them a
# place to go on from), printed while the daemon is stopped, its END
# after the restart. Before (review of 1abee3d), the lines were held from
# before that line: the line and the key's next entry are 50 bytes past
# the read turn's 4 MiB budget (37 bytes of CRI prefix and a newline an
# entry), every later turn read nothing, and the container's log was
# never read again, silently. Now they are held from the BEGIN entry,
# and the cursor kept is before the long line.
s=$($G npm dwj-s)
docker run -d --network none --name dwj-key4 --log-driver journald -v "$tmp/ctl:/ctl" -e KEY="$(cat "$tmp/k.pem")" dwtest:busybox \
	sh -c 'echo starting; while [ ! -f /ctl/go4 ]; do sleep 0.1; done; head -c 4184499 /dev/zero | tr "\0" x; printf "%s\n" "$KEY" | head -n 2; echo printed >/ctl/printed4
		while [ ! -f /ctl/end4 ]; do sleep 0.1; done; printf "%s\n" "$KEY" | tail -n +3; echo "npm '"$s"'"; sleep 600' >/dev/null
idk4=$(docker inspect -f '{{.Id}}' dwj-key4)
sleep 2.5

# Stopped; what is printed meanwhile is read on restart, nothing twice.
n=$(q "SELECT count(*) FROM findings")
kill -TERM "$pid"; wait "$pid"; pid=
touch "$tmp/ctl/rest2" "$tmp/ctl/go4"
dw_wait 20 test -f "$tmp/ctl/printed4" || fail "dwj-key4 did not print"
body=$(sed -n 2p "$tmp/k.pem")
dw_wait 20 sh -c "journalctl -D /run/log/journal -o cat --no-pager CONTAINER_ID_FULL=$idk4 2>/dev/null | tail -n 1 | grep -qx '$body'" ||
	fail "dwj-key4's lines not in the journal"
d=$($G github dwj-d)
echo "later $d" >"$tmp/ctl/say"
for _ in $(seq 1 50); do [ -f "$tmp/ctl/say" ] || break; sleep 0.1; done
sleep 0.3
dw_daemon_start "$tmp/cfg.yaml" "$db" "$tmp/log" || fail "restart"
wait_rule "$ida" github-token 2 && pass "restart: what was printed meanwhile is read" || fail "restart: $(q 'SELECT rule, line FROM findings')"
wait_rule "$idk2" private-key &&
	[ "$(q "SELECT source || ' ' || line FROM findings WHERE rule = 'private-key' AND container_id = '$idk2'")" = "journald 3" ] &&
	pass "restart between a key's BEGIN and END: found, at its BEGIN entry" ||
	fail "key over a restart: $(q "SELECT rule, source, line FROM findings WHERE container_id = '$idk2'")"
touch "$tmp/ctl/end4"
wait_rule "$idk4" npm-token && pass "a key's BEGIN after a 4 MB line, its END later: what follows is read" ||
	fail "stalled after a 4 MB line: $(q "SELECT rule, line FROM findings WHERE container_id = '$idk4'")"
[ "$(q "SELECT line FROM findings WHERE rule = 'private-key' AND container_id = '$idk4'")" = 257 ] &&
	pass "and the key, at its BEGIN entry" || fail "key after a 4 MB line: $(q "SELECT rule, line FROM findings WHERE container_id = '$idk4'")"
sleep 0.5
[ "$(q "SELECT count(*) FROM findings")" = $((n + 4)) ] && pass "restart: nothing found twice" ||
	fail "restart: $(q 'SELECT count(*) FROM findings') findings, had $n"
[ "$(q "SELECT line FROM findings WHERE rule = 'github-token' AND container_id = '$ida' ORDER BY line DESC LIMIT 1")" = 4 ] &&
	pass "restart: entries counted on from the cursor" || fail "line after restart: $(q "SELECT line FROM findings WHERE container_id = '$ida'")"
grep -q "$a\|$d" "$tmp/log" && fail "a secret in the daemon's log" || pass "no secret in the log"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" = 0 ] && pass "clean stop" || fail "stop rc $rc"

# No journal on the host: said, never silent. (The journal's directory
# moved away while the daemon starts; journald writes on where it was.)
mv /run/log/journal /run/log/journal.dwtest
db="$tmp/dw2.db"
dw_daemon_start "$tmp/cfg.yaml" "$db" "$tmp/log2" || fail "start without a journal"
docker run -d --network none --name dwj-none --log-driver journald dwtest:busybox sleep 600 >/dev/null
idn=$(docker inspect -f '{{.Id}}' dwj-none)
for _ in $(seq 1 50); do [ -n "$(dw_coverage "$db" "$idn" logs)" ] && break; sleep 0.1; done
mv /run/log/journal.dwtest /run/log/journal
dw_coverage "$db" "$idn" logs | grep -q "^unmonitored log-driver" &&
	pass "no journal on the host: logs unmonitored (log-driver)" || fail "no journal: $(dw_coverage "$db" "$idn" logs)"
sqlite3 -readonly "$db" "SELECT detail FROM coverage WHERE container_id = '$idn' AND facet = 'logs'" | grep -q "no journal" &&
	pass "and why: no journal" || fail "detail: $(sqlite3 -readonly "$db" "SELECT detail FROM coverage")"
kill -TERM "$pid"; wait "$pid"; pid=
finish
