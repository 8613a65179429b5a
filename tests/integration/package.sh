#!/bin/bash
# Installing as an operator would: `cmake --install` lays out every file
# (checked file by file, and an operator's configuration is never
# overwritten), `cpack -G DEB` builds a package that Debian's lintian
# passes, `apt-get install ./driftwatch_*.deb` installs it (its user,
# its state dir 0700, the inotify limits), the programs and the bash and
# zsh completion work from it, `remove` keeps the store and the
# configuration and `purge` deletes them. No systemd runs here: the
# maintainer scripts' systemd branch is read, not run.
. "$(dirname "$0")/../lib/common.sh"
dw_need_root
command -v cpack >/dev/null && command -v dpkg-deb >/dev/null || dw_skip "no cpack or dpkg-deb"
command -v lintian >/dev/null || dw_skip "no lintian (Debian's lintian package)"
tmp=$(mktemp -d)
aside=
# The package raises the host's inotify limits: put back after.
old_w=$(cat /proc/sys/fs/inotify/max_user_watches)
old_q=$(cat /proc/sys/fs/inotify/max_queued_events)
cleanup() {
	echo "$old_w" >/proc/sys/fs/inotify/max_user_watches
	echo "$old_q" >/proc/sys/fs/inotify/max_queued_events
	dpkg -s driftwatch >/dev/null 2>&1 && apt-get purge -y -q driftwatch >/dev/null 2>&1
	if [ -n "$aside" ]; then
		rm -rf /var/lib/driftwatch /etc/driftwatch
		[ -e "$aside/var-lib" ] && mv "$aside/var-lib" /var/lib/driftwatch
		[ -e "$aside/etc" ] && mv "$aside/etc" /etc/driftwatch
		rmdir "$aside" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# 1. cmake --install into a prefix: every file, in its place.
p="$tmp/prefix"
cmake --install "$DW_BUILD" --prefix "$p" >"$tmp/install.log" 2>&1 || { fail "cmake --install: $(tail -3 "$tmp/install.log")"; finish; exit 1; }
cat >"$tmp/want" <<'LIST'
bin/driftwatch
bin/driftwatchd
etc/driftwatch/driftwatch.yaml
lib/sysctl.d/60-driftwatch.conf
lib/systemd/system/driftwatchd.service
share/bash-completion/completions/driftwatch
share/doc/driftwatch/.pre-commit-hooks.yaml
share/doc/driftwatch/README.md
share/doc/driftwatch/changelog.Debian.gz
share/doc/driftwatch/copyright
share/doc/driftwatch/driftwatch.yaml
share/doc/driftwatch/examples/fleet/otelcol-driftwatch.yaml
share/doc/driftwatch/examples/fleet/rsyslog-driftwatch.conf
share/doc/driftwatch/examples/kubernetes/driftwatch.yaml
share/doc/driftwatch/examples/swarm/driftwatch-stack.yml
share/doc/driftwatch/examples/swarm/driftwatch.yaml
share/zsh/vendor-completions/_driftwatch
LIST
for m in "$DW_SRC_DIR"/contrib/man/*.[158]; do
	n=$(basename "$m")
	echo "share/man/man${n##*.}/$n.gz"
done >>"$tmp/want"
sort -o "$tmp/want" "$tmp/want"
(cd "$p" && find . -type f | sed 's|^\./||' | sort) >"$tmp/got"
diff "$tmp/want" "$tmp/got" >"$tmp/diff" && pass "cmake --install: every file in its place ($(wc -l <"$tmp/got") files)" ||
	fail "installed files differ: $(cat "$tmp/diff")"
[ "$(readlink "$p/libexec/docker/cli-plugins/docker-driftwatch")" = ../../../bin/driftwatch ] &&
	"$p/libexec/docker/cli-plugins/docker-driftwatch" docker-cli-plugin-metadata | jq -e '.SchemaVersion == "0.1.0"' >/dev/null &&
	pass "Docker's CLI plugin: a relative link to driftwatch in libexec/docker/cli-plugins" ||
	fail "plugin link: $(ls -l "$p/libexec/docker/cli-plugins" 2>&1)"
grep -qx "ExecStart=$p/bin/driftwatchd" "$p/lib/systemd/system/driftwatchd.service" &&
	pass "the unit runs the installed driftwatchd" || fail "unit: $(grep ExecStart "$p/lib/systemd/system/driftwatchd.service")"
zcat "$p/share/man/man8/driftwatchd.8.gz" | groff -man -ww -z && pass "manual pages installed compressed, and render" || fail "man pages"
echo "debounce_ms: 99  # the operator's" >>"$p/etc/driftwatch/driftwatch.yaml"
cmake --install "$DW_BUILD" --prefix "$p" >"$tmp/install2.log" 2>&1
grep -q "the operator's" "$p/etc/driftwatch/driftwatch.yaml" && grep -q "Kept: .*driftwatch.yaml" "$tmp/install2.log" &&
	pass "installing again keeps the operator's configuration, and says so" || fail "configuration overwritten"

# 2. The Debian package.
(cd "$tmp" && cpack -G DEB --config "$DW_BUILD/CPackConfig.cmake" -B "$tmp/deb") >"$tmp/cpack.log" 2>&1
deb=$(ls "$tmp"/deb/driftwatch_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] && pass "cpack -G DEB: $(basename "$deb")" || { fail "cpack: $(tail -5 "$tmp/cpack.log")"; finish; exit 1; }
dpkg-deb -I "$deb" >"$tmp/info"
grep -q '^ Depends:.*libc6.*libsqlite3-0.*' "$tmp/info" && grep -q '^ Depends: libcurl4, libarchive13, libgit2' "$tmp/info" &&
	pass "Depends from dpkg-shlibdeps, and the libraries it loads at run time" || fail "depends: $(grep Depends "$tmp/info")"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/driftwatch/driftwatch.yaml &&
	pass "/etc/driftwatch/driftwatch.yaml is a conffile" || fail "conffiles"
dpkg-deb -c "$deb" >"$tmp/contents"
grep -q ' ./lib/systemd/system/driftwatchd.service$' "$tmp/contents" && grep -q ' ./usr/bin/driftwatchd$' "$tmp/contents" &&
	pass "the unit in systemd's dir, the programs in /usr/bin" || fail "layout: $(dpkg-deb -c "$deb" | head)"
lintian --allow-root "$deb" >"$tmp/lintian" 2>&1
# Warnings that stay, and why:
#   initial-upload-closes-no-bugs: the package is not uploaded to
#   Debian's archive, so its first changelog entry closes no ITP bug.
#   non-standard-file-perm ... etc/driftwatch/driftwatch.yaml: 0600 on
#   purpose: its webhook URLs are secrets (Slack's carry their token).
grep -v -e '^W: driftwatch: initial-upload-closes-no-bugs ' \
	-e '^W: driftwatch: non-standard-file-perm 0600 != 0644 \[etc/driftwatch/driftwatch.yaml\]' \
	"$tmp/lintian" | grep -E '^[EW]: ' >"$tmp/lintian.left"
[ ! -s "$tmp/lintian.left" ] && pass "lintian: no error, no unexplained warning" || fail "lintian: $(cat "$tmp/lintian.left")"

# 3. Installed on this machine, used, removed, purged. What an operator
# has in /var/lib/driftwatch and /etc/driftwatch is put aside first.
aside=$(mktemp -d)
[ -e /var/lib/driftwatch ] && mv /var/lib/driftwatch "$aside/var-lib"
[ -e /etc/driftwatch ] && mv /etc/driftwatch "$aside/etc"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" >"$tmp/apt.log" 2>&1 &&
	pass "apt-get install ./$(basename "$deb")" || { fail "apt-get install: $(tail -5 "$tmp/apt.log")"; finish; exit 1; }
[ "$(/usr/bin/driftwatch version 2>&1 | head -1)" = "$("$DW" version | head -1)" ] && pass "driftwatch version: $(/usr/bin/driftwatch version | head -1)" ||
	fail "version: $(/usr/bin/driftwatch version 2>&1)"
[ "$(DOCKER_CONFIG=$tmp/nodockercfg docker driftwatch version 2>&1 | head -1)" = "$("$DW" version | head -1)" ] &&
	pass "docker driftwatch: the installed plugin, found by the docker client" ||
	fail "docker driftwatch: $(DOCKER_CONFIG=$tmp/nodockercfg docker driftwatch version 2>&1 | head -3)"
/usr/bin/driftwatchd --foreground --once --no-docker --no-mounts --db "$tmp/once.db" 2>"$tmp/once.log" &&
	pass "driftwatchd --once runs, with the installed configuration" || fail "driftwatchd: $(tail -3 "$tmp/once.log")"
[ "$(stat -c '%a %U' /var/lib/driftwatch)" = "700 root" ] && pass "/var/lib/driftwatch: 0700, root's" || fail "state dir: $(stat -c '%a %U' /var/lib/driftwatch 2>&1)"
getent passwd driftwatch | grep -q ':/nonexistent:/usr/sbin/nologin$' && pass "the driftwatch system user, for the scanner" || fail "user: $(getent passwd driftwatch)"
echo 8192 >/proc/sys/fs/inotify/max_user_watches
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --reinstall "$deb" >>"$tmp/apt.log" 2>&1
[ "$(cat /proc/sys/fs/inotify/max_user_watches)" = 1048576 ] && pass "the inotify limits applied (on install, from 8192)" || fail "sysctl: $(cat /proc/sys/fs/inotify/max_user_watches)"
bash -c '. /usr/share/bash-completion/completions/driftwatch && complete -p driftwatch' 2>&1 | grep -q -- '-F _driftwatch driftwatch' &&
	pass "bash completion: complete -p driftwatch" || fail "bash completion"
got=$(bash -c '. /usr/share/bash-completion/completions/driftwatch
	COMP_WORDS=(driftwatch scan --fo); COMP_CWORD=2; _driftwatch; echo "${COMPREPLY[*]}"
	COMP_WORDS=(driftwatch ""); COMP_CWORD=1; _driftwatch; echo "${COMPREPLY[*]}"')
[ "$got" = "--format
allow commit diff events evidence hook key ps rules rotate scan status verify version" ] && pass "bash completion: commands and options from the installed driftwatch" ||
	fail "bash completion gave: $got"
if command -v zsh >/dev/null; then
	# (As zsh's completion system runs it: a function, with these of
	# its builtins' stand-ins printing what they are given.)
	got=$(zsh -c 'compadd() { [[ $1 == -- ]] && shift; print -r -- "$*"; }
		_describe() { print -r -- "${(P)4}"; }
		_files() { print files; }
		_driftwatch() { source /usr/share/zsh/vendor-completions/_driftwatch; }
		words=(driftwatch ps --); CURRENT=3; PREFIX=--; _driftwatch
		words=(driftwatch ""); CURRENT=2; PREFIX=; _driftwatch' 2>&1)
	grep -qx -- '--all --db --format --help --namespace' <<<"$got" && grep -q '^allow:propose allow rules.* commit:snapshot' <<<"$got" &&
		pass "zsh completion: commands and options" || fail "zsh completion gave: $got"
fi
echo "kept" >/var/lib/driftwatch/driftwatch.db
mkdir -p /var/lib/driftwatch/snapshots && echo "evidence" >/var/lib/driftwatch/snapshots/web.tar
echo "# the operator's" >>/etc/driftwatch/driftwatch.yaml
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q driftwatch >"$tmp/rm.log" 2>&1 || fail "remove: $(tail -3 "$tmp/rm.log")"
[ ! -e /usr/bin/driftwatch ] && [ -f /var/lib/driftwatch/driftwatch.db ] && grep -q "the operator's" /etc/driftwatch/driftwatch.yaml &&
	pass "remove: the programs go; the store and the configuration stay" || fail "remove left: $(ls /usr/bin/driftwatch /var/lib/driftwatch 2>&1)"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q driftwatch >"$tmp/purge.log" 2>&1 || fail "purge: $(tail -3 "$tmp/purge.log")"
[ ! -e /var/lib/driftwatch/driftwatch.db ] && [ ! -e /etc/driftwatch ] && pass "purge: the store and the configuration go too" ||
	fail "purge left: $(ls -d /var/lib/driftwatch/driftwatch.db /etc/driftwatch 2>&1)"
[ -f /var/lib/driftwatch/snapshots/web.tar ] && grep -q "snapshots is kept" "$tmp/purge.log" &&
	pass "but never snapshots (evidence): kept, and said" || fail "snapshots: $(ls /var/lib/driftwatch 2>&1) $(cat "$tmp/purge.log" | tail -3)"
rm -rf /var/lib/driftwatch
# Removed and installed again: started again, not left masked (a remove
# masks the unit, the next install unmasks it).
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" >>"$tmp/apt.log" 2>&1
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q driftwatch >>"$tmp/apt.log" 2>&1
[ -L /etc/systemd/system/driftwatchd.service ] && [ "$(readlink /etc/systemd/system/driftwatchd.service)" = /dev/null ] &&
	pass "remove: the unit masked (as debhelper does)" || fail "not masked: $(ls -l /etc/systemd/system/driftwatchd.service 2>&1)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" >>"$tmp/apt.log" 2>&1
[ ! -e /etc/systemd/system/driftwatchd.service ] && [ -L /etc/systemd/system/multi-user.target.wants/driftwatchd.service ] &&
	pass "installed again: unmasked and enabled" || fail "after reinstall: $(ls -l /etc/systemd/system/driftwatchd.service /etc/systemd/system/multi-user.target.wants/ 2>&1)"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q driftwatch >>"$tmp/apt.log" 2>&1
finish
