#!/bin/bash
# Archives inside scanned trees: each format's entries are scanned (a
# secret in a .tar.gz or a .zip was not found before: the first counted
# as scanned, the second as binary, exit 0), nested ones too, and the
# limits on depth, entries and expansion stop a bomb with a note (exit
# 3), findings before it kept. As root the scanner process decodes them.
. "$(dirname "$0")/../lib/common.sh"
G="$DW_BUILD/tests/gentoken"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
chmod 755 "$tmp"

gh=$($G github ar1)
mkdir -p src/conf
echo "token=$gh" >src/conf/app.env
head -c 20000 /dev/urandom >src/blob.bin
entries() { jq -r 'select(.rule=="github-token") | .entry' "$1" | sort | tr '\n' ' '; }

mkdir t
tar -cf t/a.tar src
tar -czf t/a.tar.gz src
tar -cjf t/a.tar.bz2 src
tar -cJf t/a.tar.xz src
tar --zstd -cf t/a.tar.zst src
(cd src && zip -qr ../t/a.zip . && cp ../t/a.zip ../t/a.jar)
# cpio (newc), written here: Debian has no cpio program by default.
python3 - <<'EOF'
import os
out = open("t/a.cpio", "wb")
def put(name, data, mode):
    n = name.encode() + b"\0"
    h = b"070701" + b"".join(b"%08X" % v for v in
        (1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(n), 0))
    out.write(h + n + b"\0" * (-(len(h) + len(n)) % 4))
    out.write(data + b"\0" * (-len(data) % 4))
put("./conf/app.env", open("src/conf/app.env", "rb").read(), 0o100644)
put("./blob.bin", open("src/blob.bin", "rb").read(), 0o100644)
put("TRAILER!!!", b"", 0)
out.close()
EOF
# A .deb: an ar of debian-binary, control.tar.xz, data.tar.xz.
mkdir -p deb/DEBIAN deb/etc/app && echo "token=$gh" >deb/etc/app/app.env
printf 'Package: t\nVersion: 1\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: t\n' >deb/DEBIAN/control
dpkg-deb -Zxz --build deb t/a.deb >/dev/null
# Nested: a zip in a tar.gz, a .gz file in a tar.
cp t/a.zip inner.zip && gzip -c src/conf/app.env >app.env.gz
tar -czf t/nested.tar.gz inner.zip app.env.gz

check() { # label: scan t as the caller is
	"$DW" scan --format jsonl t >o.jsonl 2>o.err
	rc=$?
	for f in a.tar a.tar.gz a.tar.bz2 a.tar.xz a.tar.zst a.zip a.jar a.cpio a.deb nested.tar.gz; do
		n=$(jq -r --arg p "t/$f" 'select(.path==$p and .rule=="github-token" and .source=="archive") | .entry' o.jsonl | sort | tr '\n' ' ')
		case $f in
		a.deb) want="data.tar.xz!./etc/app/app.env " ;;
		nested.tar.gz) want="app.env.gz inner.zip!conf/app.env " ;;
		a.zip | a.jar) want="conf/app.env " ;;
		a.cpio) want="./conf/app.env " ;;
		*) want="src/conf/app.env " ;;
		esac
		[ "$n" = "$want" ] && pass "$1: $f: found in $want" || fail "$1: $f: got '$n', want '$want' ($(cat o.err))"
	done
	[ $rc -eq 1 ] && pass "$1: exit 1" || fail "$1: rc $rc: $(cat o.err)"
}
check "$(id -un)"
if [ "$(id -u)" = 0 ]; then
	HOME=$tmp setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "$(declare -f check pass fail); DW=$DW; cd $tmp; check nobody" |
		tee nobody.out | grep -q 'not ok' && fail "as nobody: $(grep 'not ok' nobody.out)" || pass "as nobody (no scanner process): $(grep -c '^ok' nobody.out) checks"
fi
# Binary entries are skipped, the redaction holds, the fields are there.
grep -qF "$gh" o.jsonl && fail "a secret printed whole" || pass "redacted"
"$DW" scan --no-color t/a.zip | grep -q 'entry=conf/app.env' && pass "text output names the entry" || fail "text entry"

