#!/bin/bash
# driftwatch scan --image on image archives an attacker made (an image
# under review is content its maker chose). Each was found to hide a
# secret with exit 0, to run for minutes on a few KiB, or to leak a
# secret half-redacted, in the first version of --image:
#   dup      a layer member twice: the first copy was read, the last is
#            what extracting (and docker load) keeps
#   both     manifest.json and index.json naming different images: only
#            manifest.json was read
#   selfidx  an index that lists itself 200 times (N^4: minutes)
#   fan      1,000 images of one 60 MB layer (each read it again: 150 s)
#   deep     a secret 40,000 characters deep under 60 layers (quadratic)
#   cfg      secrets in OnBuild, Healthcheck, container_config, a step's
#            comment, author: not read
#   cut      a step cut at 120 bytes in the middle of a token: most of it
#            shown in clear
#   many     300 decoy findings: as root all of them (the real one too)
#            were thrown away ("too many findings")
#   link     a layer that is a hard link to another member (what docker
#            save writes for a layer two images share): "not in the archive"
# and, in the second version (a second review):
#   collide  two images whose keys joined names with "\n" (a name may hold
#            one): the second, with the secret, skipped as read
#   cfgkeys  a token as a key of config.Volumes, as a history step that is
#            a string, in a history that is an object, in rootfs: unread
#   deepcfg  a token 40 levels deep in the config: unread, unsaid (past
#            256 levels it is said)
#   bigidx   an index of 150,000 distinct manifests: each compared with
#            every earlier one (minutes)
# and later:
#   annot    OCI annotations (index, its descriptors, a manifest, its
#            config and layers: what `buildx --annotation` writes) unread
# As root (the scanner process) and as nobody (in this process).
. "$(dirname "$0")/../lib/common.sh"
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap '[ -n "${DW_KEEP:-}" ] || rm -rf "$tmp"' EXIT
aws=AKIAQ3EGRHWZ5KXN4TJP
gh=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
python3 - "$tmp" "$aws" "$gh" <<'PY'
import gzip, hashlib, io, json, random, sys, tarfile
d, aws, gh = sys.argv[1:]
def sha(b): return hashlib.sha256(b).hexdigest()
def tarb(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                t.addfile(m)
                continue
            i = tarfile.TarInfo(m[0]); i.size = len(m[1]); t.addfile(i, io.BytesIO(m[1]))
    return b.getvalue()
def cfg(n, **extra):
    c = {"config": {"Env": ["PATH=/bin"]}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64] * n},
         "history": [{"created_by": "step %d" % i} for i in range(n)]}
    c.update(extra)
    return json.dumps(c).encode()
def save(name, members):
    open("%s/%s.tar" % (d, name), "wb").write(tarb(members))
def docker(name, layers, c=None, extra=(), tag="x:1"):
    c = c or cfg(len(layers))
    ms = [("blobs/sha256/" + sha(c), c)] + [("blobs/sha256/%d" % i, l) for i, l in enumerate(layers)] + list(extra)
    man = [{"Config": "blobs/sha256/" + sha(c), "RepoTags": [tag], "Layers": ["blobs/sha256/%d" % i for i in range(len(layers))]}]
    save(name, ms + [("manifest.json", json.dumps(man).encode())])
evil = tarb([("etc/app.env", ("AWS_ACCESS_KEY_ID=%s\n" % aws).encode())])
good = tarb([("readme", b"hi\n")])
# dup: the harmless copy first, the one docker load keeps last
c = cfg(1)
save("dup", [("blobs/sha256/0", good), ("blobs/sha256/" + sha(c), c),
             ("manifest.json", json.dumps([{"Config": "blobs/sha256/" + sha(c), "Layers": ["blobs/sha256/0"]}]).encode()),
             ("blobs/sha256/0", evil)])
# both: manifest.json names the harmless layer, index.json the other
om = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + sha(c)}, "layers": [{"digest": "sha256:" + sha(evil)}]}).encode()
save("both", [("blobs/sha256/" + sha(x), x) for x in (evil, good, c, om)] +
     [("index.json", json.dumps({"schemaVersion": 2, "manifests": [{"digest": "sha256:" + sha(om)}]}).encode()),
      ("manifest.json", json.dumps([{"Config": "blobs/sha256/" + sha(c), "Layers": ["blobs/sha256/" + sha(good)]}]).encode())])
