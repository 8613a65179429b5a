#ifndef DW_SCAN_IMAGE_H
#define DW_SCAN_IMAGE_H

struct dw_docker;

/*
 * The container image `ref` of `driftwatch scan --image`, as a seekable
 * file for dw_image_scan(): `ref` itself when it names a file (an image
 * archive: docker save, an OCI layout's tar), else the archive Docker
 * writes of its image `ref` (GET /images/{ref}/get: either image store),
 * in an unnamed temporary file under $TMPDIR (default /var/tmp). `*d`
 * is the Docker client, opened on `host` when NULL. Returns the
 * descriptor, or a negative DW_E* with a message: DW_ENOTFOUND (no such
 * file, and Docker has no such image), DW_EUNREACHABLE (no such file,
 * and no Docker to ask), DW_EIO.
 */
int scan_image_open(struct dw_docker **d, const char *host, const char *ref);

#endif
