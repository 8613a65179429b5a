/*
 * Snapshots of other runtimes' containers (containerd, CRI-O, podman):
 * no Docker to pause them, so their cgroup is frozen (v1 freezer.state,
 * v2 cgroup.freeze), their processes come from that cgroup and /proc,
 * and the image config from their OCI config.json.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/safeopen.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "driftwatch/xmalloc.h"
#include "mounts.h"
#include "snapshot_int.h"
#include "driftwatch/banned.h"

/*
 * The container's first process: the lowest pid whose root is the
 * container's rootfs (the same directory as its mount point). 0 when no
 * process runs in it.
 */
int snap_find_pid(const char *root, const char *mount_point)
{
	char *mp = dw_host_path(root, mount_point), *proc;
	struct stat want, st;
	struct dirent *e;
	DIR *d;
	int best = 0;

	if (stat(mp, &want)) {
		free(mp);
		return 0;
	}
	free(mp);
	proc = dw_host_path(root, "/proc");
	d = opendir(proc);
	while (d && (e = readdir(d))) {
		char path[300];
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || (best && pid >= best))
			continue;
		snprintf(path, sizeof(path), "%s/%ld/root", proc, pid);
		if (!stat(path, &st) && st.st_dev == want.st_dev &&
		    st.st_ino == want.st_ino)
			best = (int)pid;
	}
	if (d)
		closedir(d);
	free(proc);
	return best;
}

/* A pid from a runtime's pid file (`path` as the host names it). */
static int pid_file(const char *root, const char *path)
{
	char *p = dw_host_path(root, path), buf[32];
	struct stat st;
	ssize_t n;
	int fd = dw_open_regular(AT_FDCWD, p, 0, &st), pid = 0;

	free(p);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		pid = (int)strtol(buf, NULL, 10);
	}
	return pid > 0 ? pid : 0;
}

/* Is `pid`'s root the container's rootfs (`mount_point`)? */
static int pid_in(const char *root, int pid, const char *mount_point)
{
	char *mp = dw_host_path(root, mount_point), path[64], *pp;
	struct stat a, b;
	int yes;

	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	pp = dw_host_path(root, path);
	yes = !stat(mp, &a) && !stat(pp, &b) && a.st_dev == b.st_dev &&
	      a.st_ino == b.st_ino;
	free(mp);
	free(pp);
	return yes;
}

int snap_runtime_pid(const char *root, const struct dw_mount *m)
{
	struct dw_buf p = DW_BUF_INIT;
	const char *slash;
	int pid = 0;

	/* containerd: init.pid beside config.json in the bundle; CRI-O and
	 * podman: userdata/pidfile, in the storage's run root. */
	if (m->config_path && (slash = strrchr(m->config_path, '/'))) {
		dw_buf_addf(&p, "%.*s/%s", (int)(slash - m->config_path),
			    m->config_path, m->ctr_id ? "pidfile" : "init.pid");
		pid = pid_file(root, p.ptr);
	}
	if (!pid && m->ctr_id) {
		dw_buf_reset(&p);
		dw_buf_addf(&p,
			    "/run/containers/storage/overlay-containers/%s/"
			    "userdata/pidfile",
			    m->ctr_id);
		pid = pid_file(root, p.ptr);
	}
	dw_buf_release(&p);
	/* A stale or wrong file: its pid must run in this rootfs. */
	if (pid && !pid_in(root, pid, m->name))
		pid = 0;
	return pid ? pid : snap_find_pid(root, m->name);
}

/* A cgroup path from /proc/PID/cgroup: absolute, no "..", no newline. */
static int cgroup_path_ok(const char *p)
{
	return p[0] == '/' && !strstr(p, "/../") &&
	       strcmp(p + strlen(p) - (strlen(p) >= 3 ? 3 : 0), "/..") &&
	       !strchr(p, '\n');
}

/* PID's cgroup paths from its /proc/PID/cgroup: v1's freezer and v2's
 * (caller frees; NULL when absent). `root` NULL: ours, not the host's. */
