#!/bin/bash
# driftwatch commit and verify against real containers: the archive loads
# into Docker and runs the drifted filesystem; the evidence is complete;
# the container always runs again; tampering is caught.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dw_docker_rm dwc-a dwc-big dwc-r $(docker ps -aq --filter name=dwc-r-drifted)' EXIT
db="$tmp/store/dw.db"

dw_docker_rm dwc-a
docker run -d --network none --name dwc-a dwtest:layered sleep 3600 >/dev/null
docker exec dwc-a sh -c 'echo evil >/bin/backdoor && chmod 4755 /bin/backdoor &&
	rm /etc/passwd && rm -rf /deep && mkdir /deep && echo x >/deep/new &&
	mkfifo /tmp/fifo && ln -s /etc/shadow /tmp/shadow && echo again >/layer/a &&
	echo a >/tmp/h1 && ln /tmp/h1 /tmp/h2'
out=$("$DW" commit -o "$tmp/a.tar" --reason "incident 42" --db "$db" dwc-a); rc=$?
[ $rc -eq 0 ] && [ -s "$tmp/a.tar" ] && [ -s "$tmp/a.tar.evidence.json" ] && pass "commit: archive and evidence written" ||
	fail "commit rc $rc: $out"
[ "$(stat -c %a "$tmp/a.tar")" = 600 ] && [ "$(stat -c %a "$tmp/a.tar.evidence.json")" = 600 ] && pass "both 0600" || fail "modes"
[ "$(docker inspect -f '{{.State.Running}} {{.State.Paused}}' dwc-a)" = "true false" ] && pass "container running, unpaused" || fail "left paused"
ls "$tmp" | grep -q 'tmp-\|layers-' && fail "temporary files left behind" || pass "no temporary files left"

# docker load, then the drifted filesystem runs.
tag=$(tar xOf "$tmp/a.tar" manifest.json | jq -r '.[0].RepoTags[0]')
docker load -i "$tmp/a.tar" >/dev/null && pass "docker load accepts it ($tag)" || fail "docker load"
check=$(docker run --rm --network none "$tag" sh -c 'cat /bin/backdoor; stat -c %a /bin/backdoor;
	[ -e /etc/passwd ] && echo passwd-present; ls /deep; [ -p /tmp/fifo ] && echo fifo;
	readlink /tmp/shadow; cat /layer/a; [ -e /layer/b ] && echo b; [ /tmp/h1 -ef /tmp/h2 ] && echo hardlinked')
[ "$check" = "$(printf 'evil\n4755\nnew\nfifo\n/etc/shadow\nagain\nb\nhardlinked')" ] &&
	pass "the loaded image runs the drifted filesystem" || fail "loaded image: $check"
docker create --name dwc-chk "$tag" >/dev/null && [ -z "$(docker diff dwc-chk)" ] &&
	pass "nothing lost: a container of it has no drift of its own" || fail "loaded image drifts"
docker rm -f dwc-chk >/dev/null

# The evidence record.
ev="$tmp/a.tar.evidence.json"
jq -e '.reason == "incident 42" and .paused == true and .mode == "image" and (.host | length) > 0
	and .container.name == "dwc-a" and .inspect.Id == .container.id
	and (.archive.sha256 | test("^sha256:")) and (.blobs | length) >= 4
	and any(.processes[]; .args | test("sleep"))
	and (.sockets | has("tcp")) and (.diff | length) > 5' "$ev" >/dev/null &&
	pass "evidence: reason, pause, inspect, processes, sockets, diff, blobs" || fail "evidence head"
jq -e 'any(.upper_entries[]; .path == "/bin/backdoor" and (.sha256 | test("^sha256:[0-9a-f]{64}$"))
		and .mode == "104755" and (.mtime_ns > 0) and .inode > 0 and .nlink == 1)
	and any(.upper_entries[]; .path == "/etc/passwd" and .whiteout == "deleted")
	and any(.upper_entries[]; .path == "/deep" and .opaque)' "$ev" >/dev/null &&
	pass "evidence: full stat and SHA-256 of upper entries, whiteouts, opaque dirs" || fail "evidence entries"
