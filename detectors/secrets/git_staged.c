/* Git as a source: the staged changes of a commit and the commits of a push,
 * added lines only. */
#include "archive.h"
#include "driftwatch/escape.h"
#include "git_int.h"

#include "driftwatch/banned.h"

/* ---- staged changes and pushes: added lines only ---- */

struct added {
	unsigned char *lines; /* lines[n] != 0: line n was added */
	size_t n;
};

static int line_cb(const git_diff_delta *d, const git_diff_hunk *hk,
		   const git_diff_line *l, void *ctx)
{
	struct added *a = ctx;

	(void)d, (void)hk;
	if (l->origin != GIT_DIFF_LINE_ADDITION || l->new_lineno <= 0)
		return 0;
	if ((size_t)l->new_lineno >= a->n) {
		size_t n = (size_t)l->new_lineno * 2 + 64;

		a->lines = dw_xrealloc(a->lines, n);
		memset(a->lines + a->n, 0, n - a->n);
		a->n = n;
	}
	a->lines[l->new_lineno] = 1;
	return 0;
}

struct delta_ctx {
	struct added *added;
	const struct dw_source *src;
	dw_git_cb cb;
	void *ctx;
	int found;
	/* The file got a name some rules read only (renamed or copied to
	 * .pgpass): their findings count on every line, none of which may
	 * be added */
	const struct dw_engine *named;
};

/* A hook's finding of `f` in `src`. */
static void git_finding(struct dw_git_finding *gf, const struct dw_finding *f,
			const struct dw_source *src)
{
	memset(gf, 0, sizeof(*gf));
	gf->f = f;
	gf->rule_id = f->rule->id;
	gf->severity = (int)f->rule->severity;
	gf->line = f->line;
	gf->column = f->column;
	gf->fingerprint = f->fingerprint;
	gf->src = src;
}

static int on_added_finding(const struct dw_finding *f, void *ctx)
{
	struct delta_ctx *dc = ctx;
	struct dw_git_finding gf;

	uint64_t l, last = f->line;
	size_t k;

	/*
	 * A finding on several lines (a PEM key) counts when any of its
	 * lines is added: a key whose BEGIN line was committed earlier
	 * went through when only the first line was checked.
	 */
	for (k = 0; f->secret && k < f->secret_len; k++)
		last += f->secret[k] == '\n';
	for (l = f->line; l <= last && l < dc->added->n; l++)
		if (dc->added->lines[l])
			break;
	if ((l > last || l >= dc->added->n) &&
	    !(dc->named && dw_engine_rule_named(dc->named, f->rule_index)))
		return 0;
	git_finding(&gf, f, dc->src);
	dc->found++;
	return dc->cb(&gf, dc->ctx);
}

/*
 * An archive blob (a jar, a zip, a tar.gz): entry by entry, as in a tree.
 * Its lines mean nothing; what is new is a secret the archive it replaces
 * (the delta's old side, when that is an archive too) did not hold.
 */
struct arch_ctx {
	const struct dw_source *src; /* the path and commit fields */
	dw_git_cb cb;
	void *ctx;
	char (*old)[72]; /* the old side's fingerprints, sorted */
	size_t nold, old_alloc;
	int collect; /* reading the old side: keep its fingerprints */
	int found;
};

static int cmp_fp(const void *a, const void *b)
{
	return memcmp(a, b, 72);
}

static int on_archive_entry(const struct dw_finding *f,
			    const struct dw_source *as, void *ctx)
{
	struct arch_ctx *ac = ctx;
	struct dw_source src = *ac->src;
	struct dw_git_finding gf;
	const char *entry =
		json_string_value(json_object_get(as->fields, "entry"));
	char fp[72];
	int rc;

	memset(fp, 0, sizeof(fp));
	snprintf(fp, sizeof(fp), "%s", f->fingerprint);
	if (ac->collect) {
		DW_ALLOC_GROW(ac->old, ac->nold + 1, ac->old_alloc);
		memcpy(ac->old[ac->nold++], fp, 72);
		return 0;
	}
	if (ac->nold && bsearch(fp, ac->old, ac->nold, 72, cmp_fp))
		return 0;
	src.fields = ac->src->fields ? json_deep_copy(ac->src->fields)
				     : json_object();
	if (entry)
		json_object_set_new(src.fields, "entry", json_string(entry));
	git_finding(&gf, f, &src);
	ac->found++;
	rc = ac->cb(&gf, ac->ctx);
	json_decref(src.fields);
	return rc;
}

