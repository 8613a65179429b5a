/* Git as a source (libgit2 is used here and nowhere else): loading libgit2,
 * object id sets, opening a repository. git_int.h lists the parts. */
#include <sys/stat.h>

#include "git_int.h"

#include "driftwatch/banned.h"

struct git_api gitlib;

static const struct dw_lazy_sym git_syms[] = {
#define SLOT(f) {#f, (void **)&gitlib.f},
	GIT_SYMS(SLOT)
#undef SLOT
};

static struct dw_lazy_lib libgit2 = {DW_LIBGIT2_SONAME, git_syms,
				     sizeof(git_syms) / sizeof(git_syms[0]), 0,
				     ""};

/* ---- a set of object ids (open addressing) ---- */

static size_t oid_hash(const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h)); /* object ids are uniform */
	return h;
}

static void oidset_grow(struct oidset *s);

/* Add `id`; returns 1 if it was new. */
int gs_oidset_add(struct oidset *s, const git_oid *id)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap)
		oidset_grow(s);
	for (i = oid_hash(id) & (s->cap - 1); s->used[i];
	     i = (i + 1) & (s->cap - 1))
		if (!gitlib.git_oid_cmp(&s->slot[i], id))
			return 0;
	s->used[i] = 1;
	gitlib.git_oid_cpy(&s->slot[i], id);
	s->n++;
	return 1;
}

int gs_oidset_has(const struct oidset *s, const git_oid *id)
{
	size_t i;

	if (!s->cap)
		return 0;
	for (i = oid_hash(id) & (s->cap - 1); s->used[i];
	     i = (i + 1) & (s->cap - 1))
		if (!gitlib.git_oid_cmp(&s->slot[i], id))
			return 1;
	return 0;
}

static void oidset_grow(struct oidset *s)
{
	struct oidset bigger = {NULL, NULL, s->cap ? s->cap * 2 : 1024, 0};
	size_t i;

	bigger.slot = dw_xcalloc(bigger.cap, sizeof(git_oid));
	bigger.used = dw_xcalloc(bigger.cap, 1);
	for (i = 0; i < s->cap; i++)
		if (s->used[i])
			gs_oidset_add(&bigger, &s->slot[i]);
	free(s->slot);
	free(s->used);
	*s = bigger;
}

void gs_oidset_release(struct oidset *s)
{
	free(s->slot);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* ---- common ---- */

int gs_git_fail(int code, const char *what)
{
	const git_error *e = gitlib.git_error_last();

	return dw_error_set(code, "%s: %s", what,
			    e && e->message ? e->message : "libgit2 error");
}

/*
 * Every blob is read once: keep libgit2's object cache and mapped pack
 * windows small, or each scanning thread's memory grows with the repo.
 */
static void limit_memory(void)
{
	gitlib.git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE,
				(ssize_t)(16 << 20));
	gitlib.git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT,
				(size_t)(96 << 20));
	gitlib.git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)(8 << 20));
}

