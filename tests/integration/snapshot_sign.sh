#!/bin/bash
# Signed snapshots. Before, a snapshot's hashes sat beside what they
# protect: whoever could rewrite the archive could rewrite its evidence
# too, and verify said ok. Now each snapshot has an in-toto Statement
# (its subjects: the archive and the evidence, by SHA-256) in a DSSE
# envelope signed with an Ed25519 key; verify checks the signature (the
# local key, or --key with one exported elsewhere) and both digests, and
# the same signature checks out with openssl alone.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
command -v openssl >/dev/null || dw_skip "no openssl"
dw_scratch dws-sign
key="$tmp/keys/signing.key"
docker run -d --network none --name "$c" dwtest:busybox sh -c 'echo x >/etc/drift; sleep 3600' >/dev/null
sleep 0.5
"$DW" commit -o "$tmp/s.tar" --db "$db" --signing-key "$key" --reason "case 9" "$c" >"$tmp/out" 2>&1 ||
	{ fail "commit: $(cat "$tmp/out")"; finish; exit 1; }
[ "$(stat -c %a "$key")" = 600 ] && [ "$(stat -c %a "$tmp/keys")" = 700 ] && pass "a new key, 0600 in a 0700 dir" ||
	fail "key modes: $(stat -c '%a %n' "$key" "$tmp/keys")"
grep -q "signed $tmp/s.tar.intoto.jsonl (key sha256:" "$tmp/out" && pass "commit says it signed, and with which key" || fail "out: $(cat "$tmp/out")"
env=$(cat "$tmp/s.tar.intoto.jsonl")
st=$(jq -r .payload <<<"$env" | base64 -d)
jq -e '.payloadType == "application/vnd.in-toto+json" and (.signatures | length) == 1' <<<"$env" >/dev/null &&
	jq -e --arg a "$(sha256sum "$tmp/s.tar" | cut -d' ' -f1)" --arg e "$(sha256sum "$tmp/s.tar.evidence.json" | cut -d' ' -f1)" \
		'._type == "https://in-toto.io/Statement/v1" and .predicateType == "urn:driftwatch:predicate:snapshot:v1"
		and .subject == [{name: "s.tar", digest: {sha256: $a}}, {name: "s.tar.evidence.json", digest: {sha256: $e}}]
		and .predicate.reason == "case 9" and .predicate.container.name == "dws-sign" and .predicate.paused == true' <<<"$st" >/dev/null &&
	pass "an in-toto Statement of the archive and the evidence, in a DSSE envelope" || fail "statement: $st"
"$DW" verify --signing-key "$key" "$tmp/s.tar" >"$tmp/v" 2>&1 && pass "verify: digests and signature ok" || fail "verify: $(cat "$tmp/v")"
grep -q "^  signed: container dws-sign ([0-9a-f]\{12\}) on .*, captured 20.* (case 9), key sha256:" "$tmp/v" &&
	pass "and it says what the signature vouches for" || fail "signed line: $(cat "$tmp/v")"

# The public key, exported, checks it from anywhere; openssl alone too.
"$DW" key export --signing-key "$key" >"$tmp/pub.pem" 2>"$tmp/kid" && grep -q "BEGIN PUBLIC KEY" "$tmp/pub.pem" &&
	pass "key export: the public key" || fail "key export: $(cat "$tmp/kid")"
mkdir "$tmp/elsewhere" && cp "$tmp"/s.tar* "$tmp/elsewhere/"
"$DW" verify --key "$tmp/pub.pem" "$tmp/elsewhere/s.tar" >/dev/null 2>&1 && pass "verify --key PUB, elsewhere" || fail "verify --key"
jq -r .payload <<<"$env" | base64 -d >"$tmp/payload"
printf 'DSSEv1 %d %s %d ' 28 application/vnd.in-toto+json "$(stat -c %s "$tmp/payload")" >"$tmp/pae"
cat "$tmp/payload" >>"$tmp/pae"
jq -r '.signatures[0].sig' <<<"$env" | base64 -d >"$tmp/sig"
openssl pkeyutl -verify -pubin -inkey "$tmp/pub.pem" -rawin -in "$tmp/pae" -sigfile "$tmp/sig" 2>&1 | grep -q "Signature Verified Successfully" &&
	pass "openssl pkeyutl -verify -rawin on the PAE: the same signature checks out" || fail "openssl"

# Tampering, each named.
cp "$tmp/s.tar" "$tmp/keep.tar"
printf 'X' | dd of="$tmp/s.tar" bs=1 seek=1000 conv=notrunc 2>/dev/null
"$DW" verify --signing-key "$key" "$tmp/s.tar" >/dev/null 2>"$tmp/v"
[ $? -eq 1 ] && grep -q "s.tar: sha256 is" "$tmp/v" && grep -q "the signed statement says s.tar has sha256" "$tmp/v" &&
	pass "a byte of the archive flipped: named, exit 1" || fail "archive tamper: $(cat "$tmp/v")"
