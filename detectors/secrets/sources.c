/*
 * Sources of the secret engine: a reader (plain or gzip) feeds a sink
 * (the raw scanner stream, or the Docker json-file line decoder). Mail
 * goes through GMime, Slack exports through jansson.
 */
#include <errno.h>
#include <fcntl.h>
#define G_DISABLE_CAST_CHECKS
#include <gmime/gmime.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "driftwatch/buf.h"
#include "driftwatch/error.h"
#include "driftwatch/json.h"
#include "driftwatch/lazylib.h"
#include "archive.h"
#include "driftwatch/safeopen.h"
#include "driftwatch/sources.h"
#include "driftwatch/xmalloc.h"
#include "driftwatch/banned.h"

/* GMime (and GLib under it) is loaded when the first mail is scanned. */
static struct {
	void (*init)(void);
	GMimeStream *(*stream_fs_new)(int);
	GMimeParser *(*parser_new_with_stream)(GMimeStream *);
	void (*parser_set_format)(GMimeParser *, GMimeFormat);
	GMimeMessage *(*parser_construct_message)(GMimeParser *,
						  GMimeParserOptions *);
	gboolean (*parser_eos)(GMimeParser *);
	void (*stream_fs_set_owner)(GMimeStreamFs *, gboolean);
	const char *(*message_get_message_id)(GMimeMessage *);
	GMimeObject *(*message_get_mime_part)(GMimeMessage *);
	GMimeHeaderList *(*object_get_header_list)(GMimeObject *);
	char *(*header_list_to_string)(GMimeHeaderList *, GMimeFormatOptions *);
	GMimePartIter *(*part_iter_new)(GMimeObject *);
	gboolean (*part_iter_is_valid)(GMimePartIter *);
	char *(*part_iter_get_path)(GMimePartIter *);
	GMimeObject *(*part_iter_get_current)(GMimePartIter *);
	gboolean (*part_iter_next)(GMimePartIter *);
	void (*part_iter_free)(GMimePartIter *);
	GMimeDataWrapper *(*part_get_content)(GMimePart *);
	const char *(*part_get_filename)(GMimePart *);
	GType (*part_get_type)(void);
	GMimeStream *(*stream_mem_new)(void);
	ssize_t (*data_wrapper_write_to_stream)(GMimeDataWrapper *,
						GMimeStream *);
	GByteArray *(*stream_mem_get_byte_array)(GMimeStreamMem *);
	void (*object_unref)(gpointer);
	void (*free)(gpointer);
	gboolean (*type_check_instance_is_a)(GTypeInstance *, GType);
} gm;

#define SYM(name, field)                                                       \
	{                                                                      \
		name, (void **)&gm.field                                       \
	}
static const struct dw_lazy_sym gmime_syms[] = {
	SYM("g_mime_init", init),
	SYM("g_mime_stream_fs_new", stream_fs_new),
	SYM("g_mime_stream_fs_set_owner", stream_fs_set_owner),
	SYM("g_mime_parser_new_with_stream", parser_new_with_stream),
	SYM("g_mime_parser_set_format", parser_set_format),
	SYM("g_mime_parser_construct_message", parser_construct_message),
	SYM("g_mime_parser_eos", parser_eos),
	SYM("g_mime_message_get_message_id", message_get_message_id),
	SYM("g_mime_message_get_mime_part", message_get_mime_part),
	SYM("g_mime_object_get_header_list", object_get_header_list),
	SYM("g_mime_header_list_to_string", header_list_to_string),
	SYM("g_mime_part_iter_new", part_iter_new),
	SYM("g_mime_part_iter_is_valid", part_iter_is_valid),
	SYM("g_mime_part_iter_get_path", part_iter_get_path),
	SYM("g_mime_part_iter_get_current", part_iter_get_current),
	SYM("g_mime_part_iter_next", part_iter_next),
	SYM("g_mime_part_iter_free", part_iter_free),
	SYM("g_mime_part_get_content", part_get_content),
	SYM("g_mime_part_get_filename", part_get_filename),
	SYM("g_mime_part_get_type", part_get_type),
	SYM("g_mime_stream_mem_new", stream_mem_new),
	SYM("g_mime_data_wrapper_write_to_stream",
	    data_wrapper_write_to_stream),
	SYM("g_mime_stream_mem_get_byte_array", stream_mem_get_byte_array),
	SYM("g_object_unref", object_unref),
	SYM("g_free", free),
	SYM("g_type_check_instance_is_a", type_check_instance_is_a),
};
#undef SYM