static int really_binary(git_blob *b);

/* By its name, or binary with an archive's magic (as in a tree). */
static int is_archive_blob(const char *path, git_blob *b)
{
	size_t n = (size_t)gitlib.git_blob_rawsize(b);

	return dw_archive_name(path) ||
	       (really_binary(b) &&
		dw_archive_magic(gitlib.git_blob_rawcontent(b),
				 n < 8192 ? n : 8192));
}

/* Scan archive blob `b` of delta `d` (old side: `old`, or NULL). */
static int scan_archive_delta(git_repository *repo, const git_diff_delta *d,
			      git_blob *b, struct dw_scanner *s,
			      const struct dw_source *src, dw_git_cb cb,
			      void *ctx)
{
	struct arch_ctx ac = {src, cb, ctx, NULL, 0, 0, 1, 0};
	git_blob *old = NULL;
	int err = 0;

	if (!gitlib.git_oid_is_zero(&d->old_file.id) &&
	    !gitlib.git_blob_lookup(&old, repo, &d->old_file.id) &&
	    is_archive_blob(d->old_file.path, old)) {
		/* (an old side read in part only reports more) */
		dw_archive_scan_mem(s, gitlib.git_blob_rawcontent(old),
				    (size_t)gitlib.git_blob_rawsize(old),
				    d->old_file.path, 0, on_archive_entry, &ac);
		if (ac.nold > 1)
			qsort(ac.old, ac.nold, 72, cmp_fp);
	}
	gitlib.git_blob_free(old);
	ac.collect = 0;
	if (dw_archive_scan_mem(s, gitlib.git_blob_rawcontent(b),
				(size_t)gitlib.git_blob_rawsize(b),
				d->new_file.path, 0, on_archive_entry, &ac)) {
		struct dw_git_finding note;
		struct dw_buf esc = DW_BUF_INIT;
		char why[600];

		/* (entry names in it are the archive's: escaped) */
		dw_escape_path(&esc, dw_error_last(), strlen(dw_error_last()));
		snprintf(why, sizeof(why),
			 "archive read in part (what was read was checked): "
			 "%s",
			 esc.ptr ? esc.ptr : "");
		dw_buf_release(&esc);
		memset(&note, 0, sizeof(note));
		note.src = src;
		note.note = why;
		err = cb(&note, ctx) ? DW_ERROR : 0;
	}
	free(ac.old);
	return err;
}

/* Scan the new side of every delta of `diff`, reporting added lines. */
/* Binary as content, not as attributes say: a NUL in the first 8000 bytes
 * (git's own test). */
static int really_binary(git_blob *b)
{
	size_t n = (size_t)gitlib.git_blob_rawsize(b);

	return memchr(gitlib.git_blob_rawcontent(b), '\0',
		      n < 8000 ? n : 8000) != NULL;
}

