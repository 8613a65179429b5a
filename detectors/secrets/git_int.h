#ifndef DW_GIT_INT_H
#define DW_GIT_INT_H

/*
 * Git as a source, internal to the detectors (libgit2 is used in these
 * files and nowhere else):
 *   git.c       loading libgit2, object id sets, opening a repository
 *   git_history.c  a whole history, each unique blob scanned once
 *   git_staged.c   staged changes and pushed commits, added lines only
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
#include "driftwatch/git.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/lazylib.h"

/*
 * libgit2 and what it brings (TLS, SSH, Kerberos: a dozen libraries) are
 * loaded on first use, so that commands without git do not pay for them
 * at start (see lazylib.h).
 */
#define GIT_SYMS(X)                                                            \
	X(git_blob_free)                                                       \
	X(git_blob_is_binary)                                                  \
	X(git_blob_lookup)                                                     \
	X(git_blob_rawcontent)                                                 \
	X(git_blob_rawsize)                                                    \
	X(git_branch_lookup)                                                   \
	X(git_buf_dispose)                                                     \
	X(git_commit_author)                                                   \
	X(git_commit_free)                                                     \
	X(git_commit_lookup)                                                   \
	X(git_commit_parent)                                                   \
	X(git_commit_parentcount)                                              \
	X(git_commit_parent_id)                                                \
	X(git_repository_is_shallow)                                           \
	X(git_commit_time)                                                     \
	X(git_object_peel)                                                     \
	X(git_reference_list)                                                  \
	X(git_strarray_dispose)                                                \
	X(git_commit_summary)                                                  \
	X(git_commit_tree)                                                     \
	X(git_config_free)                                                     \
	X(git_config_get_path)                                                 \
	X(git_diff_find_options_init)                                          \
	X(git_diff_find_similar)                                               \
	X(git_diff_free)                                                       \
	X(git_diff_get_delta)                                                  \
	X(git_diff_num_deltas)                                                 \
	X(git_diff_options_init)                                               \
	X(git_diff_tree_to_index)                                              \
	X(git_diff_tree_to_tree)                                               \
	X(git_error_last)                                                      \
	X(git_index_free)                                                      \
	X(git_index_has_conflicts)                                             \
	X(git_index_open)                                                      \
	X(git_index_write_tree_to)                                             \
	X(git_libgit2_init)                                                    \
	X(git_libgit2_opts)                                                    \
	X(git_mempack_new)                                                     \
	X(git_object_free)                                                     \
	X(git_object_id)                                                       \
	X(git_odb_add_backend)                                                 \
	X(git_odb_foreach)                                                     \
	X(git_odb_free)                                                        \
	X(git_odb_new)                                                         \
	X(git_odb_read_header)                                                 \
	X(git_oid_cmp)                                                         \
	X(git_oid_cpy)                                                         \
	X(git_oid_fromstr)                                                     \
	X(git_oid_is_zero)                                                     \
	X(git_oid_tostr)                                                       \
	X(git_patch_free)                                                      \
	X(git_patch_from_diff)                                                 \
	X(git_patch_print)                                                     \
	X(git_reference_free)                                                  \
	X(git_reference_name)                                                  \
	X(git_repository_commondir)                                            \
	X(git_repository_config_snapshot)                                      \
	X(git_repository_free)                                                 \
	X(git_repository_index)                                                \
	X(git_repository_odb)                                                  \
	X(git_repository_open)                                                 \
	X(git_repository_open_ext)                                             \
	X(git_repository_path)                                                 \
	X(git_repository_set_workdir)                                          \
	X(git_repository_workdir)                                              \
	X(git_repository_wrap_odb)                                             \
	X(git_revparse_single)                                                 \
	X(git_revwalk_free)                                                    \
	X(git_revwalk_hide)                                                    \
	X(git_revwalk_hide_glob)                                               \
	X(git_revwalk_new)                                                     \
	X(git_revwalk_next)                                                    \
	X(git_revwalk_push)                                                    \
	X(git_revwalk_push_glob)                                               \
	X(git_revwalk_push_head)                                               \
	X(git_revwalk_push_range)                                              \
	X(git_revwalk_push_ref)                                                \
	X(git_revwalk_sorting)                                                 \
	X(git_tree_entry_byindex)                                              \
	X(git_tree_entry_byname)                                               \
	X(git_tree_entry_filemode)                                             \
	X(git_tree_entry_id)                                                   \
	X(git_tree_entry_name)                                                 \
	X(git_tree_entry_type)                                                 \
	X(git_tree_entrycount)                                                 \
	X(git_tree_free)                                                       \
	X(git_tree_id)                                                         \
	X(git_tree_lookup)                                                     \
	X(git_tree_walk)

struct git_api {
#define DECLARE(f) __typeof__(f) *f;
	GIT_SYMS(DECLARE)
#undef DECLARE
};
extern struct git_api gitlib;

struct oidset {
	git_oid *slot;
	unsigned char *used;
	size_t cap, n;
};

int gs_oidset_add(struct oidset *s, const git_oid *id);
int gs_oidset_has(const struct oidset *s, const git_oid *id);
void gs_oidset_release(struct oidset *s);
int gs_git_fail(int code, const char *what);

/* A commit and when it was made, for walking history by hand. */
struct dated {
	git_oid id;
	int64_t time;
	int boundary; /* a shallow clone's boundary */
};

/* Oldest first. */
int gs_cmp_dated(const void *a, const void *b);

/* The commit a ref name or revision points to; nonzero when none. */
int gs_peel_commit(git_repository *repo, const char *spec, git_oid *out);

/*
 * Commits reachable from `tips`, depth first, each once (`mark`), none in
 * `hide`: into `*out` (may be NULL: only marked). The parents of a commit
 * in `shallow` (may be NULL) are not followed, nor missing ones (counted
 * in `*missing`): libgit2's own walk stops at the first absent parent.
 */
void gs_collect(git_repository *repo, const struct oidset *shallow,
		size_t *missing, const git_oid *tips, size_t ntips,
		struct oidset *mark, const struct oidset *hide,
		struct dated **out, size_t *n, size_t *alloc);
const char *gs_env_path(const char *name);
int gs_open_repo(git_repository **repo, const char *path);
json_t *gs_commit_fields(git_repository *repo, const git_oid *id,
			 const git_oid *blob);

#endif