static struct dw_lazy_lib libgmime = {
	"libgmime-3.0.so.0", gmime_syms,
	sizeof(gmime_syms) / sizeof(gmime_syms[0]), 0, ""};

#define g_mime_init (*gm.init)
#define g_mime_stream_fs_new (*gm.stream_fs_new)
#define g_mime_stream_fs_set_owner (*gm.stream_fs_set_owner)
#define g_mime_parser_new_with_stream (*gm.parser_new_with_stream)
#define g_mime_parser_set_format (*gm.parser_set_format)
#define g_mime_parser_construct_message (*gm.parser_construct_message)
#define g_mime_parser_eos (*gm.parser_eos)
#define g_mime_message_get_message_id (*gm.message_get_message_id)
#define g_mime_message_get_mime_part (*gm.message_get_mime_part)
#define g_mime_object_get_header_list (*gm.object_get_header_list)
#define g_mime_header_list_to_string (*gm.header_list_to_string)
#define g_mime_part_iter_new (*gm.part_iter_new)
#define g_mime_part_iter_is_valid (*gm.part_iter_is_valid)
#define g_mime_part_iter_get_path (*gm.part_iter_get_path)
#define g_mime_part_iter_get_current (*gm.part_iter_get_current)
#define g_mime_part_iter_next (*gm.part_iter_next)
#define g_mime_part_iter_free (*gm.part_iter_free)
#define g_mime_part_get_content (*gm.part_get_content)
#define g_mime_part_get_filename (*gm.part_get_filename)
#define g_mime_part_get_type (*gm.part_get_type)
#define g_mime_stream_mem_new (*gm.stream_mem_new)
#define g_mime_data_wrapper_write_to_stream (*gm.data_wrapper_write_to_stream)
#define g_mime_stream_mem_get_byte_array (*gm.stream_mem_get_byte_array)
#define g_object_unref (*gm.object_unref)
#define g_free (*gm.free)
#define g_type_check_instance_is_a (*gm.type_check_instance_is_a)

#define READ_SIZE (1u << 20)
#define SNIFF_SIZE 8192u
/* A Docker log line or a Slack file larger than this is not decoded. */
#define MAX_JSON_LINE (16u << 20)
#define MAX_SLACK_FILE (256u << 20)

struct sink;
typedef int (*sink_write_fn)(struct sink *k, const char *p, size_t n);

struct sink {
	sink_write_fn write;
	int (*finish)(struct sink *k);
	struct dw_scanner *s;
	struct dw_source src;
	dw_source_cb cb;
	void *ctx;
	int sniffed; /* binary check done */
	int binary;
	struct dw_buf line;	/* json-log: the line being gathered */
	enum dw_log_format fmt; /* json-file, CRI */
	struct dw_log_join join;
	uint64_t lineno;
	struct dw_local_log local; /* local-format logs */
};

static int forward(const struct dw_finding *f, void *ctx)
{
	struct sink *k = ctx;

	return k->cb(f, &k->src, k->ctx);
}

/* Plain text: the stream goes straight to the scanner. */
static int raw_write(struct sink *k, const char *p, size_t n)
{
	if (!k->sniffed) {
		k->sniffed = 1;
		k->binary = memchr(p, '\0', n < SNIFF_SIZE ? n : SNIFF_SIZE) !=
			    NULL;
	}
	if (!k->binary)
		dw_scan_feed(k->s, p, n);
	return 0;
}

static int raw_finish(struct sink *k)
{
	if (!k->binary)
		dw_scan_finish(k->s);
	return 0;
}

/* One raw line of a json-file or CRI log, its pieces joined. */
static void logline(struct sink *k, const char *p, size_t n)
{
	dw_scan_log_line(k->s, &k->join, k->fmt, p, n, k->lineno, 0,
			 k->src.path, k->cb, k->ctx);
}

