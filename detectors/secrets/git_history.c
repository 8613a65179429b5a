/* Git as a source: a whole history, each unique blob scanned once on all cores.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "driftwatch/escape.h"
#include "driftwatch/safeopen.h"
#include "git_int.h"

#include "driftwatch/banned.h"

/* ---- history ---- */

struct job {
	git_oid blob;
	size_t commit; /* index into hist.commits, or SIZE_MAX */
	char *path;
	/* At a name some rules read only (.pgpass): never cached (the
	 * cache holds a blob's findings whatever its name) */
	int named;
	/* ... and read under another name before: those rules' alone */
	int named_only;
};

/* One finding of the history scan, kept until all threads are done. */
struct hfind {
	size_t job;
	size_t rule;
	uint64_t line, column;
	char fingerprint[72];
	char *secret; /* NULL when it came from the cache */
	size_t secret_len;
	char *redacted;
	char *entry; /* in an archive blob: its entry's name, else NULL */
};

struct hist {
	const struct dw_engine *e;
	const struct dw_git_opts *o;
	git_repository *repo;
	struct oidset seen;   /* trees and blobs visited */
	struct oidset named;  /* blobs scanned at a name rules read (.pgpass) */
	struct oidset walked; /* commits walked */
	git_oid *commits;
	size_t ncommits, commits_alloc;
	struct job *jobs;
	size_t njobs, jobs_alloc;
	size_t cur_commit;
	struct dw_buf path;
	/* the parallel part */
	size_t next; /* atomically taken */
	size_t done;
	uint64_t bytes;
	size_t binary, too_big, missing, unreadable; /* blobs, atomically */
	size_t archives, archives_cut;		     /* (under lock) */
	char archive_error[512];		     /* the first cut's */
	struct oidset shallow;	 /* .git/shallow: where the history stops */
	unsigned char *boundary; /* per commit: a shallow boundary */
	size_t missing_commits;	 /* parents that are not there */
	pthread_mutex_t lock;
	struct hfind *found;
	size_t nfound, found_alloc;
	unsigned char *from_cache; /* per job */
	/*
	 * Per job: read whole (scanned, or binary). Only these are cached:
	 * a blob missing, unreadable or over the size limit this time must
	 * be scanned when it is there or the limit is raised.
	 */
	unsigned char *complete;
	int err;
	char errmsg[512];
	struct dw_blob_cache *cache;
};

static int tree_cb(const char *root, const git_tree_entry *te, void *ctx)
{
	struct hist *h = ctx;
	const git_oid *id = gitlib.git_tree_entry_id(te);
	git_object_t type = gitlib.git_tree_entry_type(te);
	struct job *j;

	int named, first, is_new;

	if (type == GIT_OBJECT_TREE)
		return gs_oidset_add(&h->seen, id) ? 0 : 1; /* 1: skip it */
	if (type != GIT_OBJECT_BLOB)
		return 0;
	/*
	 * A blob is read once, at the first path it has; at a name some
	 * rules read only (a file renamed to .pgpass), once more for those.
	 */
	is_new = gs_oidset_add(&h->seen, id);
	named = dw_engine_file_named(h->e, gitlib.git_tree_entry_name(te));
	first = named && gs_oidset_add(&h->named, id);
	if (!is_new && !first)
		return 0;
	DW_ALLOC_GROW(h->jobs, h->njobs + 1, h->jobs_alloc);
	j = &h->jobs[h->njobs++];
	memset(j, 0, sizeof(*j));
	gitlib.git_oid_cpy(&j->blob, id);
	j->commit = h->cur_commit;
	j->named = named;
	j->named_only = !is_new;
	dw_buf_reset(&h->path);
	dw_buf_addf(&h->path, "%s%s", root, gitlib.git_tree_entry_name(te));
	j->path = dw_xstrdup(h->path.ptr);
	return 0;
}