# Limits: said, exit 3, the findings before the stop kept.
mkdir lim
# A bomb: 1 GiB of zeros after a secret, in a small .tar.gz.
mkdir bomb && echo "token=$gh" >bomb/first.env && truncate -s 1G bomb/zeros
tar -czf lim/bomb.tar.gz bomb/first.env bomb/zeros
rm -rf bomb
"$DW" scan --format jsonl lim/bomb.tar.gz >o.jsonl 2>o.err
rc=$?
[ $rc -eq 3 ] && grep -q 'expanded to more than' o.err && [ "$(entries o.jsonl)" = "bomb/first.env " ] &&
	pass "a 1 GiB expansion of $(stat -c %s lim/bomb.tar.gz) bytes: stopped, said, exit 3, the finding before kept" ||
	fail "bomb (rc $rc): $(cat o.err) $(cat o.jsonl)"
# Nested deeper than 3: the deep one is not opened, said.
echo "token=$gh" >deep.env
zip -q l3.zip deep.env && zip -q l2.zip l3.zip && zip -q l1.zip l2.zip && zip -q lim/l0.zip l1.zip
"$DW" scan --format jsonl lim/l0.zip >o.jsonl 2>o.err
rc=$?
[ $rc -eq 3 ] && grep -q 'nested deeper than 3' o.err && pass "nesting past 3: said, exit 3 ($(grep -o 'entry [^ ]* not read' o.err))" ||
	fail "depth (rc $rc): $(cat o.err)"
# Too deep to open, and 200 MB of zeros that the tar.gz it sits in would
# decompress to skip it: read and counted, so stopped (before, skipped
# uncounted: unbounded CPU behind the depth limit).
python3 - <<'PY'
import io, tarfile, zipfile
t = io.BytesIO()
with tarfile.open(fileobj=t, mode="w:gz") as tf:
    i = tarfile.TarInfo("deep.zip"); i.size = 200 << 20
    tf.addfile(i, io.BytesIO(bytes(200 << 20)))
with zipfile.ZipFile("l1b.zip", "w", zipfile.ZIP_STORED) as z:
    z.writestr("l2.tar.gz", t.getvalue())
with zipfile.ZipFile("lim/l0b.zip", "w", zipfile.ZIP_STORED) as z:
    z.write("l1b.zip")
PY
"$DW" scan --format jsonl lim/l0b.zip >o.jsonl 2>o.err
rc=$?
[ $rc -eq 3 ] && grep -q 'expanded to more than' o.err &&
	pass "past the depth limit, 200 MB that a reader would skip: counted, stopped" || fail "deep skip (rc $rc): $(cat o.err)"
zip -q lim/l1.zip l2.zip
"$DW" scan --format jsonl lim/l1.zip >o.jsonl 2>o.err
[ "$(entries o.jsonl)" = "l2.zip!l3.zip!deep.env " ] && pass "three deep: found (l2.zip!l3.zip!deep.env)" || fail "3 deep: $(cat o.err)"
# Too many entries: 100,001 empty files.
python3 - <<'EOF'
import tarfile, io
with tarfile.open("lim/many.tar.gz", "w:gz") as t:
    info = tarfile.TarInfo("first.env")
    data = open("deep.env", "rb").read()
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
    for i in range(100001):
        t.addfile(tarfile.TarInfo(f"e/{i}"), io.BytesIO(b""))
EOF
"$DW" scan --format jsonl lim/many.tar.gz >o.jsonl 2>o.err
rc=$?
[ $rc -eq 3 ] && grep -q 'stopped after 100000 entries' o.err && [ "$(entries o.jsonl)" = "first.env " ] &&
	pass "100,002 entries: stopped at 100,000, said, exit 3" || fail "entries (rc $rc): $(cat o.err)"
# Malformed: a .tar.gz cut in half.
head -c $(($(stat -c %s t/nested.tar.gz) / 2)) t/nested.tar.gz >lim/cut.tar.gz
"$DW" scan --format jsonl lim/cut.tar.gz >o.jsonl 2>o.err
rc=$?
[ $rc -eq 3 ] && grep -q 'cut.tar.gz' o.err && pass "a truncated archive: exit 3, said ($(head -c 150 o.err))" ||
	fail "truncated (rc $rc): $(cat o.err)"
# Ways to hide one (an adversarial review; each was silent before, exit 0).
mkdir hide
python3 - "$gh" <<'PY'
import io, sys, tarfile, zipfile, gzip, lzma, struct
tok = ("token=" + sys.argv[1] + "\n").encode()
def zbytes(files):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            z.writestr(n, d)
    return b.getvalue()
