#!/bin/bash
# `driftwatch scan --git` and the git hooks on real repositories built
# here with git itself.
. "$(dirname "$0")/../lib/common.sh"
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GIT_CONFIG_GLOBAL="$tmp/gitconfig" GIT_CONFIG_NOSYSTEM=1
git config --global user.email dev@example.org
git config --global user.name Dev
git config --global init.defaultBranch main
cd "$tmp" || exit 1
gh=$($G github g1)
npm=$($G npm g2)
swarm=$($G swarm-worker g3)
unlock=$($G unlock-key g4)

git init -q repo && cd repo || exit 1
echo hello >a.txt && git add a.txt && git commit -qm "first"
printf 'x\ntoken = %s\n' "$gh" >>a.txt && git commit -qam "add the token"
sed -i '/token/d' a.txt && git commit -qam "remove the token"
# The same content at three paths in three commits: one blob, one finding.
printf 'npm %s\n' "$npm" >n1.txt && git add n1.txt && git commit -qm "npm one"
cp n1.txt n2.txt && git add n2.txt && git commit -qm "npm two"
mkdir sub && cp n1.txt sub/n3.txt && git add sub && git commit -qm "npm three"
out=$("$DW" scan --git --format jsonl .); rc=$?
jq -s -e 'any(.[]; .rule=="github-token" and .path=="a.txt" and .line==3 and .subject=="add the token"
	and .author=="Dev <dev@example.org>" and (.commit|length)==40 and .source=="git")' <<<"$out" >/dev/null &&
	[ $rc -eq 1 ] && pass "token added then removed: found at the commit that added it" || fail "history: $out"
[ "$(jq -s '[.[] | select(.rule=="npm-token")] | length' <<<"$out")" = 1 ] &&
	[ "$(jq -r 'select(.rule=="npm-token") | .subject' <<<"$out")" = "npm one" ] &&
	pass "identical blobs scanned once, attributed to the first commit" || fail "dedupe: $out"

# Archives in the history, entry by entry: a zip and a tar.gz added then
# removed, and a zip under a name that does not say so. A zip bomb under
# --max-file-size and a truncated zip are read in part: said, exit 3.
git init -q "$tmp/arch" && (
	cd "$tmp/arch" && mkdir -p in && printf 'token %s\n' "$gh" >in/conf.txt &&
		zip -qr conf.zip in && tar -czf conf.tgz in && printf 'npm %s\n' "$npm" >in/conf.txt &&
		zip -qr build.bin in && rm -r in && git add . && git commit -qm archives &&
		git rm -q conf.zip conf.tgz build.bin && git commit -qm "remove them"
)
out=$("$DW" scan --git --format jsonl "$tmp/arch" 2>err.txt); rc=$?
[ $rc -eq 1 ] && [ "$(jq -r 'select(.source=="git") | "\(.path)!\(.entry) \(.rule) \(.subject)"' <<<"$out" | sort | tr '\n' ,)" = \
	"build.bin!in/conf.txt npm-token archives,conf.tgz!in/conf.txt github-token archives,conf.zip!in/conf.txt github-token archives," ] &&
	grep -q '3 scanned (3 of them archives)' err.txt &&
	pass "archives in the history: each entry's secrets, named, at the commit that added them" ||
	fail "archives in history: rc $rc $out $(cat err.txt)"
# (a review: an entry name that writes to the terminal, in a zip whose
# data is broken, came out raw in the reason said)
python3 - "$tmp/esc.zip" <<'PY'
import io, sys, zipfile
b = io.BytesIO()
with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("\x1b]0;T\x07\x1b[31mR\x1b[0m\nfake: injected", b"hello world " * 200)
d = bytearray(b.getvalue())
i = d.index(b"injected") + len(b"injected")
d[i:i + 8] = b"\xff" * 8
open(sys.argv[1], "wb").write(bytes(d))
PY
git init -q "$tmp/bomb" && (
	cd "$tmp/bomb" && head -c 100000000 /dev/zero >zeros && zip -q bomb.zip zeros && rm zeros &&
		printf 'PK\003\004cut' >cut.zip && git add . && git commit -qm bomb
)
"$DW" scan --git --max-file-size 1MiB --format json "$tmp/bomb" >bomb.json 2>err.txt; rc=$?
[ $rc -eq 3 ] && grep -q '2 of 2 archives in the history read in part' err.txt &&
	jq -e '.summary.archives_cut == 2 and .complete == false' bomb.json >/dev/null &&
	pass "a zip bomb and a cut zip in the history: read in part, said, exit 3" ||
	fail "archive limits in history: rc $rc $(cat err.txt) $(jq -c .summary bomb.json)"
