/*
 * Forensic snapshots: pausing, capture, the evidence record. The parts
 * are listed in snapshot_int.h.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <poll.h>
#include <pthread.h>
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
#include "mounts.h"
#include "sign.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/lazylib.h"
#include "driftwatch/banned.h"

/* ---- files: temporary names, fsync, rename ---- */

static int open_tmp(const char *final, struct dw_buf *tmp)
{
	int fd;

	dw_buf_reset(tmp);
	dw_buf_addf(tmp, "%s.tmp-%ld", final, (long)getpid());
	fd = open(tmp->ptr,
		  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		dw_error_errno(DW_EIO, errno, "snapshot: cannot create %s",
			       tmp->ptr);
	return fd;
}

static int commit_file(int fd, const char *tmp, const char *final, int err)
{
	if (!err && fsync(fd))
		err = dw_error_errno(DW_EIO, errno,
				     "snapshot: cannot fsync "
				     "%s",
				     tmp);
	if (close(fd) && !err)
		err = dw_error_errno(DW_EIO, errno,
				     "snapshot: cannot close "
				     "%s",
				     tmp);
	if (!err && rename(tmp, final))
		err = dw_error_errno(DW_EIO, errno,
				     "snapshot: cannot rename "
				     "%s",
				     tmp);
	if (err)
		unlink(tmp);
	return err;
}

/* A layer's directories too deep to enter make the snapshot incomplete. */
static void note_truncated(struct dw_snapshot_result *r,
			   struct snap_tar_stats *st)
{
	r->pause_expired |= st->pause_expired;
	if (!st->truncated)
		return;
	r->truncated += st->truncated;
	if (!r->truncated_at) {
		r->truncated_at = st->truncated_at;
		st->truncated_at = NULL;
	}
	free(st->truncated_at);
}

/*
 * A reference as Docker names it in full: "web:1" is
 * "docker.io/library/web:1". containerd (Docker's containerd image store)
 * takes the index's image name as it is: a short one would be an image
 * Docker cannot find by its tag.
 */
static char *full_ref(const char *ref)
{
	struct dw_buf b = DW_BUF_INIT;
	const char *slash = strchr(ref, '/'), *last;

	if (!slash)
		dw_buf_adds(&b, "docker.io/library/");
	else if (!memchr(ref, '.', (size_t)(slash - ref)) &&
		 !memchr(ref, ':', (size_t)(slash - ref)) &&
		 strncmp(ref, "localhost/", 10))
		dw_buf_adds(&b, "docker.io/");
	dw_buf_adds(&b, ref);
	last = strrchr(ref, '/');
	if (!strchr(last ? last : ref, ':') && !strchr(ref, '@'))
		dw_buf_adds(&b, ":latest");
	return dw_buf_detach(&b, NULL);
}

/* The image layers (bottom first), then the upper dir, as blobs. */
static int build_layers(struct blobs *b, const struct dw_container_layers *l,
			const char *tmpdir, struct dw_buf *evidence,
			struct dw_snapshot_result *r,
			const struct dw_snapshot_budget *bud)
{
	struct dw_buf file = DW_BUF_INIT;
	size_t i;
	int err = 0;

	if (l->init_layer < 0)
		return dw_error_set(DW_EUNSUPPORTED,
				    "container %s: %zu lower dirs do not match "
				    "its image's layers: which are the image's "
				    "cannot be told",
				    l->name, l->nlowers);
	for (i = l->nlowers + 1; !err && i-- > 0;) {
		const char *dir = i == 0 ? l->upper : l->lowers[i - 1];
		struct snap_tar_stats st;
		struct blob *x;
		int fd;

		if (i == 1 && l->init_layer)
			continue; /* Docker's init layer: not the image's */
		dw_buf_reset(&file);
		dw_buf_addf(&file, "%s/layer-%zu.tar", tmpdir, b->n);
		fd = open(file.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			  0600);
		if (fd < 0) {
			err = dw_error_errno(DW_EIO, errno,
					     "snapshot: cannot "
					     "create %s",
					     file.ptr);
			break;
		}
		x = snap_blob_new(b);
		x->file = dw_xstrdup(file.ptr);
		/* Image layers never change: only the upper dir can. */
		err = snap_tar_layer(dir, fd, 0, x->digest, &x->size,
				     i == 0 ? evidence : NULL, &st,
				     i == 0 ? r->paused : 2, bud);
		close(fd);
		if (i == 0) {
			r->entries = st.entries;
			r->changed_during_capture = st.changed;
		}
		note_truncated(r, &st);
	}
	dw_buf_release(&file);
	return err;
}

static void cleanup_tmpdir(const char *tmpdir, struct blobs *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (b->v[i].file)
			unlink(b->v[i].file);
		free(b->v[i].file);
		free(b->v[i].data);
	}
	free(b->v);
	if (tmpdir)
		rmdir(tmpdir);
}

#define VOLATILE_EXE_MAX ((uint64_t)512 << 20)

/*
 * The executables the container's processes run that are on no disk
 * (deleted, memfd): copied from /proc/PID/exe into the archive as blobs,
 * each process's "exe_copy" naming its blob (or why not).
 */
/*
 * A container chooses how many such processes it runs, and how big and
 * how alike their executables are: one copy per executable (its inode),
 * and all of them within the snapshot's budget (--max-size, the free
 * space) and VOLATILE_TOTAL_MAX; past that, each is said, not copied.
 */
