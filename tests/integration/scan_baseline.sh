#!/bin/bash
# Baselines (--baseline, --write-baseline) and --report-unused-ignores, on
# trees and on git history, as a user and as root (the scanner process,
# and the reader processes of --git, which never hold the file).
. "$(dirname "$0")/../lib/common.sh"
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

fps() { jq -r '.fingerprint' "$@" | sort | tr '\n' ' '; }
rules() { jq -r '.rule' "$@" | sort | tr '\n' ' '; }

mkdir t
gh=$($G github b1)
npm=$($G npm b1)
echo "token=$gh" >t/a.txt
echo "n=$npm" >t/b.txt
"$DW" scan --format jsonl t >r.jsonl
"$DW" scan --format json t >r.json
"$DW" scan --format sarif t >r.sarif
[ "$(rules r.jsonl)" = "github-token npm-token " ] && pass "two findings to start from" ||
	fail "start: $(cat r.jsonl)"

# Each report format is a baseline: only what is new is reported.
echo "gl=$($G gitlab b1)" >t/c.txt
for f in r.jsonl r.json r.sarif; do
	"$DW" scan --format json --baseline $f t >o.json
	rc=$?
	[ $rc -eq 1 ] && [ "$(jq -r '.findings[].rule' o.json)" = gitlab-token ] &&
		[ "$(jq -r .summary.baselined o.json)" = 2 ] &&
		pass "--baseline $f: only the new finding, 2 counted as baselined" ||
		fail "--baseline $f (rc $rc): $(cat o.json)"
done
rm t/c.txt
"$DW" scan --format jsonl --baseline r.sarif t >o.jsonl
rc=$?
[ $rc -eq 0 ] && [ ! -s o.jsonl ] && pass "everything baselined: exit 0" || fail "all baselined: rc $rc"
# A known secret copied elsewhere is still known; another one is not.
echo "again=$gh" >t/d.txt
"$DW" scan --format jsonl --baseline r.jsonl t >o.jsonl
[ $? -eq 0 ] && pass "the fingerprint names the secret, not the place" || fail "moved secret: $(cat o.jsonl)"
rm t/d.txt
# Two baselines: their union.
head -1 r.jsonl >one.jsonl
tail -1 r.jsonl >two.jsonl
"$DW" scan --format jsonl --baseline one.jsonl t >o.jsonl
[ "$(jq -r .rule o.jsonl | wc -l)" = 1 ] && pass "one baseline of two: one finding" || fail "one of two: $(cat o.jsonl)"
"$DW" scan --format jsonl --baseline one.jsonl --baseline two.jsonl t >o.jsonl
[ $? -eq 0 ] && pass "--baseline twice: their union" || fail "union: $(cat o.jsonl)"

# Bad baselines: a usage error naming the file, nothing scanned.
bad() { # what FILE message
	local out err rc
	out=$(timeout 20 "$DW" scan --format jsonl --baseline "$2" t 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 2 ] && grep -qF -- "$3" <<<"$out"; then pass "$1: exit 2 ($out)"; else fail "$1: rc $rc: $out"; fi
}
"$DW" scan t >r.txt
bad "text output as a baseline" r.txt "r.txt:1: not a report of driftwatch scan"
bad "no such file" nothere.json "cannot read the baseline nothere.json"
mkfifo fifo
bad "a FIFO (would block)" fifo "not a regular file"
bad "a directory" t "not a regular file"
jq -c '.fingerprint = "sha256:1234"' r.jsonl >short.jsonl
bad "a fingerprint of the wrong shape" short.jsonl "short.jsonl:1: finding 1 has no fingerprint"
{ head -1 r.jsonl; echo '{"rule": "x"'; } >cut.jsonl
bad "a report cut short, line named" cut.jsonl "cut.jsonl:2:"
jq '.runs[0].results[0].partialFingerprints = {}' r.sarif >nofp.sarif
bad "SARIF of another tool" nofp.sarif "has no partialFingerprints.\"driftwatch/v1\""
echo '[1, 2]' >arr.json
bad "a JSON array" arr.json "arr.json:1: not a report"
: >empty.jsonl
"$DW" scan --format jsonl --baseline empty.jsonl t >o.jsonl
[ $? -eq 1 ] && [ "$(rules o.jsonl)" = "github-token npm-token " ] &&
	pass "an empty baseline (a scan that found nothing) leaves out nothing" || fail "empty baseline"

# --write-baseline: every finding, redacted, in the json format.
"$DW" scan --show-secrets --format jsonl --write-baseline base.json t >o.jsonl
rc=$?
[ $rc -eq 1 ] && [ "$(jq -r '.findings[].fingerprint' base.json | sort | tr '\n' ' ')" = "$(fps r.jsonl)" ] &&
	[ "$(jq -r .complete base.json)" = true ] &&
	pass "--write-baseline: the findings, complete" || fail "write (rc $rc): $(cat base.json)"
