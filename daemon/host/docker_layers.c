/*
 * A container's layer dirs, its log file and what it writes outside its
 * layers, from its inspect document: overlay2's GraphDriver.Data, or, on
 * Docker's containerd image store (which names no dirs), its rootfs mount.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "driftwatch/buf.h"
#include "docker.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/xmalloc.h"
#include "mounts.h"
#include "store.h"
#include "driftwatch/banned.h"

static char *dup_or_empty(const char *s)
{
	return dw_xstrdup(s ? s : "");
}

/* GraphDriver.Data.LowerDir: ':'-separated host paths. */
static void split_lowers(struct dw_container_layers *l, const char *s,
			 const char *root)
{
	size_t alloc = 0;

	while (s && *s) {
		const char *colon = strchr(s, ':');
		size_t n = colon ? (size_t)(colon - s) : strlen(s);

		if (n) {
			char *raw = dw_xstrndup(s, n);

			DW_ALLOC_GROW(l->lowers, l->nlowers + 1, alloc);
			l->lowers[l->nlowers++] = dw_host_path(root, raw);
			free(raw);
		}
		s += n + (colon != NULL);
	}
}

/*
 * Where the container writes outside its layers: volumes, bind mounts
 * and tmpfs mounts (Mounts[] and HostConfig.Tmpfs), their destinations
 * joined with ", "; "" when none.
 */
static char *outside_layers(json_t *j)
{
	struct dw_buf b = DW_BUF_INIT;
	json_t *m, *v;
	const char *key;
	size_t i;

	json_array_foreach(json_object_get(j, "Mounts"), i, m)
	{
		const char *dst = dw_json_path_str(m, "Destination");
		const char *type = dw_json_path_str(m, "Type");

		if (dst)
			dw_buf_addf(&b, "%s%s (%s)", b.len ? ", " : "", dst,
				    type ? type : "mount");
	}
	json_object_foreach(dw_json_path(j, "HostConfig.Tmpfs"), key, v)
		dw_buf_addf(&b, "%s%s (tmpfs)", b.len ? ", " : "", key);
	if (!b.len)
		dw_buf_adds(&b, "");
	return dw_buf_detach(&b, NULL);
}

/* Which file holds a container's log, and in which format. */
static void log_file(struct dw_container_layers *l, json_t *j, const char *root)
{
	const char *hostname = dw_json_path_str(j, "HostnamePath");
	const char *logpath = dw_json_path_str(j, "LogPath");
	const char *cache = dw_json_path_str(
		j, "HostConfig.LogConfig.Config.cache-disabled");
	const char *slash;
	struct dw_buf p = DW_BUF_INIT;

	if (!strcmp(l->log_driver, "json-file")) {
		free(l->log_path);
		l->log_path = logpath && *logpath ? dw_host_path(root, logpath)
						  : dup_or_empty(NULL);
		return;
	}
	/* The container's own dir, where Docker keeps its hostname file. */
	if (!*l->log_driver || !strcmp(l->log_driver, "none") || !hostname ||
	    !(slash = strrchr(hostname, '/'))) {
		l->log_gap = "keeps no copy to read";
		return;
	}
	/* journald keeps no cache: its entries are read from the journal. */
	if (!strcmp(l->log_driver, "journald")) {
		l->log_journald = 1;
		return;
	}
	if (cache && !strcmp(cache, "true")) {
		l->log_gap = "keeps no copy to read (cache-disabled: true)";
		return;
	}
	if (root)
		dw_buf_adds(&p, root);
	dw_buf_add(&p, hostname, (size_t)(slash - hostname));
	if (!strcmp(l->log_driver, "local")) {
		dw_buf_adds(&p, "/local-logs/container.log");
	} else {
		struct stat st;

		/*
		 * Docker keeps the dual-logging cache only for drivers that
		 * cannot read their own logs back: journald and some plugins
		 * have none. No cache file at start: nothing to read, said.
		 */
		dw_buf_adds(&p, "/container-cached.log");
		if (stat(p.ptr, &st)) {
			l->log_gap = "is not read (no dual-logging cache "
				     "container-cached.log)";
			dw_buf_release(&p);
			return;
		}
	}
	free(l->log_path);
	l->log_path = dw_buf_detach(&p, NULL);
	l->log_local = 1;
}

static int is_init_dir(const char *dir)
{
	size_t n = strlen(dir);

	return n > 10 && !strcmp(dir + n - 10, "-init/diff");
}