# (root reads it in a confined process; nobody, the repository's owner
# then, in its own: both said it raw)
git init -q "$tmp/escrepo" && (cd "$tmp/escrepo" && cp "$tmp/esc.zip" . && git add . && git commit -qm esc)
chmod a+x "$tmp"
for who in root nobody; do
	if [ $who = root ]; then
		"$DW" scan --git "$tmp/escrepo" >/dev/null 2>err.txt
	else
		chown -R 65534:65534 "$tmp/escrepo"
		setpriv --reuid=65534 --regid=65534 --clear-groups env -u GIT_CONFIG_GLOBAL HOME="$tmp/escrepo" \
			GIT_CONFIG_NOSYSTEM=1 "$DW" scan --git "$tmp/escrepo" >/dev/null 2>err.txt
	fi
	grep -q 'esc.zip: entry .*injected' err.txt && ! grep -q "$(printf '\033')" err.txt &&
		! grep -q '^fake: injected' err.txt &&
		pass "$who: a hostile entry name in the reason an archive was cut: escaped" ||
		fail "$who: esc in history: $(od -c err.txt | head -8)"
done
chown -R 0:0 "$tmp/escrepo"

# A dangling commit: only --all-objects sees it.
git checkout -q -b tmp && printf '%s\n' "$swarm" >d.txt && git add d.txt && git commit -qm "dangling" &&
	git checkout -q main && git branch -q -D tmp
"$DW" scan --git --format jsonl . | jq -r .rule | grep -qx docker-swarm-join-token &&
	fail "dangling commit seen without --all-objects" || pass "dangling commit not reachable"
"$DW" scan --git --all-objects --format jsonl . |
	jq -s -e 'any(.[]; .rule=="docker-swarm-join-token" and .subject=="dangling")' >/dev/null &&
	pass "--all-objects finds the dangling commit" || fail "--all-objects"

# Every ref: a stash, a remote-tracking ref, a tag.
printf 'stashed %s\n' "$unlock" >>a.txt && git stash -q
"$DW" scan --git --format jsonl . | jq -r .rule | grep -qx docker-swarm-unlock-key &&
	pass "token in the stash found" || fail "stash"
git checkout -q -b feature && printf 'f %s\n' "$($G gitlab g5)" >f.txt && git add f.txt && git commit -qm feature
git update-ref refs/remotes/origin/feature HEAD && git checkout -q main && git branch -q -D feature
"$DW" scan --git --format jsonl . | jq -r .rule | grep -qx gitlab-token && pass "remote-tracking ref scanned" || fail "remote ref"

# Restrictions.
first=$(git rev-list --max-parents=0 main)
after=$(git rev-parse main~3)
[ "$("$DW" scan --git --branch main --format jsonl . | jq -r .rule | sort -u | tr '\n' ' ')" = "github-token npm-token " ] &&
	pass "--branch main" || fail "--branch"
[ -z "$("$DW" scan --git --since "$after" --format jsonl . --branch main | jq -r 'select(.rule=="github-token")')" ] &&
	pass "--since skips older commits" || fail "--since"
[ "$("$DW" scan --git --range "$first..main~3" --format jsonl . | jq -r .rule | sort -u)" = github-token ] &&
	pass "--range A..B" || fail "--range"
"$DW" scan --git --range nosuch..main . >/dev/null 2>&1; [ $? -eq 2 ] && pass "bad revision: exit 2" || fail "bad revision"
"$DW" scan --git "$tmp" >/dev/null 2>&1; [ $? -eq 2 ] && pass "not a repository: exit 2" || fail "not a repo"

# Incremental cache: a second run takes findings from it.
"$DW" scan --git --cache "$tmp/cache.db" --format jsonl . >run1.json
[ "$(stat -c %a "$tmp/cache.db")" = 600 ] && pass "cache file 0600" || fail "cache mode"
sqlite3 "$tmp/cache.db" "UPDATE findings SET redacted='FROM-CACHE'"
"$DW" scan --git --cache "$tmp/cache.db" --format jsonl . >run2.json
[ "$(jq -r .secret run2.json | sort -u)" = FROM-CACHE ] && [ "$(wc -l <run1.json)" = "$(wc -l <run2.json)" ] &&
	pass "second run: every blob from the cache" || fail "cache not used"
