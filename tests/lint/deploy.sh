#!/bin/bash
# contrib/kubernetes/driftwatch.yaml holds what an operator applies: it
# parses, its DaemonSet asks for no more than driftwatchd needs (no
# privileged, every capability dropped but the four it uses, the host
# read-only but its own state dir, no API token, no role), the runtime
# dirs follow new mounts (HostToContainer), and the configuration it
# carries loads in driftwatchd.
. "$(dirname "$0")/../lib/common.sh"
src=$DW_SRC_DIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
$py -c 'import yaml' 2>/dev/null || dw_skip "Debian's python3-yaml is not installed"

$py - "$src/contrib/kubernetes/driftwatch.yaml" "$tmp/driftwatch.yaml" >"$tmp/out" 2>&1 <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
def check(ok, what):
    print(("ok - " if ok else "not ok - ") + what)
check(set(kinds) == {"Namespace", "ServiceAccount", "ConfigMap", "DaemonSet"},
      "the manifest: a namespace, a service account, a ConfigMap, a DaemonSet (no role, no binding): %s" % sorted(kinds))
sa = kinds["ServiceAccount"]
check(sa.get("automountServiceAccountToken") is False, "the service account mounts no token")
pod = kinds["DaemonSet"]["spec"]["template"]["spec"]
check(pod.get("automountServiceAccountToken") is False and pod.get("serviceAccountName") == sa["metadata"]["name"],
      "the pod uses it, with no token")
check(pod.get("hostPID") is True and not pod.get("hostNetwork") and not pod.get("hostIPC"),
      "hostPID, no host network or IPC")
(c,) = pod["containers"]
sc = c["securityContext"]
check(sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False
      and sc.get("readOnlyRootFilesystem") is True, "not privileged, no escalation, read-only root")
check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "the runtime's seccomp profile")
caps = sc.get("capabilities", {})
check(caps.get("drop") == ["ALL"] and sorted(caps.get("add", [])) == ["DAC_READ_SEARCH", "SETGID", "SETUID", "SYS_ADMIN"],
      "capabilities: all dropped, DAC_READ_SEARCH SYS_ADMIN SETUID SETGID added: %s" % caps)
check("limits" in c.get("resources", {}) and "requests" in c["resources"], "resources requested and limited")
vols = {v["name"]: v for v in pod["volumes"]}
rw = [m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")]
check(rw == ["/var/lib/driftwatch"] and vols["state"]["hostPath"]["path"] == "/var/lib/driftwatch",
      "only its state dir is writable: %s" % rw)
host = [m for m in c["volumeMounts"] if "hostPath" in vols[m["name"]]]
check(all(m["mountPath"] == "/host" + vols[m["name"]]["hostPath"]["path"] for m in host if m["name"] != "state"),
      "host dirs under /host at their own paths")
for name in ("containerd-state", "containerd-root", "containers-storage", "pod-logs"):
    (m,) = [m for m in c["volumeMounts"] if m["name"] == name]
    check(m.get("mountPropagation") == "HostToContainer", "%s: HostToContainer" % name)
cfg = kinds["ConfigMap"]["data"]["driftwatch.yaml"]
conf = yaml.safe_load(cfg)
check(conf.get("host_root") == "/host" and conf.get("raise_watch_limit") is False,
      "the configuration: host_root /host, the node's inotify limit left to the node")
args = c["args"]
check(args[args.index("--config") + 1] == "/etc/driftwatch/driftwatch.yaml" and
      [m for m in c["volumeMounts"] if m["mountPath"] == "/etc/driftwatch" and m["name"] in vols and "configMap" in vols[m["name"]]],
      "the ConfigMap is the configuration driftwatchd reads")
open(sys.argv[2], "w").write(cfg)
PY
[ $? -eq 0 ] || fail "the manifest could not be checked: $(tail -3 "$tmp/out")"
while read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	*) fail "${line#not ok - }" ;;
	esac
done <"$tmp/out"

# The configuration it carries loads (its host is not here: no mounts,
# no Docker; a missing pod log dir is said, not fatal).
sed -i "s|^store: .*|store: $tmp/db|" "$tmp/driftwatch.yaml"
"$DWD" --foreground --once --no-docker --no-mounts --config "$tmp/driftwatch.yaml" \
	--db "$tmp/db" 2>"$tmp/log" && pass "its configuration loads in driftwatchd" ||
	{ fail "its configuration: $(cat "$tmp/log")"; }
finish