/* Identity and configuration: everything but the layer dirs. */
static void fill_common(struct dw_container_layers *l, json_t *j,
			const char *driver, const char *root)
{
	const char *name = dw_json_path_str(j, "Name");

	l->id = dup_or_empty(dw_json_path_str(j, "Id"));
	l->name = dup_or_empty(name && name[0] == '/' ? name + 1 : name);
	l->image = dup_or_empty(dw_json_path_str(j, "Config.Image"));
	l->driver = dw_xstrdup(driver);
	l->labels = json_object_get(json_object_get(j, "Config"), "Labels");
	l->labels = json_is_object(l->labels) ? json_deep_copy(l->labels)
					      : json_object();
	/* Kubernetes' identity labels are Kubernetes' only on the
	 * containers it starts through Docker (cri-dockerd names them
	 * k8s_…): on any other, an image could claim a pod and namespace
	 * (and with them allow rules by namespace). Dropped there. */
	if (strncmp(l->name, "k8s_", 4)) {
		const char *key;
		json_t *v;
		void *tmp;

		json_object_foreach_safe(l->labels, tmp, key, v)
		{
			if (!strncmp(key, "io.kubernetes.", 14))
				json_object_del(l->labels, key);
		}
	}
	l->read_only = json_is_true(json_object_get(
		json_object_get(j, "HostConfig"), "ReadonlyRootfs"));
	l->running = json_is_true(
		json_object_get(json_object_get(j, "State"), "Running"));
	l->log_driver =
		dup_or_empty(dw_json_path_str(j, "HostConfig.LogConfig.Type"));
	l->log_path = dup_or_empty(NULL);
	log_file(l, j, root);
	l->mounts = outside_layers(j);
}

/* How many layers the container's image has, or -1. */
static long image_layers(struct dw_docker *d, json_t *j)
{
	const char *image = dw_json_path_str(j, "Image");
	struct dw_buf path = DW_BUF_INIT;
	json_t *img = NULL;
	char *esc;
	long n = -1;

	if (!image || !(esc = dw_docker_escape(d, image)))
		return -1;
	dw_buf_addf(&path, "/images/%s/json", esc);
	free(esc);
	if (!dw_docker_get_json(d, &img, path.ptr) &&
	    json_is_array(dw_json_path(img, "RootFS.Layers")))
		n = (long)json_array_size(dw_json_path(img, "RootFS.Layers"));
	json_decref(img);
	dw_buf_release(&path);
	return n;
}

static int dir_exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISDIR(st.st_mode);
}

/*
 * A running container on Docker's containerd image store: its rootfs is
 * an overlay mounted at <DockerRootDir>/rootfs/overlayfs/<id>.
 */
static int mounted_layers(struct dw_docker *d, struct dw_container_layers *l,
			  const char *rootdir)
{
	const char *hroot = dw_docker_host_root(d);
	struct dw_buf want = DW_BUF_INIT;
	struct dw_mount *v = NULL;
	size_t n = 0, i;
	char *rooted;
	int err = dw_mounts_read_all(hroot, &v, &n);

	if (err)
		return err;
	dw_buf_addf(&want, "%s/rootfs/overlayfs/%s", rootdir, l->id);
	rooted = dw_host_path(hroot, want.ptr);
	for (i = 0; i < n; i++)
		if (!strcmp(v[i].name, want.ptr) || !strcmp(v[i].name, rooted))
			break;
	if (i == n) {
		size_t k, wl = want.len;

		/* Mounted under another root? Say which. */
		for (k = 0; k < n; k++) {
			size_t nl = strlen(v[k].name);

			if (nl > wl && !strcmp(v[k].name + nl - wl, want.ptr))
				break;
		}
		if (k < n)
			err = dw_error_set(
				DW_EIO,
				"container %s runs on Docker's containerd "
				"image store, mounted at %s: Docker sees the "
				"host's / at %.*s (set driftwatch --host-root "
				"%.*s, or driftwatchd's host_root)",
				l->name, v[k].name,
				(int)(strlen(v[k].name) - wl), v[k].name,
				(int)(strlen(v[k].name) - wl), v[k].name);
		else
			err = dw_error_set(
				DW_EIO,
				"container %s runs on Docker's containerd "
				"image store, but its rootfs %s is not an "
				"overlay mount with an upper dir in the host's "
				"mountinfo",
				l->name, rooted);
	} else if (v[i].bad) {
		err = dw_error_set(
			DW_EIO,
			"container %s runs on Docker's containerd "
			"image store, but its rootfs mount %s has %s",
			l->name, v[i].name, v[i].bad);
	} else {
		l->userxattr = v[i].userxattr;
		l->upper = v[i].upper;
		l->lowers = v[i].lowers;
		l->nlowers = v[i].nlowers;
		v[i].upper = NULL;
		v[i].lowers = NULL;
		v[i].nlowers = 0;
	}
	dw_mounts_free_list(v, n);
	free(rooted);
	dw_buf_release(&want);
	return err;
}