static int scan_diff(git_repository *repo, git_diff *diff, struct dw_scanner *s,
		     const git_oid *commit, dw_git_cb cb, void *ctx)
{
	size_t i, n = gitlib.git_diff_num_deltas(diff);
	int err = 0;

	for (i = 0; !err && i < n; i++) {
		const git_diff_delta *d = gitlib.git_diff_get_delta(diff, i);
		struct added a = {NULL, 0};
		git_patch *p = NULL;
		git_blob *b = NULL;
		struct dw_source src = {d->new_file.path, DW_SOURCE_GIT, NULL};
		const struct dw_engine *e = dw_scanner_engine(s);
		struct delta_ctx dc = {
			&a,
			&src,
			cb,
			ctx,
			0,
			dw_engine_file_named(e, d->new_file.path) &&
					!dw_engine_file_named(e,
							      d->old_file.path)
				? e
				: NULL};

		if (d->status == GIT_DELTA_DELETED ||
		    gitlib.git_oid_is_zero(&d->new_file.id))
			continue;
		if (gitlib.git_patch_from_diff(&p, diff, i)) {
			err = gs_git_fail(DW_EIO, d->new_file.path);
			break;
		}
		if (p)
			gitlib.git_patch_print(p, line_cb, &a);
		/* (an archive, by its name or its bytes: whatever its
		 * diff's lines; a shorter one adds none) */
		if (gitlib.git_blob_lookup(&b, repo, &d->new_file.id)) {
			/* Never a silent pass for an absent object. */
			err = gs_git_fail(DW_EIO, d->new_file.path);
			gitlib.git_patch_free(p);
			free(a.lines);
			break;
		}
		if (is_archive_blob(d->new_file.path, b)) {
			src.fields =
				gs_commit_fields(repo, commit, &d->new_file.id);
			if (!commit)
				json_object_del(src.fields, "blob");
			err = scan_archive_delta(repo, d, b, s, &src, cb, ctx);
			json_decref(src.fields);
		} else if ((a.n || dc.named) && really_binary(b)) {
			struct dw_git_finding note;

			memset(&note, 0, sizeof(note));
			note.src = &src;
			note.note = "binary content (NUL bytes), not scanned";
			err = cb(&note, ctx) ? DW_ERROR : 0;
		} else if (a.n || dc.named) {
			src.fields =
				gs_commit_fields(repo, commit, &d->new_file.id);
			if (!commit)
				json_object_del(src.fields, "blob");
			dw_scan_name(s, d->new_file.path);
			dw_scan_buffer(s, gitlib.git_blob_rawcontent(b),
				       (size_t)gitlib.git_blob_rawsize(b), 1,
				       on_added_finding, &dc);
			json_decref(src.fields);
		}
		gitlib.git_blob_free(b);
		gitlib.git_patch_free(p);
		free(a.lines);
	}
	return err;
}

/*
 * Lines of every file, whatever .gitattributes says: '*.env -diff' (or
 * binary) let an AWS key through. Real binary content is found below.
 */
static void diff_options(git_diff_options *o)
{
	gitlib.git_diff_options_init(o, GIT_DIFF_OPTIONS_VERSION);
	o->context_lines = 0;
	o->flags |= GIT_DIFF_FORCE_TEXT;
}

static int find_renames(git_diff *diff)
{
	git_diff_find_options fo;

	gitlib.git_diff_find_options_init(&fo, GIT_DIFF_FIND_OPTIONS_VERSION);
	fo.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_COPIES;
	return gitlib.git_diff_find_similar(diff, &fo);
}

/*
 * The index being committed. `git commit -a` and `git commit PATH...`
 * stage into an index of their own and name it in GIT_INDEX_FILE for the
 * hook: the repository's index does not hold what is committed then.
 */
static int open_index(git_index **index, git_repository *repo, const char *path)
{
	const char *file = path ? NULL : gs_env_path("GIT_INDEX_FILE");

	if (file)
		return gitlib.git_index_open(index, file);
	return gitlib.git_repository_index(index, repo);
}

/*
 * ---- the paths a change touches, without reading unchanged trees ----
 *
 * libgit2 diffs a tree against the index or another tree by reading every
 * tree of both; in a large repository whose trees are long delta chains
 * that is most of a hook's time. Instead, the two trees are compared by
 * id, descending only where they differ: a commit that changes five files
 * reads the trees on their five paths. The diff is then limited to the
 * paths found, which gives the same deltas. For the index, the trees of
 * the directories it changes are first written to an object store in
 * memory (the repository is not touched); those of the others are known
 * from the index's cache of tree ids, which is also what git commits.
 */

/* With more changed paths than this, a full diff costs no more. */
#define CHANGED_PATHS_MAX 1024
#define CHANGED_DEPTH_MAX 256

struct changed {
	git_repository *repo; /* the trees of both sides */
	git_repository *mem;  /* owned: the index's new trees, or NULL */
	struct dw_buf dir;    /* "" or "a/b/" */
	char **path;
	size_t n, alloc;
};

static int note_changed(struct changed *c, const char *name)
{
	struct dw_buf p = DW_BUF_INIT;

	if (c->n == CHANGED_PATHS_MAX)
		return -1;
	dw_buf_add(&p, c->dir.ptr ? c->dir.ptr : "", c->dir.len);
	dw_buf_adds(&p, name);
	DW_ALLOC_GROW(c->path, c->n + 1, c->alloc);
	c->path[c->n++] = dw_buf_detach(&p, NULL);
	return 0;
}