grep -qF -e "$gh" -e "$npm" base.json && fail "the baseline holds a secret whole" ||
	pass "redacted in the baseline, whatever --show-secrets says"
grep -qF "$gh" o.jsonl && pass "(stdout still shows it: --show-secrets)" || fail "--show-secrets output"
[ "$(stat -c %a base.json)" = "$(printf '%o' $((0666 & ~$(umask))))" ] &&
	pass "its mode follows the umask ($(stat -c %a base.json))" || fail "mode $(stat -c %a base.json)"
"$DW" scan --format jsonl --baseline base.json t >o.jsonl
[ $? -eq 0 ] && pass "a written baseline is a baseline" || fail "written baseline: $(cat o.jsonl)"
# Refresh in place: those the old one left out are in the new one.
echo "gl=$($G gitlab b2)" >t/c.txt
"$DW" scan --format jsonl --baseline base.json --write-baseline base.json t >o.jsonl
[ "$(rules o.jsonl)" = "gitlab-token " ] && [ "$(jq -r '.findings | length' base.json)" = 3 ] &&
	pass "--baseline F --write-baseline F: reports the new one, F has all three" ||
	fail "refresh: $(cat o.jsonl) $(jq -c .summary base.json)"
# A scan that fails keeps the old baseline, and leaves no file behind.
cp base.json keep.json
printf 'frobnicate: 1\n' >bad.yaml
"$DW" scan --config bad.yaml --write-baseline base.json t >/dev/null 2>&1
rc1=$?
"$DW" scan --format jsonl --write-baseline base.json t >/dev/full 2>/dev/null
rc2=$?
[ $rc1 -eq 2 ] && [ $rc2 -ne 0 ] && cmp -s base.json keep.json &&
	[ -z "$(ls | grep tmp-)" ] &&
	pass "a configuration error (2) or a failed write ($rc2) keeps the old baseline, no temporary left" ||
	fail "failed scan: rc $rc1 $rc2; $(ls)"
# FILE is replaced by a new file, so only a regular file (or none) may
# be named: before, a FIFO, a symlink or a device (as root, /dev/null)
# was replaced by a regular file.
mkfifo wfifo
echo keep >target
ln -s target wlink
for w in t wfifo wlink "" "sub/"; do
	out=$("$DW" scan --write-baseline "$w" t 2>&1 >/dev/null)
	rc=$?
	[ $rc -eq 2 ] && grep -q 'not a regular file\|not a file name' <<<"$out" &&
		pass "--write-baseline '$w': refused before scanning (exit 2)" || fail "--write-baseline '$w': rc $rc: $out"
done
[ -p wfifo ] && [ -L wlink ] && [ "$(cat target)" = keep ] && pass "the FIFO and the symlink are left as they were" ||
	fail "special files replaced: $(ls -l wfifo wlink)"
# An existing baseline keeps its mode (fingerprints of weak secrets are
# sensitive): before, a refresh made a 0600 file 0644.
chmod 600 base.json
"$DW" scan --format jsonl --baseline base.json --write-baseline base.json t >/dev/null
[ "$(stat -c %a base.json)" = 600 ] && pass "a refreshed baseline keeps its mode 0600" || fail "mode now $(stat -c %a base.json)"
# Loading is linear: 40,000 jsonl records (about 120 s before, when each
# record's line was counted from the start of the file).
jq -c . r.jsonl | head -1 >rec.jsonl
awk '{ for (i = 0; i < 40000; i++) print }' rec.jsonl >big.jsonl
timeout 60 "$DW" scan --format jsonl --baseline big.jsonl t >/dev/null
rc=$?
[ $rc -ne 124 ] && [ $rc -ne 2 ] && pass "a 40,000-line jsonl baseline loads (rc $rc)" || fail "big jsonl baseline: rc $rc"
# A scan killed before the end leaves no temporary file.
(sleep 30 | "$DW" scan --write-baseline killed.json - >/dev/null 2>&1) &
sleep 1
pkill -TERM -f 'write-baseline killed.json'
wait
[ -z "$(ls | grep 'killed.json')" ] && pass "SIGTERM: no temporary file left" || fail "after SIGTERM: $(ls | grep killed)"
# Unreadable input: written, and not complete (exit 3).
"$DW" scan --format jsonl --write-baseline part.json t /nonexistent >/dev/null 2>&1
rc=$?
[ $rc -eq 3 ] && [ "$(jq -r .complete part.json)" = false ] &&
	[ "$(jq -r '.findings | length' part.json)" = 3 ] &&
	pass "exit 3: the baseline holds what was read, complete: false" || fail "partial: rc $rc"