/*
 * A recorded path, named under `from` (the daemon's host root), as seen
 * under `to` (ours). NULL when it is not under `from`.
 */
static char *rebase(const char *path, const char *from, const char *to)
{
	size_t n = strlen(from);

	while (n > 1 && from[n - 1] == '/')
		n--;
	if (n <= 1 || !strcmp(from, "/"))
		return dw_host_path(to, path);
	if (strncmp(path, from, n) || (path[n] != '/' && path[n]))
		return NULL;
	return dw_host_path(to, *(path + n) ? path + n : "/");
}

/*
 * A stopped container on the containerd store has no mount. Its snapshot
 * dirs stay until it is removed: the dirs driftwatchd recorded while it
 * ran are its layers if they are all still there, and its upper dir is
 * the very dir recorded (device and inode: a reset containerd that
 * numbers snapshots from 1 again is not believed).
 */
static int recorded_layers(struct dw_docker *d, struct dw_container_layers *l)
{
	struct dw_store *s = dw_docker_store(d);
	struct dw_store_dirs rec;
	char **raw = NULL, why[512] = "";
	size_t i, n = 0;
	struct stat st;
	int err = s ? dw_store_container_dirs(s, l->id, &rec) : DW_ENOTFOUND;

	if (!s)
		snprintf(why, sizeof(why),
			 "driftwatchd's store (--db) is not readable");
	else if (err == DW_ENOTFOUND)
		snprintf(why, sizeof(why), "driftwatchd never saw it run");
	else if (err)
		snprintf(why, sizeof(why), "%s", dw_error_last());
	if (!err) {
		const char *to = dw_docker_host_root(d);

		l->upper = rebase(rec.upper, rec.host_root, to);
		raw = dw_lowerdir_split(rec.lowers, &n);
		l->lowers = dw_xcalloc(n + 1, sizeof(char *));
		for (i = 0; i < n; i++) {
			l->lowers[l->nlowers] =
				rebase(raw[i], rec.host_root, to);
			if (l->lowers[l->nlowers])
				l->nlowers++;
			free(raw[i]);
		}
		free(raw);
		for (i = 0; i < l->nlowers && dir_exists(l->lowers[i]); i++)
			;
		if (!l->upper || l->nlowers != n || !n || i < n ||
		    lstat(l->upper, &st) || !S_ISDIR(st.st_mode))
			snprintf(why, sizeof(why),
				 "the layer dirs driftwatchd recorded (under "
				 "%s) are gone",
				 rec.host_root);
		else if (rec.upper_ino &&
			 ((uint64_t)st.st_ino != rec.upper_ino ||
			  (uint64_t)st.st_dev != rec.upper_dev))
			snprintf(why, sizeof(why),
				 "its recorded upper dir %s is another "
				 "directory now",
				 l->upper);
		else
			l->recorded = rec.last_seen;
		dw_store_dirs_release(&rec);
		if (l->recorded)
			return 0;
	}
	return dw_error_set(DW_ECONFLICT,
			    "container %s is not running, and Docker's "
			    "containerd image store mounts its layers only "
			    "while it runs; %s: start it (docker start %s) to "
			    "see them",
			    l->name, why, l->name);
}

/* Does container `id` run now? (On any doubt: yes.) */
static int still_running(struct dw_docker *d, const char *id)
{
	struct dw_buf path = DW_BUF_INIT;
	json_t *j = NULL;
	int yes = 1;

	dw_buf_addf(&path, "/containers/%s/json", id);
	if (!dw_docker_get_json(d, &j, path.ptr))
		yes = json_is_true(dw_json_path(j, "State.Running"));
	json_decref(j);
	dw_buf_release(&path);
	return yes;
}

