# Shared helpers for the integration tests (sourced, bash).
# Environment from ctest: DW_BUILD (build dir), DW_SRC (source dir).

set -u
: "${DW_BUILD:?DW_BUILD must point at the build directory}"
DW="$DW_BUILD/driftwatch"
DWD="$DW_BUILD/driftwatchd"
DW_DOCKER_ENV="$DW_BUILD/test-docker.env"
# Snapshots are signed: with the tests' key, never the host's.
export DRIFTWATCH_SIGNING_KEY="$DW_BUILD/test-signing.key"
# Docker 26 on its containerd image store, in a chroot (docker26 fixture).
DW_DOCKER26_ENV="$DW_BUILD/test-docker26.env"
DW_DOCKER26_ROOT=${DW_DOCKER26_ROOT:-/var/lib/driftwatch-test/docker26}
DW_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

dw_skip() {
	# ctest maps 77 to "skipped"; in CI a skip is a failure.
	echo "SKIP: $*" >&2
	echo "############################################################" >&2
	echo "## THIS TEST DID NOT RUN: $*" >&2
	echo "############################################################" >&2
	if [ "${CI:-}" = "true" ]; then
		echo "FAIL: tests must run in CI" >&2
		exit 1
	fi
	exit 77
}

dw_need_root() {
	[ "$(id -u)" -eq 0 ] || dw_skip "needs root (overlay whiteouts, trusted xattrs, dockerd)"
}

# Is the build under test a sanitizer build (ASan's runtime linked)?
dw_sanitized() { ldd "$DWD" | grep -q libasan; }

# Load the private dockerd started by the docker_setup fixture.
dw_need_docker() {
	dw_need_root
	[ -r "$DW_DOCKER_ENV" ] || dw_skip "no test dockerd (docker_setup fixture failed)"
	# shellcheck disable=SC1090
	. "$DW_DOCKER_ENV"
	export DOCKER_HOST
	docker version >/dev/null 2>&1 || dw_skip "test dockerd at $DOCKER_HOST is not answering"
	dw_docker_unwedge
}

# docker rm -f, one at a time and bounded: a container wedged in dockerd
# must not hang the test until ctest's timeout (the next test's
# dw_docker_unwedge clears it). Docker 20.10 once wedged three of seven
# containers removed at once, in CI (two with lines over 16 KiB, one
# rotating its log).
dw_docker_rm() {
	local c t=60
	for c in "$@"; do
		timeout "$t" docker rm -f "$c" >/dev/null 2>&1
		[ $? -ne 124 ] && continue
		echo "# WARNING: docker rm -f $c did not finish in $t s (wedged in dockerd?)" >&2
		t=5
	done
	return 0
}

# A container an earlier test left wedged in the test dockerd (its lock
# held forever: a log driver blocked on a receiver that stopped reading,
# a stop that never ends) hangs every request about it, and every later
# test with it. Said loudly, with dockerd's goroutine dump, and the test
# dockerd restarted (its containers stop; the images stay).
dw_docker_unwedge() {
	local id stacks wedged=
	for id in $(timeout 10 docker ps -q); do
		timeout 5 docker inspect -f . "$id" >/dev/null 2>&1 || wedged="$wedged $id"
	done
	[ -z "$wedged" ] && return 0
	echo "# WARNING: the test dockerd does not answer for container(s)$wedged:" >&2
	timeout 10 docker ps --no-trunc --format '#   {{.ID}} {{.Names}} {{.Command}} {{.Status}}' >&2
	kill -USR1 "$(cat "$DW_DOCKER_ROOT/dockerd.pid")" 2>/dev/null && sleep 1
	stacks=$(grep -o 'goroutine stacks written to [^"]*' "$DW_DOCKER_ROOT/dockerd.log" | tail -1 | sed 's/.* to //')
	if [ -r "$stacks" ]; then
		echo "# dockerd's goroutines in its logger and container code ($stacks):" >&2
		grep -oE '(docker/docker|moby/moby)/(daemon|container)[A-Za-z0-9_/]*\.(\(\*?[A-Za-z0-9_]+\)\.)?[A-Za-z0-9_]+' "$stacks" |
			grep -v '\.go$' | sort | uniq -c | sort -rn | head -20 | sed 's/^/#   /' >&2
	fi
	echo "# restarting the test dockerd" >&2
	dw_dockerd_stop "$DW_DOCKER_ROOT"
	dw_dockerd_start "$DW_DOCKER_ROOT"
	dw_dockerd_wait "$DW_DOCKER_ROOT" || dw_skip "the test dockerd did not come back"
}