# selfidx
idx = json.dumps({"schemaVersion": 2, "manifests": [{"digest": "sha256:i"}] * 200}).encode()
save("selfidx", [("blobs/sha256/i", idx), ("index.json", idx)])
# fan: 1,000 images of one layer that inflates to 60 MB of text
big = io.BytesIO()
with tarfile.open(fileobj=big, mode="w:gz") as t:
    data = (b"nothing to see here, just text\n" * 2000000)
    i = tarfile.TarInfo("big.txt"); i.size = len(data); t.addfile(i, io.BytesIO(data))
c1 = cfg(1)
save("fan", [("blobs/sha256/" + sha(c1), c1), ("l", big.getvalue()),
             ("manifest.json", json.dumps([{"Config": "blobs/sha256/" + sha(c1), "Layers": ["l"]}] * 1000).encode())])
# deep: 40,000 characters of directories, 60 layers above
path = "a/" * 20000 + "s.env"
docker("deep", [tarb([(path, ("AWS_ACCESS_KEY_ID=%s\n" % aws).encode())])] + [good] * 60)
# cfg: the places the first version did not read
docker("cfg", [good], cfg(1, author="me " + gh, container_config={"Cmd": ["sh", "-c", "echo " + gh]},
                          config={"OnBuild": ["RUN echo " + gh], "Healthcheck": {"Test": ["CMD", "curl", "-u", "x:" + gh]}}))
# cut: a step whose 120th byte falls in a token
h = {"config": {}, "rootfs": {"diff_ids": ["sha256:" + "0" * 64]},
     "history": [{"created_by": "/bin/sh -c " + "#" * 40 + " curl -H 'Authorization: token %s' && echo AWS_ACCESS_KEY_ID=%s" % (gh, aws)}]}
docker("cut", [evil], json.dumps(h).encode())
# many: 300 decoy AWS key ids, one real GitHub token
r = random.Random(7)
al = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
decoys = "".join("id AKIA%s\n" % "".join(r.choice(al) for _ in range(16)) for _ in range(300)).encode()
docker("many", [tarb([("t", ("token: %s\n" % gh).encode())]), tarb([("docs.txt", decoys)])])
# link: image 2's layer a hard link to image 1's
c2 = cfg(1)
c3 = cfg(2)
ln = tarfile.TarInfo("l2/layer.tar"); ln.type = tarfile.LNKTYPE; ln.linkname = "l1/layer.tar"
save("link", [("c.json", c2), ("c3.json", c3), ("l1/layer.tar", good), ln, ("./l3/layer.tar", evil),
              ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["a:1"], "Layers": ["l1/layer.tar"]},
                                            {"Config": "c3.json", "RepoTags": ["b:1"], "Layers": ["l3/layer.tar", "l2/layer.tar"]}]).encode())])
# collide: A = config "c\nsecret" + [benign]; B = config "c" + [secret, benign]
cc, c1 = cfg(2), cfg(1)
save("collide", [("blobs/c", cc), ("blobs/c\nsecret", c1), ("secret", evil), ("benign", good),
                 ("manifest.json", json.dumps([{"Config": "blobs/c\nsecret", "Layers": ["benign"]},
                                               {"Config": "blobs/c", "RepoTags": ["b:1"], "Layers": ["secret", "benign"]}]).encode())])
