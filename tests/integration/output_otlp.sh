#!/bin/bash
# The OTLP/HTTP logs output (driftwatch.yaml(5), OUTPUTS): a loopback
# receiver (Python's http.server, started here) checks every request
# against the OTLP logs JSON structure and answers 503 with Retry-After
# for a while, then once a partialSuccess: every row of the store arrives
# (across a SIGKILL of driftwatchd and a restart), the rejected record is
# counted and said, the resource carries host, service and container.
. "$(dirname "$0")/../lib/common.sh"
dw_need_root
command -v python3 >/dev/null || dw_skip "python3 is not installed (contrib/install-deps.sh --test)"

tmp=$(mktemp -d)
pid=
rpid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	umount "$tmp/m" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/low/etc" "$tmp/up" "$tmp/work" "$tmp/m"
echo image >"$tmp/low/etc/conf"
mount -t overlay overlay -o "lowerdir=$tmp/low,upperdir=$tmp/up,workdir=$tmp/work" "$tmp/m" ||
	dw_skip "cannot mount overlayfs here"

cat >"$tmp/receiver.py" <<'PY'
import http.server, json, re, sys

port, tmp = int(sys.argv[1]), sys.argv[2]
state = {"refuse": 3, "partial": 1}
DIGITS = re.compile(r"^[0-9]+$")


def any_value(v):
    keys = list(v)
    assert len(keys) == 1, v
    k = keys[0]
    if k == "stringValue":
        assert isinstance(v[k], str)
    elif k == "intValue":
        assert isinstance(v[k], str) and re.match(r"^-?[0-9]+$", v[k]), v
    elif k == "boolValue":
        assert isinstance(v[k], bool)
    elif k == "doubleValue":
        assert isinstance(v[k], (int, float))
    elif k == "arrayValue":
        for e in v[k]["values"]:
            any_value(e)
    else:
        raise AssertionError("unknown AnyValue " + k)


def attributes(attrs):
    assert isinstance(attrs, list)
    out = {}
    for a in attrs:
        assert isinstance(a["key"], str) and a["key"], a
        any_value(a["value"])
        assert a["key"] not in out, "duplicate key " + a["key"]
        out[a["key"]] = a["value"]
    return out


def check(doc):
    """The records of an ExportLogsServiceRequest (JSON), checked."""
    records = []
    assert isinstance(doc["resourceLogs"], list) and doc["resourceLogs"]
    for rl in doc["resourceLogs"]:
        res = attributes(rl["resource"]["attributes"])
        assert res["service.name"] == {"stringValue": "driftwatchd"}, res
        assert res["host.name"]["stringValue"]
        assert rl["scopeLogs"]
        for sl in rl["scopeLogs"]:
            assert sl["scope"]["name"] == "driftwatch"
            assert sl["logRecords"]
            for r in sl["logRecords"]:
                assert DIGITS.match(r["timeUnixNano"]), r
                assert DIGITS.match(r["observedTimeUnixNano"]), r
                assert r["severityNumber"] in (5, 9, 13, 17, 21), r
                assert isinstance(r["severityText"], str)
                attrs = attributes(r["attributes"])
                body = json.loads(r["body"]["stringValue"])
                assert attrs["event.id"]["stringValue"] == body["event"]["id"]
                if "container.id" in res:
                    assert body["container"]["id"] == res["container.id"]["stringValue"]
                records.append((body, res))
    return records


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, body=b"{}", extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        data = self.rfile.read(int(self.headers["Content-Length"]))
        # A small limit, as a proxy before a Collector may have.
        if len(data) > 64 * 1024:
            with open(tmp + "/too_large", "a") as f:
                f.write("%d\n" % len(data))
            return self.answer(413)
        try:
            assert self.path == "/v1/logs", self.path
            assert self.headers["Content-Type"] == "application/json"
            assert self.headers["Authorization"] == "Bearer test-token"
            records = check(json.loads(data))
        except Exception as e:
            with open(tmp + "/invalid", "a") as f:
                f.write(repr(e)[:300] + "\n")
            return self.answer(400)
        if state["refuse"] > 0:
            state["refuse"] -= 1
            with open(tmp + "/refused", "a") as f:
                f.write("503\n")
            return self.answer(503, extra=[("Retry-After", "1")])
        rejected = 0
        if state["partial"] > 0 and len(records) > 1:
            state["partial"] -= 1
            rejected = 1
            with open(tmp + "/rejected", "a") as f:
                f.write(records[0][0]["event"]["id"] + "\n")
            records = records[1:]
        with open(tmp + "/received", "a") as f:
            for body, res in records:
                f.write(json.dumps(body) + "\n")
        with open(tmp + "/resources", "a") as f:
            for body, res in records:
                f.write(json.dumps(res) + "\n")
        ps = {"rejectedLogRecords": str(rejected), "errorMessage": "test rejects one"} if rejected else {}
        self.answer(200, json.dumps({"partialSuccess": ps}).encode())


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
port=$((20000 + RANDOM % 20000))
python3 "$tmp/receiver.py" "$port" "$tmp" &
rpid=$!
dw_wait 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || fail "the receiver did not start"

