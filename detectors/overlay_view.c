/* The drift classifier: views. A view is one merged directory: the upper dir at
 * that path (if any) and the lower dirs overlayfs would merge below it, topmost
 * first; whiteouts, opaque dirs and redirects decide what is in it. */
#include "overlay_int.h"

#include "driftwatch/banned.h"

const char *ovl_shown_path(struct walk *w)
{
	return w->path.len ? w->path.ptr : "/";
}

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 &&
	       minor(st->st_rdev) == 0;
}

enum probe_result ovl_probe(int dirfd, const char *name, struct stat *st)
{
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || errno == ENOTDIR ? P_NONE : P_ERR;
	return is_whiteout(st) ? P_WHITEOUT : P_FOUND;
}

/* Callers have pushed the entry's name onto w->path already. */
int ovl_probe_error(struct walk *w)
{
	return dw_error_errno(DW_EIO, errno, "cannot stat %s in a layer",
			      ovl_shown_path(w));
}

/* Read an overlay xattr in its trusted. or user. (userxattr) namespace. */
static ssize_t ovl_xattr(int fd, const char *name, char *val, size_t size)
{
	char key[64];
	ssize_t n;

	snprintf(key, sizeof(key), "trusted.overlay.%s", name);
	n = fgetxattr(fd, key, val, size);
	if (n >= 0)
		return n;
	snprintf(key, sizeof(key), "user.overlay.%s", name);
	return fgetxattr(fd, key, val, size);
}

int ovl_is_opaque(int dirfd)
{
	char v[2];

	return ovl_xattr(dirfd, "opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/*
 * Open directory `name` below `dirfd` without following a symlink that
 * was swapped in. Returns the fd, -1 when it vanished or is no longer a
 * directory, or -2 with the error recorded.
 */
static int open_dir(struct walk *w, int dirfd, const char *name)
{
	int fd = openat(dirfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
		return -1;
	dw_error_errno(DW_EIO, errno, "cannot open directory %s in a layer",
		       ovl_shown_path(w));
	return -2;
}

void ovl_view_release(struct view *v)
{
	size_t i;

	if (v->upper >= 0)
		close(v->upper);
	if (v->owns_lfds) {
		for (i = 0; i < v->nl; i++)
			close(v->lfds[i]);
		free(v->lfds);
	}
	v->upper = -1;
	v->lfds = NULL;
	v->nl = 0;
	v->owns_lfds = 0;
}

/* Append the merge chain of `name` from lfds[start..] to `out`'s lowers. */
static int merge_lowers(struct walk *w, struct view *out, const int *lfds,
			size_t nl, size_t start, const char *name)
{
	size_t alloc = 0, j;
	struct stat st;
	int fd;

	out->owns_lfds = 1;
	for (j = start; j < nl; j++) {
		enum probe_result r = ovl_probe(lfds[j], name, &st);

		if (r == P_ERR)
			return ovl_probe_error(w);
		if (r == P_NONE)
			continue;
		if (r == P_WHITEOUT || !S_ISDIR(st.st_mode))
			break;
		fd = open_dir(w, lfds[j], name);
		if (fd == -2)
			return DW_EIO;
		if (fd == -1)
			break;
		DW_ALLOC_GROW(out->lfds, out->nl + 1, alloc);
		out->lfds[out->nl++] = fd;
		if (ovl_is_opaque(fd))
			break;
	}
	return 0;
}

/* The lowers an absolute redirect ("/a/b") points at, from the root. */
static int resolve_redirect(struct walk *w, struct view *out,
			    const char *target)
{
	struct view cur = {-1, (int *)w->root_lfds, w->root_nl, 0};
	char comp[256];
	int err = 0;

	while (*target) {
		const char *slash = strchr(target, '/');
		size_t n = slash ? (size_t)(slash - target) : strlen(target);
		struct view next = {-1, NULL, 0, 0};

		if (n == 0 || n >= sizeof(comp)) {
			target += n + (slash != NULL);
			continue;
		}
		memcpy(comp, target, n);
		comp[n] = '\0';
		err = merge_lowers(w, &next, cur.lfds, cur.nl, 0, comp);
		ovl_view_release(&cur);
		cur = next;
		if (err)
			break;
		target += n + (slash != NULL);
	}
	if (err)
		ovl_view_release(&cur);
	else
		*out = cur;
	return err;
}

/*
 * Build the view of directory entry `e` (found in `v` under `name`).
 * `shared` is the old view's child when the caller knows the new view's
 * lowers equal the old view's: a plain upper dir then shares its lowers.
 * Returns 0 (out->upper < 0 and no lowers if the dir vanished) or an error.
 */
int ovl_child_view(struct walk *w, struct view *out, const struct view *v,
		   const struct entry *e, const char *name,
		   const struct view *shared)
{
	char redirect[REDIRECT_MAX + 1];
	ssize_t rn;
	int fd;

	*out = (struct view){-1, NULL, 0, 0};
	if (e->layer >= 0)
		return merge_lowers(w, out, v->lfds, v->nl, (size_t)e->layer,
				    name);
	fd = open_dir(w, v->upper, name);
	if (fd == -2)
		return DW_EIO;
	if (fd == -1)
		return 0;
	out->upper = fd;
	if (ovl_is_opaque(fd))
		return 0;
	rn = ovl_xattr(fd, "redirect", redirect, REDIRECT_MAX);
	if (rn > 0) {
		struct view target;
		int err;

		redirect[rn] = '\0';
		if (redirect[0] != '/')
			return merge_lowers(w, out, v->lfds, v->nl, 0,
					    redirect);
		err = resolve_redirect(w, &target, redirect + 1);
		if (!err) {
			out->lfds = target.lfds;
			out->nl = target.nl;
			out->owns_lfds = target.owns_lfds;
		}
		return err;
	}
	if (shared) {
		out->lfds = shared->lfds;
		out->nl = shared->nl;
		return 0;
	}
	return merge_lowers(w, out, v->lfds, v->nl, 0, name);
}

int ovl_lookup(struct walk *w, const struct view *v, const char *name,
	       struct entry *e)
{
	enum probe_result r;
	size_t i;

	e->found = 0;
	if (v->upper >= 0) {
		r = ovl_probe(v->upper, name, &e->st);
		if (r == P_ERR)
			return ovl_probe_error(w);
		if (r == P_WHITEOUT)
			return 0;
		if (r == P_FOUND) {
			e->found = 1;
			e->layer = -1;
			return 0;
		}
	}
	for (i = 0; i < v->nl; i++) {
		r = ovl_probe(v->lfds[i], name, &e->st);
		if (r == P_ERR)
			return ovl_probe_error(w);
		if (r == P_WHITEOUT)
			return 0;
		if (r == P_FOUND) {
			e->found = 1;
			e->layer = (int)i;
			return 0;
		}
	}
	return 0;
}

int ovl_view_fd(const struct view *v, int layer)
{
	return layer < 0 ? v->upper : v->lfds[layer];
}

/* security.capability of an entry, read without following it. */
ssize_t ovl_read_cap(int dirfd, const char *name, char *val, size_t size)
{
	char proc[320];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	n = lgetxattr(proc, "security.capability", val, size);
	return n < 0 ? 0 : n;
}