static int jsonlog_write(struct sink *k, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (k->line.len + take > MAX_JSON_LINE) {
			/* Too long to decode: scan what we have raw. */
			dw_scan_buffer(k->s, k->line.ptr, k->line.len,
				       k->lineno, forward, k);
			dw_buf_reset(&k->line);
		}
		dw_buf_add(&k->line, p, take);
		if (!nl)
			break;
		logline(k, k->line.ptr, k->line.len);
		dw_buf_reset(&k->line);
		k->lineno++;
		p += take + 1;
		n -= take + 1;
	}
	return 0;
}

static int jsonlog_finish(struct sink *k)
{
	if (k->line.len)
		logline(k, k->line.ptr, k->line.len);
	dw_log_join_finish(k->s, &k->join);
	dw_buf_release(&k->line);
	dw_log_join_release(&k->join);
	return 0;
}

/*
 * Docker's local format: whole frames as they come. From a bad frame on,
 * the bytes are scanned as they are: never lost, and the error says so.
 */
static void local_raw(struct sink *k, const char *p, size_t n)
{
	dw_scan_buffer(k->s, p, n, k->local.entries + 1, forward, k);
}

static int local_write(struct sink *k, const char *p, size_t n)
{
	size_t used;

	if (k->local.corrupt) {
		local_raw(k, p, n);
		return 0;
	}
	dw_buf_add(&k->line, p, n);
	used = dw_local_log_feed(k->s, &k->local, k->line.ptr, k->line.len,
				 k->src.path, k->cb, k->ctx);
	memmove(k->line.ptr, k->line.ptr + used, k->line.len - used);
	dw_buf_setlen(&k->line, k->line.len - used);
	if (k->local.corrupt) {
		local_raw(k, k->line.ptr, k->line.len);
		dw_buf_reset(&k->line);
	}
	return 0;
}

static int local_finish(struct sink *k)
{
	/* Each stream's lines kept for the multi-line rules. */
	dw_local_log_finish(k->s, &k->local, 0, 0, k->src.path, k->cb, k->ctx);
	/* A last frame cut short: its bytes are scanned as they are. */
	if (k->line.len) {
		k->local.corrupt = 2;
		local_raw(k, k->line.ptr, k->line.len);
		dw_buf_reset(&k->line);
	}
	return 0;
}

/* read(2), retried when interrupted; -1 with the error recorded. */
static ssize_t read_retry(int fd, void *buf, size_t n, const char *display)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		dw_error_errno(DW_EIO, errno, "cannot read %s", display);
	return r;
}

/* Plain text read straight into the scanner's buffer. */
static int read_direct(int fd, struct sink *k, const char *display)
{
	int err = 0;

	for (;;) {
		size_t room;
		char *p = dw_scan_reserve(k->s, &room);
		ssize_t n = read_retry(fd, p, room, display);

		if (n < 0)
			err = DW_EIO;
		if (n <= 0)
			break;
		if (!k->sniffed) {
			k->sniffed = 1;
			k->binary = memchr(p, '\0',
					   (size_t)n < SNIFF_SIZE
						   ? (size_t)n
						   : SNIFF_SIZE) != NULL;
			if (k->binary)
				break;
		}
		dw_scan_commit(k->s, (size_t)n);
	}
	return err;
}

static int read_plain(int fd, struct sink *k, const char *display)
{
	char *buf = dw_xmalloc(READ_SIZE);
	ssize_t n;
	int err = 0;

	while ((n = read_retry(fd, buf, READ_SIZE, display)) > 0)
		k->write(k, buf, (size_t)n);
	if (n < 0)
		err = DW_EIO;
	free(buf);
	return err;
}

