#!/bin/bash
# The tree is formatted with .clang-format: the same check .ci/run makes,
# here so that a local ctest run catches it before CI does.
set -uo pipefail
src=${DW_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 1
if ! command -v clang-format >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "SKIP: format: needs clang-format and a git checkout" >&2
	[ "${CI:-}" = true ] && exit 1
	exit 77
fi
git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror
