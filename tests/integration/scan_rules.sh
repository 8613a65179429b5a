#!/bin/bash
# Every built-in rule on real-format tokens made for this project (true
# positives) and on look-alikes that must not match; allowlists,
# configuration, redaction in every format, and exit codes.
. "$(dirname "$0")/../lib/common.sh"
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# found RULE TEXT: the rule reports TEXT; absent RULE TEXT: it does not.
rules_of() { printf '%s\n' "$1" >t.txt; "$DW" scan --format jsonl t.txt | jq -r .rule; }
found() {
	if rules_of "$2" | grep -qx "$1"; then pass "$1 finds: ${2:0:60}"; else fail "$1 misses: $2"; fi
}
absent() {
	if rules_of "$2" | grep -qx "$1"; then fail "$1 wrongly finds: $2"; else pass "$1 ignores: ${2:0:60}"; fi
}

swarm=$($G swarm-worker r1)
digest=${swarm:9:50}
secret=${swarm:60:25}
found docker-swarm-join-token "docker swarm join --token $swarm 10.1.2.3:2377"
found docker-swarm-join-token "JoinToken: \"$($G swarm-fips r2)\""
absent docker-swarm-join-token "SWMTKN-1-7${digest:1}-$secret"       # digest > 2^256
absent docker-swarm-join-token "SWMTKN-1-$digest-g${secret:1}"       # secret > 2^128
absent docker-swarm-join-token "SWMTKN-1-${digest^^}-${secret^^}"     # not lowercase
absent docker-swarm-join-token "SWMTKN-1-${digest:1}-$secret"        # 49 chars
absent docker-swarm-join-token "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx"
unlock=$($G unlock-key r1)
found docker-swarm-unlock-key "unlock with $unlock"
absent docker-swarm-unlock-key "${unlock:0:51}B"                     # non-canonical last char
absent docker-swarm-unlock-key "SWMKEY-1-WuYH/IX284+lRcXuoVf38viIDK3HJEKY13MIHX+tTt8"
found docker-hub-pat "password: $($G docker-pat r1)"
found docker-config-auth "{\"auths\":{\"registry.local\":{\"auth\":\"$(printf 'deploy:Xk3pL9qZ' | base64)\"}}}"
absent docker-config-auth "{\"auth\": \"$(printf 'nocolonhere' | base64)\"}"
gh=$($G github r1)
found github-token "token=$gh"
absent github-token "token=${gh:0:39}$([ "${gh:39}" = A ] && echo B || echo A)"  # bad checksum
p2="$($G gitlab p1 | cut -c7-)$($G gitlab p2 | cut -c7-)$($G gitlab p3 | cut -c7-)"
found github-token "github_pat_11ABCDEFG0123456789abc_${p2:0:59}"
npm=$($G npm r1)
found npm-token "//registry.npmjs.org/:_authToken=$npm"
absent npm-token "${npm:0:39}$([ "${npm:39}" = A ] && echo B || echo A)"
found aws-access-key-id "aws_access_key_id = $($G aws-id r1)"
absent aws-access-key-id "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"
found aws-secret-access-key "aws_secret_access_key = $($G aws-secret r1)"
found aws-secret-access-key "$($G aws-id r2) $($G aws-secret r2)"
absent aws-secret-access-key "checksum $($G aws-secret r3)"          # no AWS context
absent aws-secret-access-key "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
found gitlab-token "CI_TOKEN: $($G gitlab r1)"
found slack-token "SLACK_BOT_TOKEN=$($G slack-bot r1)"
found slack-webhook "https://hooks.slack.com/services/T0A1B2C3D/B9Z8Y7X6W/$($G gitlab r9 | cut -c7-)"
found stripe-secret-key "stripe: $($G stripe r1)"
absent stripe-secret-key "stripe: sk_test_$($G stripe r2 | cut -c9-)"
found google-api-key "key=$($G google r1)"
found jwt "Authorization: Bearer $($G jwt r1)"
absent jwt "eyJub3RhaGVhZGVyIjoxfQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
found url-credentials "DATABASE_URL=postgres://app:Vq8zL2mXk9pR@db.internal:5432/app"
absent url-credentials "DATABASE_URL=postgres://app:\${DB_PASSWORD}@db:5432/app"
absent url-credentials "see https://user:password@host/ in the docs"
found generic-secret "api_key = \"Zx8fQ2mP9vL4kR7tW1\""
absent generic-secret "password = \"changeme-changeme\""
absent generic-secret "password = \"xxxxxxxxxxxxxxxxxxxx\""
absent generic-secret "secret_name = \"production_database\""