#define VOLATILE_TOTAL_MAX ((uint64_t)1 << 30)

static void copy_volatile(const char *root, json_t *ev, struct blobs *b,
			  const char *tmpdir,
			  const struct dw_snapshot_budget *bud)
{
	struct seen {
		dev_t dev;
		ino_t ino;
		char dig[65];
		uint64_t size;
	} *seen = NULL;
	size_t nseen = 0, seen_alloc = 0;
	uint64_t total = 0, limit = VOLATILE_TOTAL_MAX;
	json_t *p;
	size_t i, k;

	if (bud->max_stored && bud->max_stored < limit)
		limit = bud->max_stored;
	if (bud->free_bytes && bud->free_bytes < limit)
		limit = bud->free_bytes;

	json_array_foreach(json_object_get(ev, "processes"), i, p)
	{
		json_t *jp = json_object_get(p, "pid");
		int pid = json_is_integer(jp)
				  ? (int)json_integer_value(jp)
				  : (int)strtol(json_string_value(jp)
							? json_string_value(jp)
							: "0",
						NULL, 10);
		struct dw_buf path = DW_BUF_INIT, file = DW_BUF_INIT;
		char *exe, *buf, dig[65];
		struct stat st;
		struct hout h;
		ssize_t n = 0;
		int in, out, dup = 0;

		if (!json_object_get(p, "exe_volatile") || pid <= 0)
			continue;
		dw_buf_addf(&path, "/proc/%d/exe", pid);
		exe = dw_host_path(root, path.ptr);
		in = open(exe, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		free(exe);
		dw_buf_release(&path);
		if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size > VOLATILE_EXE_MAX) {
			json_object_set_new(
				p, "exe_copy",
				json_pack("{s:s}", "error",
					  in < 0 ? "cannot open /proc/PID/exe"
						 : "not a file, or over 512 "
						   "MiB"));
			if (in >= 0)
				close(in);
			continue;
		}
		/* The same executable as another process's: that copy. */
		for (k = 0; k < nseen; k++)
			if (seen[k].dev == st.st_dev &&
			    seen[k].ino == st.st_ino)
				break;
		if (k < nseen) {
			close(in);
			json_object_set_new(
				p, "exe_copy",
				json_pack("{s:s+, s:I}", "blob",
					  "sha256:", seen[k].dig, "size",
					  (json_int_t)seen[k].size));
			continue;
		}
		if (total + (uint64_t)st.st_size > limit) {
			close(in);
			json_object_set_new(
				p, "exe_copy",
				json_pack("{s:s, s:I}", "error",
					  "over the snapshot's budget for "
					  "such copies",
					  "size", (json_int_t)st.st_size));
			continue;
		}
		total += (uint64_t)st.st_size;
		dw_buf_addf(&file, "%s/volatile-%zu", tmpdir, i);
		out = open(file.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			   0600);
		buf = dw_xmalloc(COPY_SIZE);
		snap_hout_init(&h, out);
		/* No more than it was when counted. */
		while (out >= 0 && h.size < (uint64_t)st.st_size &&
		       (n = read(in, buf,
				 (uint64_t)st.st_size - h.size < COPY_SIZE
					 ? (size_t)((uint64_t)st.st_size -
						    h.size)
					 : COPY_SIZE)) > 0 &&
		       !snap_hout_write(&h, buf, (size_t)n))
			;
		snap_hout_final(&h, dig);
		free(buf);
		close(in);
		if (out >= 0)
			close(out);
		if (out < 0 || n < 0 || h.failed) {
			unlink(file.ptr);
			json_object_set_new(
				p, "exe_copy",
				json_pack("{s:s}", "error", "cannot copy it"));
			dw_buf_release(&file);
			continue;
		}
		DW_ALLOC_GROW(seen, nseen + 1, seen_alloc);
		seen[nseen].dev = st.st_dev;
		seen[nseen].ino = st.st_ino;
		seen[nseen].size = h.size;
		memcpy(seen[nseen++].dig, dig, sizeof(dig));
		for (k = 0; k < b->n && !dup; k++)
			dup = !strcmp(b->v[k].digest, dig);
		if (dup) {
			unlink(file.ptr);
		} else {
			struct blob *x = snap_blob_new(b);

			memcpy(x->digest, dig, sizeof(x->digest));
			x->size = h.size;
			x->file = dw_xstrdup(file.ptr);
		}
		json_object_set_new(p, "exe_copy",
				    json_pack("{s:s+, s:I}", "blob", "sha256:",
					      dig, "size", (json_int_t)h.size));
		dw_buf_release(&file);
	}
	free(seen);
}

