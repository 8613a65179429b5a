#!/bin/bash
# Docker's containerd image store (Docker 26 from Debian 13, in a chroot:
# the docker26 fixture): `driftwatch diff` against this Docker's own
# `docker diff` on every parity scenario and hostile names, stopped
# containers, a 75-layer image (containerd mounts its lower dirs by
# relative names), `commit` loaded into this Docker and into the overlay2
# one, and driftwatchd watching it, all with the chroot as host_root.
. "$(dirname "$0")/../lib/common.sh"
dw_need_root
. "$(dirname "$0")/../lib/parity.sh"
[ -r "$DW_DOCKER26_ENV" ] || dw_skip "no test Docker 26 (docker26_setup fixture failed or skipped)"
. "$DW_DOCKER26_ENV"
R=$DW_DOCKER26_ROOT
export DOCKER_HOST=$DOCKER26_HOST
docker version >/dev/null 2>&1 || dw_skip "test Docker 26 at $DOCKER_HOST is not answering"
DW_DIFF=("$DW" --host-root "$R")
tmp=$(mktemp -d)
trap 'dw_docker_rm $(docker ps -aq --filter name=dw26-); rm -rf "$tmp"; [ -n "${dpid:-}" ] && kill -9 "$dpid" 2>/dev/null' EXIT

# Run SCRIPT in a new container that then stays up (no mount without it).
run_up() { # NAME IMAGE SCRIPT
	docker run -d --network none --name "$1" "$2" sh -c "{ $3
} && echo dw-ready; exec sleep 600" >/dev/null || return 1
	for _ in $(seq 1 600); do
		docker logs "$1" 2>/dev/null | grep -q dw-ready && return 0
		[ "$(docker inspect -f '{{.State.Running}}' "$1")" = true ] || return 1
		sleep 0.1
	done
	return 1
}

mount_opts() { # CONTAINER: its rootfs mount's options
	local id
	id=$(docker inspect -f '{{.Id}}' "$1")
	awk -v m="$R/var/lib/docker/rootfs/overlayfs/$id" '$5 == m { print $NF }' /proc/self/mountinfo
}

upper_of() { # CONTAINER: its upper dir, on the host
	echo "$R$(mount_opts "$1" | tr , '\n' | sed -n 's/^upperdir=//p')"
}