db="$tmp/dw.db"
cat >"$tmp/cfg.yaml" <<EOF
docker: false
debounce_ms: 20
outputs:
  - type: otlp
    endpoint: http://127.0.0.1:$port/v1/logs
    headers: ["Authorization: Bearer test-token"]
EOF
start() { dw_output_daemon "$tmp/cfg.yaml" "$db" "$tmp/log" "$tmp/m"; }
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }
host=$(hostname)
stored() { dw_output_ids "$db" "$host"; }
arrived() { { jq -r .event.id "$tmp/received" 2>/dev/null; cat "$tmp/rejected" 2>/dev/null; } | sort; }
caught_up() {
	for _ in $(seq 1 150); do
		[ "$(arrived | sort -u)" = "$(stored)" ] && return 0
		sleep 0.2
	done
	return 1
}

start
for round in 1 2 3 4; do
	for i in $(seq 1 30); do echo "$round $i" >"$tmp/m/f$round-$i"; done
	printf x >"$tmp/m/$(printf 'evil\n"%s\\\xff' "$round")"
	sleep 1
	if [ "$round" = 2 ]; then
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		start
	fi
done
caught_up || fail "not every row arrived: $(arrived | sort -u | wc -l) of $(stored | wc -l)"
stop
n=$(stored | wc -l)
dups=$(arrived | uniq -d | wc -l)
[ "$n" -gt 120 ] && [ "$(arrived | sort -u)" = "$(stored)" ] &&
	pass "every row of the store arrived ($n rows; a SIGKILL between; $dups sent twice, at least once by design)" ||
	fail "arrived vs stored: $(diff <(arrived | sort -u) <(stored) | head -5)"
[ ! -s "$tmp/invalid" ] && pass "every request is a valid OTLP logs JSON request (resourceLogs, scopeLogs, logRecords, AnyValue types, int64 as strings)" ||
	fail "invalid requests: $(head -3 "$tmp/invalid")"
[ "$(grep -c . "$tmp/refused")" = 3 ] && grep -q "HTTP 503 (the receiver asks to retry)" "$tmp/log" &&
	pass "503 with Retry-After: said once, retried, nothing lost" || fail "503: $(cat "$tmp/refused" 2>&1) $(grep output "$tmp/log" | head -3)"
[ -s "$tmp/too_large" ] && grep -q "as too large: sent in halves" "$tmp/log" &&
	pass "a request refused as too large (413) is sent in halves, nothing lost ($(grep -c . "$tmp/too_large") refused)" ||
	fail "413: $(cat "$tmp/too_large" 2>&1 | head -2) $(grep 'too large' "$tmp/log" | head -2)"
grep -q "the receiver rejected 1 of [0-9]* records: test rejects one" "$tmp/log" &&
	pass "a partialSuccess's rejected records are counted and said" || fail "partialSuccess: $(grep rejected "$tmp/log")"
jq -e -s --arg m "$tmp/m" 'map(select(."container.name".stringValue == $m and (."container.id".stringValue | startswith("mount:")))) | length > 100' "$tmp/resources" >/dev/null &&
	pass "the container's rows under a resource with container.id and container.name" || fail "resources: $(sort -u "$tmp/resources" | head -3)"
jq -e -s 'map(select(.event.kind == "event" and .event.action == "added")) | length > 100' "$tmp/received" >/dev/null &&
	[ "$(jq -r 'select((.file.path // "") | test("^/evil\n\"[0-9]\\\\\ufffd$")) | .event.id' "$tmp/received" | wc -l)" -ge 3 ] &&
	pass "drift events as ECS bodies, hostile names intact" || fail "bodies: $(head -c 600 "$tmp/received")"