static int write_image_archive(const char *root,
			       const struct dw_container_layers *l,
			       json_t *inspect,
			       const struct dw_snapshot_opts *o, json_t *ev,
			       struct dw_buf *entries,
			       struct dw_snapshot_result *r, int fd,
			       const struct dw_snapshot_budget *bud)
{
	struct blobs b = {NULL, 0, 0};
	struct dw_buf tmpdir = DW_BUF_INIT;
	json_t *layers, *manifest, *index, *dmanifest, *cfg;
	char *full;
	const char *slash, *colon;
	char cfg_digest[65], man_digest[65];
	uint64_t cfg_size, man_size;
	size_t nlayers, i;
	struct hout h;
	char dig[65];
	struct dw_buf dm = DW_BUF_INIT, ix = DW_BUF_INIT;
	int err;

	dw_buf_addf(&tmpdir, "%s.layers-XXXXXX", o->out_path);
	if (!mkdtemp(tmpdir.ptr)) {
		err = dw_error_errno(DW_EIO, errno,
				     "snapshot: cannot create "
				     "%s",
				     tmpdir.ptr);
		dw_buf_release(&tmpdir);
		return err;
	}
	err = build_layers(&b, l, tmpdir.ptr, entries, r, bud);
	nlayers = b.n;
	if (!err)
		copy_volatile(root, ev, &b, tmpdir.ptr, bud);
	if (!err) {
		struct blobs only = {b.v, nlayers, 0};

		cfg = snap_image_config(inspect, &only, o->reason);
		snap_blob_json(&b, cfg, cfg_digest, &cfg_size);
		json_decref(cfg);
		layers = json_array();
		for (i = 0; i < nlayers; i++)
			json_array_append_new(
				layers,
				snap_descriptor("application/"
						"vnd.oci.image.layer.v1.tar",
						b.v[i].digest, b.v[i].size));
		manifest = json_pack(
			"{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
			"application/vnd.oci.image.manifest.v1+json", "config",
			snap_descriptor(
				"application/vnd.oci.image.config.v1+json",
				cfg_digest, cfg_size),
			"layers", layers);
		snap_blob_json(&b, manifest, man_digest, &man_size);
		json_decref(manifest);
		index = json_pack(
			"{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType",
			"application/vnd.oci.image.index.v1+json", "manifests",
			snap_descriptor(
				"application/vnd.oci.image.manifest.v1+json",
				man_digest, man_size));
		full = full_ref(o->tag);
		slash = strrchr(full, '/');
		colon = strchr(slash ? slash : full, ':');
		json_object_set_new(
			json_array_get(json_object_get(index, "manifests"), 0),
			"annotations",
			json_pack("{s:s, s:s}", "io.containerd.image.name",
				  full, "org.opencontainers.image.ref.name",
				  colon ? colon + 1 : "latest"));
		free(full);
		dmanifest = json_pack("[{s:s+, s:[s], s:[]}]", "Config",
				      "blobs/sha256/", cfg_digest, "RepoTags",
				      o->tag, "Layers");
		for (i = 0; i < nlayers; i++)
			json_array_append_new(
				json_object_get(json_array_get(dmanifest, 0),
						"Layers"),
				json_sprintf("blobs/sha256/%s", b.v[i].digest));
		dw_json_dump(&dm, dmanifest, JSON_PRESERVE_ORDER);
		dw_json_dump(&ix, index, JSON_PRESERVE_ORDER);
		json_decref(index);
		json_decref(dmanifest);
		{
			const char *extra[][2] = {
				{"oci-layout",
				 "{\"imageLayoutVersion\":\"1.0.0\"}"},
				{"index.json", ix.ptr},
				{"manifest.json", dm.ptr},
			};
			json_t *bl = json_object();

			snap_hout_init(&h, fd);
			h.durable = 1;
			err = snap_write_image(&h, &b, extra, 3);
			snap_hout_final(&h, dig);
			if (!err && h.failed)
				err = dw_error_errno(DW_EIO, h.failed,
						     "snapshot: cannot write "
						     "the archive");
			snprintf(r->archive_sha256, sizeof(r->archive_sha256),
				 "sha256:%s", dig);
			r->archive_size = h.size;
			for (i = 0; i < b.n; i++)
				json_object_set_new(
					bl, b.v[i].digest,
					json_integer((json_int_t)b.v[i].size));
			json_object_set_new(ev, "blobs", bl);
			json_object_set_new(
				ev, "image",
				json_pack("{s:s, s:s+, s:s+}", "tag", o->tag,
					  "config", "sha256:", cfg_digest,
					  "manifest", "sha256:", man_digest));
		}
	}
	cleanup_tmpdir(tmpdir.ptr, &b);
	dw_buf_release(&tmpdir);
	dw_buf_release(&dm);
	dw_buf_release(&ix);
	return err;
}

static int write_layer_only(const struct dw_container_layers *l,
			    struct dw_buf *entries,
			    struct dw_snapshot_result *r, int fd,
			    const struct dw_snapshot_budget *bud)
{
	struct snap_tar_stats st;
	char dig[65];
	int err = snap_tar_layer(l->upper, fd, 1, dig, &r->archive_size,
				 entries, &st, r->paused, bud);

	snprintf(r->archive_sha256, sizeof(r->archive_sha256), "sha256:%s",
		 dig);
	r->entries = st.entries;
	r->changed_during_capture = st.changed;
	note_truncated(r, &st);
	return err;
}

/* `driftwatch diff` as it would print it (escaped, one change a line). */
static json_t *diff_text(const struct dw_container_layers *l)
{
	struct dw_changeset cs = DW_CHANGESET_INIT;
	struct dw_buf out = DW_BUF_INIT;
	json_t *v;

	if (!dw_overlay_diff(&cs, l->upper, (const char *const *)l->lowers,
			     l->nlowers, DW_DIFF_PREFETCH) &&
	    !dw_changeset_format(&out, &cs, DW_DIFF_FORMAT_TEXT))
		v = json_stringn(out.ptr, out.len);
	else
		v = json_pack("{s:s}", "error", dw_error_last());
	dw_changeset_release(&cs);
	dw_buf_release(&out);
	return v;
}