static int read_gzip(int fd, struct sink *k, const char *display,
		     uint64_t limit)
{
	unsigned char *in = dw_xmalloc(READ_SIZE), *out = dw_xmalloc(READ_SIZE);
	z_stream z;
	uint64_t total = 0;
	ssize_t n;
	int rc = Z_OK, err = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		free(in);
		free(out);
		return dw_error_set(DW_ERROR, "cannot initialise zlib");
	}
	while (!err && (n = read_retry(fd, in, READ_SIZE, display)) != 0) {
		if (n < 0) {
			err = DW_EIO;
			break;
		}
		z.next_in = in;
		z.avail_in = (uInt)n;
		while (!err && z.avail_in) {
			/* Concatenated members: start the next one. */
			if (rc == Z_STREAM_END && inflateReset(&z) != Z_OK)
				err = DW_EIO;
			z.next_out = out;
			z.avail_out = READ_SIZE;
			rc = inflate(&z, Z_NO_FLUSH);
			if (rc != Z_OK && rc != Z_STREAM_END &&
			    rc != Z_BUF_ERROR)
				err = dw_error_set(DW_EIO,
						   "malformed gzip in "
						   "%s: %s",
						   display,
						   z.msg ? z.msg : "bad data");
			total += READ_SIZE - z.avail_out;
			if (limit && total > limit)
				err = dw_error_set(DW_EIO,
						   "%s decompresses to "
						   "more than %llu bytes; "
						   "stopped",
						   display,
						   (unsigned long long)limit);
			k->write(k, (char *)out, READ_SIZE - z.avail_out);
			if (rc == Z_BUF_ERROR && !z.avail_in)
				break;
		}
	}
	if (!err && rc != Z_STREAM_END)
		err = dw_error_set(DW_EIO,
				   "malformed gzip in %s: truncated "
				   "stream",
				   display);
	inflateEnd(&z);
	free(in);
	free(out);
	return err;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/*
 * Docker's local format: "local-logs/container.log", the dual-logging
 * "container-cached.log", each also rotated (".1", ".2.gz").
 */
static int is_local_log(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *p;

	base = base ? base + 1 : path;
	if (!strncmp(base, "container-cached.log", 20))
		p = base + 20;
	else if (!strncmp(base, "container.log", 13) && base - path >= 11 &&
		 !strncmp(base - 11, "local-logs/", 11))
		p = base + 13;
	else
		return 0;
	if (*p == '.')
		p++;
	while (*p >= '0' && *p <= '9')
		p++;
	return !*p || !strcmp(p, ".gz");
}

/* "x-json.log", "x-json.log.1", "x-json.log.2.gz" */
static int is_docker_log(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *p;

	base = base ? base + 1 : path;
	p = strstr(base, "-json.log");
	if (!p)
		return 0;
	p += 9;
	if (*p == '.')
		p++;
	while (*p >= '0' && *p <= '9')
		p++;
	return !*p || !strcmp(p, ".gz") || !strcmp(p, "gz");
}

static void gmime_once(void)
{
	static int done;

	if (!done) {
		g_mime_init();
		done = 1;
	}
}

struct mail_ctx {
	struct sink *k;
	const char *message_id;
};

static void scan_bytes_as(struct sink *k, const char *p, size_t n,
			  json_t *fields)
{
	if (!n || memchr(p, '\0', n < SNIFF_SIZE ? n : SNIFF_SIZE))
		return; /* empty, or a binary attachment */
	k->src.fields = fields;
	dw_scan_buffer(k->s, p, n, 1, forward, k);
	k->src.fields = NULL;
}

static void mail_part(struct mail_ctx *m, GMimeObject *part, const char *path)
{
	GMimeDataWrapper *content;
	GMimeStream *mem;
	GByteArray *bytes;
	json_t *fields;
	const char *name;

	if (!GMIME_IS_PART(part))
		return;
	content = g_mime_part_get_content(GMIME_PART(part));
	if (!content)
		return;
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(content, mem);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	fields = json_pack("{s:s, s:s}", "message_id",
			   m->message_id ? m->message_id : "", "part", path);
	name = g_mime_part_get_filename(GMIME_PART(part));
	if (name)
		json_object_set_new(fields, "filename", json_string(name));
	if (bytes)
		scan_bytes_as(m->k, (const char *)bytes->data, bytes->len,
			      fields);
	json_decref(fields);
	g_object_unref(mem);
}

static void mail_message(struct sink *k, GMimeMessage *msg)
{
	struct mail_ctx m = {k, g_mime_message_get_message_id(msg)};
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	char *headers = g_mime_header_list_to_string(hl, NULL);
	GMimePartIter *it = g_mime_part_iter_new(GMIME_OBJECT(msg));
	json_t *fields =
		json_pack("{s:s, s:s}", "message_id",
			  m.message_id ? m.message_id : "", "part", "headers");

	if (headers)
		scan_bytes_as(k, headers, strlen(headers), fields);
	g_free(headers);
	json_decref(fields);
	if (g_mime_part_iter_is_valid(it)) {
		do {
			char *path = g_mime_part_iter_get_path(it);

			mail_part(&m, g_mime_part_iter_get_current(it),
				  path ? path : "?");
			g_free(path);
		} while (g_mime_part_iter_next(it));
	} else {
		mail_part(&m, g_mime_message_get_mime_part(msg), "1");
	}
	g_mime_part_iter_free(it);
}

