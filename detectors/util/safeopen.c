/* Only regular files are opened (driftwatch/safeopen.h says why). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "driftwatch/error.h"
#include "driftwatch/safeopen.h"

#include "driftwatch/banned.h"

int dw_reopen_regular(int pathfd, const char *shown, unsigned flags,
		      struct stat *st)
{
	char proc[64];
	struct stat now;
	int fd, oflags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;

	if (fstat(pathfd, st) < 0) {
		close(pathfd);
		return dw_error_errno(DW_EIO, errno, "cannot stat %s", shown);
	}
	if (!S_ISREG(st->st_mode)) {
		close(pathfd);
		return dw_error_set(DW_EUNSUPPORTED,
				    "%s is not a regular file; not opened",
				    shown);
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
	fd = -1;
	if (flags & DW_OPEN_NOATIME)
		fd = open(proc, oflags | O_NOATIME);
	if (fd < 0)
		fd = open(proc, oflags);
	close(pathfd);
	if (fd < 0)
		return dw_error_errno(DW_EIO, errno, "cannot open %s", shown);
	if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino || !S_ISREG(now.st_mode)) {
		close(fd);
		return dw_error_set(DW_EIO, "%s changed while it was opened",
				    shown);
	}
	/* O_NONBLOCK only guarded the open; reads of a file block anyway. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*st = now;
	return fd;
}

int dw_open_regular(int dirfd, const char *path, unsigned flags,
		    struct stat *st)
{
	int pfd = openat(dirfd, path,
			 O_PATH | O_CLOEXEC |
				 (flags & DW_OPEN_FOLLOW ? 0 : O_NOFOLLOW));

	if (pfd < 0)
		return errno == ENOENT || errno == ENOTDIR
			       ? dw_error_set(DW_ENOTFOUND, "no file %s", path)
			       : dw_error_errno(DW_EIO, errno, "cannot open %s",
						path);
	return dw_reopen_regular(pfd, path, flags, st);
}
