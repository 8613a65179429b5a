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
# A benchmark's "fast disk": Docker's data on a tmpfs of this size.
if [ -n "${DW_DOCKER_TMPFS:-}" ]; then
	mkdir -p "$root/data"
	mount -t tmpfs -o "size=$DW_DOCKER_TMPFS" dwdocker "$root/data"
fi
dw_dockerd_start "$root"
cat >"$DW_DOCKER_ENV" <<ENV
DOCKER_HOST=unix://$sock
DW_DOCKER_ROOT=$root
ENV
export DOCKER_HOST="unix://$sock"
dw_dockerd_wait "$root" || exit 1
docker info --format 'storage driver: {{.Driver}}' | tee /dev/stderr | grep -q overlay2

dw_busybox_rootfs "$root"
docker import "$root/rootfs.tar" dwtest:busybox >/dev/null

dw_layered_images
echo "test dockerd up at $DOCKER_HOST with images:"
docker images --format '  {{.Repository}}:{{.Tag}}'
