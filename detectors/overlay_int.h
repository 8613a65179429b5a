#ifndef DW_OVERLAY_INT_H
#define DW_OVERLAY_INT_H

/*
 * The drift classifier's parts, internal to the detectors:
 * overlay_view.c builds merged views of a directory from the layer dirs,
 * overlay_diff.c walks and compares them (overlay_prefetch.c lists upper
 * dirs ahead of the walk).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "driftwatch/overlay_diff.h"
#include "driftwatch/error.h"
#include "driftwatch/xmalloc.h"
#include "overlay_prefetch.h"

/* Longest overlay redirect we follow; the kernel's own limit is PATH_MAX. */
#define REDIRECT_MAX 4096

struct view {
	int upper; /* upper dir at this path, or -1 */
	int *lfds; /* merged lower dirs, topmost first */
	size_t nl;
	int owns_lfds; /* close lfds on release (else shared) */
};

struct entry {
	int found;
	int layer; /* -1: upper; else index into the view's lfds */
	struct stat st;
};

struct walk {
	struct dw_changeset *cs;
	struct dw_buf path; /* "" at the root, then "/a/b" */
	unsigned flags;
	size_t depth, max_depth;
	const int *root_lfds; /* for absolute redirects */
	size_t root_nl;
	const struct dw_diff_reuse *reuse;
	struct dw_prefetch *pf; /* lists upper dirs ahead, or NULL */
};

enum probe_result { P_NONE, P_WHITEOUT, P_FOUND, P_ERR };

const char *ovl_shown_path(struct walk *w);
enum probe_result ovl_probe(int dirfd, const char *name, struct stat *st);
int ovl_probe_error(struct walk *w);
/* A directory's overlay metadata (overlay_view.c says whose counts). */
struct ovl_attrs {
	int opaque;
	char redirect[REDIRECT_MAX + 1]; /* "" when none, or ignored */
};

void ovl_dir_attrs(struct walk *w, int fd, struct ovl_attrs *a);
int ovl_is_opaque(struct walk *w, int dirfd);
void ovl_forged(struct walk *w, const char *what);
void ovl_view_release(struct view *v);
int ovl_child_view(struct walk *w, struct view *out, const struct view *v,
		   const struct entry *e, const char *name,
		   const struct view *shared);
int ovl_lookup(struct walk *w, const struct view *v, const char *name,
	       struct entry *e);
int ovl_view_fd(const struct view *v, int layer);
ssize_t ovl_read_cap(int dirfd, const char *name, char *val, size_t size);

#endif