/* Commit `id`'s blobs, attributed to it when no earlier commit had them. */
static int visit_commit(struct hist *h, const git_oid *id)
{
	git_commit *c;
	git_tree *t;
	int err = 0;

	if (!gs_oidset_add(&h->walked, id))
		return 0;
	if (gitlib.git_commit_lookup(&c, h->repo, id))
		return gs_git_fail(DW_EIO, "cannot read a commit");
	DW_ALLOC_GROW(h->commits, h->ncommits + 1, h->commits_alloc);
	gitlib.git_oid_cpy(&h->commits[h->ncommits], id);
	h->cur_commit = h->ncommits++;
	if (gitlib.git_commit_tree(&t, c)) {
		err = gs_git_fail(DW_EIO, "cannot read a commit's tree");
	} else {
		if (gs_oidset_add(&h->seen, gitlib.git_tree_id(t)))
			gitlib.git_tree_walk(t, GIT_TREEWALK_PRE, tree_cb, h);
		gitlib.git_tree_free(t);
	}
	gitlib.git_commit_free(c);
	return err;
}

/* The commits .git/shallow names: a shallow clone's history ends there. */
static void read_shallow(struct hist *h)
{
	const char *dir = gitlib.git_repository_commondir(h->repo);
	struct dw_buf path = DW_BUF_INIT, text = DW_BUF_INIT;
	struct stat st;
	char *line, *next;
	int fd;

	dw_buf_addf(&path, "%s/shallow", dir ? dir : ".");
	fd = dw_open_regular(AT_FDCWD, path.ptr, 0, &st);
	dw_buf_release(&path);
	if (fd < 0)
		return;
	if (st.st_size < (16 << 20) && !dw_buf_read_fd(&text, fd)) {
		for (line = text.ptr; line && *line; line = next) {
			git_oid id;

			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (!gitlib.git_oid_fromstr(&id, line))
				gs_oidset_add(&h->shallow, &id);
		}
	}
	dw_buf_release(&text);
	close(fd);
}

/* Every ref (branches, tags, remotes, the stash) and HEAD, as commits. */
static size_t all_tips(struct hist *h, git_oid **tips)
{
	git_strarray refs = {NULL, 0};
	size_t n = 0, alloc = 0, i;
	git_oid id;

	*tips = NULL;
	if (!gitlib.git_reference_list(&refs, h->repo))
		for (i = 0; i < refs.count; i++)
			if (!gs_peel_commit(h->repo, refs.strings[i], &id)) {
				DW_ALLOC_GROW(*tips, n + 1, alloc);
				gitlib.git_oid_cpy(&(*tips)[n++], &id);
			}
	gitlib.git_strarray_dispose(&refs);
	if (!gs_peel_commit(h->repo, "HEAD", &id)) {
		DW_ALLOC_GROW(*tips, n + 1, alloc);
		gitlib.git_oid_cpy(&(*tips)[n++], &id);
	}
	return n;
}

/*
 * The history of a shallow clone, or of a repository with commits that
 * are missing (libgit2's walk stops at the first absent parent, and used
 * to end the scan with no commit at all). Commits come oldest first, so
 * a blob is attributed to the oldest commit that has it; a shallow
 * boundary introduces everything in its tree (marked shallow).
 */
static int manual_walk(struct hist *h)
{
	const struct dw_git_opts *o = h->o;
	struct oidset hidden, marks;
	struct dated *v = NULL;
	git_oid *tips = NULL, id, *hide_tips = NULL;
	size_t ntips = 0, n = 0, alloc = 0, i, nhide = 0;
	const char *since = o->since;
	char *tip = NULL;
	int err = 0;

	memset(&hidden, 0, sizeof(hidden));
	memset(&marks, 0, sizeof(marks));
	if (o->range) {
		const char *dots = strstr(o->range, "..");

		if (!dots)
			return dw_error_set(DW_EINVAL, "%s: not A..B",
					    o->range);
		tip = dw_xstrndup(o->range, (size_t)(dots - o->range));
		since = tip;
		ntips = 1;
		tips = dw_xmalloc(sizeof(*tips));
		if (gs_peel_commit(h->repo, dots + 2, &tips[0]))
			err = gs_git_fail(DW_EINVAL, o->range);
	} else if (o->branch) {
		ntips = 1;
		tips = dw_xmalloc(sizeof(*tips));
		if (gs_peel_commit(h->repo, o->branch, &tips[0]))
			err = gs_git_fail(DW_EINVAL, o->branch);
	} else {
		ntips = all_tips(h, &tips);
	}
	if (!err && since && *since) {
		if (gs_peel_commit(h->repo, since, &id)) {
			err = gs_git_fail(DW_EINVAL, since);
		} else {
			hide_tips = &id;
			nhide = 1;
			gs_collect(h->repo, &h->shallow, &h->missing_commits,
				   hide_tips, nhide, &hidden, NULL, NULL, NULL,
				   NULL);
		}
	}
	if (!err)
		gs_collect(h->repo, &h->shallow, &h->missing_commits, tips,
			   ntips, &marks, &hidden, &v, &n, &alloc);
	if (n > 1)
		qsort(v, n, sizeof(*v), gs_cmp_dated);
	h->boundary = dw_xcalloc(n ? n : 1, 1);
	for (i = 0; !err && i < n; i++) {
		size_t before = h->ncommits;

		err = visit_commit(h, &v[i].id);
		if (!err && h->ncommits > before)
			h->boundary[before] = (unsigned char)v[i].boundary;
	}
	free(v);
	free(tips);
	free(tip);
	gs_oidset_release(&hidden);
	gs_oidset_release(&marks);
	return err;
}

