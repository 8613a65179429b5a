#!/bin/bash
# docker driftwatch: Docker's CLI plugin protocol, with the real docker
# client. The plugin (a link named docker-driftwatch) answers the
# metadata call, is listed by docker, reads the endpoint the docker
# command would use (-H, --context, $DOCKER_HOST, the current context)
# and refuses one that is not this host's (driftwatch reads its layers).
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
dw_scratch dwp-a
export DOCKER_CONFIG="$tmp/dockercfg"
mkdir -p "$DOCKER_CONFIG/cli-plugins"
ln -s "$DW" "$DOCKER_CONFIG/cli-plugins/docker-driftwatch"
docker run -d --network none --name "$c" dwtest:busybox sh -c 'echo x >/etc/drift; rm /etc/group; sleep 3600' >/dev/null
sleep 0.5
want=$(docker diff "$c" | LC_ALL=C sort -k2)

"$DOCKER_CONFIG/cli-plugins/docker-driftwatch" docker-cli-plugin-metadata |
	jq -e '.SchemaVersion == "0.1.0" and .Vendor == "driftwatch" and (.Version | length) > 0' >/dev/null &&
	pass "docker-cli-plugin-metadata: the JSON Docker wants" || fail "metadata"
docker --help 2>&1 | grep -q '^  driftwatch\*' && pass "docker lists it among its commands" ||
	fail "not listed: $(docker --help 2>&1 | grep -i drift)"
[ "$(docker driftwatch diff "$c")" == "$want" ] && pass "docker driftwatch diff = docker diff (\$DOCKER_HOST)" ||
	fail "diff: $(docker driftwatch diff "$c" 2>&1)"
[ "$(docker driftwatch version | head -1)" = "$("$DW" version | head -1)" ] && pass "docker driftwatch version" || fail "version"
[ "$(docker -H "$DOCKER_HOST" --log-level=error driftwatch diff "$c")" == "$want" ] &&
	pass "docker -H SOCKET --log-level=error driftwatch diff: Docker's global options read" || fail "-H"

# Contexts, as docker decides: --context, then the current one.
host=$DOCKER_HOST
unset DOCKER_HOST
docker context create dwp-local --docker "host=$host" >/dev/null 2>&1
docker context create dwp-far --docker "host=tcp://127.0.0.1:9" >/dev/null 2>&1
[ "$(docker --context dwp-local driftwatch diff "$c")" == "$want" ] && pass "docker --context NAME driftwatch diff" ||
	fail "--context: $(docker --context dwp-local driftwatch diff "$c" 2>&1)"
docker context use dwp-local >/dev/null 2>&1
[ "$(docker driftwatch diff "$c")" == "$want" ] && pass "the current context (docker context use)" ||
	fail "current context: $(docker driftwatch diff "$c" 2>&1)"
out=$(docker --context dwp-far driftwatch diff "$c" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "points at tcp://127.0.0.1:9: driftwatch reads this host's container layers" <<<"$out" &&
	pass "a remote context: refused, exit 2, said why" || fail "remote context: rc $rc: $out"
out=$(docker -H tcp://127.0.0.1:9 driftwatch diff "$c" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "points at tcp://" <<<"$out" && pass "-H tcp://...: refused" || fail "-H tcp: rc $rc: $out"
out=$(docker --context nosuch driftwatch diff "$c" 2>&1); rc=$?
[ $rc -ne 0 ] && pass "an unknown context: an error" || fail "unknown context: $out"
out=$(docker driftwatch scan . 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "'docker driftwatch scan' is not offered: run 'driftwatch scan'" <<<"$out" &&
	pass "a command that is not the plugin's: said which to run" || fail "scan: rc $rc: $out"
# Docker's flag parser's ways, each as docker would take it (review):
# runs of short flags, a second -H, an option of driftwatch's own before
# the command, $DOCKER_TLS_VERIFY, an empty --context.
for args in "-DHtcp://127.0.0.1:9" "-Dc dwp-far" "-D -c=dwp-far"; do
	out=$(docker $args driftwatch diff "$c" 2>&1); rc=$?
	[ $rc -eq 2 ] && grep -q "points at tcp://127.0.0.1:9" <<<"$out" && pass "docker $args driftwatch: refused as docker would connect there" ||
		fail "$args: rc $rc: $out"
done
out=$("$DOCKER_CONFIG/cli-plugins/docker-driftwatch" -H tcp://127.0.0.1:9 -H "$host" driftwatch diff "$c" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "only one -H" <<<"$out" && pass "two -H: an error, not the last one taken" || fail "two -H: rc $rc: $out"
out=$(docker driftwatch --host-root / rotate --help 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "takes Docker's options before 'driftwatch'" <<<"$out" &&
	pass "an option of driftwatch's own before the command: refused (no way around the command list)" || fail "--host-root: rc $rc: $out"
# (docker itself wants the certificates first: the plugin run as docker
# runs it, in the default context)
out=$(DOCKER_TLS_VERIFY=1 DOCKER_CONTEXT=default "$DOCKER_CONFIG/cli-plugins/docker-driftwatch" driftwatch diff "$c" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "points at tcp://localhost:2376" <<<"$out" && pass "\$DOCKER_TLS_VERIFY: docker's TLS endpoint, refused" ||
	fail "TLS verify: rc $rc: $out"
docker context use dwp-local >/dev/null 2>&1
[ "$(docker --context= driftwatch diff "$c" 2>&1)" == "$want" ] && pass "an empty --context is no context (the current one)" ||
	fail "--context=: $(docker --context= driftwatch diff "$c" 2>&1)"
docker help driftwatch >"$tmp/help" 2>&1 && grep -q "^commands: diff commit events status ps version verify evidence$" "$tmp/help" &&
	docker driftwatch --help >"$tmp/help2" 2>&1 && cmp -s "$tmp/help" "$tmp/help2" &&
	pass "docker help driftwatch, docker driftwatch --help: the plugin's commands" || fail "help: $(cat "$tmp/help" "$tmp/help2")"
"$DW" docker-cli-plugin-metadata >/dev/null 2>&1; [ $? -eq 2 ] &&
	pass "driftwatch under its own name is not the plugin" || fail "own name"
finish
