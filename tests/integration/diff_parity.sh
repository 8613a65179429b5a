#!/bin/bash
# Parity of `driftwatch diff` with the real `docker diff`, scenario by
# scenario, on real containers. Both sides are compared as sets, through
# JSON so that names with newlines or invalid UTF-8 compare exactly.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
. "$(dirname "$0")/../lib/parity.sh"
DW_DIFF=("$DW")

scenario_count=0
while IFS='|' read -r name image script; do
	[ -n "$name" ] || continue
	scenario_count=$((scenario_count + 1))
	c="dwp-$name"
	dw_docker_rm "$c"
	if ! docker run --network none --name "$c" "$image" sh -c "$script" >/dev/null 2>&1; then
		fail "$name: scenario script failed in the container"
		continue
	fi
	if [ "$name" = setcap ]; then
		upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$c")
		setcap cap_net_raw+ep "$upper/bin/capme"
	fi
	parity_check "$name" "$c"
	docker rm -f "$c" >/dev/null
done < <(grep -v "^#" "$DW_SRC_DIR/tests/data/diff_scenarios.txt")

# Some scenarios must have produced what we expect, not merely agreed.
[ "$scenario_count" -ge 25 ] && pass "ran $scenario_count scenarios" || fail "only $scenario_count scenarios"
finish
