#!/bin/bash
# driftwatchd as it runs on a host: containers come, change, get renamed,
# stop and go; the store's current changes must equal docker diff for
# every scenario of the diff parity test. Severities, allow globs,
# secrets written inside containers, SIGHUP, SIGKILL and a dockerd
# restart, with changes made while each was down.
. "$(dirname "$0")/../lib/common.sh"
dw_need_docker
G="$DW_BUILD/tests/gentoken"

tmp=$(mktemp -d)
db="$tmp/state/driftwatch.db"
cfg="$tmp/driftwatch.yaml"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	docker ps -aq --filter label=dwlive | timeout 60 xargs -r docker rm -f >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
docker ps -aq --filter label=dwlive | timeout 60 xargs -r docker rm -f >/dev/null 2>&1

cat >"$cfg" <<EOF
allow:
  - paths: ["/tmp/allowed/**"]
  - label: dwlive.role=web
    paths: ["/var/cache/**"]
debounce_ms: 20
EOF

start_daemon() { dw_daemon_start "$cfg" "$db" "$tmp/log" --verbose; }

# The store's current changes of $1 as [kind, path] lines, sorted.
store_set() {
	"$DW" events --db "$db" --container "$1" --current --format jsonl 2>/dev/null |
		jq -c '[.kind, .path]' | LC_ALL=C sort
}
docker_set() {
	dw_api "/containers/$1/changes" |
		jq -c '(. // [])[] | [(["C","A","D"])[.Kind], .Path]' | LC_ALL=C sort
}
# Wait until the store agrees with docker diff (at most $2 seconds).
settled() {
	local want got
	want=$(docker_set "$1")
	for _ in $(seq 1 $((${2:-10} * 10))); do
		got=$(store_set "$1")
		[ "$want" == "$got" ] && return 0
		sleep 0.1
	done
	diff <(echo "$want") <(echo "$got") | head -10 | sed 's/^/    /'
	return 1
}
q() { sqlite3 -readonly "$db" "$1"; }
run() { docker run -d --network none --label dwlive=1 "$@" >/dev/null; }

start_daemon && pass "daemon connects to dockerd" || { fail "daemon start"; finish; exit 1; }

# --- every parity scenario, in containers started while the daemon runs
scen=$(grep -v '^#' "$DW_SRC_DIR/tests/data/diff_scenarios.txt")
n=0
while IFS='|' read -r name image script; do
	run --name "dwl-$name" "$image" sleep 600
	docker exec "dwl-$name" sh -c "$script" </dev/null
	n=$((n + 1))
done <<<"$scen"
bad=0
while IFS='|' read -r name image script; do
	settled "dwl-$name" 20 || { fail "scenario $name: store differs from docker diff"; bad=$((bad + 1)); }
done <<<"$scen"
[ "$bad" -eq 0 ] && pass "$n parity scenarios: store equals docker diff" || fail "$bad of $n scenarios differ"
[ "$n" -ge 40 ] && pass "ran $n scenarios" || fail "only $n scenarios"
[ "$(store_set dwl-tree_10k | wc -l)" -ge 10001 ] && pass "10k-file tree stored" || fail "10k tree"
for name in $(cut -d'|' -f1 <<<"$scen"); do docker rm -f "dwl-$name" >/dev/null; done

# --- changes while watched, severities, allow globs
run --name dwl-a dwtest:busybox sleep 600
run --name dwl-web --label dwlive.role=web dwtest:busybox sleep 600
run --name dwl-imm --label driftwatch.immutable=true dwtest:busybox sleep 600
run --name dwl-ign --label driftwatch.ignore=true dwtest:busybox sleep 600
run --name dwl-ro --read-only dwtest:busybox sleep 600
sleep 0.5
docker exec dwl-a sh -c 'mkdir -p /tmp/allowed/d && echo x >/tmp/allowed/d/f && cp /bin/busybox /bin/dropper && echo n >/etc/motd && echo m >/srv.txt'
docker exec dwl-web sh -c 'mkdir -p /var/cache/x && echo c >/var/cache/x/c && echo e >/etc/web'
docker exec dwl-imm sh -c 'echo x >/tmp/scratch'
docker exec dwl-ign sh -c 'echo x >/etc/ignored'
# Nothing inside can write to a --read-only container; someone on the host can.
echo planted >"$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' dwl-ro)/planted"
settled dwl-a && pass "live changes stored" || fail "live changes"
settled dwl-web && settled dwl-imm || fail "web/immutable changes"
sev() { q "SELECT severity FROM changes WHERE CAST(path AS TEXT)='$2' AND container_id=(SELECT id FROM containers WHERE name='$1' AND state='running')"; }
[ "$(sev dwl-a /bin/dropper)" = critical ] && pass "new executable is critical" || fail "dropper: $(sev dwl-a /bin/dropper)"
[ "$(sev dwl-a /etc/motd)" = high ] && pass "/etc change is high" || fail "motd: $(sev dwl-a /etc/motd)"
[ "$(sev dwl-a /srv.txt)" = medium ] && pass "other change is medium" || fail "srv: $(sev dwl-a /srv.txt)"
[ "$(sev dwl-a /tmp/allowed/d/f)" = allowed ] && [ "$(sev dwl-a /tmp/allowed)" = allowed ] &&
	pass "allow glob (and its dir)" || fail "allowed: $(sev dwl-a /tmp/allowed/d/f)"
