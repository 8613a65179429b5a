/* Rendering a changeset as `docker diff` text or as JSON. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "driftwatch/overlay_diff.h"
#include "driftwatch/error.h"
#include "driftwatch/escape.h"
#include "driftwatch/json.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

const char *dw_file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	default: return "unknown";
	}
}

mode_t dw_file_type_mode(const char *name)
{
	static const mode_t modes[] = {S_IFREG,	 S_IFDIR, S_IFLNK, S_IFIFO,
				       S_IFSOCK, S_IFCHR, S_IFBLK};
	size_t i;

	for (i = 0; name && i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(name, dw_file_type_name(modes[i])))
			return modes[i];
	return 0;
}

static int format_text_one(struct dw_buf *out, const struct dw_changeset *cs,
			   const struct dw_change *c)
{
	char head[2] = {c->kind, ' '};
	int err = dw_buf_add(out, head, 2);

	if (!err)
		err = dw_escape_path(out, dw_change_path(cs, c), c->path_len);
	if (!err)
		err = dw_buf_addch(out, '\n');
	return err;
}

/* RFC 3339 in UTC with nanoseconds: 2026-11-22T21:20:30.125270083Z */
static void format_time(char *dst, size_t size, int64_t sec, int64_t nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char date[32];

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(dst, size, "%s.%09ldZ", date, (long)nsec);
}

static int set_path(json_t *obj, const char *path, size_t len)
{
	struct dw_buf tmp = DW_BUF_INIT;
	unsigned char *b64;
	int err;

	if (dw_utf8_valid(path, len))
		return json_object_set_new(obj, "path",
					   json_stringn(path, len));
	err = dw_utf8_sanitize(&tmp, path, len);
	if (!err)
		json_object_set_new(obj, "path",
				    json_stringn(tmp.ptr, tmp.len));
	dw_buf_release(&tmp);
	/* Base64 of the exact bytes, so nothing is lost. */
	b64 = dw_xmalloc((len + 2) / 3 * 4 + 1);
	EVP_EncodeBlock(b64, (const unsigned char *)path, (int)len);
	json_object_set_new(obj, "path_base64", json_string((char *)b64));
	free(b64);
	return err;
}

static json_t *change_json(const struct dw_changeset *cs,
			   const struct dw_change *c)
{
	json_t *o = json_object();
	char kind[2] = {c->kind, '\0'};
	const struct dw_change_meta *m;
	char buf[48];

	json_object_set_new(o, "kind", json_string(kind));
	set_path(o, dw_change_path(cs, c), c->path_len);
	json_object_set_new(o, "type", json_string(dw_file_type_name(c->mode)));
	if (c->kind == DW_CHANGE_DELETE || !c->has_meta)
		return o;
	m = &cs->meta[c - cs->v];
	snprintf(buf, sizeof(buf), "%04o", (unsigned)(c->mode & 07777));
	json_object_set_new(o, "mode", json_string(buf));
	json_object_set_new(o, "uid", json_integer(m->uid));
	json_object_set_new(o, "gid", json_integer(m->gid));
	json_object_set_new(o, "size", json_integer(m->size));
	format_time(buf, sizeof(buf), m->mtime_sec, m->mtime_nsec);
	json_object_set_new(o, "mtime", json_string(buf));
	return o;
}

static int format_json_one(struct dw_buf *out, const struct dw_changeset *cs,
			   const struct dw_change *c)
{
	json_t *o = change_json(cs, c);
	int err = dw_buf_addch(out, c == cs->v ? '[' : ',');

	if (!err)
		err = dw_json_dump(out, o, JSON_PRESERVE_ORDER);
	json_decref(o);
	return err;
}

/* Render cs->v[i] for every i into `out`, calling `flush` past `chunk`. */
static int format(struct dw_buf *out, const struct dw_changeset *cs,
		  enum dw_diff_format fmt, size_t chunk,
		  int (*flush)(struct dw_buf *, void *), void *ctx)
{
	size_t i;
	int err = 0;

	if (fmt != DW_DIFF_FORMAT_TEXT && fmt != DW_DIFF_FORMAT_JSON)
		return dw_error_set(DW_EINVAL, "unknown output format");
	for (i = 0; !err && i < cs->n; i++) {
		err = fmt == DW_DIFF_FORMAT_TEXT
			      ? format_text_one(out, cs, &cs->v[i])
			      : format_json_one(out, cs, &cs->v[i]);
		if (!err && flush && out->len >= chunk)
			err = flush(out, ctx);
	}
	if (!err && fmt == DW_DIFF_FORMAT_JSON)
		err = dw_buf_adds(out, cs->n ? "]\n" : "[]\n");
	if (!err && flush)
		err = flush(out, ctx);
	return err;
}

int dw_changeset_format(struct dw_buf *out, const struct dw_changeset *cs,
			enum dw_diff_format fmt)
{
	return format(out, cs, fmt, 0, NULL, NULL);
}

static int flush_fd(struct dw_buf *out, void *ctx)
{
	int fd = *(int *)ctx;
	size_t off = 0;

	while (off < out->len) {
		ssize_t n = write(fd, out->ptr + off, out->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return dw_error_errno(DW_EIO, errno,
					      "cannot write output");
		off += (size_t)n;
	}
	dw_buf_reset(out);
	return 0;
}

int dw_changeset_write(int fd, const struct dw_changeset *cs,
		       enum dw_diff_format fmt)
{
	struct dw_buf out = DW_BUF_INIT;
	int err = format(&out, cs, fmt, 64 * 1024, flush_fd, &fd);

	dw_buf_release(&out);
	return err;
}