const char *gs_env_path(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/*
 * `path`, or with NULL the repository git runs a hook for: GIT_DIR and
 * GIT_WORK_TREE as git exports them (a bare repository with a separate
 * work tree), else found from the current directory.
 */
static int skip_user_config, no_search, any_owner;

void dw_git_skip_user_config(void)
{
	skip_user_config = 1;
}

void dw_git_no_search(void)
{
	no_search = 1;
}

void dw_git_any_owner(void)
{
	any_owner = 1;
}

/*
 * A repository that did not open: another owner's is said in words
 * (libgit2 1.5 says "config value 'safe.directory' was not found").
 */
static int open_fail(int rc, const char *path)
{
	const git_error *e = gitlib.git_error_last();
	struct stat st;

	if ((rc != GIT_EOWNER &&
	     !(e && e->message && strstr(e->message, "safe.directory"))) ||
	    stat(path, &st))
		return gs_git_fail(DW_ENOTFOUND, path);
	if (st.st_uid == geteuid())
		return dw_error_set(DW_EINVAL,
				    "the repository found from %s belongs to "
				    "another user than you (uid %u): libgit2, "
				    "like git (safe.directory), does not open "
				    "it",
				    path, (unsigned)geteuid());
	return dw_error_set(DW_EINVAL,
			    "%s is owned by uid %u, not by you (uid %u): "
			    "libgit2, like git (safe.directory), does not "
			    "open it; scan it as its owner, or as root "
			    "(driftwatch then reads it as its owner)",
			    path, (unsigned)st.st_uid, (unsigned)geteuid());
}

int gs_open_repo(git_repository **repo, const char *path)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *gitdir = path ? NULL : gs_env_path("GIT_DIR");
	const char *worktree = path ? NULL : gs_env_path("GIT_WORK_TREE");
	int err = dw_lazy_load(&libgit2), rc;

	if (err)
		return err;
	gitlib.git_libgit2_init();
	pthread_once(&once, limit_memory);
	/* Read as another user than the caller: not the caller's own
	 * ~/.gitconfig (which that user may not even read). */
	if (any_owner)
		gitlib.git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	if (skip_user_config) {
		gitlib.git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH,
					GIT_CONFIG_LEVEL_GLOBAL, "");
		gitlib.git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH,
					GIT_CONFIG_LEVEL_XDG, "");
		gitlib.git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH,
					GIT_CONFIG_LEVEL_SYSTEM, "");
	}
	if (gitdir) {
		if (gitlib.git_repository_open_ext(
			    repo, gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL))
			return gs_git_fail(DW_ENOTFOUND, gitdir);
	} else if ((rc = gitlib.git_repository_open_ext(
			    repo, path ? path : ".",
			    path && no_search ? GIT_REPOSITORY_OPEN_NO_SEARCH
					      : 0,
			    NULL))) {
		if (path && no_search && rc == GIT_ENOTFOUND)
			return dw_error_set(DW_ENOTFOUND,
					    "%s is not a repository's top "
					    "directory (as root, driftwatch "
					    "does not look above it)",
					    path);
		return open_fail(rc, path ? path : ".");
	}
	if (worktree && gitlib.git_repository_set_workdir(*repo, worktree, 0)) {
		gitlib.git_repository_free(*repo);
		*repo = NULL;
		return gs_git_fail(DW_ENOTFOUND, worktree);
	}
	return 0;
}

char *dw_git_workdir(const char *path)
{
	git_repository *repo;
	const char *wd;
	char *out = NULL;

	if (gs_open_repo(&repo, path))
		return NULL;
	wd = gitlib.git_repository_workdir(repo);
	if (wd)
		out = dw_xstrdup(wd);
	gitlib.git_repository_free(repo);
	return out;
}

char *dw_git_hooks_dir(const char *path)
{
	git_repository *repo;
	git_config *cfg = NULL;
	git_buf hooks = {NULL, 0, 0};
	char *out = NULL;

	if (gs_open_repo(&repo, path))
		return NULL;
	/* core.hooksPath wins, as it does for git itself. */
	if (!gitlib.git_repository_config_snapshot(&cfg, repo) &&
	    !gitlib.git_config_get_path(&hooks, cfg, "core.hooksPath") &&
	    hooks.ptr) {
		if (hooks.ptr[0] == '/' || !gitlib.git_repository_workdir(repo))
			out = dw_xstrdup(hooks.ptr);
		else {
			struct dw_buf b = DW_BUF_INIT;

			dw_buf_addf(&b, "%s%s",
				    gitlib.git_repository_workdir(repo),
				    hooks.ptr);
			out = dw_buf_detach(&b, NULL);
		}
	} else {
		struct dw_buf b = DW_BUF_INIT;

		dw_buf_addf(&b, "%shooks",
			    gitlib.git_repository_commondir(repo));
		out = dw_buf_detach(&b, NULL);
	}
	gitlib.git_buf_dispose(&hooks);
	gitlib.git_config_free(cfg);
	gitlib.git_repository_free(repo);
	return out;
}

