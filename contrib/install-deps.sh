#!/bin/sh
# Install what driftwatch needs from Debian's packages (run as root).
#   contrib/install-deps.sh          build and run: compiler, libraries, docker
#   contrib/install-deps.sh --test   also what the test suite uses
set -eu

build="build-essential cmake pkg-config libcurl4-openssl-dev libjansson-dev
libsqlite3-dev libssl-dev libgit2-dev libpcre2-dev libarchive-dev zlib1g-dev
libyaml-dev libhyperscan-dev libgmime-3.0-dev libseccomp-dev libsystemd-dev
docker.io"
test="libcmocka-dev busybox-static curl jq sqlite3 attr libcap2-bin time
openssl debootstrap systemd
util-linux procps groff-base inotify-tools bc pre-commit clang clang-format libclang-rt-14-dev git
python3-yaml lintian zsh sleuthkit prometheus rsyslog rsyslog-gnutls
rsyslog-kafka rsyslog-elasticsearch rsyslog-relp zip zstd bzip2 xz-utils"

pkgs=$build
case "${1:-}" in
--test) pkgs="$build $test" ;;
"") ;;
*) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs
# The tests of Docker's containerd image store run Debian 13's Docker 26
# in a chroot: built once here (downloaded), never by the tests.
if [ "${1:-}" = --test ]; then
	"$(dirname "$0")/../tests/tools/docker26-root.sh"
fi
