#!/bin/bash
# Under systemd (Type=notify, WatchdogSec=): driftwatchd says when it is
# ready, pings the watchdog from its loop (a stalled loop is restarted),
# and says when it reloads and stops. No systemd runs here: the test
# listens on $NOTIFY_SOCKET itself, as systemd would.
. "$(dirname "$0")/../lib/common.sh"
dw_scratch dw-notify
sock="$tmp/notify.sock"
"$DW_BUILD/tests/notify_listen" "$sock" 8 >"$tmp/heard" &
lpid=$!
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 "$DWD" --foreground --no-docker --no-mounts \
	--config "$cfg" --db "$db" 2>"$tmp/dwd.log" &
pid=$!
sleep 3
kill -HUP "$pid"
sleep 1
kill "$pid"
wait "$pid" 2>/dev/null
pid=
wait "$lpid"
grep -q '^READY=1' "$tmp/heard" && pass "READY=1 once it runs" || fail "no READY: $(cat "$tmp/heard")"
n=$(grep -c '^WATCHDOG=1' "$tmp/heard")
[ "$n" -ge 4 ] && pass "the watchdog pinged from the loop ($n times in ~4 s, WatchdogSec=1)" || fail "watchdog pings: $n"
grep -q '^RELOADING=1' "$tmp/heard" && [ "$(grep -c '^READY=1' "$tmp/heard")" -ge 2 ] &&
	pass "SIGHUP: RELOADING=1, then READY=1" || fail "reload: $(cat "$tmp/heard")"
grep -q '^STOPPING=1' "$tmp/heard" && pass "STOPPING=1 on SIGTERM" || fail "no STOPPING"
finish