/* The fields of a commit as findings carry them. */
json_t *gs_commit_fields(git_repository *repo, const git_oid *id,
			 const git_oid *blob)
{
	char hex[GIT_OID_HEXSZ + 1], bhex[GIT_OID_HEXSZ + 1], date[32];
	git_commit *c = NULL;
	json_t *o = json_object();

	gitlib.git_oid_tostr(bhex, sizeof(bhex), blob);
	json_object_set_new(o, "blob", json_string(bhex));
	if (!id || gitlib.git_commit_lookup(&c, repo, id))
		return o;
	{
		const git_signature *a = gitlib.git_commit_author(c);
		const char *subject = gitlib.git_commit_summary(c);
		time_t t = (time_t)a->when.time;
		struct tm tm;

		gitlib.git_oid_tostr(hex, sizeof(hex), id);
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(o, "commit", json_string(hex));
		json_object_set_new(o, "author",
				    json_sprintf("%s <%s>", a->name, a->email));
		json_object_set_new(o, "date", json_string(date));
		json_object_set_new(o, "subject",
				    json_string(subject ? subject : ""));
	}
	gitlib.git_commit_free(c);
	return o;
}

int gs_cmp_dated(const void *a, const void *b)
{
	const struct dated *x = a, *y = b;

	return (x->time > y->time) - (x->time < y->time);
}

int gs_peel_commit(git_repository *repo, const char *spec, git_oid *out)
{
	git_object *obj = NULL, *c = NULL;
	int rc = gitlib.git_revparse_single(&obj, repo, spec);

	if (!rc)
		rc = gitlib.git_object_peel(&c, obj, GIT_OBJECT_COMMIT);
	if (!rc)
		gitlib.git_oid_cpy(out, gitlib.git_object_id(c));
	gitlib.git_object_free(c);
	gitlib.git_object_free(obj);
	return rc;
}

/*
 * Depth first from `tips`, into `*out` (NULL: only mark in `mark`): a
 * shallow boundary's parents are not followed (they are not there), nor
 * is a parent that is missing (counted); neither is an error.
 */
void gs_collect(git_repository *repo, const struct oidset *shallow,
		size_t *missing, const git_oid *tips, size_t ntips,
		struct oidset *mark, const struct oidset *hide,
		struct dated **out, size_t *n, size_t *alloc)
{
	git_oid *stack = NULL;
	size_t depth = 0, salloc = 0, i;

	for (i = 0; i < ntips; i++) {
		DW_ALLOC_GROW(stack, depth + 1, salloc);
		gitlib.git_oid_cpy(&stack[depth++], &tips[i]);
	}
	while (depth) {
		git_oid id;
		git_commit *c;
		unsigned k, np;
		int boundary;

		gitlib.git_oid_cpy(&id, &stack[--depth]);
		if ((hide && gs_oidset_has(hide, &id)) ||
		    !gs_oidset_add(mark, &id))
			continue;
		if (gitlib.git_commit_lookup(&c, repo, &id)) {
			(*missing)++;
			continue;
		}
		boundary = shallow && gs_oidset_has(shallow, &id);
		if (out) {
			DW_ALLOC_GROW(*out, *n + 1, *alloc);
			gitlib.git_oid_cpy(&(*out)[*n].id, &id);
			(*out)[*n].time = (int64_t)gitlib.git_commit_time(c);
			(*out)[*n].boundary = boundary;
			(*n)++;
		}
		np = boundary ? 0 : gitlib.git_commit_parentcount(c);
		for (k = 0; k < np; k++) {
			const git_oid *p = gitlib.git_commit_parent_id(c, k);

			if (!p)
				continue;
			DW_ALLOC_GROW(stack, depth + 1, salloc);
			gitlib.git_oid_cpy(&stack[depth++], p);
		}
		gitlib.git_commit_free(c);
	}
	free(stack);
}
