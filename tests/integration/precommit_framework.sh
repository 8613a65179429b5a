#!/bin/bash
# The hooks run by the real pre-commit framework (Debian's `pre-commit`,
# 3.0.4 on Debian 12). Before: it rejected .pre-commit-hooks.yaml
# (`stages: [pre-commit]` is syntax of pre-commit 3.2 and later), so a
# repository that used our hooks through the framework could not commit
# at all, or, with the hooks dropped, committed tokens unchecked.
. "$(dirname "$0")/../lib/common.sh"
G="$DW_BUILD/tests/gentoken"
if ! command -v pre-commit >/dev/null; then
	dw_skip "pre-commit is not installed (contrib/install-deps.sh --test installs it)"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.org GIT_CONFIG_NOSYSTEM=1 HOME="$tmp" \
	PRE_COMMIT_HOME="$tmp/cache" PATH="$DW_BUILD:$PATH"
cd "$tmp" || exit 1

# The hook repository: this tree's .pre-commit-hooks.yaml as it is now
# (committed or not), at a local path and rev, as a user would point at
# a mirror of driftwatch.
git init -q -b main hooks
cp "$DW_SRC/.pre-commit-hooks.yaml" hooks/
git -C hooks add .pre-commit-hooks.yaml && git -C hooks commit -qm hooks
rev=$(git -C hooks rev-parse HEAD)

git init -q --bare -b main remote.git
git init -q -b main work && cd work || exit 1
git remote add origin "$tmp/remote.git"
cat >.pre-commit-config.yaml <<YAML
repos:
  - repo: $tmp/hooks
    rev: $rev
    hooks:
      - id: driftwatch
      - id: driftwatch-pre-push
YAML
pre-commit install -t pre-commit -t pre-push >install.out 2>&1 &&
	pass "pre-commit installs both hooks" || fail "install: $(cat install.out)"
echo '*.out' >.gitignore
git add .pre-commit-config.yaml .gitignore
git commit -qm config >c0.out 2>&1 && pass "a clean commit passes" || fail "clean commit: $(cat c0.out)"

# pre-commit id: a staged join token blocks the commit.
printf 'docker swarm join --token %s 10.0.0.1:2377\n' "$($G swarm-worker pcf1)" >join.sh
git add join.sh
git commit -qm "join" >c1.out 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'docker-swarm-join-token' c1.out &&
	pass "a staged join token blocks the commit" || fail "token commit rc $rc: $(cat c1.out)"
[ "$(git rev-list --count HEAD)" = 1 ] && pass "and nothing was committed" || fail "committed anyway"
git rm -q --cached join.sh && rm join.sh

# pre-push id: a token committed past the pre-commit hook is stopped at
# the push (a new branch, and then a branch the remote already has).
git push -q origin main >p0.out 2>&1 && pass "a clean push passes" || fail "clean push: $(cat p0.out)"
printf 'npm %s\n' "$($G npm pcf2)" >npmrc.txt
git add npmrc.txt && git commit -q --no-verify -m npmrc
git push -q origin main >p1.out 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'npm-token' p1.out &&
	pass "a pushed token blocks the push" || fail "push rc $rc: $(cat p1.out)"
[ "$(git --git-dir="$tmp/remote.git" rev-list --count main)" = 1 ] &&
	pass "and the remote did not get it" || fail "the remote got it"
git checkout -q -b feature
git push -q origin feature >p2.out 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'npm-token' p2.out &&
	pass "a new branch carrying the token is blocked too" || fail "new branch rc $rc: $(cat p2.out)"
git checkout -q main && git reset -q --hard HEAD~1 && git branch -q -D feature
printf 'clean\n' >clean.txt && git add clean.txt && git commit -qm clean >c2.out 2>&1
git push -q origin main >p3.out 2>&1 && pass "a clean push after that passes" || fail "clean push 2: $(cat p3.out)"
finish
