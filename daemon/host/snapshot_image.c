/* Snapshots: the docker-loadable image archive and its config. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/buf.h"
#include "driftwatch/overlay_diff.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "snapshot_int.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/banned.h"

/* ---- the image archive ---- */

struct blob *snap_blob_new(struct blobs *b)
{
	DW_ALLOC_GROW(b->v, b->n + 1, b->alloc);
	memset(&b->v[b->n], 0, sizeof(b->v[0]));
	return &b->v[b->n++];
}

void snap_blob_json(struct blobs *b, json_t *j, char digest[65], uint64_t *size)
{
	struct dw_buf buf = DW_BUF_INIT;
	struct blob *x = snap_blob_new(b);
	struct hout h;

	dw_json_dump(&buf, j, JSON_PRESERVE_ORDER);
	snap_hout_init(&h, -1);
	EVP_DigestUpdate(h.md, buf.ptr, buf.len);
	snap_hout_final(&h, x->digest);
	x->size = buf.len;
	x->data = dw_buf_detach(&buf, NULL);
	memcpy(digest, x->digest, 65);
	*size = x->size;
}

static int write_member(struct archive *a, const char *name, const char *data,
			size_t len, const char *file, uint64_t size,
			char *copybuf)
{
	struct archive_entry *e = snap_ar.archive_entry_new();
	int err = 0, fd = -1;

	snap_ar.archive_entry_set_pathname(e, name);
	snap_ar.archive_entry_set_filetype(e, AE_IFREG);
	snap_ar.archive_entry_set_perm(e, 0644);
	snap_ar.archive_entry_set_size(e, file ? (la_int64_t)size
					       : (la_int64_t)len);
	snap_ar.archive_entry_set_mtime(e, time(NULL), 0);
	if (snap_ar.archive_write_header(a, e) != ARCHIVE_OK)
		err = DW_EIO;
	if (!err && !file && snap_ar.archive_write_data(a, data, len) < 0)
		err = DW_EIO;
	if (!err && file) {
		ssize_t n;

		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			err = DW_EIO;
		while (!err && (n = read(fd, copybuf, COPY_SIZE)) > 0)
			if (snap_ar.archive_write_data(a, copybuf, (size_t)n) <
			    0)
				err = DW_EIO;
	}
	if (fd >= 0)
		close(fd);
	snap_ar.archive_entry_free(e);
	return err ? dw_error_set(DW_EIO, "snapshot: cannot write %s: %s", name,
				  snap_ar.archive_error_string(a)
					  ? snap_ar.archive_error_string(a)
					  : strerror(errno))
		   : 0;
}

static int write_dir(struct archive *a, const char *name)
{
	struct archive_entry *e = snap_ar.archive_entry_new();
	int rc;

	snap_ar.archive_entry_set_pathname(e, name);
	snap_ar.archive_entry_set_filetype(e, AE_IFDIR);
	snap_ar.archive_entry_set_perm(e, 0755);
	snap_ar.archive_entry_set_mtime(e, time(NULL), 0);
	rc = snap_ar.archive_write_header(a, e);
	snap_ar.archive_entry_free(e);
	return rc == ARCHIVE_OK ? 0 : DW_EIO;
}

/* The outer tar docker load reads, written through `h`. */
int snap_write_image(struct hout *h, struct blobs *b, const char *extra[][2],
		     size_t nextra)
{
	struct archive *a = snap_ar.archive_write_new();
	char *copybuf = dw_xmalloc(COPY_SIZE);
	struct dw_buf name = DW_BUF_INIT;
	size_t i;
	int err = 0;

	struct snap_awriter w;

	snap_ar.archive_write_set_format_pax_restricted(a);
	/* Big writes, hashed and written by a thread of their own. */
	snap_ar.archive_write_set_bytes_per_block(a, 1 << 16);
	snap_ar.archive_write_set_bytes_in_last_block(a, 1);
	snap_aw_start(&w, h);
	if (snap_ar.archive_write_open(a, &w, NULL, snap_aw_write, NULL) !=
	    ARCHIVE_OK)
		err = DW_EIO;
	for (i = 0; !err && i < nextra; i++)
		err = write_member(a, extra[i][0], extra[i][1],
				   strlen(extra[i][1]), NULL, 0, copybuf);
	if (!err)
		err = write_dir(a, "blobs/");
	if (!err)
		err = write_dir(a, "blobs/sha256/");
	for (i = 0; !err && i < b->n; i++) {
		dw_buf_reset(&name);
		dw_buf_addf(&name, "blobs/sha256/%s", b->v[i].digest);
		err = write_member(a, name.ptr, b->v[i].data,
				   b->v[i].data ? b->v[i].size : 0,
				   b->v[i].file, b->v[i].size, copybuf);
	}
	if (snap_ar.archive_write_close(a) != ARCHIVE_OK && !err)
		err = dw_error_set(DW_EIO,
				   "snapshot: cannot finish the "
				   "archive: %s",
				   snap_ar.archive_error_string(a));
	snap_aw_finish(&w);
	snap_aw_release(&w);
	snap_ar.archive_write_free(a);
	free(copybuf);
	dw_buf_release(&name);
	if (err == DW_EIO && !*dw_error_last())
		dw_error_set(DW_EIO, "snapshot: cannot write the archive");
	return err;
}

json_t *snap_descriptor(const char *media, const char *digest, uint64_t size)
{
	return json_pack("{s:s, s:s+, s:I}", "mediaType", media, "digest",
			 "sha256:", digest, "size", (json_int_t)size);
}

/* This machine's architecture in Go's (and so OCI's) words. */
static const char *go_arch(void)
{
	static struct utsname u;

	if (uname(&u))
		return "amd64";
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	if (!strncmp(u.machine, "arm", 3))
		return "arm";
	return u.machine;
}

/* The new image's config: the container's, our layers, our history. */
json_t *snap_image_config(json_t *inspect, const struct blobs *layers,
			  const char *reason)
{
	json_t *cfg = json_object(), *diff = json_array(), *hist = json_array();
	json_t *c = dw_json_path(inspect, "Config");
	char now[32];
	struct tm tm;
	time_t t = time(NULL);
	size_t i;

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (i = 0; i < layers->n; i++) {
		json_array_append_new(
			diff, json_sprintf("sha256:%s", layers->v[i].digest));
		json_array_append_new(
			hist,
			json_pack("{s:s, s:s}", "created", now, "created_by",
				  i + 1 < layers->n
					  ? "driftwatch: image layer"
					  : "driftwatch commit: the "
					    "container's writable layer"));
	}
	if (reason)
		json_object_set_new(json_array_get(hist, layers->n - 1),
				    "comment", json_string(reason));
	json_object_set_new(cfg, "architecture", json_string(go_arch()));
	json_object_set_new(cfg, "os", json_string("linux"));
	json_object_set_new(cfg, "created", json_string(now));
	if (json_is_object(c))
		json_object_set(cfg, "config", c);
	json_object_set_new(
		cfg, "rootfs",
		json_pack("{s:s, s:o}", "type", "layers", "diff_ids", diff));
	json_object_set_new(cfg, "history", hist);
	return cfg;
}