printf 'disable: [jwt]\n' >.driftwatch.yaml
"$DW" scan --git --cache "$tmp/cache.db" --format jsonl . >run3.json
! grep -q FROM-CACHE run3.json && pass "another rule set: scanned again" || fail "cache ignores rules"
rm .driftwatch.yaml
"$DW" scan --git --show-secrets --cache "$tmp/cache.db" --format jsonl . | grep -qF "$gh" &&
	pass "--show-secrets does not use redacted cache entries" || fail "show-secrets with cache"
git stash drop -q

# pre-commit: exactly what is staged, added lines only.
cd "$tmp" && git init -q hooked && cd hooked || exit 1
printf '#!/bin/sh\necho "their hook ran" >&2\n' >.git/hooks/pre-commit && chmod +x .git/hooks/pre-commit
"$DW" hook install --pre-push . >install.out || fail "install"
grep -q 'kept your pre-commit hook' install.out && [ -x .git/hooks/pre-commit.driftwatch-chained ] &&
	pass "existing hook kept and chained" || fail "chaining: $(cat install.out)"
echo "*.out" >.gitignore
printf 'key %s\n' "$swarm" >first.txt && git add first.txt .gitignore
git commit -qm "first commit" 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q 'first.txt:1: docker-swarm-join-token' err.txt && grep -q "their hook ran" err.txt &&
	grep -q "driftwatch:allow" err.txt && ! grep -qF "$swarm" err.txt &&
	pass "first commit blocked, their hook ran, no whole secret shown" || fail "first commit: $(cat err.txt)"
echo clean >first.txt && git add first.txt && git commit -qm "first commit" 2>err.txt &&
	! grep -q driftwatch err.txt && pass "clean commit: driftwatch silent" || fail "clean: $(cat err.txt)"
printf 'in the tree only %s\n' "$gh" >>first.txt
git commit -qm "nothing staged from it" --allow-empty 2>/dev/null; rc=$?
[ $rc -eq 0 ] && pass "secret only in the working tree: not blocked" || fail "worktree-only blocked"
git add first.txt && git checkout -q -- . 2>/dev/null
git restore --source=HEAD --worktree first.txt 2>/dev/null || sed -i '/tree only/d' first.txt
git commit -qm "staged then removed from the tree" 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q github-token err.txt && pass "staged, removed from the tree: blocked" || fail "staged-not-in-tree rc $rc"
git reset -q first.txt
git checkout -q -- first.txt
printf 'k %s\n' "$npm" >old.txt && printf 'k %s driftwatch:allow\n' "$npm" >old.txt
git add old.txt && git commit -qm "allowed" 2>err.txt && pass "driftwatch:allow lets it through" || fail "allow: $(cat err.txt)"
git mv old.txt renamed.txt && git commit -qm "rename only" 2>err.txt && pass "a rename adds no lines: not blocked" || fail "rename: $(cat err.txt)"
printf 'PK\0\0binary %s\n' "$gh" >blob.bin && git add blob.bin && git commit -qm "binary" 2>err.txt &&
	pass "binary file: not scanned" || fail "binary blocked"
openssl genrsa 2048 2>/dev/null >id_rsa && git add id_rsa
git commit -qm "key" 2>err.txt; [ $? -ne 0 ] && grep -q 'id_rsa:1: private-key' err.txt && pass "multi-line key blocked" || fail "key: $(cat err.txt)"
git reset -q id_rsa
# A zip staged: its entries are read; a new version blocks only for what
# the one it replaces did not hold.
mkdir -p zipped && printf 'token %s\n' "$gh" >zipped/conf.txt && (cd zipped && zip -q ../conf.zip conf.txt) && git add conf.zip
git commit -qm zip 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q ' conf.zip!conf.txt:1: github-token' err.txt && pass "a zip staged with a secret inside: blocked" ||
	fail "staged zip: rc $rc $(cat err.txt)"
