/*
 * Git as a source (libgit2 is used here and nowhere else): history with
 * each unique blob scanned once on all cores, the staged changes of a
 * commit, and the commits of a push.
 */
#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/gitscan.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/banned.h"

/*
 * libgit2 and what it brings (TLS, SSH, Kerberos: a dozen libraries) are
 * loaded on first use, so that commands without git do not pay for them
 * at start (see lazylib.h).
 */
#define GIT_SYMS(X) \
	X(git_blob_free) \
	X(git_blob_is_binary) \
	X(git_blob_lookup) \
	X(git_blob_rawcontent) \
	X(git_blob_rawsize) \
	X(git_branch_lookup) \
	X(git_buf_dispose) \
	X(git_commit_author) \
	X(git_commit_free) \
	X(git_commit_lookup) \
	X(git_commit_parent) \
	X(git_commit_parentcount) \
	X(git_commit_summary) \
	X(git_commit_tree) \
	X(git_config_free) \
	X(git_config_get_path) \
	X(git_diff_find_options_init) \
	X(git_diff_find_similar) \
	X(git_diff_free) \
	X(git_diff_get_delta) \
	X(git_diff_num_deltas) \
	X(git_diff_options_init) \
	X(git_diff_tree_to_index) \
	X(git_diff_tree_to_tree) \
	X(git_error_last) \
	X(git_index_free) \
	X(git_index_has_conflicts) \
	X(git_index_open) \
	X(git_index_write_tree_to) \
	X(git_libgit2_init) \
	X(git_libgit2_opts) \
	X(git_mempack_new) \
	X(git_object_free) \
	X(git_object_id) \
	X(git_odb_add_backend) \
	X(git_odb_foreach) \
	X(git_odb_free) \
	X(git_odb_new) \
	X(git_odb_read_header) \
	X(git_oid_cmp) \
	X(git_oid_cpy) \
	X(git_oid_fromstr) \
	X(git_oid_is_zero) \
	X(git_oid_tostr) \
	X(git_patch_free) \
	X(git_patch_from_diff) \
	X(git_patch_print) \
	X(git_reference_free) \
	X(git_reference_name) \
	X(git_repository_commondir) \
	X(git_repository_config_snapshot) \
	X(git_repository_free) \
	X(git_repository_index) \
	X(git_repository_odb) \
	X(git_repository_open) \
	X(git_repository_open_ext) \
	X(git_repository_path) \
	X(git_repository_set_workdir) \
	X(git_repository_workdir) \
	X(git_repository_wrap_odb) \
	X(git_revparse_single) \
	X(git_revwalk_free) \
	X(git_revwalk_hide) \
	X(git_revwalk_hide_glob) \
	X(git_revwalk_new) \
	X(git_revwalk_next) \
	X(git_revwalk_push) \
	X(git_revwalk_push_glob) \
	X(git_revwalk_push_head) \
	X(git_revwalk_push_range) \
	X(git_revwalk_push_ref) \
	X(git_revwalk_sorting) \
	X(git_tree_entry_byindex) \
	X(git_tree_entry_byname) \
	X(git_tree_entry_filemode) \
	X(git_tree_entry_id) \
	X(git_tree_entry_name) \
	X(git_tree_entry_type) \
	X(git_tree_entrycount) \
	X(git_tree_free) \
	X(git_tree_id) \
	X(git_tree_lookup) \
	X(git_tree_walk) \

static struct {
#define DECLARE(f) __typeof__(f) *f;
	GIT_SYMS(DECLARE)
#undef DECLARE
} lg;

static const struct dw_lazy_sym git_syms[] = {
#define SLOT(f) { #f, (void **)&lg.f },
	GIT_SYMS(SLOT)
#undef SLOT
};

static struct dw_lazy_lib libgit2 = {
	DW_LIBGIT2_SONAME, git_syms, sizeof(git_syms) / sizeof(git_syms[0]), 0,
	""
};

/* ---- a set of object ids (open addressing) ---- */

struct oidset {
	git_oid *slot;
	unsigned char *used;
	size_t cap, n;
};

static size_t oid_hash(const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));	/* object ids are uniform */
	return h;
}

static void oidset_grow(struct oidset *s);

/* Add `id`; returns 1 if it was new. */
static int oidset_add(struct oidset *s, const git_oid *id)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap)
		oidset_grow(s);
	for (i = oid_hash(id) & (s->cap - 1); s->used[i];
	     i = (i + 1) & (s->cap - 1))
		if (!lg.git_oid_cmp(&s->slot[i], id))
			return 0;
	s->used[i] = 1;
	lg.git_oid_cpy(&s->slot[i], id);
	s->n++;
	return 1;
}

static int oidset_has(const struct oidset *s, const git_oid *id)
{
	size_t i;

	if (!s->cap)
		return 0;
	for (i = oid_hash(id) & (s->cap - 1); s->used[i];
	     i = (i + 1) & (s->cap - 1))
		if (!lg.git_oid_cmp(&s->slot[i], id))
			return 1;
	return 0;
}

