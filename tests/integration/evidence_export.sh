#!/bin/bash
# A snapshot's evidence in the formats responders' tools read: a Sleuth
# Kit bodyfile that mactime reads, a Timesketch JSONL timeline, and a
# sha256sum -c list. The container chooses its file names: one with '|'
# and a newline must not forge a timeline row.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
command -v mactime >/dev/null || dw_skip "no mactime (Debian's sleuthkit)"
dw_scratch dwe-exp
docker run -d --network none --name "$c" dwtest:busybox sh -c '
	echo x >/etc/drift; mkdir -p /srv/a; echo y >/srv/a/b
	echo e >"/srv/evil|0|forged|1|r-rrwxrwxrwx|0|0|0|0|0|0|0
0|forged2|2|r-rrwxrwxrwx|0|0|0|0|0|0|0"
	echo z >"/srv/back\\slash"
	echo s >/srv/%73udo; cp /bin/busybox /srv/suid; chmod 4755 /srv/suid
	echo d >/-
	sleep 3600' >/dev/null
sleep 1
"$DW" commit -o "$tmp/e.tar" --db "$db" "$c" >/dev/null 2>"$tmp/err" || { fail "commit: $(cat "$tmp/err")"; finish; exit 1; }
n=$(jq '[.upper_entries[] | select(.whiteout | not)] | length' "$tmp/e.tar.evidence.json")

"$DW" evidence export "$tmp/e.tar" >"$tmp/body" 2>"$tmp/err" || fail "export: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/body")" = "$n" ] && pass "bodyfile: one row per upper entry ($n)" || fail "rows: $(wc -l <"$tmp/body") of $n"
[ "$(awk -F'|' 'NF != 11' "$tmp/body" | wc -l)" = 0 ] && pass "every row has the 11 fields of TSK 3.x" || fail "fields: $(awk -F'|' 'NF != 11' "$tmp/body")"
! grep -q '^0|forged' "$tmp/body" && grep -q 'evil\\x7c0\\x7cforged.*\\x0a0\\x7cforged2' "$tmp/body" && grep -q 'back\\x5cslash' "$tmp/body" &&
	pass "a name with '|', a newline and '\\': escaped, no forged row" || fail "escaping: $(grep -a evil "$tmp/body")"
grep -q '|/srv/\\x2573udo|' "$tmp/body" && grep -q '|/srv/suid|[0-9]*|r/rrwsr-xr-x|' "$tmp/body" &&
	pass "'%' escaped (mactime decodes %XX), setuid in the mode" || fail "% or setuid: $(grep -a 'srv/' "$tmp/body")"
mactime -b "$tmp/body" -d -y >"$tmp/timeline" 2>"$tmp/merr" && pass "mactime -b reads it" || fail "mactime: $(cat "$tmp/merr")"
! grep -q '"/srv/sudo"' "$tmp/timeline" && pass "no file passes for /srv/sudo in the timeline" || fail "spoofed name: $(grep sudo "$tmp/timeline")"
grep -q ',"/etc/drift"$' "$tmp/timeline" && ! grep -q ',"forged' "$tmp/timeline" &&
	pass "the timeline has /etc/drift, and no forged entry" || fail "timeline: $(head -5 "$tmp/timeline")"

"$DW" evidence export --format timesketch "$tmp/e.tar" >"$tmp/ts" || fail "timesketch export"
[ "$(jq -c 'select((.message | type) == "string" and (.datetime | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")) and (.timestamp_desc | type) == "string")' "$tmp/ts" | wc -l)" = "$(wc -l <"$tmp/ts")" ] &&
	[ "$(wc -l <"$tmp/ts")" -ge "$n" ] && pass "Timesketch: message, datetime and timestamp_desc on every line ($(wc -l <"$tmp/ts"))" ||
	fail "timesketch: $(head -2 "$tmp/ts")"

"$DW" evidence export --format sha256sums "$tmp/e.tar" >"$tmp/sums" || fail "sha256sums export"
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$c")
(cd "$upper" && sha256sum -c --strict --quiet "$tmp/sums") >"$tmp/check" 2>&1 && grep -q '  \./etc/drift$' "$tmp/sums" && grep -q '  \./-$' "$tmp/sums" &&
	pass "sha256sum -c of the list in the container's upper dir: every file matches" || fail "sha256sum -c: $(cat "$tmp/check")"
"$DW" evidence export --format nope "$tmp/e.tar" >/dev/null 2>&1
[ $? -eq 2 ] && pass "an unknown format: a usage error" || fail "bad format"
"$DW" evidence export "$tmp/none.tar" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "cannot read" "$tmp/err" && pass "no evidence there: said, exit 2" || fail "missing: $(cat "$tmp/err")"
finish
