/* Rendering a changeset as `docker diff` text or as JSON. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>

#include "driftwatch/diff.h"
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

static int format_text(struct dw_buf *out, const struct dw_changeset *cs)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < cs->n; i++) {
		const struct dw_change *c = &cs->v[i];
		char head[2] = { c->kind, ' ' };

		err = dw_buf_add(out, head, 2);
		if (!err)
			err = dw_escape_path(out, dw_change_path(cs, c),
					     c->path_len);
		if (!err)
			err = dw_buf_addch(out, '\n');
	}
	return err;
}

/* RFC 3339 in UTC with nanoseconds: 2026-11-22T21:20:30.125270083Z */
static void format_time(char *dst, size_t size, const struct timespec *ts)
{
	struct tm tm;
	char date[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(dst, size, "%s.%09ldZ", date, ts->tv_nsec);
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
	char kind[2] = { c->kind, '\0' };
	char buf[48];

	json_object_set_new(o, "kind", json_string(kind));
	set_path(o, dw_change_path(cs, c), c->path_len);
	json_object_set_new(o, "type", json_string(dw_file_type_name(c->type)));
	if (c->kind == DW_CHANGE_DELETE || !c->has_stat)
		return o;
	snprintf(buf, sizeof(buf), "%04o", (unsigned)(c->st.st_mode & 07777));
	json_object_set_new(o, "mode", json_string(buf));
	json_object_set_new(o, "uid", json_integer(c->st.st_uid));
	json_object_set_new(o, "gid", json_integer(c->st.st_gid));
	json_object_set_new(o, "size", json_integer(c->st.st_size));
	format_time(buf, sizeof(buf), &c->st.st_mtim);
	json_object_set_new(o, "mtime", json_string(buf));
	return o;
}

static int format_json(struct dw_buf *out, const struct dw_changeset *cs)
{
	size_t i;
	int err = dw_buf_addch(out, '[');

	for (i = 0; !err && i < cs->n; i++) {
		json_t *o = change_json(cs, &cs->v[i]);

		if (i)
			err = dw_buf_addch(out, ',');
		if (!err)
			err = dw_json_dump(out, o, JSON_PRESERVE_ORDER);
		json_decref(o);
	}
	if (!err)
		err = dw_buf_adds(out, "]\n");
	return err;
}

int dw_changeset_format(struct dw_buf *out, const struct dw_changeset *cs,
			enum dw_diff_format fmt)
{
	switch (fmt) {
	case DW_DIFF_FORMAT_TEXT:
		return format_text(out, cs);
	case DW_DIFF_FORMAT_JSON:
		return format_json(out, cs);
	}
	return dw_error_set(DW_EINVAL, "unknown output format");
}