git commit -q --no-verify -m zip && printf 'more\n' >zipped/b.txt && (cd zipped && zip -q ../conf.zip b.txt) && git add conf.zip
git commit -qm "zip again" 2>err.txt && pass "the zip rebuilt with no new secret: not blocked" || fail "zip again: $(cat err.txt)"
printf 'k %s\n' "$npm" >zipped/c.txt && (cd zipped && zip -q ../conf.zip c.txt) && git add conf.zip
git commit -qm "zip new" 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q ' conf.zip!c.txt:1: npm-token' err.txt && ! grep -q github-token err.txt &&
	pass "the zip with a new secret: blocked for that one only" || fail "zip new: rc $rc $(cat err.txt)"
git reset -q conf.zip && git reset -q --hard HEAD~2 && rm -rf zipped conf.zip
cp "$tmp/esc.zip" esc.zip && git add esc.zip && git commit -qm "esc" 2>err.txt
grep -q 'note: esc.zip: archive read in part' err.txt && ! grep -q "$(printf '\033')" err.txt &&
	! grep -q '^fake: injected' err.txt && pass "hook: a broken zip's hostile entry name: noted, escaped" ||
	fail "hook esc: $(od -c err.txt | head -5)"
git reset -q --hard HEAD~1
# (second review) a zip known by its bytes whose new version only drops
# lines of the old (text, then the zip): no added line, and it was not
# read at all
python3 - "$gh" <<'PY'
import io, sys, zipfile
b = io.BytesIO()
with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("cfg.txt", "token %s\n" % sys.argv[1])
    z.comment = b"x\n"
open("data.bin", "wb").write(b"line\n" * 600 + b.getvalue())
open("data.new", "wb").write(b.getvalue())
PY
git add data.bin && git commit -q --no-verify -m data && mv data.new data.bin && git add data.bin
git commit -qm "data shorter" 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q ' data.bin!cfg.txt:1: github-token' err.txt &&
	pass "hook: a zip by its bytes that only drops lines: read, blocked" || fail "hook magic zip: rc $rc $(cat err.txt)"
git reset -q --hard HEAD~1
# A .netrc entry over lines: the password line alone is what is added.
printf 'machine git.internal.example\n  login ci-bot\n' >.netrc && git add .netrc && git commit -qm netrc 2>/dev/null
printf '  password Hq4vZ9tLm2Xw\n' >>.netrc && git add .netrc
git commit -qm "netrc password" 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q ' \.netrc:3: netrc-password' err.txt &&
	pass "a .netrc password added under an existing machine line: blocked" || fail "netrc: rc $rc $(cat err.txt)"
git reset -q --hard HEAD~1
# git commit -a and git commit PATH stage into an index of their own,
# named in GIT_INDEX_FILE: that is what gets committed.
printf 'via -a %s\n' "$gh" >>first.txt
git commit -qam "commit -a" 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q 'first.txt:2: github-token' err.txt && pass "git commit -a: what it stages is checked" ||
	fail "commit -a: rc $rc $(cat err.txt)"
git commit -qm "commit PATH" first.txt 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q 'first.txt:2: github-token' err.txt && pass "git commit PATH: its own index is checked" ||
	fail "commit PATH: rc $rc $(cat err.txt)"
git checkout -q -- first.txt
# The hook compares the index's trees with HEAD's and diffs only the paths
# that differ: every shape of change must still be seen.
hp() { git commit -qm "$1" 2>err.txt; rc=$?; [ $rc -ne 0 ] && grep -q "$2" err.txt; }
undo() { git reset -q --hard HEAD && git clean -qfd -e '*.txt' -e '*.out'; }
mkdir -p deep/a/b/c deep/a/b/d deep/e && echo keep >deep/a/b/c/k.txt && echo keep >deep/a/b/d/k.txt &&
	echo keep >deep/e/k.txt && echo f >deep/file && git add deep && git commit -qm "deep tree" 2>/dev/null
mkdir -p new/sub && printf 'k %s\n' "$gh" >new/sub/x.cfg && git add new
hp "new nested dir" 'new/sub/x.cfg:1: github-token' && pass "a new nested directory is checked" ||
	fail "new dir: rc $rc $(cat err.txt)"
undo
printf 'one\nk %s\n' "$gh" >>deep/a/b/d/k.txt && git add deep
hp "deep change" 'deep/a/b/d/k.txt:3: github-token' && pass "a change deep below unchanged siblings is checked" ||
	fail "deep: rc $rc $(cat err.txt)"
