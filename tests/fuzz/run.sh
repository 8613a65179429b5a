#!/bin/bash
# Build the libFuzzer targets with clang (ASan + UBSan) and run each for a
# bounded time on seeds made here (real-format tokens from gentoken, a
# fresh key, one input per decoder). Usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-30}
build="$src/build-fuzz"
CC=clang cmake -S "$src" -B "$build" -DDW_FUZZ=ON -DDW_BUILD_TESTS=ON \
	-DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2 --target fuzz_engine fuzz_decoders fuzz_config fuzz_overlay fuzz_sandbox fuzz_dsse fuzz_heads gentoken
G="$build/tests/gentoken"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus"/{engine,decoders,config,overlay,sandbox,dsse,heads}
printf 'token %s\nkey %s\n%s\n' "$($G swarm-worker f1)" "$($G unlock-key f1)" \
	"$($G github f1)" >"$corpus/engine/tokens"
openssl genrsa 1024 2>/dev/null | sed '1s/^/x /' >"$corpus/engine/key"
printf 'x\n%s\n' "$($G npm f1)" | gzip | { printf '\000'; cat; } >"$corpus/decoders/gzip"
{ printf '\001'; printf '{"log":"t %s\\n","stream":"stdout","time":"t"}\n' "$($G github f2)"; } >"$corpus/decoders/jsonlog"
{ printf '\002'; printf 'From a@b Mon Nov 16 10:00:00 2026\nFrom: a@b\nMessage-ID: <x@y>\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Transfer-Encoding: base64\n\n%s\n--B--\n' \
	"$(printf 'k %s' "$($G github f3)" | base64 -w0)"; } >"$corpus/decoders/mbox"
{ printf '\004'; printf '[{"user":"U1","ts":"1.2","text":"%s","attachments":[{"text":"x"}]}]' "$($G github f4)"; } >"$corpus/decoders/slack"
# Docker's local format: u32 length, LogEntry{source, time_nano, line,
# partial metadata}, u32 length.
python3 - "$($G github f5)" >"$corpus/decoders/local" <<'PY'
import struct, sys
def entry(line, meta=b""):
    pb = b"\x0a\x06stdout\x10\x01\x1a" + bytes([len(line)]) + line + meta
    return struct.pack(">I", len(pb)) + pb + struct.pack(">I", len(pb))
tok = ("k " + sys.argv[1]).encode()
sys.stdout.buffer.write(b"\x07" + entry(tok[:20], b"\x20\x01\x2a\x02\x08\x00")
                        + entry(tok[20:], b"\x20\x01\x2a\x02\x08\x01"))
PY
# ... and a key printed an entry a line (the multi-line rules' kept lines).
openssl genpkey -algorithm ed25519 2>/dev/null | python3 -c 'import struct, sys
def entry(stream, line):
    pb = b"\x0a" + bytes([len(stream)]) + stream + b"\x10\x01\x1a" + bytes([len(line)]) + line
    return struct.pack(">I", len(pb)) + pb + struct.pack(">I", len(pb))
out = b"\x07"
for l in sys.stdin.buffer.read().splitlines():
    out += entry(b"stdout", l) + entry(b"stderr", b"tick")
