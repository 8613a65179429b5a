#!/bin/bash
# Alerts through webhooks to a real HTTP server on loopback (busybox
# httpd + CGI): raised while the server is down, delivered when it is back,
# across daemon restarts, each exactly once; Slack's shape too.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
tmp=$(mktemp -d)
chmod 755 "$tmp"
port=$((20000 + RANDOM % 20000))
www="$tmp/www"
mkdir -p "$www/cgi-bin"
for hook in json slack; do
	cat >"$www/cgi-bin/$hook" <<CGI
#!/bin/sh
head -c "\$CONTENT_LENGTH" >>"$tmp/$hook.log"
echo "" >>"$tmp/$hook.log"
printf 'Content-Type: text/plain\r\n\r\nok\n'
CGI
	chmod 755 "$www/cgi-bin/$hook"
done
server() { busybox httpd -f -p "127.0.0.1:$port" -h "$www" & srv=$!; sleep 0.5; }
srv=
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; dw_docker_rm dwa-a; rm -rf "$tmp"' EXIT
db="$tmp/dw.db"
hooks=(--webhook "http://127.0.0.1:$port/cgi-bin/json" --slack-webhook "http://127.0.0.1:$port/cgi-bin/slack")
daemon() { "$DWD" --foreground --no-mounts --once --db "$db" "${hooks[@]}" 2>>"$tmp/daemon.log"; }

dw_docker_rm dwa-a
docker run -d --network none --name dwa-a dwtest:busybox sleep 600 >/dev/null
server
docker exec dwa-a sh -c 'echo 1 >/tmp/one'
daemon
# The signed chain heads go to the JSON sink too (checked below), and
# the service's starts and stops; the rest of this test is about the
# others.
people() { jq -c 'select(.kind != "chain-head" and (.kind | startswith("daemon-") | not))' "$tmp/json.log"; }
[ "$(people | grep -c .)" = 1 ] &&
	people | jq -e '.kind == "drift" and .data.container == "dwa-a" and (.event_id | length) > 0 and .data.new >= 1' \
		>/dev/null && pass "drift alert delivered as JSON" || fail "first alert: $(cat "$tmp/json.log" 2>&1)"
jq -s -e 'map(select(.kind == "chain-head")) | length >= 1 and all(.data.root | startswith("sha256:"))' "$tmp/json.log" >/dev/null &&
	! grep -q "chain heads" "$tmp/slack.log" &&
	pass "the signed chain heads to the JSON sink, not to Slack" || fail "chain-head: $(cat "$tmp/json.log" "$tmp/slack.log")"
jq -e '.text | startswith("driftwatch: container dwa-a")' "$tmp/slack.log" >/dev/null &&
	pass "Slack incoming-webhook shape" || fail "slack: $(cat "$tmp/slack.log" 2>&1)"

# The endpoint goes down; alerts are raised by several processes.
kill $srv; wait $srv 2>/dev/null; srv=
docker exec dwa-a sh -c 'echo 2 >/tmp/two'
daemon
"$DW" commit -o "$tmp/snap.tar" --reason "alert test" --db "$db" dwa-a >/dev/null
daemon
grep -q 'not delivered' "$tmp/daemon.log" && pass "failed deliveries logged, kept for retry" || fail "no retry logged"
[ "$(sqlite3 "$db" "SELECT count(*) FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE delivered IS NULL AND a.kind != 'chain-head'")" = 4 ] &&
	pass "4 deliveries waiting in the outbox" || fail "outbox: $(sqlite3 "$db" 'SELECT * FROM deliveries')"

# Back up: a new daemon process delivers everything once the backoff ends.
server
"$DWD" --foreground --no-mounts --interval 1 --db "$db" "${hooks[@]}" 2>>"$tmp/daemon.log" &
dpid=$!
for _ in $(seq 1 40); do
	[ "$(sqlite3 "$db" 'SELECT count(*) FROM deliveries WHERE delivered IS NULL')" = 0 ] && break
	sleep 0.5