/* Which lower is Docker's init layer (the mount points it adds). */
static int find_init_layer(struct dw_docker *d, struct dw_container_layers *l,
			   json_t *j, int snapshotter)
{
	long n;

	if (!snapshotter) {
		l->init_layer = l->nlowers && is_init_dir(l->lowers[0]);
		return 0;
	}
	/* Lower dirs: the init snapshot, then one per image layer. */
	n = image_layers(d, j);
	if (n >= 0 && (size_t)n + 1 == l->nlowers)
		l->init_layer = 1;
	else if (n >= 0 && (size_t)n == l->nlowers)
		l->init_layer = 0;
	else
		l->init_layer = -1;
	return 0;
}

static int fill_layers(struct dw_docker *d, struct dw_container_layers *l,
		       json_t *j, const char *ref)
{
	const char *driver = dw_json_path_str(j, "GraphDriver.Name");
	const char *upper = dw_json_path_str(j, "GraphDriver.Data.UpperDir");
	const char *hroot = dw_docker_host_root(d);
	const char *rootdir;
	int snapshotter, err;

	memset(l, 0, sizeof(*l));
	if (!driver)
		return dw_error_set(DW_EINVAL,
				    "docker inspect of %s has no GraphDriver",
				    ref);
	/* The containerd image store names no dirs (Data is null). */
	snapshotter = !strcmp(driver, "overlayfs") && !upper;
	if (!snapshotter && strcmp(driver, "overlay2") &&
	    strcmp(driver, "overlay"))
		return dw_error_set(DW_EUNSUPPORTED,
				    "container %s uses the %s storage driver; "
				    "only overlay2 and the containerd image "
				    "store's overlayfs are supported",
				    ref, driver);
	if (!snapshotter && !upper)
		return dw_error_set(
			DW_EINVAL, "docker inspect of %s has no UpperDir", ref);
	fill_common(l, j, driver, hroot);
	l->snapshotter = snapshotter;
	if (!snapshotter) {
		l->upper = dw_host_path(hroot, upper);
		split_lowers(l,
			     dw_json_path_str(j, "GraphDriver.Data.LowerDir"),
			     hroot);
		err = 0;
	} else if (!l->running) {
		err = recorded_layers(d, l);
	} else if (!(rootdir = dw_docker_root_dir(d))) {
		/* Running, and not found: never silent (DW_EIO). */
		err = dw_error_set(DW_EIO,
				   "container %s runs on Docker's containerd "
				   "image store, but Docker's root dir is not "
				   "known: %s",
				   l->name, dw_error_last());
	} else {
		err = mounted_layers(d, l, rootdir);
		/* It may have stopped since it was inspected. */
		if (err == DW_EIO && !still_running(d, l->id))
			err = recorded_layers(d, l);
	}
	if (!err)
		err = find_init_layer(d, l, j, snapshotter);
	if (err)
		dw_container_layers_release(l);
	return err;
}

int dw_docker_container_layers(struct dw_docker *d,
			       struct dw_container_layers *out, const char *ref)
{
	return dw_docker_container_layers_inspect(d, out, ref, NULL);
}

int dw_docker_container_layers_inspect(struct dw_docker *d,
				       struct dw_container_layers *out,
				       const char *ref, json_t **inspect)
{
	struct dw_buf path = DW_BUF_INIT;
	json_t *j = NULL;
	char *esc;
	int err;

	if (inspect)
		*inspect = NULL;
	if (!*ref)
		return dw_error_set(DW_EINVAL, "empty container name");
	esc = dw_docker_escape(d, ref);
	if (!esc)
		return dw_error_set(DW_ERROR, "cannot escape '%s'", ref);
	dw_buf_addf(&path, "/containers/%s/json", esc);
	free(esc);
	err = dw_docker_get_json(d, &j, path.ptr);
	if (err == DW_ENOTFOUND)
		err = dw_error_set(DW_ENOTFOUND, "no such container: %s", ref);
	if (!err)
		err = fill_layers(d, out, j, ref);
	if (!err && inspect)
		*inspect = json_incref(j);
	json_decref(j);
	dw_buf_release(&path);
	return err;
}

void dw_container_layers_release(struct dw_container_layers *l)
{
	size_t i;

	free(l->id);
	free(l->name);
	free(l->image);
	free(l->driver);
	free(l->upper);
	for (i = 0; l->lowers && i < l->nlowers; i++)
		free(l->lowers[i]);
	free(l->lowers);
	json_decref(l->labels);
	free(l->log_path);
	free(l->log_driver);
	free(l->mounts);
	memset(l, 0, sizeof(*l));
}
