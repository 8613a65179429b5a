#!/bin/bash
# The syslog output over RELP (driftwatch.yaml(5), OUTPUTS) into Debian's
# rsyslog (imrelp, from rsyslog-relp), started here on loopback, plain and
# over TLS (a CA made here, certificates both ways). 10,000 events and more: rsyslog is stopped
# mid-stream and started again, then driftwatchd is SIGKILLed mid-stream
# and started again; every event arrives, and a row arrives twice only
# where driftwatchd said it sent it again (a session broke before its
# answer) or in the one batch the SIGKILL cut. A receiver that answers
# some messages and then refuses one or ends the session gets the rest,
# and never the answered ones again.
. "$(dirname "$0")/../lib/common.sh"
dw_need_root
command -v rsyslogd >/dev/null || dw_skip "rsyslog is not installed (contrib/install-deps.sh --test)"
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so ] || dw_skip "rsyslog-relp is not installed (contrib/install-deps.sh --test)"

tmp=$(mktemp -d)
pid=
fpid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	[ -s "$tmp/rs.pid" ] && kill "$(cat "$tmp/rs.pid")" 2>/dev/null
	umount "$tmp/m" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/low/etc" "$tmp/up" "$tmp/work" "$tmp/m" "$tmp/rs"
echo image >"$tmp/low/etc/conf"
mount -t overlay overlay -o "lowerdir=$tmp/low,upperdir=$tmp/up,workdir=$tmp/work" "$tmp/m" ||
	dw_skip "cannot mount overlayfs here"

# driftwatchd's own certificate (client.pem) too: imrelp with TLS asks for one.
dw_test_ca "$tmp" || fail "openssl could not make the test certificates"