static int push_revs(struct hist *h, git_revwalk *w)
{
	const struct dw_git_opts *o = h->o;
	git_object *obj;
	int rc;

	if (o->range) {
		if (gitlib.git_revwalk_push_range(w, o->range))
			return gs_git_fail(DW_EINVAL, o->range);
		return 0;
	}
	if (o->branch) {
		git_reference *ref;

		if (gitlib.git_branch_lookup(&ref, h->repo, o->branch,
					     GIT_BRANCH_LOCAL) &&
		    gitlib.git_branch_lookup(&ref, h->repo, o->branch,
					     GIT_BRANCH_REMOTE))
			return gs_git_fail(DW_EINVAL, o->branch);
		rc = gitlib.git_revwalk_push_ref(
			w, gitlib.git_reference_name(ref));
		gitlib.git_reference_free(ref);
		if (rc)
			return gs_git_fail(DW_EINVAL, o->branch);
	} else {
		/* Every ref: branches, tags, remotes, the stash; and HEAD. */
		if (gitlib.git_revwalk_push_glob(w, "*"))
			return gs_git_fail(DW_EIO, "cannot list the refs");
		gitlib.git_revwalk_push_head(w); /* unborn or detached: fine */
	}
	if (o->since) {
		if (gitlib.git_revparse_single(&obj, h->repo, o->since))
			return gs_git_fail(DW_EINVAL, o->since);
		rc = gitlib.git_revwalk_hide(w, gitlib.git_object_id(obj));
		gitlib.git_object_free(obj);
		if (rc)
			return gs_git_fail(DW_EINVAL, o->since);
	}
	return 0;
}

static int walk_history(struct hist *h)
{
	git_revwalk *w;
	git_oid id;
	int err, rc = 0;

	read_shallow(h);
	if (h->shallow.n)
		return manual_walk(h);
	if (gitlib.git_revwalk_new(&w, h->repo))
		return gs_git_fail(DW_EIO, "cannot walk the history");
	gitlib.git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME |
					      GIT_SORT_REVERSE);
	err = push_revs(h, w);
	while (!err && !(rc = gitlib.git_revwalk_next(&id, w)))
		err = visit_commit(h, &id);
	gitlib.git_revwalk_free(w);
	if (!err && rc != GIT_ITEROVER && !h->ncommits)
		/* A parent is missing: walk by hand, stopping there. */
		return manual_walk(h);
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

	if (gs_oidset_has(&ow->h->walked, id) ||
	    gs_oidset_has(&ow->h->seen, id) ||
	    gitlib.git_odb_read_header(&len, &type, ow->odb, id))
		return 0;
	if (type == GIT_OBJECT_COMMIT) {
		DW_ALLOC_GROW(ow->commits, ow->ncommits + 1, ow->calloc_);
		gitlib.git_oid_cpy(&ow->commits[ow->ncommits++], id);
	} else if (type == GIT_OBJECT_BLOB) {
		DW_ALLOC_GROW(ow->blobs, ow->nblobs + 1, ow->balloc);
		gitlib.git_oid_cpy(&ow->blobs[ow->nblobs++], id);
	}
	return 0;
}