undo
git rm -qr deep/a && printf 'k %s\n' "$gh" >deep/a && git add deep/a
hp "dir became file" 'deep/a:1: github-token' && pass "a directory replaced by a file is checked" ||
	fail "dir to file: rc $rc $(cat err.txt)"
undo
git rm -q deep/file && mkdir deep/file && printf 'k %s\n' "$gh" >deep/file/in && git add deep/file
hp "file became dir" 'deep/file/in:1: github-token' && pass "a file replaced by a directory is checked" ||
	fail "file to dir: rc $rc $(cat err.txt)"
undo
git mv deep/e/k.txt deep/a/moved.txt && printf 'k %s\n' "$gh" >>deep/a/moved.txt && git add deep
hp "moved and changed" 'deep/a/moved.txt:2: github-token' && pass "a file moved across directories and changed is checked" ||
	fail "move: rc $rc $(cat err.txt)"
undo
mkdir many && for i in $(seq 1 1100); do echo "$i" >"many/f$i"; done && git add many && git commit -qm many 2>/dev/null
for i in $(seq 1 1100); do echo "more" >>"many/f$i"; done && printf 'k %s\n' "$gh" >>many/f777 && git add many
hp "many files" 'many/f777:3: github-token' && pass "more changed paths than the fast path takes (1100): checked" ||
	fail "many: rc $rc $(cat err.txt)"
undo
chmod +x deep/e/k.txt && git add deep && git commit -qm "mode only" 2>err.txt &&
	pass "a mode change only: not blocked" || fail "mode: $(cat err.txt)"
# A linked work tree: its own index (and HEAD), the repository's hooks.
git worktree add -q "$tmp/wt" 2>/dev/null && printf 'k %s\n' "$gh" >"$tmp/wt/wt.txt" &&
	git -C "$tmp/wt" add wt.txt
git -C "$tmp/wt" commit -qm wt 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q 'wt.txt:1: github-token' err.txt && pass "linked work tree: its staged leak blocked" ||
	fail "worktree: rc $rc $(cat err.txt)"
git worktree remove --force "$tmp/wt"
# A bare repository with a separate work tree (GIT_DIR and GIT_WORK_TREE).
git init -q --bare "$tmp/dots.git" && mkdir "$tmp/dots" && "$DW" hook install "$tmp/dots.git" >/dev/null
dots() { git --git-dir="$tmp/dots.git" --work-tree="$tmp/dots" "$@"; }
echo 'export EDITOR=vi' >"$tmp/dots/.profile" && dots add .profile &&
	dots commit -qm dots 2>err.txt && pass "GIT_DIR + GIT_WORK_TREE: clean commit goes through" ||
	fail "dotfiles clean: $(cat err.txt)"
printf 'export GH=%s\n' "$gh" >>"$tmp/dots/.profile" && dots add .profile
dots commit -qm leak 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q '.profile:2: github-token' err.txt && pass "GIT_DIR + GIT_WORK_TREE: leak blocked" ||
	fail "dotfiles leak: rc $rc $(cat err.txt)"

# pre-push: a real push to a local bare repository.
git init -q --bare "$tmp/remote.git"
git remote add origin "$tmp/remote.git"
git push -q origin main 2>err.txt && pass "clean push goes through" || fail "clean push: $(cat err.txt)"
printf 'late %s\n' "$($G stripe g6)" >late.txt && git add late.txt && git commit -q --no-verify -m "late leak"
git push -q origin main 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q 'late.txt:1: stripe-secret-key' err.txt && grep -q 'in commit' err.txt &&
	pass "push of a leaking commit blocked" || fail "push: rc $rc $(cat err.txt)"
git checkout -q -b topic HEAD~1 && echo t >t.txt && git add t.txt && git commit -qm topic
git push -q origin topic 2>err.txt && pass "new branch: only its own commits scanned" || fail "new branch: $(cat err.txt)"
leak=$(git rev-parse main)
PRE_COMMIT_FROM_REF=$(git rev-parse main~1) PRE_COMMIT_TO_REF=$leak "$DW" hook pre-push </dev/null 2>err.txt
[ $? -eq 1 ] && grep -q stripe-secret-key err.txt && pass "pre-commit framework's PRE_COMMIT_*_REF range" || fail "framework range"
git checkout -q -b empty main~1 && git commit -q --no-verify --allow-empty -m empty &&
	git push -q origin empty 2>err.txt && pass "push of a commit with its parent's tree goes through" ||
	fail "empty commit: $(cat err.txt)"