static void oidset_grow(struct oidset *s)
{
	struct oidset bigger = { NULL, NULL, s->cap ? s->cap * 2 : 1024, 0 };
	size_t i;

	bigger.slot = dw_xcalloc(bigger.cap, sizeof(git_oid));
	bigger.used = dw_xcalloc(bigger.cap, 1);
	for (i = 0; i < s->cap; i++)
		if (s->used[i])
			oidset_add(&bigger, &s->slot[i]);
	free(s->slot);
	free(s->used);
	*s = bigger;
}

static void oidset_release(struct oidset *s)
{
	free(s->slot);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* ---- common ---- */

static int git_fail(int code, const char *what)
{
	const git_error *e = lg.git_error_last();

	return dw_error_set(code, "%s: %s", what,
			    e && e->message ? e->message : "libgit2 error");
}

/*
 * Every blob is read once: keep libgit2's object cache and mapped pack
 * windows small, or each scanning thread's memory grows with the repo.
 */
static void limit_memory(void)
{
	lg.git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(16 << 20));
	lg.git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)(96 << 20));
	lg.git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)(8 << 20));
}

static const char *env_path(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/*
 * `path`, or with NULL the repository git runs a hook for: GIT_DIR and
 * GIT_WORK_TREE as git exports them (a bare repository with a separate
 * work tree), else found from the current directory.
 */
static int open_repo(git_repository **repo, const char *path)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *gitdir = path ? NULL : env_path("GIT_DIR");
	const char *worktree = path ? NULL : env_path("GIT_WORK_TREE");
	int err = dw_lazy_load(&libgit2);

	if (err)
		return err;
	lg.git_libgit2_init();
	pthread_once(&once, limit_memory);
	if (gitdir) {
		if (lg.git_repository_open_ext(repo, gitdir,
					       GIT_REPOSITORY_OPEN_NO_SEARCH,
					       NULL))
			return git_fail(DW_ENOTFOUND, gitdir);
	} else if (lg.git_repository_open_ext(repo, path ? path : ".", 0,
					      NULL)) {
		return git_fail(DW_ENOTFOUND, path ? path : ".");
	}
	if (worktree && lg.git_repository_set_workdir(*repo, worktree, 0)) {
		lg.git_repository_free(*repo);
		*repo = NULL;
		return git_fail(DW_ENOTFOUND, worktree);
	}
	return 0;
}

char *dw_git_workdir(const char *path)
{
	git_repository *repo;
	const char *wd;
	char *out = NULL;

	if (open_repo(&repo, path))
		return NULL;
	wd = lg.git_repository_workdir(repo);
	if (wd)
		out = dw_xstrdup(wd);
	lg.git_repository_free(repo);
	return out;
}

char *dw_git_hooks_dir(const char *path)
{
	git_repository *repo;
	git_config *cfg = NULL;
	git_buf hooks = { NULL, 0, 0 };
	char *out = NULL;

	if (open_repo(&repo, path))
		return NULL;
	/* core.hooksPath wins, as it does for git itself. */
	if (!lg.git_repository_config_snapshot(&cfg, repo) &&
	    !lg.git_config_get_path(&hooks, cfg, "core.hooksPath") && hooks.ptr) {
		if (hooks.ptr[0] == '/' || !lg.git_repository_workdir(repo))
			out = dw_xstrdup(hooks.ptr);
		else {
			struct dw_buf b = DW_BUF_INIT;

			dw_buf_addf(&b, "%s%s", lg.git_repository_workdir(repo),
				    hooks.ptr);
			out = dw_buf_detach(&b, NULL);
		}
	} else {
		struct dw_buf b = DW_BUF_INIT;

		dw_buf_addf(&b, "%shooks", lg.git_repository_commondir(repo));
		out = dw_buf_detach(&b, NULL);
	}
	lg.git_buf_dispose(&hooks);
	lg.git_config_free(cfg);
	lg.git_repository_free(repo);
	return out;
}

/* The fields of a commit as findings carry them. */
static json_t *commit_fields(git_repository *repo, const git_oid *id,
			     const git_oid *blob)
{
	char hex[GIT_OID_HEXSZ + 1], bhex[GIT_OID_HEXSZ + 1], date[32];
	git_commit *c = NULL;
	json_t *o = json_object();

	lg.git_oid_tostr(bhex, sizeof(bhex), blob);
	json_object_set_new(o, "blob", json_string(bhex));
	if (!id || lg.git_commit_lookup(&c, repo, id))
		return o;
	{
		const git_signature *a = lg.git_commit_author(c);
		const char *subject = lg.git_commit_summary(c);
		time_t t = (time_t)a->when.time;
		struct tm tm;

		lg.git_oid_tostr(hex, sizeof(hex), id);
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(o, "commit", json_string(hex));
		json_object_set_new(o, "author", json_sprintf("%s <%s>",
							      a->name, a->email));
		json_object_set_new(o, "date", json_string(date));
		json_object_set_new(o, "subject",
				    json_string(subject ? subject : ""));
	}
	lg.git_commit_free(c);
	return o;
}