static int read_cgroups(const char *root, const char *who, char **v1, char **v2)
{
	char path[96], line[4096], *procf;
	FILE *in;

	*v1 = *v2 = NULL;
	snprintf(path, sizeof(path), "/proc/%s/cgroup", who);
	procf = root ? dw_host_path(root, path) : dw_xstrdup(path);
	in = fopen(procf, "re");
	free(procf);
	if (!in)
		return -1;
	while (fgets(line, sizeof(line), in)) {
		char *c1 = strchr(line, ':'),
		     *c2 = c1 ? strchr(c1 + 1, ':') : 0;
		size_t n;

		if (!c2)
			continue;
		n = strlen(c2 + 1);
		if (n && c2[n] == '\n')
			c2[n] = '\0';
		if (!strncmp(c1 + 1, "freezer:", 8) && !*v1)
			*v1 = dw_xstrdup(c2 + 1);
		else if (!strncmp(line, "0::", 3) && !*v2)
			*v2 = dw_xstrdup(c2 + 1);
	}
	fclose(in);
	return 0;
}

/* Is cgroup path `p` `top` or below it? */
static int at_or_below(const char *p, const char *top)
{
	size_t n = strlen(top);

	if (n == 1 && top[0] == '/')
		return 1;
	return !strncmp(p, top, n) && (p[n] == '\0' || p[n] == '/');
}

/*
 * The container's own cgroup from its OCI config's linux.cgroupsPath:
 * "/a/b" (cgroupfs), or systemd's "SLICE:PREFIX:NAME" (SLICE expanded
 * to its parents: a-b-c.slice is a.slice/a-b.slice/a-b-c.slice).
 * NULL when absent or not understood.
 */
static char *oci_cgroup(const char *cp)
{
	struct dw_buf b = DW_BUF_INIT;
	const char *c1, *c2;

	if (!cp || !*cp || strlen(cp) > 2048 || strstr(cp, ".."))
		return NULL;
	if (cp[0] == '/')
		return dw_xstrdup(cp);
	c1 = strchr(cp, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2 || strchr(c2 + 1, ':') || strchr(cp, '/'))
		return NULL;
	if (c1 > cp) {
		size_t n = (size_t)(c1 - cp), i;

		if (n < 7 || strncmp(c1 - 6, ".slice", 6))
			return NULL;
		/* Each dash starts a parent: a.slice, a-b.slice, ... */
		for (i = 0; i < n - 6; i++)
			if (cp[i] == '-')
				dw_buf_addf(&b, "/%.*s.slice", (int)i, cp);
		dw_buf_addf(&b, "/%.*s", (int)n, cp);
	}
	if (c2 > c1 + 1)
		dw_buf_addf(&b, "/%.*s-%s.scope", (int)(c2 - c1 - 1), c1 + 1,
			    c2 + 1);
	else
		dw_buf_addf(&b, "/%s", c2 + 1);
	return dw_buf_detach(&b, NULL);
}

int snap_freezer_open(struct snap_freezer *f, const char *root, int pid,
		      const char *cgroups_path)
{
	char who[32], *v1 = NULL, *v2 = NULL, *o1 = NULL, *o2 = NULL;
	char *dir, *oci = oci_cgroup(cgroups_path);
	struct dw_buf b = DW_BUF_INIT;
	int err = 0;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	snprintf(who, sizeof(who), "%d", pid);
	if (read_cgroups(root, who, &v1, &v2)) {
		free(oci);
		return dw_error_errno(DW_EIO, errno,
				      "cannot read the cgroup of pid %d", pid);
	}
	read_cgroups(NULL, "self", &o1, &o2);
	/* cgroup v1's freezer where it is mounted (these hosts boot v1
	 * hybrid), else v2's cgroup.freeze. */
	for (f->v2 = 0; f->v2 < 2 && f->fd < 0; f->v2++) {
		const char *cg = f->v2 ? v2 : v1, *ours = f->v2 ? o2 : o1;

		if (!cg || !cgroup_path_ok(cg))
			continue;
		/* The container's whole cgroup when its process is in it
		 * (a systemd inside keeps its pid 1 in init.scope below). */
		if (oci && cgroup_path_ok(oci) && at_or_below(cg, oci))
			cg = oci;
		/* Never our own cgroup, nor one above it: we would stop. */
		if (ours && at_or_below(ours, cg)) {
			err = dw_error_set(DW_ERROR,
					   "its cgroup %s holds driftwatch "
					   "itself: not frozen",
					   cg);
			break;
		}
		dw_buf_reset(&b);
		dw_buf_addf(&b,
			    f->v2 ? "/sys/fs/cgroup%s"
				  : "/sys/fs/cgroup/freezer%s",
			    cg);
		dir = dw_host_path(root, b.ptr);
		dw_buf_reset(&b);
		dw_buf_addf(&b, "%s/%s", dir,
			    f->v2 ? "cgroup.freeze" : "freezer.state");
		f->fd = open(b.ptr, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (f->fd >= 0) {
			f->dir = dir;
			break;
		}
		free(dir);
	}
	free(v1);
	free(v2);
	free(o1);
	free(o2);
	free(oci);
	dw_buf_release(&b);
	if (err)
		return err;
	if (f->fd < 0)
		return dw_error_set(
			DW_EUNSUPPORTED,
			"pid %d is in no freezer cgroup that can be "
			"opened (cgroup v1 freezer, v2 "
			"cgroup.freeze)",
			pid);
	return 0;
}

void snap_freezer_close(struct snap_freezer *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->dir);
	f->fd = -1;
	f->dir = NULL;
}