/*
 * Returns the number of messages found (their parts are scanned), or -1
 * when GMime cannot be loaded.
 */
static long read_mail(int fd, struct sink *k, int mbox)
{
	GMimeStream *stream;
	GMimeParser *parser;
	long count = 0;

	if (dw_lazy_load(&libgmime))
		return -1;
	gmime_once();
	/* Ours to close, not the stream's (no dup: the scanner process may
	 * not make descriptors). */
	stream = g_mime_stream_fs_new(fd);
	g_mime_stream_fs_set_owner((GMimeStreamFs *)stream, FALSE);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, mbox ? GMIME_FORMAT_MBOX
					      : GMIME_FORMAT_MESSAGE);
	for (;;) {
		GMimeMessage *msg =
			g_mime_parser_construct_message(parser, NULL);

		if (!msg)
			break;
		mail_message(k, msg);
		g_object_unref(msg);
		count++;
		if (!mbox || g_mime_parser_eos(parser))
			break;
	}
	g_object_unref(parser);
	g_object_unref(stream);
	return count;
}

static int looks_like_mbox(int fd)
{
	char head[5];

	return pread(fd, head, 5, 0) == 5 && !memcmp(head, "From ", 5);
}

static void sink_init(struct sink *k, struct dw_scanner *s, const char *display,
		      const char *kind, dw_source_cb cb, void *ctx)
{
	memset(k, 0, sizeof(*k));
	k->s = s;
	k->src.path = display;
	k->src.kind = kind;
	k->cb = cb;
	k->ctx = ctx;
	k->lineno = 1;
	k->write = raw_write;
	k->finish = raw_finish;
	dw_buf_init(&k->line, 0);
	dw_log_join_init(&k->join);
	dw_scan_begin(s, 1, forward, k);
}

static int scan_opened(struct dw_scanner *s, int fd, const char *path,
		       const char *display, const struct dw_source_opts *o,
		       dw_source_cb cb, void *ctx, int packed)
{
	int gz = has_suffix(path, ".gz");
	int dlog = is_docker_log(path), llog = is_local_log(path),
	    clog = !dlog && !llog && dw_is_cri_log(path);
	/* (a file some rules read by its name, .pgpass, is never taken
	 * for mail by its first bytes: it would lose its name) */
	int mbox = !llog &&
		   (has_suffix(path, ".mbox") || has_suffix(path, ".mbx") ||
		    (!gz && !dlog && !clog &&
		     !dw_engine_file_named(dw_scanner_engine(s), path) &&
		     looks_like_mbox(fd)));
	struct sink k;
	int err;

	/* Archives: entry by entry (archive.c), before ".gz" (".tar.gz");
	 * binary content that is one whatever its name (o->packed). */
	if (dw_archive_name(path) || packed) {
		/* Its size, by lseek: the scanner process may not fstat. */
		off_t at = lseek(fd, 0, SEEK_CUR), end = lseek(fd, 0, SEEK_END);

		if (at < 0 || end < at || lseek(fd, at, SEEK_SET) != at)
			return dw_error_errno(DW_EIO, errno, "cannot read %s",
					      display);
		return dw_archive_scan(s, fd, display, (uint64_t)(end - at),
				       o->max_file_size, cb, ctx);
	}
	/* (rules of file names: .pgpass) */
	dw_scan_name(s, path);
	sink_init(&k, s, display,
		  dlog	 ? DW_SOURCE_DOCKER_JSON_LOG
		  : clog ? DW_SOURCE_CRI_LOG
		  : gz	 ? DW_SOURCE_GZIP
			 : DW_SOURCE_FILE,
		  cb, ctx);
	if (mbox || has_suffix(path, ".eml")) {
		long count;

		k.src.kind = DW_SOURCE_MAIL;
		count = read_mail(fd, &k, mbox);
		if (count > 0)
			return 0;
		/* Not mail after all, or no GMime: fall back to raw text. */
		k.src.kind = DW_SOURCE_FILE;
		if (lseek(fd, 0, SEEK_SET) < 0)
			return dw_error_errno(DW_EIO, errno,
					      "cannot rewind "
					      "%s",
					      display);
		if (count < 0) {
			char why[512];

			snprintf(why, sizeof(why), "%s", dw_error_last());
			dw_scan_begin(s, 1, forward, &k);
			read_direct(fd, &k, display);
			k.finish(&k);
			return dw_error_set(DW_EIO,
					    "%s: scanned as plain text,"
					    " MIME not decoded (%s)",
					    display, why);
		}
	}
	if (dlog || clog) {
		k.fmt = dlog ? DW_LOG_DOCKER_JSON : DW_LOG_CRI;
		k.write = jsonlog_write;
		k.finish = jsonlog_finish;
	}
	if (llog) {
		k.src.kind = DW_SOURCE_DOCKER_LOCAL_LOG;
		k.write = local_write;
		k.finish = local_finish;
	}
	if (gz)
		err = read_gzip(fd, &k, display, o->max_file_size * 16);
	else if (dlog || llog || clog)
		err = read_plain(fd, &k, display);
	else
		err = read_direct(fd, &k, display);
	k.finish(&k);
	if (!err && llog && k.local.corrupt)
		err = dw_error_set(DW_EIO,
				   "%s: %s after entry %llu; the rest was "
				   "scanned as raw bytes",
				   display,
				   k.local.corrupt == 2
					   ? "ends inside a frame"
					   : "not Docker's local log format",
				   (unsigned long long)k.local.entries);
	dw_local_log_release(&k.local);
	dw_buf_release(&k.line);
	return err;
}

