#!/bin/bash
# A rescan after inotify events walks only the directories that hold what
# changed, and compares them with the store (not with a copy of every
# change in memory); the directories above take C, or lose it, from what
# is left below them. Random changes through a real overlay mount (new
# files and trees, copy-ups, deletions of image files and of whole
# trees, opaque dirs, renames, chmod, mtimes), a batch at a time: after
# each, the store must equal `driftwatch diff` of the layers, and the
# rescans must have been partial. DW_SEED=N replays a run.
. "$(dirname "$0")/../lib/common.sh"
dw_need_root

seed=${DW_SEED:-$((RANDOM * 32768 + RANDOM))}
rounds=${DW_ROUNDS:-60}
echo "# seed $seed, $rounds rounds"
RANDOM=$seed
tmp=$(mktemp -d)
db="$tmp/driftwatch.db"
pid=
root="$tmp/run/containerd/io.containerd.runtime.v2.task/k8s.io/sparse"
low="$tmp/lower"
upper="$root/upper"
m="$root/rootfs"
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	umount "$m" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$low/etc/sub" "$low/usr/bin" "$low/var/lib/deep/er/est" "$low/opt" "$upper" "$root/work" "$m"
for f in etc/a etc/b etc/c etc/sub/x etc/sub/y usr/bin/t1 usr/bin/t2 var/lib/deep/er/est/f; do
	echo "image $f" >"$low/$f"
