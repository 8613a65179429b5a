#!/bin/bash
# The layers see only the headers below them (CMakeLists.txt draws them):
#   dw_util (detectors/util) < dw_detectors (detectors) < dw_host
#   (daemon/host) < driftwatch (cli) and driftwatchd (daemon).
# Include paths already keep the host layer out of the detectors; this
# checks what they cannot: dw_util and dw_detectors share
# include/driftwatch/, and a header must not reach a layer above it by a
# relative path.
set -uo pipefail
src=${DW_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 1

util_h=$(for c in detectors/util/*.c; do basename "$c" .c; done)
util_h="$util_h banned"
host_h=$(for h in daemon/host/*.h; do basename "$h" .h; done)
daemon_h=$(for h in daemon/*.h; do basename "$h" .h; done)
cli_h=$(for h in cli/*.h; do basename "$h" .h; done)
bad=0

is_in() { local x=$1; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }

# $1 file, $2 layer: report every include the layer may not see.
check() {
	local f=$1 layer=$2 inc name
	while IFS= read -r inc; do
		name=${inc##*/}
		name=${name%.h}
		case $layer in
		util)
			case $inc in
			driftwatch/*) is_in "$name" $util_h && continue ;;
			esac ;;
		detectors)
			case $inc in
			driftwatch/*) continue ;;
			*/*) ;;
			*) [ -f "$(dirname "$f")/$inc" ] && continue ;;
			esac ;;
		host)
			case $inc in
			driftwatch/*) continue ;;
			*/*) ;;
			*) is_in "$name" $host_h && continue ;;
			esac ;;
		cli)
			case $inc in
			driftwatch/*) continue ;;
			*/*) ;;
			*) is_in "$name" $host_h $cli_h && ! is_in "$name" $daemon_h &&
				continue ;;
			esac ;;
		daemon)
			case $inc in
			driftwatch/*) continue ;;
			*/*) ;;
			*) is_in "$name" $host_h $daemon_h && continue ;;
			esac ;;
		esac
		echo "layering: $f ($layer) includes \"$inc\"" >&2
		bad=$((bad + 1))
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
}

n=0
for f in $(find detectors daemon cli include -name '*.[ch]' | sort); do
	case $f in
	detectors/util/*) layer=util ;;
	include/driftwatch/*)
		b=$(basename "$f" .h)
		if is_in "$b" $util_h; then layer=util; else layer=detectors; fi ;;
	detectors/*) layer=detectors ;;
	daemon/host/*) layer=host ;;
	daemon/*) layer=daemon ;;
	cli/*) layer=cli ;;
	esac
	check "$f" "$layer"
	n=$((n + 1))
done
echo "layering: $n files, $bad violations"
[ "$bad" -eq 0 ]
