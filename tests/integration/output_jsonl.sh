#!/bin/bash
# The JSON lines output (driftwatch.yaml(5), OUTPUTS): every event of the
# store (drift changes, findings, alerts) reaches the file once, in the
# Elastic Common Schema, across rotation by size, a SIGKILL and restarts;
# a batch a killed daemon wrote but did not record is cut off, not
# repeated; what retention deleted before the output took it is counted
# and alerted; a symlink or a FIFO at the path is never written through.
# An overlay mount of the test's own (no Docker needed).
. "$(dirname "$0")/../lib/common.sh"
dw_need_root

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	umount "$tmp/m" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/low/etc" "$tmp/up" "$tmp/work" "$tmp/m" "$tmp/out"
echo image >"$tmp/low/etc/conf"
for i in 1 2 3 4 5 6; do echo "$i" >"$tmp/low/etc/img$i"; done
mount -t overlay overlay -o "lowerdir=$tmp/low,upperdir=$tmp/up,workdir=$tmp/work" "$tmp/m" ||
	dw_skip "cannot mount overlayfs here"
db="$tmp/dw.db"
out="$tmp/out/events.jsonl"
port=$((20000 + RANDOM % 20000))
cat >"$tmp/cfg.yaml" <<EOF
docker: false
debounce_ms: 20
retention_rows: 0
metrics_listen: 127.0.0.1:$port
outputs:
  - type: jsonl
    path: $out
    max_size: 4KiB
    keep: 1000
    mode: "0640"
EOF
start() { dw_output_daemon "${cfg:-$tmp/cfg.yaml}" "$db" "$tmp/log" "$tmp/m"; }
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }
q() { sqlite3 "$db" "$1"; }
# Every row of the store, as table:id.
stored() {
	q "SELECT 'events:' || id FROM events UNION ALL SELECT 'findings:' || id FROM findings UNION ALL SELECT 'alerts:' || id FROM alerts" | sort
}
written() { cat "$out"* 2>/dev/null | jq -r '.driftwatch.table + ":" + (.driftwatch.id | tostring)' | sort; }
# Wait until the files hold every row of the store.
caught_up() {
	for _ in $(seq 1 100); do
		[ "$(written | sort -u)" = "$(stored)" ] && return 0
		sleep 0.2
	done
	return 1
}

# 1. Drift in bursts while the daemon runs; SIGKILLed between two bursts.
start
for round in 1 2 3 4 5 6; do
	for i in $(seq 1 40); do echo "$round $i" >"$tmp/m/f$round-$i"; done
	rm -f "$tmp/m/f$((round - 1))-1" "$tmp/m/etc/img$round"
	echo "$round" >>"$tmp/m/etc/conf"
	# A name a container chose to break a line-based reader.
	printf x >"$tmp/m/$(printf 'evil\n{"event":{"id":"forged"}}\\\xff"%s' "$round")"
	sleep 1
	if [ "$round" = 3 ]; then
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		start
	fi
done
caught_up || fail "the files lag the store: $(written | wc -l) written, $(stored | wc -l) stored"
sleep 2.5 # the metrics text is rebuilt every 2 s
metrics=$(curl -s "http://127.0.0.1:$port/metrics")
w=$(grep -F "driftwatch_output_written_total{output=\"$out\"}" <<<"$metrics" | awk '{print $2}')
grep -qF "driftwatch_output_pending{output=\"$out\"} 0" <<<"$metrics" && [ "${w:-0}" -gt 100 ] &&
	grep -qF "driftwatch_output_rotations_total{output=\"$out\"}" <<<"$metrics" &&
	pass "metrics: written ($w since the restart), pending 0, rotations" || fail "metrics: $(grep output <<<"$metrics")"
# A reload keeps the output's counts (before: back to 0).
kill -HUP "$pid"
dw_wait 10 grep -q "sighup: configuration" "$tmp/log"
sleep 3.5 # rebuilt every 2 s, counted in whole seconds
w2=$(curl -s "http://127.0.0.1:$port/metrics" | grep -F "driftwatch_output_written_total{output=\"$out\"}" | awk '{print $2}')
[ "${w2:-0}" -ge "${w:-1}" ] && pass "a reload keeps the output's counters ($w2 written, $w before)" || fail "after a reload: written $w2, was $w"
stop
n=$(stored | wc -l)
[ "$n" -gt 240 ] && [ "$(written)" = "$(stored)" ] &&
	pass "every row of the store in the files, once each ($n rows, a SIGKILL and a restart between)" ||
	fail "written vs stored: $(diff <(written) <(stored) | head -5) (dups: $(written | uniq -d | head -3))"
