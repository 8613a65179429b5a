# Parity of `driftwatch diff` with the real `docker diff` for one
# scenario container (tests/data/diff_scenarios.txt): both sides compared
# as sets through JSON, so that names with newlines or invalid UTF-8
# compare exactly; then what each scenario must show, and the text output.
# $DW_DIFF (an array) is the driftwatch command line before "diff".

api_set() {
	dw_api "/containers/$1/changes" |
		jq -c '(. // [])[] | [(["C","A","D"])[.Kind], .Path]' | LC_ALL=C sort
}

dw_set() {
	"${DW_DIFF[@]}" diff --format json "$1" | jq -c '.[] | [.kind, .path]' | LC_ALL=C sort
}

# parity_check NAME CONTAINER [LABEL]
parity_check() {
	local name=$1 c=$2 label=${3:-} want got expect
	want=$(api_set "$c")
	got=$(dw_set "$c")
	if [ "$want" == "$got" ]; then
		pass "$label$name ($(printf '%s' "$want" | grep -c .) changes)"
	else
		fail "$label$name"
		diff <(echo "$want") <(echo "$got") | sed 's/^/    /' | head -20
	fi
	# Agreement alone could be two empty answers: pin what matters.
	case "$name" in
	setcap) expect='["C","/bin/capme"]' ;;
	copy_up_same_mtime | copy_up_open_for_write | no_changes | dir_touch_only) expect="" ;;
	rmrf_then_recreate_opaque) expect='["C","/usr/lib/libx.so"]' ;;
	delete_nested_tree) expect='["D","/deep"]' ;;
	lower_deleted_recreated) expect='["A","/layer/a"]' ;;
	names_invalid_utf8) expect='["A","/tmp/bad\ufffdname"]' ;;
	tree_10k) expect='["A","/big/f9999"]' ;;
	*) expect="-" ;;
	esac
	if [ "$expect" = "" ] && [ -n "$got" ]; then
		fail "$label$name: expected no changes"
	elif [ "$expect" != "-" ] && [ -n "$expect" ] &&
		! grep -qxF "$(jq -c . <<<"$expect")" <<<"$got"; then
		fail "$label$name: expected $expect"
	fi
	# Text output: the same set as `docker diff` for printable names.
	case "$name" in names_with_newlines | names_invalid_utf8 | names_backslash_tab | hostile_shapes) ;;
	*)
		if [ "$(docker diff "$c" | LC_ALL=C sort)" == "$("${DW_DIFF[@]}" diff "$c" | LC_ALL=C sort)" ]; then
			pass "$label$name: text output equals docker diff"
		else
			fail "$label$name: text output differs from docker diff"
		fi
		;;
	esac
}