/* Open only a regular file: a special file or symlink is skipped. */
static int open_regular(const char *path, const struct dw_source_opts *o,
			enum dw_scan_outcome *outcome, int *fdp)
{
	struct stat st;
	int fd = dw_open_regular(AT_FDCWD, path, o->follow ? DW_OPEN_FOLLOW : 0,
				 &st);

	*fdp = -1;
	if (fd == DW_EUNSUPPORTED) {
		/* A symlink, FIFO, socket or device: never opened. */
		*outcome = DW_SCAN_SKIPPED_SPECIAL;
		return 0;
	}
	if (fd < 0)
		return dw_error_set(DW_EIO, "%s", dw_error_last());
	if (o->max_file_size && (uint64_t)st.st_size > o->max_file_size) {
		close(fd);
		*outcome = DW_SCAN_SKIPPED_SIZE;
		return 0;
	}
	*fdp = fd;
	return 0;
}

const char *dw_scan_decoder(const char *path)
{
	if (dw_archive_name(path))
		return DW_SOURCE_ARCHIVE;
	if (is_local_log(path))
		return DW_SOURCE_DOCKER_LOCAL_LOG;
	if (is_docker_log(path))
		return DW_SOURCE_DOCKER_JSON_LOG;
	if (dw_is_cri_log(path))
		return DW_SOURCE_CRI_LOG;
	if (has_suffix(path, ".gz"))
		return DW_SOURCE_GZIP;
	if (has_suffix(path, ".eml") || has_suffix(path, ".mbox") ||
	    has_suffix(path, ".mbx"))
		return DW_SOURCE_MAIL;
	return DW_SOURCE_FILE;
}

int dw_scan_opened_file(struct dw_scanner *s, int fd, const char *path,
			const char *display, const struct dw_source_opts *o,
			dw_source_cb cb, void *ctx,
			enum dw_scan_outcome *outcome)
{
	char head[SNIFF_SIZE];
	ssize_t n;
	int err, packed;

	*outcome = DW_SCAN_DONE;
	/* Binary files are skipped, unless compressed, Docker's frames or
	 * mail (a NUL byte in a header must not hide the message). */
	n = has_suffix(path, ".gz") || is_local_log(path) ||
			    dw_archive_name(path) ||
			    !strcmp(dw_scan_decoder(path), DW_SOURCE_MAIL)
		    ? 0
		    : pread(fd, head, sizeof(head), 0);
	packed = n > 0 && memchr(head, '\0', (size_t)n) &&
		 dw_archive_magic(head, (size_t)n);
	if (n > 0 && memchr(head, '\0', (size_t)n) && !packed) {
		*outcome = DW_SCAN_SKIPPED_BINARY;
		return 0;
	}
	err = scan_opened(s, fd, path, display, o, cb, ctx, packed);
	if (!err && dw_scan_timed_out(s))
		*outcome = DW_SCAN_TIMED_OUT;
	return err;
}

