#ifndef DW_GIT_H
#define DW_GIT_H

#include <stddef.h>
#include <stdint.h>

#include "driftwatch/engine.h"
#include "driftwatch/sources.h"

/*
 * Git as a source of the secret engine (libgit2 only, no git process).
 *
 * History: the commits to look at are walked oldest first; each unique
 * tree and blob is visited once, and a blob is attributed to the first
 * commit that holds it (the one that introduced it). The unique blobs are
 * then scanned on all cores. Findings come with a source whose fields
 * hold commit, author, date, subject and the blob id.
 */

typedef int (*dw_cached_finding_cb)(const char *rule_id, uint64_t line,
				    uint64_t column, const char *fingerprint,
				    const char *redacted, void *ctx);

/*
 * What the history scan needs of an incremental cache (the host side
 * implements it with SQLite: daemon/scancache.c). All return 0 or a
 * negative error, but get(): 1 when `blob` was scanned with the current
 * rule set (its findings are then passed to `cb`), 0 when not.
 */
struct dw_blob_cache {
	void *self;
	int (*get)(void *self, const char *blob, dw_cached_finding_cb cb,
		   void *ctx);
	int (*begin)(void *self);
	int (*put_blob)(void *self, const char *blob);
	int (*put_finding)(void *self, const char *blob, const char *rule_id,
			   uint64_t line, uint64_t column,
			   const char *fingerprint, const char *redacted);
	int (*commit)(void *self, int err);
};

struct dw_git_opts {
	const char *since;	/* only commits not reachable from it */
	const char *range;	/* "A..B" */
	const char *branch;	/* only this branch */
	int all_objects;	/* also unreachable commits and blobs */
	int threads;		/* 0: one per core */
	uint64_t max_blob_size; /* larger blobs are skipped */
	int progress;		/* a progress line on stderr */
	/*
	 * Incremental: blobs already scanned with the same rule set are not
	 * scanned again; their findings come from the cache. NULL: none.
	 */
	struct dw_blob_cache *cache;
	int cache_needs_secrets; /* --show-secrets: read none from it */
};

/* Everything about one finding in a blob; strings valid in the callback. */
struct dw_git_finding {
	const struct dw_finding *f; /* NULL when it came from the cache */
	const char *rule_id;
	int severity;
	uint64_t line, column;
	const char *fingerprint;
	const char *redacted;	     /* set when from the cache */
	const struct dw_source *src; /* path and git fields */
	/*
	 * Set (and no finding) when a file was not scanned, and why: its
	 * content is binary (NUL bytes). Only the hooks report these.
	 */
	const char *note;
};

typedef int (*dw_git_cb)(const struct dw_git_finding *gf, void *ctx);

struct dw_git_stats {
	size_t commits, blobs, scanned, cached;
	uint64_t bytes;
	/*
	 * Blobs not scanned: binary (NUL bytes), larger than max_blob_size
	 * (known from the object header, never inflated), not present in
	 * the object store (a partial clone, a lost object), or unreadable
	 * (corrupt). Missing and unreadable blobs are counted, not fatal.
	 */
	size_t binary, too_big, missing, unreadable;
	/*
	 * Blobs read as archives (by name, or binary with an archive's
	 * magic), entry by entry as in a tree; of them, read in part (a
	 * limit, a malformed archive: what was read is reported), the first
	 * one's reason.
	 */
	size_t archives, archives_cut;
	char archive_error[512];
};

/*
 * Scan the history of the repository at `repo` (discovered upwards).
 * Errors: DW_ENOTFOUND (not a repository), DW_EINVAL (a revision that
 * does not resolve), DW_EIO (a corrupt object; the message names it).
 */
int dw_git_scan_history(const struct dw_engine *e, const char *repo,
			const struct dw_git_opts *o, dw_git_cb cb, void *ctx,
			struct dw_git_stats *stats);

/*
 * In the functions below, `repo` NULL means the repository git runs a
 * hook for: GIT_DIR, GIT_WORK_TREE and (for the staged changes)
 * GIT_INDEX_FILE as git exports them, else found from the current
 * directory. A path ignores those variables.
 */

/*
 * The pre-commit check: what is staged (the index against HEAD, or
 * against nothing on a first commit), reporting findings that start on
 * an added line of a file that is not binary.
 */
int dw_git_scan_staged(const struct dw_engine *e, const char *repo,
		       dw_git_cb cb, void *ctx);

/*
 * The pre-push check: the commits between each pushed ref's remote and
 * local ids, as git writes them to the hook's stdin ("<local ref> <local
 * id> <remote ref> <remote id>" lines). A new branch means the commits
 * on no remote-tracking ref. Added lines only, as for pre-commit.
 */
int dw_git_scan_push(const struct dw_engine *e, const char *repo,
		     const char *stdin_text, dw_git_cb cb, void *ctx);

/*
 * Read no user or system git configuration (~/.gitconfig, XDG,
 * /etc/gitconfig): `driftwatch scan --git` as root, where safe.directory
 * there would relax libgit2's owner check, and root's HOME is not the
 * owner's to read.
 */
void dw_git_skip_user_config(void);
/* A path names the repository itself: no search in the directories
 * above it (`driftwatch scan --git` as root). */
void dw_git_no_search(void);
/* libgit2's owner check off: once `driftwatch scan --git` as root has
 * become the user who could change the repository (a repository root
 * owns in that user's directory), that user reads it, whoever owns it. */
void dw_git_any_owner(void);

/* Where the repository's hooks live (core.hooksPath honoured). */
char *dw_git_hooks_dir(const char *repo);

/* The repository's work tree root, for its .driftwatch.yaml (caller frees). */
char *dw_git_workdir(const char *repo);

#endif