/* Dangling commits (oldest first), then blobs no commit holds. */
static int walk_unreachable(struct hist *h)
{
	struct odb_walk ow = {h, NULL, NULL, NULL, 0, 0, 0, 0};
	size_t i;
	int err = 0;

	if (gitlib.git_repository_odb(&ow.odb, h->repo))
		return gs_git_fail(DW_EIO, "cannot open the object database");
	gitlib.git_odb_foreach(ow.odb, odb_cb, &ow);
	for (i = 0; !err && i < ow.ncommits; i++)
		err = visit_commit(h, &ow.commits[i]);
	for (i = 0; !err && i < ow.nblobs; i++) {
		struct job *j;

		if (!gs_oidset_add(&h->seen, &ow.blobs[i]))
			continue;
		DW_ALLOC_GROW(h->jobs, h->njobs + 1, h->jobs_alloc);
		j = &h->jobs[h->njobs++];
		memset(j, 0, sizeof(*j));
		gitlib.git_oid_cpy(&j->blob, &ow.blobs[i]);
		j->commit = SIZE_MAX;
		j->path = dw_xstrdup("(unreachable blob)");
	}
	free(ow.commits);
	free(ow.blobs);
	gitlib.git_odb_free(ow.odb);
	return err;
}

struct worker_ctx {
	struct hist *h;
	size_t job;
};

static int on_blob_finding(const struct dw_finding *f, void *ctx);

/*
 * A blob read before at another path, again at a name some rules read
 * only (renamed to .pgpass): for those rules (on_blob_finding() keeps
 * theirs alone). Missing, too big or binary, it was counted and said
 * at its first path; an archive's entries were read by their own names.
 */
static void scan_named_only(struct hist *h, git_repository *repo, git_odb *odb,
			    struct dw_scanner *s, struct worker_ctx *wc)
{
	const struct job *j = &h->jobs[wc->job];
	git_object_t type;
	git_blob *b;
	size_t len = 0;

	/* (too big by its header, never inflated; no object database:
	 * looked up as the first read was) */
	if ((odb && !gitlib.git_odb_read_header(&len, &type, odb, &j->blob) &&
	     h->o->max_blob_size && (uint64_t)len > h->o->max_blob_size) ||
	    gitlib.git_blob_lookup(&b, repo, &j->blob))
		return;
	if (!gitlib.git_blob_is_binary(b) &&
	    (!h->o->max_blob_size ||
	     (uint64_t)gitlib.git_blob_rawsize(b) <= h->o->max_blob_size)) {
		dw_scan_name(s, j->path);
		dw_scan_buffer(s, gitlib.git_blob_rawcontent(b),
			       (size_t)gitlib.git_blob_rawsize(b), 1,
			       on_blob_finding, wc);
	}
	gitlib.git_blob_free(b);
}

static void add_found(struct worker_ctx *wc, const struct dw_finding *f,
		      const char *entry)
{
	struct hist *h = wc->h;
	struct dw_buf red = DW_BUF_INIT;
	struct hfind *x;

	dw_engine_redact(h->e, f->rule_index, f->secret, f->secret_len, &red);
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
	x->entry = entry ? dw_xstrdup(entry) : NULL;
	pthread_mutex_unlock(&h->lock);
}

static int on_blob_finding(const struct dw_finding *f, void *ctx)
{
	const struct worker_ctx *wc = ctx;

	/* (a blob read again for the rules of its name: theirs alone) */
	if (!wc->h->jobs[wc->job].named_only ||
	    dw_engine_rule_named(wc->h->e, f->rule_index))
		add_found(ctx, f, NULL);
	return 0;
}

/* A finding in an entry of an archive blob (archive.c names it). */
static int on_archive_finding(const struct dw_finding *f,
			      const struct dw_source *src, void *ctx)
{
	add_found(ctx, f,
		  json_string_value(json_object_get(src->fields, "entry")));
	return 0;
}

/*
 * Whether a blob at `path` is an archive, read entry by entry as in a
 * tree (a jar, a zip of configuration, a tar.gz committed as a build's
 * output): by its name, or by its magic when it is binary.
 */