# A launcher script before the zip (an executable jar, a self-extractor).
open("hide/run.jar", "wb").write(b'#!/bin/sh\nexec java -jar "$0"\n' + zbytes([("app.env", tok)]))
# A tar with a zip appended.
t = io.BytesIO()
with tarfile.open(fileobj=t, mode="w") as tf:
    i = tarfile.TarInfo("readme.txt"); i.size = 3; tf.addfile(i, io.BytesIO(b"hi\n"))
open("hide/poly.tar", "wb").write(t.getvalue() + zbytes([("app.env", tok)]))
# A stray central-directory signature between two entries: the central
# directory (which unzip reads) is right; a walk of local headers stops.
z = bytearray(zbytes([("readme.txt", b"hi\n"), ("app.env", tok)]))
second = z.find(b"PK\3\4", 4)
z[second:second] = b"PK\1\2"
eocd = z.rfind(b"PK\5\6")
cd = struct.unpack_from("<I", z, eocd + 16)[0] + 4
struct.pack_into("<I", z, eocd + 16, cd)
p = cd
while z[p:p + 4] == b"PK\1\2":
    off = struct.unpack_from("<I", z, p + 42)[0]
    if off >= second:
        struct.pack_into("<I", z, p + 42, off + 4)
    n, e, c = struct.unpack_from("<HHH", z, p + 28)
    p += 46 + n + e + c
open("hide/stray.zip", "wb").write(bytes(z))
# gzip data under a name that does not say so, inside a tar; a zip and
# an xz file with no suffix that says so.
t = io.BytesIO()
with tarfile.open(fileobj=t, mode="w") as tf:
    g = gzip.compress(tok); i = tarfile.TarInfo("notes.txt"); i.size = len(g); tf.addfile(i, io.BytesIO(g))