/* A tree of the new side: written to memory, or in the repository. */
static int new_tree(git_tree **t, struct changed *c, const git_oid *id)
{
	if (c->mem && !gitlib.git_tree_lookup(t, c->mem, id))
		return 0;
	return gitlib.git_tree_lookup(t, c->repo, id);
}

static int compare_trees(struct changed *c, const git_tree *old,
			 const git_tree *new, int depth)
{
	size_t i, len = c->dir.len;
	int err = depth > CHANGED_DEPTH_MAX ? -1 : 0;

	for (i = 0; !err && i < gitlib.git_tree_entrycount(new); i++) {
		const git_tree_entry *ne =
			gitlib.git_tree_entry_byindex(new, i);
		const char *name = gitlib.git_tree_entry_name(ne);
		const git_tree_entry *oe =
			gitlib.git_tree_entry_byname(old, name);
		git_tree *ot = NULL, *nt = NULL;

		if (oe &&
		    !gitlib.git_oid_cmp(gitlib.git_tree_entry_id(oe),
					gitlib.git_tree_entry_id(ne)) &&
		    gitlib.git_tree_entry_filemode(oe) ==
			    gitlib.git_tree_entry_filemode(ne))
			continue;
		if (!oe || gitlib.git_tree_entry_type(oe) != GIT_OBJECT_TREE ||
		    gitlib.git_tree_entry_type(ne) != GIT_OBJECT_TREE) {
			err = note_changed(c, name);
			continue;
		}
		if (gitlib.git_tree_lookup(&ot, c->repo,
					   gitlib.git_tree_entry_id(oe)) ||
		    new_tree(&nt, c, gitlib.git_tree_entry_id(ne))) {
			err = -1;
		} else {
			dw_buf_addf(&c->dir, "%s/", name);
			err = compare_trees(c, ot, nt, depth + 1);
			dw_buf_setlen(&c->dir, len);
		}
		gitlib.git_tree_free(nt);
		gitlib.git_tree_free(ot);
	}
	for (i = 0; !err && i < gitlib.git_tree_entrycount(old); i++) {
		const char *name = gitlib.git_tree_entry_name(
			gitlib.git_tree_entry_byindex(old, i));

		if (!gitlib.git_tree_entry_byname(new, name))
			err = note_changed(c, name);
	}
	return err;
}

/*
 * The id of the tree the index would commit. libgit2 writes (to `mem`,
 * with strict object creation off: the objects they name are not there)
 * the trees of directories whose entry in the index's cache of tree ids
 * is invalid, and takes the others' ids from it, as git commit does. It
 * then reads the whole new tree back from `mem` to refresh that cache,
 * which fails, after the id is known, on a tree it did not write; that is
 * not an error here. Any other failure leaves `id` zero.
 */
static int index_tree(git_oid *id, git_index *index, git_repository *mem)
{
	git_tree *t = NULL;
	int err;

	if (gitlib.git_index_has_conflicts(index))
		return -1;
	memset(id, 0, sizeof(*id));
	gitlib.git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
	err = gitlib.git_index_write_tree_to(id, index, mem);
	gitlib.git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
	if (err && !gitlib.git_oid_is_zero(id) &&
	    !gitlib.git_tree_lookup(&t, mem, id))
		err = 0;
	gitlib.git_tree_free(t);
	return err;
}

/*
 * The paths where the index differs from `head`, into `c`. 0, or -1
 * when they could not be found this way (conflicts, too many changes):
 * the caller then diffs everything.
 */
static int staged_paths(struct changed *c, git_repository *repo, git_tree *head,
			git_index *index)
{
	git_odb *odb = NULL;
	git_odb_backend *backend = NULL;
	git_tree *tree = NULL;
	git_oid id;
	int err;

	c->repo = repo;
	err = gitlib.git_odb_new(&odb) || gitlib.git_mempack_new(&backend);
	if (!err) {
		err = gitlib.git_odb_add_backend(odb, backend, 1);
		if (err)
			backend->free(backend);
	}
	err = err || gitlib.git_repository_wrap_odb(&c->mem, odb) ||
	      index_tree(&id, index, c->mem) || new_tree(&tree, c, &id) ||
	      compare_trees(c, head, tree, 0);
	gitlib.git_tree_free(tree);
	gitlib.git_odb_free(odb);
	return err ? -1 : 0;
}