static json_t *evidence_head(const struct dw_snapshot_opts *o, json_t *inspect,
			     const struct dw_container_layers *l, int paused)
{
	char host[256] = "", now[48];
	struct timespec ts;
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(now, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(now + strlen(now), sizeof(now) - strlen(now), ".%09ldZ",
		 ts.tv_nsec);
	return json_pack(
		"{s:s, s:{s:s, s:s}, s:s, s:s, s:s?, s:{s:i, s:s?},"
		" s:b, s:s, s:{s:s, s:s, s:s}, s:O}",
		"format", "driftwatch-evidence-1", "tool", "name", "driftwatch",
		"version", DW_VERSION, "host", host, "captured_at", now,
		"reason", o->reason, "operator", "uid", (int)getuid(), "user",
		getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER"),
		"paused", paused, "mode",
		o->layer_only ? "layer-only" : "image", "container", "id",
		l->id, "name", l->name, "image", l->image, "inspect", inspect);
}

int snap_file_sha256(const char *path, char out[72])
{
	char *buf = dw_xmalloc(COPY_SIZE);
	struct hout h;
	char dig[65];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0) {
		free(buf);
		return dw_error_errno(DW_EIO, errno, "cannot read %s", path);
	}
	snap_hout_init(&h, -1);
	while ((n = read(fd, buf, COPY_SIZE)) > 0)
		EVP_DigestUpdate(h.md, buf, (size_t)n);
	if (n < 0)
		err = dw_error_errno(DW_EIO, errno, "cannot read %s", path);
	snap_hout_final(&h, dig);
	snprintf(out, 72, "sha256:%s", dig);
	close(fd);
	free(buf);
	return err;
}

static int write_evidence(json_t *ev, struct dw_buf *entries,
			  const char *archive, struct dw_snapshot_result *r)
{
	struct dw_buf path = DW_BUF_INIT, tmp = DW_BUF_INIT, data = DW_BUF_INIT;
	const char *base = strrchr(archive, '/');
	int fd, err;

	json_object_set_new(ev, "archive",
			    json_pack("{s:s, s:s, s:I}", "file",
				      base ? base + 1 : archive, "sha256",
				      r->archive_sha256, "size",
				      (json_int_t)r->archive_size));
	dw_buf_addf(&path, "%s.evidence.json", archive);
	dw_json_dump(&data, ev, JSON_PRESERVE_ORDER);
	/* The upper entries were written as JSON text as they were read
	 * (tens of MB: written from where they are, not copied). */
	dw_buf_setlen(&data, data.len - 1); /* the closing '}' */
	dw_buf_adds(&data, ",\"upper_entries\":[");
	fd = open_tmp(path.ptr, &tmp);
	if (fd < 0) {
		err = DW_EIO;
	} else {
		struct hout h;
		char dig[65];

		snap_hout_init(&h, fd);
		h.durable = 1;
		err = snap_hout_write(&h, data.ptr, data.len) ||
				      snap_hout_write(&h, entries->ptr,
						      entries->len) ||
				      snap_hout_write(&h, "]}\n", 3)
			      ? dw_error_errno(DW_EIO, h.failed,
					       "snapshot: cannot "
					       "write %s",
					       tmp.ptr)
			      : 0;
		snap_hout_final(&h, dig);
		snprintf(r->evidence_sha256, sizeof(r->evidence_sha256),
			 "sha256:%s", dig);
		err = commit_file(fd, tmp.ptr, path.ptr, err);
	}
	if (!err)
		r->evidence_path = dw_buf_detach(&path, NULL);
	dw_buf_release(&path);
	dw_buf_release(&tmp);
	dw_buf_release(&data);
	return err;
}

/* ---- the signature: an in-toto Statement in a DSSE envelope ---- */

static const char *base_name(const char *p)
{
	const char *b = strrchr(p, '/');

	return b ? b + 1 : p;
}

/*
 * PATH.intoto.jsonl: a Statement whose subjects are the archive and the
 * evidence (their SHA-256), whose predicate is the capture's who, when,
 * why, host and container, signed with the key at o->signing_key. When
 * it cannot be, r->sign_error says why: the archive and its evidence
 * stand all the same.
 */
static void sign_snapshot(json_t *ev, const struct dw_snapshot_opts *o,
			  struct dw_snapshot_result *r)
{
	struct dw_buf path = DW_BUF_INIT, tmp = DW_BUF_INIT, line = DW_BUF_INIT;
	struct dw_buf stmt = DW_BUF_INIT;
	EVP_PKEY *k = NULL;
	json_t *st, *env = NULL;
	int fd, err;

