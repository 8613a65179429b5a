/* The drift classifier: views. A view is one merged directory: the upper dir at
 * that path (if any) and the lower dirs overlayfs would merge below it, topmost
 * first; whiteouts, opaque dirs and redirects decide what is in it. */
#include <limits.h>

#include "driftwatch/escape.h"
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

/*
 * A directory's overlay metadata, from one listxattr (no xattr at all is
 * the common case, and costs one call). Only the kernel's own namespace
 * counts: trusted.overlay.* on a rootful mount, user.overlay.* on a
 * userxattr one. The other namespace is the container's data: on a
 * rootful mount a process in the container can set user.overlay.redirect
 * to "../../etc" and would have the host's /etc walked as its drift. Such
 * an xattr is ignored and counted as forged. A redirect that is not one
 * name (relative) or a clean absolute path is forged too, in either
 * namespace: it is ignored, and the directory merges by its own name.
 */
static int valid_redirect(const char *r, size_t n);

void ovl_dir_attrs(struct walk *w, int fd, struct ovl_attrs *a)
{
	const char *ours = w->flags & DW_DIFF_USERXATTR ? "user.overlay."
							: "trusted.overlay.";
	const char *theirs = w->flags & DW_DIFF_USERXATTR ? "trusted.overlay."
							  : "user.overlay.";
	char names[4096], key[64], v[2];
	ssize_t n = flistxattr(fd, names, sizeof(names)), rn;
	const char *k;

	a->opaque = 0;
	a->redirect[0] = '\0';
	if (n == 0)
		return; /* the common case: no xattr at all */
	if (n > 0) {
		for (k = names; k < names + n; k += strlen(k) + 1)
			if (!strncmp(k, theirs, strlen(theirs)) &&
			    (!strcmp(k + strlen(theirs), "opaque") ||
			     !strcmp(k + strlen(theirs), "redirect")))
				ovl_forged(w, k);
	} else {
		/* Too many to list (a container can add many): ask. */
		snprintf(key, sizeof(key), "%sopaque", theirs);
		if (fgetxattr(fd, key, v, sizeof(v)) >= 0)
			ovl_forged(w, key);
		snprintf(key, sizeof(key), "%sredirect", theirs);
		if (fgetxattr(fd, key, NULL, 0) >= 0)
			ovl_forged(w, key);
	}
	snprintf(key, sizeof(key), "%sopaque", ours);
	a->opaque = fgetxattr(fd, key, v, sizeof(v)) == 1 && v[0] == 'y';
	snprintf(key, sizeof(key), "%sredirect", ours);
	rn = fgetxattr(fd, key, a->redirect, REDIRECT_MAX);
	if (rn <= 0) {
		a->redirect[0] = '\0';
		return;
	}
	a->redirect[rn] = '\0';
	if (!valid_redirect(a->redirect, (size_t)rn)) {
		ovl_forged(w, key);
		a->redirect[0] = '\0';
	}
}

/*
 * What overlayfs writes: a relative redirect is one name in the same
 * parent; an absolute one is "/" and names. Never "", ".", "..", an empty
 * component, a NUL inside, or a name longer than NAME_MAX.
 */
static int valid_name(const char *s, size_t n)
{
	return n && n <= NAME_MAX && !(n == 1 && s[0] == '.') &&
	       !(n == 2 && s[0] == '.' && s[1] == '.');
}

static int valid_redirect(const char *r, size_t n)
{
	const char *p, *end = r + n, *slash;

	if (memchr(r, '\0', n))
		return 0;
	if (r[0] != '/')
		return valid_name(r, n) && !memchr(r, '/', n);
	for (p = r + 1; p < end; p = slash + 1) {
		slash = memchr(p, '/', (size_t)(end - p));
		if (!slash)
			slash = end;
		if (!valid_name(p, (size_t)(slash - p)))
			return 0;
	}
	return n > 1;
}

/* Count forged metadata; name the first place it was found. */
void ovl_forged(struct walk *w, const char *what)
{
	struct dw_changeset *cs = w->cs;

	if (!cs->forged++) {
		struct dw_buf b = DW_BUF_INIT;

		dw_buf_addf(&b, "%s on ", what);
		dw_escape_path(&b, ovl_shown_path(w),
			       w->path.len > 200 ? 200
						 : strlen(ovl_shown_path(w)));
		cs->forged_at = dw_buf_detach(&b, NULL);
	}
}

int ovl_is_opaque(struct walk *w, int dirfd)
{
	struct ovl_attrs a;

	ovl_dir_attrs(w, dirfd, &a);
	return a.opaque;
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
		if (ovl_is_opaque(w, fd))
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
	struct ovl_attrs attrs;
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
	ovl_dir_attrs(w, fd, &attrs);
	if (attrs.opaque)
		return 0;
	if (attrs.redirect[0] && attrs.redirect[0] != '/')
		return merge_lowers(w, out, v->lfds, v->nl, 0, attrs.redirect);
	if (attrs.redirect[0]) {
		struct view target;
		int err = resolve_redirect(w, &target, attrs.redirect + 1);

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
	/* Topmost first: the upper dir (layer -1), if any, then the lowers. */
	long i = v->upper >= 0 ? -1 : 0;

	e->found = 0;
	for (; i < (long)v->nl; i++) {
		enum probe_result r =
			ovl_probe(ovl_view_fd(v, (int)i), name, &e->st);

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