/*
 * Limit `o` to the paths in `c`. 1 when there are none: nothing changed
 * and there is nothing to diff.
 */
static int limit_diff(git_diff_options *o, struct changed *c)
{
	if (!c->n)
		return 1;
	o->pathspec.strings = c->path;
	o->pathspec.count = c->n;
	o->flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
	return 0;
}

static void changed_release(struct changed *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->path[i]);
	free(c->path);
	dw_buf_release(&c->dir);
	gitlib.git_repository_free(c->mem);
	memset(c, 0, sizeof(*c));
}

int dw_git_scan_staged(const struct dw_engine *e, const char *path,
		       dw_git_cb cb, void *ctx)
{
	git_repository *repo = NULL;
	git_index *index = NULL;
	git_tree *head = NULL;
	git_diff *diff = NULL;
	git_object *obj = NULL;
	struct dw_scanner *s = NULL;
	struct changed c = {0};
	git_diff_options o;
	int err = gs_open_repo(&repo, path);

	if (err)
		return err;
	/* No HEAD yet (the first commit): everything staged is new. */
	if (!gitlib.git_revparse_single(&obj, repo, "HEAD^{tree}"))
		head = (git_tree *)obj;
	diff_options(&o);
	if (open_index(&index, repo, path)) {
		err = gs_git_fail(DW_EIO, "cannot read the index");
		goto out;
	}
	if (head && !staged_paths(&c, repo, head, index) && limit_diff(&o, &c))
		goto out; /* nothing staged */
	if (gitlib.git_diff_tree_to_index(&diff, repo, head, index, &o) ||
	    find_renames(diff))
		err = gs_git_fail(DW_EIO, "cannot diff the index");
	if (!err)
		err = dw_scanner_new(&s, e);
	if (!err)
		err = scan_diff(repo, diff, s, NULL, cb, ctx);
out:
	dw_scanner_free(s);
	gitlib.git_diff_free(diff);
	changed_release(&c);
	gitlib.git_tree_free(head);
	gitlib.git_index_free(index);
	gitlib.git_repository_free(repo);
	return err;
}

/* Scan what commit `id` added to its first parent's tree. */
static int scan_commit(git_repository *repo, struct dw_scanner *s,
		       const git_oid *id, dw_git_cb cb, void *ctx)
{
	git_commit *c = NULL, *parent = NULL;
	git_tree *t = NULL, *pt = NULL;
	git_diff *diff = NULL;
	git_diff_options o;
	struct changed ch = {repo, NULL, DW_BUF_INIT, NULL, 0, 0};
	int err = 0;

	diff_options(&o);
	if (gitlib.git_commit_lookup(&c, repo, id) ||
	    gitlib.git_commit_tree(&t, c)) {
		err = gs_git_fail(DW_EIO, "cannot read a pushed commit");
		goto out;
	}
	if (gitlib.git_commit_parentcount(c) &&
	    !gitlib.git_commit_parent(&parent, c, 0))
		gitlib.git_commit_tree(&pt, parent);
	/* Its parent's tree again: nothing was added. */
	if (pt && !compare_trees(&ch, pt, t, 0) && limit_diff(&o, &ch))
		goto out;
	if (gitlib.git_diff_tree_to_tree(&diff, repo, pt, t, &o) ||
	    find_renames(diff))
		err = gs_git_fail(DW_EIO, "cannot diff a commit");
	else
		err = scan_diff(repo, diff, s, id, cb, ctx);
out:
	changed_release(&ch);
	gitlib.git_diff_free(diff);
	gitlib.git_tree_free(pt);
	gitlib.git_tree_free(t);
	gitlib.git_commit_free(parent);
	gitlib.git_commit_free(c);
	return err;
}

/* The commits of one pushed ref, each diffed against its first parent. */
/*
 * The pushed commits when libgit2's walk cannot do it: a shallow clone
 * (the remote's history is cut) or a missing commit. Depth first from
 * the local id, stopping at what the remote has (or, for a new branch,
 * any remote-tracking ref has) and at what is not there; each commit
 * missing its parent is scanned whole. Never a silent pass.
 */
