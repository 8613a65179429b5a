#ifndef DW_SAFEOPEN_H
#define DW_SAFEOPEN_H

#include <sys/stat.h>

/*
 * Opening files that someone else controls (a container's upper dir, a
 * followed log directory, a drop dir, a scanned tree): only a regular
 * file is ever opened for reading. Opening a device node has side
 * effects (a watchdog device starts its timer, a tape rewinds), a FIFO
 * blocks, and a container can mknod any device or swap a file for one
 * between a stat and an open. So: open with O_PATH (which opens nothing),
 * fstat that, and only a regular file is reopened through
 * /proc/self/fd/N, read-only, and must still be the same inode.
 */

enum dw_open_flags {
	DW_OPEN_FOLLOW = 1 << 0,  /* follow a symlink in the last component */
	DW_OPEN_NOATIME = 1 << 1, /* O_NOATIME where permitted */
};

/*
 * Open `path` (relative to `dirfd`, or AT_FDCWD) for reading, if it is a
 * regular file. Returns the descriptor (O_RDONLY | O_CLOEXEC, blocking),
 * with its stat in `*st`; or DW_ENOTFOUND (absent), DW_EUNSUPPORTED (not
 * a regular file: `*st` says what it is; nothing was opened), DW_EIO
 * (cannot, or swapped while opened), each with a message naming `path`.
 */
int dw_open_regular(int dirfd, const char *path, unsigned flags,
		    struct stat *st);

/*
 * The same for a descriptor opened with O_PATH (by openat2, say): it is
 * closed, and a readable descriptor of the same regular file returned.
 */
int dw_reopen_regular(int pathfd, const char *shown, unsigned flags,
		      struct stat *st);

#endif
