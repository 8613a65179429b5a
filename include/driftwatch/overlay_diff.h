#ifndef DW_OVERLAY_DIFF_H
#define DW_OVERLAY_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "driftwatch/buf.h"

/*
 * The drift classifier: what `docker diff` reports for an overlay
 * container, computed from the raw layer directories without mounting
 * anything.
 *
 * Docker's overlay2 driver answers `docker diff` by comparing two merged
 * trees: the container's layer (upper dir over its lowers) against its
 * parent (the lowers alone). We build both views from the layer
 * directories with overlayfs' own merge rules (whiteouts, opaque dirs,
 * redirects) and compare them with Docker's rules:
 *
 *   A  path in the new view only, and every path below it;
 *   D  path in the old view only (a deleted tree is one D);
 *   C  path in both whose mode, uid, gid or rdev differ, or, for
 *      non-directories, size or mtime (whole seconds when either side has
 *      no nanoseconds), or whose security.capability xattr differs;
 *      also every directory (but /) with a change below it.
 *
 * Only entries reachable from the upper dir can differ, so the walk visits
 * the upper dir and, where it must, the matching lower directories.
 * Nothing found in a layer is ever followed (symlinks) or opened (FIFOs,
 * devices, sockets); every directory is opened relative to its parent with
 * O_NOFOLLOW, so paths longer than PATH_MAX work.
 */

enum dw_change_kind {
	DW_CHANGE_MODIFY = 'C',
	DW_CHANGE_ADD = 'A',
	DW_CHANGE_DELETE = 'D',
};

/* Kept small: a diff of a large tree holds one per changed path. */
struct dw_change {
	size_t path_off; /* offset of the NUL-terminated path in names */
	uint32_t path_len;
	uint32_t mode;		/* st_mode with metadata, else just the
				   S_IFMT bits (of the deleted entry for D) */
	char kind;		/* enum dw_change_kind */
	unsigned char has_meta; /* cs->meta[i] is filled */
};

/* The metadata of an A or C entry (with DW_DIFF_STAT). */
struct dw_change_meta {
	uint32_t uid, gid;
	int64_t size;
	int64_t mtime_sec;
	int64_t mtime_nsec;
	/*
	 * Not part of what docker diff compares: what tells a rewrite that
	 * kept size and mtime (utimensat) from no change. A process cannot
	 * set ctime; the daemon re-analyses a file whose ctime or inode moved.
	 */
	int64_t ctime_ns;
	uint64_t ino;
};

/* A set of changes; paths live in one arena. */
struct dw_changeset {
	struct dw_change *v;
	struct dw_change_meta *meta; /* parallel to v, or NULL */
	size_t n, alloc, meta_alloc;
	struct dw_buf names;
	/*
	 * Directories the walk did not go into: nested deeper than it goes
	 * (DW_DIFF_MAX_DEPTH, or fewer levels when file descriptors are
	 * short). The result is complete everywhere else. `truncated_at` is
	 * the first one, escaped and cut to about 200 bytes; `max_depth` the
	 * limit that applied.
	 */
	size_t truncated;
	char *truncated_at;
	size_t max_depth;
	/*
	 * Overlay metadata that was ignored: the other namespace's overlay
	 * xattrs (user.overlay.* on a rootful mount) or a redirect that
	 * leaves its layer. `forged_at` names the first: "xattr on /path".
	 */
	size_t forged;
	char *forged_at;
};

#define DW_CHANGESET_INIT                                                      \
	{                                                                      \
		NULL, NULL, 0, 0, 0, DW_BUF_INIT, 0, NULL, 0, 0, NULL          \
	}

static inline const char *dw_change_path(const struct dw_changeset *cs,
					 const struct dw_change *c)
{
	return cs->names.ptr + c->path_off;
}

void dw_changeset_release(struct dw_changeset *cs);

/*
 * Leave out of `cs` the added directories at exactly these paths ("/dev"),
 * and the added empty files there when their metadata is known (a file
 * bind mount's target): the mount points a runtime (containerd/runc,
 * podman) makes in the upper dir for its bundle's mounts are not drift,
 * as Docker's init layer is not. What is under them stays.
 */
void dw_changeset_drop_added_dirs(struct dw_changeset *cs, char *const *paths,
				  size_t n);

enum dw_diff_flags {
	/* Fill the metadata of every A and C entry (an lstat per new file). */
	DW_DIFF_STAT = 1 << 0,
	/* A full diff (no reuse) lists the upper dirs in a second thread:
	 * the same result, in less wall time on two or more cores. */
	DW_DIFF_PREFETCH = 1 << 1,
	/*
	 * The layers belong to an overlay mounted with userxattr (rootless):
	 * its metadata is in user.overlay.*. Otherwise only trusted.overlay.*
	 * counts, as the kernel's does on a rootful mount.
	 */
	DW_DIFF_USERXATTR = 1 << 2,
};

/*
 * Deepest directory nesting the walk goes into (it recurses, and holds a
 * descriptor or a few per level). Deeper directories are not an error:
 * they are counted in the changeset's `truncated`, and everything else is
 * walked. The limit is lower when the descriptors left allow fewer.
 */
#define DW_DIFF_MAX_DEPTH 4096