int dw_scan_path(struct dw_scanner *s, const char *path, const char *display,
		 const struct dw_source_opts *o, dw_source_cb cb, void *ctx,
		 enum dw_scan_outcome *outcome)
{
	int fd, err;

	*outcome = DW_SCAN_DONE;
	err = open_regular(path, o, outcome, &fd);
	if (err || fd < 0)
		return err;
	err = o->scan_opened ? o->scan_opened(o->hctx, fd, path, NULL, cb, ctx,
					      outcome)
			     : dw_scan_opened_file(s, fd, path, display, o, cb,
						   ctx, outcome);
	close(fd);
	return err;
}

int dw_scan_fd(struct dw_scanner *s, int fd, const char *display,
	       dw_source_cb cb, void *ctx)
{
	struct sink k;
	int err;

	sink_init(&k, s, display, DW_SOURCE_STDIN, cb, ctx);
	k.sniffed = 1; /* standard input is scanned whatever it holds */
	err = read_direct(fd, &k, display);
	k.finish(&k);
	return err;
}

static void slack_text(struct sink *k, json_t *v, json_t *fields)
{
	if (json_is_string(v))
		scan_bytes_as(k, json_string_value(v), json_string_length(v),
			      fields);
}

int dw_scan_slack_file(struct dw_scanner *s, const char *path,
		       const char *display, const char *channel,
		       const struct dw_source_opts *o, dw_source_cb cb,
		       void *ctx)
{
	enum dw_scan_outcome outcome = DW_SCAN_DONE;
	int fd, err = open_regular(path, o, &outcome, &fd);

	if (err || fd < 0)
		return err;
	err = o->scan_opened
		      ? o->scan_opened(o->hctx, fd, display, channel, cb, ctx,
				       &outcome)
		      : dw_scan_slack_fd(s, fd, display, channel, cb, ctx);
	close(fd);
	return err;
}

int dw_scan_slack_fd(struct dw_scanner *s, int fd, const char *display,
		     const char *channel, dw_source_cb cb, void *ctx)
{
	struct dw_buf data = DW_BUF_INIT;
	struct sink k;
	json_t *root = NULL, *msg;
	size_t i;
	int err;

	dw_buf_init(&data, MAX_SLACK_FILE);
	sink_init(&k, s, display, DW_SOURCE_SLACK, cb, ctx);
	err = dw_buf_read_fd(&data, fd);
	if (err == DW_ELIMIT)
		err = dw_error_set(DW_EIO, "%s is larger than %u MiB", display,
				   MAX_SLACK_FILE >> 20);
	else if (err) {
		char why[256];

		snprintf(why, sizeof(why), "%s", dw_error_last());
		err = dw_error_set(DW_EIO, "cannot read %s: %s", display, why);
	}
	if (!err && (dw_json_parse(&root, data.ptr, data.len, display) ||
		     !json_is_array(root))) {
		/* Not an export file: keep what it says, scanned raw. */
		k.src.kind = DW_SOURCE_FILE;
		dw_scan_buffer(s, data.ptr, data.len, 1, forward, &k);
	}
	json_array_foreach(root, i, msg)
	{
		json_t *fields = json_object(), *att, *a;
		size_t j;

		json_object_set_new(fields, "channel", json_string(channel));
		if (json_is_string(json_object_get(msg, "user")))
			json_object_set(fields, "user",
					json_object_get(msg, "user"));
		if (json_is_string(json_object_get(msg, "ts")))
			json_object_set(fields, "ts",
					json_object_get(msg, "ts"));
		slack_text(&k, json_object_get(msg, "text"), fields);
		att = json_object_get(msg, "attachments");
		json_array_foreach(att, j, a)
		{
			slack_text(&k, json_object_get(a, "text"), fields);
			slack_text(&k, json_object_get(a, "pretext"), fields);
			slack_text(&k, json_object_get(a, "fallback"), fields);
		}
		json_decref(fields);
	}
	json_decref(root);
	dw_buf_release(&data);
	return err;
}