done
sleep 2	# a few more passes: nothing may be sent again
kill -TERM $dpid
wait $dpid
ids=$(people | jq -r .event_id)
[ "$(wc -l <<<"$ids")" = 3 ] && [ "$(sort -u <<<"$ids" | wc -l)" = 3 ] &&
	pass "every alert arrived exactly once (3 events)" || fail "events: $ids"
people | jq -s -e 'map(.kind) | sort == ["drift", "drift", "snapshot"]' >/dev/null &&
	pass "drift, drift, snapshot" || fail "kinds: $(jq -c .kind "$tmp/json.log")"
[ "$(grep -c . "$tmp/slack.log")" = 3 ] && pass "Slack got the same 3" || fail "slack count"
people | jq -s -e 'map(select(.kind == "snapshot")) | length == 1 and (.[0].data | .reason == "alert test"
	and (.archive_sha256 | startswith("sha256:")) and (.statement_sha256 | startswith("sha256:")))' >/dev/null && pass "snapshot alert carries the digests" || fail "snapshot alert: $(grep snapshot "$tmp/json.log")"
! grep -q 'cgi-bin' "$tmp/daemon.log" && grep -q "not delivered" "$tmp/daemon.log" &&
	pass "webhook URLs are logged without their path" || fail "URL in the log: $(grep -m1 'not delivered' "$tmp/daemon.log")"
# The service's start and stop reach the JSON sink, not Slack; a start
# after a run that was SIGKILLed says so, to Slack too.
# (A stop is delivered by the next run: a stopping daemon leaves its
# outbox for then.)
"$DWD" --foreground --no-mounts --interval 1 --db "$db" "${hooks[@]}" 2>>"$tmp/daemon.log" &
dpid=$!
dw_wait 10 sh -c "[ \$(sqlite3 -readonly '$db' \"SELECT count(*) FROM alerts WHERE kind = 'daemon-started'\") = 2 ]"
kill -9 $dpid
wait $dpid 2>/dev/null
"$DWD" --foreground --no-mounts --interval 1 --db "$db" "${hooks[@]}" 2>>"$tmp/daemon.log" &
dpid=$!
dw_wait 15 grep -q 'did not stop' "$tmp/slack.log"
kill -TERM $dpid
wait $dpid
jq -s -e 'map(select(.kind == "daemon-started" and .data.previous_run_stopped == false and .data.severity == "medium")) | length == 1' "$tmp/json.log" >/dev/null &&
	grep -q 'its previous run did not stop (killed or crashed)' "$tmp/slack.log" &&
	pass "a start after a SIGKILL: 'its previous run did not stop', medium, to Slack too" ||
	fail "unclean start: $(grep daemon-started "$tmp/json.log" | tail -1); slack: $(tail -1 "$tmp/slack.log")"
# A second service on the same store says so (its start is medium).
"$DWD" --foreground --no-mounts --interval 1 --db "$db" 2>>"$tmp/daemon.log" &
apid=$!
dw_wait 10 grep -q "driftwatchd started" "$tmp/daemon.log"
sleep 1
"$DWD" --foreground --no-mounts --interval 1 --db "$db" 2>"$tmp/second.log" &
bpid=$!
dw_wait 10 grep -q "another driftwatchd runs on this store" "$tmp/second.log" &&
	pass "a second driftwatchd on one store says so at its start" || fail "second daemon: $(head -3 "$tmp/second.log")"
kill -TERM $bpid $apid
wait $bpid $apid
jq -s -e 'map(select(.kind == "daemon-started" and .data.previous_run_stopped == true and .data.another_daemon == false)) | length == 2' "$tmp/json.log" >/dev/null &&
	jq -s -e 'map(select(.kind == "daemon-stopped" and .data.uptime_s >= 0)) | length == 1' "$tmp/json.log" >/dev/null &&
	[ "$(grep -c 'driftwatchd [^ ]* st' "$tmp/slack.log")" = 1 ] &&
	pass "the service's starts and stops as alerts to the JSON sink (to Slack only the one above)" ||
	fail "start/stop: $(grep daemon- "$tmp/json.log")"
