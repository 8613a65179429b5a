#!/bin/bash
# Leak response on a real single-node swarm: leaked tokens are attributed
# to this swarm (or not), rotated through the Engine API, and the
# rotations recorded by fingerprint only.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
trap 'docker swarm leave --force >/dev/null 2>&1; rm -rf "$tmp"' EXIT
db="$tmp/dw.db"
docker swarm leave --force >/dev/null 2>&1
# Loopback only, on a port of its own.
timeout 120 docker swarm init --advertise-addr 127.0.0.1:12377 --listen-addr 127.0.0.1:12377 >/dev/null ||
	{ fail "swarm init"; finish; exit 1; }
id=$(docker info -f '{{.Swarm.Cluster.ID}}')
W=$(docker swarm join-token -q worker)
M=$(docker swarm join-token -q manager)
foreign=$($G swarm-worker rot1)
log="$tmp/app.log"
printf 'deploy: docker swarm join --token %s 127.0.0.1:12377\nadmin %s\nold %s\n' "$W" "$M" "$foreign" >"$log"

out=$("$DW" scan --format jsonl "$log")
[ "$(jq -c '[.line, .role, .status, .cluster == "'"$id"'"]' <<<"$out" | tr '\n' ' ')" = \
	'[1,"worker","live",true] [2,"manager","live",true] [3,"unknown","stale",false] ' ] &&
	pass "attributed: worker and manager live in this swarm, a foreign one" || fail "attribution: $out"
[ "$(jq -r 'select(.line==3) | .cluster' <<<"$out")" = foreign ] && pass "foreign token marked foreign" || fail "foreign"
[ "$(docker swarm join-token -q worker)" = "$W" ] && pass "scan without --respond rotates nothing" || fail "rotated without --respond"

"$DW" rotate --worker --dry-run --db "$db" >"$tmp/dry.out" 2>&1 || true
[ "$(docker swarm join-token -q worker)" = "$W" ] && pass "--dry-run changes nothing" || fail "dry-run rotated"

"$DW" scan --respond --db "$db" "$log" >/dev/null 2>"$tmp/err"
W2=$(docker swarm join-token -q worker)
M2=$(docker swarm join-token -q manager)
[ "$W2" != "$W" ] && [ "$M2" != "$M" ] && pass "--respond rotated the live worker and manager tokens" || fail "respond: $(cat "$tmp/err")"
[ "$(sqlite3 "$db" 'SELECT count(*) FROM rotations')" = 2 ] && pass "two rotations recorded" || fail "rotation records"
fp=$(jq -r 'select(.line==1) | .fingerprint' <<<"$out")
[ "$(sqlite3 "$db" "SELECT before_fingerprint FROM rotations WHERE what='worker token'")" = "$fp" ] &&
	pass "recorded before-fingerprint is the finding's fingerprint" || fail "fingerprint mismatch"
! grep -qF "$W" "$db" "$tmp/err" && ! strings "$db" | grep -qF "${W:60}" && pass "no token in clear in the store or output" ||
	fail "token stored in clear"
out=$("$DW" scan --respond --format jsonl --db "$db" "$log")
[ "$(jq -r .status <<<"$out" | sort -u)" = stale ] && [ "$(docker swarm join-token -q worker)" = "$W2" ] &&
	pass "already-rotated tokens: stale, not rotated again" || fail "stale: $out"
# Token history: a stale token of this swarm is told by its role, when it
# was current and who rotated it (before, its role was "unknown").
jq -e -s --arg id "$id" '.[] | select(.line == 1) | .role == "worker" and .cluster == $id and .status == "stale"
	and .rotated_by == "driftwatch" and (.valid_until | type) == "number"' <<<"$out" >/dev/null &&
	jq -e -s '.[] | select(.line == 2) | .role == "manager" and .rotated_by == "driftwatch"' <<<"$out" >/dev/null &&
	pass "stale tokens: their role, until when they were valid, rotated by driftwatch" || fail "history: $out"
