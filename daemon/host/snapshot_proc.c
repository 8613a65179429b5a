/* Snapshots: the container's processes and sockets at capture time. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/overlay_diff.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "snapshot_int.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/lazylib.h"
#include "mounts.h"
#include "driftwatch/banned.h"

/* ---- processes and sockets at capture time ---- */

static json_t *read_text(const char *path, size_t max)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *v;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return json_null();
	dw_buf_init(&b, max);
	dw_buf_read_fd(&b, fd); /* what was read, even if cut at max */
	close(fd);
	{
		struct dw_buf s = DW_BUF_INIT;

		/* NULs (cmdline) as spaces; valid UTF-8 for JSON. */
		for (size_t i = 0; i < b.len; i++)
			if (!b.ptr[i])
				b.ptr[i] = ' ';
		dw_utf8_sanitize(&s, b.ptr, b.len);
		v = json_stringn(s.ptr, s.len);
		dw_buf_release(&s);
	}
	dw_buf_release(&b);
	return v;
}

/* /proc/PID/WHAT of the host (under its root: Docker's pids are its). */
static char *proc_path(const char *root, int pid, const char *what)
{
	char p[96];

	snprintf(p, sizeof(p), "/proc/%d/%s", pid, what);
	return dw_host_path(root, p);
}

json_t *snap_proc_link(const char *root, int pid, const char *what)
{
	char *p = proc_path(root, pid, what), target[PATH_MAX];
	ssize_t n;

	n = readlink(p, target, sizeof(target) - 1);
	free(p);
	if (n < 0)
		return json_null();
	target[n] = '\0';
	return json_string(target);
}

json_t *snap_proc_text(const char *root, int pid, const char *what)
{
	char *p = proc_path(root, pid, what);
	json_t *v = read_text(p, 1 << 16);

	free(p);
	return v;
}

json_t *snap_processes(struct dw_docker *d, const char *id)
{
	const char *root = dw_docker_host_root(d);
	struct dw_buf path = DW_BUF_INIT;
	json_t *top = NULL, *out = json_array(), *row;
	size_t i;

	dw_buf_addf(&path,
		    "/containers/%s/top?ps_args=-eo%%20pid,ppid,uid,"
		    "args",
		    id);
	if (dw_docker_get_json(d, &top, path.ptr)) {
		dw_buf_release(&path);
		json_decref(out);
		return json_pack("{s:s}", "error", dw_error_last());
	}
	json_array_foreach(json_object_get(top, "Processes"), i, row)
	{
		const char *pid_s = json_string_value(json_array_get(row, 0));
		int pid = pid_s ? (int)strtol(pid_s, NULL, 10) : 0;
		char *p;

		if (i == SNAP_PROCS_MAX) {
			json_array_append_new(
				out, json_pack("{s:s}", "truncated",
					       "more processes than listed"));
			break;
		}
		p = proc_path(root, pid, "cmdline");

		json_t *proc = json_pack(
			"{s:O, s:O, s:O, s:O, s:o, s:o, s:o}", "pid",
			json_array_get(row, 0), "ppid", json_array_get(row, 1),
			"uid", json_array_get(row, 2), "args",
			json_array_get(row, 3), "exe",
			snap_proc_link(root, pid, "exe"), "cwd",
			snap_proc_link(root, pid, "cwd"), "cmdline",
			read_text(p, 1 << 16));

		snap_proc_volatile(root, pid, proc);
		json_array_append_new(out, proc);
		free(p);
	}
	json_decref(top);
	dw_buf_release(&path);
	return out;
}

json_t *snap_sockets(const char *root, int pid)
{
	static const char *const kinds[] = {"tcp", "tcp6", "udp", "udp6",
					    "unix"};
	json_t *o = json_object();
	char what[16];
	size_t i;

	if (pid <= 0)
		return o;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char *p;

		snprintf(what, sizeof(what), "net/%s", kinds[i]);
		p = proc_path(root, pid, what);
		json_object_set_new(o, kinds[i], read_text(p, 1 << 20));
		free(p);
	}
	return o;
}

/* ---- volatile state: what no file of the container holds ---- */

#define VOLATILE_FDS_MAX 1024