# Private keys: real ones from openssl, in files, in JSON, on one line.
openssl genrsa 2048 2>/dev/null >rsa.pem
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null >ec.pem
openssl genpkey -algorithm ed25519 2>/dev/null >ed.pem
openssl genrsa -aes128 -passout pass:dwtest 2048 2>/dev/null >enc.pem
for f in rsa ec ed enc; do
	if "$DW" scan --format jsonl $f.pem | jq -r .rule | grep -qx private-key; then
		pass "private-key finds $(head -1 $f.pem)"
	else fail "private-key misses $f.pem"; fi
done
jq -Rs '{key: .}' rsa.pem >key.json
"$DW" scan --format jsonl key.json | jq -r .rule | grep -qx private-key &&
	pass "private-key inside a JSON string (\\n escapes)" || fail "private-key in JSON"
tr '\n' ' ' <rsa.pem >oneline.pem
"$DW" scan --format jsonl oneline.pem | jq -r .rule | grep -qx private-key &&
	pass "private-key on one line" || fail "private-key one line"
printf -- '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n' >empty.pem
[ -z "$("$DW" scan --format jsonl empty.pem)" ] && pass "PEM without a body ignored" || fail "empty PEM reported"
{ echo "-----BEGIN ENCRYPTED PRIVATE KEY-----"; echo "role: root"; echo; sed -n '2,$p' enc.pem | grep -v -- '-----'; echo "-----END ENCRYPTED PRIVATE KEY-----"; } >notary.key
rules=$("$DW" scan --format jsonl notary.key | jq -r .rule)
[ "$rules" = notary-private-key ] && pass "notary key reported as notary-private-key only" || fail "notary: $rules"

# Inline allow, and placeholders.
found github-token "$gh"
absent github-token "$gh # driftwatch:allow"
absent docker-hub-pat "DOCKER_TOKEN=dckr_pat_xxxxxxxxxxxxxxxxxxxxxxxxxxx"

# Configuration: custom rule, disabled rule, allowed paths, ignored fingerprint.
mkdir -p proj/vendor proj/src
echo "acme = acme_$(printf 'k%.0s' $(seq 1 4))Q9x7LmZ2pV4tR8wB" >proj/src/a.txt
echo "$gh" >proj/vendor/lib.txt
echo "$($G github r7)" >proj/src/b.txt
echo "$npm" >proj/src/c.txt
fp=$("$DW" scan --format jsonl proj/src/c.txt | jq -r .fingerprint)
cat >proj/.driftwatch.yaml <<YAML
rules:
  - id: acme-token
    regex: 'acme_[A-Za-z0-9]{20}'
    keywords: [acme_]
    severity: critical
    description: ACME API token
disable: [github-token]
allow_paths: ["vendor/*"]
ignore_fingerprints: ["$fp"]
YAML
out=$("$DW" scan --format jsonl proj)
[ "$(jq -r .rule <<<"$out" | sort | tr '\n' ' ')" = "acme-token " ] &&
	pass "config: custom rule on, github off, vendor allowed, fingerprint ignored" ||
	fail "config result: $(jq -c '[.rule,.path]' <<<"$out")"