# cfgkeys
for name, extra in (("volkey", {"config": {"Volumes": {"/data-" + gh: {}}}}),
                    ("histstr", {"history": ["RUN echo " + gh]}),
                    ("histobj", {"history": {"step": "RUN echo " + gh}}),
                    ("rootfs", {"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64], "note": gh}})):
    docker(name, [good], cfg(1, **extra))
# deepcfg
deep40 = gh
for _ in range(40):
    deep40 = {"k": deep40}
docker("deepcfg", [good], cfg(1, config={"Whatever": deep40}))
deep300 = "x"
for _ in range(300):
    deep300 = {"k": deep300}
docker("deepcfg2", [good], cfg(1, config={"Whatever": deep300}))
# bigidx: 150,000 distinct digests, none there
big = json.dumps({"schemaVersion": 2, "manifests": [{"digest": "sha256:%x" % i} for i in range(150000)]}).encode()
save("bigidx", [("index.json", big)])
# annot: a token in each place annotations may be
gl = "glpat-qfrckLw4YfY6rBFWYQzh"
npm = "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"
c = cfg(1)
om = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + sha(c), "annotations": {"cfg.note": "id " + aws}},
                 "layers": [{"digest": "sha256:" + sha(good), "annotations": {"layer.token": gl}}],
                 "annotations": {"org.opencontainers.image.source": "https://example.org/x", "build.token": gh}}).encode()
save("annot", [("blobs/sha256/" + sha(x), x) for x in (good, c, om)] +
     [("index.json", json.dumps({"schemaVersion": 2, "annotations": {"top": "token " + gh},
                                 "manifests": [{"digest": "sha256:" + sha(om), "annotations": {
                                     "org.opencontainers.image.ref.name": "a:1", "ci.npm": npm}}]}).encode())])
# annot2 (a review): a token in a value that is no string (a list), and
# in the annotations of a manifest's subject
om2 = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + sha(c)},
                  "layers": [{"digest": "sha256:" + sha(good)}],
                  "subject": {"digest": "sha256:" + "1" * 64, "annotations": {"s": gl}},
                  "annotations": {"list": [gh]}}).encode()
save("annot2", [("blobs/sha256/" + sha(x), x) for x in (good, c, om2)] +
     [("index.json", json.dumps({"schemaVersion": 2, "manifests": [{"digest": "sha256:" + sha(om2),
                                 "annotations": {"org.opencontainers.image.ref.name": "b:1"}}]}).encode())])