# --report-unused-ignores; ignores are matched outside the engine, so
# findings of the scanner process (as root) count too.
fp_gh=$(jq -r 'select(.rule=="github-token").fingerprint' r.jsonl)
stale="sha256:$(printf 'ab%.0s' {1..32})"
printf 'ignore_fingerprints: ["%s", "%s"]\n' "$fp_gh" "$stale" >ign.yaml
"$DW" scan --config ign.yaml --report-unused-ignores --format json t >o.json 2>o.err
rc=$?
[ $rc -eq 1 ] && [ "$(jq -r '[.findings[].rule] | sort | join(" ")' o.json)" = "gitlab-token npm-token" ] &&
	grep -qF "$stale matched no finding" o.err && ! grep -qF "$fp_gh" o.err &&
	[ "$(jq -r .summary.unused_ignores o.json)" = 1 ] && [ "$(jq -r .summary.ignored o.json)" = 1 ] &&
	jq -e --arg s "$stale" 'any(.notes[]; .message.text | contains($s))' o.json >/dev/null &&
	pass "--report-unused-ignores names the stale entry only ($([ "$(id -u)" = 0 ] && echo 'scanner process'))" ||
	fail "unused ignores (rc $rc): $(cat o.err) $(jq -c .summary o.json)"
"$DW" scan --config ign.yaml --report-unused-ignores --format sarif t >o.sarif 2>/dev/null
jq -e --arg s "$stale" 'any(.runs[0].invocations[0].toolExecutionNotifications[]; .message.text | contains($s))' o.sarif >/dev/null &&
	pass "... and in SARIF's notifications" || fail "sarif notes"
"$DW" scan --config ign.yaml --format json --write-baseline ib.json t >/dev/null 2>&1
! jq -r '.findings[].fingerprint' ib.json | grep -qF "$fp_gh" && [ "$(jq -r '.findings | length' ib.json)" = 2 ] &&
	pass "what ignore_fingerprints hold is not written to a baseline" || fail "ignored in baseline"
printf 'x=%s\n' "$gh" | "$DW" scan --config ign.yaml --report-unused-ignores --format jsonl - >o.jsonl 2>o.err
[ ! -s o.jsonl ] && grep -qF "$stale" o.err && ! grep -qF "$fp_gh" o.err &&
	pass "standard input: ignored and counted as used" || fail "stdin ignores: $(cat o.jsonl o.err)"

# git history, with --cache: the cache keeps what ignores hide, so an
# ignore removed finds its secret again from the cache.
git init -q -b main repo
git -C repo config user.email t@example.com
git -C repo config user.name t
cp t/a.txt t/b.txt repo/
git -C repo add . && git -C repo commit -qm one
"$DW" scan --git --config ign.yaml --cache c.db --format json repo >g1.json 2>/dev/null
: >noign.yaml
"$DW" scan --git --config noign.yaml --cache c.db --format json repo >g2.json 2>/dev/null
[ "$(jq -r '[.findings[].rule] | sort | join(" ")' g1.json)" = npm-token ] &&
	[ "$(jq -r '[.findings[].rule] | sort | join(" ")' g2.json)" = "github-token npm-token" ] &&
	[ "$(jq -r .summary.cached g2.json)" = "$(jq -r .summary.blobs g2.json)" ] &&
	pass "--cache: an ignore removed finds its secret again, from the cache" ||
	fail "cache and ignores: $(jq -c .summary g1.json g2.json)"
"$DW" scan --git --format jsonl --write-baseline gb.json repo >/dev/null 2>&1
echo "gl=$($G gitlab b3)" >repo/c.txt
git -C repo add . && git -C repo commit -qm two
"$DW" scan --git --cache c.db --format jsonl --baseline gb.json repo >o.jsonl 2>/dev/null
[ $? -eq 1 ] && [ "$(rules o.jsonl)" = "gitlab-token " ] &&
	pass "--git --baseline: only the new commit's secret" || fail "git baseline: $(cat o.jsonl)"

