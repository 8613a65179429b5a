/*
 * Internal to the diff engine: the entries of directories, and a reader
 * thread that lists an upper dir's tree ahead of the walk.
 *
 * Listing a directory is mostly kernel time (getdents builds ext4's hash
 * tree, close frees it): about 40% of a walk of a new tree. A second
 * thread does that while the walk sorts, compares and records, so a full
 * diff uses two cores. The walk stays the judge: it takes a listing only
 * for the very directory it opened (same device and inode) and reads
 * itself whatever the reader skipped, failed on or has not reached.
 */
#ifndef DW_OVERLAY_PREFETCH_H
#define DW_OVERLAY_PREFETCH_H

#include <stddef.h>

#include "driftwatch/buf.h"

/* Directory entries read from one or more layers. */
struct names {
	struct dw_buf arena;
	struct name_ent {
		size_t off;
		int layer;
		unsigned char dtype;
	} * v;
	size_t n, alloc;
};

void dw_names_release(struct names *nm);

/*
 * Append the entries of directory `fd` (but "." and "..") to `nm`, tagged
 * with `layer`, through a description of its own so `fd`'s offset is left
 * alone. 0, or the errno of the failure (what was read stays in `nm`).
 */
int dw_names_read(struct names *nm, int fd, int layer);

struct dw_prefetch;

/*
 * Start listing the tree below `root_fd` (the upper dir; not closed or
 * read by the reader, which opens its own descriptions). NULL when no
 * thread could be started: the walk then reads everything itself.
 */
struct dw_prefetch *dw_prefetch_start(int root_fd);

/*
 * The listing of the upper dir at `path` ("" for the root, else "/a/b";
 * `len` bytes) that the walk opened as `fd`, moved into the empty `nm`
 * with layer -1. 1 when so, 0 when the caller must read it itself. Waits
 * only while the reader may still list that directory.
 */
int dw_prefetch_take(struct dw_prefetch *pf, const char *path, size_t len,
		     int fd, struct names *nm);

/* Stop the reader and free what the walk did not take. NULL is fine. */
void dw_prefetch_stop(struct dw_prefetch *pf);

#endif