static int archive_blob(const char *path, const void *data, size_t len,
			int binary)
{
	return dw_archive_name(path) ||
	       (binary && dw_archive_magic(data, len < 8192 ? len : 8192));
}

/* An archive read in part (a limit, a malformed entry): said after. */
static void archive_cut(struct hist *h)
{
	struct dw_buf b = DW_BUF_INIT;

	/* (entry names in it are the archive's: escaped, as in a tree) */
	dw_escape_path(&b, dw_error_last(), strlen(dw_error_last()));
	pthread_mutex_lock(&h->lock);
	if (!h->archives_cut++)
		snprintf(h->archive_error, sizeof(h->archive_error), "%s",
			 b.ptr ? b.ptr : "");
	pthread_mutex_unlock(&h->lock);
	dw_buf_release(&b);
}

static void worker_fail(struct hist *h, const char *what)
{
	pthread_mutex_lock(&h->lock);
	if (!h->err) {
		const git_error *e = gitlib.git_error_last();

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
	git_odb *odb = NULL;
	struct worker_ctx wc = {h, 0};

	if (gitlib.git_repository_open(&repo,
				       gitlib.git_repository_path(h->repo)) ||
	    dw_scanner_new(&s, h->e)) {
		worker_fail(h, "cannot open the repository in a thread");
		goto out;
	}
	if (gitlib.git_repository_odb(&odb, repo))
		odb = NULL;
	for (;;) {
		size_t i = __atomic_fetch_add(&h->next, 1, __ATOMIC_RELAXED);
		git_blob *b;

		if (i >= h->njobs)
			break;
		if (h->jobs[i].named_only) {
			/* (read before at another path, counted then) */
			wc.job = i;
			scan_named_only(h, repo, odb, s, &wc);
		} else if (!h->from_cache[i]) {
			size_t len = 0, size;
			git_object_t type;
			const void *data;
			int rc, binary, fits, packed;

			/*
			 * The size from the object's header first: a blob
			 * too big is never inflated (a 1 MB repository held
			 * a 200 MB blob bomb). A blob that is not there
			 * (partial clone, lost object) is counted, not fatal.
			 */
			rc = odb ? gitlib.git_odb_read_header(&len, &type, odb,
							      &h->jobs[i].blob)
				 : -1;
			if (rc == GIT_ENOTFOUND) {
				__atomic_fetch_add(&h->missing, 1,
						   __ATOMIC_RELAXED);
				__atomic_fetch_add(&h->done, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			if (!rc && h->o->max_blob_size &&
			    (uint64_t)len > h->o->max_blob_size) {
				__atomic_fetch_add(&h->too_big, 1,
						   __ATOMIC_RELAXED);
				__atomic_fetch_add(&h->done, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			rc = gitlib.git_blob_lookup(&b, repo, &h->jobs[i].blob);
			if (rc) {
				__atomic_fetch_add(rc == GIT_ENOTFOUND
							   ? &h->missing
							   : &h->unreadable,
						   1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&h->done, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			size = (size_t)gitlib.git_blob_rawsize(b);
			data = gitlib.git_blob_rawcontent(b);
			binary = gitlib.git_blob_is_binary(b);
			fits = !h->o->max_blob_size ||
			       (uint64_t)size <= h->o->max_blob_size;
			packed = fits && archive_blob(h->jobs[i].path, data,
						      size, binary);
			if (binary && !packed)
				__atomic_fetch_add(&h->binary, 1,
						   __ATOMIC_RELAXED);
			/*
			 * Read whole: binary, or scanned (not too big). Not
			 * an archive: the cache keeps no entry names (read
			 * again each time).
			 */
			h->complete[i] = !packed && (binary || fits);
			if (packed) {
				wc.job = i;
				if (dw_archive_scan_mem(
					    s, data, size, h->jobs[i].path,
					    h->o->max_blob_size,
					    on_archive_finding, &wc))
					archive_cut(h);
				pthread_mutex_lock(&h->lock);
				h->archives++;
				pthread_mutex_unlock(&h->lock);
				__atomic_fetch_add(&h->bytes, (uint64_t)size,
						   __ATOMIC_RELAXED);
			} else if (fits && !binary) {
				wc.job = i;
				dw_scan_name(s, h->jobs[i].path);
				dw_scan_buffer(
					s, gitlib.git_blob_rawcontent(b),
					(size_t)gitlib.git_blob_rawsize(b), 1,
					on_blob_finding, &wc);
				__atomic_fetch_add(
					&h->bytes,
					(uint64_t)gitlib.git_blob_rawsize(b),
					__ATOMIC_RELAXED);
			}
			gitlib.git_blob_free(b);
		}
		__atomic_fetch_add(&h->done, 1, __ATOMIC_RELAXED);
	}
out:
	if (odb)
		gitlib.git_odb_free(odb);
	dw_scanner_free(s);
	gitlib.git_repository_free(repo);
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
	int n = h->o->threads > 0 ? h->o->threads
				  : (int)sysconf(_SC_NPROCESSORS_ONLN);
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
		struct dw_source src = {j->path, DW_SOURCE_GIT, NULL};
		struct dw_git_finding gf;

		src.fields = gs_commit_fields(
			h->repo,
			j->commit == SIZE_MAX ? NULL : &h->commits[j->commit],
			&j->blob);
		/* A shallow clone's first commit introduces all it has:
		 * the secret may be older than the clone shows. */
		if (j->commit != SIZE_MAX && h->boundary &&
		    h->boundary[j->commit])
			json_object_set_new(src.fields, "shallow", json_true());
		/* (UTF-8 already: archive.c made it so) */
		if (x->entry)
			json_object_set_new(src.fields, "entry",
					    json_string(x->entry));
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
	struct worker_ctx wc = {h, 0};
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;
	int err;

	h->from_cache = dw_xcalloc(h->njobs + 1, 1);
	h->complete = dw_xcalloc(h->njobs + 1, 1);
	h->cache = h->o->cache;
	if (!h->cache || h->o->cache_needs_secrets)
		return 0;
	for (i = 0; i < h->njobs; i++) {
		if (h->jobs[i].named)
			continue;
		gitlib.git_oid_tostr(hex, sizeof(hex), &h->jobs[i].blob);
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
		if (h->from_cache[i] || !h->complete[i] || h->jobs[i].named)
			continue;
		gitlib.git_oid_tostr(hex, sizeof(hex), &h->jobs[i].blob);
		err = h->cache->put_blob(h->cache->self, hex);
	}
	for (k = 0; !err && k < h->nfound; k++) {
		const struct hfind *x = &h->found[k];

		if (h->from_cache[x->job] || !h->complete[x->job] ||
		    h->jobs[x->job].named)
			continue;
		gitlib.git_oid_tostr(hex, sizeof(hex), &h->jobs[x->job].blob);
		err = h->cache->put_finding(
			h->cache->self, hex, rules[x->rule].id, x->line,
			x->column, x->fingerprint, x->redacted);
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
		free(h->found[i].entry);
	}
	free(h->found);
	free(h->from_cache);
	free(h->complete);
	gs_oidset_release(&h->seen);
	gs_oidset_release(&h->named);
	gs_oidset_release(&h->walked);
	gs_oidset_release(&h->shallow);
	free(h->boundary);
	dw_buf_release(&h->path);
	gitlib.git_repository_free(h->repo);
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
	err = gs_open_repo(&h.repo, repo);
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
		for (i = 0; i < h.njobs; i++) {
			stats->cached += h.from_cache ? h.from_cache[i] : 0;
			/* (a blob read again at a .pgpass name: one blob) */
			stats->blobs += !h.jobs[i].named_only;
		}
		stats->scanned = stats->blobs - stats->cached - h.binary -
				 h.too_big - h.missing - h.unreadable;
		stats->bytes = h.bytes;
		stats->binary = h.binary;
		stats->too_big = h.too_big;
		stats->missing = h.missing;
		stats->unreadable = h.unreadable;
		stats->archives = h.archives;
		stats->archives_cut = h.archives_cut;
		snprintf(stats->archive_error, sizeof(stats->archive_error),
			 "%s", h.archive_error);
	}
	hist_release(&h);
	return err;
}