/* ---- history ---- */

struct job {
	git_oid blob;
	size_t commit;		/* index into hist.commits, or SIZE_MAX */
	char *path;
};

/* One finding of the history scan, kept until all threads are done. */
struct hfind {
	size_t job;
	size_t rule;
	uint64_t line, column;
	char fingerprint[72];
	char *secret;		/* NULL when it came from the cache */
	size_t secret_len;
	char *redacted;
};

struct hist {
	const struct dw_engine *e;
	const struct dw_git_opts *o;
	git_repository *repo;
	struct oidset seen;	/* trees and blobs visited */
	struct oidset walked;	/* commits walked */
	git_oid *commits;
	size_t ncommits, commits_alloc;
	struct job *jobs;
	size_t njobs, jobs_alloc;
	size_t cur_commit;
	struct dw_buf path;
	/* the parallel part */
	size_t next;		/* atomically taken */
	size_t done;
	uint64_t bytes;
	pthread_mutex_t lock;
	struct hfind *found;
	size_t nfound, found_alloc;
	unsigned char *from_cache;	/* per job */
	int err;
	char errmsg[512];
	struct dw_blob_cache *cache;
};

static int tree_cb(const char *root, const git_tree_entry *te, void *ctx)
{
	struct hist *h = ctx;
	const git_oid *id = lg.git_tree_entry_id(te);
	git_object_t type = lg.git_tree_entry_type(te);
	struct job *j;

	if (type == GIT_OBJECT_TREE)
		return oidset_add(&h->seen, id) ? 0 : 1;	/* 1: skip it */
	if (type != GIT_OBJECT_BLOB || !oidset_add(&h->seen, id))
		return 0;
	DW_ALLOC_GROW(h->jobs, h->njobs + 1, h->jobs_alloc);
	j = &h->jobs[h->njobs++];
	lg.git_oid_cpy(&j->blob, id);
	j->commit = h->cur_commit;
	dw_buf_reset(&h->path);
	dw_buf_addf(&h->path, "%s%s", root, lg.git_tree_entry_name(te));
	j->path = dw_xstrdup(h->path.ptr);
	return 0;
}

static int visit_commit(struct hist *h, const git_oid *id)
{
	git_commit *c;
	git_tree *t;
	int err = 0;

	if (!oidset_add(&h->walked, id))
		return 0;
	if (lg.git_commit_lookup(&c, h->repo, id))
		return git_fail(DW_EIO, "cannot read a commit");
	DW_ALLOC_GROW(h->commits, h->ncommits + 1, h->commits_alloc);
	lg.git_oid_cpy(&h->commits[h->ncommits], id);
	h->cur_commit = h->ncommits++;
	if (lg.git_commit_tree(&t, c)) {
		err = git_fail(DW_EIO, "cannot read a commit's tree");
	} else {
		if (oidset_add(&h->seen, lg.git_tree_id(t)))
			lg.git_tree_walk(t, GIT_TREEWALK_PRE, tree_cb, h);
		lg.git_tree_free(t);
	}
	lg.git_commit_free(c);
	return err;
}

static int push_revs(struct hist *h, git_revwalk *w)
{
	const struct dw_git_opts *o = h->o;
	git_object *obj;
	int rc;

	if (o->range) {
		if (lg.git_revwalk_push_range(w, o->range))
			return git_fail(DW_EINVAL, o->range);
		return 0;
	}
	if (o->branch) {
		git_reference *ref;

		if (lg.git_branch_lookup(&ref, h->repo, o->branch,
				      GIT_BRANCH_LOCAL) &&
		    lg.git_branch_lookup(&ref, h->repo, o->branch,
				      GIT_BRANCH_REMOTE))
			return git_fail(DW_EINVAL, o->branch);
		rc = lg.git_revwalk_push_ref(w, lg.git_reference_name(ref));
		lg.git_reference_free(ref);
		if (rc)
			return git_fail(DW_EINVAL, o->branch);
	} else {
		/* Every ref: branches, tags, remotes, the stash; and HEAD. */
		if (lg.git_revwalk_push_glob(w, "*"))
			return git_fail(DW_EIO, "cannot list the refs");
		lg.git_revwalk_push_head(w);	/* unborn or detached: fine */
	}
	if (o->since) {
		if (lg.git_revparse_single(&obj, h->repo, o->since))
			return git_fail(DW_EINVAL, o->since);
		rc = lg.git_revwalk_hide(w, lg.git_object_id(obj));
		lg.git_object_free(obj);
		if (rc)
			return git_fail(DW_EINVAL, o->since);
	}
	return 0;
}

