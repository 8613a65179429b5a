#!/bin/bash
# driftwatch scan --image against a real Docker: an image built in steps
# (a secret written by one step, deleted by the next; one in ENV, one in
# a label, one in the step's own command line), read by name from Docker
# (GET /images/{name}/get) and from its `docker save` archive alike:
# every finding with its layer, digest and step, the deleted one too,
# with the layer that deleted it. Bad archives (cut short, not an image,
# compressed) fail loud and keep what was read.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dw_docker_rm dwi-a dwi-b; docker rmi -f dwi:secret dwi:step1 >/dev/null 2>&1' EXIT

aws=AKIAQ3EGRHWZ5KXN4TJP
gl=glpat-qfrckLw4YfY6rBFWYQzh
gh=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
slack=xoxb-100102-203193-qfrckLw4YfY6rBFWYQzhaVNi
dw_docker_rm dwi-a dwi-b
docker run --network none --name dwi-a dwtest:busybox sh -c "echo AWS_ACCESS_KEY_ID=$aws >/etc/app.env; echo token: $gh >/keep.txt" >/dev/null ||
	fail "step 1"
docker commit --change "ENV GITLAB_TOKEN=$gl" --change "LABEL notify=$slack" dwi-a dwi:step1 >/dev/null || fail "commit 1"
docker run --network none --name dwi-b dwi:step1 rm /etc/app.env >/dev/null || fail "step 2"
docker commit dwi-b dwi:secret >/dev/null || fail "commit 2"
layers=$(docker inspect -f '{{len .RootFS.Layers}}' dwi:secret)
top=$(docker inspect -f '{{index .RootFS.Layers 2}}' dwi:secret)
mid=$(docker inspect -f '{{index .RootFS.Layers 1}}' dwi:secret)

check() { # LABEL JSONL-FILE
	local f=$2
	jq -se --arg aws "$aws" --arg mid "$mid" --arg top "$top" '
		any(.[]; .rule == "aws-access-key-id" and .source == "image" and .entry == "etc/app.env"
			and .layer == "2" and .layer_digest == $mid and (.step | test("app.env"))
			and .hidden == "deleted" and .hidden_by_layer == "3" and .hidden_by_layer_digest == $top
			and (.hidden_by_step | test("rm /etc/app.env")))' "$f" >/dev/null &&
		pass "$1: the deleted secret, in layer 2 with its digest and step, hidden by layer 3" ||
		fail "$1: deleted secret: $(jq -c 'select(.rule == "aws-access-key-id")' "$f")"
	jq -se 'any(.[]; .rule == "github-token" and .entry == "keep.txt" and .layer == "2" and (has("hidden") | not))' "$f" >/dev/null &&
		pass "$1: a secret still in the image: no hidden" || fail "$1: kept secret"
	jq -se 'any(.[]; .rule == "gitlab-token" and .key == "config.Env") and
		any(.[]; .rule == "slack-token" and .key == "config.Labels") and
		any(.[]; .rule == "github-token" and .key == "history" and .line == 2) and
		any(.[]; .rule == "aws-access-key-id" and .key == "history" and .line == 2)' "$f" >/dev/null &&
		pass "$1: Env, Labels and the history's steps" ||
		fail "$1: config: $(jq -c 'select(.key) | [.rule, .key, .line]' "$f")"
	jq -se 'all(.[]; .image == "dwi:secret" and (.secret | test("…$")))' "$f" >/dev/null &&
		pass "$1: each names the image, secrets redacted" || fail "$1: image name or redaction"
}

"$DW" scan --image -f jsonl dwi:secret >"$tmp/docker.jsonl" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && pass "by name from Docker: exit 1 ($layers layers)" || fail "by name: rc $rc: $(cat "$tmp/err")"
check "from Docker" "$tmp/docker.jsonl"
ls /var/tmp | grep -q . && [ -n "$(find /var/tmp -maxdepth 1 -newer "$tmp/err" -size +100k)" ] &&
	fail "a temporary file left in /var/tmp" || pass "no temporary file left"

docker save -o "$tmp/secret.tar" dwi:secret || fail "docker save"
"$DW" scan --image -f jsonl "$tmp/secret.tar" >"$tmp/save.jsonl" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && pass "docker save archive: exit 1" || fail "archive: rc $rc: $(cat "$tmp/err")"
check "docker save archive" "$tmp/save.jsonl"
[ "$(jq -r .fingerprint "$tmp/docker.jsonl" | sort)" = "$(jq -r .fingerprint "$tmp/save.jsonl" | sort)" ] &&
	pass "the same findings either way" || fail "by name and archive differ"
