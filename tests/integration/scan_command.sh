#!/bin/bash
# The program `scan --respond` runs for a leaked token: before, it ran
# with SIGHUP, SIGINT, SIGPIPE and SIGTERM blocked, inherited our file
# descriptors (the daemon's Docker socket) and environment, its timeout
# did not cover the writing of its stdin (a 60 s limit ran 75 s), what it
# started survived it, and a program that closed its stdin killed
# driftwatch with SIGPIPE, losing every finding. Now: a clean slate, one
# time limit for the whole run, its process group killed, findings
# always printed.
. "$(dirname "$0")/../lib/common.sh"
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
trap 'pkill -f "dwcmd-marker" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
mkdir leak
printf 'gh %s\n' "$($G github c1)" >leak/a.txt

cat >probe.sh <<SH
#!/bin/sh
cat >/dev/null
grep -E '^(SigBlk|SigIgn):' /proc/self/status >"$tmp/sig"
ls /proc/self/fd >"$tmp/fds"
env >"$tmp/env"
ps -o pgid= -p \$\$ >"$tmp/pgid"
SH
chmod +x probe.sh
printf 'command: ["%s/probe.sh"]\n' "$tmp" >probe.yaml
DWCANARY=leaked "$DW" scan --config probe.yaml --respond --db "$tmp/r.db" leak 7>"$tmp/seven" >out.txt 2>err.txt
grep -q 'github-token' out.txt && pass "findings printed" || fail "no findings: $(cat err.txt)"
[ "$(grep -c '0000000000000000$' "$tmp/sig")" = 2 ] && pass "no signal blocked or ignored" ||
	fail "signals: $(cat "$tmp/sig")"
[ "$(tr '\n' ' ' <"$tmp/fds")" = "0 1 2 3 " ] && pass "only fds 0-2 (3 is ls's own)" ||
	fail "fds: $(tr '\n' ' ' <"$tmp/fds")"
! grep -q DWCANARY "$tmp/env" && grep -q '^PATH=' "$tmp/env" && pass "a clean environment" ||
	fail "env: $(cat "$tmp/env")"
[ "$(tr -d ' ' <"$tmp/pgid")" != "$(ps -o pgid= -p $$ | tr -d ' ')" ] && pass "its own process group" ||
	fail "same process group"

# A program that never reads its stdin and starts a long child.
cat >slow.sh <<'SH'
#!/bin/sh
sleep 300 dwcmd-marker 2>/dev/null &
sleep 300
SH
chmod +x slow.sh
printf 'command: ["%s/slow.sh"]\ncommand_timeout: 2\n' "$tmp" >slow.yaml
t0=$EPOCHREALTIME
"$DW" scan --config slow.yaml --respond --db "$tmp/r.db" leak >out.txt 2>err.txt
rc=$?
secs=$(echo "$EPOCHREALTIME - $t0" | bc)
[ "$(echo "$secs < 10" | bc)" = 1 ] && pass "command_timeout 2: done in ${secs}s" || fail "took ${secs}s"
grep -q 'killed with its process group' err.txt && pass "the timeout is said" || fail "err: $(cat err.txt)"
sleep 0.3
! pgrep -f dwcmd-marker >/dev/null && pass "what it started was killed too" || fail "its child survived"
[ "$rc" -eq 1 ] && grep -q github-token out.txt && pass "and the findings are printed (rc 1)" ||
	fail "rc $rc"

# A program that closes its stdin at once: no SIGPIPE death.
printf 'command: ["/bin/true"]\n' >true.yaml
$G github p 50 | sed 's/^/gh /' >leak/many.txt
"$DW" scan --config true.yaml --respond --db "$tmp/r.db" --format jsonl leak >out.txt 2>err.txt
rc=$?
[ "$rc" -eq 1 ] && [ "$(grep -c github-token out.txt)" -ge 50 ] &&
	pass "a program that does not read: every finding printed" || fail "rc $rc, $(wc -l <out.txt) lines"
finish