	err = dw_sign_key_load(&k, o->signing_key, 1);
	if (err) {
		snprintf(r->sign_error, sizeof(r->sign_error), "%s",
			 dw_error_last());
		return;
	}
	st = json_pack(
		"{s:s, s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}], s:s, s:{s:s, s:O?, "
		"s:O?, s:O?, s:O?, s:O?, s:O?, s:s}}",
		"_type", DW_INTOTO_STATEMENT, "subject", "name",
		base_name(o->out_path), "digest", "sha256",
		r->archive_sha256 + 7, "name", base_name(r->evidence_path),
		"digest", "sha256", r->evidence_sha256 + 7, "predicateType",
		DW_SNAPSHOT_PREDICATE, "predicate", "capturedAt",
		json_string_value(json_object_get(ev, "captured_at")), "reason",
		json_object_get(ev, "reason"), "operator",
		json_object_get(ev, "operator"), "host",
		json_object_get(ev, "host"), "container",
		json_object_get(ev, "container"), "paused",
		json_object_get(ev, "paused"), "tool",
		json_object_get(ev, "tool"), "mode",
		json_string_value(json_object_get(ev, "mode")));
	if (st) {
		dw_json_dump(&stmt, st, JSON_PRESERVE_ORDER);
		env = dw_dsse_sign(k, DW_INTOTO_PAYLOAD_TYPE, stmt.ptr,
				   stmt.len);
	}
	if (!env) {
		snprintf(r->sign_error, sizeof(r->sign_error),
			 "cannot sign the statement");
		goto out;
	}
	dw_json_dump(&line, env, 0);
	dw_buf_addch(&line, '\n');
	dw_buf_addf(&path, "%s.intoto.jsonl", o->out_path);
	fd = open_tmp(path.ptr, &tmp);
	err = fd < 0 ? DW_EIO
		     : (write(fd, line.ptr, line.len) == (ssize_t)line.len
				? 0
				: dw_error_errno(DW_EIO, errno,
						 "cannot write %s", tmp.ptr));
	if (fd >= 0)
		err = commit_file(fd, tmp.ptr, path.ptr, err);
	if (err) {
		snprintf(r->sign_error, sizeof(r->sign_error), "%s",
			 dw_error_last());
		goto out;
	}
	dw_sign_keyid(k, r->keyid);
	dw_sha256_hex(r->statement_sha256, line.ptr, line.len);
	r->statement_path = dw_buf_detach(&path, NULL);
out:
	json_decref(st);
	json_decref(env);
	EVP_PKEY_free(k);
	dw_buf_release(&path);
	dw_buf_release(&tmp);
	dw_buf_release(&line);
	dw_buf_release(&stmt);
}

/* ---- pausing, with the unpause guaranteed ---- */

/*
 * The unpause watchdog: a child in its own session that unpauses the
 * container when the capturing process dies, however it dies (SIGKILL,
 * OOM, a crash: the kernel closes its end of the pipe), or when the
 * pause has lasted `deadline_s`. It speaks to Docker's socket with plain
 * system calls prepared before the fork (the parent may have threads),
 * and exits quietly when the capturer writes 'd' ("done") first.
 */
struct watchdog {
	pid_t pid;
	int pipe_w;
};

/* What the watchdog does: Docker's unpause, or a cgroup thawed. */
struct thaw {
	struct sockaddr_un sa; /* Docker's socket, and the request */
	char req[512];
	int len;
	int fd;		 /* else: the freezer file (-1: Docker) */
	const char *val; /* and what thaws it */
};

static int thaw_docker(struct thaw *t, const char *sock, const char *id)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(t->sa.sun_path))
		return dw_error_set(DW_EINVAL, "socket path too long: %s",
				    sock);
	memcpy(t->sa.sun_path, sock, strlen(sock));
	t->len = snprintf(t->req, sizeof(t->req),
			  "POST /containers/%s/unpause HTTP/1.1\r\nHost: "
			  "docker\r\nContent-Length: 0\r\nConnection: "
			  "close\r\n\r\n",
			  id);
	if (t->len <= 0 || (size_t)t->len >= sizeof(t->req))
		return dw_error_set(DW_EINVAL, "container id too long: %s", id);
	return 0;
}