const char *snap_freezer_thaw_value(const struct snap_freezer *f)
{
	return f->v2 ? "0" : "THAWED";
}

/* Is it frozen now? v1: freezer.state says FROZEN (not FREEZING); v2:
 * cgroup.events says "frozen 1". */
int snap_freezer_frozen(const struct snap_freezer *f)
{
	char buf[512];
	ssize_t n;

	if (!f->v2) {
		n = pread(f->fd, buf, sizeof(buf) - 1, 0);
		return n > 0 && (buf[n] = '\0', !strncmp(buf, "FROZEN", 6));
	}
	{
		struct dw_buf p = DW_BUF_INIT;
		int fd, yes = 0;

		dw_buf_addf(&p, "%s/cgroup.events", f->dir);
		fd = open(p.ptr, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		dw_buf_release(&p);
		if (fd < 0)
			return 0;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			yes = strstr(buf, "frozen 1") != NULL;
		}
		return yes;
	}
}

int snap_freeze(struct snap_freezer *f, int timeout_ms)
{
	const char *v = f->v2 ? "1" : "FROZEN";
	struct timespec nap = {0, 10 * 1000 * 1000};
	int waited = 0;

	if (pwrite(f->fd, v, strlen(v), 0) != (ssize_t)strlen(v))
		return dw_error_errno(DW_EIO, errno, "cannot freeze %s",
				      f->dir);
	/* FREEZING until every task is stopped: polled, bounded. */
	while (!snap_freezer_frozen(f)) {
		if (waited >= timeout_ms) {
			snap_thaw(f);
			return dw_error_set(DW_ERROR,
					    "%s did not freeze within %d ms "
					    "(thawed again)",
					    f->dir, timeout_ms);
		}
		nanosleep(&nap, NULL);
		waited += 10;
	}
	return 0;
}

int snap_thaw(struct snap_freezer *f)
{
	const char *v = snap_freezer_thaw_value(f);

	if (pwrite(f->fd, v, strlen(v), 0) != (ssize_t)strlen(v))
		return dw_error_errno(DW_EIO, errno, "cannot thaw %s", f->dir);
	return 0;
}

/* "Uid:" and "PPid:" of /proc/PID/status. */
static void proc_ids(const char *root, long pid, long *ppid, long *uid)
{
	char p[96], line[256], *path;
	FILE *in;

	*ppid = *uid = -1;
	snprintf(p, sizeof(p), "/proc/%ld/status", pid);
	path = dw_host_path(root, p);
	in = fopen(path, "re");
	free(path);
	while (in && fgets(line, sizeof(line), in)) {
		if (!strncmp(line, "PPid:", 5))
			*ppid = strtol(line + 5, NULL, 10);
		else if (!strncmp(line, "Uid:", 4))
			*uid = strtol(line + 4, NULL, 10);
	}
	if (in)
		fclose(in);
}

#define CGROUP_DEPTH_MAX 8

/* The processes of cgroup dir `dir` and of those below it (a systemd in
 * the container keeps its own), at most SNAP_PROCS_MAX, CGROUP_DEPTH_MAX
 * levels down; 0, or -1 when something was left out. */
