#!/bin/bash
# The store's history is hash-chained, its heads signed: before, root on
# the host could edit, delete or insert events, findings, snapshots and
# rotations with sqlite3 and nothing showed it. Now verify --store names
# each such row; and a history rewritten whole (re-chained, re-signed
# with the local key) is caught by heads exported earlier and kept off
# the host (--export-heads, --anchor). The signed heads leave the host as
# "chain-head" alerts, and a snapshot's alert carries its statement's
# digest.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
command -v sqlite3 >/dev/null || dw_skip "no sqlite3"
dw_scratch dws-chain dws-chain2
key="$tmp/keys/signing.key"
printf 'debounce_ms: 20\nsigning_key: %s\n' "$key" >"$cfg"
daemon() { "$DWD" --foreground --no-mounts --once --config "$cfg" --db "$db" 2>>"$tmp/daemon.log"; }
verify() { "$DW" verify --store --db "$1" --signing-key "$key" "${@:2}"; }

docker run -d --network none --name "$c" dwtest:busybox sh -c 'echo x >/etc/one; echo y >/etc/two; echo z >/tmp/three; sleep 3600' >/dev/null
docker run -d --network none --name dws-chain2 dwtest:busybox sh -c 'echo x >/etc/other; sleep 3600' >/dev/null
sleep 0.5
daemon || { fail "daemon: $(cat "$tmp/daemon.log")"; finish; exit 1; }
verify "$db" >"$tmp/v" 2>&1 && grep -q "^store $db: ok: [0-9]* rows in [0-9]* chains" "$tmp/v" &&
	grep -q "signed heads: 1 found in it, checked with this host's own key" "$tmp/v" &&
	pass "verify --store: intact, and the heads driftwatchd signed at exit found" || fail "verify: $(cat "$tmp/v")"
[ "$(sqlite3 "$db" "SELECT count(*) FROM alerts WHERE kind = 'chain-head' AND json_extract(payload, '\$.root') LIKE 'sha256:%' AND json_extract(payload, '\$.envelope_sha256') LIKE 'sha256:%'")" = 1 ] &&
	pass "a chain-head alert carries the root and the envelope's digest to the outputs" ||
	fail "chain-head alert: $(sqlite3 "$db" "SELECT payload FROM alerts WHERE kind = 'chain-head'")"

# Heads exported now, kept off the host; the public key too.
verify "$db" --export-heads "$tmp/anchor.json" >/dev/null 2>&1 &&
	jq -e '.payloadType == "application/vnd.driftwatch.chain-heads+json"' "$tmp/anchor.json" >/dev/null &&
	[ "$(jq -r .payload "$tmp/anchor.json" | base64 -d | jq -r '._type')" = urn:driftwatch:chain-heads:v1 ] &&
	pass "--export-heads writes the heads, signed" || fail "export: $(cat "$tmp/anchor.json")"
"$DW" key export --signing-key "$key" >"$tmp/pub.pem" 2>/dev/null
docker exec "$c" sh -c 'echo more >/etc/four'
daemon
"$DW" verify --store --db "$db" --key "$tmp/pub.pem" --anchor "$tmp/anchor.json" >"$tmp/v" 2>&1 &&
	grep -q "anchors: 1, their heads found" "$tmp/v" &&
	pass "more history later: still intact against the anchor, with the exported key" || fail "anchor: $(cat "$tmp/v")"

# A snapshot's statement digest in the store and its alert.
"$DW" commit -o "$tmp/s.tar" --db "$db" --signing-key "$key" "$c" >/dev/null 2>&1 ||
	fail "commit: $("$DW" commit -o "$tmp/s2.tar" --db "$db" --signing-key "$key" "$c" 2>&1)"
want="sha256:$(sha256sum "$tmp/s.tar.intoto.jsonl" | cut -d' ' -f1)"
[ "$(sqlite3 "$db" "SELECT statement_sha256 FROM snapshots")" = "$want" ] &&
	[ "$(sqlite3 "$db" "SELECT json_extract(payload, '\$.statement_sha256') FROM alerts WHERE kind = 'snapshot'")" = "$want" ] &&
	pass "a snapshot's statement digest recorded and raised" || fail "statement digest: $(sqlite3 "$db" "SELECT statement_sha256 FROM snapshots")"
verify "$db" >/dev/null 2>&1 && pass "commit signed the new heads: intact" || fail "after commit: $(verify "$db" 2>&1)"

# Tampering with sqlite3, each on a copy, each named with its row.
id=$(docker inspect -f '{{.Id}}' "$c")
tamper() {
	local name=$1 sql=$2 said=$3 t="$tmp/t-$1.db"
	cp "$db" "$t"
	sqlite3 "$t" "$sql" || { fail "$name: sqlite3"; return; }
	verify "$t" >/dev/null 2>"$tmp/err"
	local rc=$?
	[ $rc -eq 1 ] && grep -qF -- "$said" "$tmp/err" && grep -q "FAILED" "$tmp/err" &&
		pass "$name: exit 1, named" || fail "$name: rc $rc, wanted '$said': $(cat "$tmp/err")"
}
second=$(sqlite3 "$db" "SELECT id FROM events WHERE container_id = '$id' ORDER BY id LIMIT 1 OFFSET 1")
third=$(sqlite3 "$db" "SELECT id FROM events WHERE container_id = '$id' ORDER BY id LIMIT 1 OFFSET 2")
tamper edit "UPDATE events SET kind = 'C' WHERE id = $second" \
	"events of container $id: row id $second (position 2) was edited"