relp=$((20000 + RANDOM % 20000))
relps=$((relp + 1))
fake=$((relp + 2))
cat >"$tmp/rsyslog.conf" <<EOF
global(workDirectory="$tmp/rs" maxMessageSize="256k")
module(load="imrelp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="relp") { action(type="omfile" file="$tmp/relp.log" template="raw") }
ruleset(name="relps") { action(type="omfile" file="$tmp/relps.log" template="raw") }
input(type="imrelp" port="$relp" address="127.0.0.1" ruleset="relp" maxDataSize="256k")
input(type="imrelp" port="$relps" address="127.0.0.1" ruleset="relps" maxDataSize="256k"
	tls="on" tls.caCert="$tmp/ca.pem" tls.myCert="$tmp/server.pem"
	tls.myPrivKey="$tmp/server.key" tls.authMode="certvalid")
EOF
rsyslog_start() {
	rsyslogd -n -f "$tmp/rsyslog.conf" -i "$tmp/rs.pid" 2>>"$tmp/rs.err" &
	dw_wait 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$relps" || fail "rsyslogd did not start: $(cat "$tmp/rs.err")"
}
rsyslog_stop() { kill "$(cat "$tmp/rs.pid")"; dw_wait 10 bash -c "! kill -0 $(cat "$tmp/rs.pid") 2>/dev/null"; }
rsyslogd -N1 -f "$tmp/rsyslog.conf" >/dev/null 2>&1 || fail "rsyslogd -N1: $(rsyslogd -N1 -f "$tmp/rsyslog.conf" 2>&1 | tail -3)"
rsyslog_start

db="$tmp/dw.db"
cat >"$tmp/cfg.yaml" <<EOF
docker: false
debounce_ms: 20
outputs:
  - {type: syslog, address: "127.0.0.1:$relp", transport: relp, summarise: 0}
  - {type: syslog, address: "127.0.0.1:$relps", transport: relp-tls, ca: $tmp/ca.pem, summarise: 0,
     cert: $tmp/client.pem, key: $tmp/client.key}
EOF
start() { dw_output_daemon "$tmp/cfg.yaml" "$db" "$tmp/log" "$tmp/m"; }
host=$(hostname)
stored() { dw_output_ids "$db" "$host"; }
got() { grep -o ' \[driftwatch@32473 event_id="[^"]*"' "$tmp/$1.log" 2>/dev/null | sed 's/.*event_id="//; s/"$//' | sort; }
caught_up() {
	for _ in $(seq 1 300); do
		[ "$(got relp | sort -u)" = "$(stored)" ] && [ "$(got relps | sort -u)" = "$(stored)" ] && return 0
		sleep 0.2
	done
	return 1
}
# Rows said to be sent again (a session broke before their answers).
resent() { grep -o "$1: [0-9]* messages were sent and not answered" "$tmp/log" | awk '{s += $2} END {print s + 0}'; }
files() { for i in $(seq "$2" "$3"); do echo "$i" >"$tmp/m/$1-$i"; done; }

start
files a 1 5000
sleep 1
rsyslog_stop
files b 1 5000
# Seen to be down before it is back (slower under ASan).
dw_wait 60 grep -q "output 127.0.0.1:$relp: not delivered" "$tmp/log"
rsyslog_start
# Every change recorded first (slower under ASan).
dw_wait 120 bash -c "[ \$(sqlite3 '$db' 'SELECT count(*) FROM events') -ge 10000 ]" || fail "the store did not record 10,000 changes"
caught_up || fail "not every row arrived after rsyslog was stopped: relp $(got relp | sort -u | wc -l), relp-tls $(got relps | sort -u | wc -l) of $(stored | wc -l)"
n1=$(stored | wc -l)
for t in relp relps; do
	d=$(got $t | uniq -d | wc -l)
	r=$(resent "127.0.0.1:$([ $t = relp ] && echo $relp || echo $relps)")
	[ "$n1" -ge 10000 ] && [ "$d" -le "$r" ] &&
		pass "$t: $n1 rows, rsyslog stopped mid-stream and started: each arrived once but $d, of $r driftwatchd said it sent again" ||
		fail "$t: $d rows twice, $r said to be sent again ($n1 rows)"
done
grep -q "output 127.0.0.1:$relp: not delivered" "$tmp/log" && grep -q "output 127.0.0.1:$relp: delivering again" "$tmp/log" &&
	pass "the stopped receiver is said, and when it takes them again" || fail "log: $(grep output "$tmp/log" | head -5)"

# SIGKILLed mid-stream: only the batch whose answers came and whose
# cursor was not stored can go twice (at most 3 x 128 rows).
for t in relp relps; do got $t >"$tmp/before-$t"; done
files c 1 2000
sleep 0.5
kill -9 "$pid"
wait "$pid" 2>/dev/null
start
files d 1 100
dw_wait 120 bash -c "[ \$(sqlite3 '$db' 'SELECT count(*) FROM events') -ge 12100 ]" || fail "the store did not record 12,100 changes"
caught_up || fail "not every row arrived after the SIGKILL: relp $(got relp | sort -u | wc -l), relp-tls $(got relps | sort -u | wc -l) of $(stored | wc -l)"
kill -TERM "$pid"
wait "$pid"
pid=
n=$(stored | wc -l)
for t in relp relps; do
	d=$(( $(got $t | uniq -d | wc -l) - $(uniq -d "$tmp/before-$t" | wc -l) ))
	[ "$(got $t | sort -u)" = "$(stored)" ] && [ "$d" -le 384 ] &&
		pass "$t: driftwatchd SIGKILLed mid-stream: every one of $n rows arrived, $d of them twice (the batch in flight)" ||
		fail "$t: $d twice; $(diff <(got $t | sort -u) <(stored) | head -5)"
done
line=$(grep -m1 ' added \[' "$tmp/relp.log")
[[ "$line" =~ ^\<132\>1\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z\ $host\ driftwatchd\ [0-9]+\ added\ \[driftwatch@32473\ event_id=\"$host:event:[0-9]+\"\ .*\]\ \{ ]] &&
	jq -e '.event.kind == "event" and (.file.path | startswith("/"))' <<<"${line#*\] }" >/dev/null &&
	pass "RELP carries the RFC 5424 message itself (no octet count), the ECS document as MSG" ||
	fail "format: $line"

# relp-tls: a receiver whose certificate the configured CA did not sign.
sed -i "s|ca: $tmp/ca.pem|ca: $tmp/other.pem|" "$tmp/cfg.yaml"
echo late >"$tmp/m/late"
timeout 60 "$DWD" --foreground --once --config "$tmp/cfg.yaml" --db "$db" 2>"$tmp/once.log"
grep -q "certificate is not trusted" "$tmp/once.log" && ! grep -q '"/late"' "$tmp/relps.log" &&
	pass "relp-tls: a receiver whose certificate the CA did not sign gets nothing" || fail "tls trust: $(grep output "$tmp/once.log")"

# A receiver that answers two messages and refuses the third, then
# answers three and ends the session (serverclose), then takes all but
# one it always refuses.
cat >"$tmp/fake.py" <<'PY'
import re, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
out = open(sys.argv[2], "ab", buffering=0)
session = 0
def frames(c):
    buf = b""
    while True:
        while True:
            m = re.match(rb"(\d+) ([a-z]+) (\d+)[ \n]", buf)
            if not m:
                break
            n = int(m.group(3))
            start = m.end() if n else m.end() - 1
            if len(buf) < start + n + 1:
                break
            yield int(m.group(1)), m.group(2).decode(), buf[start:start + n]
            buf = buf[start + n + 1:]
        d = c.recv(65536)
        if not d:
            return
        buf += d
while True:
    c, _ = s.accept()
    taken = 0
    try:
        for txnr, cmd, data in frames(c):
            if cmd == "open":  # a session (not the test's probe)
                session += 1
                offers = b"200 OK\nrelp_version=0\nrelp_software=fake\ncommands=syslog"
                c.sendall(b"%d rsp %d %s\n" % (txnr, len(offers), offers))
            elif cmd == "close":
                c.sendall(b"%d rsp 0\n" % txnr)
                break
            elif cmd == "syslog":
                if b'path="/poison"' in data:
                    c.sendall(b"%d rsp 8 500 nope\n" % txnr)
                    continue
                if session == 1 and taken == 2:
                    c.sendall(b"%d rsp 8 500 nope\n" % txnr)
                    continue
                if session == 2 and taken == 3:
                    # Ended as a receiver does: what driftwatchd sent
                    # meanwhile is read (and dropped), so the close is
                    # a FIN after the answers, never a reset that
                    # would throw them away unread (and make it send
                    # answered rows again).
                    c.sendall(b"0 serverclose 0\n")
                    c.shutdown(socket.SHUT_WR)
                    c.settimeout(5)
                    try:
                        while c.recv(65536):
                            pass
                    except OSError:
                        pass
                    break
                taken += 1
                out.write(data + b"\n")
                c.sendall(b"%d rsp 6 200 OK\n" % txnr)
    except OSError:  # driftwatchd closed the session
        pass
    sys.stderr.write("session %d took %d\n" % (session, taken))
    c.close()
PY
python3 "$tmp/fake.py" "$fake" "$tmp/fake.log" 2>"$tmp/fake.err" &
fpid=$!
dw_wait 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$fake" || fail "the fake receiver did not start"
cat >"$tmp/cfg2.yaml" <<EOF
docker: false
debounce_ms: 20
outputs:
  - {type: syslog, address: "127.0.0.1:$fake", transport: relp}
EOF
rm -rf "${tmp:?}/m/"*
"$DWD" --foreground --config "$tmp/cfg2.yaml" --db "$tmp/fake.db" 2>>"$tmp/fake-dw.log" &
pid=$!
sleep 1
files e 1 30
echo x >"$tmp/m/poison"
dw_wait 40 bash -c "[ \$(grep -o 'path=\"/e-[0-9]*\"' '$tmp/fake.log' 2>/dev/null | sort -u | wc -l) -ge 30 ]"
dw_wait 20 grep -q "passed over" "$tmp/fake-dw.log"
kill -TERM "$pid"
wait "$pid"
pid=
taken=$(grep -o 'path="/e-[0-9]*"' "$tmp/fake.log" | wc -l)
uniq=$(grep -o 'path="/e-[0-9]*"' "$tmp/fake.log" | sort -u | wc -l)
[ "$uniq" = 30 ] && [ "$taken" = 30 ] && grep -q "refused a message: 500 nope" "$tmp/fake-dw.log" &&
	grep -q "the receiver refused the events row [0-9]* 5 times: passed over (it stays in the store)" "$tmp/fake-dw.log" &&
	! grep -q 'path="/poison"' "$tmp/fake.log" &&
	pass "a refused message and a serverclose: the 30 rows are each taken once (the answered ones are not sent again); a row refused 5 times is passed over, said" ||
	fail "fake receiver: $taken taken, $uniq different of 30; $(grep output "$tmp/fake-dw.log")"

finish