git checkout -q topic && printf 'k %s\n' "$gh" >>deep/a/b/d/k.txt && git add deep &&
	git commit -q --no-verify -m "deep leak" && echo x >>deep/e/k.txt && git add deep && git commit -q --no-verify -m after
git push -q origin topic 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q 'deep/a/b/d/k.txt:2: github-token' err.txt &&
	pass "push: a change deep below unchanged siblings is checked" || fail "deep push: rc $rc $(cat err.txt)"
"$DW" hook uninstall . >un.out && grep -q 'restored your pre-commit hook' un.out && [ ! -e .git/hooks/pre-push ] &&
	grep -q 'their hook ran' .git/hooks/pre-commit && pass "uninstall restores their hook" || fail "uninstall"

# .pgpass: its lines are credentials in a file of that name only. The
# blob committed first as notes.txt (scanned, cached, no finding), then
# renamed: the history, the cache and the hooks read it at its new name.
pgline='db1.corp.internal:5432:billing:svc_billing:Kq8vX3mTz9wL'
git init -q "$tmp/pg" && cd "$tmp/pg" || exit 1
printf '%s\ntoken %s\n' "$pgline" "$gh" >notes.txt && git add notes.txt && git commit -qm notes
"$DW" scan --git --cache "$tmp/pg.cache" --format jsonl . >pg0.json 2>/dev/null
[ "$(jq -r .rule pg0.json | sort | tr '\n' ' ')" = "github-token " ] &&
	pass ".pgpass line in notes.txt: not a credential there" || fail "pgpass outside .pgpass: $(cat pg0.json)"
"$DW" hook install . >/dev/null
git mv notes.txt .pgpass && git commit -qm "rename to .pgpass" 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q '\.pgpass:1: pgpass-password' err.txt && ! grep -q github-token err.txt &&
	pass "hook: a file renamed to .pgpass (no line added): its password blocks, nothing else" ||
	fail "hook rename to .pgpass: rc $rc $(cat err.txt)"
git commit -q --no-verify -m "rename to .pgpass"
for run in 1 2; do
	"$DW" scan --git --cache "$tmp/pg.cache" --format jsonl . >pg$run.json 2>/dev/null
	[ "$(jq -r '.rule + " " + .path' pg$run.json | sort | tr '\n' ' ')" = "github-token notes.txt pgpass-password .pgpass " ] &&
		pass "scan --git --cache (run $run): the renamed blob's password found at .pgpass, the token once" ||
		fail "history pgpass (run $run): $(cat pg$run.json)"
done
"$DW" scan --git --format jsonl . | jq -r '.rule + " " + .path' | sort | tr '\n' ' ' >pg3.txt
[ "$(cat pg3.txt)" = "github-token notes.txt pgpass-password .pgpass " ] &&
	pass "scan --git without a cache: the same" || fail "history pgpass, no cache: $(cat pg3.txt)"
# Unreachable blobs (--all-objects): every one read, whatever malloc left
# in a job's memory (a review found jobs of theirs read as "named only":
# their findings dropped, the count short, silently).
for i in $(seq 1 40); do printf 'aws AKIA%s\n' "$(printf 'Z%015d' "$i" | tr 0-9 A-J)" | git hash-object -w --stdin >/dev/null; done
n=$(MALLOC_PERTURB_=165 "$DW" scan --git --all-objects --format jsonl . 2>pgall.err | jq -r 'select(.path == "(unreachable blob)") | .rule' | grep -c aws)
[ "$n" = 40 ] && grep -q ' 41 blobs' pgall.err && pass "--all-objects: 40 unreachable blobs, 40 findings, 41 blobs counted" ||
	fail "--all-objects: $n findings; $(cat pgall.err)"
printf 'h2.corp.internal:*:*:ops:Vr7kT2pQm9xL\n' >>.pgpass && git add .pgpass
git commit -qm "another entry" 2>err.txt; rc=$?
[ $rc -ne 0 ] && grep -q '\.pgpass:3: pgpass-password' err.txt && ! grep -q '\.pgpass:1:' err.txt &&
	pass "hook: a line added to .pgpass blocks, the old line is not told again" || fail "hook pgpass add: rc $rc $(cat err.txt)"
finish