# Slack's control characters in text a user or container chose (before:
# "<!channel>" in a snapshot reason notified the whole channel).
# A container chose this file name; the leak alert's summary names it.
docker exec dwa-a sh -c "echo $("$DW_BUILD/tests/gentoken" github alerts1) >'/tmp/<!channel> & <http:x|y>'"
daemon
grep -F 'github-token' "$tmp/slack.log" | tail -1 | jq -r .text | grep -qF '&lt;!channel&gt; &amp; &lt;http:x|y&gt;' &&
	! grep -qF '<!channel>' "$tmp/slack.log" &&
	pass "Slack mentions and links are escaped" || fail "slack text: $(tail -1 "$tmp/slack.log")"
# A file named by a token: the drift alert's paths show it redacted
# (before, whole, while the leak alert redacted the same name).
nt=$("$DW_BUILD/tests/gentoken" github alerts3)
docker exec dwa-a sh -c "echo x >/tmp/named-$nt"
daemon
grep -q "named-${nt:0:8}" "$tmp/json.log" && ! grep -qF "$nt" "$tmp/json.log" "$tmp/daemon.log" &&
	pass "a token in a drifted file's name is redacted in the alert" ||
	fail "named: $(grep -o "named-[^\"]*" "$tmp/json.log" | head -3)"

# A sink that accepts connections and never answers: deliveries wait on
# it (5 s a try) in their own thread, never the monitoring loop. Before,
# each drift below reached the store only after the delivery round in
# front of it (5 alerts due: 25 s).
hang=$((port + 1))
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128); time.sleep(120)' "$hang" &
hangpid=$!
sleep 0.3
# The leak command hangs too (it is given 30 s): it runs in a worker.
printf 'command: [sh, -c, "sleep 60"]\n' >"$tmp/hang.yaml"
"$DWD" --foreground --no-mounts --config "$tmp/hang.yaml" --db "$tmp/hang.db" --webhook "http://127.0.0.1:$hang/x" \
	2>>"$tmp/hang.log" &
hpid=$!
for i in 1 2 3 4 5; do
	docker exec dwa-a sh -c "echo $i >/tmp/hang$i"
	sleep 0.3
done
docker exec dwa-a sh -c "echo 'npm $("$DW_BUILD/tests/gentoken" npm alerts2)' >/tmp/hang-npm"
sleep 0.5
docker exec dwa-a sh -c 'echo last >/tmp/hang-last'
landed=
for _ in $(seq 1 40); do
	[ "$(sqlite3 -readonly "$tmp/hang.db" "SELECT count(*) FROM changes WHERE CAST(path AS TEXT) = '/tmp/hang-last'" 2>/dev/null)" = 1 ] && { landed=1; break; }
	sleep 0.1
done
[ -n "$landed" ] && pass "a sink and a command that never answer do not hold up monitoring" ||
	fail "the last change did not reach the store in 4 s: $(tail -3 "$tmp/hang.log")"
kill -TERM $hpid; wait $hpid; rc=$?
[ $rc -eq 0 ] && pass "and the daemon stops, alerts left in the outbox" || fail "stop rc $rc"
grep -q 'running now\|was not run\|failed' "$tmp/hang.log" && ! grep -qF "$("$DW_BUILD/tests/gentoken" npm alerts2)" "$tmp/hang.log" &&
	pass "the command's end is logged, without the secret" || fail "command log: $(grep -i command "$tmp/hang.log")"
[ "$(sqlite3 -readonly "$tmp/hang.db" 'SELECT count(*) FROM deliveries WHERE delivered IS NULL')" -ge 1 ] &&
	pass "undelivered alerts kept" || fail "outbox: $(sqlite3 -readonly "$tmp/hang.db" 'SELECT count(*) FROM deliveries')"
kill $hangpid 2>/dev/null
"$DWD" --webhook ftp://x >/dev/null 2>&1; [ $? -eq 2 ] && pass "a non-http webhook is a usage error" || fail "bad webhook"
finish