tamper delete "DELETE FROM events WHERE id = $second" \
	"events of container $id: positions 2 to 2, before row id $third, are gone: deleted"
tamper insert "INSERT INTO events(time, container_id, path, kind, source) VALUES (1, '$id', CAST('/etc/passwd' AS BLOB), 'C', 'watch')" \
	"events of container $id: row id"
grep -q "is not chained: written outside driftwatch" "$tmp/err" || fail "insert: not said as such: $(cat "$tmp/err")"
tamper snapshot "UPDATE snapshots SET archive_sha256 = 'sha256:0000'" "snapshots: row id 1 (position 1) was edited"

# Root's best: cut the newest rows, mend the head, and sign again with
# the local key (driftwatchd does, at its next signing). Signatures just
# deleted are said; re-signed, the store alone looks whole; the anchor
# exported after the cut rows were written catches it.
verify "$db" --export-heads "$tmp/anchor2.json" >/dev/null 2>&1
last=$(sqlite3 "$db" "SELECT max(id) FROM events WHERE container_id = '$id'")
cp "$db" "$tmp/cut2.db"
sqlite3 "$tmp/cut2.db" "BEGIN;
DELETE FROM events WHERE id = $last;
UPDATE chain_heads SET seq = seq - 1, id = (SELECT max(id) FROM events WHERE container_id = '$id'),
  hash = (SELECT chain_hash FROM events WHERE id = (SELECT max(id) FROM events WHERE container_id = '$id'))
  WHERE tbl = 'events' AND key = '$id';
DELETE FROM chain_signatures; COMMIT;"
verify "$tmp/cut2.db" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "never signed, or their signatures were deleted" "$tmp/err" &&
	pass "the newest row cut, the head mended, the signatures deleted: said" || fail "cut: $(cat "$tmp/err")"
"$DWD" --foreground --no-mounts --once --config "$cfg" --db "$tmp/cut2.db" 2>>"$tmp/daemon.log"
verify "$tmp/cut2.db" >"$tmp/v" 2>&1 && grep -q "signed heads: 1 found" "$tmp/v" &&
	pass "and signed again with the local key: the store alone looks whole (the limit)" || fail "re-signed: $(cat "$tmp/v")"
verify "$tmp/cut2.db" --anchor "$tmp/anchor2.json" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "events of container $id: positions [0-9]* to [0-9]*, in anchor $tmp/anchor2.json ([0-9]*), are gone: deleted" "$tmp/err" &&
	pass "--anchor: the cut rows named though the store looks whole" || fail "cut, anchored: $(cat "$tmp/err")"
# A head changed by hand: driftwatchd will not sign over it, and says so.
cp "$db" "$tmp/head.db"
sqlite3 "$tmp/head.db" "UPDATE snapshots SET reason = 'nothing to see'"
"$DWD" --foreground --no-mounts --once --config "$cfg" --db "$tmp/head.db" 2>"$tmp/head.log"
grep -q "the store's chain heads are not signed: store: the head of snapshots chain (one) is not its last row" "$tmp/head.log" &&
	[ "$(sqlite3 "$tmp/head.db" "SELECT count(*) FROM alerts WHERE kind = 'store-tampered' AND json_extract(payload, '\$.severity') = 'critical'")" = 1 ] &&
	pass "a tampered head: not signed over, a critical store-tampered alert" || fail "head: $(cat "$tmp/head.log")"
sqlite3 "$tmp/cut2.db" "DELETE FROM chain_heads WHERE key = '$id'; DELETE FROM events WHERE container_id = '$id'"
verify "$tmp/cut2.db" --anchor "$tmp/anchor2.json" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "events of container $id: the chain is gone; anchor" "$tmp/err" &&
	pass "--anchor: a container's whole history deleted, head and all: named" || fail "gone: $(cat "$tmp/err")"

# Retention keeps the chains whole: a store pruned to 2 rows verifies,
# and the earlier anchor's heads are said to be pruned, not missing.
printf 'debounce_ms: 20\nsigning_key: %s\nretention_rows: 2\n' "$key" >"$tmp/prune.yaml"
cp "$db" "$tmp/p.db"
"$DWD" --foreground --no-mounts --config "$tmp/prune.yaml" --db "$tmp/p.db" 2>"$tmp/prune.log" &
pid=$!
dw_wait 20 grep -q "retention: .* deleted" "$tmp/prune.log" || fail "no retention: $(cat "$tmp/prune.log")"
kill -TERM "$pid"; wait "$pid"; pid=
verify "$tmp/p.db" --anchor "$tmp/anchor.json" >"$tmp/v" 2>&1 && grep -q "[1-9][0-9]* of them pruned since" "$tmp/v" &&
	[ "$(sqlite3 "$tmp/p.db" "SELECT count(*) FROM events")" -le 3 ] &&
	pass "retention: pruned, still whole, the anchor's pruned heads said" || fail "pruned: $(cat "$tmp/v"; sqlite3 "$tmp/p.db" "SELECT count(*) FROM events")"

# Bad use.
"$DW" verify --store --db "$tmp/nosuch.db" >/dev/null 2>&1; [ $? -eq 2 ] && pass "no store: exit 2" || fail "no store"
"$DW" verify --store "$tmp/s.tar" >/dev/null 2>&1; [ $? -eq 2 ] && pass "--store with a PATH: usage, exit 2" || fail "store+path"
echo '{' >"$tmp/bad.json"
verify "$db" --anchor "$tmp/bad.json" >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] && grep -q "anchor $tmp/bad.json" "$tmp/err" &&
	pass "an anchor that is not JSON: exit 2, named" || fail "bad anchor: $(cat "$tmp/err")"
finish
