#!/bin/bash
# scan --git on the repositories CI has: partial clones, lost objects,
# blob bombs, shallow clones. Before: a partial clone's first absent blob
# aborted the whole scan (exit 3, nothing printed); a blob was inflated
# whole before its size was checked (208 MB RSS for a 1 MB repository
# with --max-file-size 1MiB).
. "$(dirname "$0")/../lib/common.sh"
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.org GIT_CONFIG_NOSYSTEM=1 HOME="$tmp"
git init -q -b main src
cd src || exit 1
git config uploadpack.allowFilter true
git config uploadpack.allowAnySHA1InWant true
printf 'token %s\n' "$($G github g1)" >old.txt
git add old.txt && git commit -qm one
git rm -q old.txt && git commit -qm "two: old.txt removed"
printf 'npm %s\n' "$($G npm g2)" >new.txt
git add new.txt && git commit -qm three
cd ..

rules() { jq -r '.rule' "$1" | sort | tr '\n' ' '; }

"$DW" scan --git --format jsonl src >full.jsonl 2>full.err
[ $? -eq 1 ] && [ "$(rules full.jsonl)" = "github-token npm-token " ] &&
	pass "a full clone: both findings" || fail "full: $(rules full.jsonl) $(cat full.err)"
grep -q '0 missing' full.err && pass "the summary says nothing is missing" || fail "summary: $(cat full.err)"

# Partial clone: the blob of the first commit is not here.
git clone -q --filter=blob:none --no-checkout "file://$tmp/src" partial 2>/dev/null
git -C partial checkout -q main 2>/dev/null
"$DW" scan --git --format jsonl partial >p.jsonl 2>p.err
rc=$?
[ "$rc" -eq 3 ] && pass "a partial clone: exit 3" || fail "partial rc $rc: $(cat p.err)"
[ "$(rules p.jsonl)" = "npm-token " ] && pass "the present blob's finding is printed" ||
	fail "partial findings: $(rules p.jsonl)"
grep -qE '[1-9][0-9]* missing \(partial clone' p.err && pass "and the missing blobs are counted" ||
	fail "partial summary: $(cat p.err)"
"$DW" scan --git --format sarif partial >p.sarif 2>/dev/null
jq -e '.runs[0].invocations[0].executionSuccessful == false and
	(.runs[0].invocations[0].toolExecutionNotifications[0].message.text | test("missing"))' p.sarif >/dev/null &&
	pass "SARIF: the counts in toolExecutionNotifications" || fail "sarif invocations"
jq -e '.runs[0].invocations[0].properties.summary | .missing >= 1 and .scanned >= 1 and .commits >= 1' p.sarif >/dev/null &&
	pass "SARIF: the counts as numbers in the invocation's properties" || fail "sarif summary: $(jq -c '.runs[0].invocations' p.sarif)"
"$DW" scan --git --format json partial >p.json 2>/dev/null
jq -e '(.complete | not) and .summary.missing >= 1 and .summary.findings == 1 and (.findings | length) == 1' p.json >/dev/null &&
	pass "json: incomplete, with the counts" || fail "json summary: $(jq -c '{complete, summary}' p.json)"

# A lost loose object.
git clone -q "$tmp/src" lost
obj=$(git -C lost rev-parse HEAD~2:old.txt)
rm -f "lost/.git/objects/${obj:0:2}/${obj:2}"
"$DW" scan --git --format jsonl lost >l.jsonl 2>l.err
[ $? -eq 3 ] && [ "$(rules l.jsonl)" = "npm-token " ] && grep -q '1 missing' l.err &&
	pass "a lost object: counted, the rest scanned, exit 3" || fail "lost: $(cat l.err)"

# A blob bomb: 200 MB of zeros in a small repository.
git init -q -b main bomb
head -c 200000000 /dev/zero >bomb/zeros
printf 'token %s\n' "$($G github g3)" >bomb/small.txt
git -C bomb add . && git -C bomb commit -qm bomb
/usr/bin/time -f '%M' -o rss "$DW" scan --git --max-file-size 1MiB --format jsonl bomb >b.jsonl 2>b.err
rss=$(tail -1 rss)
[ "$(rules b.jsonl)" = "github-token " ] && grep -q '1 larger than --max-file-size' b.err &&
	pass "a blob bomb is skipped by its header" || fail "bomb: $(cat b.err)"
# Against the same scan of the small file alone (the rules' databases,
# and a sanitizer build's shadow, are the same on both sides): the
# 200 MB blob must add well under its size.
git init -q -b main small && cp bomb/small.txt small/ &&
	git -C small add . && git -C small commit -qm small
