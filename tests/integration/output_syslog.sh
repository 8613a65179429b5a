#!/bin/bash
# The syslog output (driftwatch.yaml(5), OUTPUTS) into Debian's rsyslog,
# started here on loopback: RFC 5424 with octet counting over TCP (imtcp)
# and over TLS (imtcp with the gtls driver, a CA made here); RELP is
# output_relp.sh. More than 10,000 events; rsyslog is
# stopped mid-stream and started again, then driftwatchd is SIGKILLed and
# started again: no event is lost on either, duplicates (at least once)
# are counted; structured data escapes what a container chose; a receiver
# whose certificate the CA did not sign is refused.
. "$(dirname "$0")/../lib/common.sh"
dw_need_root
command -v rsyslogd >/dev/null || dw_skip "rsyslog is not installed (contrib/install-deps.sh --test)"
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || dw_skip "rsyslog-gnutls is not installed"

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -s "$tmp/rs.pid" ] && kill "$(cat "$tmp/rs.pid")" 2>/dev/null
	umount "$tmp/m" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/low/etc" "$tmp/up" "$tmp/work" "$tmp/m" "$tmp/rs"
echo image >"$tmp/low/etc/conf"
mount -t overlay overlay -o "lowerdir=$tmp/low,upperdir=$tmp/up,workdir=$tmp/work" "$tmp/m" ||
	dw_skip "cannot mount overlayfs here"

dw_test_ca "$tmp" || fail "openssl could not make the test certificates"

tcp=$((20000 + RANDOM % 20000))
tls=$((tcp + 1))
cat >"$tmp/rsyslog.conf" <<EOF
global(workDirectory="$tmp/rs" maxMessageSize="256k"
	defaultNetstreamDriverCAFile="$tmp/ca.pem"
	defaultNetstreamDriverCertFile="$tmp/server.pem"
	defaultNetstreamDriverKeyFile="$tmp/server.key")
module(load="imtcp" maxSessions="50")
module(load="mmjsonparse")
template(name="raw" type="string" string="%rawmsg%\n")
template(name="dw_id" type="list") { property(name="\$!event!id") constant(value="\n") }
# As contrib/fleet/rsyslog-driftwatch.conf parses MSG.
ruleset(name="tcp") {
	action(type="omfile" file="$tmp/tcp.log" template="raw")
	action(type="mmjsonparse" cookie="")
	if \$parsesuccess == "OK" then action(type="omfile" file="$tmp/parsed.log" template="dw_id")
}
ruleset(name="tls") { action(type="omfile" file="$tmp/tls.log" template="raw") }
input(type="imtcp" port="$tcp" address="127.0.0.1" ruleset="tcp")
input(type="imtcp" port="$tls" address="127.0.0.1" ruleset="tls"
	streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
EOF
rsyslog_start() {
	rsyslogd -n -f "$tmp/rsyslog.conf" -i "$tmp/rs.pid" 2>>"$tmp/rs.err" &
	dw_wait 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$tls" || fail "rsyslogd did not start: $(cat "$tmp/rs.err")"
}
rsyslog_stop() { kill "$(cat "$tmp/rs.pid")"; dw_wait 10 bash -c "! kill -0 $(cat "$tmp/rs.pid") 2>/dev/null"; }
rsyslogd -N1 -f "$tmp/rsyslog.conf" >/dev/null 2>&1 || fail "rsyslogd -N1: $(rsyslogd -N1 -f "$tmp/rsyslog.conf" 2>&1 | tail -3)"
rsyslog_start

db="$tmp/dw.db"
cat >"$tmp/cfg.yaml" <<EOF
docker: false
debounce_ms: 20
outputs:
  - type: syslog
    address: 127.0.0.1:$tcp
    summarise: 0
  - type: syslog
    address: 127.0.0.1:$tls
    summarise: 0
    transport: tls
    ca: $tmp/ca.pem
    facility: auth
    sd_id: driftwatch@32473
EOF
start() { dw_output_daemon "$tmp/cfg.yaml" "$db" "$tmp/log" "$tmp/m"; }
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }
host=$(hostname)
stored() { dw_output_ids "$db" "$host"; }
got() { grep -o ' \[driftwatch@32473 event_id="[^"]*"' "$tmp/$1.log" 2>/dev/null | sed 's/.*event_id="//; s/"$//' | sort; }
caught_up() {
	for _ in $(seq 1 150); do
		[ "$(got tcp | sort -u)" = "$(stored)" ] && [ "$(got tls | sort -u)" = "$(stored)" ] && return 0
		sleep 0.2
	done
	return 1
}
burst() { for i in $(seq 1 25); do echo "$1 $i" >"$tmp/m/f$1-$i"; done; sleep 1; }

