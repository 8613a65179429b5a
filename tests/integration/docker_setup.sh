#!/bin/bash
# ctest fixture: start a private dockerd (no bridge, no iptables, overlay2)
# and import a busybox image built from Debian's busybox-static.
. "$(dirname "$0")/../lib/common.sh"
set -e
dw_need_root
command -v dockerd >/dev/null || dw_skip "dockerd is not installed (docker.io)"
[ -x /bin/busybox ] || dw_skip "busybox-static is not installed"

if [ -r "$DW_DOCKER_ENV" ]; then
	. "$DW_DOCKER_ENV"
	if docker version >/dev/null 2>&1; then
		echo "test dockerd already running at $DOCKER_HOST"
		exit 0
	fi
fi

# Short path: unix socket paths are limited to 108 bytes.
root=$(mktemp -d /tmp/dwdocker.XXXXXX)
sock="$root/docker.sock"
dw_dockerd_start "$root"
cat >"$DW_DOCKER_ENV" <<ENV
DOCKER_HOST=unix://$sock
DW_DOCKER_ROOT=$root
ENV
export DOCKER_HOST="unix://$sock"
dw_dockerd_wait "$root" || exit 1
docker info --format 'storage driver: {{.Driver}}' | tee /dev/stderr | grep -q overlay2

# The base image: busybox applets, a small /etc, and trees to delete.
rootfs="$root/rootfs"
mkdir -p "$rootfs"/{bin,etc,tmp,root,usr/lib,var/log,deep/a/b/c,opt}
cp /bin/busybox "$rootfs/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
echo "capable" >"$rootfs/bin/capme"
# The hostile container's tools (tests/tools/dwctr.c).
cp "$DW_BUILD/tests/dwctr" "$rootfs/bin/dwctr"
echo one >"$rootfs/deep/a/b/c/file"
echo two >"$rootfs/deep/a/other"
echo lib >"$rootfs/usr/lib/libx.so"
ln -s /nonexistent "$rootfs/opt/dangling"
chmod 1777 "$rootfs/tmp"
tar -C "$rootfs" -cf "$root/rootfs.tar" .
docker import "$root/rootfs.tar" dwtest:busybox >/dev/null

# A layered image: files added in one layer and deleted in the next.
docker run --network none --name dw-layer1 dwtest:busybox sh -c \
	'mkdir -p /layer/dir/sub && echo a >/layer/a && echo b >/layer/b &&
	 echo x >/layer/dir/sub/x && echo c >/layer/c'
docker commit dw-layer1 dwtest:layer1 >/dev/null
docker rm dw-layer1 >/dev/null
docker run --network none --name dw-layer2 dwtest:layer1 sh -c \
	'rm /layer/a && rm -rf /layer/dir && rm /etc/group'
docker commit dw-layer2 dwtest:layered >/dev/null
docker rm dw-layer2 >/dev/null
echo "test dockerd up at $DOCKER_HOST with images:"
docker images --format '  {{.Repository}}:{{.Tag}}'