/usr/bin/time -f '%M' -o rss0 "$DW" scan --git --format jsonl small >s.jsonl 2>s.err
rss0=$(tail -1 rss0)
[ "$rss" -lt $((rss0 + 50000)) ] &&
	pass "peak RSS ${rss} KiB, ${rss0} KiB without the blob (never inflated)" ||
	fail "peak RSS ${rss} KiB, ${rss0} KiB without the blob"

# Shallow clones (the default checkout of most CI runners): the boundary
# commit introduces everything in its tree, marked shallow. Before: no
# commit walked, no finding, exit 0.
git clone -q --depth 1 "file://$tmp/src" d1 2>/dev/null
"$DW" scan --git --format jsonl d1 >d1.jsonl 2>d1.err
rc=$?
[ "$rc" -eq 1 ] && [ "$(rules d1.jsonl)" = "npm-token " ] &&
	jq -e 'select(.rule == "npm-token") | .shallow == true and .subject == "three"' d1.jsonl >/dev/null &&
	pass "--depth 1: the tip's secret, attributed to it, shallow" || fail "depth 1: rc $rc $(cat d1.jsonl d1.err)"
git clone -q --depth 2 "file://$tmp/src" d2 2>/dev/null
"$DW" scan --git --format jsonl d2 >d2.jsonl 2>d2.err
[ "$(jq -r 'select(.rule == "npm-token") | .subject + " " + (.shallow | tostring)' d2.jsonl)" = "three null" ] &&
	pass "--depth 2: a later commit's secret is attributed to it, not shallow" ||
	fail "depth 2: $(cat d2.jsonl)"
grep -q '2 commits' d2.err && pass "--depth 2: both commits walked" || fail "depth 2 summary: $(cat d2.err)"
"$DW" scan --git --since HEAD~1 --format jsonl d2 >d2s.jsonl 2>/dev/null
[ "$(rules d2s.jsonl)" = "npm-token " ] && pass "--since on a shallow clone" || fail "since: $(rules d2s.jsonl)"

# pre-push from a shallow clone to a bare remote: the pushed secret is
# found (libgit2's walk stops at the missing parent).
git clone -q --bare "$tmp/src" remote.git
git clone -q --depth 1 "file://$tmp/remote.git" pusher 2>/dev/null
cd pusher || exit 1
git config core.hooksPath "$tmp/hooks"
mkdir -p "$tmp/hooks"
"$DW" hook install --pre-push . >/dev/null 2>&1
printf 'key %s\n' "$($G github g4)" >pushed.txt
git add pushed.txt && git commit -q --no-verify -m "a pushed secret"
git push -q origin main >../push.out 2>&1
rc=$?
cd ..
[ "$rc" -ne 0 ] && grep -q 'push blocked' push.out && pass "pre-push in a shallow clone blocks the secret" ||
	fail "shallow pre-push: rc $rc $(cat push.out)"

# Nothing to read.
git init -q -b main empty
"$DW" scan --git empty >/dev/null 2>e.err
grep -q 'read nothing' e.err && pass "an empty repository: said so" || fail "empty: $(cat e.err)"