files=$(ls "$out"* | wc -l)
[ "$files" -gt 3 ] && [ -s "$out.1" ] && ! [ -e "$out.$((files))" ] &&
	pass "rotated by size: $files files ($out, .1 ... .$((files - 1)))" || fail "rotation: $(ls "$tmp/out" | tr '\n' ' ')"
big=$(for f in "$out".*; do stat -c %s "$f"; done | sort -n | tail -1)
[ "$big" -lt $((4096 + 600000)) ] && pass "a rotated file passes max_size by one batch at most ($big bytes)" || fail "rotated file of $big bytes"
bad=$(cat "$out"* | jq -c . 2>&1 >/dev/null | head -3)
[ -z "$bad" ] && [ "$(tail -c1 "$out" | od -An -c | tr -d ' ')" = '\n' ] &&
	! cat "$out"* | jq -r .event.id | grep -q forged &&
	[ "$(cat "$out"* | jq -r 'select(.driftwatch.table == "events") | .file.path' | grep -c '^/evil')" -ge 6 ] &&
	pass "every line is one JSON document (a file name with a newline, JSON, \\ and a bad byte: escaped)" || fail "bad lines: $bad"
[ "$(cat "$out"* | jq -c 'select(.driftwatch | has("labels"))' | wc -l)" = 0 ] &&
	pass "a container's labels are not repeated on every line (orchestrator.* comes from them)" ||
	fail "labels carried: $(cat "$out"* | jq -c '.driftwatch.labels' | head -2)"
[ "$(stat -c %a "$out")" = 640 ] && pass "a file it makes gets the configured mode (0640)" || fail "mode $(stat -c %a "$out")"