/* In the watchdog (fd 4: the freezer file): undo the pause, and go. */
static void watchdog_thaw(const struct thaw *t)
{
	char reply[512];
	int s;
	struct pollfd pf;

	if (t->fd >= 0)
		_exit(pwrite(4, t->val, strlen(t->val), 0) ==
				      (ssize_t)strlen(t->val)
			      ? 0
			      : 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 ||
	    connect(s, (const struct sockaddr *)&t->sa, sizeof(t->sa)) ||
	    write(s, t->req, (size_t)t->len) != (ssize_t)t->len)
		_exit(1);
	pf.fd = s;
	pf.events = POLLIN;
	/* Wait (a little) for Docker's answer, then go. */
	if (poll(&pf, 1, 10000) > 0 && read(s, reply, sizeof(reply)) > 0)
		_exit(0);
	_exit(1);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The watchdog lets the container run at `deadline_ms` (CLOCK_MONOTONIC),
 * or when the capturer dies, whichever comes first. */
static int watchdog_start(struct watchdog *wd, const struct thaw *t,
			  long long deadline_ms)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return dw_error_errno(DW_ERROR, errno,
				      "cannot start the unpause watchdog");
	wd->pid = fork();
	if (wd->pid < 0) {
		close(p[0]);
		close(p[1]);
		return dw_error_errno(DW_ERROR, errno,
				      "cannot start the unpause watchdog");
	}
	if (wd->pid == 0) {
		struct pollfd pf[2] = {{3, POLLIN, 0}, {-1, POLLIN, 0}};
		sigset_t stop;
		char c = 0;
		int r, hp, hf = -1;
		long long left;

		/* Only the pipe (as fd 3) and the freezer file (4): nothing
		 * else of the capturer's. Both moved out of the way first,
		 * so neither lands on the other (the freezer file may be 3). */
		hp = fcntl(p[0], F_DUPFD, 100);
		if (t->fd >= 0)
			hf = fcntl(t->fd, F_DUPFD, 100);
		if (hp < 0 || (t->fd >= 0 && hf < 0) || dup2(hp, 3) < 0 ||
		    (hf >= 0 && dup2(hf, 4) < 0))
			_exit(1);
		if (syscall(SYS_close_range, t->fd >= 0 ? 5U : 4U, ~0U, 0) < 0)
			close(p[1]);
		setsid(); /* the capturer's process group may be killed */
		/* Stopping the service (SIGTERM) unpauses too. */
		sigemptyset(&stop);
		sigaddset(&stop, SIGTERM);
		sigaddset(&stop, SIGINT);
		sigaddset(&stop, SIGHUP);
		sigprocmask(SIG_BLOCK, &stop, NULL);
		pf[1].fd = signalfd(-1, &stop, SFD_CLOEXEC);
		do {
			left = deadline_ms - mono_ms();
			r = left > 0 ? poll(pf, 2,
					    (int)(left > 86400000 ? 86400000
								  : left))
				     : 0;
		} while (r < 0 && errno == EINTR);
		if (r > 0 && !pf[1].revents && read(3, &c, 1) == 1 && c == 'd')
			_exit(0);
		/* The capturer died (EOF), a signal, or the deadline. */
		watchdog_thaw(t);
	}
	close(p[0]);
	wd->pipe_w = p[1];
	return 0;
}