# A user's repository scanned by root: read as its owner. Before, libgit2
# refused it ("config value 'safe.directory' was not found", exit 2), and
# had it not, every object a user wrote would have been parsed as root.
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$tmp"
	git init -q -b main theirs
	printf 'token %s\n' "$($G gitlab u1)" >theirs/t.txt
	git -C theirs add t.txt && git -C theirs commit -qm one
	obj=$(git -C theirs rev-parse HEAD:t.txt)
	chown -R 4242:4242 theirs
	"$DW" scan --git --format jsonl theirs >u.jsonl 2>u.err
	[ $? -eq 1 ] && [ "$(rules u.jsonl)" = "gitlab-token " ] &&
		pass "root scans a user's repository: found" || fail "user's repo as root: $(cat u.err)"
	# What its owner cannot read, root does not read for it: the blob's
	# object made root's alone is not read (counted), though root could.
	chown 0:0 "theirs/.git/objects/${obj:0:2}" && chmod 700 "theirs/.git/objects/${obj:0:2}"
	"$DW" scan --git --format jsonl theirs >u2.jsonl 2>u2.err
	rc=$?
	[ $rc -eq 3 ] && [ ! -s u2.jsonl ] && grep -q '1 missing\|1 unreadable' u2.err &&
		pass "read as its owner: an object only root may read is not read, and said (exit 3)" ||
		fail "as owner (rc $rc): $(cat u2.jsonl u2.err)"
	# A directory root owns inside the user's repository (a build dir):
	# the user could change what is read there, so it is read as the
	# user. An earlier version parsed the user's objects as root here.
	chown -R 4242:4242 "theirs/.git/objects/${obj:0:2}"
	mkdir theirs/build && chown 0:0 theirs/build
	(cd theirs/build && "$DW" scan --git --format jsonl >../../b.jsonl 2>../../b.err)
	rc=$?
	[ $rc -eq 1 ] && [ "$(rules b.jsonl)" = "gitlab-token " ] &&
		pass "from a root-owned dir inside a user's repository: read as that user" ||
		fail "found from a root dir (rc $rc): $(cat b.err)"
	# A repository root owns in a directory a user owns: that user could
	# rename it while it is read (libgit2 reads objects by path), so it
	# is read as that user: an object only root may read is not read.
	mkdir userdir && git init -q -b main userdir/rr
	printf 'token %s\n' "$($G github u3)" >userdir/rr/t.txt
	git -C userdir/rr add t.txt && git -C userdir/rr commit -qm one
	chown 4242:4242 userdir
	robj=$(git -C userdir/rr rev-parse HEAD:t.txt)
	chmod 700 "userdir/rr/.git/objects/${robj:0:2}"
	"$DW" scan --git --format jsonl userdir/rr >r.jsonl 2>r.err
	rc=$?
	[ $rc -eq 3 ] && [ ! -s r.jsonl ] &&
		pass "root's repository in a user's directory: read as that user, not as root" ||
		fail "root repo under a user's dir (rc $rc): $(cat r.jsonl r.err)"
	"$DW" scan --git --respond userdir/rr >/dev/null 2>rr.err
	rc=$?
	[ $rc -eq 3 ] && grep -q -- '--respond' rr.err &&
		pass "--respond (which keeps root): refused for a path a user could change" ||
		fail "--respond (rc $rc): $(cat rr.err)"
	# A repository root owns, but whose objects libgit2 would read from a
	# user's store, or that others may write: refused, never read as root
	# (a third review: the path checks alone let these through).
	# (what clone --shared makes: its objects from the user's store)
	git init -q -b main borrowed
	echo "$tmp/theirs/.git/objects" >borrowed/.git/objects/info/alternates
	"$DW" scan --git borrowed >/dev/null 2>a.err
	rc=$?
	[ $rc -eq 3 ] && grep -q 'alternates leads out of the repository' a.err &&
		pass "root's clone --shared of a user's repository: refused (alternates)" ||
		fail "alternates (rc $rc): $(cat a.err)"
	git init -q -b main --shared=group grp
	printf 'x\n' >grp/x && git -C grp add x && git -C grp commit -qm one
	"$DW" scan --git grp >/dev/null 2>g.err
	rc=$?
	[ $rc -eq 3 ] && grep -q 'writable by others' g.err &&
		pass "a group-shared repository: refused as root" || fail "shared=group (rc $rc): $(cat g.err)"
	git init -q -b main planted
	printf 'x\n' >planted/x && git -C planted add x && git -C planted commit -qm one
	pobj=$(git -C planted rev-parse HEAD:x)
	chown 4242 "planted/.git/objects/${pobj:0:2}/${pobj:2}"
	"$DW" scan --git planted >/dev/null 2>p.err
	rc=$?
	[ $rc -eq 3 ] && grep -q 'belongs to uid 4242' p.err &&
		pass "a root repository holding a user's object: refused as root" || fail "planted (rc $rc): $(cat p.err)"
	# A user's repository above a directory root owns, with root's own
	# gitconfig trusting it (safe.directory): not looked for, not read.
	mkdir -m 1777 sticky && git init -q --bare sticky/.git && chown -R 4242:4242 sticky/.git
	mkdir sticky/build
	printf '[safe]\n\tdirectory = %s/sticky\n' "$tmp" >"$tmp/.gitconfig"
	"$DW" scan --git sticky/build >/dev/null 2>s.err
	rc=$?
	rm -f "$tmp/.gitconfig"
	[ $rc -eq 2 ] && grep -q "not a repository's top directory" s.err &&
		pass "a user's .git above a root directory: not searched for as root, safe.directory or not" ||
		fail "sticky (rc $rc): $(cat s.err)"
	# Root's own repository (what root cloned is hostile content too):
	# libgit2 parses it in a process that reads with root's reach and
	# can do nothing else. Before, it parsed it as root with every
	# capability: a flaw in a pack or delta was a root shell.
	git init -q -b main mine
	printf 'token %s\n' "$($G gitlab rootown)" >mine/t.txt
	git -C mine add t.txt && git -C mine commit -qm one
	chmod -R go-rwx mine
	DW_TEST_READER_PROBE="$tmp/made-by-reader" "$DW" scan --git --format jsonl --cache "$tmp/mine.cache" mine >m.jsonl 2>m.err 7>"$tmp/inherited"
	rc=$?
	[ $rc -eq 1 ] && [ "$(rules m.jsonl)" = "gitlab-token " ] &&
		pass "root's own repository (0700): read and found by the confined reader" || fail "root's repo (rc $rc): $(cat m.err)"
	probe() { sed -n "s/^reader probe: $1:[[:space:]]*//p" m.err; }
	uid=$(probe Uid | awk '{ print $1 $2 $3 $4 }')
	[ -n "$uid" ] && [ "$uid" != 0000 ] && [ "$(probe CapEff)" = 0000000000000004 ] &&
		[ "$(probe CapPrm)" = 0000000000000004 ] && [ "$(probe CapBnd)" = 0000000000000004 ] &&
		[ "$(probe NoNewPrivs)" = 1 ] && [ "$(probe Seccomp)" = 2 ] &&
		pass "the reader: uid $(probe Uid | awk '{ print $1 }'), CAP_DAC_READ_SEARCH alone (bounding set too), no new privileges, seccomp" ||
		fail "the reader is not confined: $(grep 'reader probe' m.err | tr '\n' ' ')"
	# /tmp is world-writable: only Landlock keeps it from creating there.
	grep -q "create $tmp/made-by-reader: Permission denied" m.err && [ ! -e "$tmp/made-by-reader" ] &&
		grep -q "socket: Operation not permitted" m.err && grep -q "kill 1: Operation not permitted" m.err &&
		pass "the reader cannot create a file (even in /tmp), open a socket or signal another process" ||
		fail "the reader could act: $(grep 'reader probe' m.err | tr '\n' ' ')"
	# A second review: it typed into root's terminal (TIOCSTI), could fork
	# a process to outlive the scan, truncate what any user may write,
	# and held what it inherited (a Docker connection, the store's WAL).
	touch "$tmp/anyone" && chmod 666 "$tmp/anyone" && echo data >"$tmp/anyone"
	DW_TEST_READER_PROBE="$tmp/anyone" "$DW" scan --git mine >/dev/null 2>t.err 7>"$tmp/inherited"
	# (a sanitizer build lets it fork: LeakSanitizer needs to, at exit)
	forked="fork: Operation not permitted"
	dw_sanitized && forked="fork: done"
	grep -q "tiocsti: Operation not permitted" t.err && grep -q "$forked" t.err &&
		grep -q "truncate $tmp/anyone: Operation not permitted" t.err && [ -s "$tmp/anyone" ] &&
		grep -q "reader probe: fds: 0 1 2$" t.err &&
		pass "the reader cannot type into the terminal, fork, truncate, or use a descriptor it inherited" ||
		fail "the reader could still: $(grep 'reader probe' t.err | tr '\n' ' ')"
	# A third review: with CAP_DAC_READ_SEARCH it read any file (root's
	# other terminals, /etc/shadow, device nodes whose ioctls change the
	# system), read what was typed on its own terminal, left SysV IPC
	# objects behind, left its session, and had the job's environment;
	# and past 1024 inherited descriptors it closed none of the rest.
	DW_TEST_READER_FIND=zz-terces-ic-zz DW_PROBE_SECRET=zz-ci-secret-zz DW_TEST_READER_PROBE="$tmp/anyone" bash -c '
		ulimit -n 4096; for i in $(seq 10 1100); do eval "exec $i</dev/null"; done
		exec 1105>>"$1/precious"; exec "$2" scan --git mine' _ "$tmp" "$DW" >/dev/null 2>r3.err
	# (a sanitizer build's runtime keeps a copy of the first environment
	# of its own: there the environment is checked by the normal build)
	envmem="memory: does not hold it"
	dw_sanitized && envmem="memory: " && echo "# sanitizer build: its runtime copies the environment; the wipe is checked by the normal build"
	grep -q "read /etc/shadow: Permission denied" r3.err && grep -q "$envmem" r3.err &&
		! grep -q "read stdout: done" r3.err && grep -q "tiocsti high: Operation not permitted" r3.err &&
		grep -q "shmget: Operation not permitted" r3.err && grep -q "setsid: Operation not permitted" r3.err &&
		grep -q "environment: cleared" r3.err && grep -q "reader probe: fds: 0 1 2$" r3.err &&
		pass "the reader reads only the repository, not its terminal; no IPC, no new session, no environment (not even in its memory); 1,100 inherited descriptors closed" ||
		fail "the reader still could: $(grep 'reader probe' r3.err | tr '\n' ' ')"
	# The last review: confined in place, the reader dup'ed root's
	# terminal (standard output) and read or typed into it. It is a child
	# now, its output relayed: under a terminal it holds none.
	script -qec "DW_TEST_READER_ESC=1 DW_TEST_READER_PROBE=$tmp/anyone $DW scan --git mine" /dev/null >pty.out 2>&1
	grep -q "reader probe: stdout: pipe, tty: none" pty.out && grep -q "gitlab-token" pty.out &&
		grep -aq "reader probe: esc \[?\]0;OWNED?\]\[?31m\]\[???32m\]" pty.out && ! grep -aqP '\x1b|\xc2\x9b|\xe0\x82\x9b' pty.out &&
		pass "under a terminal: the reader's output is a pipe to its parent, relayed without escape sequences, it holds no terminal, the finding shown" ||
		fail "reader under a terminal: $(grep -a 'stdout\|gitlab' pty.out | tr -d '\r' | head -3)"
	# The first variable wiped was left in a vector register by a SIMD
	# strlen, and saved to the stack by lazy binding: not any more.
	env -i S=zz-ci-secret-zz A=1 DW_TEST_READER_FIND=zz-terces-ic-zz DW_TEST_READER_PROBE="$tmp/anyone" \
		"$DW" scan --git mine >/dev/null 2>e.err
	grep -q "$envmem" e.err && pass "a sole secret variable: not left in the reader's memory" ||
		fail "env -i secret: $(grep 'memory' e.err)"
	# Through a pipe, no C0 control either (an OSC or CSI a terminal
	# further down would act on); a failed write is an error, not exit 0.
	DW_TEST_READER_ESC=1 DW_TEST_READER_PROBE="$tmp/anyone" "$DW" scan --git mine 2>/dev/null | cat >pipe.out
	grep -aq "reader probe: esc \[?\]0;OWNED?\]" pipe.out && ! grep -aqP '\x1b|\x07' pipe.out &&
		pass "through a pipe: the reader's output without escape sequences" || fail "pipe relay: $(grep -a 'esc' pipe.out | od -c | head -3)"
	"$DW" scan --git mine >/dev/full 2>full.err
	rc=$?
	[ $rc -ne 0 ] && grep -q "cannot write output" full.err &&
		pass "output that cannot be written: said, not exit 0" || fail "/dev/full: rc $rc $(cat full.err)"
	# A cache written over (by a reader taken over, or anything else):
	# put aside and begun again, the scan complete.
	head -c 8192 /dev/urandom >"$tmp/junk.cache"
	"$DW" scan --git --format jsonl --cache "$tmp/junk.cache" mine >j.jsonl 2>j.err
	[ $? -eq 1 ] && [ "$(rules j.jsonl)" = "gitlab-token " ] && grep -q "was not a cache" j.err && [ -s "$tmp/junk.cache.damaged" ] &&
		pass "a damaged --cache: put aside, said, and the scan complete" || fail "damaged cache: $(cat j.err)"
	# With --cache, only the cache's own files stay open to it.
	fds=$(sed -n 's/^reader probe: fds: //p' m.err)
	[ "$(wc -w <<<"$fds")" -le 6 ] && ! grep -qw 7 <<<"$fds" &&
		pass "with --cache: the cache's descriptors alone ($fds)" || fail "descriptors with --cache: $fds"
	# A reader that cannot be confined (no CAP_SETUID to change its uid):
	# the repository is not read (the first version warned and parsed
	# it as root).
	capsh --drop=cap_setuid -- -c "exec $DW scan --git mine" >/dev/null 2>c.err
	rc=$?
	[ $rc -eq 3 ] && grep -q "cannot confine" c.err &&
		pass "a reader that cannot be confined: not read, exit 3, and why" || fail "unconfinable (rc $rc): $(cat c.err)"
	"$DW" scan --git --format jsonl --cache "$tmp/mine.cache" mine >m2.jsonl 2>m2.err
	[ $? -eq 1 ] && [ "$(rules m2.jsonl)" = "gitlab-token " ] && grep -q "1 from the cache" m2.err &&
		pass "--cache, opened before the reader is confined, is read and written" || fail "cache when confined: $(cat m2.err)"
	# Another user (not root): libgit2's refusal, in words.
	setpriv --reuid=4243 --regid=4243 --clear-groups "$DW" scan --git theirs >/dev/null 2>o.err
	rc=$?
	[ $rc -eq 2 ] && grep -q 'owned by uid 4242, not by you (uid 4243)' o.err &&
		pass "another user's repository: refused, and why" || fail "other user (rc $rc): $(cat o.err)"
fi
finish