PY
chmod 644 "$tmp"/*.tar

run() { # AS NAME: scan it within 60 s; rc in $rc, output in $tmp/NAME.jsonl
	local who=$1 name=$2
	if [ "$who" = root ]; then
		timeout 60 "$DW" scan --image -f jsonl "$tmp/$name.tar" >"$tmp/$name.jsonl" 2>"$tmp/$name.err"
	else
		timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$DW" scan --image -f jsonl "$tmp/$name.tar" >"$tmp/$name.jsonl" 2>"$tmp/$name.err"
	fi
	rc=$?
}
has() { jq -se "$1" "$tmp/$2.jsonl" >/dev/null 2>&1; }
whos=(nobody)
[ "$(id -u)" -eq 0 ] && whos=(root nobody) || echo "# not root: the scanner process is not tried"
[ "$(id -u)" -eq 0 ] || [ "${CI:-}" != true ] || { fail "CI runs this as root"; finish; }
for who in "${whos[@]}"; do
	run "$who" dup
	[ $rc -eq 3 ] && has 'any(.[]; .rule == "aws-access-key-id")' dup && grep -q 'named as an earlier one' "$tmp/dup.err" &&
		pass "$who: dup: the copy extraction keeps is read, the duplicate said (exit 3)" || fail "$who: dup: rc $rc $(cat "$tmp/dup.err")"
	run "$who" both
	[ $rc -eq 1 ] && has 'any(.[]; .rule == "aws-access-key-id" and .layer == "1")' both &&
		pass "$who: both: index.json's image read too" || fail "$who: both: rc $rc $(cat "$tmp/both.err")"
	run "$who" selfidx
	[ $rc -eq 3 ] && grep -q 'no image' "$tmp/selfidx.err" && pass "$who: selfidx: each manifest once, 'no image' (exit 3)" ||
		fail "$who: selfidx: rc $rc $(cat "$tmp/selfidx.err")"
	run "$who" fan
	[ $rc -eq 0 ] && pass "$who: fan: 1,000 images of one layer, read once, in time" || fail "$who: fan: rc $rc $(head -c 300 "$tmp/fan.err")"
	run "$who" deep
	[ $rc -eq 1 ] && has 'any(.[]; .rule == "aws-access-key-id" and .layer == "1")' deep &&
		pass "$who: deep: 40,000 characters under 60 layers, in time" || fail "$who: deep: rc $rc $(head -c 300 "$tmp/deep.err")"
	run "$who" cfg
	[ "$(jq -r .key "$tmp/cfg.jsonl" | sort | tr '\n' ' ')" = "author config.Healthcheck.Test config.OnBuild container_config.Cmd " ] &&
		pass "$who: cfg: OnBuild, Healthcheck, container_config, author read" ||
		fail "$who: cfg: rc $rc: $(jq -c '[.rule, .key]' "$tmp/cfg.jsonl" | tr '\n' ' ')"
	run "$who" cut
	! grep -q "${gh:0:12}" "$tmp/cut.jsonl" && ! grep -q "${aws:0:10}" "$tmp/cut.jsonl" && has 'any(.[]; (.step // "") | test("\\.\\.\\.$"))' cut &&
		pass "$who: cut: a step cut before a token, never in it" || fail "$who: cut: $(jq -c .step "$tmp/cut.jsonl")"
	run "$who" many
	[ $rc -eq 1 ] && has 'any(.[]; .rule == "github-token")' many && [ "$(wc -l <"$tmp/many.jsonl")" -ge 300 ] &&
		pass "$who: many: 300 decoys, every finding told" || fail "$who: many: rc $rc, $(wc -l <"$tmp/many.jsonl") $(head -c 300 "$tmp/many.err")"
	run "$who" link
	[ $rc -eq 1 ] && has 'any(.[]; .rule == "aws-access-key-id" and .image == "b:1" and .layer == "1")' link &&
		pass "$who: link: a hard-linked layer and a ./ name read, exit 1" || fail "$who: link: rc $rc $(cat "$tmp/link.err")"
	run "$who" collide
	[ $rc -eq 1 ] && has 'any(.[]; .rule == "aws-access-key-id" and .image == "b:1")' collide &&
		pass "$who: collide: both images read" || fail "$who: collide: rc $rc $(cat "$tmp/collide.err")"
	for t in volkey histstr histobj rootfs deepcfg; do
		run "$who" $t
		[ $rc -eq 1 ] && has 'any(.[]; .rule == "github-token")' $t && pass "$who: $t: read ($(jq -r .key "$tmp/$t.jsonl" | head -1 | cut -c1-40))" ||
			fail "$who: $t: rc $rc $(cat "$tmp/$t.err")"
	done
	run "$who" deepcfg2
	[ $rc -eq 3 ] && grep -q 'deeper than 256' "$tmp/deepcfg2.err" && pass "$who: a config 300 levels deep: said, exit 3" ||
		fail "$who: deepcfg2: rc $rc $(cat "$tmp/deepcfg2.err")"
	run "$who" annot
	[ $rc -eq 1 ] && [ "$(jq -r '"\(.image) \(.key) \(.rule)"' "$tmp/annot.jsonl" | sort | tr '\n' ,)" = \
		"a:1 annotations github-token,a:1 config.annotations aws-access-key-id,a:1 layers[0].annotations gitlab-token,index.json annotations github-token,index.json manifests[0].annotations npm-token," ] &&
		pass "$who: annot: OCI annotations of the index, manifest, config and layers" ||
		fail "$who: annot: rc $rc $(jq -c '[.image, .key, .rule]' "$tmp/annot.jsonl" | tr '\n' ' ')"
	run "$who" annot2
	[ $rc -eq 1 ] && [ "$(jq -r '"\(.key) \(.rule)"' "$tmp/annot2.jsonl" | sort | tr '\n' ,)" = \
		"annotations github-token,subject.annotations gitlab-token," ] &&
		pass "$who: annot2: a list value and a subject's annotations" ||
		fail "$who: annot2: rc $rc $(jq -c '[.image, .key, .rule]' "$tmp/annot2.jsonl" | tr '\n' ' ')"
	run "$who" bigidx
	[ $rc -eq 3 ] && grep -q '1001 problems' "$tmp/bigidx.err" && pass "$who: bigidx: 150,000 manifests: the first 1,000, said, in time" ||
		fail "$who: bigidx: rc $rc $(head -c 300 "$tmp/bigidx.err")"
done
finish