[ "$(q "SELECT sha256 FROM changes WHERE CAST(path AS TEXT)='/tmp/allowed/d/f'")" = "$(echo x | sha256sum | cut -d' ' -f1)" ] &&
	pass "allowed files are hashed too" || fail "allowed file not hashed"
[ "$(sev dwl-web /var/cache/x/c)" = allowed ] && [ "$(sev dwl-a /etc/motd)" = high ] &&
	pass "allow rule by label" || fail "label allow: $(sev dwl-web /var/cache/x/c)"
[ "$(sev dwl-imm /tmp/scratch)" = critical ] && pass "immutable label: any drift critical" || fail "immutable: $(sev dwl-imm /tmp/scratch)"
settled dwl-ro && [ "$(sev dwl-ro /planted)" = critical ] && pass "--read-only container: drift is critical" || fail "read-only: $(sev dwl-ro /planted)"
[ "$(q "SELECT count(*) FROM containers WHERE name='dwl-ign'")" = 0 ] && pass "ignore label: not watched" || fail "ignored container watched"
sha=$(q "SELECT sha256 || ' ' || executable || ' ' || elf FROM changes WHERE CAST(path AS TEXT)='/bin/dropper'")
[ "$sha" = "$(sha256sum /bin/busybox | cut -d' ' -f1) 1 1" ] && pass "sha256, executable, ELF recorded" || fail "file evidence: $sha"
crit=$("$DW" events --db "$db" --container dwl-a --severity critical --format jsonl | jq -r .path | sort -u | tr '\n' ' ')
[ "$crit" = "/bin/dropper " ] && pass "events --severity critical" || fail "severity filter: $crit"
"$DW" events --db "$db" --severity bogus >/dev/null 2>&1; [ $? -eq 2 ] && pass "bad --severity: usage error" || fail "bad severity accepted"

# --- a secret written inside a container is a finding; never in clear
tok=$("$G" swarm-worker 4242)
docker exec dwl-a sh -c "mkdir -p /srv && echo 'join: $tok' >/srv/join.txt"
settled dwl-a || fail "secret file change"
[ "$(q "SELECT rule || ' ' || line FROM findings WHERE CAST(path AS TEXT)='/srv/join.txt'")" = "docker-swarm-join-token 1" ] &&
	pass "secret in a container file found" || fail "finding: $(q 'SELECT rule, line FROM findings')"
[ "$(q "SELECT count(*) FROM alerts WHERE kind='leak'")" -ge 1 ] && pass "leak alert queued" || fail "no leak alert"
grep -qF "${tok:10:30}" "$db"* && fail "token in clear in the store" || pass "store holds no secret in clear"