# Every file's digest is its content's: taken by the archive writer's
# thread as the data passes (empty files, files spanning many of its
# 1 MiB slots, a hard link's first name), checked against sha256sum of
# the upper dir, in both modes.
docker exec dwc-a sh -c ': >/tmp/empty && head -c 3300000 /dev/urandom >/tmp/big &&
	head -c 1 /dev/urandom >/tmp/one && mkdir /tmp/many && i=0 &&
	while [ $i -lt 300 ]; do head -c $((i * 37)) /dev/urandom >/tmp/many/f$i; i=$((i + 1)); done'
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' dwc-a)
(cd "$upper" && find . -type f ! -name '.wh.*' -links 1 -exec sha256sum {} + | awk '{ print substr($2, 2) " sha256:" $1 }' | sort) >"$tmp/real"
for mode in "" --layer-only; do
	"$DW" commit $mode -o "$tmp/d.tar" --db "$tmp/d.db" dwc-a >/dev/null 2>&1
	jq -r '.upper_entries[] | select(.sha256 and .nlink == 1) | .path + " " + .sha256' "$tmp/d.tar.evidence.json" | sort >"$tmp/ev"
	[ "$(wc -l <"$tmp/real")" -ge 303 ] && cmp -s "$tmp/real" "$tmp/ev" &&
		pass "commit ${mode:-(image)}: every file's SHA-256 in the evidence is its content's ($(wc -l <"$tmp/ev") files)" ||
		fail "commit ${mode:-(image)}: digests differ: $(diff "$tmp/real" "$tmp/ev" | head -4)"
	rm -f "$tmp"/d.tar*
done
# A review of that change: a sparse file whose data starts at 0 was
# hashed with libarchive's sparse map in front of its data (the map goes
# out with the first data); a name not in the C locale's charset (any
# non-ASCII name, one `touch /é`) stopped every capture; a time past 2262
# overflowed 64 bits. Each, in both modes, and the archive verifies.
docker exec dwc-a sh -c 'mkdir /sparse && head -c 100000 /dev/urandom >/sparse/at0 &&
	dd if=/dev/zero of=/sparse/at0 bs=1 count=0 seek=10000000 2>/dev/null &&
	dd if=/dev/urandom of=/sparse/later bs=4096 count=3 seek=500 2>/dev/null &&
	touch "$(printf "/tmp/bad\377name")" /tmp/café /tmp/future'
touch -d @10413792000 "$upper/tmp/future"
for mode in "" --layer-only; do
	"$DW" commit $mode -o "$tmp/s.tar" --db "$tmp/d.db" dwc-a >/dev/null 2>"$tmp/s.err"
	rc=$?
	ok=$(python3 - "$tmp/s.tar.evidence.json" "$upper" <<'PY'
import base64, hashlib, json, sys
ev = json.load(open(sys.argv[1]))
by = {e["path"]: e for e in ev["upper_entries"]}
good = 0
for p in ("/sparse/at0", "/sparse/later"):
    e = by[p]
    f = open(sys.argv[2] + p, "rb")
    h = hashlib.sha256()
    for off, n in e["sparse"]["data"]:
        f.seek(off)
        h.update(f.read(n))
    good += e.get("sha256_data") == "sha256:" + h.hexdigest()
good += any(base64.b64decode(e.get("path_b64", "")) == b"/tmp/bad\xffname" for e in ev["upper_entries"])
good += "/tmp/caf\u00e9" in by
good += by["/tmp/future"]["mtime_ns"] == "10413792000000000000"
print(good)
PY
)
	[ $rc -eq 0 ] && [ "$ok" = 5 ] && "$DW" verify "$tmp/s.tar" >/dev/null &&
		"$DW" evidence export "$tmp/s.tar" --format bodyfile | grep -q '|10413792000|' &&
		pass "commit ${mode:-(image)}: sparse data digests, a non-UTF-8 name (path_b64), a year-2300 time; it verifies" ||
		fail "commit ${mode:-(image)} (rc $rc, $ok of 5): $(cat "$tmp/s.err")"
	rm -f "$tmp"/s.tar*