static int walk_history(struct hist *h)
{
	git_revwalk *w;
	git_oid id;
	int err;

	if (lg.git_revwalk_new(&w, h->repo))
		return git_fail(DW_EIO, "cannot walk the history");
	lg.git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME |
			       GIT_SORT_REVERSE);
	err = push_revs(h, w);
	while (!err && !lg.git_revwalk_next(&id, w))
		err = visit_commit(h, &id);
	lg.git_revwalk_free(w);
	return err;
}

struct odb_walk {
	struct hist *h;
	git_odb *odb;
	git_oid *commits, *blobs;
	size_t ncommits, nblobs, calloc_, balloc;
};

static int odb_cb(const git_oid *id, void *ctx)
{
	struct odb_walk *ow = ctx;
	git_object_t type;
	size_t len;

	if (oidset_has(&ow->h->walked, id) || oidset_has(&ow->h->seen, id) ||
	    lg.git_odb_read_header(&len, &type, ow->odb, id))
		return 0;
	if (type == GIT_OBJECT_COMMIT) {
		DW_ALLOC_GROW(ow->commits, ow->ncommits + 1, ow->calloc_);
		lg.git_oid_cpy(&ow->commits[ow->ncommits++], id);
	} else if (type == GIT_OBJECT_BLOB) {
		DW_ALLOC_GROW(ow->blobs, ow->nblobs + 1, ow->balloc);
		lg.git_oid_cpy(&ow->blobs[ow->nblobs++], id);
	}
	return 0;
}

/* Dangling commits (oldest first), then blobs no commit holds. */
static int walk_unreachable(struct hist *h)
{
	struct odb_walk ow = { h, NULL, NULL, NULL, 0, 0, 0, 0 };
	size_t i;
	int err = 0;

	if (lg.git_repository_odb(&ow.odb, h->repo))
		return git_fail(DW_EIO, "cannot open the object database");
	lg.git_odb_foreach(ow.odb, odb_cb, &ow);
	for (i = 0; !err && i < ow.ncommits; i++)
		err = visit_commit(h, &ow.commits[i]);
	for (i = 0; !err && i < ow.nblobs; i++) {
		struct job *j;

		if (!oidset_add(&h->seen, &ow.blobs[i]))
			continue;
		DW_ALLOC_GROW(h->jobs, h->njobs + 1, h->jobs_alloc);
		j = &h->jobs[h->njobs++];
		lg.git_oid_cpy(&j->blob, &ow.blobs[i]);
		j->commit = SIZE_MAX;
		j->path = dw_xstrdup("(unreachable blob)");
	}
	free(ow.commits);
	free(ow.blobs);
	lg.git_odb_free(ow.odb);
	return err;
}

struct worker_ctx {
	struct hist *h;
	size_t job;
};