# --- rename, stop, remove, restart
docker rename dwl-a dwl-renamed
for _ in $(seq 1 50); do [ "$(q "SELECT name FROM containers WHERE name='dwl-renamed'")" ] && break; sleep 0.1; done
[ "$(q "SELECT count(*) FROM containers WHERE name='dwl-renamed' AND state='running'")" = 1 ] && pass "rename followed" || fail "rename"
docker stop -t 1 dwl-web >/dev/null
for _ in $(seq 1 50); do [ "$(q "SELECT state FROM containers WHERE name='dwl-web'")" = stopped ] && break; sleep 0.1; done
[ "$(q "SELECT state FROM containers WHERE name='dwl-web'")" = stopped ] && pass "stop followed" || fail "stop"
# The status is published at most once a second.
unwatched() { "$DW" status --db "$db" --format json | jq -en 'input | [.watched[].name] | index("dwl-web") == null' >/dev/null; }
for _ in $(seq 1 30); do unwatched && break; sleep 0.1; done
unwatched && pass "stopped container not watched" || fail "stopped still watched"
docker start dwl-web >/dev/null
docker exec dwl-web sh -c 'echo again >/etc/again'
settled dwl-web && pass "restarted container watched again" || fail "restart"
docker rm -f dwl-web >/dev/null
for _ in $(seq 1 50); do [ "$(q "SELECT state FROM containers WHERE name='dwl-web'")" = removed ] && break; sleep 0.1; done
[ "$(q "SELECT state FROM containers WHERE name='dwl-web'")" = removed ] && pass "remove followed, history kept" || fail "destroy"

# --- SIGHUP: a bad config is rejected, a good one applied
echo "allow: [oops" >"$cfg.new" && cp "$cfg" "$cfg.good" && mv "$cfg.new" "$cfg"
kill -HUP "$pid"
dw_wait 20 grep -q "rejected, the old one stays" "$tmp/log"
kill -0 "$pid" && grep -q "rejected, the old one stays" "$tmp/log" && pass "bad config rejected, daemon runs" ||
	fail "bad config on SIGHUP"
printf 'allow:\n  - paths: ["/srv/**"]\n' >"$cfg"
kill -HUP "$pid"
# (the rules are built again: seconds under sanitizers)
dw_wait 20 grep -q "reloaded" "$tmp/log" && pass "SIGHUP reloads" || fail "reload"
docker exec dwl-renamed sh -c 'echo z >/srv/z'
settled dwl-renamed && [ "$(sev dwl-renamed /srv/z)" = allowed ] && pass "reloaded policy applies" ||
	fail "new policy: $(sev dwl-renamed /srv/z)"
cp "$cfg.good" "$cfg"

# --- SIGKILL, changes while down, restart: found, marked rescan
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
docker exec dwl-renamed sh -c 'echo down >/etc/while-down && rm /etc/motd'
run --name dwl-new dwtest:busybox sh -c 'echo n >/etc/newc; sleep 600'
"$DW" status --db "$db" | head -1 | grep -q dead && pass "status: killed daemon is dead" || fail "status after kill"
start_daemon || fail "restart"
settled dwl-renamed && settled dwl-new && pass "changes made while down found" || fail "changes while down"
[ "$(q "SELECT source FROM events WHERE CAST(path AS TEXT)='/etc/while-down'")" = rescan ] &&
	pass "marked as a rescan" || fail "source: $(q "SELECT source FROM events WHERE CAST(path AS TEXT)='/etc/while-down'")"
[ "$(q "SELECT count(*) FROM events WHERE CAST(path AS TEXT)='/etc/motd' AND kind='R'")" = 1 ] &&
	pass "revert while down recorded once" || fail "revert while down"

# --- dockerd restarts: lost, reconnected, reconciled
run --name dwl-always --restart always dwtest:busybox sleep 600
docker exec dwl-always sh -c 'echo 1 >/etc/before'
settled dwl-always || fail "before dockerd restart"
dw_dockerd_stop "$DW_DOCKER_ROOT"
for _ in $(seq 1 50); do grep -q "lost the docker daemon" "$tmp/log" && break; sleep 0.1; done
grep -q "lost the docker daemon" "$tmp/log" && pass "dockerd stop noticed" || fail "dockerd stop"
dw_dockerd_start "$DW_DOCKER_ROOT"
dw_dockerd_wait "$DW_DOCKER_ROOT" || fail "dockerd restart"
for _ in $(seq 1 100); do
	[ "$(docker inspect -f '{{.State.Running}}' dwl-always 2>/dev/null)" = true ] && break; sleep 0.1
done
docker exec dwl-always sh -c 'echo 2 >/etc/after'
settled dwl-always 15 && pass "reconnected: changes after dockerd restart stored" || fail "after dockerd restart"
sleep 1.1	# the status is published at most once a second
"$DW" status --db "$db" --format json | jq -en 'input | .docker.connected' >/dev/null && pass "status: connected again" ||
	fail "status after dockerd restart"
