/* driftwatchd: what /proc says of a process. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/escape.h"
#include "procinfo.h"

#include "driftwatch/banned.h"

void dwd_json_sanitized(json_t *o, const char *key, const char *s, size_t n)
{
	struct dw_buf b = DW_BUF_INIT;

	dw_utf8_sanitize(&b, s, n);
	json_object_set_new(o, key, json_string(b.ptr ? b.ptr : ""));
	dw_buf_release(&b);
}

ssize_t dwd_read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

pid_t dwd_process_info(pid_t pid, json_t *o, size_t cmdline)
{
	char p[64], buf[8193], *s;
	ssize_t n;
	pid_t ppid = 0;

	json_object_set_new(o, "pid", json_integer(pid));
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	if (dwd_read_small(p, buf, sizeof(buf)) > 0) {
		if ((s = strstr(buf, "\nPPid:")))
			ppid = (pid_t)strtol(s + 6, NULL, 10);
		/* Being traced: another process may be writing as it. */
		if ((s = strstr(buf, "\nTracerPid:")) &&
		    strtol(s + 11, NULL, 10) > 0)
			json_object_set_new(o, "traced", json_true());
		if ((s = strstr(buf, "\nUid:")))
			json_object_set_new(
				o, "uid",
				json_integer(strtol(s + 5, NULL, 10)));
		if ((s = strstr(buf, "\nNSpid:"))) {
			char *end = strchr(s + 1, '\n'), *last = s + 7;

			/* The last field: its pid in its own namespace. */
			for (char *q = s + 7; end && q < end; q++)
				if (*q == '\t' || *q == ' ')
					last = q + 1;
			json_object_set_new(
				o, "nspid",
				json_integer(strtol(last, NULL, 10)));
		}
	}
	json_object_set_new(o, "ppid", json_integer(ppid));
	snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
	if ((n = dwd_read_small(p, buf, sizeof(buf))) > 0)
		dwd_json_sanitized(o, "comm", buf,
				   (size_t)n - (buf[n - 1] == '\n'));
	/* At most 1 KiB of it: six of these wait in each exec report. */
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	if ((n = readlink(p, buf, 1024)) > 0)
		dwd_json_sanitized(o, "exe", buf, (size_t)n);
	if (cmdline) {
		snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
		if ((n = dwd_read_small(p, buf,
					(cmdline < sizeof(buf)
						 ? cmdline
						 : sizeof(buf) - 1) +
						1)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (!buf[i])
					buf[i] = ' ';
			while (n > 0 && buf[n - 1] == ' ')
				n--;
			dwd_json_sanitized(o, "cmdline", buf, (size_t)n);
		}
	}
	return ppid;
}

int dwd_stat_beneath(int dir, const char *rel, struct stat *st)
{
	struct open_how how = {0};
	int fd, ok;

	how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		      RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	fd = (int)syscall(SYS_openat2, dir, rel, &how, sizeof(how));
	if (fd < 0)
		return -1;
	ok = fstat(fd, st);
	close(fd);
	return ok;
}

unsigned long long dwd_start_ticks(pid_t pid)
{
	char p[64], buf[1024], *s;
	unsigned long long v = 0;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if (dwd_read_small(p, buf, sizeof(buf)) <= 0 ||
	    !(s = strrchr(buf, ')')))
		return 0;
	/* After "pid (comm)": state is field 3, starttime field 22. */
	for (int f = 2; f < 22 && s; f++)
		s = strchr(s + 1, ' ');
	if (s)
		v = strtoull(s + 1, NULL, 10);
	return v;
}