# The text output says it all on one line.
"$DW" scan --image "$tmp/secret.tar" 2>/dev/null | grep 'aws-access-key-id' | grep -v 'key=' | grep -q 'layer=2 .*hidden=deleted' &&
	pass "text: layer and hidden on the finding's line" || fail "text: $("$DW" scan --image "$tmp/secret.tar" 2>&1 | grep aws)"

# Archives in a layer are read as deep as in a tree: the layer is not
# one of the three levels (the first version stopped at a zip in a
# tar.gz in a layer, exit 3, as pre-commit's own files in an image).
python3 - "$tmp" "$aws" <<'PY'
import io, sys, tarfile, zipfile
d, key = sys.argv[1:]
z = io.BytesIO()
with zipfile.ZipFile(z, "w") as f:
    f.writestr("s.env", "AWS_ACCESS_KEY_ID=%s\n" % key)
with tarfile.open(d + "/outer.tar.gz", "w:gz") as t:
    i = tarfile.TarInfo("inner.zip")
    i.size = len(z.getvalue())
    t.addfile(i, io.BytesIO(z.getvalue()))
PY
dw_docker_rm dwi-c
docker create --network none --name dwi-c dwtest:busybox true >/dev/null &&
	docker cp "$tmp/outer.tar.gz" dwi-c:/outer.tar.gz && docker commit dwi-c dwi:nested >/dev/null || fail "nested image"
dw_docker_rm dwi-c
"$DW" scan --image -f jsonl dwi:nested >"$tmp/nested.jsonl" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && jq -se 'any(.[]; .rule == "aws-access-key-id" and .entry == "outer.tar.gz!inner.zip!s.env" and .layer == "2")' "$tmp/nested.jsonl" >/dev/null &&
	pass "a zip in a tar.gz in a layer: read, exit 1" || fail "nested: rc $rc: $(cat "$tmp/err" "$tmp/nested.jsonl")"
docker rmi dwi:nested >/dev/null

# A clean image: nothing, exit 0.
out=$("$DW" scan --image dwtest:busybox 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] && pass "a clean image: exit 0, nothing said" || fail "clean image: rc $rc: $out"

# Bad input: loud, partial, never silent.
out=$("$DW" scan --image dwi:nosuch 2>&1)
rc=$?
[ $rc -eq 3 ] && grep -q 'no such image' <<<"$out" && pass "no such image: exit 3, '$out'" || fail "nosuch: rc $rc: $out"
# Cut before the manifest (Docker writes it last; the order of the
# layers before it is the layer dirs' names'): there is no image to
# speak of, but what the archive holds is read as an archive (the
# secret of layer 2 found), and the cut is said.
python3 - "$tmp/secret.tar" "$tmp/cut.tar" <<'PY'
import sys, tarfile
src, dst = sys.argv[1:]
with tarfile.open(src) as t:
    cut = min(m.offset for m in t.getmembers() if m.name in ("manifest.json", "index.json", "repositories"))
with open(src, 'rb') as f, open(dst, 'wb') as o:
    o.write(f.read(cut))
PY
"$DW" scan --image -f jsonl "$tmp/cut.tar" >"$tmp/cut.jsonl" 2>"$tmp/err"
rc=$?
[ $rc -eq 3 ] && grep -q 'cut short' "$tmp/err" &&
	jq -se --arg aws "$aws" 'any(.[]; .rule == "aws-access-key-id" and .source == "archive" and (.entry | endswith("!etc/app.env")))' "$tmp/cut.jsonl" >/dev/null &&
	pass "an archive cut short: exit 3, said, what it holds read as an archive" ||
	fail "cut: rc $rc: $(cat "$tmp/err"; cat "$tmp/cut.jsonl")"
tar cf "$tmp/plain.tar" -C "$tmp" err
out=$("$DW" scan --image "$tmp/plain.tar" 2>&1)
rc=$?
[ $rc -eq 3 ] && grep -q 'not an image archive' <<<"$out" && pass "a tar that is no image: exit 3, said" || fail "plain tar: rc $rc: $out"
gzip -c "$tmp/secret.tar" >"$tmp/secret.tar.gz"
out=$("$DW" scan --image "$tmp/secret.tar.gz" 2>&1)
rc=$?
[ $rc -eq 3 ] && grep -q 'compressed' <<<"$out" && pass "a compressed archive: exit 3, how to read it said" || fail "gz: rc $rc: $out"
mkfifo "$tmp/fifo"
out=$(timeout 10 "$DW" scan --image "$tmp/fifo" 2>&1)
rc=$?
[ $rc -eq 3 ] && pass "a FIFO is never opened: exit 3" || fail "fifo: rc $rc: $out"
out=$("$DW" scan --image --git . 2>&1)
[ $? -eq 2 ] && pass "--image with --git: usage error" || fail "--image --git: $out"
finish
