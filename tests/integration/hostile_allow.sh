#!/bin/bash
# Under a policy that allows /tmp/** (a usual one for scratch space), a
# container dropped an ELF into /tmp and nothing was raised: the path glob
# allowed it. Now a new or changed executable or ELF is critical whatever
# `allow` says; only allow_executables (image and paths) lowers it.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker

dw_scratch dwh-allow dwh-claim
cat >"$cfg" <<CFG
debounce_ms: 20
allow:
  - paths: ["/tmp/**", "/opt/**"]
  - namespace: kube-system
    paths: ["/srv/**"]
allow_executables:
  - image: "dwtest:busybox"
    paths: ["/opt/tools/**"]
CFG
docker run -d --network none --name "$c" dwtest:busybox sleep 3600 >/dev/null
id=$(docker inspect -f '{{.Id}}' "$c")
dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
docker exec "$c" sh -c 'cp /bin/busybox /tmp/elf; chmod 644 /tmp/elf;
	printf "#!/bin/sh\necho hi\n" >/tmp/x.sh; chmod 755 /tmp/x.sh;
	echo notes >/tmp/notes; mkdir -p /opt/tools; cp /bin/busybox /opt/tools/t;
	cp /bin/busybox /opt/other'
sev() {
	sqlite3 -readonly "$db" "SELECT severity FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='$1'"
}
dw_wait 10 sh -c "[ -n \"\$(sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/opt/other'\")\" ]" ||
	fail "changes not recorded"
[ "$(sev /tmp/elf)" = critical ] && pass "an ELF in /tmp (allowed path, not executable): critical" ||
	fail "/tmp/elf is $(sev /tmp/elf)"
[ "$(sev /tmp/x.sh)" = critical ] && pass "an executable script in /tmp: critical" ||
	fail "/tmp/x.sh is $(sev /tmp/x.sh)"
[ "$(sev /tmp/notes)" = allowed ] && pass "a text file in /tmp: allowed" || fail "/tmp/notes is $(sev /tmp/notes)"
[ "$(sev /opt/tools/t)" = allowed ] && pass "allow_executables allows its image's path" ||
	fail "/opt/tools/t is $(sev /opt/tools/t)"
[ "$(sev /opt/other)" = critical ] && pass "but not beside it" || fail "/opt/other is $(sev /opt/other)"
sqlite3 -readonly "$db" "SELECT payload FROM alerts WHERE kind='drift'" | grep -q '/tmp/elf' &&
	pass "the drift alert names /tmp/elf" || fail "no alert for /tmp/elf"

# A decoy the size of an ELF, recorded as harmless; then the ELF written
# over it in place, its mtime put back: size and mtime unchanged, and it
# was never looked at again. ctime and inode tell now.
docker exec "$c" sh -c 'head -c $(wc -c </bin/busybox) /dev/zero >/tmp/swap && touch -r /tmp/swap /tmp/ref'
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT severity FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/swap'\")\" = allowed ]" ||
	fail "decoy not recorded"
docker exec "$c" sh -c 'cat /bin/busybox >/tmp/swap && touch -r /tmp/ref /tmp/swap'
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT severity FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/swap'\")\" = critical ]" &&
	pass "an ELF written over a decoy, size and mtime kept: critical" || fail "/tmp/swap is $(sev /tmp/swap)"
# An ELF larger than max_file_size is still an ELF.
docker exec "$c" sh -c 'cat /bin/busybox >/tmp/big && head -c 20000000 /dev/zero >>/tmp/big'
dw_wait 10 sh -c "[ \"\$(sqlite3 -readonly '$db' \"SELECT severity FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/big'\")\" = critical ]" &&
	pass "an ELF over max_file_size: critical" || fail "/tmp/big is $(sev /tmp/big)"

# A Docker container (its image, or whoever runs it) claiming a pod's
# namespace by label: before, allow rules by namespace took the claim;
# Kubernetes' labels count on Docker only for the containers it starts
# through Docker (named k8s_...).
docker run -d --network none --name dwh-claim --label io.kubernetes.pod.namespace=kube-system \
	--label io.kubernetes.pod.name=kube-proxy-x dwtest:busybox sh -c 'sleep 1; mkdir -p /srv; echo x >/srv/f; sleep 3600' >/dev/null
cid=$(docker inspect -f '{{.Id}}' dwh-claim)
dw_wait 10 sh -c "[ -n \"\$(sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$cid' AND CAST(path AS TEXT)='/srv/f'\")\" ]" ||
	fail "claim: not recorded"
[ "$(sqlite3 -readonly "$db" "SELECT severity FROM changes WHERE container_id='$cid' AND CAST(path AS TEXT)='/srv/f'")" = medium ] &&
	pass "a Docker container's claimed pod namespace allows nothing" ||
	fail "claimed namespace: $(sqlite3 -readonly "$db" "SELECT severity FROM changes WHERE container_id='$cid' AND CAST(path AS TEXT)='/srv/f'")"
"$DW" ps --db "$db" --namespace kube-system --format json | jq -e 'length == 0' >/dev/null &&
	pass "nor puts it in that namespace" || fail "ps --namespace: $("$DW" ps --db "$db" --namespace kube-system --format json)"
finish