static int on_blob_finding(const struct dw_finding *f, void *ctx)
{
	struct worker_ctx *wc = ctx;
	struct hist *h = wc->h;
	struct dw_buf red = DW_BUF_INIT;
	struct hfind *x;

	dw_secret_redact(&red, f->secret, f->secret_len);
	pthread_mutex_lock(&h->lock);
	DW_ALLOC_GROW(h->found, h->nfound + 1, h->found_alloc);
	x = &h->found[h->nfound++];
	x->job = wc->job;
	x->rule = f->rule_index;
	x->line = f->line;
	x->column = f->column;
	memcpy(x->fingerprint, f->fingerprint, sizeof(x->fingerprint));
	x->secret = dw_xstrndup(f->secret, f->secret_len);
	x->secret_len = f->secret_len;
	x->redacted = dw_buf_detach(&red, NULL);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static void worker_fail(struct hist *h, const char *what)
{
	pthread_mutex_lock(&h->lock);
	if (!h->err) {
		const git_error *e = lg.git_error_last();

		h->err = DW_EIO;
		snprintf(h->errmsg, sizeof(h->errmsg), "%s: %s", what,
			 e && e->message ? e->message : "libgit2 error");
	}
	pthread_mutex_unlock(&h->lock);
}

static void *worker(void *arg)
{
	struct hist *h = arg;
	struct dw_scanner *s = NULL;
	git_repository *repo = NULL;
	struct worker_ctx wc = { h, 0 };

	if (lg.git_repository_open(&repo, lg.git_repository_path(h->repo)) ||
	    dw_scanner_new(&s, h->e)) {
		worker_fail(h, "cannot open the repository in a thread");
		goto out;
	}
	for (;;) {
		size_t i = __atomic_fetch_add(&h->next, 1, __ATOMIC_RELAXED);
		git_blob *b;

		if (i >= h->njobs)
			break;
		if (!h->from_cache[i]) {
			if (lg.git_blob_lookup(&b, repo, &h->jobs[i].blob)) {
				worker_fail(h, "cannot read a blob");
				__atomic_fetch_add(&h->done, 1, __ATOMIC_RELAXED);
				continue;
			}
			if ((!h->o->max_blob_size ||
			     (uint64_t)lg.git_blob_rawsize(b) <= h->o->max_blob_size)
			    && !lg.git_blob_is_binary(b)) {
				wc.job = i;
				dw_scan_buffer(s, lg.git_blob_rawcontent(b),
					       (size_t)lg.git_blob_rawsize(b), 1,
					       on_blob_finding, &wc);
				__atomic_fetch_add(&h->bytes,
						   (uint64_t)lg.git_blob_rawsize(b),
						   __ATOMIC_RELAXED);
			}
			lg.git_blob_free(b);
		}
		__atomic_fetch_add(&h->done, 1, __ATOMIC_RELAXED);
	}
out:
	dw_scanner_free(s);
	lg.git_repository_free(repo);
	return NULL;
}

static void progress(struct hist *h, const struct timespec *t0, int last)
{
	struct timespec now;
	double secs, mbs;
	size_t done = __atomic_load_n(&h->done, __ATOMIC_RELAXED);

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
	mbs = secs > 0 ? (double)h->bytes / 1e6 / secs : 0;
	fprintf(stderr, "\rscanning blobs: %zu/%zu, %.0f MB/s, ETA %.0fs   %s",
		done, h->njobs, mbs,
		done ? secs * (double)(h->njobs - done) / (double)done : 0.0,
		last ? "\n" : "");
}

static int scan_jobs(struct hist *h)
{
	int n = h->o->threads > 0 ? h->o->threads :
					(int)sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t *t;
	struct timespec t0;
	int i, started = 0;

	if (n < 1)
		n = 1;
	if (n > 64)
		n = 64;
	t = dw_xcalloc((size_t)n, sizeof(*t));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		if (!pthread_create(&t[i], NULL, worker, h))
			started++;
	if (!started)
		worker(h);
	while (h->o->progress &&
	       __atomic_load_n(&h->done, __ATOMIC_RELAXED) < h->njobs) {
		progress(h, &t0, 0);
		usleep(200000);
	}
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	if (h->o->progress)
		progress(h, &t0, 1);
	free(t);
	return h->err ? dw_error_set(h->err, "%s", h->errmsg) : 0;
}

static int cmp_found(const void *a, const void *b)
{
	const struct hfind *x = a, *y = b;

	if (x->job != y->job)
		return x->job < y->job ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (x->column > y->column) - (x->column < y->column);
}

static int report(struct hist *h, dw_git_cb cb, void *ctx)
{
	const struct dw_rule_info *rules;
	size_t i;

	dw_engine_rules(h->e, &rules);
	if (h->nfound > 1)
		qsort(h->found, h->nfound, sizeof(*h->found), cmp_found);
	for (i = 0; i < h->nfound; i++) {
		const struct hfind *x = &h->found[i];
		const struct job *j = &h->jobs[x->job];
		struct dw_finding f;
		struct dw_source src = { j->path, DW_SOURCE_GIT, NULL };
		struct dw_git_finding gf;

		src.fields = commit_fields(h->repo, j->commit == SIZE_MAX ?
					   NULL : &h->commits[j->commit],
					   &j->blob);
		memset(&f, 0, sizeof(f));
		f.rule = &rules[x->rule];
		f.rule_index = x->rule;
		f.secret = x->secret;
		f.secret_len = x->secret_len;
		f.line = x->line;
		f.column = x->column;
		memcpy(f.fingerprint, x->fingerprint, sizeof(f.fingerprint));
		gf.f = x->secret ? &f : NULL;
		gf.rule_id = rules[x->rule].id;
		gf.severity = (int)rules[x->rule].severity;
		gf.line = x->line;
		gf.column = x->column;
		gf.fingerprint = x->fingerprint;
		gf.redacted = x->redacted;
		gf.src = &src;
		cb(&gf, ctx);
		json_decref(src.fields);
	}
	return 0;
}

/* Findings of cached blobs go in as if just found (without secrets). */
static int cache_found(const char *rule_id, uint64_t line, uint64_t column,
		       const char *fp, const char *redacted, void *ctx)
{
	struct worker_ctx *wc = ctx;
	struct hist *h = wc->h;
	const struct dw_rule_info *rules;
	size_t n = dw_engine_rules(h->e, &rules), r;
	struct hfind *x;

	for (r = 0; r < n && strcmp(rules[r].id, rule_id); r++)
		;
	if (r == n)
		return 0;
	DW_ALLOC_GROW(h->found, h->nfound + 1, h->found_alloc);
	x = &h->found[h->nfound++];
	memset(x, 0, sizeof(*x));
	x->job = wc->job;
	x->rule = r;
	x->line = line;
	x->column = column;
	snprintf(x->fingerprint, sizeof(x->fingerprint), "%s", fp);
	x->redacted = dw_xstrdup(redacted);
	return 0;
}

static int use_cache(struct hist *h)
{
	struct worker_ctx wc = { h, 0 };
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;
	int err;

	h->from_cache = dw_xcalloc(h->njobs + 1, 1);
	h->cache = h->o->cache;
	if (!h->cache || h->o->cache_needs_secrets)
		return 0;
	for (i = 0; i < h->njobs; i++) {
		lg.git_oid_tostr(hex, sizeof(hex), &h->jobs[i].blob);
		wc.job = i;
		err = h->cache->get(h->cache->self, hex, cache_found, &wc);
		if (err < 0)
			return err;
		h->from_cache[i] = err == 1;
	}
	return 0;
}

static int save_cache(struct hist *h)
{
	char hex[GIT_OID_HEXSZ + 1];
	const struct dw_rule_info *rules;
	size_t i, k = 0;
	int err;

	if (!h->cache)
		return 0;
	dw_engine_rules(h->e, &rules);
	err = h->cache->begin(h->cache->self);
	for (i = 0; !err && i < h->njobs; i++) {
		if (h->from_cache[i])
			continue;
		lg.git_oid_tostr(hex, sizeof(hex), &h->jobs[i].blob);
		err = h->cache->put_blob(h->cache->self, hex);
	}
	for (k = 0; !err && k < h->nfound; k++) {
		const struct hfind *x = &h->found[k];

		if (h->from_cache[x->job])
			continue;
		lg.git_oid_tostr(hex, sizeof(hex), &h->jobs[x->job].blob);
		err = h->cache->put_finding(h->cache->self, hex,
					    rules[x->rule].id, x->line,
					    x->column, x->fingerprint,
					    x->redacted);
	}
	return h->cache->commit(h->cache->self, err);
}

static void hist_release(struct hist *h)
{
	size_t i;

	for (i = 0; i < h->njobs; i++)
		free(h->jobs[i].path);
	free(h->jobs);
	free(h->commits);
	for (i = 0; i < h->nfound; i++) {
		free(h->found[i].secret);
		free(h->found[i].redacted);
	}
	free(h->found);
	free(h->from_cache);
	oidset_release(&h->seen);
	oidset_release(&h->walked);
	dw_buf_release(&h->path);
	lg.git_repository_free(h->repo);
	pthread_mutex_destroy(&h->lock);
}

int dw_git_scan_history(const struct dw_engine *e, const char *repo,
			const struct dw_git_opts *o, dw_git_cb cb, void *ctx,
			struct dw_git_stats *stats)
{
	struct hist h;
	size_t i;
	int err;

	memset(&h, 0, sizeof(h));
	h.e = e;
	h.o = o;
	pthread_mutex_init(&h.lock, NULL);
	err = open_repo(&h.repo, repo);
	if (!err)
		err = walk_history(&h);
	if (!err && o->all_objects)
		err = walk_unreachable(&h);
	if (!err)
		err = use_cache(&h);
	if (!err)
		err = scan_jobs(&h);
	if (!err)
		err = save_cache(&h);
	if (!err)
		report(&h, cb, ctx);
	if (stats) {
		memset(stats, 0, sizeof(*stats));
		stats->commits = h.ncommits;
		stats->blobs = h.njobs;
		for (i = 0; i < h.njobs; i++)
			stats->cached += h.from_cache ? h.from_cache[i] : 0;
		stats->scanned = h.njobs - stats->cached;
		stats->bytes = h.bytes;
	}
	hist_release(&h);
	return err;
}

/* ---- staged changes and pushes: added lines only ---- */

struct added {
	unsigned char *lines;	/* lines[n] != 0: line n was added */
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
};

static int on_added_finding(const struct dw_finding *f, void *ctx)
{
	struct delta_ctx *dc = ctx;
	struct dw_git_finding gf;

	if (f->line >= dc->added->n || !dc->added->lines[f->line])
		return 0;
	memset(&gf, 0, sizeof(gf));
	gf.f = f;
	gf.rule_id = f->rule->id;
	gf.severity = (int)f->rule->severity;
	gf.line = f->line;
	gf.column = f->column;
	gf.fingerprint = f->fingerprint;
	gf.src = dc->src;
	dc->found++;
	return dc->cb(&gf, dc->ctx);
}

/* Scan the new side of every delta of `diff`, reporting added lines. */
static int scan_diff(git_repository *repo, git_diff *diff,
		     struct dw_scanner *s, const git_oid *commit,
		     dw_git_cb cb, void *ctx)
{
	size_t i, n = lg.git_diff_num_deltas(diff);
	int err = 0;

	for (i = 0; !err && i < n; i++) {
		const git_diff_delta *d = lg.git_diff_get_delta(diff, i);
		struct added a = { NULL, 0 };
		git_patch *p = NULL;
		git_blob *b = NULL;
		struct dw_source src = { d->new_file.path, DW_SOURCE_GIT, NULL };
		struct delta_ctx dc = { &a, &src, cb, ctx, 0 };

		if (d->status == GIT_DELTA_DELETED ||
		    (d->flags & GIT_DIFF_FLAG_BINARY) ||
		    lg.git_oid_is_zero(&d->new_file.id))
			continue;
		if (lg.git_patch_from_diff(&p, diff, i)) {
			err = git_fail(DW_EIO, d->new_file.path);
			break;
		}
		if (p)
			lg.git_patch_print(p, line_cb, &a);
		if (a.n && !lg.git_blob_lookup(&b, repo, &d->new_file.id) &&
		    !lg.git_blob_is_binary(b)) {
			src.fields = commit_fields(repo, commit,
						   &d->new_file.id);
			if (!commit)
				json_object_del(src.fields, "blob");
			dw_scan_buffer(s, lg.git_blob_rawcontent(b),
				       (size_t)lg.git_blob_rawsize(b), 1,
				       on_added_finding, &dc);
			json_decref(src.fields);
		}
		lg.git_blob_free(b);
		lg.git_patch_free(p);
		free(a.lines);
	}
	return err;
}

static void diff_options(git_diff_options *o)
{
	lg.git_diff_options_init(o, GIT_DIFF_OPTIONS_VERSION);
	o->context_lines = 0;
}

static int find_renames(git_diff *diff)
{
	git_diff_find_options fo;

	lg.git_diff_find_options_init(&fo, GIT_DIFF_FIND_OPTIONS_VERSION);
	fo.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_COPIES;
	return lg.git_diff_find_similar(diff, &fo);
}

/*
 * The index being committed. `git commit -a` and `git commit PATH...`
 * stage into an index of their own and name it in GIT_INDEX_FILE for the
 * hook: the repository's index does not hold what is committed then.
 */
static int open_index(git_index **index, git_repository *repo,
		      const char *path)
{
	const char *file = path ? NULL : env_path("GIT_INDEX_FILE");

	if (file)
		return lg.git_index_open(index, file);
	return lg.git_repository_index(index, repo);
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
	git_repository *repo;	/* the trees of both sides */
	git_repository *mem;	/* owned: the index's new trees, or NULL */
	struct dw_buf dir;	/* "" or "a/b/" */
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
	if (c->mem && !lg.git_tree_lookup(t, c->mem, id))
		return 0;
	return lg.git_tree_lookup(t, c->repo, id);
}

static int compare_trees(struct changed *c, const git_tree *old,
			 const git_tree *new, int depth)
{
	size_t i, len = c->dir.len;
	int err = depth > CHANGED_DEPTH_MAX ? -1 : 0;

	for (i = 0; !err && i < lg.git_tree_entrycount(new); i++) {
		const git_tree_entry *ne = lg.git_tree_entry_byindex(new, i);
		const char *name = lg.git_tree_entry_name(ne);
		const git_tree_entry *oe = lg.git_tree_entry_byname(old, name);
		git_tree *ot = NULL, *nt = NULL;

		if (oe && !lg.git_oid_cmp(lg.git_tree_entry_id(oe),
					  lg.git_tree_entry_id(ne)) &&
		    lg.git_tree_entry_filemode(oe) ==
			    lg.git_tree_entry_filemode(ne))
			continue;
		if (!oe || lg.git_tree_entry_type(oe) != GIT_OBJECT_TREE ||
		    lg.git_tree_entry_type(ne) != GIT_OBJECT_TREE) {
			err = note_changed(c, name);
			continue;
		}
		if (lg.git_tree_lookup(&ot, c->repo, lg.git_tree_entry_id(oe)) ||
		    new_tree(&nt, c, lg.git_tree_entry_id(ne))) {
			err = -1;
		} else {
			dw_buf_addf(&c->dir, "%s/", name);
			err = compare_trees(c, ot, nt, depth + 1);
			dw_buf_setlen(&c->dir, len);
		}
		lg.git_tree_free(nt);
		lg.git_tree_free(ot);
	}
	for (i = 0; !err && i < lg.git_tree_entrycount(old); i++) {
		const char *name =
			lg.git_tree_entry_name(lg.git_tree_entry_byindex(old, i));

		if (!lg.git_tree_entry_byname(new, name))
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

	if (lg.git_index_has_conflicts(index))
		return -1;
	memset(id, 0, sizeof(*id));
	lg.git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
	err = lg.git_index_write_tree_to(id, index, mem);
	lg.git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
	if (err && !lg.git_oid_is_zero(id) && !lg.git_tree_lookup(&t, mem, id))
		err = 0;
	lg.git_tree_free(t);
	return err;
}

/*
 * The paths where the index differs from `head`, into `c`. 0, or -1
 * when they could not be found this way (conflicts, too many changes):
 * the caller then diffs everything.
 */
static int staged_paths(struct changed *c, git_repository *repo,
			git_tree *head, git_index *index)
{
	git_odb *odb = NULL;
	git_odb_backend *backend = NULL;
	git_tree *tree = NULL;
	git_oid id;
	int err;

	c->repo = repo;
	err = lg.git_odb_new(&odb) || lg.git_mempack_new(&backend);
	if (!err) {
		err = lg.git_odb_add_backend(odb, backend, 1);
		if (err)
			backend->free(backend);
	}
	err = err || lg.git_repository_wrap_odb(&c->mem, odb) ||
	      index_tree(&id, index, c->mem) || new_tree(&tree, c, &id) ||
	      compare_trees(c, head, tree, 0);
	lg.git_tree_free(tree);
	lg.git_odb_free(odb);
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
	lg.git_repository_free(c->mem);
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
	struct changed c = { 0 };
	git_diff_options o;
	int err = open_repo(&repo, path);

	if (err)
		return err;
	/* No HEAD yet (the first commit): everything staged is new. */
	if (!lg.git_revparse_single(&obj, repo, "HEAD^{tree}"))
		head = (git_tree *)obj;
	diff_options(&o);
	if (open_index(&index, repo, path)) {
		err = git_fail(DW_EIO, "cannot read the index");
		goto out;
	}
	if (head && !staged_paths(&c, repo, head, index) &&
	    limit_diff(&o, &c))
		goto out;	/* nothing staged */
	if (lg.git_diff_tree_to_index(&diff, repo, head, index, &o) ||
	    find_renames(diff))
		err = git_fail(DW_EIO, "cannot diff the index");
	if (!err)
		err = dw_scanner_new(&s, e);
	if (!err)
		err = scan_diff(repo, diff, s, NULL, cb, ctx);
out:
	dw_scanner_free(s);
	lg.git_diff_free(diff);
	changed_release(&c);
	lg.git_tree_free(head);
	lg.git_index_free(index);
	lg.git_repository_free(repo);
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
	struct changed ch = { repo, NULL, DW_BUF_INIT, NULL, 0, 0 };
	int err = 0;

	diff_options(&o);
	if (lg.git_commit_lookup(&c, repo, id) || lg.git_commit_tree(&t, c)) {
		err = git_fail(DW_EIO, "cannot read a pushed commit");
		goto out;
	}
	if (lg.git_commit_parentcount(c) &&
	    !lg.git_commit_parent(&parent, c, 0))
		lg.git_commit_tree(&pt, parent);
	/* Its parent's tree again: nothing was added. */
	if (pt && !compare_trees(&ch, pt, t, 0) && limit_diff(&o, &ch))
		goto out;
	if (lg.git_diff_tree_to_tree(&diff, repo, pt, t, &o) ||
	    find_renames(diff))
		err = git_fail(DW_EIO, "cannot diff a commit");
	else
		err = scan_diff(repo, diff, s, id, cb, ctx);
out:
	changed_release(&ch);
	lg.git_diff_free(diff);
	lg.git_tree_free(pt);
	lg.git_tree_free(t);
	lg.git_commit_free(parent);
	lg.git_commit_free(c);
	return err;
}

/* The commits of one pushed ref, each diffed against its first parent. */
static int scan_push_ref(git_repository *repo, struct dw_scanner *s,
			 const git_oid *local, const git_oid *remote,
			 dw_git_cb cb, void *ctx)
{
	git_revwalk *w = NULL;
	git_oid id;
	int err = 0;

	if (lg.git_revwalk_new(&w, repo) || lg.git_revwalk_push(w, local))
		err = git_fail(DW_EINVAL, "cannot walk the pushed commits");
	if (!err && remote && lg.git_revwalk_hide(w, remote))
		err = git_fail(DW_EINVAL, "cannot hide the remote's commits");
	if (!err && !remote)
		lg.git_revwalk_hide_glob(w, "remotes/*");
	lg.git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
	while (!err && !lg.git_revwalk_next(&id, w))
		err = scan_commit(repo, s, &id, cb, ctx);
	lg.git_revwalk_free(w);
	return err;
}

int dw_git_scan_push(const struct dw_engine *e, const char *path,
		     const char *stdin_text, dw_git_cb cb, void *ctx)
{
	git_repository *repo = NULL;
	struct dw_scanner *s = NULL;
	const char *line = stdin_text;
	int err = open_repo(&repo, path);

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
		if (lg.git_oid_fromstr(&local, lsha) ||
		    lg.git_oid_fromstr(&remote, rsha)) {
			err = dw_error_set(DW_EINVAL, "pre-push: cannot parse "
					   "'%s'", tmp);
			break;
		}
		if (lg.git_oid_is_zero(&local))
			continue;	/* a deletion pushes nothing */
		err = scan_push_ref(repo, s, &local,
				    lg.git_oid_is_zero(&remote) ? NULL : &remote,
				    cb, ctx);
	}
	dw_scanner_free(s);
	lg.git_repository_free(repo);
	return err;
}