/* The capture is over: the watchdog goes without a word to Docker. */
static void watchdog_stop(struct watchdog *wd)
{
	int status;

	if (write(wd->pipe_w, "d", 1) != 1)
		kill(wd->pid, SIGKILL);
	close(wd->pipe_w);
	while (waitpid(wd->pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* SIGINT, SIGTERM, SIGHUP, SIGPIPE held (until `old` is restored). */
static void hold_signals(sigset_t *old)
{
	sigset_t hold;

	sigemptyset(&hold);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGPIPE);
	sigprocmask(SIG_BLOCK, &hold, old);
}

static int pause_limit(const struct dw_snapshot_opts *o)
{
	return o->max_pause_s > 0 ? o->max_pause_s : DW_SNAPSHOT_MAX_PAUSE;
}

/*
 * When the watchdog will let the container run (CLOCK_MONOTONIC ms),
 * counted from before the pause; the capture trusts nothing as frozen
 * from a second before it.
 */
static long long pause_deadline(const struct dw_snapshot_opts *o)
{
	return mono_ms() + (long long)pause_limit(o) * 1000;
}

/* Docker says the container is paused (or cannot say). */
static int still_paused(struct dw_docker *d, const char *id)
{
	struct dw_buf p = DW_BUF_INIT;
	json_t *in = NULL;
	int yes = 1;

	dw_buf_addf(&p, "/containers/%s/json", id);
	if (!dw_docker_get_json(d, &in, p.ptr))
		yes = !json_is_false(dw_json_path(in, "State.Paused"));
	json_decref(in);
	dw_buf_release(&p);
	return yes;
}

static int set_paused(struct dw_docker *d, const char *id, int pause)
{
	struct dw_buf p = DW_BUF_INIT;
	int err;

	dw_buf_addf(&p, "/containers/%s/%s", id, pause ? "pause" : "unpause");
	err = dw_docker_post_json(d, NULL, p.ptr, NULL);
	dw_buf_release(&p);
	return err;
}

/*
 * What this capture may write: --max-size (or DW_SNAPSHOT_MAX_SIZE) of
 * file data, files adding up to DW_SNAPSHOT_MAX_APPARENT, and what the
 * output's filesystem has free less a reserve (5 %, at least 256 MiB;
 * half of it for a full archive, whose layers are written twice).
 * Checked before anything is written, then as each file is added.
 */
static int snapshot_budget(const struct dw_snapshot_opts *o,
			   long long r_deadline, struct dw_snapshot_budget *b)
{
	char *copy = dw_xstrdup(o->out_path);
	struct statvfs vfs;
	uint64_t total, freeb, reserve;
	int err = statvfs(dirname(copy), &vfs);

	free(copy);
	memset(b, 0, sizeof(*b));
	b->max_apparent = DW_SNAPSHOT_MAX_APPARENT;
	b->pause_deadline_ms = r_deadline;
	b->max_stored = o->max_size ? o->max_size : DW_SNAPSHOT_MAX_SIZE;
	if (err)
		return dw_error_errno(DW_EIO, errno,
				      "snapshot: cannot check the free space "
				      "for %s",
				      o->out_path);
	total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	freeb = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	reserve = total / 20 > (256u << 20) ? total / 20 : 256u << 20;
	if (freeb <= reserve)
		return dw_error_set(DW_ELIMIT,
				    "snapshot: %s has %llu bytes free, less "
				    "than its reserve of %llu",
				    o->out_path, (unsigned long long)freeb,
				    (unsigned long long)reserve);
	b->free_bytes = (freeb - reserve) / (o->layer_only ? 1 : 2);
	return 0;
}

/*
 * What the evidence says beside the archive (the container's sockets and
 * its diff, a walk of its layers) is read by a thread of its own while
 * the archive is written: the container is paused for the longer of the
 * two, not for their sum. Inline when no thread can be started.
 */
struct side_evidence {
	pthread_t th;
	int started;
	const char *root;
	int pid;
	const struct dw_container_layers *l;
	json_t *sockets, *diff;
};

static void *side_main(void *arg)
{
	struct side_evidence *s = arg;

	s->sockets = snap_sockets(s->root, s->pid);
	s->diff = diff_text(s->l);
	return NULL;
}

/*
 * Each walk holds a descriptor per level of the tree (the diff's, one
 * per layer), and sizes its depth by the limit as if it were alone: side
 * by side only when the limit holds both at their deepest (a container's
 * deep tree must not make either walk fail for want of descriptors),
 * else one after the other, as before.
 */
static int room_for_both(size_t nlowers)
{
	struct rlimit rl;
	uint64_t need = (uint64_t)SNAP_TAR_MAX_DEPTH + 64 +
			(uint64_t)DW_DIFF_MAX_DEPTH * (1 + nlowers) + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need &&
	    rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
				      ? need
				      : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need;
}

static void side_start(struct side_evidence *s)
{
	s->started = room_for_both(s->l->nlowers) &&
		     !pthread_create(&s->th, NULL, side_main, s);
	if (!s->started)
		side_main(s);
}

/* Into `ev`, in the places kept for them. */
static void side_finish(struct side_evidence *s, json_t *ev)
{
	if (s->started)
		pthread_join(s->th, NULL);
	json_object_set_new(ev, "sockets", s->sockets);
	json_object_set_new(ev, "diff", s->diff);
}

/* `processes` (taken) as listed by the runtime, or from /proc. */
static int capture(const char *root, json_t *processes,
		   const struct dw_container_layers *l, json_t *inspect,
		   const struct dw_snapshot_opts *o,
		   struct dw_snapshot_result *r)
{
	json_t *ev = evidence_head(o, inspect, l, r->paused);
	struct dw_buf tmp = DW_BUF_INIT, entries = DW_BUF_INIT;
	struct side_evidence side = {
		.root = root,
		.pid = (int)json_integer_value(
			dw_json_path(inspect, "State.Pid")),
		.l = l,
	};
	struct dw_snapshot_budget bud;
	int fd, err;

	err = snapshot_budget(o, r->pause_deadline_ms, &bud);
	if (err) {
		json_decref(ev);
		json_decref(processes);
		return err;
	}

	json_object_set_new(ev, "processes", processes);
	/* (their places: the evidence's keys keep their order) */
	json_object_set_new(ev, "sockets", json_null());
	json_object_set_new(ev, "diff", json_null());
	side_start(&side);
	fd = open_tmp(o->out_path, &tmp);
	if (fd < 0) {
		err = DW_EIO;
	} else {
		err = o->layer_only
			      ? write_layer_only(l, &entries, r, fd, &bud)
			      : write_image_archive(root, l, inspect, o, ev,
						    &entries, r, fd, &bud);
		err = commit_file(fd, tmp.ptr, o->out_path, err);
	}
	side_finish(&side, ev);
	if (r->changed_during_capture)
		json_object_set_new(ev, "changed_during_capture", json_true());
	if (r->pause_expired)
		json_object_set_new(ev, "pause_deadline_passed", json_true());
	if (r->truncated)
		json_object_set_new(ev, "incomplete",
				    json_pack("{s:s, s:I, s:s}", "reason",
					      "depth-limit",
					      "directories_not_entered",
					      (json_int_t)r->truncated, "first",
					      r->truncated_at));
	if (!err)
		err = write_evidence(ev, &entries, o->out_path, r);
	if (err)
		unlink(o->out_path); /* never half a snapshot */
	if (!err) {
		/* An older snapshot's statement at this path is not this
		 * one's: gone before this one is signed (or not). */
		struct dw_buf sp = DW_BUF_INIT;

		dw_buf_addf(&sp, "%s.intoto.jsonl", o->out_path);
		unlink(sp.ptr);
		dw_buf_release(&sp);
		if (o->signing_key)
			sign_snapshot(ev, o, r);
	}
	json_decref(ev);
	dw_buf_release(&tmp);
	dw_buf_release(&entries);
	return err;
}

char *dw_snapshot_default_tag(const char *name, const char *stamp)
{
	struct dw_buf t = DW_BUF_INIT;
	size_t i;

	dw_buf_addf(&t, "driftwatch/%s:%s", name, stamp);
	/* Repository names are lowercase. */
	for (i = 11; i < t.len && t.ptr[i] != ':'; i++)
		if (t.ptr[i] >= 'A' && t.ptr[i] <= 'Z')
			t.ptr[i] = (char)(t.ptr[i] - 'A' + 'a');
	return dw_buf_detach(&t, NULL);
}

int dw_snapshot_container(struct dw_docker *d, const char *ref,
			  const struct dw_snapshot_opts *o,
			  struct dw_snapshot_result *r)
{
	struct dw_container_layers l;
	json_t *inspect = NULL;
	sigset_t old;
	struct watchdog wd = {-1, -1};
	int err, running, uerr = 0, watching = 0;

	memset(r, 0, sizeof(*r));
	err = snap_load_archive();
	if (err)
		return err;
	/* (the container's layers and the rest of the evidence: one
	 * document, the same container) */
	err = dw_docker_container_layers_inspect(d, &l, ref, &inspect);
	if (err)
		return err;
	r->recorded = l.recorded;
	running = json_is_true(dw_json_path(inspect, "State.Running")) &&
		  !json_is_true(dw_json_path(inspect, "State.Paused"));
	/* Nothing may stop us between pause and unpause. */
	hold_signals(&old);
	if (running && !o->no_pause) {
		struct thaw t;

		/* Before the pause: whatever happens to us, it is undone. */
		long long deadline = pause_deadline(o);

		err = thaw_docker(&t, dw_docker_socket(d), l.id);
		if (!err)
			err = watchdog_start(&wd, &t, deadline);
		if (!err)
			err = set_paused(d, l.id, 1);
		r->paused = !err;
		if (r->paused)
			r->pause_deadline_ms = deadline - 1000;
		watching = wd.pid > 0;
		if (err && watching) {
			/* The pause may have happened all the same (a timed
			 * out request): the watchdog unpauses to be sure. */
			close(wd.pipe_w);
			while (waitpid(wd.pid, NULL, 0) < 0 && errno == EINTR)
				;
			watching = 0;
		}
	}
	if (!err)
		err = capture(dw_docker_host_root(d), snap_processes(d, l.id),
			      &l, inspect, o, r);
	if (r->paused) {
		uerr = set_paused(d, l.id, 0);
		/* The watchdog was first (the deadline passed): Docker says
		 * it is not paused (409, or 500 from older Dockers). */
		if (uerr && !still_paused(d, l.id))
			uerr = 0;
	}
	if (watching)
		watchdog_stop(&wd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (uerr && !err)
		err = uerr;
	json_decref(inspect);
	dw_container_layers_release(&l);
	return err;
}

/*
 * Another runtime's container, from its overlay mount: its cgroup frozen
 * (the watchdog thaws it whatever happens to us, as it unpauses a Docker
 * container), the same archive and evidence, its processes from the
 * cgroup and /proc, its image config from its OCI config.json.
 */
int dw_snapshot_mount(const char *root, const struct dw_mount *m,
		      const char *name, const struct dw_snapshot_opts *o,
		      struct dw_snapshot_result *r)
{
	struct dw_container_layers l;
	struct snap_freezer fz = {-1, 0, NULL};
	struct watchdog wd = {-1, -1};
	json_t *oci, *inspect, *procs;
	sigset_t old;
	int err, pid, uerr = 0, watching = 0;

	memset(r, 0, sizeof(*r));
	if (m->bad)
		return dw_error_set(DW_EUNSUPPORTED, "%s: %s", name, m->bad);
	err = snap_load_archive();
	if (err)
		return err;
	memset(&l, 0, sizeof(l));
	l.id = m->id;
	l.name = (char *)name;
	l.image = m->image ? m->image : (char *)"";
	l.driver = (char *)"overlay";
	l.upper = m->upper;
	l.lowers = m->lowers;
	l.nlowers = m->nlowers;
	l.userxattr = m->userxattr;
	l.running = 1;
	pid = snap_runtime_pid(root, m);
	oci = dw_mount_oci_config(root, m);
	inspect = snap_mount_inspect(m, oci, pid, name);
	hold_signals(&old);
	if (pid > 0)
		err = snap_freezer_open(
			&fz, root, pid,
			json_string_value(json_object_get(
				json_object_get(oci, "linux"), "cgroupsPath")));
	else if (!o->no_pause)
		err = dw_error_set(DW_ERROR, "no process of it in /proc");
	json_decref(oci);
	/* Running it stays: the freezer only lists its processes then. */
	if (o->no_pause)
		err = 0;
	/* Paused already (by a responder, `ctr task pause`): left as it
	 * is, never thawed by us; captured as Docker's paused ones are. */
	if (!err && pid > 0 && !o->no_pause && !snap_freezer_frozen(&fz)) {
		struct thaw t;
		long long deadline = pause_deadline(o);

		memset(&t, 0, sizeof(t));
		t.fd = fz.fd;
		t.val = snap_freezer_thaw_value(&fz);
		/* Before the freeze: whatever happens to us, it is undone. */
		err = watchdog_start(&wd, &t, deadline);
		watching = !err;
		if (!err)
			err = snap_freeze(&fz, 10000);
		r->paused = !err;
		if (r->paused)
			r->pause_deadline_ms = deadline - 1000;
	}
	if (err && !o->no_pause)
		err = dw_error_set(err,
				   "%s: cannot freeze it (%s); --no-pause "
				   "captures it running",
				   name, dw_error_last());
	procs = fz.fd >= 0 ? snap_cgroup_processes(root, &fz)
			   : json_pack("{s:s}", "error",
				       pid > 0 ? "its cgroup could not be read"
					       : "no process runs in it");
	if (!err)
		err = capture(root, procs, &l, inspect, o, r);
	else
		json_decref(procs);
	if (r->paused)
		uerr = snap_thaw(&fz);
	if (watching)
		watchdog_stop(&wd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (uerr && !err)
		err = uerr;
	snap_freezer_close(&fz);
	json_decref(inspect);
	return err;
}