# 2. The ECS vocabulary.
host=$(hostname)
ev=$(cat "$out"* | jq -c 'select(.driftwatch.table == "events" and .driftwatch.kind == "A" and .driftwatch.process != null and (.file.path | startswith("/f")))' | head -1)
jq -e --arg h "$host" --arg m "$tmp/m" '
	(."@timestamp" | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z$")) and
	.event.kind == "event" and .event.category == ["file"] and .event.type == ["creation"] and
	.event.action == "added" and .event.severity == 2 and .event.module == "driftwatch" and
	.event.id == ($h + ":event:" + (.driftwatch.id | tostring)) and
	.event.sequence == .driftwatch.id and
	(.file.path | startswith("/f")) and .container.name == $m and (.container.id | startswith("mount:")) and
	.host.name == $h and .ocsf.class_uid == 1001 and .ocsf.category_uid == 1 and .ocsf.activity_id == 1 and
	.driftwatch.path == .file.path and .driftwatch.severity == "medium" and
	(.file.hash.sha256 | length) == 64 and (.message | startswith("A /f"))' <<<"$ev" >/dev/null &&
	pass "a drift event in ECS: event.*, file.*, container.*, host.name, ocsf, the row under driftwatch" ||
	fail "event: $ev"
jq -e '.process.pid > 0 and (.process.name | length) > 0 and .process.parent.pid > 0 and .process.user.id == "0"' <<<"$ev" >/dev/null &&
	pass "the writer as process.{pid,name,parent.pid,user.id}" || fail "process: $(jq -c '.process, .driftwatch.process' <<<"$ev")"
cat "$out"* | jq -e -s 'map(select(.driftwatch.kind == "D")) | length >= 4 and all(.event.type == ["deletion"] and .ocsf.activity_id == 4)' >/dev/null &&
	cat "$out"* | jq -e -s 'map(select(.driftwatch.kind == "C" and .file.path == "/etc/conf")) | length >= 1 and all(.event.type == ["change"])' >/dev/null &&
	cat "$out"* | jq -e -s 'map(select(.driftwatch.kind == "R")) | length >= 4 and all(.event.type == ["change"] and .event.action == "reverted")' >/dev/null &&
	pass "deletions, changes and reverted additions typed (deletion, change)" || fail "D/C/R: $(cat "$out"* | jq -c 'select(.driftwatch.table == "events" and .driftwatch.kind != "A") | [.driftwatch.kind, .file.path, .event.type]' | head -5)"
al=$(cat "$out"* | jq -c 'select(.driftwatch.table == "alerts" and .driftwatch.kind == "drift")' | head -1)
jq -e --arg h "$host" '.event.kind == "alert" and .event.action == "drift" and
	.event.id == ($h + ":" + (.driftwatch.id | tostring)) and (.container.id | startswith("mount:")) and
	(.message | length) > 0 and (."@timestamp" | test("T[0-9:]{8}Z$"))' <<<"$al" >/dev/null &&
	pass "a drift alert: event.kind alert, the id its webhook delivery carries" || fail "alert: $al"
# In the order they happened: a drift alert after the events it counts.
cat "$out"* >/dev/null
order=$(for f in $(ls -r "$out".*) "$out"; do cat "$f"; done | jq -r 'select(.driftwatch.table != "alerts" or .driftwatch.kind == "drift") | .driftwatch.table' | uniq | head -2 | tr '\n' ' ')
[ "$order" = "events alerts " ] && pass "in the order they happened (the first alert after the events it counts)" || fail "order: $order"

# 3. A batch a killed daemon wrote but did not record: cut off at start.
size=$(stat -c %s "$out")
dev=$(stat -c %d "$out")
ino=$(stat -c %i "$out")
printf '{"half a batch":' >>"$out"
q "INSERT INTO output_batches VALUES ('jsonl:$out', $size, $dev, $ino)"
echo more >"$tmp/m/after-cut"
start
caught_up || fail "not caught up after the cut"
stop
[ "$(written)" = "$(stored)" ] && ! cat "$out"* | grep -q "half a batch" && grep -q "were cut off" "$tmp/log" &&
	pass "an unrecorded batch is cut off and written again, once" ||
	fail "cut: $(grep -c 'half a batch' "$out") left; $(diff <(written) <(stored) | head -3)"

# 4. Retention deletes rows the output had not taken: counted, alerted.
mv "$tmp/out" "$tmp/out.saved"
cat >"$tmp/cfg2.yaml" <<EOF
docker: false
debounce_ms: 20
retention_rows: 10
outputs:
  - type: jsonl
    path: $out
EOF
cfg=$tmp/cfg2.yaml start
for i in $(seq 1 30); do echo "$i" >"$tmp/m/gone-$i"; done
for _ in $(seq 1 50); do [ "$(q "SELECT count(*) FROM events WHERE path LIKE '/gone-%'")" -ge 30 ] && break; sleep 0.1; done
stop
grep -q "output $out: cannot open: No such file or directory (does its directory exist?)" "$tmp/log" &&
	pass "a missing directory: said, with the reason" || fail "no error for the missing dir: $(grep output "$tmp/log" | tail -3)"
cfg=$tmp/cfg2.yaml start # retention runs at start
for _ in $(seq 1 50); do grep -q "retention: .* deleted" "$tmp/log" && break; sleep 0.1; done
mkdir "$tmp/out"
for _ in $(seq 1 50); do grep -q "deleted by retention before it took them" "$tmp/log" && break; sleep 0.1; done
sleep 1.5
stop
drop=$(jq -c 'select(.driftwatch.kind == "output-dropped")' "$out" | head -1)
jq -e '.driftwatch.data.dropped >= 20 and .driftwatch.data.events >= 20 and .event.kind == "alert"' <<<"$drop" >/dev/null &&
	pass "rows retention deleted first: an output-dropped alert counts them ($(jq .driftwatch.data.dropped <<<"$drop"))" ||
	fail "no output-dropped: $drop / $(grep -i 'output\|retention' "$tmp/log" | tail -4)"

# 5. Never through a symlink, never into a FIFO.
rm -rf "$tmp/out"
mkdir "$tmp/out"
ln -s "$tmp/victim" "$out"
echo x >"$tmp/m/sym"
timeout 30 "$DWD" --foreground --once --config "$tmp/cfg2.yaml" --db "$db" 2>"$tmp/once.log"
! [ -e "$tmp/victim" ] && grep -q "a symlink: not followed" "$tmp/once.log" &&
	pass "a symlink at the path is not followed" || fail "symlink: $(ls -l "$tmp") $(grep output "$tmp/once.log")"
rm -f "$out"
mkfifo "$out"
(exec 3<>"$out"; sleep 40) &
holder=$!
echo y >"$tmp/m/fifo"
timeout 30 "$DWD" --foreground --once --config "$tmp/cfg2.yaml" --db "$db" 2>"$tmp/once.log"
rc=$?
kill "$holder" 2>/dev/null
[ "$rc" != 124 ] && grep -q "not a regular file" "$tmp/once.log" &&
	pass "a FIFO at the path is refused, not written (no hang)" || fail "fifo: rc $rc, $(grep output "$tmp/once.log")"

# 6. logrotate's copytruncate, then a full disk: the file is cut back to
# where it really ended (before: the old size, padded with NUL bytes).
rm -f "$out"
mount -t tmpfs -o size=512k tmpfs "$tmp/out"
cat >"$tmp/cfg3.yaml" <<EOF
docker: false
debounce_ms: 20
retention_rows: 0
outputs:
  - type: jsonl
    path: $out
    max_size: 0
EOF
cfg=$tmp/cfg3.yaml start
for i in $(seq 1 40); do echo "$i" >"$tmp/m/ct-$i"; done
dw_wait 10 grep -q '"/ct-40"' "$out" || fail "ct-40 not written"
cp "$out" "$tmp/rotated"
truncate -s 0 "$out"
dd if=/dev/zero of="$tmp/out/filler" bs=4k 2>/dev/null
for i in $(seq 1 5); do echo "$i" >"$tmp/m/full-$i"; done
sleep 2
rm -f "$tmp/out/filler"
echo after >"$tmp/m/after-full"
dw_wait 10 grep -q '"/after-full"' "$out" || fail "after-full not written"
stop
nul=$(tr -cd '\000' <"$out" | wc -c)
[ "$nul" = 0 ] && jq -c . "$out" >/dev/null 2>&1 && grep -q '"/full-5"' "$out" && grep -q "cannot write: No space left" "$tmp/log" &&
	pass "copytruncate then a full disk: no NUL bytes, no line lost (the write failed, was cut back and written later)" ||
	fail "copytruncate: $nul NUL bytes; $(grep -c . "$out") lines; $(grep 'output' "$tmp/log" | tail -3)"
umount "$tmp/out"

# 7. Two driftwatchd on one store (a --once from cron while the service
# runs): one writes the outputs, the other says so; no row twice.
cfg=$tmp/cfg3.yaml start
for r in 1 2 3; do
	for i in $(seq 1 30); do echo "$i" >"$tmp/m/two-$r-$i"; done
	"$DWD" --foreground --once --config "$tmp/cfg3.yaml" --db "$db" 2>>"$tmp/once2.log"
done
sleep 1.5
stop
dups=$(jq -r '.event.id' "$out" | sort | uniq -d | wc -l)
[ "$dups" = 0 ] && grep -q "another driftwatchd writes this store's outputs" "$tmp/once2.log" &&
	grep -q '"/two-3-30"' "$out" &&
	pass "two driftwatchd on one store: one writes the outputs (a lock), the other says so; no row twice" ||
	fail "two writers: $dups duplicates; $(grep output "$tmp/once2.log" | head -2)"

# 7b. The same, in the order that wrote rows twice: the service reads
# its cursor while another driftwatchd has the lock, which writes and
# moves the cursor (done here as it would: under the lock) and exits.
# The service, locked out until then, goes on from the stored cursor
# (before: from the one it read at start, every row the other took again).
said=$(grep -c "another driftwatchd writes" "$tmp/log")
exec 9>"$db-outputs.lock"
flock 9
cfg=$tmp/cfg3.yaml start 9>&- # the daemon does not inherit the lock
for i in $(seq 1 10); do echo "$i" >"$tmp/m/held-$i"; done
for _ in $(seq 1 100); do [ "$(q "SELECT count(*) FROM events WHERE path LIKE '/held-%'")" -ge 10 ] && break; sleep 0.1; done
dw_wait 10 test "$(grep -c "another driftwatchd writes" "$tmp/log")" -gt "$said" || fail "the service did not say it was locked out"
sqlite3 "$db" ".timeout 5000" "UPDATE output_cursors SET last_id = (SELECT max(id) FROM events) WHERE output = 'jsonl:$out' AND tbl = 'events'" >/dev/null
exec 9>&-
echo after >"$tmp/m/after-held"
dw_wait 10 grep -q '"/after-held"' "$out" || fail "after-held not written"
stop
# (the drift alert of the ten is an alerts row: its cursor did not move)
held=$(jq -c 'select(.driftwatch.table == "events")' "$out" | grep -c '"/held-')
[ "$held" = 0 ] && pass "the lock taken after another driftwatchd moved the cursor: written from the stored cursor, no row twice" ||
	fail "the stale cursor: $held rows the other writer took written again"

# 8. A name cut inside a character where the message is shortened: the
# line keeps its message (before: dropped silently).
long=$(printf 'd%.0s' $(seq 1 200))
mkdir -p "$tmp/m/$long"
cfg=$tmp/cfg3.yaml start
printf x >"$tmp/m/$long/$(printf 'b%.0s' $(seq 1 197))é"
dw_wait 10 grep -q 'bbbbé' "$out" || fail "the long name was not written"
stop
[ "$(jq -c 'select(has("message") | not)' "$out" | wc -l)" = 0 ] && jq -e -s 'map(select((.file.path // "") | endswith("bé"))) | length == 1 and (.[0].message | startswith("A /ddd"))' "$out" >/dev/null &&
	pass "a message cut inside a multibyte character a container chose is kept (replaced, not dropped)" ||
	fail "message: $(jq -c 'select(has("message") | not) | .file.path' "$out" | head -2)"

# 9. A container that writes many files: past `summarise` a minute its
# changes go as summaries, one a batch, counted; a high-severity change
# among them still goes alone (it cannot be buried in a flood).
sum="$tmp/sum.jsonl"
cat >"$tmp/cfg4.yaml" <<EOF
docker: false
debounce_ms: 20
retention_rows: 0
outputs:
  - {type: jsonl, path: $sum, max_size: 0, summarise: 5}
EOF
rm -f "$sum"
cfg=$tmp/cfg4.yaml start
for i in $(seq 1 300); do echo "$i" >"$tmp/m/flood-$i"; done
rm -rf "$tmp/m/etc"
for i in $(seq 301 600); do echo "$i" >"$tmp/m/flood-$i"; done
for _ in $(seq 1 200); do [ "$(q "SELECT count(*) FROM events WHERE path LIKE '/flood-%'")" -ge 600 ] && break; sleep 0.1; done
sleep 2
stop
alone=$(jq -s 'map(select((.file.path // "") | startswith("/flood-"))) | length' "$sum")
summed=$(jq -s 'map(select(.event.action == "bulk-changes") | .driftwatch.changes) | add // 0' "$sum")
nsum=$(jq -s 'map(select(.event.action == "bulk-changes")) | length' "$sum")
[ "$alone" -le 10 ] && [ "$((alone + summed))" -ge 600 ] && [ "$nsum" -ge 1 ] && [ "$nsum" -le 20 ] &&
	jq -e -s 'map(select(.file.path == "/etc" and .event.action == "deleted" and .event.severity >= 3)) | length >= 1' "$sum" >/dev/null &&
	jq -e -s 'map(select(.event.action == "bulk-changes")) | all(.container.id != null and (.message | test("more changes in .* summarised")) and .driftwatch.changes > 0 and .driftwatch.last_id >= .driftwatch.first_id and (.event.id | test(":bulk:[0-9]+-[0-9]+$")))' "$sum" >/dev/null &&
	[ -z "$(jq -r .event.id "$sum" | sort | uniq -d)" ] &&
	pass "600 changes in a minute with summarise 5: $alone alone, $summed in $nsum summaries; the deleted /etc (high) alone; summaries have ids of their own" ||
	fail "summaries: $alone alone, $summed summarised in $nsum; /etc: $(jq -c 'select(.file.path == "/etc") | .event' "$sum")"
finish