/* Its open descriptors: each target ("socket:[ino]" joins the sockets
 * read beside), at most VOLATILE_FDS_MAX. */
static json_t *proc_fds(const char *root, int pid)
{
	char *dir = proc_path(root, pid, "fd"), link[64];
	json_t *out = json_array();
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || e->d_name[0] == '.')
			continue;
		if (json_array_size(out) >= VOLATILE_FDS_MAX) {
			json_array_append_new(
				out, json_pack("{s:b}", "truncated", 1));
			break;
		}
		snprintf(link, sizeof(link), "fd/%ld", fd);
		json_array_append_new(
			out,
			json_pack("{s:I, s:o}", "fd", (json_int_t)fd, "target",
				  snap_proc_link(root, pid, link)));
	}
	if (d)
		closedir(d);
	free(dir);
	return out;
}

/* The names of its environment, never the values (secrets live there). */
static json_t *proc_env_names(const char *root, int pid)
{
	char *p = proc_path(root, pid, "environ");
	struct dw_buf b = DW_BUF_INIT, s = DW_BUF_INIT;
	json_t *out = json_array();
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	size_t i, start = 0;

	free(p);
	if (fd < 0)
		return out;
	dw_buf_init(&b, 1 << 16);
	dw_buf_read_fd(&b, fd);
	close(fd);
	for (i = 0; i <= b.len; i++) {
		const char *v = b.ptr ? b.ptr + start : "";
		size_t n = i - start;

		if (i < b.len && b.ptr[i])
			continue;
		if (n) {
			const char *eq = memchr(v, '=', n);

			dw_buf_reset(&s);
			dw_utf8_sanitize(&s, v, eq ? (size_t)(eq - v) : n);
			json_array_append_new(
				out, json_stringn(s.ptr ? s.ptr : "", s.len));
		}
		start = i + 1;
	}
	dw_buf_release(&b);
	dw_buf_release(&s);
	return out;
}

/* CapEff, CapPrm, CapBnd, Seccomp and NoNewPrivs of /proc/PID/status. */
static json_t *proc_status(const char *root, int pid)
{
	static const char *const keys[] = {"CapEff", "CapPrm", "CapBnd",
					   "Seccomp", "NoNewPrivs"};
	char *p = proc_path(root, pid, "status"), line[256];
	json_t *out = json_object();
	FILE *in = fopen(p, "re");
	size_t k, n;

	free(p);
	while (in && fgets(line, sizeof(line), in))
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			n = strlen(keys[k]);
			if (strncmp(line, keys[k], n) || line[n] != ':')
				continue;
			line[strcspn(line, "\n")] = '\0';
			json_object_set_new(
				out, keys[k],
				json_string(line + n + 1 +
					    strspn(line + n + 1, " \t")));
		}
	if (in)
		fclose(in);
	return out;
}

void snap_proc_volatile(const char *root, int pid, json_t *proc)
{
	static const char *const ns[] = {"cgroup", "ipc",  "mnt",  "net",
					 "pid",	   "time", "user", "uts"};
	const char *exe;
	json_t *nso = json_object();
	size_t i;

	if (pid <= 0)
		return;
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		char what[16];

		snprintf(what, sizeof(what), "ns/%s", ns[i]);
		json_object_set_new(nso, ns[i],
				    snap_proc_link(root, pid, what));
	}
	json_object_set_new(proc, "root", snap_proc_link(root, pid, "root"));
	json_object_set_new(proc, "fds", proc_fds(root, pid));
	json_object_set_new(proc, "maps", snap_proc_text(root, pid, "maps"));
	json_object_set_new(proc, "environ_names", proc_env_names(root, pid));
	json_object_set_new(proc, "namespaces", nso);
	json_object_set_new(proc, "status", proc_status(root, pid));
	/* An executable that is on no disk: copied into the archive. */
	exe = json_string_value(json_object_get(proc, "exe"));
	if (exe && !strncmp(exe, "/memfd:", 7))
		json_object_set_new(proc, "exe_volatile", json_string("memfd"));
	else if (exe && strlen(exe) > 10 &&
		 !strcmp(exe + strlen(exe) - 10, " (deleted)"))
		json_object_set_new(proc, "exe_volatile",
				    json_string("deleted"));
}