done
# Sub-second mtimes in the image: a copy-up keeps them, a touch does not.
touch -d '2020-01-01 00:00:00.5' "$low"/etc/* "$low/usr/bin/t1"
mount -t overlay overlay -o "lowerdir=$low,upperdir=$upper,workdir=$root/work" "$m" ||
	dw_skip "cannot mount overlayfs here"

printf 'docker: false\ndebounce_ms: 20\nmax_delay_ms: 200\n' >"$tmp/cfg.yaml"
"$DWD" --foreground --config "$tmp/cfg.yaml" --db "$db" 2>"$tmp/log" &
pid=$!
entry() {
	"$DW" status --db "$db" --format json 2>/dev/null |
		jq -c --arg m "$m" '.watched[]? | select(.name == $m)'
}
for _ in $(seq 1 100); do [ -n "$(entry)" ] && break; sleep 0.1; done
id=$(entry | jq -r .id)
[ -n "$id" ] && pass "overlay mount watched ($id)" || { fail "not watched"; cat "$tmp/log"; finish; exit 1; }

want() { "$DW" diff --upper "$upper" --lower "$low"; }
got() { "$DW" events --db "$db" --container "$id" --current; }
settled() { # wait until the store equals the diff; 0 when it does
	local w g
	for _ in $(seq 1 60); do
		w=$(want)
		g=$(got)
		[ "$w" == "$g" ] && return 0
		sleep 0.1
	done
	diff <(echo "$w") <(echo "$g") | head -20
	return 1
}
pick() { # a random line of stdin
	local all n
	mapfile -t all
	n=${#all[@]}
	[ "$n" -gt 0 ] && echo "${all[RANDOM % n]}"
}
dirs() { (cd "$m" && find . -mindepth 1 -type d | sed 's|^\./||' | sort); }
files() { (cd "$m" && find . -type f | sed 's|^\./||' | sort); }
anydir() { { echo .; dirs; } | pick; }

log=
op() {
	local d f g
	case $((RANDOM % 11)) in
	0 | 1) d=$(anydir); f="$d/n$RANDOM"; echo "$RANDOM" >"$m/$f" ;;
	2) f=$(files | pick) && echo more >>"$m/$f" ;;
	3) f=$(files | pick) && rm -f "$m/$f" ;;
	4) d=$(anydir); f="$d/d$RANDOM"; mkdir -p "$m/$f/in" && echo x >"$m/$f/in/f" ;;
	5) f=$(dirs | pick) && rm -rf "${m:?}/$f" ;;
	6) f=$({ dirs; files; } | pick) && chmod "$((RANDOM % 2 ? 700 : 755))" "$m/$f" ;;
	7) f=$(files | pick) && touch -d "@$((1600000000 + RANDOM))" "$m/$f" ;;
	8) f=$(files | pick) && d=$(anydir) && mv "$m/$f" "$m/$d/mv$RANDOM" 2>/dev/null ;;
	9) f=$(dirs | pick) && rm -rf "${m:?}/$f" && mkdir -p "$m/$f" && echo o >"$m/$f/opaque" ;;
	10) d=$(anydir); f="$d/x$RANDOM/y/z/w"; mkdir -p "$m/$f" && : >"$m/$f/leaf" ;;
	esac
	log="$log op:$f"
}

# A new file deep in the image's tree: every directory above takes C;
# its removal, the directory's mtime set back, gives every C back.
echo t >"$m/var/lib/deep/er/est/new"
settled && grep -qx "C /var/lib/deep/er" <<<"$(got)" && pass "a change deep in the image: the dirs above take C" ||
	fail "the dirs above a new file"
rm "$m/var/lib/deep/er/est/new"
touch -r "$low/var/lib/deep/er/est" "$m/var/lib/deep/er/est"
settled && ! grep -q "/var" <<<"$(got)" && pass "... and give it back when it is reverted" ||
	fail "the dirs above a reverted file"

bad=0
for round in $(seq 1 "$rounds"); do
	log=
	for _ in $(seq 1 $((1 + RANDOM % 4))); do op; done
	if ! settled; then
		fail "round $round: store differs from driftwatch diff after$log"
		bad=1
		break
	fi
done
[ $bad = 0 ] && pass "store equals driftwatch diff after each of $rounds rounds of random changes"

e=$(entry)
rescans=$(jq .rescans <<<"$e")
whole=$(jq .rescans_whole <<<"$e")
echo "# rescans $rescans, of the whole tree $whole"
# Whole walks come from the workload (a new or renamed directory is
# watched by walking it: 13 to 15 in 60 rounds of seed 136280228, 22 in
# seed 149398879 under ASan, of 61 rescans), the count of rescans from
# timing (55 to 100 for the first seed: events batch differently under
# load), so the bound leaves room: a rescan that is always whole, the
# failure this looks for, is far past half.
[ "$rescans" -gt $((rounds / 2)) ] && [ "$whole" -le $((rescans / 2)) ] &&
	pass "rescans walked the changed directories, not the tree ($whole of $rescans whole)" ||
	fail "rescans $rescans, whole $whole"

# A directory named by an event and gone before the rescan: the rescan
# walks the whole tree instead, and the result is still exact.
mkdir -p "$m/gone/a/b" && echo 1 >"$m/gone/a/b/f" && rm -rf "$m/gone"
settled && pass "a directory gone before its rescan" || fail "gone directory"


# The review's attack: 3,000 sibling directories 300 levels down, a file
# made in each. Going down to each and deciding the C of every directory
# above each, each path copied, took memory in (directories x depth^2):
# 0.9 GB for 400 at depth 1,500, an abort past 2 GB. Now a directory's C
# is decided once, and only while something changed below; and past as
# many levels to go down as a whole walk could cost, it is one.
deep=$(printf 'a/%.0s' $(seq 300))
deep=${deep%/}
mkdir -p "$m/$deep"
(cd "$m/$deep" && mkdir $(seq -f s%g 1 3000))
settled || fail "the deep tree"
(cd "$m/$deep" && for i in $(seq 1 3000); do : >"s$i/f"; done)
settled && pass "a file in each of 3,000 directories 300 levels down" || fail "the deep siblings"
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
echo "# daemon peak RSS $((hwm / 1024)) MB"
if dw_sanitized; then
	# (a sanitizer build's quarantine and shadow are hundreds of MB)
	echo "# sanitizer build: the memory bound is checked by the normal build"
else
	[ "$hwm" -lt $((100 * 1024)) ] && pass "... in bounded memory ($((hwm / 1024)) MB)" ||
		fail "peak RSS $((hwm / 1024)) MB"
fi
kill -0 "$pid" && pass "driftwatchd still running" || fail "driftwatchd died"

kill -TERM "$pid"
wait "$pid"
pid=
finish
