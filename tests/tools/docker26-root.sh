#!/bin/sh
# Build the Docker 26 root the containerd-image-store tests use: Debian 13
# (trixie) from Debian's mirror with debootstrap, and its docker.io
# (Docker 26.1.5 with containerd). Run as root by
# `contrib/install-deps.sh --test`; the tests never download anything.
#   tests/tools/docker26-root.sh [DIR]   (default /var/lib/driftwatch-test/docker26)
set -eu
dir=${1:-/var/lib/driftwatch-test/docker26}
mirror=${DW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ -e "$dir/.dw-ready" ]; then
	echo "docker26-root: $dir is ready"
	exit 0
fi
command -v debootstrap >/dev/null || {
	echo "docker26-root: debootstrap is not installed" >&2
	exit 1
}
work="$dir.new"
cleanup() {
	for m in dev sys proc; do
		umount -R "$work/$m" 2>/dev/null || true
	done
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$(dirname "$dir")"
debootstrap --variant=minbase trixie "$work" "$mirror"
mount -t proc proc "$work/proc"
mount --rbind /sys "$work/sys"
mount --make-rslave "$work/sys"
mount --rbind /dev "$work/dev"
mount --make-rslave "$work/dev"
# No service may start inside the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
chmod 755 "$work/usr/sbin/policy-rc.d"
chroot "$work" sh -c 'apt-get update -q &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends docker.io && apt-get clean'
cleanup
trap - EXIT
chroot "$work" dockerd --version
touch "$work/.dw-ready"
rm -rf "$dir"
mv "$work" "$dir"
echo "docker26-root: built $dir"