grep -qF "output http://127.0.0.1:$port/…: not delivered" "$tmp/log" && ! grep -q "v1/logs" "$tmp/log" &&
	pass "the endpoint is logged by its origin only" || fail "log: $(grep output "$tmp/log" | head -2)"

# A bad configuration is refused with a clear error.
bad() {
	printf 'docker: false\noutputs:\n%s\n' "$1" >"$tmp/bad.yaml"
	"$DWD" --foreground --once --config "$tmp/bad.yaml" --db "$tmp/bad.db" 2>&1 | grep -q "$2"
}
bad '  - type: otlp' "needs an http(s) endpoint" &&
	bad '  - {type: otlp, endpoint: "ftp://x"}' "needs an http(s) endpoint" &&
	bad '  - {type: jsonl, path: relative}' "needs an absolute path" &&
	bad '  - {type: kafka}' "type is jsonl, otlp or syslog" &&
	bad '  - {type: jsonl, path: /tmp/a/../x}' "names a file" &&
	bad "  - {type: jsonl, path: /tmp/x}
  - {type: jsonl, path: /tmp//x.1}" "two outputs name one file (or one's rotated files)" &&
	bad '  - {type: syslog, address: "127.0.0.1"}' "needs an address, HOST:PORT" &&
	bad '  - {type: syslog, address: "h:70000"}' "needs an address, HOST:PORT" &&
	bad '  - {type: syslog, address: "h:514", transport: udp}' "transport is tcp, tls, relp or relp-tls" &&
	bad '  - {type: syslog, address: "h:514", transport: relp, cert: /x}' "are for transport: tls or relp-tls" &&
	bad '  - {type: syslog, address: "h:514", ca: /x}' "are for transport: tls" &&
	bad '  - {type: syslog, address: "h:514", facility: local9}' "facility is a syslog facility" &&
	bad '  - {type: syslog, address: "h:514", sd_id: "dw x@1"}' "sd_id is NAME@PEN" &&
	bad '  - {type: syslog, address: "h:514", sd_id: "dw@abc"}' "sd_id is NAME@PEN" &&
	bad '  - {path: /tmp/x}' "needs a type" &&
	bad '  - {type: otlp, endpoint: "http://x", path: /tmp/x}' "unknown key in an otlp output" &&
	bad '  - {type: jsonl, path: /tmp/x, fsync: always}' "fsync is batch or none" &&
	bad '  - {type: jsonl, path: /tmp/x, mode: "0777"}' "mode is octal, at most 0666" &&
	bad '  - {type: otlp, endpoint: "http://x", headers: ["X-A: 1\nX-B: 2"]}' "one line" &&
	bad "  - {type: jsonl, path: /tmp/x}
  - {type: jsonl, path: /tmp/x}" "two outputs name one" &&
	pass "bad outputs are refused with the reason" || fail "bad config: $(cat "$tmp/bad.yaml"; "$DWD" --once --config "$tmp/bad.yaml" --db "$tmp/bad.db" 2>&1 | tail -2)"

# A receiver that takes the request and never answers: a reload ends the
# request at once (before, it waited for the request's 10 s).
hang=$((port + 7))
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
c = [s.accept() for _ in range(4)]; time.sleep(60)' "$hang" &
hangpid=$!
cat >"$tmp/cfg-hang.yaml" <<EOF
docker: false
debounce_ms: 20
outputs:
  - {type: otlp, endpoint: "http://127.0.0.1:$hang/v1/logs"}
EOF
rm -f "$tmp/hang.db"
"$DWD" --foreground --config "$tmp/cfg-hang.yaml" --db "$tmp/hang.db" 2>"$tmp/hang.log" &
pid=$!
sleep 1
echo x >"$tmp/m/hang-1"
sleep 2 # the request is waiting for its answer
kill -HUP "$pid"
t0=$EPOCHREALTIME
dw_wait 15 grep -q "sighup: configuration" "$tmp/hang.log"
took=$(bc <<<"$EPOCHREALTIME - $t0")
stop
kill "$hangpid" 2>/dev/null
[ "$(bc <<<"$took < 4")" = 1 ] &&
	pass "a reload while a request waits on a receiver that never answers: done in $(printf %.1f "$took") s" ||
	fail "the reload waited $took s for the request"
finish
