#!/bin/bash
# contrib/driftwatchd.service: systemd's own checks, offline (no systemd
# runs here): `systemd-analyze verify`, and `security --offline=true`,
# whose exposure must stay at "OK" (below 4.0), with the settings the
# scanner's confinement relies on.
. "$(dirname "$0")/../lib/common.sh"
command -v systemd-analyze >/dev/null || dw_skip "systemd-analyze is not installed (systemd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unit="$tmp/driftwatchd.service"
sed "s|/usr/local/bin/driftwatchd|$DW_BUILD/driftwatchd|" \
	"$DW_SRC_DIR/contrib/driftwatchd.service" >"$unit"
out=$(systemd-analyze verify "$unit" 2>&1)
[ $? -eq 0 ] && [ -z "$out" ] && pass "systemd-analyze verify: clean" || fail "verify: $out"
sec=$(systemd-analyze security --offline=true "$unit" 2>&1)
level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$sec")
[ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l < 4.0) }' &&
	pass "security --offline: exposure $level" || { fail "exposure '$level'"; tail -5 <<<"$sec"; }
for want in DevicePolicy=closed 'SystemCallFilter=@system-service' MemoryMax= TasksMax= \
	ProtectKernelTunables=yes NoNewPrivileges=yes 'CapabilityBoundingSet=.*CAP_SETUID'; do
	grep -q "^$want" "$unit" && pass "has $want" || fail "no $want"
done
finish