sys.stdout.buffer.write(out)' >"$corpus/decoders/local-key"
cp "$src"/tests/fuzz/seeds/config/* "$corpus/config/"
# Trees: a redirect out of the layer, an opaque upper dir, a whiteout.
printf '\005\000\001\000\014../../../etc\000\000\001\001\000' >"$corpus/overlay/redirect"
printf '\000\001\001\002\000\004\000\001\002\000\002\001\001\000\000' >"$corpus/overlay/opaque"
# The scanner protocol: a reply, a piece of lines, escapes, frames.
printf '\000\001\000\000\000' >"$corpus/sandbox/reply"
# Archives: a zip holding a zip, and a tar.gz holding a .gz.
a=$(mktemp -d)
printf 'k %s\n' "$($G github f7)" >"$a/t.env"
(cd "$a" && zip -q in.zip t.env && zip -q out.zip in.zip t.env && gzip -k t.env && tar -czf t.tar.gz t.env.gz t.env)
{ printf '\013'; cat "$a/out.zip"; } >"$corpus/decoders/zip"
{ printf '\014'; cat "$a/t.tar.gz"; } >"$corpus/decoders/targz"
# A container image: a layer with a secret, one that deletes it, the
# config with one in Env and in the history.
python3 - "$($G github f8)" "$a/img.tar" <<'PY'
import hashlib, io, json, sys, tarfile
def tar(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            i = tarfile.TarInfo(name)
            i.size = len(data)
            t.addfile(i, io.BytesIO(data))
    return b.getvalue()
tok = sys.argv[1]
l1 = tar([("etc/k.env", ("K=" + tok + "\n").encode())])
l2 = tar([("etc/.wh.k.env", b""), ("d/.wh..wh..opq", b"")])
ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in (l1, l2)]
cfg = json.dumps({"config": {"Env": ["T=" + tok]}, "rootfs": {"diff_ids": ids},
                  "history": [{"created_by": "RUN echo " + tok}, {"created_by": "RUN rm"}]}).encode()
c = hashlib.sha256(cfg).hexdigest()
man = [{"Config": "blobs/sha256/" + c, "RepoTags": ["f:1"], "Layers": ["blobs/sha256/" + i[7:] for i in ids]}]
open(sys.argv[2], "wb").write(tar([("blobs/sha256/" + c, cfg)] + [("blobs/sha256/" + i[7:], l) for i, l in zip(ids, (l1, l2))]
                                   + [("manifest.json", json.dumps(man).encode())]))
PY
{ printf '\015'; cat "$a/img.tar"; } >"$corpus/decoders/image"
rm -rf "$a"
printf '\002{"log":"a\\u0026b \\ud83d\\ude00 %%41"}' >"$corpus/sandbox/escapes"
{ printf '\011'; printf '2026-11-30T00:00:00Z stdout P %s\n2026-11-30T00:00:01Z stderr F x\n2026-11-30T00:00:02Z stdout F %s\n' "$($G github f6 | cut -c1-9)" "$($G github f6 | cut -c10-)"; } >"$corpus/decoders/cri"
printf '\003{"log":"a\\\\n","stream":"stdout"}\n{"log":"b\\n","stream":"stderr"}\n' >"$corpus/sandbox/peek"
printf '\003\010\000\000\000\000\000\000\000\000\000\000\002ab\000\000\000\002' >"$corpus/sandbox/frames"
# A snapshot's signature: an envelope, and base64 alone.
printf '\000{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"x","sig":"QUFB"}]}' >"$corpus/dsse/env"
printf '\001QUFB====' >"$corpus/dsse/b64"
# A heads document (its first byte: flags): one chain, a key as hex.
z=0000000000000000000000000000000000000000000000000000000000000000
printf '\002{"_type":"urn:driftwatch:chain-heads:v1","root":"sha256:x","watermarks":{"events":6},"chains":[{"table":"events","key":"id1","base_seq":1,"base_hash":"%s","seq":2,"id":2,"hash":"%s"},{"table":"events","key_hex":"6964ff","base_seq":1,"base_hash":"%s","seq":9223372036854775807,"id":4,"hash":"%s"}]}' $z $z $z $z >"$corpus/heads/doc"
for t in engine decoders config overlay sandbox dsse heads; do
	echo "fuzz_$t: ${secs}s"
	log="$corpus/$t.log"
	if ! "$build/fuzz_$t" -max_total_time="$secs" -max_len=65536 \
		-timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/" "$corpus/$t" >"$log" 2>&1; then
		tail -40 "$log"
		echo "fuzz_$t: FAILED (reproducer in $build/)" >&2
		exit 1
	fi
	grep -E 'stat::number_of_executed_units' "$log"
done
echo "fuzzing: 7 targets ran ${secs}s each, no crash"
