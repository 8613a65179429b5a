#!/bin/bash
# ctest fixture: Debian 13's Docker 26 on its containerd image store
# (containerd-snapshotter), run in the chroot that
# `contrib/install-deps.sh --test` built (tests/tools/docker26-root.sh),
# with fresh state on a scratch dir, and the busybox test images.
. "$(dirname "$0")/../lib/common.sh"
set -e
dw_need_root
[ -x /bin/busybox ] || dw_skip "busybox-static is not installed"
R=$DW_DOCKER26_ROOT
[ -e "$R/.dw-ready" ] || dw_skip "no Docker 26 root at $R: run contrib/install-deps.sh --test (tests/tools/docker26-root.sh builds it)"

if [ -r "$DW_DOCKER26_ENV" ]; then
	. "$DW_DOCKER26_ENV"
	if DOCKER_HOST=$DOCKER26_HOST docker version >/dev/null 2>&1; then
		echo "test Docker 26 already running at $DOCKER26_HOST"
		exit 0
	fi
	bash "$(dirname "$0")/docker26_teardown.sh"
fi

scratch=$(mktemp -d /tmp/dw26.XXXXXX)
mkdir -p "$scratch/data" "$scratch/run"
cat >"$DW_DOCKER26_ENV" <<ENV
DOCKER26_HOST=unix://$R/run/docker26.sock
DW_DOCKER26_SCRATCH=$scratch
ENV
# runc needs the root to be a mount point; the state is the scratch's.
mountpoint -q "$R" || mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --make-rslave "$R/sys"
mount --rbind /dev "$R/dev"
mount --make-rslave "$R/dev"
mkdir -p "$R/var/lib/docker"
mount --bind "$scratch/data" "$R/var/lib/docker"
mount --bind "$scratch/run" "$R/run"
mkdir -p "$R/etc/docker"
cat >"$R/etc/docker/daemon.json" <<'JSON'
{"features": {"containerd-snapshotter": true}, "bridge": "none",
 "iptables": false, "ip6tables": false}
JSON
chroot "$R" dockerd -H unix:///run/docker26.sock \
	--pidfile /run/docker26.pid >"$scratch/dockerd.log" 2>&1 &
export DOCKER_HOST="unix://$R/run/docker26.sock"
for _ in $(seq 1 120); do
	docker version >/dev/null 2>&1 && break
	sleep 0.5
done
if ! docker version >/dev/null 2>&1; then
	echo "Docker 26 did not come up; its log:" >&2
	tail -30 "$scratch/dockerd.log" >&2
	exit 1
fi
docker info --format '{{.Driver}} {{json .DriverStatus}}' | tee /dev/stderr |
	grep -q 'io.containerd.snapshotter.v1'

dw_busybox_rootfs "$scratch"
docker import "$scratch/rootfs.tar" dwtest:busybox >/dev/null
dw_layered_images
echo "test Docker 26 up at $DOCKER_HOST with images:"
docker images --format '  {{.Repository}}:{{.Tag}}'
