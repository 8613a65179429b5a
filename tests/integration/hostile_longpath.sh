#!/bin/bash
# A container nests directories whose path is longer than PATH_MAX
# (30 names of 200 bytes: 6 KB). Before, the daemon's watches and its
# file analysis went by path: directories past 4096 bytes got no watch,
# and files there were never hashed, ELF-checked or scanned, so a secret
# written there went unseen until the periodic rescan, and then unscanned.
# Now watches and analysis go relative to descriptors, whatever the
# length.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
G="$DW_BUILD/tests/gentoken"

dw_scratch dwh-long
docker run -d --network none --name "$c" dwtest:busybox sh -c \
	'dwctr longname /tmp 30 && touch /tmp/ready && sleep 3600' >/dev/null
id=$(docker inspect -f '{{.Id}}' "$c")
dw_wait 20 docker exec "$c" test -e /tmp/ready || fail "the container did not build its tree"

dw_daemon_start "$cfg" "$db" "$tmp/log" || fail "daemon start"
q() { sqlite3 -readonly "$db" "$1"; }
dw_wait 10 sh -c "sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT)='/tmp/ready'\" | grep -q 1" ||
	fail "nothing recorded"
for _ in $(seq 1 20); do
	w=$("$DW" status --db "$db" --format json | jq --arg n "$c" '.watched[] | select(.name == $n) | .watches')
	[ "${w:-0}" -ge 32 ] && break
	sleep 0.2
done
[ "${w:-0}" -ge 32 ] && pass "every directory watched, past PATH_MAX too ($w watches)" ||
	fail "watches: $w"

# A secret written at the bottom, while the daemon watches.
docker exec "$c" dwctr longname /tmp 30 secret.env "GITHUB_TOKEN=$($G github l1)"
like="%/secret.env"
dw_wait 10 sh -c "sqlite3 -readonly '$db' \"SELECT 1 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT) LIKE '$like' AND sha256 IS NOT NULL\" | grep -q 1" &&
	pass "the new file is recorded at once and hashed" || fail "not recorded or not hashed"
[ "$(q "SELECT length(CAST(path AS TEXT)) > 4096 FROM changes WHERE container_id='$id' AND CAST(path AS TEXT) LIKE '$like'")" = 1 ] &&
	pass "its path is longer than PATH_MAX" || fail "path length"
dw_wait 5 sh -c "sqlite3 -readonly '$db' \"SELECT 1 FROM findings WHERE rule='github-token' AND CAST(path AS TEXT) LIKE '$like'\" | grep -q 1" &&
	pass "and the secret in it is found" || fail "secret not found"
[ "$(dw_coverage "$db" "$id" fs)" = "monitored " ] && pass "fs facet monitored" ||
	fail "coverage: $(dw_coverage "$db" "$id" fs)"
finish