[ "$(q "SELECT state FROM containers WHERE name='dwl-new'")" = stopped ] && pass "containers gone with dockerd: stopped" ||
	fail "reconcile: $(q "SELECT state FROM containers WHERE name='dwl-new'")"

# --- the first critical drift of a container: an automatic snapshot
printf 'snapshot_on_critical: true\nsnapshot_dir: %s\nsigning_key: %s\n' "$tmp/snaps" "$DRIFTWATCH_SIGNING_KEY" >"$cfg"
nrel=$(grep -c "reloaded" "$tmp/log")
kill -HUP "$pid"
dw_wait 20 sh -c "[ \$(grep -c reloaded '$tmp/log') -gt $nrel ]"
docker exec dwl-always sh -c 'cp /bin/busybox /bin/implant'
# (taken in a worker: recorded once the archive is whole)
for _ in $(seq 1 100); do [ "$(q "SELECT count(*) FROM snapshots WHERE container_name='dwl-always'")" -ge 1 ] && break; sleep 0.1; done
snap=$(ls "$tmp"/snaps/dwl-always-*.tar 2>/dev/null | grep -v evidence | head -1)
[ -n "$snap" ] && "$DW" verify "$snap" >/dev/null && pass "critical drift: snapshot taken and verified" ||
	{ fail "no automatic snapshot"; tail -5 "$tmp/log"; }
[ "$(q "SELECT operator || ' ' || reason FROM snapshots WHERE container_name='dwl-always'")" = "driftwatchd driftwatchd: first critical drift" ] &&
	pass "snapshot in the chain of custody" || fail "snapshot record"
[ "$(q "SELECT count(*) FROM alerts WHERE kind='snapshot'")" = 1 ] && pass "snapshot alert queued" || fail "snapshot alert"
docker exec dwl-always sh -c 'cp /bin/busybox /bin/implant2'
settled dwl-always && sleep 0.5
[ "$(ls "$tmp"/snaps/*.tar | grep -vc evidence)" = 1 ] && pass "rate-limited: one snapshot per container" ||
	fail "snapshots: $(ls "$tmp/snaps")"
# A snapshot of a large container takes a while: the other containers'
# changes land meanwhile. Before, the snapshot ran in the monitoring loop
# and every container waited for it.
docker run -d --network none --label dwlive --name dwl-big dwtest:busybox sh -c \
	'dd if=/dev/zero of=/big bs=1M count=512 2>/dev/null; touch /ready; exec sleep 600' >/dev/null
for _ in $(seq 1 300); do docker exec dwl-big test -f /ready 2>/dev/null && break; sleep 0.1; done
docker exec dwl-big cp /bin/busybox /bin/implant
for _ in $(seq 1 100); do grep -q "container dwl-big: critical drift, taking a snapshot" "$tmp/log" && break; sleep 0.05; done
docker exec dwl-always sh -c 'echo x >/etc/during-snapshot'
settled dwl-always 10 && during=$(q "SELECT count(*) FROM snapshots WHERE container_name='dwl-big'")
[ "${during:-1}" = 0 ] && pass "another container's change lands while a snapshot is taken" ||
	fail "monitoring waited for the snapshot (recorded before the change: ${during:-not settled})"
for _ in $(seq 1 300); do [ "$(q "SELECT count(*) FROM snapshots WHERE container_name='dwl-big'")" -ge 1 ] && break; sleep 0.1; done
big=$(q "SELECT path FROM snapshots WHERE container_name='dwl-big'")
[ -n "$big" ] && "$DW" verify "$big" >/dev/null && pass "and the large snapshot is whole and verified" || fail "large snapshot: $(tail -3 "$tmp/log")"
docker rm -f dwl-big >/dev/null; rm -f "$big" "${big%.tar}"*
cp "$cfg.good" "$cfg"

# --- status, then a clean stop
"$DW" status --db "$db" >"$tmp/status" && grep -q "dwl-always" "$tmp/status" && grep -q inotify "$tmp/status" &&
	pass "status lists watched containers" || { fail "status"; cat "$tmp/status"; }
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] && grep -q "stopped$" "$tmp/log" && pass "SIGTERM: clean exit" || fail "SIGTERM exit $rc"
"$DW" status --db "$db" >/dev/null; [ $? -eq 3 ] && pass "status of a stopped daemon: exit 3" || fail "status exit"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] && pass "store intact" || fail "integrity"
finish
