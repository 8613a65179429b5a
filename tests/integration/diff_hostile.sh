#!/bin/bash
# Hostile layer content: nothing is followed, opened or trusted, and every
# case ends in a correct answer or a clear error, never a crash or hang.
. "$(dirname "$0")/../lib/common.sh"
dw_need_root

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
up="$tmp/upper"
lo="$tmp/lower"
mkdir -p "$up" "$lo/etc"
echo secret >"$lo/etc/shadow"

# Symlinks to the host's secrets and root: reported, never followed.
ln -s /etc/shadow "$up/shadow"
ln -s / "$up/rootfs"
mkdir "$up/etc"
ln -s /etc "$up/etc/loop"
out=$(timeout 20 "$DW" diff --upper "$up" --lower "$lo")
[ "$out" == "$(printf 'C /etc\nA /etc/loop\nA /rootfs\nA /shadow')" ] &&
	pass "symlinks reported, not followed" || { fail "symlinks"; echo "$out"; }

# A FIFO would block whoever opens it; a device could do worse.
mkfifo "$up/fifo" "$lo/etc/fifo"
mkfifo "$up/etc/fifo"
mknod "$up/zero" c 1 5
timeout 20 "$DW" diff --format json --upper "$up" --lower "$lo" >"$tmp/j"
rc=$?
[ $rc -eq 0 ] && jq -e '[.[] | select(.path=="/fifo" or .path=="/zero") | .type] == ["fifo","char"]' \
	"$tmp/j" >/dev/null && pass "fifo and device listed, never opened" || fail "fifo/device (rc $rc)"
rm -f "$up/fifo" "$up/zero" "$up/etc/fifo"

# Deeper than PATH_MAX (4096): 100 levels of 60-byte names.
name=$(printf 'd%.0s' $(seq 1 60))
(
	cd "$up" || exit 1
	for _ in $(seq 1 100); do mkdir "$name" && cd "$name" || exit 1; done
	: >leaf
)
out=$(timeout 60 "$DW" diff --upper "$up" --lower "$lo")
rc=$?
longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' <<<"$out")
[ $rc -eq 0 ] && [ "$longest" -gt 4096 ] && grep -q '/leaf$' <<<"$out" &&
	pass "path of $longest bytes walked" || fail "deep path (rc $rc, longest $longest)"
rm -rf "${up:?}/$name"

# Files vanishing mid-walk: a writer churns while we diff, again and again.
mkdir -p "$up/churn"
: >"$up/stable"
(
	end=$((SECONDS + 15))
	while [ $SECONDS -lt $end ]; do
		for i in $(seq 1 200); do : >"$up/churn/f$i"; done
		mkdir -p "$up/churn/d/e" && : >"$up/churn/d/e/g"
		rm -rf "$up/churn/"*
	done
) &
churner=$!
bad=0
for _ in $(seq 1 40); do
	out=$(timeout 20 "$DW" diff --upper "$up" --lower "$lo" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || ! grep -qx 'A /stable' <<<"$out"; then
		bad=$((bad + 1))
		echo "    run failed (rc $rc): $(head -3 <<<"$out")"
	fi
done
kill "$churner" 2>/dev/null
wait "$churner" 2>/dev/null
[ $bad -eq 0 ] && pass "40 diffs during churn, all complete" || fail "$bad of 40 runs failed during churn"
rm -rf "$up/churn" "$up/stable"

# An unreadable directory (as an unprivileged user): a clear error.
chmod 755 "$tmp"
mkdir -p "$up/locked/inner"
chmod 000 "$up/locked"
err=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$DW" diff --upper "$up" --lower "$lo" 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && grep -q 'directory /locked in a layer' <<<"$err" && grep -qi 'permission denied' <<<"$err" &&
	pass "unreadable dir: exit 1, '$err'" || fail "unreadable dir (rc $rc: $err)"
grep -q 'without CAP_SYS_ADMIN' <<<"$err" && pass "unprivileged run warns about hidden xattrs" ||
	fail "no CAP_SYS_ADMIN warning"
chmod 755 "$up/locked"

# Names that would break a line-oriented reader.
touch "$up/$(printf 'a\nD x')" "$up/$(printf 'esc\033[31m')"
out=$("$DW" diff --upper "$up" --lower "$lo")
grep -qx 'A /a\\nD x' <<<"$out" && ! grep -qx 'D x' <<<"$out" &&
	pass "newline in a name cannot forge a line" || fail "newline forging"
grep -qF 'A /esc\x1b[31m' <<<"$out" && pass "terminal escapes neutralised" || fail "escape sequence"
finish