# Rotated by someone else (docker swarm join-token --rotate), then by us:
# the one Docker rotated away is told as rotated elsewhere.
docker swarm join-token --rotate worker >/dev/null 2>&1
"$DW" rotate --worker --db "$db" >/dev/null 2>&1
printf 'old %s\n' "$W2" >"$tmp/w2.log"
out2=$("$DW" scan --format jsonl --db "$db" "$tmp/w2.log")
jq -e --arg id "$id" '.role == "worker" and .status == "stale" and .rotated_by == "elsewhere" and .cluster == $id
	and (.valid_from | type) == "number" and (.valid_until | type) == "number" and .valid_from <= .valid_until' <<<"$out2" >/dev/null &&
	pass "a token Docker rotated (not driftwatch): worker, stale, rotated elsewhere, with its window" || fail "elsewhere: $out2"
# The same in root's own repository: read by a confined process (no
# socket, no new files) that was given this swarm and the store's
# history before it was confined.
git init -q -b main "$tmp/rootrepo"
printf 'old %s\nnow %s\n' "$W2" "$(docker swarm join-token -q worker)" >"$tmp/rootrepo/join.txt"
git -C "$tmp/rootrepo" add join.txt && git -C "$tmp/rootrepo" -c user.name=t -c user.email=t@example.com commit -qm join
# (a review: the reader held this swarm's tokens in its memory, a manager
# token there is every node's root; it holds keyed digests now)
out3=$(DW_TEST_READER_FIND="$(docker swarm join-token -q manager | rev)" DW_TEST_READER_PROBE="$tmp/probe" \
	"$DW" scan --git --format jsonl --db "$db" "$tmp/rootrepo" 2>"$tmp/git.err")
grep -q "reader probe: memory: does not hold it" "$tmp/git.err" &&
	pass "the confined reader does not hold this swarm's manager token" ||
	fail "the reader holds the manager token: $(grep 'reader probe: memory' "$tmp/git.err")"
# (the Docker connection that read the swarm is not left open to it)
grep -q "reader probe: socket: Operation not permitted" "$tmp/git.err" && grep -q "reader probe: fds: 0 1 2$" "$tmp/git.err" &&
	jq -e -s --arg id "$id" '(.[] | select(.line == 1) | .status == "stale" and .rotated_by == "elsewhere")
		and (.[] | select(.line == 2) | .status == "live" and .role == "worker" and .cluster == $id)' <<<"$out3" >/dev/null &&
	pass "scan --git of root's repository, confined: this swarm's live and stale tokens told as before" ||
	fail "confined git scan: $out3 $(cat "$tmp/git.err")"
[ "$(sqlite3 "$db" "SELECT count(*) FROM swarm_secrets WHERE role = 'worker'")" -ge 4 ] &&
	! strings "$db" | grep -qF "${W2:60}" && pass "the history keeps fingerprints, never tokens" || fail "history rows"

"$DW" rotate --manager --db "$db" >"$tmp/rot.out"
[ "$(docker swarm join-token -q manager)" != "$M2" ] && grep -q 'rotated the manager token' "$tmp/rot.out" &&
	! grep -qF "$M2" "$tmp/rot.out" && pass "driftwatch rotate --manager" || fail "rotate manager: $(cat "$tmp/rot.out")"

"$DW" rotate --unlock-key --db "$db" >/dev/null 2>&1
[ $? -eq 1 ] && pass "no unlock key without autolock: clear error" || fail "unlock without autolock"
docker swarm update --autolock=true >/dev/null
K=$(docker swarm unlock-key -q)
printf 'unlock %s\n' "$K" >"$tmp/key.log"
[ "$("$DW" scan --format jsonl "$tmp/key.log" | jq -c '[.role, .status]')" = '["unlock-key","live"]' ] &&
	pass "unlock key attributed live" || fail "unlock attribution"
"$DW" scan --respond --db "$db" "$tmp/key.log" >/dev/null 2>&1
[ "$(docker swarm unlock-key -q)" != "$K" ] && pass "--respond rotated the unlock key" || fail "unlock rotation"
"$DW" rotate --worker --host unix:///nonexistent.sock >/dev/null 2>&1; [ $? -eq 1 ] && pass "unreachable docker: error" || fail "unreachable"
finish