/*
 * Compute the changes of `upper` against `lowers` (overlayfs order: the
 * topmost lower first) into `out`, which must be initialised and empty.
 * The changes come out sorted by path, bytewise (the order of
 * `LC_ALL=C sort`): each directory is sorted on its own as the walk goes,
 * which costs far less than sorting all paths at the end. Returns 0 (check
 * `out->truncated`: directories too deep to walk), or DW_EIO (a directory
 * could not be read; the message names it), DW_EINVAL (a layer dir is not a
 * directory).
 * Entries that vanish during the walk are treated as absent. On failure `out`
 * holds what was found so far and must not be presented as a result.
 */
int dw_overlay_diff(struct dw_changeset *out, const char *upper,
		    const char *const *lowers, size_t nlowers, unsigned flags);

/*
 * The same, re-using an earlier result of the same layers: a directory
 * for which `unchanged` says nothing at or below it changed since `prev`
 * was computed (the caller knows, e.g. from inotify) is not walked; its
 * changes are copied from `prev` (which must be sorted, as returned).
 * `path` is "/a/b" (not NUL-terminated beyond `len`). The layers below
 * the upper dir never change, so the result is the same as a full walk
 * whenever `unchanged` tells the truth.
 */
struct dw_diff_reuse {
	/* NULL: sparse (see dw_overlay_diff_at()); `kept` is asked. */
	const struct dw_changeset *prev;
	int (*unchanged)(const char *path, size_t len, void *ctx);
	/* Optional: nothing happened to the entry at `path` itself (a file,
	 * link, node) either: its change, if any, is copied without a stat. */
	int (*entry_unchanged)(const char *path, size_t len, void *ctx);
	/*
	 * Sparse only: the walk did not look at the entry at `path`
	 * (`subtree` 0) or below the directory at `path` (`subtree` 1, also
	 * for a directory nested too deep to walk). Nothing is copied: the
	 * answer is whether the earlier result had a change there (> 0), which
	 * decides the C of the directories above; < 0: an error (the walk
	 * stops, DW_EIO).
	 */
	int (*kept)(const char *path, size_t len, int subtree, void *ctx);
	void *ctx;
};

int dw_overlay_diff_reuse(struct dw_changeset *out, const char *upper,
			  const char *const *lowers, size_t nlowers,
			  unsigned flags, const struct dw_diff_reuse *reuse);

/* A directory's own state, for a caller that decides its C. */
struct dw_diff_level {
	/* DW_CHANGE_ADD: not in the image; DW_CHANGE_MODIFY: differs
	 * itself; 0: the same in both (C only with a change below it). */
	char kind;
	unsigned char has_meta; /* with DW_DIFF_STAT */
	/* Of a name given to dw_overlay_diff_at(): 1 when it is a
	 * directory in both views that the walk did not enter (`reuse`'s
	 * unchanged() said so): this is its own state, and nothing of it
	 * or below it is in the output. 0: compared, like any entry. */
	unsigned char dir_only;
	uint32_t mode;
	struct dw_change_meta meta;
};

/*
 * Sparse: the changes of the entries `names` (sorted, unique) of
 * directory `dir` ("/a/b", "" for the root) and below them, what the
 * walk of the whole tree gives there, for a caller that keeps the rest
 * (the live monitor: the store holds it). Nothing else of `dir` is
 * listed or looked at. `reuse` is sparse (prev NULL): an entry below
 * which unchanged() says nothing changed is not entered, and a
 * directory in both views among `names` is then only reported in
 * `named` (one per name) as a level, its C left to the caller;
 * everything else is compared, and walked whole below. `levels` (one
 * per component of `dir`, the caller sizes it) gets each directory on
 * the way down, `dir` last. Returns 0; 2 when `dir` is not a directory
 * of the new view (any more: its parent's listing says so); 1 when it is
 * nested too deep, or a named directory is new but not to be walked: the
 * caller walks the whole tree; or an error as dw_overlay_diff().
 */
int dw_overlay_diff_at(struct dw_changeset *out, const char *upper,
		       const char *const *lowers, size_t nlowers,
		       unsigned flags, const char *dir, char *const *names,
		       size_t nnames, const struct dw_diff_reuse *reuse,
		       struct dw_diff_level *levels,
		       struct dw_diff_level *named);

/* Output formats for a changeset. */
enum dw_diff_format {
	DW_DIFF_FORMAT_TEXT,
	DW_DIFF_FORMAT_JSON,
};

/*
 * Render `cs` in its order into `out`. Text: one
 * "K /path\n" line per change, the path escaped with dw_escape_path().
 * JSON: one array of objects {kind, path, type[, mode, uid, gid, size,
 * mtime]}; a path that is not valid UTF-8 has each invalid byte shown as
 * U+FFFD in "path" (as Docker's API does) and its exact bytes, base64, in
 * "path_base64".
 */
int dw_changeset_format(struct dw_buf *out, const struct dw_changeset *cs,
			enum dw_diff_format fmt);

/*
 * The same, streamed to file descriptor `fd` in 64 KiB writes. Returns 0,
 * or DW_EIO when a write fails (the message says why).
 */
int dw_changeset_write(int fd, const struct dw_changeset *cs,
		       enum dw_diff_format fmt);

/* "file", "dir", "symlink", "fifo", "socket", "char", "block", "unknown" */
const char *dw_file_type_name(mode_t mode);
/* The S_IFMT bits of a dw_file_type_name(); 0 when unknown. */
mode_t dw_file_type_mode(const char *name);

#endif