# The private dockerd under ROOT (the fixture's, and tests that restart it).
dw_dockerd_start() {
	dockerd --bridge=none --iptables=false --ip6tables=false \
		--storage-driver=overlay2 --data-root "$1/data" \
		--exec-root "$1/exec" --pidfile "$1/dockerd.pid" \
		-H "unix://$1/docker.sock" >>"$1/dockerd.log" 2>&1 &
}

dw_dockerd_wait() {
	for _ in $(seq 1 120); do
		DOCKER_HOST="unix://$1/docker.sock" docker version >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "dockerd did not come up; its log:" >&2
	tail -50 "$1/dockerd.log" >&2
	return 1
}

dw_dockerd_stop() {
	local pid
	pid=$(cat "$1/dockerd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	kill -9 "$pid" 2>/dev/null
}

# One daemon test's scratch: dw_scratch CONTAINER... sets $tmp (removed
# on exit), $db, $cfg (debounce_ms: 20), $pid (the daemon, killed on
# exit) and $c (the first container); the containers are removed before
# and after. A script's own dw_scratch_extra, if defined, runs on exit too.
dw_scratch() {
	tmp=$(mktemp -d)
	db="$tmp/state/driftwatch.db"
	cfg="$tmp/driftwatch.yaml"
	c=$1
	pid=
	DW_SCRATCH_CONTAINERS=("$@")
	trap dw_scratch_cleanup EXIT
	dw_docker_rm "$@"
	printf 'debounce_ms: 20\n' >"$cfg"
}
dw_scratch_cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	declare -F dw_scratch_extra >/dev/null && dw_scratch_extra
	dw_docker_rm "${DW_SCRATCH_CONTAINERS[@]}"
	rm -rf "$tmp"
}

# Start driftwatchd in the background: dw_daemon_start CONFIG DB LOG
# [ARGS...]. Sets $pid; returns once it says it runs and follows dockerd.
dw_daemon_start() {
	local cfg=$1 db=$2 log=$3
	shift 3
	"$DWD" --foreground --config "$cfg" --db "$db" --no-mounts "$@" 2>>"$log" &
	pid=$!
	for _ in $(seq 1 100); do
		"$DW" status --db "$db" --format json 2>/dev/null |
			jq -en 'input | .docker.connected and .state == "running"' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "driftwatchd did not connect; its log:"
	tail -20 "$log"
	return 1
}

# Benchmarks: use the test dockerd, starting it (and stopping it again
# in dw_bench_docker_done) when none is up.
dw_bench_docker() {
	dw_bench_started=0
	if [ ! -r "$DW_DOCKER_ENV" ]; then
		bash "$DW_SRC_DIR/tests/integration/docker_setup.sh" >/dev/null || exit 1
		dw_bench_started=1
	fi
	dw_need_docker
}

dw_bench_docker_done() {
	[ "${dw_bench_started:-0}" -eq 1 ] &&
		bash "$DW_SRC_DIR/tests/integration/docker_teardown.sh" >/dev/null
	return 0
}

# The test images' base: busybox applets, a small /etc, trees to delete,
# the hostile container's tools (tests/tools/dwctr.c); DIR/rootfs.tar.
dw_busybox_rootfs() {
	local rootfs="$1/rootfs" a
	mkdir -p "$rootfs"/{bin,etc,tmp,root,usr/lib,var/log,deep/a/b/c,opt}
	cp /bin/busybox "$rootfs/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' >"$rootfs/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
	echo "capable" >"$rootfs/bin/capme"
	cp "$DW_BUILD/tests/dwctr" "$rootfs/bin/dwctr"
	echo one >"$rootfs/deep/a/b/c/file"
	echo two >"$rootfs/deep/a/other"
	echo lib >"$rootfs/usr/lib/libx.so"
	ln -s /nonexistent "$rootfs/opt/dangling"
	chmod 1777 "$rootfs/tmp"
	tar -C "$rootfs" -cf "$1/rootfs.tar" .
}