open("hide/misnamed.tar", "wb").write(t.getvalue())
open("hide/backup", "wb").write(zbytes([("app.env", tok)]))
open("hide/t.env.xz", "wb").write(lzma.compress(tok))
# An entry name that is not UTF-8.
t = io.BytesIO()
with tarfile.open(fileobj=t, mode="w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tf:
    i = tarfile.TarInfo("caf\xe9.env"); i.size = len(tok); tf.addfile(i, io.BytesIO(tok))
open("hide/latin1.tar", "wb").write(t.getvalue())
# A directory entry (GNU dumpdir, 'D') with 200 MB of zeros as its data,
# then the secret: skipping that data was not counted, so a few KB cost
# unbounded CPU.
t = io.BytesIO()
with tarfile.open(fileobj=t, mode="w:gz") as tf:
    i = tarfile.TarInfo("d"); i.type = b"D"; i.size = 200 << 20
    tf.addfile(i, io.BytesIO(bytes(200 << 20)))
    i = tarfile.TarInfo("app.env"); i.size = len(tok); tf.addfile(i, io.BytesIO(tok))
open("hide/dumpdir.tar.gz", "wb").write(t.getvalue())
PY
for f in run.jar poly.tar stray.zip misnamed.tar backup t.env.xz latin1.tar; do
	"$DW" scan --format jsonl "hide/$f" >o.jsonl 2>o.err
	rc=$?
	[ $rc -eq 1 ] && [ "$(jq -r .rule o.jsonl)" = github-token ] && pass "hidden in $f: found ($(jq -r '.entry // "(the file)"' o.jsonl))" ||
		fail "hidden in $f (rc $rc): $(cat o.err)"
done
"$DW" scan --format jsonl hide/latin1.tar | jq -e '.entry | startswith("caf") and endswith(".env")' >/dev/null &&
	pass "a name that is not UTF-8 still names the entry" || fail "latin-1 entry: $("$DW" scan --format jsonl hide/latin1.tar)"
"$DW" scan --format jsonl hide/dumpdir.tar.gz >o.jsonl 2>o.err
rc=$?
[ $rc -eq 3 ] && grep -q 'expanded to more than' o.err &&
	pass "a directory entry's 200 MB: counted, stopped, exit 3 ($(stat -c %s hide/dumpdir.tar.gz) bytes)" || fail "dumpdir (rc $rc): $(cat o.err)"

# Not an archive after all: read as what it is (a name cannot hide it).
echo "token=$gh" >lim/fake.zip
"$DW" scan --format jsonl lim/fake.zip >o.jsonl 2>o.err
rc=$?
[ $rc -eq 1 ] && [ "$(jq -r .rule o.jsonl)" = github-token ] && pass "a .zip that is text: read as the text it is" || fail "fake zip (rc $rc): $(cat o.err)"

# (a review) a tar whose entry, named with terminal escapes and a
# newline, is a broken zip: the reason it was cut named it raw on
# stderr (as root the scanner process's relay hid it; not as a user)
python3 - "$tmp/lim/hostile.tar" <<'PY'
import io, sys, tarfile
b = io.BytesIO()
with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
    data = b"PK\x03\x04broken"
    i = tarfile.TarInfo("\x1b]0;PWN\x07\nfake: injected.zip"); i.size = len(data)
    t.addfile(i, io.BytesIO(data))
open(sys.argv[1], "wb").write(b.getvalue())
PY
chmod 755 "$tmp/lim" && chmod 644 "$tmp/lim/hostile.tar"
for how in "" "--image"; do
	setpriv --reuid=65534 --regid=65534 --clear-groups "$DW" scan $how "$tmp/lim/hostile.tar" >/dev/null 2>o.err
	grep -q 'injected.zip' o.err && ! grep -q "$(printf '\033')" o.err && ! grep -q '^fake: injected' o.err &&
		pass "nobody: scan ${how:-PATH}: a hostile entry name in an error, escaped" ||
		fail "escape ${how:-PATH}: $(od -c o.err | head -6)"
done

# .pgpass: a credential in a file of that name only, in a tree and as an
# archive's entry; as root (the scanner process) and as nobody.
pgline='db1.corp.internal:5432:billing:svc_billing:Kq8vX3mTz9wL'
mkdir -p pg/home/u pg/other && printf '%s\n' "$pgline" >pg/home/u/.pgpass &&
	printf '%s\n' "$pgline" >pg/other/notes.txt && chmod -R a+rX pg
(cd pg && tar -czf ../pg.tgz home other && zip -qr ../pg.zip home other)
chmod a+r pg.tgz pg.zip
for who in root nobody; do
	run=()
	[ $who = nobody ] && run=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	got=$("${run[@]}" "$DW" scan --format jsonl pg pg.tgz pg.zip 2>/dev/null |
		jq -r '.rule + " " + .path + (if .entry then "!" + .entry else "" end)' | sort | tr '\n' ' ')
	[ "$got" = "pgpass-password pg.tgz!home/u/.pgpass pgpass-password pg.zip!home/u/.pgpass pgpass-password pg/home/u/.pgpass " ] &&
		pass "$who: a .pgpass password found in a tree and in archives, the same line elsewhere not" ||
		fail "$who: pgpass: $got"
done
# libpq's reading: a first line "From ..." is no mail; CRLF; the password
# ends at the first ":" not escaped (its fingerprint is the password's).
# A "%41" is no escape there (one finding, not a %-decoded second), and
# a CR inside a password is part of it.
mkdir -p pg2/a pg2/b pg2/c pg2/d pg2/e
printf 'From the ops team\n%s\n' "$pgline" >pg2/a/.pgpass
printf '%s\r\n' "$pgline" >pg2/b/.pgpass
printf '%s:junk\n' "$pgline" >pg2/c/.pgpass
printf 'h:5432:d:u:Zq%%41x9Lp7Rt2Wk\n' >pg2/d/.pgpass
printf 'h:5432:d:u:Zq9Lp\rt2WkXv3\n' >pg2/e/.pgpass
fpof() { echo "sha256:$(printf 'pgpass-password:%s' "$1" | sha256sum | cut -d' ' -f1)"; }
fp=$(fpof "${pgline##*:}")
want="pg2/a/.pgpass $fp pg2/b/.pgpass $fp pg2/c/.pgpass $fp pg2/d/.pgpass $(fpof 'Zq%41x9Lp7Rt2Wk') pg2/e/.pgpass $(fpof "$(printf 'Zq9Lp\rt2WkXv3')") "
got=$("$DW" scan --format jsonl pg2 2>/dev/null | jq -r '.path + " " + .fingerprint' | sort | tr '\n' ' ')
[ "$got" = "$want" ] &&
	pass ".pgpass after a From line, with CRLF, a second colon, a %41, a CR inside: one finding each, libpq's password" ||
	fail "pgpass variants: $got (want $want)"
finish