static int cgroup_procs(const char *root, const char *dir, int depth,
			json_t *out)
{
	struct dw_buf p = DW_BUF_INIT;
	struct dirent *e;
	char line[64];
	FILE *in;
	DIR *d;
	int cut = 0;

	dw_buf_addf(&p, "%s/cgroup.procs", dir);
	in = fopen(p.ptr, "re");
	while (in && fgets(line, sizeof(line), in)) {
		long pid = strtol(line, NULL, 10), ppid, uid;
		json_t *proc;

		if (pid <= 0)
			continue;
		if (json_array_size(out) >= SNAP_PROCS_MAX) {
			cut = -1;
			break;
		}
		proc_ids(root, pid, &ppid, &uid);
		proc = json_pack("{s:I, s:I, s:I, s:o, s:o, s:o}", "pid",
				 (json_int_t)pid, "ppid", (json_int_t)ppid,
				 "uid", (json_int_t)uid, "cmdline",
				 snap_proc_text(root, (int)pid, "cmdline"),
				 "exe", snap_proc_link(root, (int)pid, "exe"),
				 "cwd", snap_proc_link(root, (int)pid, "cwd"));
		snap_proc_volatile(root, (int)pid, proc);
		json_array_append_new(out, proc);
	}
	if (in)
		fclose(in);
	d = opendir(dir);
	while (d && !cut && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (depth >= CGROUP_DEPTH_MAX) {
			cut = -1;
			break;
		}
		dw_buf_reset(&p);
		dw_buf_addf(&p, "%s/%s", dir, e->d_name);
		cut = cgroup_procs(root, p.ptr, depth + 1, out);
	}
	if (d)
		closedir(d);
	dw_buf_release(&p);
	return cut;
}

json_t *snap_cgroup_processes(const char *root, const struct snap_freezer *f)
{
	json_t *out = json_array();

	if (cgroup_procs(root, f->dir, 0, out))
		json_array_append_new(
			out,
			json_pack("{s:s}", "truncated",
				  "more processes or cgroups than listed"));
	return out;
}

/*
 * What Docker's inspect gives for a Docker container, from the OCI
 * config.json of another runtime's: the image config (Env, Cmd,
 * WorkingDir, User, Labels) and the identity, for the evidence and the
 * new image.
 */
json_t *snap_mount_inspect(const struct dw_mount *m, json_t *oci, int pid,
			   const char *name)
{
	json_t *proc = json_object_get(oci, "process");
	json_t *cfg = json_object(), *labels = json_object(), *in;
	json_t *user = json_object_get(proc, "user");

	if (json_is_array(json_object_get(proc, "env")))
		json_object_set(cfg, "Env", json_object_get(proc, "env"));
	if (json_is_array(json_object_get(proc, "args")))
		json_object_set(cfg, "Cmd", json_object_get(proc, "args"));
	if (json_is_string(json_object_get(proc, "cwd")))
		json_object_set(cfg, "WorkingDir",
				json_object_get(proc, "cwd"));
	if (json_is_integer(json_object_get(user, "uid")))
		json_object_set_new(
			cfg, "User",
			json_sprintf("%lld:%lld",
				     (long long)json_integer_value(
					     json_object_get(user, "uid")),
				     (long long)json_integer_value(
					     json_object_get(user, "gid"))));
	if (m->k8s_pod) {
		json_object_set_new(
			labels, "io.kubernetes.pod.namespace",
			json_string(m->k8s_namespace ? m->k8s_namespace : ""));
		json_object_set_new(labels, "io.kubernetes.pod.name",
				    json_string(m->k8s_pod));
		if (m->k8s_container)
			json_object_set_new(labels,
					    "io.kubernetes.container.name",
					    json_string(m->k8s_container));
	}
	json_object_set_new(cfg, "Labels", labels);
	json_object_set_new(cfg, "Image",
			    json_string(m->image ? m->image : ""));
	in = json_pack("{s:s, s:s, s:s, s:o, s:{s:b, s:i}, s:s, s:s?, s:O?}",
		       "Id", m->id, "Name", name, "Runtime", m->runtime,
		       "Config", cfg, "State", "Running", 1, "Pid", pid,
		       "MountPoint", m->name, "ContainerId", m->ctr_id,
		       "Annotations", json_object_get(oci, "annotations"));
	return in;
}