# dwtest:layered: files added in one layer and deleted in the next.
dw_layered_images() {
	docker run --network none --name dw-layer1 dwtest:busybox sh -c \
		'mkdir -p /layer/dir/sub && echo a >/layer/a && echo b >/layer/b &&
		 echo x >/layer/dir/sub/x && echo c >/layer/c'
	docker commit dw-layer1 dwtest:layer1 >/dev/null
	docker rm dw-layer1 >/dev/null
	docker run --network none --name dw-layer2 dwtest:layer1 sh -c \
		'rm /layer/a && rm -rf /layer/dir && rm /etc/group'
	docker commit dw-layer2 dwtest:layered >/dev/null
	docker rm dw-layer2 >/dev/null
}

# docker: prefer Debian's client, which matches Debian's dockerd.
docker() {
	if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi
}

# GET on the Docker API, for answers the CLI would mangle.
dw_api() {
	curl -fsS --unix-socket "${DOCKER_HOST#unix://}" "http://docker$1"
}

FAILS=0
PASSES=0
# jq -e exits 0 when it had no input at all (jq 1.6): an assertion on
# nothing would pass. Here -e (or --exit-status) that wrote nothing
# fails. Only jq's own options are looked at (those before the filter,
# the values of --arg and the like skipped); the output is passed on
# byte for byte. (In `sh -c` this function does not exist: say
# `[ "$(... | jq -r ...)" = true ]` there.)
jq() {
	local a e=0 skip=0 out rc
	for a in "$@"; do
		if [ $skip -gt 0 ]; then
			skip=$((skip - 1))
			continue
		fi
		case $a in
		--arg | --argjson | --slurpfile | --rawfile) skip=2 ;;
		--indent | -f | --from-file | -L) skip=1 ;;
		--exit-status) e=1 ;;
		--args | --jsonargs) break ;;
		--*) ;;
		-[a-zA-Z]*) case $a in *e*) e=1 ;; esac ;;
		*) break ;; # the filter: what follows is not jq's options
		esac
	done
	if [ $e = 0 ]; then
		command jq "$@"
		return
	fi
	out=$(mktemp)
	command jq "$@" >"$out"
	rc=$?
	if [ $rc = 0 ] && [ ! -s "$out" ]; then
		rm -f "$out"
		echo "jq -e: no output (no input?): nothing asserted" >&2
		return 4
	fi
	cat "$out"
	rm -f "$out"
	return $rc
}

pass() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }
finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}

# dw_wait SECONDS CMD...: run CMD every 0.1 s until it succeeds; 1 when
# it never did.
dw_wait() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq 1 "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# The coverage of facet $3 of container $2 in store $1: "state reason".
dw_coverage() {
	sqlite3 -readonly "$1" "SELECT state || ' ' || reason FROM coverage
		WHERE container_id = '$2' AND facet = '$3'" 2>/dev/null
}

# The outputs' tests: driftwatchd with config $1 and store $2 in the
# background ($pid), its log appended to $3, until it watches the
# overlay mount $4.
dw_output_daemon() {
	"$DWD" --foreground --config "$1" --db "$2" 2>>"$3" &
	pid=$!
	dw_wait 10 bash -c "'$DW' status --db '$2' --format json | jq -e --arg m '$4' '.watched[] | select(.name == \$m)'" ||
		fail "the mount was not watched: $(tail -5 "$3")"
}

# Every event, finding and alert of store $1 as its event.id on host $2,
# sorted.
dw_output_ids() {
	sqlite3 "$1" "SELECT '$2:event:' || id FROM events UNION ALL SELECT '$2:finding:' || id FROM findings UNION ALL SELECT '$2:' || id FROM alerts" | sort
}

# Certificates for TLS receivers, in directory $1: a CA (ca.pem,
# ca.key); the receiver's for 127.0.0.1 (server.pem, server.key), whose
# name is not the address (the address is in its SAN only); a client's
# signed by the CA (client.pem, client.key); another CA (other.pem).
dw_test_ca() (
	cd "$1" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=dw-test-ca 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=dw-test-receiver 2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1\n' >san.ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=dw-test-client 2>/dev/null &&
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca 2>/dev/null
)
