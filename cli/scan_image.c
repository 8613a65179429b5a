/* driftwatch scan --image: an image archive, or Docker's image by name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan_image.h"
#include "docker.h"
#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/safeopen.h"
#include "driftwatch/banned.h"

/* Where Docker's archive of an image is written: images are big, and
 * /tmp is often a small tmpfs. */
static const char *tmp_dir(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t == '/' ? t : "/var/tmp";
}

static int from_docker(struct dw_docker **d, const char *host, const char *ref)
{
	struct dw_buf path = DW_BUF_INIT;
	json_t *inspect = NULL;
	uint64_t written = 0;
	char *esc;
	int fd, err;

	if (!*d && (err = dw_docker_open(d, host)))
		return dw_error_set(err,
				    "no file %s, and no Docker to ask for "
				    "such an image: %s",
				    ref, dw_error_last());
	esc = dw_docker_escape(*d, ref);
	if (!esc)
		return dw_error_set(DW_EINVAL, "cannot escape %s", ref);
	dw_buf_addf(&path, "/images/%s/json", esc);
	err = dw_docker_get_json(*d, &inspect, path.ptr);
	json_decref(inspect);
	if (err == DW_ENOTFOUND) {
		err = dw_error_set(DW_ENOTFOUND,
				   "no file %s, and Docker (%s) has no such "
				   "image",
				   ref, dw_docker_socket(*d));
		goto out;
	}
	if (err)
		goto out;
	fd = open(tmp_dir(), O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = dw_error_errno(DW_EIO, errno,
				     "cannot make a temporary file in %s for "
				     "image %s",
				     tmp_dir(), ref);
		goto out;
	}
	dw_buf_reset(&path);
	dw_buf_addf(&path, "/images/%s/get", esc);
	err = dw_docker_get_file(*d, path.ptr, fd, &written);
	if (err) {
		err = dw_error_set(err, "image %s: %s", ref, dw_error_last());
		close(fd);
	} else if (lseek(fd, 0, SEEK_SET) != 0) {
		err = dw_error_errno(DW_EIO, errno, "image %s", ref);
		close(fd);
	} else {
		err = fd;
	}
out:
	free(esc);
	dw_buf_release(&path);
	return err;
}

int scan_image_open(struct dw_docker **d, const char *host, const char *ref)
{
	struct stat st;
	int fd;

	/* A name Docker knows may be a file here too ("busybox" in the
	 * current directory): the file, as a path is what it is. */
	if (lstat(ref, &st) < 0 && errno == ENOENT)
		return from_docker(d, host, ref);
	fd = dw_open_regular(AT_FDCWD, ref, DW_OPEN_FOLLOW, &st);
	if (fd == DW_EUNSUPPORTED)
		return dw_error_set(DW_EIO,
				    "%s: not a regular file (an image archive "
				    "is one)",
				    ref);
	return fd;
}
