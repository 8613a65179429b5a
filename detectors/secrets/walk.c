/*
 * A directory tree as a source: every regular file below a root, in name
 * order, with the decoder dw_scan_path() picks; a Slack export's channel
 * directories as Slack; `.git` left to the git source. Symlinks and
 * special files found in a walk are never followed or opened.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "driftwatch/buf.h"
#include "driftwatch/config.h"
#include "driftwatch/error.h"
#include "driftwatch/sources.h"
#include "driftwatch/xmalloc.h"

#include "driftwatch/banned.h"

/* Deeper trees are reported, not walked (the walk recurses). */
#define TREE_DEPTH_MAX 256

struct tree {
	struct dw_scanner *s;
	const struct dw_config *cfg;
	const struct dw_source_opts *o;
	dw_source_cb cb;
	dw_scan_note_fn note;
	void *ctx;
	size_t root_len;
};

static void note(struct tree *t, enum dw_scan_note kind, const char *path)
{
	if (t->note)
		t->note(kind, path, t->ctx);
}

static void scan_file(struct tree *t, const char *path)
{
	enum dw_scan_outcome outcome;

	if (dw_scan_path(t->s, path, path, t->o, t->cb, t->ctx, &outcome))
		note(t, DW_NOTE_UNREADABLE, path);
	else if (outcome == DW_SCAN_SKIPPED_SIZE)
		note(t, DW_NOTE_TOO_BIG, path);
	else if (outcome == DW_SCAN_SKIPPED_BINARY)
		note(t, DW_NOTE_BINARY, path);
	else if (outcome == DW_SCAN_TIMED_OUT)
		note(t, DW_NOTE_TIMED_OUT, path);
	else
		note(t, DW_NOTE_SCANNED, path);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted entries of a directory (without . and ..). */
static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t alloc = 0;

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		DW_ALLOC_GROW(v, *n + 1, alloc);
		v[(*n)++] = dw_xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(char *), cmp_names);
	return v;
}

/* A channel directory of a Slack export: its day files. */
static void scan_slack_channel(struct tree *t, const char *dir,
			       const char *channel)
{
	size_t n, i;
	char **names = list_dir(dir, &n);
	struct dw_buf p = DW_BUF_INIT;

	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		dw_buf_reset(&p);
		dw_buf_addf(&p, "%s/%s", dir, names[i]);
		if (len > 5 && !strcmp(names[i] + len - 5, ".json")) {
			if (dw_scan_slack_file(t->s, p.ptr, p.ptr, channel,
					       t->o, t->cb, t->ctx))
				note(t, DW_NOTE_UNREADABLE, p.ptr);
		} else {
			scan_file(t, p.ptr);
		}
	}
	dw_buf_release(&p);
	dw_strv_free(names, n);
}

static void walk(struct tree *t, const char *dir, int depth);

static void walk_entry(struct tree *t, const char *path, int depth, int slack)
{
	const char *rel = path + t->root_len + (path[t->root_len] == '/');
	const char *base = strrchr(path, '/');
	struct stat st;

	base = base ? base + 1 : path;
	if (lstat(path, &st) < 0) {
		dw_error_errno(DW_EIO, errno, "cannot stat %s", path);
		note(t, DW_NOTE_UNREADABLE, path);
		return;
	}
	if (t->cfg && dw_config_path_allowed(t->cfg, rel))
		return;
	if (S_ISDIR(st.st_mode)) {
		if (!strcmp(base, ".git"))
			return; /* history is `scan --git`'s job */
		if (slack)
			scan_slack_channel(t, path, base);
		else
			walk(t, path, depth + 1);
	} else if (S_ISREG(st.st_mode)) {
		scan_file(t, path);
	}
}

static void walk(struct tree *t, const char *dir, int depth)
{
	struct dw_buf p = DW_BUF_INIT;
	size_t n, i;
	char **names;
	int slack = 0;

	if (depth > TREE_DEPTH_MAX) {
		dw_error_set(DW_ELIMIT,
			     "%s: nested more than %d directories "
			     "deep; not scanned",
			     dir, TREE_DEPTH_MAX);
		note(t, DW_NOTE_UNREADABLE, dir);
		return;
	}
	errno = 0;
	names = list_dir(dir, &n);
	if (!names && errno) {
		dw_error_errno(DW_EIO, errno, "cannot read directory %s", dir);
		note(t, DW_NOTE_UNREADABLE, dir);
		return;
	}
	/* A Slack export: channels.json beside one directory per channel. */
	for (i = 0; i < n; i++)
		slack |= !strcmp(names[i], "channels.json");
	for (i = 0; i < n; i++) {
		dw_buf_reset(&p);
		dw_buf_addf(&p, "%s%s%s", dir,
			    dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
		walk_entry(t, p.ptr, depth, slack);
	}
	dw_buf_release(&p);
	dw_strv_free(names, n);
}

void dw_scan_tree(struct dw_scanner *s, const char *root,
		  const struct dw_config *cfg, const struct dw_source_opts *o,
		  dw_source_cb cb, dw_scan_note_fn note_fn, void *ctx)
{
	struct tree t = {s, cfg, o, cb, note_fn, ctx, strlen(root)};
	struct stat st;

	if (stat(root, &st) < 0) {
		dw_error_errno(DW_EIO, errno, "cannot read %s", root);
		note(&t, DW_NOTE_UNREADABLE, root);
	} else if (S_ISDIR(st.st_mode)) {
		walk(&t, root, 0);
	} else {
		/* The file the user named may be a symlink; what a walk
		 * finds never is followed. */
		struct dw_source_opts top = *o;

		top.follow = 1;
		t.o = &top;
		scan_file(&t, root);
	}
}
