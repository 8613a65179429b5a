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

/* A cgroup path from /proc/PID/cgroup: absolute, no "..", no newline. */
static int cgroup_path_ok(const char *p)
{
	return p[0] == '/' && !strstr(p, "/../") &&
	       strcmp(p + strlen(p) - (strlen(p) >= 3 ? 3 : 0), "/..") &&
	       !strchr(p, '\n');
}

int snap_freezer_open(struct snap_freezer *f, const char *root, int pid)
{
	char path[96], line[4096], *v1 = NULL, *v2 = NULL;
	char *procf, *dir;
	struct dw_buf b = DW_BUF_INIT;
	FILE *in;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	procf = dw_host_path(root, path);
	in = fopen(procf, "re");
	free(procf);
	if (!in)
		return dw_error_errno(DW_EIO, errno,
				      "cannot read the cgroup of pid %d", pid);
	while (fgets(line, sizeof(line), in)) {
		char *c1 = strchr(line, ':'),
		     *c2 = c1 ? strchr(c1 + 1, ':') : 0;
		size_t n;

		if (!c2)
			continue;
		n = strlen(c2 + 1);
		if (n && c2[n] == '\n')
			c2[n] = '\0';
		if (!strncmp(c1 + 1, "freezer:", 8) && !v1)
			v1 = dw_xstrdup(c2 + 1);
		else if (!strncmp(line, "0::", 3) && !v2)
			v2 = dw_xstrdup(c2 + 1);
	}
	fclose(in);
	/* cgroup v1's freezer where it is mounted (these hosts boot v1
	 * hybrid), else v2's cgroup.freeze. */
	for (f->v2 = 0; f->v2 < 2 && f->fd < 0; f->v2++) {
		const char *cg = f->v2 ? v2 : v1;

		if (!cg || !cgroup_path_ok(cg))
			continue;
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
	dw_buf_release(&b);
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
static int frozen(const struct snap_freezer *f)
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
	while (!frozen(f)) {
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

json_t *snap_cgroup_processes(const char *root, const struct snap_freezer *f)
{
	struct dw_buf p = DW_BUF_INIT;
	json_t *out = json_array();
	char line[64];
	FILE *in;

	dw_buf_addf(&p, "%s/cgroup.procs", f->dir);
	in = fopen(p.ptr, "re");
	dw_buf_release(&p);
	if (!in) {
		json_decref(out);
		return json_pack("{s:s}", "error",
				 "cannot read the cgroup's processes");
	}
	while (fgets(line, sizeof(line), in) && json_array_size(out) < 4096) {
		long pid = strtol(line, NULL, 10), ppid, uid;

		if (pid <= 0)
			continue;
		proc_ids(root, pid, &ppid, &uid);
		json_array_append_new(
			out,
			json_pack("{s:I, s:I, s:I, s:o, s:o, s:o}", "pid",
				  (json_int_t)pid, "ppid", (json_int_t)ppid,
				  "uid", (json_int_t)uid, "cmdline",
				  snap_proc_text(root, (int)pid, "cmdline"),
				  "exe", snap_proc_link(root, (int)pid, "exe"),
				  "cwd",
				  snap_proc_link(root, (int)pid, "cwd")));
	}
	fclose(in);
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
