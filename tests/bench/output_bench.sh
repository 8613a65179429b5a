#!/bin/bash
# The outputs (driftwatch.yaml(5), OUTPUTS): rows a second into each, and
# driftwatchd's added CPU when a container drifts 1,000 files a second.
#
# 1. Throughput: a store of ROWS drift events (store_fill), each output's
#    cursor set to 0, driftwatchd started with no containers: the time
#    until the output has every row. Baseline, in the same run: sqlite3
#    reading the same rows out as JSON (what reading them costs at all).
#    Receivers on loopback: a file (jsonl), Python's http.server
#    answering 200 (otlp), Debian's rsyslog imtcp writing a file (syslog)
#    and its imrelp (syslog over RELP: each message answered).
# 2. CPU: an overlay mount whose upper dir gets RATE new files a second
#    for SECONDS; driftwatchd's CPU (utime + stime) with no output and
#    with a jsonl output; the difference over the run.
#
# usage: tests/bench/output_bench.sh [ROWS] [RATE] [SECONDS]
set -u
rows=${1:-100000}
rate=${2:-1000}
secs=${3:-10}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${DW_BUILD:-$src/build}
DWD=$build/driftwatchd
. "$src/tests/bench/timing.sh"
[ "$(id -u)" = 0 ] || { echo "run as root (overlay mounts)" >&2; exit 1; }
for t in sqlite3 python3 rsyslogd jq; do
	command -v $t >/dev/null || { echo "needs $t (contrib/install-deps.sh --test)" >&2; exit 1; }
done
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	umount "$tmp/m" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))

# Receivers.
cat >"$tmp/otlp.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$tmp/otlp.py" "$port" &
pids+=($!)
mkdir -p "$tmp/rs"
cat >"$tmp/rsyslog.conf" <<EOF
global(workDirectory="$tmp/rs" maxMessageSize="256k")
module(load="imtcp")
module(load="imrelp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="r") { action(type="omfile" file="$tmp/syslog.log" template="raw") }
input(type="imtcp" port="$((port + 1))" address="127.0.0.1" ruleset="r")
input(type="imrelp" port="$((port + 2))" address="127.0.0.1" ruleset="r" maxDataSize="256k")
EOF
rsyslogd -n -f "$tmp/rsyslog.conf" -i "$tmp/rs.pid" &
pids+=($!)
sleep 1

# 1. Throughput.
"$build/tests/store_fill" "$tmp/base.db" "$rows" 10 >/dev/null
total=$rows
sqlite3 "$tmp/base.db" "SELECT 1" >/dev/null
base=$(bench_out=$tmp/base.json time_us sqlite3 -json "$tmp/base.db" "SELECT * FROM events e LEFT JOIN containers c ON c.id = e.container_id")
printf '%-8s %9s %12s %10s\n' output rows "rows/s" "x baseline"
printf '%-8s %9d %12d %10s\n' baseline "$total" $((total * 1000000 / base)) "1.00"
throughput() { # NAME YAML-ITEM
	local db=$tmp/$1.db t0 t1 us pid
	cp "$tmp/base.db" "$db"
	printf 'docker: false\nmounts: false\nretention_rows: 0\nheartbeat_interval: 0\noutputs:\n%s\n' "$2" >"$tmp/$1.yaml"
	# The output's cursor at 0: it takes every row already there.
	"$DWD" --foreground --once --config "$tmp/$1.yaml" --db "$db" 2>/dev/null >/dev/null &
	wait $!
	sqlite3 "$db" "UPDATE output_cursors SET last_id = 0; DELETE FROM output_batches"
	rm -f "$tmp/out.jsonl"* "$tmp/syslog.log"
	t0=${EPOCHREALTIME//[!0-9]/}
	"$DWD" --foreground --config "$tmp/$1.yaml" --db "$db" 2>"$tmp/$1.log" &
	pid=$!
	# Done: every event row written (syslog's cursor stays one batch
	# behind: counted at the receiver).
	if [ "$1" = syslog ]; then
		until [ "$(grep -c . "$tmp/syslog.log" 2>/dev/null)" -ge "$rows" ]; do sleep 0.05; done
	else
		until [ "$(sqlite3 "$db" "SELECT last_id FROM output_cursors WHERE tbl = 'events'" 2>/dev/null)" = "$rows" ]; do sleep 0.05; done
	fi
	t1=${EPOCHREALTIME//[!0-9]/}
	kill "$pid"; wait "$pid" 2>/dev/null
	us=$((t1 - t0))
	printf '%-8s %9d %12d %10s\n' "$1" "$total" $((total * 1000000 / us)) \
		"$(awk -v a="$us" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
}
throughput jsonl "  - {type: jsonl, path: $tmp/out.jsonl, max_size: 0, summarise: 0}"
throughput otlp "  - {type: otlp, endpoint: \"http://127.0.0.1:$port/v1/logs\", summarise: 0}"
throughput syslog "  - {type: syslog, address: \"127.0.0.1:$((port + 1))\", summarise: 0}"
throughput relp "  - {type: syslog, address: \"127.0.0.1:$((port + 2))\", transport: relp, summarise: 0}"

# 2. CPU at RATE changes a second.
mkdir -p "$tmp/low" "$tmp/up" "$tmp/work" "$tmp/m"
mount -t overlay overlay -o "lowerdir=$tmp/low,upperdir=$tmp/up,workdir=$tmp/work" "$tmp/m"
cpu_run() { # NAME YAML
	local db=$tmp/cpu-$1.db pid ticks0 ticks1 i n=$((rate * secs)) t0 next
	printf 'docker: false\ndebounce_ms: 20\nretention_rows: 0\n%s\n' "$2" >"$tmp/cpu-$1.yaml"
	rm -rf "$tmp/m/"*
	"$DWD" --foreground --config "$tmp/cpu-$1.yaml" --db "$db" 2>"$tmp/cpu-$1.log" &
	pid=$!
	sleep 2
	ticks0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	t0=${EPOCHREALTIME//[!0-9]/}
	for ((i = 0; i < n; i++)); do
		: >"$tmp/m/f$1-$i"
		# Paced: RATE a second.
		if ((i % 100 == 99)); then
			next=$((t0 + (i + 1) * 1000000 / rate))
			now=${EPOCHREALTIME//[!0-9]/}
			((next > now)) && sleep "$(awk -v d=$((next - now)) 'BEGIN { printf "%.6f", d / 1e6 }')"
		fi
	done
	sleep 3
	ticks1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	kill "$pid"; wait "$pid" 2>/dev/null
	echo $((ticks1 - ticks0))
}
hz=$(getconf CLK_TCK)
none=$(cpu_run none "")
with=$(cpu_run jsonl "outputs: [{type: jsonl, path: $tmp/cpu.jsonl, max_size: 0, summarise: 0}]")
lines=$(cat "$tmp/cpu.jsonl" | wc -l)
awk -v a="$none" -v b="$with" -v hz="$hz" -v s="$secs" -v r="$rate" -v l="$lines" 'BEGIN {
	printf "CPU at %d changes/s for %d s (+3 s): no output %.2f s, jsonl %.2f s (%d lines): +%.1f%% of a core\n",
		r, s, a / hz, b / hz, l, (b - a) / hz / (s + 3) * 100 }'