files() { for i in $(seq 1 "$2"); do echo "$i" >"$tmp/m/$1-$i"; done; }

start
files big 5000
burst 1
printf x >"$tmp/m/$(printf 'q"]\\\n%s' 1)"
burst 2
rsyslog_stop
burst 3
files large 5000
burst 4
rsyslog_start
# Reconnected (backing off 1, 2, 4 ... s) before the SIGKILL.
dw_wait 30 grep -q "sent again (at least once)" "$tmp/log" || fail "no reconnect: $(grep output "$tmp/log" | tail -3)"
burst 5
kill -9 "$pid"
wait "$pid" 2>/dev/null
start
burst 6
# Every change recorded first (slower under ASan).
dw_wait 120 bash -c "[ \$(sqlite3 '$db' 'SELECT count(*) FROM events') -ge 10000 ]" || fail "the store did not record 10,000 changes"
caught_up || fail "not every row arrived: tcp $(got tcp | sort -u | wc -l), tls $(got tls | sort -u | wc -l) of $(stored | wc -l)"
stop
n=$(stored | wc -l)
for t in tcp tls; do
	d=$(got $t | uniq -d | wc -l)
	[ "$n" -gt 10000 ] && [ "$(got $t | sort -u)" = "$(stored)" ] &&
		pass "$t: every row of the store arrived ($n rows; rsyslog stopped and started, driftwatchd SIGKILLed; $d sent twice)" ||
		fail "$t: $(diff <(got $t | sort -u) <(stored) | head -5)"
done
grep -q "sent again (at least once)" "$tmp/log" && grep -q "the receiver closed the connection" "$tmp/log" &&
	pass "the lost connection is said, and the rows sent again after it" || fail "log: $(grep output "$tmp/log" | head -5)"
