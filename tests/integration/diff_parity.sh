#!/bin/bash
# Parity of `driftwatch diff` with the real `docker diff`, scenario by
# scenario, on real containers. Both sides are compared as sets, through
# JSON so that names with newlines or invalid UTF-8 compare exactly.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

# name | image | script run in the container (busybox sh)
scenarios=$(cat <<'EOF_SCENARIOS'
no_changes|dwtest:busybox|true
add_file|dwtest:busybox|echo hi >/new.txt
add_in_image_dir|dwtest:busybox|echo x >/etc/added
delete_image_file|dwtest:busybox|rm /etc/group
append_changes_size|dwtest:busybox|echo more >>/etc/passwd
same_size_new_mtime|dwtest:busybox|sleep 1; printf 'ROOT' | dd of=/etc/passwd conv=notrunc 2>/dev/null
chmod_file|dwtest:busybox|chmod 600 /etc/passwd
chown_file|dwtest:busybox|chown 65534:65534 /etc/passwd
touch_only|dwtest:busybox|sleep 1; touch /etc/passwd
setuid_bit|dwtest:busybox|chmod 4755 /bin/busybox
copy_up_same_mtime|dwtest:busybox|touch -r /etc/group /etc/group
copy_up_open_for_write|dwtest:busybox|: >>/etc/passwd
rename_within_dir|dwtest:busybox|mv /etc/group /etc/group2
rename_across_dirs|dwtest:busybox|mv /etc/group /tmp/group
rename_image_dir|dwtest:busybox|mv /usr /usr2
rmrf_then_recreate_opaque|dwtest:busybox|rm -rf /usr && mkdir /usr && echo x >/usr/new && mkdir /usr/lib && echo y >/usr/lib/libx.so
rmrf_recreate_other_names|dwtest:busybox|rm -rf /deep/a && mkdir /deep/a && touch /deep/a/new
delete_nested_tree|dwtest:busybox|rm -rf /deep
delete_nested_subtree|dwtest:busybox|rm -rf /deep/a/b
symlink_retarget|dwtest:busybox|ln -sfn /etc/shadow /bin/cat
symlink_dangling_changed|dwtest:busybox|ln -sfn /elsewhere /opt/dangling
symlinks_added|dwtest:busybox|ln -s /etc/shadow /shadowlink && ln -s / /rootlink && ln -s ../.. /tmp/up
hardlink_new_file|dwtest:busybox|echo x >/h1 && ln /h1 /h2
hardlink_image_file|dwtest:busybox|ln /etc/passwd /etc/passwd.hl
fifo|dwtest:busybox|mkfifo /tmp/fifo && mkfifo /etc/fifo
device_node|dwtest:busybox|mknod /tmp/null c 1 3
file_replaced_by_dir|dwtest:busybox|rm /etc/passwd && mkdir /etc/passwd && touch /etc/passwd/x
dir_replaced_by_file|dwtest:busybox|rm -rf /deep/a && echo x >/deep/a
dir_chmod|dwtest:busybox|chmod 700 /deep
dir_touch_only|dwtest:busybox|sleep 1; touch /deep/a
deep_new_tree|dwtest:busybox|mkdir -p /n/1/2/3/4/5/6/7/8 && touch /n/1/2/3/4/5/6/7/8/f
tree_10k|dwtest:busybox|mkdir -p /big && cd /big && i=0 && while [ $i -lt 10000 ]; do : >f$i; i=$((i+1)); done
tree_10k_in_image_dir|dwtest:busybox|cd /var/log && i=0 && while [ $i -lt 10000 ]; do : >l$i; i=$((i+1)); done
names_with_spaces|dwtest:busybox|touch '/tmp/with space' '/tmp/ lead' && mkdir '/a dir' && touch '/a dir/x y'
names_with_newlines|dwtest:busybox|touch "$(printf '/tmp/new\nline')" && mkdir "$(printf '/nl\ndir')"
names_invalid_utf8|dwtest:busybox|touch "$(printf '/tmp/bad\377name')" "$(printf '/tmp/\303\251t\303\251')" "$(printf '/tmp/trunc\342\202')"
names_backslash_tab|dwtest:busybox|touch "$(printf '/tmp/back\\slash')" "$(printf '/tmp/tab\there')"
lower_deleted_recreated|dwtest:layered|echo again >/layer/a
lower_deleted_tree_recreated|dwtest:layered|mkdir -p /layer/dir/sub && echo y >/layer/dir/y
lower_layer_file_deleted|dwtest:layered|rm /layer/b && echo z >>/layer/c
lower_layer_group_recreated|dwtest:layered|echo g >/etc/group
delete_and_recreate_same|dwtest:busybox|cp /etc/group /tmp/g && rm /etc/group && sleep 1 && cp /tmp/g /etc/group && rm /tmp/g
setcap|dwtest:busybox|touch -r /bin/capme /bin/capme
EOF_SCENARIOS
)

api_set() {
	dw_api "/containers/$1/changes" |
		jq -c '(. // [])[] | [(["C","A","D"])[.Kind], .Path]' | LC_ALL=C sort
}

dw_set() {
	"$DW" diff --format json "$1" | jq -c '.[] | [.kind, .path]' | LC_ALL=C sort
}

scenario_count=0
while IFS='|' read -r name image script; do
	[ -n "$name" ] || continue
	scenario_count=$((scenario_count + 1))
	c="dwp-$name"
	docker rm -f "$c" >/dev/null 2>&1
	if ! docker run --network none --name "$c" "$image" sh -c "$script" >/dev/null 2>&1; then
		fail "$name: scenario script failed in the container"
		continue
	fi
	if [ "$name" = setcap ]; then
		upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' "$c")
		setcap cap_net_raw+ep "$upper/bin/capme"
	fi
	want=$(api_set "$c")
	got=$(dw_set "$c")
	if [ "$want" == "$got" ]; then
		pass "$name ($(printf '%s' "$want" | grep -c .) changes)"
	else
		fail "$name"
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
		fail "$name: expected no changes"
	elif [ "$expect" != "-" ] && [ -n "$expect" ] &&
		! grep -qxF "$(jq -c . <<<"$expect")" <<<"$got"; then
		fail "$name: expected $expect"
	fi
	# Text output: the same set as `docker diff` for printable names.
	case "$name" in names_with_newlines | names_invalid_utf8 | names_backslash_tab) ;;
	*)
		if [ "$(docker diff "$c" | LC_ALL=C sort)" == "$("$DW" diff "$c" | LC_ALL=C sort)" ]; then
			pass "$name: text output equals docker diff"
		else
			fail "$name: text output differs from docker diff"
		fi
		;;
	esac
	docker rm -f "$c" >/dev/null
done <<<"$scenarios"

# Some scenarios must have produced what we expect, not merely agreed.
[ "$scenario_count" -ge 25 ] && pass "ran $scenario_count scenarios" || fail "only $scenario_count scenarios"
finish