done
[ "$(sqlite3 "$db" "SELECT reason || '|' || paused || '|' || archive_sha256 FROM snapshots")" = \
	"incident 42|1|$(jq -r .archive.sha256 "$ev")" ] && pass "chain of custody in the store" || fail "store record"

# verify: passes, then fails after a flipped byte.
"$DW" verify "$tmp/a.tar" >/dev/null && pass "verify passes" || fail "verify"
cp "$tmp/a.tar" "$tmp/b.tar" && cp "$ev" "$tmp/b.tar.evidence.json"
size=$(stat -c %s "$tmp/b.tar")
printf '\xff' | dd of="$tmp/b.tar" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
err=$("$DW" verify "$tmp/b.tar" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q FAILED <<<"$err" && pass "verify fails after a flipped byte" || fail "verify flipped: $rc"
"$DW" verify "$tmp/nothing.tar" >/dev/null 2>&1; [ $? -eq 2 ] && pass "verify of a missing snapshot: exit 2" || fail "verify missing"

# --layer-only: a tar with explicit whiteouts.
"$DW" commit --layer-only --no-pause -o "$tmp/l.tar" --db "$db" dwc-a >/dev/null && pass "layer-only" || fail "layer-only"
names=$(tar tf "$tmp/l.tar")
grep -qx 'etc/.wh.passwd' <<<"$names" && grep -qx 'deep/.wh..wh..opq' <<<"$names" && grep -qx 'bin/backdoor' <<<"$names" &&
	pass "layer tar: .wh. whiteouts and .wh..wh..opq" || fail "layer tar: $names"
jq -e '.paused == false and .mode == "layer-only"' "$tmp/l.tar.evidence.json" >/dev/null && pass "--no-pause recorded" || fail "no-pause"
"$DW" verify "$tmp/l.tar" >/dev/null && pass "verify layer-only" || fail "verify layer-only"

# An unwritable target: an error, nothing left, the container runs on.
err=$("$DW" commit -o /proc/nope.tar --db "$db" dwc-a 2>&1); rc=$?
[ $rc -ne 0 ] && [ "$(docker inspect -f '{{.State.Running}} {{.State.Paused}}' dwc-a)" = "true false" ] &&
	pass "unwritable target: exit $rc, container running ($err)" || fail "unwritable: rc $rc"

# SIGTERM mid-capture: the container is unpaused, no archive looks complete.
# Big enough that the capture takes a while: 30,000 files and 256 MiB.
docker run -d --network none --name dwc-big dwtest:busybox sh -c \
	'mkdir /big && cd /big && seq 1 30000 | xargs touch &&
	 dd if=/dev/urandom of=/big/blob bs=1M count=256 2>/dev/null &&
	 touch /big/ready && sleep 3600' >/dev/null
for _ in $(seq 1 120); do docker diff dwc-big | grep -q '^A /big/ready$' && break; sleep 0.5; done
"$DW" commit -o "$tmp/big.tar" --db "$db" dwc-big >/dev/null 2>&1 &
pid=$!
# SIGTERM only once the capture has started: the container is paused.
paused=false
for _ in $(seq 1 400); do
	paused=$(docker inspect -f '{{.State.Paused}}' dwc-big)
	[ "$paused" = true ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.01
done
[ "$paused" = true ] && pass "SIGTERM test: the capture had started (container paused)" ||
	fail "the capture never paused the container; the SIGTERM test below proves nothing"
kill -TERM $pid 2>/dev/null
# Signals are held while the container is paused: the capture finishes,
# the container is unpaused, then the signal ends the process.
wait $pid
[ "$(docker inspect -f '{{.State.Paused}}' dwc-big)" = false ] && pass "SIGTERM during capture: container unpaused" || fail "left paused after SIGTERM"
if [ -e "$tmp/big.tar" ]; then
	"$DW" verify "$tmp/big.tar" >/dev/null && pass "SIGTERM: the archive there is complete and verifies" || fail "incomplete archive left"
else
	pass "SIGTERM: no archive left"
fi
# SIGKILL mid-capture: nothing of the capturer runs any more; its
# watchdog (its own session) unpauses the container.
"$DW" commit -o "$tmp/big2.tar" --db "$db" dwc-big >/dev/null 2>&1 &
pid=$!
paused=false
for _ in $(seq 1 400); do
	paused=$(docker inspect -f '{{.State.Paused}}' dwc-big)
	[ "$paused" = true ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.01
done
if [ "$paused" = true ]; then
	kill -KILL $pid
	wait $pid 2>/dev/null
	dw_wait 10 sh -c "[ \"\$(docker inspect -f '{{.State.Paused}}' dwc-big)\" = false ]" &&
		pass "SIGKILL during capture: the watchdog unpaused the container" ||
		fail "left paused after SIGKILL"
else
	fail "the capture never paused the container; the SIGKILL test proves nothing"
fi
[ ! -e "$tmp/big2.tar" ] && pass "SIGKILL: no archive that looks complete" || fail "archive left after SIGKILL"
rm -rf "$tmp"/big2.tar.*
# A pause bounded by --max-pause: the watchdog unpauses the container
# then, and from a second before, nothing read is trusted as frozen; the
# evidence and stderr say the capture outlasted its pause. (Before, the
# deadline was never set: a capture past the watchdog's unpause still
# trusted what it read as frozen.)
"$DW" commit -o "$tmp/mp.tar" --db "$db" --max-pause 1 dwc-big >/dev/null 2>"$tmp/mp.err"
jq -e '.pause_deadline_passed == true' "$tmp/mp.tar.evidence.json" >/dev/null &&
	grep -q "outlasted its pause (1 s)" "$tmp/mp.err" &&
	pass "--max-pause 1: the capture outlasted it, said in the evidence and on stderr" ||
	fail "max-pause: $(cat "$tmp/mp.err")"
dw_wait 10 sh -c "[ \"\$(docker inspect -f '{{.State.Paused}}' dwc-big)\" = false ]" &&
	pass "--max-pause: unpaused" || fail "left paused after --max-pause"
rm -f "$tmp"/mp.tar*

ls -d "$tmp"/big.tar.tmp-* "$tmp"/big.tar.layers-* 2>/dev/null | grep -q . && fail "SIGTERM left temporary files: $(ls "$tmp")" ||
	pass "SIGTERM: no temporary file left"

# --replace: a fresh container from the image, same configuration.
docker run -d --network none --name dwc-r --label team=blue -e MODE=prod --restart on-failure:2 \
	dwtest:busybox sleep 3600 >/dev/null
docker exec dwc-r sh -c 'echo x >/etc/implant'
"$DW" commit --replace -o "$tmp/r.tar" --db "$db" dwc-r >/dev/null && pass "--replace" || fail "--replace"
[ "$(docker inspect -f '{{.State.Running}} {{.Config.Env}} {{index .Config.Labels "team"}} {{.HostConfig.RestartPolicy.Name}}' dwc-r)" = \
	"true [MODE=prod] blue on-failure" ] && [ -z "$(docker diff dwc-r)" ] &&
	pass "replaced container: running, same config, no drift" || fail "replaced: $(docker inspect -f '{{.State.Running}} {{.Config.Env}}' dwc-r)"
[ "$(docker ps -a --filter name=dwc-r-drifted --format '{{.Status}}' | cut -c1-6)" = Exited ] &&
	pass "the drifted one kept, stopped" || fail "drifted container"

"$DW" commit no-such-container -o "$tmp/x.tar" --db "$db" >/dev/null 2>&1; [ $? -eq 3 ] && pass "unknown container: exit 3" || fail "unknown container"
finish
