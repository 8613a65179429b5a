#!/bin/bash
# Runtimes other than Docker: driftwatchd finds overlay mounts in
# /proc/self/mountinfo as they come and go, and keeps their changes equal
# to `driftwatch diff` of the same layer dirs (names with spaces, colons
# and commas survive mountinfo's escaping).
. "$(dirname "$0")/../lib/common.sh"
dw_need_root

tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
pid=
root="$tmp/run/containerd/io.containerd.runtime.v2.task/k8s.io/ctr 1"
low1="$tmp/layers/low,er:1"
low2="$tmp/layers/low 2"
upper="$root/upper dir"
merged="$root/rootfs"
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	umount "$merged" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$low1/etc" "$low2/etc" "$low2/usr/bin" "$upper" "$root/work" "$merged"
echo one >"$low1/etc/one"
echo two >"$low2/etc/two"
echo tool >"$low2/usr/bin/tool"
esc() { sed 's/[\\:,]/\\&/g' <<<"$1"; }
mount_it() {
	mount -t overlay overlay -o "lowerdir=$(esc "$low1"):$(esc "$low2"),upperdir=$(esc "$upper"),workdir=$(esc "$root/work")" "$merged"
}
mount_it || dw_skip "cannot mount overlayfs here"

printf 'docker: false\ndebounce_ms: 20\n' >"$tmp/cfg.yaml"
"$DWD" --foreground --config "$tmp/cfg.yaml" --db "$db" 2>"$tmp/log" &
pid=$!
watched() {
	"$DW" status --db "$db" --format json 2>/dev/null |
		jq -r --arg m "$merged" '.watched[] | select(.name == $m) | .id + " " + .runtime'
}
for _ in $(seq 1 50); do [ -n "$(watched)" ] && break; sleep 0.1; done
read -r id runtime <<<"$(watched)"
[ -n "$id" ] && pass "overlay mount discovered ($id)" || { fail "mount not discovered"; cat "$tmp/log"; finish; exit 1; }
[ "$runtime" = containerd ] && pass "runtime told from the path" || fail "runtime $runtime"

echo new >"$merged/etc/new"
rm "$merged/etc/one"
echo more >>"$merged/etc/two"
cp /bin/busybox "$merged/usr/bin/sh2"
mkdir -p "$merged/var/lib/x" && echo y >"$merged/var/lib/x/y"
# diff's --lower splits on ':'; reach the layers through plain names.
ln -s "$low1" "$tmp/l1" && ln -s "$low2" "$tmp/l2"
want=$("$DW" diff --upper "$upper" --lower "$tmp/l1:$tmp/l2")
for _ in $(seq 1 50); do
	got=$("$DW" events --db "$db" --container "$id" --current)
	[ "$want" == "$got" ] && break
	sleep 0.1
done
[ -n "$want" ] && [ "$want" == "$got" ] && pass "store equals driftwatch diff of the layers" ||
	{ fail "mount changes"; diff <(echo "$want") <(echo "$got"); }
grep -qx "A /usr/bin/sh2" <<<"$got" && grep -qx "D /etc/one" <<<"$got" && pass "add and delete seen" || fail "content"
[ "$(sqlite3 -readonly "$db" "SELECT severity FROM changes WHERE CAST(path AS TEXT)='/usr/bin/sh2'")" = critical ] &&
	pass "new executable in a mount: critical" || fail "severity"

umount "$merged"
for _ in $(seq 1 50); do [ -z "$(watched)" ] && break; sleep 0.1; done
[ -z "$(watched)" ] && pass "unmount noticed" || fail "still watched after umount"
[ "$(sqlite3 -readonly "$db" "SELECT state FROM containers WHERE id='$id'")" = stopped ] && pass "state stopped" || fail "state"
mount_it
for _ in $(seq 1 50); do [ -n "$(watched)" ] && break; sleep 0.1; done
[ "$(watched)" = "$id containerd" ] && pass "mounted again: watched, same id" || fail "remount"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] && pass "clean stop" || fail "exit $rc"
finish