# As a user (no reader process): the same.
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$tmp"
	mkdir u && cp -r repo u/ && chown -R 4242:4242 u
	(cd u && HOME=$tmp/u setpriv --reuid=4242 --regid=4242 --clear-groups \
		"$DW" scan --git --format jsonl --write-baseline ub.json repo >o.jsonl 2>o.err)
	[ "$(jq -r '.findings | length' u/ub.json)" = 3 ] && [ "$(stat -c %u u/ub.json)" = 4242 ] &&
		pass "as a user: written, the user's" || fail "as a user: $(cat u/o.err)"

	# As root, a user's repository: read by a process that runs as its
	# owner; root's reading process writes the file.
	chown -R 4242:4242 repo
	"$DW" scan --git --format jsonl --write-baseline rb.json repo >o.jsonl 2>o.err
	rc=$?
	[ $rc -eq 1 ] && [ "$(jq -r '.findings | length' rb.json)" = 3 ] && [ "$(stat -c %u rb.json)" = 0 ] &&
		pass "root, a user's repository: the baseline comes through the reader's pipe" ||
		fail "root, user's repo (rc $rc): $(cat o.err)"
	"$DW" scan --git --format jsonl --baseline rb.json repo >o.jsonl 2>o.err
	[ $? -eq 0 ] && pass "root, a user's repository: --baseline" || fail "root user's --baseline: $(cat o.err o.jsonl)"
	# The reader is not trusted with what root writes: a report that is
	# none, or one cut short, leaves the old baseline (before, root wrote
	# whatever came through the pipe and said nothing).
	cp rb.json keep2.json
	for lie in junk half; do
		DW_LIE=$lie LD_PRELOAD="$DW_BUILD/tests/lying_reader.so" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
			"$DW" scan --git --format jsonl --write-baseline rb.json repo >/dev/null 2>o.err
		rc=$?
		[ $rc -ne 0 ] && cmp -s rb.json keep2.json && grep -q "was not written" o.err &&
			[ -z "$(ls | grep tmp-)" ] &&
			pass "a reader that lies ($lie): the old baseline kept, said (rc $rc)" ||
			fail "lying reader $lie (rc $rc): $(cat o.err)"
	done
	# A repository that cannot be opened: exit 3, and no baseline.
	"$DW" scan --git --write-baseline nb.json nothere >/dev/null 2>o.err
	rc=$?
	[ $rc -eq 3 ] && [ ! -e nb.json ] && ! grep -q 'Broken pipe' o.err &&
		pass "root, no repository: exit 3, nothing written" || fail "no repository (rc $rc): $(cat o.err)"
	# Its owner's file keeps its owner when root refreshes it.
	cp rb.json ob.json && chown 4242:4242 ob.json && chmod 640 ob.json
	"$DW" scan --git --format jsonl --baseline ob.json --write-baseline ob.json repo >/dev/null 2>&1
	[ "$(stat -c %u:%a ob.json)" = 4242:640 ] && pass "root refreshing a user's baseline keeps owner and mode" ||
		fail "owner/mode now $(stat -c %u:%a ob.json)"
	# A device is refused (root could make one a regular file).
	mknod dnull c 1 3
	"$DW" scan --write-baseline dnull t >/dev/null 2>&1
	[ $? -eq 2 ] && [ -c dnull ] && pass "root: --write-baseline on a device: refused, the device left" || fail "device: $(ls -l dnull)"
	"$DW" scan --git --format jsonl --write-baseline rb.json repo >/dev/full 2>o.err
	rc=$?
	[ $rc -ne 0 ] && cmp -s rb.json keep2.json && [ -z "$(ls | grep tmp-)" ] &&
		pass "root, a user's repository, output failed (rc $rc): the old baseline kept" ||
		fail "reader output failure (rc $rc): $(cat o.err)"

	# Root's own repository: the confined reader. Before, it closed
	# every descriptor it was not told to keep, the baseline's among
	# them, and its write failed (or went to whatever took the number).
	chown -R 0:0 repo
	# Many findings: the report is far larger than a pipe holds.
	for i in $(seq 1 1500); do
		printf 'DATABASE_URL=postgres://app:Vq8zL%05dmXk9pR@db.internal:5432/app\n' "$i"
	done >repo/many.env
	git -C repo add . && git -C repo commit -qm many
	"$DW" scan --git --cache c.db --format jsonl --write-baseline big.json repo >o.jsonl 2>o.err
	rc=$?
	n=$(jq -r '.findings | length' big.json 2>/dev/null)
	[ $rc -eq 1 ] && [ "$n" = "$(wc -l <o.jsonl)" ] && [ "$n" -gt 1500 ] &&
		[ "$(stat -c %s big.json)" -gt 262144 ] &&
		pass "root's repository (confined reader): all $n findings ($(stat -c %s big.json) bytes) through the pipe" ||
		fail "confined reader (rc $rc, n $n): $(cat o.err)"
	"$DW" scan --git --cache c.db --format jsonl --baseline big.json --config ign.yaml \
		--report-unused-ignores repo >o.jsonl 2>o.err
	rc=$?
	[ $rc -eq 0 ] && [ ! -s o.jsonl ] && grep -qF "$stale matched no finding" o.err && ! grep -qF "$fp_gh" o.err &&
		pass "confined reader: --baseline and --report-unused-ignores" ||
		fail "confined reader baseline (rc $rc): $(cat o.err)"
else
	dw_skip "the reader processes of scan --git need root"
fi
finish
