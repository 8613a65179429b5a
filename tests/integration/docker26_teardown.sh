#!/bin/bash
# ctest fixture cleanup: stop Docker 26, undo every mount in its root,
# remove its state. The root itself (built once) stays.
. "$(dirname "$0")/../lib/common.sh"
[ -r "$DW_DOCKER26_ENV" ] || exit 0
. "$DW_DOCKER26_ENV"
R=$DW_DOCKER26_ROOT
export DOCKER_HOST=$DOCKER26_HOST
docker ps -aq 2>/dev/null | timeout 60 xargs -r /usr/bin/docker rm -f >/dev/null 2>&1
pid=$(cat "$R/run/docker26.pid" 2>/dev/null)
if [ -n "$pid" ]; then
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -9 "$pid" 2>/dev/null
fi
# Its containerd and shims run from the chroot too.
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && kill -9 "${p#/proc/}" 2>/dev/null
done
sleep 0.5
# Deepest first; the root's own bind mount last.
awk -v r="$R" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo |
	sort -r | uniq | while read -r m; do umount -l "$m" 2>/dev/null; done
case "$DW_DOCKER26_SCRATCH" in /tmp/dw26.*) rm -rf "$DW_DOCKER26_SCRATCH" ;; esac
rm -f "$DW_DOCKER26_ENV"
echo "test Docker 26 stopped"
