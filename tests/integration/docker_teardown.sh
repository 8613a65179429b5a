#!/bin/bash
# ctest fixture cleanup: stop the private dockerd and remove its data.
. "$(dirname "$0")/../lib/common.sh"
[ -r "$DW_DOCKER_ENV" ] || exit 0
. "$DW_DOCKER_ENV"
export DOCKER_HOST
docker ps -aq 2>/dev/null | timeout 60 xargs -r /usr/bin/docker rm -f >/dev/null 2>&1
dw_dockerd_stop "$DW_DOCKER_ROOT"
# Leftover mounts (a killed dockerd) must go before the files can.
grep -o " $DW_DOCKER_ROOT[^ ]*" /proc/self/mountinfo | sort -r |
	xargs -r -n1 umount -l 2>/dev/null
rm -rf "$DW_DOCKER_ROOT"
rm -f "$DW_DOCKER_ENV"
echo "test dockerd stopped"