cp "$tmp/keep.tar" "$tmp/s.tar"
cp "$tmp/s.tar.evidence.json" "$tmp/keep.json"
sed -i 's/"case 9"/"case 8"/' "$tmp/s.tar.evidence.json"
"$DW" verify --signing-key "$key" "$tmp/s.tar" >/dev/null 2>"$tmp/v"
[ $? -eq 1 ] && grep -q "the signed statement says s.tar.evidence.json has sha256" "$tmp/v" &&
	pass "the evidence rewritten (its archive digest intact): named, exit 1" || fail "evidence tamper: $(cat "$tmp/v")"
cp "$tmp/keep.json" "$tmp/s.tar.evidence.json"
cp "$tmp/s.tar.intoto.jsonl" "$tmp/keep.jsonl"
forged=$(jq -c '.predicate.reason = "routine"' <<<"$st" | base64 -w0)
jq -c --arg p "$forged" '.payload = $p' <<<"$env" >"$tmp/s.tar.intoto.jsonl"
"$DW" verify --signing-key "$key" "$tmp/s.tar" >/dev/null 2>"$tmp/v"
[ $? -eq 1 ] && grep -q "the signature does not verify" "$tmp/v" && pass "the statement edited: the signature fails" || fail "statement tamper: $(cat "$tmp/v")"
# Re-signed with another key (root on the host could): the exported key
# catches it.
"$DW" key export --signing-key "$tmp/other.key" --create >/dev/null 2>&1
"$DW" commit -o "$tmp/s2.tar" --db "$db" --signing-key "$tmp/other.key" "$c" >/dev/null 2>&1
cp "$tmp/s2.tar.intoto.jsonl" "$tmp/resigned.jsonl"
"$DW" verify --key "$tmp/pub.pem" "$tmp/s2.tar" >/dev/null 2>"$tmp/v"
[ $? -eq 1 ] && grep -q "does not verify with key sha256:" "$tmp/v" && pass "signed with another key: the exported key says no" ||
	fail "re-signed: $(cat "$tmp/v")"
rm "$tmp/s.tar.intoto.jsonl"
"$DW" verify --signing-key "$key" "$tmp/s.tar" >/dev/null 2>"$tmp/v"
[ $? -eq 1 ] && grep -q "not signed" "$tmp/v" && pass "the statement removed: not signed, exit 1" || fail "unsigned: $(cat "$tmp/v")"
cp "$tmp/keep.jsonl" "$tmp/s.tar.intoto.jsonl"
# An unusable key: the snapshot is written whole, and the failure said.
echo "not a key" >"$tmp/bad.key"
chmod 600 "$tmp/bad.key"
"$DW" commit -o "$tmp/s3.tar" --db "$db" --signing-key "$tmp/bad.key" "$c" >/dev/null 2>"$tmp/e"
[ $? -eq 1 ] && grep -q "written but not signed: .*not an Ed25519 private key" "$tmp/e" && [ -s "$tmp/s3.tar" ] &&
	pass "a bad key: written, not signed, said, exit 1" || fail "bad key: $(cat "$tmp/e")"
# A key others could have written (0644; or in a dir others write): not
# used, said (someone else's key there could sign as this host).
cp "$key" "$tmp/loose.key" && chmod 644 "$tmp/loose.key"
"$DW" commit -o "$tmp/s5.tar" --db "$db" --signing-key "$tmp/loose.key" "$c" >/dev/null 2>"$tmp/e"
[ $? -eq 1 ] && grep -q "not the owner's alone" "$tmp/e" && pass "a key readable by others: refused, said" || fail "loose key: $(cat "$tmp/e")"
mkdir -m 1777 "$tmp/shared" && cp "$key" "$tmp/shared/k" && chmod 600 "$tmp/shared/k"
"$DW" commit -o "$tmp/s6.tar" --db "$db" --signing-key "$tmp/shared/k" "$c" >/dev/null 2>"$tmp/e"
[ $? -eq 1 ] && grep -q "not the owner's alone" "$tmp/e" && pass "a key in a directory others write: refused, said" || fail "shared dir: $(cat "$tmp/e")"
"$DW" commit -o "$tmp/s4.tar" --db "$db" --no-sign "$c" >/dev/null 2>&1 && [ ! -e "$tmp/s4.tar.intoto.jsonl" ] &&
	pass "--no-sign: none asked, none written" || fail "--no-sign"
"$DW" key export --signing-key "$tmp/none.key" >/dev/null 2>"$tmp/e"
[ $? -eq 3 ] && grep -q "no key at" "$tmp/e" && pass "key export with no key: exit 3, said" || fail "no key: $(cat "$tmp/e")"
finish