static int push_by_hand(git_repository *repo, struct dw_scanner *s,
			const git_oid *local, const git_oid *remote,
			dw_git_cb cb, void *ctx)
{
	struct oidset hide, mark;
	struct dated *v = NULL;
	size_t n = 0, alloc = 0, missing = 0, i;
	git_strarray refs = {NULL, 0};
	int err = 0;

	memset(&hide, 0, sizeof(hide));
	memset(&mark, 0, sizeof(mark));
	if (remote) {
		gs_collect(repo, NULL, &missing, remote, 1, &hide, NULL, NULL,
			   NULL, NULL);
	} else if (!gitlib.git_reference_list(&refs, repo)) {
		for (i = 0; i < refs.count; i++) {
			git_oid id;

			if (!strncmp(refs.strings[i], "refs/remotes/", 13) &&
			    !gs_peel_commit(repo, refs.strings[i], &id))
				gs_collect(repo, NULL, &missing, &id, 1, &hide,
					   NULL, NULL, NULL, NULL);
		}
		gitlib.git_strarray_dispose(&refs);
	}
	gs_collect(repo, NULL, &missing, local, 1, &mark, &hide, &v, &n,
		   &alloc);
	if (n > 1)
		qsort(v, n, sizeof(*v), gs_cmp_dated);
	for (i = 0; !err && i < n; i++)
		err = scan_commit(repo, s, &v[i].id, cb, ctx);
	free(v);
	gs_oidset_release(&hide);
	gs_oidset_release(&mark);
	return err;
}

static int scan_push_ref(git_repository *repo, struct dw_scanner *s,
			 const git_oid *local, const git_oid *remote,
			 dw_git_cb cb, void *ctx)
{
	git_revwalk *w = NULL;
	git_oid id;
	int err = 0, rc = GIT_ITEROVER, shallow;

	shallow = gitlib.git_repository_is_shallow(repo) == 1;
	if (shallow)
		return push_by_hand(repo, s, local, remote, cb, ctx);
	if (gitlib.git_revwalk_new(&w, repo) ||
	    gitlib.git_revwalk_push(w, local))
		err = gs_git_fail(DW_EINVAL, "cannot walk the pushed commits");
	if (!err && remote && gitlib.git_revwalk_hide(w, remote))
		err = gs_git_fail(DW_EINVAL,
				  "cannot hide the remote's commits");
	if (!err && !remote)
		gitlib.git_revwalk_hide_glob(w, "remotes/*");
	gitlib.git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
	while (!err && !(rc = gitlib.git_revwalk_next(&id, w)))
		err = scan_commit(repo, s, &id, cb, ctx);
	gitlib.git_revwalk_free(w);
	/* The walk stopped at an absent commit: do it by hand. */
	if (!err && rc != GIT_ITEROVER)
		return push_by_hand(repo, s, local, remote, cb, ctx);
	return err;
}

int dw_git_scan_push(const struct dw_engine *e, const char *path,
		     const char *stdin_text, dw_git_cb cb, void *ctx)
{
	git_repository *repo = NULL;
	struct dw_scanner *s = NULL;
	const char *line = stdin_text;
	int err = gs_open_repo(&repo, path);

	if (!err)
		err = dw_scanner_new(&s, e);
	while (!err && line && *line) {
		char lref[1024], lsha[64], rref[1024], rsha[64];
		const char *nl = strchr(line, '\n');
		git_oid local, remote;
		char tmp[2200];
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n >= sizeof(tmp))
			n = sizeof(tmp) - 1;
		memcpy(tmp, line, n);
		tmp[n] = '\0';
		line = nl ? nl + 1 : NULL;
		if (sscanf(tmp, "%1023s %63s %1023s %63s", lref, lsha, rref,
			   rsha) != 4)
			continue;
		if (gitlib.git_oid_fromstr(&local, lsha) ||
		    gitlib.git_oid_fromstr(&remote, rsha)) {
			err = dw_error_set(DW_EINVAL,
					   "pre-push: cannot parse "
					   "'%s'",
					   tmp);
			break;
		}
		if (gitlib.git_oid_is_zero(&local))
			continue; /* a deletion pushes nothing */
		err = scan_push_ref(repo, s, &local,
				    gitlib.git_oid_is_zero(&remote) ? NULL
								    : &remote,
				    cb, ctx);
	}
	dw_scanner_free(s);
	gitlib.git_repository_free(repo);
	return err;
}