jq -s -e 'any(.[]; (.rule=="acme-token") and (.severity=="critical"))' <<<"$out" >/dev/null && pass "custom severity" || fail "custom severity"
printf 'rules:\n  - id: x\n    regex: "(unclosed"\n' >bad1.yaml
err=$("$DW" scan --config bad1.yaml t.txt 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q 'rule x: bad regex' <<<"$err" && pass "bad regex: exit 2 ($err)" || fail "bad regex: $rc $err"
printf 'disable: [github-token]\nfrobnicate: 1\n' >bad2.yaml
err=$("$DW" scan --config bad2.yaml t.txt 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q 'bad2.yaml:2: unknown key' <<<"$err" && pass "unknown key: exit 2 ($err)" || fail "unknown key: $rc $err"
printf 'rules: [\n' >bad3.yaml
"$DW" scan --config bad3.yaml t.txt >/dev/null 2>&1; [ $? -eq 2 ] && pass "malformed YAML: exit 2" || fail "malformed YAML"
printf 'disable: [no-such-rule]\n' >bad4.yaml
"$DW" scan --config bad4.yaml t.txt >/dev/null 2>&1; [ $? -eq 2 ] && pass "unknown rule id: exit 2" || fail "unknown rule id"

# Redaction: no format ever prints a whole secret unless asked to.
{ echo "$swarm"; echo "$unlock"; echo "$gh"; echo "$npm"; cat rsa.pem; } >all.txt
body=$(sed -n 2p rsa.pem)
for f in text json jsonl sarif; do
	out=$("$DW" scan --no-color --format $f all.txt)
	leaked=0
	for s in "$swarm" "$unlock" "$gh" "$npm" "$body" "${swarm:20:30}"; do
		grep -qF -- "$s" <<<"$out" && leaked=1
	done
	[ $leaked -eq 0 ] && [ -n "$out" ] && pass "$f output holds no whole secret" || fail "$f output leaks a secret"
done
"$DW" scan --show-secrets --format jsonl all.txt | grep -qF "$swarm" && pass "--show-secrets prints it whole" || fail "--show-secrets"

# SARIF that code scanning accepts: version, rules, locations.
"$DW" scan --format sarif all.txt >out.sarif
jq -e '.version == "2.1.0" and (.runs[0].tool.driver.rules | length) > 10
	and (.runs[0].results | length) == 5
	and all(.runs[0].results[]; .locations[0].physicalLocation.region.startLine >= 1
		and .ruleId != null and (.partialFingerprints | length) == 1
		and .runs == null)' out.sarif >/dev/null && pass "SARIF 2.1.0 shape" || fail "SARIF shape"
jq -e '[.runs[0].results[] | .ruleIndex as $i | .ruleId == $r[0][$i].id] | all' \
	--slurpfile r <(jq '.runs[0].tool.driver.rules' out.sarif) out.sarif >/dev/null &&
	pass "SARIF ruleIndex points at the rule" || fail "SARIF ruleIndex"
# Levels follow the severity (before, the 5-value severity indexed a
# 4-entry table: medium read "error" and critical past its end).
jq -e '(.runs[0].tool.driver.rules | map({(.id): .}) | add) as $r
	| ($r["docker-swarm-join-token"].defaultConfiguration.level == "error")
	and ($r["docker-swarm-join-token"].properties["security-severity"] == "9.5")
	and ($r["slack-webhook"].defaultConfiguration.level == "warning")
	and ($r["slack-webhook"].properties["security-severity"] == "5.5")
	and all(.runs[0].results[]; .level == ($r[.ruleId].defaultConfiguration.level))' out.sarif >/dev/null &&
	pass "SARIF levels and security-severity follow the severity" || fail "SARIF levels: $(jq -c '[.runs[0].tool.driver.rules[] | {id, l: .defaultConfiguration.level, s: .properties["security-severity"]}]' out.sarif)"
jq -e '.findings[0] | has("rule") and has("severity") and has("path") and has("line") and has("column")
	and has("source") and has("secret") and (.fingerprint | test("^sha256:[0-9a-f]{64}$"))' \
	<("$DW" scan --format json all.txt) >/dev/null && pass "json fields" || fail "json fields"
# What was read is in the output: a consumer tells "nothing found" from
# "nothing read".
mkdir -p counts/empty && cp all.txt counts/ && head -c 2000 /dev/zero >counts/zeros.bin &&
	head -c 3000 /dev/urandom | base64 -w0 >counts/big.txt
"$DW" scan --format json --max-file-size 2KiB counts >counts.json 2>counts.err
jq -e '.complete and .summary == {"scanned": 1, "binary": 1, "too_big": 1, "findings": 5}
	and (.notes[0].message.text | test("big.txt: larger than"))' counts.json >/dev/null &&
	pass "json: counts of what was scanned and skipped" || fail "json counts: $(jq -c '{complete, summary, notes}' counts.json)"
"$DW" scan --format sarif counts/empty >empty.sarif 2>empty.err
grep -q 'read nothing' empty.err && jq -e '.runs[0].invocations[0].toolExecutionNotifications[0].message.text |
	test("read nothing")' empty.sarif >/dev/null && pass "an empty directory: 'read nothing', also in SARIF" ||
	fail "empty dir: $(cat empty.err)"

# The compiled-prefilter cache: used when sound, ignored when not.
export DW_CACHE_DIR="$tmp/cache"
mkdir -m 700 "$DW_CACHE_DIR"
# (two databases: the rules of file names have their own, read in a
# .pgpass; each file is spoiled in turn)
cp all.txt .pgpass && printf 'db1.corp.internal:5432:billing:svc_billing:Kq8vX3mTz9wL\n' >>.pgpass
"$DW" scan all.txt .pgpass >first.out
grep -q pgpass-password first.out || fail "no .pgpass finding to compare"
dbs=$(ls "$DW_CACHE_DIR"/prefilter-*.hsdb 2>/dev/null)
[ "$(wc -w <<<"$dbs")" = 2 ] && [ "$(stat -c %a $dbs | sort -u)" = 600 ] && pass "prefilters cached 0600 (two databases)" ||
	fail "cache files: $dbs"
"$DW" scan all.txt .pgpass >second.out
cmp -s first.out second.out && pass "same findings from the cache" || fail "cache changes findings"
for db in $dbs; do
	cp "$db" "$db.good"
	head -c 100 /dev/urandom >"$db"
	"$DW" scan all.txt .pgpass >third.out
	cmp -s first.out third.out && pass "corrupt cache ignored ($(basename "$db"))" || fail "corrupt cache $db"
	cp "$db.good" "$db" && chmod 666 "$db"
	"$DW" scan all.txt .pgpass >fourth.out
	cmp -s first.out fourth.out && pass "writable-by-others cache ignored ($(basename "$db"))" || fail "foreign cache $db"
	chmod 600 "$db"
	rm -f "$db.good"
done
unset DW_CACHE_DIR

# --respond: the configured command gets each finding, secret in clear.
mkdir cmdtest
cat >cmdtest/record.sh <<SH
#!/bin/sh
cat >>"$tmp/cmdtest/got.jsonl"
echo >>"$tmp/cmdtest/got.jsonl"
echo "revoked" # goes to driftwatch's stderr, not its report
SH
chmod +x cmdtest/record.sh
# The command comes from the user's side only: --config here.
printf 'command: ["%s", "--flag"]\n' "$tmp/cmdtest/record.sh" >trusted.yaml
printf 'npm %s\ngh %s\n' "$npm" "$gh" >cmdtest/leak.txt
"$DW" scan --config trusted.yaml --format jsonl cmdtest >/dev/null
[ ! -s cmdtest/got.jsonl ] && pass "no command without --respond" || fail "command ran without --respond"
out=$("$DW" scan --config trusted.yaml --respond --db "$tmp/r.db" --format jsonl cmdtest 2>cmdtest/err)
[ "$(grep -c . cmdtest/got.jsonl)" = 2 ] && jq -s -e 'map(.secret) | sort == ([$a, $b] | sort)' \
	--arg a "$npm" --arg b "$gh" cmdtest/got.jsonl >/dev/null && grep -q revoked cmdtest/err &&
	! grep -qF "$npm" <<<"$out" && pass "command got each finding on stdin, secret whole; report still redacted" ||
	fail "command: $(cat cmdtest/got.jsonl)"
printf 'command: []\n' >cmdtest/bad.yaml
"$DW" scan --config cmdtest/bad.yaml cmdtest/leak.txt >/dev/null 2>&1; [ $? -eq 2 ] && pass "empty command: config error" || fail "empty command"

# Whose configuration counts. A scanned tree's own .driftwatch.yaml ran
# its `command` as root under --respond (here: it would touch a file),
# and its allow_paths ["*"] silenced every finding with exit 0.
mkdir untrusted
printf 'gh %s\n' "$gh" >untrusted/leak.txt
printf 'command: ["/bin/touch", "%s/pwned"]\n' "$tmp" >untrusted/.driftwatch.yaml
"$DW" scan --respond --db "$tmp/r.db" untrusted >/dev/null 2>untrusted.err
rc=$?
[ "$rc" -eq 2 ] && [ ! -e "$tmp/pwned" ] && grep -q "'command' is not allowed" untrusted.err &&
	pass "a found config's command: refused (exit 2), never run" ||
	fail "found command: rc $rc, $(cat untrusted.err)"
printf 'allow_paths: ["*"]\n' >untrusted/.driftwatch.yaml
"$DW" scan untrusted >/dev/null 2>untrusted.err
rc=$?
grep -q 'applying untrusted/.driftwatch.yaml from the scanned content (1 allow path' untrusted.err &&
	pass "a found config is named on stderr" || fail "not named: $(cat untrusted.err)"
"$DW" scan --no-repo-config untrusted >/dev/null 2>untrusted.err
[ $? -eq 1 ] && ! grep -q applying untrusted.err && pass "--no-repo-config ignores it: the secret is found" ||
	fail "--no-repo-config"
# The user's own configuration may set the command, but only if it is
# theirs alone.
mkdir -p xdg/driftwatch
printf 'command: ["/bin/true"]\n' >xdg/driftwatch/config.yaml
chmod 666 xdg/driftwatch/config.yaml
XDG_CONFIG_HOME="$tmp/xdg" "$DW" scan --no-repo-config untrusted >/dev/null 2>untrusted.err
[ $? -eq 2 ] && grep -q 'refusing .*config.yaml' untrusted.err &&
	pass "a user config writable by others is refused" || fail "group-writable user config: $(cat untrusted.err)"
chmod 600 xdg/driftwatch/config.yaml
XDG_CONFIG_HOME="$tmp/xdg" "$DW" scan --no-repo-config untrusted >/dev/null 2>untrusted.err
[ $? -eq 1 ] && pass "the user's own config is used" || fail "user config: $(cat untrusted.err)"
mkfifo untrusted/fifo.yaml
timeout 10 "$DW" scan --config untrusted/fifo.yaml untrusted >/dev/null 2>untrusted.err
rc=$?
[ "$rc" -eq 2 ] && grep -q 'not a regular file' untrusted.err &&
	pass "a FIFO as configuration: an error, not a hang" || fail "fifo config: rc $rc $(cat untrusted.err)"

# Exit codes.
echo "nothing to see" >clean.txt
"$DW" scan clean.txt >/dev/null; [ $? -eq 0 ] && pass "clean: exit 0" || fail "clean exit"
"$DW" scan all.txt >/dev/null; [ $? -eq 1 ] && pass "findings: exit 1" || fail "findings exit"
"$DW" scan --format yaml all.txt >/dev/null 2>&1; [ $? -eq 2 ] && pass "bad format: exit 2" || fail "bad format exit"
# A custom rule whose match ends on its line's newline: the next line's
# match is still found (one hit kept per rule and line: the line of a hit
# is that of its last byte).
printf 'rules:\n  - id: tok\n    regex: "tok_[a-z]{8}\\\\s*"\n' >nl.yaml
printf 'tok_abcdefgh\ntok_abcdefgh x\n' >nl.txt
[ "$("$DW" scan --no-repo-config --config nl.yaml --format jsonl nl.txt | jq -r .line | tr '\n' ' ')" = "1 2 " ] &&
	pass "a match ending on a newline: the next line's is found too" || fail "newline hit: $("$DW" scan --config nl.yaml --format jsonl nl.txt)"
"$DW" scan >/dev/null 2>&1; [ $? -eq 2 ] && pass "no path: exit 2" || fail "no path exit"
out=$("$DW" scan --format jsonl all.txt /nonexistent 2>err.txt); rc=$?
[ $rc -eq 3 ] && [ "$(grep -c . <<<"$out")" -eq 5 ] && grep -q '/nonexistent' err.txt &&
	pass "unreadable input: exit 3, findings still printed" || fail "unreadable: rc $rc"
finish
