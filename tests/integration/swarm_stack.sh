#!/bin/bash
# contrib/swarm/driftwatch-stack.yml deployed as operators would, with
# `docker stack deploy` on a real single-node swarm: driftwatchd runs as a
# global service (from an image made of the built programs and their
# libraries), and records the drift of a sibling container in its store
# on the node, not just starts.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
src=$DW_SRC_DIR
tmp=$(mktemp -d)
stack=dwswarm
cleanup() {
	docker stack rm "$stack" >/dev/null 2>&1
	for _ in $(seq 1 100); do
		[ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] && break
		sleep 0.2
	done
	dw_docker_rm dws-web
	docker swarm leave --force >/dev/null 2>&1
	docker rmi dwtest:driftwatchd >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
dw_docker_rm dws-web
docker swarm leave --force >/dev/null 2>&1

# The image: driftwatchd and driftwatch, the libraries they load (libcurl
# is opened at run time), users for the scanner to become.
r="$tmp/rootfs"
mkdir -p "$r"/{usr/local/bin,etc,tmp,var/lib/driftwatch,etc/driftwatch}
cp "$DWD" "$DW" "$r/usr/local/bin/"
curl_lib=$(ldconfig -p | awk '/libcurl\.so\.4 .*x86-64|libcurl\.so\.4 \(libc6,x86-64\)/ { print $NF; exit }')
for f in "$DWD" "$DW" $curl_lib; do
	ldd "$f" | awk '/=> \// { print $3 } /^\t\/[^ ]*ld-linux/ { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$r$(dirname "$lib")"
	cp -L "$lib" "$r$lib"
done
[ -n "$curl_lib" ] && mkdir -p "$r$(dirname "$curl_lib")" && cp -L "$curl_lib" "$r$curl_lib"
printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534::/:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
chmod 1777 "$r/tmp"
tar -C "$r" -cf "$tmp/img.tar" . &&
	docker import --change 'ENTRYPOINT ["/usr/local/bin/driftwatchd"]' "$tmp/img.tar" dwtest:driftwatchd >/dev/null &&
	pass "an image of the built driftwatchd" || { fail "docker import"; finish; exit 1; }

timeout 120 docker swarm init --advertise-addr 127.0.0.1:12378 --listen-addr 127.0.0.1:12378 >/dev/null ||
	{ fail "swarm init"; finish; exit 1; }
mkdir -p "$tmp/state"
(cd "$src/contrib/swarm" &&
	DRIFTWATCH_IMAGE=dwtest:driftwatchd DOCKER_SOCKET="${DOCKER_HOST#unix://}" \
		DOCKER_ROOT="$DW_DOCKER_ROOT/data" DRIFTWATCH_STATE="$tmp/state" \
		timeout 120 docker stack deploy -c driftwatch-stack.yml "$stack") >"$tmp/deploy.log" 2>&1 &&
	pass "docker stack deploy of contrib/swarm/driftwatch-stack.yml" || { fail "deploy: $(cat "$tmp/deploy.log")"; finish; exit 1; }

svc="${stack}_driftwatchd"
running=0
for _ in $(seq 1 150); do
	[ "$(docker service ps "$svc" --filter desired-state=running --format '{{.CurrentState}}' 2>/dev/null | grep -c '^Running')" -ge 1 ] && { running=1; break; }
	sleep 0.2
done
[ $running = 1 ] && pass "a global service: one task on the node, running" ||
	fail "service: $(docker service ps "$svc" --no-trunc --format '{{.CurrentState}} {{.Error}}' 2>&1 | head -3)"
# `docker stack deploy` drops what the stack format cannot carry
# silently (pid): what the task got is checked, not assumed.
task=$(docker ps -q --filter "label=com.docker.swarm.service.name=$svc" | head -1)
[ "$(docker inspect -f '{{json .HostConfig.CapDrop}} {{json .HostConfig.CapAdd}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Privileged}}' "$task" 2>&1)" = \
	'["ALL"] ["CAP_DAC_READ_SEARCH","CAP_SETGID","CAP_SETUID","CAP_SYS_ADMIN"] true false' ] &&
	pass "the task: every capability dropped but the four, read-only root, not privileged" ||
	fail "task: $(docker inspect -f '{{json .HostConfig.CapDrop}} {{json .HostConfig.CapAdd}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Privileged}}' "$task" 2>&1)"
db="$tmp/state/driftwatch.db"
for _ in $(seq 1 100); do
	"$DW" status --db "$db" --format json 2>/dev/null | jq -en 'input | .docker.connected' >/dev/null 2>&1 && break
	sleep 0.2
done
"$DW" status --db "$db" --format json 2>/dev/null | jq -en 'input | .docker.connected and .state == "running"' >/dev/null 2>&1 &&
	pass "driftwatchd in the service follows the node's dockerd" ||
	fail "status: $("$DW" status --db "$db" 2>&1 | head -5); logs: $(docker service logs --raw "$svc" 2>&1 | tail -5)"

# A sibling container drifts: the service records it.
docker run -d --network none --name dws-web dwtest:busybox sleep 600 >/dev/null
docker exec dws-web sh -c 'echo x >/etc/from-the-swarm-test' || fail "exec"
wid=$(docker inspect -f '{{.Id}}' dws-web)
q() { sqlite3 -readonly "$db" "$1" 2>/dev/null; }
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM events WHERE container_id = '$wid' AND CAST(path AS TEXT) = '/etc/from-the-swarm-test'")" = 1 ] && break
	sleep 0.2
done
[ "$(q "SELECT kind || ' ' || severity FROM events WHERE container_id = '$wid' AND CAST(path AS TEXT) = '/etc/from-the-swarm-test'")" = "A high" ] &&
	pass "the sibling's drift is in the store on the node (A, high)" ||
	fail "no event: $(q "SELECT container_id, CAST(path AS TEXT) FROM events" | tail -3); logs: $(docker service logs --raw "$svc" 2>&1 | tail -5)"
[ "$(dw_coverage "$db" "$wid" fs) $(dw_coverage "$db" "$wid" logs)" = "monitored  monitored " ] &&
	pass "its fs and logs facets: monitored" ||
	fail "coverage: $(dw_coverage "$db" "$wid" fs) / $(dw_coverage "$db" "$wid" logs)"
[ "$("$DW" events --db "$db" --container dws-web --current)" = "$(docker diff dws-web)" ] &&
	pass "its current drift equals docker diff" || fail "diff: $("$DW" events --db "$db" --container dws-web --current)"
# The scanner process confined itself in the service too.
"$DW" status --db "$db" --format json | jq -en 'input | .scanner.confined == true' >/dev/null 2>&1 &&
	pass "the scanner is confined (its own user, seccomp)" || fail "scanner: $("$DW" status --db "$db" --format json | jq -c .scanner)"
finish