# Without the host root the mount's paths are the chroot's: a clear
# error that says where to look, never an empty diff.
run_up dw26-plain dwtest:busybox 'echo x >/plain' || fail "plain container"
err=$("$DW" diff dw26-plain 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && grep -q 'host-root' <<<"$err" && pass "no host root: exit $rc, '$err'" ||
	fail "no host root (rc $rc): $err"
[ "$("${DW_DIFF[@]}" diff dw26-plain)" = "A /plain" ] && pass "host root: A /plain" ||
	fail "host root diff: $("${DW_DIFF[@]}" diff dw26-plain 2>&1)"

# Every overlay2 parity scenario, on this store.
n=0
while IFS='|' read -r name image script; do
	[ -n "$name" ] || continue
	n=$((n + 1))
	c="dw26-$name"
	if ! run_up "$c" "$image" "$script"; then
		fail "$name: scenario script failed in the container"
		dw_docker_rm "$c"
		continue
	fi
	[ "$name" = setcap ] && setcap cap_net_raw+ep "$(upper_of "$c")/bin/capme"
	parity_check "$name" "$c" "containerd store: "
	docker rm -f "$c" >/dev/null
done < <(grep -v "^#" "$DW_SRC_DIR/tests/data/diff_scenarios.txt")
[ "$n" -ge 40 ] && pass "ran $n scenarios" || fail "only $n scenarios"

# Hostile names and shapes, from the container itself.
run_up dw26-hostile dwtest:busybox '
	ln -s /etc/shadow /shadow && ln -s / /rootfs && mkfifo /fifo &&
	mknod /zero c 1 5 && touch "$(printf "/a\nD x")" "$(printf "/esc\033[31m")"' ||
	fail "hostile container"
parity_check hostile_shapes dw26-hostile "containerd store: "
out=$(timeout 60 "${DW_DIFF[@]}" diff dw26-hostile)
grep -qx 'A /a\\nD x' <<<"$out" && ! grep -qx 'D x' <<<"$out" &&
	pass "a newline in a name cannot forge a line" || fail "newline forging: $out"
# Deeper than PATH_MAX: Docker's own diff fails there; driftwatch's not.
run_up dw26-deep dwtest:busybox 'dwctr longname /tmp 30' || fail "deep container"
out=$(timeout 60 "${DW_DIFF[@]}" diff dw26-deep)
rc=$?
longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' <<<"$out")
[ $rc -eq 0 ] && [ "$longest" -gt 4096 ] && grep -q '/bottom$' <<<"$out" &&
	pass "path of $longest bytes walked (docker diff: $(docker diff dw26-deep 2>&1 >/dev/null | grep -o 'file name too long' || echo ok))" ||
	fail "deep path (rc $rc, longest $longest)"

# A stopped container has no mount: driftwatch says so, never an empty diff.
docker run --network none --name dw26-stopped dwtest:busybox sh -c 'echo s >/etc/stopped' >/dev/null
err=$("${DW_DIFF[@]}" diff --db "$tmp/none.db" dw26-stopped 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && grep -q 'is not running' <<<"$err" && grep -q 'docker start dw26-stopped' <<<"$err" &&
	pass "stopped, unknown to driftwatchd: exit 1, '$err'" || fail "stopped container (rc $rc): $err"

# 75 image layers: containerd mounts the lower dirs by names relative to
# its snapshots dir (the list is longer than a page).
mkdir -p "$tmp/img"
(
	cd "$tmp/img" || exit 1
	diffs=()
	layers=()
	for i in $(seq 1 75); do
		mkdir -p "l$i/deep/l$i"
		echo "$i" >"l$i/deep/l$i/f"
		[ "$i" -eq 1 ] && tar -C "$DW_DOCKER26_SCRATCH/rootfs" -cf "l1.tar" . ||
			tar -C "l$i" -cf "l$i.tar" .
		sum=$(sha256sum "l$i.tar" | cut -d' ' -f1)
		diffs+=("\"sha256:$sum\"")
		layers+=("\"l$i.tar\"")
	done
	(IFS=,; printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "${diffs[*]}") >config.json
	(IFS=,; printf '[{"Config":"config.json","RepoTags":["dwtest:tall"],"Layers":[%s]}]' "${layers[*]}") >manifest.json
	tar -cf ../tall.tar config.json manifest.json l*.tar
)
docker load -i "$tmp/tall.tar" >/dev/null && pass "75-layer image loaded" || fail "75-layer image"
run_up dw26-tall dwtest:tall 'echo t >/deep/l75/f && rm /deep/l3/f && echo n >/new' || fail "tall container"
lowers=$(mount_opts dw26-tall | tr , '\n' | sed -n 's/^lowerdir=//p')
[ -n "$lowers" ] && [ "${lowers#/}" = "$lowers" ] &&
	pass "its lowerdir list is relative: ${lowers:0:20}... ($(tr : '\n' <<<"$lowers" | wc -l) dirs)" ||
	fail "tall image's lowerdir is not relative: ${lowers:0:80}"
parity_check tall_image dw26-tall "containerd store, 75 layers: "

# commit: the image layers (not Docker's init layer) and the upper dir;
# the archive loads into this Docker and into the overlay2 one alike.
"${DW_DIFF[@]}" commit --db "$tmp/none.db" -o "$tmp/tall-snap.tar" --tag dwtest:tall-snap dw26-tall >"$tmp/commit.out" 2>&1 &&
	pass "commit of the 75-layer container" || { fail "commit"; cat "$tmp/commit.out"; }
nl=$(tar -xOf "$tmp/tall-snap.tar" manifest.json | jq '.[0].Layers | length')
[ "$nl" = 76 ] && pass "76 layers archived: 75 image layers and the upper dir" || fail "$nl layers archived"
docker rmi -f dwtest:tall-snap >/dev/null 2>&1
docker load -i "$tmp/tall-snap.tar" &&
	out=$(docker run --rm --network none dwtest:tall-snap sh -c 'cat /deep/l75/f /new; ls /deep/l3; ls -a / | grep -c dockerenv') &&
	[ "$out" = "$(printf 't\nn\n1')" ] &&
	pass "loaded into Docker 26 (containerd store): the drift is there" ||
	fail "load into Docker 26: $out"
(
	. "$DW_DOCKER_ENV" 2>/dev/null || exit 2
	export DOCKER_HOST
	docker load -i "$tmp/tall-snap.tar" >/dev/null || exit 1
	out=$(docker run --rm --network none dwtest:tall-snap sh -c 'cat /deep/l75/f /new; ls /deep/l3 | wc -l')
	docker rmi -f dwtest:tall-snap >/dev/null
	[ "$out" = "$(printf 't\nn\n0')" ]
) && pass "loaded into the overlay2 Docker: the drift is there" || fail "load into the overlay2 Docker"

# driftwatchd on this Docker: named like any Docker container, counted
# once (never again as a bare mount), drift recorded; stopped, its diff
# comes from the dirs it recorded.
db="$tmp/state/dw.db"
cat >"$tmp/dw.yaml" <<CFG
debounce_ms: 20
host_root: $R
docker_host: $DOCKER26_HOST
snapshot_on_critical: true
snapshot_dir: $tmp/snaps
signing_key: $DRIFTWATCH_SIGNING_KEY
CFG
"$DWD" --foreground --config "$tmp/dw.yaml" --db "$db" 2>>"$tmp/dwd.log" &
dpid=$!
# Predicates for dw_wait: DB's status satisfies a jq filter; an SQL
# count in DB is at least one.
# (An empty answer, before the daemon wrote a status, is no.)
status_has() {
	local out
	out=$("$DW" status --db "$1" --format json 2>/dev/null) && [ -n "$out" ] && jq -e "${@:2}" <<<"$out"
}
some() { [ "$(sqlite3 "$1" "$2" 2>/dev/null)" -ge 1 ]; }
dw_wait 10 status_has "$db" '.docker.connected and .state == "running"'
# A change from the container's own process (docker exec would run in
# the chroot, not in the container's root).
docker run -d --network none --name dw26-watched dwtest:busybox sh -c \
	'sleep 2; echo d >/etc/drifted; cp /bin/busybox /usr/lib/dropped; exec sleep 600' >/dev/null
id=$(docker inspect -f '{{.Id}}' dw26-watched)
drifted() { "$DW" events --db "$db" --container dw26-watched --current 2>/dev/null | grep -q '/usr/lib/dropped'; }
dw_wait 10 drifted && pass "driftwatchd recorded the drift of a containerd-store container" ||
	{ fail "no drift recorded"; tail -5 "$tmp/dwd.log"; }
st=$("$DW" status --db "$db" --format json)
row=$(sqlite3 "$db" "SELECT name, image, runtime FROM containers WHERE id = '$id'")
[ "$row" = "dw26-watched|dwtest:busybox|docker" ] &&
	pass "recorded by its Docker name and image" || fail "recorded as '$row'"
n=$(sqlite3 "$db" "SELECT count(*) FROM containers WHERE id LIKE 'mount:%'")
[ "$n" = 0 ] && pass "never counted again as a bare mount" ||
	fail "counted twice: $(sqlite3 "$db" 'SELECT id, name FROM containers')"
jq -e --arg id "$id" '[.coverage[] | select(.id == $id and .facet == "fs")] | length == 1 and .[0].state == "monitored" and .[0].name == "dw26-watched"' <<<"$st" >/dev/null &&
	pass "status: its filesystem coverage is monitored" || fail "coverage: $(jq -c --arg id "$id" '[.coverage[] | select(.id == $id)]' <<<"$st")"
want=$(api_set dw26-watched)
docker stop -t 1 dw26-watched >/dev/null
sleep 0.5
got=$("${DW_DIFF[@]}" diff --db "$db" --format json dw26-watched 2>"$tmp/err" | jq -c '.[] | [.kind, .path]' | LC_ALL=C sort)
[ -n "$want" ] && [ "$want" = "$got" ] && grep -q 'recorded while it ran' "$tmp/err" &&
	pass "stopped: the recorded dirs give docker diff's answer, and say so" ||
	{ fail "stopped container from the record"; cat "$tmp/err"; diff <(echo "$want") <(echo "$got") | head; }
[ "$(api_set dw26-watched)" = "$want" ] || fail "docker diff changed after stop"
# The record names the dirs under the daemon's host root: seen from
# another root (the host mounted elsewhere), they are found there.
mkdir -p "$tmp/view"
# (private first: undoing the copy must not undo the originals)
mount --rbind "$R" "$tmp/view"
mount --make-rprivate "$tmp/view"
got2=$("$DW" --host-root "$tmp/view" diff --db "$db" --format json dw26-watched 2>"$tmp/err2" | jq -c '.[] | [.kind, .path]' | LC_ALL=C sort)
umount -R -l "$tmp/view"
[ "$want" = "$got2" ] && pass "the recorded dirs, seen under another host root" ||
	fail "recorded dirs under another root: $got2 $(cat "$tmp/err2")"
# A directory now at the recorded path that is not the recorded one (a
# reset containerd numbering snapshots again) is not believed.
up=$(sqlite3 "$db" "SELECT upper_dir FROM containers WHERE id = '$(docker inspect -f '{{.Id}}' dw26-watched)'")
mv "$up" "$up.moved" && mkdir "$up"
err=$("${DW_DIFF[@]}" diff --db "$db" dw26-watched 2>&1 >/dev/null)
rc=$?
rmdir "$up" && mv "$up.moved" "$up"
[ $rc -eq 1 ] && grep -q "is another directory now" <<<"$err" &&
	pass "a replaced upper dir is not believed: '$err'" || fail "replaced upper dir (rc $rc): $err"

# The attacker drops a binary and exits at once, taking its mount with
# it: the snapshot on that critical drift is still taken, from the
# layer dirs driftwatchd recorded.
docker run -d --network none --name dw26-gone dwtest:busybox sh -c \
	'sleep 1; cp /bin/busybox /usr/lib/payload; exit 0' >/dev/null
dw_wait 15 some "$db" "SELECT count(*) FROM snapshots WHERE container_name = 'dw26-gone'"
ok=$((!$?))
[ "$(docker inspect -f '{{.State.Running}}' dw26-gone)" = false ] &&
	[ $ok -eq 1 ] && pass "a container that exits right after its drift is still snapshotted" ||
	{ fail "no snapshot of an exited container"; grep -i "snapshot" "$tmp/dwd.log" | tail -3; }
kill "$dpid"
wait "$dpid" 2>/dev/null
dpid=

# A daemon that cannot see the rootfs (no host_root here) is never
# silent: unmonitored in status, in its log and in one alert.
db2="$tmp/state2/dw.db"
printf 'debounce_ms: 20\ndocker_host: %s\n' "$DOCKER26_HOST" >"$tmp/dw2.yaml"
"$DWD" --foreground --config "$tmp/dw2.yaml" --db "$db2" --no-mounts 2>>"$tmp/dwd2.log" &
dpid=$!
run_up dw26-blind dwtest:busybox 'true' || fail "blind container"
id=$(docker inspect -f '{{.Id}}' dw26-blind)
dw_wait 10 status_has "$db2" --arg id "$id" '.coverage[] | select(.id == $id and .facet == "fs" and .state == "unmonitored" and .reason == "storage-driver")' &&
	pass "without the host root: unmonitored (storage-driver) in status" || fail "blind: not in status"
# The coverage row is written first, then the alert, then the log line.
dw_wait 10 grep -q "dw26-blind.*is not monitored" "$tmp/dwd2.log"
dw_wait 10 some "$db2" "SELECT count(*) FROM alerts WHERE summary LIKE '%dw26-blind%unmonitored%'"
grep -q "dw26-blind.*is not monitored.*host-root" "$tmp/dwd2.log" && pass "and in the log, saying what to set" ||
	{ fail "blind: not in the log"; tail -3 "$tmp/dwd2.log"; }
[ "$(sqlite3 "$db2" "SELECT count(*) FROM alerts WHERE summary LIKE '%dw26-blind%unmonitored%'")" = 1 ] &&
	pass "and in one alert" || fail "blind: alerts: $(sqlite3 "$db2" 'SELECT summary FROM alerts')"

# scan --image on this store: no layer dirs to read, the image comes
# from GET /images/{name}/get (an OCI layout; its layers as containerd
# keeps them) and is read the same: a secret deleted by a later step is
# reported in its layer, with the layer that deleted it.
aws=AKIAQ3EGRHWZ5KXN4TJP
docker run --network none --name dw26-img1 dwtest:busybox sh -c "echo AWS_ACCESS_KEY_ID=$aws >/etc/app.env" >/dev/null &&
	docker commit dw26-img1 dw26img:step1 >/dev/null &&
	docker run --network none --name dw26-img2 dw26img:step1 rm /etc/app.env >/dev/null &&
	docker commit dw26-img2 dw26img:secret >/dev/null || fail "containerd store: image in steps"
"$DW" scan --image -f jsonl dw26img:secret >"$tmp/img.jsonl" 2>"$tmp/img.err"
rc=$?
top=$(docker inspect -f '{{index .RootFS.Layers 2}}' dw26img:secret)
[ $rc -eq 1 ] && jq -se --arg top "$top" 'any(.[]; .rule == "aws-access-key-id" and .entry == "etc/app.env"
		and .layer == "2" and .hidden == "deleted" and .hidden_by_layer == "3"
		and .hidden_by_layer_digest == $top and (.hidden_by_step | test("rm /etc/app.env")))' "$tmp/img.jsonl" >/dev/null &&
	pass "scan --image on the containerd store: the deleted secret, its layer and the one that deleted it" ||
	fail "scan --image on the containerd store: rc $rc: $(cat "$tmp/img.err" "$tmp/img.jsonl")"
dw_docker_rm dw26-img1 dw26-img2
docker rmi dw26img:secret dw26img:step1 >/dev/null 2>&1
finish
