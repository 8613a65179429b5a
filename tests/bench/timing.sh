# Sourced by the benchmarks. Wall time is read from bash's own clock
# (EPOCHREALTIME) around the command, so no `date` process (a fork and an
# exec, 2-4 ms here) is timed along with it.

# time_us CMD...: run CMD once and print its wall time in microseconds.
# Its output goes to $bench_out when set (a file: GNU grep stops at the
# first match when writing to /dev/null), else to /dev/null; its exit
# status is not the benchmark's business.
time_us() {
	local t0 t1
	t0=${EPOCHREALTIME//[!0-9]/}
	"$@" >"${bench_out:-/dev/null}" 2>/dev/null || true
	t1=${EPOCHREALTIME//[!0-9]/}
	echo $((t1 - t0))
}

# time_ms CMD...: the same in whole milliseconds.
time_ms() {
	local us
	us=$(time_us "$@")
	echo $((us / 1000))
}

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