line=$(grep -m1 ' added \[' "$tmp/tcp.log")
[[ "$line" =~ ^\<132\>1\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z\ $host\ driftwatchd\ [0-9]+\ added\ \[driftwatch@32473\ event_id=\"$host:event:[0-9]+\"\ table=\"events\"\ id=\"[0-9]+\"\ kind=\"A\"\ severity=\"medium\"\ container_id=\"mount:[0-9a-f]+\"\ container=\"[^\"]+\"\ path=\"/[a-z]+[0-9-]+\"\]\ \{ ]] &&
	jq -e '.event.kind == "event" and (.file.path | startswith("/"))' <<<"${line#*\] }" >/dev/null &&
	pass "RFC 5424: <local0.warning>1 TIMESTAMP HOST driftwatchd PID MSGID [SD] and the ECS document as MSG" ||
	fail "format: $line"
[ "$(sort -u "$tmp/parsed.log")" = "$(stored)" ] &&
	pass "rsyslog's mmjsonparse (cookie \"\") takes MSG as the JSON event: \$!event!id for every row (contrib/fleet)" ||
	fail "parsed: $(sort -u "$tmp/parsed.log" | wc -l) of $(stored | wc -l); $(head -3 "$tmp/parsed.log")"
# Its certificates where it expects them (imrelp opens them at -N1).
mkdir -p "$tmp/tls"
cp "$tmp/ca.pem" "$tmp/tls/ca.pem"
cp "$tmp/server.pem" "$tmp/tls/cert.pem"
cp "$tmp/server.key" "$tmp/tls/key.pem"
sed "s|/etc/rsyslog.d/tls/|$tmp/tls/|g" "$DW_SRC_DIR/contrib/fleet/rsyslog-driftwatch.conf" >"$tmp/fleet.conf"
if rsyslogd -N1 -f "$tmp/fleet.conf" >"$tmp/n1.log" 2>&1; then
	pass "contrib/fleet/rsyslog-driftwatch.conf passes rsyslogd -N1 (imtcp, imrelp, TLS, mmjsonparse, omelasticsearch, omkafka)"
else
	fail "rsyslogd -N1 of contrib/fleet: $(tail -3 "$tmp/n1.log") (rsyslog-kafka, rsyslog-elasticsearch and rsyslog-relp installed?)"
fi
grep -q '^<36>1 .* added \[driftwatch@32473 ' "$tmp/tls.log" && pass "facility auth over TLS (<36>: auth.warning)" || fail "tls PRI: $(head -c 300 "$tmp/tls.log")"
evil=$(grep -m1 'path="/q' "$tmp/tcp.log")
[[ "$evil" == *'path="/q\"\]\\?1"]'* ]] && jq -e '.file.path == "/q\"]\\\n1"' <<<"${evil#*\"\] }" >/dev/null &&
	pass "structured data escapes '\"', ']' and '\\' a container chose; a newline is '?' there, exact in MSG" ||
	fail "escaping: $evil"

# A receiver the configured CA did not sign: refused, said.
sed -i "s|ca: $tmp/ca.pem|ca: $tmp/other.pem|" "$tmp/cfg.yaml"
echo late >"$tmp/m/late"
timeout 60 "$DWD" --foreground --once --config "$tmp/cfg.yaml" --db "$db" 2>"$tmp/once.log"
grep -q "certificate is not trusted" "$tmp/once.log" && ! grep -q '"/late"' "$tmp/tls.log" &&
	pass "TLS: a receiver whose certificate the CA did not sign gets nothing" || fail "tls trust: $(grep output "$tmp/once.log")"

# A receiver that takes the connection but reads nothing and drops it,
# twice: what went over those connections goes again on the next one
# (before, the second drop lost the batch sent again after the first).
cat >"$tmp/deaf.py" <<'PY'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
n = 0
while True:
    c, _ = s.accept()
    n += 1
    if n <= 2:
        time.sleep(3)  # reads nothing: the bytes sit in its kernel
        c.close()
        continue
    with open(sys.argv[2], "ab") as f:
        c.settimeout(30)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                f.write(d)
                f.flush()
        except OSError:
            pass
    c.close()
PY
deaf=$((tls + 1))
python3 "$tmp/deaf.py" "$deaf" "$tmp/deaf.log" &
dpid=$!
dw_wait 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$deaf" || fail "the deaf receiver did not start"
cat >"$tmp/cfg4.yaml" <<EOF
docker: false
debounce_ms: 20
outputs:
  - {type: syslog, address: "127.0.0.1:$deaf"}
EOF
rm -rf "${tmp:?}/m/"*
"$DWD" --foreground --config "$tmp/cfg4.yaml" --db "$tmp/deaf.db" 2>>"$tmp/deaf-dw.log" &
pid=$!
sleep 1
for i in $(seq 1 30); do echo "$i" >"$tmp/m/deaf-$i"; done
dw_wait 40 bash -c "[ \$(grep -o 'path=\"/deaf-[0-9]*\"' '$tmp/deaf.log' 2>/dev/null | sort -u | wc -l) -ge 30 ]"
stop
kill "$dpid" 2>/dev/null
got=$(grep -o 'path="/deaf-[0-9]*"' "$tmp/deaf.log" 2>/dev/null | sort -u | wc -l)
[ "$got" = 30 ] && [ "$(grep -c "sent again (at least once)" "$tmp/deaf-dw.log")" -ge 2 ] &&
	pass "a receiver that drops two connections unread: every row arrives on the third ($got of 30)" ||
	fail "deaf receiver: $got of 30; $(grep output "$tmp/deaf-dw.log" | tail -4)"
finish
