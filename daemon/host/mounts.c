/* Overlay mounts from the host's mountinfo. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/safeopen.h"
#include "driftwatch/xmalloc.h"
#include "mounts.h"
#include "driftwatch/banned.h"

struct dw_mounts {
	int fd;
	char *host_root;
	char *skip;
};

static int is_host_root(const char *root)
{
	return !root || !*root || !strcmp(root, "/");
}

char *dw_host_path(const char *host_root, const char *path)
{
	struct dw_buf b = DW_BUF_INIT;
	size_t n;

	if (is_host_root(host_root))
		return dw_xstrdup(path);
	n = strlen(host_root);
	while (n > 1 && host_root[n - 1] == '/')
		n--;
	dw_buf_add(&b, host_root, n);
	if (*path != '/')
		dw_buf_addch(&b, '/');
	dw_buf_adds(&b, path);
	return dw_buf_detach(&b, NULL);
}

/* mountinfo escapes space, tab, newline, '\' and ',' as \ooo. */
static char *unescape(const char *s, size_t n)
{
	char *out = dw_xmalloc(n + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n + 1 && s[i + 1] >= '0' &&
		    s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			*o++ = (char)((s[i + 1] - '0') * 64 +
				      (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* The last component of `path` (no trailing '/'). */
static const char *last_name(const char *path, size_t *len)
{
	const char *end = path + strlen(path), *start;

	while (end > path && end[-1] == '/')
		end--;
	start = end;
	while (start > path && start[-1] != '/')
		start--;
	*len = (size_t)(end - start);
	return start;
}

static int all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

/*
 * Is relative `lower` a sibling layer of `raw_upper` in a layout we know?
 * containerd mounts a long list from its snapshots dir: upper
 * ".../snapshots/7/fs", lowers "12/fs"; overlay2 and containers-storage
 * from their overlay dir: upper ".../<id>/diff", lowers "l/<link>". The
 * mounter's working directory is not in mountinfo: anything else would
 * be a guess.
 */
static int known_relative(const char *raw_upper, const char *lower)
{
	size_t n;
	const char *up = last_name(raw_upper, &n), *slash = strchr(lower, '/');

	if (!slash || strchr(slash + 1, '/'))
		return 0;
	if (n == 2 && !strncmp(up, "fs", 2))
		return all_digits(lower, (size_t)(slash - lower)) &&
		       !strcmp(slash, "/fs");
	if (n == 4 && !strncmp(up, "diff", 4) && slash == lower + 1 &&
	    *lower == 'l' && slash[1]) {
		for (up = slash + 1; *up; up++)
			if (!((*up >= 'A' && *up <= 'Z') ||
			      (*up >= 'a' && *up <= 'z') ||
			      (*up >= '0' && *up <= '9')))
				return 0;
		return 1;
	}
	return 0;
}

/*
 * One lower dir, under the host root. A relative one in a known layout
 * is a sibling of the upper dir's layer (".../snapshots/7/fs" ->
 * ".../snapshots/12/fs"); any other makes the mount unreadable (`bad`).
 */
static char *lower_path(const char *root, const char *raw_upper,
			const char *lower, const char **bad)
{
	struct dw_buf b = DW_BUF_INIT;
	const char *end = raw_upper + strlen(raw_upper);
	char *out;
	int up;

	if (*lower == '/')
		return dw_host_path(root, lower);
	if (!known_relative(raw_upper, lower)) {
		*bad = "a relative lower dir in no layout driftwatch knows "
		       "(where it was mounted from is not in mountinfo)";
		return dw_xstrdup(lower);
	}
	for (up = 0; up < 2 && end > raw_upper; up++) {
		while (end > raw_upper && end[-1] == '/')
			end--;
		while (end > raw_upper && end[-1] != '/')
			end--;
	}
	while (end > raw_upper + 1 && end[-1] == '/')
		end--;
	dw_buf_add(&b, raw_upper, (size_t)(end - raw_upper));
	dw_buf_addf(&b, "/%s", lower);
	out = dw_host_path(root, b.ptr);
	dw_buf_release(&b);
	return out;
}

char **dw_lowerdir_split(const char *s, size_t *n)
{
	struct dw_buf cur = DW_BUF_INIT;
	char **v = NULL;
	size_t alloc = 0;

	*n = 0;
	for (;; s++) {
		if (*s == '\\' && s[1]) {
			dw_buf_addch(&cur, *++s);
			continue;
		}
		if (*s && *s != ':') {
			dw_buf_addch(&cur, *s);
			continue;
		}
		if (cur.len) {
			DW_ALLOC_GROW(v, *n + 1, alloc);
			v[(*n)++] = dw_buf_detach(&cur, NULL);
		}
		if (!*s)
			break;
	}
	dw_buf_release(&cur);
	return v;
}

char *dw_lowerdir_join(char *const *v, size_t n)
{
	struct dw_buf b = DW_BUF_INIT;
	size_t i;
	const char *p;

	dw_buf_adds(&b, "");
	for (i = 0; i < n; i++) {
		if (i)
			dw_buf_addch(&b, ':');
		for (p = v[i]; *p; p++) {
			if (*p == ':' || *p == '\\')
				dw_buf_addch(&b, '\\');
			dw_buf_addch(&b, *p);
		}
	}
	return dw_buf_detach(&b, NULL);
}

static void split_lowers(struct dw_mount *m, const char *s, const char *root,
			 const char *raw_upper)
{
	char **raw = dw_lowerdir_split(s, &m->nlowers);
	size_t i;

	m->lowers = dw_xcalloc(m->nlowers + 1, sizeof(char *));
	for (i = 0; i < m->nlowers; i++) {
		m->lowers[i] = lower_path(root, raw_upper, raw[i], &m->bad);
		free(raw[i]);
	}
	free(raw);
}

static const char *guess_runtime(const char *upper)
{
	if (strstr(upper, "/containerd/") ||
	    strstr(upper, "/io.containerd.snapshotter."))
		return "containerd";
	if (strstr(upper, "/containers/storage/"))
		return "containers-storage";
	return "overlay";
}

static char *mount_id(const char *upper)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1], *id = dw_xmalloc(6 + 16 + 1);

	EVP_Digest(upper, strlen(upper), md, &n, EVP_sha256(), NULL);
	dw_hex(hex, md, n);
	snprintf(id, 6 + 16 + 1, "mount:%.16s", hex);
	return id;
}

static void mount_release(struct dw_mount *m)
{
	size_t j;

	free(m->id);
	free(m->name);
	free(m->runtime);
	free(m->upper);
	free(m->k8s_namespace);
	free(m->k8s_pod);
	free(m->k8s_uid);
	free(m->k8s_container);
	free(m->image);
	free(m->ctr_id);
	free(m->config_path);
	free(m->ctr_name);
	free(m->labels);
	for (j = 0; j < m->nmount_points; j++)
		free(m->mount_points[j]);
	free(m->mount_points);
	for (j = 0; j < m->nlowers; j++)
		free(m->lowers[j]);
	free(m->lowers);
}

/* One lowerdir+/datadir+ value, appended to a lowerdir list. */
static void add_one(struct dw_buf *list, const char *s, size_t n)
{
	char *one = unescape(s, n), *q;

	if (list->len)
		dw_buf_addch(list, ':');
	for (q = one; *q; q++) {
		if (*q == ':' || *q == '\\')
			dw_buf_addch(list, '\\');
		dw_buf_addch(list, *q);
	}
	if (!list->len)
		dw_buf_adds(list, "");
	free(one);
}

/* One mountinfo line into `out`: 1 when it is an overlay with an upper
 * dir, 0 when not, DW_EINVAL when malformed. */
static int parse_line(const char *line, const char *root, struct dw_mount *out,
		      char **raw_upper)
{
	const char *f[5], *sep = strstr(line, " - "), *p = line, *opts;
	char *upper = NULL, *lower = NULL;
	struct dw_buf plus = DW_BUF_INIT, data = DW_BUF_INIT;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if (!p || (sep && p > sep))
			return DW_EINVAL;
		p++;
	}
	if (!sep || strncmp(sep + 3, "overlay ", 8))
		return 0;
	opts = strchr(sep + 11, ' ');
	if (!opts)
		return DW_EINVAL;
	for (p = opts + 1; *p && *p != '\n';) {
		size_t n = strcspn(p, ",\n");

		if (n > 9 && !strncmp(p, "upperdir=", 9) && !upper)
			upper = unescape(p + 9, n - 9);
		else if (n > 9 && !strncmp(p, "lowerdir=", 9) && !lower)
			lower = unescape(p + 9, n - 9);
		else if (n > 10 && !strncmp(p, "lowerdir+=", 10))
			add_one(&plus, p + 10, n - 10);
		else if (n > 9 && !strncmp(p, "datadir+=", 9))
			add_one(&data, p + 9, n - 9);
		else if (n == 9 && !strncmp(p, "userxattr", 9))
			out->userxattr = 1;
		p += n + (p[n] == ',');
	}
	/*
	 * Mounted with the new mount API (Linux 6.8+ shows it so): one
	 * lowerdir+ per layer, then data-only layers (datadir+), which
	 * lookups reach through redirects only; both are lower dirs here.
	 */
	if (!lower && plus.len)
		lower = dw_buf_detach(&plus, NULL);
	if (lower && data.len) {
		dw_buf_addf(&plus, "%s:%s", lower, data.ptr);
		free(lower);
		lower = dw_buf_detach(&plus, NULL);
	}
	dw_buf_release(&plus);
	dw_buf_release(&data);
	if (!upper || !lower) {
		free(upper);
		free(lower);
		return 0;
	}
	/* An upper dir named from the mounter's cwd: not known. */
	if (upper[0] != '/')
		out->bad = "a relative upper dir (where it was mounted from "
			   "is not in mountinfo)";
	out->upper =
		upper[0] == '/' ? dw_host_path(root, upper) : dw_xstrdup(upper);
	out->name = unescape(f[4], strcspn(f[4], " "));
	out->runtime = dw_xstrdup(guess_runtime(upper));
	out->id = mount_id(out->upper);
	split_lowers(out, lower, root, upper);
	free(lower);
	*raw_upper = upper;
	return 1;
}

static int open_mountinfo(const char *host_root)
{
	char *path = is_host_root(host_root)
			     ? dw_xstrdup("/proc/self/mountinfo")
			     : dw_host_path(host_root, "/proc/1/mountinfo");
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		dw_error_errno(DW_EIO, errno, "cannot open %s", path);
	free(path);
	return fd;
}

int dw_mounts_open(struct dw_mounts **out, const char *host_root,
		   const char *skip)
{
	struct dw_mounts *m = dw_xcalloc(1, sizeof(*m));

	m->fd = open_mountinfo(host_root);
	if (m->fd < 0) {
		free(m);
		return DW_EIO;
	}
	m->host_root = is_host_root(host_root) ? NULL : dw_xstrdup(host_root);
	dw_mounts_set_skip(m, skip);
	*out = m;
	return 0;
}

void dw_mounts_set_skip(struct dw_mounts *m, const char *skip)
{
	free(m->skip);
	m->skip = skip ? dw_xstrdup(skip) : NULL;
}

void dw_mounts_close(struct dw_mounts *m)
{
	if (!m)
		return;
	close(m->fd);
	free(m->host_root);
	free(m->skip);
	free(m);
}

int dw_mounts_fd(const struct dw_mounts *m)
{
	return m->fd;
}

/* Is `path` `dir` or below it? */
static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/*
 * Docker's own: its overlay2 layers (upper dir under its root), or a
 * mount under its root: overlay2's merged dirs, and the rootfs of a
 * container on its containerd image store, <root>/rootfs/overlayfs/<id>,
 * whichever containerd keeps the snapshots.
 * mountinfo names the mount point from the reader's root, so it may or
 * may not carry host_root in front.
 */
static int is_dockers(const struct dw_mount *mt, const char *raw_upper,
		      const struct dw_mount_opts *o)
{
	struct dw_buf b = DW_BUF_INIT;
	char *rooted;
	int yes;

	if (!o || !o->skip || !*o->skip)
		return 0;
	if (under(raw_upper, o->skip))
		return 1;
	/* overlay2's merged dirs, the containerd store's rootfs dirs. */
	dw_buf_adds(&b, o->skip);
	rooted = dw_host_path(o->host_root, b.ptr);
	yes = under(mt->name, b.ptr) || under(mt->name, rooted);
	free(rooted);
	dw_buf_release(&b);
	return yes;
}

int dw_mounts_parse(char *text, const struct dw_mount_opts *o,
		    struct dw_mount **out, size_t *n)
{
	const char *root = o ? o->host_root : NULL;
	struct dw_mount *all = NULL;
	char **dockers = NULL, *line, *next;
	size_t nall = 0, alloc = 0, nd = 0, dalloc = 0, i, j;

	*out = NULL;
	*n = 0;
	for (line = text; line && *line; line = next) {
		struct dw_mount mt;
		char *raw_upper = NULL;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (parse_line(line, root, &mt, &raw_upper) != 1)
			continue;
		if (is_dockers(&mt, raw_upper, o)) {
			DW_ALLOC_GROW(dockers, nd + 1, dalloc);
			dockers[nd++] = dw_xstrdup(mt.upper);
			mount_release(&mt);
		} else {
			DW_ALLOC_GROW(all, nall + 1, alloc);
			all[nall++] = mt;
		}
		free(raw_upper);
	}
	/*
	 * Keep each upper dir once, and none of Docker's: a copy of its
	 * mount elsewhere (a bind, shared propagation) is still Docker's.
	 */
	alloc = 0;
	for (i = 0; i < nall; i++) {
		int drop = 0;

		for (j = 0; j < nd && !drop; j++)
			drop = !strcmp(all[i].upper, dockers[j]);
		for (j = 0; j < *n && !drop && !(o && o->keep_all); j++)
			drop = !strcmp((*out)[j].id, all[i].id);
		if (drop) {
			mount_release(&all[i]);
			continue;
		}
		DW_ALLOC_GROW(*out, *n + 1, alloc);
		(*out)[(*n)++] = all[i];
	}
	for (j = 0; j < nd; j++)
		free(dockers[j]);
	free(dockers);
	free(all);
	return 0;
}

static int read_parse(int fd, const struct dw_mount_opts *o,
		      struct dw_mount **out, size_t *n)
{
	struct dw_buf all = DW_BUF_INIT;
	int err;

	*out = NULL;
	*n = 0;
	/* Reading from the start re-arms the POLLPRI notification. */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return dw_error_errno(DW_EIO, errno, "mountinfo");
	err = dw_buf_read_fd(&all, fd);
	if (!err)
		err = dw_mounts_parse(all.ptr ? all.ptr : (char[]){""}, o, out,
				      n);
	dw_buf_release(&all);
	return err;
}

static int is_libpod(json_t *a)
{
	const char *m =
		json_string_value(json_object_get(a, "io.container.manager"));

	return m && !strcmp(m, "libpod");
}

static int annotation_present(json_t *a, const char *key)
{
	const char *v = json_string_value(json_object_get(a, key));

	return v && *v;
}

/* An annotation's value, copied, or NULL. */
static char *annotation(json_t *a, const char *key)
{
	const char *v = json_string_value(json_object_get(a, key));

	return v && *v && strlen(v) < 512 ? dw_xstrdup(v) : NULL;
}

/*
 * A runtime's JSON file (`path` as the host names it, read under
 * `root`): a regular file, no symlink followed, at most `max` bytes;
 * NULL when not there or not JSON.
 */
static json_t *load_json(const char *root, const char *path, off_t max)
{
	char *p = dw_host_path(root, path), *text;
	json_t *doc = NULL;
	struct stat st;
	ssize_t got;
	int fd = dw_open_regular(AT_FDCWD, p, 0, &st);

	free(p);
	if (fd < 0)
		return NULL;
	if (st.st_size > 0 && st.st_size <= max) {
		text = dw_xmalloc((size_t)st.st_size);
		got = pread(fd, text, (size_t)st.st_size, 0);
		if (got == st.st_size)
			doc = json_loadb(text, (size_t)got, 0, NULL);
		free(text);
	}
	close(fd);
	return doc;
}

/* The runtime's mount points in the rootfs: config.json's mounts. */
static void mount_points(struct dw_mount *m, json_t *doc)
{
	json_t *a = json_object_get(doc, "mounts"), *v;
	size_t k, alloc = 0;

	if (!json_is_array(a))
		return;
	json_array_foreach(a, k, v)
	{
		const char *d =
			json_string_value(json_object_get(v, "destination"));

		if (!d || d[0] != '/' || strlen(d) >= 4096 ||
		    m->nmount_points >= 256)
			continue;
		DW_ALLOC_GROW(m->mount_points, m->nmount_points + 1, alloc);
		m->mount_points[m->nmount_points++] = dw_xstrdup(d);
	}
}

/*
 * containerd mounts a task's rootfs at <state>/io.containerd.runtime.
 * v2.task/<namespace>/<id>/rootfs, its OCI config.json beside it. The
 * CRI plugin's annotations name the pod; a container cannot write them
 * (the bundle is the runtime's, outside the container's layers).
 */
static void identify_containerd(const char *root, struct dw_mount *m)
{
	static const char tail[] = "/rootfs";
	size_t n = strlen(m->name);
	struct dw_buf p = DW_BUF_INIT;
	json_t *doc, *a;

	if (n <= sizeof(tail) - 1 ||
	    strcmp(m->name + n - (sizeof(tail) - 1), tail) ||
	    !strstr(m->name, "/io.containerd.runtime.v2.task/"))
		return;
	dw_buf_add(&p, m->name, n - (sizeof(tail) - 1));
	dw_buf_adds(&p, "/config.json");
	doc = load_json(root, p.ptr, 4 << 20);
	if (doc)
		m->config_path = dw_buf_detach(&p, NULL);
	dw_buf_release(&p);
	a = json_object_get(doc, "annotations");
	if (json_is_object(a)) {
		const char *type = json_string_value(
			json_object_get(a, "io.kubernetes.cri.container-type"));

		m->k8s_namespace =
			annotation(a, "io.kubernetes.cri.sandbox-namespace");
		m->k8s_pod = annotation(a, "io.kubernetes.cri.sandbox-name");
		m->k8s_uid = annotation(a, "io.kubernetes.cri.sandbox-uid");
		m->k8s_container =
			annotation(a, "io.kubernetes.cri.container-name");
		m->image = annotation(a, "io.kubernetes.cri.image-name");
		m->sandbox = type && !strcmp(type, "sandbox");
	}
	mount_points(m, doc);
	json_decref(doc);
}

/* A layer or container id of containers-storage: 64 hex digits. */
static int storage_id(const char *s, size_t n)
{
	size_t i;

	if (n != 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

/*
 * CRI-O and podman (containers-storage) mount a container's rootfs at
 * <storage root>/overlay/<layer>/merged, outside its bundle. Its
 * container is the one of overlay-containers/containers.json whose
 * "layer" that is; its OCI config is that container's
 * userdata/config.json. CRI-O's annotations name the pod
 * (io.kubernetes.*) and carry its labels; podman's container has its
 * name and image in containers.json. Both files are the runtime's, out
 * of any container's reach.
 */
static void identify_storage(const char *root, struct dw_mount *m)
{
	static const char tail[] = "/merged", mid[] = "/overlay/";
	size_t n = strlen(m->name), k;
	const char *layer, *end;
	struct dw_buf p = DW_BUF_INIT;
	json_t *list, *c, *hit = NULL, *doc, *a, *meta = NULL;
	const char *id;

	if (n <= sizeof(tail) - 1 ||
	    strcmp(m->name + n - (sizeof(tail) - 1), tail))
		return;
	end = m->name + n - (sizeof(tail) - 1);
	for (layer = end; layer > m->name && layer[-1] != '/'; layer--)
		;
	if (!storage_id(layer, (size_t)(end - layer)) ||
	    layer - m->name < (ptrdiff_t)(sizeof(mid) - 1) ||
	    strncmp(layer - (sizeof(mid) - 1), mid, sizeof(mid) - 1))
		return;
	/* <storage root>/overlay-containers/containers.json */
	dw_buf_add(&p, m->name, (size_t)(layer - (sizeof(mid) - 1) - m->name));
	k = p.len;
	dw_buf_adds(&p, "/overlay-containers/containers.json");
	list = load_json(root, p.ptr, 64 << 20);
	json_array_foreach(list, n, c)
	{
		const char *l = json_string_value(json_object_get(c, "layer"));

		if (l && (size_t)(end - layer) == strlen(l) &&
		    !strncmp(l, layer, (size_t)(end - layer))) {
			hit = c;
			break;
		}
	}
	id = json_string_value(json_object_get(hit, "id"));
	if (!id || !storage_id(id, strlen(id))) {
		json_decref(list);
		dw_buf_release(&p);
		return;
	}
	m->ctr_id = dw_xstrdup(id);
	free(m->runtime);
	m->runtime = dw_xstrdup("podman");
	{
		const char *name = json_string_value(
			json_array_get(json_object_get(hit, "names"), 0));
		const char *md =
			json_string_value(json_object_get(hit, "metadata"));

		if (name && *name && strlen(name) < 512)
			m->ctr_name = dw_xstrdup(name);
		meta = md ? json_loads(md, 0, NULL) : NULL;
		m->image = annotation(meta, "image-name");
	}
	dw_buf_setlen(&p, k);
	dw_buf_addf(&p, "/overlay-containers/%s/userdata/config.json", id);
	doc = load_json(root, p.ptr, 4 << 20);
	if (doc)
		m->config_path = dw_xstrdup(p.ptr);
	a = json_object_get(doc, "annotations");
	/* CRI-O's only when CRI-O made it: podman marks its own
	 * (io.container.manager: libpod), and a pod names it. (podman
	 * takes annotations from its user and, in some versions, from the
	 * image: a podman container could otherwise claim to be a pod's
	 * sandbox, which is not watched.) */
	if (json_is_object(a) &&
	    json_object_get(a, "io.kubernetes.cri-o.ContainerType") &&
	    annotation_present(a, "io.kubernetes.pod.name") && !is_libpod(a)) {
		const char *type = json_string_value(json_object_get(
			a, "io.kubernetes.cri-o.ContainerType"));
		const char *labels = json_string_value(
			json_object_get(a, "io.kubernetes.cri-o.Labels"));
		json_t *l = labels ? json_loads(labels, 0, NULL) : NULL;

		free(m->runtime);
		m->runtime = dw_xstrdup("cri-o");
		m->k8s_namespace = annotation(a, "io.kubernetes.pod.namespace");
		m->k8s_pod = annotation(a, "io.kubernetes.pod.name");
		m->k8s_uid = annotation(a, "io.kubernetes.pod.uid");
		m->k8s_container =
			annotation(a, "io.kubernetes.container.name");
		if (annotation_present(a, "io.kubernetes.cri-o.ImageName")) {
			free(m->image);
			m->image =
				annotation(a, "io.kubernetes.cri-o.ImageName");
		}
		m->sandbox = type && !strcmp(type, "sandbox");
		/* A pod's labels are its sandbox's (a container's own are
		 * Kubernetes' io.kubernetes.* keys): merged in, its own
		 * first. */
		if (!m->sandbox) {
			const char *sb = json_string_value(json_object_get(
				a, "io.kubernetes.cri-o.SandboxID"));
			json_t *sdoc = NULL, *pl = NULL;

			if (sb && storage_id(sb, strlen(sb))) {
				dw_buf_setlen(&p, k);
				dw_buf_addf(&p,
					    "/overlay-containers/%s/userdata/"
					    "config.json",
					    sb);
				sdoc = load_json(root, p.ptr, 4 << 20);
				labels = json_string_value(json_object_get(
					json_object_get(sdoc, "annotations"),
					"io.kubernetes.cri-o.Labels"));
				pl = labels ? json_loads(labels, 0, NULL)
					    : NULL;
			}
			if (json_is_object(pl)) {
				if (!json_is_object(l)) {
					json_decref(l);
					l = json_object();
				}
				json_object_update_missing(l, pl);
			}
			json_decref(pl);
			json_decref(sdoc);
		}
		if (json_is_object(l) && json_object_size(l) <= 256)
			m->labels =
				json_dumps(l, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(l);
	}
	mount_points(m, doc);
	json_decref(doc);
	json_decref(meta);
	json_decref(list);
	dw_buf_release(&p);
}

json_t *dw_mount_oci_config(const char *host_root, const struct dw_mount *m)
{
	return m->config_path ? load_json(host_root, m->config_path, 4 << 20)
			      : NULL;
}

/* RUNTIME://ID of a containers-storage container: its id, or a prefix
 * of 12 or more of it. */
static int storage_named(const struct dw_mount *m, const char *want)
{
	size_t n = strlen(m->runtime);

	if (!m->ctr_id || strncmp(want, m->runtime, n) ||
	    strncmp(want + n, "://", 3))
		return 0;
	want += n + 3;
	return strlen(want) >= 12 && !strncmp(m->ctr_id, want, strlen(want));
}

int dw_mount_named(const struct dw_mount *m, const char *want)
{
	struct dw_buf k = DW_BUF_INIT;
	const char *end, *start;
	int yes = !strcmp(want, m->id) || !strcmp(want, m->name) ||
		  (m->ctr_name && !m->k8s_pod && !strcmp(want, m->ctr_name)) ||
		  storage_named(m, want);

	if (!yes && m->k8s_pod && m->k8s_container) {
		dw_buf_addf(&k, "%s/%s/%s",
			    m->k8s_namespace ? m->k8s_namespace : "",
			    m->k8s_pod, m->k8s_container);
		yes = !strcmp(want, k.ptr);
	}
	if (!yes && !strncmp(want, "containerd://", 13) &&
	    strstr(m->name, "/io.containerd.runtime.v2.task/") &&
	    (end = strrchr(m->name, '/'))) {
		for (start = end; start > m->name && start[-1] != '/'; start--)
			;
		yes = start < end &&
		      (size_t)(end - start) == strlen(want + 13) &&
		      !strncmp(start, want + 13, (size_t)(end - start));
	}
	dw_buf_release(&k);
	return yes;
}

int dw_mounts_find(const char *host_root, const char *want,
		   struct dw_mount **list, size_t *n, size_t *hit)
{
	struct dw_buf names = DW_BUF_INIT;
	size_t i, nhits = 0;

	*list = NULL;
	*n = *hit = 0;
	if (dw_mounts_read_all(host_root, list, n))
		return dw_error_set(DW_ENOTFOUND,
				    "cannot read this host's overlay mounts");
	dw_mounts_identify(host_root, *list, *n);
	for (i = 0; i < *n; i++) {
		if ((*list)[i].sandbox || !dw_mount_named(&(*list)[i], want))
			continue;
		dw_buf_addf(&names, "%s%s (%s)", nhits ? ", " : "",
			    (*list)[i].name, (*list)[i].id);
		*hit = i;
		nhits++;
	}
	if (nhits == 1) {
		dw_buf_release(&names);
		return 0;
	}
	if (nhits > 1)
		dw_error_set(DW_EINVAL,
			     "%zu containers are named %s: %s; give "
			     "an id",
			     nhits, want, names.ptr);
	else
		dw_error_set(DW_ENOTFOUND,
			     "no container %s among this host's overlay mounts "
			     "(containerd, CRI-O, podman: "
			     "NAMESPACE/POD/CONTAINER, containerd://ID, "
			     "cri-o://ID, podman://ID or name, mount:ID)",
			     want);
	dw_buf_release(&names);
	dw_mounts_free_list(*list, *n);
	*list = NULL;
	*n = 0;
	return nhits > 1 ? DW_EINVAL : DW_ENOTFOUND;
}

void dw_mounts_identify(const char *host_root, struct dw_mount *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		identify_containerd(host_root, &list[i]);
		identify_storage(host_root, &list[i]);
	}
}

int dw_mounts_scan(struct dw_mounts *m, struct dw_mount **out, size_t *n)
{
	struct dw_mount_opts o = {m->host_root, m->skip, 0};
	int err = read_parse(m->fd, &o, out, n);

	if (!err)
		dw_mounts_identify(m->host_root, *out, *n);
	return err;
}

int dw_mounts_read_all(const char *host_root, struct dw_mount **out, size_t *n)
{
	struct dw_mount_opts o = {host_root, NULL, 1};
	int fd = open_mountinfo(host_root), err;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return DW_EIO;
	err = read_parse(fd, &o, out, n);
	close(fd);
	return err;
}

void dw_mounts_free_list(struct dw_mount *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		mount_release(&list[i]);
	free(list);
}
